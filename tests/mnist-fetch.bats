#!/usr/bin/env bats
# mnist-fetch with ../shared/data/mnist as a local mirror (skipped, saying so, when absent),
# usage errors, output safety, the cache, and Fashion-MNIST from Debian's package.
bats_require_minimum_version 1.5.0
load helper

setup() {
	unset MNIST_MIRROR FASHION_MNIST_MIRROR DANN_FETCH_SHA256SUMS
	export XDG_CACHE_HOME="$T/xdg"
	export DANN_FETCH_PUBLIC_MIRRORS=""   # never the internet from the tests
}

# The stream in $1 equals the IDX content of split $2 (t10k or train) in folder $3,
# from offset $4 (default 0), $5 images (default all).
check_against_idx() {
	py '
import gzip
f = open(sys.argv[1], "rb"); im = np.load(f); lb = np.load(f); assert f.read() == b""
d, s = sys.argv[3], sys.argv[2]
ri = np.frombuffer(gzip.open(d + "/" + s + "-images-idx3-ubyte.gz").read(), np.uint8)
rl = np.frombuffer(gzip.open(d + "/" + s + "-labels-idx1-ubyte.gz").read(), np.uint8)
assert ri[:4].tobytes() == b"\0\0\x08\x03" and rl[:4].tobytes() == b"\0\0\x08\x01"
ri = ri[16:].reshape(-1, 28, 28); rl = rl[8:]
off = int(sys.argv[4]); n = int(sys.argv[5]) if sys.argv[5] else len(rl) - off
assert im.dtype == np.uint8 and im.shape == (n, 28, 28), im.shape
assert lb.dtype == np.uint8 and lb.shape == (n,), lb.shape
assert np.array_equal(im, ri[off:off + n]) and np.array_equal(lb, rl[off:off + n])
assert lb.max() <= 9
print(n)' "$1" "$2" "$3" "${4:-0}" "${5:-}"
}

@test "MNIST_MIRROR=shared/data/mnist --split test: 10000 images and labels equal to the IDX content" {
	need_mnist
	MNIST_MIRROR="$MNIST_DIR" run --separate-stderr mnist-fetch --split test --cache "$T/c" -o "$T/test.npy"
	[ "$status" -eq 0 ] && [ -z "$output" ] && [ -z "$stderr" ]
	run check_against_idx "$T/test.npy" t10k "$MNIST_DIR"
	[ "$status" -eq 0 ] && [ "$output" = 10000 ]
	# to stdout, and from a file:// URL, gives the same bytes
	MNIST_MIRROR="file://$MNIST_DIR" mnist-fetch --split test --cache "$T/c2" > "$T/test2.npy"
	cmp "$T/test.npy" "$T/test2.npy"
	# the cache now holds the verified, decompressed files; offline and without mirrors it is enough
	cmp "$T/c/mnist/t10k-labels-idx1-ubyte" <(gzip -dc "$MNIST_DIR/t10k-labels-idx1-ubyte.gz")
	mnist-fetch --split test --cache "$T/c" --offline > "$T/test3.npy"
	cmp "$T/test.npy" "$T/test3.npy"
}

@test "--offset and --limit select a range; --limit past the end is clipped" {
	need_mnist
	mnist-fetch --mirror "$MNIST_DIR" --split test --cache "$T/c" --offset 1234 --limit 100 > "$T/a.npy"
	run check_against_idx "$T/a.npy" t10k "$MNIST_DIR" 1234 100
	[ "$status" -eq 0 ] && [ "$output" = 100 ]
	mnist-fetch --mirror "$MNIST_DIR" --split test --cache "$T/c" --offset 9990 --limit 100 > "$T/b.npy"
	run check_against_idx "$T/b.npy" t10k "$MNIST_DIR" 9990 10
	[ "$status" -eq 0 ] && [ "$output" = 10 ]
}

@test "--offset out of range for the split is a usage error (exit 2), nothing on stdout" {
	need_mnist
	run --separate-stderr mnist-fetch --mirror "$MNIST_DIR" --split test --cache "$T/c" --offset 10000
	assert_fails_cleanly 2 mnist-fetch "--offset: 10000 is out of range for the test split of 10000 images \(0..9999\)"
}

