"""torch_crosscheck.py - dann-train's training steps, replayed in PyTorch (llm.c-style check).

usage: torch_crosscheck.py SNAPDIR SOURCE TARGET --seed S --batch B [--log LOG]
                           [--bn-stats per-domain|joint] [--mode dann|source-only]

SNAPDIR holds snap-0000.model .. snap-000K.model written by
    dann-train --steps K --snapshots K --snapshot-dir SNAPDIR ...
(one snapshot per step).  The weights of snap-0000 (the initial model) are loaded into a
PyTorch network built from the documented architecture (man/dann-model.5: conv weights
(OC,KH,KW,C), fc1 input in (H,W,C) order), and the same K SGD steps are run on the same
batches: the source/target orders and the Dropout2d masks are regenerated from the seed with
the generators of lib/base/rng.c (splitmix64 + xoshiro256**), as documented in lib/net/train.h.
The objective is dann-train's: CE(source) + BCE(domain(source), 0) + BCE(domain(target), 1),
each a mean over its half, the gradient reversal scaling by -lambda_p, SGD with momentum.
Checks, per step k:
  * the forward: with --log (dann-train --log-every 1), the label and domain losses of the step;
  * the gradients of step 0 (snap-0000 - snap-0001) / lr_0, tensor by tensor;
  * every parameter and BatchNorm running statistic of snap-k against PyTorch's after k steps.
Prints the largest differences; exits 1 if any exceeds its tolerance, 0 otherwise, and 77 when
torch is not installed (so callers can skip)."""
import argparse
import math
import os
import sys

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("torch_crosscheck: python3-torch is not installed", file=sys.stderr)
    sys.exit(77)

M64 = (1 << 64) - 1


# --- lib/base/rng.c ----------------------------------------------------------------------------------
def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return x, z ^ (z >> 31)


def rng_hash(seed, a, b):
    x, h = splitmix64(seed & M64)
    x = h ^ ((a * 0xD1B54A32D192ED03) & M64)
    x, h = splitmix64(x)
    x = h ^ ((b * 0x8CB92BA72F3D8DD7) & M64)
    return splitmix64(x)[1]


class Rng:
    def __init__(self, seed, stream):
        x = rng_hash(seed, stream, 0x5EED)
        self.s = []
        for _ in range(4):
            x, v = splitmix64(x)
            self.s.append(v)

    def next(self):
        s = self.s
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M64
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def uniform(self):
        return (self.next() >> 11) * 2.0 ** -53


def permutation(n, seed, stream):
    r = Rng(seed, stream)
    idx = list(range(n))
    for i in range(n - 1, 0, -1):
        j = min(int(r.uniform() * (i + 1)), i)
        idx[i], idx[j] = idx[j], idx[i]
    return idx


def dropout_mask(B, C, p, drop_seed, step):
    keep = 1.0 / (1.0 - p)
    m = np.empty(B * C, np.float32)
    for i in range(B * C):
        u = (rng_hash(drop_seed, step, i) >> 40) * 2.0 ** -24
        m[i] = 0.0 if u < p else keep
    return m.reshape(B, C)


# --- files ----------------------------------------------------------------------------------------
def read_stream(path):
    out = []
    with open(path, "rb") as f:
        while True:
            try:
                out.append(np.load(f))
            except (EOFError, ValueError):
                break
    return out


PARAMS_BN = ["conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "conv2.weight", "conv2.bias",
             "bn2.weight", "bn2.bias", "label.fc1.weight", "label.fc1.bias", "label.bn1.weight",
             "label.bn1.bias", "label.fc2.weight", "label.fc2.bias", "label.bn2.weight",
             "label.bn2.bias", "label.fc3.weight", "label.fc3.bias", "domain.fc1.weight",
             "domain.fc1.bias", "domain.bn1.weight", "domain.bn1.bias", "domain.fc2.weight",
             "domain.fc2.bias"]
