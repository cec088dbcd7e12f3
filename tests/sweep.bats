#!/usr/bin/env bats
# pipelines/sweep.mk on this machine: a tiny sweep (2 values of gamma x 2 seeds, 300 images,
# 20 steps) with make -j2 into a temporary folder; its table and figure; what make does again
# after a run is deleted, an option changes or a run fails; how runs are named and launched.
bats_require_minimum_version 1.5.0
load helper

ARGS=(SWEEP_NAME=t SWEEP_AXES=schedule "SWEEP_schedule=gamma1 gamma10" "SWEEP_schedule_gamma1=--gamma 1"
	"SWEEP_schedule_gamma10=--gamma 10" "SWEEP_SEEDS=1 2" SWEEP_TRAIN_N=300 SWEEP_TEST_N=200
	"SWEEP_TRAIN_OPTS=--steps 20 --batch 16 --log-every 5" THREADS=1)

# the tools under test are the sanitizer build's (make check's second pass)
san_build() { [ "$BIN_ABS" -ef "$ROOT/build/san/bin" ]; }
# msweep ARG...: make in the project, the sweep under the test's folder, the tools of this build
msweep() {
	make -C "$ROOT" --no-print-directory SWEEP_RUNS="$BATS_FILE_TMPDIR/runs" SWEEP_BIN="$BIN_ABS" SWEEP_DEPS= \
		$(san_build && echo SANITIZE=1) "$@"
}

setup_file() {
	load helper
	unset MAKEFLAGS MFLAGS MAKELEVEL
	[ -f "$MNIST_DIR/t10k-images-idx3-ubyte.gz" ] || return 0
	export MNIST_MIRROR="$MNIST_DIR" R="$BATS_FILE_TMPDIR/runs/sweep-t"
	msweep -j2 sweep "${ARGS[@]}" > "$BATS_FILE_TMPDIR/sweep.log" 2>&1 || echo failed > "$BATS_FILE_TMPDIR/sweep.failed"
}

setup() {
	unset MAKEFLAGS MFLAGS MAKELEVEL
	need_mnist
}

@test "sweep: a run folder per configuration, named from its settings, with its options" {
	[ ! -e "$BATS_FILE_TMPDIR/sweep.failed" ] || { tail -n 30 "$BATS_FILE_TMPDIR/sweep.log"; false; }
	for g in 1 10; do for s in 1 2; do
		d="$R/noise_schedule-gamma${g}_seed-$s"
		for f in options train.model train.tsv train.seconds result.tsv; do [ -s "$d/$f" ] || { echo "no $d/$f"; false; }; done
		[ "$(cat "$d/options")" = "--gamma $g --steps 20 --batch 16 --log-every 5 --seed $s" ]
		[ ! -e "$d/train.model.part" ] && [ ! -e "$d/train.model.part.ckpt" ]
	done; done
	# MNIST-M is generated per seed (SWEEP_DATA_SEED=seed), and differs between seeds
	! cmp -s "$R/data/noise-s1/mnistm-test.npy" "$R/data/noise-s2/mnistm-test.npy"
}

@test "sweep: results.tsv has a row per run; summary.md/.tsv the mean, std, min and max over seeds" {
	py '
import csv, statistics as st
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
assert list(rows[0].keys()) == ["recipe", "schedule", "seed", "target_accuracy", "source_accuracy", "train_seconds"], rows[0]
assert [(r["recipe"], r["schedule"], r["seed"]) for r in rows] == [("noise", g, s) for g in ("gamma1", "gamma10") for s in "12"], rows
summ = list(csv.DictReader(open(sys.argv[2]), delimiter="\t"))
md = open(sys.argv[3]).read()
assert md.startswith("# sweep-t: dann-train --steps 20 --batch 16 --log-every 5; 300 MNIST training images\n"), md
for g, srow in zip(("gamma1", "gamma10"), summ):
    t = [float(r["target_accuracy"]) for r in rows if r["schedule"] == g]
    a = [float(r["source_accuracy"]) for r in rows if r["schedule"] == g]
    w = [float(r["train_seconds"]) for r in rows if r["schedule"] == g]
    assert all(0 <= x <= 1 for x in t + a) and all(x > 0 for x in w), (t, a, w)
    assert srow["schedule"] == g and srow["seeds"] == "2", srow
    for k, v in (("target_mean", st.mean(t)), ("target_std", st.stdev(t)), ("target_min", min(t)),
                 ("target_max", max(t)), ("source_mean", st.mean(a)), ("source_std", st.stdev(a)), ("source_min", min(a))):
        assert abs(float(srow[k]) - v) < 1e-6, (k, srow[k], v)
    want = "| noise | %s | %.4f ± %.4f | %.4f – %.4f | %.4f ± %.4f (%.4f) | 2 | %.0f s |" % (
        g, st.mean(t), st.stdev(t), min(t), max(t), st.mean(a), st.stdev(a), min(a), st.mean(w))
    assert want in md, (want, md)
' "$R/results.tsv" "$R/summary.tsv" "$R/summary.md"
}

