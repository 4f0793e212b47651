"""Writes test/fixtures/reference-transforms.json: the original code's dataset transforms.

Applies, with Debian's PyTorch, torchvision and Pillow, the transforms of the authors'
lib/Datasets/datasets.py (docs/method.md §3) to small seeded images, so that featshift's loaders
can be compared with them:

- KMNIST: bytes / 255 in float32, normalised with KMNIST's statistics, then
  F.interpolate(mode='bilinear') (align_corners false) to 32 and 48 px, one channel;
- CIFAR-100: Resize((P, P)), ToTensor, Normalize with the reference's CIFAR-100 statistics
  (the validation transform; the training one adds random draws);
- image folders (the reference's IMAGENET): the validation transform Resize(P + 32) and
  CenterCrop(P) as bytes, and the training transform's deterministic part, resized_crop with given
  parameters and a horizontal flip, as bytes, for images of several shapes.

    /usr/bin/python3 scripts/reference/transform_fixture.py
"""
import json

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image

KMNIST_MEAN, KMNIST_STD = 0.190362019974657, 0.3474631837640068
CIFAR100_MEAN, CIFAR100_STD = [0.5071, 0.4866, 0.4409], [0.2009, 0.1984, 0.2023]


def kmnist_cases(rng):
    images = rng.integers(0, 256, size=(2, 28, 28), dtype=np.uint8)
    x = torch.from_numpy(images.reshape(2, 784).copy()).float() / 255
    x.resize_(2, 1, 28, 28)
    x = (x - KMNIST_MEAN) / KMNIST_STD
    out = []
    for size in (32, 48):
        y = F.interpolate(x, size=size, mode='bilinear', align_corners=False)
        out.append({"size": size, "expected": y.reshape(-1).tolist()})
    return {"pixels": images.reshape(-1).tolist(), "cases": out}


def cifar100_case(rng):
    image = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    transform = T.Compose([T.Resize(size=(32, 32)), T.ToTensor(), T.Normalize(CIFAR100_MEAN, CIFAR100_STD)])
    y = transform(Image.fromarray(image))
    # The CIFAR binary layout: channel-major bytes.
    return {"pixels": image.transpose(2, 0, 1).reshape(-1).tolist(), "expected": y.reshape(-1).tolist()}


def folder_cases(rng, patch):
    cases = []
    for width, height in ((50, 37), (37, 50), (64, 64), (200, 90), (97, 131)):
        image = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        pil = Image.fromarray(image)
        resized = T.Resize(patch + 32)(pil)
        val = T.CenterCrop(patch)(resized)
        rw, rh = resized.size
        top, left = rh // 3, rw // 5
        crop_h, crop_w = max(1, rh - top - 3), max(1, (rw - left) // 2)
        train = TF.hflip(TF.resized_crop(resized, top, left, crop_h, crop_w, [patch, patch]))
        as_bytes = lambda im: np.asarray(im).transpose(2, 0, 1).reshape(-1).tolist()
        cases.append({
            "width": width, "height": height, "pixels": image.transpose(2, 0, 1).reshape(-1).tolist(),
            "resized": [rw, rh], "resizedPixels": as_bytes(resized), "val": as_bytes(val),
            "crop": {"top": top, "left": left, "width": crop_w, "height": crop_h}, "trainFlipped": as_bytes(train),
        })
    return {"patch": patch, "cases": cases}


def main():
    rng = np.random.default_rng(2018)
    out = {"kmnist": kmnist_cases(rng), "cifar100": cifar100_case(rng), "folder": folder_cases(rng, 32)}
    with open("test/fixtures/reference-transforms.json", "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
