// check.h — comparison helpers shared by the tests.
#ifndef FPT_CHECK_H
#define FPT_CHECK_H

#include <stddef.h>

#include "nn/backend.h"

// The (backend, precision) pairs that tests of the network run on: every
// backend built, fp32; the caller loops over the first *n of out[4].
typedef struct test_backend {
    fpt_backend backend;
    fpt_precision precision;
} test_backend;
int test_backends_fp32(test_backend out[4]);
// The same plus (onednn, bf16) when this CPU can run it.
int test_backends_all(test_backend out[4]);

// max_i |got_i - want_i| / max(max_i |want_i|, floor): the error relative to
// the scale of the reference tensor.  Element-wise relative error is the
// wrong measure for gradients, whose small entries come from cancellation.
double rel_err_inf(const float *got, const double *want, size_t n, double floor);

// The same with a float reference (e.g. a _ref kernel's output).
double rel_err_inf_ff(const float *got, const float *want, size_t n, double floor);

// Prints one line to stderr when FPT_TEST_VERBOSE is set in the environment:
// the measured errors behind each tolerance, for re-tuning on new platforms.
void measured(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
