#!/usr/bin/env python3
"""PyTorch reference for the DANN training step (the side-by-side benchmark).

The same network as dann-train --arch seed (or --arch paper), batch 64 source + 64 target,
SGD with momentum 0.9, label cross-entropy + domain binary cross-entropy through a gradient
reversal layer.  Prints one TSV line per thread setting:
    impl  threads  images_per_s(median over reps)  min  max  images_per_cpu_s(median)
the last dividing by the process CPU time (steadier than the wall clock on a shared machine).
An "image" is one of the 128 in a batch, as in dann-train's images/s.
"""
import argparse
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lam):
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return -ctx.lam * g, None


class DomainBN(nn.Module):
    """BatchNorm with one weight and bias and a set of running statistics per domain
    (dann-train --bn-stats per-domain): `domain` picks the set, in training and evaluation."""

    def __init__(self, C):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(C))
        self.bias = nn.Parameter(torch.zeros(C))
        for d in (0, 1):
            self.register_buffer(f"mean{d}", torch.zeros(C))
            self.register_buffer(f"var{d}", torch.ones(C))
        self.domain = 0

    def forward(self, x):
        d = self.domain
        return F.batch_norm(x, getattr(self, f"mean{d}"), getattr(self, f"var{d}"), self.weight,
                            self.bias, self.training, 0.1, 1e-5)


def set_domain(net, d):
    for m in net.modules():
        if isinstance(m, DomainBN):
            m.domain = d


class DANN(nn.Module):
    def __init__(self, arch="seed", size=28, per_domain=False):
        """per_domain: the feature extractor's and domain classifier's BatchNorm keep running
        statistics per domain (DomainBN); run each domain through them separately."""
        super().__init__()
        bn = arch == "seed"
        flat = 48 * ((((size - 4) // 2) - 4) // 2) ** 2
        dbn = DomainBN if per_domain else (lambda c: nn.BatchNorm2d(c))
        dbn1 = DomainBN if per_domain else (lambda c: nn.BatchNorm1d(c))
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 5), dbn(32) if bn else nn.Identity(), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 48, 5), dbn(48) if bn else nn.Identity(), nn.ReLU(),
            nn.Dropout2d(0.5) if bn else nn.Identity(), nn.MaxPool2d(2), nn.Flatten())
        self.label = nn.Sequential(
            nn.Linear(flat, 100), nn.BatchNorm1d(100) if bn else nn.Identity(), nn.ReLU(),
            nn.Linear(100, 100), nn.BatchNorm1d(100) if bn else nn.Identity(), nn.ReLU(),
            nn.Linear(100, 10))
        self.domain = nn.Sequential(
            nn.Linear(flat, 100), dbn1(100) if bn else nn.Identity(), nn.ReLU(),
            nn.Linear(100, 1))

    def forward(self, x, lam, nsrc):
        f = self.features(x)
        return self.label(f[:nsrc]), self.domain(GradReverse.apply(f, lam)).squeeze(1)


def bench(threads, steps, reps, warmup, arch, size, batch):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = DANN(arch, size)
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    xs = torch.rand(batch, 3, size, size) * 2 - 1
    xt = torch.rand(batch, 3, size, size) * 2 - 1
    ys = torch.randint(0, 10, (batch,))
    d = torch.cat([torch.zeros(batch), torch.ones(batch)])

    def step():
        opt.zero_grad(set_to_none=False)
        logits, dom = net(torch.cat([xs, xt]), 0.5, batch)
        loss = F.cross_entropy(logits, ys) + F.binary_cross_entropy_with_logits(dom, d)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    rates, crates = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            step()
        rates.append(steps * 2 * batch / (time.perf_counter() - t0))
        crates.append(steps * 2 * batch / (time.process_time() - c0))
    return rates, crates


def bench_embed(threads, reps, arch, size, n=4096, batch=256):
    """Evaluation-mode forward to the 768-wide features under torch.no_grad(), as dann-embed."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = DANN(arch, size)
    net.eval()
    x = torch.rand(n, 3, size, size) * 2 - 1
    rates, crates = [], []
    with torch.no_grad():
        for i in range(0, n, batch):  # warm-up
            net.features(x[i:i + batch])
        for _ in range(reps):
            t0, c0 = time.perf_counter(), time.process_time()
            for i in range(0, n, batch):
                net.features(x[i:i + batch])
            rates.append(n / (time.perf_counter() - t0))
            crates.append(n / (time.process_time() - c0))
    return rates, crates


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--arch", default="seed", choices=["seed", "paper"])
    ap.add_argument("--size", type=int, default=28)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--embed", action="store_true", help="also time the no_grad feature forward")
    a = ap.parse_args()
    print(f"# torch {torch.__version__}, {a.arch} arch, {a.size}x{a.size}, batch {a.batch}+{a.batch}", file=sys.stderr)
    for t in [int(x) for x in a.threads.split(",")] if a.steps > 1 or not a.embed else []:
        r, c = bench(t, a.steps, a.reps, a.warmup, a.arch, a.size, a.batch)
        print(f"pytorch\t{t}\t{statistics.median(r):.0f}\t{min(r):.0f}\t{max(r):.0f}"
              f"\t{statistics.median(c):.0f}", flush=True)
    if a.embed:
        for t in [int(x) for x in a.threads.split(",")]:
            r, c = bench_embed(t, a.reps, a.arch, a.size)
            print(f"pytorch-embed\t{t}\t{statistics.median(r):.0f}\t{min(r):.0f}\t{max(r):.0f}"
                  f"\t{statistics.median(c):.0f}", flush=True)


if __name__ == "__main__":
    main()
