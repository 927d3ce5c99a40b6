// backend/onednn.c — the oneDNN backend (backend.h, backend/ops.h): every
// layer of the network as oneDNN primitives, fp32 or bf16 mixed precision,
// with activations in ONE layout for the whole network, the one oneDNN's
// convolutions choose (format_tag_any; nChw16c on AVX-512), so that no layer
// pays a reorder.  Only the input images (NCHW fp32 -> the stem's layout),
// the pooled features (-> plain (N, C) fp32 for the classifier) and the
// weights (PyTorch's OIHW fp32 in m->params -> the kernels' layout, once per
// step; their gradients back) are reordered.
//
// Plans.  A plan holds, for one batch size N, every primitive of the network
// (per conv+BN layer: convolution forward, backward-data and
// backward-weights, BN training, inference and backward; per activation
// shape: add+ReLU, ReLU backward, add, the stage normalisation; input,
// pooling).  Plans are cached by N (PLAN_SLOTS, least recently used out),
// the way llm.c's cuDNN path caches its graphs.  All primitives use a
// user-provided scratchpad: ONE buffer for the whole backend, sized to the
// largest need, since primitives run one after another.
//
// What lives outside plans (it does not depend on N, or only its size
// does): the weights in the kernels' layouts (per layer, forward and
// backward-data, re-reordered when m->params changed), the BN batch mean and
// variance of the last training forward, the BN+ReLU workspace (a bit mask),
// and one spare activation for residual gradients.
//
// Precision.  fp32: every tensor fp32.  bf16 (as PyTorch's CPU autocast):
// activations and their gradients bf16; convolution weights are reordered to
// bf16 from the fp32 master copy each step; weight gradients come out of
// backward-weights in fp32; BN scale, shift, mean and variance are fp32 (the
// statistics accumulated in fp32 by oneDNN); the pooled features go to the
// fp32 classifier and loss.
//
// Versions.  Written against the oneDNN 2.x C API (tested: 2.6.3, Debian
// 12's libdnnl-dev).  oneDNN 3.x creates primitive descriptors directly and
// makes memory descriptors opaque; the version-specific calls are the
// functions in the "shim" section below, and a 3.x build stops there with a
// clear error until they are ported (deploy/README.md).
#include <assert.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "nn/backend/ops.h"
#include "base/memory.h"
#include "base/prof.h"

#if DNNL_VERSION_MAJOR >= 3
#error "oneDNN 3.x is not supported yet by backend/onednn.c (its shim targets 2.x): build with DNN=none, or point DNN_CFLAGS/DNN_LIBS at oneDNN 2.x (deploy/README.md)"
#endif

#define PLAN_SLOTS 4   // batch sizes kept: training, its last batch, evaluation, its last batch

// ---- shim: every call whose form differs between oneDNN 2.x and 3.x --------

typedef dnnl_memory_desc_t md_t;   // 2.x: a value type

static dnnl_status_t md_init(md_t *md, int N, int C, int h, int w, dnnl_data_type_t dt,
                             dnnl_format_tag_t tag) {
    const dnnl_dims_t dims = {N, C, h, w};
    return dnnl_memory_desc_init_by_tag(md, 4, dims, dt, tag);
}

static md_t md_query(const_dnnl_primitive_desc_t pd, dnnl_query_t what) {
    const dnnl_memory_desc_t *q = dnnl_primitive_desc_query_md(pd, what, 0);
    md_t md;
    if (q) md = *q;
    else memset(&md, 0, sizeof md);
    return md;
}

static int md_equal(const md_t *a, const md_t *b) {
    return dnnl_memory_desc_equal(a, b);
}

static size_t md_bytes(const md_t *md) {
    return dnnl_memory_desc_get_size(md);
}

static dnnl_status_t pd_create(dnnl_primitive_desc_t *pd, const void *op_desc,
                               const_dnnl_primitive_attr_t attr, dnnl_engine_t eng,
                               const_dnnl_primitive_desc_t hint) {
    return dnnl_primitive_desc_create(pd, op_desc, attr, eng, hint);
}

static dnnl_status_t conv_fwd_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                                 const_dnnl_primitive_attr_t attr, const md_t *src,
                                 const md_t *w, const md_t *dst, const fpt_conv_shape *s) {
    dnnl_convolution_desc_t d;
    const dnnl_dims_t st = {s->stride, s->stride}, pad = {s->pad, s->pad};
    dnnl_status_t rc = dnnl_convolution_forward_desc_init(&d, dnnl_forward_training,
                                                          dnnl_convolution_direct, src, w, NULL,
                                                          dst, st, pad, pad);
    return rc != dnnl_success ? rc : pd_create(pd, &d, attr, eng, NULL);
}

static dnnl_status_t conv_bwd_data_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                                      const_dnnl_primitive_attr_t attr, const md_t *dsrc,
                                      const md_t *w, const md_t *ddst, const fpt_conv_shape *s,
                                      const_dnnl_primitive_desc_t hint) {
    dnnl_convolution_desc_t d;
    const dnnl_dims_t st = {s->stride, s->stride}, pad = {s->pad, s->pad};
    dnnl_status_t rc = dnnl_convolution_backward_data_desc_init(
        &d, dnnl_convolution_direct, dsrc, w, ddst, st, pad, pad);
    return rc != dnnl_success ? rc : pd_create(pd, &d, attr, eng, hint);
}

static dnnl_status_t conv_bwd_weights_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                                         const_dnnl_primitive_attr_t attr, const md_t *src,
                                         const md_t *dw, const md_t *ddst,
                                         const fpt_conv_shape *s,
                                         const_dnnl_primitive_desc_t hint) {
    dnnl_convolution_desc_t d;
    const dnnl_dims_t st = {s->stride, s->stride}, pad = {s->pad, s->pad};
    dnnl_status_t rc = dnnl_convolution_backward_weights_desc_init(
        &d, dnnl_convolution_direct, src, dw, NULL, ddst, st, pad, pad);
    return rc != dnnl_success ? rc : pd_create(pd, &d, attr, eng, hint);
}