@test "sweep: the figure is an 800x500 PNG per recipe" {
	py '
b = open(sys.argv[1], "rb").read(32)
assert b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR", b
w, h = int.from_bytes(b[16:20], "big"), int.from_bytes(b[20:24], "big")
assert (w, h) == (800, 500), (w, h)
' "$R/noise.png"
}

@test "sweep: make again does no work" {
	run msweep sweep "${ARGS[@]}"
	[ "$status" -eq 0 ]
	! grep -qE '(mnist-fetch|mnistm-gen|sweep-run.sh|sweep-table.sh|sweep-plot) ' <<<"$output"
	[[ "$output" == *"| noise | gamma10 |"* ]]
}

@test "sweep: a deleted model is trained again, and only it, then scored and tabled" {
	rm "$R/noise_schedule-gamma10_seed-1/train.model"
	run msweep -n sweep-t "${ARGS[@]}"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'sweep-run.sh train ' <<<"$output")" -eq 1 ]
	grep -q "sweep-run.sh train $R/noise_schedule-gamma10_seed-1 " <<<"$output"
	grep -q "sweep-run.sh eval $R/noise_schedule-gamma10_seed-1 " <<<"$output"
	grep -q "sweep-table.sh" <<<"$output"
	run msweep sweep-t "${ARGS[@]}"
	[ "$status" -eq 0 ]
	[ -s "$R/noise_schedule-gamma10_seed-1/train.model" ]
}

@test "sweep: changing one value's options retrains exactly its runs" {
	run msweep -n sweep-t "${ARGS[@]}" "SWEEP_schedule_gamma1=--gamma 2"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'sweep-run.sh train ' <<<"$output")" -eq 2 ]
	grep -q "sweep-run.sh train $R/noise_schedule-gamma1_seed-1 .* --gamma 2 " <<<"$output"
	grep -q "sweep-run.sh train $R/noise_schedule-gamma1_seed-2 .* --gamma 2 " <<<"$output"
	# make -n left the settings as they were: the sweep as it ran is still complete
	[ "$(cat "$R/noise_schedule-gamma1_seed-1/options")" = "--gamma 1 --steps 20 --batch 16 --log-every 5 --seed 1" ]
	run msweep -q "$R/summary.md" "${ARGS[@]}"
	[ "$status" -eq 0 ]
}

@test "sweep: a make asked for something else leaves the sweep's settings alone" {
	run msweep sweep-force "${ARGS[@]}" "SWEEP_schedule_gamma1=--gamma 2" SWEEP_TRAIN_N=200
	[ "$status" -eq 0 ]
	[ "$(cat "$R/noise_schedule-gamma1_seed-1/options")" = "--gamma 1 --steps 20 --batch 16 --log-every 5 --seed 1" ]
	[ "$(cat "$R/data/train-options")" = "--limit 300" ]
	run msweep -q "$R/summary.md" "${ARGS[@]}"
	[ "$status" -eq 0 ]
}

@test "sweep: a failed run never counts as done; the others finish, the table waits" {
	run msweep -k sweep-t "${ARGS[@]}" "SWEEP_schedule=gamma1 gamma10 bad" "SWEEP_schedule_bad=--batch 0"
	[ "$status" -ne 0 ]
	grep -q 'dann-train: --batch' <<<"$output"
	for s in 1 2; do
		d="$R/noise_schedule-bad_seed-$s"
		[ -s "$d/options" ] && [ ! -e "$d/train.model" ] && [ ! -e "$d/train.model.part" ] && [ ! -e "$d/result.tsv" ]
	done
	# the table was not remade with a hole: it still lists the two good values only
	[ "$(tail -n +2 "$R/results.tsv" | wc -l)" -eq 4 ]
	run msweep sweep-t "${ARGS[@]}"
	[ "$status" -eq 0 ]
}

