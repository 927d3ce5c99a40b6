// accuracy_bands.h — per-epoch test-accuracy quantiles of the runs of one
// condition, for the accuracy figure (plot.h).  The fit keeps no per-epoch
// accuracies, so these are computed from the runs (runs.h; the store loads
// them with fpt_store_load_runs).
//
// Quantiles are of the accuracies recorded at one epoch over the condition's
// runs that recorded it, by linear interpolation between order statistics
// (Hyndman and Fan's type 7, R's default and numpy.quantile's "linear"):
// for n sorted values x[0..n-1] and probability p, h = (n - 1) p and
// Q(p) = x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]).
// Diverged runs are left out (the fit keeps them apart too); a run shorter
// than the longest simply stops contributing after its last epoch.
#ifndef FPT_ACCURACY_BANDS_H
#define FPT_ACCURACY_BANDS_H

#include "analysis/fit.h"
#include "analysis/runs.h"
#include "base/error.h"

// The probabilities of the bands: 10%, 25%, 50% (the median), 75%, 90%.
#define FPT_ACC_NQ 5
extern const double fpt_acc_probs[FPT_ACC_NQ];

// Type-7 quantile of n >= 1 values sorted ascending; NAN when n < 1 or p is
// outside [0, 1].
double fpt_quantile7(const double *sorted, int n, double p);

// One condition's bands.
typedef struct fpt_acc_band {
    char protocol[FPT_RUNS_NAME];
    char timing[FPT_RUNS_NAME];
    double frequency;               // tau (epochs), p, or 0 for the baseline
    int runs;                       // runs used (finished, not diverged)
    int n_epochs;                   // epochs 1..n_epochs (the longest run used)
    int *count;                     // (n_epochs): runs with a value at epoch e, at count[e - 1]
    double *q;                      // (n_epochs x FPT_ACC_NQ): quantile k of the accuracies
                                    // at epoch e at q[(e - 1) * FPT_ACC_NQ + k], percent
} fpt_acc_band;

// The conditions of the accuracy figure: the baseline, then each protocol's
// reference condition of the fit (fit->protocols with a reference > 0).
#define FPT_ACC_MAX_BANDS 8
typedef struct fpt_accuracy_bands {
    double target;                  // percent (the fit's)
    int n;
    fpt_acc_band b[FPT_ACC_MAX_BANDS];
} fpt_accuracy_bands;

// The bands of one condition (matched by fpt_condition_same).  Fails when no
// finished, undiverged run of it has an epoch, or out of memory.
int fpt_acc_band_compute(const fpt_runs *runs, const char *protocol, const char *timing,
                         double frequency, fpt_acc_band *out, fpt_err *err);
void fpt_acc_band_free(fpt_acc_band *b);

// The bands of the figure's conditions for this fit (see above); a
// reference condition without runs is left out.  Fails when the baseline has
// no runs, or out of memory.
int fpt_accuracy_bands_for_fit(const fpt_runs *runs, const fpt_fit *fit, fpt_accuracy_bands *out,
                               fpt_err *err);
void fpt_accuracy_bands_free(fpt_accuracy_bands *b);

#endif
