#!/usr/bin/python3
"""Helpers for bench/tsne-bench.sh (benchmark only; the toolkit itself needs no Python).

  tsne_sklearn.py mnist N OUT.npy [DIR [FIRST]]
                                         MNIST pixels (IDX .gz files in DIR) -> embedding stream:
                                         points (N,784) float32 in [0,1], labels (N,) uint8: rows
                                         FIRST (0) .. FIRST+N-1 of the test set followed by the
                                         training set (N 10000: the test set; 70000: all).
  tsne_sklearn.py sklearn IN.npy OUT.npy run scikit-learn TSNE (perplexity 30, PCA init, auto lr,
                                         n_jobs=2), write the (N,2) float32 layout + labels;
                                         prints the wall time in seconds on stdout.
  tsne_sklearn.py knnpres IN.npy LAYOUT.npy [K [SAMPLE]]
                                         fraction of each point's K (10) nearest input neighbours
                                         that are among its K nearest in the 2-D layout (exact,
                                         Euclidean), averaged over points (over SAMPLE points
                                         spread evenly when N is larger); also 10-NN label
                                         agreement in 2-D.
  tsne_sklearn.py pcajitter IN.npy N OUT.npy
                                         PCA 50 of IN's points repeated to N rows, each copy
                                         after the first jittered (noise of about half the median
                                         nearest-neighbour distance); the labels repeated.
  tsne_sklearn.py synthseq DIR [FRAMES N D]
                                         a synthetic training run: DIR/emb-0000.npy ... (points
                                         (N,D) float32, labels, domains), 6 Gaussian clusters
                                         drifting, two of them merging, over FRAMES (10) frames.
  tsne_sklearn.py smooth DIR             mean displacement of points between consecutive
                                         frames DIR/frame-*.npy, relative to the spread (RMS
                                         distance to the centroid) of the earlier frame.
"""
import gzip, sys, time
import numpy as np


def read_stream(path):
    out = []
    with open(path, "rb") as f:
        while True:
            head = f.peek(1)[:1] if hasattr(f, "peek") else f.read(0)
            if not head:
                break
            out.append(np.lib.format.read_array(f))
    return out


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    nd = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * nd).reshape(shape)


def mnist(n, out, root="data/mnist", first=0):
    xs = [idx(f"{root}/t10k-images-idx3-ubyte.gz")]
    ys = [idx(f"{root}/t10k-labels-idx1-ubyte.gz")]
    if first + n > 10000:
        xs.append(idx(f"{root}/train-images-idx3-ubyte.gz"))
        ys.append(idx(f"{root}/train-labels-idx1-ubyte.gz"))
    if first < 0 or first + n > 70000:
        sys.exit(f"tsne_sklearn.py: rows {first}..{first + n - 1} are not all in MNIST's 70000")
    x = np.concatenate(xs)[first:first + n].reshape(n, -1).astype(np.float32) / 255.0
    y = np.concatenate(ys)[first:first + n].astype(np.uint8)
    with open(out, "wb") as f:
        np.lib.format.write_array(f, np.ascontiguousarray(x))
        np.lib.format.write_array(f, y)


