// fit.c — the analysis of an experiment at one target (see fit.h).
//
// Steps, in the order of docs/SCIENCE.md:
//   1. first passages recomputed from the traces at the target: an event at
//      the first epoch with acc >= target, else censored at the run's last
//      epoch, or "diverged" (kept apart) if the run diverged before reaching;
//   2. per condition: Kaplan-Meier with its band, restricted mean to the
//      horizon, median, exponential tail past tail_t0;
//   3. t_rel from the drift of the baseline accuracies (ks.h; the KS tests
//      against one epoch kept as a diagnostic);
//   4. per perturbing protocol: <T_p> at a reference period >= t_rel, and the
//      QSS, renewal, restart (baseline only) and, for geometric timing, linear
//      response predictions;
//   5. intervals of every mean by a bootstrap over runs;
//   6. the QSS check (qss_check.c): where measured periods confirm the model,
//      which sets each QSS prediction's support and validity.
// Every time is an integer number of epochs; S(t) = P(T > t), S(0) = 1.
#include "analysis/fit.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/first_passage.h"
#include "analysis/ks.h"
#include "base/rng.h"

const fpt_fit_options fpt_fit_options_default = {
    .target = NAN,
    .reference = 0,
    .reference_p = 0,
    .ks_reference = 0,
    .alpha = 0.05,
    .ks_window = 5,
    .relax_tolerance = 0.05,
    .tail_t0 = 0,
    .bootstrap = 1000,
    .seed = 1,
    .level = 0.95,
    .ci = FPT_CI_LOGLOG,
    .min_runs = 10,
    .qss_tolerance = 0.10,
    .restart_protocol = "reset",
};

static const char *const model_names[FPT_MODEL_COUNT] = {"qss", "renewal", "restart", "linear"};

const char *fpt_model_name(fpt_model m) {
    return (unsigned)m < FPT_MODEL_COUNT ? model_names[m] : "?";
}

void fpt_fit_free(fpt_fit *f) {
    if (!f) return;
    for (int i = 0; i < f->n_conditions; i++) free(f->conditions[i].curve);
    free(f->conditions);
    free(f->protocols);
    free(f->predictions);
    free(f->qss);
    free(f->ks_d);
    free(f->ks_p);
    free(f->drift);
    memset(f, 0, sizeof *f);
}

const fpt_fit_condition *fpt_fit_condition_of(const fpt_fit *f, const char *protocol,
                                              const char *timing, double frequency) {
    for (int k = 0; k < f->n_conditions; k++) {
        const fpt_fit_condition *c = &f->conditions[k];
        if (fpt_condition_same(c->protocol, c->timing, c->frequency, protocol, timing, frequency))
            return c;
    }
    return NULL;
}

const fpt_fit_prediction *fpt_fit_prediction_of(const fpt_fit *f, const char *protocol,
                                                const char *timing, double frequency,
                                                fpt_model model) {
    for (int i = 0; i < f->n_predictions; i++) {
        const fpt_fit_prediction *x = &f->predictions[i];
        if (x->model == model &&
            fpt_condition_same(x->protocol, x->timing, x->frequency, protocol, timing, frequency))
            return x;
    }
    return NULL;
}

__attribute__((format(printf, 2, 3))) static void note(fpt_fit *f, const char *fmt, ...) {
    if (f->n_notes >= (int)(sizeof f->notes / sizeof f->notes[0])) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->notes[f->n_notes++], sizeof f->notes[0], fmt, ap);
    va_end(ap);
}

// ---- observations ------------------------------------------------------------

// One run's outcome at the target.  gate: the epoch of its first
// perturbation (geometric timing), 0 if none.
typedef struct obs {
    int t;          // first passage (event) or last epoch (censored), epochs
    int event;      // 1 reached, 0 censored
    int gate;
} obs;

// A condition's runs (diverged ones not included).
typedef struct group {
    const char *protocol, *timing;
    double frequency;
    int n, diverged;
    obs *o;
    double final_acc_sum;
    int final_acc_n;
} group;

static int same_condition(const fpt_run_trace *r, const group *g) {
    return fpt_condition_same(r->protocol, r->timing, r->frequency, g->protocol, g->timing,
                              g->frequency);
}


// Order: the baseline first, then protocols in order of first appearance,
// timing, frequency.
static int group_cmp(const void *pa, const void *pb) {
    const group *a = pa, *b = pb;
    int ba = fpt_condition_is_baseline(a->protocol, a->timing),
        bb = fpt_condition_is_baseline(b->protocol, b->timing);
    if (ba != bb) return bb - ba;
    int c = strcmp(a->timing, b->timing);
    if (c) return c;
    c = strcmp(a->protocol, b->protocol);
    if (c) return c;
    return (a->frequency > b->frequency) - (a->frequency < b->frequency);
}

// ---- Kaplan-Meier on counts (the bootstrap's fast path) ----------------------

// sum_{t < tau} S(t) for tau <= h.
static double rmean(const double *S, int tau) {
    double m = 0.0;
    for (int t = 0; t < tau; t++) m += S[t];
    return m;
}

// Observations of T_p = T - gate over the runs with T > gate (gate = tau0 for
// periodic timing; for geometric timing the run's first perturbation, used
// only when it came at min_gate or later, i.e. in the QSS): events and
// censorings counted into d, c (size h + 1).  Returns how many runs.
static int tp_counts(const obs *o, const int *idx, int n, int tau0, int min_gate, int h, int *d,
                     int *c) {
    memset(d, 0, (size_t)(h + 1) * sizeof *d);
    memset(c, 0, (size_t)(h + 1) * sizeof *c);
    int m = 0;
    for (int k = 0; k < n; k++) {
        const obs *r = &o[idx ? idx[k] : k];
        int gate = tau0 > 0 ? tau0 : r->gate;
        if (gate <= 0 || (tau0 == 0 && gate < min_gate) || r->t <= gate) continue;
        int x = r->t - gate;
        if (x > h) x = h;
        (r->event ? d : c)[x]++;
        m++;
    }
    return m;
}

