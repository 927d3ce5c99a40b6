// test_layers.c — each layer against an independent reference: the optimized
// kernels against the direct-loop _ref kernels, the reference backward passes
// against central finite differences of the reference forward passes, and the
// small layers against loops and closed forms written out here.
//
// Finite differences use the scalar loss L = sum(y * r) with fixed random r,
// summed in double, so dL/dy = r and the backward pass is fed dy = r.  Steps
// are applied to float inputs; the step actually taken, (float)(x + h) - x,
// is computed exactly in double and used in the quotient.
//
// All random data come from fpt_rng_fill_normal with purpose FPT_RNG_TEST.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nn/layers.h"
#include "base/rng.h"

#define SEED 20240611u

static float *fnew(size_t n) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    cr_assert_not_null(p);
    return p;
}

static float *randn(uint32_t stream, size_t n, float mean, float std) {
    float *p = fnew(n);
    fpt_rng_fill_normal(SEED, FPT_RNG_TEST, stream, p, n, mean, std);
    return p;
}

// Fills with NaN so that an output a kernel fails to overwrite is caught.
static void poison(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = NAN;
}

static double dot_fd(const float *y, const float *r, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)y[i] * (double)r[i];
    return s;
}

// ============================================================================
// conv2d
// ============================================================================

// The reference backward, required to succeed (it fails only when its
// double sums cannot be allocated).
static void conv2d_backward_ref(const fpt_conv_shape *s, int N, int H, int W, const float *x,
                                const float *w, const float *dy, float *dx, float *dw) {
    fpt_err err = {{0}};
    cr_assert_eq(fpt_conv2d_backward_ref(s, N, H, W, x, w, dy, dx, dw, &err), 0, "%s", err.msg);
}

typedef struct conv_case {
    int cin, cout, k, stride, pad, H, W;
} conv_case;

static const conv_case CONV_CASES[] = {
    {3, 5, 3, 1, 1, 7, 7},   // k3 pad1 stride1, odd spatial, cin 3 -> cout 5
    {3, 5, 3, 2, 1, 8, 8},   // k3 pad1 stride2, even spatial
    {5, 3, 3, 2, 1, 7, 7},   // k3 pad1 stride2, odd spatial (last window hits pad)
    {4, 6, 1, 2, 0, 7, 7},   // k1 pad0 stride2 (the projection shortcut)
    {4, 6, 1, 2, 0, 8, 8},
    {5, 3, 3, 2, 1, 7, 8},   // H != W
    {8, 4, 3, 1, 1, 8, 8},   // longer dot products (K = 72)
    {2, 3, 3, 1, 0, 7, 7},   // no padding
};
#define CONV_N 3

// Optimized vs reference.  The reference sums in double and rounds once; the
// sgemm sums K = cin*k*k (forward), cout (dx) or N*Ho*Wo = 192 (dw) float
// products.  Worst-case float error is ~K*u*sum|terms| (u = 6e-8), i.e. at
// most ~192*6e-8*(sum|terms| / max|result| ~ 2) = 2.3e-5 relative to the
// tensor's largest entry; random rounding gives ~sqrt(K)*u ~ 1e-6 (measured:
// up to ~3e-7).  A wrong index, a missed pad or a lost chunk gives O(1).
#define TOL_CONV 3e-5

Test(conv2d, optimized_matches_reference_all_chunkings) {
    double worst = 0.0;
    for (size_t c = 0; c < sizeof CONV_CASES / sizeof CONV_CASES[0]; c++) {
        const conv_case *cc = &CONV_CASES[c];
        const fpt_conv_shape s = {cc->cin, cc->cout, cc->k, cc->stride, cc->pad};
        const int N = CONV_N, H = cc->H, W = cc->W;
        const int Ho = fpt_conv_out_size(H, s.k, s.stride, s.pad);
        const int Wo = fpt_conv_out_size(W, s.k, s.stride, s.pad);
        const size_t nx = (size_t)s.cin * N * H * W, nw = (size_t)s.cout * s.cin * s.k * s.k;
        const size_t ny = (size_t)s.cout * N * Ho * Wo;
        const size_t per_image = (size_t)s.cin * s.k * s.k * Ho * Wo;

        float *x = randn(100 + (uint32_t)c, nx, 0.0f, 1.0f);
        float *w = randn(200 + (uint32_t)c, nw, 0.0f, 0.5f);
        float *dy = randn(300 + (uint32_t)c, ny, 0.0f, 1.0f);
        float *y_ref = fnew(ny), *dx_ref = fnew(nx), *dw_ref = fnew(nw);
        fpt_conv2d_forward_ref(&s, N, H, W, x, w, y_ref);
        conv2d_backward_ref(&s, N, H, W, x, w, dy, dx_ref, dw_ref);

        // One image per chunk, two (chunks of 2 + 1), exactly the batch, and
        // far more than the batch.
        const size_t caps[] = {per_image, 2 * per_image, N * per_image, 10 * N * per_image};
        for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
            fpt_conv_ws ws = {fnew(caps[k]), fnew(caps[k]), caps[k]};
            float *y = fnew(ny), *dx = fnew(nx), *dw = fnew(nw), *dw2 = fnew(nw);
            poison(y, ny);
            poison(dx, nx);
            poison(dw, nw);
            poison(dw2, nw);
            fpt_conv2d_forward(&s, N, H, W, x, w, y, &ws);
            fpt_conv2d_backward(&s, N, H, W, x, w, dy, dx, dw, &ws);
            double ey = rel_err_inf_ff(y, y_ref, ny, 1e-30);
            double ex = rel_err_inf_ff(dx, dx_ref, nx, 1e-30);
            double ew = rel_err_inf_ff(dw, dw_ref, nw, 1e-30);
            worst = fmax(worst, fmax(ey, fmax(ex, ew)));
            cr_expect_leq(ey, TOL_CONV, "case %zu cap %zu: y rel err %.3g", c, caps[k], ey);
            cr_expect_leq(ex, TOL_CONV, "case %zu cap %zu: dx rel err %.3g", c, caps[k], ex);
            cr_expect_leq(ew, TOL_CONV, "case %zu cap %zu: dw rel err %.3g", c, caps[k], ew);

            // dx == NULL (the stem): dw alone, same error bound.
            fpt_conv2d_backward(&s, N, H, W, x, w, dy, NULL, dw2, &ws);
            double ew2 = rel_err_inf_ff(dw2, dw_ref, nw, 1e-30);
            cr_expect_leq(ew2, TOL_CONV, "case %zu cap %zu: dw (dx=NULL) rel err %.3g", c,
                          caps[k], ew2);
            free(ws.col);
            free(ws.dcol);
            free(y);
            free(dx);
            free(dw);
            free(dw2);
        }
        free(x);
        free(w);
        free(dy);
        free(y_ref);
        free(dx_ref);
        free(dw_ref);
    }
    measured("conv2d optimized vs reference: worst rel err %.3g (tol %.1g)", worst, TOL_CONV);
}

