// backend/blas.c — the portable backend: im2col + sgemm convolutions and
// the hand-written kernels of layers.h, fp32, over channel-major (C, N, H,
// W) activations (layers.h says why that layout).
//
// Plans are trivial here: a layer needs only its shape.  What the backend
// owns is the im2col workspace (shared by all layers, sized for the largest
// batch seen) and the per-layer BN statistics saved for backward.
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "nn/backend/ops.h"
#include "nn/layers.h"
#include "base/memory.h"
#include "base/prof.h"

typedef struct blas_state {
    fpt_resnet *m;
    // Per-layer BN save, (2, cout) = [mean; 1/sqrt(var + eps)] of the last
    // training forward, at save[layer id] into bn_save.
    float *bn_save;
    size_t save[FPT_MAX_LAYERS];
    // im2col: the budget per buffer, the batch it was sized for.
    size_t ws_floats;
    int ws_batch;
    fpt_conv_ws ws;
} blas_state;

static int blas_create(fpt_resnet *m, fpt_precision p, void **out, fpt_err *err) {
    if (p != FPT_PRECISION_FP32)   // fpt_backend_check refuses it first
        return fpt_fail(err, "the blas backend computes in fp32 only");
    blas_state *s = fpt_calloc(1, sizeof *s, "blas backend", err);
    if (!s) return -1;
    s->m = m;
    size_t off = 0;
    for (int i = 0; i < m->n_layers; i++) {
        s->save[i] = off;
        off += 2 * (size_t)m->layer[i]->s.cout;
    }
    s->bn_save = fpt_calloc(off, sizeof(float), "BN statistics of the batch", err);
    if (!s->bn_save) {
        fpt_free(s);
        return -1;
    }
    s->ws_floats = (size_t)4 << 20;   // 16 MiB per im2col buffer (larger chunks measured no faster)
    *out = s;
    return 0;
}

static void blas_destroy(void *state) {
    blas_state *s = state;
    fpt_free(s->ws.col);
    fpt_free(s->ws.dcol);
    fpt_free(s->bn_save);
    fpt_free(s);
}

static size_t blas_act_bytes(void *state, int C, int N, int h) {
    (void)state;
    return sizeof(float) * (size_t)C * N * h * h;
}

// Floats of one image's im2col matrix: (cin*k*k) x (h_out*h_out).
static size_t conv_cols_per_image(const fpt_convbn *cb) {
    return (size_t)cb->s.cin * cb->s.k * cb->s.k * cb->h_out * cb->h_out;
}

// The im2col workspace: the budget, but never less than one image of the
// largest convolution, and no more than the whole batch of it.  Resized
// only when the batch grows (chunking depends only on shapes and the
// workspace size, never on threads).
static int blas_prepare(void *state, int N, fpt_err *err) {
    blas_state *s = state;
    if (N <= s->ws_batch) return 0;
    fpt_free(s->ws.col);
    fpt_free(s->ws.dcol);
    s->ws = (fpt_conv_ws){0};
    s->ws_batch = 0;
    size_t one = 0;
    for (int i = 0; i < s->m->n_layers; i++) {
        size_t c = conv_cols_per_image(s->m->layer[i]);
        if (c > one) one = c;
    }
    size_t cap = s->ws_floats > one ? s->ws_floats : one;
    size_t need = one * (size_t)N;
    if (cap > need) cap = need;
    s->ws.col = fpt_calloc(cap, sizeof(float), "im2col workspace", err);
    s->ws.dcol = s->ws.col ? fpt_calloc(cap, sizeof(float), "im2col workspace", err) : NULL;
    if (!s->ws.dcol) {
        fpt_free(s->ws.col);
        s->ws = (fpt_conv_ws){0};
        return -1;
    }
    s->ws.cap = cap;
    s->ws_batch = N;
    return 0;
}

static int blas_status(void *state, fpt_err *err) {
    (void)state, (void)err;   // the kernels cannot fail
    return 0;
}

static void blas_weights_changed(void *state) {
    (void)state;   // the kernels read m->params directly
}

static void blas_input(void *state, const float *x, void *dst) {
    const fpt_resnet *m = ((blas_state *)state)->m;
    fpt_nchw_to_cnhw(x, dst, m->batch, m->in_channels, m->image_hw * m->image_hw);
}

static double conv_flops(const fpt_convbn *cb, int N) {
    return 2.0 * cb->s.cout * cb->s.cin * cb->s.k * cb->s.k * (double)N * cb->h_out * cb->h_out;
}

