// survival.c — Kaplan-Meier, Greenwood, confidence intervals (see survival.h).
#include "analysis/survival.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// Two-sided normal quantile for the common levels; others by bisection on erfc.
static double z_of(double level) {
    double p = (1.0 - level) / 2.0, lo = 0.0, hi = 10.0;
    for (int i = 0; i < 200; i++) {   // solve erfc(z / sqrt 2) / 2 = p
        double mid = (lo + hi) / 2.0;
        if (0.5 * erfc(mid / sqrt(2.0)) > p) lo = mid;
        else hi = mid;
    }
    return (lo + hi) / 2.0;
}

int fpt_km_fit(fpt_km *km, const int *time, const int *event, size_t n, fpt_err *err) {
    memset(km, 0, sizeof *km);
    if (n == 0) return fpt_fail(err, "Kaplan-Meier: no observations");
    int tmax = 0;
    for (size_t i = 0; i < n; i++) {
        if (time[i] < 1)
            return fpt_fail(err, "Kaplan-Meier: observation %zu has time %d (expected >= 1 epoch)",
                            i, time[i]);
        if (event[i] != 0 && event[i] != 1)
            return fpt_fail(err, "Kaplan-Meier: observation %zu has event %d (expected 0 or 1)",
                            i, event[i]);
        if (time[i] > tmax) tmax = time[i];
    }
    // Counts per epoch: events d[t], censorings c[t].
    int *d = calloc((size_t)tmax + 1, sizeof(int)), *c = calloc((size_t)tmax + 1, sizeof(int));
    km->steps = calloc((size_t)tmax, sizeof(fpt_km_step));
    if (!d || !c || !km->steps) {
        free(d), free(c), free(km->steps);
        km->steps = NULL;
        return fpt_fail(err, "Kaplan-Meier: out of memory for %d epochs", tmax);
    }
    for (size_t i = 0; i < n; i++) {
        if (event[i]) d[time[i]]++, km->n_events++;
        else c[time[i]]++;
    }
    km->n = (int)n;
    km->last_time = tmax;
    int at_risk = (int)n;
    double s = 1.0, gw = 0.0;
    for (int t = 1; t <= tmax; t++) {
        if (d[t] > 0) {
            s *= 1.0 - (double)d[t] / at_risk;
            gw = d[t] < at_risk ? gw + (double)d[t] / ((double)at_risk * (at_risk - d[t]))
                                : INFINITY;
            km->steps[km->n_steps++] = (fpt_km_step){t, at_risk, d[t], c[t], s, gw};
        }
        at_risk -= d[t] + c[t];
    }
    free(d), free(c);
    return 0;
}

void fpt_km_free(fpt_km *km) {
    free(km->steps);
    memset(km, 0, sizeof *km);
}

// The last step at or before t, or NULL before the first event.
static const fpt_km_step *step_at(const fpt_km *km, int t) {
    const fpt_km_step *last = NULL;
    for (int i = 0; i < km->n_steps && km->steps[i].t <= t; i++) last = &km->steps[i];
    return last;
}

double fpt_km_survival(const fpt_km *km, int t) {
    const fpt_km_step *s = step_at(km, t);
    return s ? s->s : 1.0;
}

double fpt_km_se(const fpt_km *km, int t) {
    const fpt_km_step *s = step_at(km, t);
    if (!s || s->s == 0.0) return 0.0;
    return s->s * sqrt(s->gw);
}

void fpt_km_ci(const fpt_km *km, int t, double level, fpt_ci_kind kind, double *lo, double *hi) {
    const fpt_km_step *s = step_at(km, t);
    if (!s) {                      // before the first event S = 1 with no variance
        *lo = *hi = 1.0;
        return;
    }
    if (s->s == 0.0 || s->s == 1.0) {
        *lo = *hi = s->s;
        return;
    }
    const double z = z_of(level), S = s->s;
    if (kind == FPT_CI_LOG) {      // exp(log S +- z sqrt(gw)), capped at 1
        double w = z * sqrt(s->gw);
        *lo = S * exp(-w);
        *hi = fmin(1.0, S * exp(w));
    } else {                       // S^exp(+-z sqrt(gw) / |log S|)
        double w = z * sqrt(s->gw) / fabs(log(S));
        *lo = pow(S, exp(w));
        *hi = pow(S, exp(-w));
    }
}