@test "sweep: a stage added to every run (P_RUN_STAGES) is made after its scores, once" {
	stage=$'define st\n$(2)/note.txt: $(2)/result.tsv\n\tcp $$< $$@\n$(1)_STAGE_OUTPUTS += $(2)/note.txt\nendef'
	run msweep sweep-t "${ARGS[@]}" SWEEP_RUN_STAGES=st --eval="$stage"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(grep -c '^cp .*/result.tsv .*/note.txt' <<<"$output")" -eq 4 ]
	for g in 1 10; do for s in 1 2; do
		cmp "$R/noise_schedule-gamma${g}_seed-$s/result.tsv" "$R/noise_schedule-gamma${g}_seed-$s/note.txt"
	done; done
	run msweep sweep-t "${ARGS[@]}" SWEEP_RUN_STAGES=st --eval="$stage"
	[ "$status" -eq 0 ] && ! grep -q '^cp ' <<<"$output"
}

@test "sweep: a training stopped twice resumes twice from its checkpoints, and completes" {
	d="$BATS_TEST_TMPDIR/run"
	mkdir -p "$d" && echo options > "$d/options"
	sleep 1.1  # the checkpoints must be newer than options
	args=("$R/data/mnist-train.npy" "$R/data/noise-s1/mnistm-train.npy" "$R/data/noise-s1/mnistm-test.npy"
		--steps 600 --batch 16 --log-every 5 --threads 1)
	for pass in 1 2; do
		"$ROOT/pipelines/sweep-run.sh" train "$d" "$BIN_ABS" "${args[@]}" 2> "$d/err$pass" &
		pid=$!
		rows=$((pass * 4))
		for i in $(seq 600); do
			f=$(ls "$d"/train.tsv.tmp.* 2>/dev/null | head -n 1)
			[ -n "$f" ] && [ "$(wc -l < "$f" 2>/dev/null || echo 0)" -gt "$rows" ] && break
			sleep 0.05
		done
		kill -TERM "$(pgrep -P "$pid" -x dann-train)"
		rc=0; wait "$pid" || rc=$?
		[ "$rc" -eq 143 ] || { cat "$d/err$pass"; false; }
		[ -s "$d/train.model.part.ckpt" ] && [ ! -e "$d/train.model.resume" ] && [ ! -e "$d/train.model" ]
		[ -s "$d/train.seconds.part" ]
	done
	grep -q 'resuming from its checkpoint' "$d/err2"
	"$ROOT/pipelines/sweep-run.sh" train "$d" "$BIN_ABS" "${args[@]}" 2> "$d/err3"
	grep -q 'resuming from its checkpoint' "$d/err3"
	[ -s "$d/train.model" ] && [ -s "$d/train.seconds" ]
	[ ! -e "$d/train.model.part.ckpt" ] && [ ! -e "$d/train.model.resume" ] && [ ! -e "$d/train.seconds.part" ]
	# one log row per 5 steps, each once, over the three attempts
	[ "$(tail -n +2 "$d/train.tsv" | cut -f1 | sort -un | wc -l)" -eq 120 ]
	[ "$(tail -n +2 "$d/train.tsv" | wc -l)" -eq 120 ]
}

