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
  parameters and a horizontal flip, as bytes, for images of several shapes;
- JPEG files as Pillow writes and decodes them (Image.open(path).convert('RGB'), what
  ImageFolder's loader does): chroma subsampling 4:2:0, 4:2:2 and 4:4:4, progressive, grey,
  Adobe CMYK, and one with an ICC profile and an EXIF rotation (both ignored by PIL), with the
  validation transform of each.

    /usr/bin/python3 scripts/reference/transform_fixture.py
"""
import base64
import io
import json

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image, ImageCms

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


def jpeg_cases(rng, patch):
    cases = []
    specs = [
        ("4:2:0", 61, 47, "RGB", {"subsampling": 2}),
        ("4:2:2", 50, 77, "RGB", {"subsampling": 1}),
        ("4:4:4", 33, 20, "RGB", {"subsampling": 0}),
        ("progressive", 45, 37, "RGB", {"progressive": True}),
        ("grey", 40, 30, "L", {}),
        ("Adobe CMYK", 40, 30, "CMYK", {}),
        ("ICC profile and EXIF rotation", 40, 30, "RGB", {"rotated": True}),
    ]
    for name, width, height, mode, options in specs:
        # Smooth content with noise, as photographs compress, so that every DCT path is exercised.
        coarse = rng.integers(0, 256, size=(height // 8 + 2, width // 8 + 2, 4), dtype=np.uint8)
        image = Image.fromarray(coarse, "RGBA").resize((width, height), Image.BILINEAR)
        noisy = np.asarray(image).astype(np.int16) + rng.integers(-24, 24, size=(height, width, 4))
        image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGBA")
        image = image.convert("RGB") if mode != "CMYK" else Image.fromarray(np.asarray(image), "CMYK")
        if mode == "L":
            image = image.convert("L")
        save = {"quality": 85}
        if options.get("rotated"):
            exif = Image.Exif()
            exif[0x0112] = 6
            save["exif"] = exif.tobytes()
            save["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
        else:
            save.update(options)
        out = io.BytesIO()
        image.save(out, "JPEG", **save)
        decoded = Image.open(io.BytesIO(out.getvalue())).convert("RGB")
        val = T.CenterCrop(patch)(T.Resize(patch + 32)(decoded))
        cases.append({
            "name": name, "width": width, "height": height,
            "jpeg": base64.b64encode(out.getvalue()).decode(),
            "rgb": base64.b64encode(np.asarray(decoded).tobytes()).decode(),
            "val": base64.b64encode(np.asarray(val).tobytes()).decode(),
        })
    return {"patch": patch, "cases": cases}


def main():
    rng = np.random.default_rng(2018)
    out = {"kmnist": kmnist_cases(rng), "cifar100": cifar100_case(rng), "folder": folder_cases(rng, 32),
           "jpeg": jpeg_cases(rng, 32)}
    with open("test/fixtures/reference-transforms.json", "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
