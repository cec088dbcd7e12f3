#!/usr/bin/env python3
"""A tiny MNIST-M in the published layout, for tests/mnist-fetch-mnistm.bats.

usage: mnistm-fixture.py OUTDIR
Writes random 32x32 RGB PNGs (PIL) for a train split of 12 images and a test split of 5:
  OUTDIR/pub/mnist_m/                 as distributed: mnist_m_train/, mnist_m_test/ and
                                      mnist_m_{train,test}_labels.txt (lines "00000000.png 5",
                                      listed in a shuffled order: the stream follows the file)
  OUTDIR/www/mnist_m.tar.gz           the same folder as the archive (members mnist_m/...)
  OUTDIR/ref/{train,test}.npy         what mnist-fetch must write (images then labels)
  OUTDIR/SHA256SUMS                   hashes of the decoded arrays (DANN_FETCH_SHA256SUMS)
  OUTDIR/partial/mnist_m/             the first 6 listed train images only (a partial copy)
  OUTDIR/bad/mnist_m/                 one pixel of one image changed (a hash mismatch)
  OUTDIR/broken-KIND/mnist_m/         one thing wrong each: label (12), missing (a listed file
                                      absent), size (a 28x28 image), gray (a grayscale image),
                                      line (a line without a label), notpng (text named .png)
"""
import hashlib
import io
import os
import shutil
import sys
import tarfile

import numpy as np
from PIL import Image


def write_split(root, split, images, labels, order):
    d = os.path.join(root, "mnist_m_" + split)
    os.makedirs(d, exist_ok=True)
    names = ["%08d.png" % i for i in range(len(images))]
    for n, im in zip(names, images):
        Image.fromarray(im, "RGB").save(os.path.join(d, n))
    with open(os.path.join(root, "mnist_m_%s_labels.txt" % split), "w") as f:
        for i in order:
            f.write("%s %d\n" % (names[i], labels[i]))


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(20261202)
    data = {}
    for split, n in (("train", 12), ("test", 5)):
        im = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        lb = rng.integers(0, 10, n, dtype=np.uint8)
        order = rng.permutation(n)
        data[split] = (im, lb, order)
    pub = os.path.join(out, "pub", "mnist_m")
    sums = []
    os.makedirs(os.path.join(out, "ref"), exist_ok=True)
    for split, (im, lb, order) in data.items():
        write_split(pub, split, im, lb, order)
        ims, lbs = im[order], lb[order]
        with open(os.path.join(out, "ref", split + ".npy"), "wb") as f:
            np.save(f, ims)
            np.save(f, lbs)
        sums.append("%s  mnist_m_%s_images.u8\n" % (hashlib.sha256(ims.tobytes()).hexdigest(), split))
        sums.append("%s  mnist_m_%s_labels.u8\n" % (hashlib.sha256(lbs.tobytes()).hexdigest(), split))
    open(os.path.join(out, "SHA256SUMS"), "w").write("".join(sums))
    os.makedirs(os.path.join(out, "www"), exist_ok=True)
    with tarfile.open(os.path.join(out, "www", "mnist_m.tar.gz"), "w:gz") as t:
        t.add(pub, arcname="mnist_m")

    im, lb, order = data["train"]
    # a partial copy: the first 6 listed images and their lines
    write_split(os.path.join(out, "partial", "mnist_m"), "train", im, lb, order[:6])
    bad = im.copy()
    bad[order[3], 5, 7, 1] ^= 1
    write_split(os.path.join(out, "bad", "mnist_m"), "train", bad, lb, order)

    def broken(kind):
        root = os.path.join(out, "broken-" + kind, "mnist_m")
        write_split(root, "train", im, lb, order)
        return root

    r = broken("label")
    p = os.path.join(r, "mnist_m_train_labels.txt")
    lines = open(p).read().splitlines()
    lines[4] = lines[4].split()[0] + " 12"
    open(p, "w").write("\n".join(lines) + "\n")
    r = broken("missing")
    os.remove(os.path.join(r, "mnist_m_train", "%08d.png" % order[2]))
    r = broken("size")
    Image.fromarray(im[0, :28, :28], "RGB").save(os.path.join(r, "mnist_m_train", "00000000.png"))
    r = broken("gray")
    Image.fromarray(im[0, :, :, 0], "L").save(os.path.join(r, "mnist_m_train", "00000000.png"))
    r = broken("line")
    p = os.path.join(r, "mnist_m_train_labels.txt")
    lines = open(p).read().splitlines()
    lines[1] = lines[1].split()[0]
    open(p, "w").write("\n".join(lines) + "\n")
    r = broken("notpng")
    open(os.path.join(r, "mnist_m_train", "00000001.png"), "w").write("not a png\n")


if __name__ == "__main__":
    main()
