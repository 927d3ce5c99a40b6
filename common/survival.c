// survival.c — Kaplan-Meier, Greenwood, confidence intervals (see survival.h).
#include "survival.h"

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
