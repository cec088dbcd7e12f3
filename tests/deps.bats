#!/usr/bin/env bats
# `make deps` installs everything the project uses: every Python module imported and
# every program called by the project's Python, shell, Bats and make files comes from a package
# of the merged deps list (the Makefile's APT_PKGS and every mk/*.mk and pipelines/*.mk
# fragment's APT_PKGS +=), from what those depend on, or from an Essential package.
bats_require_minimum_version 1.5.0
load helper

deps_list() { env -u MAKEFLAGS -u MAKELEVEL make -C "$ROOT" --no-print-directory -s print-deps; }

@test "make print-deps lists the merged deps list, fragments included" {
	run deps_list
	[ "$status" -eq 0 ]
	for p in gcc bats python3-numpy python3-pil; do grep -qx "$p" <<<"$output" || { echo "no $p"; false; }; done
	# every fragment's additions are in it
	local f p
	for f in "$ROOT"/mk/*.mk "$ROOT"/pipelines/*.mk; do
		for p in $(sed -n 's/^APT_PKGS[[:space:]]*+=//p' "$f"); do
			grep -qx "$p" <<<"$output" || { echo "$p of $f missing"; false; }
		done
	done
}

@test "every program and Python module the project uses comes from the deps list" {
	command -v dpkg-query >/dev/null || skip "not a Debian system"
	run "$PYTHON" "$ROOT/tests/deps-check.py" "$ROOT" $(deps_list)
	echo "$output"
	[ "$status" -eq 0 ]
	# it did look: the usual suspects were found
	grep -qE 'deps-check: [0-9]{2,} programs, [0-9]{2,} Python modules' <<<"$output"
}

@test "the check fails when a package the project needs is dropped from the list" {
	command -v dpkg-query >/dev/null || skip "not a Debian system"
	local p
	# (python3-numpy is not among them: python3-torch depends on it, so apt installs it anyway)
	for p in python3-pil valgrind bats python3-torch liblinear-tools; do
		run "$PYTHON" "$ROOT/tests/deps-check.py" "$ROOT" $(deps_list | grep -vx "$p")
		[ "$status" -eq 1 ] || { echo "still passes without $p: $output"; false; }
		grep -q "not in the deps list (add APT_PKGS += $p)" <<<"$output" || { echo "$output"; false; }
	done
}

@test "the check finds a program and a module used only in a new script" {
	command -v dpkg-query >/dev/null || skip "not a Debian system"
	cp -r "$ROOT/tests/deps-check.py" "$T/"
	mkdir -p "$T/proj/tools" "$T/proj/tests"
	printf 'all:\n\t@true\nprint-deps:\n\t@echo bats\n' > "$T/proj/Makefile"
	printf '#!/bin/sh\nset -e\nx=$(nosuchprogram-xyz --version | wc -l)\n' > "$T/proj/tests/a.sh"
	printf 'import sys\nimport nosuchmodule_xyz\n' > "$T/proj/tests/b.py"
	run "$PYTHON" "$T/deps-check.py" "$T/proj" bats make coreutils
	[ "$status" -eq 1 ]
	grep -q 'program nosuchprogram-xyz (used at tests/a.sh:3) is not installed' <<<"$output"
	grep -q 'Python module nosuchmodule_xyz (imported at tests/b.py:2) is not installed' <<<"$output"
}

# make deps-aarch64 installs a list of its own (mk/aarch64.mk: the cross compiler, qemu-user and
# arm64 libraries, none of which make check needs); where it has run, that list must hold what
# make check-aarch64 runs and links.
make_var() {
	env -u MAKEFLAGS -u MAKELEVEL make -C "$ROOT" --no-print-directory -pn print-deps 2>/dev/null |
		sed -n "s/^$1 :\{0,1\}= //p" | head -n 1
}

@test "the aarch64 list brings the programs and arm64 libraries make check-aarch64 uses" {
	command -v dpkg-query >/dev/null || skip "not a Debian system"
	local list p prog owner
	list=$(env -u MAKEFLAGS -u MAKELEVEL make -C "$ROOT" --no-print-directory -s print-deps-aarch64)
	for p in $list; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			skip "$p is not installed (make deps-aarch64 has not run here)"
	done
	for prog in "$(make_var AARCH64_CC)" "$(make_var AARCH64_QEMU)"; do
		[ -n "$prog" ] && command -v "$prog" >/dev/null || { echo "no program '$prog'"; false; }
		owner=$(dpkg -S "$(command -v "$prog")" | head -n 1 | cut -d: -f1)
		grep -qx "$owner" <<<"$list" || { echo "$prog comes from $owner, not in the list"; false; }
	done
	# every library the build links, for arm64
	PKG_CONFIG_LIBDIR=$(make_var AARCH64_PKG_CONFIG_LIBDIR) pkg-config --print-errors --exists \
		$(make_var PKGS)
}
