#!/usr/bin/env bats
# mnist-fetch --dataset mnist-m (the published MNIST-M) on a tiny fixture in the published
# layout (tests/mnistm-fixture.py): from the folder, its parent, the tar.gz and a folder holding
# it, over HTTP from a server on 127.0.0.1 that the tests start; hash mismatch, partial copies,
# broken copies; the cache; and --size, pixel for pixel.  Expected hashes and the split size
# come from DANN_FETCH_SHA256SUMS and DANN_FETCH_MNISTM_N.  No test touches the internet.
bats_require_minimum_version 1.5.0
load helper
load http

setup_file() {
	export FX="$BATS_FILE_TMPDIR/fx"
	"$PYTHON" "$ROOT/tests/mnistm-fixture.py" "$FX"
	start_static_server "$FX/www"
}

teardown_file() {
	stop_static_server
}

setup() {
	unset MNIST_MIRROR FASHION_MNIST_MIRROR MNISTM_MIRROR
	export XDG_CACHE_HOME="$T/xdg"
	export DANN_FETCH_PUBLIC_MIRRORS=""
	export DANN_FETCH_SHA256SUMS="$FX/SHA256SUMS"
	export DANN_FETCH_MNISTM_N=12
	export DANN_FETCH_RETRIES=0 DANN_FETCH_RETRY_DELAY_MS=0 DANN_FETCH_CONNECT_TIMEOUT_MS=2000
}

# fetch [options]: the train split, quietly, into $T/o.npy
fetch() { mnist-fetch --dataset mnist-m -q -o "$T/o.npy" "$@"; }

@test "mnist-m from the folder as distributed, and from its parent: the fixture in labels-file order" {
	run --separate-stderr fetch --mirror "$FX/pub/mnist_m"
	[ "$status" -eq 0 ] && [ -z "$stderr" ] && [ -z "$output" ]
	cmp "$T/o.npy" "$FX/ref/train.npy"
	run tensor-cat -l "$T/o.npy"
	[ "${lines[0]}" = "$T/o.npy[0]: (12,32,32,3) uint8" ] && [ "${lines[1]}" = "$T/o.npy[1]: (12,) uint8" ]
	rm -rf "$XDG_CACHE_HOME"
	MNISTM_MIRROR="$FX/pub" fetch
	cmp "$T/o.npy" "$FX/ref/train.npy"
	DANN_FETCH_MNISTM_N=5 mnist-fetch --dataset mnist-m --split test --mirror "file://$FX/pub" -o "$T/t.npy"
	cmp "$T/t.npy" "$FX/ref/test.npy"
}

@test "mnist-m: the verified arrays are cached; a second run needs no mirror" {
	fetch --mirror "$FX/pub"
	[ -f "$XDG_CACHE_HOME/dann-toolkit/mnist-m/mnist_m_train_images.u8" ]
	[ -f "$XDG_CACHE_HOME/dann-toolkit/mnist-m/mnist_m_train_labels.u8" ]
	run --separate-stderr mnist-fetch --dataset mnist-m --offline -o "$T/c.npy"
	[ "$status" -eq 0 ]
	cmp "$T/c.npy" "$FX/ref/train.npy"
	# a cached copy that went bad is not used: with no mirror that is exit 1
	printf 'x' | dd of="$XDG_CACHE_HOME/dann-toolkit/mnist-m/mnist_m_train_images.u8" bs=1 seek=100 conv=notrunc 2>/dev/null
	run --separate-stderr mnist-fetch --dataset mnist-m --offline -q -o "$T/d.npy"
	assert_fails_cleanly 1 mnist-fetch "MNIST-M train: no source"
	[ ! -e "$T/d.npy" ]
}

@test "mnist-m from mnist_m.tar.gz: the file, a folder holding it, and over HTTP" {
	fetch --cache "$T/c1" --mirror "$FX/www/mnist_m.tar.gz"
	cmp "$T/o.npy" "$FX/ref/train.npy"
	fetch --cache "$T/c2" --mirror "$FX/www"
	cmp "$T/o.npy" "$FX/ref/train.npy"
	fetch --cache "$T/c3" --mirror "$URL"
	cmp "$T/o.npy" "$FX/ref/train.npy"
	DANN_FETCH_MNISTM_N=5 mnist-fetch --dataset mnist-m --split test --cache "$T/c4" --mirror "$URL/mnist_m.tar.gz" -o "$T/t.npy"
	cmp "$T/t.npy" "$FX/ref/test.npy"
	# an HTTP mirror is passed over with --offline
	run --separate-stderr fetch --cache "$T/c5" --offline --mirror "$URL"
	assert_fails_cleanly 1 mnist-fetch "--offline: 1 http\(s\) source not tried"
}

@test "mnist-m: a hash mismatch is refused, naming both hashes; nothing written or cached" {
	run --separate-stderr fetch --mirror "$FX/bad"
	assert_fails_cleanly 1 mnist-fetch "bad/mnist_m: SHA-256 mismatch in the decoded train images: expected [0-9a-f]{64}, got [0-9a-f]{64}"
	[ ! -e "$T/o.npy" ] && [ ! -e "$XDG_CACHE_HOME/dann-toolkit/mnist-m" ]
	# the built-in hashes (the published data) refuse the fixture too
	run --separate-stderr env -u DANN_FETCH_SHA256SUMS DANN_FETCH_MNISTM_N=12 mnist-fetch --dataset mnist-m -q --mirror "$FX/pub" -o "$T/o.npy"
	assert_fails_cleanly 1 mnist-fetch "SHA-256 mismatch in the decoded train images: expected 3c689850"
}