STATS = ["bn1.running_mean", "bn1.running_var", "bn2.running_mean", "bn2.running_var",
         "label.bn1.running_mean", "label.bn1.running_var", "label.bn2.running_mean",
         "label.bn2.running_var", "domain.bn1.running_mean", "domain.bn1.running_var"]
# a model with per-domain statistics (header[13] = 2) adds the target set of the layers both
# domains pass through
TSTATS = ["bn1.target_running_mean", "bn1.target_running_var", "bn2.target_running_mean",
          "bn2.target_running_var", "domain.bn1.target_running_mean",
          "domain.bn1.target_running_var"]


def read_model(path):
    a = read_stream(path)
    hdr = a[0]
    assert hdr.dtype == np.int64 and hdr.shape == (16,) and hdr[0] == 1684106862, path
    arch, H, W, Fdim, nt, ns = (int(hdr[i]) for i in (3, 4, 5, 7, 9, 10))
    names = PARAMS_BN if arch == 0 else [n for n in PARAMS_BN if "bn" not in n]
    snames = STATS + TSTATS if hdr[13] == 2 else STATS
    assert len(names) == nt and ns == (len(snames) if arch == 0 else 0), path
    p = dict(zip(names, a[1:1 + nt]))
    s = dict(zip(snames, a[1 + nt:1 + nt + ns]))
    return dict(arch=arch, H=H, W=W, F=Fdim, p=p, s=s)


def read_dataset(path):
    a = read_stream(path)
    img, lab = a[0], a[1]
    if img.ndim == 3:
        img = np.repeat(img[..., None], 3, axis=3)
    x = img.astype(np.float32) * np.float32(1 / 127.5) - np.float32(1)
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(lab.astype(np.int64))


