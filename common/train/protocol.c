// protocol.c — the perturbation protocols (see protocol.h).
#include "train/protocol.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/memory.h"
#include "base/rng.h"

const fpt_protocol fpt_protocol_defaults = {
    .kind = FPT_PROTO_NONE, .timing = FPT_TIMING_PERIODIC, .period = 20, .prob = 0.05,
    .fraction = 0.2, .shrink = 0.4, .sigma = 0.1, .eta_min = 0.0,
    .variant = FPT_VARIANT_CLEAN,
};

static const char *const proto_names[] = {"none", "reset", "partial_reset", "shrink_perturb",
                                          "warm_restart"};
static const char *const timing_names[] = {"periodic", "geometric"};

const char *fpt_protocol_name(fpt_protocol_kind k) {
    return (unsigned)k < 5 ? proto_names[k] : "?";
}

const char *fpt_timing_name(fpt_timing t) { return (unsigned)t < 2 ? timing_names[t] : "?"; }

const char *fpt_variant_name(fpt_variant v) {
    return v == FPT_VARIANT_CLEAN ? "clean" : v == FPT_VARIANT_STUDY ? "study" : "?";
}

int fpt_protocol_needs_stage_norm(const fpt_protocol *p) {
    return p->kind == FPT_PROTO_SHRINK_PERTURB && p->variant == FPT_VARIANT_STUDY;
}

int fpt_protocol_parse(const char *s, fpt_protocol_kind *out, fpt_err *err) {
    for (int k = 0; k < 5; k++)
        if (strcmp(s, proto_names[k]) == 0) {
            *out = (fpt_protocol_kind)k;
            return 0;
        }
    return fpt_fail(err, "unknown protocol '%s' (expected: none, reset, partial_reset, "
                         "shrink_perturb, warm_restart)", s);
}

int fpt_timing_parse(const char *s, fpt_timing *out, fpt_err *err) {
    for (int k = 0; k < 2; k++)
        if (strcmp(s, timing_names[k]) == 0) {
            *out = (fpt_timing)k;
            return 0;
        }
    return fpt_fail(err, "unknown timing '%s' (expected: periodic, geometric)", s);
}

int fpt_protocol_check(const fpt_protocol *p, fpt_err *err) {
    if ((unsigned)p->kind > FPT_PROTO_WARM_RESTART)
        return fpt_fail(err, "unknown protocol %d", (int)p->kind);
    if ((unsigned)p->variant > FPT_VARIANT_STUDY)
        return fpt_fail(err, "unknown variant %d", (int)p->variant);
    if (p->variant != FPT_VARIANT_CLEAN && p->kind != FPT_PROTO_PARTIAL_RESET &&
        p->kind != FPT_PROTO_SHRINK_PERTURB)
        return fpt_fail(err, "variant %s applies to partial_reset and shrink_perturb only "
                             "(protocol %s has no variants)", fpt_variant_name(p->variant),
                        fpt_protocol_name(p->kind));
    if (p->kind == FPT_PROTO_NONE) return 0;
    if (p->timing == FPT_TIMING_PERIODIC && (p->period < 1 || p->period > 100000))
        return fpt_fail(err, "period %d out of range (expected 1..100000 epochs)", p->period);
    if (p->timing == FPT_TIMING_GEOMETRIC && !(p->prob > 0.0 && p->prob <= 1.0))
        return fpt_fail(err, "probability %g out of range (expected 0 < p <= 1)", p->prob);
    if (p->kind == FPT_PROTO_PARTIAL_RESET && !(p->fraction > 0.0 && p->fraction <= 1.0))
        return fpt_fail(err, "fraction %g out of range (expected 0 < f <= 1)", p->fraction);
    if (p->kind == FPT_PROTO_SHRINK_PERTURB) {
        if (!(p->shrink >= 0.0 && p->shrink <= 1.0))
            return fpt_fail(err, "shrink %g out of range (expected 0 <= lambda <= 1)", p->shrink);
        if (!(p->sigma >= 0.0 && p->sigma <= 10.0))
            return fpt_fail(err, "sigma %g out of range (expected 0 <= sigma <= 10)", p->sigma);
    }
    if (p->kind == FPT_PROTO_WARM_RESTART) {
        if (p->timing != FPT_TIMING_PERIODIC)
            return fpt_fail(err, "warm_restart needs periodic timing (its cosine cycle is the "
                                 "period)");
        if (!(p->eta_min >= 0.0))
            return fpt_fail(err, "eta_min %g out of range (expected >= 0)", p->eta_min);
    }
    return 0;
}

int fpt_protocol_fires(const fpt_protocol *p, uint64_t seed, int epoch) {
    if (p->kind == FPT_PROTO_NONE || epoch < 1) return 0;
    if (p->timing == FPT_TIMING_PERIODIC) return epoch % p->period == 0;
    fpt_rng r;
    fpt_rng_init(&r, seed, FPT_RNG_PERTURB, (uint32_t)epoch);
    return (double)fpt_rng_u32(&r) < p->prob * 4294967296.0;
}

