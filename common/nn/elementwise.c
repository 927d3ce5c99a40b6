// elementwise.c — ReLU, residual add, layout conversion (see layers.h).
#include "nn/layers.h"
#include "base/simd.h"

#include <string.h>

void fpt_nchw_to_cnhw(const float *x, float *y, int N, int C, int HW) {
    #pragma omp parallel for schedule(static) if ((size_t)C * N * HW >= FPT_PAR_MIN_WORK)
    for (int c = 0; c < C; c++)
        for (int n = 0; n < N; n++)
            memcpy(y + ((size_t)c * N + n) * HW, x + ((size_t)n * C + c) * HW,
                   sizeof(float) * HW);
}

void fpt_relu_forward(size_t n, const float *x, float *y) {
    #pragma omp parallel for schedule(static) if (n >= FPT_PAR_MIN_WORK)
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void fpt_relu_backward(size_t n, const float *y, const float *dy, float *dx) {
    #pragma omp parallel for schedule(static) if (n >= FPT_PAR_MIN_WORK)
    for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void fpt_add_inplace(size_t n, float *y, const float *x) {
    #pragma omp parallel for schedule(static) if (n >= FPT_PAR_MIN_WORK)
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void fpt_add_relu_inplace(size_t n, float *y, const float *x) {
    #pragma omp parallel for schedule(static) if (n >= FPT_PAR_MIN_WORK)
    for (size_t i = 0; i < n; i++) {
        float v = y[i] + x[i];
        y[i] = v > 0.0f ? v : 0.0f;
    }
}
