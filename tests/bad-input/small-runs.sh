# small-runs.sh - sourced by tests/faults.bats and tests/fuzz/valgrind-tools.sh.
# run_cmd TOOL OUT: print a shell command for a small, valid, fast run of TOOL whose main
# output goes to OUT ("-" for stdout).  $IN holds the inputs of make-inputs.py, $MNIST_DIR
# the MNIST mirror.  Returns 1 (prints nothing) for a tool with no entry yet.
# fail_cmd TOOL: a command for a run that fails on bad data (for valgrind's error paths).
run_cmd() {
	local tool=$1 out=$2
	case $tool in
	tensor-cat) echo "tensor-cat -o '$out' '$IN/ok_big.npy' '$IN/ok_gray.npy'" ;;
	*) return 1 ;;
	esac
}

fail_cmd() {
	case $1 in
	tensor-cat) echo "tensor-cat -o '$IN/never.npy' '$IN/ok_gray.npy' '$IN/trunc_body.npy'" ;;
	*) return 1 ;;
	esac
}
