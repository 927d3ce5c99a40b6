// store_fit.c — what the analysis reads from and writes to the results
// database (see store.h): the finished runs of an experiment, and the fit
// tables of schema version 2 (results/schema.sql).
//
// Every statement is prepared with its parameters bound; a fit is written in
// one transaction that first removes the earlier fit of the same experiment
// and target (ON DELETE CASCADE takes its rows with it).
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/fit.h"
#include "analysis/runs.h"
#include "store/store.h"
#include "store/store_sql.h"

void fpt_runs_free(fpt_runs *r) {
    if (!r) return;
    free(r->runs);
    free(r->acc_pool);
    memset(r, 0, sizeof *r);
}

// The experiment's id and name: by name, or the only one when name is NULL.
static int find_experiment(fpt_store *s, const char *name, int64_t *id, char *out, size_t cap,
                           fpt_err *err) {
    sqlite3_stmt *st;
    if (fpt_sql_prep(s, "SELECT id, name FROM experiments WHERE ?1 IS NULL OR name = ?1 ORDER BY id", &st,
             err))
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int n = 0, rc;
    char names[512] = "";
    size_t len = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n++ == 0) {
            *id = sqlite3_column_int64(st, 0);
            fpt_sql_text_col(st, 1, out, cap);
        }
        if (len < sizeof names - 64)
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "",
                                    (const char *)sqlite3_column_text(st, 1));
    }
    if (rc != SQLITE_DONE) {
        fpt_sql_step_fail(s, st, err);
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    if (n == 0)
        return name ? fpt_fail(err, "%s: no experiment named '%s'", fpt_store_path(s), name)
                    : fpt_fail(err, "%s: no experiments yet (run a campaign or import traces)",
                               fpt_store_path(s));
    if (n > 1)
        return fpt_fail(err, "%s: %d experiments (%s); choose one with --experiment NAME",
                        fpt_store_path(s), n, names);
    return 0;
}

// ---- runs --------------------------------------------------------------------

