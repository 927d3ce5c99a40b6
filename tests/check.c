// check.c — see check.h.
#include "check.h"

#include <math.h>

double rel_err_inf(const float *got, const double *want, size_t n, double floor) {
    double scale = floor, err = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(want[i]) > scale) scale = fabs(want[i]);
        double e = fabs((double)got[i] - want[i]);
        if (!(e <= err)) err = e;   // also catches NaN
    }
    return err / scale;
}
