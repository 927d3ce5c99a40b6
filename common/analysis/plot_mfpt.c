// plot_mfpt.c — the mean-FPT figures (plot.h): measured restricted means
// and the models' predictions against the period tau (mfpt) or the
// probability p (mfpt_geometric).
//
// The y range is the measurements' (points and intervals) and the baseline
// line's, so that a model far off (restart near tau = t_rel runs to
// thousands of epochs) cannot squash the data: predictions are clipped at
// the range's edges, where a triangle marks each place a curve leaves it.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analysis/plot_gp.h"

#define Y_LO_PAD 1.15   // the y range: data minimum / 1.15 to data maximum * 1.5
#define Y_HI_PAD 1.5    // (room on top for the "outside QSS" label)
#define X_PAD 1.3

static int pred_usable(const fpt_fit_prediction *p, const char *timing) {
    return strcmp(p->timing, timing) == 0 && fpt_gp_pos(p->frequency);
}

static int cond_usable(const fpt_fit_condition *c, const char *timing) {
    return !fpt_gp_is_baseline(c) && strcmp(c->timing, timing) == 0 && fpt_gp_pos(c->frequency);
}

// The QSS check's verdict along the bottom (docs/SCIENCE.md s4.6), one row
// per periodic protocol checked: a bar in the protocol's colour over the
// periods where the model is confirmed, a red one from the left edge to the
// contradicted period below them (and from the one above to the right edge),
// each labelled; elsewhere untested.  Objects and labels from 100 on (1 is
// the t_rel label).
static int has_qss_bars(const fpt_fit_protocol *P) {
    return !strcmp(P->timing, "periodic") &&
           (P->confirmed_lo > 0 || P->contradicted_below > 0 || P->contradicted_above > 0);
}

static void qss_check_bars(FILE *f, const fpt_fit *fit, double xmin, double xmax) {
    int row = 0, id = 100;
    for (int p = 0; p < fit->n_protocols; p++) {
        const fpt_fit_protocol *P = &fit->protocols[p];
        if (!has_qss_bars(P)) continue;
        const double y = 0.035 + 0.07 * row++;
        const unsigned col = fpt_gp_protocol_colour(fit, P->protocol);
        if (P->confirmed_lo > 0) {
            double a = fmax(P->confirmed_lo, xmin), b = fmin(P->confirmed_hi, xmax);
            fprintf(f, "set arrow %d from first %g, graph %g to first %g, graph %g nohead lw 5 "
                       "lc rgb '#%06x' front\n",
                    id++, a, y, b > a ? b : a * 1.02, y, col);
            // The protocol's name is data: quoted, never pasted into the script.
            char text[160];
            snprintf(text, sizeof text, "QSS check, %s: confirmed for tau %g..%g", P->protocol,
                     P->confirmed_lo, P->confirmed_hi);
            fprintf(f, "set label %d ", id++);
            fpt_gp_quote(f, text, sizeof text);
            fprintf(f, " at first %g, graph %g left front tc rgb '#%06x' font ',8'\n", a,
                    y + 0.03, col);
        }
        if (P->contradicted_below > 0 && P->contradicted_below >= xmin) {
            fprintf(f, "set arrow %d from graph 0, graph %g to first %g, graph %g nohead lw 5 "
                       "lc rgb '#cc0000' front\n",
                    id++, y, P->contradicted_below, y);
            fprintf(f, "set label %d 'fails for tau <= %g' at first %g, graph %g left front "
                       "tc rgb '#cc0000' font ',8' offset 0.5, 0\n",
                    id++, P->contradicted_below, P->contradicted_below, y);
        }
        if (P->contradicted_above > 0 && P->contradicted_above <= xmax) {
            fprintf(f, "set arrow %d from first %g, graph %g to graph 1, graph %g nohead lw 5 "
                       "lc rgb '#cc0000' front\n",
                    id++, P->contradicted_above, y, y);
            fprintf(f, "set label %d 'fails for tau >= %g' at first %g, graph %g left front "
                       "tc rgb '#cc0000' font ',8'\n",
                    id++, P->contradicted_above, P->contradicted_above, y + 0.03);
        }
    }
}

