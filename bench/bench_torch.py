#!/usr/bin/env python3
"""PyTorch baseline throughput for the CIFAR ResNet-18 of tests/ref/make_ref.py.

    /usr/bin/python3 bench/bench_torch.py --width W --batch B --threads T \
        --mode train|infer [--steps S] [--warmup K] \
        [--layout nchw|channels_last] [--precision fp32|bf16]

Prints one JSON line: {"impl":"pytorch","width","batch","threads","mode",
"layout","precision","img_per_s","peak_rss_mib"}.  img_per_s = B*S / wall
time of S timed steps after K warm-up steps.  train = forward +
cross-entropy + backward + SGD step (lr 0.01, momentum 0.9) in
model.train(); infer = model.eval() forward under torch.no_grad().  10
classes, random 3x32x32 inputs.  channels_last: model and input in
torch.channels_last (oneDNN's preferred layout in PyTorch).  bf16: the
forward (and loss) under torch.autocast("cpu", dtype=torch.bfloat16), fp32
master weights and SGD: PyTorch's CPU mixed precision.
"""
import argparse
import importlib.util
import json
import os
import resource
import time

import torch
import torch.nn.functional as F

_HERE = os.path.dirname(os.path.abspath(__file__))
_REF = os.path.join(_HERE, "..", "tests", "ref", "make_ref.py")


def load_model_module():
    spec = importlib.util.spec_from_file_location("fpt_make_ref", _REF)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--mode", choices=["train", "infer"], required=True)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--layout", choices=["nchw", "channels_last"], default="nchw")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set (only possible before any parallel work)

    mr = load_model_module()
    torch.manual_seed(0)
    model = mr.init_model(mr.ResNet18(args.width, 10))
    x = torch.randn(args.batch, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch,))
    if args.layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16")

    if args.mode == "train":
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step():
            opt.zero_grad(set_to_none=True)
            with autocast:
                loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
    else:
        model.eval()

        def step():
            with torch.no_grad(), autocast:
                model(x)

    for _ in range(args.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    dt = time.perf_counter() - t0

    print(json.dumps({
        "impl": "pytorch",
        "width": args.width,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "mode": args.mode,
        "layout": args.layout,
        "precision": args.precision,
        "img_per_s": round(args.batch * args.steps / dt, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


if __name__ == "__main__":
    main()
