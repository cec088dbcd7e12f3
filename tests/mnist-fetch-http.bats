#!/usr/bin/env bats
# mnist-fetch against HTTP servers on 127.0.0.1 that the tests start and stop: Python's
# http.server for the well-behaved cases, tests/fetch-server.py for dropped and stalled
# downloads.  Tiny fixture IDX files (tests/fetch-fixture.py) with their own hashes, given to
# mnist-fetch through DANN_FETCH_SHA256SUMS.  No test touches the internet: the public mirror
# list is emptied with DANN_FETCH_PUBLIC_MIRRORS="".
bats_require_minimum_version 1.5.0
load helper
load http

start_bad_server() {  # mode [dir] -> sets BAD_PORT, BAD_PID; log in $T/bad-server.log
	"$PYTHON" "$ROOT/tests/fetch-server.py" "$T/bad.port" "${2:-$FX/www/good}" "$1" 2>"$T/bad-server.log" &
	BAD_PID=$!
	for _ in $(seq 200); do [ -s "$T/bad.port" ] && break; sleep 0.1; done
	BAD_PORT=$(cat "$T/bad.port")
	wait_port "$BAD_PORT"
}

setup_file() {
	export FX="$BATS_FILE_TMPDIR/fx"
	"$PYTHON" "$ROOT/tests/fetch-fixture.py" "$FX" 7
	start_static_server "$FX/www"
}

teardown_file() {
	stop_static_server
}

setup() {
	unset MNIST_MIRROR FASHION_MNIST_MIRROR
	export XDG_CACHE_HOME="$T/xdg"
	export DANN_FETCH_PUBLIC_MIRRORS=""
	export DANN_FETCH_SHA256SUMS="$FX/SHA256SUMS"
	export DANN_FETCH_RETRIES=0 DANN_FETCH_RETRY_DELAY_MS=0 DANN_FETCH_CONNECT_TIMEOUT_MS=2000 DANN_FETCH_STALL_TIMEOUT=1
	BAD_PID=
}

teardown() {
	[ -n "$BAD_PID" ] && kill "$BAD_PID" 2>/dev/null || true
}

# The stream equals the fixture IDX content (split prefix: train or t10k).
check_stream() {  # file prefix
	py '
import struct
f = open(sys.argv[1], "rb"); im = np.load(f); lb = np.load(f); assert f.read() == b""
ri = open(sys.argv[2] + "-images-idx3-ubyte", "rb").read()
rl = open(sys.argv[2] + "-labels-idx1-ubyte", "rb").read()
n = struct.unpack(">I", ri[4:8])[0]
assert im.dtype == np.uint8 and im.shape == (n, 28, 28), im.shape
assert lb.dtype == np.uint8 and lb.shape == (n,), lb.shape
assert im.tobytes() == ri[16:] and lb.tobytes() == rl[8:]' "$1" "$FX/ref/$2"
}

no_cached_files() {  # cache root: nothing cached there (no final names, no temporaries)
	[ -z "$(find "$1" -type f 2>/dev/null)" ] || { echo "cached: $(find "$1" -type f)"; return 1; }
}