int fpt_store_load_runs(fpt_store *s, const char *name, fpt_runs *out, fpt_err *err) {
    memset(out, 0, sizeof *out);
    if (find_experiment(s, name, &out->experiment_id, out->experiment, sizeof out->experiment,
                        err))
        return -1;
    sqlite3_stmt *st = NULL;
    int rc;
    // Sizes first: runs and epochs of finished jobs, and the unfinished.
    if (fpt_sql_prep(s,
             "SELECT sum(state IN ('done', 'diverged')), sum(state NOT IN ('done', 'diverged')), "
             "(SELECT count(*) FROM epochs p JOIN jobs k ON k.id = p.job_id "
             " WHERE k.experiment_id = ?1 AND k.state IN ('done', 'diverged')) "
             "FROM jobs WHERE experiment_id = ?1",
             &st, err))
        goto fail;
    sqlite3_bind_int64(st, 1, out->experiment_id);
    if (sqlite3_step(st) != SQLITE_ROW) goto sql_fail;
    int n_runs = sqlite3_column_int(st, 0);
    out->unfinished = sqlite3_column_int(st, 1);
    int64_t n_epochs = sqlite3_column_int64(st, 2);
    sqlite3_finalize(st);
    st = NULL;
    out->runs = calloc((size_t)n_runs + 1, sizeof *out->runs);
    out->acc_pool = malloc(((size_t)n_epochs + 1) * sizeof *out->acc_pool);
    if (!out->runs || !out->acc_pool) {
        fpt_fail(err, "%s: out of memory for %d runs, %lld epochs", fpt_store_path(s), n_runs,
                 (long long)n_epochs);
        goto fail;
    }
    if (fpt_sql_prep(s,
             "SELECT j.id, j.protocol, j.timing, j.frequency, j.seed, j.state, p.epoch, "
             "p.test_acc, p.perturbed "
             "FROM jobs j LEFT JOIN epochs p ON p.job_id = j.id "
             "WHERE j.experiment_id = ?1 AND j.state IN ('done', 'diverged') "
             "ORDER BY j.id, p.epoch",
             &st, err))
        goto fail;
    sqlite3_bind_int64(st, 1, out->experiment_id);
    int64_t last_job = -1, used = 0;
    fpt_run_trace *r = NULL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t job = sqlite3_column_int64(st, 0);
        if (job != last_job) {
            if (out->n_runs == n_runs) {
                fpt_fail(err, "%s: the jobs changed while being read", fpt_store_path(s));
                goto fail;
            }
            r = &out->runs[out->n_runs++];
            last_job = job;
            // A longer name would be cut, and two protocols that differ only
            // after the cut merged into one condition without a word.
            if ((size_t)sqlite3_column_bytes(st, 1) >= sizeof r->protocol) {
                const int n = sqlite3_column_bytes(st, 1);
                fpt_fail(err, "%s: job %lld: protocol name '%.40s%s' has %d bytes; the analysis "
                              "takes names of at most %zu bytes (rename it in the jobs table)",
                         fpt_store_path(s), (long long)job, sqlite3_column_text(st, 1),
                         n > 40 ? "..." : "", n, sizeof r->protocol - 1);
                goto fail;
            }
            fpt_sql_text_col(st, 1, r->protocol, sizeof r->protocol);
            fpt_sql_text_col(st, 2, r->timing, sizeof r->timing);
            r->frequency = sqlite3_column_double(st, 3);
            r->seed = sqlite3_column_int64(st, 4);
            r->diverged = !strcmp((const char *)sqlite3_column_text(st, 5), "diverged");
            r->acc = out->acc_pool + used;
        }
        if (sqlite3_column_type(st, 6) == SQLITE_NULL) continue;   // a job without epochs
        int epoch = sqlite3_column_int(st, 6);
        if (epoch != r->n_epochs + 1) {
            fpt_fail(err,
                     "%s: job %lld (%s, %g, seed %lld) has no epoch %d but has epoch %d: its trace "
                     "has a gap",
                     fpt_store_path(s), (long long)job, r->protocol, r->frequency,
                     (long long)r->seed, r->n_epochs + 1, epoch);
            goto fail;
        }
        if (used == n_epochs) {
            fpt_fail(err, "%s: the epochs changed while being read", fpt_store_path(s));
            goto fail;
        }
        out->acc_pool[used++] = sqlite3_column_double(st, 7);
        r->n_epochs++;
        if (sqlite3_column_int(st, 8) && r->first_perturbed == 0) r->first_perturbed = epoch;
    }
    if (rc != SQLITE_DONE) goto sql_fail;
    sqlite3_finalize(st);
    // The experiment's targets.
    if (fpt_sql_prep(s,
             "SELECT DISTINCT fp.target FROM first_passages fp JOIN jobs j ON j.id = fp.job_id "
             "WHERE j.experiment_id = ?1 ORDER BY fp.target",
             &st, err))
        goto fail;
    sqlite3_bind_int64(st, 1, out->experiment_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && out->n_targets < FPT_RUNS_MAX_TARGETS)
        out->targets[out->n_targets++] = sqlite3_column_double(st, 0);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) goto sql_fail;
    sqlite3_finalize(st);
    return 0;
sql_fail:
    fpt_sql_step_fail(s, st, err);
fail:
    sqlite3_finalize(st);
    fpt_runs_free(out);
    return -1;
}

// ---- saving a fit ------------------------------------------------------------

static void bind_pos_int(sqlite3_stmt *st, int i, int v) {   // 0 = not reached -> NULL
    if (v > 0) sqlite3_bind_int(st, i, v);
    else sqlite3_bind_null(st, i);
}

static void bind_condition_key(sqlite3_stmt *st, int64_t fit_id, const char *protocol,
                               const char *timing, double frequency) {
    sqlite3_bind_int64(st, 1, fit_id);
    sqlite3_bind_text(st, 2, protocol, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, timing, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 4, frequency);
}

// Replacing a fit deletes its rows by key, children first, and with them
// any orphans: rows whose fit is gone (a fit deleted in a connection with
// foreign keys off, as the stock sqlite3 shell has them, leaves its rows
// behind, and a new fit reusing the id would collide with them).
#define DELETE_CHILDREN(table)                                                                   \
    "DELETE FROM " table " WHERE fit_id NOT IN (SELECT id FROM fits) OR fit_id IN "             \
    "(SELECT id FROM fits WHERE experiment_id = ?1 AND target = ?2)"
enum { S_DEL_COND, S_DEL_SURV, S_DEL_KS, S_DEL_DRIFT, S_DEL_REF, S_DEL_PRED, S_DEL_QSS, S_DEL,
       S_FIT, S_COND, S_SURV, S_KS, S_DRIFT, S_REF, S_PRED, S_QSS, S_N };
