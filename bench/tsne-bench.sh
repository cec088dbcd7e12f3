#!/usr/bin/env bash
# tsne-bench.sh - tsne against scikit-learn's TSNE, side by side in one run; how time, KL and
# 10-NN preservation grow with N (MNIST, then larger sets made from it); approximate against
# exact nearest neighbours; the FFT method against Barnes-Hut; the smoothness of warm-started
# sequences.
#
#   bench/tsne-bench.sh [WORKDIR]          (or: make bench-tsne)
#
# Environment: BIN_ABS (tools, default ./bin), PYTHON (/usr/bin/python3 with numpy and
# python3-sklearn), SHARED (folder holding data/mnist), ROUNDS (2: the 10,000-point runs
# alternate ours and scikit-learn's ROUNDS times, medians compared), SCALE_N ("10000 70000
# 250000 1000000": the sizes of the growth table; up to 70,000 the MNIST digits with --pca 50,
# above that the PCA 50 of all 70,000 repeated with jitter, see tsne_sklearn.py pcajitter),
# PRES_SETS (6, at most 6: the 10-NN preservation of ours against scikit-learn's also on that
# many more sets of 10,000 MNIST digits), FASHION_SETS (4, at most 4: and on that many sets of
# 10,000 Fashion-MNIST images, from FASHION=/usr/share/datasets/fashion-mnist),
# SKIP_SKLEARN=1, SKIP_SCALE=1, SKIP_KNN=1, SKIP_FFT=1, SKIP_REPULSION=1 (needs
# build/rel/bench/tsne_repulsion and tsne_knn: make bench-tsne builds them), SKIP_SEQ=1.
# Prints one line per figure; times are wall seconds and CPU (user+sys) seconds, since a
# shared machine's load changes wall times from one run to the next, and the peak resident
# memory.  10-NN preservation is measured against the input pixels (784-D), exactly, up to
# 70,000 points; above, against the 50-D input, over 10,000 points spread evenly.
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

# timed NAME CMD... : runs CMD, prints "NAME wall W cpu C peak M", leaves seconds in $WALL and $CPU
timed() {
	local name=$1; shift
	/usr/bin/time -f "%e %U %S %M" -o "$W/$name.time" "$@" >/dev/null 2>"$W/$name.err" ||
		{ cat "$W/$name.err" >&2; return 1; }
	read -r WALL U S M <"$W/$name.time"
	CPU=$(awk -v u="$U" -v s="$S" 'BEGIN{printf "%.2f", u+s}')
	echo "$name: wall ${WALL}s cpu ${CPU}s peak $((M / 1024)) MB $(kl "$W/$name.err")"
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
		timed "sklearn-10k-$r" "$PY" "$ROOT/bench/tsne_sklearn.py" sklearn "$W/m10k.npy" "$W/sk-10k.npy"
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

# One 10,000-digit set says little about a difference in 10-NN preservation of a few 0.001
# (a run's preservation moves that much with the Barnes-Hut settings): more sets, one run of
# each side, the mean, and the paired differences' standard error.  PRES_SETS more MNIST sets
# (training rows 0, 20,000, 40,000, 10,000, 30,000, 50,000: with the test set, 6 cover all
# 70,000 digits), then FASHION_SETS sets of Fashion-MNIST (Debian's dataset-fashion-mnist; test
# set, training rows 0, 20,000, 40,000), which no setting of ours was ever tuned on.
FASHION="${FASHION:-/usr/share/datasets/fashion-mnist}"
if [ "${SKIP_SKLEARN:-0}" != 1 ] && [ "${PRES_SETS:-6}${FASHION_SETS:-4}" != 00 ]; then
	echo "== 10-NN preservation on sets of 10,000 images, ours against scikit-learn (one run each)"
	PO=$(H knnpres "$W/m10k.npy" "$W/ours-10k.npy" | awk '{print $2}')
	PS=$(H knnpres "$W/m10k.npy" "$W/sk-10k.npy" | awk '{print $2}')
	echo "   MNIST test set: ours $PO, scikit-learn $PS"
	sets=$(for f in 10000 30000 50000 20000 40000 60000; do echo "$MNIST $f MNIST"; done |
		head -n "${PRES_SETS:-6}")
	fsets=$(for f in 0 10000 30000 50000; do echo "$FASHION $f Fashion-MNIST"; done |
		head -n "${FASHION_SETS:-4}")
	s=0
	while read -r dir first name; do
		[ -n "$dir" ] || continue
		s=$((s + 1))
		H mnist 10000 "$W/t$s.npy" "$dir" "$first"
		timed "tsne-10k-set$s" "$BIN/tsne" -p 30 "$W/t$s.npy" -o "$W/ours-t$s.npy"
		timed "sklearn-10k-set$s" "$PY" "$ROOT/bench/tsne_sklearn.py" sklearn "$W/t$s.npy" "$W/sk-t$s.npy"
		o=$(H knnpres "$W/t$s.npy" "$W/ours-t$s.npy" | awk '{print $2}')
		k=$(H knnpres "$W/t$s.npy" "$W/sk-t$s.npy" | awk '{print $2}')
		echo "   $name rows $first.. (of test + training): ours $o, scikit-learn $k"
		PO="$PO $o"; PS="$PS $k"
	done <<<"$sets
$fsets"
	awk -v o="$PO" -v k="$PS" 'BEGIN{n = split(o, a, " "); split(k, b, " ")
		for (i = 1; i <= n; i++) { so += a[i]; sk += b[i]; w += a[i] >= b[i]; d[i] = a[i] - b[i]; sd += d[i] }
		m = sd / n; for (i = 1; i <= n; i++) v += (d[i] - m) ^ 2
		se = n > 1 ? sqrt(v / (n - 1) / n) : 0
		printf "   mean over %d sets: ours %.5f, scikit-learn %.5f (ours at least as high on %d); ours - scikit-learn %+.5f, standard error %.5f\n", n, so / n, sk / n, w, m, se }'
	load