static void counts(const obs *o, const int *idx, int n, int h, int *d, int *c) {
    memset(d, 0, (size_t)(h + 1) * sizeof *d);
    memset(c, 0, (size_t)(h + 1) * sizeof *c);
    for (int k = 0; k < n; k++) {
        const obs *r = &o[idx ? idx[k] : k];
        (r->event ? d : c)[r->t]++;
    }
}

// Geometric tail past t0 on counts: per-epoch hazard h = d / exposure (the
// censored-geometric MLE, as fpt_tail_fit).  0 when not estimable.
static double tail_hazard(const int *d, const int *c, int h, int t0) {
    double ev = 0, x = 0;
    for (int t = t0 + 1; t <= h; t++) {
        ev += d[t];
        x += (double)(t - t0) * (d[t] + c[t]);
    }
    return ev > 0 && x > 0 ? ev / x : 0.0;
}

// <T> and <T^2> from S[0..h] with a geometric tail of hazard hz beyond h:
// E[T] = sum_t S(t), E[T^2] = sum_t (2t + 1) S(t).  NAN if S(h) > 0 and no tail.
static void moments(const double *S, int h, double hz, double *m1, double *m2) {
    double a = 0, b = 0;
    for (int t = 0; t < h; t++) a += S[t], b += (2.0 * t + 1.0) * S[t];
    double sh = S[h];
    if (sh > 0) {
        if (!(hz > 0)) {
            *m1 = *m2 = NAN;
            return;
        }
        double s1, s2;
        fpt_geometric_tail_sums(h, hz, &s1, &s2);
        a += sh * s1;
        b += sh * s2;
    }
    *m1 = a, *m2 = b;
}

// ---- predictions -------------------------------------------------------------

// The inputs the predictions need, from one sample (the data or a resample).
typedef struct model_in {
    const double *S;     // baseline S[0..h]
    int h;
    double mean_t, mean_t2;
    double tp;           // <T_p> of the protocol
    const double *Sp;    // its S_p[0..h]
} model_in;

static double predict(fpt_model m, double freq, const model_in *in) {
    if (m == FPT_MODEL_LINEAR) {   // rare perturbations at rate r = -ln(1 - p)
        double r = -log1p(-freq);
        return in->mean_t + r * (in->mean_t * in->tp - in->mean_t2 / 2.0);
    }
    int tau = (int)freq;
    double em = rmean(in->S, tau), s = in->S[tau];
    switch (m) {
    case FPT_MODEL_QSS:
        return em + s * in->tp;
    case FPT_MODEL_RENEWAL: {
        if (s == 0.0) return em;
        double p_done = 1.0 - in->Sp[tau];
        return p_done > 0 ? em + s * rmean(in->Sp, tau) / p_done : INFINITY;
    }
    case FPT_MODEL_RESTART:
        return s < 1.0 ? em / (1.0 - s) : INFINITY;
    default:
        return NAN;
    }
}

// ---- the fit -----------------------------------------------------------------

typedef struct work {
    const fpt_runs *runs;
    fpt_fit_options opt;
    int h;              // horizon, epochs
    int n_groups;
    group *g;           // baseline first
    obs *obs_pool;
    double *base_S;     // baseline S[0..h]
    double base_hz;     // baseline tail hazard (0: none)
    // per protocol (parallel to fit->protocols): its reference group, or -1
    int *ref_group;
    double **Sp;        // S_p[0..h] of each protocol
    // per prediction: its protocol's index, TP_IS_T (restart under geometric
    // timing: T_p* = T), or -1; resolved once, used by every resample
    int *pred_proto;
} work;

static void work_free(work *w) {
    free(w->g);
    free(w->obs_pool);
    free(w->base_S);
    if (w->Sp)
        for (int i = 0; i < w->n_groups; i++) free(w->Sp[i]);
    free(w->Sp);
    free(w->ref_group);
    free(w->pred_proto);
}

