"""PyTorch's side of `npm run bench -- engine`: the same VGG training step.

    /usr/bin/python3 scripts/reference/engine_bench.py WIDTHS BATCH THREADS STEPS [MODE]

MODE: nchw (PyTorch's default), channels-last (model and input in torch.channels_last), bf16
(NCHW under CPU autocast to bfloat16, as a PyTorch user trains in mixed precision), or
bf16-channels-last (the same in channels-last, oneDNN's faster bf16 layout on many CPUs).

Prints {"img_s": ..., "rss_mb": ...}: median step throughput after two warm-up steps, and peak RSS.
FEATSHIFT_BENCH_DEVICE (default cpu) names the device, such as cuda:0 (the GPU check); a GPU step
is timed to its end, and autocast is CUDA's there. With FEATSHIFT_BENCH_LOCKSTEP=1 it steps when
told, one step per 'step' line on stdin, and prints each step's milliseconds (bench/lockstep.ts).
"""
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def vgg(widths, classes=10, eps=1e-4):
    k = (len(widths) - 6) // 3
    layers, channels, i = [], 3, 0
    for count in [2, 2, k, k, k]:
        for _ in range(count):
            layers += [nn.Conv2d(channels, widths[i], 3, padding=1, bias=False),
                       nn.BatchNorm2d(widths[i], eps=eps), nn.ReLU(inplace=True)]
            channels, i = widths[i], i + 1
        layers.append(nn.MaxPool2d(2, 2))
    h1, h2 = widths[i], widths[i + 1]
    return nn.Sequential(*layers, nn.Flatten(),
                         nn.Linear(channels, h1, bias=False), nn.BatchNorm1d(h1, eps=eps), nn.ReLU(inplace=True),
                         nn.Linear(h1, h2, bias=False), nn.BatchNorm1d(h2, eps=eps), nn.ReLU(inplace=True),
                         nn.Dropout(0.5), nn.Linear(h2, classes))


def main():
    widths = [int(w) for w in sys.argv[1].split(",")]
    batch, threads, steps = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    mode = sys.argv[5] if len(sys.argv) > 5 else "nchw"
    device = torch.device(os.environ.get("FEATSHIFT_BENCH_DEVICE", "cpu"))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = vgg(widths)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight)
    model.train()
    model = model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.rand(batch, 3, 32, 32, device=device)
    y = torch.arange(batch, device=device) % 10
    if mode in ("channels-last", "bf16-channels-last"):
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)

    def step():
        start = time.perf_counter()
        opt.zero_grad()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=mode.startswith("bf16")):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    step()
    step()
    if os.environ.get("FEATSHIFT_BENCH_LOCKSTEP") == "1":
        # bench/lockstep.ts: one step per 'step' line on stdin, its milliseconds on stdout.
        times = []
        print("ready", flush=True)
        for line in sys.stdin:
            if line.strip() != "step":
                break
            times.append(step())
            print(times[-1] * 1000, flush=True)
    else:
        times = [step() for _ in range(steps)]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"img_s": batch / statistics.median(times), "rss_mb": rss_mb}), flush=True)


if __name__ == "__main__":
    main()