@test "http: success; the files are cached and a second run works offline from the cache" {
	run --separate-stderr mnist-fetch --mirror "$URL/good/" --cache "$T/c" -o "$T/out.npy"
	[ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
	[ -z "$output" ]
	check_stream "$T/out.npy" train
	cmp "$T/c/mnist/train-images-idx3-ubyte" "$FX/ref/train-images-idx3-ubyte"
	cmp "$T/c/mnist/train-labels-idx1-ubyte" "$FX/ref/train-labels-idx1-ubyte"
	grep -q 'GET /good/train-images-idx3-ubyte.gz' "$FX/server.log"
	# offline, no mirror: from the cache only
	requests=$(grep -c GET "$FX/server.log")
	mnist-fetch --offline --cache "$T/c" > "$T/again.npy"
	cmp "$T/out.npy" "$T/again.npy"
	[ "$(grep -c GET "$FX/server.log")" -eq "$requests" ]
	# the test split, with a URL without the trailing slash, to stdout
	mnist-fetch --split test --mirror "$URL/good" --cache "$T/c" > "$T/test.npy"
	check_stream "$T/test.npy" t10k
}

@test "http: a 404 falls back to the next mirror, saying so unless -q" {
	run --separate-stderr mnist-fetch --mirror "$URL/empty/" --mirror "$URL/good/" --cache "$T/c" -o "$T/out.npy"
	[ "$status" -eq 0 ]
	check_stream "$T/out.npy" train
	[[ "$stderr" == *"$URL/empty/train-images-idx3-ubyte.gz: HTTP 404; trying the next source"* ]] || { echo "$stderr"; return 1; }
	rm -rf "$T/c"
	run --separate-stderr mnist-fetch -q --mirror "$URL/empty/" --mirror "$URL/good/" --cache "$T/c" -o "$T/out.npy"
	[ "$status" -eq 0 ] && [ -z "$stderr" ]
	# MNIST_MIRROR gives mirrors too, space-separated, after --mirror
	rm -rf "$T/c"
	MNIST_MIRROR="$URL/empty/ $URL/good/" run --separate-stderr mnist-fetch -q --split test --cache "$T/c" -o "$T/t.npy"
	[ "$status" -eq 0 ]
	check_stream "$T/t.npy" t10k
}

@test "http: only 404s: exit 1, one line naming the file and every source tried" {
	run --separate-stderr mnist-fetch -q --mirror "$URL/empty/" --cache "$T/c"
	assert_fails_cleanly 1 mnist-fetch "train-images-idx3-ubyte: not found in the cache, $URL/empty/"
	no_cached_files "$T/c"
}

@test "http: a corrupted file is a hash mismatch: exit 1 naming the file and both hashes, nothing cached" {
	want=$(grep ' train-images-idx3-ubyte$' "$FX/SHA256SUMS" | cut -d' ' -f1)
	got=$(gzip -dc "$FX/www/bad/train-images-idx3-ubyte.gz" | sha256sum | cut -d' ' -f1)
	[ "$want" != "$got" ]
	run --separate-stderr mnist-fetch --mirror "$URL/bad/" --cache "$T/c" -o "$T/out.npy"
	assert_fails_cleanly 1 mnist-fetch "train-images-idx3-ubyte: SHA-256 mismatch in $URL/bad/train-images-idx3-ubyte.gz: expected $want, got $got"
	no_cached_files "$T/c"
	[ ! -e "$T/out.npy" ] && [ -z "$(ls "$T" | grep out.npy)" ]
	# a good mirror after it is used instead (the mismatch is reported as a warning)
	run --separate-stderr mnist-fetch --mirror "$URL/bad/" --mirror "$URL/good/" --cache "$T/c" -o "$T/out.npy"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"SHA-256 mismatch"*"trying the next source"* ]]
	check_stream "$T/out.npy" train
	cmp "$T/c/mnist/train-images-idx3-ubyte" "$FX/ref/train-images-idx3-ubyte"
}

@test "http: a truncated gzip is refused (exit 1), nothing cached" {
	run --separate-stderr mnist-fetch --mirror "$URL/trunc/" --cache "$T/c"
	assert_fails_cleanly 1 mnist-fetch "$URL/trunc/train-images-idx3-ubyte.gz: truncated gzip data"
	no_cached_files "$T/c"
}

@test "http: a wrong magic number is refused even when the hash matches, nothing cached" {
	DANN_FETCH_SHA256SUMS="$FX/SHA256SUMS.magic" run --separate-stderr mnist-fetch --mirror "$URL/magic/" --cache "$T/c"
	assert_fails_cleanly 1 mnist-fetch "train-images-idx3-ubyte.gz: unsupported IDX data type 0x09 in magic number 0x00000903"
	no_cached_files "$T/c"
}