// Groups the runs into conditions and computes their first passages.
static int make_groups(work *w, fpt_err *err) {
    const fpt_runs *R = w->runs;
    w->g = calloc((size_t)R->n_runs + 1, sizeof *w->g);
    w->obs_pool = calloc((size_t)R->n_runs + 1, sizeof *w->obs_pool);
    if (!w->g || !w->obs_pool) return fpt_fail(err, "fit: out of memory for %d runs", R->n_runs);
    // Conditions, in order of first appearance; then sorted.
    int *gi = calloc((size_t)R->n_runs + 1, sizeof *gi);
    if (!gi) return fpt_fail(err, "fit: out of memory for %d runs", R->n_runs);
    for (int i = 0; i < R->n_runs; i++) {
        const fpt_run_trace *r = &R->runs[i];
        int k = 0;
        while (k < w->n_groups && !same_condition(r, &w->g[k])) k++;
        if (k == w->n_groups)
            w->g[w->n_groups++] =
                (group){.protocol = r->protocol, .timing = r->timing, .frequency = r->frequency};
        gi[i] = k;
        if (r->n_epochs > w->h) w->h = r->n_epochs;
    }
    // Sort the groups, remembering where each went.
    for (int k = 0; k < w->n_groups; k++) w->g[k].n = k;   // old index, temporarily
    qsort(w->g, (size_t)w->n_groups, sizeof *w->g, group_cmp);
    int *where = calloc((size_t)w->n_groups + 1, sizeof *where);
    if (!where) {
        free(gi);
        return fpt_fail(err, "fit: out of memory");
    }
    for (int k = 0; k < w->n_groups; k++) where[w->g[k].n] = k, w->g[k].n = 0;
    // Count, then fill.
    for (int i = 0; i < R->n_runs; i++) w->g[where[gi[i]]].n++;
    obs *next = w->obs_pool;
    for (int k = 0; k < w->n_groups; k++) w->g[k].o = next, next += w->g[k].n, w->g[k].n = 0;
    const double target = w->opt.target;
    for (int i = 0; i < R->n_runs; i++) {
        const fpt_run_trace *r = &R->runs[i];
        group *g = &w->g[where[gi[i]]];
        int t = fpt_first_passage(r->acc, r->n_epochs, target);
        if (t == 0 && r->diverged) {   // a competing outcome: never a success, never censored
            g->diverged++;
            continue;
        }
        if (r->n_epochs < 1) continue;
        g->o[g->n++] = (obs){t ? t : r->n_epochs, t != 0, r->first_perturbed};
        int k0 = r->n_epochs > 10 ? r->n_epochs - 10 : 0;
        double a = 0;
        for (int e = k0; e < r->n_epochs; e++) a += r->acc[e];
        g->final_acc_sum += a / (r->n_epochs - k0);
        g->final_acc_n++;
    }
    free(gi);
    free(where);
    return 0;
}

// The Kaplan-Meier summary of one condition.
static int summarise(const work *w, const group *g, fpt_fit_condition *c, fpt_err *err) {
    snprintf(c->protocol, sizeof c->protocol, "%s", g->protocol);
    snprintf(c->timing, sizeof c->timing, "%s", g->timing);
    c->frequency = g->frequency;
    c->runs = g->n;
    c->diverged = g->diverged;
    c->final_acc = g->final_acc_n ? g->final_acc_sum / g->final_acc_n : NAN;
    c->rm_lo = c->rm_hi = c->tail_rate = c->tail_rate_se = c->extrap_mean = NAN;
    c->rm = NAN;
    if (g->n == 0) return 0;
    int *t = malloc((size_t)g->n * sizeof *t), *e = malloc((size_t)g->n * sizeof *e);
    c->curve = calloc((size_t)w->h + 1, sizeof *c->curve);
    if (!t || !e || !c->curve) {
        free(t), free(e);
        return fpt_fail(err, "fit: out of memory");
    }
    for (int i = 0; i < g->n; i++) {
        t[i] = g->o[i].t, e[i] = g->o[i].event;
        c->reached += e[i];
    }
    c->censored = g->n - c->reached;
    fpt_km km;
    if (fpt_km_fit(&km, t, e, (size_t)g->n, err)) goto fail;
    c->n_curve = w->h + 1;
    // Per-epoch counts for the curve table.
    for (int i = 0; i < g->n; i++) {
        fpt_curve_point *p = &c->curve[t[i]];
        if (e[i]) p->events++;
        else p->censored++;
    }
    int at_risk = g->n;
    for (int ep = 0; ep <= w->h; ep++) {
        fpt_curve_point *p = &c->curve[ep];
        p->epoch = ep;
        p->at_risk = ep == 0 ? g->n : at_risk;
        p->s = fpt_km_survival(&km, ep);
        fpt_km_ci(&km, ep, w->opt.level, w->opt.ci, &p->lo, &p->hi);
        if (ep > 0) at_risk -= p->events + p->censored;
    }
    c->rm = fpt_km_restricted_mean(&km, w->h);
    c->median = fpt_km_median(&km);
    fpt_km_median_ci(&km, w->opt.level, w->opt.ci, &c->median_lo, &c->median_hi);
    c->tail_t0 = w->opt.tail_t0;
    fpt_tail tail;
    fpt_err terr = {{0}};
    if (fpt_km_survival(&km, w->h) == 0.0) {
        c->extrap_mean = c->rm;   // every run reached: nothing to extrapolate
    } else if (c->tail_t0 < w->h &&
               fpt_tail_fit(t, e, (size_t)g->n, c->tail_t0, &tail, &terr) == 0) {
        c->tail_rate = tail.k;
        c->tail_rate_se = tail.k_se;
        c->extrap_mean = fpt_km_extrapolated_mean(&km, w->h, &tail);
    }
    fpt_km_free(&km);
    free(t), free(e);
    return 0;
fail:
    free(t), free(e);
    return -1;
}

int fpt_fit_reachable(const fpt_fit *f, fpt_err *err) {
    const fpt_fit_options *o = &f->opt;
    const int min_runs = o->min_runs;
    int most = 0, total = 0, runs = 0;
    double base_acc = NAN, best_acc = NAN;
    for (int k = 0; k < f->n_conditions; k++) {
        const fpt_fit_condition *c = &f->conditions[k];
        if (c->reached > most) most = c->reached;
        total += c->reached;
        runs += c->runs;
        if (k == 0) base_acc = c->final_acc;
        if (isfinite(c->final_acc) && !(c->final_acc <= best_acc)) best_acc = c->final_acc;
    }
    if (most >= min_runs) return 0;
    const fpt_fit_condition *b = &f->conditions[0];
    return fpt_fail(err,
                    "%s: %d of %d runs reach target %g%% (%d of %d unperturbed; at most %d in "
                    "one condition); the analysis needs at least %d runs of one condition "
                    "to reach it (--min-runs), so it estimates and recommends nothing: choose a "
                    "target the runs reach (the unperturbed runs end at %.2f%%, the best "
                    "condition at %.2f%%: mean of the last 10 epochs)",
                    f->experiment, total, runs, o->target, b->reached, b->runs, most,
                    min_runs, base_acc, best_acc);
}

