#!/usr/bin/env bash
# tsne-bench.sh - tsne against scikit-learn's TSNE, side by side in one run, plus the
# 70,000-point run and the smoothness of warm-started sequences.
#
#   bench/tsne-bench.sh [WORKDIR]          (or: make bench-tsne)
#
# Environment: BIN_ABS (tools, default ./bin), PYTHON (/usr/bin/python3 with numpy and
# python3-sklearn), SHARED (folder holding data/mnist), SKIP_SKLEARN=1, SKIP_70K=1.
# Prints one line per figure; times are wall seconds and CPU (user+sys) seconds, since a
# shared machine's load changes wall times from one run to the next.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${BIN_ABS:-$ROOT/bin}"
PY="${PYTHON:-/usr/bin/python3}"
SHARED="${SHARED:-$(cd "$ROOT/.." && pwd)/shared}"
MNIST="$SHARED/data/mnist"
W="${1:-$(mktemp -d)}"
mkdir -p "$W"
H() { "$PY" "$ROOT/bench/tsne_sklearn.py" "$@"; }

# timed NAME CMD... : runs CMD, prints "NAME wall W cpu C", leaves wall seconds in $WALL
timed() {
	local name=$1; shift
	local t0 t1 c0 c1
	t0=$(date +%s.%N)
	c0=$(awk '{print $14+$15+$16+$17}' /proc/$$/stat)
	TIMEFORMAT="%R %U %S"
	local tt
	tt=$( { time "$@" >/dev/null 2>"$W/$name.err"; } 2>&1 ) || { cat "$W/$name.err" >&2; return 1; }
	read -r WALL U S <<<"$tt"
	CPU=$(awk -v u="$U" -v s="$S" 'BEGIN{printf "%.2f", u+s}')
	echo "$name: wall ${WALL}s cpu ${CPU}s"
}

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
H mnist 10000 "$W/m10k.npy" "$MNIST"
echo "== MNIST test set, N=10000, D=784, perplexity 30, 1000 iterations"
timed tsne-10k "$BIN/tsne" -q -p 30 "$W/m10k.npy" -o "$W/ours-10k.npy"
OURS=$WALL; OURS_CPU=$CPU
echo "   $(H knnpres "$W/m10k.npy" "$W/ours-10k.npy")"
if [ "${SKIP_SKLEARN:-0}" != 1 ]; then
	timed sklearn-10k H sklearn "$W/m10k.npy" "$W/sk-10k.npy"
	SK=$WALL; SK_CPU=$CPU
	echo "   $(H knnpres "$W/m10k.npy" "$W/sk-10k.npy")"
	awk -v a="$SK" -v b="$OURS" -v c="$SK_CPU" -v d="$OURS_CPU" \
		'BEGIN{printf "speed-up over scikit-learn: wall %.1fx, cpu %.1fx\n", a/b, c/d}'
fi
echo "== load $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "${SKIP_70K:-0}" != 1 ]; then
	echo "== all of MNIST, N=70000, --pca 50"
	H mnist 70000 "$W/m70k.npy" "$MNIST"
	timed tsne-70k "$BIN/tsne" -q --pca 50 "$W/m70k.npy" -o "$W/ours-70k.npy"
	echo "== load $(cut -d' ' -f1-3 /proc/loadavg)"
fi

echo "== smoothness: synthetic run, 10 frames of 3000 points in 30-D (drifting, merging clusters)"
H synthseq "$W/seq" 10 3000 30
timed seq-warm "$BIN/tsne" -q --sequence -O "$W/warm" "$W"/seq/emb-*.npy
echo "   warm starts: $(H smooth "$W/warm")"
timed seq-cold "$BIN/tsne" -q --sequence --cold -O "$W/cold" "$W"/seq/emb-*.npy
echo "   independent: $(H smooth "$W/cold")"
