// store_campaign.c — an adaptive campaign's rows in the results database
// (campaign_decisions and campaign_summary, schema version 3; the jobs
// counted by condition): reads and writes only (store_campaign.h).  The
// planning step that uses them, and its transaction, is campaign/step.c.
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_campaign.h"
#include "store/store_sql.h"

// The failed step, and st finalized.
static int step_fail(fpt_store *s, sqlite3_stmt *st, fpt_err *err) {
    fpt_sql_step_fail(s, st, err);
    sqlite3_finalize(st);
    return -1;
}

static int count_of(fpt_store *s, const char *sql, int64_t exp_id, fpt_err *err,
                    int64_t *out) {
    sqlite3_stmt *st;
    if (fpt_sql_prep(s, sql, &st, err)) return -1;
    sqlite3_bind_int64(st, 1, exp_id);
    if (sqlite3_step(st) != SQLITE_ROW) return step_fail(s, st, err);
    *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

int fpt_store_campaign_jobs(fpt_store *s, int64_t exp_id, fpt_store_condition_jobs **rows,
                            size_t *n, fpt_err *err) {
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (fpt_sql_prep(s, "SELECT protocol, timing, frequency, count(*) FROM jobs WHERE experiment_id = ?1 "
                "GROUP BY protocol, timing, frequency",
             &st, err))
        return -1;
    sqlite3_bind_int64(st, 1, exp_id);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            fpt_store_condition_jobs *r = realloc(*rows, cap * sizeof *r);
            if (!r) {
                sqlite3_finalize(st);
                fpt_fail(err, "campaign: out of memory (%zu job counts of %zu bytes)", cap,
                         sizeof *r);
                goto fail;
            }
            *rows = r;
        }
        fpt_store_condition_jobs *r = &(*rows)[(*n)++];
        fpt_sql_text_col(st, 0, r->protocol, sizeof r->protocol);
        fpt_sql_text_col(st, 1, r->timing, sizeof r->timing);
        r->frequency = sqlite3_column_double(st, 2);
        r->jobs = sqlite3_column_int64(st, 3);
    }
    if (rc != SQLITE_DONE) {
        step_fail(s, st, err);
        goto fail;
    }
    sqlite3_finalize(st);
    return 0;
fail:
    free(*rows);
    *rows = NULL;
    *n = 0;
    return -1;
}

int fpt_store_campaign_costs(fpt_store *s, int64_t exp_id, int64_t *runs_used,
                             int64_t *epochs_used, fpt_err *err) {
    if (count_of(s, "SELECT count(*) FROM jobs WHERE experiment_id = ?1", exp_id, err,
                 runs_used) ||
        count_of(s, "SELECT count(*) FROM epochs p JOIN jobs j ON j.id = p.job_id "
                    "WHERE j.experiment_id = ?1", exp_id, err, epochs_used))
        return -1;
    return 0;
}

int fpt_store_campaign_decisions(fpt_store *s, int64_t exp_id, fpt_store_decision **rows,
                                 int *n, fpt_err *err) {
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (fpt_sql_prep(s, "SELECT seq, phase, action, protocol, timing, frequency, runs, basis, estimate, "
                "lo, hi, runs_used, epochs_used, reason FROM campaign_decisions "
                "WHERE experiment_id = ?1 ORDER BY seq",
             &st, err))
        return -1;
    sqlite3_bind_int64(st, 1, exp_id);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            fpt_store_decision *d = realloc(*rows, (size_t)cap * sizeof *d);
            if (!d) {
                sqlite3_finalize(st);
                fpt_fail(err, "campaign: out of memory (%d decisions of %zu bytes)", cap,
                         sizeof *d);
                goto fail;
            }
            *rows = d;
        }
        fpt_store_decision *d = &(*rows)[(*n)++];
        memset(d, 0, sizeof *d);
        d->seq = sqlite3_column_int(st, 0);
        fpt_sql_text_col(st, 1, d->phase, sizeof d->phase);
        fpt_sql_text_col(st, 2, d->action, sizeof d->action);
        fpt_sql_text_col(st, 3, d->protocol, sizeof d->protocol);
        fpt_sql_text_col(st, 4, d->timing, sizeof d->timing);
        d->frequency = fpt_sql_col_num(st, 5);
        d->runs = sqlite3_column_int(st, 6);
        fpt_sql_text_col(st, 7, d->basis, sizeof d->basis);
        d->estimate = fpt_sql_col_num(st, 8), d->lo = fpt_sql_col_num(st, 9), d->hi = fpt_sql_col_num(st, 10);
        d->runs_used = sqlite3_column_int64(st, 11);
        d->epochs_used = sqlite3_column_int64(st, 12);
        fpt_sql_text_col(st, 13, d->reason, sizeof d->reason);
    }
    if (rc != SQLITE_DONE) {
        step_fail(s, st, err);
        goto fail;
    }
    sqlite3_finalize(st);
    return 0;
