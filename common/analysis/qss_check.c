// qss_check.c — the QSS assumption tested where it matters (fit.h,
// fpt_qss_check; docs/SCIENCE.md s4.6).
//
// The response model predicts every period from one reference because it
// assumes the post-perturbation law does not depend on when the perturbation
// came.  Where runs exist at several periods, that is checked on the data:
//
//   LOO  the mean FPT measured at a period tau, E[min(T, H)], against the
//        model's prediction from another period `from`'s runs:
//          sum_{t<tau} S(t) + S(tau) sum_{t=0}^{H-tau-1} S_p(t),
//        S the baseline's survival, S_p(t) = S_from(from + t) / S_from(from)
//        the law after the first perturbation at `from` (held flat past its
//        horizon H - from).  Both sides are restricted to H, so the
//        comparison is like for like whatever the censoring.
//   LAW  the laws after two neighbouring reference periods, over the horizon
//        both observe (H - tau): their KS distance and the relative
//        difference of their restricted means.
//
// A period's verdict rests on one LOO comparison (the decisive one): from the
// fit's reference, or for the reference itself from the next period above it
// that can serve as one (else the last below); the others are reported beside it (does the choice
// of reference matter?).  The verdict: confirmed when |rel| <= tolerance,
// contradicted when the rel interval lies wholly outside [-tol, tol],
// inconclusive otherwise.  Intervals: a bootstrap over runs, condition by
// condition, its own random stream per resample (thread-count independent).
//
// Shapes: S arrays are [H + 1] (epochs 0..H); obs per condition as the fit
// counts them (diverged-before-target runs left out).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/first_passage.h"
#include "analysis/fit.h"
#include "base/rng.h"

static const char *const support_names[FPT_SUPPORT_COUNT] = {"untested", "confirmed",
                                                             "contradicted", "inconclusive"};

const char *fpt_support_name(fpt_support s) {
    return (unsigned)s < FPT_SUPPORT_COUNT ? support_names[s] : NULL;
}

int fpt_support_parse(const char *s) {
    for (int i = 0; s && i < FPT_SUPPORT_COUNT; i++)
        if (!strcmp(s, support_names[i])) return i;
    return -1;
}

enum { MAX_BOOT = 400 };

typedef struct ob {
    int t, event;   // first passage (event) or last epoch (censored), epochs
} ob;

typedef struct check {
    const fpt_fit *f;
    int H, nc;              // horizon; conditions (f->conditions)
    int *n;                 // [nc] observations per condition
    ob **o;                 // [nc] per condition
    ob *pool;
    char *used;             // [nc] 1: some test reads this condition
    int *cond_from, *cond_tau;   // [n_qss] condition index of each test's periods
} check;

static void check_free(check *c) {
    free(c->n), free(c->o), free(c->pool), free(c->used);
    free(c->cond_from), free(c->cond_tau);
}

// Each run's outcome at the target, by the fit's condition (as fit.c counts).
static int gather(check *c, const fpt_runs *R, fpt_err *err) {
    const fpt_fit *f = c->f;
    c->n = calloc((size_t)c->nc + 1, sizeof *c->n);
    c->o = calloc((size_t)c->nc + 1, sizeof *c->o);
    c->used = calloc((size_t)c->nc + 1, 1);
    c->pool = malloc(((size_t)R->n_runs + 1) * sizeof *c->pool);
    int *where = malloc(((size_t)R->n_runs + 1) * sizeof *where);
    if (!c->n || !c->o || !c->used || !c->pool || !where) {
        free(where);
        return fpt_fail(err, "fit: QSS check: out of memory for %d runs", R->n_runs);
    }
    for (int i = 0; i < R->n_runs; i++) {
        const fpt_run_trace *r = &R->runs[i];
        where[i] = -1;
        if (r->n_epochs < 1) continue;
        int t = fpt_first_passage(r->acc, r->n_epochs, f->opt.target);
        if (t == 0 && r->diverged) continue;
        for (int k = 0; k < c->nc && where[i] < 0; k++) {
            const fpt_fit_condition *q = &f->conditions[k];
            if (fpt_condition_same(r->protocol, r->timing, r->frequency, q->protocol, q->timing,
                                   q->frequency))
                where[i] = k;
        }
        if (where[i] >= 0) c->n[where[i]]++;
    }
    ob *next = c->pool;
    for (int k = 0; k < c->nc; k++) c->o[k] = next, next += c->n[k], c->n[k] = 0;
    for (int i = 0; i < R->n_runs; i++) {
        if (where[i] < 0) continue;
        const fpt_run_trace *r = &R->runs[i];
        int t = fpt_first_passage(r->acc, r->n_epochs, f->opt.target);
        c->o[where[i]][c->n[where[i]]++] = (ob){t ? t : r->n_epochs, t != 0};
    }
    free(where);
    return 0;
}