@test "mnist-m: a partial copy is refused, saying how many images of how many; --allow-partial takes it with a warning" {
	run --separate-stderr fetch --mirror "$FX/partial"
	assert_fails_cleanly 1 mnist-fetch "partial copy of the MNIST-M train split: 6 of 12 images \(--allow-partial"
	[ ! -e "$T/o.npy" ]
	run --separate-stderr mnist-fetch --dataset mnist-m --allow-partial --mirror "$FX/partial" -o "$T/p.npy"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"partial copy of the MNIST-M train split, 6 of 12 images: not verified"* ]]
	py '
f = open(sys.argv[1], "rb"); im = np.load(f); lb = np.load(f)
r = open(sys.argv[2], "rb"); ri = np.load(r); rl = np.load(r)
assert im.shape == (6, 32, 32, 3) and np.array_equal(im, ri[:6]) and np.array_equal(lb, rl[:6])' "$T/p.npy" "$FX/ref/train.npy"
	# unverified data is never cached
	[ ! -e "$XDG_CACHE_HOME/dann-toolkit/mnist-m" ]
	# --limit and --offset as for MNIST
	mnist-fetch --dataset mnist-m --allow-partial -q --mirror "$FX/partial" --offset 2 --limit 3 -o "$T/q.npy"
	py '
f = open(sys.argv[1], "rb"); im = np.load(f); lb = np.load(f)
r = open(sys.argv[2], "rb"); ri = np.load(r); rl = np.load(r)
assert np.array_equal(im, ri[2:5]) and np.array_equal(lb, rl[2:5])' "$T/q.npy" "$FX/ref/train.npy"
}

@test "mnist-m: each broken copy is exit 1 with one line saying what is wrong" {
	local k re
	while IFS='|' read -r k re; do
		run --separate-stderr fetch --mirror "$FX/broken-$k"
		assert_fails_cleanly 1 mnist-fetch "$re" || { echo "case $k"; return 1; }
		[ ! -e "$T/o.npy" ]
	done <<-'EOF'
	label|mnist_m_train_labels.txt: line 5: label '12' is not in 0..9
	missing|00000010.png: No such file or directory \(listed on line 3 of
	size|00000000.png: image is 28x28, expected 32x32
	gray|00000000.png: image is grayscale, expected RGB
	line|line 2 is not 'FILE LABEL'
	notpng|00000001.png: not a readable PNG
	EOF
	# a missing split, a folder in another layout
	run --separate-stderr fetch --split test --mirror "$FX/partial/mnist_m"
	assert_fails_cleanly 1 mnist-fetch "MNIST-M test: not found in the cache, .*/partial/mnist_m"
	run --separate-stderr fetch --mirror "$FX/ref"
	assert_fails_cleanly 1 mnist-fetch "MNIST-M train: not found in the cache, .*/ref"
}

@test "--size 32: the 28x28 digits centred on 32x32 zeros, pixel for pixel; --size 33 puts the odd pixel bottom-right" {
	need_mnist
	unset DANN_FETCH_SHA256SUMS
	mnist-fetch --mirror "$MNIST_DIR" --split test --limit 50 --cache "$T/c" -o "$T/a.npy"
	mnist-fetch --mirror "$MNIST_DIR" --split test --limit 50 --cache "$T/c" --size 32 -o "$T/b.npy"
	mnist-fetch --mirror "$MNIST_DIR" --split test --limit 50 --cache "$T/c" --size 33 -o "$T/d.npy"
	py '
def load(p):
    f = open(p, "rb"); return np.load(f), np.load(f)
a, la = load(sys.argv[1]); b, lb = load(sys.argv[2]); d, ld = load(sys.argv[3])
assert b.shape == (50, 32, 32) and d.shape == (50, 33, 33)
assert np.array_equal(la, lb) and np.array_equal(la, ld)
want = np.zeros((50, 32, 32), np.uint8); want[:, 2:30, 2:30] = a
assert np.array_equal(b, want)
want = np.zeros((50, 33, 33), np.uint8); want[:, 2:30, 2:30] = a
assert np.array_equal(d, want)' "$T/a.npy" "$T/b.npy" "$T/d.npy"
}

@test "--size is refused below 28 and for mnist-m; --allow-partial only for mnist-m" {
	run --separate-stderr mnist-fetch --offline --size 27 -o "$T/x.npy"
	assert_fails_cleanly 2 mnist-fetch "--size: 27 is out of range"
	run --separate-stderr mnist-fetch --offline --dataset mnist-m --size 32 -o "$T/x.npy"
	assert_fails_cleanly 2 mnist-fetch "--size: mnist-m is published at 32x32"
	run --separate-stderr mnist-fetch --offline --allow-partial -o "$T/x.npy"
	assert_fails_cleanly 2 mnist-fetch "--allow-partial: only for --dataset mnist-m"
	[ ! -e "$T/x.npy" ]
}