static int cmp_int(const void *a, const void *b) {
    const int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

// The baseline's accuracies at epochs 1..H of its runs that reach H, for
// the horizon H at least half of them (and at least 2) reach: (*n, H)
// row-major into *out (malloc'd).  *n = 0 when fewer than 2 runs have more
// than 2W epochs (no drift to measure).
static int baseline_matrix(const work *w, int window, double **out, int *n, int *h,
                           fpt_err *err) {
    const fpt_runs *R = w->runs;
    *out = NULL, *n = 0, *h = 0;
    int *len = malloc(((size_t)R->n_runs + 1) * sizeof *len), m = 0;
    if (!len) return fpt_fail(err, "fit: out of memory for the relaxation time");
    for (int i = 0; i < R->n_runs; i++)
        if (fpt_condition_is_baseline(R->runs[i].protocol, R->runs[i].timing))
            len[m++] = R->runs[i].n_epochs;
    qsort(len, (size_t)m, sizeof *len, cmp_int);
    const int need = (m + 1) / 2 > 2 ? (m + 1) / 2 : 2;   // runs that must reach H
    const int H = m >= need ? len[m - need] : 0;
    free(len);
    if (H <= 2 * window) return 0;
    int k = 0;
    for (int i = 0; i < R->n_runs; i++)
        k += fpt_condition_is_baseline(R->runs[i].protocol, R->runs[i].timing) &&
             R->runs[i].n_epochs >= H;
    double *acc = malloc((size_t)k * (size_t)H * sizeof *acc);
    if (!acc) return fpt_fail(err, "fit: out of memory for the relaxation time");
    k = 0;
    for (int i = 0; i < R->n_runs; i++)
        if (fpt_condition_is_baseline(R->runs[i].protocol, R->runs[i].timing) &&
            R->runs[i].n_epochs >= H)
            memcpy(acc + (size_t)k++ * H, R->runs[i].acc, (size_t)H * sizeof *acc);
    *out = acc, *n = k, *h = H;
    return 0;
}

// t_rel by the drift criterion (ks.h), and its interval: the percentile
// interval at opt.level of t_rel over min(bootstrap, 200) resamples of the
// baseline runs (stream r of FPT_RNG_RELAX), in resample order so any
// thread count gives the same.  A resample in which the drift never
// settles counts as the horizon.
static int relaxation_drift(work *w, fpt_fit *f, fpt_err *err) {
    const int W = w->opt.ks_window;
    double *acc;
    int n, H;
    if (baseline_matrix(w, W, &acc, &n, &H, err)) return -1;
    if (n < 2) {
        free(acc);
        note(f, "no relaxation time: fewer than 2 unperturbed runs of more than %d epochs", 2 * W);
        return 0;
    }
    fpt_drift_data data;
    fpt_drift dr;
    if (fpt_drift_data_make(acc, (size_t)n, H, H, &data, err) ||
        fpt_drift_compute(&data, NULL, W, w->opt.relax_tolerance, &dr, err)) {
        fpt_drift_data_free(&data);
        free(acc);
        return fpt_err_prefix(err, "fit: relaxation time: ");
    }
    free(acc);
    f->t_rel = dr.t_rel;
    f->relax_floor = dr.floor;
    f->n_drift = dr.n;
    f->drift = dr.d;   // ownership moves to the fit
    const int B = w->opt.bootstrap < 200 ? w->opt.bootstrap : 200;
    int rc = 0;
    if (B > 0) {
        int *t = malloc((size_t)B * sizeof *t), *count = malloc((size_t)n * sizeof *count);
        rc = t && count ? 0 : fpt_fail(err, "fit: out of memory for the relaxation bootstrap");
        for (int b = 0; b < B && rc == 0; b++) {
            fpt_rng rng;   // resample b: n runs drawn with replacement
            fpt_rng_init(&rng, w->opt.seed, FPT_RNG_RELAX, (uint32_t)b);
            memset(count, 0, (size_t)n * sizeof *count);
            for (int i = 0; i < n; i++) count[fpt_rng_below(&rng, (uint32_t)n)]++;
            fpt_drift rb;
            rc = fpt_drift_compute(&data, count, W, w->opt.relax_tolerance, &rb, err);
            if (rc == 0) t[b] = rb.t_rel > 0 ? rb.t_rel : H;
            fpt_drift_free(&rb);
        }
        if (rc == 0) {
            qsort(t, (size_t)B, sizeof *t, cmp_int);
            const double a = (1 - w->opt.level) / 2;
            f->t_rel_lo = t[(int)floor(a * (B - 1))];
            f->t_rel_hi = t[(int)ceil((1 - a) * (B - 1))];
        }
        free(t), free(count);
    }
    fpt_drift_data_free(&data);
    return rc;
}

// The KS tests of the baseline runs that reach the KS reference epoch
// against it: a diagnostic beside the drift criterion (ks.h).
static int relaxation(work *w, fpt_fit *f, fpt_err *err) {
    if (relaxation_drift(w, f, err)) return -1;
    const fpt_runs *R = w->runs;
    int ref = w->opt.ks_reference > 0 ? w->opt.ks_reference : w->h / 2;
    f->ks_reference = ref;
    if (ref < 2) {
        note(f, "no relaxation test: runs of %d epochs are too short (the KS reference epoch "
                "must be >= 2)", w->h);
        return 0;
    }
    if (ref > w->h)
        return fpt_fail(err, "fit: KS reference epoch %d is past the longest run (%d epochs)", ref,
                        w->h);
    int n = 0;
    for (int i = 0; i < R->n_runs; i++)
        if (fpt_condition_is_baseline(R->runs[i].protocol, R->runs[i].timing) &&
            R->runs[i].n_epochs >= ref)
            n++;
    if (n < 2) {
        note(f, "no relaxation test: fewer than 2 unperturbed runs reach epoch %d", ref);
        return 0;
    }
    double *acc = malloc((size_t)n * (size_t)ref * sizeof *acc);
    if (!acc) return fpt_fail(err, "fit: out of memory for the KS tests");
    int k = 0;
    for (int i = 0; i < R->n_runs; i++)
        if (fpt_condition_is_baseline(R->runs[i].protocol, R->runs[i].timing) &&
            R->runs[i].n_epochs >= ref)
            memcpy(acc + (size_t)k++ * ref, R->runs[i].acc, (size_t)ref * sizeof *acc);
    fpt_relax rx;
    int rc =
        fpt_relaxation_time(acc, (size_t)n, ref, ref, w->opt.alpha, w->opt.ks_window, &rx, err);
    free(acc);
    if (rc) return fpt_err_prefix(err, "fit: relaxation time: ");
    f->ks_t_rel = rx.t_rel;
    f->n_ks = rx.n;
    f->ks_d = rx.d, f->ks_p = rx.p;   // ownership moves to the fit
    return 0;
}

// Chooses each perturbing protocol's reference condition and computes <T_p>.
static int references(work *w, fpt_fit *f, fpt_err *err) {
    f->protocols = calloc((size_t)w->n_groups + 1, sizeof *f->protocols);
    w->ref_group = calloc((size_t)w->n_groups + 1, sizeof *w->ref_group);
    w->Sp = calloc((size_t)w->n_groups + 1, sizeof *w->Sp);
    if (!f->protocols || !w->ref_group || !w->Sp) return fpt_fail(err, "fit: out of memory");
    int *d = malloc(((size_t)w->h + 1) * sizeof *d), *c = malloc(((size_t)w->h + 1) * sizeof *c);
    if (!d || !c) {
        free(d), free(c);
        return fpt_fail(err, "fit: out of memory");
    }
    for (int k = 0; k < w->n_groups; k++) {
        const group *g = &w->g[k];
        if (fpt_condition_is_baseline(g->protocol, g->timing)) continue;
        int p = 0;
        while (p < f->n_protocols && (strcmp(f->protocols[p].protocol, g->protocol) ||
                                      strcmp(f->protocols[p].timing, g->timing)))
            p++;
        if (p < f->n_protocols) continue;   // its conditions were handled with the first
        fpt_fit_protocol *P = &f->protocols[f->n_protocols++];
        snprintf(P->protocol, sizeof P->protocol, "%s", g->protocol);
        snprintf(P->timing, sizeof P->timing, "%s", g->timing);
        P->tp_mean = P->tp_lo = P->tp_hi = NAN;
        w->ref_group[p] = -1;
        const int geometric = !strcmp(g->timing, "geometric");
        const double given = geometric ? w->opt.reference_p : w->opt.reference;
        // Candidates: this protocol's conditions (groups are sorted by frequency).
        int best = -1;
        char periods[120] = "";
        size_t len = 0;
        for (int j = k; j < w->n_groups; j++) {
            const group *q = &w->g[j];
            if (strcmp(q->protocol, g->protocol) || strcmp(q->timing, g->timing)) continue;
            if (len < sizeof periods - 16)
                len += (size_t)snprintf(periods + len, sizeof periods - len, "%s%g (%d runs)",
                                        len ? ", " : "", q->frequency, q->n);
            int tp_n = tp_counts(q->o, NULL, q->n, geometric ? 0 : (int)q->frequency, f->t_rel,
                                 w->h, d, c);
            if (given > 0) {
                if (fpt_frequency_key(q->timing, q->frequency) ==
                    fpt_frequency_key(q->timing, given))
                    best = j;
                continue;
            }
            // Automatic: periodic, the shortest period >= t_rel with enough
            // runs left after it; geometric, the largest p with enough runs
            // first perturbed at or after t_rel.
            int in_qss = f->t_rel > 0 && (geometric || q->frequency >= f->t_rel);
            if (in_qss && tp_n >= w->opt.min_runs) {
                if (best < 0 || (geometric ? q->frequency > w->g[best].frequency
                                           : q->frequency < w->g[best].frequency))
                    best = j;
            }
        }
        if (best < 0) {
            if (given > 0)
                snprintf(P->why, sizeof P->why, "no runs at the reference %s %g (measured: %s)",
                         geometric ? "p" : "period", given, periods);
            else if (f->t_rel == 0)
                snprintf(P->why, sizeof P->why,
                         "no relaxation time (the baseline never reaches QSS in the KS test), so "
                         "no reference can be chosen; give one with --reference");
            else
                snprintf(P->why, sizeof P->why,
                         "no %s with >= %d runs still short of the target at a perturbation "
                         "after t_rel = %d epochs (measured: %s); add runs or give %s",
                         geometric ? "p" : "period >= t_rel", w->opt.min_runs, f->t_rel, periods,
                         geometric ? "--reference-p" : "--reference");
            continue;
        }
        const group *q = &w->g[best];
        int tau0 = geometric ? 0 : (int)q->frequency;
        int hp = w->h - tau0;
        P->tp_runs = tp_counts(q->o, NULL, q->n, tau0, f->t_rel, hp, d, c);
        if (P->tp_runs == 0) {
            snprintf(P->why, sizeof P->why,
                     "every run at the reference %g reached the target before its first "
                     "perturbation: <T_p> is not measured there; choose another with --reference",
                     q->frequency);
            continue;
        }
        w->Sp[p] = malloc(((size_t)w->h + 1) * sizeof **w->Sp);
        if (!w->Sp[p]) {
            free(d), free(c);
            return fpt_fail(err, "fit: out of memory");
        }
        fpt_km_counts(d, c, P->tp_runs, hp, w->Sp[p]);
        for (int t = hp + 1; t <= w->h; t++) w->Sp[p][t] = w->Sp[p][hp];
        P->reference = q->frequency;
        P->tp_mean = rmean(w->Sp[p], hp);
        P->tp_tail = w->Sp[p][hp];
        w->ref_group[p] = best;
    }
    free(d), free(c);
    return 0;
}

// The prediction points: for periodic protocols with a reference every
// period 1..horizon (QSS, renewal); restart for every period from the
// baseline alone; for geometric protocols, their measured p and a grid.
static int make_predictions(work *w, fpt_fit *f, fpt_err *err) {
    int cap = (2 * f->n_protocols + 1) * (w->h + 1) + 64 * f->n_protocols + 8;
    f->predictions = calloc((size_t)cap, sizeof *f->predictions);
    if (!f->predictions) return fpt_fail(err, "fit: out of memory");
    for (int p = 0; p < f->n_protocols; p++) {
        const fpt_fit_protocol *P = &f->protocols[p];
        if (w->ref_group[p] < 0) continue;
        int geometric = !strcmp(P->timing, "geometric");
        if (geometric && isnan(f->mean_t)) {
            note(f, "%s (geometric): no linear response: the baseline's mean FPT is not finite "
                    "(runs censored at the horizon and no exponential tail past epoch %d)",
                 P->protocol, w->opt.tail_t0);
            continue;
        }
        int nf = geometric ? 0 : w->h;
        double grid[64];
        if (geometric) {   // 1/p from 1 to 10 x horizon, log-spaced, plus the measured p
            for (int i = 0; i < 40; i++) grid[nf++] = 1.0 / pow(10.0 * w->h, i / 39.0);
            for (int k = 0; k < w->n_groups && nf < 64; k++)
                if (!strcmp(w->g[k].protocol, P->protocol) && !strcmp(w->g[k].timing, P->timing))
                    grid[nf++] = w->g[k].frequency;
        }
        for (int i = 0; i < nf; i++) {
            double fr = geometric ? grid[i] : i + 1;
            fpt_model models[2] = {FPT_MODEL_QSS, FPT_MODEL_RENEWAL};
            int nm = geometric ? 1 : 2;
            if (geometric) models[0] = FPT_MODEL_LINEAR;
            for (int m = 0; m < nm; m++) {
                fpt_fit_prediction *x = &f->predictions[f->n_predictions++];
                snprintf(x->protocol, sizeof x->protocol, "%s", P->protocol);
                snprintf(x->timing, sizeof x->timing, "%s", P->timing);
                x->frequency = fr;
                x->model = models[m];
            }
        }
    }
    // Restart from the baseline alone, under the restart protocol's name.
    for (int tau = 1; w->opt.restart_protocol && tau <= w->h; tau++) {
        fpt_fit_prediction *x = &f->predictions[f->n_predictions++];
        snprintf(x->protocol, sizeof x->protocol, "%s", w->opt.restart_protocol);
        snprintf(x->timing, sizeof x->timing, "periodic");
        x->frequency = tau;
        x->model = FPT_MODEL_RESTART;
    }
    return 0;
}

enum { TP_IS_T = -2 };

// Resolves each prediction's protocol once (names compared here only).
static int resolve_protocols(work *w, const fpt_fit *f, fpt_err *err) {
    w->pred_proto = malloc(((size_t)f->n_predictions + 1) * sizeof *w->pred_proto);
    if (!w->pred_proto) return fpt_fail(err, "fit: out of memory");
    for (int i = 0; i < f->n_predictions; i++) {
        const fpt_fit_prediction *x = &f->predictions[i];
        int code = -1;
        for (int p = 0; p < f->n_protocols && code < 0; p++)
            if (!strcmp(f->protocols[p].protocol, x->protocol) &&
                !strcmp(f->protocols[p].timing, x->timing))
                code = p;
        if (x->model == FPT_MODEL_LINEAR && w->opt.restart_protocol &&
            !strcmp(x->protocol, w->opt.restart_protocol))
            code = TP_IS_T;   // a restart's post-perturbation law is the baseline's
        w->pred_proto[i] = code;
    }
    return 0;
}

// The model inputs of prediction i, given a sample's baseline S, moments,
// and per-protocol <T_p> and S_p.
static model_in inputs_of(const work *w, int i, const double *S, double m1, double m2,
                          const double *tp, double *const *Sp) {
    int code = w->pred_proto[i];
    double t = code >= 0 ? tp[code] : code == TP_IS_T ? m1 : NAN;
    return (model_in){S, w->h, m1, m2, t, code >= 0 ? Sp[code] : NULL};
}

// Predicted values from the full sample, and whether each is in the model's
// domain (period >= t_rel; for geometric timing a mean wait 1/p >= t_rel).
static int evaluate(const work *w, fpt_fit *f, fpt_err *err) {
    double *tp = malloc(((size_t)f->n_protocols + 1) * sizeof *tp);
    if (!tp) return fpt_fail(err, "fit: out of memory");
    for (int p = 0; p < f->n_protocols; p++) tp[p] = f->protocols[p].tp_mean;
    for (int i = 0; i < f->n_predictions; i++) {
        fpt_fit_prediction *x = &f->predictions[i];
        model_in in = inputs_of(w, i, w->base_S, f->mean_t, f->mean_t2, tp, w->Sp);
        x->predicted = predict(x->model, x->frequency, &in);
        x->lo = x->hi = NAN;
        x->valid = f->t_rel > 0 && (x->model == FPT_MODEL_LINEAR ? 1.0 / x->frequency >= f->t_rel
                                                                 : x->frequency >= f->t_rel);
    }
    free(tp);
    return 0;
}

// The measured restricted mean (and its interval) beside each prediction at
// a frequency where runs exist.
static void attach_measured(fpt_fit *f) {
    for (int i = 0; i < f->n_predictions; i++) {
        fpt_fit_prediction *x = &f->predictions[i];
        const fpt_fit_condition *c =
            fpt_fit_condition_of(f, x->protocol, x->timing, x->frequency);
        if (c && c->runs > 0) {
            x->has_measured = 1;
            x->measured = c->rm, x->measured_lo = c->rm_lo, x->measured_hi = c->rm_hi;
            x->rel_error = (x->predicted - c->rm) / c->rm;
        }
    }
}

// ---- the bootstrap -----------------------------------------------------------

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void fpt_fit_percentile(double *v, int n, double level, double *lo, double *hi) {
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i])) v[m++] = v[i];
    if (m == 0) {
        *lo = *hi = NAN;
        return;
    }
    qsort(v, (size_t)m, sizeof *v, cmp_double);
    double a = (1.0 - level) / 2.0;
    int i = (int)floor(a * (m - 1)), j = (int)ceil((1.0 - a) * (m - 1));
    *lo = v[i], *hi = v[j];
}

