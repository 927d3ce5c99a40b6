// plot.c — figures of a fit, drawn by gnuplot (see plot.h).
//
// The script is self-contained: every series is an inline datablock
// ("$dN << EOD" ... "EOD"), each figure is drawn once on pngcairo and
// replotted on svg.  Strings from the fit (experiment and protocol names) go
// into single-quoted gnuplot strings, where gnuplot expands neither
// backquotes (shell commands) nor @macros; quotes are doubled and control
// characters replaced by spaces.
#include "analysis/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/memory.h"

extern char **environ;

#define PATH_BUF 4096
#define P_FLOOR 1e-16   // KS p-values below this are drawn at it (log axis)

static const char *const EXT[2] = {"png", "svg"};

// ---- small helpers ---------------------------------------------------------

static int is_baseline(const fpt_fit_condition *c) {
    return fpt_condition_is_baseline(c->protocol, c->timing);
}

static const fpt_fit_condition *baseline(const fpt_fit *fit) {
    for (int i = 0; i < fit->n_conditions; i++)
        if (is_baseline(&fit->conditions[i])) return &fit->conditions[i];
    return NULL;
}

static int pos(double v) { return isfinite(v) && v > 0; }

// A single-quoted gnuplot string: '' for ', control characters as spaces,
// at most `max` bytes of s (then "...").  Nothing when f is NULL (a plot
// command whose memory stream could not be opened: end() reports it).
static void put_q(FILE *f, const char *s, size_t max) {
    if (!f) return;
    fputc('\'', f);
    size_t i = 0;
    for (; s[i] && i < max; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\'') fputs("''", f);
        else if (ch < 0x20 || ch == 0x7f) fputc(' ', f);
        else fputc(ch, f);
    }
    if (s[i]) fputs("...", f);
    fputc('\'', f);
}

static int has_control(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
    return 0;
}

// Colour families, one per protocol in order of appearance: light and dark
// end of a ramp.  Dark = the most frequent perturbation.
static const unsigned FAMILY[][2] = {
    {0x6baed6, 0x08306b},   // blue
    {0xfc9272, 0x67000d},   // red
    {0x74c476, 0x00441b},   // green
    {0xbcbddc, 0x3f007d},   // purple
    {0xfdae6b, 0x7f2704},   // orange
    {0xdfc27d, 0x543005},   // brown
};
#define N_FAMILY ((int)(sizeof FAMILY / sizeof FAMILY[0]))

static unsigned ramp(int family, double u) {   // u = 0 light .. 1 dark
    const unsigned a = FAMILY[family % N_FAMILY][0], b = FAMILY[family % N_FAMILY][1];
    unsigned out = 0;
    for (int sh = 16; sh >= 0; sh -= 8) {
        double ca = (a >> sh) & 0xff, cb = (b >> sh) & 0xff;
        unsigned c = (unsigned)lround(ca + (cb - ca) * u);
        out |= (c > 255 ? 255u : c) << sh;
    }
    return out;
}

// The index of a protocol's colour family: order of first appearance among
// the non-baseline conditions, then the predictions.
static int family_of(const fpt_fit *fit, const char *protocol) {
    int k = 0;
    const int n = fit->n_conditions + fit->n_predictions;
    for (int i = 0; i < n; i++) {
        const char *p = i < fit->n_conditions ? fit->conditions[i].protocol
                                              : fit->predictions[i - fit->n_conditions].protocol;
        if (i < fit->n_conditions && is_baseline(&fit->conditions[i])) continue;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) {
            if (j < fit->n_conditions && is_baseline(&fit->conditions[j])) continue;
            const char *q = j < fit->n_conditions
                                ? fit->conditions[j].protocol
                                : fit->predictions[j - fit->n_conditions].protocol;
            seen = strcmp(p, q) == 0;
        }
        if (seen) continue;
        if (strcmp(p, protocol) == 0) return k;
        k++;
    }
    return k;
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

// ---- series: rows of up to 4 numbers, NAN x = a break -----------------------

typedef struct pt {
    double x, y, lo, hi;
} pt;

typedef struct series {
    pt *p;
    int n, cap;
} series;

static void s_add(series *s, double x, double y, double lo, double hi) {
    if (s->n < s->cap) s->p[s->n++] = (pt){x, y, lo, hi};
}
static void s_break(series *s) {
    if (s->n > 0 && !isnan(s->p[s->n - 1].x)) s_add(s, NAN, NAN, NAN, NAN);
}

// Writes the series as datablock $d<id> with `cols` columns (2: x y,
// 3: x lo hi, 4: x y lo hi).  Rows with a non-finite value are left out, a
// blank line where one was (a break in the curve).  Returns the rows written;
// the caller plots the block only when that is > 0.
static int put_block(FILE *f, int id, const series *s, int cols) {
    fprintf(f, "$d%d << EOD\n", id);
    int rows = 0, gap = 0;
    for (int i = 0; i < s->n; i++) {
        const pt *p = &s->p[i];
        double v[4] = {p->x, cols == 3 ? p->lo : p->y, cols == 3 ? p->hi : p->lo, p->hi};
        int ok = 1;
        for (int c = 0; c < cols; c++) ok &= isfinite(v[c]) != 0;
        if (!ok) {
            gap = rows > 0;
            continue;
        }
        if (gap) fputc('\n', f);
        gap = 0;
        for (int c = 0; c < cols; c++) fprintf(f, c ? " %.9g" : "%.9g", v[c]);
        fputc('\n', f);
        rows++;
    }
    fputs("EOD\n", f);
    return rows;
}