int fpt_gp_mfpt_has_data(const fpt_fit *fit, const char *timing) {
    for (int i = 0; i < fit->n_predictions; i++) {
        const fpt_fit_prediction *p = &fit->predictions[i];
        if (pred_usable(p, timing) &&
            (fpt_gp_pos(p->predicted) || (p->has_measured && fpt_gp_pos(p->measured))))
            return 1;
    }
    for (int i = 0; i < fit->n_conditions; i++)
        if (cond_usable(&fit->conditions[i], timing) && fpt_gp_pos(fit->conditions[i].rm))
            return 1;
    return 0;
}

// Measured restricted means of one protocol: from the predictions with
// has_measured (one per frequency), then the conditions not covered.  An
// interval end that is missing (or not positive, on a log axis) is the value.
static void measured_series(fpt_gp_series *s, const fpt_fit *fit, const char *timing,
                            const char *proto) {
    s->n = 0;
    for (int i = 0; i < fit->n_predictions + fit->n_conditions; i++) {
        double x, y, lo, hi;
        if (i < fit->n_predictions) {
            const fpt_fit_prediction *p = &fit->predictions[i];
            if (!pred_usable(p, timing) || strcmp(p->protocol, proto) != 0 || !p->has_measured)
                continue;
            x = p->frequency, y = p->measured, lo = p->measured_lo, hi = p->measured_hi;
        } else {
            const fpt_fit_condition *c = &fit->conditions[i - fit->n_predictions];
            if (!cond_usable(c, timing) || strcmp(c->protocol, proto) != 0) continue;
            x = c->frequency, y = c->rm, lo = c->rm_lo, hi = c->rm_hi;
        }
        if (!fpt_gp_pos(y)) continue;
        int dup = 0;
        for (int k = 0; k < s->n && !dup; k++) dup = s->p[k].x == x;
        if (dup) continue;
        if (!fpt_gp_pos(lo) || lo > y) lo = y;
        if (!isfinite(hi) || hi < y) hi = y;
        fpt_gp_add(s, x, y, lo, hi);
    }
    fpt_gp_sort_x(s);
}

// Predictions of one protocol and model, in increasing frequency; a value
// that is not finite and positive (INFINITY: never reached) breaks the curve.
static void prediction_series(fpt_gp_series *s, const fpt_fit *fit, const char *timing,
                              const char *proto, fpt_model m) {
    s->n = 0;
    for (int i = 0; i < fit->n_predictions; i++) {
        const fpt_fit_prediction *p = &fit->predictions[i];
        if (!pred_usable(p, timing) || strcmp(p->protocol, proto) != 0 || p->model != m) continue;
        fpt_gp_add(s, p->frequency, fpt_gp_pos(p->predicted) ? p->predicted : NAN,
                   fpt_gp_pos(p->lo) ? p->lo : NAN, fpt_gp_pos(p->hi) ? p->hi : NAN);
    }
    fpt_gp_sort_x(s);
}

// The protocols of this timing, in order of appearance: the i-th in *out.
static int nth_protocol(const fpt_fit *fit, const char *timing, int want, const char **out) {
    int k = 0;
    const int n_all = fit->n_predictions + fit->n_conditions;
    for (int i = 0; i < n_all; i++) {
        const char *proto;
        if (i < fit->n_predictions) {
            if (!pred_usable(&fit->predictions[i], timing)) continue;
            proto = fit->predictions[i].protocol;
        } else {
            if (!cond_usable(&fit->conditions[i - fit->n_predictions], timing)) continue;
            proto = fit->conditions[i - fit->n_predictions].protocol;
        }
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) {
            if (j < fit->n_predictions)
                seen = pred_usable(&fit->predictions[j], timing) &&
                       strcmp(fit->predictions[j].protocol, proto) == 0;
            else
                seen = cond_usable(&fit->conditions[j - fit->n_predictions], timing) &&
                       strcmp(fit->conditions[j - fit->n_predictions].protocol, proto) == 0;
        }
        if (seen) continue;
        if (k++ == want) {
            *out = proto;
            return 1;
        }
    }
    return 0;
}

