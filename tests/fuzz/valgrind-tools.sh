#!/usr/bin/env bash
# valgrind-tools.sh BINDIR [TOOL...] - `make valgrind`: each tool in BINDIR (or just the TOOLs
# named) that has a small run in
# tests/bad-input/small-runs.sh runs once on good data and once on bad data under
#   valgrind --error-exitcode=9 --leak-check=full
# Any memory error or leak (definite or possible) on the success run, or a memory error on the
# failure run, fails.  Prints one line per run; exits 1 if any failed.
set -u
cd "$(dirname "$0")/../.."
BIN=$1
shift
ONLY=" $* "
PYTHON=${PYTHON:-/usr/bin/python3}
MNIST_DIR=${SHARED:-$(cd .. && pwd)/shared}/data/mnist
IN=$(mktemp -d)
trap 'rm -rf "$IN"' EXIT
export IN MNIST_DIR PATH="$BIN:$PATH" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
"$PYTHON" tests/bad-input/make-inputs.py "$IN"
. tests/bad-input/small-runs.sh
make_models || { echo "valgrind: cannot make the test models"; exit 1; }
VG="valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite,possible"
bad=0
for t in "$BIN"/*; do
	tool=$(basename "$t")
	[ "$ONLY" = "  " ] || [[ "$ONLY" == *" $tool "* ]] || continue
	if ! cmd=$(run_cmd "$tool" "$IN/vg-out"); then echo "valgrind: $tool: no small run defined, skipped"; continue; fi
	log="$IN/$tool.log"
	bash -c "$VG $cmd" > /dev/null 2> "$log"; rc=$?
	if [ $rc -eq 0 ]; then echo "valgrind: $tool: ok (success run)"
	else echo "valgrind: $tool: FAILED (success run, status $rc)"; cat "$log"; bad=1; fi
	rm -rf "$IN/vg-out"
	cmd=$(fail_cmd "$tool") || continue
	# the failure run must exit 1 (its data error), not 9 (a valgrind error); leaks at an error
	# exit are not counted (the process ends there: see lib/base/cli.c fail_exit)
	bash -c "valgrind -q --error-exitcode=9 --leak-check=no $cmd" > /dev/null 2> "$log"; rc=$?
	if [ $rc -eq 1 ]; then echo "valgrind: $tool: ok (failure run: $(grep -v '^==' "$log" | head -n 1))"
	else echo "valgrind: $tool: FAILED (failure run, status $rc)"; cat "$log"; bad=1; fi
done
exit $bad
