#!/usr/bin/env bats
# Every fuzzing seed and every input that once crashed a parser (tests/fuzz/corpus/<parser>,
# tests/fuzz/regress/<parser>) replayed once through its libFuzzer harness with ASan+UBSan:
# `make fuzz-regress`.  Needs clang with libFuzzer (mk/fuzz.mk adds it to `make deps`).
bats_require_minimum_version 1.5.0
load helper

@test "fuzz regressions: every stored input through its harness, no crash, leak or UB" {
	command -v clang >/dev/null || skip "clang not installed (make deps installs it)"
	echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' > "$T/probe.c"
	clang -fsanitize=fuzzer,address,undefined -o "$T/probe" "$T/probe.c" 2>/dev/null ||
		skip "clang cannot link libFuzzer (libclang-rt-14-dev missing)"
	# the harnesses are their own build (build/fuzz), whatever SANITIZE says
	run make -s -C "$ROOT" fuzz-regress SANITIZE=
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"fuzz-regress: npy: "*" inputs ok"* ]]
	! [[ "$output" == *FAILED* ]]
}
