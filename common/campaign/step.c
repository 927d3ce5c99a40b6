// step.c — one step of an adaptive campaign against the results database
// (step.h): the store's rows (store/store_campaign.h) become the planner's
// state (campaign.h), the planner's decisions become rows again.
//
// The transaction: the finished runs and the history are read outside it
// (every issued job has finished, so nothing else writes them meanwhile);
// the new decisions, the jobs they create and the summary are written in one
// transaction.  A kill leaves either the whole step or none of it, and since
// the planner is a pure function of the spec and the stored state, a resumed
// campaign plans the same step again.
#include "campaign/step.h"

#include "analysis/condition.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/runs.h"
#include "store/store_campaign.h"
#include "train/protocol.h"

// A decision and its row hold the same texts: nothing is cut either way.
_Static_assert(sizeof ((fpt_decision *)0)->protocol == sizeof ((fpt_store_decision *)0)->protocol,
               "decision protocol sizes differ");
_Static_assert(sizeof ((fpt_decision *)0)->timing == sizeof ((fpt_store_decision *)0)->timing,
               "decision timing sizes differ");
_Static_assert(sizeof ((fpt_decision *)0)->reason == sizeof ((fpt_store_decision *)0)->reason,
               "decision reason sizes differ");
_Static_assert(sizeof ((fpt_decision *)0)->reason ==
                   sizeof ((fpt_store_campaign_summary *)0)->reason,
               "summary reason size differs");

// issued[k]: the jobs at condition k of the grid (spec order), from the
// store's counts.  Fails on a condition the spec does not list: the database
// belongs to another spec.
static int map_issued(fpt_store *s, const fpt_job_spec *spec,
                      const fpt_store_condition_jobs *rows, size_t n_rows, int *issued,
                      fpt_err *err) {
    for (size_t r = 0; r < n_rows; r++) {
        const fpt_store_condition_jobs *row = &rows[r];
        size_t k = 0;
        int found = 0;
        for (int p = 0; p < spec->n_protocols && !found; p++) {
            const fpt_job_protocol *jp = &spec->protocols[p];
            const char *t = fpt_condition_timing(jp->protocol.kind, jp->protocol.timing);
            for (int i = 0; i < jp->n_freqs; i++, k++)
                if (fpt_condition_same(row->protocol, row->timing, row->frequency,
                                       fpt_protocol_name(jp->protocol.kind), t, jp->freqs[i])) {
                    issued[k] = (int)row->jobs;
                    found = 1;
                    break;
                }
        }
        if (!found)
            return fpt_fail(err, "%s: the campaign has jobs at %s %s %g, which the spec does not "
                                 "list", fpt_store_path(s), row->protocol, row->timing,
                            row->frequency);
    }
    return 0;
}

// The decision a stored row says, or -1 when the row is not one this
// fptfarm wrote (an unknown phase or action).
static int decision_of(const fpt_store_decision *r, fpt_decision *d) {
    memset(d, 0, sizeof *d);
    d->seq = r->seq;
    memcpy(d->protocol, r->protocol, sizeof d->protocol);
    memcpy(d->timing, r->timing, sizeof d->timing);
    d->frequency = r->frequency;
    d->runs = r->runs;
    d->basis = !strcmp(r->basis, "measured")    ? FPT_BASIS_MEASURED
               : !strcmp(r->basis, "predicted") ? FPT_BASIS_PREDICTED
                                                : FPT_BASIS_NONE;
    d->estimate = r->estimate, d->lo = r->lo, d->hi = r->hi;
    d->runs_used = r->runs_used;
    d->epochs_used = r->epochs_used;
    memcpy(d->reason, r->reason, sizeof d->reason);
    return fpt_campaign_phase_parse(r->phase, &d->phase) ||
                   fpt_campaign_action_parse(r->action, &d->action)
               ? -1
               : 0;
}

// The row that stores decision d (names for the enums; "" for no basis,
// which the store writes as NULL).
static void row_of(const fpt_decision *d, fpt_store_decision *r) {
    memset(r, 0, sizeof *r);
    r->seq = d->seq;
    snprintf(r->phase, sizeof r->phase, "%s", fpt_campaign_phase_name(d->phase));
    snprintf(r->action, sizeof r->action, "%s", fpt_campaign_action_name(d->action));
    memcpy(r->protocol, d->protocol, sizeof r->protocol);
    memcpy(r->timing, d->timing, sizeof r->timing);
    r->frequency = d->frequency;   // NAN: no condition
    r->runs = d->runs;
    const char *basis = fpt_basis_name(d->basis);
    snprintf(r->basis, sizeof r->basis, "%s", basis ? basis : "");
    r->estimate = d->estimate, r->lo = d->lo, r->hi = d->hi;
    r->runs_used = d->runs_used;
    r->epochs_used = d->epochs_used;
    memcpy(r->reason, d->reason, sizeof r->reason);
}

