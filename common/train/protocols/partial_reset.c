// partial_reset.c — partial resetting: the fraction f of the weights with
// the smallest |w| (one global threshold over conv weights, BN scales and
// the linear weight) re-drawn from their initial distribution; optimizer
// state kept.  Variant study: as the study's code does it (protocol.h).
#include "train/protocols/protocols.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/memory.h"
#include "base/rng.h"

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

static int apply(const fpt_protocol *p, fpt_resnet *m, fpt_sgd *opt, uint64_t seed,
                 uint32_t event, float *scratch, uint8_t *chosen, fpt_err *err) {
    const uint32_t draw = event + 1;
    size_t picked;
    if (fpt_partial_reset_select(m, p->fraction, p->variant, chosen, &picked, err)) return -1;
    if (p->variant == FPT_VARIANT_STUDY) study_uniform_draw(m, seed, draw, scratch);
    else fpt_resnet_init_params(m, seed, draw, scratch);
    for (size_t i = 0; i < m->n_params; i++)
        if (chosen[i]) m->params[i] = scratch[i];
    if (p->variant == FPT_VARIANT_STUDY) fpt_sgd_reset(opt);   // a new torch.optim.SGD
    return 0;
}

static const fpt_protocol_key key_fraction = {
    "fraction", FPT_KEY_DOUBLE, offsetof(fpt_protocol, fraction), 0, 1, 1, NULL, "fraction",
    "expected 0 < f <= 1", "partial_reset: fraction of smallest-|w| weights re-drawn",
    FPT_HASH_V1, 0};

static const fpt_protocol_key *const keys[] = {&key_fraction, &fpt_key_variant, NULL};

const fpt_protocol_def fpt_protocol_partial_reset = {
    .name = "partial_reset",
    .kind = FPT_PROTO_PARTIAL_RESET,
    .keys = keys,
    .summary = "the fraction f of smallest-|w| weights re-drawn",
    .model = FPT_PREDICT_QSS,
    .synth_after = 1,
    .apply = apply,
};