@test "http: --offline never touches the network: no mirror reachable is exit 1" {
	requests=$(grep -c GET "$FX/server.log" || true)
	run --separate-stderr mnist-fetch --offline --mirror "$URL/good/" --cache "$T/c"
	assert_fails_cleanly 1 mnist-fetch "train-images-idx3-ubyte: no source to fetch it from but the cache \(--offline: 1 http\(s\) source not tried\)"
	[ "$(grep -c GET "$FX/server.log" || true)" -eq "$requests" ]
	# the public mirrors are skipped too
	DANN_FETCH_PUBLIC_MIRRORS="http://192.0.2.1/a/ https://192.0.2.1/b/" run --separate-stderr mnist-fetch --offline --cache "$T/c"
	assert_fails_cleanly 1 mnist-fetch "--offline: 2 http\(s\) sources not tried"
}

@test "http: a refused connection falls over to the next mirror" {
	dead=$(free_port)  # nothing listens there
	run --separate-stderr mnist-fetch --mirror "http://127.0.0.1:$dead/" --mirror "$URL/good/" --cache "$T/c" -o "$T/out.npy"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"127.0.0.1:$dead"*"trying the next source"* ]] || { echo "$stderr"; return 1; }
	# not tried again for the labels file: one unreachable host costs one attempt
	[[ "$stderr" == *"http://127.0.0.1:$dead/: skipped: could not be reached for an earlier file; trying the next source"* ]]
	check_stream "$T/out.npy" train
	# when nothing can be reached, the message hints at a local mirror
	run --separate-stderr mnist-fetch -q --mirror "http://127.0.0.1:$dead/" --cache "$T/c2"
	assert_fails_cleanly 1 mnist-fetch "Couldn't connect to server \(no network\? give a local copy with --mirror DIR or MNIST_MIRROR\)"
}

@test "http: a dropped download (half the announced length) falls over; nothing partial is cached" {
	start_bad_server drop
	run --separate-stderr mnist-fetch -q --mirror "http://127.0.0.1:$BAD_PORT/x/" --cache "$T/c"
	assert_fails_cleanly 1 mnist-fetch "127.0.0.1:$BAD_PORT/x/train-images-idx3-ubyte.gz: .*"
	no_cached_files "$T/c"
	run --separate-stderr mnist-fetch --mirror "http://127.0.0.1:$BAD_PORT/x/" --mirror "$URL/good/" --cache "$T/c" -o "$T/out.npy"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"trying the next source"* ]]
	check_stream "$T/out.npy" train
	cmp "$T/c/mnist/train-images-idx3-ubyte" "$FX/ref/train-images-idx3-ubyte"
	[ "$(find "$T/c" -type f | wc -l)" -eq 2 ]
}

@test "http: half a body without Content-Length is caught by the gzip check; nothing cached" {
	start_bad_server nolength
	run --separate-stderr mnist-fetch -q --mirror "http://127.0.0.1:$BAD_PORT/x/" --cache "$T/c"
	assert_fails_cleanly 1 mnist-fetch "train-images-idx3-ubyte.gz: truncated gzip data"
	no_cached_files "$T/c"
}

