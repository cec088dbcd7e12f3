#!/usr/bin/env bats
# mnistm-gen: recipes, determinism, slices, bad input.  Fixtures are tiny and made here.
bats_require_minimum_version 1.5.0
load helper

setup_file() {
	# fx.py: fixture maker and checker, `$PYTHON fx.py COMMAND ARGS...`
	cat > "$BATS_FILE_TMPDIR/fx.py" <<'EOF'
import os, sys, struct, zlib
import numpy as np

def save(path, *arrays):
    with open(path, 'wb') as f:
        for a in arrays:
            np.save(f, a)

def load(path, n=2):
    with open(path, 'rb') as f:
        return [np.load(f) for _ in range(n)]

def png(path, a):
    """Write an (h,w,3) or (h,w) uint8 array as a PNG with zlib alone (no imaging library)."""
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    a = np.ascontiguousarray(a, dtype=np.uint8)
    h, w = a.shape[:2]
    ctype = 2 if a.ndim == 3 else 0
    raw = b''.join(b'\x00' + a[y].tobytes() for y in range(h))
    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, ctype, 0, 0, 0))
                + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))

def digits(n, h, w, seed=0):
    """n random 'digits': a mix of zeros, small values and strokes, labels cycling 0..9."""
    r = np.random.default_rng(seed)
    im = r.integers(0, 256, size=(n, h, w), dtype=np.uint8)
    im[r.random((n, h, w)) < 0.5] = 0
    return im, (np.arange(n) % 10).astype(np.uint8)

cmd = sys.argv[1]
a = sys.argv[2:]
if cmd == 'digits':                      # digits OUT N H W
    save(a[0], *digits(int(a[1]), int(a[2]), int(a[3])))
elif cmd == 'png':                       # png OUT H W SEED
    r = np.random.default_rng(int(a[3]))
    png(a[0], r.integers(0, 256, size=(int(a[1]), int(a[2]), 3), dtype=np.uint8))
elif cmd == 'sheet-check':              # sheet-check SHEET.png OUT.npy K SCALE: tiles = images
    raw = open(a[0], 'rb').read()
    assert raw[:8] == b'\x89PNG\r\n\x1a\n'
    pos, idat, w = 8, b'', 0
    while pos < len(raw):
        n = int.from_bytes(raw[pos:pos + 4], 'big'); t = raw[pos + 4:pos + 8]; d = raw[pos + 8:pos + 8 + n]
        if t == b'IHDR':
            w, h, depth, ctype = int.from_bytes(d[0:4], 'big'), int.from_bytes(d[4:8], 'big'), d[8], d[9]
            assert depth == 8 and ctype == 2 and d[12] == 0, 'expected 8-bit RGB, not interlaced'
        elif t == b'IDAT':
            idat += d
        pos += 12 + n
    data = zlib.decompress(idat); stride = 3 * w
    img = np.zeros((h, stride), np.int64); prev = np.zeros(stride, np.int64)
    for y in range(h):           # PNG row filters 0..4
        f = data[y * (stride + 1)]; row = np.frombuffer(data, np.uint8, stride, y * (stride + 1) + 1).astype(np.int64)
        out = np.zeros(stride, np.int64)
        for x in range(stride):
            left = out[x - 3] if x >= 3 else 0; up = prev[x]; ul = prev[x - 3] if x >= 3 else 0
            if f == 0: pr = 0
            elif f == 1: pr = left
            elif f == 2: pr = up
            elif f == 3: pr = (left + up) // 2
            else:
                p = left + up - ul; pa, pb, pc = abs(p - left), abs(p - up), abs(p - ul)
                pr = left if pa <= pb and pa <= pc else (up if pb <= pc else ul)
            out[x] = (row[x] + pr) & 255
        img[y] = out; prev = out
    img = img.reshape(h, w, 3)
    rgb = load(a[1])[0]; k, z = int(a[2]), int(a[3])
    th, tw = rgb.shape[1] * z, rgb.shape[2] * z
    cols = int(np.ceil(np.sqrt(k)))
    for i in range(k):
        y0, x0 = 2 + (i // cols) * (th + 2), 2 + (i % cols) * (tw + 2)
        tile = img[y0:y0 + th, x0:x0 + tw]
        assert (tile == np.repeat(np.repeat(rgb[i], z, 0), z, 1)).all(), 'tile %d is not image %d' % (i, i)
    print('sheet ok', w, h)
elif cmd == 'slice':                     # slice IN OUT LO HI
    im, lb = load(a[0])
    save(a[1], im[int(a[2]):int(a[3])], lb[int(a[2]):int(a[3])])
else:
    sys.exit('fx.py: unknown command ' + cmd)
EOF
}