// The residual form: dx = (gradient at x) + dx_add, with dx_add a separate
// array, aliasing dx, or NULL (plain backward), under every chunking.  The
// want is the reference dx plus dx_add in double; the kernel adds dx_add
// into its float accumulation: one more rounding, same TOL_CONV.
Test(conv2d, backward_residual_adds_dx_add) {
    const conv_case cases[] = {{3, 5, 3, 2, 1, 7, 7}, {4, 6, 1, 2, 0, 8, 8}, {5, 3, 3, 1, 1, 7, 8}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const conv_case *cc = &cases[c];
        const fpt_conv_shape s = {cc->cin, cc->cout, cc->k, cc->stride, cc->pad};
        const int N = CONV_N, H = cc->H, W = cc->W;
        const int Ho = fpt_conv_out_size(H, s.k, s.stride, s.pad);
        const int Wo = fpt_conv_out_size(W, s.k, s.stride, s.pad);
        const size_t nx = (size_t)s.cin * N * H * W, nw = (size_t)s.cout * s.cin * s.k * s.k;
        const size_t ny = (size_t)s.cout * N * Ho * Wo;
        const size_t per_image = (size_t)s.cin * s.k * s.k * Ho * Wo;
        float *x = randn(700 + (uint32_t)c, nx, 0.0f, 1.0f);
        float *w = randn(710 + (uint32_t)c, nw, 0.0f, 0.5f);
        float *dy = randn(720 + (uint32_t)c, ny, 0.0f, 1.0f);
        float *add = randn(730 + (uint32_t)c, nx, 0.0f, 1.0f);
        float *dx_ref = fnew(nx), *dw_ref = fnew(nw);
        conv2d_backward_ref(&s, N, H, W, x, w, dy, dx_ref, dw_ref);
        double *want = malloc(sizeof(double) * nx);
        cr_assert_not_null(want);
        for (size_t i = 0; i < nx; i++) want[i] = (double)dx_ref[i] + add[i];

        const size_t caps[] = {per_image, 2 * per_image, N * per_image};
        for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
            fpt_conv_ws ws = {fnew(caps[k]), fnew(caps[k]), caps[k]};
            float *dx = fnew(nx), *dw = fnew(nw);
            // separate dx_add
            poison(dx, nx);
            fpt_conv2d_backward_residual(&s, N, H, W, x, w, dy, dx, add, dw, &ws);
            double e = rel_err_inf(dx, want, nx, 1e-30);
            cr_expect_leq(e, TOL_CONV, "case %zu cap %zu: dx + dx_add: %.3g", c, caps[k], e);
            e = rel_err_inf_ff(dw, dw_ref, nw, 1e-30);
            cr_expect_leq(e, TOL_CONV, "case %zu cap %zu: dw (residual): %.3g", c, caps[k], e);
            // dx_add aliasing dx
            memcpy(dx, add, sizeof(float) * nx);
            fpt_conv2d_backward_residual(&s, N, H, W, x, w, dy, dx, dx, dw, &ws);
            e = rel_err_inf(dx, want, nx, 1e-30);
            cr_expect_leq(e, TOL_CONV, "case %zu cap %zu: dx += (in place): %.3g", c, caps[k], e);
            // dx_add NULL: the plain gradient
            poison(dx, nx);
            fpt_conv2d_backward_residual(&s, N, H, W, x, w, dy, dx, NULL, dw, &ws);
            e = rel_err_inf_ff(dx, dx_ref, nx, 1e-30);
            cr_expect_leq(e, TOL_CONV, "case %zu cap %zu: dx_add NULL: %.3g", c, caps[k], e);
            free(ws.col);
            free(ws.dcol);
            free(dx);
            free(dw);
        }
        free(x);
        free(w);
        free(dy);
        free(add);
        free(dx_ref);
        free(dw_ref);
        free(want);
    }
}

