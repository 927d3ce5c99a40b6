#!/usr/bin/env python3
"""Statistical validation of fptfarm's training against PyTorch (or any two arms).

    /usr/bin/python3 bench/validate.py --fptfarm build/fptfarm [options]   # via `make validate`
    /usr/bin/python3 bench/validate.py --self-test                         # the statistics' own tests
    /usr/bin/python3 bench/validate.py torch-train [fptfarm train options] # one PyTorch run

WHAT IT DOES.  Trains the same network (CIFAR ResNet-18, 1-channel stem) on the
same Fashion-MNIST subset many times in two *arms*, for every perturbation
protocol, and tests whether the two arms' distributions of (a) first-passage
time to a target test accuracy and (b) test accuracy at every epoch are equal.
Runs are compared as distributions only: each (arm, protocol) draws its own
block of seeds, so all samples are independent.

ARMS.  An arm is an implementation and its extra arguments, written IMPL[:ARGS]:
  c                        `fptfarm train ...` (the binary given by --fptfarm)
  c:--batch 32             the same, with extra `fptfarm train` arguments appended
                           (c:--backend blas, c:--precision bf16: fptfarm's
                           backends and precisions against each other)
  torch                    this file's `torch-train` subcommand (PyTorch)
  torch:--dtype float64    the same, with extra torch-train options (--dtype
                           float32|float64, --memory-format channels_last|contiguous)
Both implementations get the same command line (`fptfarm train` syntax) and
print the same per-epoch text, which one parser reads.  The default comparison
is `--compare c torch`; any other pair works, e.g. `--compare torch "torch:--dtype float64"`.

PROTOCOLS (--protocols, comma-separated): none, reset, partial_reset,
shrink_perturb, warm_restart (the "clean" variants), and partial_reset:study,
shrink_perturb:study (`--variant study`: the study's code, see torch-train below).
Every perturbed protocol fires after epochs tau, 2tau, ... (--period).

DEFAULTS AND COST.  Fashion-MNIST, first 2048 train / 2000 test images, width 8,
batch 64, lr 0.05, momentum 0.9, weight decay 5e-4, 10 epochs, period 3,
fraction 0.3, 15 runs per arm and protocol: 7 x 2 x 15 = 210 runs.  Measured
on the project's 2-vCPU machine (shared, 1 thread per run): PyTorch 1.13
(channels_last) 1.3-2.3 s per epoch, about 17 s per run with the interpreter's
start; fptfarm 3.6-5.3 s per epoch (2-2.5x PyTorch's, same moments).  Wall time
~ 7 x seeds x (torch run + C run) / 2: about 40-45 min at 15 seeds when a C run
takes 30-35 s.  Target 80%: in 7 PyTorch baseline runs the first passage to
80% came at epochs 4, 4, 5, 5, 6, 9, 9 (mid-run).  `--target auto` instead takes
the median, over the pooled baseline runs of both arms, of each run's best
accuracy in the first half of training.

STATISTICS, per protocol (arm A against arm B); all from numpy, no scipy:
 (a) first passage T = first epoch with test accuracy >= target; censored at E
     if never reached; a diverged run (exit 4) is censored at its last epoch
     unless it reached the target before.
     - log-rank test (Mantel-Haenszel form): at each event epoch t, with n_i at
       risk and d_i events in arm i (n = n1+n2, d = d1+d2),
       O1 - E1 = sum (d1 - d n1/n),  V = sum d (n1/n)(n2/n)(n-d)/(n-1);
       chi2 = (O1-E1)^2 / V with 1 degree of freedom, p = erfc(sqrt(chi2/2)).
     - mean FPT per arm: the Kaplan-Meier restricted mean to E,
       sum_{t=0}^{E-1} S(t) (equal to the plain mean when nothing is censored,
       a censored run counting E); the difference A-B with a 95% percentile
       bootstrap interval (runs resampled within each arm, 2000 resamples,
       fixed seed).
 (b) test accuracy at every epoch 1..E: two-sample Kolmogorov-Smirnov test,
     D = max |F_A - F_B| over the pooled values; p-value exact, conditional on
     the pooled sample and its ties (lattice-path count in which the boundary
     is checked only where the pooled sorted value changes, so ties are handled
     exactly; R's psmirnov(exact, ties) does the same); when m*n > 1e6 the
     asymptotic Kolmogorov series instead (conservative with ties).
     Mean final accuracy per arm and the difference with a 95% bootstrap
     interval (informational).
 (c) only when some run diverged: Fisher's exact test (two-sided, sum of the
     hypergeometric probabilities <= the observed one) on diverged/not.
 Multiple comparisons: Holm-Bonferroni over the family of ALL p-values of the
 invocation: for every protocol, 1 log-rank + E KS tests (+ 1 Fisher test if
 anything diverged).  alpha = 0.05.
 Verdict: FAIL if any Holm-adjusted p-value is below alpha (naming the tests),
 else PASS: no difference found at this sample size.  What that is worth is
 reported beside it: the MDDs below, and per protocol whether the arms are
 within equivalence margins written down in advance (two one-sided tests at
 2.5% each: the 95% interval of the mean-FPT difference within
 +-EQ_MARGIN_FPT = 1 epoch and that of the final-accuracy difference within
 +-EQ_MARGIN_ACC = 2 points).
 Informational (not in the verdict): minimum detectable difference at 80%
 power and two-sided alpha 0.05, unadjusted: 2.8 x the bootstrap standard error
 of the difference (2.8 = 1.96 + 0.84); and, within each arm, the study vs the
 clean variant of partial_reset and shrink_perturb (log-rank, Holm over those
 comparisons, mean FPT difference with interval).

OUTPUT (--out, default results/validate/): runs.jsonl (the cache: one JSON
line per finished run, keyed by implementation fingerprint, arguments and seed;
rewritten atomically after every run, so an interrupted run resumes),
validate.json (every number), validate.md (tables for bench/RESULTS.md).
Exit status: 0 PASS, 1 FAIL, 2 usage or setup error (one line on stderr).

EXECUTION.  Jobs run in a pool of --jobs processes (default 2), each single-
threaded (fptfarm --threads 1 with OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=1;
torch.set_num_threads(1)), ordered so that the arms alternate, so machine
noise hits both alike.  Progress and ETA go to stderr.

TORCH-TRAIN, the PyTorch reimplementation (the study's way of training):
Fashion-MNIST read from the IDX .gz files; the first N train / M test images;
normalised with the mean and population std of the N training images' pixels
/255.  ResNet-18 (CIFAR variant: 3x3 stride-1 stem 1->w, no max-pool, stages
w,2w,4w,8w, 1x1-conv+BN shortcut when the shape changes, adaptive average pool,
Linear(8w -> 10)); BN eps 1e-5, momentum 0.1; after stage j the study's scalar
buffers block{j}_mean (0) and block{j}_std (1) apply x = (x - mean)/std
whenever they are not (0, 1) (only shrink_perturb:study changes them).
torchvision initialisation (conv kaiming_normal_ fan_out/relu, BN 1/0, Linear
PyTorch default).  SGD(lr, momentum, weight_decay), cross-entropy, minibatches
from torch.randperm each epoch, the last partial batch kept; evaluation in
eval mode after every epoch; then the protocol, after epochs tau, 2tau, ...:
  reset                 fresh initialisation (parameters, BN statistics), new optimizer
  partial_reset clean   the round(f n) weights of smallest |w| over all conv, BN
                        and linear weights (one threshold, ties by position)
                        re-drawn from a fresh initialisation; optimizer kept
  partial_reset study   weights whose name contains "weight"; threshold = sorted
                        |w| at index int(f n); |w| <= threshold re-drawn from
                        U(+-1/sqrt(fan_in)), fan_in = shape[1] (2+ dims) or
                        shape[0]; new optimizer
  shrink_perturb clean  theta <- lambda theta + sigma theta_new for parameters and
                        BN running statistics (fresh mean 0, var 1); new optimizer
  shrink_perturb study  the same over the whole state_dict, block buffers included
  warm_restart          lr(e) = eta_min + (lr - eta_min)(1 + cos(pi t/tau))/2,
                        t = (e-1) mod tau; weights and momentum kept
The seed is torch.manual_seed(seed).  Tensors are channels_last by default
(as in the study; 1.6x faster here than contiguous).  Output: fptfarm train's
text format; exit 4 when the training loss becomes NaN/Inf (diverged).
"""
import argparse
import gzip
import hashlib
import json
import math
import os
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ALPHA = 0.05
Z_POWER = 2.8                     # z_{0.975} + z_{0.80}: 80% power, two-sided 0.05
BOOTSTRAP = 2000
BOOTSTRAP_SEED = 20260101
KS_EXACT_MAX_MN = 10 ** 6         # exact KS p-value up to m*n cells
TORCH_TRAINER_VERSION = 1         # bump when torch-train's training changes (cache key)
# SHA-256 (first 16 hex digits) of the source of TRAINER_FUNCTIONS below: a
# change to the PyTorch trainer without a new TORCH_TRAINER_VERSION would let
# cached runs of the old trainer stand for the new one, so it is refused.
TORCH_TRAINER_SOURCE_SHA = "237fca066b88ed0d"
# Equivalence margins, written down before the first full run's results were
# seen (2026-12-06): a protocol's arms are within the margins when the 95%
# bootstrap interval of the mean-FPT difference lies within +-1 epoch and
# that of the final-accuracy difference within +-2 points (two one-sided
# tests at 2.5% each).  Informational: it says how much "no difference
# found" is worth at the sample size run, and is not part of the verdict.
EQ_MARGIN_FPT = 1.0               # epochs
EQ_MARGIN_ACC = 2.0               # accuracy points
EVAL_BATCH = 100                  # 200+ made evaluation 3-5x slower (page faults in malloc)
DATA_DIR = "/usr/share/datasets/fashion-mnist"
# Every protocol, in a FIXED order: its index picks the seed block.
PROTOCOLS = ["none", "reset", "partial_reset", "shrink_perturb", "warm_restart",
             "partial_reset:study", "shrink_perturb:study"]
