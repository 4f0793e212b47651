"""Writes test/fixtures/reference-linear.json: the linear family from its formulas.

An independent reading of docs/method.md §8, in plain Python: the line w_j = w0 + wa * j over the
D - 1 convolutions, RegNet's quantisation (Radosavovic et al. 2020, pycls's generate_regnet:
exponents and widths rounded half to even, as numpy.round does), and the paper's hold, every
member's features summing to the baseline's total (largest remainders, ties to the earlier
layer). featshift's generator must give the same widths integer for integer:

    python3 scripts/reference/linear_fixture.py
"""
import json
import math
import os


def base_widths(depth, patch=32):
    k = (depth - 7) // 3
    c = 4096 if patch > 100 else 512
    return [64, 64, 128, 128] + [256] * k + [512] * (2 * k) + [c, c]


def line(layers, w0, wa, wm, q):
    out = []
    for j in range(layers):
        u = w0 + wa * j
        if not u > 0:
            return None
        if wm is None:
            out.append(u)
            continue
        s = round(math.log(u / w0) / math.log(wm))
        w = round(w0 * wm ** s / q) * q
        if w <= 0:
            return None
        out.append(w)
    return out


def hold_features(shape, total):
    s = sum(shape)
    exact = [w * total / s for w in shape]
    widths = [math.floor(v) for v in exact]
    left = total - sum(widths)
    order = sorted(range(len(shape)), key=lambda j: (-(exact[j] - math.floor(exact[j])), j))
    for j in order:
        if left <= 0:
            break
        widths[j] += 1
        left -= 1
    return widths


def arange(lo, hi, step):
    """numpy.arange(lo, hi + step, step) without numpy: lo + i * step while below hi + step."""
    n = math.ceil((hi + step - lo) / step)
    return [lo + i * step for i in range(n)]


def family(depth, multiplier, w0s, was, wms, q, least=2):
    base = base_widths(depth)
    total = max(1, round(sum(base) * multiplier))
    members, seen, position = [], set(), 0
    for w0 in w0s:
        for wa in was:
            for wm in wms:
                widths = line(len(base), w0, wa, wm, q)
                if widths is None:
                    continue
                position += 1
                held = hold_features(widths, total)
                if min(held) < least or tuple(held) in seen:
                    continue
                seen.add(tuple(held))
                members.append({"id": position, "w0": w0, "wa": wa, "wm": wm, "widths": held})
    return members


CASES = [
    {"depth": 16, "multiplier": 0.125, "w0": [48, 48, 1], "wa": [-3, 48, 3], "wm": None, "q": 8},
    {"depth": 16, "multiplier": 1, "w0": [16, 112, 48], "wa": [-6, 60, 6], "wm": [1.5, 2.5, 0.5], "q": 8},
    {"depth": 10, "multiplier": 0.25, "w0": [24, 24, 1], "wa": [-2, 20, 2], "wm": [2, 2, 1], "q": 4},
    {"depth": 19, "multiplier": 0.5, "w0": [32, 64, 32], "wa": [0, 40, 8], "wm": None, "q": 8},
]


def main():
    out = []
    for c in CASES:
        wms = [None] if c["wm"] is None else arange(*c["wm"])
        out.append({
            **c,
            "lines": [
                {"w0": w0, "wa": wa, "wm": wm,
                 "widths": line(len(base_widths(c["depth"])), w0, wa, wm, c["q"])}
                for w0 in arange(*c["w0"]) for wa in arange(*c["wa"]) for wm in wms
            ],
            "members": family(c["depth"], c["multiplier"], arange(*c["w0"]), arange(*c["wa"]), wms, c["q"]),
        })
    path = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "reference-linear.json")
    with open(path, "w") as f:
        json.dump(out, f)
        f.write("\n")
    print(path, sum(len(c["members"]) for c in out), "members")


main()
