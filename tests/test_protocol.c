// test_protocol.c — perturbation protocols against their definitions
// (SCIENCE.md s3), timing, and first passage on hand-made traces.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "first_passage.h"
#include "protocol.h"
#include "resnet.h"
#include "rng.h"
#include "sgd.h"

#define SEED 77

// A width-4 model with trained-looking state: random parameters (so |w| has
// no ties and BN scales are not all 1), non-trivial BN statistics and
// momentum.
static void setup_model(fpt_resnet **m, fpt_sgd *opt) {
    fpt_err err = {{0}};
    cr_assert_eq(fpt_resnet_create(m, 4, 10, 16, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_sgd_create(opt, (*m)->n_params, 0.9, 0.0, &err), 0, "%s", err.msg);
    fpt_rng_fill_normal(SEED, FPT_RNG_TEST, 1, (*m)->params, (*m)->n_params, 0.0f, 0.3f);
    fpt_rng_fill_uniform(SEED, FPT_RNG_TEST, 2, (*m)->buffers, (*m)->n_buffers, 0.5f, 2.0f);
    fpt_rng_fill_normal(SEED, FPT_RNG_TEST, 3, opt->velocity, (*m)->n_params, 0.0f, 0.01f);
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
    fpt_protocol_apply(&p, m, &opt, SEED, 2, scratch);
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
    fpt_protocol_apply(&p, m, &opt, SEED, 0, scratch);
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

    fpt_protocol_apply(&p, m, &opt, SEED, 5, scratch);
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
    size_t got = fpt_partial_reset_select(m, 0.5, chosen);
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
