// plot.h — figures of a fit (fit.h), drawn by gnuplot.
//
// Each figure <name> is written in the formats asked (plot_options.h: png
// by pngcairo and svg by default, pdf by pdfcairo; 800 x 560 pixels unless
// --size, pdf pages at 100 pixels per inch), and beside it <name>.gp, the
// gnuplot script that drew it with its data inline as datablocks
// ("$dN << EOD" ... "EOD"): `gnuplot <name>.gp` in that directory draws the
// figure again (restyle it by editing the script).  The figures:
//
//   survival        Kaplan-Meier S(t) against epoch t on a LOG x axis from
//                   just before the first drop of any curve (that epoch / 1.5,
//                   at least 1) to the horizon (the perturbed curves fall
//                   within tens of epochs, the baseline's tail runs to the
//                   horizon), the key below the plot in three columns,
//                   one step curve per condition: the baseline black and
//                   thick; each protocol a sequential multi-hue colour map by
//                   period (dark = most frequent perturbation, light =
//                   rarest), geometric timing dashed; S = 0.5 dotted (the
//                   median).  Pointwise bands (the fit's level) for the
//                   baseline and each protocol's reference condition only,
//                   each named so in the key (a band per curve hid the
//                   curves).  Linear y, so that curves reaching 0 stay
//                   visible.
//   mfpt            mean FPT against the period tau (log x, log y), one
//                   colour per protocol: the measured KM restricted means with
//                   their intervals (from the predictions with has_measured,
//                   and from the periodic conditions), the QSS prediction
//                   with its band, the renewal and restart predictions
//                   thinner and dashed, the baseline restricted mean as a
//                   dotted horizontal line, tau < t_rel shaded ("QSS not
//                   assumed"), and along the bottom, one row per protocol
//                   the QSS check decided (fit.h, confirmed/contradicted
//                   ranges), a bar in its colour over the periods where the
//                   model is confirmed and a red one to (or from) the
//                   period where it fails, each labelled.  The key is below
//                   the plot, the bottom margin sized for its rows.  The y
//                   range is set by the measurements, their intervals and
//                   the baseline line (from their minimum / 1.15, / 1.35 more
//                   per row of QSS bars, to their maximum * 1.5; by the QSS
//                   prediction and
//                   its band only when nothing is measured): predictions
//                   beyond it are clipped at the edge, their bands clamped to
//                   it, and a triangle (up: above, down: below) marks each
//                   place a prediction curve leaves the range, keyed
//                   "prediction off scale".  The key names each protocol once
//                   (its colour) and each style once (in black, drawn as the
//                   style: line, band, error bar, marker).  Drawn when there
//                   is a periodic prediction or condition with a finite
//                   positive value.
//   mfpt_geometric  the same against p for geometric timing (linear-response
//                   model), drawn only when the fit has such values.
//   predicted_vs_measured
//                   for every prediction with has_measured of the QSS model
//                   (periodic timing; circles) and the linear response
//                   (geometric; squares): x the measured restricted mean with
//                   its interval, y the prediction with its interval, one
//                   colour per protocol, the identity line dashed; the same
//                   range on both axes, log when the largest value is 10 times
//                   the smallest or more, else linear; points with valid = 0
//                   (outside the model: contradicted by the QSS check, or
//                   untested or inconclusive below t_rel) hollow, which the
//                   key says.  Drawn when there is such a prediction.
//   accuracy        test accuracy per epoch over the runs (accuracy_bands.h):
//                   one panel per condition, side by side (two rows from 4
//                   on), for the baseline and each protocol's reference
//                   condition (the runs the model is built from; all periods
//                   would be unreadable): the median, the 25-75% and 10-90%
//                   bands (type-7 quantiles), the target as a dashed red
//                   line.  Drawn when bands are given (fptfarm plot computes
//                   them from the database's runs).
//   ks              the drift D(t, t+W) of the baseline's accuracy that t_rel
//                   is read from (left axis, linear 0..1) and its bound (late
//                   level + tolerance), t_rel marked with its bootstrap
//                   interval shaded; the diagnostic KS p-value of epoch t
//                   against the reference epoch (right axis, log, from 1e-16)
//                   with alpha, thin, and the reference epoch marked.  Drawn
//                   when the fit has KS values.
//
// Infinite and NAN values are left out of the data (a run of them breaks the
// curve), never written to gnuplot; p-values of 0 are drawn at 1e-16, which
// the figure says.
//
// gnuplot is FPTFARM_GNUPLOT when that is set, else the first "gnuplot" on
// PATH.  It is started with posix_spawn (fork/exec without copying the
// caller, safe in a threaded process), without init files (-d), the
// scripts on its stdin from an unlinked temporary file, its stderr captured
// to another.
#ifndef FPT_PLOT_H
#define FPT_PLOT_H

#include <stdio.h>

#include "analysis/accuracy_bands.h"
#include "analysis/fit.h"
#include "analysis/plot_options.h"
#include "base/error.h"

#define FPT_PLOT_MAX_FIGURES 6

// The figures fpt_plot_fit draws for this fit (bands may be NULL: no
// accuracy figure), in order, as base names ("survival", "mfpt",
// "mfpt_geometric", "predicted_vs_measured", "accuracy", "ks"); returns how
// many (0..FPT_PLOT_MAX_FIGURES).
int fpt_plot_figures(const fpt_fit *fit, const fpt_accuracy_bands *bands,
                     const char *names[FPT_PLOT_MAX_FIGURES]);

// Writes into out_dir (created like mkdir -p), for each figure of
// fpt_plot_figures, <name>.<ext> for each format of opt (NULL: the defaults)
// and the script <name>.gp.  gnuplot draws into hidden temporary names in
// out_dir (".<name>.<ext>.<tag>.tmp"), where the scripts are written too;
// all are renamed over the final names only once every figure has been
// drawn: a failure or an interruption never leaves a half-written figure or
// script under a final name, and a failure removes the temporary files.
// Errors: gnuplot missing (the message says to install gnuplot-nox), out_dir
// not creatable or not writable (the message names it), gnuplot failing
// (exit status and its first error line; a terminal it lacks is named, e.g.
// pdfcairo for pdf) or not writing a file.  *written (may be NULL) gets the
// number of files renamed into place (formats + 1 per figure on success).
int fpt_plot_fit(const fpt_fit *fit, const fpt_accuracy_bands *bands,
                 const fpt_plot_options *opt, const char *out_dir, int *written, fpt_err *err);

// The kept script of figure `name` (one of fpt_plot_figures'), written to
// f: it draws <name>.<ext> for each format of opt (NULL: the defaults) into
// the current directory, unless the gnuplot variables out_png, out_svg,
// out_pdf name other files (fpt_plot_fit sets them to its temporary names).
// Errors: a figure this fit does not have, out of memory, or a write error
// on f.
int fpt_plot_write_script(const fpt_fit *fit, const fpt_accuracy_bands *bands,
                          const fpt_plot_options *opt, const char *name, FILE *f, fpt_err *err);

// The gnuplot fpt_plot_fit would run: its path into buf, or an error saying
// how to install it.
int fpt_plot_find_gnuplot(char *buf, size_t n, fpt_err *err);

#endif
