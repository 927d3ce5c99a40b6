// plot_gp.c — the pieces of the figures' gnuplot scripts (see plot_gp.h).
//
// Strings from the fit (experiment and protocol names) go into
// single-quoted gnuplot strings, where gnuplot expands neither backquotes
// (shell commands) nor @macros; quotes are doubled and control characters
// replaced by spaces.
#include "analysis/plot_gp.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int fpt_gp_pos(double v) { return isfinite(v) && v > 0; }

int fpt_gp_is_baseline(const fpt_fit_condition *c) {
    return fpt_condition_is_baseline(c->protocol, c->timing);
}

const fpt_fit_condition *fpt_gp_baseline(const fpt_fit *fit) {
    for (int i = 0; i < fit->n_conditions; i++)
        if (fpt_gp_is_baseline(&fit->conditions[i])) return &fit->conditions[i];
    return NULL;
}

void fpt_gp_quote(FILE *f, const char *s, size_t max) {
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

int fpt_gp_has_control(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
    return 0;
}

const char *fpt_gp_level(const fpt_fit *fit, char *buf, size_t n) {
    if (isfinite(fit->opt.level) && fit->opt.level > 0 && fit->opt.level < 1)
        snprintf(buf, n, "%g%%", 100 * fit->opt.level);
    else
        snprintf(buf, n, "%s", "");
    return buf;
}

// ---- colours ------------------------------------------------------------------------

// Each map: 4 anchors from the dark end (u = 1) to the light end (u = 0),
// interpolated linearly in RGB.  Multi-hue, so that a dozen periods of one
// protocol stay apart (a single-hue ramp did not: 12 blues were 4 to the
// eye); the light ends are kept dark enough to read on white.
static const unsigned MAP[][4] = {
    {0x2d004b, 0x2c6fbb, 0x21a391, 0x9bc53d},   // purple - blue - teal - green
    {0x67000d, 0xcb181d, 0xf16913, 0xe0a100},   // dark red - red - orange - amber
    {0x00441b, 0x238b45, 0x74a93a, 0xb8b800},   // greens to olive
    {0x3f007d, 0x8c2d9c, 0xdd3497, 0xf88fb0},   // purple to pink
    {0x252525, 0x525252, 0x8a8a8a, 0xb0b0b0},   // greys
};
#define N_MAP ((int)(sizeof MAP / sizeof MAP[0]))

unsigned fpt_gp_ramp(int family, double u) {
    const unsigned *a = MAP[(family % N_MAP + N_MAP) % N_MAP];
    if (!(u >= 0)) u = 0;
    if (u > 1) u = 1;
    const double pos = (1 - u) * 3;   // 0 = dark anchor .. 3 = light anchor
    int k = (int)floor(pos);
    if (k > 2) k = 2;
    const double w = pos - k;
    unsigned out = 0;
    for (int sh = 16; sh >= 0; sh -= 8) {
        const double ca = (a[k] >> sh) & 0xff, cb = (a[k + 1] >> sh) & 0xff;
        unsigned c = (unsigned)lround(ca + (cb - ca) * w);
        out |= (c > 255 ? 255u : c) << sh;
    }
    return out;
}

int fpt_gp_family(const fpt_fit *fit, const char *protocol) {
    int k = 0;
    const int n = fit->n_conditions + fit->n_predictions;
    for (int i = 0; i < n; i++) {
        const char *p = i < fit->n_conditions ? fit->conditions[i].protocol
                                              : fit->predictions[i - fit->n_conditions].protocol;
        if (i < fit->n_conditions && fpt_gp_is_baseline(&fit->conditions[i])) continue;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) {
            if (j < fit->n_conditions && fpt_gp_is_baseline(&fit->conditions[j])) continue;
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

unsigned fpt_gp_protocol_colour(const fpt_fit *fit, const char *protocol) {
    return fpt_gp_ramp(fpt_gp_family(fit, protocol), 0.7);
}

// ---- series -------------------------------------------------------------------------

void fpt_gp_add(fpt_gp_series *s, double x, double y, double lo, double hi) {
    if (s->n < s->cap) s->p[s->n++] = (fpt_gp_pt){x, y, lo, hi};
}

void fpt_gp_break(fpt_gp_series *s) {
    if (s->n > 0 && !isnan(s->p[s->n - 1].x)) fpt_gp_add(s, NAN, NAN, NAN, NAN);
}

static int cmp_x(const void *a, const void *b) {
    const double x = ((const fpt_gp_pt *)a)->x, y = ((const fpt_gp_pt *)b)->x;
    return (x > y) - (x < y);
}

void fpt_gp_sort_x(fpt_gp_series *s) { qsort(s->p, (size_t)s->n, sizeof *s->p, cmp_x); }

static int put_block(FILE *f, int id, const fpt_gp_series *s, int cols) {
    fprintf(f, "$d%d << EOD\n", id);
    int rows = 0, gap = 0;
    for (int i = 0; i < s->n; i++) {
        const fpt_gp_pt *p = &s->p[i];
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

// ---- a figure -----------------------------------------------------------------------

void fpt_gp_begin(fpt_gp_figure *g, FILE *f, int *next_id, const fpt_plot_options *opt,
                  const char *comment) {
    *g = (fpt_gp_figure){.f = f, .next_id = next_id, .opt = opt};
    g->cmd = open_memstream(&g->cmd_buf, &g->cmd_len);   // NULL: caught by fpt_gp_end
    fprintf(f, "\n# ---- %s\nreset\n", comment);
}

void fpt_gp_clause(fpt_gp_figure *g, const char *fmt, ...) {
    if (!g->cmd) return;
    fputs(g->n_clauses++ ? ", \\\n     " : "plot ", g->cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(g->cmd, fmt, ap);
    va_end(ap);
}

int fpt_gp_plot_block(fpt_gp_figure *g, const fpt_gp_series *s, int cols, const char *style,
                      const char *title) {
    const int id = (*g->next_id)++;
    if (put_block(g->f, id, s, cols) == 0 || !g->cmd) return 0;
    fpt_gp_clause(g, "$d%d %s ", id, style);
    if (title) {
        fputs("title ", g->cmd);
        fpt_gp_quote(g->cmd, title, 200);
    } else {
        fputs("notitle", g->cmd);
    }
    return 1;
}

void fpt_gp_keyentry(fpt_gp_figure *g, const char *style, const char *title) {
    fpt_gp_clause(g, "keyentry %s title ", style);
    fpt_gp_quote(g->cmd, title, 200);
}

void fpt_gp_title(FILE *f, const fpt_plot_options *opt, const char *title) {
    if (opt->no_title) return;
    fputs("set title ", f);
    fpt_gp_quote(f, title, 400);
    fputc('\n', f);
}

void fpt_gp_fit_title(FILE *f, const fpt_plot_options *opt, const fpt_fit *fit, const char *what) {
    char buf[512];
    if (isfinite(fit->opt.target))
        snprintf(buf, sizeof buf, "%.120s: %s, target %g%%", fit->experiment, what,
                 fit->opt.target);
    else
        snprintf(buf, sizeof buf, "%.120s: %s", fit->experiment, what);
    fpt_gp_title(f, opt, buf);
}

// The terminal of one format: text and lines scaled with the figure
// (fontscale and linewidth 1 at 800 x 560 pixels).  pdf pages are
// FPT_PLOT_PDF_PX_PER_INCH pixels per inch; cairo sets a 10-point font 10
// pixels high on png (72 per inch) but 10/72 inch high on pdf, so pdf text is
// scaled by 72/100 to take the same share of the figure.
static void terminal(FILE *f, unsigned format, const fpt_plot_options *opt) {
    const int w = opt->width > 0 ? opt->width : FPT_PLOT_WIDTH;
    const int h = opt->height > 0 ? opt->height : FPT_PLOT_HEIGHT;
    const double scale = fmin((double)w / FPT_PLOT_WIDTH, (double)h / FPT_PLOT_HEIGHT);
    const char *common = "noenhanced font 'Sans,10' background rgb 'white'";
    if (format == FPT_PLOT_PNG)
        fprintf(f, "set terminal pngcairo size %d,%d %s fontscale %.3g linewidth %.3g\n", w, h,
                common, scale, scale);
    else if (format == FPT_PLOT_SVG)
        fprintf(f, "set terminal svg size %d,%d %s fontscale %.3g linewidth %.3g\n", w, h, common,
                scale, scale);
    else
        fprintf(f, "set terminal pdfcairo size %.4gin,%.4gin %s fontscale %.3g linewidth %.3g\n",
                w / FPT_PLOT_PDF_PX_PER_INCH, h / FPT_PLOT_PDF_PX_PER_INCH, common,
                scale * 0.72, scale);
}

int fpt_gp_end(fpt_gp_figure *g) {
    if (!g->cmd) return -1;
    const int rc = fclose(g->cmd);
    g->cmd = NULL;
    if (rc != 0 || !g->cmd_buf || (g->n_clauses == 0 && !g->raw)) {
        free(g->cmd_buf);
        g->cmd_buf = NULL;
        return -1;
    }
    const unsigned formats = g->opt->formats ? g->opt->formats : FPT_PLOT_DEFAULT_FORMATS;
    for (unsigned b = 1; b < (1u << FPT_PLOT_N_FORMATS); b <<= 1) {
        if (!(formats & b)) continue;
        terminal(g->f, b, g->opt);
        fprintf(g->f, "set output out_%s\n%s\nunset output\n", fpt_plot_format_ext(b),
                g->cmd_buf);
    }
    free(g->cmd_buf);
    g->cmd_buf = NULL;
    return 0;
}

void fpt_gp_log_axis(FILE *f, const char *axis, double a, double b, double lo_pad, double hi_pad,
                     double *lo, double *hi) {
    static const double MANT[3][8] = {{1, 2, 5}, {1, 2, 3, 5}, {1, 1.5, 2, 3, 4, 5, 6, 8}};
    static const int N_MANT[3] = {3, 4, 8};
    if (!(a <= b) || !fpt_gp_pos(a)) a = b = 1;
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
