// test_model_init_sgd.c — parameter layout and initialisation of the CIFAR
// ResNet-18 against the architecture written out here, and SGD against its
// recurrence evaluated in double.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nn/resnet.h"
#include "base/rng.h"
#include "nn/sgd.h"

// ---- the architecture, independently ---------------------------------------
// One entry per parameter tensor in PyTorch's named_parameters() order, from
// the description in He et al. (2016) with the CIFAR stem: conv3x3(3 -> w),
// BN; four stages of two BasicBlocks (conv3x3, BN, conv3x3, BN, plus a
// conv1x1 + BN shortcut when the stride or width changes); fc(8w -> classes).

typedef struct spec {
    fpt_param_kind kind;
    size_t size;
    int cout, cin, k;   // conv: shape; fc: (classes, 8w, 0)
} spec;

static int push_convbn(spec *s, int n, int cin, int cout, int k) {
    s[n++] = (spec){FPT_PARAM_CONV_W, (size_t)cout * cin * k * k, cout, cin, k};
    s[n++] = (spec){FPT_PARAM_BN_W, (size_t)cout, cout, 0, 0};
    s[n++] = (spec){FPT_PARAM_BN_B, (size_t)cout, cout, 0, 0};
    return n;
}

static int architecture(spec *s, int w, int classes) {
    int n = push_convbn(s, 0, 3, w, 3);
    int cin = w;
    for (int stage = 0; stage < 4; stage++) {
        const int cout = w << stage;
        for (int b = 0; b < 2; b++) {
            const int stride = (stage > 0 && b == 0) ? 2 : 1;
            n = push_convbn(s, n, cin, cout, 3);
            n = push_convbn(s, n, cout, cout, 3);
            if (stride != 1 || cin != cout) n = push_convbn(s, n, cin, cout, 1);
            cin = cout;
        }
    }
    s[n++] = (spec){FPT_PARAM_FC_W, (size_t)classes * cin, classes, cin, 0};
    s[n++] = (spec){FPT_PARAM_FC_B, (size_t)classes, classes, cin, 0};
    return n;
}

static size_t architecture_params(int w, int classes) {
    spec s[FPT_MAX_TENSORS];
    const int n = architecture(s, w, classes);
    size_t total = 0;
    for (int t = 0; t < n; t++) total += s[t].size;
    return total;
}

static fpt_resnet *make(int w, int classes, int hw) {
    fpt_err err = {{0}};
    fpt_resnet *m = NULL;
    cr_assert_eq(fpt_resnet_create(&m, &(fpt_resnet_arch){.width = w, .num_classes = classes, .in_channels = 3, .image_hw = hw, .stage_norm = 0}, &err), 0, "%s", err.msg);
    return m;
}

Test(resnet_layout, parameter_counts) {
    // The published count of the CIFAR ResNet-18 (3x3 stem, no max-pool),
    // e.g. kuangliu/pytorch-cifar: 11,173,962.  Checks the formula above too.
    cr_assert_eq(architecture_params(64, 10), (size_t)11173962);
    // With 1000 classes only the head grows, by 512 * 990 + 990 = 507,870:
    // 11,681,832.  (torchvision's ImageNet resnet18, 11,689,512, has the 7x7
    // stem instead: 64*3*49 - 64*3*9 = 7,680 more.)
    cr_assert_eq(architecture_params(64, 1000), (size_t)11173962 + 512 * 990 + 990);
    cr_assert_eq(architecture_params(64, 1000) + 64 * 3 * (49 - 9), (size_t)11689512);

    const int cfg[][2] = {{64, 10}, {64, 1000}, {16, 10}, {4, 100}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        fpt_resnet *m = make(cfg[c][0], cfg[c][1], 32);
        cr_expect_eq(m->n_params, architecture_params(cfg[c][0], cfg[c][1]),
                     "width %d, %d classes: %zu parameters, architecture says %zu", cfg[c][0],
                     cfg[c][1], m->n_params, architecture_params(cfg[c][0], cfg[c][1]));
        fpt_resnet_free(m);
    }
}