@test "sweep: every combination of two axes, named in order; source=target trains on the target" {
	run msweep -n sweep-u SWEEP_NAME=u SWEEP_AXES="arch bn-stats" SWEEP_arch="seed paper" \
		SWEEP_bn-stats="per-domain joint" SWEEP_SEEDS=3 SWEEP_DATA_SEED=7 SWEEP_RECIPES="noise bsds"
	[ "$status" -eq 0 ]
	names=$(grep -o 'sweep-run.sh train [^ ]*' <<<"$output" | sed 's|.*/||' | tr '\n' ' ')
	[ "$names" = "noise_arch-seed_bn-stats-per-domain_seed-3 noise_arch-seed_bn-stats-joint_seed-3 noise_arch-paper_bn-stats-per-domain_seed-3 noise_arch-paper_bn-stats-joint_seed-3 bsds_arch-seed_bn-stats-per-domain_seed-3 bsds_arch-seed_bn-stats-joint_seed-3 bsds_arch-paper_bn-stats-per-domain_seed-3 bsds_arch-paper_bn-stats-joint_seed-3 " ]
	grep -q 'noise_arch-paper_bn-stats-joint_seed-3 .* --arch paper --bn-stats joint --seed 3 ' <<<"$output"
	# one MNIST-M per recipe, from data seed 7; bsds from photos
	grep -q 'mnistm-gen --recipe bsds --backgrounds .* --seed 7 ' <<<"$output"
	run msweep -n sweep-v SWEEP_NAME=v SWEEP_AXES=model SWEEP_model="dann train-on-target" \
		SWEEP_model_dann="--mode dann" SWEEP_model_train-on-target="--mode source-only source=target" SWEEP_SEEDS=1
	[ "$status" -eq 0 ]
	grep -q 'sweep-run.sh train [^ ]*/noise_model-train-on-target_seed-1 [^ ]* [^ ]*/data/noise-s1/mnistm-train.npy [^ ]*/data/noise-s1/mnistm-train.npy [^ ]*/mnistm-test.npy --mode source-only --seed 1' <<<"$output"
	grep -q 'sweep-run.sh train [^ ]*/noise_model-dann_seed-1 [^ ]* [^ ]*/data/mnist-train.npy ' <<<"$output"
}

@test "sweep: SLURM=1 launches each generation, training and scoring with srun" {
	run msweep -n sweep-w SWEEP_NAME=w SWEEP_SEEDS=1 SLURM=1 SLURM_CPUS=4 SLURM_SRUN_OPTS="--time=10"
	[ "$status" -eq 0 ]
	grep -q "SWEEP_LAUNCH='srun --exact --nodes=1 --ntasks=1 --cpus-per-task=4 --job-name=noise_seed-1 --time=10' .*sweep-run.sh train .* --threads 4" <<<"$output"
	grep -q "srun --exact .*mnistm-gen --recipe noise" <<<"$output"
	# fetching needs the network, which compute nodes often lack: it runs where make runs
	grep -qE '^[^ ]*mnist-fetch ' <<<"$output"
	# and no package check on the nodes
	! grep -q 'dpkg-query' <<<"$output"
}

@test "sweep-table.sh and sweep-plot: usage and bad input fail with one line" {
	run --separate-stderr "$ROOT/pipelines/sweep-table.sh" "$R/results.tsv"
	assert_fails_cleanly 2 sweep-table.sh '-o SUMMARY.md is needed'
	printf 'recipe\tseed\ttarget_accuracy\tsource_accuracy\ttrain_seconds\nnoise\t1\tx\t0.5\t1\n' > "$BATS_TEST_TMPDIR/bad.tsv"
	run --separate-stderr "$ROOT/pipelines/sweep-table.sh" -o "$BATS_TEST_TMPDIR/s.md" "$BATS_TEST_TMPDIR/bad.tsv"
	assert_fails_cleanly 1 sweep-table.sh 'line 2: not a number'
	[ ! -e "$BATS_TEST_TMPDIR/s.md" ]
	plot="$ROOT/build/$(san_build && echo san || echo rel)/pipelines/sweep-plot"
	run "$plot" --help
	[ "$status" -eq 0 ] && [[ "$output" == usage:* ]]
	run --separate-stderr "$plot" -o "$BATS_TEST_TMPDIR/p.png"
	assert_fails_cleanly 2 sweep-plot 'one RESULTS.tsv operand'
	run --separate-stderr "$plot" -o "$BATS_TEST_TMPDIR/p.png" "$BATS_TEST_TMPDIR/bad.tsv"
	assert_fails_cleanly 1 sweep-plot 'no swept setting' 
	run --separate-stderr "$plot" --x nope -o "$BATS_TEST_TMPDIR/p.png" "$R/results.tsv"
	assert_fails_cleanly 1 sweep-plot "'nope' is not a settings column"
	run --separate-stderr "$plot" --recipe bsds -o "$BATS_TEST_TMPDIR/p.png" "$R/results.tsv"
	assert_fails_cleanly 1 sweep-plot 'no rows for recipe bsds'
	[ ! -e "$BATS_TEST_TMPDIR/p.png" ]
}