fx() { "$PYTHON" "$BATS_FILE_TMPDIR/fx.py" "$@"; }
# hlen FILE: bytes of the first NPY v1.0 header (10 + the little-endian uint16 at offset 8)
hlen() { echo $(($(od -An -tu2 -j8 -N2 "$1") + 10)); }

@test "--help prints usage on stdout and exits 0; unknown option is a usage error" {
	run --separate-stderr mnistm-gen --help
	[ "$status" -eq 0 ]
	[[ "$output" == usage:* ]]
	[[ "$output" == *--recipe* ]]
	run --separate-stderr mnistm-gen --no-such-option
	assert_fails_cleanly 2 mnistm-gen "unknown option.*'--no-such-option'"
	run --separate-stderr mnistm-gen --seed
	assert_fails_cleanly 2 mnistm-gen "missing value: '--seed'"
}

@test "messages: -q says nothing, -v reports on stderr, --progress goes to stderr only" {
	fx digits "$T/d.npy" 50 6 6
	fx png "$T/bg/a.png" 10 10 1
	run --separate-stderr mnistm-gen -q --progress --recipe bsds --backgrounds "$T/bg" --size 0 "$T/d.npy" -o "$T/o.npy"
	[ "$status" -eq 0 ] && [ -z "$output" ] && [ -z "$stderr" ]
	run --separate-stderr mnistm-gen -v --recipe bsds --backgrounds "$T/bg" --size 0 "$T/d.npy" -o "$T/o.npy"
	[ "$status" -eq 0 ] && [ -z "$output" ]
	[[ "$stderr" == *"mnistm-gen: 1 photos from $T/bg decoded"* ]]
	[[ "$stderr" == *"mnistm-gen: 50 images of 6x6x3 in"* ]]
	run --separate-stderr mnistm-gen --progress "$T/d.npy" -o "$T/o.npy"
	[ "$status" -eq 0 ] && [ -z "$output" ]
	[[ "$stderr" == *"images: 50/50 (100%)"* ]]
}

