// store_campaign.c — an adaptive campaign's state in the results database
// (campaign_decisions and campaign_summary, schema version 3; campaign.h).
//
// A planning step reads the finished runs and the decisions so far, plans,
// and writes the new decisions, the jobs they create and the summary in one
// transaction: a kill leaves either the whole step or none of it.
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "campaign/campaign.h"
#include "store/store.h"
#include "store/store_campaign.h"
#include "store/store_sql.h"

// The failed step, and st finalized.
static int step_fail(fpt_store *s, sqlite3_stmt *st, fpt_err *err) {
    fpt_sql_step_fail(s, st, err);
    sqlite3_finalize(st);
    return -1;
}

static int64_t count_of(fpt_store *s, const char *sql, int64_t exp_id, fpt_err *err,
                        int64_t *out) {
    sqlite3_stmt *st;
    if (fpt_sql_prep(s, sql, &st, err)) return -1;
    sqlite3_bind_int64(st, 1, exp_id);
    if (sqlite3_step(st) != SQLITE_ROW) return step_fail(s, st, err);
    *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

// Runs issued per condition of the grid, from the jobs table.
static int load_issued(fpt_store *s, const fpt_job_spec *spec, int64_t exp_id, int *issued,
                       fpt_err *err) {
    sqlite3_stmt *st;
    if (fpt_sql_prep(s, "SELECT protocol, timing, frequency, count(*) FROM jobs WHERE experiment_id = ?1 "
                "GROUP BY protocol, timing, frequency",
             &st, err))
        return -1;
    sqlite3_bind_int64(st, 1, exp_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char proto[64], timing[32];
        fpt_sql_text_col(st, 0, proto, sizeof proto);
        fpt_sql_text_col(st, 1, timing, sizeof timing);
        double f = sqlite3_column_double(st, 2);
        size_t k = 0;
        int found = 0;
        for (int p = 0; p < spec->n_protocols && !found; p++) {
            const fpt_job_protocol *jp = &spec->protocols[p];
            const char *t = jp->protocol.kind == FPT_PROTO_NONE
                                ? "none"
                                : fpt_timing_name(jp->protocol.timing);
            for (int i = 0; i < jp->n_freqs; i++, k++)
                if (!strcmp(proto, fpt_protocol_name(jp->protocol.kind)) && !strcmp(timing, t) &&
                    jp->freqs[i] == f) {
                    issued[k] = (int)sqlite3_column_int64(st, 3);
                    found = 1;
                    break;
                }
        }
        if (!found) {
            sqlite3_finalize(st);
            return fpt_fail(err, "%s: the campaign has jobs at %s %s %g, which the spec does not "
                                 "list", fpt_store_path(s), proto, timing, f);
        }
    }
    if (rc != SQLITE_DONE) return step_fail(s, st, err);
    sqlite3_finalize(st);
    return 0;
}

int fpt_store_campaign_load(fpt_store *s, const fpt_job_spec *spec, int64_t exp_id,
                            fpt_campaign_state *out, fpt_err *err) {
    memset(out, 0, sizeof *out);
    out->issued = calloc(fpt_campaign_conditions(spec) + 1, sizeof *out->issued);
    if (!out->issued) return fpt_fail(err, "campaign: out of memory");
    if (load_issued(s, spec, exp_id, out->issued, err) ||
        count_of(s, "SELECT count(*) FROM jobs WHERE experiment_id = ?1", exp_id, err,
                 &out->runs_used) ||
        count_of(s, "SELECT count(*) FROM epochs p JOIN jobs j ON j.id = p.job_id "
                    "WHERE j.experiment_id = ?1", exp_id, err, &out->epochs_used))
        goto fail;
    sqlite3_stmt *st;
    if (fpt_sql_prep(s, "SELECT seq, phase, action, protocol, timing, frequency, runs, basis, estimate, "
                "lo, hi, runs_used, epochs_used, reason FROM campaign_decisions "
                "WHERE experiment_id = ?1 ORDER BY seq",
             &st, err))
        goto fail;
    sqlite3_bind_int64(st, 1, exp_id);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n == cap) {
            cap = cap ? 2 * cap : 64;
            fpt_decision *d = realloc(out->d, (size_t)cap * sizeof *d);
            if (!d) {
                sqlite3_finalize(st);
                fpt_fail(err, "campaign: out of memory");
                goto fail;
            }
            out->d = d;
        }
        fpt_decision *d = &out->d[out->n++];
        memset(d, 0, sizeof *d);
        char phase[32], action[32], basis[32];
        d->seq = sqlite3_column_int(st, 0);
        fpt_sql_text_col(st, 1, phase, sizeof phase);
        fpt_sql_text_col(st, 2, action, sizeof action);
        fpt_sql_text_col(st, 3, d->protocol, sizeof d->protocol);
        fpt_sql_text_col(st, 4, d->timing, sizeof d->timing);
        d->frequency = fpt_sql_col_num(st, 5);
        d->runs = sqlite3_column_int(st, 6);
        fpt_sql_text_col(st, 7, basis, sizeof basis);
        d->basis = !strcmp(basis, "measured")    ? FPT_BASIS_MEASURED
                   : !strcmp(basis, "predicted") ? FPT_BASIS_PREDICTED
                                                 : FPT_BASIS_NONE;
        d->estimate = fpt_sql_col_num(st, 8), d->lo = fpt_sql_col_num(st, 9), d->hi = fpt_sql_col_num(st, 10);
        d->runs_used = sqlite3_column_int64(st, 11);
        d->epochs_used = sqlite3_column_int64(st, 12);
        fpt_sql_text_col(st, 13, d->reason, sizeof d->reason);
        if (fpt_campaign_phase_parse(phase, &d->phase) ||
            fpt_campaign_action_parse(action, &d->action) || d->seq != out->n) {
            sqlite3_finalize(st);
            fpt_fail(err, "%s: campaign decision %d is not one this fptfarm wrote",
                     fpt_store_path(s), d->seq);
            goto fail;
        }
    }
    if (rc != SQLITE_DONE) {
        step_fail(s, st, err);
        goto fail;
    }
    sqlite3_finalize(st);
    return 0;
