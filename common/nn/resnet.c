// resnet.c — building, initialising, and running ResNet-18 forward and
// backward (see resnet.h for the architecture and memory layout).
#include "nn/resnet.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/backend/ops.h"
#include "base/memory.h"
#include "base/prof.h"
#include "base/rng.h"

// ---- layout ----------------------------------------------------------------

typedef struct layout {
    fpt_resnet *m;
    size_t bn_channels;  // running total of BN channels
} layout;

// Registers a tensor of PyTorch shape dims[0..ndim) (ndim 1, 2 or 4) and
// returns its offset.  fan_in and fan_out as torch.nn.init computes them:
// dims[1] resp. dims[0] times the receptive field (the product of dims[2..]).
static size_t add_tensor(fpt_resnet *m, const char *name, fpt_param_kind kind, int ndim,
                         const int *dims) {
    fpt_param_tensor *t = &m->tensors[m->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->kind = kind;
    t->offset = m->n_params;
    t->ndim = ndim;
    size_t size = 1;
    int field = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = dims[i];
        size *= (size_t)dims[i];
        if (i >= 2) field *= dims[i];
    }
    t->size = size;
    // 1-D tensors have no fan in torch.nn.init; the caller sets a bias's
    // fan_in to its weight's (the linear bias is drawn from U(+-1/sqrt(in))).
    t->fan_in = ndim >= 2 ? dims[1] * field : 1;
    t->fan_out = dims[0] * field;
    m->n_params += size;
    return t->offset;
}

// Registers conv `prefix.<conv>.weight` and BN `prefix.<bn>.weight/.bias`,
// in PyTorch's order.
static void add_convbn(layout *L, fpt_convbn *cb, const char *conv_name, const char *bn_name,
                       int cin, int cout, int k, int stride, int h_in, int relu) {
    fpt_resnet *m = L->m;
    char name[48];
    cb->s = (fpt_conv_shape){cin, cout, k, stride, k / 2};
    cb->h_in = h_in;
    cb->h_out = fpt_conv_out_size(h_in, k, stride, k / 2);
    cb->relu = relu;
    snprintf(name, sizeof name, "%s.weight", conv_name);
    cb->w = add_tensor(m, name, FPT_PARAM_CONV_W, 4, (const int[]){cout, cin, k, k});
    snprintf(name, sizeof name, "%s.weight", bn_name);
    cb->gamma = add_tensor(m, name, FPT_PARAM_BN_W, 1, (const int[]){cout});
    snprintf(name, sizeof name, "%s.bias", bn_name);
    cb->beta = add_tensor(m, name, FPT_PARAM_BN_B, 1, (const int[]){cout});
    cb->running = m->n_buffers;
    m->n_buffers += 2 * (size_t)cout;
    L->bn_channels += (size_t)cout;
    assert(m->n_layers < FPT_MAX_LAYERS);
    cb->id = m->n_layers++;
    m->layer[cb->id] = cb;
}

