// resnet.c — building, initialising, and running ResNet-18 forward and
// backward (see resnet.h for the architecture and memory layout).
#include "resnet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prof.h"
#include "rng.h"

// ---- layout ----------------------------------------------------------------

typedef struct layout {
    fpt_resnet *m;
    size_t bn_save;  // running total of BN channels (for save offsets)
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
                       int cin, int cout, int k, int stride) {
    fpt_resnet *m = L->m;
    char name[48];
    cb->s = (fpt_conv_shape){cin, cout, k, stride, k / 2};
    snprintf(name, sizeof name, "%s.weight", conv_name);
    cb->w = add_tensor(m, name, FPT_PARAM_CONV_W, 4, (const int[]){cout, cin, k, k});
    snprintf(name, sizeof name, "%s.weight", bn_name);
    cb->gamma = add_tensor(m, name, FPT_PARAM_BN_W, 1, (const int[]){cout});
    snprintf(name, sizeof name, "%s.bias", bn_name);
    cb->beta = add_tensor(m, name, FPT_PARAM_BN_B, 1, (const int[]){cout});
    cb->running = m->n_buffers;
    m->n_buffers += 2 * (size_t)cout;
    cb->save = 2 * L->bn_save;
    L->bn_save += (size_t)cout;
}

int fpt_resnet_create(fpt_resnet **out, const fpt_resnet_arch *arch, fpt_err *err) {
    *out = NULL;
    const int width = arch->width, num_classes = arch->num_classes, image_hw = arch->image_hw;
    if (width < 1 || width > 1024)
        return fpt_fail(err, "model width %d out of range (expected 1..1024)", width);
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
    add_convbn(&L, &m->stem, "conv1", "bn1", m->in_channels, width, 3, 1);
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
            add_convbn(&L, &bl->c1, c1, n1, cin, cout, 3, stride);
            add_convbn(&L, &bl->c2, c2, n2, cout, cout, 3, 1);
            bl->has_proj = (stride != 1 || cin != cout);
            if (bl->has_proj) add_convbn(&L, &bl->proj, cs, ns, cin, cout, 1, stride);
            cin = cout;
            h = bl->h_out;
        }
    }
    m->fc_in = cin;
    m->fc_w = add_tensor(m, "fc.weight", FPT_PARAM_FC_W, 2, (const int[]){num_classes, cin});
    // The bias draws from U(-1/sqrt(fan_in of the weight), ..): its fan_in is the weight's.
    m->fc_b = add_tensor(m, "fc.bias", FPT_PARAM_FC_B, 1, (const int[]){num_classes});
    m->tensors[m->n_tensors - 1].fan_in = cin;
    m->n_bn_channels = L.bn_save;
    if (m->stage_norm) {
        m->stage_buf = m->n_buffers;
        m->n_buffers += 8;
    }
    m->ws_floats = (size_t)4 << 20;   // 16 MiB per im2col buffer (larger chunks measured no faster)

    m->params = fpt_calloc(m->n_params, sizeof(float), "parameters", err);
    m->grads = m->params ? fpt_calloc(m->n_params, sizeof(float), "gradients", err) : NULL;
    m->buffers = m->grads ? fpt_calloc(m->n_buffers, sizeof(float), "BN statistics", err) : NULL;
    if (!m->buffers) {
        fpt_resnet_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

static void free_batch(fpt_resnet *m) {
    fpt_free(m->act_arena);
    fpt_free(m->ws.col);
    fpt_free(m->ws.dcol);
    m->act_arena = NULL;
    m->ws.col = m->ws.dcol = NULL;
    m->batch_cap = 0;
}

void fpt_resnet_free(fpt_resnet *m) {
    if (!m) return;
    free_batch(m);
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
// NULL, just counts the floats needed).
static size_t place_activations(fpt_resnet *m, int N, float *base) {
    size_t used = 0;
#define TAKE(ptr, n)                                  \
    do {                                              \
        if (base) (ptr) = base + used;                \
        used += ((size_t)(n) + 15) & ~(size_t)15;     \
    } while (0)
    const size_t hw = (size_t)m->image_hw * m->image_hw;
    size_t largest = (size_t)m->in_channels * N * hw;
    TAKE(m->x, (size_t)m->in_channels * N * hw);
    TAKE(m->z0, (size_t)m->width * N * hw);
    TAKE(m->a0, (size_t)m->width * N * hw);
    for (int i = 0; i < 8; i++) {
        fpt_block *b = &m->blocks[i];
        size_t n = (size_t)b->cout * N * b->h_out * b->h_out;
        size_t nin = (size_t)b->cin * N * b->h_in * b->h_in;
        if (n > largest) largest = n;
        if (nin > largest) largest = nin;
        TAKE(b->z1, n);
        TAKE(b->a1, n);
        TAKE(b->z2, n);
        if (b->has_proj) TAKE(b->zs, n); else b->zs = NULL;
        TAKE(b->out, n);
        if (m->stage_norm && i % 2 == 1) TAKE(b->normed, n); else b->normed = NULL;
    }
    TAKE(m->bn_save, 2 * m->n_bn_channels);
    TAKE(m->pooled, (size_t)N * m->fc_in);
    TAKE(m->dpooled, (size_t)N * m->fc_in);
    TAKE(m->logits, (size_t)N * m->num_classes);
    TAKE(m->dlogits, (size_t)N * m->num_classes);
    for (int i = 0; i < 4; i++) TAKE(m->g[i], largest);
#undef TAKE
    return used;
}

// Floats of one image's im2col matrix: (cin*k*k) x (h_out*h_out).
static size_t conv_cols_per_image(const fpt_conv_shape *s, int h_out) {
    return (size_t)s->cin * s->k * s->k * h_out * h_out;
}

static int ensure_batch(fpt_resnet *m, int N, fpt_err *err) {
    if (N < 1) return fpt_fail(err, "batch size %d must be at least 1", N);
    if (N <= m->batch_cap) {
        place_activations(m, N, m->act_arena);  // re-point for this N inside the arena
        m->batch = N;
        return 0;
    }
    free_batch(m);
    size_t floats = place_activations(m, N, NULL);
    char what[64];
    snprintf(what, sizeof what, "activations for batch %d", N);
    m->act_arena = fpt_calloc(floats, sizeof(float), what, err);
    if (!m->act_arena) return -1;
    place_activations(m, N, m->act_arena);
    // im2col workspace: the budget, but never less than one image of the
    // largest convolution (its cin*k*k rows x h_out^2 columns), and no more
    // than the whole batch of it.
    size_t one = conv_cols_per_image(&m->stem.s, m->image_hw);
    for (int i = 0; i < 8; i++) {
        const fpt_block *b = &m->blocks[i];
        size_t c1 = conv_cols_per_image(&b->c1.s, b->h_out);
        size_t c2 = conv_cols_per_image(&b->c2.s, b->h_out);
        size_t cp = b->has_proj ? conv_cols_per_image(&b->proj.s, b->h_out) : 0;
        if (c1 > one) one = c1;
        if (c2 > one) one = c2;
        if (cp > one) one = cp;
    }
    size_t cap = m->ws_floats > one ? m->ws_floats : one;
    size_t need = one * (size_t)N;
    if (cap > need) cap = need;
    m->ws.cap = cap;
    m->ws.col = fpt_calloc(cap, sizeof(float), "im2col workspace", err);
    m->ws.dcol = m->ws.col ? fpt_calloc(cap, sizeof(float), "im2col workspace", err) : NULL;
    if (!m->ws.dcol) {
        free_batch(m);
        return -1;
    }
    m->batch_cap = m->batch = N;
    return 0;
}

// ---- timed layer calls --------------------------------------------------------


static double conv_flops(const fpt_conv_shape *s, int N, int h_out) {
    return 2.0 * s->cout * s->cin * s->k * s->k * (double)N * h_out * h_out;
}

// conv -> BN (train or eval) [-> ReLU] from x (cin, N, h, h) into z (the
// conv output, kept for backward) and y.
static void convbn_forward(fpt_resnet *m, const fpt_convbn *cb, int h_in, const float *x,
                           float *z, float *y, int train, int relu) {
    const int N = m->batch, h_out = fpt_conv_out_size(h_in, cb->s.k, cb->s.stride, cb->s.pad);
    const int C = cb->s.cout;
    const size_t M = (size_t)N * h_out * h_out;
    const float *p = m->params, *gamma = p + cb->gamma, *beta = p + cb->beta;
    float *run = m->buffers + cb->running, *save = m->bn_save + cb->save;
    FPT_TIMED(FPT_PROF_CONV_FWD, conv_flops(&cb->s, N, h_out),
          fpt_conv2d_forward(&cb->s, N, h_in, h_in, x, p + cb->w, z, &m->ws));
    FPT_TIMED(FPT_PROF_BN, 0.0,
          if (train && relu) fpt_bn_relu_forward_train(C, M, z, gamma, beta, run, save, save + C, y);
          else if (train) fpt_bn_forward_train(C, M, z, gamma, beta, run, save, save + C, y);
          else if (relu) fpt_bn_relu_forward_eval(C, M, z, gamma, beta, run, y);
          else fpt_bn_forward_eval(C, M, z, gamma, beta, run, y));
}

// Backward through [ReLU ->] BN -> conv.  dy (cout, N, h_out, h_out) is the
// gradient at the output y; relu_out is y when a ReLU followed (NULL
// otherwise), in which case dy is masked in place; `tmp` receives the gradient at the conv output (may
// be dy itself); dx (may be NULL: the stem) the gradient at the conv input,
// plus dx_add when that is not NULL (the residual; may alias dx).
static void convbn_backward(fpt_resnet *m, const fpt_convbn *cb, int h_in, const float *x,
                            const float *z, const float *relu_out, float *dy, float *tmp,
                            float *dx, const float *dx_add) {
    const int N = m->batch, h_out = fpt_conv_out_size(h_in, cb->s.k, cb->s.stride, cb->s.pad);
    const int C = cb->s.cout;
    const size_t M = (size_t)N * h_out * h_out;
    const float *p = m->params;
    float *g = m->grads;
    const float *save = m->bn_save + cb->save;
    FPT_TIMED(FPT_PROF_BN, 0.0,
          if (relu_out) fpt_bn_relu_backward(C, M, z, relu_out, p + cb->gamma, save, save + C, dy,
                                             tmp, g + cb->gamma, g + cb->beta);
          else fpt_bn_backward(C, M, z, p + cb->gamma, save, save + C, dy, tmp, g + cb->gamma,
                               g + cb->beta));
    FPT_TIMED(FPT_PROF_CONV_BWD, 2.0 * conv_flops(&cb->s, N, h_out) * (dx ? 1.0 : 0.5),
          fpt_conv2d_backward_residual(&cb->s, N, h_in, h_in, x, p + cb->w, tmp, dx, dx_add,
                                       g + cb->w, &m->ws));
}

// ---- stage normalisation (resnet.h) ---------------------------------------------

// After stage j (block b = 2j + 1): b->y = (b->out - mean_j) / std_j when
// (mean_j, std_j) != (0, 1), else b->out itself, exactly as the study's
// forward tests it.  n = floats of the block's output.
static void stage_norm_forward(fpt_resnet *m, fpt_block *b, int j, size_t n) {
    b->y = b->out;
    m->stage_active[j] = 0;
    if (!m->stage_norm) return;
    const float mean = m->buffers[m->stage_buf + 2 * j], sd = m->buffers[m->stage_buf + 2 * j + 1];
    if (mean == 0.0f && sd == 1.0f) return;
    m->stage_active[j] = 1;
    float *y = b->normed;
    const float *x = b->out;
    #pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) y[i] = (x[i] - mean) / sd;
    b->y = y;
}

// Backward of the same: g (n) is the gradient at b->y; becomes the gradient
// at b->out (d/dx of (x - mean) / std is 1 / std; the buffers get none).
static void stage_norm_backward(const fpt_resnet *m, int j, size_t n, float *g) {
    if (!m->stage_active[j]) return;
    const float sd = m->buffers[m->stage_buf + 2 * j + 1];
    #pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) g[i] = g[i] / sd;
}

// ---- forward and backward ------------------------------------------------------

int fpt_resnet_forward(fpt_resnet *m, const float *x, int N, int train, fpt_err *err) {
    if (ensure_batch(m, N, err) != 0) return -1;
    const int hw = m->image_hw;
    FPT_TIMED(FPT_PROF_ELEMWISE, 0.0, fpt_nchw_to_cnhw(x, m->x, N, m->in_channels, hw * hw));

    convbn_forward(m, &m->stem, hw, m->x, m->z0, m->a0, train, 1);

    const float *cur = m->a0;
    for (int i = 0; i < 8; i++) {
        fpt_block *b = &m->blocks[i];
        const size_t n = (size_t)b->cout * N * b->h_out * b->h_out;
        convbn_forward(m, &b->c1, b->h_in, cur, b->z1, b->a1, train, 1);
        convbn_forward(m, &b->c2, b->h_out, b->a1, b->z2, b->out, train, 0);
        const float *shortcut = cur;
        if (b->has_proj) {
            convbn_forward(m, &b->proj, b->h_in, cur, b->zs, m->g[0], train, 0);
            shortcut = m->g[0];
        }
        FPT_TIMED(FPT_PROF_ELEMWISE, 0.0, fpt_add_relu_inplace(n, b->out, shortcut));
        b->y = b->out;
        if (i % 2 == 1) FPT_TIMED(FPT_PROF_ELEMWISE, 0.0, stage_norm_forward(m, b, i / 2, n));
        cur = b->y;
    }
    const fpt_block *last = &m->blocks[7];
    const int hw_last = last->h_out * last->h_out;
    const float *p = m->params;
    FPT_TIMED(FPT_PROF_HEAD, 2.0 * N * m->fc_in * m->num_classes,
          fpt_avgpool_forward(m->fc_in, N, hw_last, cur, m->pooled);
          fpt_linear_forward(N, m->fc_in, m->num_classes, m->pooled, p + m->fc_w, p + m->fc_b,
                             m->logits));
    return 0;
}

double fpt_resnet_backward(fpt_resnet *m, const int32_t *labels, int *correct) {
    const int N = m->batch;
    const float *p = m->params;
    float *g = m->grads;
    float *P = m->g[0], *Q = m->g[1], *R = m->g[2], *S = m->g[3];
    const fpt_block *last = &m->blocks[7];
    const int hw_last = last->h_out * last->h_out;
    double loss;

    FPT_TIMED(FPT_PROF_HEAD, 4.0 * N * m->fc_in * m->num_classes,
          loss = fpt_softmax_xent(N, m->num_classes, m->logits, labels, m->dlogits, correct);
          fpt_linear_backward(N, m->fc_in, m->num_classes, m->pooled, p + m->fc_w, m->dlogits,
                              m->dpooled, g + m->fc_w, g + m->fc_b);
          fpt_avgpool_backward(m->fc_in, N, hw_last, m->dpooled, P));

    // P holds the gradient at the current block's output.  Buffers: Q and R
    // for gradients inside the block, S for the gradient at the block input.
    for (int i = 7; i >= 0; i--) {
        const fpt_block *b = &m->blocks[i];
        const float *in = i > 0 ? m->blocks[i - 1].y : m->a0;
        if (i % 2 == 1)   // P: the gradient at the stage's normalised output -> at b->out
            FPT_TIMED(FPT_PROF_ELEMWISE, 0.0,
                      stage_norm_backward(m, i / 2, (size_t)b->cout * N * b->h_out * b->h_out, P));
        // b->out = relu(bn2(z2) + shortcut): masking P in place gives the
        // gradient at the sum, which feeds both bn2 and the shortcut.
        convbn_backward(m, &b->c2, b->h_out, b->a1, b->z2, b->out, P, Q, R, NULL);
        if (b->has_proj) {
            convbn_backward(m, &b->c1, b->h_in, in, b->z1, b->a1, R, R, S, NULL);
            convbn_backward(m, &b->proj, b->h_in, in, b->zs, NULL, P, Q, S, S);
        } else {
            convbn_backward(m, &b->c1, b->h_in, in, b->z1, b->a1, R, R, S, P);
        }
        float *t = P; P = S; S = t;
    }
    convbn_backward(m, &m->stem, m->image_hw, m->x, m->z0, m->a0, P, P, NULL, NULL);
    return loss;
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