def knn(x, k, rows=None):
    """Exact k nearest neighbours (excluding self) of x[rows] (default all) among all of x,
    by blocked squared distances (blocks of at most 2^25 distances)."""
    x = x.astype(np.float64)
    sq = (x * x).sum(1)
    n = len(x)
    rows = np.arange(n) if rows is None else rows
    block = max(1, min(2048, 2 ** 25 // n))
    nb = np.empty((len(rows), k), np.int64)
    for s in range(0, len(rows), block):
        r = rows[s:s + block]
        d = sq[r, None] + sq[None, :] - 2.0 * x[r] @ x.T
        d[np.arange(len(r)), r] = np.inf
        nb[s:s + len(r)] = np.argpartition(d, k, axis=1)[:, :k]
    return nb


def knnpres(inp, lay, k=10, sample=0):
    """10-NN preservation; with sample > 0 and N above it, over `sample` points spread evenly
    (each against all N points)."""
    arrs = read_stream(inp)
    x = arrs[0].reshape(len(arrs[0]), -1)
    y2 = read_stream(lay)[0]
    n = len(x)
    rows = np.arange(n) if not sample or n <= sample else np.arange(sample) * n // sample
    a = knn(x, k, rows)
    b = knn(y2, k, rows)
    pres = np.mean([len(set(a[i]) & set(b[i])) / k for i in range(len(rows))])
    line = f"knn{k}_preservation {pres:.4f}"
    if len(arrs) > 1:
        lab = arrs[1]
        agree = np.mean(lab[b] == lab[rows][:, None])
        line += f" knn{k}_label_agreement_2d {agree:.4f}"
    if len(rows) < n:
        line += f" (over {len(rows)} points)"
    print(line)


def pca_jitter(inp, n, out, rel=0.5):
    """The PCA 50 of the points of inp, repeated to n rows: copy 0 exact, each later copy
    jittered by Gaussian noise whose expected norm is `rel` times the median distance of a
    point to its nearest neighbour (over 2,000 points), so a copy's neighbours mix with the
    original's.  Labels follow the rows."""
    arrs = read_stream(inp)
    x = arrs[0].reshape(len(arrs[0]), -1).astype(np.float64)
    m = len(x)
    x = x - x.mean(0)
    _, _, vt = np.linalg.svd(x[::7], full_matrices=False)
    p = (x @ vt[:50].T).astype(np.float32)
    q = np.arange(2000) * m // 2000
    nn1 = np.sqrt(np.maximum(0, np.partition(
        (p[q] ** 2).sum(1)[:, None] + (p ** 2).sum(1)[None, :] - 2.0 * p[q] @ p.T
        + np.where(np.arange(m)[None, :] == q[:, None], np.inf, 0), 0, axis=1)[:, 0]))
    sigma = rel * np.median(nn1) / np.sqrt(50)
    r = np.random.default_rng(0)
    with open(out, "wb") as f:
        np.lib.format.write_array(f, np.ascontiguousarray(np.concatenate(
            [p] + [p + r.normal(0, sigma, p.shape).astype(np.float32)
                   for _ in range((n - 1) // m)])[:n]))
        for a in arrs[1:]:
            np.lib.format.write_array(f, np.resize(a, (n,) + a.shape[1:]))
    print(f"pca50 of {m} points to {n} rows, jitter sigma {sigma:.4f} per coordinate "
          f"(median 1-NN distance {np.median(nn1):.3f})")


def run_sklearn(inp, out):
    from sklearn.manifold import TSNE
    arrs = read_stream(inp)
    x = arrs[0]
    t0 = time.time()
    ts = TSNE(n_components=2, perplexity=30.0, init="pca", learning_rate="auto",
              n_jobs=2, random_state=0)
    y = ts.fit_transform(x).astype(np.float32)
    dt = time.time() - t0
    with open(out, "wb") as f:
        np.lib.format.write_array(f, y)
        for a in arrs[1:]:
            np.lib.format.write_array(f, a)
    print(f"{dt:.2f}")
    print(f"sklearn KL {ts.kl_divergence_:.4f} iterations {ts.n_iter_}", file=sys.stderr)


def synthseq(d, frames=10, n=3000, dim=30):
    import os
    os.makedirs(d, exist_ok=True)
    r = np.random.default_rng(1)
    k = 6
    lab = (np.arange(n) % k).astype(np.uint8)
    dom = (np.arange(n) % 2).astype(np.uint8)
    c0 = r.normal(0, 6, (k, dim))
    vel = r.normal(0, 2, (k, dim))
    offs = r.normal(0, 1, (n, dim))
    for f in range(frames):
        t = f / max(frames - 1, 1)
        cen = c0 + t * vel
        # clusters 0 and 1 merge: both move towards their midpoint
        mid = (c0[0] + c0[1]) / 2
        cen[0] = c0[0] + t * (mid - c0[0])
        cen[1] = c0[1] + t * (mid - c0[1])
        x = cen[lab] + offs + 0.1 * r.normal(0, 1, (n, dim))
        with open(os.path.join(d, "emb-%04d.npy" % f), "wb") as fh:
            np.lib.format.write_array(fh, x.astype(np.float32))
            np.lib.format.write_array(fh, lab)
            np.lib.format.write_array(fh, dom)


def smooth(d):
    import glob
    files = sorted(glob.glob(d + "/frame-*.npy"))
    ys = [read_stream(p)[0].astype(np.float64) for p in files]
    m = []
    for a, b in zip(ys, ys[1:]):
        spread = np.sqrt(((a - a.mean(0)) ** 2).sum(1).mean())
        m.append(np.sqrt(((b - a) ** 2).sum(1)).mean() / spread)
    print("frames %d mean_displacement_over_spread %.4f max %.4f" % (len(ys), np.mean(m), np.max(m)))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "mnist":
        if len(sys.argv) > 4:
            mnist(int(sys.argv[2]), sys.argv[3], sys.argv[4],
                  int(sys.argv[5]) if len(sys.argv) > 5 else 0)
        else:
            mnist(int(sys.argv[2]), sys.argv[3])
    elif cmd == "synthseq":
        a = [int(v) for v in sys.argv[3:6]]
        synthseq(sys.argv[2], *a)
    elif cmd == "smooth":
        smooth(sys.argv[2])
    elif cmd == "sklearn":
        run_sklearn(sys.argv[2], sys.argv[3])
    elif cmd == "knnpres":
        knnpres(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 10,
                int(sys.argv[5]) if len(sys.argv) > 5 else 0)
    elif cmd == "pcajitter":
        pca_jitter(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit("usage: tsne_sklearn.py mnist|sklearn|knnpres|pcajitter|synthseq|smooth ...")
