// test_protocol.c — perturbation protocols against their definitions
// (docs/SCIENCE.md s3), timing, and first passage on hand-made traces.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/first_passage.h"
#include "analysis/fit.h"
#include "train/protocol.h"
#include "train/run.h"
#include "train/train_spec.h"
#include "nn/resnet.h"
#include "base/rng.h"
#include "nn/sgd.h"

#define SEED 77

// A width-4 model with trained-looking state: random parameters (so |w| has
// no ties and BN scales are not all 1), non-trivial BN statistics and
// momentum.
static void setup_model(fpt_resnet **m, fpt_sgd *opt) {
    fpt_err err = {{0}};
    cr_assert_eq(fpt_resnet_create(m, &(fpt_resnet_arch){.width = 4, .num_classes = 10, .in_channels = 3, .image_hw = 16, .stage_norm = 0}, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_sgd_create(opt, (*m)->n_params, 0.9, 0.0, &err), 0, "%s", err.msg);
    fpt_rng_fill_normal(SEED, FPT_RNG_TEST, 1, (*m)->params, (*m)->n_params, 0.0f, 0.3f);
    fpt_rng_fill_uniform(SEED, FPT_RNG_TEST, 2, (*m)->buffers, (*m)->n_buffers, 0.5f, 2.0f);
    fpt_rng_fill_normal(SEED, FPT_RNG_TEST, 3, opt->velocity, (*m)->n_params, 0.0f, 0.01f);
}

// fpt_protocol_apply with its selection scratch, asserting success.
static void apply(const fpt_protocol *p, fpt_resnet *m, fpt_sgd *opt, uint32_t event,
                  float *scratch) {
    fpt_err err = {{0}};
    uint8_t *chosen = calloc(m->n_params, 1);
    cr_assert_eq(fpt_protocol_apply(p, m, opt, SEED, event, scratch, chosen, &err), 0, "%s",
                 err.msg);
    free(chosen);
}

static float *copy(const float *p, size_t n) {
    float *c = malloc(sizeof(float) * n);
    memcpy(c, p, sizeof(float) * n);
    return c;
}

static int is_zero(const float *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0.0f) return 0;
    return 1;
}

Test(protocol, shrink_perturb_is_lambda_old_plus_sigma_new) {
    fpt_resnet *m;
    fpt_sgd opt;
    setup_model(&m, &opt);
    float *old = copy(m->params, m->n_params), *oldb = copy(m->buffers, m->n_buffers);
    float *scratch = calloc(m->n_params, sizeof(float));
    fpt_protocol p = fpt_protocol_defaults;
    p.kind = FPT_PROTO_SHRINK_PERTURB;   // lambda 0.4, sigma 0.1
    apply(&p, m, &opt, 2, scratch);
    // The fresh network of event 2 is draw 3 of the seed.
    float *fresh = calloc(m->n_params, sizeof(float));
    fpt_resnet_init_params(m, SEED, 3, fresh);
    for (size_t i = 0; i < m->n_params; i++) {
        float want = 0.4f * old[i] + 0.1f * fresh[i];
        cr_assert_float_eq(m->params[i], want, 1e-6f * (1.0f + fabsf(want)), "param %zu", i);
    }
    // BN running statistics: a fresh network has mean 0, var 1 ((2, C) per layer).
    for (size_t i = 0; i < m->n_buffers; i++) cr_assert(isfinite(m->buffers[i]));
    const fpt_convbn *cb = &m->stem;
    for (int c = 0; c < cb->s.cout; c++) {
        size_t im = cb->running + c, iv = cb->running + cb->s.cout + c;
        cr_expect_float_eq(m->buffers[im], 0.4f * oldb[im], 1e-6f);
        cr_expect_float_eq(m->buffers[iv], 0.4f * oldb[iv] + 0.1f, 1e-6f);
    }
    cr_expect(is_zero(opt.velocity, m->n_params), "momentum not zeroed");
    // A different event draws a different fresh network.
    fpt_resnet_init_params(m, SEED, 4, scratch);
    cr_expect_neq(memcmp(scratch, fresh, sizeof(float) * 64), 0);
    free(old), free(oldb), free(scratch), free(fresh);
    fpt_sgd_free(&opt);
    fpt_resnet_free(m);
}

