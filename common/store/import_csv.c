// import_csv.c — see import_csv.h.  The rows are read and validated by
// traces_csv.h; this file turns each run into a job, its epochs and its first
// passages.
#include "store/import_csv.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/first_passage.h"
#include "base/hash.h"
#include "train/protocol.h"
#include "data/traces_csv.h"

// What each run is stored into, and a buffer for its epoch records.
typedef struct import_ctx {
    fpt_store *s;
    int64_t exp_id;
    const double *targets;
    int n_targets;
    fpt_epoch_record *recs;
    int cap;
} import_ctx;

// The records of a run of which only test_acc is known.
static int fill_records(import_ctx *ic, const fpt_trace_run *run, fpt_err *err) {
    if (run->n_epochs > ic->cap) {
        fpt_epoch_record *nr = realloc(ic->recs, (size_t)run->n_epochs * sizeof *nr);
        if (!nr) return fpt_fail(err, "out of memory for %d epochs", run->n_epochs);
        ic->recs = nr;
        ic->cap = run->n_epochs;
    }
    for (int i = 0; i < run->n_epochs; i++) {
        fpt_epoch_record *e = &ic->recs[i];
        e->epoch = i + 1;
        e->train_loss = e->test_loss = e->lr = e->seconds = NAN;
        e->test_acc = run->acc[i];
        e->perturbed = 0;
    }
    return 0;
}

// Stores one run as a finished job: its epochs and first passages.  Its
// protocol must be one fptfarm knows (protocol.h), so that an import stores
// what the farm would have: a name `fptfarm fit` refuses (longer than its
// 31-byte fields) or a variant spelling ("Shrink", which would become a
// condition of its own) is refused here, not long after the import (the
// reader prefixes the run's first line).
static int store_run(const fpt_trace_run *run, void *ctx, fpt_err *err) {
    import_ctx *ic = ctx;
    fpt_protocol_kind kind;
    if (fpt_protocol_parse(run->protocol, &kind, err)) return -1;
    const int is_none = kind == FPT_PROTO_NONE;
    int64_t job_id;   // new: the reader refuses a run that appears twice
    if (fpt_store_job(ic->s, ic->exp_id, run->protocol, is_none ? "none" : "periodic",
                      (double)run->period, (int64_t)run->seed, &job_id, NULL, err))
        return -1;
    if (fill_records(ic, run, err) ||
        fpt_store_add_epochs(ic->s, job_id, ic->recs, run->n_epochs, err))
        return -1;
    for (int k = 0; k < ic->n_targets; k++) {
        int t = fpt_first_passage(run->acc, run->n_epochs, ic->targets[k]);
        if (fpt_store_first_passage(ic->s, job_id, ic->targets[k], t, run->n_epochs, err))
            return -1;
    }
    return fpt_store_job_finish(ic->s, job_id, FPT_JOB_DONE, err);
}

int fpt_import_csv(fpt_store *s, const char *csv_path, const char *experiment_name,
                   const double *targets, int n_targets, fpt_err *err) {
    if (n_targets < 1 || n_targets > 64)
        return fpt_fail(err, "%s: import needs 1 to 64 targets, got %d", csv_path, n_targets);
    char spec[1024];
    const char *base = strrchr(csv_path, '/');
    base = base ? base + 1 : csv_path;
    int off = snprintf(spec, sizeof spec, "import of %s (" FPT_TRACES_CSV_HEADER "); targets",
                       base);
    for (int k = 0; k < n_targets; k++) {
        if (!isfinite(targets[k]) || targets[k] < 0.0 || targets[k] > 100.0)
            return fpt_fail(err, "%s: target %g outside [0, 100] (percent)", csv_path, targets[k]);
        if (off > 0 && (size_t)off < sizeof spec)
            off += snprintf(spec + off, sizeof spec - (size_t)off, "%s%g", k ? "," : " ",
                            targets[k]);
    }
    char hash[17];
    snprintf(hash, sizeof hash, "%016" PRIx64, fpt_fnv1a(FPT_FNV1A_INIT, spec, strlen(spec)));

    // The header is checked before the store is touched.
    fpt_traces_csv *t;
    if (fpt_traces_csv_open(&t, csv_path, err)) return -1;
    import_ctx ic = {.s = s, .targets = targets, .n_targets = n_targets};
    int rc = -1;
    if (fpt_store_begin(s, err)) goto out;
    int created;
    if (fpt_store_experiment(s, experiment_name, spec, hash, "import", &ic.exp_id, &created, err))
        goto rollback;
    if (!created) {
        fpt_fail(err, "%s: experiment '%s' already exists; import into a new name",
                 fpt_store_path(s), experiment_name);
        goto rollback;
    }
    if (fpt_traces_csv_read(t, store_run, &ic, err)) goto rollback;
    if (fpt_store_commit(s, err)) goto out;
    rc = 0;
    goto out;
rollback:
    fpt_store_rollback(s);
out:
    free(ic.recs);
    fpt_traces_csv_close(t);
    return rc;
}
