#!/usr/bin/env bats
# dann-report: the page holds what its inputs say (points, labels, predictions, images,
# snapshots, curves, results, commands), needs no network, is deterministic; bad input.
# The inputs come from a small run of the real chain (tests/report-fixture.bash); the browser
# checks are tests/report-browser.bats.
bats_require_minimum_version 1.5.0
load helper
load report-fixture

setup_file() {
	load helper
	load report-fixture
	report_setup_file
}

setup() {
	report_run_made
}

# page_data PAGE: the JSON object the page embeds, parsed (Python expression `D`)
page_py() {
	py '
import json, re
html = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r"<script id=\"dann-data\" type=\"application/json\">(.*?)</script>", html, re.S)
D = json.loads(m.group(1))
'"$1" "${@:2}"
}

@test "--help, usage errors" {
	run dann-report --help
	[ "$status" -eq 0 ]
	[[ "$output" == usage:* ]]
	grep -q -- '--predictions FILE' <<<"$output"
	run --separate-stderr dann-report -o "$T/r.html"
	assert_fails_cleanly 2 dann-report 'no FRAME\.npy operand'
	run --separate-stderr dann-report --log x "$R/tsne/frame-0000.npy"
	assert_fails_cleanly 2 dann-report '--log: expected NAME=FILE'
	[ ! -e "$T/r.html" ]
}

@test "the page embeds the frames, labels, domains, predictions and snapshots of its inputs" {
	page_py '
K = len(sys.argv) - 2
assert D["frames"] == K == 3 and D["n"] == 120, (D["frames"], D["n"])
f = open(sys.argv[2], "rb"); np.load(f); y = np.load(f); d = np.load(f)
assert D["labels"] == "".join(map(str, y)) and D["domains"] == "".join(map(str, d))
pts = []
for k, fr in enumerate(sys.argv[2:]):
    f = open(fr, "rb"); p = np.load(f); pts.append(p)
    pf = open(sys.argv[1].replace("report.html", "embed/pred-%04d.npy" % k), "rb"); pr = np.load(pf)
    assert D["preds"][k] == "".join(map(str, pr)), k
allp = np.concatenate(pts)
q = np.array(D["pts"], float).reshape(-1, 2) / D["q"]
# the coordinates, scaled to 0..1 over all frames, as the page draws them
lo, hi = allp.min(0), allp.max(0)
assert np.abs(q - (allp - lo) / (hi - lo)).max() < 1.5e-4, np.abs(q - (allp - lo) / (hi - lo)).max()
s = np.genfromtxt(sys.argv[1].replace("report.html", "snaps/snapshots.tsv"), names=True, delimiter="\t")
assert [x["step"] for x in D["snaps"]] == list(s["step"]), D["snaps"]
assert [x["lambda"] for x in D["snaps"]] == [float("%.7g" % v) for v in s["lambda"]]
assert D["snaps"][0]["lr"] > 0 and D["snaps"][0]["pad"] is None
assert D["logs"][0]["name"] == "DANN" and len(D["logs"][0]["step"]) == 8
assert D["results"] == [["model", "source_accuracy", "target_accuracy"], ["dann", "0.9", "0.8"]]
assert D["commands"].startswith("dann-train")
assert D["palette"]["source"] == "#0072b2" and D["palette"]["classes"][2] == "#009e73"
' "$R/report.html" "$R"/tsne/frame-*.npy
}

@test "the sprite sheet holds every point's image, exactly" {
	page_py '
import base64, io
from PIL import Image
s = D["sprite"]
assert s["src"].startswith("data:image/png;base64,")
im = np.asarray(Image.open(io.BytesIO(base64.b64decode(s["src"].split(",", 1)[1]))).convert("RGB"))
f = open(sys.argv[2], "rb"); x = np.load(f)
n, h, w, _ = x.shape
assert (s["w"], s["h"]) == (w, h) and s["cols"] ** 2 >= n
for i in range(n):
    r, c = divmod(i, s["cols"])
    assert (im[r * h:(r + 1) * h, c * w:(c + 1) * w] == x[i]).all(), i
' "$R/report.html" "$R/embed/points.npy"
}

@test "self-contained: no address outside the page; text from the inputs cannot end the script" {
	! grep -Eio '(src|href)="?(https?:)?//' "$R/report.html"
	! grep -Eio 'url\((https?:)?//|@import|<link rel="stylesheet"' "$R/report.html"
	# the commands file holds "<not a tag>": escaped in the data, one </script> per script
	! grep -q '<not a tag>' "$R/report.html"
	[ "$(grep -o '</script>' "$R/report.html" | wc -l)" -eq 2 ]
}

