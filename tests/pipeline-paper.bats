#!/usr/bin/env bats
# `make -j2 paper` on a small subset (2 seeds, 30 steps) in a temporary copy of the project:
# the table's shape and arithmetic, not its accuracy (the full run is a benchmark: README).
bats_require_minimum_version 1.5.0
load helper
# The tests below read the recipe lines make echoes: whatever flags the caller's make passes
# down (`make -s check` puts s in MAKEFLAGS), the makes run here start clean.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES

PAPER_ARGS=(PAPER_SEEDS="1 2" PAPER_TRAIN_N=2000 PAPER_TEST_N=500 PAPER_TRAIN_OPTS="--steps 30" THREADS=1)

setup_file() {
	load helper
	[ -f "$SHARED/data/mnist/t10k-images-idx3-ubyte.gz" ] && [ -d "$SHARED/data/bsds500/train" ] || return 0
	export PAPER_COPY="$BATS_FILE_TMPDIR/proj"
	mkdir -p "$PAPER_COPY"
	(cd "$ROOT" && tar -cf - --exclude=./runs --exclude=./.git --exclude='./build/san' .) | (cd "$PAPER_COPY" && tar -xf -)
	cd "$PAPER_COPY"
	make --no-print-directory -j2 paper SHARED="$SHARED" "${PAPER_ARGS[@]}" > "$BATS_FILE_TMPDIR/paper.log" 2>&1 \
		|| echo failed > "$BATS_FILE_TMPDIR/paper.failed"
}

@test "make -j2 paper (2 seeds, 30 steps) writes results.tsv with a row per model and seed" {
	need_mnist; need_bsds
	[ ! -e "$BATS_FILE_TMPDIR/paper.failed" ] || { tail -n 30 "$BATS_FILE_TMPDIR/paper.log"; false; }
	R="$PAPER_COPY/runs/paper"
	py '
import csv
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
assert [(r["model"], r["seed"]) for r in rows] == [(m, s) for s in "12" for m in ("source-only", "dann", "train-on-target")], rows
for r in rows:
    assert 0 <= float(r["target_accuracy"]) <= 1 and 0 <= float(r["source_accuracy"]) <= 1, r
    assert float(r["train_seconds"]) > 0, r
' "$R/results.tsv"
	# the two seeds made different MNIST-M (seeded generation), from BSDS500 photos
	! cmp -s "$R/s1/mnistm-test.npy" "$R/s2/mnistm-test.npy"
	grep -q -- '--backgrounds' "$BATS_FILE_TMPDIR/paper.log"
}

@test "results.md: mean and std over the seeds, beside the paper's figures" {
	need_mnist; need_bsds
	R="$PAPER_COPY/runs/paper"
	py '
import csv, re, statistics as st
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
md = open(sys.argv[2]).read()
paper = {"source-only": ".5225", "dann": ".7666", "train-on-target": ".9596"}
for m, ref in paper.items():
    t = [float(r["target_accuracy"]) for r in rows if r["model"] == m]
    s = [float(r["source_accuracy"]) for r in rows if r["model"] == m]
    line = [l for l in md.splitlines() if l.startswith("| %s |" % m)]
    assert len(line) == 1, (m, md)
    want = "| %s | %.4f ± %.4f | %.4f – %.4f | %.4f ± %.4f (%.4f) | 2 |" % (m, st.mean(t), st.stdev(t), min(t), max(t), st.mean(s), st.stdev(s), min(s))
    assert line[0].startswith(want), (line[0], want)
    assert line[0].rstrip().endswith("| %s |" % ref), line[0]
assert "first 500 of MNIST" in md, md
' "$R/results.tsv" "$R/results.md"
}

@test "a second make paper does no work" {
	need_mnist; need_bsds
	cd "$PAPER_COPY"
	local before
	before=$(find runs/paper -type f -printf '%p %T@\n' | sort)
	run make --no-print-directory paper SHARED="$SHARED" "${PAPER_ARGS[@]}"
	[ "$status" -eq 0 ]
	# no file was written again, and make printed no tool command
	[ "$(find runs/paper -type f -printf '%p %T@\n' | sort)" = "$before" ]
	! grep -qE 'bin/(mnist-fetch|mnistm-gen|dann-train|dann-embed) ' <<<"$output"
	[[ "$output" == *"| dann |"* ]]
}

@test "a deleted model is trained again, and only it" {
	need_mnist; need_bsds
	cd "$PAPER_COPY"
	rm runs/paper/s2/dann.model
	run make --no-print-directory -n paper SHARED="$SHARED" "${PAPER_ARGS[@]}"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'bin/dann-train ' <<<"$output")" -eq 1 ]
	grep -q -- '--seed 2 .*-o runs/paper/s2/dann.model.part' <<<"$output"
	# and the tables are made again from it
	grep -q 'runs/paper/s2/results.tsv.tmp' <<<"$output"
	grep -q 'runs/paper/results.md.tmp' <<<"$output"
}

@test "PAPER_RECIPE=noise writes under runs/paper-noise" {
	need_mnist
	cd "$PAPER_COPY"
	run make --no-print-directory -n paper SHARED="$SHARED" PAPER_RECIPE=noise PAPER_SEEDS=1
	[ "$status" -eq 0 ]
	[[ "$output" == *"runs/paper-noise/s1/dann.model"* ]]
	[[ "$output" == *"mnistm-gen --recipe noise  --seed 1"* ]]
}