typedef struct extent {
    double x0, x1, y0, y1;
} extent;

static void grow_x(extent *e, double x) {
    if (fpt_gp_pos(x)) e->x0 = fmin(e->x0, x), e->x1 = fmax(e->x1, x);
}
static void grow_y(extent *e, double y) {
    if (fpt_gp_pos(y)) e->y0 = fmin(e->y0, y), e->y1 = fmax(e->y1, y);
}

static int series_has(const fpt_gp_series *s, int want_y, int want_band) {
    for (int i = 0; i < s->n; i++) {
        const fpt_gp_pt *p = &s->p[i];
        if (!isfinite(p->x)) continue;
        if (want_y && isfinite(p->y)) return 1;
        if (want_band && isfinite(p->lo) && isfinite(p->hi)) return 1;
    }
    return 0;
}

// Off-scale markers of a prediction series (sorted by x) into m, as rows
// (x, lo = the edge's y, hi = gnuplot point type): one per maximal run of
// consecutive points beyond the same edge, at the run's point next to the
// curve's part in range (the exit), else at its first point.  Returns how
// many markers.
#define PT_UP 9     // filled triangle pointing up: above the range
#define PT_DOWN 11  // pointing down: below it
static int off_scale(const fpt_gp_series *s, double y0, double y1, fpt_gp_series *m) {
    int added = 0;
    for (int i = 0; i < s->n;) {
        const double y = s->p[i].y;
        const int side = !isfinite(y) ? 0 : y > y1 ? 1 : y < y0 ? -1 : 0;
        if (side == 0) {
            i++;
            continue;
        }
        int j = i;
        while (j + 1 < s->n && isfinite(s->p[j + 1].y) &&
               (side > 0 ? s->p[j + 1].y > y1 : s->p[j + 1].y < y0))
            j++;
        const int after_in = j + 1 < s->n && isfinite(s->p[j + 1].y);
        const int k = after_in ? j : i;   // the exit point
        fpt_gp_add(m, s->p[k].x, NAN, side > 0 ? y1 : y0, side > 0 ? PT_UP : PT_DOWN);
        added++;
        i = j + 1;
    }
    return added;
}

static const char *model_label(fpt_model m) {
    switch (m) {
    case FPT_MODEL_QSS: return "QSS";
    case FPT_MODEL_RENEWAL: return "renewal";
    case FPT_MODEL_RESTART: return "restart";
    case FPT_MODEL_LINEAR: return "linear response";
    default: return "model";
    }
}