SEED_BLOCK_ARM, SEED_BLOCK_PROTOCOL = 100000, 1000
EPOCH_LINE = re.compile(
    r"^\s*(\d+)\s+(\S+)\s+(\S+)\s+(\S+)%\s+(\S+)\s+(yes|-)\s+(\S+)\s*$")


UMASK = os.umask(0)
os.umask(UMASK)


class SetupError(Exception):
    """A usage or setup problem: reported as one line, exit status 2."""


# =============================================================================
# Data: Fashion-MNIST IDX files
# =============================================================================

def read_idx(path, count):
    """The first `count` items of a gzip IDX file (images: uint8 (n,28,28);
    labels: uint8 (n,)).  Checks the magic number and the item count."""
    try:
        with gzip.open(path, "rb") as f:
            magic = int.from_bytes(f.read(4), "big")
            if magic not in (2049, 2051):
                raise SetupError("%s: not an IDX label/image file (magic %#x)" % (path, magic))
            ndim = magic & 0xFF
            dims = [int.from_bytes(f.read(4), "big") for _ in range(ndim)]
            if count > dims[0]:
                raise SetupError("%s holds %d items, %d asked" % (path, dims[0], count))
            item = int(np.prod(dims[1:])) if ndim > 1 else 1
            buf = f.read(count * item)
    except OSError as e:
        raise SetupError("%s: %s" % (path, e.strerror or e))
    if len(buf) != count * item:
        raise SetupError("%s: truncated" % path)
    return np.frombuffer(buf, np.uint8).reshape([count] + dims[1:])


def load_fashion(data_dir, n_train, n_test):
    """Prefix subsets, normalised with the training subset's mean and
    population std of pixel/255.  Returns float32 (n,1,28,28) arrays, int64 labels."""
    p = lambda name: os.path.join(data_dir, name)
    xtr = read_idx(p("train-images-idx3-ubyte.gz"), n_train).astype(np.float64) / 255.0
    ytr = read_idx(p("train-labels-idx1-ubyte.gz"), n_train).astype(np.int64)
    xte = read_idx(p("t10k-images-idx3-ubyte.gz"), n_test).astype(np.float64) / 255.0
    yte = read_idx(p("t10k-labels-idx1-ubyte.gz"), n_test).astype(np.int64)
    mean, std = xtr.mean(), xtr.std()
    norm = lambda x: ((x - mean) / std).astype(np.float32)[:, None, :, :]
    return norm(xtr), ytr, norm(xte), yte


# =============================================================================
# PyTorch side: model, protocols, one training run (`torch-train`)
# =============================================================================

def build_model_classes():
    """The model classes, defined on demand so that the harness itself does
    not need torch."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False),
                                              nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1))

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return F.relu(out + self.shortcut(x))

    class ResNet18(nn.Module):
        """CIFAR ResNet-18 with the study's per-stage scalar buffers."""

        def __init__(self, width, num_classes, in_channels=1):
            super().__init__()
            w = width
            self.conv1 = nn.Conv2d(in_channels, w, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(w, eps=1e-5, momentum=0.1)
            cin = w
            for j, (c, s) in enumerate([(w, 1), (2 * w, 2), (4 * w, 2), (8 * w, 2)], 1):
                setattr(self, "layer%d" % j, nn.Sequential(BasicBlock(cin, c, s), BasicBlock(c, c, 1)))
                self.register_buffer("block%d_mean" % j, torch.tensor(0.0))
                self.register_buffer("block%d_std" % j, torch.tensor(1.0))
                cin = c
            self.fc = nn.Linear(8 * w, num_classes)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            for j in range(1, 5):
                out = getattr(self, "layer%d" % j)(out)
                mean, std = getattr(self, "block%d_mean" % j), getattr(self, "block%d_std" % j)
                if not (mean.item() == 0 and std.item() == 1):
                    out = (out - mean) / std
            out = torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)
            return self.fc(out)

    return ResNet18


def fresh_model(cfg):
    """A new network with torchvision's initialisation (draws from torch's RNG)."""
    import torch.nn as nn
    model = cfg["model_class"](cfg["width"], cfg["classes"])
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    # nn.Linear keeps its default reset_parameters() initialisation.
    return model.to(dtype=cfg["dtype"], memory_format=cfg["memory_format"])


def new_optimizer(model, cfg):
    import torch
    return torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                           weight_decay=cfg["weight_decay"])


def weight_tensors(model):
    """Conv weights, BN weights (gammas) and the linear weight, in
    named_parameters order: the parameters whose name contains "weight"."""
    return [p for name, p in model.named_parameters() if "weight" in name]


def partial_reset_clean(model, cfg):
    """Re-draws exactly round(f n) smallest-|w| weights (one global threshold,
    ties by position) from a fresh initialisation."""
    import torch
    ws = weight_tensors(model)
    flat = torch.cat([p.detach().reshape(-1) for p in ws])
    k = int(math.floor(cfg["fraction"] * flat.numel() + 0.5))
    chosen = torch.sort(flat.abs(), stable=True).indices[:k]
    new = torch.cat([p.detach().reshape(-1) for p in weight_tensors(fresh_model(cfg))])
    flat[chosen] = new[chosen]
    with torch.no_grad():
        off = 0
        for p in ws:
            p.copy_(flat[off:off + p.numel()].view_as(p))
            off += p.numel()


def partial_reset_study(model, cfg):
    """The study's reinitialize_smallest_weights_frac, as described in the
    module docstring (threshold with <=, U(+-1/sqrt(fan_in)) draws)."""
    import torch
    ws = weight_tensors(model)
    flat = torch.cat([p.detach().abs().reshape(-1) for p in ws])
    index = min(int(cfg["fraction"] * flat.numel()), flat.numel() - 1)
    threshold = torch.sort(flat).values[index]
    with torch.no_grad():
        for p in ws:
            mask = p.abs() <= threshold
            fan_in = p.shape[1] if p.dim() >= 2 else p.shape[0]
            bound = 1.0 / math.sqrt(fan_in)
            p[mask] = torch.empty_like(p).uniform_(-bound, bound)[mask]


def shrink_perturb(model, cfg, whole_state_dict):
    """theta <- lambda theta + sigma theta_new.  Clean: parameters and BN
    running mean/var.  Study: every floating tensor of the state_dict (the
    block buffers too).  num_batches_tracked is left alone (unused: BN
    momentum is fixed)."""
    import torch
    lam, sig = cfg["shrink"], cfg["sigma"]
    fresh = fresh_model(cfg).state_dict()
    params = {name for name, _ in model.named_parameters()}
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            is_stat = name.endswith("running_mean") or name.endswith("running_var")
            if whole_state_dict or name in params or is_stat:
                t.mul_(lam).add_(fresh[name], alpha=sig)


def apply_protocol(model, opt, cfg):
    """Applies the protocol at an epoch boundary; returns the optimizer to use."""
    kind, variant = cfg["protocol"], cfg["variant"]
    if kind == "reset":
        model.load_state_dict(fresh_model(cfg).state_dict())
        return new_optimizer(model, cfg)
    if kind == "partial_reset" and variant == "clean":
        partial_reset_clean(model, cfg)
        return opt
    if kind == "partial_reset":
        partial_reset_study(model, cfg)
        return new_optimizer(model, cfg)
    if kind == "shrink_perturb":
        shrink_perturb(model, cfg, whole_state_dict=(variant == "study"))
        return new_optimizer(model, cfg)
    return opt                    # none, warm_restart: nothing to change in the network


def epoch_lr(cfg, epoch):
    """The learning rate of 1-based `epoch`: constant, or SGDR for warm_restart."""
    if cfg["protocol"] != "warm_restart":
        return cfg["lr"]
    t = (epoch - 1) % cfg["period"]
    return cfg["eta_min"] + (cfg["lr"] - cfg["eta_min"]) * (1 + math.cos(math.pi * t / cfg["period"])) / 2


