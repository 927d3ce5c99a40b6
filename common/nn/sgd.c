// sgd.c — SGD with momentum and weight decay, and learning-rate schedules.
#include "nn/sgd.h"
#include "base/memory.h"
#include "base/simd.h"

#include <math.h>
#include <string.h>

int fpt_sgd_create(fpt_sgd *opt, size_t n, double momentum, double weight_decay, fpt_err *err) {
    memset(opt, 0, sizeof *opt);
    if (!(momentum >= 0.0 && momentum < 1.0))
        return fpt_fail(err, "momentum %g out of range (expected 0 <= momentum < 1)", momentum);
    if (!(weight_decay >= 0.0 && weight_decay < 1.0))
        return fpt_fail(err, "weight_decay %g out of range (expected 0 <= wd < 1)", weight_decay);
    opt->n = n;
    opt->momentum = momentum;
    opt->weight_decay = weight_decay;
    opt->velocity = fpt_calloc(n, sizeof(float), "SGD momentum buffer", err);
    return opt->velocity ? 0 : -1;
}

void fpt_sgd_free(fpt_sgd *opt) {
    fpt_free(opt->velocity);
    opt->velocity = NULL;
}

void fpt_sgd_reset(fpt_sgd *opt) { memset(opt->velocity, 0, sizeof(float) * opt->n); }

void fpt_sgd_step(fpt_sgd *opt, float *params, const float *grads, double lr) {
    const float mu = (float)opt->momentum, wd = (float)opt->weight_decay, a = (float)lr;
    float *v = opt->velocity;
    const size_t n = opt->n;
    if (mu == 0.0f) {
        #pragma omp parallel for schedule(static) if (n >= FPT_PAR_MIN_WORK)
        for (size_t i = 0; i < n; i++) params[i] -= a * (grads[i] + wd * params[i]);
        return;
    }
    #pragma omp parallel for schedule(static) if (n >= FPT_PAR_MIN_WORK)
    for (size_t i = 0; i < n; i++) {
        float g = grads[i] + wd * params[i];
        v[i] = mu * v[i] + g;
        params[i] -= a * v[i];
    }
}

int fpt_lr_check(const fpt_lr_schedule *s, fpt_err *err) {
    if (!(s->base > 0.0 && s->base <= 100.0))
        return fpt_fail(err, "learning rate %g out of range (expected 0 < lr <= 100)", s->base);
    switch (s->kind) {
    case FPT_LR_CONSTANT:
        return 0;
    case FPT_LR_STEP:
        if (s->step_size < 1)
            return fpt_fail(err, "lr step_size %d must be >= 1 epoch", s->step_size);
        if (!(s->gamma > 0.0 && s->gamma <= 1.0))
            return fpt_fail(err, "lr gamma %g out of range (expected 0 < gamma <= 1)", s->gamma);
        return 0;
    case FPT_LR_COSINE:
    case FPT_LR_SGDR:
        if (!(s->eta_min >= 0.0 && s->eta_min < s->base))
            return fpt_fail(err, "lr eta_min %g out of range (expected 0 <= eta_min < lr)",
                            s->eta_min);
        if (s->kind == FPT_LR_COSINE && s->t_max < 1)
            return fpt_fail(err, "lr t_max %d must be >= 1 epoch", s->t_max);
        if (s->kind == FPT_LR_SGDR && (s->t0 < 1 || s->t_mult < 1))
            return fpt_fail(err, "sgdr t0 %d and t_mult %d must be >= 1", s->t0, s->t_mult);
        return 0;
    }
    return fpt_fail(err, "unknown learning-rate schedule %d", (int)s->kind);
}

static double cosine(double base, double eta_min, double t, double period) {
    return eta_min + (base - eta_min) * (1.0 + cos(M_PI * t / period)) / 2.0;
}

double fpt_lr_at(const fpt_lr_schedule *s, int epoch) {
    switch (s->kind) {
    case FPT_LR_CONSTANT:
        return s->base;
    case FPT_LR_STEP:
        return s->base * pow(s->gamma, epoch / s->step_size);
    case FPT_LR_COSINE:
        return cosine(s->base, s->eta_min, epoch, s->t_max);
    case FPT_LR_SGDR: {
        long t_cur = epoch, t_i = s->t0;
        while (t_cur >= t_i) {   // walk whole cycles; at most log(epoch) for t_mult >= 2
            t_cur -= t_i;
            t_i *= s->t_mult;
        }
        return cosine(s->base, s->eta_min, (double)t_cur, (double)t_i);
    }
    }
    return s->base;
}