Test(resnet_layout, tensors_follow_architecture) {
    spec s[FPT_MAX_TENSORS];
    const int n = architecture(s, 16, 10);
    fpt_resnet *m = make(16, 10, 32);
    cr_assert_eq(m->n_tensors, n, "%d tensors, architecture has %d", m->n_tensors, n);
    size_t off = 0, bn = 0;
    for (int t = 0; t < n; t++) {
        const fpt_param_tensor *pt = &m->tensors[t];
        cr_expect_eq(pt->kind, s[t].kind, "tensor %d (%s): kind", t, pt->name);
        cr_expect_eq(pt->size, s[t].size, "tensor %d (%s): size %zu, expected %zu", t, pt->name,
                     pt->size, s[t].size);
        cr_expect_eq(pt->offset, off, "tensor %d (%s): not contiguous", t, pt->name);
        off += s[t].size;
        if (s[t].kind == FPT_PARAM_BN_W) bn += s[t].size;
    }
    cr_expect_eq(off, m->n_params);
    cr_expect_eq(m->n_buffers, 2 * bn, "running mean and var per BN channel");
    fpt_resnet_free(m);
}

// ---- initialisation -----------------------------------------------------------

#define SEED 31337u

Test(resnet_init, distributions_match_torchvision) {
    spec s[FPT_MAX_TENSORS];
    const int n = architecture(s, 16, 10);
    fpt_resnet *m = make(16, 10, 32);
    cr_assert_eq(m->n_tensors, n);
    fpt_resnet_init_params(m, SEED, 0, m->params);
    int checked = 0;
    for (int t = 0; t < n; t++) {
        const fpt_param_tensor *pt = &m->tensors[t];
        const float *p = m->params + pt->offset;
        const size_t N = pt->size;
        double sum = 0.0, ss = 0.0;
        for (size_t i = 0; i < N; i++) sum += p[i];
        const double mean = sum / N;
        for (size_t i = 0; i < N; i++) ss += (p[i] - mean) * (p[i] - mean);
        const double sd = sqrt(ss / (N - 1 ? N - 1 : 1));
        switch (s[t].kind) {
        case FPT_PARAM_CONV_W: {
            if (N < 1000) break;
            // Kaiming normal, mode fan_out, ReLU gain: std = sqrt(2 / (cout k k)).
            // Standard errors: of the mean std/sqrt(N); of the sample std of
            // a normal, std/sqrt(2(N-1)).  Five of them (p ~ 6e-7 each).
            const double want = sqrt(2.0 / ((double)s[t].cout * s[t].k * s[t].k));
            const double se_sd = want / sqrt(2.0 * (N - 1)), se_mean = want / sqrt((double)N);
            measured("init %s: std off by %.2f SE, mean by %.2f SE", pt->name,
                     (sd - want) / se_sd, mean / se_mean);
            cr_expect_leq(fabs(sd - want), 5 * se_sd, "%s: std %.5f, expected %.5f", pt->name,
                          sd, want);
            cr_expect_leq(fabs(mean), 5 * se_mean, "%s: mean %.5f", pt->name, mean);
            checked++;
            break;
        }
        case FPT_PARAM_BN_W:
            for (size_t i = 0; i < N; i++) cr_expect_eq(p[i], 1.0f, "%s[%zu]", pt->name, i);
            break;
        case FPT_PARAM_BN_B:
            for (size_t i = 0; i < N; i++)
                cr_expect(p[i] == 0.0f && !signbit(p[i]), "%s[%zu] = %g", pt->name, i, p[i]);
            break;
        case FPT_PARAM_FC_W:
        case FPT_PARAM_FC_B: {
            // U(-b, b), b = 1/sqrt(fan_in) with fan_in = 8w = 128.  The bound
            // is rounded to float in the library: allow one float ulp.
            const double b = 1.0 / sqrt((double)s[t].cin);
            for (size_t i = 0; i < N; i++)
                cr_expect(fabs(p[i]) <= b * (1.0 + 1.2e-7), "%s[%zu] = %.9g outside +-%.9g",
                          pt->name, i, p[i], b);
            if (N >= 1000) {
                // Variance b^2/3; its sample estimate has SE
                // sqrt((b^4/5 - b^4/9) / N), so 5 SE is ~13% at N = 1280.
                const double var = sd * sd, se_var = b * b * sqrt((1.0 / 5 - 1.0 / 9) / N);
                measured("init %s: variance off by %.2f SE", pt->name,
                         (var - b * b / 3) / se_var);
                cr_expect_leq(fabs(var - b * b / 3), 5 * se_var, "%s: variance %.6g vs %.6g",
                              pt->name, var, b * b / 3);
                cr_expect_leq(fabs(mean), 5 * b / sqrt(3.0 * N), "%s: mean %.5f", pt->name,
                              mean);
                checked++;
            }
            break;
        }
        }
    }
    // Width 16: the stem (432) and layer2's shortcut (512) are too small; the
    // other 4 + 4 + 5 + 5 convs of layers 1-4 are checked, plus fc.weight.
    cr_expect_eq(checked, 19, "%d tensors checked", checked);
    fpt_resnet_free(m);
}

