// import_csv.h — import published training traces into the results store.
//
// The CSV is the long table of ../shared/data/meir2025/README.md:
//
//     protocol,period,seed,epoch,test_acc
//     none,0,0,1,43.54
//
// The header is required and must be exactly those five columns.  protocol
// is one of fptfarm's, as written (none, reset, partial_reset,
// shrink_perturb, warm_restart: protocol.h; anything else is refused at its
// run's first line, rather than by `fptfarm fit` later).  `none` needs
// period 0 (timing 'none', frequency 0); any other protocol needs
// period >= 1 (timing 'periodic', frequency = period).  The rows of one
// run (protocol, period, seed) are contiguous, with epochs 1..n in order and
// no gaps; test_acc is in percent, in [0, 100].
//
// The import creates experiment `experiment_name` (source 'import'; it must
// not exist yet), one job per run in state 'done', its epochs (test_acc
// only), and for each target its first passage (censored at the run's last
// epoch if never reached).  Everything happens in one transaction: on any
// error the database is left as it was, and err reads "file:LINE: problem".
#ifndef FPT_IMPORT_CSV_H
#define FPT_IMPORT_CSV_H

#include "base/error.h"
#include "store/store.h"

int fpt_import_csv(fpt_store *s, const char *csv_path, const char *experiment_name,
                   const double *targets, int n_targets, fpt_err *err);

#endif
