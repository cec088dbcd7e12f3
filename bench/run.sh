#!/bin/sh
# run.sh - issue 10's benchmark, side by side in one run (called by `make bench`).
#   1. the machine's measured peak (bench/peak.c: FMA loop, OpenBLAS sgemm)
#   2. our DANN training step (bench/train_step.c, the code dann-train runs) and PyTorch's
#      (bench/torch_dann.py), 1 and 2 threads, interleaved, median images/s
#   3. FLOPs per image, achieved FLOP/s and the fraction of peak, per-layer profile
#   4. the embedding forward (what dann-embed runs) against PyTorch's no_grad forward
# Every rate is given twice: per wall-clock second, and per CPU-second of the process (on a
# shared machine the second is what the code achieves while it runs; on an idle machine the
# two agree for 1 thread).  PyTorch lines are skipped when python3-torch is missing.
set -eu
D=${BENCH_DIR:-build/rel/bench}
STEPS=${BENCH_STEPS:-20}
REPS=${BENCH_REPS:-7}
THREADS=${BENCH_THREADS:-1 2}
PY=${PYTHON:-/usr/bin/python3}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
have_torch=0
"$PY" -c 'import torch' 2>/dev/null && have_torch=1

echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# OpenBLAS core: $(OPENBLAS_VERBOSE=2 "$D/peak" 2>&1 >/dev/null | grep -m1 -i core || echo '?')  OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
echo "## 1. peak (GFLOP/s: wall, per CPU-second x threads)"
"$D/peak" | tee "$TMP/peak"
fma1=$(awk '$1=="fma" && $2==1 {print $4}' "$TMP/peak")

echo "## 2. training step, batch 64 source + 64 target (images/s: median min max, then per CPU-s)"
for t in $THREADS; do
	"$D/train_step" --threads "$t" --steps "$STEPS" --reps "$REPS" | grep -v '^#' | tee -a "$TMP/train"
	if [ "$have_torch" = 1 ]; then
		"$PY" bench/torch_dann.py --threads "$t" --steps "$STEPS" --reps "$REPS" 2>/dev/null | tee -a "$TMP/train"
	fi
done
awk -v fma1="$fma1" '
	$1 == "ours" { o[$2] = $3; oc[$2] = $6 }
	$1 == "pytorch" { p[$2] = $3; pc[$2] = $6 }
	END {
		bo = 0; bp = 0; bpc = 0; boc = 0
		for (t in o) { if (o[t] > bo) { bo = o[t]; bt = t }; if (oc[t] > boc) boc = oc[t] }
		for (t in p) { if (p[t] > bp) { bp = p[t]; pt = t }; if (pc[t] > bpc) bpc = pc[t] }
		printf "# best: ours %d images/s (%s threads)", bo, bt
		if (bp > 0) printf ", PyTorch %d images/s (%s threads): ratio %.2f", bp, pt, bo / bp
		printf "\n# per CPU-second (1 thread): ours %d, PyTorch %s", oc[1], (1 in pc) ? pc[1] : "-"
		if (1 in pc) printf ": ratio %.2f", oc[1] / pc[1]
		printf "\n"
	}' "$TMP/train"

echo "## 3. FLOPs, fraction of peak, per-layer profile (1 thread)"
"$D/train_step" --threads 1 --steps "$STEPS" --reps 3 --profile | grep '^#' | tee "$TMP/prof"
awk -v fma1="$fma1" '/GFLOP\/s per CPU-second/ { for (i = 1; i <= NF; i++) if ($i == "(wall),") g = $(i + 1);
	printf "# 1 thread: %.1f GFLOP/s per CPU-second = %.0f%% of the FMA peak of one core (%.1f)\n", g, 100 * g / fma1, fma1 }' "$TMP/prof"

echo "## 4. embedding forward to the 768 features (dann-embed's path), batches of 256"
for t in $THREADS; do
	"$D/train_step" --threads "$t" --reps "$REPS" --embed-only | grep -v '^#'
	if [ "$have_torch" = 1 ]; then
		"$PY" bench/torch_dann.py --threads "$t" --reps "$REPS" --embed --steps 1 --warmup 1 2>/dev/null | grep embed
	fi
done
"$D/train_step" --threads 1 --reps 3 --embed-only --profile | grep '^#'