Test(resnet_init, draws_differ_and_repeat) {
    fpt_resnet *m = make(16, 10, 32);
    const size_t n = m->n_params;
    float *a = calloc(n, sizeof(float)), *b = calloc(n, sizeof(float));
    float *c = calloc(n, sizeof(float));
    cr_assert(a && b && c);
    fpt_resnet_init_params(m, SEED, 3, a);
    fpt_resnet_init_params(m, SEED, 3, b);
    fpt_resnet_init_params(m, SEED, 4, c);
    cr_expect_eq(memcmp(a, b, sizeof(float) * n), 0, "the same draw twice must be bitwise equal");
    for (int t = 0; t < m->n_tensors; t++) {
        const fpt_param_tensor *pt = &m->tensors[t];
        if (pt->kind == FPT_PARAM_BN_W || pt->kind == FPT_PARAM_BN_B) continue;
        size_t same = 0;
        for (size_t i = 0; i < pt->size; i++) same += a[pt->offset + i] == c[pt->offset + i];
        // Independent continuous draws coincide essentially never; allow 1%.
        cr_expect_leq(same, pt->size / 100, "%s: %zu of %zu entries equal across draws",
                      pt->name, same, pt->size);
    }
    fpt_resnet_init_params(m, SEED + 1, 3, c);
    cr_expect_neq(memcmp(a, c, sizeof(float) * n), 0, "different seeds must differ");
    free(a);
    free(b);
    free(c);
    fpt_resnet_free(m);
}

Test(resnet_init, buffers_mean0_var1) {
    fpt_resnet *m = make(8, 10, 32);
    for (size_t i = 0; i < m->n_buffers; i++) m->buffers[i] = NAN;
    fpt_resnet_init_buffers(m, m->buffers);
    // Layout (2, C) per BN layer, in module order: C zeros then C ones.
    spec s[FPT_MAX_TENSORS];
    const int n = architecture(s, 8, 10);
    size_t off = 0;
    for (int t = 0; t < n; t++) {
        if (s[t].kind != FPT_PARAM_BN_W) continue;
        const size_t C = s[t].size;
        for (size_t c = 0; c < C; c++) {
            cr_expect_eq(m->buffers[off + c], 0.0f, "running_mean at %zu", off + c);
            cr_expect_eq(m->buffers[off + C + c], 1.0f, "running_var at %zu", off + C + c);
        }
        off += 2 * C;
    }
    cr_expect_eq(off, m->n_buffers);
    fpt_resnet_free(m);
}

// ---- SGD ---------------------------------------------------------------------

#define SGD_N 7

// The update per element, as torch.optim.SGD (dampening 0, no Nesterov):
//   g = grad + wd * theta;  v = mu * v + g;  theta = theta - lr * v
// (with mu = 0: theta -= lr * g).  Evaluated here in double; the library
// runs it in float with mu, wd, lr rounded to float: a few roundings of
// 6e-8 per step, so after 3 steps 1e-6 relative to the largest entry.
// Omitting weight decay moves theta by lr*wd*theta = 5e-5 relative per step;
// decaying after the momentum instead, by lr*mu*wd*theta ~ 4.5e-5.
#define TOL_SGD 1e-6

