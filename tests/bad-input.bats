#!/usr/bin/env bats
# The bad-input corpus: every row of tests/bad-input/cases.tsv must fail cleanly -
# its exit status (1 data, 2 usage), exactly one stderr line "tool: ..." matching its pattern,
# nothing on stdout, and no file left in the scratch folder it ran in.  One test per tool; a
# tool that is not built yet is skipped with the number of its cases.
bats_require_minimum_version 1.5.0
load helper

CASES="$ROOT/tests/bad-input/cases.tsv"

setup_file() {
	export IN="$BATS_FILE_TMPDIR/in"
	"$PYTHON" "$ROOT/tests/bad-input/make-inputs.py" "$IN"
	. "$ROOT/tests/bad-input/small-runs.sh"
	make_models
}

# run_cases TOOL: run every row for TOOL; report each failing row, fail if any did.
run_cases() {
	local tool=$1 name cmd in st re n=0 bad=0 msg
	[ -x "$BIN_ABS/$tool" ] || skip "$tool not built: $(grep -c "^[^#][^	]*	$tool " "$CASES") cases not run"
	while IFS=$'\t' read -r name cmd in st re; do
		case $name in '#'* | '') continue ;; esac
		[ "${cmd%% *}" = "$tool" ] || continue
		if [[ "$cmd" == *'$MNIST_DIR'* && ! -f "$MNIST_DIR/SHA256SUMS" ]]; then
			echo "skipped $name: no MNIST mirror at $MNIST_DIR"
			continue
		fi
		n=$((n + 1))
		OUT="$BATS_TEST_TMPDIR/case-$name"
		mkdir -p "$OUT"
		[ "$in" = - ] && in=/dev/null || in="$IN/$in"
		run --separate-stderr env -u MNIST_MIRROR IN="$IN" OUT="$OUT" MNIST_DIR="$MNIST_DIR" XDG_CACHE_HOME="$BATS_TEST_TMPDIR/cache-$name" timeout 30 bash -c "cd \"\$OUT\" && $cmd" < "$in"
		msg=$(assert_fails_cleanly "$st" "$tool" "$re") || { echo "FAIL $name: $msg"; bad=$((bad + 1)); }
		[ -z "$(ls -A "$OUT")" ] || { echo "FAIL $name: left behind: $(ls -A "$OUT")"; bad=$((bad + 1)); }
	done < "$CASES"
	echo "$tool: $n cases, $bad failures"
	[ "$n" -gt 0 ] && [ "$bad" -eq 0 ]
}

@test "the table is well formed and has at least 30 cases" {
	local rows
	rows=$(grep -v '^#' "$CASES" | grep -c .)
	[ "$rows" -ge 30 ] || { echo "only $rows cases"; false; }
	# 5 fields, status 1 or 2, unique names
	awk -F'\t' '!/^#/ && NF { if (NF != 5 || ($4 != 1 && $4 != 2)) { print "bad row " NR ": " $0; e = 1 } } END { exit e }' "$CASES"
	[ -z "$(grep -v '^#' "$CASES" | cut -f1 | sort | uniq -d)" ]
}

@test "bad input: tensor-cat" { run_cases tensor-cat; }
@test "bad input: mnist-fetch" { run_cases mnist-fetch; }
@test "bad input: mnistm-gen" { run_cases mnistm-gen; }
@test "bad input: dann-train" { run_cases dann-train; }
@test "bad input: dann-embed" { run_cases dann-embed; }
@test "bad input: tsne" { run_cases tsne; }
@test "bad input: plot-frames" { run_cases plot-frames; }
@test "bad input: plot-curves" { run_cases plot-curves; }
@test "bad input: dann-report" { run_cases dann-report; }