@test "usage errors: bad numbers, bad recipe, bsds without backgrounds, two operands" {
	fx digits "$T/d.npy" 16 6 6
	run --separate-stderr mnistm-gen --threshold 256 "$T/d.npy"
	assert_fails_cleanly 2 mnistm-gen "threshold.*out of range"
	run --separate-stderr mnistm-gen --size -1 "$T/d.npy"
	assert_fails_cleanly 2 mnistm-gen "size.*out of range"
	run --separate-stderr mnistm-gen --size 1025 "$T/d.npy"
	assert_fails_cleanly 2 mnistm-gen "size.*out of range"
	run --separate-stderr mnistm-gen --fit crop "$T/d.npy"
	assert_fails_cleanly 2 mnistm-gen "--fit: 'crop' is not pad or resize"
	run --separate-stderr mnistm-gen --fit pad --size 5 "$T/d.npy"
	assert_fails_cleanly 2 mnistm-gen "cannot pad 6x6 digits into 5x5 images"
	run --separate-stderr mnistm-gen --seed x1 "$T/d.npy"
	assert_fails_cleanly 2 mnistm-gen "seed.*not an integer"
	run --separate-stderr mnistm-gen --offset -1 "$T/d.npy"
	assert_fails_cleanly 2 mnistm-gen "offset.*out of range"
	run --separate-stderr mnistm-gen --recipe paint "$T/d.npy"
	assert_fails_cleanly 2 mnistm-gen "recipe"
	run --separate-stderr mnistm-gen --recipe bsds "$T/d.npy"
	assert_fails_cleanly 2 mnistm-gen "needs --backgrounds"
	run --separate-stderr mnistm-gen --mask binary "$T/d.npy"
	assert_fails_cleanly 2 mnistm-gen "bsds only"
	run --separate-stderr mnistm-gen "$T/d.npy" "$T/d.npy"
	assert_fails_cleanly 2 mnistm-gen "at most one"
	run --separate-stderr mnistm-gen --sheet - "$T/d.npy"
	assert_fails_cleanly 2 mnistm-gen "sheet needs a file name"
	# a sheet too large to write is refused before any work, and leaves no files
	run --separate-stderr mnistm-gen --size 1024 --sheet-scale 16 --sheet "$T/s.png" "$T/d.npy" -o "$T/o.npy"
	assert_fails_cleanly 1 mnistm-gen "too large"
	[ ! -e "$T/s.png" ] && [ ! -e "$T/o.npy" ] || { ls -la "$T"; false; }
	[ -z "$(ls "$T" | grep tmp)" ] || { ls -la "$T"; false; }
}

@test "noise: digit pixels are 255-v on every channel, the rest about uniform over 0..255" {
	# 400 digits of 8x8 holding every value 0..255; threshold 30 (default) and 100
	fx digits "$T/d.npy" 400 8 8
	for th in default 100; do
		if [ $th = default ]; then opt=(); t=30; else opt=(--threshold $th); t=$th; fi
		mnistm-gen --seed 3 "${opt[@]}" "$T/d.npy" -o "$T/o.npy"
		py '
d = open(sys.argv[1], "rb"); im = np.load(d); lb = np.load(d)
o = open(sys.argv[2], "rb"); rgb = np.load(o); lb2 = np.load(o)
t = int(sys.argv[3])
assert rgb.shape == im.shape + (3,) and rgb.dtype == np.uint8, rgb.shape
assert (lb == lb2).all()
fg = im > t
for c in range(3):
    assert (rgb[..., c][fg] == 255 - im[fg]).all(), "digit pixels are not 255-v"
bg = rgb[~fg].ravel()
h = np.bincount(bg, minlength=256)
e = bg.size / 256
chi2 = ((h - e) ** 2 / e).sum()
# 255 degrees of freedom: mean 255, sd 22.6; 400 is beyond 6 sd
assert h.min() > 0 and chi2 < 400, (h.min(), chi2)
# the background is not grey: channels differ from each other
assert (rgb[~fg][:, 0] != rgb[~fg][:, 1]).mean() > 0.9
print("ok", bg.size, chi2)
' "$T/d.npy" "$T/o.npy" $t
	done
}

@test "determinism: same seed same bytes, other seed other bytes, thread count irrelevant" {
	fx digits "$T/d.npy" 300 10 10
	fx png "$T/bg/a.png" 40 30 1
	fx png "$T/bg/b.png" 25 50 2
	for r in noise "bsds --backgrounds $T/bg --size 0"; do
		mnistm-gen --recipe $r --seed 5 "$T/d.npy" > "$T/a.npy"
		mnistm-gen --recipe $r --seed 5 < "$T/d.npy" > "$T/b.npy"
		OMP_NUM_THREADS=1 mnistm-gen --recipe $r --seed 5 "$T/d.npy" > "$T/c.npy"
		OMP_NUM_THREADS=2 mnistm-gen --recipe $r --seed 5 "$T/d.npy" > "$T/e.npy"
		mnistm-gen --recipe $r --seed 6 "$T/d.npy" > "$T/f.npy"
		cmp "$T/a.npy" "$T/b.npy"
		cmp "$T/a.npy" "$T/c.npy"
		cmp "$T/a.npy" "$T/e.npy"
		! cmp -s "$T/a.npy" "$T/f.npy"
		# no --seed is --seed 1, as in every tool
		mnistm-gen --recipe $r "$T/d.npy" > "$T/g.npy"
		mnistm-gen --recipe $r --seed 1 "$T/d.npy" > "$T/h.npy"
		cmp "$T/g.npy" "$T/h.npy"
	done
}

