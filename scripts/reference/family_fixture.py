"""Writes test/fixtures/reference-family.json: what the reference algorithm computes.

It follows the published algorithm of Mundt et al. (docs/method.md §2) with NumPy and SciPy, so
that featshift's family generator can be compared with it integer for integer, and records a few
floating-point facts (NumPy sums, aranges, SciPy's erf) and PyTorch's parameter counts for the
network of docs/method.md §1. Needs Debian's python3-numpy, python3-scipy, python3-torch:

    /usr/bin/python3 scripts/reference/family_fixture.py
"""
import json
import math
import sys

import mpmath
import numpy as np
import scipy.special as spcl
import torch.nn as nn


def base_widths(depth, patch=32):
    k = (depth - 7) // 3
    c = 4096 if patch > 100 else 512
    return [64, 64, 128, 128] + [256] * k + [512] * (2 * k) + [c, c]


def family(depth):
    widths = base_widths(depth)
    layers, total = len(widths), np.sum(widths)
    out = []
    for xi in np.arange(0, layers + 1.0, 1.0):
        for omega in np.arange(0.0, 6.0, 0.5):
            if omega == 0:
                continue
            for alpha in np.arange(-40.0, 44.0, 4):
                x = np.arange(0, layers, 0.01)
                phi = np.exp(-1 * np.square(x - xi) / (2 * np.square(omega)))
                cdf = 0.5 * (1 + spcl.erf((alpha * ((x - xi) / omega)) / np.sqrt(2)))
                norm = (2 / omega * (np.sqrt(2 * math.pi))) / (2 * np.pi)
                pdf = norm * phi * cdf
                step = len(pdf) / float(layers)
                bins = []
                for i in range(layers):
                    lo, hi = int(i * step), int((i + 1) * step)
                    bins.append(np.trapz(pdf[lo:hi], np.arange(i, i + 1, 1.0 / (hi - lo))))
                bins = np.array(bins)
                if np.sum(bins) <= 0.95:
                    continue
                f = np.ceil(bins * total)
                if (f < 2).any():
                    continue
                out.append([float(xi), float(omega), float(alpha), [int(v) for v in f]])
    return out


def torch_params(widths, classes=10, patch=32):
    k = (len(widths) - 6) // 3
    layers, channels, size, i = [], 3, patch, 0
    for count in [2, 2, k, k, k]:
        for _ in range(count):
            layers += [nn.Conv2d(channels, widths[i], 3, padding=1, bias=False), nn.BatchNorm2d(widths[i])]
            channels = widths[i]
            i += 1
        size //= 2
    h1, h2 = widths[i], widths[i + 1]
    layers += [nn.Linear(channels * size * size, h1, bias=False), nn.BatchNorm1d(h1),
               nn.Linear(h1, h2, bias=False), nn.BatchNorm1d(h2), nn.Linear(h2, classes)]
    return sum(p.numel() for p in nn.Sequential(*layers).parameters())


def main():
    mpmath.mp.prec = 256
    depths = list(range(10, 41, 3))
    families = {str(d): family(d) for d in depths}
    for d in depths:
        print(d, len(families[str(d)]), file=sys.stderr)
    probes = [0.5, 1.0, 2.0, 3.0, -0.1, 1e-10, 4.5, -5.5, 0.3333, 2.7182818]
    arrays = [[0.1] * 10, [0.1 * i for i in range(37)], [1e16, 1.0, -1e16] * 50 + [3.0] * 7]
    facts = {
        "arangeLengths": [[0, d - 1, 0.01, len(np.arange(0, d - 1, 0.01))] for d in depths],
        "pairwiseSums": [[a, float(np.sum(np.array(a)))] for a in arrays],
        "scipyErf": [[p, float(spcl.erf(p))] for p in probes],
        "exactErf": [[p, float(mpmath.erf(mpmath.mpf(p)))] for p in probes],
        "exactExp": [[p, float(mpmath.exp(mpmath.mpf(p)))] for p in [-700.5, -1.5, -1e-9, 0.1, 1.0, 2.5, 88.7, 700.1]],
    }
    sample_widths = [base_widths(16)] + [families["16"][i][3] for i in (0, 96, 192)]
    params = [[w, torch_params(w)] for w in sample_widths]
    params.append([base_widths(16, 224), torch_params(base_widths(16, 224), 1000, 224)])
    with open("test/fixtures/reference-family.json", "w") as f:
        json.dump({"families": families, "facts": facts, "torchParams": params}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