// KM S[0..H] of condition k from its runs, or from the draws idx[0..n) of them.
static void km_of(const check *c, int k, const int *idx, int *d, int *cz, double *S) {
    const int H = c->H;
    memset(d, 0, ((size_t)H + 1) * sizeof *d);
    memset(cz, 0, ((size_t)H + 1) * sizeof *cz);
    for (int i = 0; i < c->n[k]; i++) {
        const ob *x = &c->o[k][idx ? idx[i] : i];
        int t = x->t < H ? x->t : H;
        (x->event ? d : cz)[t]++;
    }
    fpt_km_counts(d, cz, c->n[k], H, S);
}

// Runs of condition k still short of the target at epoch tau.
static int beyond(const check *c, int k, int tau) {
    int m = 0;
    for (int i = 0; i < c->n[k]; i++) m += c->o[k][i].t > tau;
    return m;
}

// The test's two sides from survival curves (S0 baseline, Sf at `from`, St at
// tau); NAN where a law is not observed (no run left at its period).
static void evaluate(const fpt_qss_test *x, int H, const double *S0, const double *Sf,
                     const double *St, double *pred, double *meas, double *dist) {
    const int from = (int)x->from, tau = (int)x->tau;
    *pred = *meas = *dist = NAN;
    if (x->kind == FPT_QSS_LOO) {
        double m = 0, p = 0;
        for (int t = 0; t < H; t++) m += St[t];
        *meas = m;
        if (!(Sf[from] > 0)) return;
        for (int t = 0; t < tau; t++) p += S0[t];
        double tail = 0;
        for (int t = 0; t < H - tau; t++) tail += Sf[from + t < H ? from + t : H];
        *pred = p + S0[tau] * tail / Sf[from];
        return;
    }
    const int h = H - tau;   // both laws observed on 0..h
    if (!(Sf[from] > 0) || !(St[tau] > 0)) return;
    double a = 0, b = 0, d = 0;
    for (int t = 0; t <= h; t++) {
        double u = Sf[from + t] / Sf[from], v = St[tau + t] / St[tau];
        if (t < h) a += u, b += v;
        if (fabs(u - v) > d) d = fabs(u - v);
    }
    *pred = a, *meas = b, *dist = d;
}

static double rel_of(double pred, double meas) {
    return isfinite(pred) && isfinite(meas) && meas > 0 ? (pred - meas) / meas : NAN;
}