Test(protocol, reset_is_a_fresh_initialisation) {
    fpt_resnet *m;
    fpt_sgd opt;
    setup_model(&m, &opt);
    float *scratch = calloc(m->n_params, sizeof(float)), *fresh = calloc(m->n_params, sizeof(float));
    fpt_protocol p = fpt_protocol_defaults;
    p.kind = FPT_PROTO_RESET;
    apply(&p, m, &opt, 0, scratch);
    fpt_resnet_init_params(m, SEED, 1, fresh);
    cr_expect_eq(memcmp(m->params, fresh, sizeof(float) * m->n_params), 0);
    const fpt_convbn *cb = &m->blocks[3].c2;
    for (int c = 0; c < cb->s.cout; c++) {
        cr_expect_eq(m->buffers[cb->running + c], 0.0f);
        cr_expect_eq(m->buffers[cb->running + cb->s.cout + c], 1.0f);
    }
    cr_expect(is_zero(opt.velocity, m->n_params));
    free(scratch), free(fresh);
    fpt_sgd_free(&opt);
    fpt_resnet_free(m);
}

static int cmp_abs_ascending(const void *a, const void *b) {
    float x = fabsf(*(const float *)a), y = fabsf(*(const float *)b);
    return (x > y) - (x < y);
}

Test(protocol, partial_reset_redraws_exactly_the_smallest_weights) {
    fpt_resnet *m;
    fpt_sgd opt;
    setup_model(&m, &opt);
    float *old = copy(m->params, m->n_params), *oldv = copy(opt.velocity, m->n_params);
    float *scratch = calloc(m->n_params, sizeof(float)), *fresh = calloc(m->n_params, sizeof(float));
    fpt_protocol p = fpt_protocol_defaults;
    p.kind = FPT_PROTO_PARTIAL_RESET;
    p.fraction = 0.3;
    // Independent threshold: sort |w| over conv weights, BN scales and the
    // linear weight (not BN shifts, not the linear bias).
    size_t n = 0;
    float *mags = malloc(sizeof(float) * m->n_params);
    for (int t = 0; t < m->n_tensors; t++) {
        const fpt_param_tensor *pt = &m->tensors[t];
        int elig = pt->kind == FPT_PARAM_CONV_W || pt->kind == FPT_PARAM_BN_W ||
                   pt->kind == FPT_PARAM_FC_W;
        for (size_t i = 0; elig && i < pt->size; i++) mags[n++] = old[pt->offset + i];
    }
    qsort(mags, n, sizeof(float), cmp_abs_ascending);
    size_t k = (size_t)llround(0.3 * (double)n);
    float thr = fabsf(mags[k - 1]);
    cr_assert_lt(fabsf(mags[k - 1]), fabsf(mags[k]), "test data has a tie at the threshold");

    apply(&p, m, &opt, 5, scratch);
    fpt_resnet_init_params(m, SEED, 6, fresh);
    size_t changed = 0;
    for (int t = 0; t < m->n_tensors; t++) {
        const fpt_param_tensor *pt = &m->tensors[t];
        int elig = pt->kind == FPT_PARAM_CONV_W || pt->kind == FPT_PARAM_BN_W ||
                   pt->kind == FPT_PARAM_FC_W;
        for (size_t i = pt->offset; i < pt->offset + pt->size; i++) {
            int should = elig && fabsf(old[i]) <= thr;
            if (should) {
                cr_assert_eq(m->params[i], fresh[i], "%s[%zu] should be re-drawn", pt->name,
                             i - pt->offset);
                changed++;
            } else {
                cr_assert_eq(m->params[i], old[i], "%s[%zu] should be kept", pt->name,
                             i - pt->offset);
            }
        }
    }
    cr_expect_eq(changed, k, "re-drew %zu weights, expected round(0.3 * %zu) = %zu", changed, n, k);
    cr_expect_eq(memcmp(opt.velocity, oldv, sizeof(float) * m->n_params), 0, "momentum kept");
    free(old), free(oldv), free(scratch), free(fresh), free(mags);
    fpt_sgd_free(&opt);
    fpt_resnet_free(m);
}

