// ks.c — two-sample Kolmogorov-Smirnov test and relaxation time (see ks.h).
#include "analysis/ks.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const double PI = 3.14159265358979323846;

static int cmp_double(const void *a, const void *b) {
    double u = *(const double *)a, v = *(const double *)b;
    return (u > v) - (u < v);
}

// D of two sorted samples without NaN.  After each distinct value v both
// indices move past every element <= v, so ties change both CDFs together.
// The difference i/n - j/m is kept as the integer i m - j n, so equal CDFs
// give exactly D = 0.
static double ks_d_sorted(const double *x, size_t n, const double *y, size_t m) {
    size_t i = 0, j = 0;
    uint64_t best = 0;
    while (i < n && j < m) {
        double v = x[i] < y[j] ? x[i] : y[j];
        while (i < n && x[i] <= v) i++;
        while (j < m && y[j] <= v) j++;
        uint64_t a = (uint64_t)i * m, b = (uint64_t)j * n;
        uint64_t diff = a > b ? a - b : b - a;
        if (diff > best) best = diff;
    }
    // Once one sample is used up its CDF is 1 and the other's only climbs
    // towards 1, so the difference can only shrink: nothing left to check.
    return (double)best / ((double)n * (double)m);
}

static double ks_p(double d, size_t n, size_t m) {
    double ne = (double)n * (double)m / ((double)n + (double)m), s = sqrt(ne);
    return fpt_kolmogorov_q((s + 0.12 + 0.11 / s) * d);
}

double fpt_kolmogorov_q(double l) {
    if (isnan(l)) return NAN;
    if (l <= 0.0) return 1.0;
    double sum = 0.0;
    if (l < 1.18) {
        // The alternating series converges slowly for small l; use its Jacobi
        // theta transform, 1 - Q = sqrt(2 pi)/l sum_{j>=1} exp(-(2j-1)^2 pi^2/(8 l^2)),
        // whose terms fall at least as fast as 0.41^((2j-1)^2) below 1.18.
        double c = PI * PI / (8.0 * l * l);
        for (int j = 1; j <= 100; j++) {
            double term = exp(-(double)(2 * j - 1) * (2 * j - 1) * c);
            sum += term;
            if (term <= 1e-17 * sum) break;
        }
        sum = 1.0 - sqrt(2.0 * PI) / l * sum;
    } else {
        double sign = 2.0;
        for (int j = 1; j <= 100; j++) {
            double term = exp(-2.0 * j * j * l * l);
            sum += sign * term;
            if (term <= 1e-17 * sum) break;
            sign = -sign;
        }
    }
    return sum < 0.0 ? 0.0 : sum > 1.0 ? 1.0 : sum;
}

int fpt_ks_2samp(const double *x, size_t n, const double *y, size_t m, fpt_ks *out, fpt_err *err) {
    memset(out, 0, sizeof *out);
    if (n == 0 || m == 0)
        return fpt_fail(err, "KS test: samples of %zu and %zu values (expected at least 1 each)", n,
                        m);
    if (n > INT_MAX || m > INT_MAX)
        return fpt_fail(err, "KS test: samples of %zu and %zu values (at most %d each)", n, m,
                        INT_MAX);
    for (size_t i = 0; i < n; i++)
        if (isnan(x[i])) return fpt_fail(err, "KS test: first sample has NaN at index %zu", i);
    for (size_t j = 0; j < m; j++)
        if (isnan(y[j])) return fpt_fail(err, "KS test: second sample has NaN at index %zu", j);
    double *xs = malloc(n * sizeof *xs), *ys = malloc(m * sizeof *ys);
    if (!xs || !ys) {
        free(xs), free(ys);
        return fpt_fail(err, "KS test: out of memory for %zu + %zu values", n, m);
    }
    memcpy(xs, x, n * sizeof *xs);
    memcpy(ys, y, m * sizeof *ys);
    qsort(xs, n, sizeof *xs, cmp_double);
    qsort(ys, m, sizeof *ys, cmp_double);
    out->d = ks_d_sorted(xs, n, ys, m);
    out->p = ks_p(out->d, n, m);
    out->n = (int)n;
    out->m = (int)m;
    free(xs), free(ys);
    return 0;
}

// Column e (1-based epoch) of acc, sorted; -1 on a NaN.
static int sorted_column(const double *acc, size_t runs, int stride, int e, double *col,
                         fpt_err *err) {
    for (size_t r = 0; r < runs; r++) {
        col[r] = acc[r * (size_t)stride + (size_t)(e - 1)];
        if (isnan(col[r]))
            return fpt_fail(err, "relaxation: run %zu has NaN test accuracy at epoch %d", r, e);
    }
    qsort(col, runs, sizeof *col, cmp_double);
    return 0;
}

