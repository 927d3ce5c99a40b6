// plot_gp.h — the pieces the figures' gnuplot scripts are assembled from
// (internal to plot*.c): quoting, colours, series written as inline
// datablocks, a figure's plot command repeated once per output format, and
// log axes with readable tics.
#ifndef FPT_PLOT_GP_H
#define FPT_PLOT_GP_H

#include <stdio.h>

#include "analysis/accuracy_bands.h"
#include "analysis/fit.h"
#include "analysis/plot_options.h"

// ---- small helpers ----
int fpt_gp_pos(double v);   // finite and > 0
const fpt_fit_condition *fpt_gp_baseline(const fpt_fit *fit);
int fpt_gp_is_baseline(const fpt_fit_condition *c);
// A single-quoted gnuplot string: '' for ', control characters as spaces,
// at most `max` bytes of s (then "...").  Nothing when f is NULL.
void fpt_gp_quote(FILE *f, const char *s, size_t max);
int fpt_gp_has_control(const char *s);
// The interval level as a percentage for labels ("95%"), or "" when unset.
const char *fpt_gp_level(const fpt_fit *fit, char *buf, size_t n);

// ---- colours ----
// Sequential colour maps, one per protocol (order of first appearance among
// the non-baseline conditions, then the predictions): u = 0 the light end
// (the rarest perturbation), u = 1 the dark end (the most frequent).
unsigned fpt_gp_ramp(int family, double u);
int fpt_gp_family(const fpt_fit *fit, const char *protocol);
// The one colour of a protocol in figures with one colour per protocol.
unsigned fpt_gp_protocol_colour(const fpt_fit *fit, const char *protocol);

// ---- series: rows of up to 4 numbers, NAN x = a break ----
typedef struct fpt_gp_pt {
    double x, y, lo, hi;
} fpt_gp_pt;

typedef struct fpt_gp_series {
    fpt_gp_pt *p;
    int n, cap;
} fpt_gp_series;

void fpt_gp_add(fpt_gp_series *s, double x, double y, double lo, double hi);
void fpt_gp_break(fpt_gp_series *s);
void fpt_gp_sort_x(fpt_gp_series *s);

// ---- a figure ----
typedef struct fpt_gp_figure {
    FILE *f;                        // the script
    FILE *cmd;                      // the body drawn per format (memory stream)
    char *cmd_buf;
    size_t cmd_len;
    int n_clauses;                  // clauses of the plot command so far
    int raw;                        // the body is raw text (a multiplot), not one plot
    int *next_id;                   // datablock counter
    const fpt_plot_options *opt;
} fpt_gp_figure;

// "# ---- comment" and reset; the caller then writes settings to f.
void fpt_gp_begin(fpt_gp_figure *g, FILE *f, int *next_id, const fpt_plot_options *opt,
                  const char *comment);
// One clause of the plot command ("plot " before the first).
void fpt_gp_clause(fpt_gp_figure *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Writes the series as datablock $d<id> (cols 2: x y; 3: x lo hi; 4: x y lo
// hi; rows with a non-finite value left out, a blank line where they were)
// and, if it has rows, a clause "$dN <style> title '...'" (notitle when
// title is NULL).  Returns 1 when the clause was added.
int fpt_gp_plot_block(fpt_gp_figure *g, const fpt_gp_series *s, int cols, const char *style,
                      const char *title);
// A key entry that draws nothing: "keyentry <style> title '...'".
void fpt_gp_keyentry(fpt_gp_figure *g, const char *style, const char *title);
// The title line (nothing with opt->no_title).
void fpt_gp_title(FILE *f, const fpt_plot_options *opt, const char *title);
// The experiment's title "<experiment>: <what>, target T%".
void fpt_gp_fit_title(FILE *f, const fpt_plot_options *opt, const fpt_fit *fit, const char *what);
// For each format of opt: the terminal, "set output out_<ext>", the body,
// "unset output".  -1 when the body could not be assembled (out of memory)
// or is empty.
int fpt_gp_end(fpt_gp_figure *g);

// A log axis from a / lo_pad to b * hi_pad (a == b: a factor 2 each way)
// with tics at 1-2-5 times the powers of ten, denser when that gives fewer
// than 4.  The range set is returned in *lo, *hi.
void fpt_gp_log_axis(FILE *f, const char *axis, double a, double b, double lo_pad, double hi_pad,
                     double *lo, double *hi);

// ---- the figures (plot_fpt.c, plot_accuracy.c): 0 or -1 (out of memory) ----
int fpt_gp_fig_survival(FILE *f, const fpt_fit *fit, const fpt_plot_options *opt,
                        fpt_gp_series *s, int *next_id);
int fpt_gp_fig_mfpt(FILE *f, const fpt_fit *fit, const char *timing, const fpt_plot_options *opt,
                    fpt_gp_series *s, int *next_id);
int fpt_gp_fig_pvm(FILE *f, const fpt_fit *fit, const fpt_plot_options *opt, fpt_gp_series *s,
                   int *next_id);
int fpt_gp_fig_ks(FILE *f, const fpt_fit *fit, const fpt_plot_options *opt, fpt_gp_series *s,
                  int *next_id);
int fpt_gp_fig_accuracy(FILE *f, const fpt_fit *fit, const fpt_accuracy_bands *bands,
                        const fpt_plot_options *opt, int *next_id);

// Whether the fit has data for these figures.
int fpt_gp_survival_has_data(const fpt_fit *fit);
int fpt_gp_mfpt_has_data(const fpt_fit *fit, const char *timing);
int fpt_gp_pvm_has_data(const fpt_fit *fit);
int fpt_gp_ks_has_data(const fpt_fit *fit);

#endif
