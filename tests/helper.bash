# Shared set-up for the Bats tests: tools from the build, a per-test scratch folder, numpy.
# BIN_ABS and PYTHON come from the Makefile; defaults let `bats tests/x.bats` run by hand.
ROOT="$(cd "$(dirname "${BATS_TEST_FILENAME}")/.." && pwd)"
BIN_ABS="${BIN_ABS:-$ROOT/bin}"
PYTHON="${PYTHON:-/usr/bin/python3}"
SHARED="${SHARED:-$(cd "$ROOT/.." && pwd)/shared}"
MNIST_DIR="$SHARED/data/mnist"
BSDS_DIR="$SHARED/data/bsds500/train"
PATH="$BIN_ABS:$PATH"
T="${BATS_TEST_TMPDIR:-$(mktemp -d)}"

# py 'code' : run Python with numpy imported as np.
py() { "$PYTHON" -c "import sys, numpy as np; $1" "${@:2}"; }

need_mnist() { [ -f "$MNIST_DIR/t10k-images-idx3-ubyte.gz" ] || skip "no MNIST mirror at $MNIST_DIR"; }
need_bsds() { [ -d "$BSDS_DIR" ] || skip "no BSDS500 photos at $BSDS_DIR"; }

# Assert: exit status, one line on stderr starting "tool:", nothing on stdout.
# Use with `run --separate-stderr`.
assert_fails_cleanly() {  # expected_status tool pattern
	[ "$status" -eq "$1" ] || { echo "status $status, expected $1; stderr: $stderr"; return 1; }
	[ -z "$output" ] || { echo "stdout not empty: $output"; return 1; }
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ] || { echo "stderr not one line: $stderr"; return 1; }
	[[ "$stderr" == "$2:"* ]] || { echo "stderr does not start with '$2:': $stderr"; return 1; }
	[[ "$stderr" =~ $3 ]] || { echo "stderr does not match /$3/: $stderr"; return 1; }
}

# mk_data FILE N SEED [rgb] [size]: digits as bright bars whose place encodes the label,
# over noise; "rgb" writes (N,H,W,3) with inverted colours (a shifted domain).
mk_data() {
	py '
n, seed, rgb, size = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "rgb", int(sys.argv[5])
r = np.random.default_rng(seed)
y = r.integers(0, 10, n).astype(np.uint8)
x = r.integers(0, 60, (n, size, size)).astype(np.uint8)
for i in range(n):
    a, b = divmod(int(y[i]), 5)
    x[i, 3 + a * 11:3 + a * 11 + 8, 2 + b * 5:2 + b * 5 + 3] = 250
if rgb:
    x = np.repeat(255 - x[..., None], 3, axis=3)
f = open(sys.argv[1], "wb"); np.save(f, x); np.save(f, y); f.close()' "$1" "$2" "$3" "${4:-gray}" "${5:-28}"
}