Test(protocol, partial_reset_breaks_ties_by_position) {
    fpt_resnet *m;
    fpt_sgd opt;
    setup_model(&m, &opt);
    // All eligible weights equal: the first k by position are chosen.
    for (int t = 0; t < m->n_tensors; t++) {
        const fpt_param_tensor *pt = &m->tensors[t];
        for (size_t i = 0; i < pt->size; i++) m->params[pt->offset + i] = 0.5f;
    }
    uint8_t *chosen = calloc(m->n_params, 1);
    size_t got;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_partial_reset_select(m, 0.5, FPT_VARIANT_CLEAN, chosen, &got, &err), 0);
    size_t n = 0;
    for (int t = 0; t < m->n_tensors; t++)
        if (m->tensors[t].kind != FPT_PARAM_BN_B && m->tensors[t].kind != FPT_PARAM_FC_B)
            n += m->tensors[t].size;
    size_t k = (size_t)llround(0.5 * (double)n), seen = 0;
    cr_assert_eq(got, k);
    for (int t = 0; t < m->n_tensors; t++) {
        const fpt_param_tensor *pt = &m->tensors[t];
        if (pt->kind == FPT_PARAM_BN_B || pt->kind == FPT_PARAM_FC_B) continue;
        for (size_t i = 0; i < pt->size; i++, seen++)
            cr_assert_eq(chosen[pt->offset + i], seen < k, "%s[%zu]", pt->name, i);
    }
    free(chosen);
    fpt_sgd_free(&opt);
    fpt_resnet_free(m);
}

Test(protocol, periodic_timing_fires_at_multiples_of_tau) {
    fpt_protocol p = fpt_protocol_defaults;
    p.kind = FPT_PROTO_SHRINK_PERTURB;
    p.period = 7;
    for (int e = 1; e <= 100; e++)
        cr_expect_eq(fpt_protocol_fires(&p, SEED, e), e % 7 == 0, "epoch %d", e);
    p.kind = FPT_PROTO_NONE;
    for (int e = 1; e <= 100; e++) cr_expect_eq(fpt_protocol_fires(&p, SEED, e), 0);
}

Test(protocol, geometric_timing_has_probability_p) {
    fpt_protocol p = fpt_protocol_defaults;
    p.kind = FPT_PROTO_RESET;
    p.timing = FPT_TIMING_GEOMETRIC;
    p.prob = 0.1;
    // 20000 epochs: count ~ Binomial(20000, 0.1), sd 42.4; 5 sd = 212.
    int n = 0, again = 0;
    for (int e = 1; e <= 20000; e++) {
        int f = fpt_protocol_fires(&p, SEED, e);
        n += f;
        again += f == fpt_protocol_fires(&p, SEED, e);
    }
    cr_expect(abs(n - 2000) < 212, "fired %d times in 20000 epochs at p = 0.1", n);
    cr_expect_eq(again, 20000, "timing must be a pure function of (seed, epoch)");
    // Gaps between events are geometric with mean 1/p = 10.
    int last = 0, gaps = 0;
    double sum = 0.0;
    for (int e = 1; e <= 20000; e++)
        if (fpt_protocol_fires(&p, SEED, e)) {
            if (last) sum += e - last, gaps++;
            last = e;
        }
    // sd of a gap = sqrt(1-p)/p = 9.5; of the mean of ~2000 gaps ~0.21.
    cr_expect(fabs(sum / gaps - 10.0) < 1.1, "mean gap %.2f", sum / gaps);
}

