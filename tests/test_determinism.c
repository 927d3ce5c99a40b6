// test_determinism.c — the same seed gives the same model, bit for bit; how
// far results move with the thread count; and batches of different sizes on
// one model (the activation arena is re-pointed, not re-allocated, for a
// smaller batch) give the same per-image results as a fresh model.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/blas_setup.h"
#include "check.h"
#include "nn/resnet.h"
#include "base/rng.h"
#include "nn/sgd.h"

#define WIDTH 4
#define CLASSES 10
#define HW 16
#define BATCH 8
#define SEED 4242u

static float *batch_images(uint32_t stream, int n) {
    const size_t count = (size_t)n * 3 * HW * HW;
    float *x = malloc(sizeof(float) * count);
    cr_assert_not_null(x);
    fpt_rng_fill_normal(SEED, FPT_RNG_TEST, stream, x, count, 0.0f, 1.0f);
    return x;
}

static void batch_labels(uint32_t stream, int n, int32_t *labels) {
    fpt_rng r;
    fpt_rng_init(&r, SEED, FPT_RNG_TEST, stream);
    for (int i = 0; i < n; i++) labels[i] = (int32_t)fpt_rng_below(&r, CLASSES);
}

// The backend and precision of the models the tests make (each test loops
// over every pair this build and CPU can run).
static test_backend g_be = {FPT_BACKEND_BLAS, FPT_PRECISION_FP32};

static fpt_resnet *fresh_model(int width, int hw) {
    fpt_err err = {{0}};
    fpt_resnet *m = NULL;
    cr_assert_eq(fpt_resnet_create(&m, &(fpt_resnet_arch){.width = width, .num_classes = CLASSES,
                                                          .in_channels = 3, .image_hw = hw,
                                                          .backend = g_be.backend,
                                                          .precision = g_be.precision},
                                   &err), 0, "%s", err.msg);
    fpt_resnet_init_params(m, SEED, 0, m->params);
    fpt_resnet_init_buffers(m, m->buffers);
    return m;
}

// init, then two SGD steps (forward train, backward, step) on one batch.
static fpt_resnet *train_two_steps(int threads, double losses[2]) {
    fpt_set_threads(threads);
    fpt_err err = {{0}};
    fpt_resnet *m = fresh_model(WIDTH, HW);
    float *x = batch_images(1, BATCH);
    int32_t labels[BATCH];
    batch_labels(2, BATCH, labels);
    fpt_sgd opt;
    cr_assert_eq(fpt_sgd_create(&opt, m->n_params, 0.9, 5e-4, &err), 0, "%s", err.msg);
    for (int s = 0; s < 2; s++) {
        cr_assert_eq(fpt_resnet_forward(m, x, BATCH, 1, &err), 0, "%s", err.msg);
        losses[s] = fpt_resnet_backward(m, labels, NULL);
        cr_assert(isfinite(losses[s]), "step %d: loss %g", s, losses[s]);
        fpt_sgd_step(&opt, m->params, m->grads, 0.1);
    }
    fpt_sgd_free(&opt);
    free(x);
    fpt_set_threads(2);   // what `make test` runs with
    return m;
}

static int same_bits(const float *a, const float *b, size_t n) {
    return memcmp(a, b, sizeof(float) * n) == 0;
}

// Largest |a - b| relative to the largest |b| (as rel_err_inf), float vs float.
static double rel_diff(const float *a, const float *b, size_t n) {
    return rel_err_inf_ff(a, b, n, 1e-30);
}

// Runs the body once per (backend, precision) in list(), g_be set and `bk`
// naming it for messages.
#define FOR_EACH(list, ...)                                                              \
    do {                                                                                 \
        test_backend all_[4];                                                            \
        const int n_ = list(all_);                                                       \
        for (int i_ = 0; i_ < n_; i_++) {                                                \
            g_be = all_[i_];                                                             \
            char bk[32];                                                                 \
            snprintf(bk, sizeof bk, "%s %s", fpt_backend_name(g_be.backend),             \
                     fpt_precision_name(g_be.precision));                                \
            __VA_ARGS__                                                                  \
        }                                                                                \
    } while (0)

