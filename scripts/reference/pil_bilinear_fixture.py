"""Writes test/fixtures/pil-bilinear.json: Pillow's bilinear resize of a few 8-bit images.

torchvision's Resize calls Pillow on PIL images; featshift's src/data/resize.ts must match it.
Needs Debian's python3-pil and python3-numpy:

    /usr/bin/python3 scripts/reference/pil_bilinear_fixture.py
"""
import json, numpy as np
from PIL import Image
rng = np.random.default_rng(3)
cases = []
for (w, h, ow, oh) in [(28, 28, 32, 32), (28, 28, 64, 64), (32, 32, 28, 28), (28, 28, 100, 100), (5, 7, 11, 3)]:
    img = rng.integers(0, 256, size=(h, w), dtype=np.uint8)
    if w == 28: img[:, :6] = 0; img[10:14, :] = 255
    out = np.asarray(Image.fromarray(img, 'L').resize((ow, oh), Image.BILINEAR))
    cases.append({"in": [w, h], "out": [ow, oh], "src": img.reshape(-1).tolist(), "expected": out.reshape(-1).tolist()})
json.dump({"cases": cases}, open('test/fixtures/pil-bilinear.json', 'w'), separators=(',', ':'))
