// backend/ops.h — the contract between the model (resnet.c) and a compute
// backend (backend/blas.c, backend/onednn.c).  See backend.h for what a
// backend is.
//
// The model owns, in flat fp32 arrays in PyTorch's order: params, grads and
// buffers (BN running statistics (2, C) = [mean; var] per layer and the
// optional stage buffers).  The backend reads params and writes grads and
// the running statistics through the fpt_resnet it was created for.
//
// Activations are opaque to the model: storage of act_bytes(C, N, h) bytes
// (64-byte aligned, allocated by the model in one arena) holding a (N, C, h,
// h) tensor in the backend's layout and precision.  Two activations of the
// same (C, N, h) have the same layout, so the model may hand any scratch
// buffer of the right size to any op.
//
// Plans.  prepare(N) makes (or finds in the backend's cache) everything the
// ops need for batch N: per-layer primitives, reordered weights, workspace.
// Every op below works on the batch of the last prepare.  Ops do not fail:
// whatever can fail (allocation, a primitive the library cannot make)
// happens in create or prepare, which return errors with context.
//
// Gradients of parameters are OVERWRITTEN, not accumulated (each parameter
// is used once per step).
#ifndef FPT_BACKEND_OPS_H
#define FPT_BACKEND_OPS_H

#include <stddef.h>

#include "nn/backend.h"
#include "nn/resnet.h"

typedef struct fpt_net_ops {
    fpt_backend backend;

    // Creates the backend's state for model m (its layout built, m->layer[]
    // numbered) in precision p.  m outlives the state.  On failure *state is
    // NULL or a partly made state that destroy frees.
    int (*create)(fpt_resnet *m, fpt_precision p, void **state, fpt_err *err);
    void (*destroy)(void *state);

    // Bytes of one activation (N, C, h, h) in this backend's layout,
    // including any padding; a multiple of 64.
    size_t (*act_bytes)(void *state, int C, int N, int h);

    // Plans for batch N (1 <= N); the model calls it before each forward.
    // Cheap when the plans for N exist.  Also reports a failure of an op
    // since the last call (as status does).
    int (*prepare)(void *state, int N, fpt_err *err);

    // 0, or -1 with the error if an op failed since the last prepare (ops
    // cannot return errors; a library failing after its plan was made is
    // rare, but it must not pass unseen).
    int (*status)(void *state, fpt_err *err);

    // Weights changed (an optimizer step or a perturbation): a backend that
    // keeps weights in its own layout re-reads m->params before the next
    // forward.  The model calls it at the start of every forward.
    void (*weights_changed)(void *state);

    // x: (N, in_channels, hw, hw) fp32 NCHW images -> dst, the network input.
    void (*input)(void *state, const float *x, void *dst);

    // Convolution cb (input cb->h_in square) then BatchNorm, then ReLU if
    // cb->relu: x -> z (the convolution's output, kept for backward) -> y.  train:
    // batch statistics, the running statistics in m->buffers updated with
    // PyTorch's momentum 0.1 and unbiased variance; else the running ones.
    void (*convbn_forward)(void *state, const fpt_convbn *cb, const void *x,
                           void *z, void *y, int train);

    // Backward through [ReLU ->] BN -> convolution, after a training forward
    // of this layer with the same x, z.  dy: the gradient at the layer's
    // output.  relu_y: if not NULL, a ReLU followed the BN and relu_y is its
    // output (y of the forward when cb->relu, or the block's add_relu output);
    // dy is then first masked IN PLACE by relu_y > 0, so the caller can reuse
    // the masked gradient.  If cb->relu (the ReLU is the layer's own), tmp
    // must be dy.  tmp receives the gradient at z (may be dy).  dx (NULL:
    // not needed, the stem) receives the gradient at x, plus dx_add when that
    // is not NULL (a residual; may alias dx).  Writes the layer's weight, BN
    // scale and BN shift gradients into m->grads.
    void (*convbn_backward)(void *state, const fpt_convbn *cb, const void *x,
                            const void *z, const void *relu_y, void *dy, void *tmp, void *dx,
                            const void *dx_add);

    // y = max(0, y + x), tensors (N, C, h, h).
    void (*add_relu)(void *state, int C, int h, void *y, const void *x);

    // Stage normalisation (resnet.h): y = (x - mean) / sd, and its backward
    // g = g / sd in place.
    void (*stage_norm)(void *state, int C, int h, const void *x, void *y, float mean, float sd);
    void (*stage_norm_backward)(void *state, int C, int h, void *g, float sd);

    // Global average pool: x (N, C, h, h) -> pooled (N, C) fp32 plain, and
    // backward dpooled (N, C) fp32 -> dx (N, C, h, h).
    void (*pool_forward)(void *state, int C, int h, const void *x, float *pooled);
    void (*pool_backward)(void *state, int C, int h, const float *dpooled, void *dx);
} fpt_net_ops;

// The op tables of the backends built; NULL for one not built.
const fpt_net_ops *fpt_backend_ops(fpt_backend b);
extern const fpt_net_ops fpt_blas_ops;
#ifdef FPT_HAVE_ONEDNN
extern const fpt_net_ops fpt_onednn_ops;
// Can oneDNN run precision p on this CPU?  bf16 needs AVX512_BF16 (or AMX)
// as oneDNN sees it (DNNL_MAX_CPU_ISA may lower what it sees).
int fpt_onednn_check(fpt_precision p, fpt_err *err);
// "onednn 2.6.3 (avx512_core_bf16)": the library's version and instruction set.
const char *fpt_onednn_describe(void);
#endif

#endif
