// plot_survival.c — the survival figure (plot.h): Kaplan-Meier S(t) per
// condition on a log epoch axis, one sequential colour map per protocol.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analysis/plot_gp.h"

static int curve_has_points(const fpt_fit_condition *c) {
    for (int t = 0; c->curve && t < c->n_curve; t++)
        if (isfinite(c->curve[t].s)) return 1;
    return 0;
}

int fpt_gp_survival_has_data(const fpt_fit *fit) {
    for (int i = 0; i < fit->n_conditions; i++)
        if (curve_has_points(&fit->conditions[i])) return 1;
    return 0;
}

// S as a step function from epoch 1 (the log axis has no 0; S(0) = 1
// always): a point where it changes, and the last epoch.
static void step_series(fpt_gp_series *s, const fpt_fit_condition *c) {
    s->n = 0;
    int have = 0, last = 0, last_added = -1;
    double prev = 0;
    for (int t = 0; t < c->n_curve; t++) {
        const fpt_curve_point *q = &c->curve[t];
        if (q->epoch < 1) continue;
        if (!isfinite(q->s)) {
            if (have) {
                if (last_added != q->epoch) fpt_gp_add(s, q->epoch, prev, 0, 0);
                fpt_gp_break(s);
            }
            have = 0;
            continue;
        }
        if (!have || q->s != prev) {
            fpt_gp_add(s, q->epoch, q->s, 0, 0);
            last_added = q->epoch;
        }
        prev = q->s, have = 1, last = q->epoch;
    }
    if (have && last_added != last) fpt_gp_add(s, last, prev, 0, 0);
}

// The pointwise band as a staircase: (t, lo, hi) at both ends of each flat part.
static void band_series(fpt_gp_series *s, const fpt_fit_condition *c) {
    s->n = 0;
    int have = 0, last = 0;
    double plo = 0, phi = 0;
    for (int t = 0; t < c->n_curve; t++) {
        const fpt_curve_point *q = &c->curve[t];
        if (q->epoch < 1) continue;
        if (!isfinite(q->lo) || !isfinite(q->hi)) {
            if (have) {
                fpt_gp_add(s, q->epoch, NAN, plo, phi);
                fpt_gp_break(s);
            }
            have = 0;
            continue;
        }
        if (!have) {
            fpt_gp_add(s, q->epoch, NAN, q->lo, q->hi);
        } else if (q->lo != plo || q->hi != phi) {
            fpt_gp_add(s, q->epoch, NAN, plo, phi);
            fpt_gp_add(s, q->epoch, NAN, q->lo, q->hi);
        }
        plo = q->lo, phi = q->hi, have = 1, last = q->epoch;
    }
    if (have) fpt_gp_add(s, last, NAN, plo, phi);
}

// Perturbation rate of a condition: 1/tau for periodic, p otherwise.
static double rate(const fpt_fit_condition *c) {
    if (strcmp(c->timing, "periodic") == 0) return c->frequency > 0 ? 1.0 / c->frequency : 0;
    return c->frequency;
}

// Whether c is its protocol's reference condition in the fit (its band is drawn).
static int is_reference(const fpt_fit *fit, const fpt_fit_condition *c) {
    for (int i = 0; i < fit->n_protocols; i++) {
        const fpt_fit_protocol *p = &fit->protocols[i];
        if (p->reference > 0 && fpt_condition_same(p->protocol, p->timing, p->reference,
                                                   c->protocol, c->timing, c->frequency))
            return 1;
    }
    return 0;
}

static int same_group(const fpt_fit_condition *a, const fpt_fit_condition *b) {
    return strcmp(a->protocol, b->protocol) == 0 && strcmp(a->timing, b->timing) == 0;
}