int fpt_relaxation_time(const double *acc, size_t runs, int stride, int ref_epoch, double alpha,
                        int window, fpt_relax *out, fpt_err *err) {
    memset(out, 0, sizeof *out);
    if (runs < 2)
        return fpt_fail(err, "relaxation: %zu runs (expected at least 2)", runs);
    if (runs > INT_MAX)
        return fpt_fail(err, "relaxation: %zu runs (at most %d)", runs, INT_MAX);
    if (ref_epoch < 2 || ref_epoch > stride)
        return fpt_fail(err,
                        "relaxation: reference epoch %d out of range (expected 2 <= ref_epoch <= %d,"
                        " the epochs stored per run)",
                        ref_epoch, stride);
    if (!(alpha > 0.0 && alpha < 1.0))
        return fpt_fail(err, "relaxation: significance level %g (expected 0 < alpha < 1)", alpha);
    if (window < 1) return fpt_fail(err, "relaxation: window of %d epochs (expected >= 1)", window);

    const int n = ref_epoch - 1;
    double *ref = malloc(runs * sizeof *ref), *col = malloc(runs * sizeof *col);
    double *d = malloc((size_t)n * sizeof *d), *p = malloc((size_t)n * sizeof *p);
    if (!ref || !col || !d || !p) {
        free(ref), free(col), free(d), free(p);
        return fpt_fail(err, "relaxation: out of memory for %zu runs x %d epochs", runs, n);
    }
    if (sorted_column(acc, runs, stride, ref_epoch, ref, err) != 0) goto fail;
    for (int t = 1; t <= n; t++) {
        if (sorted_column(acc, runs, stride, t, col, err) != 0) goto fail;
        d[t - 1] = ks_d_sorted(col, runs, ref, runs);
        p[t - 1] = ks_p(d[t - 1], runs, runs);
    }
    free(ref), free(col);

    // Scan backwards: ok = number of consecutive non-rejecting epochs from t
    // on (up to the reference), so t qualifies when ok covers its clipped
    // window.  The smallest qualifying t is the last one seen.
    int t_rel = 0, ok = 0;
    for (int t = n; t >= 1; t--) {
        ok = p[t - 1] >= alpha ? ok + 1 : 0;
        int need = window < n - t + 1 ? window : n - t + 1;
        if (ok >= need) t_rel = t;
    }
    *out = (fpt_relax){ref_epoch, t_rel, n, d, p};
    return 0;
fail:
    free(ref), free(col), free(d), free(p);
    return -1;
}

void fpt_relax_free(fpt_relax *r) {
    free(r->d);
    free(r->p);
    memset(r, 0, sizeof *r);
}

// Sorting key for a column: the value, then the run (a total order).
typedef struct valrun { double v; int r; } valrun;
static int cmp_valrun(const void *a, const void *b) {
    const valrun *x = a, *y = b;
    return x->v < y->v ? -1 : x->v > y->v ? 1 : (x->r > y->r) - (x->r < y->r);
}

int fpt_drift_data_make(const double *acc, size_t runs, int stride, int horizon,
                        fpt_drift_data *out, fpt_err *err) {
    memset(out, 0, sizeof *out);
    if (runs < 1 || runs > INT_MAX)
        return fpt_fail(err, "relaxation: %zu runs (expected 1..%d)", runs, INT_MAX);
    if (horizon < 1 || horizon > stride)
        return fpt_fail(err, "relaxation: horizon %d epochs (expected 1..%d, the epochs stored "
                             "per run)", horizon, stride);
    const size_t cells = (size_t)horizon * runs;
    double *val = malloc(cells * sizeof *val);
    int *run = malloc(cells * sizeof *run);
    valrun *col = malloc(runs * sizeof *col);
    if (!val || !run || !col) {
        free(val), free(run), free(col);
        return fpt_fail(err, "relaxation: out of memory for %zu runs x %d epochs", runs, horizon);
    }
    for (int e = 1; e <= horizon; e++) {
        for (size_t r = 0; r < runs; r++) {
            col[r] = (valrun){acc[r * (size_t)stride + (size_t)(e - 1)], (int)r};
            if (isnan(col[r].v)) {
                free(val), free(run), free(col);
                return fpt_fail(err, "relaxation: run %zu has NaN test accuracy at epoch %d", r,
                                e);
            }
        }
        qsort(col, runs, sizeof *col, cmp_valrun);
        for (size_t k = 0; k < runs; k++) {
            val[(size_t)(e - 1) * runs + k] = col[k].v;
            run[(size_t)(e - 1) * runs + k] = col[k].r;
        }
    }
    free(col);
    *out = (fpt_drift_data){(int)runs, horizon, val, run};
    return 0;
}

