#!/usr/bin/env bats
# mnist-fetch --dataset bsds500 -O DIR: photographs known by name and SHA-256 from a folder, the
# unpacked archive's layout, BSR_bsds500.tgz (a file, a folder holding it, over HTTP from a
# server on 127.0.0.1), the cache; a wrong file refused; the output folder written whole or
# not at all.  A fixture of 4 small JPEGs with its own DANN_FETCH_SHA256SUMS; one test checks
# the built-in list against ../shared/data/bsds500/train when it is there.
bats_require_minimum_version 1.5.0
load helper
load http

setup_file() {
	export FX="$BATS_FILE_TMPDIR/fx"
	mkdir -p "$FX/photos" "$FX/www" "$FX/bad"
	"$PYTHON" -c '
import sys, numpy as np
from PIL import Image
r = np.random.default_rng(7)
for i in range(4):
    Image.fromarray(r.integers(0, 256, (21, 30, 3), dtype=np.uint8), "RGB").save("%s/%d.jpg" % (sys.argv[1], 1000 + i))' "$FX/photos"
	(cd "$FX/photos" && sha256sum *.jpg > "$FX/SHA256SUMS")
	mkdir -p "$FX/unpacked/BSR/BSDS500/data/images/train"
	cp "$FX/photos/"*.jpg "$FX/unpacked/BSR/BSDS500/data/images/train/"
	echo "a ground-truth file the fetch skips" > "$FX/unpacked/BSR/BSDS500/data/images/readme.txt"
	tar -czf "$FX/www/BSR_bsds500.tgz" -C "$FX/unpacked" BSR
	cp "$FX/photos/"*.jpg "$FX/bad/"
	printf 'x' >> "$FX/bad/1002.jpg"
	start_static_server "$FX/www"
}

teardown_file() {
	stop_static_server
}

setup() {
	unset BSDS500_MIRROR
	export XDG_CACHE_HOME="$T/xdg"
	export DANN_FETCH_PUBLIC_MIRRORS=""
	export DANN_FETCH_SHA256SUMS="$FX/SHA256SUMS"
	export DANN_FETCH_RETRIES=0 DANN_FETCH_CONNECT_TIMEOUT_MS=2000
}

@test "bsds500 from a folder of photographs and from the unpacked archive's layout; then from the cache alone" {
	run --separate-stderr mnist-fetch --dataset bsds500 --mirror "$FX/photos" -O "$T/a"
	[ "$status" -eq 0 ] && [ -z "$output" ]
	[[ "$stderr" == *"$T/a: 4 photographs, each verified (0 from the cache)"* ]]
	diff -r "$T/a" "$FX/photos"
	BSDS500_MIRROR="$FX/unpacked" mnist-fetch --dataset bsds500 -q --cache "$T/c" -O "$T/b"
	diff -r "$T/b" "$FX/photos"
	[ "$(ls "$T/c/bsds500/train" | wc -l)" -eq 4 ]
	run --separate-stderr mnist-fetch --dataset bsds500 --offline -O "$T/d"
	[ "$status" -eq 0 ] && [[ "$stderr" == *"(4 from the cache)"* ]]
	diff -r "$T/d" "$FX/photos"
	# the folders -O goes in are made, like mkdir -p
	mnist-fetch --dataset bsds500 -q --mirror "$FX/photos" --output-dir "$T/e/f/g/"
	diff -r "$T/e/f/g" "$FX/photos"
}

@test "bsds500 from BSR_bsds500.tgz: the file, a folder holding it, over HTTP" {
	mnist-fetch --dataset bsds500 -q --cache "$T/c1" --mirror "$FX/www/BSR_bsds500.tgz" -O "$T/a"
	diff -r "$T/a" "$FX/photos"
	mnist-fetch --dataset bsds500 -q --cache "$T/c2" --mirror "$FX/www" -O "$T/b"
	diff -r "$T/b" "$FX/photos"
	mnist-fetch --dataset bsds500 -q --cache "$T/c3" --mirror "$URL" -O "$T/c"
	diff -r "$T/c" "$FX/photos"
	grep -q "GET /BSR_bsds500.tgz" "$FX/server.log"
}

@test "bsds500: a wrong photograph is refused with both hashes; a good mirror after it fills in" {
	run --separate-stderr mnist-fetch --dataset bsds500 -q --mirror "$FX/bad" -O "$T/a"
	assert_fails_cleanly 1 mnist-fetch "bad/1002.jpg: SHA-256 mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64}"
	[ ! -e "$T/a" ] && [ -z "$(ls "$T" | grep tmp)" ]
	run --separate-stderr mnist-fetch --dataset bsds500 --mirror "$FX/bad" --mirror "$FX/www/BSR_bsds500.tgz" -O "$T/a"
	[ "$status" -eq 0 ] && [[ "$stderr" == *"SHA-256 mismatch"*"trying the next source"* ]]
	diff -r "$T/a" "$FX/photos"
}

@test "bsds500: missing photographs, a non-empty output folder and bad options are refused" {
	mkdir "$T/some"
	cp "$FX/photos/1000.jpg" "$T/some/"
	run --separate-stderr mnist-fetch --dataset bsds500 -q --mirror "$T/some" -O "$T/a"
	assert_fails_cleanly 1 mnist-fetch "BSDS500 train: not found in the cache, $T/some"
	run --separate-stderr mnist-fetch --dataset bsds500 -q --mirror "$FX/photos" -O "$T/some"
	assert_fails_cleanly 1 mnist-fetch "$T/some: exists and is not empty: not overwritten"
	[ "$(ls "$T/some")" = 1000.jpg ]
	run --separate-stderr mnist-fetch --dataset bsds500 --mirror "$FX/photos" -o "$T/x.npy"
	assert_fails_cleanly 2 mnist-fetch "give -O DIR"
	run --separate-stderr mnist-fetch --dataset bsds500 --split test --mirror "$FX/photos" -O "$T/a"
	assert_fails_cleanly 2 mnist-fetch "train split only"
	run --separate-stderr mnist-fetch --split test -O "$T/a"
	assert_fails_cleanly 2 mnist-fetch "-O: only for --dataset bsds500"
	[ ! -e "$T/a" ]
}

@test "bsds500: the built-in list matches the 200 training photographs of the shared copy" {
	need_bsds
	unset DANN_FETCH_SHA256SUMS
	run --separate-stderr mnist-fetch --dataset bsds500 --offline --mirror "$BSDS_DIR" -O "$T/p"
	[ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
	[ "$(ls "$T/p" | wc -l)" -eq 200 ]
	diff -r "$T/p" "$BSDS_DIR"
}
