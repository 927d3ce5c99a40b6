// plot_accuracy.c — the accuracy figure (plot.h): per-epoch test accuracy
// of the runs of a few conditions (accuracy_bands.h), one panel each side by
// side, the median with its 25-75% and 10-90% bands, the target as a line.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analysis/plot_gp.h"

static int band_rows(const fpt_acc_band *b, int e) {
    if (b->count[e - 1] < 1) return 0;
    for (int k = 0; k < FPT_ACC_NQ; k++)
        if (!isfinite(b->q[(size_t)(e - 1) * FPT_ACC_NQ + k])) return 0;
    return 1;
}

int fpt_gp_fig_accuracy(FILE *f, const fpt_fit *fit, const fpt_accuracy_bands *bands,
                        const fpt_plot_options *opt, int *next_id) {
    fpt_gp_figure g;
    fpt_gp_begin(&g, f, next_id, opt, "accuracy: test accuracy per epoch, quantiles over runs");
    // Shared axes: epochs 0..the longest, accuracy over every band and the target.
    int epochs = 1;
    double lo = INFINITY, hi = -INFINITY;
    int ids[FPT_ACC_MAX_BANDS], n = 0;
    for (int i = 0; i < bands->n; i++) {
        const fpt_acc_band *b = &bands->b[i];
        const int id = (*next_id)++;
        fprintf(f, "$d%d << EOD\n# epoch q10 q25 median q75 q90 (percent)\n", id);
        int rows = 0;
        for (int e = 1; e <= b->n_epochs; e++) {
            if (!band_rows(b, e)) continue;
            const double *q = &b->q[(size_t)(e - 1) * FPT_ACC_NQ];
            fprintf(f, "%d %.6g %.6g %.6g %.6g %.6g\n", e, q[0], q[1], q[2], q[3], q[4]);
            lo = fmin(lo, q[0]), hi = fmax(hi, q[4]);
            if (e > epochs) epochs = e;
            rows++;
        }
        fputs("EOD\n", f);
        ids[i] = rows > 0 ? id : -1;
        n += rows > 0;
    }
    if (n == 0 || !g.cmd) {
        fpt_gp_end(&g);   // (closes the body; the figure list asks for data first)
        return -1;
    }
    g.raw = 1;   // the body is a multiplot, repeated per format
    const double target = bands->target;
    if (isfinite(target)) lo = fmin(lo, target), hi = fmax(hi, target);
    lo = fmax(0, 5 * floor(lo / 5)), hi = fmin(100, 5 * ceil(hi / 5 + 0.2));
    const int cols = n <= 3 ? n : (n + 1) / 2, rows = n <= 3 ? 1 : 2;
    fprintf(f, "set xlabel 'epoch'\nset ylabel 'test accuracy (%%)'\nset xrange [0:%d]\n"
               "set yrange [%g:%g]\nset grid lc rgb '#e4e4e4'\n"
               "set key bottom right opaque box lc rgb '#cccccc' font ',8'\n",
            epochs, lo, hi);
    fprintf(g.cmd, "set multiplot layout %d,%d", rows, cols);
    if (!opt->no_title) {
        char title[400];
        if (isfinite(target))
            snprintf(title, sizeof title, "%.120s: test accuracy per epoch over runs, target %g%%",
                     fit->experiment, target);
        else
            snprintf(title, sizeof title, "%.120s: test accuracy per epoch over runs",
                     fit->experiment);
        fputs(" title ", g.cmd);
        fpt_gp_quote(g.cmd, title, sizeof title);
    }
    fputc('\n', g.cmd);
    for (int i = 0; i < bands->n; i++) {
        if (ids[i] < 0) continue;
        const fpt_acc_band *b = &bands->b[i];
        const int base = fpt_condition_is_baseline(b->protocol, b->timing);
        const unsigned col = base ? 0x000000 : fpt_gp_protocol_colour(fit, b->protocol);
        char name[96], title[160];
        if (base) snprintf(title, sizeof title, "baseline (%d runs)", b->runs);
        else
            snprintf(title, sizeof title, "%s, the reference (%d runs)",
                     fpt_condition_label(b->protocol, b->timing, b->frequency, name, sizeof name),
                     b->runs);
        fputs("set title ", g.cmd);
        fpt_gp_quote(g.cmd, title, sizeof title);
        fprintf(g.cmd,
                " font ',10'\nplot $d%d using 1:2:6 with filledcurves fc rgb '#%06x' "
                "fs transparent solid 0.15 noborder title '10-90%% of runs', \\\n"
                "     $d%d using 1:3:5 with filledcurves fc rgb '#%06x' fs transparent solid 0.35 "
                "noborder title '25-75%%', \\\n"
                "     $d%d using 1:4 with lines lc rgb '#%06x' lw 2 title 'median'",
                ids[i], col, ids[i], col, ids[i], col);
        if (isfinite(target))
            fprintf(g.cmd, ", \\\n     %.9g with lines lc rgb '#d62728' dt 2 lw 1.5 title "
                           "'target %g%%'",
                    target, target);
        fputc('\n', g.cmd);
    }
    fputs("unset multiplot", g.cmd);
    return fpt_gp_end(&g);
}
