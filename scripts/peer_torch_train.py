#!/usr/bin/env python3
"""PyTorch peer for `anodiff train` throughput: the same CIFAR ResNet, vanilla SGD, same batch.

The network mirrors anodiff-trainers' `resnet<6n+2>` (default projection shortcuts): a 3x3 conv
with 16 channels + BN + ReLU, three stages of widths 16/32/64 with strides 1/2/2 and n basic
blocks each (conv-BN-ReLU-conv-BN plus shortcut, ReLU; a 1x1 conv + BN shortcut where the shape
changes), global average pooling, a linear layer. Parameter counts are checked against the issue
(ResNet-14 175,258; ResNet-20 272,474).

Training: cross-entropy, plain SGD (lr 0.1, no momentum, no weight decay), BN in train mode, on
random CIFAR-shaped batches (3x32x32, 10 classes) held on the device, so data loading is not
timed (anodiff's loader is cheap next to a ResNet step too). With --record, each step also copies
all weights into one flat float32 host array (what `anodiff train` records every step).

Prints one JSON object: {"framework": "pytorch", "steps_per_s": ..., ...}.

    python3 scripts/peer_torch_train.py --device cpu --model resnet20 --batch-size 128 --steps 5
    python3 scripts/peer_torch_train.py --device cuda --model resnet14 --batch-size 1024 --steps 300
"""

import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

EXPECTED_PARAMS = {14: 175_258, 20: 272_474, 56: 855_770, 110: 1_730_714}


class ConvBn(nn.Module):
    def __init__(self, c_in, c_out, k, stride):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        return self.bn(self.conv(x))


class Block(nn.Module):
    def __init__(self, c_in, c_out, stride, shortcut):
        super().__init__()
        self.c1 = ConvBn(c_in, c_out, 3, stride)
        self.c2 = ConvBn(c_out, c_out, 3, 1)
        self.shortcut = shortcut
        self.proj = ConvBn(c_in, c_out, 1, stride) if shortcut and (stride != 1 or c_in != c_out) else None

    def forward(self, x):
        out = self.c2(F.relu(self.c1(x)))
        if self.shortcut:
            out = out + (self.proj(x) if self.proj is not None else x)
        return F.relu(out)


class ResNet(nn.Module):
    def __init__(self, depth, shortcut=True, in_channels=3, num_classes=10):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"depth must be 6n+2 >= 8, got {depth}")
        n = (depth - 2) // 6
        self.stem = ConvBn(in_channels, 16, 3, 1)
        blocks, c_in = [], 16
        for width, stride in [(16, 1), (32, 2), (64, 2)]:
            for i in range(n):
                blocks.append(Block(c_in, width, stride if i == 0 else 1, shortcut))
                c_in = width
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        h = self.blocks(F.relu(self.stem(x)))
        return self.fc(h.mean(dim=(2, 3)))


def parse_model(name):
    name = name.lower()
    shortcut = not name.endswith("-noshort")
    base = name[: -len("-noshort")] if not shortcut else name
    if not base.startswith("resnet") or not base[6:].isdigit():
        raise SystemExit(f"error: unknown model '{name}' (resnet<6n+2>[-noshort], e.g. resnet14, resnet20)")
    return int(base[6:]), shortcut


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--model", default="resnet20")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10, help="timed steps (after --warmup)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first (cuDNN autotune, allocator)")
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: PyTorch's default)")
    ap.add_argument("--record", action="store_true", help="copy all weights to one flat host array each step")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    if a.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda but torch.cuda.is_available() is False")
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    depth, shortcut = parse_model(a.model)
    dev = torch.device(a.device)
    model = ResNet(depth, shortcut).to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    want = EXPECTED_PARAMS.get(depth) if shortcut else None
    if want is not None and n_params != want:
        raise SystemExit(f"error: {a.model} has {n_params} parameters, expected {want}")
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.0, weight_decay=0.0)
    x = torch.randn(a.batch_size, 3, 32, 32, device=dev)
    y = torch.randint(0, 10, (a.batch_size,), device=dev)
    params = list(model.parameters())
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        if a.record:
            # The pre-update weights and the loss, as `anodiff train` records them.
            flat = torch.cat([p.detach().reshape(-1) for p in params]).cpu().numpy()
            loss_value = float(loss)
            del flat, loss_value
        opt.step()
        return loss

    for _ in range(a.warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    sync()
    dt = time.perf_counter() - t0
    out = {
        "framework": "pytorch",
        "torch": torch.__version__,
        "device": a.device,
        "device_name": torch.cuda.get_device_name(0) if a.device == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "model": a.model,
        "params": n_params,
        "batch_size": a.batch_size,
        "steps": a.steps,
        "record": a.record,
        "seconds": dt,
        "steps_per_s": a.steps / dt,
        "final_loss": float(loss),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