static void sgd_double(double *theta, double *v, const float *g, double mu, double wd,
                       double lr) {
    for (int i = 0; i < SGD_N; i++) {
        const double gi = g[i] + wd * theta[i];
        if (mu != 0.0) {
            v[i] = mu * v[i] + gi;
            theta[i] -= lr * v[i];
        } else {
            theta[i] -= lr * gi;
        }
    }
}

static void check_sgd(const char *what, double mu, double wd) {
    fpt_err err = {{0}};
    fpt_sgd opt;
    cr_assert_eq(fpt_sgd_create(&opt, SGD_N, mu, wd, &err), 0, "%s", err.msg);
    float p[SGD_N], g[3][SGD_N];
    fpt_rng_fill_normal(1, FPT_RNG_TEST, 40, p, SGD_N, 0.0f, 1.0f);
    for (int s = 0; s < 3; s++)
        fpt_rng_fill_normal(1, FPT_RNG_TEST, 41 + (uint32_t)s, g[s], SGD_N, 0.0f, 1.0f);
    double theta[SGD_N], v[SGD_N] = {0};
    for (int i = 0; i < SGD_N; i++) theta[i] = p[i];
    const double lr[3] = {0.1, 0.05, 0.2};
    if (mu == 0.0)   // "not touched": a sentinel must survive
        for (int i = 0; i < SGD_N; i++) opt.velocity[i] = 123.0f;
    for (int s = 0; s < 3; s++) {
        fpt_sgd_step(&opt, p, g[s], lr[s]);
        sgd_double(theta, v, g[s], mu, wd, lr[s]);
        double e = rel_err_inf(p, theta, SGD_N, 1e-30);
        measured("sgd %s step %d: params rel err %.3g (tol %.1g)", what, s, e, TOL_SGD);
        cr_expect_leq(e, TOL_SGD, "%s step %d: params rel err %.3g", what, s, e);
        if (mu != 0.0) {
            e = rel_err_inf(opt.velocity, v, SGD_N, 1e-30);
            cr_expect_leq(e, TOL_SGD, "%s step %d: velocity rel err %.3g", what, s, e);
        } else {
            for (int i = 0; i < SGD_N; i++)
                cr_expect_eq(opt.velocity[i], 123.0f, "momentum 0 touched the velocity");
        }
    }
    fpt_sgd_free(&opt);
}

Test(sgd, momentum_and_weight_decay_three_steps) { check_sgd("mu=0.9 wd=5e-4", 0.9, 5e-4); }
Test(sgd, momentum_zero) { check_sgd("mu=0 wd=5e-4", 0.0, 5e-4); }
Test(sgd, momentum_no_weight_decay) { check_sgd("mu=0.9 wd=0", 0.9, 0.0); }

Test(sgd, reset_zeroes_velocity) {
    fpt_err err = {{0}};
    fpt_sgd opt;
    cr_assert_eq(fpt_sgd_create(&opt, SGD_N, 0.9, 5e-4, &err), 0, "%s", err.msg);
    float p[SGD_N], g[SGD_N];
    fpt_rng_fill_normal(2, FPT_RNG_TEST, 50, p, SGD_N, 0.0f, 1.0f);
    fpt_rng_fill_normal(2, FPT_RNG_TEST, 51, g, SGD_N, 0.0f, 1.0f);
    fpt_sgd_step(&opt, p, g, 0.1);
    int nonzero = 0;
    for (int i = 0; i < SGD_N; i++) nonzero += opt.velocity[i] != 0.0f;
    cr_assert_eq(nonzero, SGD_N, "a step must fill the velocity");
    fpt_sgd_reset(&opt);
    for (int i = 0; i < SGD_N; i++) cr_expect_eq(opt.velocity[i], 0.0f, "velocity[%d]", i);
    // After a reset the next step is a first step again: v = g + wd*theta.
    double theta[SGD_N], v[SGD_N] = {0};
    for (int i = 0; i < SGD_N; i++) theta[i] = p[i];
    fpt_sgd_step(&opt, p, g, 0.1);
    sgd_double(theta, v, g, 0.9, 5e-4, 0.1);
    double e = rel_err_inf(p, theta, SGD_N, 1e-30);
    cr_expect_leq(e, TOL_SGD, "first step after reset: rel err %.3g", e);
    fpt_sgd_free(&opt);
}