def train_one_epoch(model, opt, x, y, cfg):
    """One pass over shuffled minibatches (last partial batch kept).  Returns
    the mean minibatch loss, or nan as soon as a loss is not finite."""
    import torch
    import torch.nn.functional as F
    model.train()
    perm = torch.randperm(x.shape[0])
    total, count = 0.0, 0
    for i in range(0, x.shape[0], cfg["batch"]):
        idx = perm[i:i + cfg["batch"]]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        value = loss.item()
        if not math.isfinite(value):
            return float("nan")
        loss.backward()
        opt.step()
        total += value
        count += 1
    return total / count


def evaluate(model, x, y):
    """Mean test cross-entropy and accuracy (%) in eval mode."""
    import torch
    import torch.nn.functional as F
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, x.shape[0], EVAL_BATCH):
            out = model(x[i:i + EVAL_BATCH])
            loss += F.cross_entropy(out, y[i:i + EVAL_BATCH], reduction="sum").item()
            correct += (out.argmax(1) == y[i:i + EVAL_BATCH]).sum().item()
    return loss / x.shape[0], 100.0 * correct / x.shape[0]


TRAIN_OPTIONS = {   # name: (type, default), fptfarm train's names ('-' or '_' accepted)
    "dataset": (str, "fashion-mnist"), "data_path": (str, DATA_DIR),
    "train_subset": (int, 2048), "test_subset": (int, 2000), "width": (int, 8),
    "classes": (int, 10), "epochs": (int, 10), "batch": (int, 64), "lr": (float, 0.05),
    "momentum": (float, 0.9), "weight_decay": (float, 5e-4), "protocol": (str, "none"),
    "period": (int, 20), "fraction": (float, 0.2), "shrink": (float, 0.4),
    "sigma": (float, 0.1), "eta_min": (float, 0.0), "variant": (str, "clean"),
    "seed": (int, 1), "threads": (int, 1), "target": (str, "50"),
    "dtype": (str, "float32"),       # torch only: float32 | float64
    "memory_format": (str, "channels_last"),   # torch only: channels_last | contiguous
}


def parse_train_args(argv):
    """`--name value` pairs as fptfarm train takes them -> a config dict."""
    cfg = {k: v[1] for k, v in TRAIN_OPTIONS.items()}
    if len(argv) % 2:
        raise SetupError("torch-train: options come as --name value pairs")
    for flag, value in zip(argv[::2], argv[1::2]):
        name = flag[2:].replace("-", "_") if flag.startswith("--") else None
        if name not in TRAIN_OPTIONS:
            raise SetupError("torch-train: unknown option '%s'" % flag)
        try:
            cfg[name] = TRAIN_OPTIONS[name][0](value)
        except ValueError:
            raise SetupError("torch-train: %s: bad value '%s'" % (flag, value))
    checks = [("dataset", cfg["dataset"] == "fashion-mnist"),
              ("protocol", cfg["protocol"] in ("none", "reset", "partial_reset", "shrink_perturb",
                                               "warm_restart")),
              ("variant", cfg["variant"] in ("clean", "study")),
              ("dtype", cfg["dtype"] in ("float32", "float64")),
              ("memory_format", cfg["memory_format"] in ("channels_last", "contiguous")),
              ("period", cfg["period"] >= 1), ("epochs", cfg["epochs"] >= 1),
              ("batch", cfg["batch"] >= 1), ("fraction", 0 < cfg["fraction"] <= 1)]
    for name, ok in checks:
        if not ok:
            raise SetupError("torch-train: --%s %s is not supported" % (name, cfg[name]))
    cfg["targets"] = [float(t) for t in cfg["target"].split(",")]
    return cfg


def torch_train_main(argv):
    """`validate.py torch-train ...`: one run, printed like `fptfarm train`."""
    import torch
    cfg = parse_train_args(argv)
    torch.set_num_threads(cfg["threads"])
    cfg["dtype"] = getattr(torch, cfg["dtype"])
    cfg["memory_format"] = {"channels_last": torch.channels_last,
                            "contiguous": torch.contiguous_format}[cfg["memory_format"]]
    cfg["model_class"] = build_model_classes()
    xtr, ytr, xte, yte = load_fashion(cfg["data_path"], cfg["train_subset"], cfg["test_subset"])
    xtr, xte = (torch.from_numpy(x).to(dtype=cfg["dtype"], memory_format=cfg["memory_format"])
                for x in (xtr, xte))
    ytr, yte = torch.from_numpy(ytr), torch.from_numpy(yte)
    torch.manual_seed(cfg["seed"])
    model = fresh_model(cfg)
    opt = new_optimizer(model, cfg)
    print("train: PyTorch %s ResNet-18 width %d, %d outputs; fashion-mnist: %d train / %d test "
          "images; %d epochs, batch %d, lr %g, momentum %g, weight decay %g; seed %d"
          % (torch.__version__, cfg["width"], cfg["classes"], xtr.shape[0], xte.shape[0],
             cfg["epochs"], cfg["batch"], cfg["lr"], cfg["momentum"], cfg["weight_decay"], cfg["seed"]))
    if cfg["protocol"] != "none":
        print("protocol: %s (%s), every %d epochs" % (cfg["protocol"], cfg["variant"], cfg["period"]))
    print("%5s %11s %10s %9s %9s %9s %8s" % ("epoch", "train_loss", "test_loss", "test_acc",
                                              "lr", "perturbed", "seconds"), flush=True)
    fpt = [0] * len(cfg["targets"])
    outcome, done = "completed", 0
    for epoch in range(1, cfg["epochs"] + 1):
        start = time.time()
        lr = epoch_lr(cfg, epoch)
        for g in opt.param_groups:
            g["lr"] = lr
        train_loss = train_one_epoch(model, opt, xtr, ytr, cfg)
        if not math.isfinite(train_loss):
            outcome = "diverged"
            break
        test_loss, acc = evaluate(model, xte, yte)
        for k, target in enumerate(cfg["targets"]):
            if not fpt[k] and acc >= target:
                fpt[k] = epoch
        perturbed = cfg["protocol"] != "none" and epoch % cfg["period"] == 0
        if perturbed:
            opt = apply_protocol(model, opt, cfg)
        done = epoch
        print("%5d %11.4f %10.4f %8.2f%% %9.5f %9s %8.2f" % (epoch, train_loss, test_loss, acc, lr,
              "yes" if perturbed else "-", time.time() - start), flush=True)
    for k, target in enumerate(cfg["targets"]):
        if fpt[k]:
            print("first passage: target %.2f%% reached at epoch %d" % (target, fpt[k]))
        else:
            print("first passage: target %.2f%% not reached in %d epochs (censored)" % (target, done))
    print("run %s after %d epochs" % (outcome, done))
    return 4 if outcome == "diverged" else 0



# =============================================================================
# Statistics (numpy only)
# =============================================================================

def first_passage(accs, target):
    """(time, event) for one run: the first epoch with accuracy >= target
    (event 1), else censored (event 0) at the last recorded epoch (E for a
    completed run; 0 for a run that diverged in its first epoch)."""
    for epoch, acc in enumerate(accs, 1):
        if acc >= target:
            return epoch, 1
    return len(accs), 0


def km_survival(times, events, horizon):
    """Kaplan-Meier S(t) for integer t = 0..horizon (S(0) = 1); `times` and
    `events` may be 2-d (one row per bootstrap resample)."""
    times, events = np.atleast_2d(times), np.atleast_2d(events)
    rows, n = times.shape
    t = np.clip(times, 0, horizon + 1)
    exits = np.zeros((rows, horizon + 2))      # runs leaving the risk set at t
    deaths = np.zeros((rows, horizon + 2))
    r = np.repeat(np.arange(rows), n)
    np.add.at(exits, (r, t.ravel()), 1)
    np.add.at(deaths, (r, t.ravel()), events.ravel())
    at_risk = n - np.cumsum(exits, axis=1) + exits          # T >= t
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(at_risk > 0, 1 - deaths / np.maximum(at_risk, 1), 1.0)
    factor[:, 0] = 1.0
    return np.cumprod(factor, axis=1)[:, :horizon + 1]


def restricted_mean(times, events, horizon):
    """Kaplan-Meier restricted mean E[min(T, horizon)] = sum_{t<horizon} S(t);
    one value per row."""
    return km_survival(times, events, horizon)[:, :horizon].sum(axis=1)


def logrank(t1, e1, t2, e2):
    """Two-sample log-rank test.  Returns (chi2, p, observed1, expected1)."""
    t1, e1, t2, e2 = (np.asarray(a) for a in (t1, e1, t2, e2))
    var, obs1, exp1 = 0.0, 0.0, 0.0
    for t in np.unique(np.concatenate([t1[e1 == 1], t2[e2 == 1]])):
        n1, n2 = np.sum(t1 >= t), np.sum(t2 >= t)
        d1, d2 = np.sum((t1 == t) & (e1 == 1)), np.sum((t2 == t) & (e2 == 1))
        n, d = n1 + n2, d1 + d2
        obs1 += d1
        exp1 += d * n1 / n
        if n > 1:
            var += d * (n1 / n) * (n2 / n) * (n - d) / (n - 1)
    if var <= 0:
        return 0.0, 1.0, obs1, exp1
    chi2 = (obs1 - exp1) ** 2 / var
    return chi2, math.erfc(math.sqrt(chi2 / 2)), obs1, exp1


