#!/bin/sh
# plot-bench.sh - plot-frames speed: frames per second at 800x600 with 2,000 points.
# Target: at least 20 frames/s.  Usage: bench/plot-bench.sh [BIN_DIR]
# Makes 10 key frames of 2,000 points with $PYTHON + numpy, then times
#   PNG frames (-O, --tween 9: 91 frames), the GIF alone (91 frames), the contact sheet,
#   the PNG frames with one thread, and plot-curves on a 10,000-row metrics log.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/bin}
PYTHON=${PYTHON:-/usr/bin/python3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$PYTHON" - "$W" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(0)
n = 2000
lab = rng.integers(0, 10, n).astype('u1'); dom = (np.arange(n) % 2).astype('u1')
ang = lab * 2 * np.pi / 10
src = np.stack([np.cos(ang), np.sin(ang)], 1) * 30
tgt = np.stack([np.cos(ang + 2), np.sin(ang + 2)], 1) * 25 + [20, -5]
noise = rng.normal(size=(n, 2)) * 3.5
for k in range(10):
    a = k / 9
    pts = np.where(dom[:, None] == 0, src, (1 - a) * tgt + a * src) + noise
    with open('%s/f%02d.npy' % (sys.argv[1], k), 'wb') as f:
        for x in (pts.astype('<f4'), lab, dom): np.save(f, x)
with open(sys.argv[1] + '/m.tsv', 'w') as f:
    f.write('step\tepoch\tlr\tlambda\tlabel_loss\tdomain_loss\tdomain_acc\tsource_acc\ttarget_acc\n')
    for s in range(10000):
        p = s / 10000
        f.write('%d\t%d\t%g\t%g\t%g\t%g\t%g\t%s\t%s\n' % (s, s // 1000, 0.01 / (1 + 10 * p) ** 0.75,
                2 / (1 + np.exp(-10 * p)) - 1, 2.3 * np.exp(-5 * p) + 0.1, 0.69, 0.5,
                '%g' % (1 - np.exp(-5 * p)) if s % 500 == 0 else 'nan', 'nan'))
PY
now() { date +%s.%N; }
# Wall time gives frames/s; CPU time (user+sys, when /usr/bin/time exists) shows what the
# tool costs apart from other load on the machine.
run() {  # label frames command...
	label=$1 frames=$2
	shift 2
	cpu=nan
	t0=$(now)
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f '%U %S' -o "$W/time" "$@"
		cpu=$(awk '{ print $1 + $2 }' "$W/time")
	else
		"$@"
	fi
	t1=$(now)
	awk -v l="$label" -v n="$frames" -v a="$t0" -v b="$t1" -v c="$cpu" \
		'BEGIN { t = b - a; printf "%-28s %4d frames %6.2f s wall %7.1f frames/s   %6.1f ms CPU/frame\n", l, n, t, n / t, 1000 * c / n }'
}
echo "plot-frames benchmark: 800x600, 2000 points, 10 key frames; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
run "PNG frames (--tween 9)" 91 "$BIN/plot-frames" -q --tween 9 -O "$W/png" "$W"/f*.npy
run "PNG frames, class colours" 91 "$BIN/plot-frames" -q --color class --tween 9 -O "$W/pngc" "$W"/f*.npy
run "PNG frames, 1 thread" 91 env OMP_NUM_THREADS=1 "$BIN/plot-frames" -q --tween 9 -O "$W/png1" "$W"/f*.npy
run "GIF (--tween 9)" 91 "$BIN/plot-frames" -q --tween 9 --gif "$W/a.gif" "$W"/f*.npy
run "contact sheet" 10 "$BIN/plot-frames" -q --sheet "$W/s.png" "$W"/f*.npy
run "curves (10000-row log)" 1 "$BIN/plot-curves" -q -o "$W/c.png" "$W/m.tsv"
echo "GIF size: $(wc -c <"$W/a.gif") bytes; frame PNG: $(wc -c <"$W/png/frame-0045.png") bytes"
