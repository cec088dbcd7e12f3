#!/usr/bin/env bash
# pad-bench.sh - time domain-distance on 2,000 rows x 768 features, all ten C values.
#
#   bench/pad-bench.sh [RUNS] [EMBEDDING.npy...]        (or: make bench-pad)
#
# Inputs: the embedding streams given (say runs/experiment/embed/snap-*.npy), or else two
# synthetic ones written with numpy: 1,000 + 1,000 Gaussian rows, identical domains (the
# hardest case for the solvers: nothing separates them) and domains 2 apart.  Each input is
# timed RUNS times (default 5) with the default solver (squared hinge, warm-started, 2
# threads) and with --solver hinge, alternating A B A B so both see the same machine load;
# prints the median wall and CPU (user+sys) seconds of each from /usr/bin/time.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${BIN_ABS:-$ROOT/bin}"
PYTHON="${PYTHON:-/usr/bin/python3}"
RUNS="${1:-5}"
shift || true
[ -x "$BIN/domain-distance" ] || { echo "pad-bench: no $BIN/domain-distance: run make first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
inputs=("$@")
if [ ${#inputs[@]} -eq 0 ]; then
	for delta in 0 2; do
		"$PYTHON" -c '
import sys, numpy as np
n, d, delta = 1000, 768, float(sys.argv[2])
r = np.random.default_rng(1)
u = r.standard_normal(d); u /= np.linalg.norm(u)
x = r.standard_normal((2 * n, d)); x[n:] += delta * u
f = open(sys.argv[1], "wb")
np.save(f, x.astype(np.float32)); np.save(f, np.zeros(2 * n, np.uint8))
np.save(f, np.repeat(np.arange(2), n).astype(np.uint8)); f.close()' "$tmp/gauss-$delta.npy" "$delta"
		inputs+=("$tmp/gauss-$delta.npy")
	done
fi
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "pad-bench: $(nproc) processors, load $(cut -d' ' -f1-3 /proc/loadavg)"
for f in "${inputs[@]}"; do
	: > "$tmp/sq" && : > "$tmp/hi"
	for ((i = 0; i < RUNS; i++)); do
		for s in squared-hinge hinge; do
			/usr/bin/time -f "%e %U %S" -o "$tmp/t" "$BIN/domain-distance" -q --solver "$s" "$f" > "$tmp/out.tsv"
			read -r w u sy < "$tmp/t"
			echo "$w $(awk -v a="$u" -v b="$sy" 'BEGIN { print a + b }') $(tail -n 1 "$tmp/out.tsv" | cut -f3)" >> "$tmp/${s:0:2}"
		done
	done
	for s in sq:squared-hinge hi:hinge; do
		printf 'pad-bench: %s %s: median wall %s s, median CPU %s s, PAD %s\n' "$(basename "$f")" "${s#*:}" \
			"$(cut -d' ' -f1 "$tmp/${s%%:*}" | median)" "$(cut -d' ' -f2 "$tmp/${s%%:*}" | median)" \
			"$(cut -d' ' -f3 "$tmp/${s%%:*}" | head -n 1)"
	done
done
