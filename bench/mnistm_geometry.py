#!/usr/bin/python3
"""mnistm_geometry.py - how the published MNIST-M was made, read off its images.

    bench/mnistm_geometry.py MNIST_TRAIN.npy PUBLISHED.npy [PHOTO_DIR [K]]

MNIST_TRAIN.npy: `mnist-fetch --split train` (28x28); PUBLISHED.npy: `mnist-fetch --dataset
mnist-m --split train --allow-partial --mirror ../shared/data/mnist_m_sample`.  Image i of the
published training split was made from MNIST training image i.

1. Placement and mask.  For a guessed placement of the digit in the 32x32 frame and a mask
   (digit value > t), the published pixels under the mask are un-inverted (255 - out); the right
   guess gives back a smooth photo.  Printed: the mean absolute difference between neighbouring
   pixels of that reconstruction, over 500 images, for every offset (0..4, 0..4) unscaled and for
   resizing to 32x32 (needs PIL for the resampling filters).
2. Binary or gray mask.  With the best placement, the residual of each masked pixel against its
   4 neighbours, binned by digit value: flat for a binary mask; a blend with the gray value
   (|p - v|) would predict other pixels.
3. Photos (with PHOTO_DIR): for the first K published images (default 20), the best 32x32
   window of any photo (sum of squared differences by FFT), its RMS, photo, row and column.
   About 2 s per image on one core.
"""
import os
import sys

import numpy as np


def load(path):
    with open(path, "rb") as f:
        return np.load(f), np.load(f)


def tv(p):
    return np.abs(np.diff(p, axis=1)).mean() + np.abs(np.diff(p, axis=2)).mean()


def unmask(out, mask):
    return np.where(mask[..., None], 255.0 - out, out)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    digits, _ = load(sys.argv[1])
    pub, _ = load(sys.argv[2])
    pub = pub.astype(np.float32)
    n = 500
    print("# 1. smoothness of the reconstructed background (lower is smoother), %d images" % n)
    print("none\t%.2f" % tv(pub[:n]))
    best = (1e9, None)
    for dy in range(5):
        for dx in range(5):
            d = np.zeros((n, 32, 32), np.uint8)
            d[:, dy:dy + 28, dx:dx + 28] = digits[:n]
            for t in (0, 20, 50, 127):
                v = tv(unmask(pub[:n], d > t))
                print("pad offset (%d,%d) mask v>%d\t%.2f" % (dy, dx, t, v))
                best = min(best, (v, (dy, dx, t)))
    try:
        from PIL import Image
        for name, flt in (("bilinear", Image.BILINEAR), ("bicubic", Image.BICUBIC),
                          ("lanczos", Image.LANCZOS), ("nearest", Image.NEAREST)):
            d = np.stack([np.array(Image.fromarray(x).resize((32, 32), flt)) for x in digits[:n]])
            for t in (0, 20, 50, 127):
                print("resize %s mask v>%d\t%.2f" % (name, t, tv(unmask(pub[:n], d > t))))
    except ImportError:
        print("(PIL missing: resizing not tried)")
    dy, dx, t = best[1]
    print("best: pad offset (%d,%d), mask v>%d, %.2f" % (dy, dx, t, best[0]))

    m = 2000
    d = np.zeros((m, 32, 32))
    d[:, dy:dy + 28, dx:dx + 28] = digits[:m]
    p = unmask(pub[:m], d > t)
    nb = (p[:, :-2, 1:-1] + p[:, 2:, 1:-1] + p[:, 1:-1, :-2] + p[:, 1:-1, 2:]) / 4
    c, dc, sc = p[:, 1:-1, 1:-1], d[:, 1:-1, 1:-1], pub[:m, 1:-1, 1:-1]
    print("\n# 2. residual against the neighbours by digit value, %d images" % m)
    print("value\tpixels\tbinary_residual\tgray_blend_prediction_error")
    edges = [0, 1, 32, 64, 96, 128, 160, 192, 224, 255, 256]
    for a, b in zip(edges[:-1], edges[1:]):
        sel = (dc >= a) & (dc < b)
        gray = np.abs(sc - np.abs(nb - dc[..., None]))[sel].mean()
        print("%d-%d\t%d\t%.2f\t%.2f" % (a, b - 1, sel.sum(), np.abs(c - nb)[sel].mean(), gray))

    if len(sys.argv) < 4:
        return
    from PIL import Image
    folder = sys.argv[3]
    k = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    size = 512
    photos = []
    for name in sorted(os.listdir(folder)):
        im = np.array(Image.open(os.path.join(folder, name)).convert("RGB"), np.float32)
        h, w, _ = im.shape
        pad = np.zeros((size, size, 3), np.float32)
        pad[:h, :w] = im
        sq = np.pad(np.cumsum(np.cumsum((pad ** 2).sum(2), 0), 1), ((1, 0), (1, 0)))
        win = sq[32:, 32:] - sq[:-32, 32:] - sq[32:, :-32] + sq[:-32, :-32]
        photos.append((name, np.fft.rfft2(pad, axes=(0, 1)), win, h, w))
    print("\n# 3. best window of any photo for each published image (RMS in grey levels)")
    print("image\trms\tphoto\trow\tcolumn")
    for i in range(k):
        dd = np.zeros((32, 32))
        dd[dy:dy + 28, dx:dx + 28] = digits[i]
        tpl = unmask(pub[i][None], (dd > t)[None])[0].astype(np.float32)
        tp = np.zeros((size, size, 3), np.float32)
        tp[:32, :32] = tpl[::-1, ::-1]
        ft = np.fft.rfft2(tp, axes=(0, 1))
        best_i = (1e18,)
        for name, fi, win, h, w in photos:
            cross = np.fft.irfft2((fi * ft).sum(2), s=(size, size))[31:h, 31:w]
            ssd = win[:h - 31, :w - 31] - 2 * cross + (tpl ** 2).sum()
            j = np.argmin(ssd)
            if ssd.flat[j] < best_i[0]:
                best_i = (ssd.flat[j], name) + np.unravel_index(j, ssd.shape)
        print("%d\t%.2f\t%s\t%d\t%d" % (i, np.sqrt(max(best_i[0], 0) / 3072), best_i[1], best_i[2], best_i[3]))


if __name__ == "__main__":
    main()