static dnnl_status_t bn_fwd_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                               const_dnnl_primitive_attr_t attr, const md_t *data,
                               dnnl_prop_kind_t prop, unsigned flags) {
    dnnl_batch_normalization_desc_t d;
    dnnl_status_t rc = dnnl_batch_normalization_forward_desc_init(&d, prop, data,
                                                                  (float)FPT_BN_EPS, flags);
    return rc != dnnl_success ? rc : pd_create(pd, &d, attr, eng, NULL);
}

static dnnl_status_t bn_bwd_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                               const_dnnl_primitive_attr_t attr, const md_t *data,
                               unsigned flags, const_dnnl_primitive_desc_t hint) {
    dnnl_batch_normalization_desc_t d;
    dnnl_status_t rc = dnnl_batch_normalization_backward_desc_init(
        &d, dnnl_backward, data, data, (float)FPT_BN_EPS, flags);
    return rc != dnnl_success ? rc : pd_create(pd, &d, attr, eng, hint);
}

static dnnl_status_t binary_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                               const_dnnl_primitive_attr_t attr, dnnl_alg_kind_t alg,
                               const md_t *src0, const md_t *src1, const md_t *dst) {
    dnnl_binary_desc_t d;
    dnnl_status_t rc = dnnl_binary_desc_init(&d, alg, src0, src1, dst);
    return rc != dnnl_success ? rc : pd_create(pd, &d, attr, eng, NULL);
}

// ReLU backward from the forward's output (dst): diff_src = diff_dst * (dst > 0).
static dnnl_status_t relu_bwd_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                                 const_dnnl_primitive_attr_t attr, const md_t *data) {
    dnnl_eltwise_desc_t fd, bd;
    dnnl_primitive_desc_t hint = NULL;
    dnnl_status_t rc = dnnl_eltwise_forward_desc_init(&fd, dnnl_forward_training,
                                                      dnnl_eltwise_relu_use_dst_for_bwd, data,
                                                      0.0f, 0.0f);
    if (rc == dnnl_success) rc = pd_create(&hint, &fd, attr, eng, NULL);
    if (rc == dnnl_success)
        rc = dnnl_eltwise_backward_desc_init(&bd, dnnl_eltwise_relu_use_dst_for_bwd, data, data,
                                             0.0f, 0.0f);
    if (rc == dnnl_success) rc = pd_create(pd, &bd, attr, eng, hint);
    if (hint) dnnl_primitive_desc_destroy(hint);
    return rc;
}

// Global average pooling (kernel = the whole h x h plane), forward and backward.
static dnnl_status_t pool_pds(dnnl_primitive_desc_t *fwd, dnnl_primitive_desc_t *bwd,
                              dnnl_engine_t eng, const_dnnl_primitive_attr_t attr,
                              const md_t *src, const md_t *dst, int h) {
    dnnl_pooling_desc_t fd, bd;
    const dnnl_dims_t st = {h, h}, k = {h, h}, pad = {0, 0};
    dnnl_status_t rc = dnnl_pooling_forward_desc_init(&fd, dnnl_forward_training,
                                                      dnnl_pooling_avg_exclude_padding, src, dst,
                                                      st, k, pad, pad);
    if (rc == dnnl_success) rc = pd_create(fwd, &fd, attr, eng, NULL);
    if (rc == dnnl_success)
        rc = dnnl_pooling_backward_desc_init(&bd, dnnl_pooling_avg_exclude_padding, src, dst, st,
                                             k, pad, pad);
    if (rc == dnnl_success) rc = pd_create(bwd, &bd, attr, eng, *fwd);
    return rc;
}

static dnnl_status_t post_relu(dnnl_primitive_attr_t attr) {
    dnnl_post_ops_t po;
    dnnl_status_t rc = dnnl_post_ops_create(&po);
    if (rc != dnnl_success) return rc;
    rc = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
    if (rc == dnnl_success) rc = dnnl_primitive_attr_set_post_ops(attr, po);
    dnnl_post_ops_destroy(po);
    return rc;
}

// ---- state ----------------------------------------------------------------

typedef struct layer_plan {
    md_t src, dst;                  // activations at the conv input and output
    md_t wfwd, wbwd, dw;            // weights for forward and backward-data, their gradient
    dnnl_primitive_t conv_fwd, conv_bwd_data, conv_bwd_w, dw_reorder;  // bwd_data: NULL (stem)
    dnnl_primitive_t bn_train, bn_infer, bn_bwd;
    md_t ws;                        // BN+ReLU workspace (zero size without ReLU)
} layer_plan;

typedef struct shape_plan {         // per activation shape (C, h)
    int C, h;
    md_t md;
    dnnl_primitive_t add_relu, relu_bwd, add, sub, div;   // sub, div: by an fp32 scalar
} shape_plan;

typedef struct net_plan {
    int N;                          // 0: empty slot
    int threads;                    // OpenMP threads when made: scratchpads are booked for them
    unsigned long last_use;
    md_t in_user, in;               // input images: NCHW fp32 and the stem's layout
    dnnl_primitive_t in_reorder;
    layer_plan layer[FPT_MAX_LAYERS];
    shape_plan shape[FPT_MAX_LAYERS];
    int n_shapes;
    md_t pool_dst, pooled_f32;      // (N, C, 1, 1): the pooling's, plain fp32
    dnnl_primitive_t pool_fwd, pool_bwd, pool_to_f32, f32_to_pool;
} net_plan;

typedef struct weights_cache {      // one layer's weights in one kernel layout
    md_t md;
    void *buf;
    size_t cap;
    unsigned long version;          // of m->params it holds (0: none)
    dnnl_primitive_t reorder;       // OIHW fp32 -> md
} weights_cache;