@test "usage errors exit 2 with nothing on stdout" {
	run --separate-stderr mnist-fetch --split bogus
	assert_fails_cleanly 2 mnist-fetch "--split: 'bogus' is not train or test"
	run --separate-stderr mnist-fetch --dataset cifar
	assert_fails_cleanly 2 mnist-fetch "--dataset: 'cifar' is not mnist, fashion-mnist, mnist-m or bsds500"
	run --separate-stderr mnist-fetch --limit 0
	assert_fails_cleanly 2 mnist-fetch "--limit: 0 is out of range"
	run --separate-stderr mnist-fetch --limit 10x
	assert_fails_cleanly 2 mnist-fetch "--limit: '10x' is not an integer"
	run --separate-stderr mnist-fetch --offset -1
	assert_fails_cleanly 2 mnist-fetch "--offset: -1 is out of range"
	run --separate-stderr mnist-fetch --bogus
	assert_fails_cleanly 2 mnist-fetch "unknown option.*'--bogus'"
	run --separate-stderr mnist-fetch -x
	assert_fails_cleanly 2 mnist-fetch "unknown option.*'-x'"
	run --separate-stderr mnist-fetch --split
	assert_fails_cleanly 2 mnist-fetch "missing value: '--split'"
	run --separate-stderr mnist-fetch -o
	assert_fails_cleanly 2 mnist-fetch "missing value: '-o'"
	run --separate-stderr mnist-fetch extra
	assert_fails_cleanly 2 mnist-fetch "unexpected argument 'extra'"
	run --separate-stderr mnist-fetch --mirror ""
	assert_fails_cleanly 2 mnist-fetch "--mirror: empty"
	run --separate-stderr mnist-fetch --cache ""
	assert_fails_cleanly 2 mnist-fetch "--cache: empty"
	DANN_FETCH_RETRIES=many run --separate-stderr mnist-fetch
	assert_fails_cleanly 2 mnist-fetch "DANN_FETCH_RETRIES: 'many' is not an integer"
}

@test "--help prints usage on stdout and exits 0" {
	run --separate-stderr mnist-fetch --help
	[ "$status" -eq 0 ] && [ -z "$stderr" ]
	[[ "$output" == "usage: mnist-fetch"* ]]
	[[ "$output" == *"--offline"* ]]
}

# A copy of the MNIST mirror with the test labels altered by one label (still a valid label).
corrupt_mirror() {
	mkdir -p "$T/bad"
	cp "$MNIST_DIR"/t10k-images-idx3-ubyte.gz "$T/bad/"
	py '
import gzip
b = bytearray(gzip.open(sys.argv[1]).read()); b[100] = (b[100] + 1) % 10
open(sys.argv[2], "wb").write(gzip.compress(bytes(b)))' "$MNIST_DIR/t10k-labels-idx1-ubyte.gz" "$T/bad/t10k-labels-idx1-ubyte.gz"
}

@test "a corrupted mirror file is refused: exit 1 naming the file and both hashes, nothing cached or written" {
	need_mnist
	corrupt_mirror
	got=$(gzip -dc "$T/bad/t10k-labels-idx1-ubyte.gz" | sha256sum | cut -d' ' -f1)
	want=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
	MNIST_MIRROR="$T/bad" run --separate-stderr mnist-fetch --split test --cache "$T/c" -o "$T/out.npy"
	assert_fails_cleanly 1 mnist-fetch "^mnist-fetch: t10k-labels-idx1-ubyte: SHA-256 mismatch in $T/bad/t10k-labels-idx1-ubyte.gz: expected $want, got $got\$"
	[ ! -e "$T/c/mnist/t10k-labels-idx1-ubyte" ]
	[ -z "$(find "$T/c" -name '.*tmp*')" ]
	[ -z "$(ls "$T" | grep out.npy)" ]   # neither the file nor its temporary
	# the same to stdout: nothing written there
	MNIST_MIRROR="$T/bad" run --separate-stderr mnist-fetch --split test --cache "$T/c"
	assert_fails_cleanly 1 mnist-fetch "SHA-256 mismatch"
	# a truncated .gz on the mirror
	head -c 1000 "$MNIST_DIR/t10k-labels-idx1-ubyte.gz" > "$T/bad/t10k-labels-idx1-ubyte.gz"
	MNIST_MIRROR="$T/bad" run --separate-stderr mnist-fetch --split test --cache "$T/c"
	assert_fails_cleanly 1 mnist-fetch "t10k-labels-idx1-ubyte.gz: truncated gzip data"
	[ ! -e "$T/c/mnist/t10k-labels-idx1-ubyte" ]
}

@test "a corrupted mirror followed by a good one: the good one is used" {
	need_mnist
	corrupt_mirror
	run --separate-stderr mnist-fetch --mirror "$T/bad" --mirror "$MNIST_DIR" --split test --cache "$T/c" -o "$T/out.npy"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"SHA-256 mismatch in $T/bad/t10k-labels-idx1-ubyte.gz"*"; trying the next source" ]]
	run check_against_idx "$T/out.npy" t10k "$MNIST_DIR"
	[ "$status" -eq 0 ] && [ "$output" = 10000 ]
}

