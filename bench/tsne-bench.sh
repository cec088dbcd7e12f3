#!/usr/bin/env bash
# tsne-bench.sh - tsne against scikit-learn's TSNE, side by side in one run; how time, KL and
# 10-NN preservation grow with N (PCA 50 of MNIST); the FFT method against Barnes-Hut; the
# smoothness of warm-started sequences.
#
#   bench/tsne-bench.sh [WORKDIR]          (or: make bench-tsne)
#
# Environment: BIN_ABS (tools, default ./bin), PYTHON (/usr/bin/python3 with numpy and
# python3-sklearn), SHARED (folder holding data/mnist), ROUNDS (2: the 10,000-point runs
# alternate ours and scikit-learn's ROUNDS times, medians compared), SCALE_N ("5000 20000
# 70000": the sizes of the growth table), SKIP_SKLEARN=1, SKIP_SCALE=1, SKIP_FFT=1,
# SKIP_REPULSION=1 (needs build/rel/bench/tsne_repulsion: make bench-tsne builds it), SKIP_SEQ=1.
# Prints one line per figure; times are wall seconds and CPU (user+sys) seconds, since a
# shared machine's load changes wall times from one run to the next.  10-NN preservation is
# measured against the input pixels (784-D), exactly.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${BIN_ABS:-$ROOT/bin}"
PY="${PYTHON:-/usr/bin/python3}"
SHARED="${SHARED:-$(cd "$ROOT/.." && pwd)/shared}"
MNIST="$SHARED/data/mnist"
W="${1:-$(mktemp -d)}"
ROUNDS="${ROUNDS:-2}"
mkdir -p "$W"
H() { "$PY" "$ROOT/bench/tsne_sklearn.py" "$@"; }

# timed NAME CMD... : runs CMD, prints "NAME wall W cpu C", leaves seconds in $WALL and $CPU
timed() {
	local name=$1; shift
	TIMEFORMAT="%R %U %S"
	local tt
	tt=$( { time "$@" >/dev/null 2>"$W/$name.err"; } 2>&1 ) || { cat "$W/$name.err" >&2; return 1; }
	read -r WALL U S <<<"$tt"
	CPU=$(awk -v u="$U" -v s="$S" 'BEGIN{printf "%.2f", u+s}')
	echo "$name: wall ${WALL}s cpu ${CPU}s $(kl "$W/$name.err")"
}
# kl ERRFILE : the final KL divergence a run reported (ours or scikit-learn's)
kl() { grep -o 'KL[a-z ]* [0-9.]*' "$1" | tail -1 | awk '{print "KL " $NF}'; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
load() { echo "== load $(cut -d' ' -f1-3 /proc/loadavg)"; }

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
load
H mnist 10000 "$W/m10k.npy" "$MNIST"
echo "== MNIST test set, N=10000, D=784, perplexity 30, 1000 iterations; $ROUNDS rounds, alternating"
OW=""; OC=""; SW=""; SC=""
for r in $(seq "$ROUNDS"); do
	timed "tsne-10k-$r" "$BIN/tsne" -p 30 "$W/m10k.npy" -o "$W/ours-10k.npy"
	OW="$OW $WALL"; OC="$OC $CPU"
	if [ "${SKIP_SKLEARN:-0}" != 1 ]; then
		timed "sklearn-10k-$r" H sklearn "$W/m10k.npy" "$W/sk-10k.npy"
		SW="$SW $WALL"; SC="$SC $CPU"
	fi
done
echo "   ours: $(H knnpres "$W/m10k.npy" "$W/ours-10k.npy")"
if [ "${SKIP_SKLEARN:-0}" != 1 ]; then
	echo "   scikit-learn: $(H knnpres "$W/m10k.npy" "$W/sk-10k.npy")"
	awk -v a="$(median <<<"$SW")" -v b="$(median <<<"$OW")" -v c="$(median <<<"$SC")" \
		-v d="$(median <<<"$OC")" 'BEGIN{printf "medians: scikit-learn wall %.1fs cpu %.1fs, ours wall %.1fs cpu %.1fs; speed-up wall %.1fx, cpu %.1fx\n", a, c, b, d, a/b, c/d}'
fi
load

if [ "${SKIP_SCALE:-0}" != 1 ]; then
	echo "== growth with N: MNIST (test set, then training set), --pca 50, default method"
	for n in ${SCALE_N:-5000 20000 70000}; do
		H mnist "$n" "$W/m$n.npy" "$MNIST"
		timed "tsne-$n" "$BIN/tsne" --pca 50 "$W/m$n.npy" -o "$W/ours-$n.npy"
		echo "   N=$n: $(H knnpres "$W/m$n.npy" "$W/ours-$n.npy")"
	done
	load
fi

if [ "${SKIP_FFT:-0}" != 1 ]; then
	n=${FFT_N:-70000}
	echo "== --method fft against bh, N=$n, --pca 50, alternating"
	[ -f "$W/m$n.npy" ] || H mnist "$n" "$W/m$n.npy" "$MNIST"
	for m in bh fft bh fft; do
		timed "tsne-$n-$m" "$BIN/tsne" --method "$m" --pca 50 "$W/m$n.npy" -o "$W/ours-$n-$m.npy"
	done
	for m in bh fft; do echo "   $m: $(H knnpres "$W/m$n.npy" "$W/ours-$n-$m.npy")"; done
	load
fi

if [ "${SKIP_REPULSION:-0}" != 1 ]; then
	# one repulsion evaluation, bh against fft, on the 70,000-point layout and on 4, 8 and 15
	# copies of it jittered by N(0, 0.5^2): same span, N up to 1,050,000 (TSNE_FFT_MIN_N)
	REP="${REPULSION_BIN:-$ROOT/build/rel/bench/tsne_repulsion}"
	echo "== one repulsion evaluation, bh (theta 0.5) against fft, alternating, medians of 5"
	[ -f "$W/m70000.npy" ] || H mnist 70000 "$W/m70000.npy" "$MNIST"
	[ -f "$W/ours-70000.npy" ] || "$BIN/tsne" -q --pca 50 "$W/m70000.npy" -o "$W/ours-70000.npy"
	"$PY" -c '
import sys, numpy as np
y = np.load(sys.argv[1]).astype(np.float64); r = np.random.default_rng(0)
for k in (4, 8, 15):
    np.save("%s/rep-%d.npy" % (sys.argv[2], k),
            np.concatenate([y + r.normal(0, 0.5, y.shape) for _ in range(k)]).astype(np.float32))' \
		"$W/ours-70000.npy" "$W"
	for f in "$W/ours-70000.npy" "$W/rep-4.npy" "$W/rep-8.npy" "$W/rep-15.npy"; do
		"$REP" "$f" 5
	done
	load
fi

if [ "${SKIP_SEQ:-0}" != 1 ]; then
	echo "== smoothness: synthetic run, 10 frames of 3000 points in 30-D (drifting, merging clusters)"
	H synthseq "$W/seq" 10 3000 30
	timed seq-warm "$BIN/tsne" -q --sequence -O "$W/warm" "$W"/seq/emb-*.npy
	echo "   warm starts: $(H smooth "$W/warm")"
	timed seq-cold "$BIN/tsne" -q --sequence --cold -O "$W/cold" "$W"/seq/emb-*.npy
	echo "   independent: $(H smooth "$W/cold")"
fi
