#!/usr/bin/env bats
# The build's own targets: install honours PREFIX and DESTDIR; deps knows what it needs.
bats_require_minimum_version 1.5.0
load helper

@test "make install puts every tool and man page under DESTDIR/PREFIX" {
	run make -C "$ROOT" --no-print-directory install DESTDIR="$T/root" PREFIX=/opt/dann
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	for t in "$ROOT"/tools/*.c; do
		n=$(basename "$t" .c)
		[ -x "$T/root/opt/dann/bin/$n" ] || { echo "missing bin/$n"; false; }
	done
	for m in "$ROOT"/man/*.1; do [ -f "$T/root/opt/dann/share/man/man1/$(basename "$m")" ]; done
	for m in "$ROOT"/man/*.5; do [ -f "$T/root/opt/dann/share/man/man5/$(basename "$m")" ]; done
	"$T/root/opt/dann/bin/tensor-cat" --help >/dev/null
}

@test "make deps finds every package it lists installed (or says what is missing)" {
	run make -C "$ROOT" --no-print-directory -s deps
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}
