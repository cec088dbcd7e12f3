"""nn_ref.py - an independent NumPy forward pass of a dann-train model (man/dann-model.5).

usage: nn_ref.py MODEL DATASET LOGITS [N [DOMAIN]]
Reads the model file as documented, runs the first N (default 10) images of the dataset
stream through it in evaluation mode (BatchNorm running statistics, of DOMAIN source or target
when the model keeps a set per domain; no dropout), in the
documented layer order conv -> BN -> ReLU -> max-pool, and compares the logits with the
first array of LOGITS (the output of `dann-embed --layer logits`).  Exits 1 if any logit
differs by more than 1e-4.  Written from the man page, not from the C code."""
import sys

import numpy as np

MAGIC = 1684106862


def read_stream(path):
    out = []
    with open(path, "rb") as f:
        while True:
            try:
                out.append(np.load(f))
            except (EOFError, ValueError):
                break
    return out


def conv(x, w, b):
    """x (B,H,W,C), w (OC,K,K,C) -> (B,H-K+1,W-K+1,OC), valid, stride 1"""
    B, H, W, C = x.shape
    OC, K = w.shape[0], w.shape[1]
    OH, OW = H - K + 1, W - K + 1
    out = np.zeros((B, OH, OW, OC))
    for ky in range(K):
        for kx in range(K):
            out += np.einsum("bhwc,oc->bhwo", x[:, ky:ky + OH, kx:kx + OW, :], w[:, ky, kx, :])
    return out + b


def bn(x, g, b, m, v):
    return (x - m) / np.sqrt(v + 1e-5) * g + b


def pool(x):
    B, H, W, C = x.shape
    x = x[:, :H // 2 * 2, :W // 2 * 2, :].reshape(B, H // 2, 2, W // 2, 2, C)
    return x.max(axis=(2, 4))


def relu(x):
    return np.maximum(x, 0)


def main():
    model_path, data_path, logits_path = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    domain = sys.argv[5] if len(sys.argv) > 5 else "source"
    arrs = read_stream(model_path)
    hdr = arrs[0]
    assert hdr.dtype == np.int64 and hdr.shape == (16,) and hdr[0] == MAGIC, "not a model"
    arch, H, W, F = int(hdr[3]), int(hdr[4]), int(hdr[5]), int(hdr[7])
    has_bn = arch == 0
    names = ["conv1.weight", "conv1.bias"] + (["bn1.weight", "bn1.bias"] if has_bn else []) + \
        ["conv2.weight", "conv2.bias"] + (["bn2.weight", "bn2.bias"] if has_bn else []) + \
        ["label.fc1.weight", "label.fc1.bias"] + \
        (["label.bn1.weight", "label.bn1.bias"] if has_bn else []) + \
        ["label.fc2.weight", "label.fc2.bias"] + \
        (["label.bn2.weight", "label.bn2.bias"] if has_bn else []) + \
        ["label.fc3.weight", "label.fc3.bias", "domain.fc1.weight", "domain.fc1.bias"] + \
        (["domain.bn1.weight", "domain.bn1.bias"] if has_bn else []) + \
        ["domain.fc2.weight", "domain.fc2.bias"]
    if has_bn:
        for layer in ["bn1", "bn2", "label.bn1", "label.bn2", "domain.bn1"]:
            names += [layer + ".running_mean", layer + ".running_var"]
        if hdr[13] == 2:  # per-domain statistics: the target set of bn1, bn2, domain.bn1
            for layer in ["bn1", "bn2", "domain.bn1"]:
                names += [layer + ".target_running_mean", layer + ".target_running_var"]
    assert int(hdr[9]) + int(hdr[10]) == len(names), "tensor count"
    p = {k: a.astype(np.float64) for k, a in zip(names, arrs[1:1 + len(names)])}

    data = read_stream(data_path)
    x = data[0][:n].astype(np.float64)
    if x.ndim == 3:
        x = np.repeat(x[..., None], 3, axis=3)
    assert x.shape[1:] == (H, W, 3), "image size"
    x = x / 127.5 - 1.0

    def maybe_bn(x, name):
        if not has_bn:
            return x
        run = name + (".target_running" if domain == "target" and
                      name + ".target_running_mean" in p else ".running")
        return bn(x, p[name + ".weight"], p[name + ".bias"], p[run + "_mean"], p[run + "_var"])

    h = pool(relu(maybe_bn(conv(x, p["conv1.weight"], p["conv1.bias"]), "bn1")))
    h = pool(relu(maybe_bn(conv(h, p["conv2.weight"], p["conv2.bias"]), "bn2")))
    feat = h.reshape(n, -1)  # (H,W,C) order
    assert feat.shape[1] == F
    h = relu(maybe_bn(feat @ p["label.fc1.weight"].T + p["label.fc1.bias"], "label.bn1"))
    h = relu(maybe_bn(h @ p["label.fc2.weight"].T + p["label.fc2.bias"], "label.bn2"))
    logits = h @ p["label.fc3.weight"].T + p["label.fc3.bias"]

    ours = read_stream(logits_path)[0][:n]
    diff = np.abs(ours.astype(np.float64) - logits).max()
    print("max |logit difference| over %d images: %.3g" % (n, diff))
    return 0 if diff <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