fi

# points N : $W/m$N.npy (MNIST pixels; tsne needs --pca 50) up to 70,000, else $W/p$N.npy (PCA
# 50 of all of MNIST, repeated with jitter); sets PTS, PCA and SAMPLE
points() {
	local n=$1
	if [ "$n" -le 70000 ]; then
		[ -f "$W/m$n.npy" ] || H mnist "$n" "$W/m$n.npy" "$MNIST"
		PTS="$W/m$n.npy" PCA="--pca 50" SAMPLE=0
	else
		[ -f "$W/m70000.npy" ] || H mnist 70000 "$W/m70000.npy" "$MNIST"
		[ -f "$W/p$n.npy" ] || echo "   $(H pcajitter "$W/m70000.npy" "$n" "$W/p$n.npy")"
		PTS="$W/p$n.npy" PCA="" SAMPLE=10000
	fi
}

if [ "${SKIP_SCALE:-0}" != 1 ]; then
	echo "== growth with N: MNIST (test set, then training set) --pca 50; above 70,000 the PCA 50"
	echo "   of all of MNIST repeated with jitter; default methods (--method auto, --knn auto)"
	for n in ${SCALE_N:-10000 70000 250000 1000000}; do
		points "$n"
		# shellcheck disable=SC2086
		timed "tsne-$n" "$BIN/tsne" $PCA "$PTS" -o "$W/ours-$n.npy"
		echo "   N=$n: $(H knnpres "$PTS" "$W/ours-$n.npy" 10 "$SAMPLE")"
		load
	done
fi

if [ "${SKIP_KNN:-0}" != 1 ]; then
	KNN="${KNN_BIN:-$ROOT/build/rel/bench/tsne_knn}"
	echo "== approximate against exact k-NN (k 90), PCA 50 of MNIST (repeated with jitter above"
	echo "   70,000); recall over all points, or over 2,000 where the exact search is not run"
	points 1000000
	for n in 40000 70000 100000; do "$KNN" "$W/p1000000.npy" "$n"; done
	for n in 250000 1000000; do "$KNN" "$W/p1000000.npy" "$n" 2000; done
	load
fi

if [ "${SKIP_FFT:-0}" != 1 ]; then
	n=${FFT_N:-70000}
	echo "== --method bh, fft and auto, N=$n, alternating"
	points "$n"
	for m in bh fft auto bh fft auto; do
		# shellcheck disable=SC2086
		timed "tsne-$n-$m" "$BIN/tsne" --method "$m" $PCA "$PTS" -o "$W/ours-$n-$m.npy"
	done
	for m in bh fft auto; do
		echo "   $m: $(H knnpres "$PTS" "$W/ours-$n-$m.npy" 10 "$SAMPLE")"
	done
	load
fi

if [ "${SKIP_REPULSION:-0}" != 1 ]; then
	# one repulsion evaluation, bh against fft, on the 70,000-point layout shrunk to a quarter
	# and a half (an earlier iteration's span), and on 15 copies of it jittered by
	# N(0, 0.5^2) (1,050,000 points), full size and halved: the measurement behind
	# TSNE_FFT_BOXES2_PER_POINT
	REP="${REPULSION_BIN:-$ROOT/build/rel/bench/tsne_repulsion}"
	echo "== one repulsion evaluation, bh (theta 0.5) against fft, alternating, medians of 3"
	[ -f "$W/m70000.npy" ] || H mnist 70000 "$W/m70000.npy" "$MNIST"
	[ -f "$W/ours-70000.npy" ] || "$BIN/tsne" -q --pca 50 "$W/m70000.npy" -o "$W/ours-70000.npy"
	"$PY" -c '
import sys, numpy as np
y = np.load(sys.argv[1]).astype(np.float64); r = np.random.default_rng(0)
big = np.concatenate([y + r.normal(0, 0.5, y.shape) for _ in range(15)])
for name, v in (("s0.25", y / 4), ("s0.5", y / 2), ("s1", y), ("big-s0.5", big / 2), ("big-s1", big)):
    np.save("%s/rep-%s.npy" % (sys.argv[2], name), v.astype(np.float32))' \
		"$W/ours-70000.npy" "$W"
	for v in s0.25 s0.5 s1 big-s0.5 big-s1; do
		"$REP" "$W/rep-$v.npy" 3
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
