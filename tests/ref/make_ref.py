#!/usr/bin/env python3
"""Reference-data generator for the fptfarm C ResNet-18 (CIFAR variant).

Rerun:
    /usr/bin/python3 tests/ref/make_ref.py [OUT]
OUT defaults to resnet18_w8.bin next to this script.  Output is deterministic
(torch.manual_seed(1234)), single-threaded, CPU only.

Model (defined here, no torchvision): CIFAR ResNet-18
  stem  : conv3x3(3->w, s1, p1, no bias) -> BN(w) -> ReLU  (no max-pool)
  stages: 4 x 2 BasicBlocks, widths w,2w,4w,8w; first block of stages 2..4 has
          stride 2.  BasicBlock: conv3x3(s) -> BN -> ReLU -> conv3x3(1) -> BN,
          shortcut = identity or (conv1x1(s, no bias) -> BN); out = ReLU(main+sc)
  head  : adaptive avg pool 1x1 -> flatten -> Linear(8w -> classes, bias)
  named_parameters() order: conv1.weight, bn1.weight, bn1.bias, then per block
  conv1.weight, bn1.weight, bn1.bias, conv2.weight, bn2.weight, bn2.bias,
  [shortcut.0.weight, shortcut.1.weight, shortcut.1.bias], ..., fc.weight, fc.bias
Init: conv kaiming_normal_(fan_out, relu); BN weight ~ U(0.5,1.5), bias ~ U(-0.2,0.2)
(deliberately non-trivial); Linear: PyTorch default.  BN eps 1e-5, momentum 0.1.
The model is built in float32 (values dumped as "params"), then converted to
float64 for every reference computation.

Binary format (all little-endian):
  header : 8 bytes magic b"FPTREF\\0\\0", uint32 version (=1)
  records: uint16 name_len, name (ASCII, no NUL), uint8 dtype
           (0=float32, 1=int32, 2=float64), uint8 ndim, uint32 dims[ndim],
           then prod(dims) elements of dtype, C-contiguous.
  last   : name "END", dtype 1 (int32), ndim 1, dims [0], no data.
Records, in this order:
  config        int32 [6]   width, num_classes, batch, H, W, n_steps
  sgd           f64   [3]   lr, momentum, weight_decay (for the 5 steps)
  param_sizes   int32 [n_tensors]  numel per parameter, named_parameters order
  params        f32   [total]      initial parameters, concatenated in that order
                                    (conv (Cout,Cin,K,K), linear (out,in))
  bn_channels   int32 [n_bn]       channels of each BN layer, module order
  input         f32   (N,3,H,W);  labels int32 (N)
  logits        f64   (N,C)        train-mode forward
  loss          f64   [1]          mean cross entropy
  grads         f64   [total]      d loss / d params, same order as params
  running       f64   [sum 2*C_bn] per BN (module order): running_mean then
                                    running_var (unbiased) after that forward
  eval_logits   f64   (N,C)        eval-mode forward right after (new stats)
  step_inputs   f32   (S,N,3,H,W); step_labels int32 (S,N)
  step_losses   f64   [S]          loss of each SGD step (before its update),
                                    starting from the initial params/stats
  params_after  f64   [total];  running_after f64 [sum 2*C_bn]  after S steps
  lr_step, lr_sgdr, lr_cosine  f64 [20]  lr of epochs 0..19, base lr 0.1:
        StepLR(3, 0.1); CosineAnnealingWarmRestarts(T_0=4, T_mult=2,
        eta_min=1e-3); CosineAnnealingLR(T_max=10, eta_min=0)
  step_params   f32   (S, total)   the float64 trajectory: parameters before
  step_velocity f32   (S, total)   each SGD step and the momentum buffers
                                    (zero before the first), so that each
                                    step can be checked on its own: errors
                                    compound chaotically over steps (a 1e-6
                                    relative change of the parameters changed
                                    a gradient by 56% four steps later)
  bf16_logits   f32   (N,C)        PyTorch's own bf16 CPU autocast, from the
  bf16_loss     f64   [1]          float32 params and input: train-mode
  bf16_grads    f32   [total]      forward, loss, fp32 parameter gradients,
  bf16_running  f32   [sum 2*C_bn] running statistics (channels_last, as
                                    the benchmarks run it)
"""
import copy
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

