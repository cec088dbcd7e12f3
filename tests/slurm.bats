#!/usr/bin/env bats
# Sweeps through Slurm, for real: a one-node cluster on 127.0.0.1 (tests/slurm-cluster.sh:
# Debian's slurm-wlm and munge, daemons and configuration in a temporary folder), a tiny
# sweep (2 seeds x 2 values of gamma, 300 images, 600 steps) submitted with
# pipelines/sweep.sbatch, then a second pass from outside any allocation (one job per
# training) in which one training is cancelled mid-run; make again completes it from its
# checkpoint.  teardown_file stops every daemon the file started.
bats_require_minimum_version 1.5.0
load helper

ARGS=(SWEEP_NAME=t SWEEP_AXES=schedule "SWEEP_schedule=gamma1 gamma10" "SWEEP_schedule_gamma1=--gamma 1"
	"SWEEP_schedule_gamma10=--gamma 10" "SWEEP_SEEDS=1 2" SWEEP_TRAIN_N=300 SWEEP_TEST_N=200
	"SWEEP_TRAIN_OPTS=--steps 600 --batch 16 --log-every 20")

setup_file() {
	load helper
	# make's flags of the caller (-s, -n, SANITIZE=1, -j) must not reach the sweeps' make
	unset MAKEFLAGS MFLAGS MAKELEVEL
	export CL= SL_SKIP=
	for c in munged slurmctld slurmd srun sbatch scancel squeue sinfo scontrol; do
		command -v $c >/dev/null || { SL_SKIP="$c is not installed: slurm-wlm and munge are needed (make deps installs them)"; return 0; }
	done
	[ "$(id -u)" = 0 ] || { SL_SKIP="slurmd needs root"; return 0; }
	[ -f "$MNIST_DIR/t10k-images-idx3-ubyte.gz" ] || { SL_SKIP="no MNIST mirror at $MNIST_DIR"; return 0; }
	CL=$(mktemp -d "${TMPDIR:-/tmp}/dann-slurm.XXXXXX")
	"$ROOT/tests/slurm-cluster.sh" start "$CL" > "$CL/env" 2> "$CL/start.err" || echo failed > "$CL/start.failed"
	export R="$CL/runs/sweep-t"
	export MNIST_MIRROR="$MNIST_DIR"
}

teardown_file() {
	[ -z "$CL" ] || timeout 60 "$ROOT/tests/slurm-cluster.sh" stop "$CL"
	[ -z "$CL" ] || rm -rf "$CL"
}

setup() {
	[ -z "$SL_SKIP" ] || skip "$SL_SKIP"
	[ ! -e "$CL/start.failed" ] || { cat "$CL/start.err"; false; }
	source "$CL/env"
	cd "$ROOT"
}

@test "slurm: the one-node cluster runs a step with the CPUs it asks for" {
	run timeout 30 srun --exact -n1 -c 2 sh -c 'echo "$SLURM_CPUS_PER_TASK"'
	[ "$status" -eq 0 ]
	[ "$output" = 2 ]
}

@test "slurm: sbatch pipelines/sweep.sbatch runs the tiny sweep as steps of its allocation" {
	run timeout 240 sbatch --wait -n 2 -c 1 -o "$CL/sbatch.log" pipelines/sweep.sbatch sweep "${ARGS[@]}" \
		SWEEP_RUNS="$CL/runs" SWEEP_BIN="$BIN_ABS"
	[ "$status" -eq 0 ] || { echo "$output"; tail -n 30 "$CL/sbatch.log"; false; }
	# every training went through srun, with the threads of the allocation's tasks (-c 1)
	[ "$(grep -c "srun --exact .*--cpus-per-task=1 .*sweep-run.sh train .*--threads 1" "$CL/sbatch.log")" -eq 4 ] ||
		{ grep 'sweep-run.sh train' "$CL/sbatch.log"; false; }
	# slurmd launched them: 4 generations, 4 trainings, 8 dann-embed
	[ "$(grep -c 'launch task StepId=' "$CL/slurmd.log")" -ge 16 ]
	py '
import csv, statistics as st
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
assert [(r["schedule"], r["seed"]) for r in rows] == [(g, s) for g in ("gamma1", "gamma10") for s in "12"], rows
md = open(sys.argv[2]).read()
for g in ("gamma1", "gamma10"):
    t = [float(r["target_accuracy"]) for r in rows if r["schedule"] == g]
    assert "| noise | %s | %.4f ± %.4f | %.4f – %.4f |" % (g, st.mean(t), st.stdev(t), min(t), max(t)) in md, md
' "$R/results.tsv" "$R/summary.md"
	[ -s "$R/noise.png" ]
}

@test "slurm: a training cancelled mid-run leaves nothing under a final name; make again completes it" {
	run_dir="$R/noise_schedule-gamma10_seed-2"
	rm "$run_dir/train.model" "$run_dir/result.tsv" "$run_dir/train.tsv"
	# the second pass from outside any allocation: each training is a job of its own
	make --no-print-directory -j2 sweep "${ARGS[@]}" SLURM=1 SLURM_CPUS=1 SWEEP_RUNS="$CL/runs" \
		SWEEP_BIN="$BIN_ABS" > "$CL/pass2.log" 2>&1 &
	mk=$!
	# wait for the training to have logged some steps, then cancel its job
	# (the log is written under a temporary name until the run ends; 600 steps leave seconds
	# between the third row and the end, on a quiet machine too)
	local f
	for i in $(seq 600); do
		f=$(ls "$run_dir"/train.tsv.tmp.* 2>/dev/null | head -n 1)
		[ -n "$f" ] && [ "$(wc -l 2>/dev/null < "$f" || echo 0)" -ge 3 ] && break
		sleep 0.1
	done
	job=$(squeue -h -n noise_schedule-gamma10_seed-2 -o %i)
	[ -n "$job" ] || { kill "$mk"; cat "$CL/pass2.log"; false; }
	scancel "$job"
	for i in $(seq 300); do kill -0 "$mk" 2>/dev/null || break; sleep 0.2; done
	run wait "$mk"
	[ "$status" -ne 0 ]
	# stopped: no model, no score, no time; the checkpoint is there for the next make
	[ ! -e "$run_dir/train.model" ] && [ ! -e "$run_dir/result.tsv" ] && [ ! -e "$run_dir/train.seconds" ]
	[ -s "$run_dir/train.model.part.ckpt" ]
	grep -q 'stopped (status 143); make again resumes it' "$CL/pass2.log"
	run timeout 120 make --no-print-directory -j2 sweep "${ARGS[@]}" SLURM=1 SLURM_CPUS=1 SWEEP_RUNS="$CL/runs" \
		SWEEP_BIN="$BIN_ABS"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	# only that run trained again, from its checkpoint
	[ "$(grep -c 'sweep-run.sh train ' <<<"$output")" -eq 1 ]
	grep -q "$run_dir: resuming from its checkpoint" <<<"$output"
	[ -s "$run_dir/train.model" ] && [ ! -e "$run_dir/train.model.part.ckpt" ]
	[ "$(tail -n +2 "$R/results.tsv" | wc -l)" -eq 4 ]
	[ "$R/results.tsv" -nt "$run_dir/train.model" ]
	# the resumed log continues the one that was stopped: 600 steps, every 20th, once each
	[ "$(tail -n +2 "$run_dir/train.tsv" | wc -l)" -eq 30 ]
	[ "$(tail -n +2 "$run_dir/train.tsv" | cut -f1 | sort -un | wc -l)" -eq 30 ]
}
