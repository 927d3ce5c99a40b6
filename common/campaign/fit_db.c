// fit_db.c — the fit of an experiment in a results database (fit_db.h):
// load its runs, fit each target, save each fit.
#include "campaign/fit_db.h"

#include "analysis/runs.h"
#include "train/protocol.h"

int fpt_fit_database(fpt_store *s, const char *experiment, const double *targets, int n_targets,
                     const fpt_fit_options *opt, FILE *report, fpt_err *err) {
    fpt_runs runs;
    // One snapshot: a live campaign's commits neither tear the read nor fail
    // it (they wait for it, or go on beside it in WAL mode: store.h).
    if (fpt_store_snapshot_begin(s, err)) return -1;
    int loaded = fpt_store_load_runs(s, experiment, &runs, err);
    fpt_store_snapshot_end(s);
    if (loaded) return -1;
    if (n_targets == 0) {   // the experiment's own targets
        targets = runs.targets;
        n_targets = runs.n_targets;
    }
    if (n_targets == 0) {
        fpt_fail(err, "%s: experiment '%s' records no target; give one with --target",
                 fpt_store_path(s), runs.experiment);
        fpt_runs_free(&runs);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n_targets && rc == 0; i++) {
        fpt_fit_options o = *opt;
        o.target = targets[i];
        o.restart_protocol = fpt_protocol_restart_name();   // the protocol table's
        fpt_fit f;
        rc = fpt_fit_run(&runs, &o, &f, err);
        if (rc) {   // fpt_fit_run leaves nothing to free when it fails
            fpt_err_prefix(err, "target %g%%: ", targets[i]);
            break;
        }
        rc = fpt_fit_reachable(&f, err);   // an unreachable target: nothing stored
        if (rc == 0) rc = fpt_store_save_fit(s, &f, err);
        if (rc == 0 && report) {
            fpt_fit_report(&f, report);
            fprintf(report, "\n");
        }
        fpt_fit_free(&f);
        if (rc) fpt_err_prefix(err, "target %g%%: ", targets[i]);
    }
    fpt_runs_free(&runs);
    return rc;
}