// The summary row after a step whose last decision is `last`: its phase;
// once stopped, the recommendation.
static void summary_of(const fpt_job_spec *spec, const fpt_decision *last, int64_t runs_used,
                       int64_t epochs_used, fpt_store_campaign_summary *r) {
    memset(r, 0, sizeof *r);
    const int stopped = last->action == FPT_ACT_STOP;
    snprintf(r->phase, sizeof r->phase, "%s", fpt_campaign_phase_name(last->phase));
    r->stopped = stopped;
    if (stopped) {
        memcpy(r->protocol, last->protocol, sizeof r->protocol);
        memcpy(r->timing, last->timing, sizeof r->timing);
    }
    r->frequency = stopped ? last->frequency : NAN;
    r->estimate = stopped ? last->estimate : NAN;
    r->lo = stopped ? last->lo : NAN;
    r->hi = stopped ? last->hi : NAN;
    r->runs_used = runs_used;
    r->epochs_used = epochs_used;
    r->sweep_runs = (int64_t)spec->n_jobs;
    r->sweep_epochs = (int64_t)spec->n_jobs * spec->base.run.epochs;
    memcpy(r->reason, last->reason, sizeof r->reason);
}

int fpt_campaign_load(fpt_store *s, const fpt_job_spec *spec, int64_t exp_id,
                      fpt_campaign_state *out, fpt_err *err) {
    memset(out, 0, sizeof *out);
    fpt_store_condition_jobs *jobs = NULL;
    size_t n_jobs = 0;
    fpt_store_decision *rows = NULL;
    int n_rows = 0;
    const size_t n_cond = fpt_campaign_conditions(spec);
    out->issued = calloc(n_cond + 1, sizeof *out->issued);
    if (!out->issued) return fpt_fail(err, "campaign: out of memory");
    // The order of the reads, and so which failure is reported first, is
    // the store's: jobs per condition, the cost, then the decisions.
    if (fpt_store_campaign_jobs(s, exp_id, &jobs, &n_jobs, err) ||
        map_issued(s, spec, jobs, n_jobs, out->issued, err) ||
        fpt_store_campaign_costs(s, exp_id, &out->runs_used, &out->epochs_used, err) ||
        fpt_store_campaign_decisions(s, exp_id, &rows, &n_rows, err))
        goto fail;
    if (n_rows > 0) {
        out->d = calloc((size_t)n_rows, sizeof *out->d);
        if (!out->d) {
            fpt_fail(err, "campaign: out of memory (%d decisions of %zu bytes)", n_rows,
                     sizeof *out->d);
            goto fail;
        }
    }
    for (int i = 0; i < n_rows; i++) {
        fpt_decision *d = &out->d[out->n++];
        if (decision_of(&rows[i], d) || d->seq != out->n) {
            fpt_fail(err, "%s: campaign decision %d is not one this fptfarm wrote",
                     fpt_store_path(s), d->seq);
            goto fail;
        }
    }
    free(jobs);
    free(rows);
    return 0;
fail:
    free(jobs);
    free(rows);
    fpt_campaign_state_free(out);
    return -1;
}

int fpt_campaign_step(fpt_store *s, const fpt_job_spec *spec, int64_t exp_id,
                      fpt_campaign_plan *plan, int64_t **job_ids, fpt_err *err) {
    *job_ids = NULL;
    memset(plan, 0, sizeof *plan);
    fpt_runs runs = {0};
    fpt_campaign_state st = {0};
    if (fpt_store_load_runs(s, spec->name, &runs, err)) return -1;
    if (fpt_campaign_load(s, spec, exp_id, &st, err) ||
        fpt_campaign_next(spec, &runs, &st, plan, err)) {
        fpt_runs_free(&runs);
        fpt_campaign_state_free(&st);
        return -1;
    }
    fpt_runs_free(&runs);
    int64_t runs_used = st.runs_used + (int64_t)plan->n_jobs, epochs_used = st.epochs_used;
    fpt_campaign_state_free(&st);
    if (plan->n == 0) return 0;   // stopped earlier
    // Everything the transaction writes is made before it begins.
    fpt_store_decision *rows = calloc((size_t)plan->n, sizeof *rows);
    *job_ids = calloc(plan->n_jobs + 1, sizeof **job_ids);
    if (!rows || !*job_ids) {
        fpt_fail(err, "campaign: out of memory");
        goto fail;
    }
    for (int i = 0; i < plan->n; i++) row_of(&plan->d[i], &rows[i]);
    fpt_store_campaign_summary summary;
    summary_of(spec, &plan->d[plan->n - 1], runs_used, epochs_used, &summary);
    if (fpt_store_begin(s, err)) goto fail;
    if (fpt_store_campaign_save_decisions(s, exp_id, rows, plan->n, err)) goto rollback;
    for (size_t i = 0; i < plan->n_jobs; i++) {
        const fpt_job *j = &spec->jobs[plan->jobs[i]];
        if (fpt_store_job(s, exp_id, fpt_protocol_name(j->protocol),
                          fpt_condition_timing(j->protocol, j->timing), j->frequency, (int64_t)j->seed,
                          &(*job_ids)[i], NULL, err))
            goto rollback;
    }
    if (fpt_store_campaign_save_summary(s, exp_id, &summary, err)) goto rollback;
    if (fpt_store_commit(s, err)) goto fail;
    free(rows);
    return 0;
rollback:
    fpt_store_rollback(s);
fail:
    free(rows);
    free(*job_ids);
    *job_ids = NULL;
    fpt_campaign_plan_free(plan);
    return -1;
}
