// plot_pvm.c — the predicted_vs_measured figure (plot.h): each prediction
// with runs at its frequency, the QSS model's (periodic) and the linear
// response's (geometric), as a point at (measured, predicted) with both
// intervals, against the identity line.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analysis/plot_gp.h"

// A prediction drawn here: the main model of its timing, measured, both
// values finite and positive.
static int drawn(const fpt_fit_prediction *p) {
    const int periodic = strcmp(p->timing, "periodic") == 0;
    const int geometric = strcmp(p->timing, "geometric") == 0;
    return ((periodic && p->model == FPT_MODEL_QSS) ||
            (geometric && p->model == FPT_MODEL_LINEAR)) &&
           p->has_measured && fpt_gp_pos(p->measured) && fpt_gp_pos(p->predicted);
}

int fpt_gp_pvm_has_data(const fpt_fit *fit) {
    for (int i = 0; i < fit->n_predictions; i++)
        if (drawn(&fit->predictions[i])) return 1;
    return 0;
}

// An interval end, or the value when it is missing or on the wrong side.
static double end_or(double e, double v, int upper) {
    if (!fpt_gp_pos(e) || (upper ? e < v : e > v)) return v;
    return e;
}

#define LOG_RATIO 10.0   // log axes when the largest value is 10x the smallest or more

int fpt_gp_fig_pvm(FILE *f, const fpt_fit *fit, const fpt_plot_options *opt, fpt_gp_series *s,
                   int *next_id) {
    fpt_gp_figure g;
    fpt_gp_begin(&g, f, next_id, opt, "predicted_vs_measured: model against measured mean FPT");
    fpt_gp_fit_title(f, opt, fit, "predicted vs measured mean FPT");
    // One range for both axes, so the identity line is the diagonal: over
    // every value and interval end drawn.
    double lo = INFINITY, hi = -INFINITY;
    int geometric = 0, invalid = 0;
    for (int i = 0; i < fit->n_predictions; i++) {
        const fpt_fit_prediction *p = &fit->predictions[i];
        if (!drawn(p)) continue;
        const double v[4] = {end_or(p->measured_lo, p->measured, 0),
                             end_or(p->measured_hi, p->measured, 1), end_or(p->lo, p->predicted, 0),
                             end_or(p->hi, p->predicted, 1)};
        for (int k = 0; k < 4; k++) lo = fmin(lo, v[k]), hi = fmax(hi, v[k]);
        geometric |= strcmp(p->timing, "geometric") == 0;
        invalid |= !p->valid;
    }
    const int logs = hi >= LOG_RATIO * lo;
    fputs("set xlabel 'measured mean FPT (epochs; KM restricted mean)' offset 0,0.5\n"
          "set ylabel 'predicted mean FPT (epochs)'\nset grid lc rgb '#e4e4e4'\n"
          // Below the plot: inside, the key hid a point wherever it went
          // (over-predictions sit top left, under-predictions bottom right).
          "set key outside bottom center horizontal maxcols 2 box lc rgb '#cccccc' font ',8' "
          "Left reverse width -3 height 1\n",
          f);
    if (logs) {
        double a, b;
        fputs("set logscale xy\n", f);
        fpt_gp_log_axis(f, "x", lo, hi, 1.15, 1.15, &a, &b);
        fpt_gp_log_axis(f, "y", lo, hi, 1.15, 1.15, &a, &b);
    } else {
        const double pad = 0.06 * (hi - lo > 0 ? hi - lo : fmax(1, hi));
        const double a = fmax(0, lo - pad), b = hi + pad;
        fprintf(f, "set xrange [%.9g:%.9g]\nset yrange [%.9g:%.9g]\n", a, b, a, b);
    }
    // Blocks per protocol, timing and validity: filled circles (periodic,
    // QSS) and squares (geometric, linear response); hollow when the
    // prediction is outside its model's domain (valid = 0: tau < t_rel).
    for (int i = 0; i < fit->n_predictions; i++) {
        const fpt_fit_prediction *p = &fit->predictions[i];
        if (!drawn(p)) continue;
        int first = 1;
        for (int j = 0; j < i && first; j++)
            first = !(drawn(&fit->predictions[j]) &&
                      strcmp(fit->predictions[j].protocol, p->protocol) == 0);
        if (!first) continue;
        const unsigned col = fpt_gp_protocol_colour(fit, p->protocol);
        const char *name = p->protocol;
        for (int timing = 0; timing < 2; timing++)
            for (int valid = 1; valid >= 0; valid--) {
                s->n = 0;
                for (int j = i; j < fit->n_predictions; j++) {
                    const fpt_fit_prediction *q = &fit->predictions[j];
                    if (!drawn(q) || strcmp(q->protocol, p->protocol) != 0 ||
                        (strcmp(q->timing, "geometric") == 0) != timing || !q->valid != !valid)
                        continue;
                    fpt_gp_add(s, q->measured, q->predicted, 0, 0);
                }
                if (s->n == 0) continue;
                // Seven columns (measured, predicted, their intervals, the
                // frequency): the block is written here, not by fpt_gp_plot_block.
                const int id = (*g.next_id)++;
                fprintf(f, "$d%d << EOD\n", id);
                for (int j = i; j < fit->n_predictions; j++) {
                    const fpt_fit_prediction *q = &fit->predictions[j];
                    if (!drawn(q) || strcmp(q->protocol, p->protocol) != 0 ||
                        (strcmp(q->timing, "geometric") == 0) != timing || !q->valid != !valid)
                        continue;
                    fprintf(f, "%.9g %.9g %.9g %.9g %.9g %.9g %.9g\n", q->measured, q->predicted,
                            end_or(q->measured_lo, q->measured, 0),
                            end_or(q->measured_hi, q->measured, 1), end_or(q->lo, q->predicted, 0),
                            end_or(q->hi, q->predicted, 1), q->frequency);
                }
                fputs("EOD\n", f);
                const int pt = timing ? (valid ? 5 : 4) : (valid ? 7 : 6);
                fpt_gp_clause(&g, "$d%d using 1:2:3:4:5:6 with xyerrorbars lc rgb '#%06x' pt %d "
                                  "ps 1.1 lw 1.2 ",
                              id, col, pt);
                if (name) {
                    fputs("title ", g.cmd);
                    fpt_gp_quote(g.cmd, name, 200);
                    name = NULL;
                } else if (g.cmd) {
                    fputs("notitle", g.cmd);
                }
                // Each point labelled with its period or probability.
                fpt_gp_clause(&g, "$d%d using 1:2:(sprintf('%s=%%g', $7)) with labels left "
                                  "offset 0.8,0.5 font ',7' tc rgb '#555555' notitle",
                              id, timing ? "p" : "tau");
            }
    }
    fpt_gp_clause(&g, "x with lines lc rgb '#777777' dt 2 lw 1.2 title 'predicted = measured'");
    if (geometric) {
        fpt_gp_keyentry(&g, "with points lc rgb '#000000' pt 7 ps 1.1",
                        "circle: periodic timing, QSS model");
        fpt_gp_keyentry(&g, "with points lc rgb '#000000' pt 5 ps 1.1",
                        "square: geometric timing, linear response");
    } else {
        fpt_gp_keyentry(&g, "with points lc rgb '#000000' pt 7 ps 1.1",
                        "QSS model (periodic timing)");
    }
    if (invalid)
        fpt_gp_keyentry(&g, "with points lc rgb '#000000' pt 6 ps 1.1",
                        "hollow: outside the model (valid = 0)");
    return fpt_gp_end(&g);
}