Test(protocol, parse_and_check) {
    fpt_err err = {{0}};
    fpt_protocol_kind k;
    cr_expect_eq(fpt_protocol_parse("shrink_perturb", &k, &err), 0);
    cr_expect_eq(k, FPT_PROTO_SHRINK_PERTURB);
    cr_expect_eq(fpt_protocol_parse("shrnk", &k, &err), -1);
    cr_expect(strstr(err.msg, "unknown protocol 'shrnk'") && strstr(err.msg, "partial_reset"),
              "%s", err.msg);
    fpt_protocol p = fpt_protocol_defaults;
    p.kind = FPT_PROTO_PARTIAL_RESET;
    p.fraction = 0.0;
    cr_expect_eq(fpt_protocol_check(&p, &err), -1);
    cr_expect(strstr(err.msg, "fraction"), "%s", err.msg);
    p = fpt_protocol_defaults;
    p.kind = FPT_PROTO_RESET;
    p.period = 0;
    cr_expect_eq(fpt_protocol_check(&p, &err), -1);
    p.timing = FPT_TIMING_GEOMETRIC;
    p.prob = 1.5;
    cr_expect_eq(fpt_protocol_check(&p, &err), -1);
    p = fpt_protocol_defaults;
    p.kind = FPT_PROTO_WARM_RESTART;
    p.timing = FPT_TIMING_GEOMETRIC;
    cr_expect_eq(fpt_protocol_check(&p, &err), -1);
    cr_expect(strstr(err.msg, "periodic"), "%s", err.msg);
}

Test(first_passage, hand_made_traces) {
    const double rising[] = {10, 35, 49.99, 50, 62, 48, 71};
    cr_expect_eq(fpt_first_passage(rising, 7, 50.0), 4);   // >= counts: 50 reaches 50
    cr_expect_eq(fpt_first_passage(rising, 7, 60.0), 5);
    cr_expect_eq(fpt_first_passage(rising, 7, 71.0), 7);   // on the last epoch
    cr_expect_eq(fpt_first_passage(rising, 7, 72.0), 0);   // censored at 7, not 7
    cr_expect_eq(fpt_first_passage(rising, 3, 50.0), 0);   // censored at 3
    cr_expect_eq(fpt_first_passage(rising, 7, 5.0), 1);
    const double dip[] = {80, 20, 90};
    cr_expect_eq(fpt_first_passage(dip, 3, 70.0), 1);      // the FIRST passage, not the last
}

// ---- the study's variants (protocol.h, "Variants") --------------------------

// The study's selection, written here as its Python reads: concatenate every
// "*weight" tensor, k = int(f n), thr = sorted(|w|)[k], chosen = |w| <= thr.
static size_t study_selection_reference(const fpt_resnet *m, double f, uint8_t *want) {
    size_t n = 0;
    for (int t = 0; t < m->n_tensors; t++)
        if (strstr(m->tensors[t].name, "weight")) n += m->tensors[t].size;
    float *all = malloc(sizeof(float) * n);
    size_t j = 0;
    for (int t = 0; t < m->n_tensors; t++)
        if (strstr(m->tensors[t].name, "weight"))
            for (size_t i = 0; i < m->tensors[t].size; i++)
                all[j++] = fabsf(m->params[m->tensors[t].offset + i]);
    // selection by repeated minimum would be O(n^2); n is ~12k here, so sort by insertion
    for (size_t a = 1; a < n; a++) {
        float v = all[a];
        size_t b = a;
        for (; b > 0 && all[b - 1] > v; b--) all[b] = all[b - 1];
        all[b] = v;
    }
    const float thr = all[(size_t)(f * (double)n)];
    free(all);
    size_t count = 0;
    memset(want, 0, m->n_params);
    for (int t = 0; t < m->n_tensors; t++)
        if (strstr(m->tensors[t].name, "weight"))
            for (size_t i = 0; i < m->tensors[t].size; i++)
                if (fabsf(m->params[m->tensors[t].offset + i]) <= thr) {
                    want[m->tensors[t].offset + i] = 1;
                    count++;
                }
    return count;
}