def ks_statistic(x, y):
    """Two-sample Kolmogorov-Smirnov D = max |F_x - F_y| over the pooled values."""
    x, y = np.sort(np.asarray(x, float)), np.sort(np.asarray(y, float))
    grid = np.concatenate([x, y])
    fx = np.searchsorted(x, grid, side="right") / len(x)
    fy = np.searchsorted(y, grid, side="right") / len(y)
    return float(np.max(np.abs(fx - fy)))


def ks_pvalue_exact(d, x, y):
    """P(D >= d) under the permutation null, conditional on the pooled values
    and their ties.  u[i, j] = (lattice paths from (0,0) to (i,j) that stay
    inside |i/m - j/n| < d at every point where the pooled sorted value
    changes) / C(i+j, i); u[i,j] = u[i-1,j] i/(i+j) + u[i,j-1] j/(i+j).
    Computed one anti-diagonal at a time."""
    m, n = len(x), len(y)
    pooled = np.sort(np.concatenate([np.asarray(x, float), np.asarray(y, float)]))
    # checked[k]: the boundary applies to points with i + j = k
    checked = np.ones(m + n + 1, bool)
    checked[1:m + n] = pooled[1:] != pooled[:-1]
    tol = 1e-9
    prev = np.array([1.0])                      # diagonal k = 0: point (0, 0)
    for k in range(1, m + n + 1):
        i = np.arange(max(0, k - n), min(k, m) + 1)
        j = k - i
        cur = np.zeros(len(i))
        # predecessor (i-1, j) sits on diagonal k-1 at index (i-1) - max(0, k-1-n)
        lo_prev = max(0, k - 1 - n)
        a = i - 1 - lo_prev
        ok = (i >= 1) & (a >= 0) & (a < len(prev))
        cur[ok] += prev[a[ok]] * i[ok] / k
        b = i - lo_prev                         # predecessor (i, j-1)
        ok = (j >= 1) & (b >= 0) & (b < len(prev))
        cur[ok] += prev[b[ok]] * j[ok] / k
        if checked[k]:
            cur[np.abs(i / m - j / n) >= d - tol] = 0.0
        prev = cur
    return float(min(1.0, max(0.0, 1.0 - prev[-1])))


def ks_pvalue_asymptotic(d, m, n):
    """Kolmogorov's limiting distribution: Q(lambda) = 2 sum (-1)^{k-1} exp(-2 k^2 lambda^2)
    with lambda = d sqrt(m n / (m + n))."""
    lam = d * math.sqrt(m * n / (m + n))
    if lam < 0.2:
        return 1.0
    return float(min(1.0, max(0.0, 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam)
                                            for k in range(1, 101)))))


def ks_test(x, y):
    """(D, p) of the two-sample KS test: exact with ties when m*n is small
    enough, asymptotic otherwise."""
    d = ks_statistic(x, y)
    if len(x) * len(y) <= KS_EXACT_MAX_MN:
        return d, ks_pvalue_exact(d, x, y)
    return d, ks_pvalue_asymptotic(d, len(x), len(y))


def fisher_exact(a, b, c, d):
    """Two-sided Fisher exact test of the 2x2 table [[a, b], [c, d]]: the sum
    of the hypergeometric probabilities not above the observed one."""
    row1, col1, total = a + b, a + c, a + b + c + d
    prob = lambda k: math.comb(col1, k) * math.comb(total - col1, row1 - k) / math.comb(total, row1)
    p_obs = prob(a)
    ks = range(max(0, row1 + col1 - total), min(row1, col1) + 1)
    return float(min(1.0, sum(prob(k) for k in ks if prob(k) <= p_obs * (1 + 1e-7))))


def holm(pvalues):
    """Holm-Bonferroni adjusted p-values, in the input order:
    p_adj(i) = max_{j <= i} min(1, (m - j + 1) p_(j)) over the sorted p."""
    p = np.asarray(pvalues, float)
    order = np.argsort(p, kind="stable")
    m = len(p)
    adj_sorted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj_sorted
    return out


def bootstrap_diff(stat, a, b, seed=BOOTSTRAP_SEED, reps=BOOTSTRAP):
    """stat(A) - stat(B), its 95% percentile bootstrap interval and standard
    error.  `a`, `b`: arrays with one run per row (or per element); `stat`
    maps an array of shape (reps, n, ...) to (reps,)."""
    a, b = np.asarray(a), np.asarray(b)
    rng = np.random.default_rng(seed)
    ia = rng.integers(0, len(a), size=(reps, len(a)))
    ib = rng.integers(0, len(b), size=(reps, len(b)))
    diffs = stat(a[ia]) - stat(b[ib])
    point = float(stat(a[None])[0] - stat(b[None])[0])
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return {"diff": point, "ci": [float(lo), float(hi)], "se": float(np.std(diffs, ddof=1))}


def fpt_summary(runs, target, horizon):
    """Times, events and the restricted mean FPT of a list of runs."""
    te = np.array([first_passage(r["acc"], target) for r in runs], int).reshape(-1, 2)
    return te[:, 0], te[:, 1], float(restricted_mean(te[:, 0], te[:, 1], horizon)[0])


def compare_fpt(runs_a, runs_b, target, horizon):
    """Log-rank test and restricted-mean difference of two sets of runs."""
    ta, ea, ma = fpt_summary(runs_a, target, horizon)
    tb, eb, mb = fpt_summary(runs_b, target, horizon)
    chi2, p, _, _ = logrank(ta, ea, tb, eb)
    rm = lambda te: restricted_mean(te[..., 0], te[..., 1], horizon)
    boot = bootstrap_diff(rm, np.stack([ta, ea], 1), np.stack([tb, eb], 1))
    return {"mean_a": ma, "mean_b": mb, "censored_a": int(np.sum(ea == 0)),
            "censored_b": int(np.sum(eb == 0)), "logrank_chi2": chi2, "logrank_p": p,
            "diff": boot["diff"], "ci": boot["ci"], "se": boot["se"], "mdd": Z_POWER * boot["se"]}


# =============================================================================
# Arms, jobs and the run cache
# =============================================================================

def parse_arm(spec):
    """'IMPL[:EXTRA ARGS]' -> {"spec", "impl", "extra"}; IMPL is c or torch."""
    impl, _, extra = spec.partition(":")
    if impl not in ("c", "torch"):
        raise SetupError("arm '%s': the implementation must be 'c' or 'torch'" % spec)
    return {"spec": spec, "impl": impl, "extra": shlex.split(extra)}


def job_args(opts, protocol, seed):
    """fptfarm train's arguments for one run of `protocol` (name[:variant])."""
    kind, _, variant = protocol.partition(":")
    args = ["--dataset", "fashion-mnist", "--data-path", opts.data_path,
            "--train-subset", opts.train_subset, "--test-subset", opts.test_subset,
            "--width", opts.width, "--epochs", opts.epochs, "--batch", opts.batch,
            "--lr", opts.lr, "--momentum", opts.momentum, "--weight-decay", opts.weight_decay,
            "--protocol", kind]
    if kind != "none":
        args += ["--period", opts.period]
    if kind == "partial_reset":
        args += ["--fraction", opts.fraction, "--variant", variant or "clean"]
    if kind == "shrink_perturb":
        args += ["--shrink", opts.shrink, "--sigma", opts.sigma, "--variant", variant or "clean"]
    if kind == "warm_restart":
        args += ["--eta-min", opts.eta_min]
    args += ["--seed", seed, "--threads", 1]
    return [str(a) for a in args]


def seed_of(arm_index, protocol, k, base):
    """Seed of the k-th run (0-based): one block per arm and protocol, so that
    every sample is independent of every other."""
    return base + SEED_BLOCK_ARM * arm_index + SEED_BLOCK_PROTOCOL * PROTOCOLS.index(protocol) + k


TRAINER_FUNCTIONS = ("read_idx", "load_fashion", "build_model_classes", "fresh_model",
                     "new_optimizer", "weight_tensors", "partial_reset_clean",
                     "partial_reset_study", "shrink_perturb", "apply_protocol", "epoch_lr",
                     "train_one_epoch", "evaluate", "parse_train_args", "torch_train_main")


def trainer_source_sha():
    """SHA-256 (16 hex digits) of the PyTorch trainer's source code."""
    import inspect
    h = hashlib.sha256()
    for name in TRAINER_FUNCTIONS:
        h.update(inspect.getsource(globals()[name]).encode())
    return h.hexdigest()[:16]


