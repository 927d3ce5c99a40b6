// accuracy_bands.c — per-epoch accuracy quantiles of a condition's runs
// (see accuracy_bands.h).  Plain by design: at each epoch the values are
// gathered, sorted and interpolated; n runs x E epochs costs E sorts of at
// most n values (the study: 1000 x 200, a few milliseconds).
#include "analysis/accuracy_bands.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/condition.h"
#include "base/memory.h"

const double fpt_acc_probs[FPT_ACC_NQ] = {0.10, 0.25, 0.50, 0.75, 0.90};

double fpt_quantile7(const double *sorted, int n, double p) {
    if (n < 1 || !(p >= 0 && p <= 1)) return NAN;
    const double h = (n - 1) * p;
    const int lo = (int)floor(h);
    if (lo >= n - 1) return sorted[n - 1];
    return sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo]);
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int used(const fpt_run_trace *r, const char *protocol, const char *timing,
                double frequency) {
    return !r->diverged && r->n_epochs > 0 &&
           fpt_condition_same(r->protocol, r->timing, r->frequency, protocol, timing, frequency);
}

void fpt_acc_band_free(fpt_acc_band *b) {
    if (!b) return;
    fpt_free(b->count);
    fpt_free(b->q);
    b->count = NULL, b->q = NULL;
}

int fpt_acc_band_compute(const fpt_runs *runs, const char *protocol, const char *timing,
                         double frequency, fpt_acc_band *out, fpt_err *err) {
    memset(out, 0, sizeof *out);
    snprintf(out->protocol, sizeof out->protocol, "%s", protocol);
    snprintf(out->timing, sizeof out->timing, "%s", timing);
    out->frequency = frequency;
    for (int i = 0; i < runs->n_runs; i++) {
        const fpt_run_trace *r = &runs->runs[i];
        if (!used(r, protocol, timing, frequency)) continue;
        out->runs++;
        if (r->n_epochs > out->n_epochs) out->n_epochs = r->n_epochs;
    }
    if (out->runs == 0) {
        char label[96];
        return fpt_fail(err, "accuracy bands: no finished, undiverged run of %s",
                        fpt_condition_label(protocol, timing, frequency, label, sizeof label));
    }
    const size_t ne = (size_t)out->n_epochs;
    out->count = fpt_calloc(ne, sizeof *out->count, "accuracy band counts", err);
    out->q = out->count ? fpt_calloc(ne * FPT_ACC_NQ, sizeof *out->q, "accuracy bands", err) : NULL;
    double *vals = out->q ? fpt_calloc((size_t)out->runs, sizeof *vals, "accuracy column", err)
                          : NULL;
    if (!vals) {
        fpt_acc_band_free(out);
        return -1;
    }
    for (int e = 1; e <= out->n_epochs; e++) {
        int n = 0;
        for (int i = 0; i < runs->n_runs; i++) {
            const fpt_run_trace *r = &runs->runs[i];
            if (used(r, protocol, timing, frequency) && r->n_epochs >= e && isfinite(r->acc[e - 1]))
                vals[n++] = r->acc[e - 1];
        }
        qsort(vals, (size_t)n, sizeof *vals, cmp_double);
        out->count[e - 1] = n;
        for (int k = 0; k < FPT_ACC_NQ; k++)
            out->q[(size_t)(e - 1) * FPT_ACC_NQ + k] = fpt_quantile7(vals, n, fpt_acc_probs[k]);
    }
    fpt_free(vals);
    return 0;
}

void fpt_accuracy_bands_free(fpt_accuracy_bands *b) {
    if (!b) return;
    for (int i = 0; i < b->n; i++) fpt_acc_band_free(&b->b[i]);
    b->n = 0;
}

int fpt_accuracy_bands_for_fit(const fpt_runs *runs, const fpt_fit *fit, fpt_accuracy_bands *out,
                               fpt_err *err) {
    memset(out, 0, sizeof *out);
    out->target = fit->opt.target;
    if (fpt_acc_band_compute(runs, "none", "none", 0, &out->b[0], err)) return -1;
    out->n = 1;
    for (int i = 0; i < fit->n_protocols && out->n < FPT_ACC_MAX_BANDS; i++) {
        const fpt_fit_protocol *p = &fit->protocols[i];
        if (!(p->reference > 0)) continue;
        int any = 0;   // a reference without runs is left out, not an error
        for (int k = 0; k < runs->n_runs && !any; k++)
            any = used(&runs->runs[k], p->protocol, p->timing, p->reference);
        if (!any) continue;
        if (fpt_acc_band_compute(runs, p->protocol, p->timing, p->reference, &out->b[out->n],
                                 err)) {
            fpt_accuracy_bands_free(out);
            return -1;
        }
        out->n++;
    }
    return 0;
}
