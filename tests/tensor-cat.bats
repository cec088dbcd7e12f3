#!/usr/bin/env bats
# The tensor stream through tensor-cat: numpy interop both ways, and the shared CLI conventions.
bats_require_minimum_version 1.5.0
load helper

mk_numpy_stream() {  # several arrays, as numpy writes them, into $1
	py '
f = open(sys.argv[1], "wb")
np.save(f, np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
np.save(f, np.array([1.5, -2.25, 3e38], dtype="<f4"))
np.save(f, np.arange(6, dtype="<i4").reshape(3, 2) - 3)
np.save(f, np.array([2**40, -7], dtype="<i8"))
np.save(f, np.zeros((0, 5), dtype=np.uint8))
np.save(f, np.float32(7.0))
f.close()' "$1"
}

@test "reads what numpy writes, and numpy reads what we write back (file object)" {
	mk_numpy_stream "$T/in.npy"
	run tensor-cat -l "$T/in.npy"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$T/in.npy[0]: (2,3,4) uint8" ]
	[ "${lines[1]}" = "$T/in.npy[1]: (3,) float32" ]
	[ "${lines[2]}" = "$T/in.npy[2]: (3,2) int32" ]
	[ "${lines[3]}" = "$T/in.npy[3]: (2,) int64" ]
	[ "${lines[4]}" = "$T/in.npy[4]: (0,5) uint8" ]
	[ "${lines[5]}" = "$T/in.npy[5]: () float32" ]
	tensor-cat "$T/in.npy" > "$T/out.npy"
	py '
a = open(sys.argv[1], "rb"); b = open(sys.argv[2], "rb")
for i in range(6):
    x = np.load(a); y = np.load(b)
    assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), i
assert b.read() == b""' "$T/in.npy" "$T/out.npy"
}

@test "numpy reads our stream from a pipe with read_array" {
	mk_numpy_stream "$T/in.npy"
	# numpy's read_array needs a plain object with read() on a pipe (see dann-tensor(5))
	tensor-cat "$T/in.npy" "$T/in.npy" | py '
from numpy.lib import format
class Pipe:
    def __init__(self, f): self.read = f.read
f = Pipe(sys.stdin.buffer)
n = 0
while True:
    try: a = format.read_array(f)
    except ValueError: break
    n += 1
assert n == 12, n'
}

@test "'<u1' descriptors and stdin input are accepted" {
	py 'np.lib.format.write_array(sys.stdout.buffer, np.array([1, 2, 3], dtype="<u1"))' | tensor-cat -l
	py 'np.lib.format.write_array(sys.stdout.buffer, np.array([1, 2, 3], dtype="<u1"))' | tensor-cat -l -
	run tensor-cat -l - < <(py 'np.lib.format.write_array(sys.stdout.buffer, np.array([1, 2, 3], dtype="<u1"))')
	[ "$output" = "stdin[0]: (3,) uint8" ]
}

@test "rejections name the problem" {
	printf 'hello world, not numpy' > "$T/bad"
	run --separate-stderr tensor-cat "$T/bad"
	assert_fails_cleanly 1 tensor-cat "bad magic"
	py 'np.save(sys.argv[1], np.zeros(3, dtype=np.float64))' "$T/f8.npy"
	run --separate-stderr tensor-cat "$T/f8.npy"
	assert_fails_cleanly 1 tensor-cat "unsupported dtype '<f8'"
	py 'np.save(sys.argv[1], np.asfortranarray(np.zeros((2, 3), dtype=np.float32)))' "$T/fo.npy"
	run --separate-stderr tensor-cat "$T/fo.npy"
	assert_fails_cleanly 1 tensor-cat "fortran_order"
	py 'np.save(sys.argv[1], np.zeros(1000, dtype=np.float32))' "$T/t.npy"
	head -c 1000 "$T/t.npy" > "$T/trunc.npy"
	run --separate-stderr tensor-cat "$T/trunc.npy"
	assert_fails_cleanly 1 tensor-cat "truncated body"
	: > "$T/empty"
	run --separate-stderr tensor-cat "$T/empty"
	assert_fails_cleanly 1 tensor-cat "stream ended"
	run --separate-stderr tensor-cat "$T/missing"
	assert_fails_cleanly 1 tensor-cat "No such file"
	run --separate-stderr tensor-cat "$T"
	assert_fails_cleanly 1 tensor-cat "is a directory"
}

@test "usage errors exit 2 with nothing on stdout; --help exits 0" {
	run --separate-stderr tensor-cat --bogus
	[ "$status" -eq 2 ] && [ -z "$output" ]
	run tensor-cat --help
	[ "$status" -eq 0 ] && [[ "$output" == usage:* ]]
}

@test "a full disk is exit 1 with a message; a closed pipe is quiet" {
	py 'np.save(sys.argv[1], np.zeros(300000, dtype=np.float32))' "$T/big.npy"
	run --separate-stderr tensor-cat "$T/big.npy" -o /dev/full
	[ "$status" -eq 1 ]
	run --separate-stderr bash -c "tensor-cat '$T/big.npy' > /dev/full"
	[ "$status" -eq 1 ] && [[ "$stderr" == "tensor-cat: stdout: write error"* ]]
	run --separate-stderr bash -c "tensor-cat '$T/big.npy' | head -c 100 > /dev/null"
	[ "$status" -eq 0 ] && [ -z "$stderr" ]
}

@test "-o writes atomically: a failure leaves no file under the final name" {
	py 'np.save(sys.argv[1], np.zeros(1000, dtype=np.float32))' "$T/t.npy"
	head -c 1000 "$T/t.npy" > "$T/trunc.npy"
	run tensor-cat -o "$T/out.npy" "$T/t.npy" "$T/trunc.npy"
	[ "$status" -eq 1 ]
	[ ! -e "$T/out.npy" ]
	[ -z "$(ls "$T" | grep tmp)" ]
	tensor-cat -o "$T/out.npy" "$T/t.npy"
	cmp "$T/out.npy" "$T/t.npy"
}
