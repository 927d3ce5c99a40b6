// plot_ks.c — the relaxation figure (plot.h): the drift of the baseline's
// accuracy distribution that t_rel is read from, and the diagnostic KS tests
// against one reference epoch.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analysis/plot_gp.h"

#define P_FLOOR 1e-16   // KS p-values below this are drawn at it (log axis)

// ---- relaxation (KS) ------------------------------------------------------------

int fpt_gp_ks_has_data(const fpt_fit *fit) {
    for (int i = 0; fit->ks_p && i < fit->n_ks; i++)
        if (isfinite(fit->ks_p[i])) return 1;
    return 0;
}

int fpt_gp_fig_ks(FILE *f, const fpt_fit *fit, const fpt_plot_options *opt, fpt_gp_series *s,
                  int *next_id) {
    fpt_gp_figure g;
    fpt_gp_begin(&g, f, next_id, opt, "ks: relaxation, the drift t_rel is read from");
    char what[320];
    const int W = fit->opt.ks_window;
    // No target here: the drift compares accuracies, whatever the target.
    if (fit->n_drift > 0)
        snprintf(what, sizeof what, "%.120s: relaxation, drift of the baseline accuracy "
                                    "distribution (epoch t vs t+%d)", fit->experiment, W);
    else
        snprintf(what, sizeof what,
                 "%.120s: relaxation, KS test of baseline accuracy at t vs epoch %d",
                 fit->experiment, fit->ks_reference);
    fpt_gp_title(f, opt, what);
    int xmax = (fit->ks_reference > fit->n_ks ? fit->ks_reference : fit->n_ks) + 1;
    if (fit->n_drift + 1 > xmax) xmax = fit->n_drift + 1;
    // The drift on the left (linear: an effect size, read against its
    // bound); the KS tests against one epoch, a diagnostic, on the right
    // (log p-values), thin and grey-blue.
    fprintf(f, "set xlabel 'epoch t'\nset xrange [0:%d]\nset grid lc rgb '#e4e4e4'\n"
               "set ylabel 'KS distance D(t, t+%d)'\nset yrange [0:1]\nset ytics nomirror\n"
               "set y2label 'KS p-value, epoch t vs epoch %d (diagnostic)' tc rgb '#5b8db8'\n"
               "set logscale y2\nset format y2 '1e%%L'\nset y2range [%g:1]\n"
               "set y2tics 100 tc rgb '#5b8db8'\n"
               "set key right center opaque box lc rgb '#cccccc' font ',9'\n",
            xmax, W, fit->ks_reference, P_FLOOR);
    if (fit->t_rel > 0) {
        if (fit->t_rel_hi > 0)   // its bootstrap interval, shaded
            fprintf(f, "set object 1 rectangle from first %g, graph 0 to first %g, graph 1 "
                       "behind fc rgb '#d8efd8' fs solid 1.0 noborder\n",
                    fit->t_rel_lo - 0.5, fit->t_rel_hi + 0.5);
        fprintf(f, "set arrow 1 from first %d, graph 0 to first %d, graph 1 nohead front "
                   "lc rgb '#2ca02c' lw 2\n",
                fit->t_rel, fit->t_rel);
        if (fit->t_rel_hi > 0)
            fprintf(f, "set label 1 't_rel = %d [%d, %d]' at first %d, graph 0.6 offset 0.8,0 "
                       "left front tc rgb '#2ca02c'\n",
                    fit->t_rel, fit->t_rel_lo, fit->t_rel_hi, fit->t_rel_hi);
        else
            fprintf(f, "set label 1 't_rel = %d' at first %d, graph 0.6 offset 0.8,0 left front "
                       "tc rgb '#2ca02c'\n",
                    fit->t_rel, fit->t_rel);
    } else {
        fputs("set label 1 't_rel: not reached (the drift never settled)' at graph "
              "0.02, graph 0.96 left front tc rgb '#aa0000'\n",
              f);
    }
    if (fit->ks_reference > 0)
        fprintf(f, "set arrow 2 from first %d, graph 0 to first %d, graph 1 nohead back "
                   "lc rgb '#999999' dt 3\n"
                   "set label 2 'KS reference epoch %d' at first %d, graph 0.25 offset -0.8,0 "
                   "center rotate by 90 tc rgb '#777777' font ',9'\n",
                fit->ks_reference, fit->ks_reference, fit->ks_reference, fit->ks_reference);
    if (fit->n_drift > 0) {   // what t_rel is read from (ks.h, fpt_relaxation_drift)
        char label[96];
        s->n = 0;
        for (int i = 0; i < fit->n_drift; i++) fpt_gp_add(s, i + 1, fit->drift[i], 0, 0);
        snprintf(label, sizeof label, "drift D(t, t+%d)", W);
        fpt_gp_plot_block(&g, s, 2, "using 1:2 with lines lc rgb '#ff7f0e' lw 2", label);
        snprintf(label, sizeof label, "bound: late level %.3f + tolerance %g", fit->relax_floor,
                 fit->opt.relax_tolerance);
        fpt_gp_clause(&g, "%.9g with lines lc rgb '#ff7f0e' dt 2 lw 1.5 title ",
                      fit->relax_floor + fit->opt.relax_tolerance);
        fpt_gp_quote(g.cmd, label, sizeof label);
    }
    int floored = 0;
    s->n = 0;
    for (int i = 0; i < fit->n_ks; i++) {
        double p = fit->ks_p[i];
        if (isfinite(p) && p < P_FLOOR) p = P_FLOOR, floored = 1;
        if (isfinite(p) && p > 1) p = 1;
        fpt_gp_add(s, i + 1, p, 0, 0);
    }
    char label[96];
    snprintf(label, sizeof label, "KS p-value vs epoch %d (right axis)%s", fit->ks_reference,
             floored ? ", < 1e-16 drawn at 1e-16" : "");
    fpt_gp_plot_block(&g, s, 2,
                      "using 1:2 axes x1y2 with lines lc rgb '#5b8db8' lw 1", label);
    if (fpt_gp_pos(fit->opt.alpha) && fit->opt.alpha < 1) {
        snprintf(label, sizeof label, "alpha = %g (right axis)", fit->opt.alpha);
        fpt_gp_clause(&g, "%.9g axes x1y2 with lines lc rgb '#5b8db8' dt 3 lw 1 title ",
                      fit->opt.alpha);
        fpt_gp_quote(g.cmd, label, sizeof label);
    }
    return fpt_gp_end(&g);
}
