#!/bin/sh
# train-bench.sh - training and inference throughput of dann-train / dann-embed.
# usage: bench/train-bench.sh [THREADS...]   (default: 1 2)
# Training images/s = 128 x (extra steps) / (extra wall time) between a short and a long run,
# so start-up and data loading cancel out.  Data are random (speed does not depend on them).
set -eu
BIN=${BIN_ABS:-$(cd "$(dirname "$0")/.." && pwd)/bin}
PYTHON=${PYTHON:-/usr/bin/python3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$PYTHON" - "$T" <<'PY'
import sys, numpy as np
r = np.random.default_rng(0)
for name, shape in (("src", (10000, 28, 28)), ("tgt", (10000, 28, 28, 3))):
    f = open(sys.argv[1] + "/" + name + ".npy", "wb")
    np.save(f, r.integers(0, 256, shape, dtype=np.uint8))
    np.save(f, r.integers(0, 10, shape[0], dtype=np.uint8)); f.close()
PY
now() { date +%s.%N; }
S1=${S1:-10} S2=${S2:-60}
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) processors, load $(cut -d' ' -f1-3 /proc/loadavg)"
for th in ${*:-1 2}; do
	a=$(now); "$BIN/dann-train" -q --source "$T/src.npy" --target "$T/tgt.npy" --steps "$S1" --threads "$th" -o "$T/m"; b=$(now)
	"$BIN/dann-train" -q --source "$T/src.npy" --target "$T/tgt.npy" --steps "$S2" --threads "$th" -o "$T/m"; c=$(now)
	echo "$a $b $c $th" | awk -v s1="$S1" -v s2="$S2" '{ d = ($3 - $2) - ($2 - $1);
		printf "train  threads %d: %.0f images/s (%.1f ms per step of 128 images)\n", $4, 128 * (s2 - s1) / d, 1000 * d / (s2 - s1) }'
	a=$(now); "$BIN/dann-embed" -q --threads "$th" -m "$T/m" --domain target "$T/tgt.npy" > /dev/null; b=$(now)
	echo "$a $b $th" | awk '{ printf "embed  threads %d: %.0f images/s (10000 RGB images, features, incl. start-up)\n", $3, 10000 / ($2 - $1) }'
done
