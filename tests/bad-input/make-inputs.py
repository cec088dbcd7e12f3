"""make-inputs.py DIR - write the bad (and a few good) inputs the cases in cases.tsv refer to.

Run with the numpy Python ($PYTHON).  Everything is generated, deterministic and tiny.
File names say what is wrong with each file; the good ones (ok_*) are the base the bad ones
are derived from, and inputs for cases about options rather than data."""
import io
import os
import sys

import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(9)


def npy(*arrs):
    b = io.BytesIO()
    for a in arrs:
        np.lib.format.write_array(b, np.asarray(a), allow_pickle=False)
    return b.getvalue()


def raw_header(dict_text, body=b""):
    """An NPY v1.0 array with a hand-written header dict (for shapes numpy would refuse)."""
    h = dict_text.encode()
    h += b" " * ((64 - (10 + len(h) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + body


def put(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


N = 40
gray = rng.integers(0, 256, (N, 28, 28), dtype=np.uint8)
rgb = rng.integers(0, 256, (N, 28, 28, 3), dtype=np.uint8)
labels = (np.arange(N) % 10).astype(np.uint8)
domains = (np.arange(N) % 2).astype(np.uint8)
feat = rng.standard_normal((N, 8)).astype("<f4")
pts = rng.standard_normal((N, 2)).astype("<f4")

# good bases
put("ok_gray.npy", npy(gray, labels))
put("ok_rgb.npy", npy(rgb, labels))
put("ok_emb.npy", npy(feat, labels, domains))
put("ok_pts.npy", npy(pts, labels, domains))
put("ok_gray16.npy", npy(rng.integers(0, 256, (N, 16, 16), dtype=np.uint8), labels))
put("ok_big.npy", npy(np.zeros((2000, 28, 28), np.uint8), np.zeros(2000, np.uint8)))

# generic stream damage
put("empty", b"")
put("random.bin", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
put("text.txt", b"hello, this is not a tensor stream\n")
good = npy(gray, labels)
put("bad_magic.npy", b"\x93NUMPZ" + good[6:])
put("trunc_header.npy", good[:40])
put("trunc_body.npy", good[: len(npy(gray)) - 100])
put("trunc_labels.npy", good[:-5])
put("images_only.npy", npy(gray))
put("version2.npy", b"\x93NUMPY\x02\x00" + good[8:])
put("f64.npy", npy(gray.astype("<f8"), labels))
put("fortran.npy", npy(np.asfortranarray(gray), labels))
put("overflow_count.npy", raw_header("{'descr': '|u1', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }"))
put("overflow_bytes.npy", raw_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2305843009213693952,), }"))
put("overflow_dim.npy", raw_header("{'descr': '|u1', 'fortran_order': False, 'shape': (99999999999999999999, 28, 28), }"))
put("rank9.npy", raw_header("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }", b"\0"))
put("header_garbage.npy", raw_header("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 'x'), }"))
put("hlen_zero.npy", b"\x93NUMPY\x01\x00\x00\x00")
put("no_shape.npy", raw_header("{'descr': '|u1', 'fortran_order': False, }", b"\0"))
put("bad_dict_key.npy", raw_header("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), 'extra': 1, }", b"\0\0"))

# dataset streams (images then labels)
put("ds_labels10.npy", npy(gray, np.where(labels == 3, 10, labels).astype(np.uint8)))
put("ds_labels255.npy", npy(gray, np.full(N, 255, np.uint8)))
put("ds_label_count.npy", npy(gray, labels[:-1]))
put("ds_rank2.npy", npy(gray.reshape(N, 784), labels))
put("ds_f32.npy", npy(gray.astype("<f4"), labels))
put("ds_c2.npy", npy(np.zeros((N, 28, 28, 2), np.uint8), labels))
put("ds_labels_i32.npy", npy(gray, labels.astype("<i4")))
put("ds_zero_size.npy", npy(np.zeros((N, 0, 28), np.uint8), labels))
# a dataset stream says more than asked (issue 16): two datasets back to back, trailing bytes;
# and a dataset with no images
put("ds_two.npy", npy(gray, labels, gray[:7], labels[:7]))
put("ds_trailing.npy", npy(gray, labels) + b"garbage\n")
put("ds_empty.npy", npy(np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8)))
# inputs that a case also names as an output (each its own: a tool that overwrote it would
# spoil no other case)
for v in ("tc", "dt", "de"):
    put("victim_%s.npy" % v, npy(gray, labels))
for v in ("dt2", "dt3"):
    put("victim_%s.npy" % v, npy(rgb, labels))

# embedding streams (features, labels, domains) and point streams (points, labels, domains)
f = feat.copy(); f[5, 3] = np.nan
put("emb_nan.npy", npy(f, labels, domains))
f = feat.copy(); f[7, 0] = np.inf
put("emb_inf.npy", npy(f, labels, domains))
put("emb_labels10.npy", npy(feat, np.full(N, 12, np.uint8), domains))
put("emb_domain2.npy", npy(feat, labels, np.full(N, 2, np.uint8)))
put("emb_rank3.npy", npy(feat.reshape(N, 2, 4), labels, domains))
put("emb_u8.npy", npy(feat.astype(np.uint8), labels, domains))
put("emb_no_domains.npy", npy(feat, labels))
put("emb_count.npy", npy(feat, labels, domains[:-2]))
p = pts.copy(); p[1, 1] = np.nan
put("pts_nan.npy", npy(p, labels, domains))
p = pts.copy(); p[2, 0] = -np.inf
put("pts_inf.npy", npy(p, labels, domains))
good_pts = npy(pts, labels, domains)
put("pts_trunc.npy", good_pts[: len(npy(pts)) - 40])  # cut inside the points body
put("pts_d3.npy", npy(rng.standard_normal((N, 3)).astype("<f4"), labels, domains))

put("pts_labels10.npy", npy(pts, np.full(N, 10, np.uint8), domains))
put("pts_domain2.npy", npy(pts, labels, np.full(N, 2, np.uint8)))

# metrics logs (dann-train --log, plot-frames --curves) and a titles file
cols = "step\tepoch\tlr\tlambda\tlabel_loss\tdomain_loss\tdomain_acc\tsource_acc\ttarget_acc\n"
put("ok.tsv", (cols + "0\t0\t0.01\t0\t2.3\t0.69\t0.5\t0.1\t0.1\n"
               "100\t1\t0.009\t0.5\t1.3\t0.69\t0.5\t0.5\t0.3\n").encode())
put("step_inf.tsv", (cols + "inf\t0\t0.01\t0\t2.3\t0.69\t0.5\t0.1\t0.1\n").encode())
put("bad_number.tsv", (cols + "0\t0\t0.01\t0\t2.3x\t0.69\t0.5\t0.1\t0.1\n").encode())
put("short_row.tsv", (cols + "0\t0\t0.01\t0\t2.3\n").encode())
put("cols.tsv", b"step\tepoch\tlr\tlambda\n0\t0\t0.01\t0\n")
put("titles_nul.txt", b"frame one\nframe\0two\n")

# photo folders for mnistm-gen --recipe bsds: random bytes named .jpg; a JPEG cut short
from PIL import Image  # noqa: E402 (only here)
os.makedirs(os.path.join(out, "photos_random"), exist_ok=True)
put("photos_random/x.jpg", rng.integers(0, 256, 2048, dtype=np.uint8).tobytes())
b = io.BytesIO()
Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8), "RGB").save(b, "JPEG", quality=90)
os.makedirs(os.path.join(out, "photos_trunc"), exist_ok=True)
put("photos_trunc/cut.jpg", b.getvalue()[: len(b.getvalue()) // 2])
b = io.BytesIO()
Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8), "RGB").save(b, "PNG")
os.makedirs(os.path.join(out, "photos_png_trunc"), exist_ok=True)
put("photos_png_trunc/cut.png", b.getvalue()[: len(b.getvalue()) * 2 // 3])
os.makedirs(os.path.join(out, "photos_none"), exist_ok=True)
put("photos_none/readme.txt", b"no photos here\n")

# MNIST mirrors: files of random bytes under the right names; gzip streams cut short
import gzip  # noqa: E402
names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
for d in ("mirror_random", "mirror_trunc", "mirror_empty"):
    os.makedirs(os.path.join(out, d), exist_ok=True)
for n in names:
    put("mirror_random/" + n, rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    z = gzip.compress(bytes([0, 0, 8, 3]) + rng.integers(0, 256, 20000, dtype=np.uint8).tobytes(), mtime=0)
    put("mirror_trunc/" + n, z[: len(z) // 2])

# Hostile sources (issue 16): non-regular files where a file is read (FIFOs with no writer, a
# device), photos whose small file announces more pixels than the budget, a partial MNIST-M.
import struct  # noqa: E402
import zlib  # noqa: E402


def fifo(rel):
    p = os.path.join(out, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    if not os.path.exists(p):
        os.mkfifo(p)


def link(rel, target):
    p = os.path.join(out, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    if not os.path.lexists(p):
        os.symlink(target, p)


for n in names:
    fifo("mirror_fifo/" + n)
    link("mirror_dev/" + n, "/dev/zero")
for n in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
    fifo("cache_fifo/mnist/" + n)
fifo("photos_fifo/x.jpg")
fifo("mnistm_fifo/mnist_m_train_labels.txt")
os.makedirs(os.path.join(out, "mnistm_dev/mnist_m_train"), exist_ok=True)
put("mnistm_dev/mnist_m_train_labels.txt", b"00000000.png 5\n")
link("mnistm_dev/mnist_m_train/00000000.png", "/dev/zero")
os.makedirs(os.path.join(out, "mnistm_partial/mnist_m/mnist_m_train"), exist_ok=True)
for i in range(2):
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), "RGB").save(
        os.path.join(out, "mnistm_partial/mnist_m/mnist_m_train/%08d.png" % i))
put("mnistm_partial/mnist_m/mnist_m_train_labels.txt", b"00000000.png 3\n00000001.png 7\n")


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# MNIST-M archives whose tar headers claim more than the caps: a 2 GiB member (a tar bomb:
# refused before it is unpacked) and a 5 MB "PNG" (over the 1 MiB a PNG may have).
import tarfile  # noqa: E402


def claimed_tar(name, size):
    ti = tarfile.TarInfo(name)
    ti.size = size
    ti.mtime = 0
    return gzip.compress(ti.tobuf(format=tarfile.GNU_FORMAT) + bytes(1024), mtime=0)


put("mnistm_tarbomb.tar.gz", claimed_tar("mnist_m/mnist_m_train/00000000.png", 2 << 30))
put("mnistm_bigpng.tar.gz", claimed_tar("mnist_m/mnist_m_train/00000000.png", 5 << 20))

# 16000 x 16000 1-bit gray (256 megapixels) in a 30 KB file: valid, all black
side = 16000
for d in ("photos_huge_png", "photos_huge_jpeg"):
    os.makedirs(os.path.join(out, d), exist_ok=True)
z = zlib.compressobj(9)
row = bytes(1 + side // 8)
idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
put("photos_huge_png/huge.png", b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
    + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""))
# a small JPEG whose frame header (SOF0) announces 16000 x 16000
b = io.BytesIO()
Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), "RGB").save(b, "JPEG")
j = bytearray(b.getvalue())
k = j.index(b"\xff\xc0")
j[k + 5:k + 9] = struct.pack(">HH", side, side)
put("photos_huge_jpeg/huge.jpg", bytes(j))

os.makedirs(os.path.join(out, "a_directory"), exist_ok=True)

# tsne start layouts that are finite but unusable: far beyond any layout, every point in one place
put("pts_far.npy", npy((pts * np.float32(1e30)).astype("<f4"), labels, domains))
put("pts_same.npy", npy(np.zeros((N, 2), "<f4"), labels, domains))

# dann-report: predictions and images of ok_pts.npy's points, and of other points
put("rep_pred.npy", npy(labels[::-1].copy(), labels))
put("rep_pred_other.npy", npy(labels, labels[::-1].copy()))
put("rep_images.npy", npy(rgb, labels, domains))
put("rep_pts_other.npy", npy(pts, labels, 1 - domains))
put("rep_ragged.tsv", b"model\taccuracy\ndann\n")
put("victim_dr.npy", npy(pts, labels, domains))