// The comparisons of one protocol: appended to f->qss.  Its measured periods
// (conditions ks[0..m), increasing) and which can serve as a reference.
static void plan_protocol(check *c, fpt_fit *f, const fpt_fit_protocol *P, const int *ks, int m,
                          const char *is_ref) {
    int ref_k = -1;
    for (int j = 0; j < m; j++)
        if (fpt_frequency_key("periodic", f->conditions[ks[j]].frequency) ==
            fpt_frequency_key("periodic", P->reference))
            ref_k = j;
    for (int j = 0; j < m; j++) {
        // the decisive source: the reference; for the reference itself the
        // next period above it that can serve (a longer period is the surer
        // to meet the QSS), else the last one below
        int dec = -1;
        if (ref_k >= 0 && j != ref_k) dec = ref_k;
        else {
            for (int i = j + 1; i < m && dec < 0; i++)
                if (is_ref[i]) dec = i;
            for (int i = j - 1; i >= 0 && dec < 0; i--)
                if (is_ref[i]) dec = i;
        }
        for (int i = 0; i < m; i++) {
            if (i == j || !(is_ref[i] || i == ref_k)) continue;
            fpt_qss_test *x = &f->qss[f->n_qss];
            memset(x, 0, sizeof *x);
            snprintf(x->protocol, sizeof x->protocol, "%s", P->protocol);
            x->kind = FPT_QSS_LOO;
            x->tau = f->conditions[ks[j]].frequency;
            x->from = f->conditions[ks[i]].frequency;
            x->horizon = c->H;
            x->decisive = i == dec;
            c->cond_tau[f->n_qss] = ks[j], c->cond_from[f->n_qss] = ks[i];
            c->used[ks[i]] = c->used[ks[j]] = 1;
            f->n_qss++;
        }
    }
    for (int i = 0, prev = -1; i < m; i++) {   // neighbouring reference periods' laws
        if (!is_ref[i]) continue;
        if (prev >= 0) {
            fpt_qss_test *x = &f->qss[f->n_qss];
            memset(x, 0, sizeof *x);
            snprintf(x->protocol, sizeof x->protocol, "%s", P->protocol);
            x->kind = FPT_QSS_LAW;
            x->from = f->conditions[ks[prev]].frequency;
            x->tau = f->conditions[ks[i]].frequency;
            x->horizon = c->H - (int)x->tau;
            c->cond_tau[f->n_qss] = ks[i], c->cond_from[f->n_qss] = ks[prev];
            f->n_qss++;
        }
        prev = i;
    }
}

// Verdict of one comparison at tolerance tol.
static fpt_support verdict(const fpt_qss_test *x, double tol) {
    if (!isfinite(x->rel)) return FPT_SUPPORT_INCONCLUSIVE;
    if (isfinite(x->rel_lo) && isfinite(x->rel_hi)) {
        if (x->rel_lo > tol || x->rel_hi < -tol) return FPT_SUPPORT_CONTRADICTED;
    } else if (fabs(x->rel) > tol) {
        return FPT_SUPPORT_CONTRADICTED;   // no bootstrap: the point decides
    }
    return fabs(x->rel) <= tol ? FPT_SUPPORT_CONFIRMED : FPT_SUPPORT_INCONCLUSIVE;
}