typedef struct onednn_state {
    fpt_resnet *m;
    fpt_precision precision;
    dnnl_data_type_t dt;            // activations: f32 or bf16
    dnnl_format_tag_t tag;          // the activation layout chosen by the convolutions
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    dnnl_primitive_attr_t attr, attr_relu;   // user scratchpad (+ ReLU post-op)

    net_plan plan[PLAN_SLOTS];
    net_plan *cur;                  // the plan of the last prepare
    unsigned long clock;

    unsigned long params_version;   // bumped by weights_changed
    weights_cache wfwd[FPT_MAX_LAYERS], wbwd[FPT_MAX_LAYERS];
    float *bn_mean, *bn_var;        // (sum of cout) each: the last training forward's
    size_t bn_off[FPT_MAX_LAYERS];
    void *ws[FPT_MAX_LAYERS];       // BN+ReLU workspaces, ws_cap[i] bytes
    size_t ws_cap[FPT_MAX_LAYERS];
    void *scratchpad, *spare, *pool_tmp;
    size_t scratchpad_cap, spare_cap, pool_tmp_cap;
    float scalar[2];                // the stage normalisation's mean, sd

    dnnl_status_t failed;           // first failure inside an op (ops cannot return it)
    char failed_what[64];
} onednn_state;

#define CK(call, ...)                                                                      \
    do {                                                                                   \
        dnnl_status_t rc_ = (call);                                                        \
        if (rc_ != dnnl_success) {                                                         \
            char what_[160];                                                               \
            snprintf(what_, sizeof what_, __VA_ARGS__);                                    \
            return fpt_fail(err, "oneDNN: %s: %s", what_, dnnl_status2str(rc_));           \
        }                                                                                  \
    } while (0)

// ---- execution ----------------------------------------------------------------

typedef struct arg {
    int arg;
    const md_t *md;
    const void *ptr;
} arg;

// Executes p with the given arguments (and the shared scratchpad), waiting
// for it.  A failure here (after the plan was made) is recorded and reported
// by the next fpt_resnet_forward.
static void run(onednn_state *s, dnnl_primitive_t p, const char *what, int n, const arg *a) {
    dnnl_exec_arg_t ea[12];
    dnnl_memory_t mem[12];
    assert(n < 12);
    dnnl_status_t rc = dnnl_success;
    int made = 0;
    for (int i = 0; i < n && rc == dnnl_success; i++, made++) {
        rc = dnnl_memory_create(&mem[i], a[i].md, s->eng, (void *)a[i].ptr);
        ea[i] = (dnnl_exec_arg_t){a[i].arg, mem[i]};
    }
    if (rc != dnnl_success) made--;
    md_t sp;
    if (rc == dnnl_success) {
        const_dnnl_primitive_desc_t pd = NULL;
        rc = dnnl_primitive_get_primitive_desc(p, &pd);
        if (rc == dnnl_success) sp = md_query(pd, dnnl_query_scratchpad_md);
    }
    if (rc == dnnl_success) {
        rc = dnnl_memory_create(&mem[n], &sp, s->eng, s->scratchpad);
        if (rc == dnnl_success) {
            ea[n] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, mem[n]};
            made++;
        }
    }
    if (rc == dnnl_success) rc = dnnl_primitive_execute(p, s->stream, n + 1, ea);
    if (rc == dnnl_success) rc = dnnl_stream_wait(s->stream);
    for (int i = 0; i < made; i++) dnnl_memory_destroy(mem[i]);
    if (rc != dnnl_success && s->failed == dnnl_success) {
        s->failed = rc;
        snprintf(s->failed_what, sizeof s->failed_what, "%s", what);
    }
}

// ---- plans ----------------------------------------------------------------------

static void free_prim(dnnl_primitive_t *p) {
    if (*p) dnnl_primitive_destroy(*p);
    *p = NULL;
}

static void free_plan(net_plan *P) {
    free_prim(&P->in_reorder);
    for (int i = 0; i < FPT_MAX_LAYERS; i++) {
        layer_plan *L = &P->layer[i];
        free_prim(&L->conv_fwd);
        free_prim(&L->conv_bwd_data);
        free_prim(&L->conv_bwd_w);
        free_prim(&L->dw_reorder);
        free_prim(&L->bn_train);
        free_prim(&L->bn_infer);
        free_prim(&L->bn_bwd);
    }
    for (int i = 0; i < P->n_shapes; i++) {
        shape_plan *S = &P->shape[i];
        free_prim(&S->add_relu);
        free_prim(&S->relu_bwd);
        free_prim(&S->add);
        free_prim(&S->sub);
        free_prim(&S->div);
    }
    free_prim(&P->pool_fwd);
    free_prim(&P->pool_bwd);
    free_prim(&P->pool_to_f32);
    free_prim(&P->f32_to_pool);
    memset(P, 0, sizeof *P);
}

// Makes the primitive of pd (destroying pd) and grows the scratchpad budget.
static dnnl_status_t make(onednn_state *s, dnnl_primitive_t *p, dnnl_primitive_desc_t pd,
                          size_t *scratch) {
    md_t sp = md_query(pd, dnnl_query_scratchpad_md);
    if (md_bytes(&sp) > *scratch) *scratch = md_bytes(&sp);
    dnnl_status_t rc = dnnl_primitive_create(p, pd);
    dnnl_primitive_desc_destroy(pd);
    (void)s;
    return rc;
}

static dnnl_status_t reorder(onednn_state *s, dnnl_primitive_t *p, const md_t *from,
                             const md_t *to, size_t *scratch) {
    dnnl_primitive_desc_t pd;
    dnnl_status_t rc = dnnl_reorder_primitive_desc_create(&pd, from, s->eng, to, s->eng, s->attr);
    return rc != dnnl_success ? rc : make(s, p, pd, scratch);
}

// Grows *buf to at least `bytes` (contents lost), 64-byte aligned.
static int grow(void **buf, size_t *cap, size_t bytes, const char *what, fpt_err *err) {
    if (bytes <= *cap) return 0;
    fpt_free(*buf);
    *cap = 0;
    *buf = fpt_calloc(bytes, 1, what, err);
    if (!*buf) return -1;
    *cap = bytes;
    return 0;
}

static const md_t *shape_md(net_plan *P, int C, int h) {
    for (int i = 0; i < P->n_shapes; i++)
        if (P->shape[i].C == C && P->shape[i].h == h) return &P->shape[i].md;
    return NULL;
}