@test "http: a stalled download times out (DANN_FETCH_STALL_TIMEOUT=1) and falls over" {
	# only the images stall there (the labels are a quick 404), to keep the test short
	mkdir "$T/only-images"
	cp "$FX/www/good/train-images-idx3-ubyte.gz" "$T/only-images/"
	start_bad_server stall "$T/only-images"
	t0=$(date +%s%N)
	run --separate-stderr mnist-fetch --mirror "http://127.0.0.1:$BAD_PORT/x/" --mirror "$URL/good/" --cache "$T/c" -o "$T/out.npy"
	t1=$(date +%s%N)
	[ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
	[[ "$stderr" == *"/x/train-images-idx3-ubyte.gz: stalled: no data for 1 s after "*" bytes; trying the next source"* ]] || { echo "$stderr"; return 1; }
	check_stream "$T/out.npy" train
	echo "took $(( (t1 - t0) / 1000000 )) ms"
	[ $(( (t1 - t0) / 1000000 )) -lt 4000 ]
	[ "$(find "$T/c" -type f | wc -l)" -eq 2 ]
}

@test "http: a server error is retried (DANN_FETCH_RETRIES) before moving on" {
	start_bad_server error500
	DANN_FETCH_RETRIES=2 run --separate-stderr mnist-fetch --mirror "http://127.0.0.1:$BAD_PORT/x/" --cache "$T/c"
	[ "$status" -eq 1 ]
	[ "$(grep -c 'GET /x/train-images-idx3-ubyte.gz' "$T/bad-server.log")" -eq 3 ]
	[[ "$stderr" == *"HTTP 500; retrying"*"attempt 2 of 3"* ]]
	[[ "$(printf '%s\n' "$stderr" | tail -n 1)" == "mnist-fetch: train-images-idx3-ubyte: "*"HTTP 500" ]]
}

@test "http: a cached file that went bad is fetched again and replaced" {
	mnist-fetch -q --mirror "$URL/good/" --cache "$T/c" > /dev/null
	printf 'x' >> "$T/c/mnist/train-labels-idx1-ubyte"
	# offline with no other source: the bad copy is not used
	run --separate-stderr mnist-fetch --offline --cache "$T/c"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"cached copy is bad, fetching it again: train-labels-idx1-ubyte: SHA-256 mismatch"* ]] || { echo "$stderr"; return 1; }
	run --separate-stderr mnist-fetch --mirror "$URL/good/" --cache "$T/c" -o "$T/out.npy"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"cached copy is bad, fetching it again: train-labels-idx1-ubyte: SHA-256 mismatch"* ]] || { echo "$stderr"; return 1; }
	check_stream "$T/out.npy" train
	cmp "$T/c/mnist/train-labels-idx1-ubyte" "$FX/ref/train-labels-idx1-ubyte"
}

@test "http: the default cache is under XDG_CACHE_HOME, and --progress shows a progress line" {
	run --separate-stderr mnist-fetch --progress --mirror "$URL/good/" -o "$T/out.npy"
	[ "$status" -eq 0 ]
	[ -f "$XDG_CACHE_HOME/dann-toolkit/mnist/train-images-idx3-ubyte" ]
	[[ "$stderr" == *"train-images-idx3-ubyte.gz: "*"elapsed"* ]] || { echo "$stderr"; return 1; }
}

# --- a hostile mirror: every MNIST file's size is known, so neither the download nor
# its decompression may grow past it; a download has a deadline.  Each class with both splits'
# files (the bomb and the endless body answer every request), alone (exit 1) and followed by a
# good mirror (used next).