def fingerprint(impl, fptfarm):
    """What identifies an implementation's build in the cache key: the
    binary's SHA-256 for C; this trainer's version and torch's for PyTorch."""
    if impl == "c":
        h = hashlib.sha256()
        with open(fptfarm, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return "c-" + h.hexdigest()[:16]
    if trainer_source_sha() != TORCH_TRAINER_SOURCE_SHA:
        raise SetupError("the PyTorch trainer's source changed (SHA %s, recorded %s): bump "
                         "TORCH_TRAINER_VERSION and record the new TORCH_TRAINER_SOURCE_SHA in "
                         "bench/validate.py, so that no cached run of the old trainer is reused"
                         % (trainer_source_sha(), TORCH_TRAINER_SOURCE_SHA))
    try:
        import importlib.metadata
        version = importlib.metadata.version("torch")
    except Exception:
        version = "unknown"
    return "torch-%s-trainer%d" % (version, TORCH_TRAINER_VERSION)


def make_jobs(opts, arms):
    """Every run, interleaved (seed, protocol, arm) so that the arms alternate."""
    prints = {a["impl"]: fingerprint(a["impl"], opts.fptfarm) for a in arms}
    jobs = []
    for k in range(opts.seeds):
        for protocol in opts.protocols:
            for i, arm in enumerate(arms):
                args = job_args(opts, protocol, seed_of(i, protocol, k, opts.seed_base)) + arm["extra"]
                if arm["impl"] == "c":
                    cmd = [opts.fptfarm, "train"] + args
                else:
                    cmd = [sys.executable, os.path.abspath(__file__), "torch-train"] + args
                key = hashlib.sha256(json.dumps([prints[arm["impl"]], args]).encode()).hexdigest()[:24]
                jobs.append({"key": key, "arm": i, "arm_spec": arm["spec"], "impl": arm["impl"],
                             "protocol": protocol, "seed": int(args[args.index("--seed") + 1]),
                             "args": args, "cmd": cmd})
    return jobs


def load_cache(path):
    """key -> run record from runs.jsonl (unreadable lines are skipped)."""
    cache = {}
    try:
        with open(path) as f:
            for line in f:
                try:
                    rec = json.loads(line)
                    cache[rec["key"]] = rec
                except (ValueError, KeyError, TypeError):
                    pass
    except FileNotFoundError:
        pass
    return cache


def write_atomic(path, text):
    """Writes a file through a synced temporary file and a rename."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".tmp-")
    try:
        os.fchmod(fd, 0o666 & ~UMASK)
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def save_cache(path, cache):
    write_atomic(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in cache.values()))


# =============================================================================
# Running jobs
# =============================================================================

def parse_train_output(text):
    """The per-epoch lines of `fptfarm train` (or torch-train) output:
    lines starting with an integer, formatted
    "%5d %11.4f %10.4f %8.2f%% %9.5f %9s %8.2f".  Checks that the epochs are
    1, 2, 3, ...  Returns a dict of lists."""
    cols = {"train_loss": [], "test_loss": [], "acc": [], "lr": [], "perturbed": [], "seconds": []}
    for line in text.splitlines():
        m = EPOCH_LINE.match(line)
        if not m:
            if re.match(r"^\s*\d+\s", line):
                raise ValueError("unreadable epoch line: %r" % line.strip())
            continue
        if int(m.group(1)) != len(cols["acc"]) + 1:
            raise ValueError("epoch %s out of order" % m.group(1))
        for name, g in zip(("train_loss", "test_loss", "acc", "lr"), (2, 3, 4, 5)):
            cols[name].append(float(m.group(g)))
        cols["perturbed"].append(m.group(6) == "yes")
        cols["seconds"].append(float(m.group(7)))
    return cols


def job_env():
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def run_job(job, epochs):
    """Runs one job; returns its record, or raises RuntimeError with the
    child's last stderr line.  Exit 0 = completed, 4 = diverged."""
    start = time.time()
    proc = subprocess.run(job["cmd"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=job_env(), text=True, stdin=subprocess.DEVNULL)
    where = "%s %s seed %d" % (job["arm_spec"], job["protocol"], job["seed"])
    if proc.returncode not in (0, 4):
        lines = [l for l in proc.stderr.splitlines() if l.strip()]
        raise RuntimeError("%s: exit %d: %s" % (where, proc.returncode,
                                                lines[-1].strip() if lines else "(no message)"))
    try:
        cols = parse_train_output(proc.stdout)
    except ValueError as e:
        raise RuntimeError("%s: %s" % (where, e))
    status = "completed" if proc.returncode == 0 else "diverged"
    if status == "completed" and len(cols["acc"]) != epochs:
        raise RuntimeError("%s: completed with %d epoch lines, %d expected"
                           % (where, len(cols["acc"]), epochs))
    rec = {k: job[k] for k in ("key", "impl", "arm_spec", "protocol", "seed", "args")}
    rec.update(cols, status=status, wall=time.time() - start,
               finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    return rec


def run_all(jobs, cache, cache_path, nproc, epochs, log=sys.stderr):
    """Runs the jobs not in the cache, `nproc` at a time, caching each
    finished run; stops at the first error (raised as RuntimeError after the
    running jobs finish)."""
    todo = [j for j in jobs if j["key"] not in cache]
    total, cached = len(jobs), len(jobs) - len(todo)
    if cached:
        print("validate: %d of %d runs cached in %s; %d to run" % (cached, total, cache_path, len(todo)),
              file=log)
    lock, state = threading.Lock(), {"next": 0, "done": 0, "error": None}
    start = time.time()

    def worker():
        while True:
            with lock:
                if state["error"] or state["next"] >= len(todo):
                    return
                job = todo[state["next"]]
                state["next"] += 1
            try:
                rec = run_job(job, epochs)
            except (RuntimeError, OSError) as e:
                with lock:
                    state["error"] = state["error"] or str(e)
                return
            with lock:
                cache[job["key"]] = rec
                save_cache(cache_path, cache)
                state["done"] += 1
                done = state["done"]
                eta = (time.time() - start) / done * (len(todo) - done)
                final = "final %.2f%%" % rec["acc"][-1] if rec["acc"] else "no epoch"
                print("validate: [%*d/%d] %s %-20s seed %-6d %s, %s, %.0f s; ETA %s"
                      % (len(str(total)), cached + done, total, "AB"[job["arm"]], job["protocol"],
                         job["seed"], rec["status"], final, rec["wall"], fmt_duration(eta)),
                      file=log, flush=True)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, nproc))]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.5)
    except KeyboardInterrupt:
        with lock:
            state["error"] = "interrupted; %d runs cached in %s: rerun to resume" % (len(cache), cache_path)
        for t in threads:
            t.join()
    if state["error"]:
        raise RuntimeError(state["error"])


def fmt_duration(seconds):
    return "%d min" % round(seconds / 60) if seconds >= 90 else "%d s" % round(seconds)


# =============================================================================
# Analysis
# =============================================================================

def group_runs(jobs, cache):
    """(arm index, protocol) -> the cached runs of those jobs."""
    groups = {}
    for j in jobs:
        groups.setdefault((j["arm"], j["protocol"]), []).append(cache[j["key"]])
    return groups