@test "a plain (not gzipped) IDX file in a mirror folder is read too" {
	need_mnist
	mkdir "$T/plain"
	gzip -dc "$MNIST_DIR/t10k-images-idx3-ubyte.gz" > "$T/plain/t10k-images-idx3-ubyte"
	gzip -dc "$MNIST_DIR/t10k-labels-idx1-ubyte.gz" > "$T/plain/t10k-labels-idx1-ubyte"
	mnist-fetch --mirror "$T/plain" --split test --limit 50 --cache "$T/c" > "$T/out.npy"
	run check_against_idx "$T/out.npy" t10k "$MNIST_DIR" 0 50
	[ "$status" -eq 0 ] && [ "$output" = 50 ]
}

@test "mnist-fetch | head -c 100 is quiet" {
	need_mnist
	run --separate-stderr bash -c 'mnist-fetch --mirror "$1" --split test --cache "$2" | head -c 100 | wc -c' _ "$MNIST_DIR" "$T/c"
	[ "$status" -eq 0 ]
	[ "$output" -eq 100 ]
	[ -z "$stderr" ]
}

@test "> /dev/full and -o /dev/full: exit 1 with a write error" {
	need_mnist
	run --separate-stderr bash -c 'mnist-fetch --mirror "$1" --split test --cache "$2" > /dev/full' _ "$MNIST_DIR" "$T/c"
	assert_fails_cleanly 1 mnist-fetch "write error: No space left on device"
	run --separate-stderr mnist-fetch --mirror "$MNIST_DIR" --split test --cache "$T/c" -o /dev/full
	assert_fails_cleanly 1 mnist-fetch "write error: No space left on device"
}

@test "--offline with nothing cached and no local source: exit 1, one line" {
	run --separate-stderr mnist-fetch --offline --cache "$T/empty"
	assert_fails_cleanly 1 mnist-fetch "train-images-idx3-ubyte: no source to fetch it from but the cache"
	run --separate-stderr mnist-fetch --offline --mirror "$T/nowhere" --cache "$T/empty"
	assert_fails_cleanly 1 mnist-fetch "train-images-idx3-ubyte: not found in the cache, $T/nowhere"
}

@test "a bad DANN_FETCH_SHA256SUMS file is an error naming it" {
	DANN_FETCH_SHA256SUMS="$T/none" run --separate-stderr mnist-fetch --offline --cache "$T/c"
	assert_fails_cleanly 1 mnist-fetch "DANN_FETCH_SHA256SUMS=$T/none: No such file"
	printf '1234  other\n' > "$T/sums"
	DANN_FETCH_SHA256SUMS="$T/sums" run --separate-stderr mnist-fetch --offline --cache "$T/c"
	assert_fails_cleanly 1 mnist-fetch "no SHA-256 for train-images-idx3-ubyte"
	printf 'xyz  train-images-idx3-ubyte\n' > "$T/sums"
	DANN_FETCH_SHA256SUMS="$T/sums" run --separate-stderr mnist-fetch --offline --cache "$T/c"
	assert_fails_cleanly 1 mnist-fetch "bad SHA-256 for train-images-idx3-ubyte"
}

@test "the shared SHA256SUMS agrees with the hashes built into mnist-fetch" {
	need_mnist
	# the file lists decompressed and .gz hashes; mnist-fetch looks up the decompressed names
	DANN_FETCH_SHA256SUMS="$MNIST_DIR/SHA256SUMS" mnist-fetch --mirror "$MNIST_DIR" --split test --cache "$T/c1" > "$T/a.npy"
	mnist-fetch --mirror "$MNIST_DIR" --split test --cache "$T/c2" > "$T/b.npy"
	cmp "$T/a.npy" "$T/b.npy"
}

@test "--dataset fashion-mnist reads Debian's /usr/share/datasets/fashion-mnist by default" {
	d=/usr/share/datasets/fashion-mnist
	[ -f "$d/t10k-images-idx3-ubyte.gz" ] || skip "no $d (apt-get install dataset-fashion-mnist)"
	mnist-fetch --dataset fashion-mnist --split test --offline --cache "$T/c" --offset 10 --limit 300 > "$T/f.npy"
	run check_against_idx "$T/f.npy" t10k "$d" 10 300
	[ "$status" -eq 0 ] && [ "$output" = 300 ]
	[ -f "$T/c/fashion-mnist/t10k-images-idx3-ubyte" ]
}

@test "MNIST files given as a Fashion-MNIST mirror are refused by hash; Debian's folder is used next" {
	[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || skip "no /usr/share/datasets/fashion-mnist"
	need_mnist
	run --separate-stderr mnist-fetch -q --dataset fashion-mnist --split test --offline --mirror "$MNIST_DIR" --cache "$T/c2"
	[ "$status" -eq 0 ]   # ... and the Debian folder after it is used instead
	run --separate-stderr mnist-fetch --dataset fashion-mnist --split test --offline --mirror "$MNIST_DIR" --cache "$T/c3"
	[[ "$stderr" == *"t10k-images-idx3-ubyte: SHA-256 mismatch in $MNIST_DIR/t10k-images-idx3-ubyte.gz"* ]]
}