# --- the network, from the model file's layout -------------------------------------------------
def to_torch(m):
    """Our tensors -> PyTorch layouts (conv (OC,C,KH,KW); fc1 input in (C,H,W) order)."""
    p = {}
    side = int(round(math.sqrt(m["F"] // 48)))
    for k, v in m["p"].items():
        t = torch.from_numpy(v.astype(np.float32).copy())
        if k.startswith("conv"):
            if t.dim() == 4:
                t = t.permute(0, 3, 1, 2).contiguous()
        elif k.endswith("fc1.weight"):
            t = t.reshape(100, side, side, 48).permute(0, 3, 1, 2).reshape(100, -1).contiguous()
        p[k] = t.requires_grad_(True)
    s = {k: torch.from_numpy(v.astype(np.float32).copy()) for k, v in m["s"].items()}
    return p, s


def from_torch(name, t, F):
    t = t.detach()
    if name.startswith("conv") and t.dim() == 4:
        t = t.permute(0, 2, 3, 1)
    elif name.endswith("fc1.weight"):
        side = int(round(math.sqrt(F // 48)))
        t = t.reshape(100, 48, side, side).permute(0, 2, 3, 1).reshape(100, -1)
    return t.contiguous().numpy()


def bn(x, p, s, name, groups, train, domain=0):
    """BatchNorm over `groups` consecutive equal row groups, each with its own batch statistics
    (dann-train --bn-stats per-domain); group g updates the running statistics of domain g when
    the model keeps a target set, else the one set; eval: the running statistics of `domain`."""
    g, b = p[name + ".weight"], p[name + ".bias"]

    def run(d):
        t = name + ".target_running_mean"
        if d == 1 and t in s:
            return s[t], s[name + ".target_running_var"]
        return s[name + ".running_mean"], s[name + ".running_var"]
    if not train:
        return F.batch_norm(x, *run(domain), g, b, False, 0.1, 1e-5)
    parts = torch.chunk(x, groups, 0)
    return torch.cat([F.batch_norm(q, *run(i if groups == 2 else 0), g, b, True, 0.1, 1e-5)
                      for i, q in enumerate(parts)], 0)


class Grl(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lam):
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return -ctx.lam * g, None


def forward(p, s, x, nsrc, has_bn, groups, mask, train, lam):
    h = F.conv2d(x, p["conv1.weight"], p["conv1.bias"])
    if has_bn:
        h = bn(h, p, s, "bn1", groups, train)
    h = F.max_pool2d(F.relu(h), 2)
    h = F.conv2d(h, p["conv2.weight"], p["conv2.bias"])
    if has_bn:
        h = bn(h, p, s, "bn2", groups, train)
    h = F.relu(h)
    if has_bn and train:
        h = h * mask[:, :, None, None]
    feat = F.max_pool2d(h, 2).flatten(1)
    z = F.linear(feat[:nsrc], p["label.fc1.weight"], p["label.fc1.bias"])
    if has_bn:
        z = bn(z, p, s, "label.bn1", 1, train)
    z = F.linear(F.relu(z), p["label.fc2.weight"], p["label.fc2.bias"])
    if has_bn:
        z = bn(z, p, s, "label.bn2", 1, train)
    logits = F.linear(F.relu(z), p["label.fc3.weight"], p["label.fc3.bias"])
    if x.shape[0] == nsrc:
        return logits, None
    d = F.linear(Grl.apply(feat, lam), p["domain.fc1.weight"], p["domain.fc1.bias"])
    if has_bn:
        d = bn(d, p, s, "domain.bn1", groups, train)
    d = F.linear(F.relu(d), p["domain.fc2.weight"], p["domain.fc2.bias"]).squeeze(1)
    return logits, d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("snapdir")
    ap.add_argument("source")
    ap.add_argument("target")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--bn-stats", default="per-domain", choices=["joint", "per-domain"])
    ap.add_argument("--mode", default="dann", choices=["dann", "source-only"])
    ap.add_argument("--tol", type=float, default=2e-4)
    ap.add_argument("--log", help="dann-train --log-every 1 metrics log: compare each step's losses")
    a = ap.parse_args()
    torch.set_num_threads(1)
    snaps = sorted(f for f in os.listdir(a.snapdir) if f.startswith("snap-") and f.endswith(".model"))
    K = len(snaps) - 1
    assert K >= 1, "need at least two snapshots"
    models = [read_model(os.path.join(a.snapdir, f)) for f in snaps]
    m0 = models[0]
    has_bn = m0["arch"] == 0
    dann = a.mode == "dann"
    groups = 2 if dann and a.bn_stats == "per-domain" else 1
    xs, ys = read_dataset(a.source)
    xt, _ = read_dataset(a.target) if dann else (None, None)
    bs = a.batch
    spe = xs.shape[0] // bs
    tsteps = xt.shape[0] // bs if dann else 1
    total = K
    drop_seed = rng_hash(a.seed, 7, 0)
    p, s = to_torch(m0)
    mom = {k: torch.zeros_like(v) for k, v in p.items()}
    worst = {}
    bad = []

    def note(what, got, want, floor):
        """fail when max |got - want| > tol * max |want| + floor; record the worst fraction of
        the allowance per kind of comparison"""
        d = float(np.max(np.abs(got - want))) if got.size else 0.0
        scale = float(np.max(np.abs(want))) if want.size else 0.0
        allow = a.tol * scale + floor
        key = what.split(" ")[0]
        worst[key] = max(worst.get(key, 0.0), d / allow)
        if d > allow:
            bad.append(f"{what}: max |diff| {d:.3g} (scale {scale:.3g}, allowed {allow:.3g})")

    log = None
    if a.log:
        with open(a.log) as f:
            head = f.readline().rstrip("\n").split("\t")
            log = [dict(zip(head, line.rstrip("\n").split("\t"))) for line in f]
        assert len(log) >= K and all(int(r["step"]) == i + 1 for i, r in enumerate(log[:K])), \
            "the log needs one row per step (--log-every 1)"
    sperm = tperm = None
    for step in range(K):
        prog = step / total
        lr = 0.01 / (1 + 10 * prog) ** 0.75
        lam = 2 / (1 + math.exp(-10 * prog)) - 1
        e, b = divmod(step, spe)
        if b == 0 or sperm is None:
            sperm = permutation(xs.shape[0], a.seed, 0x5000000 + e)
        sidx = sperm[b * bs:(b + 1) * bs]
        x = xs[sidx]
        if dann:
            q, tb = divmod(step, tsteps)
            if tb == 0 or tperm is None:
                tperm = permutation(xt.shape[0], a.seed, 0x6000000 + q)
            x = torch.cat([x, xt[tperm[tb * bs:(tb + 1) * bs]]])
        nrow = x.shape[0]
        mask = torch.from_numpy(dropout_mask(nrow, 48, 0.5, drop_seed, step))
        for v in p.values():
            v.grad = None
        logits, d = forward(p, s, x, bs, has_bn, groups, mask, True, lam)
        loss = F.cross_entropy(logits, ys[sidx])
        if dann:
            loss = loss + F.binary_cross_entropy_with_logits(d[:bs], torch.zeros(bs)) + \
                F.binary_cross_entropy_with_logits(d[bs:], torch.ones(bs))
        if log is not None:
            # the forward: dann-train's logged losses of this step (6 decimals)
            row = log[step]
            lab = F.cross_entropy(logits, ys[sidx]).item()
            ok = abs(lab - float(row["label_loss"])) <= 2e-6 + 1e-5 * abs(lab)
            if dann:
                dom = 0.5 * (F.binary_cross_entropy_with_logits(d[:bs], torch.zeros(bs)).item() +
                             F.binary_cross_entropy_with_logits(d[bs:], torch.ones(bs)).item())
                ok = ok and abs(dom - float(row["domain_loss"])) <= 2e-6 + 1e-5 * abs(dom)
            else:
                dom = float("nan")
            worst["loss"] = max(worst.get("loss", 0.0),
                                abs(lab - float(row["label_loss"])) / (2e-6 + 1e-5 * abs(lab)))
            if not ok:
                bad.append(f"loss (step {step}): torch label {lab:.6f} domain {dom:.6f}, "
                           f"dann-train {row['label_loss']} {row['domain_loss']}")
        loss.backward()
        if step == 0:
            # gradients: (w0 - w1) / lr0 from the snapshots (momentum is zero at step 0)
            # (float32 weights resolve a step only to their last bit: a floor of 4 ulp / lr)
            for k, v in p.items():
                w0 = m0["p"][k].astype(np.float64)
                g_ours = (w0 - models[1]["p"][k]) / lr
                floor = 4 * 2.0 ** -23 * float(np.max(np.abs(w0))) / lr
                note(f"grad {k} (step 0)", g_ours, from_torch(k, v.grad, m0["F"]).astype(np.float64),
                     floor)
        with torch.no_grad():
            for k, v in p.items():
                mom[k].mul_(0.9).add_(v.grad)
                v.sub_(lr * mom[k])
        mk = models[step + 1]
        for k, v in p.items():
            note(f"param {k} (step {step + 1})", mk["p"][k], from_torch(k, v, m0["F"]), 1e-7)
        for k, v in s.items():
            note(f"stat {k} (step {step + 1})", mk["s"][k], v.numpy(), 1e-7)
    for k in sorted(worst):
        print(f"torch_crosscheck: {k}: worst difference {worst[k]:.2f} of the allowed")
    print(f"torch_crosscheck: {K} steps, batch {bs}+{bs if dann else 0}, arch "
          f"{'seed' if has_bn else 'paper'}, bn-stats {a.bn_stats}, tolerance {a.tol:g}")
    if bad:
        for line in bad[:10]:
            print("torch_crosscheck: " + line, file=sys.stderr)
        print(f"torch_crosscheck: {len(bad)} comparisons out of tolerance", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
