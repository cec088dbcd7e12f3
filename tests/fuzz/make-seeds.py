"""make-seeds.py - (re)write the seed corpora in tests/fuzz/corpus/ for every harness except
npy (hand-made) and model (written by dann-train: see tests/fuzz/README).  Small valid files,
deterministic.  Run with the numpy Python: /usr/bin/python3 tests/fuzz/make-seeds.py"""
import gzip
import io
import os
import struct

import numpy as np
from PIL import Image

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
rng = np.random.default_rng(9)


def put(parser, name, data):
    d = os.path.join(root, parser)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def idx(a):
    a = np.asarray(a, np.uint8)
    return bytes([0, 0, 8, a.ndim]) + b"".join(struct.pack(">I", n) for n in a.shape) + a.tobytes()


def gz(b):
    return gzip.compress(b, mtime=0)


# idx: whole-file seeds, and pairs (2-byte little-endian cut, images, labels) for the harness
imgs = rng.integers(0, 256, (3, 4, 4), dtype=np.uint8)
labs = np.array([1, 7, 9], np.uint8)
put("idx", "images.idx", idx(imgs))
put("idx", "images.idx.gz", gz(idx(imgs)))
put("idx", "labels.idx", idx(labs))
for name, a, b in [("pair_plain", idx(imgs), idx(labs)), ("pair_gz", gz(idx(imgs)), gz(idx(labs))),
                   ("pair_mixed", gz(idx(imgs)), idx(labs))]:
    cut = 2 + len(a)
    put("idx", name, struct.pack("<H", cut - 2) + a + b)
put("idx", "two_members.gz", gz(idx(labs)[:5]) + gz(idx(labs)[5:]))

# metrics: the dann-train log, source-only style, reordered with an extra column, comments
hdr = "step\tepoch\tlr\tlambda\tlabel_loss\tdomain_loss\tdomain_acc\tsource_acc\ttarget_acc\n"
put("metrics", "dann.tsv", (hdr + "0\t0\t0.01\t0\t2.3\t0.69\t0.5\t0.1\t0.1\n"
                            "100\t0.5\t0.0089\t0.46\t0.8\t0.65\t0.6\t0.8\t0.4\n"
                            "200\t1\t0.0081\t0.76\t0.3\t0.68\t0.55\t0.95\t0.6\n").encode())
put("metrics", "source_only.tsv", (hdr + "0\t0\t0.01\tnan\t2.3\tnan\tnan\t0.1\tnan\n"
                                   "50\t0.25\t0.0095\tnan\t1.1\tnan\tnan\t0.7\t0.3\n").encode())
put("metrics", "reordered.tsv", ("# a comment\nlambda\tstep\textra\tepoch\tlr\tlabel_loss\tdomain_loss\t"
                                 "domain_acc\tsource_acc\ttarget_acc\n\n"
                                 "0.5\t10\tx\t1\t1e-3\t1\t2\t0.5\t0.5\tnan\r\n").encode())

# titles: UTF-8 lines as the pipeline writes them
put("titles", "titles.txt", "DANN step 0 · λ 0.00 · target accuracy 10.0%\n"
    "DANN step 500 · λ 0.76\n\nα β γ 数字 😀\r\n".encode())
put("titles", "no_newline.txt", b"one title without a newline")

# imgload: tiny JPEG and PNG in the modes img_load converts
def img_bytes(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


rgb = Image.fromarray(rng.integers(0, 256, (9, 7, 3), dtype=np.uint8), "RGB")
put("imgload", "rgb.jpg", img_bytes(rgb, "JPEG", quality=50))
put("imgload", "gray.jpg", img_bytes(rgb.convert("L"), "JPEG", quality=50))
put("imgload", "progressive.jpg", img_bytes(rgb, "JPEG", quality=50, progressive=True))
put("imgload", "cmyk.jpg", img_bytes(rgb.convert("CMYK"), "JPEG", quality=50))
put("imgload", "rgb.png", img_bytes(rgb, "PNG"))
put("imgload", "gray.png", img_bytes(rgb.convert("L"), "PNG"))
put("imgload", "rgba.png", img_bytes(rgb.convert("RGBA"), "PNG"))
put("imgload", "palette.png", img_bytes(rgb.convert("P"), "PNG"))
put("imgload", "gray16.png", img_bytes(Image.fromarray((np.arange(12, dtype=np.uint16) * 5000).reshape(3, 4)), "PNG"))
put("imgload", "bilevel.png", img_bytes(rgb.convert("1"), "PNG"))

# sums: SHA256SUMS in sha256sum(1) format
h = "9fb629c4189551a2d022fa330f9573f3"
put("sums", "SHA256SUMS", ("# MNIST\n" + h * 2 + "  train-images-idx3-ubyte.gz\n"
                           + h.upper() * 2 + " *t10k-labels-idx1-ubyte\n\n  \t\n").encode())

# tsne_input: an embedding stream and a layout
def npy(*arrs):
    b = io.BytesIO()
    for a in arrs:
        np.lib.format.write_array(b, np.asarray(a))
    return b.getvalue()


put("tsne_input", "embedding.npy", npy(rng.standard_normal((5, 3)).astype("<f4"),
                                       np.arange(5, dtype=np.uint8), np.array([0, 0, 1, 1, 1], np.uint8)))
put("tsne_input", "layout.npy", npy(rng.standard_normal((4, 2)).astype("<f4"), np.arange(4, dtype=np.uint8)))
put("tsne_input", "extra_i64.npy", npy(np.ones((2, 1), "<f4"), np.arange(4, dtype="<i8").reshape(2, 2)))