def auto_target(groups, epochs):
    """Median, over the pooled baseline runs of both arms, of each run's best
    accuracy within the first half of training: about half the baseline runs
    pass it by mid-run.  Pooled, so it favours neither arm."""
    best = [max(r["acc"][:max(1, (epochs + 1) // 2)]) for (arm, p), runs in groups.items()
            if p == "none" for r in runs if r["acc"]]
    if not best:
        raise SetupError("--target auto needs the 'none' protocol among --protocols")
    return round(float(np.median(best)), 2)


def compare_protocol(ra, rb, target, epochs):
    """Every statistic of one protocol, arm A (ra) against arm B (rb)."""
    out = {"runs": [len(ra), len(rb)],
           "diverged": [sum(r["status"] == "diverged" for r in ra),
                        sum(r["status"] == "diverged" for r in rb)]}
    out["fpt"] = compare_fpt(ra, rb, target, epochs)
    out["ks"] = []
    for e in range(1, epochs + 1):
        xa = [r["acc"][e - 1] for r in ra if len(r["acc"]) >= e]
        xb = [r["acc"][e - 1] for r in rb if len(r["acc"]) >= e]
        if xa and xb:
            d, p = ks_test(xa, xb)
            out["ks"].append({"epoch": e, "n": [len(xa), len(xb)], "D": d, "p": p})
    fa = np.array([r["acc"][-1] for r in ra if r["status"] == "completed"])
    fb = np.array([r["acc"][-1] for r in rb if r["status"] == "completed"])
    out["final"] = None
    if len(fa) and len(fb):
        boot = bootstrap_diff(lambda x: x.mean(axis=-1), fa, fb)
        out["final"] = {"mean_a": float(fa.mean()), "mean_b": float(fb.mean()), "diff": boot["diff"],
                        "ci": boot["ci"], "se": boot["se"], "mdd": Z_POWER * boot["se"]}
    out["fisher_p"] = None
    if sum(out["diverged"]):
        (da, db), (na, nb) = out["diverged"], out["runs"]
        out["fisher_p"] = fisher_exact(da, na - da, db, nb - db)
    return out


def equivalent(res):
    """Whether both 95% intervals (mean FPT, final accuracy) lie within the
    equivalence margins."""
    f, fin = res["fpt"], res["final"]
    ok_fpt = -EQ_MARGIN_FPT <= f["ci"][0] and f["ci"][1] <= EQ_MARGIN_FPT
    ok_acc = fin is not None and -EQ_MARGIN_ACC <= fin["ci"][0] and fin["ci"][1] <= EQ_MARGIN_ACC
    return bool(ok_fpt and ok_acc)


def test_family(per_protocol):
    """Every p-value of the verdict: (label, p), in a fixed order."""
    family = []
    for protocol, res in per_protocol.items():
        family.append(("%s log-rank" % protocol, res["fpt"]["logrank_p"]))
        family += [("%s KS epoch %d" % (protocol, k["epoch"]), k["p"]) for k in res["ks"]]
        if res["fisher_p"] is not None:
            family.append(("%s divergence (Fisher)" % protocol, res["fisher_p"]))
    return family


def study_vs_clean(groups, arms, protocols, target, epochs):
    """Informational: within each arm, study against clean variant of
    partial_reset and shrink_perturb; Holm over these comparisons."""
    out = []
    for i, arm in enumerate(arms):
        for kind in ("partial_reset", "shrink_perturb"):
            study, clean = kind + ":study", kind
            if study in protocols and clean in protocols:
                res = compare_fpt(groups[(i, study)], groups[(i, clean)], target, epochs)
                out.append({"arm": arm["spec"], "protocol": kind, **res})
    for res, adj in zip(out, holm([r["logrank_p"] for r in out]) if out else []):
        res["holm_p"] = float(adj)
        res["differ"] = bool(adj < ALPHA)
    return out


def timing(groups, arms):
    """Median seconds per epoch (as each implementation reports it) and mean
    wall seconds per run, per arm."""
    out = []
    for i, arm in enumerate(arms):
        runs = [r for (a, _), rs in groups.items() if a == i for r in rs]
        secs = [s for r in runs for s in r["seconds"]]
        out.append({"arm": arm["spec"], "seconds_per_epoch": float(np.median(secs)) if secs else None,
                    "wall_per_run": float(np.mean([r["wall"] for r in runs])) if runs else None})
    return out


def analyse(opts, arms, jobs, cache):
    """All statistics and the verdict, as one JSON-ready dict."""
    groups = group_runs(jobs, cache)
    target = auto_target(groups, opts.epochs) if opts.target == "auto" else float(opts.target)
    per_protocol = {p: compare_protocol(groups[(0, p)], groups[(1, p)], target, opts.epochs)
                    for p in opts.protocols}
    family = test_family(per_protocol)
    adjusted = holm([p for _, p in family])
    tests = [{"test": name, "p": p, "holm_p": float(a), "reject": bool(a < ALPHA)}
             for (name, p), a in zip(family, adjusted)]
    for protocol, res in per_protocol.items():
        res["fpt"]["holm_p"] = next(t["holm_p"] for t in tests if t["test"] == protocol + " log-rank")
        ks = [t for t in tests if t["test"].startswith(protocol + " KS epoch ")]
        res["ks_min"] = min(({"epoch": int(t["test"].rsplit(" ", 1)[1]), "p": t["p"],
                              "holm_p": t["holm_p"]} for t in ks), key=lambda k: k["p"], default=None)
    rejected = [t for t in tests if t["reject"]]
    for res in per_protocol.values():
        res["equivalent"] = equivalent(res)
    not_equivalent = [p for p, res in per_protocol.items() if not res["equivalent"]]
    verdict = "FAIL" if rejected else "PASS"
    return {"arms": [a["spec"] for a in arms], "target": target, "alpha": ALPHA,
            "settings": settings_dict(opts), "protocols": per_protocol, "tests": tests,
            "family_size": len(tests), "verdict": verdict,
            "rejected": [t["test"] for t in rejected], "not_equivalent": not_equivalent,
            "margins": {"fpt": EQ_MARGIN_FPT, "final_acc": EQ_MARGIN_ACC},
            "study_vs_clean": study_vs_clean(groups, arms, opts.protocols, target, opts.epochs),
            "timing": timing(groups, arms),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def settings_dict(opts):
    keys = ("seeds", "epochs", "train_subset", "test_subset", "width", "batch", "lr", "momentum",
            "weight_decay", "period", "fraction", "shrink", "sigma", "eta_min", "seed_base")
    return {k: getattr(opts, k) for k in keys}


# =============================================================================
# Report
# =============================================================================

def fmt_p(p):
    return "-" if p is None else ("%.3f" % p if p >= 0.001 else "%.1e" % p)


def fmt_ci(d):
    return "%+.2f [%+.2f, %+.2f]" % (d["diff"], d["ci"][0], d["ci"][1])


def report_rows(res):
    """The two tables' rows: (FPT rows, accuracy rows), lists of cells."""
    fpt_rows, acc_rows = [], []
    for protocol, r in res["protocols"].items():
        f = r["fpt"]
        fpt_rows.append([protocol, "%d/%d" % tuple(r["runs"]), "%d/%d" % tuple(r["diverged"]),
                         "%.2f (%d)" % (f["mean_a"], f["censored_a"]),
                         "%.2f (%d)" % (f["mean_b"], f["censored_b"]), fmt_ci(f), "%.2f" % f["mdd"],
                         fmt_p(f["logrank_p"]), fmt_p(f["holm_p"]),
                         "yes" if r["equivalent"] else "no"])
        fin, ks = r["final"], r["ks_min"]
        acc_rows.append([protocol] + (["%.2f" % fin["mean_a"], "%.2f" % fin["mean_b"], fmt_ci(fin),
                                       "%.2f" % fin["mdd"]] if fin else ["-"] * 4)
                        + (["%s (%d)" % (fmt_p(ks["p"]), ks["epoch"]), fmt_p(ks["holm_p"])]
                           if ks else ["-", "-"]))
    return fpt_rows, acc_rows


FPT_HEAD = ["protocol", "runs A/B", "diverged A/B", "mean FPT A (cens.)", "mean FPT B (cens.)",
            "A-B [95% CI]", "MDD", "log-rank p", "Holm p", "equivalent"]
ACC_HEAD = ["protocol", "final acc A", "final acc B", "A-B [95% CI]", "MDD",
            "min KS p (epoch)", "Holm p"]
SVC_HEAD = ["arm", "protocol", "mean FPT study", "mean FPT clean", "study-clean [95% CI]",
            "log-rank p", "Holm p", "differ"]


def svc_rows(res):
    return [[s["arm"], s["protocol"], "%.2f" % s["mean_a"], "%.2f" % s["mean_b"], fmt_ci(s),
             fmt_p(s["logrank_p"]), fmt_p(s["holm_p"]), "yes" if s["differ"] else "no"]
            for s in res["study_vs_clean"]]


def text_table(head, rows):
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in rows])


def md_table(head, rows):
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                     + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])


def describe(res):
    """The header lines: what was compared and how."""
    s = res["settings"]
    return ["A = %s, B = %s.  Fashion-MNIST, first %d train / %d test images; ResNet-18 width %d; "
            "%d epochs, batch %d, lr %g, momentum %g, weight decay %g; period %d, fraction %g, "
            "shrink %g, sigma %g, eta_min %g; %d runs per arm and protocol; target %.2f%%."
            % (res["arms"][0], res["arms"][1], s["train_subset"], s["test_subset"], s["width"],
               s["epochs"], s["batch"], s["lr"], s["momentum"], s["weight_decay"], s["period"],
               s["fraction"], s["shrink"], s["sigma"], s["eta_min"], s["seeds"], res["target"]),
            "Mean FPT: Kaplan-Meier restricted mean to E (censored runs in parentheses). "
            "Tests: log-rank on FPT; two-sample Kolmogorov-Smirnov (exact, ties conditioned on) "
            "on test accuracy at every epoch; Fisher exact on divergences if any. "
            "Intervals: 95%% percentile bootstrap (%d resamples). Holm-Bonferroni over the family "
            "of all %d p-values (%s), alpha %g. MDD: 2.8 bootstrap SE, the difference detectable "
            "with 80%% power (unadjusted, informational). Equivalent: both 95%% intervals within "
            "the margins fixed in advance, +-%g epoch (mean FPT) and +-%g points (final "
            "accuracy)."
            % (BOOTSTRAP, res["family_size"], family_counts(res), res["alpha"],
               res["margins"]["fpt"], res["margins"]["final_acc"])]


def family_counts(res):
    """'7 log-rank + 70 KS + 1 Fisher': what the family holds."""
    count = lambda word: sum(word in t["test"] for t in res["tests"])
    parts = ["%d log-rank" % count("log-rank"), "%d KS" % count(" KS epoch ")]
    return " + ".join(parts + (["%d Fisher" % count("Fisher")] if count("Fisher") else []))