// ---- the plot command, assembled while the blocks are written -------------

typedef struct figure {
    FILE *f;          // the script
    FILE *cmd;        // the plot command (memory stream)
    char *cmd_buf;
    size_t cmd_len;
    int n_clauses;
    int *next_id;     // datablock counter, shared by the figures
} figure;

static void clause(figure *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void clause(figure *g, const char *fmt, ...) {
    if (!g->cmd) return;
    fputs(g->n_clauses++ ? ", \\\n     " : "plot ", g->cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(g->cmd, fmt, ap);
    va_end(ap);
}

// A block and, if it has rows, a clause plotting it: "$dN <style> title '...'".
static int plot_block(figure *g, const series *s, int cols, const char *style, const char *title) {
    const int id = (*g->next_id)++;
    if (put_block(g->f, id, s, cols) == 0 || !g->cmd) return 0;
    clause(g, "$d%d %s ", id, style);
    if (title) {
        fputs("title ", g->cmd);
        put_q(g->cmd, title, 200);
    } else {
        fputs("notitle", g->cmd);
    }
    return 1;
}

static void term(FILE *f, int svg) {
    fprintf(f, "set terminal %s size %d,%d noenhanced font 'Sans,10' background rgb 'white'\n",
            svg ? "svg" : "pngcairo", FPT_PLOT_WIDTH, FPT_PLOT_HEIGHT);
}

// A figure whose memory stream cannot be opened is caught by end().
static void begin(figure *g, FILE *f, int *next_id, const char *comment) {
    *g = (figure){.f = f, .next_id = next_id};
    g->cmd = open_memstream(&g->cmd_buf, &g->cmd_len);
    fprintf(f, "\n# ---- %s\nreset\n", comment);
}

// Settings are written by the caller between begin() and end(); end() adds
// the terminal, the plot command and the svg replot.
static int end(figure *g, const char *png, const char *svg) {
    if (!g->cmd) return -1;
    int rc = fclose(g->cmd);
    g->cmd = NULL;
    if (rc != 0 || !g->cmd_buf || g->n_clauses == 0) {   // (every figure plotted has data)
        free(g->cmd_buf);
        return -1;
    }
    term(g->f, 0);
    fputs("set output ", g->f);
    put_q(g->f, png, SIZE_MAX);
    fprintf(g->f, "\n%s\nunset output\n", g->cmd_buf);
    term(g->f, 1);
    fputs("set output ", g->f);
    put_q(g->f, svg, SIZE_MAX);
    fputs("\nreplot\nunset output\n", g->f);
    free(g->cmd_buf);
    g->cmd_buf = NULL;
    return 0;
}

static void title_line(FILE *f, const fpt_fit *fit, const char *what) {
    char buf[512];
    if (isfinite(fit->opt.target))
        snprintf(buf, sizeof buf, "%.120s: %s, target %g%%", fit->experiment, what,
                 fit->opt.target);
    else
        snprintf(buf, sizeof buf, "%.120s: %s", fit->experiment, what);
    fputs("set title ", f);
    put_q(f, buf, sizeof buf);
    fputc('\n', f);
}

// ---- survival ---------------------------------------------------------------

static int curve_has_points(const fpt_fit_condition *c) {
    for (int t = 0; c->curve && t < c->n_curve; t++)
        if (isfinite(c->curve[t].s)) return 1;
    return 0;
}

// S as a step function: a point where it changes, and the last epoch.
static void step_series(series *s, const fpt_fit_condition *c) {
    s->n = 0;
    int have = 0, last = 0, last_added = -1;
    double prev = 0;
    for (int t = 0; t < c->n_curve; t++) {
        const fpt_curve_point *q = &c->curve[t];
        if (!isfinite(q->s)) {
            if (have) {
                if (last_added != q->epoch) s_add(s, q->epoch, prev, 0, 0);
                s_break(s);
            }
            have = 0;
            continue;
        }
        if (!have || q->s != prev) {
            s_add(s, q->epoch, q->s, 0, 0);
            last_added = q->epoch;
        }
        prev = q->s, have = 1, last = q->epoch;
    }
    if (have && last_added != last) s_add(s, last, prev, 0, 0);
}

// The pointwise band as a staircase: (t, lo, hi) at both ends of each flat part.
static void band_series(series *s, const fpt_fit_condition *c) {
    s->n = 0;
    int have = 0, last = 0;
    double plo = 0, phi = 0;
    for (int t = 0; t < c->n_curve; t++) {
        const fpt_curve_point *q = &c->curve[t];
        if (!isfinite(q->lo) || !isfinite(q->hi)) {
            if (have) {
                s_add(s, q->epoch, NAN, plo, phi);
                s_break(s);
            }
            have = 0;
            continue;
        }
        if (!have) {
            s_add(s, q->epoch, NAN, q->lo, q->hi);
        } else if (q->lo != plo || q->hi != phi) {
            s_add(s, q->epoch, NAN, plo, phi);
            s_add(s, q->epoch, NAN, q->lo, q->hi);
        }
        plo = q->lo, phi = q->hi, have = 1, last = q->epoch;
    }
    if (have) s_add(s, last, NAN, plo, phi);
}

// Perturbation rate of a condition: 1/tau for periodic, p otherwise.
static double rate(const fpt_fit_condition *c) {
    if (strcmp(c->timing, "periodic") == 0) return c->frequency > 0 ? 1.0 / c->frequency : 0;
    return c->frequency;
}

static int fig_survival(FILE *f, const fpt_fit *fit, series *s, int *next_id, const char *png,
                        const char *svg) {
    figure g;
    begin(&g, f, next_id, "survival: Kaplan-Meier S(t) per condition");
    title_line(f, fit, "survival S(t) = P(T > t)");
    int horizon = fit->horizon;
    for (int i = 0; i < fit->n_conditions; i++) {
        const fpt_fit_condition *c = &fit->conditions[i];
        if (c->curve && c->n_curve > 0 && c->curve[c->n_curve - 1].epoch > horizon)
            horizon = c->curve[c->n_curve - 1].epoch;
    }
    if (horizon < 1) horizon = 1;
    fprintf(f, "set xlabel 'epoch t'\nset ylabel 'S(t) = P(T > t)'\n"
               "set xrange [0:%d]\nset yrange [0:1.02]\nset ytics 0.1\n"
               "set grid lc rgb '#e4e4e4'\n"
               "set key top right opaque box lc rgb '#cccccc' font ',9'\n",
            horizon);
    int n_cond = 0;
    for (int i = 0; i < fit->n_conditions; i++) n_cond += curve_has_points(&fit->conditions[i]);
    if (n_cond > 16) fputs("set key font ',7' spacing 0.8\n", f);

    const fpt_fit_condition *base = baseline(fit);
    char label[160];
    if (base && curve_has_points(base)) {
        band_series(s, base);
        if (isfinite(fit->opt.level) && fit->opt.level > 0 && fit->opt.level < 1)
            snprintf(label, sizeof label, "baseline, pointwise %g%% band", 100 * fit->opt.level);
        else
            snprintf(label, sizeof label, "baseline, pointwise band");
        plot_block(&g, s, 3,
                   "using 1:2:3 with filledcurves fc rgb '#000000' fs transparent solid 0.15 "
                   "noborder",
                   label);
        step_series(s, base);
        snprintf(label, sizeof label, "baseline (%d runs)", base->runs);
        plot_block(&g, s, 2, "using 1:2 with steps lc rgb '#000000' lw 3", label);
    }
    // Each (protocol, timing): its conditions from the most frequent
    // perturbation (dark) to the rarest (light).
    for (int i = 0; i < fit->n_conditions; i++) {
        const fpt_fit_condition *c = &fit->conditions[i];
        if (c == base || !curve_has_points(c)) continue;
        int first = 1;   // the first condition of its group: draw the whole group
        for (int j = 0; j < i && first; j++) {
            const fpt_fit_condition *d = &fit->conditions[j];
            first = !(d != base && curve_has_points(d) && strcmp(d->protocol, c->protocol) == 0 &&
                      strcmp(d->timing, c->timing) == 0);
        }
        if (!first) continue;
        // Members of the group in decreasing rate: repeatedly take the
        // largest rate below the previous one (groups are small).
        int members = 0;
        for (int j = i; j < fit->n_conditions; j++) {
            const fpt_fit_condition *d = &fit->conditions[j];
            members += d != base && curve_has_points(d) && strcmp(d->protocol, c->protocol) == 0 &&
                       strcmp(d->timing, c->timing) == 0;
        }
        const int fam = family_of(fit, c->protocol);
        const int dashed = strcmp(c->timing, "periodic") != 0;
        int rank = 0;
        double bound = INFINITY;
        int bound_idx = -1;
        while (rank < members) {
            int best = -1;
            for (int j = i; j < fit->n_conditions; j++) {
                const fpt_fit_condition *d = &fit->conditions[j];
                if (d == base || !curve_has_points(d) || strcmp(d->protocol, c->protocol) != 0 ||
                    strcmp(d->timing, c->timing) != 0)
                    continue;
                const double r = rate(d);
                // Strictly after (bound, bound_idx) in the order (rate desc, index asc).
                if (!(r < bound || (r == bound && j > bound_idx))) continue;
                if (best < 0 || r > rate(&fit->conditions[best])) best = j;
            }
            if (best < 0) break;   // NAN rates: nothing comparable left
            const fpt_fit_condition *d = &fit->conditions[best];
            const double u = members > 1 ? 1.0 - (double)rank / (members - 1) : 0.6;
            char style[128];
            snprintf(style, sizeof style, "using 1:2 with steps lc rgb '#%06x' lw 1.5%s",
                     ramp(fam, 0.15 + 0.85 * u), dashed ? " dt 2" : "");
            step_series(s, d);
            fpt_condition_label(d->protocol, d->timing, d->frequency, label, sizeof label);
            plot_block(&g, s, 2, style, label);
            bound = rate(d), bound_idx = best, rank++;
        }
    }
    clause(&g, "0.5 with lines dt 3 lc rgb '#777777' notitle");
    return end(&g, png, svg);
}

// ---- mean FPT against frequency -----------------------------------------------

static int cmp_x(const void *a, const void *b) {
    const double x = ((const pt *)a)->x, y = ((const pt *)b)->x;
    return (x > y) - (x < y);
}

static int pred_usable(const fpt_fit_prediction *p, const char *timing) {
    return strcmp(p->timing, timing) == 0 && pos(p->frequency);
}

static int cond_usable(const fpt_fit_condition *c, const char *timing) {
    return !is_baseline(c) && strcmp(c->timing, timing) == 0 && pos(c->frequency);
}

static int mfpt_has_data(const fpt_fit *fit, const char *timing) {
    for (int i = 0; i < fit->n_predictions; i++) {
        const fpt_fit_prediction *p = &fit->predictions[i];
        if (pred_usable(p, timing) && (pos(p->predicted) || (p->has_measured && pos(p->measured))))
            return 1;
    }
    for (int i = 0; i < fit->n_conditions; i++)
        if (cond_usable(&fit->conditions[i], timing) && pos(fit->conditions[i].rm)) return 1;
    return 0;
}

// Measured restricted means of one protocol: from the predictions with
// has_measured (one per frequency), then the conditions not covered.
static void measured_series(series *s, const fpt_fit *fit, const char *timing, const char *proto) {
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
        if (!pos(y)) continue;
        int dup = 0;
        for (int k = 0; k < s->n && !dup; k++) dup = s->p[k].x == x;
        if (dup) continue;
        if (!pos(lo) || lo > y) lo = y;   // no interval (or none drawable on a log axis)
        if (!isfinite(hi) || hi < y) hi = y;
        s_add(s, x, y, lo, hi);
    }
    qsort(s->p, (size_t)s->n, sizeof *s->p, cmp_x);
}

// Predictions of one protocol and model, in increasing frequency; a value
// that is not finite and positive (INFINITY: never reached) breaks the curve.
static void prediction_series(series *s, const fpt_fit *fit, const char *timing, const char *proto,
                              fpt_model m) {
    s->n = 0;
    for (int i = 0; i < fit->n_predictions; i++) {
        const fpt_fit_prediction *p = &fit->predictions[i];
        if (!pred_usable(p, timing) || strcmp(p->protocol, proto) != 0 || p->model != m) continue;
        s_add(s, p->frequency, pos(p->predicted) ? p->predicted : NAN, pos(p->lo) ? p->lo : NAN,
              pos(p->hi) ? p->hi : NAN);
    }
    qsort(s->p, (size_t)s->n, sizeof *s->p, cmp_x);
    // put_block breaks the line at the NAN rows.
}

// The ranges of what a figure draws (log axes: positive values only).
typedef struct extent {
    double x0, x1, y0, y1;
} extent;

static void grow(extent *e, double x, double y) {
    if (!pos(x) || !pos(y)) return;
    e->x0 = fmin(e->x0, x), e->x1 = fmax(e->x1, x);
    e->y0 = fmin(e->y0, y), e->y1 = fmax(e->y1, y);
}

// A log axis from a / lo_pad to b * hi_pad (one value: a factor 2 each
// way), with tics at 1-2-5 times the powers of ten, denser when that gives
// fewer than 4: gnuplot's own log tics are decades only, too few for the
// usual one or two decades of data.
// The range set is returned in *lo, *hi.
static void put_log_axis(FILE *f, const char *axis, double a, double b, double lo_pad,
                         double hi_pad, double *lo, double *hi) {
    static const double MANT[3][8] = {
        {1, 2, 5}, {1, 2, 3, 5}, {1, 1.5, 2, 3, 4, 5, 6, 8}};
    static const int N_MANT[3] = {3, 4, 8};
    if (!(a <= b)) a = b = 1;
    if (a == b) lo_pad = hi_pad = 2;
    a /= lo_pad, b *= hi_pad;
    *lo = a, *hi = b;
    fprintf(f, "set %srange [%.9g:%.9g]\nset %stics (", axis, a, b, axis);
    const int d0 = (int)floor(log10(a)), d1 = (int)ceil(log10(b));
    int level = 0;
    for (; level < 2; level++) {
        int count = 0;
        for (int d = d0; d <= d1 && d - d0 < 40; d++)
            for (int k = 0; k < N_MANT[level]; k++) {
                const double v = MANT[level][k] * pow(10, d);
                count += v >= a && v <= b;
            }
        if (count >= 4) break;
    }
    int first = 1;
    for (int d = d0; d <= d1 && d - d0 < 40; d++)
        for (int k = 0; k < N_MANT[level]; k++) {
            const double v = MANT[level][k] * pow(10, d);
            if (v < a || v > b) continue;
            fprintf(f, first ? "%g" : ", %g", v);
            first = 0;
        }
    fputs(")\n", f);
}

static int series_has(const series *s, int want_y, int want_band) {
    for (int i = 0; i < s->n; i++) {
        const pt *p = &s->p[i];
        if (!isfinite(p->x)) continue;
        if (want_y && isfinite(p->y)) return 1;
        if (want_band && isfinite(p->lo) && isfinite(p->hi)) return 1;
    }
    return 0;
}

static int fig_mfpt(FILE *f, const fpt_fit *fit, const char *timing, series *s, int *next_id,
                    const char *png, const char *svg) {
    const int periodic = strcmp(timing, "periodic") == 0;
    figure g;
    begin(&g, f, next_id,
          periodic ? "mfpt: mean FPT against the period tau"
                   : "mfpt_geometric: mean FPT against the perturbation probability p");
    title_line(f, fit, periodic ? "mean FPT vs period tau" : "mean FPT vs probability p");
    fprintf(f, "set xlabel '%s'\nset ylabel 'mean first-passage time (epochs)'\n"
               "set logscale x\nset logscale y\nset grid lc rgb '#e4e4e4'\n"
               // Where the curves rarely are: the mean FPT grows towards the
               // baseline's with the period, and falls with p.
               "set key %s opaque box lc rgb '#cccccc' font ',8'\n",
            periodic ? "period tau (epochs between perturbations)"
                     : "p (probability of a perturbation after each epoch)",
            periodic ? "bottom right" : "bottom left");

    // Protocols in order of appearance; the x extent over everything drawn.
    const int n_all = fit->n_predictions + fit->n_conditions;
    const fpt_model main_m = periodic ? FPT_MODEL_QSS : FPT_MODEL_LINEAR;
    static const int DASH[FPT_MODEL_COUNT] = {1, 2, 4, 5};   // line style per model
    int used[FPT_MODEL_COUNT + 2] = {0};   // models drawn, measured points, main band
    extent ext = {INFINITY, -INFINITY, INFINITY, -INFINITY};
    for (int pass = 0; pass < 2; pass++) {
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
            const unsigned col = ramp(family_of(fit, proto), 0.65);
            char style[160];
            if (pass == 0) {   // extent only
                measured_series(s, fit, timing, proto);
                for (int k = 0; k < s->n; k++) {
                    grow(&ext, s->p[k].x, s->p[k].y);
                    grow(&ext, s->p[k].x, s->p[k].lo);
                    grow(&ext, s->p[k].x, s->p[k].hi);
                }
                for (int m = 0; m < FPT_MODEL_COUNT; m++) {
                    prediction_series(s, fit, timing, proto, (fpt_model)m);
                    for (int k = 0; k < s->n; k++) {
                        const pt *q = &s->p[k];
                        grow(&ext, q->x, q->y);
                        if (m == (int)main_m && isfinite(q->lo) && isfinite(q->hi))
                            grow(&ext, q->x, q->lo), grow(&ext, q->x, q->hi);
                    }
                }
                continue;
            }
            // The main model (QSS / linear response) with its band, the other
            // models, the measured points.  The legend has one entry per
            // protocol (its colour) and one per style (below).
            const char *name = proto;   // the title of the protocol's first series
            prediction_series(s, fit, timing, proto, main_m);
            if (series_has(s, 0, 1)) {
                snprintf(style, sizeof style,
                         "using 1:2:3 with filledcurves fc rgb '#%06x' fs transparent solid 0.18 "
                         "noborder",
                         col);
                used[FPT_MODEL_COUNT + 1] |= plot_block(&g, s, 3, style, NULL);
            }
            if (series_has(s, 1, 0)) {
                snprintf(style, sizeof style, "using 1:2 with lines lc rgb '#%06x' lw 2", col);
                if (plot_block(&g, s, 2, style, name)) used[main_m] = 1, name = NULL;
            }
            for (int m = 0; m < FPT_MODEL_COUNT; m++) {
                if (m == (int)main_m) continue;
                prediction_series(s, fit, timing, proto, (fpt_model)m);
                if (!series_has(s, 1, 0)) continue;
                snprintf(style, sizeof style, "using 1:2 with lines lc rgb '#%06x' lw 1.2 dt %d",
                         col, DASH[m]);
                if (plot_block(&g, s, 2, style, name)) used[m] = 1, name = NULL;
            }
            measured_series(s, fit, timing, proto);
            snprintf(style, sizeof style,
                     "using 1:2:3:4 with yerrorbars lc rgb '#%06x' pt 7 ps 0.9 lw 1.2",
                     ramp(family_of(fit, proto), 0.9));
            if (plot_block(&g, s, 4, style, name)) used[FPT_MODEL_COUNT] = 1;
        }
        if (pass == 0) {
            const fpt_fit_condition *base = baseline(fit);
            if (base && pos(base->rm) && ext.y0 <= ext.y1)   // the baseline line stays in view
                ext.y0 = fmin(ext.y0, base->rm), ext.y1 = fmax(ext.y1, base->rm);
            double xmin, xmax, ymin, ymax;
            put_log_axis(f, "x", ext.x0, ext.x1, 1.3, 1.3, &xmin, &xmax);
            // Room on top for the label.
            put_log_axis(f, "y", ext.y0, ext.y1, 1.15, 1.5, &ymin, &ymax);
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
                fprintf(f, "set label 1 'outside QSS (tau < t_rel = %d)' at graph 0.01, graph 0.97 "
                           "left front tc rgb '#555555' font ',9'\n",
                        fit->t_rel);
            } else if (periodic && fit->t_rel <= 0) {
                fputs("set label 1 'no t_rel: the KS test never stopped rejecting, the QSS model "
                      "is unsupported' at graph 0.01, graph 0.97 left front tc rgb '#aa0000' "
                      "font ',9'\n",
                      f);
            }
        }
    }
    // The legend of the styles: NaN draws nothing but its key entry.
    char label[160];
    for (int m = 0; m < FPT_MODEL_COUNT; m++) {
        if (!used[m]) continue;
        if (m == (int)main_m && used[FPT_MODEL_COUNT + 1] && isfinite(fit->opt.level) &&
            fit->opt.level > 0 && fit->opt.level < 1)
            snprintf(label, sizeof label, "%s prediction, %g%% band", model_label(main_m),
                     100 * fit->opt.level);
        else
            snprintf(label, sizeof label, "%s prediction", model_label((fpt_model)m));
        clause(&g, "NaN with lines lc rgb '#000000' lw %s dt %d title ", m == (int)main_m ? "2" : "1.2",
               DASH[m]);
        put_q(g.cmd, label, sizeof label);
    }
    if (used[FPT_MODEL_COUNT])
        clause(&g, "NaN with points lc rgb '#000000' pt 7 ps 0.9 title 'measured (KM restricted "
                   "mean, interval)'");
    const fpt_fit_condition *base = baseline(fit);
    if (base && pos(base->rm)) {
        snprintf(label, sizeof label, "baseline E[min(T,%d)] = %.1f",
                 fit->horizon, base->rm);
        clause(&g, "%.9g with lines lc rgb '#000000' dt 3 lw 1.5 title ", base->rm);
        put_q(g.cmd, label, sizeof label);
    }
    return end(&g, png, svg);
}