int fpt_gp_fig_survival(FILE *f, const fpt_fit *fit, const fpt_plot_options *opt,
                        fpt_gp_series *s, int *next_id) {
    fpt_gp_figure g;
    fpt_gp_begin(&g, f, next_id, opt, "survival: Kaplan-Meier S(t) per condition");
    fpt_gp_fit_title(f, opt, fit, "survival S(t) = P(T > t)");
    int horizon = fit->horizon;
    for (int i = 0; i < fit->n_conditions; i++) {
        const fpt_fit_condition *c = &fit->conditions[i];
        if (c->curve && c->n_curve > 0 && c->curve[c->n_curve - 1].epoch > horizon)
            horizon = c->curve[c->n_curve - 1].epoch;
    }
    if (horizon < 2) horizon = 2;
    // Log x from just before the first drop of any curve (where every S is
    // still 1 there is nothing to see) to the horizon: the perturbed curves
    // fall within tens of epochs, the baseline's tail runs to the horizon,
    // and both stay readable.
    int first_drop = horizon;
    for (int i = 0; i < fit->n_conditions; i++) {
        const fpt_fit_condition *c = &fit->conditions[i];
        for (int t = 0; c->curve && t < c->n_curve; t++)
            if (isfinite(c->curve[t].s) && c->curve[t].s < 1) {
                if (c->curve[t].epoch < first_drop) first_drop = c->curve[t].epoch;
                break;
            }
    }
    const double x_lo = fmax(1, first_drop / 1.5);
    char label[200], level[32];
    fpt_gp_level(fit, level, sizeof level);
    fputs("set xlabel 'epoch t (log scale)' offset 0,0.5\nset ylabel 'S(t) = P(T > t)'\n"
          "set logscale x\n",
          f);
    double x0, x1;
    fpt_gp_log_axis(f, "x", x_lo, horizon, 1, 1.02, &x0, &x1);
    // The key below the plot in three columns (a dozen curves: inside it
    // covered curves wherever it went, on the right it took a third of the
    // width); the note on the bands top right, where the curves are all
    // near 1 or well below.
    fputs("set yrange [0:1.02]\nset ytics 0.1\nset grid lc rgb '#e4e4e4'\n"
          "set key outside bottom center horizontal maxcols 3 box lc rgb '#cccccc' font ',8' "
          "spacing 0.9 Left reverse width -9 height 1\n",
          f);
    snprintf(label, sizeof label, "shaded: pointwise %s%sbands, baseline and reference only",
             level, level[0] ? " " : "");
    fputs("set label 9 ", f);
    fpt_gp_quote(f, label, sizeof label);
    fputs(" at graph 0.98, graph 0.96 right front font ',9' tc rgb '#555555'\n", f);
    int n_cond = 0;
    for (int i = 0; i < fit->n_conditions; i++) n_cond += curve_has_points(&fit->conditions[i]);
    if (n_cond > 16) fputs("set key font ',7' spacing 0.8\n", f);

    const fpt_fit_condition *base = fpt_gp_baseline(fit);
    if (base && curve_has_points(base)) {
        band_series(s, base);
        snprintf(label, sizeof label, "baseline band");
        fpt_gp_plot_block(&g, s, 3,
                          "using 1:2:3 with filledcurves fc rgb '#000000' fs transparent solid "
                          "0.15 noborder",
                          label);
        step_series(s, base);
        snprintf(label, sizeof label, "baseline (%d runs)", base->runs);
        fpt_gp_plot_block(&g, s, 2, "using 1:2 with steps lc rgb '#000000' lw 3", label);
    }
    // Each (protocol, timing): its conditions from the most frequent
    // perturbation (dark) to the rarest (light); geometric timing dashed.
    // Bands only for the baseline and each protocol's reference condition:
    // a dozen overlapping bands hid the curves.
    for (int i = 0; i < fit->n_conditions; i++) {
        const fpt_fit_condition *c = &fit->conditions[i];
        if (c == base || !curve_has_points(c)) continue;
        int first = 1;
        for (int j = 0; j < i && first; j++) {
            const fpt_fit_condition *d = &fit->conditions[j];
            first = !(d != base && curve_has_points(d) && same_group(d, c));
        }
        if (!first) continue;
        int members = 0;
        for (int j = i; j < fit->n_conditions; j++) {
            const fpt_fit_condition *d = &fit->conditions[j];
            members += d != base && curve_has_points(d) && same_group(d, c);
        }
        const int fam = fpt_gp_family(fit, c->protocol);
        const int dashed = strcmp(c->timing, "periodic") != 0;
        int rank = 0, bound_idx = -1;
        double bound = INFINITY;
        while (rank < members) {   // repeatedly the largest rate after (bound, bound_idx)
            int best = -1;
            for (int j = i; j < fit->n_conditions; j++) {
                const fpt_fit_condition *d = &fit->conditions[j];
                if (d == base || !curve_has_points(d) || !same_group(d, c)) continue;
                const double r = rate(d);
                if (!(r < bound || (r == bound && j > bound_idx))) continue;
                if (best < 0 || r > rate(&fit->conditions[best])) best = j;
            }
            if (best < 0) break;   // NAN rates: nothing comparable left
            const fpt_fit_condition *d = &fit->conditions[best];
            const double u = members > 1 ? 1.0 - (double)rank / (members - 1) : 0.7;
            const unsigned col = fpt_gp_ramp(fam, u);
            char style[160], name[96];
            fpt_condition_label(d->protocol, d->timing, d->frequency, name, sizeof name);
            if (is_reference(fit, d)) {
                band_series(s, d);
                snprintf(style, sizeof style,
                         "using 1:2:3 with filledcurves fc rgb '#%06x' fs transparent solid 0.2 "
                         "noborder",
                         col);
                snprintf(label, sizeof label, "%s band (reference)", name);
                fpt_gp_plot_block(&g, s, 3, style, label);
            }
            snprintf(style, sizeof style, "using 1:2 with steps lc rgb '#%06x' lw 1.8%s", col,
                     dashed ? " dt 2" : "");
            step_series(s, d);
            fpt_gp_plot_block(&g, s, 2, style, name);
            bound = rate(d), bound_idx = best, rank++;
        }
    }
    fpt_gp_clause(&g, "0.5 with lines dt 3 lc rgb '#777777' title 'S = 0.5 (the median)'");
    return fpt_gp_end(&g);
}