static const char *const save_sql[S_N] = {
    [S_DEL_COND] = DELETE_CHILDREN("fit_conditions"),
    [S_DEL_SURV] = DELETE_CHILDREN("fit_survival"),
    [S_DEL_KS] = DELETE_CHILDREN("fit_ks"),
    [S_DEL_DRIFT] = DELETE_CHILDREN("fit_drift"),
    [S_DEL_REF] = DELETE_CHILDREN("fit_references"),
    [S_DEL_PRED] = DELETE_CHILDREN("fit_predictions"),
    [S_DEL_QSS] = DELETE_CHILDREN("fit_qss"),
    [S_DEL] = "DELETE FROM fits WHERE experiment_id = ?1 AND target = ?2",
    [S_FIT] = "INSERT INTO fits (experiment_id, target, horizon, level, survival_ci, bootstrap, "
              "seed, ks_reference, alpha, t_rel, unfinished_runs, t_rel_lo, t_rel_hi, "
              "relax_window, relax_tolerance, relax_floor, qss_tolerance) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    [S_COND] = "INSERT INTO fit_conditions (fit_id, protocol, timing, frequency, runs, reached, "
               "censored, diverged, restricted_mean, restricted_mean_lo, restricted_mean_hi, "
               "median, median_lo, median_hi, tail_t0, tail_rate, tail_rate_se, "
               "extrapolated_mean, final_acc) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
               "?17, ?18, ?19)",
    [S_SURV] = "INSERT INTO fit_survival (fit_id, protocol, timing, frequency, epoch, at_risk, "
               "events, censored, survival, lo, hi) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [S_KS] = "INSERT INTO fit_ks (fit_id, epoch, statistic, p_value) VALUES (?1, ?2, ?3, ?4)",
    [S_DRIFT] = "INSERT INTO fit_drift (fit_id, epoch, distance) VALUES (?1, ?2, ?3)",
    [S_REF] = "INSERT INTO fit_references (fit_id, protocol, timing, reference, tp_runs, tp_mean, "
              "tp_lo, tp_hi, confirmed_lo, confirmed_hi, contradicted_below, contradicted_above) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [S_PRED] = "INSERT INTO fit_predictions (fit_id, protocol, timing, frequency, model, "
               "predicted, lo, hi, measured, measured_lo, measured_hi, rel_error, valid, support) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    [S_QSS] = "INSERT INTO fit_qss (fit_id, protocol, kind, tau, from_tau, horizon, predicted, "
              "measured, distance, rel, rel_lo, rel_hi, verdict, decisive) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
};

// A period bound: NULL for 0 (none).
static void bind_period(sqlite3_stmt *q, int i, double v) {
    if (v > 0) sqlite3_bind_double(q, i, v);
    else sqlite3_bind_null(q, i);
}

static int save_rows(fpt_store *s, sqlite3_stmt **st, const fpt_fit *f, fpt_err *err) {
    for (int k = S_DEL_COND; k <= S_DEL; k++) {
        sqlite3_bind_int64(st[k], 1, f->experiment_id);
        sqlite3_bind_double(st[k], 2, f->opt.target);
        if (fpt_sql_insert(s, st[k], err)) return -1;
    }
    sqlite3_stmt *q = st[S_FIT];
    sqlite3_bind_int64(q, 1, f->experiment_id);
    sqlite3_bind_double(q, 2, f->opt.target);
    sqlite3_bind_int(q, 3, f->horizon);
    sqlite3_bind_double(q, 4, f->opt.level);
    sqlite3_bind_text(q, 5, f->opt.ci == FPT_CI_LOG ? "log" : "log-log", -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 6, f->opt.bootstrap);
    sqlite3_bind_int64(q, 7, (sqlite3_int64)f->opt.seed);
    bind_pos_int(q, 8, f->n_ks > 0 ? f->ks_reference : 0);
    sqlite3_bind_double(q, 9, f->opt.alpha);
    bind_pos_int(q, 10, f->t_rel);
    sqlite3_bind_int(q, 11, f->excluded_unfinished);
    bind_pos_int(q, 12, f->t_rel_hi > 0 ? f->t_rel_lo : 0);
    bind_pos_int(q, 13, f->t_rel_hi);
    if (f->n_drift > 0) {
        sqlite3_bind_int(q, 14, f->opt.ks_window);
        sqlite3_bind_double(q, 15, f->opt.relax_tolerance);
        sqlite3_bind_double(q, 16, f->relax_floor);
    } else {
        for (int k = 14; k <= 16; k++) sqlite3_bind_null(q, k);
    }
    sqlite3_bind_double(q, 17, f->opt.qss_tolerance);
    if (fpt_sql_insert(s, q, err)) return -1;
    const int64_t id = sqlite3_last_insert_rowid(fpt_store_sqlite(s));
    for (int k = 0; k < f->n_conditions; k++) {
        const fpt_fit_condition *c = &f->conditions[k];
        if (c->runs == 0) continue;
        q = st[S_COND];
        bind_condition_key(q, id, c->protocol, c->timing, c->frequency);
        sqlite3_bind_int(q, 5, c->runs);
        sqlite3_bind_int(q, 6, c->reached);
        sqlite3_bind_int(q, 7, c->censored);
        sqlite3_bind_int(q, 8, c->diverged);
        sqlite3_bind_double(q, 9, c->rm);
        fpt_sql_bind_num(q, 10, c->rm_lo);
        fpt_sql_bind_num(q, 11, c->rm_hi);
        bind_pos_int(q, 12, c->median);
        bind_pos_int(q, 13, c->median_lo);
        bind_pos_int(q, 14, c->median_hi);
        if (isfinite(c->tail_rate)) sqlite3_bind_int(q, 15, c->tail_t0);
        fpt_sql_bind_num(q, 16, c->tail_rate);
        fpt_sql_bind_num(q, 17, c->tail_rate_se);
        fpt_sql_bind_num(q, 18, c->extrap_mean);
        fpt_sql_bind_num(q, 19, c->final_acc);
        if (fpt_sql_insert(s, q, err)) return -1;
        for (int e = 0; e < c->n_curve; e++) {
            const fpt_curve_point *p = &c->curve[e];
            q = st[S_SURV];
            bind_condition_key(q, id, c->protocol, c->timing, c->frequency);
            sqlite3_bind_int(q, 5, p->epoch);
            sqlite3_bind_int(q, 6, p->at_risk);
            sqlite3_bind_int(q, 7, p->events);
            sqlite3_bind_int(q, 8, p->censored);
            sqlite3_bind_double(q, 9, p->s);
            sqlite3_bind_double(q, 10, p->lo);
            sqlite3_bind_double(q, 11, p->hi);
            if (fpt_sql_insert(s, q, err)) return -1;
        }
    }
    for (int i = 0; i < f->n_drift; i++) {
        q = st[S_DRIFT];
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_int(q, 2, i + 1);
        sqlite3_bind_double(q, 3, f->drift[i]);
        if (fpt_sql_insert(s, q, err)) return -1;
    }
    for (int i = 0; i < f->n_ks; i++) {
        q = st[S_KS];
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_int(q, 2, i + 1);
        sqlite3_bind_double(q, 3, f->ks_d[i]);
        sqlite3_bind_double(q, 4, f->ks_p[i]);
        if (fpt_sql_insert(s, q, err)) return -1;
    }
    for (int p = 0; p < f->n_protocols; p++) {
        const fpt_fit_protocol *P = &f->protocols[p];
        if (!(P->reference > 0)) continue;
        q = st[S_REF];
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_text(q, 2, P->protocol, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, P->timing, -1, SQLITE_STATIC);
        sqlite3_bind_double(q, 4, P->reference);
        sqlite3_bind_int(q, 5, P->tp_runs);
        sqlite3_bind_double(q, 6, P->tp_mean);
        fpt_sql_bind_num(q, 7, P->tp_lo);
        fpt_sql_bind_num(q, 8, P->tp_hi);
        bind_period(q, 9, P->confirmed_lo);
        bind_period(q, 10, P->confirmed_hi);
        bind_period(q, 11, P->contradicted_below);
        bind_period(q, 12, P->contradicted_above);
        if (fpt_sql_insert(s, q, err)) return -1;
    }
    for (int i = 0; i < f->n_predictions; i++) {
        const fpt_fit_prediction *x = &f->predictions[i];
        q = st[S_PRED];
        bind_condition_key(q, id, x->protocol, x->timing, x->frequency);
        sqlite3_bind_text(q, 5, fpt_model_name(x->model), -1, SQLITE_STATIC);
        fpt_sql_bind_num(q, 6, x->predicted);
        fpt_sql_bind_num(q, 7, x->lo);
        fpt_sql_bind_num(q, 8, x->hi);
        if (x->has_measured) {
            sqlite3_bind_double(q, 9, x->measured);
            fpt_sql_bind_num(q, 10, x->measured_lo);
            fpt_sql_bind_num(q, 11, x->measured_hi);
            fpt_sql_bind_num(q, 12, x->rel_error);
        }
        sqlite3_bind_int(q, 13, x->valid);
        sqlite3_bind_text(q, 14, fpt_support_name(x->support), -1, SQLITE_STATIC);
        if (fpt_sql_insert(s, q, err)) return -1;
    }
    for (int i = 0; i < f->n_qss; i++) {
        const fpt_qss_test *x = &f->qss[i];
        q = st[S_QSS];
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_text(q, 2, x->protocol, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, x->kind == FPT_QSS_LAW ? "law" : "loo", -1, SQLITE_STATIC);
        sqlite3_bind_double(q, 4, x->tau);
        sqlite3_bind_double(q, 5, x->from);
        sqlite3_bind_int(q, 6, x->horizon);
        fpt_sql_bind_num(q, 7, x->predicted);
        fpt_sql_bind_num(q, 8, x->measured);
        fpt_sql_bind_num(q, 9, x->distance);
        fpt_sql_bind_num(q, 10, x->rel);
        fpt_sql_bind_num(q, 11, x->rel_lo);
        fpt_sql_bind_num(q, 12, x->rel_hi);
        sqlite3_bind_text(q, 13, fpt_support_name(x->verdict), -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 14, x->decisive);
        if (fpt_sql_insert(s, q, err)) return -1;
    }
    return 0;
}

int fpt_store_save_fit(fpt_store *s, const fpt_fit *f, fpt_err *err) {
    sqlite3_stmt *st[S_N] = {0};
    int rc = -1;
    for (int i = 0; i < S_N; i++)
        if (fpt_sql_prep(s, save_sql[i], &st[i], err)) goto out;
    if (fpt_store_begin(s, err)) goto out;
    if (save_rows(s, st, f, err) || fpt_store_commit(s, err)) {
        fpt_store_rollback(s);
        goto out;
    }
    rc = 0;
out:
    for (int i = 0; i < S_N; i++) sqlite3_finalize(st[i]);
    if (rc) fpt_err_prefix(err, "storing the fit of %s at %g%%: ", f->experiment, f->opt.target);
    return rc;
}

// ---- reading fits back (for fptfarm plot) ------------------------------------

static int col_int0(sqlite3_stmt *st, int i) {
    return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_int(st, i);
}

// Reads the rows of one fit into f (whose fits-row fields are already set).
static int load_one(fpt_store *s, int64_t id, fpt_fit *f, fpt_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, n;
    // Conditions.
    if (fpt_sql_prep(s,
             "SELECT protocol, timing, frequency, runs, reached, censored, diverged, "
             "restricted_mean, restricted_mean_lo, restricted_mean_hi, median, median_lo, "
             "median_hi, tail_t0, tail_rate, tail_rate_se, extrapolated_mean, final_acc, "
             "(SELECT count(*) FROM fit_conditions WHERE fit_id = ?1) "
             "FROM fit_conditions WHERE fit_id = ?1 "
             "ORDER BY protocol <> 'none', timing, protocol, frequency",
             &st, err))
        return -1;
    sqlite3_bind_int64(st, 1, id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!f->conditions) {
            n = sqlite3_column_int(st, 18);
            if (!(f->conditions = calloc((size_t)n + 1, sizeof *f->conditions))) goto oom;
        }
        fpt_fit_condition *c = &f->conditions[f->n_conditions++];
        fpt_sql_text_col(st, 0, c->protocol, sizeof c->protocol);
        fpt_sql_text_col(st, 1, c->timing, sizeof c->timing);
        c->frequency = sqlite3_column_double(st, 2);
        c->runs = sqlite3_column_int(st, 3);
        c->reached = sqlite3_column_int(st, 4);
        c->censored = sqlite3_column_int(st, 5);
        c->diverged = sqlite3_column_int(st, 6);
        c->rm = sqlite3_column_double(st, 7);
        c->rm_lo = fpt_sql_col_num(st, 8), c->rm_hi = fpt_sql_col_num(st, 9);
        c->median = col_int0(st, 10), c->median_lo = col_int0(st, 11);
        c->median_hi = col_int0(st, 12), c->tail_t0 = col_int0(st, 13);
        c->tail_rate = fpt_sql_col_num(st, 14), c->tail_rate_se = fpt_sql_col_num(st, 15);
        c->extrap_mean = fpt_sql_col_num(st, 16), c->final_acc = fpt_sql_col_num(st, 17);
    }
    if (rc != SQLITE_DONE) goto sql_fail;
    sqlite3_finalize(st);
    // Survival curves.
    if (fpt_sql_prep(s,
             "SELECT epoch, at_risk, events, censored, survival, lo, hi FROM fit_survival "
             "WHERE fit_id = ?1 AND protocol = ?2 AND timing = ?3 AND frequency = ?4 "
             "ORDER BY epoch",
             &st, err))
        return -1;
    for (int k = 0; k < f->n_conditions; k++) {
        fpt_fit_condition *c = &f->conditions[k];
        bind_condition_key(st, id, c->protocol, c->timing, c->frequency);
        if (!(c->curve = calloc((size_t)f->horizon + 1, sizeof *c->curve))) goto oom;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW && c->n_curve <= f->horizon) {
            fpt_curve_point *p = &c->curve[c->n_curve++];
            p->epoch = sqlite3_column_int(st, 0);
            p->at_risk = sqlite3_column_int(st, 1);
            p->events = sqlite3_column_int(st, 2);
            p->censored = sqlite3_column_int(st, 3);
            p->s = sqlite3_column_double(st, 4);
            p->lo = sqlite3_column_double(st, 5);
            p->hi = sqlite3_column_double(st, 6);
        }
        if (rc != SQLITE_DONE && rc != SQLITE_ROW) goto sql_fail;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    // KS tests.
    if (fpt_sql_prep(s,
             "SELECT epoch, statistic, p_value, (SELECT max(epoch) FROM fit_ks WHERE fit_id = ?1) "
             "FROM fit_ks WHERE fit_id = ?1 ORDER BY epoch",
             &st, err))
        return -1;
    sqlite3_bind_int64(st, 1, id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!f->ks_d) {
            n = sqlite3_column_int(st, 3);
            f->ks_d = calloc((size_t)n + 1, sizeof *f->ks_d);
            f->ks_p = calloc((size_t)n + 1, sizeof *f->ks_p);
            if (!f->ks_d || !f->ks_p) goto oom;
            f->n_ks = n;
        }
        int e = sqlite3_column_int(st, 0);
        if (e >= 1 && e <= f->n_ks) {
            f->ks_d[e - 1] = sqlite3_column_double(st, 1);
            f->ks_p[e - 1] = sqlite3_column_double(st, 2);
        }
    }
    if (rc != SQLITE_DONE) goto sql_fail;
    sqlite3_finalize(st);
    // The drift D(t) behind t_rel (schema 6).
    if (fpt_sql_prep(s,
             "SELECT epoch, distance, (SELECT max(epoch) FROM fit_drift WHERE fit_id = ?1) "
             "FROM fit_drift WHERE fit_id = ?1 ORDER BY epoch",
             &st, err))
        return -1;
    sqlite3_bind_int64(st, 1, id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!f->drift) {
            n = sqlite3_column_int(st, 2);
            f->drift = calloc((size_t)n + 1, sizeof *f->drift);
            if (!f->drift) goto oom;
            f->n_drift = n;
        }
        int e = sqlite3_column_int(st, 0);
        if (e >= 1 && e <= f->n_drift) f->drift[e - 1] = sqlite3_column_double(st, 1);
    }
    if (rc != SQLITE_DONE) goto sql_fail;
    sqlite3_finalize(st);
    // References.
    if (fpt_sql_prep(s,
             "SELECT protocol, timing, reference, tp_runs, tp_mean, tp_lo, tp_hi, "
             "(SELECT count(*) FROM fit_references WHERE fit_id = ?1), confirmed_lo, "
             "confirmed_hi, contradicted_below, contradicted_above "
             "FROM fit_references WHERE fit_id = ?1 ORDER BY protocol, timing",
             &st, err))
        return -1;
    sqlite3_bind_int64(st, 1, id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!f->protocols) {
            n = sqlite3_column_int(st, 7);
            if (!(f->protocols = calloc((size_t)n + 1, sizeof *f->protocols))) goto oom;
        }
        fpt_fit_protocol *P = &f->protocols[f->n_protocols++];
        fpt_sql_text_col(st, 0, P->protocol, sizeof P->protocol);
        fpt_sql_text_col(st, 1, P->timing, sizeof P->timing);
        P->reference = sqlite3_column_double(st, 2);
        P->tp_runs = sqlite3_column_int(st, 3);
        P->tp_mean = sqlite3_column_double(st, 4);
        P->tp_lo = fpt_sql_col_num(st, 5), P->tp_hi = fpt_sql_col_num(st, 6);
        P->confirmed_lo = sqlite3_column_double(st, 8);   // NULL reads as 0: none
        P->confirmed_hi = sqlite3_column_double(st, 9);
        P->contradicted_below = sqlite3_column_double(st, 10);
        P->contradicted_above = sqlite3_column_double(st, 11);
    }
    if (rc != SQLITE_DONE) goto sql_fail;
    sqlite3_finalize(st);
    // Predictions.
    if (fpt_sql_prep(s,
             "SELECT protocol, timing, frequency, model, predicted, lo, hi, measured, "
             "measured_lo, measured_hi, rel_error, valid, "
             "(SELECT count(*) FROM fit_predictions WHERE fit_id = ?1), support "
             "FROM fit_predictions WHERE fit_id = ?1 ORDER BY protocol, timing, model, frequency",
             &st, err))
        return -1;
    sqlite3_bind_int64(st, 1, id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!f->predictions) {
            n = sqlite3_column_int(st, 12);
            if (!(f->predictions = calloc((size_t)n + 1, sizeof *f->predictions))) goto oom;
        }
        fpt_fit_prediction *x = &f->predictions[f->n_predictions++];
        fpt_sql_text_col(st, 0, x->protocol, sizeof x->protocol);
        fpt_sql_text_col(st, 1, x->timing, sizeof x->timing);
        x->frequency = sqlite3_column_double(st, 2);
        const char *m = (const char *)sqlite3_column_text(st, 3);
        x->model = FPT_MODEL_COUNT;
        for (int k = 0; k < FPT_MODEL_COUNT; k++)
            if (m && !strcmp(m, fpt_model_name((fpt_model)k))) x->model = (fpt_model)k;
        // NULL predicted = not defined: infinite (never reached under the model).
        x->predicted = sqlite3_column_type(st, 4) == SQLITE_NULL ? INFINITY
                                                                 : sqlite3_column_double(st, 4);
        x->lo = fpt_sql_col_num(st, 5), x->hi = fpt_sql_col_num(st, 6);
        x->has_measured = sqlite3_column_type(st, 7) != SQLITE_NULL;
        x->measured = fpt_sql_col_num(st, 7);
        x->measured_lo = fpt_sql_col_num(st, 8), x->measured_hi = fpt_sql_col_num(st, 9);
        x->rel_error = fpt_sql_col_num(st, 10);
        x->valid = sqlite3_column_int(st, 11);
        int sup = fpt_support_parse((const char *)sqlite3_column_text(st, 13));
        x->support = sup >= 0 ? (fpt_support)sup : FPT_SUPPORT_UNTESTED;
    }
    if (rc != SQLITE_DONE) goto sql_fail;
    sqlite3_finalize(st);
    // The QSS check (schema 6), in the order the fit made it.
    if (fpt_sql_prep(s,
             "SELECT protocol, kind, tau, from_tau, horizon, predicted, measured, distance, rel, "
             "rel_lo, rel_hi, verdict, decisive, (SELECT count(*) FROM fit_qss WHERE fit_id = ?1) "
             "FROM fit_qss WHERE fit_id = ?1 ORDER BY protocol, kind DESC, tau, from_tau",
             &st, err))
        return -1;
    sqlite3_bind_int64(st, 1, id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!f->qss) {
            n = sqlite3_column_int(st, 13);
            if (!(f->qss = calloc((size_t)n + 1, sizeof *f->qss))) goto oom;
        }
        fpt_qss_test *x = &f->qss[f->n_qss++];
        fpt_sql_text_col(st, 0, x->protocol, sizeof x->protocol);
        const char *kind = (const char *)sqlite3_column_text(st, 1);
        x->kind = kind && !strcmp(kind, "law") ? FPT_QSS_LAW : FPT_QSS_LOO;
        x->tau = sqlite3_column_double(st, 2);
        x->from = sqlite3_column_double(st, 3);
        x->horizon = sqlite3_column_int(st, 4);
        x->predicted = fpt_sql_col_num(st, 5), x->measured = fpt_sql_col_num(st, 6);
        x->distance = fpt_sql_col_num(st, 7), x->rel = fpt_sql_col_num(st, 8);
        x->rel_lo = fpt_sql_col_num(st, 9), x->rel_hi = fpt_sql_col_num(st, 10);
        int v = fpt_support_parse((const char *)sqlite3_column_text(st, 11));
        x->verdict = v >= 0 ? (fpt_support)v : FPT_SUPPORT_INCONCLUSIVE;
        x->decisive = sqlite3_column_int(st, 12);
    }
    if (rc != SQLITE_DONE) goto sql_fail;
    sqlite3_finalize(st);
    return 0;