// Resample b: each condition's runs drawn with replacement (stream b of the
// bootstrap seed, conditions in order), giving one value for every mean.
// out: [conditions][protocols][predictions].
static int resample(const work *w, const fpt_fit *f, int b, double *out, int *d, int *c,
                    double *S, double *Sq, double **SpB, double *tpB, int *idx) {
    fpt_rng rng;
    fpt_rng_init(&rng, w->opt.seed, FPT_RNG_BOOTSTRAP, (uint32_t)b);
    const int h = w->h;
    int nc = f->n_conditions;
    double m1 = NAN, m2 = NAN;
    for (int k = 0; k < w->n_groups; k++) {
        const group *g = &w->g[k];
        for (int i = 0; i < g->n; i++) idx[i] = (int)fpt_rng_below(&rng, (uint32_t)g->n);
        if (g->n == 0) {
            out[k] = NAN;
            continue;
        }
        counts(g->o, idx, g->n, h, d, c);
        double *Sk = k == 0 ? S : Sq;
        fpt_km_counts(d, c, g->n, h, Sk);
        out[k] = rmean(Sk, h);
        if (k == 0) moments(S, h, tail_hazard(d, c, h, w->opt.tail_t0), &m1, &m2);
        for (int p = 0; p < f->n_protocols; p++) {
            if (w->ref_group[p] != k) continue;
            int geometric = !strcmp(f->protocols[p].timing, "geometric");
            int tau0 = geometric ? 0 : (int)f->protocols[p].reference, hp = h - tau0;
            int n = tp_counts(g->o, idx, g->n, tau0, f->t_rel, hp, d, c);
            if (n == 0) {
                tpB[p] = NAN;
                continue;
            }
            fpt_km_counts(d, c, n, hp, SpB[p]);
            for (int t = hp + 1; t <= h; t++) SpB[p][t] = SpB[p][hp];
            tpB[p] = rmean(SpB[p], hp);
        }
    }
    for (int p = 0; p < f->n_protocols; p++) out[nc + p] = tpB[p];
    for (int i = 0; i < f->n_predictions; i++) {
        model_in in = inputs_of(w, i, S, m1, m2, tpB, SpB);
        out[nc + f->n_protocols + i] =
            predict(f->predictions[i].model, f->predictions[i].frequency, &in);
    }
    return 0;
}

