#!/usr/bin/env python3
"""The same DANN network, schedules and data in PyTorch, for an accuracy side by side with
dann-train.  PyTorch's own initialisation and random stream, so the runs are
comparable in distribution, not step by step (tests/torch-crosscheck.bats does step by step).

    torch_accuracy.py SOURCE TARGET TARGET_TEST SOURCE_TEST [--mode dann|source-only]
                      [--epochs 15] [--seed 1] [--threads 1] [--bn joint|per-domain]

--bn joint (default): the 128 images of a step through the network as one batch.  per-domain:
source and target through it one after the other, each with its own batch statistics and its
own running statistics (DomainBN), and each test split scored with its domain's statistics,
as dann-train's default and dann-embed --domain.

Streams as the tools write them (images then labels).  Prints progress to stderr and one TSV
line: impl mode seed epochs target_accuracy source_accuracy seconds.
"""
import argparse
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from torch_dann import DANN, GradReverse, set_domain


def load(path):
    with open(path, "rb") as f:
        x, y = np.load(f), np.load(f)
    if x.ndim == 3:
        x = np.repeat(x[..., None], 3, axis=3)
    return (torch.from_numpy(x).permute(0, 3, 1, 2).float() / 127.5 - 1,
            torch.from_numpy(y.astype(np.int64)))


def accuracy(net, x, y, domain=0):
    net.eval()
    set_domain(net, domain)
    ok = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            ok += (net.label(net.features(x[i:i + 1000])).argmax(1) == y[i:i + 1000]).sum().item()
    net.train()
    return ok / len(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("source"); ap.add_argument("target")
    ap.add_argument("target_test"); ap.add_argument("source_test")
    ap.add_argument("--mode", default="dann", choices=["dann", "source-only"])
    ap.add_argument("--epochs", type=float, default=15)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bn", default="joint", choices=["joint", "per-domain"])
    a = ap.parse_args()
    per = a.bn == "per-domain"
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    g = torch.Generator().manual_seed(a.seed)
    xs, ys = load(a.source)
    xt, _ = load(a.target)
    xe, ye = load(a.target_test)
    xm, ym = load(a.source_test)
    net = DANN("seed", xs.shape[2], per_domain=per)
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    B = 64
    spe = len(xs) // B
    total = int(a.epochs * spe)
    d0, d1 = torch.zeros(B), torch.ones(B)
    t0 = time.time()
    step = 0
    while step < total:
        ps = torch.randperm(len(xs), generator=g)
        pt = torch.randperm(len(xt), generator=g)
        for b in range(spe):
            if step >= total:
                break
            p = step / total
            lr = 0.01 / (1 + 10 * p) ** 0.75
            lam = 2 / (1 + math.exp(-10 * p)) - 1
            for group in opt.param_groups:
                group["lr"] = lr
            i = ps[b * B:(b + 1) * B]
            if a.mode == "dann":
                j = pt[b * B:(b + 1) * B]
                if per:
                    set_domain(net, 0)
                    logits, ds = net(xs[i], lam, B)
                    set_domain(net, 1)
                    dt = net.domain(GradReverse.apply(net.features(xt[j]), lam)).squeeze(1)
                    dom = torch.cat([ds, dt])
                else:
                    logits, dom = net(torch.cat([xs[i], xt[j]]), lam, B)
                loss = (F.cross_entropy(logits, ys[i]) + F.binary_cross_entropy_with_logits(dom[:B], d0)
                        + F.binary_cross_entropy_with_logits(dom[B:], d1))
            else:
                set_domain(net, 0)
                loss = F.cross_entropy(net.label(net.features(xs[i])), ys[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % 1000 == 0:
                print(f"torch: step {step}/{total} loss {loss.item():.4f} {time.time() - t0:.0f} s",
                      file=sys.stderr, flush=True)
    secs = time.time() - t0
    print(f"pytorch\t{a.mode}\t{a.seed}\t{a.epochs:g}\t{accuracy(net, xe, ye, 1 if per else 0):.4f}\t"
          f"{accuracy(net, xm, ym, 0):.4f}\t{secs:.1f}", flush=True)


if __name__ == "__main__":
    main()
