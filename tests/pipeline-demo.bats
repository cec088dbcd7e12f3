#!/usr/bin/env bats
# End to end: `make -j2 demo` (so -j2 is exercised too) in a temporary copy of the project, from the local MNIST mirror.
bats_require_minimum_version 1.5.0
load helper
load report-fixture

PIPE_TOOLS="mnist-fetch mnistm-gen dann-train dann-embed tsne plot-frames plot-curves domain-distance dann-report"
have_tools() { for t in $PIPE_TOOLS; do [ -f "$ROOT/tools/$t.c" ] || return 1; done; }

setup_file() {
	load helper
	have_tools || return 0
	[ -f "$SHARED/data/mnist/t10k-images-idx3-ubyte.gz" ] || return 0
	export DEMO_COPY="$BATS_FILE_TMPDIR/proj"
	mkdir -p "$DEMO_COPY"
	# the sources, plus the already-built tools (cp -a keeps their times, so nothing rebuilds)
	(cd "$ROOT" && tar -cf - --exclude=./runs --exclude=./.git --exclude='./build/san' .) | (cd "$DEMO_COPY" && tar -xf -)
	cd "$DEMO_COPY"
	local t0=$SECONDS
	make --no-print-directory -j2 demo SHARED="$SHARED" > "$BATS_FILE_TMPDIR/demo.log" 2>&1 \
		|| echo failed > "$BATS_FILE_TMPDIR/demo.failed"
	echo $((SECONDS - t0)) > "$BATS_FILE_TMPDIR/demo.time"
}

@test "make demo succeeds and writes every stage's file" {
	need_mnist
	have_tools || skip "not every pipeline tool is in this tree yet"
	[ ! -e "$BATS_FILE_TMPDIR/demo.failed" ] || { tail -n 30 "$BATS_FILE_TMPDIR/demo.log"; false; }
	echo "make demo took $(cat "$BATS_FILE_TMPDIR/demo.time") s" >&3
	R="$DEMO_COPY/runs/demo"
	for f in mnist-train.npy mnist-test.npy mnistm-train.npy mnistm-test.npy source-only.model dann.model \
		dann.tsv source-only.tsv alignment.gif curves.png sheet.png results.tsv results.md titles.txt pad.tsv \
		report.html commands.sh embed/points.npy embed/pred-0000.npy; do
		[ -s "$R/$f" ] || { echo "missing $f"; false; }
	done
	ls "$R"/frames/frame-0000.png "$R"/snapshots/snap-0000.model "$R"/tsne/frame-0000.npy >/dev/null
}

@test "make demo ends by saying where the page is, then the results" {
	need_mnist
	have_tools || skip "not every pipeline tool is in this tree yet"
	grep -A 3 -x 'open runs/demo/report.html' "$BATS_FILE_TMPDIR/demo.log" | grep -q '^# demo: MNIST -> MNIST-M'
}

@test "the demo's report page works in headless Chromium (tests/report-browser.py)" {
	need_mnist
	have_tools || skip "not every pipeline tool is in this tree yet"
	need_browser
	run_browser "$DEMO_COPY/runs/demo/report.html" "$BATS_FILE_TMPDIR/report.png"
	size=$(stat -c %s "$DEMO_COPY/runs/demo/report.html")
	echo "report.html: $size bytes" >&3
	[ "$size" -le 5000000 ]
}

@test "the demo's PNG and GIF files are valid" {
	need_mnist
	have_tools || skip "not every pipeline tool is in this tree yet"
	R="$DEMO_COPY/runs/demo"
	for f in "$R"/curves.png "$R"/sheet.png "$R"/frames/frame-0000.png; do
		[ "$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || { echo "$f is not a PNG"; false; }
	done
	head -c 6 "$R/alignment.gif" | grep -q '^GIF89a'
	[ "$(tail -c 1 "$R/alignment.gif" | od -An -tx1 | tr -d ' ')" = "3b" ]   # GIF trailer
}

@test "results.tsv parses and DANN beats source-only on the target" {
	need_mnist
	have_tools || skip "not every pipeline tool is in this tree yet"
	R="$DEMO_COPY/runs/demo"
	py '
import csv
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
assert [r["model"] for r in rows] == ["source-only", "dann"], rows
acc = {r["model"]: (float(r["source_accuracy"]), float(r["target_accuracy"])) for r in rows}
for m, (s, t) in acc.items():
    assert 0 <= s <= 1 and 0 <= t <= 1, acc
print(acc, file=sys.stderr)
assert acc["dann"][1] > acc["source-only"][1], acc
# the first look must show adaptation: DANN adapted (92.75% here), source-only far below (13%);
# the margins allow for another instruction-set path on another CPU
assert acc["dann"][1] > 0.85 and acc["source-only"][1] < 0.5, acc
' "$R/results.tsv"
}

@test "pad.tsv: the PAD of every snapshot of both models and of the raw pixels" {
	need_mnist
	have_tools || skip "not every pipeline tool is in this tree yet"
	R="$DEMO_COPY/runs/demo"
	py '
import csv
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
k = int(sys.argv[2]) + 1
runs = [(m, l) for m in ("DANN", "source-only") for l in ("features", "label-hidden")]
assert [(r["model"], r["layer"]) for r in rows] == [x for x in runs for _ in range(k)] + [("raw pixels", "pixels")], rows
for r in rows:
    assert -2 <= float(r["pad"]) <= 2 and 0 <= float(r["epsilon"]) <= 1, r
assert [int(r["snapshot"]) for r in rows[:k]] == list(range(k))
assert rows[0]["step"] == "0" and rows[-1]["step"] == "-"
print([(r["model"], r["layer"], r["step"], r["pad"]) for r in rows], file=sys.stderr)
' "$R/pad.tsv" 4
	grep -q "raw pixels" "$R/results.md"
}

@test "a second make demo does no work" {
	need_mnist
	have_tools || skip "not every pipeline tool is in this tree yet"
	cd "$DEMO_COPY"
	before=$(find runs/demo -type f -newer runs/demo/results.md | wc -l)
	run make --no-print-directory demo SHARED="$SHARED"
	[ "$status" -eq 0 ]
	# no stage ran: make prints no tool command, and no file changed
	! grep -qE 'bin/(mnist-fetch|mnistm-gen|dann-train|dann-embed|tsne|plot-frames|plot-curves|domain-distance|dann-report) ' <<<"$output"
	[ "$(find runs/demo -type f -newer runs/demo/results.md | wc -l)" -eq "$before" ]
}
