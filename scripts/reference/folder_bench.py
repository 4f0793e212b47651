"""The reference's side of `npm run bench -- data`'s image-folder row: torchvision's ImageFolder.

The reference's IMAGENET training transform (Resize(P + 32), RandomResizedCrop(P),
RandomHorizontalFlip, ToTensor) on PIL images read by ImageFolder, through a DataLoader with
WORKERS worker processes (batch BATCH, shuffled), one pass over the folder:

    /usr/bin/python3 scripts/reference/folder_bench.py DIR WORKERS BATCH PATCH

Prints {"img_s": ..., "setup_s": ..., "rss_mb": [...]}: images a second over the pass (worker
start included), the seconds ImageFolder took to list the folder, and the resident memory of the
process and its workers together, sampled every 0.25 s.
"""
import json
import os
import sys
import threading
import time

import torch
import torchvision.datasets as D
import torchvision.transforms as T


def tree_rss_mb(pid):
    """Resident memory of a process and its children, from /proc."""
    total = 0
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def main():
    root, workers, batch, patch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(1)
    transform = T.Compose([T.Resize(patch + 32), T.RandomResizedCrop(patch), T.RandomHorizontalFlip(),
                           T.ToTensor()])
    start = time.perf_counter()
    dataset = D.ImageFolder(root, transform=transform)
    setup = time.perf_counter() - start
    samples = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            samples.append(tree_rss_mb(os.getpid()))
            time.sleep(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers)
    start = time.perf_counter()
    count = sum(x.shape[0] for x, _ in loader)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    print(json.dumps({"img_s": count / seconds, "setup_s": setup, "rss_mb": samples}))


if __name__ == "__main__":
    main()
