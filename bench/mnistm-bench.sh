#!/usr/bin/env bash
# mnistm-bench.sh - throughput and peak memory of mnistm-gen on the 60,000-image MNIST train split.
#
#   bench/mnistm-bench.sh [RUNS]        (or: make bench-mnistm)
#
# For each case (noise 28x28, bsds 28x28, bsds 32x32) it runs mnistm-gen RUNS times (default 3)
# from a file to a file and prints, per case, the best and median wall time as images/s, the
# CPU seconds (user+sys) and the peak RSS from /usr/bin/time -v.  Times include everything the
# user waits for: start-up, decoding the 200 background photos, reading, writing.
# The MNIST stream comes from bin/mnist-fetch (offline, from $SHARED/data/mnist) when it
# exists, else is unpacked with numpy from the same files.  Targets: noise >= 200,000 images/s, bsds >= 50,000 images/s,
# peak RSS < 64 MB plus the decoded photos (about 93 MB for BSDS500 train).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${BIN_ABS:-$ROOT/bin}"
SHARED="${SHARED:-$(cd "$ROOT/.." && pwd)/shared}"
PYTHON="${PYTHON:-/usr/bin/python3}"
RUNS="${1:-3}"
BSDS="$SHARED/data/bsds500/train"
MNIST="$SHARED/data/mnist"

die() { echo "mnistm-bench: $*" >&2; exit 1; }
[ -x "$BIN/mnistm-gen" ] || die "no $BIN/mnistm-gen: run make first"
[ -d "$BSDS" ] || die "no BSDS500 photos at $BSDS (set SHARED=...)"
if [ ! -x /usr/bin/time ]; then
	if [ "$(id -u)" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null || die "cannot install time"
	else
		die "/usr/bin/time is missing: sudo apt-get install time"
	fi
fi

W="$(mktemp -d "${TMPDIR:-/tmp}/mnistm-bench.XXXXXX")"
trap 'rm -rf "$W"' EXIT

if [ -x "$BIN/mnist-fetch" ] && "$BIN/mnist-fetch" -q --offline --mirror "$MNIST" --cache "$W/cache" \
	--split train -o "$W/train.npy"; then
	src="mnist-fetch --split train from $MNIST"
else
	[ -f "$MNIST/train-images-idx3-ubyte.gz" ] || die "no MNIST at $MNIST"
	"$PYTHON" - "$MNIST" "$W/train.npy" <<'EOF'
import gzip, sys, numpy as np
d, out = sys.argv[1], sys.argv[2]
im = np.frombuffer(gzip.open(d + "/train-images-idx3-ubyte.gz").read(), np.uint8, offset=16).reshape(-1, 28, 28)
lb = np.frombuffer(gzip.open(d + "/train-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
with open(out, "wb") as f:
    np.save(f, im)
    np.save(f, lb)
EOF
	src="numpy from $MNIST"
fi
N=60000

echo "mnistm-gen benchmark: $N images ($src), $RUNS runs per case, $(nproc) cores"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %12s %12s %9s %9s %10s\n' case "best img/s" "median img/s" "best s" "CPU s" "peak RSS"

bench() {  # name args...
	local name=$1; shift
	local walls=() cpus=() rss=0
	for ((i = 0; i < RUNS; i++)); do
		/usr/bin/time -v -o "$W/time.txt" "$BIN/mnistm-gen" -q "$@" "$W/train.npy" -o "$W/out.npy"
		walls+=("$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (k = 1; k <= n; k++) s = s * 60 + t[k]; print s}' "$W/time.txt")")
		cpus+=("$(awk -F': ' '/User time/ {u = $2} /System time/ {s = $2} END {print u + s}' "$W/time.txt")")
		r=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$W/time.txt")
		[ "$r" -gt "$rss" ] && rss=$r
	done
	printf '%s\n' "${walls[@]}" | sort -g > "$W/walls"
	best=$(head -n 1 "$W/walls")
	med=$(sed -n "$(((RUNS + 1) / 2))p" "$W/walls")
	cpu=$(printf '%s\n' "${cpus[@]}" | sort -g | head -n 1)
	awk -v n="$name" -v N=$N -v b="$best" -v m="$med" -v c="$cpu" -v r="$rss" 'BEGIN {
		printf "%-22s %12.0f %12.0f %9.3f %9.2f %7.1f MB\n", n, N / b, N / m, b, c, r / 1024 }'
}

bench "noise 28x28" --seed 1
bench "bsds 28x28" --recipe bsds --backgrounds "$BSDS" --seed 1
bench "bsds 32x32" --recipe bsds --backgrounds "$BSDS" --size 32 --seed 1
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