static shape_plan *find_shape(net_plan *P, int C, int h) {
    for (int i = 0; i < P->n_shapes; i++)
        if (P->shape[i].C == C && P->shape[i].h == h) return &P->shape[i];
    return NULL;
}

// The element-wise primitives of one activation shape.
static int plan_shape(onednn_state *s, net_plan *P, int C, int h, size_t *scratch, fpt_err *err) {
    if (find_shape(P, C, h)) return 0;
    assert(P->n_shapes < FPT_MAX_LAYERS);
    shape_plan *S = &P->shape[P->n_shapes++];
    S->C = C;
    S->h = h;
    CK(md_init(&S->md, P->N, C, h, h, s->dt, s->tag), "activation (%d, %d, %d, %d)", P->N, C, h, h);
    md_t scalar;
    CK(md_init(&scalar, 1, 1, 1, 1, dnnl_f32, dnnl_nchw), "scalar");
    dnnl_primitive_desc_t pd;
    CK(binary_pd(&pd, s->eng, s->attr_relu, dnnl_binary_add, &S->md, &S->md, &S->md),
       "add+ReLU (%d channels, %dx%d)", C, h, h);
    CK(make(s, &S->add_relu, pd, scratch), "add+ReLU");
    CK(binary_pd(&pd, s->eng, s->attr, dnnl_binary_add, &S->md, &S->md, &S->md),
       "add (%d channels, %dx%d)", C, h, h);
    CK(make(s, &S->add, pd, scratch), "add");
    CK(relu_bwd_pd(&pd, s->eng, s->attr, &S->md), "ReLU backward (%d channels)", C);
    CK(make(s, &S->relu_bwd, pd, scratch), "ReLU backward");
    CK(binary_pd(&pd, s->eng, s->attr, dnnl_binary_sub, &S->md, &scalar, &S->md),
       "stage normalisation (%d channels)", C);
    CK(make(s, &S->sub, pd, scratch), "subtract");
    CK(binary_pd(&pd, s->eng, s->attr, dnnl_binary_div, &S->md, &scalar, &S->md),
       "stage normalisation (%d channels)", C);
    CK(make(s, &S->div, pd, scratch), "divide");
    return 0;
}

static int plan_layer(onednn_state *s, net_plan *P, const fpt_convbn *cb, size_t *scratch,
                      fpt_err *err) {
    layer_plan *L = &P->layer[cb->id];
    const fpt_conv_shape *cs = &cb->s;
    const int is_stem = cb->id == 0;
    md_t w_any, dw_any, w_plain;
    const dnnl_dims_t wd = {cs->cout, cs->cin, cs->k, cs->k};
    CK(dnnl_memory_desc_init_by_tag(&w_any, 4, wd, s->dt, dnnl_format_tag_any), "weights");
    CK(dnnl_memory_desc_init_by_tag(&dw_any, 4, wd, dnnl_f32, dnnl_format_tag_any), "weights");
    CK(dnnl_memory_desc_init_by_tag(&w_plain, 4, wd, dnnl_f32, dnnl_oihw), "weights");
    L->dst = *shape_md(P, cs->cout, cb->h_out);
    if (is_stem) {
        md_t any;
        CK(md_init(&any, P->N, cs->cin, cb->h_in, cb->h_in, s->dt, dnnl_format_tag_any), "input");
        L->src = any;
    } else {
        L->src = *shape_md(P, cs->cin, cb->h_in);
    }
    dnnl_primitive_desc_t fwd, pd;
    CK(conv_fwd_pd(&fwd, s->eng, s->attr, &L->src, &w_any, &L->dst, cs),
       "convolution %d forward", cb->id);
    if (is_stem) P->in = L->src = md_query(fwd, dnnl_query_src_md);
    L->wfwd = md_query(fwd, dnnl_query_weights_md);
    if (!is_stem) {
        CK(conv_bwd_data_pd(&pd, s->eng, s->attr, &L->src, &w_any, &L->dst, cs, fwd),
           "convolution %d backward-data", cb->id);
        L->wbwd = md_query(pd, dnnl_query_weights_md);
        CK(make(s, &L->conv_bwd_data, pd, scratch), "convolution backward-data");
    }
    CK(conv_bwd_weights_pd(&pd, s->eng, s->attr, &L->src, &dw_any, &L->dst, cs, fwd),
       "convolution %d backward-weights", cb->id);
    L->dw = md_query(pd, dnnl_query_diff_weights_md);
    CK(make(s, &L->conv_bwd_w, pd, scratch), "convolution backward-weights");
    if (!md_equal(&L->dw, &w_plain))
        CK(reorder(s, &L->dw_reorder, &L->dw, &w_plain, scratch), "weight-gradient reorder");
    CK(make(s, &L->conv_fwd, fwd, scratch), "convolution forward");

    const unsigned flags = dnnl_use_scale | dnnl_use_shift | (cb->relu ? dnnl_fuse_norm_relu : 0u);
    dnnl_primitive_desc_t bn;
    CK(bn_fwd_pd(&bn, s->eng, s->attr, &L->dst, dnnl_forward_training, flags),
       "BatchNorm %d training", cb->id);
    L->ws = md_query(bn, dnnl_query_workspace_md);
    CK(bn_bwd_pd(&pd, s->eng, s->attr, &L->dst, flags, bn), "BatchNorm %d backward", cb->id);
    CK(make(s, &L->bn_bwd, pd, scratch), "BatchNorm backward");
    CK(make(s, &L->bn_train, bn, scratch), "BatchNorm training");
    CK(bn_fwd_pd(&pd, s->eng, s->attr, &L->dst, dnnl_forward_inference,
                 flags | dnnl_use_global_stats), "BatchNorm %d inference", cb->id);
    CK(make(s, &L->bn_infer, pd, scratch), "BatchNorm inference");
    return 0;
}

