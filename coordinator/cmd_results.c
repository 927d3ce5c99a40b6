// cmd_results.c — commands on a results database:
//   fptfarm import DB CSV --name NAME [--target 72[,60]]
//   fptfarm status DB
// Only these commands (and later the coordinator) open the database.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "import_csv.h"
#include "store.h"
#include "train_spec.h"

static int print_progress(const fpt_progress_row *r, void *ctx) {
    int *n = ctx;
    (*n)++;
    printf("%s: %lld jobs: %lld done, %lld running, %lld pending, %lld failed, %lld diverged; "
           "%lld epochs stored\n",
           r->experiment, (long long)r->jobs, (long long)r->by_state[FPT_JOB_DONE],
           (long long)r->by_state[FPT_JOB_RUNNING], (long long)r->by_state[FPT_JOB_PENDING],
           (long long)r->by_state[FPT_JOB_FAILED], (long long)r->by_state[FPT_JOB_DIVERGED],
           (long long)r->epochs);
    return 0;
}

int fpt_cmd_status(int argc, char **argv, fpt_err *err) {
    if (argc != 1 || argv[0][0] == '-')
        return fpt_fail(err, "usage: fptfarm status DB");
    fpt_store *s;
    if (fpt_store_open(&s, argv[0], 0, NULL, err)) return -1;
    int n = 0;
    int rc = fpt_store_progress(s, print_progress, &n, err);
    if (rc == 0 && n == 0) printf("%s: no experiments yet\n", argv[0]);
    fpt_store_close(s);
    return rc;
}

int fpt_cmd_import(int argc, char **argv, fpt_err *err) {
    const char *db = NULL, *csv = NULL, *name = NULL;
    // Targets are parsed by the same rule as `fptfarm train --target`.
    fpt_train_spec spec;
    fpt_train_spec_defaults(&spec);
    spec.run.n_targets = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--name") && i + 1 < argc) name = argv[++i];
        else if (!strcmp(argv[i], "--target") && i + 1 < argc) {
            if (fpt_train_spec_set(&spec, "target", argv[++i], err)) return -1;
        } else if (argv[i][0] == '-')
            return fpt_fail(err, "import: unknown or incomplete option '%s' (expected --name NAME, "
                                 "--target LIST)", argv[i]);
        else if (!db) db = argv[i];
        else if (!csv) csv = argv[i];
        else return fpt_fail(err, "import: unexpected argument '%s'", argv[i]);
    }
    if (!db || !csv || !name)
        return fpt_fail(err, "usage: fptfarm import DB CSV --name NAME [--target 72[,60,...]]");
    if (spec.run.n_targets == 0) {
        spec.run.n_targets = 1;
        spec.run.targets[0] = 50.0;
    }
    fpt_store *s;
    if (fpt_store_open(&s, db, 1, NULL, err)) return -1;
    // The lease: no import into a database a campaign is writing (store.h).
    if (fpt_store_lease_check(s, err)) {
        fpt_store_close(s);
        return -1;
    }
    int rc = fpt_import_csv(s, csv, name, spec.run.targets, spec.run.n_targets, err);
    if (rc == 0) {
        int n = 0;
        printf("imported %s into %s\n", csv, db);
        rc = fpt_store_progress(s, print_progress, &n, err);
    }
    fpt_store_close(s);
    return rc;
}
