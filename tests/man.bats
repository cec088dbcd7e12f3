#!/usr/bin/env bats
# Every man page renders without warnings and has the sections users look for.
bats_require_minimum_version 1.5.0
load helper

@test "man pages render with man --warnings and no warnings" {
	command -v man >/dev/null || skip "man is not installed"
	for m in "$ROOT"/man/*.[15]; do
		w=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "$m" 2>&1 >/dev/null)
		[ -z "$w" ] || { echo "$m: $w"; return 1; }
	done
}

@test "man pages have NAME, SYNOPSIS, DESCRIPTION, EXIT STATUS (section 1), EXAMPLES, SEE ALSO" {
	for m in "$ROOT"/man/*.[15]; do
		for s in NAME SYNOPSIS DESCRIPTION EXAMPLES "SEE ALSO"; do
			grep -q "^\.SH \"\?$s" "$m" || { echo "$m lacks $s"; return 1; }
		done
		case "$m" in *.1)
			for s in OPTIONS "EXIT STATUS"; do
				grep -q "^\.SH \"\?$s" "$m" || { echo "$m lacks $s"; return 1; }
			done;;
		esac
	done
}

@test "every tool has a man page and --help" {
	for t in "$ROOT"/tools/*.c; do
		n=$(basename "$t" .c)
		[ -f "$ROOT/man/$n.1" ] || { echo "no man/$n.1"; return 1; }
		run "$BIN_ABS/$n" --help
		[ "$status" -eq 0 ] || { echo "$n --help: status $status"; return 1; }
	done
}