static int make_plan(onednn_state *s, net_plan *P, int N, size_t *scratch, fpt_err *err) {
    fpt_resnet *m = s->m;
    P->N = N;
    for (int i = 0; i < m->n_layers; i++) {
        const fpt_convbn *cb = m->layer[i];
        if (plan_shape(s, P, cb->s.cout, cb->h_out, scratch, err)) return -1;
        if (i > 0 && plan_shape(s, P, cb->s.cin, cb->h_in, scratch, err)) return -1;
    }
    for (int i = 0; i < m->n_layers; i++)
        if (plan_layer(s, P, m->layer[i], scratch, err)) return -1;
    CK(md_init(&P->in_user, N, m->in_channels, m->image_hw, m->image_hw, dnnl_f32, dnnl_nchw),
       "input images");
    CK(reorder(s, &P->in_reorder, &P->in_user, &P->in, scratch), "input reorder");

    const int C = m->fc_in, h = m->blocks[7].h_out;
    dnnl_primitive_desc_t fwd, bwd;
    CK(md_init(&P->pooled_f32, N, C, 1, 1, dnnl_f32, dnnl_nchw), "pooled features");
    // The pooling's output in the activations' layout: with a plain one,
    // oneDNN 2.6 falls back to its reference kernel (~45 ms a step at width
    // 64, batch 128); then a reorder to the classifier's plain fp32.
    CK(md_init(&P->pool_dst, N, C, 1, 1, s->dt, s->tag), "pooled features");
    CK(pool_pds(&fwd, &bwd, s->eng, s->attr, shape_md(P, C, h), &P->pool_dst, h),
       "global average pooling");
    CK(make(s, &P->pool_bwd, bwd, scratch), "pooling backward");
    CK(make(s, &P->pool_fwd, fwd, scratch), "pooling forward");
    CK(reorder(s, &P->pool_to_f32, &P->pool_dst, &P->pooled_f32, scratch), "pooled reorder");
    CK(reorder(s, &P->f32_to_pool, &P->pooled_f32, &P->pool_dst, scratch), "pooled reorder");
    return 0;
}

// ---- ops --------------------------------------------------------------------------

static int on_status(void *state, fpt_err *err);

static int on_create(fpt_resnet *m, fpt_precision p, void **out, fpt_err *err) {
    onednn_state *s = fpt_calloc(1, sizeof *s, "oneDNN backend", err);
    if (!s) return -1;
    *out = s;   // destroyed by the caller on failure
    s->m = m;
    s->precision = p;
    s->dt = p == FPT_PRECISION_BF16 ? dnnl_bf16 : dnnl_f32;
    s->params_version = 1;
    CK(dnnl_engine_create(&s->eng, dnnl_cpu, 0), "CPU engine");
    CK(dnnl_stream_create(&s->stream, s->eng, dnnl_stream_default_flags), "stream");
    CK(dnnl_primitive_attr_create(&s->attr), "attributes");
    CK(dnnl_primitive_attr_set_scratchpad_mode(s->attr, dnnl_scratchpad_mode_user), "scratchpad");
    CK(dnnl_primitive_attr_create(&s->attr_relu), "attributes");
    CK(dnnl_primitive_attr_set_scratchpad_mode(s->attr_relu, dnnl_scratchpad_mode_user),
       "scratchpad");
    CK(post_relu(s->attr_relu), "ReLU post-op");

    size_t off = 0;
    for (int i = 0; i < m->n_layers; i++) {
        s->bn_off[i] = off;
        off += (size_t)m->layer[i]->s.cout;
    }
    s->bn_mean = fpt_calloc(off, sizeof(float), "BN batch means", err);
    s->bn_var = s->bn_mean ? fpt_calloc(off, sizeof(float), "BN batch variances", err) : NULL;
    if (!s->bn_var) return -1;

    // The activation layout: what a convolution of the first stage chooses
    // for its output, asked with format_tag_any; then imposed on all.
    const fpt_convbn *probe = &m->blocks[0].c1;
    const int N = 32, C = probe->s.cout, h = probe->h_out;
    md_t any_in, any_out, w_any, chosen, cand;
    const dnnl_dims_t wd = {C, probe->s.cin, 3, 3};
    CK(md_init(&any_in, N, probe->s.cin, probe->h_in, probe->h_in, s->dt, dnnl_format_tag_any),
       "probe");
    CK(md_init(&any_out, N, C, h, h, s->dt, dnnl_format_tag_any), "probe");
    CK(dnnl_memory_desc_init_by_tag(&w_any, 4, wd, s->dt, dnnl_format_tag_any), "probe");
    dnnl_primitive_desc_t pd;
    CK(conv_fwd_pd(&pd, s->eng, s->attr, &any_in, &w_any, &any_out, &probe->s),
       "a %s convolution", fpt_precision_name(p));
    chosen = md_query(pd, dnnl_query_dst_md);
    dnnl_primitive_desc_destroy(pd);
    // Blocked layouts whose block does not divide every channel count (small
    // test widths: 8 channels in nChw16c) would need padding, which wastes
    // work and which oneDNN 2.6.3's binary add with a ReLU post-op computes
    // wrongly in place (tested: wrong sums for 8 channels in nChw16c, right
    // for 16): then channels-last, which never pads.
    static const struct { dnnl_format_tag_t tag; int block; } tags[] = {
        {dnnl_nChw16c, 16}, {dnnl_nChw8c, 8}, {dnnl_nChw4c, 4}, {dnnl_nhwc, 1}, {dnnl_nchw, 1}};
    s->tag = dnnl_nhwc;
    for (size_t i = 0; i < sizeof tags / sizeof *tags; i++) {
        CK(md_init(&cand, N, C, h, h, s->dt, tags[i].tag), "probe");
        if (md_equal(&cand, &chosen)) {
            if (m->width % tags[i].block == 0) s->tag = tags[i].tag;
            break;
        }
    }
    return 0;
}

static void on_destroy(void *state) {
    onednn_state *s = state;
    for (int i = 0; i < PLAN_SLOTS; i++) free_plan(&s->plan[i]);
    for (int i = 0; i < FPT_MAX_LAYERS; i++) {
        free_prim(&s->wfwd[i].reorder);
        free_prim(&s->wbwd[i].reorder);
        fpt_free(s->wfwd[i].buf);
        fpt_free(s->wbwd[i].buf);
        fpt_free(s->ws[i]);
    }
    fpt_free(s->bn_mean);
    fpt_free(s->bn_var);
    fpt_free(s->scratchpad);
    fpt_free(s->spare);
    fpt_free(s->pool_tmp);
    if (s->attr) dnnl_primitive_attr_destroy(s->attr);
    if (s->attr_relu) dnnl_primitive_attr_destroy(s->attr_relu);
    if (s->stream) dnnl_stream_destroy(s->stream);
    if (s->eng) dnnl_engine_destroy(s->eng);
    fpt_free(s);
}

