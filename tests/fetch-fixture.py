#!/usr/bin/env python3
"""Tiny MNIST-shaped fixtures for the mnist-fetch HTTP tests.

usage: fetch-fixture.py OUTDIR N
Writes, for the train split (N images) and the t10k split (N//2 + 1 images) of 28x28 uint8:
  OUTDIR/ref/NAME          the decompressed IDX files (what mnist-fetch must reproduce)
  OUTDIR/www/good/NAME.gz  gzip of each
  OUTDIR/www/bad/NAME.gz   valid gzip of content with one pixel changed (a hash mismatch)
  OUTDIR/www/trunc/NAME.gz the good .gz cut to 60% (a truncated gzip)
  OUTDIR/www/magic/NAME.gz content with a wrong magic number (0x00000903: signed bytes)
  OUTDIR/www/empty/        nothing: every request is a 404
  OUTDIR/SHA256SUMS        hashes of the ref files (for DANN_FETCH_SHA256SUMS)
  OUTDIR/SHA256SUMS.magic  hashes of the wrong-magic files (so only the IDX check can catch them)
"""
import gzip
import hashlib
import os
import struct
import sys

import numpy as np


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    for d in ("ref", "www/good", "www/bad", "www/trunc", "www/magic", "www/empty"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    rng = np.random.default_rng(20261129)
    sums, sums_magic = [], []
    for split, cnt in (("train", n), ("t10k", n // 2 + 1)):
        im = rng.integers(0, 256, (cnt, 28, 28), dtype=np.uint8)
        lb = rng.integers(0, 10, cnt, dtype=np.uint8)
        files = {
            split + "-images-idx3-ubyte": (struct.pack(">IIII", 0x803, cnt, 28, 28), im.tobytes()),
            split + "-labels-idx1-ubyte": (struct.pack(">II", 0x801, cnt), lb.tobytes()),
        }
        for name, (hdr, body) in files.items():
            good = hdr + body
            open(os.path.join(out, "ref", name), "wb").write(good)
            gz = gzip.compress(good, mtime=0)
            open(os.path.join(out, "www/good", name + ".gz"), "wb").write(gz)
            bad = bytearray(good)
            bad[-1] = (bad[-1] + 1) % 10  # still a valid label / pixel: only the hash can tell
            open(os.path.join(out, "www/bad", name + ".gz"), "wb").write(gzip.compress(bytes(bad), mtime=0))
            open(os.path.join(out, "www/trunc", name + ".gz"), "wb").write(gz[: len(gz) * 6 // 10])
            magic = bytearray(good)
            magic[2] = 0x09
            open(os.path.join(out, "www/magic", name + ".gz"), "wb").write(gzip.compress(bytes(magic), mtime=0))
            sums.append("%s  %s\n" % (hashlib.sha256(good).hexdigest(), name))
            sums_magic.append("%s  %s\n" % (hashlib.sha256(bytes(magic)).hexdigest(), name))
    open(os.path.join(out, "SHA256SUMS"), "w").write("# fixture hashes\n" + "".join(sums))
    open(os.path.join(out, "SHA256SUMS.magic"), "w").write("".join(sums_magic))


if __name__ == "__main__":
    main()
