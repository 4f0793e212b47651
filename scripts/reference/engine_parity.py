"""Writes test/fixtures/engine-parity.json: PyTorch's numbers for featshift's parity test.

A small VGG-10 of docs/method.md §1 (widths 4 4 6 6 8 8 8 10 10, 3 classes, batch-norm eps 1e-4,
dropout 0 so that no random mask enters), one batch of 4 images of 32 px. Records the initial
state, the logits, loss and every gradient of one training-mode step, and the state after three
SGD steps (lr 0.01, momentum 0.9, weight decay 5e-4), plain and Nesterov.

Everything is computed in float64. A float32 reference would pin one CPU's kernels (oneDNN picks
other kernels, and so another summation order, on another processor); in float64 the rounding of
any summation order is about 1e-16 relative, so the fixture holds on every machine, and the test
can compare featshift's float64 run element by element at a tight tolerance and its float32 run
at a tolerance set by float32's own error growth. Needs Debian's python3-torch:

    /usr/bin/python3 scripts/reference/engine_parity.py
"""
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTHS = [4, 4, 6, 6, 8, 8, 8, 10, 10]
CLASSES, EPS, BATCH = 3, 1e-4, 4


class Vgg(nn.Module):
    def __init__(self, widths, batch_norm=True):
        super().__init__()
        bn2d = (lambda n: nn.BatchNorm2d(n, eps=EPS)) if batch_norm else (lambda n: nn.Identity())
        bn1d = (lambda n: nn.BatchNorm1d(n, eps=EPS)) if batch_norm else (lambda n: nn.Identity())
        k = (len(widths) - 6) // 3
        self.features = nn.Module()
        channels, i = 3, 0
        for b, count in enumerate([2, 2, k, k, k], start=1):
            block = nn.Module()
            for j in range(1, count + 1):
                block.add_module(f"conv{j}", nn.Conv2d(channels, widths[i], 3, padding=1, bias=False))
                block.add_module(f"bn{j}", bn2d(widths[i]))
                channels, i = widths[i], i + 1
            self.features.add_module(f"block{b}", block)
        self.counts = [2, 2, k, k, k]
        self.classifier = nn.Module()
        self.classifier.add_module("fc1", nn.Linear(channels, widths[i], bias=False))
        self.classifier.add_module("bn1", bn1d(widths[i]))
        self.classifier.add_module("fc2", nn.Linear(widths[i], widths[i + 1], bias=False))
        self.classifier.add_module("bn2", bn1d(widths[i + 1]))
        self.classifier.add_module("fc3", nn.Linear(widths[i + 1], CLASSES))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)
                if m.bias is not None:
                    m.bias.data.zero_()

    def forward(self, x):
        for b, count in enumerate(self.counts, start=1):
            block = getattr(self.features, f"block{b}")
            for j in range(1, count + 1):
                x = F.relu(getattr(block, f"bn{j}")(getattr(block, f"conv{j}")(x)))
            x = F.max_pool2d(x, 2, 2)
        x = torch.flatten(x, 1)
        c = self.classifier
        x = F.relu(c.bn1(c.fc1(x)))
        x = F.relu(c.bn2(c.fc2(x)))
        return c.fc3(F.dropout(x, 0.0, self.training))


def dump(t):
    return {"shape": list(t.shape), "data": t.detach().reshape(-1).double().tolist()}


def state(model):
    return {k: dump(v) for k, v in model.state_dict().items()}


def train_steps(model, x, y, nesterov):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4, nesterov=nesterov)
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return state(model)


def main():
    torch.manual_seed(2018)
    torch.set_num_threads(1)
    model = Vgg(WIDTHS).double()
    x = torch.randn(BATCH, 3, 32, 32, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 2])
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    grads = {n: dump(p.grad) for n, p in model.named_parameters()}
    out = {"widths": WIDTHS, "classes": CLASSES, "eps": EPS, "input": dump(x), "targets": y.tolist(), "dtype": "float64",
           "initial": {k: dump(v) for k, v in initial.items()}, "logits": dump(logits),
           "loss": loss.item(), "grads": grads}
    for nesterov in (False, True):
        model.load_state_dict(initial)
        out["afterThreeSteps" + ("Nesterov" if nesterov else "")] = train_steps(model, x, y, nesterov)
    # The reference's --batch-norm 0: no batch-norm layers, and still no conv or hidden bias.
    plain = Vgg(WIDTHS, batch_norm=False).double()
    plain_initial = {k: v.clone() for k, v in plain.state_dict().items()}
    plain.train()
    plain_logits = plain(x)
    plain_loss = F.cross_entropy(plain_logits, y)
    plain_loss.backward()
    out["noBatchNorm"] = {"initial": {k: dump(v) for k, v in plain_initial.items()},
                          "logits": dump(plain_logits), "loss": plain_loss.item(),
                          "grads": {n: dump(p.grad) for n, p in plain.named_parameters()}}
    with open("test/fixtures/engine-parity.json", "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