static void blas_convbn_forward(void *state, const fpt_convbn *cb, const void *x, void *z,
                                void *y, int train) {
    blas_state *s = state;
    const int relu = cb->relu;
    fpt_resnet *m = s->m;
    const int N = m->batch, C = cb->s.cout;
    const size_t M = (size_t)N * cb->h_out * cb->h_out;
    const float *p = m->params, *gamma = p + cb->gamma, *beta = p + cb->beta;
    float *run = m->buffers + cb->running, *save = s->bn_save + s->save[cb->id];
    FPT_TIMED(FPT_PROF_CONV_FWD, conv_flops(cb, N),
          fpt_conv2d_forward(&cb->s, N, cb->h_in, cb->h_in, x, p + cb->w, z, &s->ws));
    FPT_TIMED(FPT_PROF_BN, 0.0,
          if (train && relu) fpt_bn_relu_forward_train(C, M, z, gamma, beta, run, save, save + C, y);
          else if (train) fpt_bn_forward_train(C, M, z, gamma, beta, run, save, save + C, y);
          else if (relu) fpt_bn_relu_forward_eval(C, M, z, gamma, beta, run, y);
          else fpt_bn_forward_eval(C, M, z, gamma, beta, run, y));
}

static void blas_convbn_backward(void *state, const fpt_convbn *cb, const void *x, const void *z,
                                 const void *relu_y, void *dy, void *tmp, void *dx,
                                 const void *dx_add) {
    blas_state *s = state;
    fpt_resnet *m = s->m;
    const int N = m->batch, C = cb->s.cout;
    const size_t M = (size_t)N * cb->h_out * cb->h_out;
    const float *p = m->params;
    float *g = m->grads;
    const float *save = s->bn_save + s->save[cb->id];
    FPT_TIMED(FPT_PROF_BN, 0.0,
          if (relu_y) fpt_bn_relu_backward(C, M, z, relu_y, p + cb->gamma, save, save + C, dy,
                                           tmp, g + cb->gamma, g + cb->beta);
          else fpt_bn_backward(C, M, z, p + cb->gamma, save, save + C, dy, tmp, g + cb->gamma,
                               g + cb->beta));
    FPT_TIMED(FPT_PROF_CONV_BWD, 2.0 * conv_flops(cb, N) * (dx ? 1.0 : 0.5),
          fpt_conv2d_backward_residual(&cb->s, N, cb->h_in, cb->h_in, x, p + cb->w, tmp, dx,
                                       dx_add, g + cb->w, &s->ws));
}

static size_t act_floats(const blas_state *s, int C, int h) {
    return (size_t)C * s->m->batch * h * h;
}

static void blas_add_relu(void *state, int C, int h, void *y, const void *x) {
    fpt_add_relu_inplace(act_floats(state, C, h), y, x);
}

static void blas_stage_norm(void *state, int C, int h, const void *xv, void *yv, float mean,
                            float sd) {
    const size_t n = act_floats(state, C, h);
    const float *x = xv;
    float *y = yv;
    #pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) y[i] = (x[i] - mean) / sd;
}

static void blas_stage_norm_backward(void *state, int C, int h, void *gv, float sd) {
    const size_t n = act_floats(state, C, h);
    float *g = gv;
    #pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) g[i] = g[i] / sd;
}

static void blas_pool_forward(void *state, int C, int h, const void *x, float *pooled) {
    fpt_avgpool_forward(C, ((blas_state *)state)->m->batch, h * h, x, pooled);
}

static void blas_pool_backward(void *state, int C, int h, const float *dpooled, void *dx) {
    fpt_avgpool_backward(C, ((blas_state *)state)->m->batch, h * h, dpooled, dx);
}

const fpt_net_ops fpt_blas_ops = {
    .backend = FPT_BACKEND_BLAS,
    .create = blas_create,
    .destroy = blas_destroy,
    .act_bytes = blas_act_bytes,
    .prepare = blas_prepare,
    .status = blas_status,
    .weights_changed = blas_weights_changed,
    .input = blas_input,
    .convbn_forward = blas_convbn_forward,
    .convbn_backward = blas_convbn_backward,
    .add_relu = blas_add_relu,
    .stage_norm = blas_stage_norm,
    .stage_norm_backward = blas_stage_norm_backward,
    .pool_forward = blas_pool_forward,
    .pool_backward = blas_pool_backward,
};