Test(sgd, create_rejects_bad_hyperparameters) {
    const double bad[][2] = {{1.0, 0.0}, {1.5, 0.0}, {-0.1, 0.0}, {NAN, 0.0},
                             {0.9, -1e-4}, {0.9, NAN}};
    const char *word[] = {"momentum", "momentum", "momentum", "momentum", "weight", "weight"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        fpt_err err = {{0}};
        fpt_sgd opt;
        cr_expect_eq(fpt_sgd_create(&opt, SGD_N, bad[k][0], bad[k][1], &err), -1,
                     "momentum %g, weight decay %g accepted", bad[k][0], bad[k][1]);
        cr_expect_neq(err.msg[0], '\0', "no message for case %zu", k);
        cr_expect_not_null(strstr(err.msg, word[k]), "message '%s' should name the %s", err.msg,
                           word[k]);
        fpt_sgd_free(&opt);   // must be safe after a failed create
    }
    fpt_err err = {{0}};
    fpt_sgd opt;
    cr_expect_eq(fpt_sgd_create(&opt, SGD_N, 0.0, 0.0, &err), 0, "%s", err.msg);
    fpt_sgd_free(&opt);
}

Test(sgd, lr_check_rejects_bad_schedules) {
    const fpt_lr_schedule good[] = {
        {.kind = FPT_LR_CONSTANT, .base = 0.1},
        {.kind = FPT_LR_STEP, .base = 0.1, .gamma = 0.1, .step_size = 30},
        {.kind = FPT_LR_STEP, .base = 0.1, .gamma = 1.0, .step_size = 1},
        {.kind = FPT_LR_COSINE, .base = 0.1, .t_max = 200},
        {.kind = FPT_LR_COSINE, .base = 0.1, .t_max = 1, .eta_min = 0.001},
        {.kind = FPT_LR_SGDR, .base = 0.05, .t0 = 10, .t_mult = 2, .eta_min = 0.0},
        {.kind = FPT_LR_SGDR, .base = 0.05, .t0 = 1, .t_mult = 1},
    };
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
        fpt_err err = {{0}};
        cr_expect_eq(fpt_lr_check(&good[k], &err), 0, "good schedule %zu rejected: %s", k,
                     err.msg);
    }
    const fpt_lr_schedule bad[] = {
        {.kind = FPT_LR_CONSTANT, .base = 0.0},
        {.kind = FPT_LR_CONSTANT, .base = -0.1},
        {.kind = FPT_LR_CONSTANT, .base = NAN},
        {.kind = FPT_LR_CONSTANT, .base = INFINITY},
        {.kind = FPT_LR_STEP, .base = 0.1, .gamma = 0.1, .step_size = 0},
        {.kind = FPT_LR_STEP, .base = 0.1, .gamma = 0.0, .step_size = 30},
        {.kind = FPT_LR_STEP, .base = 0.1, .gamma = 1.5, .step_size = 30},
        {.kind = FPT_LR_STEP, .base = 0.1, .gamma = NAN, .step_size = 30},
        {.kind = FPT_LR_COSINE, .base = 0.1, .t_max = 0},
        {.kind = FPT_LR_COSINE, .base = 0.1, .t_max = 10, .eta_min = 0.1},
        {.kind = FPT_LR_COSINE, .base = 0.1, .t_max = 10, .eta_min = -0.01},
        {.kind = FPT_LR_SGDR, .base = 0.1, .t0 = 0, .t_mult = 2},
        {.kind = FPT_LR_SGDR, .base = 0.1, .t0 = 10, .t_mult = 0},
        {.kind = FPT_LR_SGDR, .base = 0.1, .t0 = 10, .t_mult = 2, .eta_min = 0.2},
        {.kind = (fpt_lr_kind)17, .base = 0.1},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        fpt_err err = {{0}};
        cr_expect_eq(fpt_lr_check(&bad[k], &err), -1, "bad schedule %zu accepted", k);
        cr_expect_neq(err.msg[0], '\0', "bad schedule %zu: no message", k);
    }
}
