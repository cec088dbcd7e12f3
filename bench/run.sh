#!/bin/sh
# run.sh - issues 10 and 19's benchmark, side by side in one run (called by `make bench`).
#   1. the machine's measured peak (bench/peak.c: FMA loop of each instruction-set path the CPU
#      runs, OpenBLAS sgemm)
#   2. our DANN training step (bench/train_step.c, the code dann-train runs) on every path
#      (DANN_ISA), 28x28 and 32x32, and PyTorch's (bench/torch_dann.py), 1 and 2 threads, median
#      images/s; FLOP/s against each path's FMA peak; the 32x32 / 28x28 FLOP-rate ratio
#   3. per-layer profile of the best path
#   4. the embedding forward (what dann-embed runs) on every path against PyTorch's no_grad
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
echo "# OpenBLAS core: $(OPENBLAS_VERBOSE=2 "$D/peak" 2>&1 >/dev/null | grep -m1 -i core || echo '?')  OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}  OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}"
echo "## 1. peak (GFLOP/s: wall, per CPU-second x threads), per instruction-set path"
"$D/peak" | tee "$TMP/peak"
# the kernels' paths this CPU runs, best first (lib/net/kern.h), from the peak loops it could run
PATHS=$(awk '$2 == 1 { sub(/^(fma|muladd)-/, "", $1); if ($1 != "sgemm") printf "%s ", $1 }' "$TMP/peak")
BEST=${PATHS%% *}

echo "## 2. training step, batch 64 source + 64 target, every path side by side (paths alternate"
echo "##    within each size and thread count; images/s: median min max, then per CPU-s)"
for t in $THREADS; do
	for size in 28 32; do
		for isa in $PATHS; do
			DANN_ISA=$isa "$D/train_step" --threads "$t" --size "$size" --steps "$STEPS" --reps "$REPS" > "$TMP/one"
			g=$(awk '/GFLOP\/s per CPU-second/ { n = NF - 3; print $n }' "$TMP/one")
			grep -v '^#' "$TMP/one" | sed "s/^ours/ours-$isa-$size/; s/\$/\t$g/" | tee -a "$TMP/train"
		done
	done
	if [ "$have_torch" = 1 ]; then
		"$PY" bench/torch_dann.py --threads "$t" --steps "$STEPS" --reps "$REPS" 2>/dev/null | tee -a "$TMP/train"
	fi
done
echo "# impl-path-size threads img/s(median min max) img/s-per-CPU-s GFLOP/s-per-CPU-s; below, the"
echo "# GFLOP/s per CPU-second against the FMA peak of one core of the same path (peak.c)"
awk 'NR == FNR { if ($2 == 1) pk[$1] = $4; next }
	$1 ~ /^ours-/ { split($1, a, "-"); p = pk["fma-" a[2]]; if (p == "") p = pk["muladd-" a[2]]
		printf "#   %-9s %sx%s %s threads: %6.0f images/s, %5.1f GFLOP/s per CPU-second = %3.0f%% of its peak (%.1f)\n",
			a[2], a[3], a[3], $2, $3, $7, 100 * $7 / p, p
		if (a[3] == 28) r28[a[2] " " $2] = $7
		else if ((a[2] " " $2) in r28)
			printf "#   %-9s %s threads: FLOP rate 32x32 / 28x28 = %.2f\n", a[2], $2, $7 / r28[a[2] " " $2] }
	$1 == "pytorch" { printf "#   PyTorch 28x28 %s threads: %6.0f images/s\n", $2, $3 }' \
	"$TMP/peak" "$TMP/train"

echo "## 3. per-layer profile of the best path ($BEST), 28x28 and 32x32 (1 thread)"
for size in 28 32; do
	DANN_ISA=$BEST "$D/train_step" --threads 1 --size "$size" --steps "$STEPS" --reps 3 --profile | grep '^#'
done

echo "## 4. embedding forward to the features (dann-embed's path), batches of 256"
for t in $THREADS; do
	for isa in $PATHS; do
		DANN_ISA=$isa "$D/train_step" --threads "$t" --reps "$REPS" --embed-only | grep -v '^#' | sed "s/^ours/ours-$isa/"
	done
	if [ "$have_torch" = 1 ]; then
		"$PY" bench/torch_dann.py --threads "$t" --reps "$REPS" --embed --steps 1 --warmup 1 2>/dev/null | grep embed
	fi
done
DANN_ISA=$BEST "$D/train_step" --threads 1 --reps 3 --embed-only --profile | grep '^#'