oom:
    sqlite3_finalize(st);
    return fpt_fail(err, "%s: out of memory reading a fit", fpt_store_path(s));
sql_fail:
    fpt_sql_step_fail(s, st, err);
    sqlite3_finalize(st);
    return -1;
}

int fpt_store_load_fits(fpt_store *s, const char *name, fpt_fit **fits, int *n, fpt_err *err) {
    *fits = NULL;
    *n = 0;
    int64_t exp_id;
    char exp_name[256];
    if (find_experiment(s, name, &exp_id, exp_name, sizeof exp_name, err)) return -1;
    sqlite3_stmt *st;
    if (fpt_sql_prep(s,
             "SELECT id, target, horizon, level, survival_ci, bootstrap, seed, ks_reference, "
             "alpha, t_rel, unfinished_runs, t_rel_lo, t_rel_hi, relax_window, relax_tolerance, "
             "relax_floor, qss_tolerance FROM fits WHERE experiment_id = ?1 ORDER BY target",
             &st, err))
        return -1;
    sqlite3_bind_int64(st, 1, exp_id);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 4;
            fpt_fit *grown = realloc(*fits, (size_t)cap * sizeof **fits);
            if (!grown) {
                fpt_fail(err, "%s: out of memory reading fits", fpt_store_path(s));
                goto fail;
            }
            *fits = grown;
        }
        fpt_fit *f = &(*fits)[(*n)++];
        memset(f, 0, sizeof *f);
        f->experiment_id = exp_id;
        snprintf(f->experiment, sizeof f->experiment, "%s", exp_name);
        f->opt = fpt_fit_options_default;
        f->opt.target = sqlite3_column_double(st, 1);
        f->horizon = sqlite3_column_int(st, 2);
        f->opt.level = sqlite3_column_double(st, 3);
        f->opt.ci = !strcmp((const char *)sqlite3_column_text(st, 4), "log") ? FPT_CI_LOG
                                                                              : FPT_CI_LOGLOG;
        f->opt.bootstrap = sqlite3_column_int(st, 5);
        f->opt.seed = (uint64_t)sqlite3_column_int64(st, 6);
        f->ks_reference = col_int0(st, 7);
        f->opt.alpha = sqlite3_column_double(st, 8);
        f->t_rel = col_int0(st, 9);
        f->excluded_unfinished = sqlite3_column_int(st, 10);
        f->t_rel_lo = col_int0(st, 11);
        f->t_rel_hi = col_int0(st, 12);
        if (sqlite3_column_type(st, 13) != SQLITE_NULL) {   // stored since schema 6
            f->opt.ks_window = sqlite3_column_int(st, 13);
            f->opt.relax_tolerance = sqlite3_column_double(st, 14);
            f->relax_floor = sqlite3_column_double(st, 15);
        }
        if (sqlite3_column_type(st, 16) != SQLITE_NULL)
            f->opt.qss_tolerance = sqlite3_column_double(st, 16);
        f->mean_t = f->mean_t2 = NAN;
        if (load_one(s, sqlite3_column_int64(st, 0), f, err)) goto fail;
    }
    if (rc != SQLITE_DONE) {
        fpt_sql_step_fail(s, st, err);
        goto fail;
    }
    sqlite3_finalize(st);
    if (*n == 0)
        return fpt_fail(err, "%s: experiment '%s' has no fit yet (run fptfarm fit first)",
                        fpt_store_path(s), exp_name);
    return 0;
fail:
    sqlite3_finalize(st);
    for (int i = 0; i < *n; i++) fpt_fit_free(&(*fits)[i]);
    free(*fits);
    *fits = NULL;
    *n = 0;
    return -1;
}
