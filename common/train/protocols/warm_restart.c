// warm_restart.c — SGDR warm restarts: the weights are kept; the learning
// rate follows a cosine from the base rate down to eta_min over `period`
// epochs and restarts at every event (Loshchilov & Hutter 2017).  The
// cosine cycle is the period, so the timing must be periodic.  eta_min is
// the learning-rate schedule's floor (the `eta_min` setting).
#include "train/protocols/protocols.h"

#include <math.h>

static int check(const fpt_protocol *p, double lr_base, fpt_err *err) {
    if (p->timing != FPT_TIMING_PERIODIC)
        return fpt_fail(err, "warm_restart needs periodic timing (its cosine cycle is the "
                             "period)");
    if (!(p->eta_min >= 0.0))
        return fpt_fail(err, "eta_min %g out of range (expected >= 0)", p->eta_min);
    if (!isnan(lr_base) && !(p->eta_min < lr_base))
        return fpt_fail(err, "eta_min %g must be below the learning rate %g", p->eta_min,
                        lr_base);
    return 0;
}

// Epoch `epoch` (1-based) is t = epoch - 1 - last_event epochs into the cycle.
static double lr(const fpt_protocol *p, double lr_base, int epoch, int last_event) {
    double t = (double)(epoch - 1 - last_event), T = p->period;
    return p->eta_min + (lr_base - p->eta_min) * (1.0 + cos(M_PI * t / T)) / 2.0;
}

static const fpt_protocol_key key_eta_min = {
    "eta_min", FPT_KEY_DOUBLE, offsetof(fpt_protocol, eta_min), 0, 100, 0, NULL, "eta_min",
    "expected >= 0", "floor of the cosine schedule and of warm restarts", FPT_HASH_V1, 1};

static const fpt_protocol_key *const keys[] = {&key_eta_min, NULL};

const fpt_protocol_def fpt_protocol_warm_restart = {
    .name = "warm_restart",
    .kind = FPT_PROTO_WARM_RESTART,
    .keys = keys,
    .summary = "cosine learning rate restarted at every event (SGDR)",
    .model = FPT_PREDICT_QSS,
    .synth_after = 1,
    .check = check,
    .lr = lr,
};
