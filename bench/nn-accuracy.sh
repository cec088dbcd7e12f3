#!/bin/sh
# nn-accuracy.sh - source-only and DANN accuracy on "noise MNIST-M" (digit pixels v > 30 become
# 255 - v on all 3 channels, the rest uniform random RGB), target test split from MNIST's test
# images.  Long: EPOCHS (default 15) per run, for each seed in SEEDS (default "1 2 3").
# Data from $SHARED/data/mnist (IDX .gz), made with numpy into $OUT (default build/nn-accuracy).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN_ABS:-$ROOT/bin}
PYTHON=${PYTHON:-/usr/bin/python3}
SHARED=${SHARED:-$ROOT/../shared}
OUT=${OUT:-$ROOT/build/nn-accuracy}
EPOCHS=${EPOCHS:-15} SEEDS=${SEEDS:-"1 2 3"} THREADS=${THREADS:-$(nproc)}
mkdir -p "$OUT"
[ -s "$OUT/mnistm-noise-test.npy" ] || "$PYTHON" - "$SHARED/data/mnist" "$OUT" <<'PY'
import gzip, sys, numpy as np
src, out = sys.argv[1], sys.argv[2]
def idx(f):
    b = gzip.open(src + "/" + f).read()
    nd = b[3]; dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)
def save(p, x, y):
    f = open(p, "wb"); np.save(f, np.ascontiguousarray(x)); np.save(f, y); f.close()
r = np.random.default_rng(12345)
for split, pre in (("train", "train"), ("test", "t10k")):
    x = idx(pre + "-images-idx3-ubyte.gz"); y = idx(pre + "-labels-idx1-ubyte.gz")
    save(out + "/mnist-%s.npy" % split, x, y)
    noise = r.integers(0, 256, size=x.shape + (3,), dtype=np.uint8)
    inv = np.repeat((255 - x)[..., None], 3, axis=3)
    save(out + "/mnistm-noise-%s.npy" % split, np.where((x > 30)[..., None], inv, noise), y)
PY
cd "$OUT"
for seed in $SEEDS; do
	for mode in source-only dann; do
		m=$mode-e$EPOCHS-s$seed
		"$BIN/dann-train" --mode "$mode" --source mnist-train.npy --target mnistm-noise-train.npy \
			--target-test mnistm-noise-test.npy --epochs "$EPOCHS" --seed "$seed" \
			--threads "$THREADS" --log "$m.tsv" -o "$m.model" 2> "$m.err"
		tail -n 1 "$m.err"
		echo "$m target: $("$BIN/dann-embed" -q -m "$m.model" --accuracy mnistm-noise-test.npy | head -n 1)"
		echo "$m mnist:  $("$BIN/dann-embed" -q -m "$m.model" --accuracy mnist-test.npy | head -n 1)"
	done
done
