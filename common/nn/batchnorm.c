// batchnorm.c — BatchNorm2d forward (training and evaluation) and backward,
// with a two-pass reference beside the fused kernels (see layers.h).
//
// Shapes: x, y, dy, dx (C, M) with M = N*H*W (channel-major activations);
// gamma, beta, save_mean, save_invstd, dgamma, dbeta (C); running (2, C).
// Statistics are accumulated in double: M reaches 131072 at batch 128, where
// a float sum would lose ~4 digits.
#include "nn/layers.h"

#include <math.h>

#include "base/simd.h"

// Per-channel sums: blocks of BLOCK elements in LANES float lanes, block sums
// in double (see channel_moments).
#define LANES 16
#define BLOCK 256

// Sum and sum of squares of (x - shift) over one channel.  Centred on a
// sample so the variance does not cancel catastrophically.  Blocks of BLOCK
// elements are summed in float, in LANES independent vector lanes (fast,
// and only 16 terms per lane: error ~1e-7 relative), and the block sums
// are added in double.  The order depends only on M, not on threads.
FPT_SIMD_CLONES
static void channel_moments(size_t M, const float *x, float shift, double *s, double *ss) {
    double ds = 0.0, dss = 0.0;
    size_t i = 0;
    for (; i + BLOCK <= M; i += BLOCK) {
        float a[LANES] = {0}, b[LANES] = {0};
        for (size_t j = 0; j < BLOCK; j += LANES)
            for (int l = 0; l < LANES; l++) {
                float d = x[i + j + l] - shift;
                a[l] += d;
                b[l] += d * d;
            }
        for (int l = 0; l < LANES; l++) {
            ds += a[l];
            dss += b[l];
        }
    }
    for (; i < M; i++) {
        double d = (double)(x[i] - shift);
        ds += d;
        dss += d * d;
    }
    *s = ds;
    *ss = dss;
}

// y = x * scale + bias over one channel, optionally followed by ReLU.
FPT_SIMD_CLONES
static void apply(size_t M, const float *x, float scale, float bias, int relu, float *y) {
    if (relu) {
        for (size_t i = 0; i < M; i++) {
            float v = x[i] * scale + bias;
            y[i] = v > 0.0f ? v : 0.0f;
        }
    } else {
        for (size_t i = 0; i < M; i++) y[i] = x[i] * scale + bias;
    }
}

static inline double unbiased(double var, size_t M) {
    return M > 1 ? var * (double)M / (double)(M - 1) : var;
}

static void bn_train(int C, size_t M, const float *x, const float *gamma, const float *beta,
                     float *running, float *save_mean, float *save_invstd, float *y, int relu) {
    #pragma omp parallel for schedule(static) if ((size_t)C * M >= FPT_PAR_MIN_WORK)
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * M;
        float *yc = y + (size_t)c * M;
        double s, ss;
        const float shift = xc[0];
        channel_moments(M, xc, shift, &s, &ss);
        double mean = shift + s / (double)M;
        double var = ss / (double)M - (s / (double)M) * (s / (double)M);
        if (var < 0.0) var = 0.0;
        double invstd = 1.0 / sqrt(var + FPT_BN_EPS);
        save_mean[c] = (float)mean;
        save_invstd[c] = (float)invstd;
        running[c] = (float)((1.0 - FPT_BN_MOMENTUM) * running[c] + FPT_BN_MOMENTUM * mean);
        running[C + c] = (float)((1.0 - FPT_BN_MOMENTUM) * running[C + c] +
                                 FPT_BN_MOMENTUM * unbiased(var, M));
        const float scale = (float)(gamma[c] * invstd);
        const float bias = (float)(beta[c] - mean * gamma[c] * invstd);
        apply(M, xc, scale, bias, relu, yc);
    }
}

void fpt_bn_forward_train(int C, size_t M, const float *x, const float *gamma,
                          const float *beta, float *running, float *save_mean,
                          float *save_invstd, float *y) {
    bn_train(C, M, x, gamma, beta, running, save_mean, save_invstd, y, 0);
}

void fpt_bn_relu_forward_train(int C, size_t M, const float *x, const float *gamma,
                               const float *beta, float *running, float *save_mean,
                               float *save_invstd, float *y) {
    bn_train(C, M, x, gamma, beta, running, save_mean, save_invstd, y, 1);
}

static void bn_eval(int C, size_t M, const float *x, const float *gamma, const float *beta,
                    const float *running, float *y, int relu) {
    #pragma omp parallel for schedule(static) if ((size_t)C * M >= FPT_PAR_MIN_WORK)
    for (int c = 0; c < C; c++) {
        double invstd = 1.0 / sqrt((double)running[C + c] + FPT_BN_EPS);
        const float scale = (float)(gamma[c] * invstd);
        const float bias = (float)(beta[c] - running[c] * gamma[c] * invstd);
        apply(M, x + (size_t)c * M, scale, bias, relu, y + (size_t)c * M);
    }
}

void fpt_bn_forward_eval(int C, size_t M, const float *x, const float *gamma,
                         const float *beta, const float *running, float *y) {
    bn_eval(C, M, x, gamma, beta, running, y, 0);
}

void fpt_bn_relu_forward_eval(int C, size_t M, const float *x, const float *gamma,
                              const float *beta, const float *running, float *y) {
    bn_eval(C, M, x, gamma, beta, running, y, 1);
}

