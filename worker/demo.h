// demo.h — the quick-start demo run (see demo.c).
#ifndef FPT_DEMO_H
#define FPT_DEMO_H

#include <stdint.h>
#include <stdio.h>

#include "error.h"

typedef struct fpt_demo_options {
    int width, epochs, batch, n_train, n_test;
    double lr;
    float signal;     // template amplitude against unit noise
    uint64_t seed;
} fpt_demo_options;

int fpt_demo_run(const fpt_demo_options *o, FILE *out, fpt_err *err);

#endif
