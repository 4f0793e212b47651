"""PyTorch's side of `npm run bench -- study`: the original code's training of one architecture.

Written for featshift (not the authors' file), following the original's loop (docs/method.md §3):
torchvision's Fashion-MNIST pipeline (Resize to 32, ToTensor, Normalize(0, 1), the channel
repeated to three), shuffled DataLoader, the VGG of §1 with Kaiming-normal weights, SGD with
momentum and weight decay, the warm-restart rate set before every step by the original's stateful
schedule, the running training accuracy, evaluation on the test split after every epoch. Reads
Debian's dataset-fashion-mnist files (decompressed into a temporary torchvision root).

    /usr/bin/python3 scripts/reference/study_reference.py WIDTHS[;WIDTHS...] EPOCHS TRAIN VAL THREADS SEED[,SEED...] [WORKERS]

Prints one JSON line: wall seconds from process start and, for one architecture and one seed, its
per-epoch accuracies and where the time went (setup, data, step, evaluation); for several (trained
one after another in this process, seed by seed, as the original's loop does), the same for each,
with its seed, under "members".
"""
import gzip
import json
import math
import os
import shutil
import sys
import tempfile
import time

START = time.perf_counter()

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision.datasets as datasets  # noqa: E402
import torchvision.transforms as transforms  # noqa: E402
from engine_bench import vgg as engine_vgg  # noqa: E402  (beside this script)

DEBIAN = "/usr/share/datasets/fashion-mnist"
FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def torchvision_root():
    root = tempfile.mkdtemp(prefix="featshift-ref-")
    raw = os.path.join(root, "FashionMNIST", "raw")
    os.makedirs(raw)
    for name in FILES:
        with gzip.open(os.path.join(DEBIAN, name + ".gz"), "rb") as src, open(os.path.join(raw, name), "wb") as dst:
            shutil.copyfileobj(src, dst)
    return root


def vgg(widths):
    """The VGG of docs/method.md §1 (engine_bench's), with the original's Kaiming-normal init."""
    model = engine_vgg(widths)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight)
            if m.bias is not None:
                m.bias.data.zero_()
    return model


class WarmRestarts:
    """The original's stateful SGDR schedule (its LearningRateScheduler), restated."""

    def __init__(self, cycle, dataset_size, batch_size, lr_max, mul=2, lr_min=1e-5):
        self.epoch, self.cycle, self.mul = 0, cycle, mul
        self.lr_max, self.lr_min = lr_max, lr_min
        self.steps = math.floor(dataset_size / float(batch_size))

    def rate(self, step):
        t = self.epoch + (1 / self.steps) * step
        lr = self.lr_min + 0.5 * (self.lr_max - self.lr_min) * (1 + math.cos((t / float(self.cycle)) * math.pi))
        if self.epoch > 0 and self.epoch % self.cycle == 0:
            self.cycle *= self.mul
            self.epoch = 0
        return lr


def train_member(widths, epochs, n_train, seed, train_loader, val_loader):
    """One architecture, as the original trains it: its phases and per-epoch accuracies."""
    torch.manual_seed(seed)
    phases = {"setup": 0.0, "data": 0.0, "step": 0.0, "evaluation": 0.0}
    t0 = time.perf_counter()
    model = vgg(widths)
    optimizer = torch.optim.SGD(model.parameters(), 0.01, momentum=0.9, weight_decay=5e-4)
    schedule = WarmRestarts(epochs, n_train, 128, 0.01)
    phases["setup"] = time.perf_counter() - t0
    history = []
    for epoch in range(epochs):
        model.train()
        correct = seen = 0
        waited = time.perf_counter()
        for i, (x, y) in enumerate(train_loader):
            started = time.perf_counter()
            phases["data"] += started - waited
            for group in optimizer.param_groups:
                group["lr"] = schedule.rate(i + 1)
            out = model(x)
            loss = F.cross_entropy(out, y) * x.size(0) / 128.0
            correct += (out.argmax(1) == y).sum().item()
            seen += x.size(0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            waited = time.perf_counter()
            phases["step"] += waited - started
        started = time.perf_counter()
        model.eval()
        val_correct = val_seen = 0
        with torch.no_grad():
            for x, y in val_loader:
                val_correct += (model(x).argmax(1) == y).sum().item()
                val_seen += x.size(0)
        phases["evaluation"] += time.perf_counter() - started
        history.append({"train": 100.0 * correct / seen, "val": 100.0 * val_correct / val_seen})
        schedule.epoch += 1
    return {"epochs": history, "phases": phases, "seconds": time.perf_counter() - t0}


def main():
    # Several architectures (widths separated by ";") train one after another in this process,
    # as the original's loop over a family does: imports and data once.
    members = [[int(w) for w in m.split(",")] for m in sys.argv[1].split(";")]
    epochs, n_train, n_val, threads = (int(a) for a in sys.argv[2:6])
    seeds = [int(s) for s in sys.argv[6].split(",")]
    workers = int(sys.argv[7]) if len(sys.argv) > 7 else 0
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    root = torchvision_root()
    transform = transforms.Compose([transforms.Resize(size=(32, 32)), transforms.ToTensor(),
                                    transforms.Normalize(mean=[0.0], std=[1.0]),
                                    transforms.Lambda(lambda x: x.repeat(3, 1, 1))])
    train_set = torch.utils.data.Subset(datasets.FashionMNIST(root, train=True, transform=transform),
                                        range(n_train))
    val_set = torch.utils.data.Subset(datasets.FashionMNIST(root, train=False, transform=transform), range(n_val))
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=128, shuffle=True, num_workers=workers)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=128, shuffle=False, num_workers=workers)
    data_setup = time.perf_counter() - t0
    runs = [dict(train_member(widths, epochs, n_train, seed, train_loader, val_loader), seed=seed)
            for seed in seeds for widths in members]
    runs[0]["phases"]["setup"] += data_setup
    shutil.rmtree(root, ignore_errors=True)
    seconds = time.perf_counter() - START
    if len(runs) == 1:
        print(json.dumps({"seconds": seconds, "epochs": runs[0]["epochs"], "phases": runs[0]["phases"]}))
    else:
        print(json.dumps({"seconds": seconds, "members": runs}))


if __name__ == "__main__":
    main()