@test "slice independence: a slice made with --offset equals that slice of the whole run" {
	# 9000 images: more than two internal chunks of 4096, so chunk borders are crossed too
	fx digits "$T/d.npy" 9000 6 6
	fx png "$T/bg/a.png" 20 20 1
	fx png "$T/bg/b.png" 30 12 2
	fx slice "$T/d.npy" "$T/s.npy" 4000 8500
	for r in noise "bsds --backgrounds $T/bg"; do
		for sz in 6 9; do
			mnistm-gen --recipe $r --size $sz --seed 11 "$T/d.npy" -o "$T/whole.npy"
			mnistm-gen --recipe $r --size $sz --seed 11 --offset 4000 "$T/s.npy" -o "$T/part.npy"
			# images 4000..8499 of the whole run, byte for byte (B bytes an image)
			b=$((sz * sz * 3))
			cmp -n $((4500 * b)) "$T/whole.npy" "$T/part.npy" $(($(hlen "$T/whole.npy") + 4000 * b)) $(hlen "$T/part.npy")
			# without the offset the slice is different
			mnistm-gen --recipe $r --size $sz --seed 11 "$T/s.npy" -o "$T/part0.npy"
			! cmp -s -n $((4500 * b)) "$T/whole.npy" "$T/part0.npy" $(($(hlen "$T/whole.npy") + 4000 * b)) $(hlen "$T/part0.npy")
		done
	done
}

@test "memory does not grow with N: 10,000 and 40,000 images peak within 4 MB" {
	[ -x /usr/bin/time ] || skip "/usr/bin/time not installed (Debian package time)"
	for n in 10000 40000; do
		py 'f = open(sys.argv[1], "wb"); n = int(sys.argv[2]); np.save(f, np.full((n, 28, 28), 200, np.uint8)); np.save(f, np.zeros(n, np.uint8))' "$T/z$n.npy" $n
		/usr/bin/time -f %M -o "$T/rss$n" mnistm-gen "$T/z$n.npy" -o /dev/null
	done
	small=$(cat "$T/rss10000") big=$(cat "$T/rss40000")
	echo "peak RSS: $small KB for 10000, $big KB for 40000"
	# 40,000 output images are 94 MB: holding them would show
	[ $((big - small)) -lt 4096 ]
}

@test "bsds: background as large as the digit gives exactly |photo - digit|" {
	fx digits "$T/d.npy" 50 5 7
	fx png "$T/bg/only.png" 5 7 42
	mnistm-gen --recipe bsds --backgrounds "$T/bg" --size 0 --mask gray --seed 2 "$T/d.npy" -o "$T/o.npy"
	mnistm-gen --recipe bsds --backgrounds "$T/bg" --size 0 --mask binary --threshold 90 --seed 2 "$T/d.npy" -o "$T/b.npy"
	py '
import zlib
raw = open(sys.argv[3], "rb").read()
# decode our own uncompressed-filter-0 PNG: IDAT after the 8-byte signature and 25-byte IHDR
i = raw.index(b"IDAT"); n = int.from_bytes(raw[i-4:i], "big")
px = np.frombuffer(zlib.decompress(raw[i+4:i+4+n]), np.uint8).reshape(5, 1 + 7*3)[:, 1:].reshape(5, 7, 3).astype(int)
f = open(sys.argv[1], "rb"); im = np.load(f).astype(int)
o = open(sys.argv[2], "rb"); rgb = np.load(o); lb = np.load(o)
want = np.abs(px[None] - im[..., None])
assert rgb.shape == (50, 5, 7, 3)
assert (rgb == want).all()
b = open(sys.argv[4], "rb"); rgbb = np.load(b)
mask = np.where(im > 90, 255, 0)
assert (rgbb == np.abs(px[None] - mask[..., None])).all()
' "$T/d.npy" "$T/o.npy" "$T/bg/only.png" "$T/b.npy"
}