BN_EPS = 1e-5
BN_MOMENTUM = 0.1


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOMENTUM)
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, 0, bias=False),
                nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOMENTUM))
        else:
            self.shortcut = nn.Sequential()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, width=64, num_classes=10):
        super().__init__()
        w = width
        self.conv1 = nn.Conv2d(3, w, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w, eps=BN_EPS, momentum=BN_MOMENTUM)
        cin = w
        for i, (c, s) in enumerate([(w, 1), (2 * w, 2), (4 * w, 2), (8 * w, 2)]):
            blocks = nn.Sequential(BasicBlock(cin, c, s), BasicBlock(c, c, 1))
            setattr(self, "layer%d" % (i + 1), blocks)
            cin = c
        self.fc = nn.Linear(8 * w, num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)
        return self.fc(out)


def init_model(model, nontrivial_bn=True):
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    if nontrivial_bn:
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
    return model


def bn_layers(model):
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


def flat_params(model):
    return torch.cat([p.detach().reshape(-1) for _, p in model.named_parameters()])


def flat_running(model):
    parts = []
    for m in bn_layers(model):
        parts += [m.running_mean.reshape(-1), m.running_var.reshape(-1)]
    return torch.cat(parts).detach()


# ---------------------------------------------------------------- writer
DT_F32, DT_I32, DT_F64 = 0, 1, 2
_NP = {DT_F32: "<f4", DT_I32: "<i4", DT_F64: "<f8"}


class RefWriter:
    def __init__(self, f):
        self.f = f
        self.names = []
        f.write(b"FPTREF\0\0" + struct.pack("<I", 1))

    def rec(self, name, dtype, arr, shape=None):
        if isinstance(arr, torch.Tensor):
            arr = arr.detach().cpu().numpy()
        a = np.ascontiguousarray(np.asarray(arr), dtype=_NP[dtype])
        if shape is not None:
            a = a.reshape(shape)
        nb = name.encode("ascii")
        self.f.write(struct.pack("<H", len(nb)) + nb)
        self.f.write(struct.pack("<BB", dtype, a.ndim))
        self.f.write(struct.pack("<%dI" % a.ndim, *a.shape))
        self.f.write(a.tobytes())
        self.names.append((name, a.shape))

    def end(self):
        self.rec("END", DT_I32, np.zeros(0, dtype=np.int32))