static int bootstrap(const work *w, fpt_fit *f, fpt_err *err) {
    const int B = w->opt.bootstrap;
    if (B <= 0) return 0;
    const int nv = f->n_conditions + f->n_protocols + f->n_predictions;
    double *val = malloc((size_t)B * (size_t)nv * sizeof *val);
    if (!val) return fpt_fail(err, "fit: out of memory for %d bootstrap resamples", B);
    int max_n = 1;
    for (int k = 0; k < w->n_groups; k++)
        if (w->g[k].n > max_n) max_n = w->g[k].n;
    int failed = 0;
#pragma omp parallel
    {
        // Per-thread scratch; resample b depends only on (seed, b), so the
        // result does not depend on the thread count.
        const size_t H = (size_t)w->h + 1;
        int *d = malloc(H * sizeof *d), *c = malloc(H * sizeof *c);
        int *idx = malloc((size_t)max_n * sizeof *idx);
        double *S = malloc(H * sizeof *S), *Sq = malloc(H * sizeof *Sq);
        double *tpB = malloc(((size_t)f->n_protocols + 1) * sizeof *tpB);
        double **SpB = calloc((size_t)f->n_protocols + 1, sizeof *SpB);
        int ok = d && c && idx && S && Sq && tpB && SpB;
        for (int p = 0; ok && p < f->n_protocols; p++)
            ok = (SpB[p] = malloc(H * sizeof **SpB)) != NULL;
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int b = 0; b < B; b++)
            if (ok) resample(w, f, b, val + (size_t)b * nv, d, c, S, Sq, SpB, tpB, idx);
        for (int p = 0; SpB && p < f->n_protocols; p++) free(SpB[p]);
        free(SpB), free(tpB), free(S), free(Sq), free(idx), free(d), free(c);
    }
    if (failed) {
        free(val);
        return fpt_fail(err, "fit: out of memory for the bootstrap");
    }
    double *col = malloc((size_t)B * sizeof *col);
    if (!col) {
        free(val);
        return fpt_fail(err, "fit: out of memory for the bootstrap");
    }
    const double L = w->opt.level;
    for (int j = 0; j < nv; j++) {
        for (int b = 0; b < B; b++) col[b] = val[(size_t)b * nv + j];
        double lo, hi;
        fpt_fit_percentile(col, B, L, &lo, &hi);
        if (j < f->n_conditions) {
            f->conditions[j].rm_lo = lo, f->conditions[j].rm_hi = hi;
        } else if (j < f->n_conditions + f->n_protocols) {
            fpt_fit_protocol *P = &f->protocols[j - f->n_conditions];
            if (P->reference > 0) P->tp_lo = lo, P->tp_hi = hi;
        } else {
            fpt_fit_prediction *x = &f->predictions[j - f->n_conditions - f->n_protocols];
            x->lo = lo, x->hi = hi;
        }
    }
    free(col);
    free(val);
    return 0;
}