@test "bsds: patches are windows of the photos, every top-left position and both photos used" {
	# digits all zero, so each output is the patch itself
	py 'f = open(sys.argv[1], "wb"); np.save(f, np.zeros((3000, 3, 3), np.uint8)); np.save(f, np.zeros(3000, np.uint8))' "$T/z.npy"
	mkdir -p "$T/bg2"
	py '
import struct, zlib
def png(path, a):
    h, w = a.shape[:2]
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(h))
    c = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + c(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + c(b"IDAT", zlib.compress(raw)) + c(b"IEND", b""))
for k, name in ((1, "a"), (2, "b")):
    a = np.zeros((5, 6, 3), np.uint8)
    a[..., 0] = 10 * np.arange(5)[:, None] + np.arange(6)[None]
    a[..., 2] = k
    png(sys.argv[1] + "/" + name + ".png", a)
' "$T/bg2"
	mnistm-gen --recipe bsds --backgrounds "$T/bg2" --size 0 --seed 9 "$T/z.npy" -o "$T/o.npy"
	py '
o = open(sys.argv[1], "rb"); rgb = np.load(o).astype(int)
assert rgb.shape == (3000, 3, 3, 3)
y0 = rgb[:, 0, 0, 0] // 10; x0 = rgb[:, 0, 0, 0] % 10
want = 10 * (y0[:, None, None] + np.arange(3)[None, :, None]) + x0[:, None, None] + np.arange(3)[None, None, :]
assert (rgb[..., 0] == want).all(), "not a window of the photo"
assert (rgb[..., 1] == 0).all()
ph = rgb[:, 0, 0, 2]
assert ((rgb[..., 2] == ph[:, None, None])).all() and set(ph) == {1, 2}
# 2 photos x 4 x 3 positions = 24 cells, 125 expected each
cells = np.bincount((ph - 1) * 12 + y0 * 4 + x0, minlength=24)
assert cells.min() > 70 and cells.max() < 190, cells
' "$T/o.npy"
}

@test "bsds defaults are the published geometry: 32x32, digit unscaled in the centre, mask v > 0" {
	# a 28x28 digit with every grey level, one photo exactly the patch size: the output must be
	# |photo - 255*(v > 0)| with the digit at rows and columns 2..29, the border the photo itself
	py 'f = open(sys.argv[1], "wb"); rng = np.random.default_rng(3)
im = rng.integers(0, 256, (20, 28, 28)).astype(np.uint8); im[:, ::3] = 0
np.save(f, im); np.save(f, np.arange(20, dtype=np.uint8) % 10)' "$T/d.npy"
	fx png "$T/bg/only.png" 32 32 7
	mnistm-gen --recipe bsds --backgrounds "$T/bg" --seed 4 "$T/d.npy" -o "$T/o.npy"
	# the same images from digits already padded to 32x32 (as mnist-fetch --size 32 writes them)
	py 'f = open(sys.argv[1], "rb"); im = np.load(f); lb = np.load(f)
p = np.zeros((len(im), 32, 32), np.uint8); p[:, 2:30, 2:30] = im
g = open(sys.argv[2], "wb"); np.save(g, p); np.save(g, lb)' "$T/d.npy" "$T/d32.npy"
	mnistm-gen --recipe bsds --backgrounds "$T/bg" --seed 4 "$T/d32.npy" -o "$T/o32.npy"
	cmp "$T/o.npy" "$T/o32.npy"
	py '
import zlib
raw = open(sys.argv[3], "rb").read()
i = raw.index(b"IDAT"); n = int.from_bytes(raw[i-4:i], "big")
px = np.frombuffer(zlib.decompress(raw[i+4:i+4+n]), np.uint8).reshape(32, 1 + 32*3)[:, 1:].reshape(32, 32, 3).astype(int)
f = open(sys.argv[1], "rb"); im = np.load(f).astype(int)
o = open(sys.argv[2], "rb"); rgb = np.load(o); lb = np.load(o)
assert rgb.shape == (20, 32, 32, 3), rgb.shape
mask = np.zeros((20, 32, 32), int); mask[:, 2:30, 2:30] = np.where(im > 0, 255, 0)
assert (rgb == np.abs(px[None] - mask[..., None])).all()
assert (lb == np.arange(20) % 10).all()
' "$T/d.npy" "$T/o.npy" "$T/bg/only.png"
	# the earlier defaults stay reachable: gray mask at the input size, bilinear resize
	mnistm-gen --recipe bsds --backgrounds "$T/bg" --seed 4 --mask gray --size 32 --fit resize "$T/d.npy" -o "$T/r.npy"
	! cmp -s "$T/o.npy" "$T/r.npy"
}

