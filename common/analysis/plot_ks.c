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
    fpt_gp_begin(&g, f, next_id, opt, "ks: relaxation, KS p-value against epoch");
    char what[320];
    // No target here: the test compares accuracies, whatever the target.
    if (fit->n_drift > 0)
        snprintf(what, sizeof what,
                 "%.120s: relaxation, drift of baseline accuracy (t vs t+%d) and KS test vs epoch "
                 "%d", fit->experiment, fit->opt.ks_window, fit->ks_reference);
    else
        snprintf(what, sizeof what,
                 "%.120s: relaxation, KS test of baseline accuracy at t vs epoch %d",
                 fit->experiment, fit->ks_reference);
    fpt_gp_title(f, opt, what);
    int xmax = (fit->ks_reference > fit->n_ks ? fit->ks_reference : fit->n_ks) + 1;
    if (fit->n_drift + 1 > xmax) xmax = fit->n_drift + 1;
    fprintf(f, "set xlabel 'epoch t'\nset ylabel 'KS p-value (epoch t vs epoch %d)'\n"
               "set logscale y\nset format y '1e%%L'\nset xrange [0:%d]\n"
               "set ytics nomirror\nset y2tics 0.2\nset y2range [0:1]\n"
               "set y2label 'KS distance D' tc rgb '#888888'\n"
               "set grid lc rgb '#e4e4e4'\n"
               "set key right center opaque box lc rgb '#cccccc' font ',9'\n",
            fit->ks_reference, xmax);
    int floored = 0;
    s->n = 0;
    for (int i = 0; i < fit->n_ks; i++) {
        double p = fit->ks_p[i];
        if (isfinite(p) && p < P_FLOOR) p = P_FLOOR, floored = 1;
        if (isfinite(p) && p > 1) p = 1;
        fpt_gp_add(s, i + 1, p, 0, 0);
    }
    if (fit->t_rel > 0) {
        fprintf(f, "set arrow 1 from first %d, graph 0 to first %d, graph 1 nohead front "
                   "lc rgb '#2ca02c' lw 2\n"
                   "set label 1 't_rel = %d' at first %d, graph 0.6 offset 0.6,0 left front "
                   "tc rgb '#2ca02c'\n",
                fit->t_rel, fit->t_rel, fit->t_rel, fit->t_rel);
    } else {
        fputs("set label 1 't_rel: not reached (the drift never settled)' at graph "
              "0.02, graph 0.96 left front tc rgb '#aa0000'\n",
              f);
    }
    if (fit->ks_reference > 0)
        fprintf(f, "set arrow 2 from first %d, graph 0 to first %d, graph 1 nohead back "
                   "lc rgb '#999999' dt 3\n"
                   "set label 2 'reference epoch %d' at first %d, graph 0.25 offset -0.8,0 center "
                   "rotate by 90 tc rgb '#777777' font ',9'\n",
                fit->ks_reference, fit->ks_reference, fit->ks_reference, fit->ks_reference);
    if (floored)
        fputs("set label 3 'p-values below 1e-16 drawn at 1e-16' at graph 0.98, graph 0.13 right "
              "tc rgb '#555555' font ',9'\n",
              f);
    fpt_gp_plot_block(&g, s, 2, "using 1:2 with linespoints lc rgb '#1f77b4' pt 7 ps 0.5 lw 1.5",
               "KS p-value");
    if (fit->ks_d) {
        s->n = 0;
        for (int i = 0; i < fit->n_ks; i++) fpt_gp_add(s, i + 1, fit->ks_d[i], 0, 0);
        fpt_gp_plot_block(&g, s, 2, "using 1:2 axes x1y2 with lines lc rgb '#aaaaaa' lw 1",
                   "KS statistic D vs the reference (right axis)");
    }
    if (fit->n_drift > 0) {   // what t_rel is read from (ks.h, fpt_relaxation_drift)
        char label[96];
        s->n = 0;
        for (int i = 0; i < fit->n_drift; i++) fpt_gp_add(s, i + 1, fit->drift[i], 0, 0);
        snprintf(label, sizeof label, "drift D(t, t+%d) (right axis)", fit->opt.ks_window);
        fpt_gp_plot_block(&g, s, 2, "using 1:2 axes x1y2 with lines lc rgb '#ff7f0e' lw 2", label);
        snprintf(label, sizeof label, "late level %.3f + tolerance %g (right axis)",
                 fit->relax_floor, fit->opt.relax_tolerance);
        fpt_gp_clause(&g, "%.9g axes x1y2 with lines lc rgb '#ff7f0e' dt 2 lw 1.5 title ",
               fit->relax_floor + fit->opt.relax_tolerance);
        fpt_gp_quote(g.cmd, label, sizeof label);
    }
    if (fpt_gp_pos(fit->opt.alpha) && fit->opt.alpha < 1) {
        char label[64];
        snprintf(label, sizeof label, "alpha = %g", fit->opt.alpha);
        fpt_gp_clause(&g, "%.9g with lines lc rgb '#d62728' dt 2 lw 1.5 title ", fit->opt.alpha);
        fpt_gp_quote(g.cmd, label, sizeof label);
    }
    return fpt_gp_end(&g);
}