fail:
    fpt_campaign_state_free(out);
    return -1;
}

static int save_decisions(fpt_store *s, int64_t exp_id, const fpt_campaign_plan *p,
                          fpt_err *err) {
    sqlite3_stmt *st;
    if (fpt_sql_prep(s, "INSERT INTO campaign_decisions (experiment_id, seq, phase, action, protocol, "
                "timing, frequency, runs, basis, estimate, lo, hi, runs_used, epochs_used, "
                "reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
                "?15)",
             &st, err))
        return -1;
    for (int i = 0; i < p->n; i++) {
        const fpt_decision *d = &p->d[i];
        sqlite3_bind_int64(st, 1, exp_id);
        sqlite3_bind_int(st, 2, d->seq);
        fpt_sql_bind_text(st, 3, fpt_campaign_phase_name(d->phase));
        fpt_sql_bind_text(st, 4, fpt_campaign_action_name(d->action));
        fpt_sql_bind_text(st, 5, d->protocol);
        fpt_sql_bind_text(st, 6, d->timing);
        fpt_sql_bind_num(st, 7, d->frequency);   // NAN: no condition
        sqlite3_bind_int(st, 8, d->runs);
        fpt_sql_bind_text(st, 9, fpt_basis_name(d->basis));
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

// The summary row after the step: the last decision's phase; once stopped,
// the recommendation.
static int save_summary(fpt_store *s, int64_t exp_id, const fpt_job_spec *spec,
                        const fpt_campaign_plan *p, int64_t runs_used, int64_t epochs_used,
                        fpt_err *err) {
    if (p->n == 0) return 0;
    const fpt_decision *last = &p->d[p->n - 1];
    int stopped = last->action == FPT_ACT_STOP;
    sqlite3_stmt *st;
    if (fpt_sql_prep(s, "INSERT OR REPLACE INTO campaign_summary (experiment_id, phase, stopped, "
                "protocol, timing, frequency, estimate, lo, hi, runs_used, epochs_used, "
                "sweep_runs, sweep_epochs, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
                "?10, ?11, ?12, ?13, ?14)",
             &st, err))
        return -1;
    sqlite3_bind_int64(st, 1, exp_id);
    fpt_sql_bind_text(st, 2, fpt_campaign_phase_name(last->phase));
    sqlite3_bind_int(st, 3, stopped);
    fpt_sql_bind_text(st, 4, stopped ? last->protocol : NULL);
    fpt_sql_bind_text(st, 5, stopped ? last->timing : NULL);
    fpt_sql_bind_num(st, 6, stopped ? last->frequency : NAN);
    fpt_sql_bind_num(st, 7, stopped ? last->estimate : NAN);
    fpt_sql_bind_num(st, 8, stopped ? last->lo : NAN);
    fpt_sql_bind_num(st, 9, stopped ? last->hi : NAN);
    sqlite3_bind_int64(st, 10, runs_used);
    sqlite3_bind_int64(st, 11, epochs_used);
    sqlite3_bind_int64(st, 12, (int64_t)spec->n_jobs);
    sqlite3_bind_int64(st, 13, (int64_t)spec->n_jobs * spec->base.run.epochs);
    fpt_sql_bind_text(st, 14, last->reason);
    if (sqlite3_step(st) != SQLITE_DONE) return step_fail(s, st, err);
    sqlite3_finalize(st);
    return 0;
}

int fpt_store_campaign_step(fpt_store *s, const fpt_job_spec *spec, int64_t exp_id,
                            fpt_campaign_plan *plan, int64_t **job_ids, fpt_err *err) {
    *job_ids = NULL;
    memset(plan, 0, sizeof *plan);
    fpt_runs runs = {0};
    fpt_campaign_state st = {0};
    if (fpt_store_load_runs(s, spec->name, &runs, err)) return -1;
    if (fpt_store_campaign_load(s, spec, exp_id, &st, err) ||
        fpt_campaign_next(spec, &runs, &st, plan, err)) {
        fpt_runs_free(&runs);
        fpt_campaign_state_free(&st);
        return -1;
    }
    fpt_runs_free(&runs);
    int64_t runs_used = st.runs_used + (int64_t)plan->n_jobs, epochs_used = st.epochs_used;
    fpt_campaign_state_free(&st);
    if (plan->n == 0) return 0;   // stopped earlier
    *job_ids = calloc(plan->n_jobs + 1, sizeof **job_ids);
    if (!*job_ids) return fpt_fail(err, "campaign: out of memory");
    if (fpt_store_begin(s, err)) goto fail;
    if (save_decisions(s, exp_id, plan, err)) goto rollback;
    for (size_t i = 0; i < plan->n_jobs; i++) {
        const fpt_job *j = &spec->jobs[plan->jobs[i]];
        const char *timing = j->protocol == FPT_PROTO_NONE ? "none" : fpt_timing_name(j->timing);
        if (fpt_store_job(s, exp_id, fpt_protocol_name(j->protocol), timing, j->frequency,
                          (int64_t)j->seed, &(*job_ids)[i], NULL, err))
            goto rollback;
    }
    if (save_summary(s, exp_id, spec, plan, runs_used, epochs_used, err)) goto rollback;
    if (fpt_store_commit(s, err)) goto fail;
    return 0;
rollback:
    fpt_store_rollback(s);
fail:
    free(*job_ids);
    *job_ids = NULL;
    fpt_campaign_plan_free(plan);
    return -1;
}
