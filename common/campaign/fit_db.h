// fit_db.h — the fit of an experiment in a results database: its runs
// loaded from the store, fitted (analysis/fit.h) at each target, and the
// fits saved back.  `fptfarm fit` calls it, and the farm when a campaign
// ends.
#ifndef FPT_FIT_DB_H
#define FPT_FIT_DB_H

#include <stdio.h>

#include "analysis/fit.h"
#include "base/error.h"
#include "store/store.h"

// Fits the runs of `experiment` (NULL: the database's only one) in s at
// every target of targets[0..n_targets) (n_targets = 0: the experiment's
// own targets), with options opt (its target is replaced by each one), and
// stores each fit.  The runs are read in one snapshot, so a live campaign's
// commits neither tear nor fail the read.  Each fit's report goes to
// `report` (NULL: none) as it is made.  -1 with err set (naming the target)
// at the first that cannot be made or stored; the fits before it stay
// stored.
int fpt_fit_database(fpt_store *s, const char *experiment, const double *targets, int n_targets,
                     const fpt_fit_options *opt, FILE *report, fpt_err *err);

#endif