static void same_seed_bitwise(const char *bk) {
    double la[2], lb[2];
    fpt_resnet *a = train_two_steps(2, la), *b = train_two_steps(2, lb);
    cr_expect(la[0] == lb[0] && la[1] == lb[1], "%s: losses differ", bk);
    cr_expect(same_bits(a->params, b->params, a->n_params), "%s: parameters differ", bk);
    cr_expect(same_bits(a->grads, b->grads, a->n_params), "%s: gradients differ", bk);
    cr_expect(same_bits(a->buffers, b->buffers, a->n_buffers), "%s: BN running statistics differ",
              bk);
    // The run must have moved the parameters away from the initialisation
    // (otherwise the comparison proves nothing).
    float *init = malloc(sizeof(float) * a->n_params);
    cr_assert_not_null(init);
    fpt_resnet_init_params(a, SEED, 0, init);
    size_t moved = 0;
    for (size_t i = 0; i < a->n_params; i++) moved += init[i] != a->params[i];
    cr_expect_gt(moved, a->n_params / 2, "%s: only %zu of %zu parameters changed", bk, moved,
                 a->n_params);
    free(init);
    fpt_resnet_free(a);
    fpt_resnet_free(b);
}

Test(determinism, same_seed_same_threads_bitwise) {
    FOR_EACH(test_backends_all, same_seed_bitwise(bk););
}

// Thread count 1 vs 2.  NOT bitwise equal with the kernels `make test` gets
// here (Debian's OpenBLAS 0.3.21, pthread and OpenMP builds alike, picks its
// "Prescott" kernels on this CPU; "Haswell" behaves the same), bitwise equal
// with the "SkylakeX"/"Cooperlake" kernels that fpt_blas_fix_coretype()
// selects for the application on AVX-512 machines.
//
// The reordering is inside OpenBLAS's sgemm, not in fptfarm: every OpenMP
// loop in common/ (im2col/col2im, BatchNorm, ReLU, the head, SGD) splits
// over channels or elements and gives bitwise-equal results for 1 and 2
// threads when run alone.  OpenBLAS runs a gemm single-threaded when
// M*N*K <= 65536 * GEMM_MULTITHREAD_THRESHOLD (= 262144), and above that in
// its threaded level-3 driver (driver/level3/level3_thread.c), which
// partitions C differently and dispatches different micro-kernel tails;
// for some small-M shapes those accumulate the K-sum in another order.
// Measured on raw cblas_sgemm (row-major, N = 2048, K = 36): M = 4, 5, 6,
// 9..14 differ in the last bits, M = 1..3, 7, 8, 15, 16 do not; the
// single-threaded result equals the plain sequential float sum, the
// threaded one does not.  In this width-4 model that hits the layer1 convs
// (forward: M = cout = 4, N = 8*16*16, K = 36; weight gradient: M = 4,
// N = 36, K = 2048) and layer2's weight gradients.  Measured differences
// after two steps: parameters and BN statistics ~2e-7 relative, loss ~6e-8,
// worst gradient tensor ~5e-6 (layer1 BN dgamma/dbeta: sums of M = 2048
// terms with cancellation, relative to the tensor's largest entry).
//
// Limits: parameters, BN statistics and loss 1e-5 relative (~50x the
// measured drift: float roundoff, not a race or a missed reduction, which
// would give errors of order 1e-3..1); gradients 5e-5 per tensor, the
// float-vs-float64 gradient limit of test_resnet_ref.c (measured ~5e-6).
#define TOL_THREADS 1e-5
#define TOL_THREADS_GRAD 5e-5

static void one_vs_two_threads(const char *bk) {
    (void)bk;
    double l1[2], l2[2];
    fpt_resnet *a = train_two_steps(1, l1), *b = train_two_steps(2, l2);
    const int bitwise = same_bits(a->params, b->params, a->n_params) &&
                        same_bits(a->buffers, b->buffers, a->n_buffers) &&
                        same_bits(a->grads, b->grads, a->n_params) && l1[0] == l2[0] &&
                        l1[1] == l2[1];
    const double ep = rel_diff(b->params, a->params, a->n_params);
    const double eb = rel_diff(b->buffers, a->buffers, a->n_buffers);
    double eg = 0.0;
    for (int t = 0; t < a->n_tensors; t++) {
        const fpt_param_tensor *pt = &a->tensors[t];
        const double e = rel_diff(b->grads + pt->offset, a->grads + pt->offset, pt->size);
        if (e > 0.0) measured("%s: threads 1 vs 2: gradient of %s differs by %.3g", bk, pt->name, e);
        cr_expect_leq(e, TOL_THREADS_GRAD, "%s: gradient of %s: threads 1 vs 2 differ by %.3g",
                      bk, pt->name, e);
        eg = fmax(eg, e);
    }
    measured("%s: threads 1 vs 2 (OpenBLAS %s): %s; params %.3g, BN stats %.3g, worst grad tensor "
             "%.3g, losses %.17g/%.17g",
             bk, fpt_blas_corename(), bitwise ? "bitwise equal" : "NOT bitwise equal", ep, eb, eg,
             l1[1], l2[1]);
    cr_expect_leq(ep, TOL_THREADS, "parameters: threads 1 vs 2 differ by %.3g", ep);
    cr_expect_leq(eb, TOL_THREADS, "BN running statistics: threads 1 vs 2 differ by %.3g", eb);
    for (int s = 0; s < 2; s++)
        cr_expect_leq(fabs(l1[s] - l2[s]), TOL_THREADS * l1[s], "step %d loss %.9g vs %.9g", s,
                      l1[s], l2[s]);
    fpt_resnet_free(a);
    fpt_resnet_free(b);
}