@test "--size 32: a constant digit stays constant, shape (N,32,32,3); labels copied" {
	py 'f = open(sys.argv[1], "wb"); np.save(f, np.full((7, 28, 28), 200, np.uint8)); np.save(f, np.arange(7, dtype=np.uint8))' "$T/c.npy"
	mnistm-gen --size 32 --seed 1 "$T/c.npy" -o "$T/o.npy"
	py '
o = open(sys.argv[1], "rb"); rgb = np.load(o); lb = np.load(o)
assert rgb.shape == (7, 32, 32, 3) and rgb.dtype == np.uint8
assert (rgb == 55).all()
assert (lb == np.arange(7)).all()
' "$T/o.npy"
	# (N,H,W,1) input is accepted as grayscale
	py 'f = open(sys.argv[1], "wb"); np.save(f, np.full((3, 4, 4, 1), 99, np.uint8)); np.save(f, np.zeros(3, np.uint8))' "$T/c1.npy"
	mnistm-gen "$T/c1.npy" -o "$T/o1.npy"
	py 'o = open(sys.argv[1], "rb"); r = np.load(o); assert r.shape == (3, 4, 4, 3) and (r == 156).all()' "$T/o1.npy"
}

@test "--sheet writes a PNG contact sheet of the first K images, only for a good run" {
	fx digits "$T/d.npy" 30 28 28
	mnistm-gen --seed 1 --sheet "$T/s.png" --sheet-count 12 --sheet-scale 1 "$T/d.npy" -o "$T/o.npy"
	# 12 images: 4x3 grid of 28x28 tiles with 2-pixel gutters -> 4*30+2 = 122 by 3*30+2 = 92
	py '
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n"
w, h = int.from_bytes(b[16:20], "big"), int.from_bytes(b[20:24], "big")
assert (w, h) == (122, 92), (w, h)
' "$T/s.png"
	# the tiles are the first K output images, in order, zoomed by Z
	mnistm-gen --seed 1 --sheet "$T/s3.png" --sheet-count 5 --sheet-scale 2 "$T/d.npy" -o "$T/o3.npy"
	fx sheet-check "$T/s3.png" "$T/o3.npy" 5 2
	# a bad stream: neither the sheet nor the output appear
	py 'np.save(open(sys.argv[1], "wb"), np.zeros((3, 5, 5), np.uint8))' "$T/nolab.npy"
	run --separate-stderr mnistm-gen --sheet "$T/s2.png" "$T/nolab.npy" -o "$T/o2.npy"
	assert_fails_cleanly 1 mnistm-gen "no labels"
	[ ! -e "$T/s2.png" ] && [ ! -e "$T/o2.npy" ]
	[ -z "$(ls "$T" | grep tmp)" ]
}

# bad input: one line on stderr, exit 1, no output file (not even a temporary one)
fails_without_output() {  # pattern args...
	local pat=$1; shift
	run --separate-stderr mnistm-gen "$@" -o "$T/out.npy"
	assert_fails_cleanly 1 mnistm-gen "$pat"
	[ ! -e "$T/out.npy" ] || { echo "output file left behind"; return 1; }
	[ -z "$(ls "$T" | grep 'out.npy.tmp')" ] || { echo "temporary file left behind"; return 1; }
}

