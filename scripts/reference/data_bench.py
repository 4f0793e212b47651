"""The reference's side of `npm run bench -- data`: torchvision's CIFAR-10 training pipeline.

RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize on PIL images, as
torchvision.datasets.CIFAR10 serves them, through a DataLoader (batch 128, shuffled):

    /usr/bin/python3 scripts/reference/data_bench.py IMAGES WORKERS

Prints {"img_s": ...} for one pass over IMAGES synthetic images.
"""
import json
import sys
import time

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image


class Cifar(torch.utils.data.Dataset):
    def __init__(self, n, transform):
        rng = np.random.default_rng(0)
        self.data = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
        self.targets = list(rng.integers(0, 10, size=n))
        self.transform = transform

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.data[i])), self.targets[i]


def main():
    n, workers = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(1)
    transform = T.Compose([T.Resize((32, 32)), T.RandomCrop(32, 4), T.RandomHorizontalFlip(), T.ToTensor(),
                           T.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))])
    loader = torch.utils.data.DataLoader(Cifar(n, transform), batch_size=128, shuffle=True, num_workers=workers)
    start = time.perf_counter()
    count = sum(x.shape[0] for x, _ in loader)
    print(json.dumps({"img_s": count / (time.perf_counter() - start)}))


if __name__ == "__main__":
    main()