static int eligible(fpt_param_kind k) {
    return k == FPT_PARAM_CONV_W || k == FPT_PARAM_BN_W || k == FPT_PARAM_FC_W;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

float fpt_partial_reset_study_bound(const fpt_param_tensor *t) {
    const int fan_in = t->ndim >= 2 ? t->shape[1] : t->shape[0];
    return 1.0f / sqrtf((float)fan_in);
}

int fpt_partial_reset_select(const fpt_resnet *m, double fraction, fpt_variant variant,
                             uint8_t *chosen, size_t *picked_out, fpt_err *err) {
    memset(chosen, 0, m->n_params);
    *picked_out = 0;
    size_t n = 0;
    for (int t = 0; t < m->n_tensors; t++)
        if (eligible(m->tensors[t].kind)) n += m->tensors[t].size;
    // clean: exactly k = round(f n), the k-th smallest |w| the threshold, ties
    // by position.  study: Python's int() truncates; the threshold is the
    // value at index k and everything <= it is taken.
    const size_t k = variant == FPT_VARIANT_STUDY ? (size_t)(fraction * (double)n)
                                                  : (size_t)llround(fraction * (double)n);
    if (n == 0 || (variant == FPT_VARIANT_CLEAN && k == 0)) return 0;
    float *mag = fpt_calloc(n, sizeof(float), "partial_reset's sort of |w|", err);
    if (!mag) return -1;
    size_t j = 0;
    for (int t = 0; t < m->n_tensors; t++) {
        const fpt_param_tensor *pt = &m->tensors[t];
        if (!eligible(pt->kind)) continue;
        for (size_t i = 0; i < pt->size; i++) mag[j++] = fabsf(m->params[pt->offset + i]);
    }
    qsort(mag, n, sizeof(float), cmp_float);   // O(n log n) once per event: ~1 s at 11M
    size_t picked = 0;
    if (variant == FPT_VARIANT_STUDY) {
        const float thr = mag[k < n ? k : n - 1];
        fpt_free(mag);
        for (int t = 0; t < m->n_tensors; t++) {
            const fpt_param_tensor *pt = &m->tensors[t];
            if (!eligible(pt->kind)) continue;
            for (size_t i = 0; i < pt->size; i++)
                if (fabsf(m->params[pt->offset + i]) <= thr) {
                    chosen[pt->offset + i] = 1;
                    picked++;
                }
        }
        *picked_out = picked;
        return 0;
    }
    // The k-th smallest |w| is the threshold: every |w| below it is chosen,
    // and of those equal to it, the first (k - below) by position.
    const float thr = mag[k - 1];
    size_t below = 0;
    for (size_t i = 0; i < k; i++) below += mag[i] < thr;
    fpt_free(mag);
    size_t ties = k - below;
    for (int t = 0; t < m->n_tensors; t++) {
        const fpt_param_tensor *pt = &m->tensors[t];
        if (!eligible(pt->kind)) continue;
        for (size_t i = 0; i < pt->size; i++) {
            float a = fabsf(m->params[pt->offset + i]);
            if (a < thr || (a == thr && ties > 0)) {
                if (a == thr) ties--;
                chosen[pt->offset + i] = 1;
                picked++;
            }
        }
    }
    *picked_out = picked;
    return 0;
}

// The study variant's fresh values: tensor t of event draw d filled from
// U(-bound_t, bound_t) with the stream a fresh initialisation's tensor t
// would use (stream d*256 + t of FPT_RNG_INIT): the clean variant uses that
// stream for its draw instead, never both.
static void study_uniform_draw(const fpt_resnet *m, uint64_t seed, uint32_t draw, float *out) {
    for (int t = 0; t < m->n_tensors; t++) {
        const fpt_param_tensor *pt = &m->tensors[t];
        if (!eligible(pt->kind)) continue;
        const float b = fpt_partial_reset_study_bound(pt);
        fpt_rng_fill_uniform(seed, FPT_RNG_INIT, draw * 256u + (uint32_t)t, out + pt->offset,
                             pt->size, -b, b);
    }
}

int fpt_protocol_apply(const fpt_protocol *p, fpt_resnet *m, fpt_sgd *opt, uint64_t seed,
                       uint32_t event, float *scratch, uint8_t *chosen, fpt_err *err) {
    const uint32_t draw = event + 1;
    switch (p->kind) {
    case FPT_PROTO_NONE:
    case FPT_PROTO_WARM_RESTART:
        return 0;
    case FPT_PROTO_RESET:
        fpt_resnet_init_params(m, seed, draw, m->params);
        fpt_resnet_init_buffers(m, m->buffers);
        fpt_sgd_reset(opt);
        return 0;
    case FPT_PROTO_PARTIAL_RESET: {
        size_t picked;
        if (fpt_partial_reset_select(m, p->fraction, p->variant, chosen, &picked, err))
            return -1;
        if (p->variant == FPT_VARIANT_STUDY) study_uniform_draw(m, seed, draw, scratch);
        else fpt_resnet_init_params(m, seed, draw, scratch);
        for (size_t i = 0; i < m->n_params; i++)
            if (chosen[i]) m->params[i] = scratch[i];
        if (p->variant == FPT_VARIANT_STUDY) fpt_sgd_reset(opt);   // a new torch.optim.SGD
        return 0;
    }
    case FPT_PROTO_SHRINK_PERTURB: {
        // The study's variant shrinks the stage buffers too: without them it
        // would silently be the clean one.
        if (fpt_protocol_needs_stage_norm(p) && !m->stage_norm)
            return fpt_fail(err, "shrink_perturb variant study needs the network's stage "
                                 "buffers (fpt_resnet_arch.stage_norm)");
        const float lam = (float)p->shrink, sig = (float)p->sigma;
        fpt_resnet_init_params(m, seed, draw, scratch);
        for (size_t i = 0; i < m->n_params; i++)
            m->params[i] = lam * m->params[i] + sig * scratch[i];
        // A fresh network's running statistics are mean 0, var 1 (and, with
        // stage_norm, its stage buffers mean 0, std 1: shrunk alike).
        float *fresh = scratch;   // reuse: n_buffers < n_params
        fpt_resnet_init_buffers(m, fresh);
        for (size_t i = 0; i < m->n_buffers; i++)
            m->buffers[i] = lam * m->buffers[i] + sig * fresh[i];
        fpt_sgd_reset(opt);
        return 0;
    }
    }
    return fpt_fail(err, "unknown protocol %d", (int)p->kind);
}
