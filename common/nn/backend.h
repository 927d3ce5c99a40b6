// backend.h — which compute backend runs the network's layers, and in which
// precision.
//
// A backend owns the layout of activations, the per-layer plans (one set per
// batch size) and their workspace; the model (resnet.c) only walks the graph
// and owns the parameters, gradients and BN running statistics, which stay
// in flat PyTorch-ordered float arrays whatever the backend (so protocols,
// checkpoints and the database do not depend on it).  The op contract is in
// backend/ops.h.
//
//   blas    im2col + sgemm over channel-major (C, N, H, W) activations, fp32.
//           Portable; always built.
//   onednn  oneDNN primitives over the layouts they choose (blocked nChw16c
//           and the like), fp32 or bf16 mixed precision.  Built with
//           `make DNN=onednn` (the default when oneDNN is installed).
//
// Precision bf16 is mixed precision as PyTorch's CPU autocast does it:
// convolution inputs, outputs and the activations between layers in bf16;
// master weights, weight gradients, BatchNorm statistics, the classifier,
// the loss and SGD in fp32.
#ifndef FPT_BACKEND_H
#define FPT_BACKEND_H

#include "base/error.h"

typedef enum fpt_backend {
    FPT_BACKEND_DEFAULT = 0,   // the fastest one built (fpt_backend_resolve)
    FPT_BACKEND_BLAS,
    FPT_BACKEND_ONEDNN,
} fpt_backend;

typedef enum fpt_precision {
    FPT_PRECISION_FP32 = 0,
    FPT_PRECISION_BF16,
} fpt_precision;

// "blas", "onednn"; "default" for FPT_BACKEND_DEFAULT.  "fp32", "bf16".
const char *fpt_backend_name(fpt_backend b);
const char *fpt_precision_name(fpt_precision p);
// Parses a name; an unknown one is an error listing the expected names.
// Parsing does not check that the backend is built (fpt_backend_check does).
int fpt_backend_parse(const char *s, fpt_backend *out, fpt_err *err);
int fpt_precision_parse(const char *s, fpt_precision *out, fpt_err *err);

// 1 if this build has backend b.
int fpt_backend_built(fpt_backend b);
// FPT_BACKEND_DEFAULT -> the fastest backend built; others unchanged.
fpt_backend fpt_backend_resolve(fpt_backend b);

// Can (b, p) run here?  Errors, one line each: a backend not in this build
// (how to build it), bf16 on a backend without it, bf16 on a CPU without
// AVX512_BF16 (what the CPU lacks).
int fpt_backend_check(fpt_backend b, fpt_precision p, fpt_err *err);

// One line for a run's header: "onednn 2.6.3 (avx512_core_bf16), bf16".
const char *fpt_backend_describe(fpt_backend b, fpt_precision p);

#endif