def lr_schedule(kind, epochs=20, base_lr=0.1):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base_lr)
    if kind == "step":
        sch = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.1)
    elif kind == "sgdr":
        sch = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            opt, T_0=4, T_mult=2, eta_min=0.001)
    elif kind == "cosine":
        sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0)
    else:
        raise ValueError(kind)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    return np.array(out, dtype=np.float64)


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "resnet18_w8.bin")
    torch.set_num_threads(1)
    width, classes, N, H, W, S = 8, 10, 4, 32, 32, 5
    lr, mom, wd = 0.05, 0.9, 5e-4

    # Full-size model must have the canonical ResNet-18 (CIFAR) param count.
    n64 = sum(p.numel() for p in ResNet18(64, 10).parameters())
    assert n64 == 11173962, n64

    torch.manual_seed(1234)
    model = init_model(ResNet18(width, classes))
    sizes = [p.numel() for _, p in model.named_parameters()]
    params0 = flat_params(model).clone()            # float32
    bn_ch = [m.num_features for m in bn_layers(model)]
    x = torch.randn(N, 3, H, W)
    y = torch.randint(0, classes, (N,))
    step_x = torch.randn(S, N, 3, H, W)
    step_y = torch.randint(0, classes, (S, N))

    model = model.double()
    model0 = copy.deepcopy(model)                   # initial state for SGD run

    # 1. train-mode forward / backward
    model.train()
    logits = model(x.double())
    loss = F.cross_entropy(logits, y)
    model.zero_grad()
    loss.backward()
    grads = torch.cat([p.grad.reshape(-1) for _, p in model.named_parameters()])
    running = flat_running(model).clone()

    # 2. eval-mode forward with the updated running stats
    model.eval()
    with torch.no_grad():
        eval_logits = model(x.double())

    # 3. S SGD steps from the initial state
    m2 = model0
    m2.train()
    opt = torch.optim.SGD(m2.parameters(), lr=lr, momentum=mom, weight_decay=wd)
    step_losses = []
    step_params, step_velocity = [], []
    for s in range(S):
        step_params.append(flat_params(m2).clone())
        step_velocity.append(torch.cat([
            opt.state[p]["momentum_buffer"].reshape(-1) if "momentum_buffer" in opt.state[p]
            else torch.zeros(p.numel(), dtype=torch.float64) for p in m2.parameters()]))
        opt.zero_grad()
        l = F.cross_entropy(m2(step_x[s].double()), step_y[s])
        step_losses.append(l.item())
        l.backward()
        opt.step()
    params_after = flat_params(m2)
    running_after = flat_running(m2)

    # 4. PyTorch's bf16 autocast on the same float32 parameters and input.
    mb = ResNet18(width, classes).to(memory_format=torch.channels_last)
    torch.nn.utils.vector_to_parameters(params0, mb.parameters())
    mb.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bl = mb(x.to(memory_format=torch.channels_last))
        bloss = F.cross_entropy(bl.float(), y)
    mb.zero_grad()
    bloss.backward()
    bgrads = torch.cat([p.grad.reshape(-1).float() for _, p in mb.named_parameters()])
    brunning = flat_running(mb).float()

    with open(out_path, "wb") as f:
        w = RefWriter(f)
        w.rec("config", DT_I32, [width, classes, N, H, W, S])
        w.rec("sgd", DT_F64, [lr, mom, wd])
        w.rec("param_sizes", DT_I32, sizes)
        w.rec("params", DT_F32, params0)
        w.rec("bn_channels", DT_I32, bn_ch)
        w.rec("input", DT_F32, x)
        w.rec("labels", DT_I32, y)
        w.rec("logits", DT_F64, logits)
        w.rec("loss", DT_F64, [loss.item()])
        w.rec("grads", DT_F64, grads)
        w.rec("running", DT_F64, running)
        w.rec("eval_logits", DT_F64, eval_logits)
        w.rec("step_inputs", DT_F32, step_x)
        w.rec("step_labels", DT_I32, step_y)
        w.rec("step_losses", DT_F64, step_losses)
        w.rec("params_after", DT_F64, params_after)
        w.rec("running_after", DT_F64, running_after)
        w.rec("lr_step", DT_F64, lr_schedule("step"))
        w.rec("lr_sgdr", DT_F64, lr_schedule("sgdr"))
        w.rec("lr_cosine", DT_F64, lr_schedule("cosine"))
        w.rec("step_params", DT_F32, torch.stack(step_params))
        w.rec("step_velocity", DT_F32, torch.stack(step_velocity))
        w.rec("bf16_logits", DT_F32, bl.float())
        w.rec("bf16_loss", DT_F64, [bloss.item()])
        w.rec("bf16_grads", DT_F32, bgrads)
        w.rec("bf16_running", DT_F32, brunning)
        w.end()

    total = sum(sizes)
    print("total params (w=%d, %d classes): %d in %d tensors, %d BN layers"
          % (width, classes, total, len(sizes), len(bn_ch)))
    print("w=64 param count check: %d OK" % n64)
    print("loss = %.17g" % loss.item())
    print("step_losses = " + ", ".join("%.10g" % v for v in step_losses))
    print("bf16 autocast loss = %.10g (float64: %.10g)" % (bloss.item(), loss.item()))
    print("records: " + ", ".join("%s%s" % (n, list(s)) for n, s in w.names))
    print("wrote %s (%d bytes)" % (out_path, os.path.getsize(out_path)))


if __name__ == "__main__":
    main()