// With xhat = (x - mean) * invstd and y = gamma * xhat + beta:
//   dbeta  = sum dy,   dgamma = sum dy * xhat,
//   dx     = gamma * invstd * (dy - dbeta/M - xhat * dgamma/M).
// Sums of g and g * (x - mean) over one channel, g = dy masked by relu_out
// (when not NULL: the ReLU's backward, also written back into dy).  Blocked
// as channel_moments.
FPT_SIMD_CLONES
static void channel_grad_sums(size_t M, const float *x, float mean, const float *relu_out,
                              float *dy, double *sdy, double *sdyx) {
    double sa = 0.0, sb = 0.0;
    size_t i = 0;
    if (relu_out) {
        for (size_t k = 0; k < M; k++) dy[k] = relu_out[k] > 0.0f ? dy[k] : 0.0f;
    }
    for (; i + BLOCK <= M; i += BLOCK) {
        float a[LANES] = {0}, b[LANES] = {0};
        for (size_t j = 0; j < BLOCK; j += LANES)
            for (int l = 0; l < LANES; l++) {
                float g = dy[i + j + l];
                a[l] += g;
                b[l] += g * (x[i + j + l] - mean);
            }
        for (int l = 0; l < LANES; l++) {
            sa += a[l];
            sb += b[l];
        }
    }
    for (; i < M; i++) {
        sa += dy[i];
        sb += (double)dy[i] * (double)(x[i] - mean);
    }
    *sdy = sa;
    *sdyx = sb;
}

// dx = k * (dy - a - (x - mean) * b) over one channel (dx may alias dy).
FPT_SIMD_CLONES
static void channel_grad_apply(size_t M, const float *x, const float *dy, float mean, float k,
                               float a, float b, float *dx) {
    for (size_t i = 0; i < M; i++) dx[i] = k * (dy[i] - a - (x[i] - mean) * b);
}

static void bn_backward(int C, size_t M, const float *x, const float *relu_out,
                        const float *gamma, const float *save_mean, const float *save_invstd,
                        float *dy, float *dx, float *dgamma, float *dbeta) {
    #pragma omp parallel for schedule(static) if ((size_t)C * M >= FPT_PAR_MIN_WORK)
    for (int c = 0; c < C; c++) {
        const size_t off = (size_t)c * M;
        const float *xc = x + off;
        float *dyc = dy + off, *dxc = dx + off;
        const float mean = save_mean[c], invstd = save_invstd[c];
        double sdy, sdyx;
        channel_grad_sums(M, xc, mean, relu_out ? relu_out + off : NULL, dyc, &sdy, &sdyx);
        dbeta[c] = (float)sdy;
        dgamma[c] = (float)(sdyx * invstd);
        const float k = gamma[c] * invstd;
        const float a = (float)(sdy / (double)M);
        const float b = (float)(sdyx * invstd * invstd / (double)M);  // dgamma/M * invstd
        channel_grad_apply(M, xc, dyc, mean, k, a, b, dxc);
    }
}

void fpt_bn_backward(int C, size_t M, const float *x, const float *gamma,
                     const float *save_mean, const float *save_invstd,
                     const float *dy, float *dx, float *dgamma, float *dbeta) {
    // Without a mask dy is only read (the cast is safe: nothing writes it).
    bn_backward(C, M, x, NULL, gamma, save_mean, save_invstd, (float *)dy, dx, dgamma, dbeta);
}

void fpt_bn_relu_backward(int C, size_t M, const float *x, const float *relu_out,
                          const float *gamma, const float *save_mean, const float *save_invstd,
                          float *dy, float *dx, float *dgamma, float *dbeta) {
    bn_backward(C, M, x, relu_out, gamma, save_mean, save_invstd, dy, dx, dgamma, dbeta);
}

// ---- references: two passes, everything in double --------------------------

void fpt_bn_forward_train_ref(int C, size_t M, const float *x, const float *gamma,
                              const float *beta, float *running, float *save_mean,
                              float *save_invstd, float *y) {
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * M;
        double mean = 0.0, var = 0.0;
        for (size_t i = 0; i < M; i++) mean += xc[i];
        mean /= (double)M;
        for (size_t i = 0; i < M; i++) var += (xc[i] - mean) * (xc[i] - mean);
        var /= (double)M;
        double invstd = 1.0 / sqrt(var + FPT_BN_EPS);
        for (size_t i = 0; i < M; i++)
            y[(size_t)c * M + i] = (float)(gamma[c] * (xc[i] - mean) * invstd + beta[c]);
        save_mean[c] = (float)mean;
        save_invstd[c] = (float)invstd;
        running[c] = (float)(0.9 * running[c] + 0.1 * mean);
        running[C + c] = (float)(0.9 * running[C + c] + 0.1 * unbiased(var, M));
    }
}

void fpt_bn_backward_ref(int C, size_t M, const float *x, const float *gamma,
                         const float *save_mean, const float *save_invstd,
                         const float *dy, float *dx, float *dgamma, float *dbeta) {
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * M, *dyc = dy + (size_t)c * M;
        double mean = save_mean[c], invstd = save_invstd[c];
        double db = 0.0, dg = 0.0;
        for (size_t i = 0; i < M; i++) {
            db += dyc[i];
            dg += dyc[i] * (xc[i] - mean) * invstd;
        }
        for (size_t i = 0; i < M; i++) {
            double xhat = (xc[i] - mean) * invstd;
            dx[(size_t)c * M + i] =
                (float)(gamma[c] * invstd * (dyc[i] - db / (double)M - xhat * dg / (double)M));
        }
        dgamma[c] = (float)dg;
        dbeta[c] = (float)db;
    }
}