fail:
    free(*rows);
    *rows = NULL;
    *n = 0;
    return -1;
}

int fpt_store_campaign_save_decisions(fpt_store *s, int64_t exp_id,
                                      const fpt_store_decision *rows, int n, fpt_err *err) {
    sqlite3_stmt *st;
    if (fpt_sql_prep(s, "INSERT INTO campaign_decisions (experiment_id, seq, phase, action, protocol, "
                "timing, frequency, runs, basis, estimate, lo, hi, runs_used, epochs_used, "
                "reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
                "?15)",
             &st, err))
        return -1;
    for (int i = 0; i < n; i++) {
        const fpt_store_decision *d = &rows[i];
        sqlite3_bind_int64(st, 1, exp_id);
        sqlite3_bind_int(st, 2, d->seq);
        fpt_sql_bind_text(st, 3, d->phase);
        fpt_sql_bind_text(st, 4, d->action);
        fpt_sql_bind_text(st, 5, d->protocol);
        fpt_sql_bind_text(st, 6, d->timing);
        fpt_sql_bind_num(st, 7, d->frequency);   // NAN: no condition
        sqlite3_bind_int(st, 8, d->runs);
        fpt_sql_bind_text(st, 9, d->basis);
        fpt_sql_bind_num(st, 10, d->estimate);
        fpt_sql_bind_num(st, 11, d->lo);
        fpt_sql_bind_num(st, 12, d->hi);
        sqlite3_bind_int64(st, 13, d->runs_used);
        sqlite3_bind_int64(st, 14, d->epochs_used);
        fpt_sql_bind_text(st, 15, d->reason);
        if (fpt_sql_insert(s, st, err)) {
            sqlite3_finalize(st);
            return -1;
        }
    }
    sqlite3_finalize(st);
    return 0;
}

int fpt_store_campaign_save_summary(fpt_store *s, int64_t exp_id,
                                    const fpt_store_campaign_summary *row, fpt_err *err) {
    sqlite3_stmt *st;
    if (fpt_sql_prep(s, "INSERT OR REPLACE INTO campaign_summary (experiment_id, phase, stopped, "
                "protocol, timing, frequency, estimate, lo, hi, runs_used, epochs_used, "
                "sweep_runs, sweep_epochs, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
                "?10, ?11, ?12, ?13, ?14)",
             &st, err))
        return -1;
    sqlite3_bind_int64(st, 1, exp_id);
    fpt_sql_bind_text(st, 2, row->phase);
    sqlite3_bind_int(st, 3, row->stopped);
    fpt_sql_bind_text(st, 4, row->protocol);
    fpt_sql_bind_text(st, 5, row->timing);
    fpt_sql_bind_num(st, 6, row->frequency);
    fpt_sql_bind_num(st, 7, row->estimate);
    fpt_sql_bind_num(st, 8, row->lo);
    fpt_sql_bind_num(st, 9, row->hi);
    sqlite3_bind_int64(st, 10, row->runs_used);
    sqlite3_bind_int64(st, 11, row->epochs_used);
    sqlite3_bind_int64(st, 12, row->sweep_runs);
    sqlite3_bind_int64(st, 13, row->sweep_epochs);
    fpt_sql_bind_text(st, 14, row->reason);
    if (sqlite3_step(st) != SQLITE_DONE) return step_fail(s, st, err);
    sqlite3_finalize(st);
    return 0;
}