@test "bad streams: not grayscale uint8 images, missing or wrong labels, empty, truncated" {
	py 'f = open(sys.argv[1], "wb"); np.save(f, np.zeros((4, 5, 5), np.float32)); np.save(f, np.zeros(4, np.uint8))' "$T/f32.npy"
	fails_without_output "images: expected uint8 \(N,H,W\)" "$T/f32.npy"
	py 'f = open(sys.argv[1], "wb"); np.save(f, np.zeros((4, 5, 5, 3), np.uint8)); np.save(f, np.zeros(4, np.uint8))' "$T/rgb.npy"
	fails_without_output "images: expected" "$T/rgb.npy"
	py 'f = open(sys.argv[1], "wb"); np.save(f, np.zeros((4, 25), np.uint8)); np.save(f, np.zeros(4, np.uint8))' "$T/r2.npy"
	fails_without_output "images: expected" "$T/r2.npy"
	py 'np.save(open(sys.argv[1], "wb"), np.zeros((4, 5, 5), np.uint8))' "$T/nolab.npy"
	fails_without_output "no labels array" "$T/nolab.npy"
	py 'f = open(sys.argv[1], "wb"); np.save(f, np.zeros((4, 5, 5), np.uint8)); np.save(f, np.zeros(3, np.uint8))' "$T/short.npy"
	fails_without_output "labels: expected uint8 \(4,\)" "$T/short.npy"
	py 'f = open(sys.argv[1], "wb"); np.save(f, np.zeros((4, 5, 5), np.uint8)); np.save(f, np.zeros(4, np.int32))' "$T/i32.npy"
	fails_without_output "labels: expected uint8" "$T/i32.npy"
	py 'f = open(sys.argv[1], "wb"); np.save(f, np.zeros((4, 5, 5), np.uint8)); np.save(f, np.array([1, 2, 10, 3], np.uint8))' "$T/ten.npy"
	fails_without_output "label 10 at index 2 is out of range 0..9" "$T/ten.npy"
	: > "$T/empty.npy"
	fails_without_output "empty stream" "$T/empty.npy"
	fx digits "$T/d.npy" 20 5 5
	head -c 300 "$T/d.npy" > "$T/trunc.npy"
	fails_without_output "truncated" "$T/trunc.npy"
	cat "$T/d.npy" "$T/d.npy" > "$T/twice.npy"
	fails_without_output "another array follows the labels: \(20,5,5\) uint8" "$T/twice.npy"
	{ cat "$T/d.npy"; printf xyz; } > "$T/trailing.npy"
	fails_without_output "unexpected data after the labels" "$T/trailing.npy"
	fails_without_output "No such file" "$T/missing.npy"
}

