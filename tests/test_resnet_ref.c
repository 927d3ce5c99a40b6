// test_resnet_ref.c — ResNet-18 against a PyTorch state dump.
//
// tests/ref/make_ref.py builds the same CIFAR ResNet-18 (w = 8, 10 classes)
// in PyTorch, runs it in float64 from float32 weights and inputs, and dumps
// logits, loss, every gradient, the BN running statistics, the eval-mode
// logits, five SGD steps with momentum and weight decay, and PyTorch's own
// learning-rate schedules.  Here the C model, in float32, must agree.
//
// Tolerances.  The C code computes in float32 (unit roundoff u = 6e-8) with
// dot products of length up to K = 9*64 = 576 and BN reductions in double;
// random rounding grows like ~sqrt(K)*u per layer, over ~20 layers forward
// and as many backward.  Measured against the float64 reference (OpenBLAS
// SkylakeX and Prescott kernels alike): logits 5.4e-7, loss 5e-8, worst
// gradient tensor 2.5e-6, parameters after 5 SGD steps 2.5e-6, all relative
// to the tensor's largest entry.  The limits, 2e-5 forward and 5e-5 for
// gradients and SGD steps, leave ~10-20x headroom for other BLAS kernels and
// thread counts while catching any real error: a wrong index, a missing BN
// term or an off-by-one in padding gives errors of order 1e-2..1.
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "check.h"
#include "refdump.h"
#include "resnet.h"
#include "sgd.h"

#define DUMP "tests/ref/resnet18_w8.bin"
#define TOL_FWD 2e-5
#define TOL_GRAD 5e-5

static refdump D;
static fpt_resnet *M;
static int N, H;

static const ref_rec *rec(const char *name) {
    const ref_rec *r = refdump_get(&D, name);
    cr_assert_not_null(r, "record %s missing from %s", name, DUMP);
    return r;
}

static void setup(void) {
    fpt_err err = {{0}};
    cr_assert_eq(refdump_load(&D, DUMP, &err), 0, "%s", err.msg);
    const ref_rec *cfg = rec("config");
    N = cfg->i[2];
    H = cfg->i[3];
    cr_assert_eq(fpt_resnet_create(&M, &(fpt_resnet_arch){cfg->i[0], cfg->i[1], 3, H, 0}, &err), 0, "%s", err.msg);
    const ref_rec *p = rec("params");
    cr_assert_eq(p->count, M->n_params, "parameter count: dump %zu, model %zu", p->count,
                 M->n_params);
    memcpy(M->params, p->f32, sizeof(float) * M->n_params);
    fpt_resnet_init_buffers(M, M->buffers);
}

static void teardown(void) {
    fpt_resnet_free(M);
    refdump_free(&D);
}

TestSuite(resnet_ref, .init = setup, .fini = teardown);

Test(resnet_ref, layout_matches_named_parameters) {
    const ref_rec *sizes = rec("param_sizes");
    cr_assert_eq((int)sizes->count, M->n_tensors);
    for (int t = 0; t < M->n_tensors; t++)
        cr_expect_eq((size_t)sizes->i[t], M->tensors[t].size, "tensor %d (%s)", t,
                     M->tensors[t].name);
    const ref_rec *bn = rec("bn_channels");
    size_t total = 0;
    for (size_t k = 0; k < bn->count; k++) total += 2 * (size_t)bn->i[k];
    cr_assert_eq(total, M->n_buffers);
    cr_assert_str_eq(M->tensors[M->n_tensors - 1].name, "fc.bias");
}

static void check_tensors(const char *what, const float *got, const double *want, double tol) {
    for (int t = 0; t < M->n_tensors; t++) {
        const fpt_param_tensor *pt = &M->tensors[t];
        double e = rel_err_inf(got + pt->offset, want + pt->offset, pt->size, 1e-12);
        cr_expect_leq(e, tol, "%s of %s: relative error %.3g > %.1g", what, pt->name, e, tol);
    }
}