@test "http: a gzip bomb stops at the file's known size: exit 1, then the next mirror" {
	start_bad_server bomb
	local split
	for split in train test; do
		run --separate-stderr /usr/bin/time -f "%M" mnist-fetch -q --split $split --mirror "http://127.0.0.1:$BAD_PORT/x/" --cache "$T/c"
		[ "$status" -eq 1 ] || { echo "status $status: $stderr"; return 1; }
		[[ "$stderr" =~ -images-idx3-ubyte.gz:\ decompressed\ data\ larger\ than\ (47040016|7840016)\ bytes ]] || { echo "$stderr"; return 1; }
		# memory bounded by the file's real size (47 MB for train images), not by the bomb's 64 MB
		local kb=${stderr##*$'\n'}
		echo "max RSS $kb KB"
		[ "$kb" -lt 200000 ]
	done
	run --separate-stderr mnist-fetch --split test --mirror "http://127.0.0.1:$BAD_PORT/x/" --mirror "$URL/good/" --cache "$T/c" -o "$T/out.npy"
	[ "$status" -eq 0 ] && [[ "$stderr" == *"decompressed data larger than 7840016 bytes; trying the next source"* ]]
	check_stream "$T/out.npy" t10k
}

@test "http: an endless body stops past the most the file can take compressed: exit 1, then the next mirror" {
	start_bad_server endless
	t0=$(date +%s%N)
	run --separate-stderr mnist-fetch -q --split test --mirror "http://127.0.0.1:$BAD_PORT/x/" --cache "$T/c"
	echo "took $(( ($(date +%s%N) - t0) / 1000000 )) ms: $stderr"
	assert_fails_cleanly 1 mnist-fetch "t10k-images-idx3-ubyte.gz: larger than [0-9]+ bytes, more than the file can be: stopped"
	no_cached_files "$T/c"
	run --separate-stderr mnist-fetch --split test --mirror "http://127.0.0.1:$BAD_PORT/x/" --mirror "$URL/good/" --cache "$T/c" -o "$T/out.npy"
	[ "$status" -eq 0 ] && [[ "$stderr" == *"more than the file can be: stopped; trying the next source"* ]]
	check_stream "$T/out.npy" t10k
}

@test "http: a trickle fast enough to pass the stall check ends at --deadline: exit 1, then the next mirror" {
	start_bad_server trickle
	export DANN_FETCH_STALL_TIMEOUT=60  # only the deadline can end it
	t0=$(date +%s%N)
	run --separate-stderr mnist-fetch -q --deadline 2 --mirror "http://127.0.0.1:$BAD_PORT/x/" --cache "$T/c"
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	echo "took $ms ms: $stderr"
	assert_fails_cleanly 1 mnist-fetch "train-images-idx3-ubyte.gz: deadline of 2 s passed after [0-9]+ bytes \(--deadline\)"
	[ "$ms" -lt 5000 ]
	no_cached_files "$T/c"
	run --separate-stderr mnist-fetch --deadline 2 --mirror "http://127.0.0.1:$BAD_PORT/x/" --mirror "$URL/good/" --cache "$T/c" -o "$T/out.npy"
	[ "$status" -eq 0 ] && [[ "$stderr" == *"deadline of 2 s passed"*"trying the next source"* ]]
	check_stream "$T/out.npy" train
	run --separate-stderr mnist-fetch --deadline 0 --offline
	assert_fails_cleanly 2 mnist-fetch "--deadline: 0 is out of range"
}

@test "a mirror list that cannot name a source is a usage error saying why, before any look-up" {
	local m re
	while IFS='|' read -r m re; do
		MNIST_MIRROR="$m" run --separate-stderr mnist-fetch --offline --cache "$T/c" -o "$T/x.npy"
		assert_fails_cleanly 2 mnist-fetch "MNIST_MIRROR: $re" || { echo "case '$m'"; return 1; }
		run --separate-stderr mnist-fetch --mirror "$m" --cache "$T/c" -o "$T/x.npy"
		assert_fails_cleanly 2 mnist-fetch "--mirror: $re" || { echo "case --mirror '$m'"; return 1; }
	done <<-'EOF'
	http://|'http://': URL has no host
	https:///mnist/|'https:///mnist/': URL has no host
	http://:8080/x|'http://:8080/x': URL has no host
	ftp://example.org/mnist/|'ftp://example.org/mnist/': unsupported scheme 'ftp'
	file://relative/dir|'file://relative/dir': a file:// URL needs an absolute path
	EOF
	MNIST_MIRROR=$'/tmp/a\x01b' run --separate-stderr mnist-fetch --offline -o "$T/x.npy"
	assert_fails_cleanly 2 mnist-fetch "MNIST_MIRROR: .*a space or control character"
	DANN_FETCH_PUBLIC_MIRRORS="http://" run --separate-stderr mnist-fetch --offline -o "$T/x.npy"
	assert_fails_cleanly 2 mnist-fetch "DANN_FETCH_PUBLIC_MIRRORS: 'http://': URL has no host"
	[ ! -e "$T/x.npy" ]
}
