#!/usr/bin/env bats
# `make -j2 paper` on a small subset (2 seeds, 2 networks, 30 steps) in a temporary copy of the
# project: the table's shape and arithmetic, not its accuracy (the full run is a benchmark:
# README).  The published column is scored on 500 images of the published MNIST-M sample.
# make paper is a sweep of pipelines/sweep.mk: a run folder per network, model and seed.
bats_require_minimum_version 1.5.0
load helper

PAPER_ARGS=(PAPER_SEEDS="1 2" PAPER_TRAIN_N=2000 PAPER_TEST_N=500 PAPER_TRAIN_OPTS="--steps 30" SWEEP_THREADS=1
	PAPER_TRAIN_OFFSET=10000 PAPER_SNAPSHOTS=2 PAPER_REPORT_PER_DOMAIN=100)
# the published MNIST-M sample, when there is one: the settings of every make of this file
pub_args() {
	[ -d "$SHARED/data/mnist_m_sample/mnist_m_train" ] || return 0
	echo "MNISTM_PUBLISHED=$SHARED/data/mnist_m_sample"
	echo "MNISTM_PUBLISHED_SPLIT=train"
	echo "MNISTM_PUBLISHED_OPTS=--allow-partial --limit 500"
}

# make as a test calls it, whatever flags (-s, -n, -j) the caller's make passes down
tmake() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory "$@"; }

setup_file() {
	load helper
	[ -f "$SHARED/data/mnist/t10k-images-idx3-ubyte.gz" ] && [ -d "$SHARED/data/bsds500/train" ] || return 0
	export PAPER_COPY="$BATS_FILE_TMPDIR/proj"
	mkdir -p "$PAPER_COPY"
	(cd "$ROOT" && tar -cf - --exclude=./runs --exclude=./.git --exclude='./build/san' .) | (cd "$PAPER_COPY" && tar -xf -)
	cd "$PAPER_COPY"
	mapfile -t PUB < <(pub_args)
	tmake -j2 paper SHARED="$SHARED" "${PAPER_ARGS[@]}" "${PUB[@]}" > "$BATS_FILE_TMPDIR/paper.log" 2>&1 \
		|| echo failed > "$BATS_FILE_TMPDIR/paper.failed"
}

@test "make -j2 paper (2 seeds, 2 networks, 30 steps) writes results.tsv with a row per network, model and seed" {
	need_mnist; need_bsds
	[ ! -e "$BATS_FILE_TMPDIR/paper.failed" ] || { tail -n 30 "$BATS_FILE_TMPDIR/paper.log"; false; }
	R="$PAPER_COPY/runs/paper"
	py '
import csv, os
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
want = [("bsds", a, m, s) for a in ("seed", "paper") for m in ("source-only", "dann", "train-on-target") for s in "12"]
assert [(r["recipe"], r["arch"], r["model"], r["seed"]) for r in rows] == want, rows
pub = os.path.isdir(sys.argv[2])
for r in rows:
    assert 0 <= float(r["target_accuracy"]) <= 1 and 0 <= float(r["source_accuracy"]) <= 1, r
    assert (0 <= float(r["published_accuracy"]) <= 1) if pub else "published_accuracy" not in r, r
    assert float(r["train_seconds"]) > 0, r
' "$R/results.tsv" "$SHARED/data/mnist_m_sample/mnist_m_train"
	# the two seeds made different MNIST-M (seeded generation), from BSDS500 photos
	! cmp -s "$R/data/bsds-s1/mnistm-test.npy" "$R/data/bsds-s2/mnistm-test.npy"
	# the published geometry: 32x32 source and target, the source padded, training digits from 10,000 on
	py '
f = open(sys.argv[1], "rb"); src = np.load(f)
g = open(sys.argv[2], "rb"); tgt = np.load(g)
assert src.shape == (2000, 32, 32) and tgt.shape == (2000, 32, 32, 3), (src.shape, tgt.shape)
assert (src[:, :2] == 0).all() and (src[:, 30:] == 0).all() and (src[:, :, :2] == 0).all() and (src[:, :, 30:] == 0).all()
' "$R/data/mnist-train.npy" "$R/data/bsds-s1/mnistm-train.npy"
	cmp -s <(MNIST_MIRROR="$SHARED/data/mnist" "$BIN_ABS/mnist-fetch" -q --offline --cache "$BATS_TEST_TMPDIR/c" --size 32 --offset 10000 --limit 2000) "$R/data/mnist-train.npy"
	# both networks were trained, train-on-target on the labelled target
	[ -f "$R/bsds_arch-paper_model-dann_seed-2/train.model" ] && [ -f "$R/bsds_arch-seed_model-dann_seed-2/train.model" ]
	[ "$(cat "$R/bsds_arch-paper_model-train-on-target_seed-2/options")" = "--arch paper --mode source-only source=target --epochs 15 --steps 30 --seed 2" ]
	# the report page: the first network and seed's DANN snapshots, the whole table
	py '
import json, re
D = json.loads(re.search(r"<script id=\"dann-data\" type=\"application/json\">(.*?)</script>", open(sys.argv[1]).read(), re.S).group(1))
assert D["frames"] == 3 and D["n"] == 200 and len(D["results"]) == 13 and D["sprite"]["w"] == 32, (D["frames"], D["n"], len(D["results"]))
' "$R/report.html"
	grep -qx "open runs/paper/report.html" "$BATS_FILE_TMPDIR/paper.log"
}