static size_t on_act_bytes(void *state, int C, int N, int h) {
    onednn_state *s = state;
    md_t md;
    if (md_init(&md, N, C, h, h, s->dt, s->tag) != dnnl_success) return 0;
    return (md_bytes(&md) + 63) & ~(size_t)63;
}

static md_t plain_weights(const fpt_convbn *cb) {
    md_t md;
    const dnnl_dims_t wd = {cb->s.cout, cb->s.cin, cb->s.k, cb->s.k};
    dnnl_memory_desc_init_by_tag(&md, 4, wd, dnnl_f32, dnnl_oihw);
    return md;
}

// Makes the layer's weight cache hold layout `md`, with its reorder from
// OIHW fp32 (reallocating if larger; the contents are then stale).
static int weights_layout(onednn_state *s, weights_cache *w, const fpt_convbn *cb, const md_t *md,
                          size_t *scratch, fpt_err *err) {
    if (w->buf && md_equal(&w->md, md)) return 0;
    free_prim(&w->reorder);
    w->version = 0;
    if (grow(&w->buf, &w->cap, md_bytes(md), "convolution weights", err)) return -1;
    w->md = *md;
    const md_t plain = plain_weights(cb);
    CK(reorder(s, &w->reorder, &plain, &w->md, scratch), "weights reorder (layer %d)", cb->id);
    return 0;
}

static int on_prepare(void *state, int N, fpt_err *err) {
    onednn_state *s = state;
    if (on_status(s, err)) return -1;
    // A plan made for another thread count is remade: oneDNN books each
    // primitive's scratchpad for the threads there were at its creation.
#ifdef _OPENMP
    const int threads = omp_get_max_threads();
#else
    const int threads = 1;   // the fuzzing build: no OpenMP of ours
#endif
    net_plan *P = NULL, *victim = &s->plan[0];
    for (int i = 0; i < PLAN_SLOTS; i++) {
        if (s->plan[i].N == N && s->plan[i].threads == threads) P = &s->plan[i];
        else if (s->plan[i].N == N) free_plan(&s->plan[i]);
        if (s->plan[i].last_use < victim->last_use) victim = &s->plan[i];
    }
    fpt_resnet *m = s->m;
    size_t scratch = 0;
    if (!P) {
        free_plan(victim);
        P = victim;
        if (make_plan(s, P, N, &scratch, err)) {
            free_plan(P);
            return fpt_err_prefix(err, "plans for batch %d: ", N);
        }
        P->threads = threads;
        // The spare activation also holds a weight gradient before its reorder.
        size_t spare = 0;
        for (int i = 0; i < P->n_shapes; i++)
            if (md_bytes(&P->shape[i].md) > spare) spare = md_bytes(&P->shape[i].md);
        for (int i = 0; i < m->n_layers; i++)
            if (md_bytes(&P->layer[i].dw) > spare) spare = md_bytes(&P->layer[i].dw);
        if (grow(&s->spare, &s->spare_cap, spare, "gradient scratch", err) ||
            grow(&s->pool_tmp, &s->pool_tmp_cap, md_bytes(&P->pool_dst), "pooled features", err))
            return -1;
        for (int i = 0; i < m->n_layers; i++)
            if (grow(&s->ws[i], &s->ws_cap[i], md_bytes(&P->layer[i].ws), "BN+ReLU workspace", err))
                return -1;
    }
    // The weights' layouts could depend on N: (re)bind the caches.
    for (int i = 0; i < m->n_layers; i++) {
        layer_plan *L = &P->layer[i];
        if (weights_layout(s, &s->wfwd[i], m->layer[i], &L->wfwd, &scratch, err)) return -1;
        if (L->conv_bwd_data &&
            weights_layout(s, &s->wbwd[i], m->layer[i], &L->wbwd, &scratch, err))
            return -1;
    }
    if (grow(&s->scratchpad, &s->scratchpad_cap, scratch, "oneDNN scratchpad", err)) return -1;
    // The model sized its input buffer with act_bytes; the stem's choice must fit.
    if (md_bytes(&P->in) > on_act_bytes(s, m->in_channels, N, m->image_hw))
        return fpt_fail(err, "oneDNN: the first convolution's input layout needs %zu bytes, "
                             "more than the %zu of the network's layout",
                        md_bytes(&P->in), on_act_bytes(s, m->in_channels, N, m->image_hw));
    P->last_use = ++s->clock;
    s->cur = P;
    return 0;
}

static void on_weights_changed(void *state) {
    ((onednn_state *)state)->params_version++;
}

// The layer's weights in layout w->md, reordered from m->params if stale.
static const void *weights(onednn_state *s, weights_cache *w, const fpt_convbn *cb) {
    if (w->version != s->params_version) {
        const md_t plain = plain_weights(cb);
        run(s, w->reorder, "weights reorder", 2,
            (arg[]){{DNNL_ARG_FROM, &plain, s->m->params + cb->w}, {DNNL_ARG_TO, &w->md, w->buf}});
        w->version = s->params_version;
    }
    return w->buf;
}

static int on_status(void *state, fpt_err *err) {
    onednn_state *s = state;
    if (s->failed == dnnl_success) return 0;
    return fpt_fail(err, "oneDNN: %s failed: %s", s->failed_what, dnnl_status2str(s->failed));
}

static void on_input(void *state, const float *x, void *dst) {
    onednn_state *s = state;
    net_plan *P = s->cur;
    run(s, P->in_reorder, "input reorder", 2,
        (arg[]){{DNNL_ARG_FROM, &P->in_user, x}, {DNNL_ARG_TO, &P->in, dst}});
}