int fpt_resnet_create(fpt_resnet **out, const fpt_resnet_arch *arch, fpt_err *err) {
    *out = NULL;
    const int width = arch->width, num_classes = arch->num_classes, image_hw = arch->image_hw;
    if (width < 1 || width > FPT_RESNET_MAX_WIDTH)
        return fpt_fail(err, "model width %d out of range (expected 1..%d)", width,
                        FPT_RESNET_MAX_WIDTH);
    if (num_classes < 2 || num_classes > 100000)
        return fpt_fail(err, "num_classes %d out of range (expected 2..100000)", num_classes);
    if (arch->in_channels < 1 || arch->in_channels > 4)
        return fpt_fail(err, "%d input channels not supported (expected 1..4)",
                        arch->in_channels);
    if (image_hw < 4 || image_hw > 512)
        return fpt_fail(err, "image size %d not supported (expected 4..512 pixels)", image_hw);
    fpt_resnet *m = fpt_calloc(1, sizeof *m, "model", err);
    if (!m) return -1;
    m->width = width;
    m->num_classes = num_classes;
    m->image_hw = image_hw;
    m->in_channels = arch->in_channels;
    m->stage_norm = arch->stage_norm != 0;

    layout L = {m, 0};
    add_convbn(&L, &m->stem, "conv1", "bn1", m->in_channels, width, 3, 1, image_hw, 1);
    int cin = width, h = image_hw;
    for (int stage = 0; stage < 4; stage++) {
        int cout = width << stage;
        for (int b = 0; b < 2; b++) {
            fpt_block *bl = &m->blocks[stage * 2 + b];
            int stride = (stage > 0 && b == 0) ? 2 : 1;
            char c1[32], n1[32], c2[32], n2[32], cs[32], ns[32];
            snprintf(c1, sizeof c1, "layer%d.%d.conv1", stage + 1, b);
            snprintf(n1, sizeof n1, "layer%d.%d.bn1", stage + 1, b);
            snprintf(c2, sizeof c2, "layer%d.%d.conv2", stage + 1, b);
            snprintf(n2, sizeof n2, "layer%d.%d.bn2", stage + 1, b);
            snprintf(cs, sizeof cs, "layer%d.%d.shortcut.0", stage + 1, b);
            snprintf(ns, sizeof ns, "layer%d.%d.shortcut.1", stage + 1, b);
            bl->cin = cin;
            bl->cout = cout;
            bl->stride = stride;
            bl->h_in = h;
            bl->h_out = fpt_conv_out_size(h, 3, stride, 1);   // = the 1x1 shortcut's
            add_convbn(&L, &bl->c1, c1, n1, cin, cout, 3, stride, h, 1);
            add_convbn(&L, &bl->c2, c2, n2, cout, cout, 3, 1, bl->h_out, 0);
            bl->has_proj = (stride != 1 || cin != cout);
            if (bl->has_proj) add_convbn(&L, &bl->proj, cs, ns, cin, cout, 1, stride, h, 0);
            cin = cout;
            h = bl->h_out;
        }
    }
    m->fc_in = cin;
    m->fc_w = add_tensor(m, "fc.weight", FPT_PARAM_FC_W, 2, (const int[]){num_classes, cin});
    // The bias draws from U(-1/sqrt(fan_in of the weight), ..): its fan_in is the weight's.
    m->fc_b = add_tensor(m, "fc.bias", FPT_PARAM_FC_B, 1, (const int[]){num_classes});
    m->tensors[m->n_tensors - 1].fan_in = cin;
    m->n_bn_channels = L.bn_channels;
    if (m->stage_norm) {
        m->stage_buf = m->n_buffers;
        m->n_buffers += 8;
    }

    m->params = fpt_calloc(m->n_params, sizeof(float), "parameters", err);
    m->grads = m->params ? fpt_calloc(m->n_params, sizeof(float), "gradients", err) : NULL;
    m->buffers = m->grads ? fpt_calloc(m->n_buffers, sizeof(float), "BN statistics", err) : NULL;
    if (!m->buffers) {
        fpt_resnet_free(m);
        return -1;
    }
    m->backend = fpt_backend_resolve(arch->backend);
    m->precision = arch->precision;
    if (fpt_backend_check(m->backend, m->precision, err)) {
        fpt_resnet_free(m);
        return -1;
    }
    m->ops = fpt_backend_ops(m->backend);
    assert(m->ops);   // fpt_backend_check: built
    if (m->ops->create(m, m->precision, &m->be, err)) {   // m->be: NULL or partly made
        fpt_resnet_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

static void free_batch(fpt_resnet *m) {
    fpt_free(m->act_arena);
    m->act_arena = NULL;
    m->batch_cap = 0;
}

void fpt_resnet_free(fpt_resnet *m) {
    if (!m) return;
    free_batch(m);
    if (m->be) m->ops->destroy(m->be);
    fpt_free(m->params);
    fpt_free(m->grads);
    fpt_free(m->buffers);
    fpt_free(m);
}

// ---- initialisation ---------------------------------------------------------

void fpt_resnet_init_params(const fpt_resnet *m, uint64_t seed, uint32_t draw, float *params) {
    for (int t = 0; t < m->n_tensors; t++) {
        const fpt_param_tensor *pt = &m->tensors[t];
        float *p = params + pt->offset;
        uint32_t stream = draw * 256u + (uint32_t)t;
        float bound = 1.0f / sqrtf((float)pt->fan_in);
        switch (pt->kind) {
        case FPT_PARAM_CONV_W:
            // kaiming_normal_(mode="fan_out", nonlinearity="relu"): std = sqrt(2 / fan_out)
            fpt_rng_fill_normal(seed, FPT_RNG_INIT, stream, p, pt->size, 0.0f,
                                sqrtf(2.0f / (float)pt->fan_out));
            break;
        case FPT_PARAM_BN_W:
            for (size_t i = 0; i < pt->size; i++) p[i] = 1.0f;
            break;
        case FPT_PARAM_BN_B:
            memset(p, 0, sizeof(float) * pt->size);
            break;
        case FPT_PARAM_FC_W:  // kaiming_uniform_(a=sqrt(5)) reduces to U(-1/sqrt(fan_in), ..)
        case FPT_PARAM_FC_B:
            fpt_rng_fill_uniform(seed, FPT_RNG_INIT, stream, p, pt->size, -bound, bound);
            break;
        }
    }
}

static void for_each_bn(const fpt_resnet *m, void (*fn)(const fpt_convbn *, float *), float *b) {
    fn(&m->stem, b);
    for (int i = 0; i < 8; i++) {
        fn(&m->blocks[i].c1, b);
        fn(&m->blocks[i].c2, b);
        if (m->blocks[i].has_proj) fn(&m->blocks[i].proj, b);
    }
}

static void reset_running(const fpt_convbn *cb, float *buffers) {
    float *r = buffers + cb->running;
    int C = cb->s.cout;
    for (int c = 0; c < C; c++) {
        r[c] = 0.0f;       // running_mean
        r[C + c] = 1.0f;   // running_var
    }
}

void fpt_resnet_init_buffers(const fpt_resnet *m, float *buffers) {
    for_each_bn(m, reset_running, buffers);
    if (m->stage_norm)
        for (int j = 0; j < 4; j++) {
            buffers[m->stage_buf + 2 * j] = 0.0f;       // mean_j
            buffers[m->stage_buf + 2 * j + 1] = 1.0f;   // std_j
        }
}

// ---- per-batch memory -------------------------------------------------------

// Lays out every activation of a batch of N in one arena (or, with base ==
// NULL, just counts the bytes needed).  Activation sizes are the backend's
// (its layout and precision); the head's small tensors are fp32 plain.
static size_t place_activations(fpt_resnet *m, int N, char *base) {
    size_t used = 0;
    void *st = m->be;
    const fpt_net_ops *ops = m->ops;
#define TAKE(ptr, bytes)                                  \
    do {                                                  \
        if (base) (ptr) = (void *)(base + used);          \
        used += ((size_t)(bytes) + 63) & ~(size_t)63;     \
    } while (0)
    const int hw = m->image_hw;
    size_t largest = ops->act_bytes(st, m->in_channels, N, hw);
    TAKE(m->x, ops->act_bytes(st, m->in_channels, N, hw));
    TAKE(m->z0, ops->act_bytes(st, m->width, N, hw));
    TAKE(m->a0, ops->act_bytes(st, m->width, N, hw));
    for (int i = 0; i < 8; i++) {
        fpt_block *b = &m->blocks[i];
        size_t n = ops->act_bytes(st, b->cout, N, b->h_out);
        size_t nin = ops->act_bytes(st, b->cin, N, b->h_in);
        if (n > largest) largest = n;
        if (nin > largest) largest = nin;
        TAKE(b->z1, n);
        TAKE(b->a1, n);
        TAKE(b->z2, n);
        if (b->has_proj) TAKE(b->zs, n); else b->zs = NULL;
        TAKE(b->out, n);
        if (m->stage_norm && i % 2 == 1) TAKE(b->normed, n); else b->normed = NULL;
    }
    TAKE(m->pooled, sizeof(float) * N * m->fc_in);
    TAKE(m->dpooled, sizeof(float) * N * m->fc_in);
    TAKE(m->logits, sizeof(float) * N * m->num_classes);
    TAKE(m->dlogits, sizeof(float) * N * m->num_classes);
    for (int i = 0; i < 4; i++) TAKE(m->g[i], largest);
#undef TAKE
    return used;
}

static int ensure_batch(fpt_resnet *m, int N, fpt_err *err) {
    if (N < 1) return fpt_fail(err, "batch size %d must be at least 1", N);
    if (m->ops->prepare(m->be, N, err)) return -1;
    if (N <= m->batch_cap) {
        place_activations(m, N, m->act_arena);  // re-point for this N inside the arena
        m->batch = N;
        return 0;
    }
    free_batch(m);
    size_t bytes = place_activations(m, N, NULL);
    char what[64];
    snprintf(what, sizeof what, "activations for batch %d", N);
    m->act_arena = fpt_calloc(bytes, 1, what, err);
    if (!m->act_arena) return -1;
    place_activations(m, N, m->act_arena);
    m->batch_cap = m->batch = N;
    return 0;
}

// ---- stage normalisation (resnet.h) ---------------------------------------------

// After stage j (block b = 2j + 1): b->y = (b->out - mean_j) / std_j when
// (mean_j, std_j) != (0, 1), else b->out itself, exactly as the study's
// forward tests it.
static void stage_norm_forward(fpt_resnet *m, fpt_block *b, int j) {
    b->y = b->out;
    m->stage_active[j] = 0;
    if (!m->stage_norm) return;
    const float mean = m->buffers[m->stage_buf + 2 * j], sd = m->buffers[m->stage_buf + 2 * j + 1];
    if (mean == 0.0f && sd == 1.0f) return;
    m->stage_active[j] = 1;
    m->ops->stage_norm(m->be, b->cout, b->h_out, b->out, b->normed, mean, sd);
    b->y = b->normed;
}

// Backward of the same: g is the gradient at b->y; becomes the gradient at
// b->out (d/dx of (x - mean) / std is 1 / std; the buffers get none).
static void stage_norm_backward(const fpt_resnet *m, const fpt_block *b, int j, void *g) {
    if (!m->stage_active[j]) return;
    m->ops->stage_norm_backward(m->be, b->cout, b->h_out, g,
                                m->buffers[m->stage_buf + 2 * j + 1]);
}

// ---- forward and backward ------------------------------------------------------

int fpt_resnet_forward(fpt_resnet *m, const float *x, int N, int train, fpt_err *err) {
    if (ensure_batch(m, N, err) != 0) return -1;
    const fpt_net_ops *ops = m->ops;
    void *st = m->be;
    ops->weights_changed(st);
    FPT_TIMED(FPT_PROF_ELEMWISE, 0.0, ops->input(st, x, m->x));

    ops->convbn_forward(st, &m->stem, m->x, m->z0, m->a0, train);

    const void *cur = m->a0;
    for (int i = 0; i < 8; i++) {
        fpt_block *b = &m->blocks[i];
        ops->convbn_forward(st, &b->c1, cur, b->z1, b->a1, train);
        ops->convbn_forward(st, &b->c2, b->a1, b->z2, b->out, train);
        const void *shortcut = cur;
        if (b->has_proj) {
            ops->convbn_forward(st, &b->proj, cur, b->zs, m->g[0], train);
            shortcut = m->g[0];
        }
        FPT_TIMED(FPT_PROF_ELEMWISE, 0.0, ops->add_relu(st, b->cout, b->h_out, b->out, shortcut));
        b->y = b->out;
        if (i % 2 == 1) FPT_TIMED(FPT_PROF_ELEMWISE, 0.0, stage_norm_forward(m, b, i / 2));
        cur = b->y;
    }
    const fpt_block *last = &m->blocks[7];
    const float *p = m->params;
    FPT_TIMED(FPT_PROF_HEAD, 2.0 * N * m->fc_in * m->num_classes,
          ops->pool_forward(st, m->fc_in, last->h_out, cur, m->pooled);
          fpt_linear_forward(N, m->fc_in, m->num_classes, m->pooled, p + m->fc_w, p + m->fc_b,
                             m->logits));
    return ops->status(st, err);
}

double fpt_resnet_backward(fpt_resnet *m, const int32_t *labels, int *correct) {
    const int N = m->batch;
    const fpt_net_ops *ops = m->ops;
    void *st = m->be;
    const float *p = m->params;
    float *g = m->grads;
    void *P = m->g[0], *Q = m->g[1], *R = m->g[2], *S = m->g[3];
    const fpt_block *last = &m->blocks[7];
    double loss;

    FPT_TIMED(FPT_PROF_HEAD, 4.0 * N * m->fc_in * m->num_classes,
          loss = fpt_softmax_xent(N, m->num_classes, m->logits, labels, m->dlogits, correct);
          fpt_linear_backward(N, m->fc_in, m->num_classes, m->pooled, p + m->fc_w, m->dlogits,
                              m->dpooled, g + m->fc_w, g + m->fc_b);
          ops->pool_backward(st, m->fc_in, last->h_out, m->dpooled, P));

    // P holds the gradient at the current block's output.  Buffers: Q and R
    // for gradients inside the block, S for the gradient at the block input.
    for (int i = 7; i >= 0; i--) {
        const fpt_block *b = &m->blocks[i];
        const void *in = i > 0 ? m->blocks[i - 1].y : m->a0;
        if (i % 2 == 1)   // P: the gradient at the stage's normalised output -> at b->out
            FPT_TIMED(FPT_PROF_ELEMWISE, 0.0, stage_norm_backward(m, b, i / 2, P));
        // b->out = relu(bn2(z2) + shortcut): masking P in place gives the
        // gradient at the sum, which feeds both bn2 and the shortcut.
        ops->convbn_backward(st, &b->c2, b->a1, b->z2, b->out, P, Q, R, NULL);
        if (b->has_proj) {
            ops->convbn_backward(st, &b->c1, in, b->z1, b->a1, R, R, S, NULL);
            ops->convbn_backward(st, &b->proj, in, b->zs, NULL, P, Q, S, S);
        } else {
            ops->convbn_backward(st, &b->c1, in, b->z1, b->a1, R, R, S, P);
        }
        void *t = P; P = S; S = t;
    }
    ops->convbn_backward(st, &m->stem, m->x, m->z0, m->a0, P, P, NULL, NULL);
    return loss;
}

static double conv_flops(const fpt_conv_shape *s, int N, int h_out) {
    return 2.0 * s->cout * s->cin * s->k * s->k * (double)N * h_out * h_out;
}

double fpt_resnet_forward_flops(const fpt_resnet *m) {
    double f = conv_flops(&m->stem.s, 1, m->image_hw);
    for (int i = 0; i < 8; i++) {
        const fpt_block *b = &m->blocks[i];
        f += conv_flops(&b->c1.s, 1, b->h_out) + conv_flops(&b->c2.s, 1, b->h_out);
        if (b->has_proj) f += conv_flops(&b->proj.s, 1, b->h_out);
    }
    return f + 2.0 * m->fc_in * m->num_classes;
}
