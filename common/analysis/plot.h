// plot.h — figures of a fit (fit.h), drawn by gnuplot.
//
// Each figure is written as <name>.png (pngcairo, FPT_PLOT_WIDTH x
// FPT_PLOT_HEIGHT pixels) and <name>.svg (same size):
//
//   survival        Kaplan-Meier S(t) against epoch, one step curve per
//                   condition: the baseline black and thick with its
//                   pointwise band shaded; each protocol a colour ramp (dark =
//                   most frequent perturbation, light = rarest), geometric
//                   timing dashed; S = 0.5 dotted (the median).  Linear y, so
//                   that curves reaching 0 stay visible.
//   mfpt            mean FPT against the period tau (log x, log y), one
//                   colour per protocol: the measured KM restricted means with
//                   their intervals (from the predictions with has_measured,
//                   and from the periodic conditions), the QSS prediction with
//                   its band, the renewal and restart predictions thinner and
//                   dashed, the baseline restricted mean as a horizontal line,
//                   and tau < t_rel shaded ("outside QSS").  The legend names
//                   each protocol once and each line style once.  Drawn when
//                   there is a periodic prediction or condition with a finite
//                   positive value.
//   mfpt_geometric  the same against p for geometric timing (linear-response
//                   model), drawn only when the fit has such values.
//   ks              KS p-value of epoch t against the reference epoch (log y),
//                   alpha as a horizontal line, t_rel and the reference epoch
//                   marked, the KS statistic D on the right axis.  Drawn when
//                   the fit has KS values.
//
// Infinite and NAN values are left out of the data (a run of them breaks the
// curve), never written to gnuplot; p-values of 0 are drawn at 1e-16, which
// the figure says.
//
// gnuplot is FPTFARM_GNUPLOT when that is set, else the first "gnuplot" on
// PATH.  It is started with posix_spawn (fork/exec without copying the
// caller, safe in a threaded process), without init files (-d), the script
// on its stdin from an unlinked temporary file with the data inline
// (datablocks "$dN << EOD"), its stderr captured to another.
#ifndef FPT_PLOT_H
#define FPT_PLOT_H

#include <stdio.h>

#include "base/error.h"
#include "analysis/fit.h"

#define FPT_PLOT_WIDTH 800
#define FPT_PLOT_HEIGHT 560
#define FPT_PLOT_MAX_FIGURES 4

// The figures fpt_plot_fit draws for this fit, in order, as base names
// ("survival", "mfpt", "mfpt_geometric", "ks"); returns how many (0..4).
int fpt_plot_figures(const fpt_fit *fit, const char *names[FPT_PLOT_MAX_FIGURES]);

// Writes into out_dir (created like mkdir -p) <name>.png and <name>.svg for
// each figure of fpt_plot_figures.  gnuplot draws into hidden temporary
// names in out_dir (".<name>.<ext>.<tag>.tmp"), which are renamed over the
// final names only once every figure has been drawn: a failure or an
// interruption never leaves a half-written figure under a final name, and a
// failure removes the temporary files.  Errors: gnuplot missing (the message
// says to install gnuplot-nox), out_dir not creatable or not writable (the
// message names it), gnuplot failing (exit status and its first error line)
// or not writing a file.  *written (may be NULL) gets the number of files
// renamed into place (2 per figure on success).
int fpt_plot_fit(const fpt_fit *fit, const char *out_dir, int *written, fpt_err *err);

// The gnuplot script fpt_plot_fit runs, written to f: it draws every figure
// into out_dir/<name>.<ext> when tag is NULL (a script to keep and edit), or
// into the temporary names above when tag is given.  out_dir must exist when
// the script runs.  Errors: no figure to draw, a path with a control
// character, out of memory, or a write error on f.
int fpt_plot_write_script(const fpt_fit *fit, const char *out_dir, const char *tag, FILE *f,
                          fpt_err *err);

// The gnuplot fpt_plot_fit would run: its path into buf, or an error saying
// how to install it.
int fpt_plot_find_gnuplot(char *buf, size_t n, fpt_err *err);

#endif