static double conv_flops(const fpt_convbn *cb, int N) {
    return 2.0 * cb->s.cout * cb->s.cin * cb->s.k * cb->s.k * (double)N * cb->h_out * cb->h_out;
}

static void on_convbn_forward(void *state, const fpt_convbn *cb, const void *x, void *z, void *y,
                              int train) {
    onednn_state *s = state;
    net_plan *P = s->cur;
    layer_plan *L = &P->layer[cb->id];
    fpt_resnet *m = s->m;
    const int C = cb->s.cout;
    const float *p = m->params;
    float *run_stats = m->buffers + cb->running;
    float *mean = s->bn_mean + s->bn_off[cb->id], *var = s->bn_var + s->bn_off[cb->id];
    md_t cvec;
    const dnnl_dims_t cd = {C};
    dnnl_memory_desc_init_by_tag(&cvec, 1, cd, dnnl_f32, dnnl_a);
    FPT_TIMED(FPT_PROF_CONV_FWD, conv_flops(cb, P->N),
        const void *w = weights(s, &s->wfwd[cb->id], cb);
        run(s, L->conv_fwd, "convolution forward", 3,
            (arg[]){{DNNL_ARG_SRC, &L->src, x}, {DNNL_ARG_WEIGHTS, &s->wfwd[cb->id].md, w},
                    {DNNL_ARG_DST, &L->dst, z}}));
    FPT_TIMED(FPT_PROF_BN, 0.0,
        if (train) {
            run(s, L->bn_train, "BatchNorm forward", 7,
                (arg[]){{DNNL_ARG_SRC, &L->dst, z}, {DNNL_ARG_DST, &L->dst, y},
                        {DNNL_ARG_SCALE, &cvec, p + cb->gamma},
                        {DNNL_ARG_SHIFT, &cvec, p + cb->beta}, {DNNL_ARG_MEAN, &cvec, mean},
                        {DNNL_ARG_VARIANCE, &cvec, var},
                        {DNNL_ARG_WORKSPACE, &L->ws, s->ws[cb->id]}});
            // PyTorch's running statistics: momentum 0.1, the unbiased variance.
            const size_t M = (size_t)P->N * cb->h_out * cb->h_out;
            const double unb = M > 1 ? (double)M / (double)(M - 1) : 1.0;
            for (int c = 0; c < C; c++) {
                run_stats[c] = (float)((1.0 - FPT_BN_MOMENTUM) * run_stats[c] +
                                       FPT_BN_MOMENTUM * mean[c]);
                run_stats[C + c] = (float)((1.0 - FPT_BN_MOMENTUM) * run_stats[C + c] +
                                           FPT_BN_MOMENTUM * var[c] * unb);
            }
        } else {
            run(s, L->bn_infer, "BatchNorm inference", 6,
                (arg[]){{DNNL_ARG_SRC, &L->dst, z}, {DNNL_ARG_DST, &L->dst, y},
                        {DNNL_ARG_SCALE, &cvec, p + cb->gamma},
                        {DNNL_ARG_SHIFT, &cvec, p + cb->beta},
                        {DNNL_ARG_MEAN, &cvec, run_stats}, {DNNL_ARG_VARIANCE, &cvec, run_stats + C}});
        });
}

static void on_convbn_backward(void *state, const fpt_convbn *cb, const void *x, const void *z,
                               const void *relu_y, void *dy, void *tmp, void *dx,
                               const void *dx_add) {
    onednn_state *s = state;
    net_plan *P = s->cur;
    layer_plan *L = &P->layer[cb->id];
    fpt_resnet *m = s->m;
    const int C = cb->s.cout;
    const float *p = m->params;
    float *g = m->grads;
    const float *mean = s->bn_mean + s->bn_off[cb->id], *var = s->bn_var + s->bn_off[cb->id];
    md_t cvec;
    const dnnl_dims_t cd = {C};
    dnnl_memory_desc_init_by_tag(&cvec, 1, cd, dnnl_f32, dnnl_a);
    FPT_TIMED(FPT_PROF_BN, 0.0,
        if (relu_y && !cb->relu) {   // the block's add+ReLU: mask dy in place
            shape_plan *S = find_shape(P, C, cb->h_out);
            run(s, S->relu_bwd, "ReLU backward", 3,
                (arg[]){{DNNL_ARG_DST, &S->md, relu_y}, {DNNL_ARG_DIFF_DST, &S->md, dy},
                        {DNNL_ARG_DIFF_SRC, &S->md, dy}});
        }
        assert(!cb->relu || (relu_y && tmp == dy));   // the ReLU fused in BN: its workspace
        run(s, L->bn_bwd, "BatchNorm backward", 10,
            (arg[]){{DNNL_ARG_SRC, &L->dst, z}, {DNNL_ARG_DIFF_DST, &L->dst, dy},
                    {DNNL_ARG_DIFF_SRC, &L->dst, tmp}, {DNNL_ARG_SCALE, &cvec, p + cb->gamma},
                    {DNNL_ARG_SHIFT, &cvec, p + cb->beta}, {DNNL_ARG_MEAN, &cvec, mean},
                    {DNNL_ARG_VARIANCE, &cvec, var}, {DNNL_ARG_WORKSPACE, &L->ws, s->ws[cb->id]},
                    {DNNL_ARG_DIFF_SCALE, &cvec, g + cb->gamma},
                    {DNNL_ARG_DIFF_SHIFT, &cvec, g + cb->beta}}));
    FPT_TIMED(FPT_PROF_CONV_BWD, 2.0 * conv_flops(cb, P->N) * (dx ? 1.0 : 0.5),
        // Weight gradient: straight into m->grads when the layout is OIHW.
        void *dw = L->dw_reorder ? s->spare : (void *)(g + cb->w);
        const md_t plain = plain_weights(cb);
        run(s, L->conv_bwd_w, "convolution backward-weights", 3,
            (arg[]){{DNNL_ARG_SRC, &L->src, x}, {DNNL_ARG_DIFF_DST, &L->dst, tmp},
                    {DNNL_ARG_DIFF_WEIGHTS, &L->dw, dw}});
        if (L->dw_reorder)
            run(s, L->dw_reorder, "weight-gradient reorder", 2,
                (arg[]){{DNNL_ARG_FROM, &L->dw, dw}, {DNNL_ARG_TO, &plain, g + cb->w}});
        if (dx) {
            // A residual: the convolution's part into dx (or into the spare
            // activation when dx_add is dx itself), then dx += the other.
            shape_plan *S = find_shape(P, cb->s.cin, cb->h_in);
            void *into = dx_add == dx ? s->spare : dx;
            const void *w = weights(s, &s->wbwd[cb->id], cb);
            run(s, L->conv_bwd_data, "convolution backward-data", 3,
                (arg[]){{DNNL_ARG_DIFF_DST, &L->dst, tmp},
                        {DNNL_ARG_WEIGHTS, &s->wbwd[cb->id].md, w},
                        {DNNL_ARG_DIFF_SRC, &L->src, into}});
            if (dx_add)
                run(s, S->add, "add", 3,
                    (arg[]){{DNNL_ARG_SRC_0, &S->md, dx},
                            {DNNL_ARG_SRC_1, &S->md, dx_add == dx ? s->spare : dx_add},
                            {DNNL_ARG_DST, &S->md, dx}});
        });
}