// ---- relaxation (KS) ------------------------------------------------------------

static int ks_has_data(const fpt_fit *fit) {
    for (int i = 0; fit->ks_p && i < fit->n_ks; i++)
        if (isfinite(fit->ks_p[i])) return 1;
    return 0;
}

static int fig_ks(FILE *f, const fpt_fit *fit, series *s, int *next_id, const char *png,
                  const char *svg) {
    figure g;
    begin(&g, f, next_id, "ks: relaxation, KS p-value against epoch");
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
    fputs("set title ", f);
    put_q(f, what, sizeof what);
    fputc('\n', f);
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
        s_add(s, i + 1, p, 0, 0);
    }
    if (fit->t_rel > 0) {
        fprintf(f, "set arrow 1 from first %d, graph 0 to first %d, graph 1 nohead front "
                   "lc rgb '#2ca02c' lw 2\n"
                   "set label 1 't_rel = %d' at first %d, graph 0.96 offset 0.6,0 left front "
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
        fputs("set label 3 'p-values below 1e-16 drawn at 1e-16' at graph 0.02, graph 0.04 left "
              "tc rgb '#555555' font ',9'\n",
              f);
    plot_block(&g, s, 2, "using 1:2 with linespoints lc rgb '#1f77b4' pt 7 ps 0.5 lw 1.5",
               "KS p-value");
    if (fit->ks_d) {
        s->n = 0;
        for (int i = 0; i < fit->n_ks; i++) s_add(s, i + 1, fit->ks_d[i], 0, 0);
        plot_block(&g, s, 2, "using 1:2 axes x1y2 with lines lc rgb '#aaaaaa' lw 1",
                   "KS statistic D vs the reference (right axis)");
    }
    if (fit->n_drift > 0) {   // what t_rel is read from (ks.h, fpt_relaxation_drift)
        char label[96];
        s->n = 0;
        for (int i = 0; i < fit->n_drift; i++) s_add(s, i + 1, fit->drift[i], 0, 0);
        snprintf(label, sizeof label, "drift D(t, t+%d) (right axis)", fit->opt.ks_window);
        plot_block(&g, s, 2, "using 1:2 axes x1y2 with lines lc rgb '#ff7f0e' lw 2", label);
        snprintf(label, sizeof label, "late level %.3f + tolerance %g (right axis)",
                 fit->relax_floor, fit->opt.relax_tolerance);
        clause(&g, "%.9g axes x1y2 with lines lc rgb '#ff7f0e' dt 2 lw 1.5 title ",
               fit->relax_floor + fit->opt.relax_tolerance);
        put_q(g.cmd, label, sizeof label);
    }
    if (pos(fit->opt.alpha) && fit->opt.alpha < 1) {
        char label[64];
        snprintf(label, sizeof label, "alpha = %g", fit->opt.alpha);
        clause(&g, "%.9g with lines lc rgb '#d62728' dt 2 lw 1.5 title ", fit->opt.alpha);
        put_q(g.cmd, label, sizeof label);
    }
    return end(&g, png, svg);
}

// ---- the script ---------------------------------------------------------------------

int fpt_plot_figures(const fpt_fit *fit, const char *names[FPT_PLOT_MAX_FIGURES]) {
    int n = 0;
    if (!fit) return 0;
    for (int i = 0; i < fit->n_conditions; i++)
        if (curve_has_points(&fit->conditions[i])) {
            names[n++] = "survival";
            break;
        }
    if (mfpt_has_data(fit, "periodic")) names[n++] = "mfpt";
    if (mfpt_has_data(fit, "geometric")) names[n++] = "mfpt_geometric";
    if (ks_has_data(fit)) names[n++] = "ks";
    return n;
}

static int output_path(char *buf, size_t n, const char *dir, const char *name, const char *ext,
                       const char *tag, fpt_err *err) {
    int len = tag ? snprintf(buf, n, "%s/.%s.%s.%s.tmp", dir, name, ext, tag)
                  : snprintf(buf, n, "%s/%s.%s", dir, name, ext);
    if (len < 0 || (size_t)len >= n)
        return fpt_fail(err, "plot directory name too long: %.200s...", dir);
    return 0;
}

int fpt_plot_write_script(const fpt_fit *fit, const char *out_dir, const char *tag, FILE *f,
                          fpt_err *err) {
    if (!fit) return fpt_fail(err, "plot: no fit");
    if (!out_dir || !*out_dir) return fpt_fail(err, "plot: no output directory");
    if (has_control(out_dir))
        return fpt_fail(err, "plot directory name has a control character: %s", out_dir);
    if (tag && has_control(tag)) return fpt_fail(err, "plot: bad temporary tag");
    const char *names[FPT_PLOT_MAX_FIGURES];
    const int n = fpt_plot_figures(fit, names);
    if (n == 0)
        return fpt_fail(err, "%s: nothing to plot (no survival curve, mean FPT or KS value)",
                        fit->experiment);

    // One scratch series big enough for any figure.
    int cap = 2 * (fit->n_predictions + fit->n_conditions) + 2 * fit->n_ks + 8;
    for (int i = 0; i < fit->n_conditions; i++)
        if (fit->conditions[i].curve && 4 * fit->conditions[i].n_curve + 8 > cap)
            cap = 4 * fit->conditions[i].n_curve + 8;
    series s = {fpt_calloc((size_t)cap, sizeof(pt), "plot series", err), 0, cap};
    if (!s.p) return -1;

    fputs("# fptfarm: figures of a fit, for gnuplot 5 (pngcairo and svg terminals)\n# ", f);
    put_q(f, fit->experiment, sizeof fit->experiment - 1);
    fputc('\n', f);
    int next_id = 0, rc = 0;
    char png[PATH_BUF], svg[PATH_BUF];
    for (int i = 0; i < n && rc == 0; i++) {
        if (output_path(png, sizeof png, out_dir, names[i], EXT[0], tag, err) ||
            output_path(svg, sizeof svg, out_dir, names[i], EXT[1], tag, err)) {
            rc = -1;
            break;
        }
        if (strcmp(names[i], "survival") == 0) rc = fig_survival(f, fit, &s, &next_id, png, svg);
        else if (strcmp(names[i], "mfpt") == 0)
            rc = fig_mfpt(f, fit, "periodic", &s, &next_id, png, svg);
        else if (strcmp(names[i], "mfpt_geometric") == 0)
            rc = fig_mfpt(f, fit, "geometric", &s, &next_id, png, svg);
        else rc = fig_ks(f, fit, &s, &next_id, png, svg);
        if (rc) fpt_fail(err, "plot: cannot assemble the %s figure (out of memory)", names[i]);
    }
    fpt_free(s.p);
    if (rc == 0 && (fflush(f) != 0 || ferror(f)))
        return fpt_fail(err, "cannot write the gnuplot script: %s", strerror(errno));
    return rc;
}

// ---- running gnuplot --------------------------------------------------------------

int fpt_plot_find_gnuplot(char *buf, size_t n, fpt_err *err) {
    const char *env = getenv("FPTFARM_GNUPLOT");
    struct stat st;
    if (env && *env) {
        const char *why = NULL;
        if (stat(env, &st) != 0) why = strerror(errno);
        else if (!S_ISREG(st.st_mode)) why = "not a regular file";
        else if (access(env, X_OK) != 0) why = "not executable";
        if (why)
            return fpt_fail(err, "gnuplot not found: FPTFARM_GNUPLOT=%s: %s (install gnuplot-nox, "
                                 "e.g. apt-get install gnuplot-nox, or point FPTFARM_GNUPLOT at "
                                 "gnuplot)",
                            env, why);
        if (strlen(env) >= n) return fpt_fail(err, "FPTFARM_GNUPLOT: path too long");
        strcpy(buf, env);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    for (;;) {
        const char *colon = strchr(path, ':');
        const int len = (int)(colon ? (size_t)(colon - path) : strlen(path));
        // An empty PATH entry is the current directory.
        const int w = snprintf(buf, n, "%.*s/gnuplot", len ? len : 1, len ? path : ".");
        if (w > 0 && (size_t)w < n && stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
            access(buf, X_OK) == 0)
            return 0;
        if (!colon) break;
        path = colon + 1;
    }
    if (n) buf[0] = '\0';
    return fpt_fail(err, "gnuplot is not installed (not found on PATH): install gnuplot-nox "
                         "(apt-get install gnuplot-nox), or set FPTFARM_GNUPLOT to its path");
}

// mkdir -p; the error names the directory (and the part that failed).
static int make_dirs(const char *dir, fpt_err *err) {
    char buf[PATH_BUF];
    const size_t len = strlen(dir);
    if (len >= sizeof buf) return fpt_fail(err, "plot directory name too long: %.200s...", dir);
    memcpy(buf, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if ((buf[i] != '/' && buf[i] != '\0') || buf[i - 1] == '/') continue;
        const char keep = buf[i];
        buf[i] = '\0';
        struct stat st;
        if (mkdir(buf, 0777) != 0) {
            const int e = errno;
            if (e != EEXIST || stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
                const char *why = e == EEXIST ? "exists and is not a directory" : strerror(e);
                if (i == len) return fpt_fail(err, "cannot create plot directory %s: %s", dir, why);
                return fpt_fail(err, "cannot create plot directory %s: %s: %s", dir, buf, why);
            }
        }
        buf[i] = keep;
    }
    return 0;
}

// The line of gnuplot's stderr to quote: the first "line N: ..." (its error
// format), else the first non-blank line.  Empty when there is none.
static void first_error_line(FILE *f, char *out, size_t n) {
    out[0] = '\0';
    if (!f || fseek(f, 0, SEEK_SET) != 0) return;
    char line[1024], fallback[1024] = "";
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        const char *p = line + strspn(line, " \t");
        if (!*p) continue;
        int num = 0;
        if (strncmp(p, "line ", 5) == 0) {
            const char *q = p + 5;
            while (*q >= '0' && *q <= '9') q++, num = 1;
            num = num && *q == ':';
        }
        if (num) {
            snprintf(out, n, "%.300s", p);
            return;
        }
        if (!fallback[0] && strncmp(p, "gnuplot>", 8) != 0 && p[0] != '^')
            snprintf(fallback, sizeof fallback, "%s", p);
    }
    snprintf(out, n, "%.300s", fallback);
}

static void unlink_all(char paths[][PATH_BUF], int n) {
    for (int i = 0; i < n; i++)
        if (paths[i][0]) unlink(paths[i]);
}

int fpt_plot_fit(const fpt_fit *fit, const char *out_dir, int *written, fpt_err *err) {
    if (written) *written = 0;
    if (!fit) return fpt_fail(err, "plot: no fit");
    if (!out_dir || !*out_dir) return fpt_fail(err, "plot: no output directory");
    if (has_control(out_dir))
        return fpt_fail(err, "plot directory name has a control character: %s", out_dir);
    const char *names[FPT_PLOT_MAX_FIGURES];
    const int n_fig = fpt_plot_figures(fit, names);
    if (n_fig == 0)
        return fpt_fail(err, "%s: nothing to plot (no survival curve, mean FPT or KS value)",
                        fit->experiment);
    // Nothing touches the disk before gnuplot is known to be there.
    char gnuplot[PATH_BUF];
    if (fpt_plot_find_gnuplot(gnuplot, sizeof gnuplot, err)) return -1;
    if (make_dirs(out_dir, err)) return -1;

    // Reserve the temporary names (O_EXCL: never someone else's file).
    const int n_files = 2 * n_fig;
    char (*tmp)[PATH_BUF] = fpt_calloc(2 * (size_t)n_files, PATH_BUF, "plot file names", err);
    if (!tmp) return -1;
    char (*fin)[PATH_BUF] = tmp + n_files;
    char tag[48];
    for (int attempt = 0;; attempt++) {
        snprintf(tag, sizeof tag, "%ld-%d", (long)getpid(), attempt);
        int i = 0, e = 0;
        for (; i < n_files; i++) {
            if (output_path(tmp[i], PATH_BUF, out_dir, names[i / 2], EXT[i % 2], tag, err) ||
                output_path(fin[i], PATH_BUF, out_dir, names[i / 2], EXT[i % 2], NULL, err)) {
                unlink_all(tmp, i);
                fpt_free(tmp);
                return -1;
            }
            int fd = open(tmp[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
            if (fd < 0) {
                e = errno;
                break;
            }
            close(fd);
        }
        if (i == n_files) break;
        unlink_all(tmp, i);
        if (e != EEXIST || attempt >= 100) {
            fpt_free(tmp);
            return fpt_fail(err, "cannot write figures in %s: %s", out_dir, strerror(e));
        }
    }

    int rc = -1;
    FILE *script = tmpfile(), *errf = tmpfile();
    if (!script || !errf) {
        fpt_fail(err, "plot: cannot create a temporary file: %s", strerror(errno));
        goto done;
    }
    if (fpt_plot_write_script(fit, out_dir, tag, script, err)) goto done;
    if (fflush(script) != 0 || fseek(script, 0, SEEK_SET) != 0) {
        fpt_fail(err, "plot: cannot write the gnuplot script: %s", strerror(errno));
        goto done;
    }

    // gnuplot gets default handling of the usual signals and none blocked,
    // whatever the caller set up for itself.
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    if (posix_spawn_file_actions_init(&fa) != 0) {
        fpt_fail(err, "plot: out of memory starting gnuplot");
        goto done;
    }
    if (posix_spawnattr_init(&at) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        fpt_fail(err, "plot: out of memory starting gnuplot");
        goto done;
    }
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGHUP);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawn_file_actions_adddup2(&fa, fileno(script), 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fileno(errf), 2);
    char *argv[] = {"gnuplot", "-d", NULL};
    pid_t pid;
    int se = posix_spawn(&pid, gnuplot, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (se != 0) {
        fpt_fail(err, "cannot run gnuplot (%s): %s (install gnuplot-nox, or set FPTFARM_GNUPLOT)",
                 gnuplot, strerror(se));
        goto done;
    }
    int status;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {}
    if (w < 0) {
        fpt_fail(err, "gnuplot (%s): cannot wait for it: %s", gnuplot, strerror(errno));
        goto done;
    }
    char line[400];
    first_error_line(errf, line, sizeof line);
    const char *hint = strstr(line, "terminal") ? " (fptfarm needs gnuplot's pngcairo and svg "
                                                  "terminals: install gnuplot-nox)"
                                                : "";
    if (WIFSIGNALED(status)) {
        fpt_fail(err, "gnuplot (%s) was killed by signal %d%s%s%s", gnuplot, WTERMSIG(status),
                 line[0] ? ": \"" : "", line, line[0] ? "\"" : "");
        goto done;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (line[0])
            fpt_fail(err, "gnuplot (%s) failed with exit status %d: \"%s\"%s", gnuplot,
                     WEXITSTATUS(status), line, hint);
        else
            fpt_fail(err, "gnuplot (%s) failed with exit status %d and no message", gnuplot,
                     WEXITSTATUS(status));
        goto done;
    }
    for (int i = 0; i < n_files; i++) {
        struct stat st;
        if (stat(tmp[i], &st) != 0 || st.st_size == 0) {
            fpt_fail(err, "gnuplot (%s) exited normally but did not write %s%s%s%s", gnuplot,
                     fin[i], line[0] ? ": \"" : "", line, line[0] ? "\"" : "");
            goto done;
        }
        // Durable before the rename: a crash must not leave an empty figure.
        int fd = open(tmp[i], O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            (void)fsync(fd);
            close(fd);
        }
    }
    int moved = 0;
    for (; moved < n_files; moved++) {
        if (rename(tmp[moved], fin[moved]) != 0) {
            fpt_fail(err, "cannot rename %s to %s: %s", tmp[moved], fin[moved], strerror(errno));
            break;
        }
        tmp[moved][0] = '\0';
        if (written) *written = moved + 1;
    }
    if (moved == n_files) rc = 0;

done:
    if (rc != 0) unlink_all(tmp, n_files);
    fpt_free(tmp);
    if (script) fclose(script);
    if (errf) fclose(errf);
    return rc;
}
