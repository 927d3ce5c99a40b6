// prof.h — optional per-layer-type timers, for `make bench` (GFLOP/s by layer
// type).  Off by default; when off the cost is one branch per layer call.
#ifndef FPT_PROF_H
#define FPT_PROF_H

#include <time.h>

enum fpt_prof_kind {
    FPT_PROF_CONV_FWD, FPT_PROF_CONV_BWD, FPT_PROF_BN, FPT_PROF_ELEMWISE,
    FPT_PROF_HEAD, FPT_PROF_SGD,
    FPT_PROF_IM2COL,   // part of the conv times above: im2col and col2im only
    FPT_PROF_KINDS
};

typedef struct fpt_prof {
    int enabled;
    double seconds[FPT_PROF_KINDS];
    double flops[FPT_PROF_KINDS];
} fpt_prof;

extern fpt_prof fpt_prof_global;
extern const char *const fpt_prof_names[FPT_PROF_KINDS];

static inline double fpt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Runs the statements in __VA_ARGS__, adding their wall time and `fl`
// floating-point operations to layer type `kind` when profiling is on.
#define FPT_TIMED(kind, fl, ...)                                       \
    do {                                                               \
        double t0_ = fpt_prof_global.enabled ? fpt_now() : 0.0;        \
        __VA_ARGS__;                                                   \
        if (fpt_prof_global.enabled) {                                 \
            fpt_prof_global.seconds[kind] += fpt_now() - t0_;          \
            fpt_prof_global.flops[kind] += (fl);                       \
        }                                                              \
    } while (0)

#endif
