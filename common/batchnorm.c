// batchnorm.c — BatchNorm2d forward (training and evaluation) and backward,
// with a two-pass reference beside the fused kernels (see layers.h).
//
// Shapes: x, y, dy, dx (C, M) with M = N*H*W (channel-major activations);
// gamma, beta, save_mean, save_invstd, dgamma, dbeta (C); running (2, C).
// Statistics are accumulated in double: M reaches 131072 at batch 128, where
// a float sum would lose ~4 digits.
#include "layers.h"

#include <math.h>

// y = x * scale + bias over one channel, optionally followed by ReLU.
static inline void apply(size_t M, const float *x, float scale, float bias, int relu, float *y) {
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
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * M;
        float *yc = y + (size_t)c * M;
        // One pass for sum and sum of squares, in double, centred on the first
        // element so the subtraction below does not cancel catastrophically.
        const double shift = xc[0];
        double s = 0.0, ss = 0.0;
        for (size_t i = 0; i < M; i++) {
            double d = (double)xc[i] - shift;
            s += d;
            ss += d * d;
        }
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
    #pragma omp parallel for schedule(static)
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
// mask (may be NULL): the ReLU output; where it is 0 the incoming gradient
// is 0 (the ReLU's backward, folded in).
static void bn_backward(int C, size_t M, const float *x, const float *mask, const float *gamma,
                        const float *save_mean, const float *save_invstd, const float *dy,
                        float *dx, float *dgamma, float *dbeta) {
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * M, *dyc = dy + (size_t)c * M;
        const float *mc = mask ? mask + (size_t)c * M : NULL;
        float *dxc = dx + (size_t)c * M;
        const float mean = save_mean[c], invstd = save_invstd[c];
        double sdy = 0.0, sdyx = 0.0;
        if (mc) {
            for (size_t i = 0; i < M; i++) {
                float g = mc[i] > 0.0f ? dyc[i] : 0.0f;
                sdy += g;
                sdyx += (double)g * (double)(xc[i] - mean);
            }
        } else {
            for (size_t i = 0; i < M; i++) {
                sdy += dyc[i];
                sdyx += (double)dyc[i] * (double)(xc[i] - mean);
            }
        }
        dbeta[c] = (float)sdy;
        dgamma[c] = (float)(sdyx * invstd);
        const float k = gamma[c] * invstd;
        const float a = (float)(sdy / (double)M);
        const float b = (float)(sdyx * invstd * invstd / (double)M);  // dgamma/M * invstd
        if (mc) {
            for (size_t i = 0; i < M; i++)
                dxc[i] = k * ((mc[i] > 0.0f ? dyc[i] : 0.0f) - a - (xc[i] - mean) * b);
        } else {
            for (size_t i = 0; i < M; i++) dxc[i] = k * (dyc[i] - a - (xc[i] - mean) * b);
        }
    }
}

void fpt_bn_backward(int C, size_t M, const float *x, const float *gamma,
                     const float *save_mean, const float *save_invstd,
                     const float *dy, float *dx, float *dgamma, float *dbeta) {
    bn_backward(C, M, x, NULL, gamma, save_mean, save_invstd, dy, dx, dgamma, dbeta);
}

void fpt_bn_relu_backward(int C, size_t M, const float *x, const float *relu_out,
                          const float *gamma, const float *save_mean, const float *save_invstd,
                          const float *dy, float *dx, float *dgamma, float *dbeta) {
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