static void on_add_relu(void *state, int C, int h, void *y, const void *x) {
    onednn_state *s = state;
    shape_plan *S = find_shape(s->cur, C, h);
    run(s, S->add_relu, "add+ReLU", 3,
        (arg[]){{DNNL_ARG_SRC_0, &S->md, y}, {DNNL_ARG_SRC_1, &S->md, x},
                {DNNL_ARG_DST, &S->md, y}});
}

static void on_stage_norm(void *state, int C, int h, const void *x, void *y, float mean,
                          float sd) {
    onednn_state *s = state;
    shape_plan *S = find_shape(s->cur, C, h);
    md_t scalar;
    md_init(&scalar, 1, 1, 1, 1, dnnl_f32, dnnl_nchw);
    s->scalar[0] = mean;
    s->scalar[1] = sd;
    run(s, S->sub, "stage normalisation", 3,
        (arg[]){{DNNL_ARG_SRC_0, &S->md, x}, {DNNL_ARG_SRC_1, &scalar, &s->scalar[0]},
                {DNNL_ARG_DST, &S->md, y}});
    run(s, S->div, "stage normalisation", 3,
        (arg[]){{DNNL_ARG_SRC_0, &S->md, y}, {DNNL_ARG_SRC_1, &scalar, &s->scalar[1]},
                {DNNL_ARG_DST, &S->md, y}});
}

static void on_stage_norm_backward(void *state, int C, int h, void *gr, float sd) {
    onednn_state *s = state;
    shape_plan *S = find_shape(s->cur, C, h);
    md_t scalar;
    md_init(&scalar, 1, 1, 1, 1, dnnl_f32, dnnl_nchw);
    s->scalar[1] = sd;
    run(s, S->div, "stage normalisation backward", 3,
        (arg[]){{DNNL_ARG_SRC_0, &S->md, gr}, {DNNL_ARG_SRC_1, &scalar, &s->scalar[1]},
                {DNNL_ARG_DST, &S->md, gr}});
}

static void on_pool_forward(void *state, int C, int h, const void *x, float *pooled) {
    onednn_state *s = state;
    net_plan *P = s->cur;
    const md_t *src = shape_md(P, C, h);
    run(s, P->pool_fwd, "pooling", 2,
        (arg[]){{DNNL_ARG_SRC, src, x}, {DNNL_ARG_DST, &P->pool_dst, s->pool_tmp}});
    run(s, P->pool_to_f32, "pooled reorder", 2,
        (arg[]){{DNNL_ARG_FROM, &P->pool_dst, s->pool_tmp}, {DNNL_ARG_TO, &P->pooled_f32, pooled}});
}

static void on_pool_backward(void *state, int C, int h, const float *dpooled, void *dx) {
    onednn_state *s = state;
    net_plan *P = s->cur;
    const md_t *src = shape_md(P, C, h);
    run(s, P->f32_to_pool, "pooled reorder", 2,
        (arg[]){{DNNL_ARG_FROM, &P->pooled_f32, dpooled}, {DNNL_ARG_TO, &P->pool_dst, s->pool_tmp}});
    run(s, P->pool_bwd, "pooling backward", 2,
        (arg[]){{DNNL_ARG_DIFF_DST, &P->pool_dst, s->pool_tmp}, {DNNL_ARG_DIFF_SRC, src, dx}});
}

const fpt_net_ops fpt_onednn_ops = {
    .backend = FPT_BACKEND_ONEDNN,
    .create = on_create,
    .destroy = on_destroy,
    .act_bytes = on_act_bytes,
    .prepare = on_prepare,
    .status = on_status,
    .weights_changed = on_weights_changed,
    .input = on_input,
    .convbn_forward = on_convbn_forward,
    .convbn_backward = on_convbn_backward,
    .add_relu = on_add_relu,
    .stage_norm = on_stage_norm,
    .stage_norm_backward = on_stage_norm_backward,
    .pool_forward = on_pool_forward,
    .pool_backward = on_pool_backward,
};

// ---- what the CPU and the library can do ----------------------------------------

static const char *isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_sse41: return "sse41";
    default: return "other";
    }
}

int fpt_onednn_check(fpt_precision p, fpt_err *err) {
    if (p != FPT_PRECISION_BF16) return 0;
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if ((isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16) return 0;
    return fpt_fail(err, "precision bf16 needs a CPU with AVX512_BF16 or AMX (oneDNN sees %s%s); "
                         "use precision fp32",
                    isa_name(isa), getenv("DNNL_MAX_CPU_ISA") ? ", limited by DNNL_MAX_CPU_ISA" : "");
}

const char *fpt_onednn_describe(void) {
    static char line[96];
    const dnnl_version_t *v = dnnl_version();
    snprintf(line, sizeof line, "onednn %d.%d.%d (%s)", v->major, v->minor, v->patch,
             isa_name(dnnl_get_effective_cpu_isa()));
    return line;
}
