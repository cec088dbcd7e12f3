#!/usr/bin/env bats
# plot-curves: training curves from dann-train metrics logs, the PAD panel, bad input.
bats_require_minimum_version 1.5.0
load helper

# img CODE ARGS...: Python with png_size(path) -> (w, h) and png_read(path) -> (h,w,3) int64.
img() {
	"$PYTHON" -c "
import sys, numpy as np
from PIL import Image
def png_size(p): return Image.open(p).size
def png_read(p): return np.asarray(Image.open(p).convert('RGB')).astype(np.int64)
$1" "${@:2}"
}

metrics_tsv() {  # a small hand-made dann-train log with nan gaps
	printf 'step\tepoch\tlr\tlambda\tlabel_loss\tdomain_loss\tdomain_acc\tsource_acc\ttarget_acc\n' >"$1"
	printf '0\t0\t0.01\t0\t2.30\t0.69\t0.50\t0.10\t0.10\n' >>"$1"
	printf '100\t0\t0.008\t0.46\t1.20\t0.66\t0.61\tnan\tnan\n' >>"$1"
	printf '200\t1\t0.006\t0.76\t0.60\t0.68\t0.55\t0.90\t0.60\n' >>"$1"
	printf '300\t1\t0.005\t0.91\t0.40\tnan\tnan\tnan\tnan\n' >>"$1"
	printf '400\t2\t0.004\t0.96\t0.30\t0.69\t0.51\t0.97\t0.75\n' >>"$1"
}

@test "--help prints usage on stdout, exit 0; unknown options and bad values are exit 2" {
	run --separate-stderr plot-curves --help
	[ "$status" -eq 0 ] && [ -z "$stderr" ]
	[[ "$output" == usage:* ]]
	[[ "$output" == *"--names"* && "$output" == *"--pad"* && "$output" == *"--output"* ]]
	metrics_tsv "$T/m.tsv"
	run --separate-stderr plot-curves --no-such-option "$T/m.tsv"
	assert_fails_cleanly 2 plot-curves "--no-such-option"
	run --separate-stderr plot-curves --size 10x10 -o "$T/c.png" "$T/m.tsv"
	assert_fails_cleanly 2 plot-curves "--size"
	run --separate-stderr plot-curves --size big -o "$T/c.png" "$T/m.tsv"
	assert_fails_cleanly 2 plot-curves "--size"
	run --separate-stderr plot-curves -o "$T/c.png"
	assert_fails_cleanly 2 plot-curves "no METRICS.tsv operand"
	run --separate-stderr plot-curves --names a,b,c -o "$T/c.png" "$T/m.tsv"
	assert_fails_cleanly 2 plot-curves "--names: 3 names for 1 logs"
	run --separate-stderr plot-curves -o "$T/m.tsv" "$T/m.tsv"
	assert_fails_cleanly 2 plot-curves "m.tsv"
	[ ! -e "$T/c.png" ]
}

@test "a real figure from a fixture log: 800x900 PNG, white background, title and both colours" {
	metrics_tsv "$T/m.tsv"
	run --separate-stderr plot-curves -o "$T/c.png" "$T/m.tsv"
	[ "$status" -eq 0 ] && [ -z "$output" ]
	img '
a = png_read(sys.argv[1])
assert a.shape == (900, 800, 3), a.shape
assert np.all(a[0, 0] == 255) and np.all(a[-1, -1] == 255)   # white margins
band = a[8:30]                                               # the title band holds dark text
assert (band.max(axis=2) < 80).sum() > 100
blue = (np.abs(a - np.array([0, 114, 178])).sum(axis=2) < 30).sum()
red = (np.abs(a - np.array([213, 94, 0])).sum(axis=2) < 30).sum()
assert blue > 500 and red > 500, (blue, red)
' "$T/c.png"
	# the same log gives the same bytes; the PNG may go to stdout (and a title changes it)
	plot-curves -q -o "$T/again.png" "$T/m.tsv"
	cmp "$T/c.png" "$T/again.png"
	plot-curves -q "$T/m.tsv" >"$T/stdout.png"
	cmp "$T/c.png" "$T/stdout.png"
	plot-curves -q - <"$T/m.tsv" >"$T/stdin.png"
	[ "$(img 'print(*png_size(sys.argv[1]))' "$T/stdin.png")" = "800 900" ]
	plot-curves -q --title "other" -o "$T/t.png" "$T/m.tsv"
	! cmp -s "$T/c.png" "$T/t.png"
}