@test "results.md: mean and std over the seeds, one block per network, beside the paper's figures" {
	need_mnist; need_bsds
	R="$PAPER_COPY/runs/paper"
	py '
import csv, os, re, statistics as st
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
md = open(sys.argv[2]).read()
pub = os.path.isdir(sys.argv[3])
paper = {"source-only": ".5225", "dann": ".7666", "train-on-target": ".9596"}
blocks = md.split("\n## ")[1:]
assert len(blocks) == 2 and "--arch seed" in blocks[0] and "--arch paper" in blocks[1], md
for arch, block in zip(("seed", "paper"), blocks):
    for m, ref in paper.items():
        sel = [r for r in rows if r["model"] == m and r["arch"] == arch]
        t = [float(r["target_accuracy"]) for r in sel]
        s = [float(r["source_accuracy"]) for r in sel]
        line = [l for l in block.splitlines() if l.startswith("| %s |" % m)]
        assert len(line) == 1, (m, block)
        want = "| %s | %.4f ± %.4f | %.4f – %.4f |" % (m, st.mean(t), st.stdev(t), min(t), max(t))
        if pub:
            p = [float(r["published_accuracy"]) for r in sel]
            want += " %.4f ± %.4f (%.4f – %.4f) |" % (st.mean(p), st.stdev(p), min(p), max(p))
        want += " %.4f ± %.4f (%.4f) | 2 |" % (st.mean(s), st.stdev(s), min(s))
        assert line[0].startswith(want), (line[0], want)
        assert line[0].rstrip().endswith("| %s |" % ref), line[0]
assert "first 500 of MNIST" in md and "32x32" in md, md
assert ("published MNIST-M train split" in md) == pub, md
' "$R/results.tsv" "$R/results.md" "$SHARED/data/mnist_m_sample/mnist_m_train"
}

@test "a second make paper does no work" {
	need_mnist; need_bsds
	cd "$PAPER_COPY"
	R=runs/paper
	mapfile -t PUB < <(pub_args)
	stamp=$(stat -c %Y.%s $R/results.tsv $R/bsds_arch-seed_model-dann_seed-1/train.model)
	run tmake paper SHARED="$SHARED" "${PAPER_ARGS[@]}" "${PUB[@]}"
	[ "$status" -eq 0 ]
	[[ "$output" == *"| dann |"* ]]
	[ "$(stat -c %Y.%s $R/results.tsv $R/bsds_arch-seed_model-dann_seed-1/train.model)" = "$stamp" ]
	run tmake -q $R/results.md SHARED="$SHARED" "${PAPER_ARGS[@]}" "${PUB[@]}"
	[ "$status" -eq 0 ]
}

@test "a deleted model is trained again, and only it" {
	need_mnist; need_bsds
	cd "$PAPER_COPY"
	mapfile -t PUB < <(pub_args)
	rm runs/paper/bsds_arch-seed_model-dann_seed-2/train.model
	run tmake -n paper SHARED="$SHARED" "${PAPER_ARGS[@]}" "${PUB[@]}"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'sweep-run.sh train ' <<<"$output")" -eq 1 ]
	grep -q -- 'sweep-run.sh train runs/paper/bsds_arch-seed_model-dann_seed-2 .* --arch seed --mode dann .*--seed 2 ' <<<"$output"
	# and it is scored, and the tables are made again from it
	[ "$(grep -c 'sweep-run.sh eval ' <<<"$output")" -eq 1 ]
	grep -q 'runs/paper/results.tsv.tmp' <<<"$output"
	grep -q 'runs/paper/results.md.tmp' <<<"$output"
	# without the published MNIST-M every model is scored again (results.tsv loses a column)
	if [ ${#PUB[@]} -gt 0 ]; then
		run tmake -n paper SHARED="$SHARED" "${PAPER_ARGS[@]}"
		[ "$(grep -c 'sweep-run.sh eval ' <<<"$output")" -eq 12 ]
	fi
}

@test "PAPER_RECIPE=noise writes under runs/paper-noise; PAPER_SIZE=28 is the earlier geometry" {
	need_mnist
	cd "$PAPER_COPY"
	run tmake -n paper SHARED="$SHARED" PAPER_RECIPE=noise PAPER_SEEDS=1
	[ "$status" -eq 0 ]
	[[ "$output" == *"sweep-run.sh train runs/paper-noise/noise_arch-seed_model-dann_seed-1 "* ]]
	[[ "$output" == *"mnistm-gen --recipe noise --size 32 --seed 1 -q"* ]]
	run tmake -n paper SHARED="$SHARED" PAPER_SIZE=28 PAPER_ARCHS=paper PAPER_SEEDS=3
	[ "$status" -eq 0 ]
	[[ "$output" == *"--size 28 --seed 3"* ]]
	[[ "$output" == *"--arch paper --mode dann"* ]]
	[[ "$output" != *"arch-seed"* ]]
	# through Slurm as any sweep
	run tmake -n paper SHARED="$SHARED" PAPER_SEEDS=1 SLURM=1 SLURM_CPUS=2
	[ "$status" -eq 0 ]
	[[ "$output" == *"SWEEP_LAUNCH='srun --exact --nodes=1 --ntasks=1 --cpus-per-task=2 --job-name=bsds_arch-paper_model-dann_seed-1 '"*"--threads 2"* ]]
}
