#!/usr/bin/env bash
# Run every C unit test and every Bats file given (TEST_JOBS Bats files at a time); end with one line
#   "tests: N passed, M failed[, K skipped]"
# and exit non-zero if anything failed.  Usage: tests/run.sh UNIT... -- BATSFILE...
# TEST_RUNNER=prog runs each unit test as `prog UNIT` (qemu-aarch64: mk/aarch64.mk).
set -u
pass=0 fail=0 skip=0
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	out=$(${TEST_RUNNER:-} "$1" 2>&1); rc=$?
	printf '%s\n' "$out" | tail -n 20
	line=$(printf '%s\n' "$out" | grep -E '^[A-Za-z0-9_]+: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
	if [ -n "$line" ]; then
		p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
		f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
		pass=$((pass + p)); fail=$((fail + f))
	fi
	if [ $rc -ne 0 ] && { [ -z "$line" ] || [ "${f:-0}" -eq 0 ]; }; then
		echo "$1: exited with status $rc"; fail=$((fail + 1))
	fi
	shift
done
[ $# -gt 0 ] && shift
if [ $# -gt 0 ]; then
	log=$(mktemp)
	# Bats files run side by side, TEST_JOBS at a time (default: one per processor; GNU
	# parallel runs them); the tests of one file still run in order, sharing its setup_file.
	jobs=${TEST_JOBS:-$(nproc)}
	par=()
	[ "$jobs" -gt 1 ] && command -v parallel >/dev/null && par=(--jobs "$jobs" --no-parallelize-within-files)
	bats --tap --print-output-on-failure "${par[@]}" "$@" | tee "$log"
	p=$(grep -cE '^ok [0-9]+' "$log")
	s=$(grep -cE '^ok [0-9]+ .*# skip' "$log")
	f=$(grep -cE '^not ok [0-9]+' "$log")
	planned=$(grep -E '^1\.\.[0-9]+' "$log" | head -n 1 | cut -d. -f3)
	pass=$((pass + p - s)); skip=$((skip + s)); fail=$((fail + f))
	# a Bats run that died before finishing its plan counts as a failure
	if [ -n "$planned" ] && [ $((p + f)) -lt "$planned" ]; then
		echo "bats: ran $((p + f)) of $planned tests"; fail=$((fail + planned - p - f))
	fi
	rm -f "$log"
fi
if [ $skip -gt 0 ]; then
	echo "tests: $pass passed, $fail failed, $skip skipped"
else
	echo "tests: $pass passed, $fail failed"
fi
[ $fail -eq 0 ]