Test(determinism, one_vs_two_threads) {
    FOR_EACH(test_backends_all, one_vs_two_threads(bk););
}

// Non-trivial running statistics, the same for every model of a test.
static void set_running(fpt_resnet *m) {
    const size_t n = m->n_buffers;
    float *u = malloc(sizeof(float) * n);
    cr_assert_not_null(u);
    fpt_rng_fill_uniform(SEED, FPT_RNG_TEST, 30, u, n, 0.5f, 1.5f);
    fpt_rng_fill_normal(SEED, FPT_RNG_TEST, 31, m->buffers, n, 0.0f, 0.1f);
    // Each BN layer is (2, C): [mean; var].  Walk the layers via the gamma
    // tensors (one per BN layer, in module order) to find the var halves.
    size_t off = 0;
    for (int t = 0; t < m->n_tensors; t++) {
        if (m->tensors[t].kind != FPT_PARAM_BN_W) continue;
        const size_t C = m->tensors[t].size;
        memcpy(m->buffers + off + C, u + off + C, sizeof(float) * C);
        off += 2 * C;
    }
    cr_assert_eq(off, n);
    free(u);
}

// Eval-mode logits are a per-image function: a batch of 3 after a batch of
// 8 (arena re-pointed inside the batch-8 allocation) must give what a fresh
// model run only at batch 3 gives: the same calls with the same shapes, so
// bitwise in practice (measured); 1e-6 relative, a few float ulps of the
// logits, is the stated limit.  The same images as rows 0-2 of a batch of 8
// go through sgemms with another N, which OpenBLAS may partition and tail
// differently (see one_vs_two_threads): measured 2e-7 relative; limit 1e-5,
// as the PyTorch comparison's forward limit (2e-5) but tighter.  A layout
// error (a wrong image stride after re-pointing) gives O(1) differences.
static void smaller_batch_after_larger_eval(const char *bk) {
    (void)bk;
    fpt_err err = {{0}};
    fpt_resnet *a = fresh_model(WIDTH, HW), *b = fresh_model(WIDTH, HW);
    set_running(a);
    set_running(b);
    float *x8 = batch_images(10, BATCH), *x3 = batch_images(11, 3);
    // Rows 0-2 of the big batch are the small batch's images, in order.
    memcpy(x8, x3, sizeof(float) * 3 * 3 * HW * HW);
    float l8a[BATCH * CLASSES], l3a[3 * CLASSES], l8b[BATCH * CLASSES], l3b[3 * CLASSES];

    cr_assert_eq(fpt_resnet_forward(a, x8, BATCH, 0, &err), 0, "%s", err.msg);
    memcpy(l8a, a->logits, sizeof l8a);
    float *arena = a->act_arena;
    cr_assert_eq(fpt_resnet_forward(a, x3, 3, 0, &err), 0, "%s", err.msg);
    memcpy(l3a, a->logits, sizeof l3a);
    cr_expect_eq(a->act_arena, arena, "a smaller batch must reuse the arena");
    cr_expect_eq(a->batch, 3);
    cr_expect_eq(a->batch_cap, BATCH);
    cr_assert_eq(fpt_resnet_forward(a, x8, BATCH, 0, &err), 0, "%s", err.msg);
    memcpy(l8b, a->logits, sizeof l8b);
    cr_assert_eq(fpt_resnet_forward(b, x3, 3, 0, &err), 0, "%s", err.msg);
    memcpy(l3b, b->logits, sizeof l3b);
    cr_expect_eq(b->batch_cap, 3);

    for (int i = 0; i < BATCH * CLASSES; i++) cr_assert(isfinite(l8a[i]), "logit %d", i);
    const double e_again = rel_diff(l8b, l8a, BATCH * CLASSES);
    const double e_fresh = rel_diff(l3a, l3b, 3 * CLASSES);
    const double e_rows = rel_diff(l3a, l8a, 3 * CLASSES);
    measured("%s: batch 8/3/8: batch 8 again %s (%.3g); batch 3 vs fresh model %s (%.3g); batch 3 "
             "vs rows of batch 8 %s (%.3g)",
             bk, same_bits(l8b, l8a, BATCH * CLASSES) ? "bitwise" : "differs", e_again,
             same_bits(l3a, l3b, 3 * CLASSES) ? "bitwise" : "differs", e_fresh,
             same_bits(l3a, l8a, 3 * CLASSES) ? "bitwise" : "differs", e_rows);
    cr_expect_leq(e_again, 1e-6, "batch 8 after batch 3: %.3g", e_again);
    cr_expect_leq(e_fresh, 1e-6, "batch 3 after batch 8 vs fresh model: %.3g", e_fresh);
    cr_expect_leq(e_rows, 1e-5, "batch 3 vs the same images in batch 8: %.3g", e_rows);
    free(x8);
    free(x3);
    fpt_resnet_free(a);
    fpt_resnet_free(b);
}