def verdict_line(res):
    if res["verdict"] == "PASS":
        n = len(res["protocols"])
        within = n - len(res["not_equivalent"])
        return ("PASS: none of the %d Holm-adjusted p-values is below %g: no difference found "
                "at this sample size.  Within the equivalence margins (+-%g epoch, +-%g points): "
                "%d of %d protocols%s." % (res["family_size"], res["alpha"], res["margins"]["fpt"],
                                         res["margins"]["final_acc"], within, n,
                                         "" if within == n else
                                         "; not shown equal (intervals too wide at this size): "
                                         + ", ".join(res["not_equivalent"])))
    worst = sorted((t for t in res["tests"] if t["reject"]), key=lambda t: t["holm_p"])
    return ("FAIL: %d of %d Holm-adjusted p-values below %g: %s."
            % (len(worst), res["family_size"], res["alpha"],
               ", ".join("%s (Holm p %s)" % (t["test"], fmt_p(t["holm_p"])) for t in worst)))


def timing_line(res):
    return "Speed: " + "; ".join("%s %s s/epoch, %s s/run" % (
        t["arm"], "-" if t["seconds_per_epoch"] is None else "%.2f" % t["seconds_per_epoch"],
        "-" if t["wall_per_run"] is None else "%.1f" % t["wall_per_run"]) for t in res["timing"])


def text_report(res):
    fpt_rows, acc_rows = report_rows(res)
    parts = describe(res) + ["", "First passage to %.2f%% (epochs)" % res["target"],
                             text_table(FPT_HEAD, fpt_rows), "",
                             "Test accuracy (%): final = epoch E; smallest per-epoch KS p shown",
                             text_table(ACC_HEAD, acc_rows), ""]
    if res["study_vs_clean"]:
        parts += ["Study vs clean variant, within each arm (informational, not in the verdict)",
                  text_table(SVC_HEAD, svc_rows(res)), ""]
    return "\n".join(parts + [timing_line(res), "", verdict_line(res)]) + "\n"


def markdown_report(res):
    fpt_rows, acc_rows = report_rows(res)
    parts = ["## Validation: %s vs %s, %s" % (res["arms"][0], res["arms"][1], res["date"]), ""]
    parts += [describe(res)[0], "", describe(res)[1], "",
              "First passage to %.2f%% (epochs):" % res["target"], "", md_table(FPT_HEAD, fpt_rows), "",
              "Test accuracy (%), final = last epoch:", "", md_table(ACC_HEAD, acc_rows), ""]
    if res["study_vs_clean"]:
        parts += ["Study vs clean variant within each arm (informational):", "",
                  md_table(SVC_HEAD, svc_rows(res)), ""]
    return "\n".join(parts + [timing_line(res) + ".", "", "**%s**" % verdict_line(res)]) + "\n"


# =============================================================================
# Self-test: the statistics and the parser on inputs with known answers
# =============================================================================

SAMPLE_OUTPUT = """\
train: ResNet-18 width 8, 10 outputs; fashion-mnist: 2048 train / 2000 test images; 4 epochs, \
batch 64, lr 0.05, momentum 0.9, weight decay 0.0005; seed 7
threads: 1; BLAS: OpenBLAS 0.3.21 (OpenMP)
protocol: shrink_perturb, every 2 epochs
epoch  train_loss  test_loss  test_acc        lr perturbed  seconds
    1      1.7969     4.1809    31.50%   0.05000         -     3.68
    2      0.8200     1.2684    59.55%   0.05000       yes     3.87
    3      0.6004     0.6034    78.00%   0.05000         -     3.38
   10      0.4874     0.8465   100.00%   0.05000       yes    13.22
first passage: target 80.00% reached at epoch 10
run completed after 4 epochs
"""


def self_test():
    """Checks with known answers; returns the number of failures."""
    failures = []

    def check(name, got, want, tol=1e-9):
        ok = np.allclose(np.asarray(got, float), np.asarray(want, float), atol=tol, rtol=0)
        print("self-test: %-66s %s" % (name, "ok" if ok else "FAILED: got %r, want %r" % (got, want)))
        if not ok:
            failures.append(name)

    # KS: hand-computed D; exact p = 2 / C(6,3) for complete separation.
    check("KS D, separated samples", ks_statistic([1, 2, 3], [4, 5, 6]), 1.0)
    check("KS p, separated samples = 2/C(6,3)", ks_test([1, 2, 3], [4, 5, 6])[1], 0.1)
    check("KS D, interleaved samples", ks_statistic([1, 3, 5, 7], [2, 4, 6, 8]), 0.25)
    # ties: 0.25 at 1, 2 and 3; a merge that split the tied 2s would see 3/4 - 0
    check("KS D with ties, hand-computed 1/4", ks_statistic([1, 2, 2, 3], [2, 2, 3, 4]), 0.25)
    x, y = [1, 1, 2, 3, 3], [2, 3, 3, 4]              # ties across the samples
    perm = brute_force_ks(x, y)
    check("KS p with ties = full permutation count", ks_test(x, y)[1], perm)
    check("KS identical samples: p = 1", ks_test([5, 6, 7], [5, 6, 7])[1], 1.0)
    check("KS asymptotic, lambda = 0.2 sqrt(50*50/100) = 1: Q(1) = 0.2699997",
          ks_pvalue_asymptotic(0.2, 50, 50), 0.2699996717, 1e-9)
    # Holm: textbook example.
    check("Holm on (0.01, 0.04, 0.03, 0.005)", holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    # Log-rank.
    t, e = np.array([3, 5, 7, 9, 10]), np.array([1, 1, 1, 1, 0])
    check("log-rank, identical samples: p = 1", logrank(t, e, t, e)[1], 1.0)
    late = np.arange(1, 21)
    check("log-rank, shifted by 15 epochs: p < 1e-6", logrank(late, np.ones(20), late + 15, np.ones(20))[1] < 1e-6, 1)
    # 2 vs 2, one event each time: hand-computed chi2 (O1-E1)^2/V
    # t=1: n=(2,2), d=(1,0): E1=1/2, V=1*(1/2)(1/2)(3/3)=1/4;  t=2: n=(1,2), d=(1,0):
    # E1=1/3, V=(1/3)(2/3)=2/9; t=3,4: only arm 2 at risk: E1=0, V=0.  O1-E1=2-5/6=7/6.
    check("log-rank chi2, hand-computed 49/17", logrank([1, 2], [1, 1], [3, 4], [1, 1])[0], (7 / 6) ** 2 / (1 / 4 + 2 / 9))
    # Kaplan-Meier restricted mean = plain mean when censoring is only at E.
    check("KM restricted mean = mean(min(T, E))", restricted_mean(t, e, 10)[0], 6.8)
    check("KM with early censoring", km_survival([2, 3, 3], [0, 1, 1], 4)[0], [1, 1, 1, 0, 0])
    check("Fisher exact, [[3,1],[1,3]]", fisher_exact(3, 1, 1, 3), 0.4857142857142857)
    check("Fisher exact, [[10,0],[0,10]] = 2/C(20,10)", fisher_exact(10, 0, 0, 10), 2 / math.comb(20, 10))
    b = bootstrap_diff(lambda v: v.mean(axis=-1), np.array([1.0, 2, 3]), np.array([1.0, 2, 3]))
    check("bootstrap of equal samples: diff 0, CI around 0", [b["diff"], b["ci"][0] < 0 < b["ci"][1]], [0, 1])
    # Parser on a captured sample.
    cols = None
    try:
        parse_train_output(SAMPLE_OUTPUT)
    except ValueError:
        cols = "epoch gap refused"
    check("parser refuses an epoch gap (1,2,3,10)", cols == "epoch gap refused", 1)
    cols = parse_train_output(SAMPLE_OUTPUT.replace("   10      0.4874", "    4      0.4874"))
    check("parser: accuracies", cols["acc"], [31.5, 59.55, 78.0, 100.0])
    check("parser: perturbed flags and seconds", cols["perturbed"] + cols["seconds"],
          [0, 1, 0, 1, 3.68, 3.87, 3.38, 13.22])
    check("first passage at 78: epoch 3", first_passage(cols["acc"], 78.0), (3, 1))
    check("first passage at 100.01: censored at 4", first_passage(cols["acc"], 100.01), (4, 0))
    import importlib.util
    if importlib.util.find_spec("torch") is not None:
        torch_self_test(check)
    else:
        print("self-test: PyTorch not installed: its protocol checks skipped")
    print("self-test: %d checks failed" % len(failures) if failures else "self-test: all checks passed")
    return len(failures)


def torch_self_test(check):
    """The PyTorch side's protocols on a width-2 network."""
    import torch
    torch.set_num_threads(1)
    cfg = parse_train_args(["--width", "2", "--fraction", "0.3", "--period", "3"])
    cfg.update(dtype=torch.float32, memory_format=torch.channels_last,
               model_class=build_model_classes())
    torch.manual_seed(0)
    model = fresh_model(cfg)
    check("torch: 41 weight tensors (20 conv, 20 BN, 1 linear)", len(weight_tensors(model)), 41)
    check("torch: output shape (3, 10) from 1x28x28", model(torch.randn(3, 1, 28, 28)).shape, (3, 10))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)          # BN scales no longer all 1
    flat = lambda: torch.cat([p.detach().reshape(-1).clone() for p in weight_tensors(model)])
    before = flat()
    partial_reset_clean(model, cfg)
    changed = flat() != before
    k = int(math.floor(0.3 * before.numel() + 0.5))
    check("torch: partial_reset clean re-draws round(f n) weights", int(changed.sum()), k)
    check("torch: ... and exactly the smallest |w|",
          before[changed].abs().max().item() <= before[~changed].abs().min().item(), 1)
    before, conv = flat(), model.layer4[1].conv1.weight.detach().clone()   # 16 in-channels, 3x3
    threshold = torch.sort(before.abs()).values[int(0.3 * before.numel())]
    partial_reset_study(model, cfg)
    check("torch: partial_reset study re-draws |w| <= sorted[int(f n)]",
          int((flat() != before).sum()), int((before.abs() <= threshold).sum()))
    new_conv = model.layer4[1].conv1.weight.detach()[model.layer4[1].conv1.weight.detach() != conv]
    check("torch: ... from U(+-1/sqrt(in-channels)), not 1/sqrt(in-channels*9)",
          [new_conv.abs().max().item() <= 0.25, new_conv.abs().max().item() > 1 / 12], [1, 1])
    state = {k: t.clone() for k, t in model.state_dict().items()}
    torch.manual_seed(5)
    shrink_perturb(model, cfg, whole_state_dict=False)
    torch.manual_seed(5)
    new = fresh_model(cfg).state_dict()
    got = model.state_dict()
    check("torch: shrink_perturb clean: weights, running var, block std",
          [torch.allclose(got["conv1.weight"], 0.4 * state["conv1.weight"] + 0.1 * new["conv1.weight"]),
           torch.allclose(got["bn1.running_var"], 0.4 * state["bn1.running_var"] + 0.1),
           got["block1_std"].item()], [1, 1, 1])
    stds = []
    for _ in range(3):
        shrink_perturb(model, cfg, whole_state_dict=True)
        stds.append(model.block3_std.item())
    check("torch: shrink_perturb study: block std 0.5, 0.3, 0.22", stds, [0.5, 0.3, 0.22], 1e-6)
    check("torch: warm_restart lr, tau 3", [epoch_lr(dict(cfg, protocol="warm_restart"), e)
                                            for e in range(1, 5)], [0.05, 0.0375, 0.0125, 0.05])