@test "bad backgrounds: missing, empty, photo smaller than the patch, corrupt JPEG and PNG" {
	fx digits "$T/d.npy" 5 8 8
	fails_without_output "No such file" --recipe bsds --backgrounds "$T/nope" "$T/d.npy"
	mkdir -p "$T/empty" && touch "$T/empty/readme.txt"
	fails_without_output "no photos" --recipe bsds --backgrounds "$T/empty" "$T/d.npy"
	mkdir -p "$T/small" && fx png "$T/small/a.png" 20 20 1 && fx png "$T/small/b.png" 7 30 1
	fails_without_output "b.png: photo is 30x7, smaller than the 8x8 patch" --recipe bsds --backgrounds "$T/small" --size 0 "$T/d.npy"
	# the same photos are fine for a 7x7 output
	mnistm-gen --recipe bsds --backgrounds "$T/small" --size 7 --fit resize "$T/d.npy" > /dev/null
	mkdir -p "$T/badjpg" && fx png "$T/badjpg/a.png" 20 20 1
	printf '\377\330\377\340\000\020JFIF\000garbage garbage garbage' > "$T/badjpg/b.jpg"
	fails_without_output "b.jpg: corrupt JPEG" --recipe bsds --size 0 --backgrounds "$T/badjpg" "$T/d.npy"
	mkdir -p "$T/badpng" && fx png "$T/badpng/a.png" 20 20 1
	head -c 60 "$T/badpng/a.png" > "$T/badpng/c.png"
	fails_without_output "c.png: corrupt PNG" --recipe bsds --size 0 --backgrounds "$T/badpng" "$T/d.npy"
	mkdir -p "$T/crc" && fx png "$T/crc/a.png" 20 20 1
	# flip a byte inside the IDAT data: CRC or zlib error
	py 'b = bytearray(open(sys.argv[1], "rb").read()); b[50] ^= 0xff; open(sys.argv[1], "wb").write(b)' "$T/crc/a.png"
	fails_without_output "a.png: corrupt PNG" --recipe bsds --size 0 --backgrounds "$T/crc" "$T/d.npy"
	mkdir -p "$T/notimg" && echo hello > "$T/notimg/x.jpg"
	fails_without_output "x.jpg: not a JPEG or PNG" --recipe bsds --size 0 --backgrounds "$T/notimg" "$T/d.npy"
}

@test "truncated real JPEG is an error, not a photo with a grey band" {
	need_bsds
	f=$(ls "$BSDS_DIR" | head -n 1)
	mkdir -p "$T/tj"
	head -c 20000 "$BSDS_DIR/$f" > "$T/tj/cut.jpg"
	fx digits "$T/d.npy" 5 8 8
	fails_without_output "cut.jpg: corrupt JPEG" --recipe bsds --size 0 --backgrounds "$T/tj" "$T/d.npy"
}

@test "output errors: full disk is one line and exit 1; a closed pipe is quiet" {
	fx digits "$T/d.npy" 3000 28 28
	run --separate-stderr mnistm-gen "$T/d.npy" -o /dev/full
	assert_fails_cleanly 1 mnistm-gen "write error"
	run --separate-stderr mnistm-gen "$T/d.npy" --sheet /dev/full -o "$T/o.npy"
	assert_fails_cleanly 1 mnistm-gen "/dev/full.*[Ww]rite"
	[ ! -e "$T/o.npy" ]
	run --separate-stderr bash -c 'mnistm-gen "$1" | head -c 100 > /dev/null; echo "${PIPESTATUS[0]}"' _ "$T/d.npy"
	[ -z "$stderr" ]
	[ "$output" -ne 0 ]
}

@test "real data: MNIST test split through bsds at 32x32, as a pipeline" {
	need_mnist
	need_bsds
	py '
import gzip
d = sys.argv[1]
im = np.frombuffer(gzip.open(d + "/t10k-images-idx3-ubyte.gz").read(), np.uint8, offset=16).reshape(-1, 28, 28)
lb = np.frombuffer(gzip.open(d + "/t10k-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
f = open(sys.argv[2], "wb"); np.save(f, im[:2000]); np.save(f, lb[:2000])
' "$MNIST_DIR" "$T/mnist.npy"
	cat "$T/mnist.npy" | mnistm-gen --recipe bsds --backgrounds "$BSDS_DIR" --size 32 --seed 1 \
		--sheet "$T/sheet.png" > "$T/mnistm.npy"
	py '
f = open(sys.argv[1], "rb"); im = np.load(f); lb = np.load(f)
o = open(sys.argv[2], "rb"); rgb = np.load(o); lb2 = np.load(o)
assert rgb.shape == (2000, 32, 32, 3) and (lb == lb2).all()
# colourful: channels differ, and the images are not all alike
assert np.abs(rgb[..., 0].astype(int) - rgb[..., 2]).mean() > 5
assert rgb.reshape(2000, -1).std(axis=0).mean() > 30
' "$T/mnist.npy" "$T/mnistm.npy"
	[ -s "$T/sheet.png" ]
}