@test "deterministic: the same inputs give the same bytes; inputs in stdin" {
	cd "$R"
	args=(--snapshots snaps/snapshots.tsv --images embed/points.npy --log DANN=dann.tsv --results results.tsv)
	for p in embed/pred-*.npy; do args+=(--predictions "$p"); done
	dann-report -q "${args[@]}" -o "$T/a.html" tsne/frame-*.npy
	dann-report -q "${args[@]}" -o "$T/b.html" tsne/frame-*.npy
	cmp "$T/a.html" "$T/b.html"
	# the three frames as one stream on stdin
	cat tsne/frame-*.npy | dann-report -q "${args[@]}" -o "$T/c.html" -
	page_py 'assert D["frames"] == 3 and len(D["preds"]) == 3' "$T/c.html"
	# with nothing but the frames
	dann-report tsne/frame-0000.npy tsne/frame-0001.npy > "$T/d.html"
	page_py 'assert D["preds"] is None and D["sprite"] is None and D["snaps"] is None and D["frames"] == 2' "$T/d.html"
}

@test "inputs of other points, or of another count, are refused before anything is written" {
	cd "$R"
	mkdir "$T/out"
	run --separate-stderr dann-report --predictions embed/pred-0000.npy -o "$T/out/r.html" tsne/frame-*.npy
	assert_fails_cleanly 2 dann-report '1 --predictions for 3 frames'
	run --separate-stderr dann-report --snapshots snaps/snapshots.tsv -o "$T/out/r.html" tsne/frame-0000.npy
	assert_fails_cleanly 1 dann-report 'snapshots.tsv: more snapshots than the 1 frames'
	# the images of other points: the same points in another order
	py '
f = open(sys.argv[1], "rb"); x, y, d = np.load(f), np.load(f), np.load(f)
i = np.argsort(y, kind="stable")
g = open(sys.argv[2], "wb"); np.save(g, x[i]); np.save(g, y[i]); np.save(g, d[i]); g.close()' embed/points.npy "$T/shuffled.npy"
	run --separate-stderr dann-report --images "$T/shuffled.npy" -o "$T/out/r.html" tsne/frame-0000.npy
	assert_fails_cleanly 1 dann-report 'shuffled\.npy: the (label|domain) of point [0-9]+ is [0-9], in the frames [0-9]: not the same points in the same order'
	# no page, no temporary file
	[ -z "$(ls -A "$T/out")" ] || { ls -A "$T/out"; false; }
}

@test "dann-embed --predictions: the --predict stream of the embedded images; the embedding unchanged" {
	m="$R/snaps/snap-0002.model"
	a=(-m "$m" --source "$R/src-test.npy" --target "$R/tgt-test.npy" --per-domain 60 --threads 1 -q)
	dann-embed "${a[@]}" -o "$T/e.npy"
	dann-embed "${a[@]}" --predictions "$T/p.npy" --images "$T/i.npy" -o "$T/e2.npy"
	cmp "$T/e.npy" "$T/e2.npy"
	dann-embed "${a[@]}" --predict -o "$T/p2.npy"
	cmp "$T/p.npy" "$T/p2.npy"
	# the images: each the test image of its label, gray as RGB, source first
	py '
f = open(sys.argv[1], "rb"); x, y, d = np.load(f), np.load(f), np.load(f)
e = open(sys.argv[2], "rb"); np.load(e); ye, de = np.load(e), np.load(e)
assert x.shape == (120, 28, 28, 3) and x.dtype == np.uint8 and (y == ye).all() and (d == de).all()
S = np.load(open(sys.argv[3], "rb")); Tg = np.load(open(sys.argv[4], "rb"))
for i in range(120):
    pool = S[..., None].repeat(3, 3) if d[i] == 0 else Tg
    assert (pool == x[i]).all(axis=(1, 2, 3)).any(), i
' "$T/i.npy" "$T/e.npy" "$R/src-test.npy" "$R/tgt-test.npy"
	# the single-input form takes --predictions too
	dann-embed -m "$m" --domain target --threads 1 -q --predictions "$T/p3.npy" -o "$T/e3.npy" "$R/tgt-test.npy"
	dann-embed -m "$m" --domain target --threads 1 -q --predict -o "$T/p4.npy" "$R/tgt-test.npy"
	cmp "$T/p3.npy" "$T/p4.npy"
}
