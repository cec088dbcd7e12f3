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