int fpt_gp_fig_mfpt(FILE *f, const fpt_fit *fit, const char *timing, const fpt_plot_options *opt,
                    fpt_gp_series *s, int *next_id) {
    const int periodic = strcmp(timing, "periodic") == 0;
    fpt_gp_figure g;
    fpt_gp_begin(&g, f, next_id, opt,
                 periodic ? "mfpt: mean FPT against the period tau"
                          : "mfpt_geometric: mean FPT against the perturbation probability p");
    fpt_gp_fit_title(f, opt, fit,
                     periodic ? "mean FPT vs period tau" : "mean FPT vs probability p");
    fprintf(f, "set xlabel '%s'\nset ylabel 'mean first-passage time (epochs)'\n"
               "set logscale x\nset logscale y\nset grid lc rgb '#e4e4e4'\n"
               // Where the curves rarely are: the mean FPT grows towards the
               // baseline's with the period, and falls with p.
               // Below the plot: inside, its nine entries would hide data
               // or the QSS check's bars along the bottom.
               "set key outside bottom center horizontal maxcols 3 box lc rgb '#cccccc' "
               "font ',8' spacing 1.1\n",
            periodic ? "period tau (epochs between perturbations)"
                     : "p (probability of a perturbation after each epoch)");

    const fpt_model main_m = periodic ? FPT_MODEL_QSS : FPT_MODEL_LINEAR;
    static const int DASH[FPT_MODEL_COUNT] = {1, 2, 4, 5};   // line style per model

    // The extents: x over everything drawn; y over the measurements and the
    // baseline line, or over the main model and its band when nothing is
    // measured (then nothing else can be squashed).
    extent data = {INFINITY, -INFINITY, INFINITY, -INFINITY};
    extent model = data;
    const char *proto;
    for (int k = 0; nth_protocol(fit, timing, k, &proto); k++) {
        measured_series(s, fit, timing, proto);
        for (int i = 0; i < s->n; i++) {
            grow_x(&data, s->p[i].x);
            grow_y(&data, s->p[i].y), grow_y(&data, s->p[i].lo), grow_y(&data, s->p[i].hi);
        }
        for (int m = 0; m < FPT_MODEL_COUNT; m++) {
            prediction_series(s, fit, timing, proto, (fpt_model)m);
            for (int i = 0; i < s->n; i++) {
                const fpt_gp_pt *q = &s->p[i];
                if (!isfinite(q->y)) continue;
                grow_x(&data, q->x);
                if (m != (int)main_m) continue;
                grow_y(&model, q->y);
                if (isfinite(q->lo) && isfinite(q->hi))
                    grow_y(&model, q->lo), grow_y(&model, q->hi);
            }
        }
    }
    const fpt_fit_condition *base = fpt_gp_baseline(fit);
    const int base_line = base && fpt_gp_pos(base->rm);
    if (!(data.y0 <= data.y1)) data.y0 = model.y0, data.y1 = model.y1;
    if (base_line) grow_y(&data, base->rm);
    double xmin, xmax, ymin, ymax;
    fpt_gp_log_axis(f, "x", data.x0, data.x1, X_PAD, X_PAD, &xmin, &xmax);
    // Room at the bottom for the QSS check's bars: a row is 7% of the height.
    double lo_pad = Y_LO_PAD;
    for (int p = 0; periodic && p < fit->n_protocols; p++)
        if (has_qss_bars(&fit->protocols[p])) lo_pad *= 1.35;
    fpt_gp_log_axis(f, "y", data.y0, data.y1, lo_pad, Y_HI_PAD, &ymin, &ymax);
    // tau < t_rel: the perturbations hit the process before its QSS.
    if (periodic && fit->t_rel > 0 && fit->t_rel > xmin) {
        if (fit->t_rel < xmax)
            fprintf(f, "set object 1 rectangle from graph 0, graph 0 to first %d, graph 1 "
                       "behind fc rgb '#ececec' fs solid 1.0 noborder\n",
                    fit->t_rel);
        else
            fputs("set object 1 rectangle from graph 0, graph 0 to graph 1, graph 1 "
                  "behind fc rgb '#ececec' fs solid 1.0 noborder\n",
                  f);
        fprintf(f, "set label 1 'tau < t_rel = %d: QSS not assumed' at graph 0.01, graph 0.97 "
                   "left front tc rgb '#555555' font ',9'\n",
                fit->t_rel);
    } else if (periodic && fit->t_rel <= 0) {
        fputs("set label 1 'no t_rel: the drift never settled, the QSS model is unsupported' at "
              "graph 0.01, graph 0.97 left front tc rgb '#aa0000' font ',9'\n",
              f);
    }

    if (periodic) qss_check_bars(f, fit, xmin, xmax);

    // Per protocol: the main model's band (clamped to the range) and line,
    // the other models, the off-scale markers, the measured points.  The key
    // names each protocol once (on its first series, in its colour) and each
    // style once (in black, below).
    int used[FPT_MODEL_COUNT] = {0}, used_band = 0, used_measured = 0, used_off = 0;
    for (int k = 0; nth_protocol(fit, timing, k, &proto); k++) {
        const unsigned col = fpt_gp_protocol_colour(fit, proto);
        char style[200];
        const char *name = proto;
        // The scratch series' first half for the series, its second for the markers.
        const int cap = s->cap;
        fpt_gp_series marks = {s->p + cap / 2, 0, cap - cap / 2};
        s->cap = cap / 2;
        for (int pass = 0; pass < FPT_MODEL_COUNT; pass++) {
            const fpt_model m = pass == 0 ? main_m : (fpt_model)(pass - (pass <= (int)main_m));
            prediction_series(s, fit, timing, proto, m);
            if (m == main_m && series_has(s, 0, 1)) {
                for (int i = 0; i < s->n; i++) {
                    fpt_gp_pt *q = &s->p[i];
                    if (!isfinite(q->lo) || !isfinite(q->hi)) continue;
                    q->lo = fmin(fmax(q->lo, ymin), ymax);
                    q->hi = fmin(fmax(q->hi, ymin), ymax);
                }
                snprintf(style, sizeof style,
                         "using 1:2:3 with filledcurves fc rgb '#%06x' fs transparent solid 0.2 "
                         "noborder",
                         col);
                used_band |= fpt_gp_plot_block(&g, s, 3, style, NULL);
            }
            if (!series_has(s, 1, 0)) continue;
            used_off |= off_scale(s, ymin, ymax, &marks) > 0;
            if (m == main_m)
                snprintf(style, sizeof style, "using 1:2 with lines lc rgb '#%06x' lw 2", col);
            else
                snprintf(style, sizeof style, "using 1:2 with lines lc rgb '#%06x' lw 1.2 dt %d",
                         col, DASH[m]);
            if (fpt_gp_plot_block(&g, s, 2, style, name)) used[m] = 1, name = NULL;
        }
        s->cap = cap;
        snprintf(style, sizeof style, "using 1:2:3 with points lc rgb '#%06x' pt variable ps 1.3",
                 col);
        fpt_gp_plot_block(&g, &marks, 3, style, NULL);
        measured_series(s, fit, timing, proto);
        snprintf(style, sizeof style,
                 "using 1:2:3:4 with yerrorbars lc rgb '#%06x' pt 7 ps 0.9 lw 1.2",
                 fpt_gp_ramp(fpt_gp_family(fit, proto), 0.95));
        used_measured |= fpt_gp_plot_block(&g, s, 4, style, name);
    }
    // The styles' key entries, each drawn like what it stands for.
    char label[160], level[32];
    fpt_gp_level(fit, level, sizeof level);
    for (int m = 0; m < FPT_MODEL_COUNT; m++) {
        if (!used[m]) continue;
        snprintf(label, sizeof label, "%s prediction", model_label((fpt_model)m));
        char style[96];
        // As drawn: the main model solid and thicker, the others dashed.
        snprintf(style, sizeof style, "with lines lc rgb '#000000' lw %s dt %d",
                 m == (int)main_m ? "2" : "1.2", m == (int)main_m ? 1 : DASH[m]);
        fpt_gp_keyentry(&g, style, label);
        if (m == (int)main_m && used_band) {
            snprintf(label, sizeof label, "%s prediction, %s%sinterval", model_label(main_m),
                     level, level[0] ? " " : "");
            fpt_gp_keyentry(&g, "with filledcurves fc rgb '#000000' fs transparent solid 0.2 "
                                "noborder",
                            label);
        }
    }
    if (used_measured)
        fpt_gp_keyentry(&g, "with yerrorbars lc rgb '#000000' pt 7 ps 0.9 lw 1.2",
                        "measured (KM restricted mean, interval)");
    if (used_off)
        fpt_gp_keyentry(&g, "with points lc rgb '#000000' pt 9 ps 1.3",
                        "prediction off scale (leaves the range here)");
    if (base_line) {
        snprintf(label, sizeof label, "baseline E[min(T,%d)] = %.1f", fit->horizon, base->rm);
        fpt_gp_clause(&g, "%.9g with lines lc rgb '#000000' dt 3 lw 1.5 title ", base->rm);
        fpt_gp_quote(g.cmd, label, sizeof label);
    }
    // Room below the plot for the key (gnuplot's own layout lets a key of
    // long entries run into the x label): the axis label's 4 lines and one per
    // key row, two entries a row.
    int entries = used_band + used_measured + used_off + base_line;
    for (int m = 0; m < FPT_MODEL_COUNT; m++) entries += used[m];
    for (int k = 0; nth_protocol(fit, timing, k, &proto); k++) entries++;
    fprintf(f, "set bmargin %d\n", 4 + (entries + 1) / 2);
    return fpt_gp_end(&g);
}