// Reference forward against the definition written out here, on one case
// with padding on every side and stride 2: a check that the reference itself
// (the oracle above) implements cross-correlation with zero padding.
Test(conv2d, reference_forward_matches_definition) {
    const fpt_conv_shape s = {2, 3, 3, 2, 1};
    const int N = 2, H = 5, W = 6;
    const int Ho = fpt_conv_out_size(H, 3, 2, 1), Wo = fpt_conv_out_size(W, 3, 2, 1);
    cr_assert_eq(Ho, 3);
    cr_assert_eq(Wo, 3);
    const size_t nx = (size_t)2 * N * H * W, nw = 2 * 3 * 9, ny = (size_t)3 * N * Ho * Wo;
    float *x = randn(1, nx, 0.0f, 1.0f), *w = randn(2, nw, 0.0f, 1.0f), *y = fnew(ny);
    fpt_conv2d_forward_ref(&s, N, H, W, x, w, y);
    for (int co = 0; co < 3; co++)
        for (int n = 0; n < N; n++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    double acc = 0.0;
                    for (int ci = 0; ci < 2; ci++)
                        for (int i = 0; i < 3; i++)
                            for (int j = 0; j < 3; j++) {
                                // zero-padded input: x_pad[ih+1][iw+1] = x[ih][iw]
                                int ih = 2 * oh + i - 1, iw = 2 * ow + j - 1;
                                double xv = (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                                ? x[((ci * N + n) * H + ih) * W + iw]
                                                : 0.0;
                                acc += xv * w[((co * 2 + ci) * 3 + i) * 3 + j];
                            }
                    float got = y[((co * N + n) * Ho + oh) * Wo + ow];
                    // Both sum exactly the same 18 terms in double: only the
                    // order may differ, ~1e-16; the float output rounds once.
                    cr_expect_leq(fabs(got - acc), 1e-6 * (1.0 + fabs(acc)),
                                  "y[%d,%d,%d,%d] = %.9g, definition %.9g", co, n, oh, ow, got,
                                  acc);
                }
    free(x);
    free(w);
    free(y);
}

// Reference backward against central differences of the reference forward.
// L = sum(y * r) is LINEAR in x (and in w), so the central difference has no
// truncation error and any step works; h = 0.5 keeps the roundoff small.  The
// only error is the float rounding of each y (<= u|y|, u = 2^-24) in L(+)
// and L(-): at most u * sum|y r| * 2 / (2h) ~ 6e-8 * 150 * 2 = 2e-5 absolute
// on gradients of order 1-3, so 5e-5 relative to the largest gradient
// (measured <= 2e-7).  A wrong gradient entry is off by O(1).
#define TOL_CONV_FD 5e-5

Test(conv2d, reference_backward_matches_finite_differences) {
    const conv_case cases[] = {{3, 5, 3, 2, 1, 7, 7}, {4, 3, 1, 2, 0, 7, 7}, {2, 3, 3, 1, 1, 6, 5}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const conv_case *cc = &cases[c];
        const fpt_conv_shape s = {cc->cin, cc->cout, cc->k, cc->stride, cc->pad};
        const int N = CONV_N, H = cc->H, W = cc->W;
        const int Ho = fpt_conv_out_size(H, s.k, s.stride, s.pad);
        const int Wo = fpt_conv_out_size(W, s.k, s.stride, s.pad);
        const size_t nx = (size_t)s.cin * N * H * W, nw = (size_t)s.cout * s.cin * s.k * s.k;
        const size_t ny = (size_t)s.cout * N * Ho * Wo;
        float *x = randn(400 + (uint32_t)c, nx, 0.0f, 1.0f);
        float *w = randn(500 + (uint32_t)c, nw, 0.0f, 0.5f);
        float *r = randn(600 + (uint32_t)c, ny, 0.0f, 1.0f);
        float *y = fnew(ny), *dx = fnew(nx), *dw = fnew(nw);
        double *fx = calloc(nx, sizeof(double)), *fw = calloc(nw, sizeof(double));
        cr_assert(fx && fw);
        conv2d_backward_ref(&s, N, H, W, x, w, r, dx, dw);

        const float h = 0.5f;
        for (int which = 0; which < 2; which++) {
            float *p = which ? w : x;
            double *fd = which ? fw : fx;
            size_t n = which ? nw : nx;
            for (size_t i = 0; i < n; i++) {
                const float p0 = p[i];
                p[i] = p0 + h;
                const double hp = (double)p[i] - p0;
                fpt_conv2d_forward_ref(&s, N, H, W, x, w, y);
                const double lp = dot_fd(y, r, ny);
                p[i] = p0 - h;
                const double hm = (double)p0 - p[i];
                fpt_conv2d_forward_ref(&s, N, H, W, x, w, y);
                const double lm = dot_fd(y, r, ny);
                p[i] = p0;
                fd[i] = (lp - lm) / (hp + hm);
            }
        }
        double ex = rel_err_inf(dx, fx, nx, 1e-30), ew = rel_err_inf(dw, fw, nw, 1e-30);
        measured("conv2d ref backward vs FD, case %zu: dx %.3g dw %.3g (tol %.1g)", c, ex, ew,
                 TOL_CONV_FD);
        cr_expect_leq(ex, TOL_CONV_FD, "case %zu: dx vs finite differences: %.3g", c, ex);
        cr_expect_leq(ew, TOL_CONV_FD, "case %zu: dw vs finite differences: %.3g", c, ew);
        free(x);
        free(w);
        free(r);
        free(y);
        free(dx);
        free(dw);
        free(fx);
        free(fw);
    }
}

// ============================================================================
// BatchNorm
// ============================================================================

#define BN_C 3
#define BN_M 36   // e.g. N = 4 images of 3x3

typedef struct bn_data {
    float *x, *gamma, *beta, *running, *dy;
} bn_data;

static bn_data bn_make(uint32_t stream) {
    bn_data d;
    // Channels with non-zero mean and non-unit spread, so that centring and
    // scaling are both exercised.
    d.x = randn(stream, (size_t)BN_C * BN_M, 0.0f, 1.0f);
    for (int c = 0; c < BN_C; c++)
        for (int i = 0; i < BN_M; i++) {
            float *v = &d.x[c * BN_M + i];
            *v = (float)(0.5 * (c - 1)) + (float)(0.5 + c) * *v;
        }
    d.gamma = randn(stream + 1, BN_C, 1.0f, 0.3f);
    d.beta = randn(stream + 2, BN_C, 0.0f, 0.5f);
    d.running = fnew(2 * BN_C);
    for (int c = 0; c < BN_C; c++) {
        d.running[c] = 0.1f * (float)c - 0.05f;      // old running mean
        d.running[BN_C + c] = 0.75f + 0.5f * (float)c;  // old running var
    }
    d.dy = randn(stream + 3, (size_t)BN_C * BN_M, 0.0f, 1.0f);
    return d;
}

static void bn_free(bn_data *d) {
    free(d->x);
    free(d->gamma);
    free(d->beta);
    free(d->running);
    free(d->dy);
}

// Optimized vs reference.  Both accumulate statistics in double and round
// once to float: mean, invstd and running stats agree to a few float ulps
// (2e-7 relative allows ~3 ulps; the one-pass variance cancels little here,
// |mean| / std <= 1).  The optimized y = x*scale + bias and backward dx run
// in float: ~4 roundings of terms as large as max|y| (or max|dx|), so 1e-6
// relative to the tensor's largest entry (measured <= 1e-7).
#define TOL_BN_STAT 2e-7
#define TOL_BN 1e-6

Test(batchnorm, forward_train_matches_reference) {
    bn_data d = bn_make(10);
    const size_t n = (size_t)BN_C * BN_M;
    float run_ref[2 * BN_C], run_opt[2 * BN_C];
    memcpy(run_ref, d.running, sizeof run_ref);
    memcpy(run_opt, d.running, sizeof run_opt);
    float *y_ref = fnew(n), *y = fnew(n);
    float m_ref[BN_C], is_ref[BN_C], m[BN_C], is[BN_C];
    poison(y, n);
    fpt_bn_forward_train_ref(BN_C, BN_M, d.x, d.gamma, d.beta, run_ref, m_ref, is_ref, y_ref);
    fpt_bn_forward_train(BN_C, BN_M, d.x, d.gamma, d.beta, run_opt, m, is, y);
    double e = rel_err_inf_ff(y, y_ref, n, 1e-30);
    measured("bn forward_train optimized vs reference: y %.3g (tol %.1g)", e, TOL_BN);
    cr_expect_leq(e, TOL_BN, "y: rel err %.3g", e);
    for (int c = 0; c < BN_C; c++) {
        cr_expect_leq(fabs(m[c] - m_ref[c]), TOL_BN_STAT * fabs(m_ref[c]) + 1e-7,
                      "mean[%d] %.9g vs ref %.9g", c, m[c], m_ref[c]);
        cr_expect_leq(fabs(is[c] - is_ref[c]), TOL_BN_STAT * fabs(is_ref[c]),
                      "invstd[%d] %.9g vs ref %.9g", c, is[c], is_ref[c]);
    }
    for (int i = 0; i < 2 * BN_C; i++)
        cr_expect_leq(fabs(run_opt[i] - run_ref[i]), TOL_BN_STAT * fabs(run_ref[i]),
                      "running[%d] %.9g vs ref %.9g", i, run_opt[i], run_ref[i]);
    free(y_ref);
    free(y);
    bn_free(&d);
}

// Running statistics and the normalisation itself against the closed form
// computed here in double: mean, biased var (normalisation) and unbiased var
// (running update), momentum 0.1.  The kernels round to float once at the end
// (or, for y, after ~4 float operations): 1e-6 relative.
Test(batchnorm, train_statistics_closed_form) {
    bn_data d = bn_make(20);
    for (int ref = 0; ref < 2; ref++) {
        float run[2 * BN_C], m[BN_C], is[BN_C], *y = fnew((size_t)BN_C * BN_M);
        memcpy(run, d.running, sizeof run);
        (ref ? fpt_bn_forward_train_ref : fpt_bn_forward_train)(BN_C, BN_M, d.x, d.gamma,
                                                               d.beta, run, m, is, y);
        for (int c = 0; c < BN_C; c++) {
            const float *xc = d.x + c * BN_M;
            double mean = 0.0, var = 0.0;
            for (int i = 0; i < BN_M; i++) mean += xc[i];
            mean /= BN_M;
            for (int i = 0; i < BN_M; i++) var += (xc[i] - mean) * (xc[i] - mean);
            var /= BN_M;
            const double rm = 0.9 * d.running[c] + 0.1 * mean;
            const double rv = 0.9 * d.running[BN_C + c] + 0.1 * var * BN_M / (BN_M - 1);
            const double invstd = 1.0 / sqrt(var + 1e-5);
            const char *k = ref ? "ref" : "opt";
            cr_expect_leq(fabs(m[c] - mean), 1e-6 * (fabs(mean) + 1e-3), "%s mean[%d]", k, c);
            cr_expect_leq(fabs(is[c] - invstd), 1e-6 * invstd, "%s invstd[%d]", k, c);
            cr_expect_leq(fabs(run[c] - rm), 1e-6 * (fabs(rm) + 1e-3),
                          "%s running_mean[%d] %.9g, closed form %.9g", k, c, run[c], rm);
            cr_expect_leq(fabs(run[BN_C + c] - rv), 1e-6 * rv,
                          "%s running_var[%d] %.9g, closed form %.9g", k, c, run[BN_C + c], rv);
            double ymax = 0.0, err = 0.0;
            for (int i = 0; i < BN_M; i++) {
                double want = d.gamma[c] * (xc[i] - mean) * invstd + d.beta[c];
                ymax = fmax(ymax, fabs(want));
                err = fmax(err, fabs(y[c * BN_M + i] - want));
            }
            cr_expect_leq(err, 1e-6 * ymax, "%s y channel %d: error %.3g of %.3g", k, c, err,
                          ymax);
        }
        free(y);
    }
    bn_free(&d);
}

// Evaluation mode: y = gamma (x - rm) / sqrt(rv + 1e-5) + beta, in double
// here; the kernel folds it into float scale and bias: ~4 roundings of terms
// up to max(|x scale|, |bias|) ~ 2 max|y|, so 1e-6 relative to max|y|.
Test(batchnorm, forward_eval_closed_form) {
    bn_data d = bn_make(30);
    const size_t n = (size_t)BN_C * BN_M;
    float *y = fnew(n);
    float run_before[2 * BN_C];
    memcpy(run_before, d.running, sizeof run_before);
    poison(y, n);
    fpt_bn_forward_eval(BN_C, BN_M, d.x, d.gamma, d.beta, d.running, y);
    double *want = malloc(sizeof(double) * n);
    for (int c = 0; c < BN_C; c++)
        for (int i = 0; i < BN_M; i++)
            want[c * BN_M + i] = d.gamma[c] * (d.x[c * BN_M + i] - (double)d.running[c]) /
                                     sqrt((double)d.running[BN_C + c] + 1e-5) +
                                 d.beta[c];
    double e = rel_err_inf(y, want, n, 1e-30);
    measured("bn eval vs closed form: %.3g (tol 1e-6)", e);
    cr_expect_leq(e, 1e-6, "eval y: rel err %.3g", e);
    cr_expect_eq(memcmp(run_before, d.running, sizeof run_before), 0,
                 "evaluation must not change the running statistics");
    free(want);
    free(y);
    bn_free(&d);
}

Test(batchnorm, backward_matches_reference_and_in_place) {
    bn_data d = bn_make(40);
    const size_t n = (size_t)BN_C * BN_M;
    float run[2 * BN_C], m[BN_C], is[BN_C], *y = fnew(n);
    memcpy(run, d.running, sizeof run);
    fpt_bn_forward_train_ref(BN_C, BN_M, d.x, d.gamma, d.beta, run, m, is, y);

    float *dx_ref = fnew(n), *dx = fnew(n);
    float dg_ref[BN_C], db_ref[BN_C], dg[BN_C], db[BN_C];
    fpt_bn_backward_ref(BN_C, BN_M, d.x, d.gamma, m, is, d.dy, dx_ref, dg_ref, db_ref);
    poison(dx, n);
    poison(dg, BN_C);
    poison(db, BN_C);
    fpt_bn_backward(BN_C, BN_M, d.x, d.gamma, m, is, d.dy, dx, dg, db);
    double ex = rel_err_inf_ff(dx, dx_ref, n, 1e-30);
    double eg = rel_err_inf_ff(dg, dg_ref, BN_C, 1e-30);
    double eb = rel_err_inf_ff(db, db_ref, BN_C, 1e-30);
    // dgamma, dbeta: double sums rounded once in both (the optimized one
    // forms x - mean in float first: one more rounding), so 1e-6 as dx.
    measured("bn backward optimized vs reference: dx %.3g dgamma %.3g dbeta %.3g (tol %.1g)", ex,
             eg, eb, TOL_BN);
    cr_expect_leq(ex, TOL_BN, "dx: rel err %.3g", ex);
    cr_expect_leq(eg, TOL_BN, "dgamma: rel err %.3g", eg);
    cr_expect_leq(eb, TOL_BN, "dbeta: rel err %.3g", eb);

    // dx aliasing dy: the same numbers, bit for bit (same arithmetic).
    float *buf = fnew(n), dg2[BN_C], db2[BN_C];
    memcpy(buf, d.dy, sizeof(float) * n);
    fpt_bn_backward(BN_C, BN_M, d.x, d.gamma, m, is, buf, buf, dg2, db2);
    cr_expect_eq(memcmp(buf, dx, sizeof(float) * n), 0, "in-place dx differs");
    cr_expect_eq(memcmp(dg2, dg, sizeof dg), 0, "in-place dgamma differs");
    cr_expect_eq(memcmp(db2, db, sizeof db), 0, "in-place dbeta differs");
    free(buf);
    free(y);
    free(dx);
    free(dx_ref);
    bn_free(&d);
}

// Fused BN + ReLU against its documented reference: the reference BN
// followed by ReLU.  Same tolerances as the unfused kernels (the fused one
// does the same float arithmetic and then clamps).
Test(batchnorm, fused_relu_forward_matches_bn_then_relu) {
    bn_data d = bn_make(60);
    const size_t n = (size_t)BN_C * BN_M;
    float run_ref[2 * BN_C], run[2 * BN_C], m_ref[BN_C], is_ref[BN_C], m[BN_C], is[BN_C];
    memcpy(run_ref, d.running, sizeof run_ref);
    memcpy(run, d.running, sizeof run);
    float *y_ref = fnew(n), *y = fnew(n);
    fpt_bn_forward_train_ref(BN_C, BN_M, d.x, d.gamma, d.beta, run_ref, m_ref, is_ref, y_ref);
    fpt_relu_forward(n, y_ref, y_ref);
    poison(y, n);
    fpt_bn_relu_forward_train(BN_C, BN_M, d.x, d.gamma, d.beta, run, m, is, y);
    double e = rel_err_inf_ff(y, y_ref, n, 1e-30);
    cr_expect_leq(e, TOL_BN, "train: y rel err %.3g", e);
    int zeros = 0;
    for (size_t i = 0; i < n; i++) {
        cr_expect(y[i] >= 0.0f, "train: y[%zu] = %g < 0", i, y[i]);
        zeros += y[i] == 0.0f;
    }
    cr_assert(zeros > (int)n / 5, "test data should exercise the clamp");
    for (int c = 0; c < BN_C; c++) {
        cr_expect_leq(fabs(m[c] - m_ref[c]), TOL_BN_STAT * fabs(m_ref[c]) + 1e-7, "mean[%d]", c);
        cr_expect_leq(fabs(is[c] - is_ref[c]), TOL_BN_STAT * is_ref[c], "invstd[%d]", c);
    }
    for (int i = 0; i < 2 * BN_C; i++)
        cr_expect_leq(fabs(run[i] - run_ref[i]), TOL_BN_STAT * fabs(run_ref[i]), "running[%d]",
                      i);

    // Evaluation: against fpt_bn_forward_eval's closed form, then ReLU.
    double *want = malloc(sizeof(double) * n);
    for (int c = 0; c < BN_C; c++)
        for (int i = 0; i < BN_M; i++) {
            double v = d.gamma[c] * (d.x[c * BN_M + i] - (double)d.running[c]) /
                           sqrt((double)d.running[BN_C + c] + 1e-5) +
                       d.beta[c];
            want[c * BN_M + i] = v > 0.0 ? v : 0.0;
        }
    poison(y, n);
    fpt_bn_relu_forward_eval(BN_C, BN_M, d.x, d.gamma, d.beta, d.running, y);
    e = rel_err_inf(y, want, n, 1e-30);
    cr_expect_leq(e, 1e-6, "eval: y rel err %.3g", e);
    free(want);
    free(y_ref);
    free(y);
    bn_free(&d);
}

// Fused ReLU + BN backward: as the reference BN backward fed with
// dy * (relu_out > 0).  Also in place (dx aliasing dy), bitwise.
Test(batchnorm, fused_relu_backward_matches_masked_reference) {
    bn_data d = bn_make(70);
    const size_t n = (size_t)BN_C * BN_M;
    float run[2 * BN_C], m[BN_C], is[BN_C], *out = fnew(n), *masked = fnew(n);
    memcpy(run, d.running, sizeof run);
    fpt_bn_relu_forward_train(BN_C, BN_M, d.x, d.gamma, d.beta, run, m, is, out);
    for (size_t i = 0; i < n; i++) masked[i] = out[i] > 0.0f ? d.dy[i] : 0.0f;
    float *dx_ref = fnew(n), *dx = fnew(n), dg_ref[BN_C], db_ref[BN_C], dg[BN_C], db[BN_C];
    fpt_bn_backward_ref(BN_C, BN_M, d.x, d.gamma, m, is, masked, dx_ref, dg_ref, db_ref);
    poison(dx, n);
    fpt_bn_relu_backward(BN_C, BN_M, d.x, out, d.gamma, m, is, d.dy, dx, dg, db);
    // The incoming gradient is masked in place (the model reuses it for the
    // residual shortcut): it must now equal the reference's masked dy.
    cr_expect_eq(memcmp(d.dy, masked, sizeof(float) * n), 0, "dy not masked in place");
    double ex = rel_err_inf_ff(dx, dx_ref, n, 1e-30);
    double eg = rel_err_inf_ff(dg, dg_ref, BN_C, 1e-30);
    double eb = rel_err_inf_ff(db, db_ref, BN_C, 1e-30);
    cr_expect_leq(ex, TOL_BN, "dx: rel err %.3g", ex);
    cr_expect_leq(eg, TOL_BN, "dgamma: rel err %.3g", eg);
    cr_expect_leq(eb, TOL_BN, "dbeta: rel err %.3g", eb);
    float *buf = fnew(n), dg2[BN_C], db2[BN_C];
    memcpy(buf, d.dy, sizeof(float) * n);
    fpt_bn_relu_backward(BN_C, BN_M, d.x, out, d.gamma, m, is, buf, buf, dg2, db2);
    cr_expect_eq(memcmp(buf, dx, sizeof(float) * n), 0, "in-place dx differs");
    cr_expect_eq(memcmp(dg2, dg, sizeof dg), 0, "in-place dgamma differs");
    cr_expect_eq(memcmp(db2, db, sizeof db), 0, "in-place dbeta differs");
    free(buf);
    free(out);
    free(masked);
    free(dx_ref);
    free(dx);
    bn_free(&d);
}

static double bn_loss(const bn_data *d, const float *r, float *y) {
    float run[2 * BN_C], m[BN_C], is[BN_C];
    memcpy(run, d->running, sizeof run);
    fpt_bn_forward_train_ref(BN_C, BN_M, d->x, d->gamma, d->beta, run, m, is, y);
    return dot_fd(y, r, (size_t)BN_C * BN_M);
}

// The reference backward against central differences of the training-mode
// forward, which depends on x also through the batch mean and variance.
// Step h = 2^-5 on inputs of spread ~1: truncation error h^2/6 * |L'''|, with
// |L'''| ~ gamma / (sqrt(M) std^2) ~ 0.2, is ~3e-5; the float rounding of each
// of the 108 outputs y (~1 in size) perturbs L by ~sqrt(108) * 6e-8 = 6e-7
// (worst case 108 * 6e-8 = 6.5e-6), divided by 2h = 1/16: ~1e-5 (worst 1e-4).
// Gradients are O(1), so 1e-3 relative to the largest leaves ~10x headroom
// over the worst case (measured: 5e-5 for dx, 5e-7 for dgamma/dbeta).
// Dropping the mean or the variance term of dx changes it by ~mean(dy) or
// ~mean(dy xhat) ~ 1/sqrt(M) = 0.17.
#define TOL_BN_FD 1e-3

Test(batchnorm, reference_backward_matches_finite_differences) {
    bn_data d = bn_make(50);
    const size_t n = (size_t)BN_C * BN_M;
    float run[2 * BN_C], m[BN_C], is[BN_C], *y = fnew(n);
    memcpy(run, d.running, sizeof run);
    fpt_bn_forward_train_ref(BN_C, BN_M, d.x, d.gamma, d.beta, run, m, is, y);
    float *dx = fnew(n), dg[BN_C], db[BN_C];
    fpt_bn_backward_ref(BN_C, BN_M, d.x, d.gamma, m, is, d.dy, dx, dg, db);

    const float h = 1.0f / 32.0f;
    double *fx = malloc(sizeof(double) * n), fg[BN_C], fb[BN_C];
    float *params[3] = {d.x, d.gamma, d.beta};
    double *fds[3] = {fx, fg, fb};
    const size_t sizes[3] = {n, BN_C, BN_C};
    for (int which = 0; which < 3; which++) {
        float *p = params[which];
        for (size_t i = 0; i < sizes[which]; i++) {
            const float p0 = p[i];
            p[i] = p0 + h;
            const double hp = (double)p[i] - p0;
            const double lp = bn_loss(&d, d.dy, y);
            p[i] = p0 - h;
            const double hm = (double)p0 - p[i];
            const double lm = bn_loss(&d, d.dy, y);
            p[i] = p0;
            fds[which][i] = (lp - lm) / (hp + hm);
        }
    }
    double ex = rel_err_inf(dx, fx, n, 1e-30);
    double eg = rel_err_inf(dg, fg, BN_C, 1e-30);
    double eb = rel_err_inf(db, fb, BN_C, 1e-30);
    measured("bn ref backward vs FD: dx %.3g dgamma %.3g dbeta %.3g (tol %.1g)", ex, eg, eb,
             TOL_BN_FD);
    cr_expect_leq(ex, TOL_BN_FD, "dx vs finite differences: %.3g", ex);
    cr_expect_leq(eg, TOL_BN_FD, "dgamma vs finite differences: %.3g", eg);
    cr_expect_leq(eb, TOL_BN_FD, "dbeta vs finite differences: %.3g", eb);
    free(fx);
    free(dx);
    free(y);
    bn_free(&d);
}

// ============================================================================
// linear
// ============================================================================

#define LN 3
#define LIN 7
#define LOUT 5

// Forward and backward against loops in double.  sgemm sums K = 7 (forward
// and dx) or N = 3 (dw) float products: worst case ~K*u*2 = 1e-6 relative to
// the tensor's largest entry; 2e-6 allows that bound.
#define TOL_LIN 2e-6

Test(linear, forward_backward_match_loops) {
    float *x = randn(70, LN * LIN, 0.0f, 1.0f), *w = randn(71, LOUT * LIN, 0.0f, 0.4f);
    float *b = randn(72, LOUT, 0.0f, 0.4f), *dy = randn(73, LN * LOUT, 0.0f, 1.0f);
    float y[LN * LOUT], dx[LN * LIN], dw[LOUT * LIN], db[LOUT];
    double wy[LN * LOUT], wdx[LN * LIN], wdw[LOUT * LIN], wdb[LOUT];
    poison(y, LN * LOUT);
    poison(dx, LN * LIN);
    poison(dw, LOUT * LIN);
    poison(db, LOUT);
    fpt_linear_forward(LN, LIN, LOUT, x, w, b, y);
    fpt_linear_backward(LN, LIN, LOUT, x, w, dy, dx, dw, db);
    for (int n = 0; n < LN; n++)
        for (int o = 0; o < LOUT; o++) {
            double s = b[o];
            for (int i = 0; i < LIN; i++) s += (double)x[n * LIN + i] * w[o * LIN + i];
            wy[n * LOUT + o] = s;
        }
    for (int n = 0; n < LN; n++)
        for (int i = 0; i < LIN; i++) {
            double s = 0.0;
            for (int o = 0; o < LOUT; o++) s += (double)dy[n * LOUT + o] * w[o * LIN + i];
            wdx[n * LIN + i] = s;
        }
    for (int o = 0; o < LOUT; o++) {
        double sb = 0.0;
        for (int n = 0; n < LN; n++) sb += dy[n * LOUT + o];
        wdb[o] = sb;
        for (int i = 0; i < LIN; i++) {
            double s = 0.0;
            for (int n = 0; n < LN; n++) s += (double)dy[n * LOUT + o] * x[n * LIN + i];
            wdw[o * LIN + i] = s;
        }
    }
    const double ey = rel_err_inf(y, wy, LN * LOUT, 1e-30);
    const double ex = rel_err_inf(dx, wdx, LN * LIN, 1e-30);
    const double ew = rel_err_inf(dw, wdw, LOUT * LIN, 1e-30);
    const double eb = rel_err_inf(db, wdb, LOUT, 1e-30);
    measured("linear vs loops: y %.3g dx %.3g dw %.3g db %.3g (tol %.1g)", ey, ex, ew, eb,
             TOL_LIN);
    cr_expect_leq(ey, TOL_LIN, "y: %.3g", ey);
    cr_expect_leq(ex, TOL_LIN, "dx: %.3g", ex);
    cr_expect_leq(ew, TOL_LIN, "dw: %.3g", ew);
    cr_expect_leq(eb, TOL_LIN, "db: %.3g", eb);
    free(x);
    free(w);
    free(b);
    free(dy);
}

// Backward against central differences of the forward with L = sum(y r).  L
// is linear in x, w and b, so there is no truncation error; with h = 0.5 the
// float rounding of the 15 outputs (~2 in size) gives at most
// 15 * 6e-8 * 2 * 2 / 1 ~ 4e-6 absolute on gradients of order 1: 1e-5.
Test(linear, backward_matches_finite_differences) {
    float *x = randn(80, LN * LIN, 0.0f, 1.0f), *w = randn(81, LOUT * LIN, 0.0f, 0.4f);
    float *b = randn(82, LOUT, 0.0f, 0.4f), *r = randn(83, LN * LOUT, 0.0f, 1.0f);
    float y[LN * LOUT], dx[LN * LIN], dw[LOUT * LIN], db[LOUT];
    fpt_linear_backward(LN, LIN, LOUT, x, w, r, dx, dw, db);
    float *params[3] = {x, w, b}, *grads[3] = {dx, dw, db};
    const size_t sizes[3] = {LN * LIN, LOUT * LIN, LOUT};
    const char *names[3] = {"dx", "dw", "db"};
    const float h = 0.5f;
    for (int which = 0; which < 3; which++) {
        double fd[LOUT * LIN];
        float *p = params[which];
        for (size_t i = 0; i < sizes[which]; i++) {
            const float p0 = p[i];
            p[i] = p0 + h;
            const double hp = (double)p[i] - p0;
            fpt_linear_forward(LN, LIN, LOUT, x, w, b, y);
            const double lp = dot_fd(y, r, LN * LOUT);
            p[i] = p0 - h;
            const double hm = (double)p0 - p[i];
            fpt_linear_forward(LN, LIN, LOUT, x, w, b, y);
            const double lm = dot_fd(y, r, LN * LOUT);
            p[i] = p0;
            fd[i] = (lp - lm) / (hp + hm);
        }
        double e = rel_err_inf(grads[which], fd, sizes[which], 1e-30);
        measured("linear %s vs FD: %.3g (tol 1e-5)", names[which], e);
        cr_expect_leq(e, 1e-5, "%s vs finite differences: %.3g", names[which], e);
    }
    free(x);
    free(w);
    free(b);
    free(r);
}

// ============================================================================
// global average pool
// ============================================================================

Test(avgpool, forward_backward_match_loops) {
    enum { C = 3, N = 2, HW = 5 };
    float *x = randn(90, C * N * HW, 1.0f, 2.0f), *dy = randn(91, N * C, 0.0f, 1.0f);
    float y[N * C], dx[C * N * HW];
    poison(y, N * C);
    poison(dx, C * N * HW);
    fpt_avgpool_forward(C, N, HW, x, y);
    fpt_avgpool_backward(C, N, HW, dy, dx);
    for (int c = 0; c < C; c++)
        for (int n = 0; n < N; n++) {
            double s = 0.0;
            for (int i = 0; i < HW; i++) s += x[(c * N + n) * HW + i];
            // x is (C, N, HW), y is (N, C).  A double sum rounded once to
            // float: half an ulp, 6e-8 relative; 1e-6 allows a float sum.
            const double want = s / HW;
            cr_expect_leq(fabs(y[n * C + c] - want), 1e-6 * (fabs(want) + 1.0),
                          "y[%d,%d] %.9g vs %.9g", n, c, y[n * C + c], want);
            for (int i = 0; i < HW; i++) {
                const double g = (double)dy[n * C + c] / HW;
                cr_expect_leq(fabs(dx[(c * N + n) * HW + i] - g), 1e-6 * (fabs(g) + 1e-3),
                              "dx[%d,%d,%d]", c, n, i);
            }
        }
    free(x);
    free(dy);
}

// ============================================================================
// softmax cross-entropy
// ============================================================================

// Hand example: logits [1, 2, 3], label 2:
//   loss = log(e + e^2 + e^3) - 3 = log(1 + e^-1 + e^-2) = 0.40760596444438...
// and the gradient is softmax - onehot = [e^-2, e^-1, 1]/(1+e^-1+e^-2) - [0,0,1].
Test(softmax_xent, hand_example) {
    const float z[3] = {1.0f, 2.0f, 3.0f};
    const int32_t lab[1] = {2};
    float d[3];
    int correct = -1;
    const double want = log(exp(1.0) + exp(2.0) + exp(3.0)) - 3.0;
    cr_assert_leq(fabs(want - 0.40760596444438), 1e-13, "the test's own closed form");
    double loss = fpt_softmax_xent(1, 3, z, lab, d, &correct);
    // computed in double throughout: ~1e-16
    cr_expect_leq(fabs(loss - 0.40760596444438), 1e-12, "loss %.17g", loss);
    cr_expect_eq(correct, 1);
    const double s = 1.0 + exp(-1.0) + exp(-2.0);
    const double g[3] = {exp(-2.0) / s, exp(-1.0) / s, 1.0 / s - 1.0};
    for (int k = 0; k < 3; k++)   // float output: half an ulp
        cr_expect_leq(fabs(d[k] - g[k]), 1e-7, "dlogits[%d] %.9g vs %.9g", k, d[k], g[k]);

    // Shift invariance, and no overflow at large logits (needs the max shift).
    const float zbig[3] = {1000.0f, 1001.0f, 1002.0f};
    loss = fpt_softmax_xent(1, 3, zbig, lab, NULL, NULL);
    cr_expect_leq(fabs(loss - 0.40760596444438), 1e-12, "loss at logits ~1000: %.17g", loss);
}

// A batch: mean of the per-row losses (written out here), the top-1 count,
// and the gradient against central differences of the returned loss.
Test(softmax_xent, batch_loss_gradient_and_correct) {
    enum { N = 4, K = 5 };
    float *z = randn(95, N * K, 0.0f, 2.0f);
    // Row argmaxes forced: rows 0 and 2 correct, rows 1 and 3 wrong.
    const int32_t lab[N] = {2, 1, 4, 3};
    const int arg[N] = {2, 0, 4, 1};
    for (int n = 0; n < N; n++) z[n * K + arg[n]] = 7.0f + (float)n;
    // A close runner-up before the argmax: top-1 must compare exactly.
    z[2 * K + 1] = z[2 * K + 4] - 1e-3f;
    float d[N * K];
    int correct = -1;
    poison(d, N * K);
    double loss = fpt_softmax_xent(N, K, z, lab, d, &correct);
    cr_expect_eq(correct, 2, "correct = %d, expected 2", correct);
    double want = 0.0;
    for (int n = 0; n < N; n++) {
        double se = 0.0;
        for (int k = 0; k < K; k++) se += exp((double)z[n * K + k]);
        want += log(se) - z[n * K + lab[n]];
    }
    want /= N;
    cr_expect_leq(fabs(loss - want), 1e-12 * want, "loss %.17g vs %.17g", loss, want);

    // The loss is returned in double, so with h = 2^-10 the roundoff term
    // ~1e-16 / h is negligible and the truncation h^2/6 |L'''| (|L'''| <=
    // 1/N) is ~4e-8; the float gradient adds half an ulp.  So 1e-6 relative
    // to the largest gradient entry (~1/N).
    double fd[N * K];
    const float h = 1.0f / 1024.0f;
    for (int i = 0; i < N * K; i++) {
        const float p0 = z[i];
        z[i] = p0 + h;
        const double hp = (double)z[i] - p0;
        const double lp = fpt_softmax_xent(N, K, z, lab, NULL, NULL);
        z[i] = p0 - h;
        const double hm = (double)p0 - z[i];
        const double lm = fpt_softmax_xent(N, K, z, lab, NULL, NULL);
        z[i] = p0;
        fd[i] = (lp - lm) / (hp + hm);
    }
    double e = rel_err_inf(d, fd, N * K, 1e-30);
    measured("softmax_xent dlogits vs FD: %.3g (tol 1e-6)", e);
    cr_expect_leq(e, 1e-6, "dlogits vs finite differences: %.3g", e);
    free(z);
}

// ============================================================================
// element-wise and layout
// ============================================================================

Test(elementwise, relu_forward_and_backward_use_output_mask) {
    enum { n = 1001 };
    float *x = randn(110, n, 0.0f, 1.0f), *dy = randn(111, n, 0.0f, 1.0f);
    x[0] = 0.0f;    // relu(0) = 0: gradient 0 (PyTorch's convention)
    x[1] = -0.0f;
    float *y = fnew(n), *dx = fnew(n);
    fpt_relu_forward(n, x, y);
    fpt_relu_backward(n, y, dy, dx);
    int pos = 0;
    for (int i = 0; i < n; i++) {
        const float wy = x[i] > 0.0f ? x[i] : 0.0f;
        const float wd = x[i] > 0.0f ? dy[i] : 0.0f;
        pos += x[i] > 0.0f;
        cr_expect(y[i] == wy && !signbit(y[i]), "relu(%g) = %g", x[i], y[i]);
        cr_expect(dx[i] == wd, "drelu at x=%g: %g, expected %g", x[i], dx[i], wd);
    }
    cr_assert(pos > n / 4 && pos < 3 * n / 4, "test data should have both signs");
    // In place (y aliasing x, dx aliasing dy): the same results.
    float *xx = fnew(n), *gg = fnew(n);
    memcpy(xx, x, sizeof(float) * n);
    memcpy(gg, dy, sizeof(float) * n);
    fpt_relu_forward(n, xx, xx);
    fpt_relu_backward(n, xx, gg, gg);
    cr_expect_eq(memcmp(xx, y, sizeof(float) * n), 0, "in-place relu forward differs");
    cr_expect_eq(memcmp(gg, dx, sizeof(float) * n), 0, "in-place relu backward differs");
    free(x);
    free(dy);
    free(y);
    free(dx);
    free(xx);
    free(gg);
}

Test(elementwise, add_inplace) {
    enum { n = 333 };
    float *a = randn(120, n, 0.0f, 1.0f), *b = randn(121, n, 0.0f, 1.0f), *s = fnew(n);
    memcpy(s, a, sizeof(float) * n);
    fpt_add_inplace(n, s, b);
    for (int i = 0; i < n; i++)   // one float addition, exactly as here
        cr_expect(s[i] == a[i] + b[i], "y[%d] = %g, expected %g", i, s[i], a[i] + b[i]);
    free(a);
    free(b);
    free(s);
}

Test(elementwise, add_relu_inplace) {
    enum { n = 333 };
    float *a = randn(122, n, 0.0f, 1.0f), *b = randn(123, n, 0.0f, 1.0f), *s = fnew(n);
    memcpy(s, a, sizeof(float) * n);
    fpt_add_relu_inplace(n, s, b);
    for (int i = 0; i < n; i++) {   // one float addition, then the clamp: exact
        const float v = a[i] + b[i], want = v > 0.0f ? v : 0.0f;
        cr_expect(s[i] == want && !signbit(s[i]), "y[%d] = %g, expected %g", i, s[i], want);
    }
    free(a);
    free(b);
    free(s);
}

Test(layout, nchw_to_cnhw_transposes) {
    enum { N = 3, C = 4, HW = 5 };
    float x[N * C * HW], y[C * N * HW];
    for (int i = 0; i < N * C * HW; i++) x[i] = (float)i;   // x[n][c][p] = (n*C + c)*HW + p
    poison(y, C * N * HW);
    fpt_nchw_to_cnhw(x, y, N, C, HW);
    for (int c = 0; c < C; c++)
        for (int n = 0; n < N; n++)
            for (int p = 0; p < HW; p++)
                cr_expect_eq(y[(c * N + n) * HW + p], (float)((n * C + c) * HW + p),
                             "y[c=%d][n=%d][%d]", c, n, p);
}