Test(protocol, partial_reset_study_selects_as_the_study_code) {
    fpt_resnet *m;
    fpt_sgd opt;
    setup_model(&m, &opt);
    // Quantise |w| to a coarse grid so that ties at the threshold occur: the
    // study takes all of them (<=), the clean variant exactly round(f n).
    for (size_t i = 0; i < m->n_params; i++) m->params[i] = roundf(m->params[i] * 20.0f) / 20.0f;
    uint8_t *want = malloc(m->n_params), *got = malloc(m->n_params);
    const double fractions[] = {0.3, 0.05, 0.999};
    for (size_t c = 0; c < 3; c++) {
        size_t n_want = study_selection_reference(m, fractions[c], want), n_got = 0;
        fpt_err err = {{0}};
        cr_assert_eq(fpt_partial_reset_select(m, fractions[c], FPT_VARIANT_STUDY, got, &n_got,
                                              &err), 0, "%s", err.msg);
        cr_expect_eq(n_got, n_want, "f = %g", fractions[c]);
        cr_expect_eq(memcmp(got, want, m->n_params), 0, "f = %g: different weights",
                     fractions[c]);
    }
    free(want), free(got);
    fpt_sgd_free(&opt);
    fpt_resnet_free(m);
}

Test(protocol, partial_reset_study_redraws_with_the_study_fan_in) {
    fpt_resnet *m;
    fpt_sgd opt;
    setup_model(&m, &opt);
    float *old = copy(m->params, m->n_params), *scratch = calloc(m->n_params, sizeof(float));
    uint8_t *chosen = malloc(m->n_params);
    size_t n_chosen;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_partial_reset_select(m, 0.5, FPT_VARIANT_STUDY, chosen, &n_chosen, &err),
                 0);
    fpt_protocol p = fpt_protocol_defaults;
    p.kind = FPT_PROTO_PARTIAL_RESET;
    p.fraction = 0.5;
    p.variant = FPT_VARIANT_STUDY;
    apply(&p, m, &opt, 0, scratch);
    // Bounds written out from the PyTorch shapes (width 4, 10 classes):
    // conv (Cout, Cin, 3, 3) -> 1/sqrt(Cin); BN weight (C) -> 1/sqrt(C);
    // fc.weight (10, 32) -> 1/sqrt(32).  Never the clean fan_in Cin*9.
    for (int t = 0; t < m->n_tensors; t++) {
        const fpt_param_tensor *pt = &m->tensors[t];
        double bound = 0.0;
        if (!strcmp(pt->name, "conv1.weight")) bound = 1.0 / sqrt(3.0);
        else if (!strcmp(pt->name, "layer2.0.conv1.weight")) bound = 1.0 / sqrt(4.0);
        else if (!strcmp(pt->name, "layer4.1.conv2.weight")) bound = 1.0 / sqrt(32.0);
        else if (!strcmp(pt->name, "layer3.0.shortcut.0.weight")) bound = 1.0 / sqrt(8.0);
        else if (!strcmp(pt->name, "layer3.0.bn2.weight")) bound = 1.0 / sqrt(16.0);
        else if (!strcmp(pt->name, "fc.weight")) bound = 1.0 / sqrt(32.0);
        if (bound > 0.0)
            cr_expect_float_eq(fpt_partial_reset_study_bound(pt), bound, 1e-7, "%s", pt->name);
        // Chosen entries lie in the bound; the others and every bias are unchanged.
        double sum2 = 0.0;
        size_t k = 0;
        for (size_t i = 0; i < pt->size; i++) {
            const size_t at = pt->offset + i;
            if (chosen[at]) {
                cr_expect_leq(fabsf(m->params[at]), fpt_partial_reset_study_bound(pt) * 1.0000001f,
                              "%s[%zu]", pt->name, i);
                sum2 += (double)m->params[at] * m->params[at];
                k++;
            } else {
                cr_expect_eq(m->params[at], old[at], "%s[%zu] changed", pt->name, i);
            }
        }
        if (pt->kind == FPT_PARAM_BN_B || pt->kind == FPT_PARAM_FC_B) cr_expect_eq(k, 0);
        // U(-b, b) has variance b^2 / 3: within 5 standard errors for k >= 200
        // (the variance of w^2 is 4 b^4 / 45).
        if (k >= 200) {
            const double b2 = (double)fpt_partial_reset_study_bound(pt) *
                              fpt_partial_reset_study_bound(pt);
            const double se = sqrt(4.0 * b2 * b2 / 45.0 / (double)k);
            cr_expect_leq(fabs(sum2 / (double)k - b2 / 3.0), 5.0 * se, "%s: mean w^2 %g vs %g",
                          pt->name, sum2 / (double)k, b2 / 3.0);
        }
    }
    // The study's code builds a new optimizer after the event.
    cr_expect(is_zero(opt.velocity, m->n_params), "momentum not zeroed");
    free(old), free(scratch), free(chosen);
    fpt_sgd_free(&opt);
    fpt_resnet_free(m);
}