Test(resnet_ref, forward_backward_and_eval) {
    fpt_err err = {{0}};
    const ref_rec *in = rec("input"), *lab = rec("labels");
    cr_assert_eq(fpt_resnet_forward(M, in->f32, N, 1, &err), 0, "%s", err.msg);
    const ref_rec *lg = rec("logits");
    double e = rel_err_inf(M->logits, lg->f, lg->count, 1e-12);
    cr_expect_leq(e, TOL_FWD, "train logits: relative error %.3g", e);

    double loss = fpt_resnet_backward(M, lab->i, NULL);
    double want = rec("loss")->f[0];
    cr_expect_leq(fabs(loss - want) / want, TOL_FWD, "loss %.9g vs PyTorch %.9g", loss, want);

    check_tensors("gradient", M->grads, rec("grads")->f, TOL_GRAD);
    const ref_rec *run = rec("running");
    e = rel_err_inf(M->buffers, run->f, run->count, 1e-12);
    cr_expect_leq(e, TOL_FWD, "BN running statistics: relative error %.3g", e);

    cr_assert_eq(fpt_resnet_forward(M, in->f32, N, 0, &err), 0, "%s", err.msg);
    const ref_rec *ev = rec("eval_logits");
    e = rel_err_inf(M->logits, ev->f, ev->count, 1e-12);
    cr_expect_leq(e, TOL_FWD, "eval logits: relative error %.3g", e);
}

Test(resnet_ref, five_sgd_steps) {
    fpt_err err = {{0}};
    const ref_rec *sgd = rec("sgd"), *xs = rec("step_inputs"), *ys = rec("step_labels");
    const ref_rec *losses = rec("step_losses");
    fpt_sgd opt;
    cr_assert_eq(fpt_sgd_create(&opt, M->n_params, sgd->f[1], sgd->f[2], &err), 0, "%s", err.msg);
    const size_t per_batch = (size_t)N * 3 * H * H;
    for (size_t s = 0; s < losses->count; s++) {
        cr_assert_eq(fpt_resnet_forward(M, xs->f32 + s * per_batch, N, 1, &err), 0, "%s",
                     err.msg);
        double loss = fpt_resnet_backward(M, ys->i + s * N, NULL);
        double want = losses->f[s];
        // Later steps inherit the (tiny) differences of earlier updates.
        cr_expect_leq(fabs(loss - want) / want, TOL_GRAD, "step %zu: loss %.9g vs %.9g", s,
                      loss, want);
        fpt_sgd_step(&opt, M->params, M->grads, sgd->f[0]);
    }
    check_tensors("parameters after 5 steps", M->params, rec("params_after")->f, TOL_GRAD);
    const ref_rec *run = rec("running_after");
    double e = rel_err_inf(M->buffers, run->f, run->count, 1e-12);
    cr_expect_leq(e, TOL_GRAD, "BN running statistics after 5 steps: relative error %.3g", e);
    fpt_sgd_free(&opt);
}

static void check_schedule(const char *name, fpt_lr_schedule s) {
    const ref_rec *r = rec(name);
    for (size_t e = 0; e < r->count; e++) {
        double got = fpt_lr_at(&s, (int)e);
        // PyTorch computes some schedules recursively: ~1e-15 relative drift.
        cr_expect_leq(fabs(got - r->f[e]), 1e-12 * s.base + 1e-13, "%s epoch %zu: %.17g vs %.17g",
                      name, e, got, r->f[e]);
    }
}

Test(resnet_ref, lr_schedules_match_pytorch) {
    check_schedule("lr_step", (fpt_lr_schedule){.kind = FPT_LR_STEP, .base = 0.1, .gamma = 0.1,
                                                .step_size = 3});
    check_schedule("lr_sgdr", (fpt_lr_schedule){.kind = FPT_LR_SGDR, .base = 0.1, .t0 = 4,
                                                .t_mult = 2, .eta_min = 1e-3});
    check_schedule("lr_cosine", (fpt_lr_schedule){.kind = FPT_LR_COSINE, .base = 0.1,
                                                  .t_max = 10, .eta_min = 0.0});
}
