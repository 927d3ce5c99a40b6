// store_campaign.h — an adaptive campaign's rows in the results database:
// tables campaign_decisions and campaign_summary (schema version 3) and the
// campaign's jobs counted by condition.
//
// The store only reads and writes these rows, in the store's own types
// (text where the table holds text): what they mean, and the planning step
// that reads them, plans and writes the result, is the campaign's
// (campaign/step.h), so the store depends on nothing above it.
//
// Text columns: "" stands for SQL NULL both ways (a NULL is read as "", and
// "" is written as NULL, as every text the store writes); real columns:
// NAN stands for NULL the same way (fpt_sql_bind_num, fpt_sql_col_num).
#ifndef FPT_STORE_CAMPAIGN_H
#define FPT_STORE_CAMPAIGN_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

// How many jobs experiment exp_id has at one condition (protocol, timing,
// frequency), in any state.
typedef struct fpt_store_condition_jobs {
    char protocol[64], timing[32];
    double frequency;
    int64_t jobs;
} fpt_store_condition_jobs;

// One row of campaign_decisions.
typedef struct fpt_store_decision {
    int seq;
    char phase[32], action[32];      // names as stored ("baseline", "run", ...)
    char protocol[32], timing[32];   // "": no condition
    double frequency;
    int runs;
    char basis[32];                  // "measured", "predicted", or ""
    double estimate, lo, hi;
    int64_t runs_used, epochs_used;
    char reason[300];
} fpt_store_decision;

// The row of campaign_summary.
typedef struct fpt_store_campaign_summary {
    char phase[32];
    int stopped;
    char protocol[32], timing[32];   // "": none (not stopped)
    double frequency, estimate, lo, hi;   // NAN: none
    int64_t runs_used, epochs_used, sweep_runs, sweep_epochs;
    char reason[300];
} fpt_store_campaign_summary;

// The jobs of experiment exp_id counted per condition, into a new array
// *rows of *n (free() it; NULL when *n is 0), in no particular order.  On
// failure *rows is NULL and *n 0.
int fpt_store_campaign_jobs(fpt_store *s, int64_t exp_id, fpt_store_condition_jobs **rows,
                            size_t *n, fpt_err *err);

// The cost of experiment exp_id so far: *runs_used its jobs, in any state;
// *epochs_used the epochs stored for them.
int fpt_store_campaign_costs(fpt_store *s, int64_t exp_id, int64_t *runs_used,
                             int64_t *epochs_used, fpt_err *err);

// The decisions of experiment exp_id, ordered by seq, into a new array
// *rows of *n (free() it; NULL when *n is 0).  On failure *rows is NULL and
// *n 0.  The rows are as stored: checking them is the reader's business.
int fpt_store_campaign_decisions(fpt_store *s, int64_t exp_id, fpt_store_decision **rows,
                                 int *n, fpt_err *err);

// Inserts rows[0..n) into campaign_decisions for experiment exp_id.  It
// opens no transaction: the caller's holds these rows together with the
// jobs they create (campaign/step.c).
int fpt_store_campaign_save_decisions(fpt_store *s, int64_t exp_id,
                                      const fpt_store_decision *rows, int n, fpt_err *err);

// Writes (inserts or replaces) experiment exp_id's campaign_summary row.
// No transaction of its own, as above.
int fpt_store_campaign_save_summary(fpt_store *s, int64_t exp_id,
                                    const fpt_store_campaign_summary *row, fpt_err *err);

#endif