// The protocol's ranges from its measured periods' decisive verdicts, and
// every QSS prediction's support and validity.
static void ranges(fpt_fit *f, fpt_fit_protocol *P) {
    double per[256];
    fpt_support v[256];
    int m = 0;
    for (int i = 0; i < f->n_qss && m < 256; i++) {
        const fpt_qss_test *x = &f->qss[i];
        if (x->kind == FPT_QSS_LOO && x->decisive && !strcmp(x->protocol, P->protocol))
            per[m] = x->tau, v[m++] = x->verdict;   // tests are in increasing tau
    }
    int best_a = -1, best_len = 0;
    for (int a = 0; a < m;) {   // the longest run of confirmed periods, the later on a tie
        if (v[a] != FPT_SUPPORT_CONFIRMED) {
            a++;
            continue;
        }
        int b = a;
        while (b + 1 < m && v[b + 1] == FPT_SUPPORT_CONFIRMED) b++;
        if (b - a + 1 >= best_len) best_a = a, best_len = b - a + 1;
        a = b + 1;
    }
    if (best_a >= 0) {
        P->confirmed_lo = per[best_a], P->confirmed_hi = per[best_a + best_len - 1];
        for (int j = 0; j < best_a; j++)
            if (v[j] == FPT_SUPPORT_CONTRADICTED) P->contradicted_below = per[j];
        for (int j = m - 1; j >= best_a + best_len; j--)
            if (v[j] == FPT_SUPPORT_CONTRADICTED) P->contradicted_above = per[j];
    }
    for (int i = 0; i < f->n_predictions; i++) {
        fpt_fit_prediction *x = &f->predictions[i];
        if (x->model != FPT_MODEL_QSS || strcmp(x->protocol, P->protocol) ||
            strcmp(x->timing, "periodic"))
            continue;
        fpt_support s = FPT_SUPPORT_UNTESTED;
        int at = -1;
        for (int j = 0; j < m; j++)
            if (fpt_frequency_key("periodic", per[j]) ==
                fpt_frequency_key("periodic", x->frequency))
                at = j;
        if (at >= 0) s = v[at];
        else if (P->confirmed_lo > 0 && x->frequency >= P->confirmed_lo &&
                 x->frequency <= P->confirmed_hi)
            s = FPT_SUPPORT_CONFIRMED;
        else if ((P->contradicted_below > 0 && x->frequency <= P->contradicted_below) ||
                 (P->contradicted_above > 0 && x->frequency >= P->contradicted_above))
            s = FPT_SUPPORT_CONTRADICTED;
        x->support = s;
        x->valid = s == FPT_SUPPORT_CONFIRMED ||
                   (s != FPT_SUPPORT_CONTRADICTED && f->t_rel > 0 && x->frequency >= f->t_rel);
    }
}

// Percentile intervals of every test's rel over B resamples.
static int bootstrap(check *c, fpt_fit *f, fpt_err *err) {
    const int B = f->opt.bootstrap < MAX_BOOT ? f->opt.bootstrap : MAX_BOOT;
    if (B <= 0 || f->n_qss == 0) return 0;
    const size_t H1 = (size_t)c->H + 1;
    int max_n = 1;
    for (int k = 0; k < c->nc; k++)
        if (c->n[k] > max_n) max_n = c->n[k];
    double *S = malloc((size_t)c->nc * H1 * sizeof *S);
    double *val = malloc((size_t)B * (size_t)f->n_qss * sizeof *val);
    int *idx = malloc((size_t)max_n * sizeof *idx), *d = malloc(H1 * sizeof *d),
        *cz = malloc(H1 * sizeof *cz);
    if (!S || !val || !idx || !d || !cz) {
        free(S), free(val), free(idx), free(d), free(cz);
        return fpt_fail(err, "fit: QSS check: out of memory for %d resamples", B);
    }
    for (int b = 0; b < B; b++) {
        fpt_rng rng;   // resample b: every condition's runs drawn with replacement, in order
        fpt_rng_init(&rng, f->opt.seed, FPT_RNG_QSS, (uint32_t)b);
        for (int k = 0; k < c->nc; k++) {
            for (int i = 0; i < c->n[k]; i++) idx[i] = (int)fpt_rng_below(&rng, (uint32_t)c->n[k]);
            if (c->used[k] || k == 0) km_of(c, k, idx, d, cz, S + (size_t)k * H1);
        }
        for (int i = 0; i < f->n_qss; i++) {
            double p, m, dist;
            evaluate(&f->qss[i], c->H, S, S + (size_t)c->cond_from[i] * H1,
                     S + (size_t)c->cond_tau[i] * H1, &p, &m, &dist);
            val[(size_t)i * B + b] = rel_of(p, m);
        }
    }
    for (int i = 0; i < f->n_qss; i++)
        fpt_fit_percentile(val + (size_t)i * B, B, f->opt.level, &f->qss[i].rel_lo,
                           &f->qss[i].rel_hi);
    free(S), free(val), free(idx), free(d), free(cz);
    return 0;
}

