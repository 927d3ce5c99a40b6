// pool_linear.c — the classifier head: global average pool, linear layer and
// softmax cross-entropy (see layers.h for shapes).  These are a negligible
// share of a ResNet's FLOPs, so they are plain loops (they are their own
// reference) except the linear layer's products, which go to sgemm.
#include "nn/layers.h"

#include "base/blas.h"
#include <math.h>
#include <string.h>

void fpt_avgpool_forward(int C, int N, int HW, const float *x, float *y) {
    for (int c = 0; c < C; c++)
        for (int n = 0; n < N; n++) {
            const float *p = x + ((size_t)c * N + n) * HW;
            double s = 0.0;
            for (int i = 0; i < HW; i++) s += p[i];
            y[(size_t)n * C + c] = (float)(s / HW);
        }
}

void fpt_avgpool_backward(int C, int N, int HW, const float *dy, float *dx) {
    for (int c = 0; c < C; c++)
        for (int n = 0; n < N; n++) {
            float g = dy[(size_t)n * C + c] / (float)HW;
            float *p = dx + ((size_t)c * N + n) * HW;
            for (int i = 0; i < HW; i++) p[i] = g;
        }
}

void fpt_linear_forward(int N, int in, int out, const float *x, const float *w,
                        const float *b, float *y) {
    for (int n = 0; n < N; n++) memcpy(y + (size_t)n * out, b, sizeof(float) * out);
    // y (N x out) += x (N x in) . w^T
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out, in, 1.0f, x, in, w, in,
                1.0f, y, out);
}

void fpt_linear_backward(int N, int in, int out, const float *x, const float *w,
                         const float *dy, float *dx, float *dw, float *db) {
    // dw (out x in) = dy^T . x ;  dx (N x in) = dy . w ;  db = column sums of dy
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, N, 1.0f, dy, out, x, in,
                0.0f, dw, in);
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in, out, 1.0f, dy, out, w,
                    in, 0.0f, dx, in);
    for (int o = 0; o < out; o++) {
        double s = 0.0;
        for (int n = 0; n < N; n++) s += dy[(size_t)n * out + o];
        db[o] = (float)s;
    }
}

double fpt_softmax_xent(int N, int K, const float *logits, const int32_t *labels,
                        float *dlogits, int *correct) {
    double total = 0.0;
    int hits = 0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * K;
        int arg = 0;
        for (int k = 1; k < K; k++)
            if (z[k] > z[arg]) arg = k;
        if (arg == labels[n]) hits++;
        // log-sum-exp shifted by the max for stability, in double
        double mx = z[arg], se = 0.0;
        for (int k = 0; k < K; k++) se += exp((double)z[k] - mx);
        double lse = mx + log(se);
        total += lse - z[labels[n]];
        if (dlogits) {
            float *d = dlogits + (size_t)n * K;
            for (int k = 0; k < K; k++)
                d[k] = (float)((exp((double)z[k] - lse) - (k == labels[n])) / N);
        }
    }
    if (correct) *correct = hits;
    return total / N;
}