// ---- entry point -------------------------------------------------------------

int fpt_fit_run(const fpt_runs *runs, const fpt_fit_options *opt, fpt_fit *f, fpt_err *err) {
    memset(f, 0, sizeof *f);
    work w = {.runs = runs, .opt = *opt};
    f->experiment_id = runs->experiment_id;
    snprintf(f->experiment, sizeof f->experiment, "%s", runs->experiment);
    f->excluded_unfinished = runs->unfinished;
    f->mean_t = f->mean_t2 = NAN;
    if (!(opt->target > 0 && opt->target <= 100))
        return fpt_fail(err, "fit: target %g%% is not a test accuracy in (0, 100]", opt->target);
    if (!(opt->level > 0 && opt->level < 1))
        return fpt_fail(err, "fit: interval level %g is not in (0, 1)", opt->level);
    if (opt->min_runs < 2) return fpt_fail(err, "fit: --min-runs %d must be >= 2", opt->min_runs);
    if (runs->n_runs == 0)
        return fpt_fail(err, "%s: no finished runs to fit (%d unfinished)", runs->experiment,
                        runs->unfinished);
    if (make_groups(&w, err)) goto fail;
    if (w.opt.tail_t0 <= 0) w.opt.tail_t0 = w.h / 2;
    if (w.n_groups == 0 || !fpt_condition_is_baseline(w.g[0].protocol, w.g[0].timing)) {
        fpt_fail(err,
                 "%s: no unperturbed runs (protocol none): survival under perturbation can be "
                 "measured, but the response model and the recommendation compare against the "
                 "baseline; add a [none] section to the spec and run it",
                 runs->experiment);
        goto fail;
    }
    if (w.g[0].n < w.opt.min_runs) {
        fpt_fail(err,
                 "%s: only %d finished unperturbed run%s (%d diverged); the analysis needs at "
                 "least %d (--min-runs) to estimate S(t)",
                 runs->experiment, w.g[0].n, w.g[0].n == 1 ? "" : "s", w.g[0].diverged,
                 w.opt.min_runs);
        goto fail;
    }
    f->horizon = w.h;
    f->conditions = calloc((size_t)w.n_groups, sizeof *f->conditions);
    w.base_S = malloc(((size_t)w.h + 1) * sizeof *w.base_S);
    if (!f->conditions || !w.base_S) {
        fpt_fail(err, "fit: out of memory");
        goto fail;
    }
    f->n_conditions = w.n_groups;
    if (relaxation(&w, f, err)) goto fail;
    if (w.opt.tail_t0 < f->t_rel) w.opt.tail_t0 = f->t_rel;
    for (int k = 0; k < w.n_groups; k++)
        if (summarise(&w, &w.g[k], &f->conditions[k], err)) goto fail;
    {   // the baseline's S and moments, as the bootstrap computes them
        int *d = malloc(((size_t)w.h + 1) * sizeof *d), *c = malloc(((size_t)w.h + 1) * sizeof *c);
        if (!d || !c) {
            free(d), free(c);
            fpt_fail(err, "fit: out of memory");
            goto fail;
        }
        counts(w.g[0].o, NULL, w.g[0].n, w.h, d, c);
        fpt_km_counts(d, c, w.g[0].n, w.h, w.base_S);
        w.base_hz = tail_hazard(d, c, w.h, w.opt.tail_t0);
        moments(w.base_S, w.h, w.base_hz, &f->mean_t, &f->mean_t2);
        free(d), free(c);
    }
    if (references(&w, f, err)) goto fail;
    if (make_predictions(&w, f, err) || resolve_protocols(&w, f, err)) goto fail;
    f->opt = w.opt;
    if (evaluate(&w, f, err) || bootstrap(&w, f, err)) goto fail;
    attach_measured(f);
    if (fpt_qss_check(runs, f, err)) goto fail;
    work_free(&w);
    return 0;
fail:
    work_free(&w);
    fpt_fit_free(f);
    return -1;
}