def brute_force_ks(x, y):
    """P(D >= d) by enumerating every split of the pooled sample."""
    import itertools
    d, pool = ks_statistic(x, y), list(x) + list(y)
    hits = total = 0
    for chosen in itertools.combinations(range(len(pool)), len(x)):
        rest = [pool[i] for i in range(len(pool)) if i not in chosen]
        hits += ks_statistic([pool[i] for i in chosen], rest) >= d - 1e-9
        total += 1
    return hits / total


# =============================================================================
# Command line
# =============================================================================

class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise SetupError("%s (see --help)" % message)


def parse_args(argv):
    ap = Parser(prog="validate.py", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                description="Compares two training arms' per-epoch test accuracy and "
                "first-passage-time distributions on Fashion-MNIST (the module docstring "
                "explains arms, statistics and outputs).",
                epilog="Exit status: 0 PASS, 1 FAIL, 2 usage or setup error.")
    a = ap.add_argument
    a("--fptfarm", help="the fptfarm binary (needed by 'c' arms; make validate passes it)")
    a("--compare", nargs=2, metavar=("ARM_A", "ARM_B"), default=["c", "torch"],
      help="the two arms, IMPL[:EXTRA ARGS], IMPL = c or torch")
    a("--protocols", default=",".join(PROTOCOLS), help="comma-separated, from: " + ", ".join(PROTOCOLS))
    a("--seeds", type=int, default=15, help="runs per arm and protocol")
    a("--epochs", type=int, default=10, help="epochs E of every run")
    a("--train-subset", type=int, default=2048, help="the first N training images")
    a("--test-subset", type=int, default=2000, help="the first M test images")
    a("--width", type=int, default=8, help="ResNet-18 base width")
    a("--batch", type=int, default=64, help="minibatch size")
    a("--lr", type=float, default=0.05, help="learning rate (constant, or SGDR's top)")
    a("--momentum", type=float, default=0.9, help="SGD momentum")
    a("--weight-decay", type=float, default=5e-4, help="SGD weight decay")
    a("--period", type=int, default=3, help="tau of every perturbed protocol")
    a("--fraction", type=float, default=0.3, help="partial_reset's fraction f")
    a("--shrink", type=float, default=0.4, help="shrink_perturb's lambda")
    a("--sigma", type=float, default=0.1, help="shrink_perturb's sigma")
    a("--eta-min", type=float, default=0.0, help="warm_restart's lowest learning rate")
    a("--target", default="80", help="target test accuracy in %%, or 'auto'")
    a("--jobs", type=int, default=2, help="runs at a time, each single-threaded")
    a("--seed-base", type=int, default=1, help="seed of the first run (arm A, none)")
    a("--data-path", default=DATA_DIR, help="Fashion-MNIST directory (the IDX .gz files)")
    a("--out", default="results/validate", help="output directory")
    a("--dry-run", action="store_true", help="print the commands, run nothing")
    a("--self-test", action="store_true", help="test the statistics, the parser and the "
      "PyTorch protocols on known answers, run nothing")
    opts = ap.parse_args(argv)
    opts.protocols = [p.strip() for p in opts.protocols.split(",") if p.strip()]
    bad = [p for p in opts.protocols if p not in PROTOCOLS]
    if bad or not opts.protocols or len(set(opts.protocols)) != len(opts.protocols):
        raise SetupError("--protocols: expected distinct names from %s" % ", ".join(PROTOCOLS))
    if not 1 <= opts.seeds < SEED_BLOCK_PROTOCOL:
        raise SetupError("--seeds must be in 1..%d" % (SEED_BLOCK_PROTOCOL - 1))
    for name in ("epochs", "train_subset", "test_subset", "width", "batch", "period", "jobs"):
        if getattr(opts, name) < 1:
            raise SetupError("--%s must be at least 1" % name.replace("_", "-"))
    if opts.target != "auto":
        try:
            ok = 0 < float(opts.target) <= 100
        except ValueError:
            ok = False
        if not ok:
            raise SetupError("--target: expected a percentage in (0, 100] or 'auto'")
    return opts


def check_setup(opts, arms):
    """Everything that can be checked before the first run."""
    if arms[0]["spec"] == arms[1]["spec"]:
        raise SetupError("--compare: the two arms are the same")
    if any(a["impl"] == "c" for a in arms):
        if not opts.fptfarm:
            raise SetupError("a 'c' arm needs --fptfarm PATH (make validate passes build/fptfarm)")
        if not (os.path.isfile(opts.fptfarm) and os.access(opts.fptfarm, os.X_OK)):
            raise SetupError("%s: no such executable (build it first: make)" % opts.fptfarm)
        opts.fptfarm = os.path.abspath(opts.fptfarm)
    if any(a["impl"] == "torch" for a in arms):
        import importlib.util
        if importlib.util.find_spec("torch") is None:
            raise SetupError("PyTorch is not installed for %s: run deploy/install-deps.sh --with-torch"
                             % sys.executable)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        if not os.path.isfile(os.path.join(opts.data_path, name)):
            raise SetupError("%s: Fashion-MNIST file missing (--data-path)" % os.path.join(opts.data_path, name))
    if opts.train_subset > 60000 or opts.test_subset > 10000:
        raise SetupError("Fashion-MNIST has 60000 train and 10000 test images")
    opts.data_path = os.path.abspath(opts.data_path)


def validate_main(argv):
    opts = parse_args(argv)
    if opts.self_test:
        return 1 if self_test() else 0
    arms = [parse_arm(a) for a in opts.compare]
    check_setup(opts, arms)
    jobs = make_jobs(opts, arms)
    if opts.dry_run:
        try:
            for j in jobs:
                print(" ".join(shlex.quote(c) for c in j["cmd"]))
            sys.stdout.flush()
        except BrokenPipeError:           # e.g. piped into head
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    try:
        os.makedirs(opts.out, exist_ok=True)
    except OSError as e:
        raise SetupError("%s: %s" % (opts.out, e.strerror))
    cache_path = os.path.join(opts.out, "runs.jsonl")
    print("validate: %d runs (A = %s, B = %s; %d protocols x %d seeds), %d at a time"
          % (len(jobs), arms[0]["spec"], arms[1]["spec"], len(opts.protocols), opts.seeds, opts.jobs),
          file=sys.stderr, flush=True)
    cache = load_cache(cache_path)
    run_all(jobs, cache, cache_path, opts.jobs, opts.epochs)
    res = analyse(opts, arms, jobs, cache)
    write_atomic(os.path.join(opts.out, "validate.json"), json.dumps(res, indent=1) + "\n")
    write_atomic(os.path.join(opts.out, "validate.md"), markdown_report(res))
    sys.stdout.write(text_report(res))
    print("validate: wrote %s/validate.json and validate.md" % opts.out, file=sys.stderr)
    return 0 if res["verdict"] == "PASS" else 1


def main(argv):
    try:
        if argv[:1] == ["torch-train"]:
            return torch_train_main(argv[1:])
        return validate_main(argv)
    except (SetupError, RuntimeError) as e:
        print("validate: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
