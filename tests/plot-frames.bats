#!/usr/bin/env bats
# plot-frames: PNG frames, pixels, GIF animation, contact sheet, bad input.
bats_require_minimum_version 1.5.0
load helper

setup() {
	# PNG and GIF readers in plain Python + numpy (no imaging library needed).
	cat >"$T/img.py" <<'EOF'
import struct, sys, zlib
import numpy as np

def png_chunks(path):
    d = open(path, 'rb').read()
    assert d[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG signature'
    pos, out = 8, []
    while pos < len(d):
        n, = struct.unpack('>I', d[pos:pos + 4])
        typ = d[pos + 4:pos + 8]
        body = d[pos + 8:pos + 8 + n]
        crc, = struct.unpack('>I', d[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(typ + body) == crc, 'bad CRC in ' + typ.decode()
        out.append((typ, body))
        pos += 12 + n
    assert out[0][0] == b'IHDR' and out[-1][0] == b'IEND'
    return out

def png_size(path):
    typ, body = png_chunks(path)[0]
    w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
    return w, h, depth, ctype

def png_read(path):
    ch = png_chunks(path)
    w, h, depth, ctype = struct.unpack('>IIBB', ch[0][1][:10])
    assert depth == 8
    nc = {0: 1, 2: 3, 6: 4}[ctype]
    raw = zlib.decompress(b''.join(b for t, b in ch if t == b'IDAT'))
    stride = w * nc
    rows, prev, p = [], [0] * stride, 0
    for y in range(h):
        f, line = raw[p], list(raw[p + 1:p + 1 + stride])
        p += 1 + stride
        if f == 2:
            out = [(v + u) & 255 for v, u in zip(line, prev)]
        elif f != 0:
            out = line
            for x in range(stride):
                a = out[x - nc] if x >= nc else 0
                if f == 1:
                    v = a
                elif f == 3:
                    v = (a + prev[x]) >> 1
                else:
                    b, c = prev[x], (prev[x - nc] if x >= nc else 0)
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    v = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                out[x] = (out[x] + v) & 255
        else:
            out = line
        rows.append(out)
        prev = out
    img = np.array(rows, np.int64)
    return img.reshape(h, w, nc)

def gif_info(path):
    """Frame count, delays (1/100 s), NETSCAPE2.0 loop count, by walking the GIF blocks."""
    d = open(path, 'rb').read()
    assert d[:6] == b'GIF89a', 'not a GIF89a'
    w, h, flags = struct.unpack('<HHB', d[6:11])
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    frames, delays, loop = 0, [], None
    def skip_sub(pos):
        blocks = []
        while d[pos] != 0:
            blocks.append(d[pos + 1:pos + 1 + d[pos]])
            pos += 1 + d[pos]
        return pos + 1, blocks
    while True:
        b = d[pos]
        if b == 0x3B:
            break
        if b == 0x21:
            label = d[pos + 1]
            pos, blocks = skip_sub(pos + 2)
            if label == 0xF9:
                delays.append(struct.unpack('<H', blocks[0][1:3])[0])
            if label == 0xFF and blocks[0] == b'NETSCAPE2.0':
                loop = struct.unpack('<H', blocks[1][1:3])[0]
        elif b == 0x2C:
            x, y, fw, fh, fl = struct.unpack('<HHHHB', d[pos + 1:pos + 10])
            assert x + fw <= w and y + fh <= h
            pos += 10 + (3 << ((fl & 7) + 1) if fl & 0x80 else 0)
            pos, _ = skip_sub(pos + 1)  # LZW minimum code size, then data
            frames += 1
        else:
            raise ValueError('bad GIF block 0x%02x at %d' % (b, pos))
    return w, h, frames, delays, loop

def lzw_decode(data, min_size):
    clear, eoi = 1 << min_size, (1 << min_size) + 1
    table = [bytes([i]) for i in range(clear)] + [b'', b'']
    size, prev, out = min_size + 1, None, bytearray()
    buf = nb = i = 0
    while True:
        while nb < size and i < len(data):
            buf |= data[i] << nb
            nb += 8
            i += 1
        if nb < size:
            break
        code = buf & ((1 << size) - 1)
        buf >>= size
        nb -= size
        if code == clear:
            table, size, prev = table[:clear + 2], min_size + 1, None
            continue
        if code == eoi:
            break
        if prev is None:
            entry = table[code]
        else:
            entry = table[code] if code < len(table) else prev + prev[:1]
            if len(table) < 4096:
                table.append(prev + entry[:1])
                if len(table) == 1 << size and size < 12:
                    size += 1
        out += entry
        prev = entry
    return bytes(out)

def gif_frames(path):
    """Every frame as it is shown: (h,w,3) RGB, honouring offsets and transparency."""
    d = open(path, 'rb').read()
    w, h, flags = struct.unpack('<HHB', d[6:11])
    ncol = 2 << (flags & 7)
    pal = np.frombuffer(d[13:13 + 3 * ncol], np.uint8).reshape(-1, 3)
    pos = 13 + 3 * ncol
    screen = np.zeros((h, w), np.int64)
    frames, transp = [], None
    while d[pos] != 0x3B:
        if d[pos] == 0x21:
            label = d[pos + 1]
            pos += 2
            while d[pos] != 0:
                if label == 0xF9:
                    transp = d[pos + 4] if d[pos + 1] & 1 else None
                pos += 1 + d[pos]
            pos += 1
            continue
        x, y, fw, fh, fl = struct.unpack('<HHHHB', d[pos + 1:pos + 10])
        assert not fl & 0xC0, 'local palettes and interlace are not used'
        pos += 10
        min_size = d[pos]
        pos += 1
        data = bytearray()
        while d[pos] != 0:
            data += d[pos + 1:pos + 1 + d[pos]]
            pos += 1 + d[pos]
        pos += 1
        idx = np.frombuffer(lzw_decode(bytes(data), min_size), np.uint8)[:fw * fh].astype(np.int64)
        assert idx.size == fw * fh, 'short LZW data'
        idx = idx.reshape(fh, fw)
        region = screen[y:y + fh, x:x + fw]
        region[...] = idx if transp is None else np.where(idx == transp, region, idx)
        frames.append(pal[screen].astype(np.int64))
    return frames
EOF
}

# frame FILE PTS LABELS DOMAINS: write one frame (points (N,2) float32, labels, domains).
frame() {
	py "
pts = np.asarray($2, dtype='<f4').reshape(-1, 2)
lab = np.asarray($3, dtype='u1'); dom = np.asarray($4, dtype='u1')
with open(sys.argv[1], 'wb') as f:
    for a in (pts, lab, dom): np.save(f, a)" "$1"
}

# clusters FILE K N: a frame of N points in 10 clusters, moved by K (so frames differ).
clusters() {
	py "
rng = np.random.default_rng(7); n = int(sys.argv[3]); k = float(sys.argv[2])
lab = rng.integers(0, 10, n).astype('u1'); dom = (np.arange(n) % 2).astype('u1')
a = lab * 0.628
pts = np.stack([np.cos(a), np.sin(a)], 1) * 20 + rng.normal(size=(n, 2)) * 2
pts[dom == 1] += (3 - k) * 4
with open(sys.argv[1], 'wb') as f:
    for x in (pts.astype('<f4'), lab, dom): np.save(f, x)" "$1" "$2" "$3"
}

img() { "$PYTHON" -c "import sys; sys.path.insert(0, '$T'); from img import *; $1" "${@:2}"; }

@test "--help prints usage on stdout, exit 0; unknown option is exit 2" {
	run --separate-stderr plot-frames --help
	[ "$status" -eq 0 ]
	[[ "$output" == usage:* ]]
	[[ "$output" == *"--tween"* && "$output" == *"--output-dir"* ]]
	run --separate-stderr plot-frames --no-such-option
	assert_fails_cleanly 2 plot-frames "option"
	run --separate-stderr plot-frames --tween x -O "$T/o" a.npy
	assert_fails_cleanly 2 plot-frames "tween"
	run --separate-stderr plot-frames --color rainbow -O "$T/o" a.npy
	assert_fails_cleanly 2 plot-frames "color"
}

@test "frames are valid PNGs with the IHDR size asked, default 800x600" {
	clusters "$T/a.npy" 0 200
	clusters "$T/b.npy" 3 200
	run --separate-stderr plot-frames -q -O "$T/out" "$T/a.npy" "$T/b.npy"
	[ "$status" -eq 0 ]
	[ -f "$T/out/frame-0000.png" ] && [ -f "$T/out/frame-0001.png" ]
	[ ! -e "$T/out/frame-0002.png" ]
	[ "$(img 'print(*png_size(sys.argv[1]))' "$T/out/frame-0001.png")" = "800 600 8 2" ]
	run --separate-stderr plot-frames -q --size 320x240 --color class -O "$T/small" "$T/a.npy"
	[ "$status" -eq 0 ]
	[ "$(img 'print(*png_size(sys.argv[1]))' "$T/small/frame-0000.png")" = "320 240 8 2" ]
}

@test "a single source point draws blue at its place; the background stays white" {
	frame "$T/one.npy" '[[5.0, -3.0]]' '[4]' '[0]'
	plot-frames -q --bare --alpha 1 --radius 4 --size 120x90 -O "$T/o" "$T/one.npy"
	img '
a = png_read(sys.argv[1]); h, w, _ = a.shape
# One point: it sits at the centre of the plot area, which --bare makes the whole image.
cy, cx = h // 2, w // 2
assert tuple(a[cy, cx]) == (0, 114, 178), a[cy, cx]          # opaque source blue
white = np.all(a == 255, axis=2)
ys, xs = np.nonzero(~white)
assert len(ys) > 30, len(ys)                                    # a disc, not a dot
assert np.all(np.hypot(ys + 0.5 - h / 2, xs + 0.5 - w / 2) <= 4 + 1.0)  # nothing outside it
assert white[0, 0] and white[h - 1, w - 1] and white[cy, cx + 8] and white[cy - 8, cx]
# anti-aliased edge: some partial blends between white and blue
edge = a[~white & ~np.all(a == (0, 114, 178), axis=2)]
assert len(edge) > 0 and np.all(edge[:, 2] > edge[:, 0])
' "$T/o/frame-0000.png"
}

@test "source left/above is blue, target right/below is red; default markers are translucent" {
	frame "$T/two.npy" '[[-1, 1], [1, -1]]' '[0, 0]' '[0, 1]'
	plot-frames -q --bare --radius 5 --size 200x200 -O "$T/o" "$T/two.npy"
	img '
a = png_read(sys.argv[1]); h, w, _ = a.shape
nonwhite = ~np.all(a == 255, axis=2)
blue = nonwhite & (a[:, :, 2] > a[:, :, 0] + 40)
red = nonwhite & (a[:, :, 0] > a[:, :, 2] + 40)
by, bx = np.nonzero(blue); ry, rx = np.nonzero(red)
assert len(bx) > 10 and len(rx) > 10
assert bx.max() < w / 2 and by.max() < h / 2    # source (-1, 1): left, and y up is above
assert rx.min() > w / 2 and ry.min() > h / 2    # target (1, -1): right, below
assert np.all(a[h // 2, w // 2] == 255)
# translucent (alpha 0.6 over white): the centre of a marker is lighter than the pure colour
c = a[int(by.mean()), int(bx.mean())]
assert c[0] > 60 and c[2] > 178, c
' "$T/o/frame-0000.png"
}

@test "the GIF has key frames plus tweens, a loop, a longer last pause; frames look right" {
	clusters "$T/a.npy" 0 300
	clusters "$T/b.npy" 2 300
	clusters "$T/c.npy" 3 300
	run --separate-stderr plot-frames -q --tween 3 --delay 7 --last-delay 222 --size 240x180 \
		--gif "$T/anim.gif" -O "$T/out" "$T/a.npy" "$T/b.npy" "$T/c.npy"
	[ "$status" -eq 0 ]
	img '
w, h, n, delays, loop = gif_info(sys.argv[1])
assert (w, h) == (240, 180), (w, h)
assert n == 3 + 2 * 3, n                 # 3 key frames, 3 tweens in each of the 2 gaps
assert len(delays) == n
assert delays[-1] == 222 and delays[1] == 7 and delays[0] == 28, delays  # key frames: 4 x delay
assert loop == 0                          # NETSCAPE2.0, loop forever
' "$T/anim.gif"
	# the PNG frames are the same sequence, and the GIF shows them (256 colours, no dither)
	[ "$(ls "$T/out" | wc -l)" -eq 9 ]
	[ -f "$T/out/frame-0008.png" ]
	img '
g = gif_frames(sys.argv[1])
assert len(g) == 9
for i in (0, 1, 5, 8):
    p = png_read(sys.argv[2] + "/frame-%04d.png" % i)
    d = np.abs(g[i] - p).sum(axis=2)
    assert d.mean() < 2.0 and d.max() < 90, (i, d.mean(), d.max())
    white = np.all(p == 255, axis=2)
    assert np.all(g[i][white] == 255)       # background exactly background
' "$T/anim.gif" "$T/out"
	# tween frames differ from their neighbours
	! cmp -s "$T/out/frame-0000.png" "$T/out/frame-0001.png"
}

@test "GIF without tweens and with --loop; one frame" {
	clusters "$T/a.npy" 0 100
	plot-frames -q --loop 2 --size 160x120 --gif "$T/one.gif" "$T/a.npy"
	[ "$(img 'w, h, n, d, l = gif_info(sys.argv[1]); print(n, l, d[-1])' "$T/one.gif")" = "1 2 250" ]
}

@test "deterministic: the same input gives the same bytes; --seed changes the draw order" {
	clusters "$T/a.npy" 0 400
	clusters "$T/b.npy" 3 400
	for r in 1 2; do
		plot-frames -q --tween 1 -O "$T/o$r" --gif "$T/a$r.gif" --sheet "$T/s$r.png" "$T/a.npy" "$T/b.npy"
	done
	OMP_NUM_THREADS=1 plot-frames -q --tween 1 -O "$T/o1t" "$T/a.npy" "$T/b.npy"
	for f in frame-0000.png frame-0001.png frame-0002.png; do
		cmp "$T/o1/$f" "$T/o2/$f"
		cmp "$T/o1/$f" "$T/o1t/$f"   # the thread count does not matter
	done
	cmp "$T/a1.gif" "$T/a2.gif"
	cmp "$T/s1.png" "$T/s2.png"
	plot-frames -q --seed 99 -O "$T/o3" "$T/a.npy"
	! cmp -s "$T/o1/frame-0000.png" "$T/o3/frame-0000.png"
}

@test "titles from a file, UTF-8 (· λ) rendered; a wrong line count is an error" {
	clusters "$T/a.npy" 0 100
	clusters "$T/b.npy" 1 100
	printf 'step 0 · λ 0.00\nstep 4200 · λ 0.87 · target accuracy 91.3%%\n' >"$T/titles.txt"
	plot-frames -q --titles "$T/titles.txt" -O "$T/t" "$T/a.npy" "$T/b.npy"
	plot-frames -q --title "other" -O "$T/u" "$T/a.npy" "$T/b.npy"
	! cmp -s "$T/t/frame-0001.png" "$T/u/frame-0001.png"
	# the title band holds dark text pixels
	img 'a = png_read(sys.argv[1]); band = a[8:32, :, :]; assert (band.max(axis=2) < 80).sum() > 100' \
		"$T/t/frame-0001.png"
	printf 'only one\n' >"$T/short.txt"
	run --separate-stderr plot-frames -q --titles "$T/short.txt" -O "$T/v" "$T/a.npy" "$T/b.npy"
	assert_fails_cleanly 1 plot-frames "1 title lines for 2 frames"
}

@test "contact sheet: a PNG holding every key frame" {
	for k in 0 1 2 3 4; do clusters "$T/f$k.npy" "$k" 100; done
	plot-frames -q --thumb 200x150 --sheet-cols 3 --sheet "$T/sheet.png" "$T"/f?.npy
	read -r w h _ _ < <(img 'print(*png_size(sys.argv[1]))' "$T/sheet.png")
	[ "$w" -eq $((10 + 3 * (200 + 10))) ]   # 3 columns of 200 px with 10 px gaps
	[ "$h" -gt $((2 * 150)) ]               # 2 rows plus the legend band
}

@test "a file may hold several frames back to back; stdin works" {
	clusters "$T/a.npy" 0 50
	clusters "$T/b.npy" 3 50
	cat "$T/a.npy" "$T/b.npy" >"$T/both.npy"
	plot-frames -q -O "$T/o" - <"$T/both.npy"
	[ -f "$T/o/frame-0001.png" ] && [ ! -e "$T/o/frame-0002.png" ]
}

@test "bad input: frames with different N" {
	clusters "$T/a.npy" 0 100
	clusters "$T/b.npy" 0 120
	run --separate-stderr plot-frames -O "$T/o" "$T/a.npy" "$T/b.npy"
	assert_fails_cleanly 1 plot-frames "120 points, but the first frame has 100"
	[ ! -e "$T/o/frame-0000.png" ]
}

@test "bad input: a NaN point, an infinite point, labels/domains out of range, wrong dtype" {
	frame "$T/nan.npy" '[[0, 0], [np.nan, 1], [2, 2]]' '[0, 1, 2]' '[0, 1, 0]'
	run --separate-stderr plot-frames -O "$T/o" "$T/nan.npy"
	assert_fails_cleanly 1 plot-frames "point 1 is not finite"
	frame "$T/inf.npy" '[[0, 0], [1, np.inf]]' '[0, 1]' '[0, 1]'
	run --separate-stderr plot-frames -O "$T/o" "$T/inf.npy"
	assert_fails_cleanly 1 plot-frames "point 1 is not finite"
	frame "$T/lab.npy" '[[0, 0], [1, 1]]' '[0, 12]' '[0, 1]'
	run --separate-stderr plot-frames -O "$T/o" "$T/lab.npy"
	assert_fails_cleanly 1 plot-frames "label 12"
	frame "$T/dom.npy" '[[0, 0], [1, 1]]' '[0, 1]' '[0, 2]'
	run --separate-stderr plot-frames -O "$T/o" "$T/dom.npy"
	assert_fails_cleanly 1 plot-frames "domain 2"
	py 'f = open(sys.argv[1], "wb"); np.save(f, np.zeros((3, 2), "<f8")); np.save(f, np.zeros(3, "u1")); np.save(f, np.zeros(3, "u1"))' "$T/f64.npy"
	run --separate-stderr plot-frames -O "$T/o" "$T/f64.npy"
	[ "$status" -eq 1 ]
	py 'f = open(sys.argv[1], "wb"); np.save(f, np.zeros((3, 3), "<f4")); np.save(f, np.zeros(3, "u1")); np.save(f, np.zeros(3, "u1"))' "$T/n3.npy"
	run --separate-stderr plot-frames -O "$T/o" "$T/n3.npy"
	assert_fails_cleanly 1 plot-frames "points"
	[ ! -e "$T/o/frame-0000.png" ]
}

@test "bad input: truncated frames, a missing file" {
	clusters "$T/a.npy" 0 100
	head -c 1000 "$T/a.npy" >"$T/cut.npy"
	run --separate-stderr plot-frames -O "$T/o" "$T/cut.npy"
	assert_fails_cleanly 1 plot-frames "cut.npy"
	py 'f = open(sys.argv[1], "wb"); np.save(f, np.zeros((3, 2), "<f4")); np.save(f, np.zeros(3, "u1"))' "$T/nodom.npy"
	run --separate-stderr plot-frames -O "$T/o" "$T/nodom.npy"
	assert_fails_cleanly 1 plot-frames "domains"
	run --separate-stderr plot-frames -O "$T/o" "$T/missing.npy"
	assert_fails_cleanly 1 plot-frames "missing.npy"
}

@test "bad output: unwritable folder, sheet and GIF paths; nothing half-written" {
	clusters "$T/a.npy" 0 50
	: >"$T/file"
	run --separate-stderr plot-frames -O "$T/file/sub" "$T/a.npy"
	assert_fails_cleanly 1 plot-frames "file/sub"
	# an output file that cannot be created is a usage error, before any drawing
	run --separate-stderr plot-frames --gif "$T/file/x.gif" "$T/a.npy"
	assert_fails_cleanly 2 plot-frames "x.gif: cannot create"
	run --separate-stderr plot-frames --sheet "$T/nodir/x.png" "$T/a.npy"
	assert_fails_cleanly 2 plot-frames "x.png: cannot create"
	[ -z "$(ls "$T/nodir" 2>/dev/null)" ]
	# a full disk
	run --separate-stderr plot-frames --gif /dev/full "$T/a.npy"
	assert_fails_cleanly 1 plot-frames "No space left|[Ww]rite"
	run --separate-stderr plot-frames --sheet /dev/full "$T/a.npy"
	assert_fails_cleanly 1 plot-frames "[Ww]rite"
}

@test "usage errors: no operands, no output; -o and --curves point to the new spellings" {
	clusters "$T/a.npy" 0 50
	run --separate-stderr plot-frames "$T/a.npy"
	assert_fails_cleanly 2 plot-frames "nothing to write"
	run --separate-stderr plot-frames -O "$T/o"
	assert_fails_cleanly 2 plot-frames "operand"
	run --separate-stderr plot-frames -o "$T/o" "$T/a.npy"
	assert_fails_cleanly 2 plot-frames "-O DIR"
	[ ! -e "$T/o" ]
	run --separate-stderr plot-frames --curves "$T/a.npy"
	assert_fails_cleanly 2 plot-frames "plot-curves"
	# the folder is made with its parents, only once the frames are read and checked
	run --separate-stderr plot-frames -q --output-dir "$T/new/sub" "$T/a.npy"
	[ "$status" -eq 0 ] && [ -f "$T/new/sub/frame-0000.png" ]
	frame "$T/bad.npy" '[[0, 0], [np.nan, 1]]' '[0, 1]' '[0, 1]'
	run --separate-stderr plot-frames -O "$T/never" "$T/bad.npy"
	assert_fails_cleanly 1 plot-frames "not finite"
	[ ! -e "$T/never" ]
	run --separate-stderr plot-frames --size 10x10 -O "$T/o" "$T/a.npy"
	assert_fails_cleanly 2 plot-frames "size"
}

# Extreme but finite coordinates (up to float's +-3.4e38, spans that overflow float,
# tiny ones) are drawn: two points at opposite corners of the plot area, short tick labels.
@test "extreme but finite coordinates are drawn, in frames, tweens and the GIF" {
	local case n=0
	for case in '[[-3e38, -3e38], [3.4e38, 3e38]]' '[[1e30, 5e29], [1.000001e30, 5.1e29]]' \
		'[[-1e38, 0], [-1e38, 1e-30]]' '[[1e-45, 0], [0, 1e-45]]' '[[1e20, -1e20], [-1e20, 1e20]]'; do
		n=$((n + 1))
		frame "$T/x$n.npy" "$case" '[1, 2]' '[0, 1]'
		run --separate-stderr plot-frames -q --size 320x240 --alpha 1 --radius 5 -O "$T/f$n" "$T/x$n.npy"
		[ "$status" -eq 0 ] || { echo "$case: $stderr"; false; }
		# --bare: no legend, so the blue and red pixels are the points themselves
		run --separate-stderr plot-frames -q --bare --size 320x240 --alpha 1 --radius 5 -O "$T/f$n" "$T/x$n.npy"
		[ "$status" -eq 0 ] || { echo "$case: $stderr"; false; }
		img '
a = png_read(sys.argv[1])
blue = np.all(a == (0, 114, 178), axis=2); red = np.all(a == (213, 94, 0), axis=2)
assert blue.sum() + red.sum() > 40 or (blue.sum() > 20 and red.sum() > 0), (sys.argv[2], blue.sum(), red.sum())
' "$T/f$n/frame-0000.png" "$case"
		run --separate-stderr plot-frames -q --size 320x240 --tween 3 --gif "$T/g$n.gif" "$T/x$n.npy" "$T/x$n.npy"
		[ "$status" -eq 0 ] || { echo "$case (gif): $stderr"; false; }
	done
}

@test "points whose difference overflows float tween without losing a point" {
	frame "$T/a.npy" '[[-3.4e38, 0], [3.4e38, 0]]' '[1, 2]' '[0, 1]'
	frame "$T/b.npy" '[[3.4e38, 0], [-3.4e38, 0]]' '[1, 2]' '[0, 1]'
	plot-frames -q --bare --size 320x240 --alpha 1 --radius 5 --tween 1 -O "$T/o" "$T/a.npy" "$T/b.npy"
	# the tween halfway: both points meet in the middle, both still drawn (Inf would drop them)
	img '
a = png_read(sys.argv[1])
blue = np.all(a == (0, 114, 178), axis=2); red = np.all(a == (213, 94, 0), axis=2)
assert blue.sum() + red.sum() > 20, (blue.sum(), red.sum())  # both meet in the middle
' "$T/o/frame-0001.png"
}
