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
  c:--precision bf16       the same, with extra `fptfarm train` arguments appended
  torch                    this file's `torch-train` subcommand (PyTorch)
  torch:--dtype float64    the same, with extra torch-train options (--dtype)
Both implementations get the same command line (`fptfarm train` syntax) and
print the same per-epoch text, which one parser reads.  The default comparison
is `--compare c torch`; any other pair works, e.g. `--compare c "c:--precision bf16"`.

PROTOCOLS (--protocols, comma-separated): none, reset, partial_reset,
shrink_perturb, warm_restart (the "clean" variants), and partial_reset:study,
shrink_perturb:study (`--variant study`: the study's code, see torch-train below).

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
 anything diverged).  alpha = 0.05.  Verdict PASS if no Holm-adjusted p-value
 is below alpha, else FAIL, naming the tests.
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
The seed is torch.manual_seed(seed).  Output: fptfarm train's text format;
exit 4 when the training loss becomes NaN/Inf (diverged).
"""
import argparse
import concurrent.futures
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
EVAL_BATCH = 200                  # small: 1000-image batches made evaluation 5x slower
DATA_DIR = "/usr/share/datasets/fashion-mnist"
# Every protocol, in a FIXED order: its index picks the seed block.
PROTOCOLS = ["none", "reset", "partial_reset", "shrink_perturb", "warm_restart",
             "partial_reset:study", "shrink_perturb:study"]
SEED_BLOCK_ARM, SEED_BLOCK_PROTOCOL = 100000, 1000
EPOCH_LINE = re.compile(
    r"^\s*(\d+)\s+(\S+)\s+(\S+)\s+(\S+)%\s+(\S+)\s+(yes|-)\s+(\S+)\s*$")


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
    return model.to(cfg["dtype"])


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
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            is_stat = name.endswith("running_mean") or name.endswith("running_var")
            is_param = name in dict(model.named_parameters())
            if whole_state_dict or is_param or is_stat:
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
    cfg["model_class"] = build_model_classes()
    xtr, ytr, xte, yte = load_fashion(cfg["data_path"], cfg["train_subset"], cfg["test_subset"])
    xtr, xte = torch.from_numpy(xtr).to(cfg["dtype"]), torch.from_numpy(xte).to(cfg["dtype"])
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

def first_passage(accs, target, horizon):
    """(time, event) for one run: the first epoch with accuracy >= target
    (event 1), else censored (event 0) at the last recorded epoch.  A run
    without any epoch is censored at 0.  `horizon` is unused except as
    documentation: a completed run's last epoch is E."""
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
    o_minus_e, var, obs1, exp1 = 0.0, 0.0, 0.0, 0.0
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
    te = np.array([first_passage(r["acc"], target, horizon) for r in runs], int).reshape(-1, 2)
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


if __name__ == "__main__" and sys.argv[1:2] == ["torch-train"]:
    sys.exit(torch_train_main(sys.argv[2:]))