Test(batch, smaller_batch_after_larger_eval) {
    FOR_EACH(test_backends_all, smaller_batch_after_larger_eval(bk););
}

// Training at batch 3 inside a batch-8 arena (the backward scratch buffers
// are re-pointed too) against a fresh model trained at batch 3: same batch,
// same statistics, so logits, loss, gradients and running statistics agree
// (same tolerance as above).
static void smaller_batch_after_larger_train(const char *bk) {
    (void)bk;
    fpt_err err = {{0}};
    fpt_resnet *a = fresh_model(WIDTH, HW), *b = fresh_model(WIDTH, HW);
    float *x8 = batch_images(12, BATCH), *x3 = batch_images(13, 3);
    int32_t lab[3];
    batch_labels(14, 3, lab);
    cr_assert_eq(fpt_resnet_forward(a, x8, BATCH, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_resnet_forward(a, x3, 3, 1, &err), 0, "%s", err.msg);
    const double la = fpt_resnet_backward(a, lab, NULL);
    cr_assert_eq(fpt_resnet_forward(b, x3, 3, 1, &err), 0, "%s", err.msg);
    const double lb = fpt_resnet_backward(b, lab, NULL);
    cr_expect_leq(fabs(la - lb), 1e-6 * lb, "loss %.17g vs fresh %.17g", la, lb);
    double eg = 0.0;
    for (int t = 0; t < a->n_tensors; t++) {
        const fpt_param_tensor *pt = &a->tensors[t];
        const double e = rel_diff(a->grads + pt->offset, b->grads + pt->offset, pt->size);
        eg = fmax(eg, e);
        cr_expect_leq(e, 1e-6, "gradient of %s: %.3g", pt->name, e);
    }
    const double eb = rel_diff(a->buffers, b->buffers, a->n_buffers);
    measured("%s: train batch 3 after 8 vs fresh: loss diff %.3g, worst grad %.3g, stats %.3g",
             bk, fabs(la - lb), eg, eb);
    cr_expect_leq(eb, 1e-6, "running statistics: %.3g", eb);
    free(x8);
    free(x3);
    fpt_resnet_free(a);
    fpt_resnet_free(b);
}

Test(batch, smaller_batch_after_larger_train) {
    FOR_EACH(test_backends_all, smaller_batch_after_larger_train(bk););
}

// Regression test.  ensure_batch() once sized the im2col workspace as one
// image of a stage-1 convolution (9 * width rows), but the stem has
// 3*3*3 = 27 rows, more than that when width < 3: for width 1 at batch 1-2
// and width 2 at batch 1, im2col wrote past the end of the workspace (found
// by ASan).  Fresh models at batch 1 must give the same eval logits as the
// same image as row 0 of a batch of 4.
static void narrow_models_small_batches(const char *bk) {
    (void)bk;
    fpt_err err = {{0}};
    const size_t per_image = 3 * 8 * 8;
    float x[4 * 3 * 8 * 8];
    fpt_rng_fill_normal(SEED, FPT_RNG_TEST, 40, x, 4 * per_image, 0.0f, 1.0f);
    for (int width = 1; width <= 2; width++) {
        fpt_resnet *big = fresh_model(width, 8), *one = fresh_model(width, 8);
        cr_assert_eq(fpt_resnet_forward(big, x, 4, 0, &err), 0, "%s", err.msg);
        cr_assert_eq(fpt_resnet_forward(one, x, 1, 0, &err), 0, "%s", err.msg);
        const double e = rel_diff(one->logits, big->logits, CLASSES);
        cr_expect_leq(e, 1e-6, "width %d: batch-1 logits vs row 0 of batch 4: %.3g", width, e);
        fpt_resnet_free(big);
        fpt_resnet_free(one);
    }
}

Test(batch, narrow_models_small_batches) {
    FOR_EACH(test_backends_all, narrow_models_small_batches(bk););
}
