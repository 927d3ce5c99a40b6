// check.c — see check.h.
#include "check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

double rel_err_inf(const float *got, const double *want, size_t n, double floor) {
    double scale = floor, err = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(want[i]) > scale) scale = fabs(want[i]);
        double e = fabs((double)got[i] - want[i]);
        if (isnan(e)) return NAN;   // a NaN anywhere fails every tolerance
        if (e > err) err = e;
    }
    return err / scale;
}

double rel_err_inf_ff(const float *got, const float *want, size_t n, double floor) {
    double scale = floor, err = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (fabs((double)want[i]) > scale) scale = fabs((double)want[i]);
        double e = fabs((double)got[i] - (double)want[i]);
        if (isnan(e)) return NAN;   // a NaN anywhere fails every tolerance
        if (e > err) err = e;
    }
    return err / scale;
}

void measured(const char *fmt, ...) {
    if (!getenv("FPT_TEST_VERBOSE")) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("measured: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int test_backends_fp32(test_backend out[4]) {
    int n = 0;
    out[n++] = (test_backend){FPT_BACKEND_BLAS, FPT_PRECISION_FP32};
    if (fpt_backend_built(FPT_BACKEND_ONEDNN))
        out[n++] = (test_backend){FPT_BACKEND_ONEDNN, FPT_PRECISION_FP32};
    return n;
}

int test_backends_all(test_backend out[4]) {
    int n = test_backends_fp32(out);
    if (fpt_backend_check(FPT_BACKEND_ONEDNN, FPT_PRECISION_BF16, NULL) == 0)
        out[n++] = (test_backend){FPT_BACKEND_ONEDNN, FPT_PRECISION_BF16};
    return n;
}