double fpt_km_restricted_mean(const fpt_km *km, int tau) {
    double m = 0.0;
    for (int t = 0; t < tau; t++) m += fpt_km_survival(km, t);
    return m;
}

int fpt_km_median(const fpt_km *km) {
    for (int i = 0; i < km->n_steps; i++)
        if (km->steps[i].s <= 0.5) return km->steps[i].t;
    return 0;
}

void fpt_km_median_ci(const fpt_km *km, double level, fpt_ci_kind kind, int *lo, int *hi) {
    *lo = *hi = 0;
    for (int i = 0; i < km->n_steps && *hi == 0; i++) {
        const fpt_km_step *s = &km->steps[i];
        if (s->s == 0.0) continue;   // no band where S = 0 (R: NA)
        double l, u;
        fpt_km_ci(km, s->t, level, kind, &l, &u);
        if (*lo == 0 && l <= 0.5) *lo = s->t;
        if (u <= 0.5) *hi = s->t;
    }
}

int fpt_tail_fit(const int *time, const int *event, size_t n, int t0, fpt_tail *out, fpt_err *err) {
    memset(out, 0, sizeof *out);
    if (t0 < 0) return fpt_fail(err, "tail fit: start epoch %d (expected >= 0)", t0);
    int at_risk = 0, d = 0;
    double x = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (time[i] < 1)
            return fpt_fail(err, "tail fit: observation %zu has time %d (expected >= 1 epoch)", i,
                            time[i]);
        if (event[i] != 0 && event[i] != 1)
            return fpt_fail(err, "tail fit: observation %zu has event %d (expected 0 or 1)", i,
                            event[i]);
        if (time[i] <= t0) continue;
        at_risk++;
        d += event[i];
        x += time[i] - t0;
    }
    if (at_risk == 0)
        return fpt_fail(err, "tail fit: no run is still at risk after epoch %d (of %zu runs, none"
                        " has time > %d)", t0, n, t0);
    if (d == 0)
        return fpt_fail(err, "tail fit: no first passage after epoch %d among the %d runs at risk"
                        " (rate 0: no finite extrapolated mean)", t0, at_risk);
    double h = d / x;
    *out = (fpt_tail){t0, at_risk, d, x, h, INFINITY, 0.0};
    if (h < 1.0) {
        double info = d / (h * h) + (x - d) / ((1.0 - h) * (1.0 - h));
        out->k = -log1p(-h);
        out->k_se = 1.0 / sqrt(info) / (1.0 - h);
    }
    return 0;
}

void fpt_geometric_tail_sums(int horizon, double h, double *s1, double *s2) {
    const double q = 1.0 - h;
    *s1 = 1.0 / h;
    *s2 = (2.0 * horizon + 1.0) / h + 2.0 * q / (h * h);
}

double fpt_km_extrapolated_mean(const fpt_km *km, int horizon, const fpt_tail *tail) {
    if (horizon < 0 || !(tail->h > 0.0 && tail->h <= 1.0)) return NAN;
    double s1, s2;
    fpt_geometric_tail_sums(horizon, tail->h, &s1, &s2);
    return fpt_km_restricted_mean(km, horizon) + fpt_km_survival(km, horizon) * s1;
}
double fpt_km_extrapolated_second_moment(const fpt_km *km, int horizon, const fpt_tail *tail) {
    if (horizon < 0 || !(tail->h > 0.0 && tail->h <= 1.0)) return NAN;
    double s1, s2, m2 = 0.0;
    fpt_geometric_tail_sums(horizon, tail->h, &s1, &s2);
    for (int t = 0; t < horizon; t++) m2 += (2.0 * t + 1.0) * fpt_km_survival(km, t);
    return m2 + fpt_km_survival(km, horizon) * s2;
}

void fpt_km_counts(const int *d, const int *c, int n, int h, double *S) {
    int at_risk = n;
    double s = 1.0;
    S[0] = 1.0;
    for (int t = 1; t <= h; t++) {
        if (d[t] > 0 && at_risk > 0) s *= 1.0 - (double)d[t] / at_risk;
        S[t] = s;
        at_risk -= d[t] + c[t];
    }
}