int fpt_qss_check(const fpt_runs *runs, fpt_fit *f, fpt_err *err) {
    check c = {.f = f, .H = f->horizon, .nc = f->n_conditions};
    f->n_qss = 0;
    int n_per = 0;   // periodic protocols' measured periods: a bound on the tests
    for (int p = 0; p < f->n_protocols; p++)
        if (f->protocols[p].reference > 0 && !strcmp(f->protocols[p].timing, "periodic"))
            for (int k = 0; k < f->n_conditions; k++)
                n_per += !strcmp(f->conditions[k].protocol, f->protocols[p].protocol) &&
                         !strcmp(f->conditions[k].timing, "periodic");
    if (n_per < 2) return 0;   // nothing to compare
    int rc = gather(&c, runs, err);
    const size_t cap = (size_t)n_per * (size_t)n_per + (size_t)n_per + 1;
    if (rc == 0) {
        f->qss = calloc(cap, sizeof *f->qss);
        c.cond_from = malloc(cap * sizeof *c.cond_from);
        c.cond_tau = malloc(cap * sizeof *c.cond_tau);
        if (!f->qss || !c.cond_from || !c.cond_tau)
            rc = fpt_fail(err, "fit: QSS check: out of memory");
    }
    int *ks = malloc(((size_t)n_per + 1) * sizeof *ks);
    char *is_ref = malloc((size_t)n_per + 1);
    if (rc == 0 && (!ks || !is_ref)) rc = fpt_fail(err, "fit: QSS check: out of memory");
    for (int p = 0; rc == 0 && p < f->n_protocols; p++) {
        const fpt_fit_protocol *P = &f->protocols[p];
        if (!(P->reference > 0) || strcmp(P->timing, "periodic")) continue;
        int m = 0;   // measured periods with enough runs, increasing (conditions are sorted)
        for (int k = 0; k < f->n_conditions; k++) {
            const fpt_fit_condition *q = &f->conditions[k];
            if (strcmp(q->protocol, P->protocol) || strcmp(q->timing, "periodic") ||
                q->runs < f->opt.min_runs || !(q->frequency < c.H))
                continue;   // (a period past the horizon perturbs no run)
            // a reference: in the QSS (period >= t_rel) with enough runs left after it
            is_ref[m] = f->t_rel > 0 && q->frequency >= f->t_rel &&
                        beyond(&c, k, (int)q->frequency) >= f->opt.min_runs;
            ks[m++] = k;
        }
        if (m >= 2) plan_protocol(&c, f, P, ks, m, is_ref);
    }
    free(ks), free(is_ref);
    if (rc == 0 && f->n_qss > 0) {   // the point values
        const size_t H1 = (size_t)c.H + 1;
        double *S = malloc((size_t)c.nc * H1 * sizeof *S);
        int *d = malloc(H1 * sizeof *d), *cz = malloc(H1 * sizeof *cz);
        if (!S || !d || !cz) rc = fpt_fail(err, "fit: QSS check: out of memory");
        for (int k = 0; rc == 0 && k < c.nc; k++)
            if (c.used[k] || k == 0) km_of(&c, k, NULL, d, cz, S + (size_t)k * H1);
        for (int i = 0; rc == 0 && i < f->n_qss; i++) {
            fpt_qss_test *x = &f->qss[i];
            evaluate(x, c.H, S, S + (size_t)c.cond_from[i] * H1, S + (size_t)c.cond_tau[i] * H1,
                     &x->predicted, &x->measured, &x->distance);
            x->rel = rel_of(x->predicted, x->measured);
            x->rel_lo = x->rel_hi = NAN;
        }
        free(S), free(d), free(cz);
    }
    if (rc == 0) rc = bootstrap(&c, f, err);
    for (int i = 0; rc == 0 && i < f->n_qss; i++)
        f->qss[i].verdict = verdict(&f->qss[i], f->opt.qss_tolerance);
    for (int p = 0; rc == 0 && p < f->n_protocols; p++)
        if (f->protocols[p].reference > 0 && !strcmp(f->protocols[p].timing, "periodic"))
            ranges(f, &f->protocols[p]);
    check_free(&c);
    return rc;
}
