// runs.h — the recorded runs of one experiment, as the analysis reads them
// from the results database (fpt_store_load_runs in store_fit.c).
//
// Traces are the per-epoch test accuracies, epochs 1..n_epochs without gaps.
// Only finished runs are loaded: state 'done' or 'diverged'; the others
// (pending, running, failed) are counted in `unfinished` and left out.
#ifndef FPT_RUNS_H
#define FPT_RUNS_H

#include <stdint.h>

#define FPT_RUNS_NAME 32
#define FPT_RUNS_MAX_TARGETS 16

typedef struct fpt_run_trace {
    char protocol[FPT_RUNS_NAME];   // "none", "reset", "shrink_perturb", ...
    char timing[FPT_RUNS_NAME];     // "none", "periodic", "geometric"
    double frequency;               // period tau (epochs), probability p, or 0
    int64_t seed;
    int diverged;                   // 1: the run ended because its loss became NaN/Inf
    int n_epochs;                   // epochs recorded
    const double *acc;              // (n_epochs): test accuracy after epoch e at acc[e - 1], percent
    int first_perturbed;            // first epoch after which a perturbation fired; 0: none recorded
} fpt_run_trace;

typedef struct fpt_runs {
    int64_t experiment_id;
    char experiment[256];
    int n_runs;
    fpt_run_trace *runs;            // ordered by job id
    double *acc_pool;               // storage behind every runs[i].acc
    int unfinished;                 // runs not loaded: pending, running or failed
    int n_targets;                  // the experiment's targets (distinct first_passages.target)
    double targets[FPT_RUNS_MAX_TARGETS];
} fpt_runs;

void fpt_runs_free(fpt_runs *r);

#endif