Test(protocol, shrink_perturb_study_shrinks_the_stage_buffers) {
    fpt_err err = {{0}};
    fpt_resnet *m;
    fpt_sgd opt;
    cr_assert_eq(fpt_resnet_create(&m, &(fpt_resnet_arch){.width = 4, .num_classes = 10, .in_channels = 3, .image_hw = 16, .stage_norm = 1}, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(fpt_sgd_create(&opt, m->n_params, 0.9, 0.0, &err), 0);
    fpt_resnet_init_params(m, SEED, 0, m->params);
    fpt_resnet_init_buffers(m, m->buffers);
    float *scratch = calloc(m->n_params, sizeof(float));
    fpt_protocol p = fpt_protocol_defaults;
    p.kind = FPT_PROTO_SHRINK_PERTURB;
    p.variant = FPT_VARIANT_STUDY;
    cr_expect(fpt_protocol_needs_stage_norm(&p));
    // std_k = 0.4 std_{k-1} + 0.1 from std_0 = 1: 0.5, 0.3, 0.22, 0.188, ...
    // -> 0.1 / 0.6; the means stay 0.
    double want = 1.0;
    for (uint32_t k = 0; k < 6; k++) {
        apply(&p, m, &opt, k, scratch);
        want = 0.4 * want + 0.1;
        for (int j = 0; j < 4; j++) {
            cr_expect_float_eq(m->buffers[m->stage_buf + 2 * j + 1], want, 1e-6,
                               "event %u stage %d", k, j + 1);
            cr_expect_eq(m->buffers[m->stage_buf + 2 * j], 0.0f);
        }
    }
    free(scratch);
    fpt_sgd_free(&opt);
    fpt_resnet_free(m);
}

// A variant where it means nothing is refused, and the study's
// shrink_perturb on a network without the stage buffers is an error rather
// than silently the clean protocol.
Test(protocol, study_variant_where_it_cannot_apply) {
    fpt_err err = {{0}};
    fpt_protocol p = fpt_protocol_defaults;
    p.variant = FPT_VARIANT_STUDY;
    const fpt_protocol_kind none_of_them[] = {FPT_PROTO_RESET, FPT_PROTO_WARM_RESTART,
                                              FPT_PROTO_NONE};
    for (int k = 0; k < 3; k++) {
        p.kind = none_of_them[k];
        cr_expect_eq(fpt_protocol_check(&p, &err), -1, "%s", fpt_protocol_name(p.kind));
        cr_expect(strstr(err.msg, "applies to partial_reset and shrink_perturb only"), "%s",
                  err.msg);
    }
    fpt_resnet *m;
    fpt_sgd opt;
    setup_model(&m, &opt);   // built without stage buffers
    float *before = copy(m->params, m->n_params), *scratch = calloc(m->n_params, sizeof(float));
    uint8_t *chosen = calloc(m->n_params, 1);
    p.kind = FPT_PROTO_SHRINK_PERTURB;
    cr_expect_eq(fpt_protocol_apply(&p, m, &opt, SEED, 0, scratch, chosen, &err), -1);
    cr_expect(strstr(err.msg, "stage buffers"), "%s", err.msg);
    cr_expect_eq(memcmp(before, m->params, sizeof(float) * m->n_params), 0, "model changed");
    free(before), free(scratch), free(chosen);
    fpt_sgd_free(&opt);
    fpt_resnet_free(m);
}

// ---- the protocol table -----------------------------------------------------

// A value of key k other than its default, inside its range: the next enum
// choice, or a number between the default and the range's other end.
static void other_value(const fpt_protocol_key *k, char *buf, size_t len) {
    fpt_protocol d = fpt_protocol_defaults;
    char def[64];
    fpt_protocol_key_format(k, &d, def, sizeof def);
    if (k->type == FPT_KEY_ENUM) {
        int n = 0;
        while (k->choices[n]) n++;
        cr_assert_geq(n, 2, "%s: an enum key needs two choices", k->name);
        snprintf(buf, len, "%s", strcmp(def, k->choices[0]) ? k->choices[0] : k->choices[1]);
        return;
    }
    const double v = strtod(def, NULL);
    const double w = v < k->max ? (v + k->max) / 2 : (v + k->min) / 2;
    if (k->type == FPT_KEY_INT) snprintf(buf, len, "%d", (int)w == (int)v ? (int)v + 1 : (int)w);
    else snprintf(buf, len, "%.17g", w);
}

// The configuration hash is made from the table: every key of every protocol
// (and the timing keys) changes it when its value changes, so a checkpoint
// of another configuration is never resumed.  A key missed by the hash would
// leave it equal here.
Test(protocol_table, every_key_changes_the_configuration_hash) {
    int tested = 0;
    for (int kind = 0; kind < FPT_PROTO_COUNT; kind++) {
        const fpt_protocol_def *d = fpt_protocol_def_of((fpt_protocol_kind)kind);
        const fpt_protocol_key *const *lists[2] = {fpt_timing_keys, d->keys};
        for (int l = 0; l < 2; l++)
            for (int i = 0; lists[l][i]; i++) {
                const fpt_protocol_key *k = lists[l][i];
                fpt_run_config c;
                fpt_run_config_defaults(&c);
                c.protocol.kind = (fpt_protocol_kind)kind;
                const uint64_t before = fpt_run_config_hash(&c, "t");
                char v[64];
                other_value(k, v, sizeof v);
                fpt_err err = {0};
                cr_assert_eq(fpt_protocol_key_set(k, &c.protocol, v, &err), 0, "%s=%s: %s",
                             k->name, v, err.msg);
                cr_expect_neq(fpt_run_config_hash(&c, "t"), before,
                              "protocol %s: key %s = %s leaves the hash unchanged", d->name,
                              k->name, v);
                tested++;
            }
    }
    cr_expect_geq(tested, 3 * FPT_PROTO_COUNT + 5, "%d keys tested", tested);
}

// A key added after version 1 (variant) is appended only when it is not its
// default, in the text version 1's hash had for it: " variant=study" after
// the seed, written out by hand here.
Test(protocol_table, later_keys_append_their_text_only_when_set) {
    fpt_protocol p = fpt_protocol_defaults;
    p.kind = FPT_PROTO_SHRINK_PERTURB;
    char v1[512], extra[128];
    cr_assert_eq(fpt_protocol_hash_v1(&p, v1, sizeof v1), 0);
    cr_expect_str_eq(v1, "shrink_perturb,periodic,20,0.050000000000000003,0.20000000000000001,"
                         "0.40000000000000002,0.10000000000000001,0");
    cr_assert_eq(fpt_protocol_hash_extra(&p, extra, sizeof extra), 0);
    cr_expect_str_eq(extra, "");
    p.variant = FPT_VARIANT_STUDY;
    cr_assert_eq(fpt_protocol_hash_extra(&p, extra, sizeof extra), 0);
    cr_expect_str_eq(extra, " variant=study");
}

// The table is consistent: entry k has kind k, names are unique and parse
// back, every key's default lies in its range, every enum default is a
// choice, and each key is read and printed back by `fptfarm train`'s
// option table under the same name.
Test(protocol_table, entries_are_consistent) {
    for (int kind = 0; kind < FPT_PROTO_COUNT; kind++) {
        const fpt_protocol_def *d = fpt_protocol_def_of((fpt_protocol_kind)kind);
        cr_assert(d, "kind %d has no entry", kind);
        cr_expect_eq((int)d->kind, kind, "%s", d->name);
        fpt_protocol_kind back;
        fpt_err err = {0};
        cr_expect_eq(fpt_protocol_parse(d->name, &back, &err), 0, "%s", err.msg);
        cr_expect_eq((int)back, kind);
        for (int other = 0; other < kind; other++)
            cr_expect_str_neq(d->name, fpt_protocol_name((fpt_protocol_kind)other));
        cr_expect((d->model == FPT_PREDICT_NOTHING) == (kind == FPT_PROTO_NONE), "%s", d->name);
    }
    const fpt_protocol_key *k;
    fpt_protocol def = fpt_protocol_defaults;
    for (size_t i = 0; (k = fpt_protocol_key_at(i)); i++) {
        char text[64];
        fpt_protocol_key_format(k, &def, text, sizeof text);
        fpt_protocol p = fpt_protocol_defaults;
        fpt_err err = {0};
        if (!k->inherited)   // inherited keys take the schedule's value, range checked there
            cr_expect_eq(fpt_protocol_key_set(k, &p, text, &err), 0,
                         "default %s = %s is out of its own range: %s", k->name, text, err.msg);
        char again[64];
        fpt_protocol_key_format(k, &p, again, sizeof again);
        cr_expect_str_eq(again, text, "%s: the default does not read back", k->name);
        if (k->inherited) continue;
        fpt_train_spec s;
        fpt_train_spec_defaults(&s);
        cr_expect_eq(fpt_train_spec_set(&s, k->name, text, &err), 0, "--%s: %s", k->name, err.msg);
        char back[64];
        cr_expect_eq(fpt_train_spec_format(&s, k->name, back, sizeof back, &err), 0);
        cr_expect_str_eq(back, text, "--%s", k->name);
    }
}

// The analysis knows no protocols: it makes its restart predictions under
// the name its options give, whose default must be the table's restart
// entry (the campaign layer passes the table's own).
Test(protocol_table, the_fit_predicts_restarts_under_the_tables_name) {
    cr_assert(fpt_protocol_restart_name());
    cr_expect_str_eq(fpt_fit_options_default.restart_protocol, fpt_protocol_restart_name());
    const fpt_protocol_def *d = fpt_protocol_def_named(fpt_protocol_restart_name());
    cr_expect_eq(d->model, FPT_PREDICT_RESTART);
}

// A value outside a key's range is refused with the key's name and range,
// by the same descriptor for --option, spec files and fpt_protocol_check.
Test(protocol_table, ranges_are_written_once) {
    fpt_train_spec s;
    fpt_train_spec_defaults(&s);
    fpt_err err = {0};
    cr_expect_neq(fpt_train_spec_set(&s, "fraction", "0", &err), 0);
    cr_expect(strstr(err.msg, "fraction: '0' is not a number in (0, 1]"), "%s", err.msg);
    cr_expect_neq(fpt_train_spec_set(&s, "prob", "1.5", &err), 0);
    cr_expect(strstr(err.msg, "prob: '1.5' is not a number in (0, 1]"), "%s", err.msg);
    fpt_protocol p = fpt_protocol_defaults;
    p.kind = FPT_PROTO_PARTIAL_RESET;
    p.fraction = 0;
    cr_expect_neq(fpt_protocol_check(&p, &err), 0);
    cr_expect_str_eq(err.msg, "fraction 0 out of range (expected 0 < f <= 1)");
}
