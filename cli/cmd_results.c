// cmd_results.c — commands on a results database:
//   fptfarm import DB CSV --name NAME [--target 72[,60]]
//   fptfarm status DB
// Only these commands (and later the coordinator) open the database.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "store/import_csv.h"
#include "store/store.h"
#include "train/train_spec.h"

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

// The database file and SQLite's side files next to it.
static const char *const db_suffixes[] = {"", "-journal", "-wal", "-shm"};
enum { N_DB_FILES = sizeof db_suffixes / sizeof *db_suffixes };

// Which of db's files exist now (lstat: a dangling symlink exists too).
// Anything that cannot be checked counts as present, so it is never removed.
static void db_files_present(const char *db, int present[N_DB_FILES]) {
    char path[4096];
    struct stat sb;
    for (int k = 0; k < N_DB_FILES; k++) {
        if ((size_t)snprintf(path, sizeof path, "%s%s", db, db_suffixes[k]) >= sizeof path)
            present[k] = 1;
        else
            present[k] = lstat(path, &sb) == 0 || errno != ENOENT;
    }
}

// After a failed import into a database it created: removes the files that
// were not there before, so that a retry starts from nothing and no empty
// database is left to be mistaken for a result.  A file that existed before
// is never removed: its contents are untouched (one transaction).
static void remove_created(const char *db, const int before[N_DB_FILES]) {
    if (before[0]) return;
    char path[4096];
    for (int k = N_DB_FILES - 1; k >= 0; k--) {
        if (before[k]) continue;
        snprintf(path, sizeof path, "%s%s", db, db_suffixes[k]);   // fitted when checked
        unlink(path);
    }
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
    int before[N_DB_FILES];
    db_files_present(db, before);
    fpt_store *s = NULL;
    if (fpt_store_open(&s, db, 1, NULL, err) ||
        // The lease: no import into a database a campaign is writing (store.h).
        fpt_store_lease_check(s, err) ||
        fpt_import_csv(s, csv, name, spec.run.targets, spec.run.n_targets, err)) {
        fpt_store_close(s);   // first: SQLite removes or keeps its side files on close
        remove_created(db, before);
        return -1;
    }
    int n = 0;
    printf("imported %s into %s\n", csv, db);
    int rc = fpt_store_progress(s, print_progress, &n, err);
    fpt_store_close(s);
    return rc;
}