void fpt_drift_data_free(fpt_drift_data *d) {
    free(d->val);
    free(d->run);
    memset(d, 0, sizeof *d);
}

// Epoch e's column of the resample, ascending: each value count[run] times.
static void resample_column(const fpt_drift_data *d, const int *count, int e, double *out) {
    const double *v = d->val + (size_t)(e - 1) * d->runs;
    const int *r = d->run + (size_t)(e - 1) * d->runs;
    size_t m = 0;
    for (int k = 0; k < d->runs; k++)
        for (int c = count ? count[r[k]] : 1; c > 0; c--) out[m++] = v[k];
}

int fpt_drift_compute(const fpt_drift_data *d, const int *count, int window, double tolerance,
                      fpt_drift *out, fpt_err *err) {
    memset(out, 0, sizeof *out);
    const int horizon = d->horizon;
    const size_t runs = (size_t)d->runs;
    if (window < 1) return fpt_fail(err, "relaxation: window of %d epochs (expected >= 1)", window);
    if (horizon <= 2 * window)
        return fpt_fail(err,
                        "relaxation: horizon %d epochs (expected %d < horizon: more than twice "
                        "the window)",
                        horizon, 2 * window);
    if (!(tolerance >= 0.0 && tolerance <= 1.0))
        return fpt_fail(err, "relaxation: tolerance %g (expected 0 <= tolerance <= 1)",
                        tolerance);
    const int n = horizon - window;
    double *x = malloc(runs * sizeof *x), *y = malloc(runs * sizeof *y);
    double *dd = malloc((size_t)n * sizeof *dd), *late = malloc((size_t)n * sizeof *late);
    if (!x || !y || !dd || !late) {
        free(x), free(y), free(dd), free(late);
        return fpt_fail(err, "relaxation: out of memory for %zu runs x %d epochs", runs, horizon);
    }
    for (int t = 1; t <= n; t++) {
        resample_column(d, count, t, x);
        resample_column(d, count, t + window, y);
        dd[t - 1] = ks_d_sorted(x, runs, y, runs);
    }
    free(x), free(y);
    // The floor: the median of D over t in [H/2, n] (n >= H/2 since H > 2W).
    const int first = horizon / 2 > 1 ? horizon / 2 : 1;
    const int k = n - first + 1;
    memcpy(late, dd + (first - 1), (size_t)k * sizeof *late);
    qsort(late, (size_t)k, sizeof *late, cmp_double);
    const double floor_d = k % 2 ? late[k / 2] : 0.5 * (late[k / 2 - 1] + late[k / 2]);
    free(late);
    // Scan backwards as fpt_relaxation_time does: ok counts the epochs from
    // t on within the bound; t qualifies when they cover its clipped window.
    const double bound = floor_d + tolerance;
    int t_rel = 0, ok = 0;
    for (int t = n; t >= 1; t--) {
        ok = dd[t - 1] <= bound ? ok + 1 : 0;
        const int need = window < n - t + 1 ? window : n - t + 1;
        if (ok >= need) t_rel = t;
    }
    *out = (fpt_drift){horizon, window, tolerance, floor_d, t_rel, n, dd};
    return 0;
}

int fpt_relaxation_drift(const double *acc, size_t runs, int stride, int horizon, int window,
                         double tolerance, fpt_drift *out, fpt_err *err) {
    memset(out, 0, sizeof *out);
    if (horizon > stride || horizon <= 2 * window || window < 1)
        return fpt_fail(err,
                        "relaxation: horizon %d epochs (expected %d < horizon <= %d: more than "
                        "twice the window, at most the epochs stored per run)",
                        horizon, 2 * window, stride);
    fpt_drift_data d;
    if (fpt_drift_data_make(acc, runs, stride, horizon, &d, err)) return -1;
    const int rc = fpt_drift_compute(&d, NULL, window, tolerance, out, err);
    fpt_drift_data_free(&d);
    return rc;
}

void fpt_drift_free(fpt_drift *r) {
    free(r->d);
    memset(r, 0, sizeof *r);
}