@test "bad input: a missing file, a bad TSV: exit 1, one line, nothing on stdout, no PNG" {
	metrics_tsv "$T/m.tsv"
	run --separate-stderr plot-curves -o "$T/c.png" "$T/missing.tsv"
	assert_fails_cleanly 1 plot-curves "missing.tsv: No such file"
	printf 'step\tlr\n0\tx\n' >"$T/bad.tsv"
	run --separate-stderr plot-curves -o "$T/c.png" "$T/m.tsv" "$T/bad.tsv"
	assert_fails_cleanly 1 plot-curves "bad.tsv"
	# to stdout as well: nothing is written before the logs are read
	run --separate-stderr plot-curves "$T/bad.tsv"
	assert_fails_cleanly 1 plot-curves "bad.tsv"
	run --separate-stderr plot-curves --pad "$T/nopad.tsv" -o "$T/c.png" "$T/m.tsv"
	assert_fails_cleanly 1 plot-curves "nopad.tsv"
	[ ! -e "$T/c.png" ]
}

@test "bad output: a folder that does not exist, a full disk" {
	metrics_tsv "$T/m.tsv"
	run --separate-stderr plot-curves -o "$T/nodir/c.png" "$T/m.tsv"
	assert_fails_cleanly 2 plot-curves "c.png: cannot create"
	[ ! -e "$T/nodir" ]
	run --separate-stderr plot-curves -o /dev/full "$T/m.tsv"
	assert_fails_cleanly 1 plot-curves "[Ww]rite"
}

@test "curves from a small hand-made TSV, nan gaps skipped; several logs overlaid" {
	metrics_tsv "$T/m.tsv"
	run --separate-stderr plot-curves -q -o "$T/c.png" "$T/m.tsv"
	[ "$status" -eq 0 ]
	[ "$(img 'print(*png_size(sys.argv[1])[:2])' "$T/c.png")" = "800 900" ]
	plot-curves -q --size 400x420 -o "$T/small.png" "$T/m.tsv"
	img '
a = png_read(sys.argv[1])
blue = (np.abs(a - np.array([0, 114, 178])).sum(axis=2) < 30)
red = (np.abs(a - np.array([213, 94, 0])).sum(axis=2) < 30)
h = a.shape[0]
# each of the three panels (thirds of the height) has both of its line colours
for p in range(3):
    s = slice(p * h // 3, (p + 1) * h // 3)
    assert blue[s].sum() > 100 and red[s].sum() > 60, (p, blue[s].sum(), red[s].sum())
' "$T/small.png"
	# a source-only log: domain columns and lambda all nan
	awk -F'\t' 'BEGIN{OFS="\t"} NR>1{$4="nan";$6="nan";$7="nan"} {print}' "$T/m.tsv" >"$T/so.tsv"
	plot-curves -q --size 900x700 --names "DANN,source only" -o "$T/c2.png" "$T/m.tsv" "$T/so.tsv"
	[ "$(img 'print(*png_size(sys.argv[1])[:2])' "$T/c2.png")" = "900 700" ]
	! cmp -s "$T/c.png" "$T/c2.png"
	plot-curves -q -o "$T/c3.png" "$T/m.tsv"
	cmp "$T/c.png" "$T/c3.png"
	# a diverged loss (inf) is skipped like nan; CRLF line ends are fine
	awk -F'\t' 'BEGIN{OFS="\t"} NR==3{$5="inf"} {printf "%s\r\n", $0}' "$T/m.tsv" >"$T/inf.tsv"
	run --separate-stderr plot-curves -q -o "$T/c4.png" "$T/inf.tsv"
	[ "$status" -eq 0 ] && [ -z "$stderr" ]
	[ "$(img 'print(*png_size(sys.argv[1])[:2])' "$T/c4.png")" = "800 900" ]
}

@test "bad input: unreadable metrics TSVs" {
	metrics_tsv "$T/m.tsv"
	run --separate-stderr plot-curves -o "$T/c.png" "$T/nope.tsv"
	assert_fails_cleanly 1 plot-curves "nope.tsv"
	head -c 3000 /dev/urandom >"$T/bin.tsv"
	run --separate-stderr plot-curves -o "$T/c.png" "$T/bin.tsv"
	assert_fails_cleanly 1 plot-curves "bin.tsv"
	printf 'a\tb\n1\t2\n' >"$T/hdr.tsv"
	run --separate-stderr plot-curves -o "$T/c.png" "$T/hdr.tsv"
	assert_fails_cleanly 1 plot-curves "no 'step' column"
	sed '3s/0.008/zero/' "$T/m.tsv" >"$T/field.tsv"
	run --separate-stderr plot-curves -o "$T/c.png" "$T/field.tsv"
	assert_fails_cleanly 1 plot-curves "line 3: lr 'zero' is not a number"
	sed '4s/\t0.76//' "$T/m.tsv" >"$T/short.tsv"
	run --separate-stderr plot-curves -o "$T/c.png" "$T/short.tsv"
	assert_fails_cleanly 1 plot-curves "line 4: 8 fields, the header has 9"
	awk -F'\t' 'BEGIN{OFS="\t"} NR==3{$1="nan"} {print}' "$T/m.tsv" >"$T/step.tsv"
	run --separate-stderr plot-curves -o "$T/c.png" "$T/step.tsv"
	assert_fails_cleanly 1 plot-curves "line 3: step is nan"
	head -1 "$T/m.tsv" >"$T/empty.tsv"
	run --separate-stderr plot-curves -o "$T/c.png" "$T/empty.tsv"
	assert_fails_cleanly 1 plot-curves "no data rows"
	: >"$T/zero.tsv"
	run --separate-stderr plot-curves -o "$T/c.png" "$T/zero.tsv"
	assert_fails_cleanly 1 plot-curves "empty"
	[ ! -e "$T/c.png" ]
}

@test "curves --pad: a fourth panel with each log's PAD, the reference level; bad PAD tables" {
	metrics_tsv "$T/m.tsv"
	awk -F'\t' 'BEGIN{OFS="\t"} NR>1{$4="nan";$6="nan";$7="nan"} {print}' "$T/m.tsv" >"$T/so.tsv"
	printf 'model\tsnapshot\tstep\tpad\n' >"$T/pad.tsv"
	printf 'DANN\t0\t0\t1.9\nDANN\t1\t200\t1.0\nDANN\t2\t400\t0.4\n' >>"$T/pad.tsv"
	printf 'source only\t0\t0\t1.95\nsource only\t1\t200\t1.99\nsource only\t2\t400\t2\n' >>"$T/pad.tsv"
	printf 'raw pixels\t-\t-\t1.5\n' >>"$T/pad.tsv"
	plot-curves -q --names "DANN,source only" --pad "$T/pad.tsv" -o "$T/c.png" "$T/m.tsv" "$T/so.tsv"
	[ "$(img 'print(*png_size(sys.argv[1])[:2])' "$T/c.png")" = "800 1150" ]
	# the last quarter holds both logs' colours (DANN's PAD and domain accuracy, source-only's
	# PAD); without the reference row the picture differs (the dotted level and its label)
	img '
a = png_read(sys.argv[1])
h = a.shape[0]
s = a[3 * h // 4:]
blue = (np.abs(s - np.array([0, 114, 178])).sum(axis=2) < 30).sum()
red = (np.abs(s - np.array([213, 94, 0])).sum(axis=2) < 30).sum()
assert blue > 300 and red > 300, (blue, red)
' "$T/c.png"
	grep -v '^raw pixels' "$T/pad.tsv" >"$T/noref.tsv"
	plot-curves -q --names "DANN,source only" --pad "$T/noref.tsv" -o "$T/c2.png" "$T/m.tsv" "$T/so.tsv"
	! cmp -s "$T/c.png" "$T/c2.png"
	# the reference is named outside the plot box (the header is full here, so under the x
	# labels, left of "step"): ink there with the reference row, none without it
	img '
a, b = png_read(sys.argv[1]), png_read(sys.argv[2])
def ink(x): return (x[-30:, :300].sum(axis=2) < 600).sum()
assert ink(a) > 50 and ink(b) == 0, (ink(a), ink(b))
' "$T/c.png" "$T/c2.png"
	plot-curves -q --names "DANN,source only" -o "$T/c3.png" "$T/m.tsv" "$T/so.tsv"
	[ "$(img 'print(*png_size(sys.argv[1])[:2])' "$T/c3.png")" = "800 900" ]
	# bad tables: exit 1, one line, no PNG
	local c
	for c in "model\tstep\n:columns model, step and pad" "model\tstep\tpad\nX\t0\t1\n:model 'X' is none" \
		"model\tstep\tpad\nDANN\t0\tnan\n:pad 'nan' is not a finite number" \
		"model\tstep\tpad\nDANN\tten\t1\n:step 'ten' is not a finite number" \
		"model\tstep\tpad\nDANN\t0\n:line 2: 2 fields, the header has 3" \
		"model\tstep\tpad\tpad\n:column 'pad' twice" "model\tstep\tpad\na\t-\t1\nb\t-\t1\n:second reference"; do
		printf "${c%%:*}" >"$T/bad.tsv"
		run --separate-stderr plot-curves -q --names "DANN,source only" --pad "$T/bad.tsv" -o "$T/b.png" "$T/m.tsv" "$T/so.tsv"
		assert_fails_cleanly 1 plot-curves "${c#*:}"
		[ ! -e "$T/b.png" ]
	done
}

