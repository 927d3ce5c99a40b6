// fuzz_import_csv.c — libFuzzer harness for the CSV importer, fpt_import_csv
// (common/store/import_csv.c), on a file written from the input, into a results
// store (common/store/store.c) in the scratch directory.
//
// The store is opened once (schema created) and emptied after every accepted
// import, so every input starts from the same empty database.  It runs with
// PRAGMA synchronous = OFF: durability is not what is fuzzed, and the scratch
// directory is a tmpfs anyway.  Experiment name "fuzz", targets 50 and 72.
//
// Contract checked (besides ASan/UBSan/LeakSanitizer):
//   rejected: -1, one non-empty line starting with the CSV's path (or the
//     store's, for a database error), and the database unchanged: still
//     empty (import_csv.h: "on any error the database is left as it was");
//   accepted: 0, one experiment, every job 'done', one epoch row per data
//     line of the file, and one first passage per job and target;
//   either way: no transaction left open on the connection.
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "store/import_csv.h"
#include "store/store.h"

static fpt_store *store;
static sqlite3 *db;
static char csv_path[600], db_path[600];
static const double targets[] = {50.0, 72.0};
#define N_TARGETS 2

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *dir = fuzz_dir_make("import_csv");
    snprintf(csv_path, sizeof csv_path, "%s/traces.csv", dir);
    snprintf(db_path, sizeof db_path, "%s/results.db", dir);
    fpt_err err;
    if (fpt_store_open(&store, db_path, 1, NULL, &err)) {
        fprintf(stderr, "fuzz: cannot open the store: %s\n", err.msg);
        exit(2);
    }
    db = fpt_store_sqlite(store);
    if (sqlite3_exec(db, "PRAGMA synchronous = OFF", NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "fuzz: PRAGMA synchronous: %s\n", sqlite3_errmsg(db));
        exit(2);
    }
    return 0;
}

typedef struct counts {
    long long experiments, jobs, epochs, first_passages, not_done;
} counts;

static counts count_rows(void) {
    static const char *sql =
        "SELECT (SELECT count(*) FROM experiments), (SELECT count(*) FROM jobs), "
        "(SELECT count(*) FROM epochs), (SELECT count(*) FROM first_passages), "
        "(SELECT count(*) FROM jobs WHERE state <> 'done')";
    sqlite3_stmt *st;
    counts c = {0, 0, 0, 0, 0};
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
        fuzz_die("cannot count the store's rows: %s", sqlite3_errmsg(db));
    c.experiments = sqlite3_column_int64(st, 0);
    c.jobs = sqlite3_column_int64(st, 1);
    c.epochs = sqlite3_column_int64(st, 2);
    c.first_passages = sqlite3_column_int64(st, 3);
    c.not_done = sqlite3_column_int64(st, 4);
    sqlite3_finalize(st);
    return c;
}

// Data lines as the importer reads them with getline: everything after the
// first '\n', one line per '\n', plus an unterminated last line.
static long long data_lines(const uint8_t *data, size_t size) {
    const uint8_t *nl = memchr(data, '\n', size);
    if (!nl) return 0;
    const uint8_t *p = nl + 1, *end = data + size;
    long long n = 0;
    while (p < end) {
        const uint8_t *q = memchr(p, '\n', (size_t)(end - p));
        n++;
        if (!q) break;
        p = q + 1;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_write_file(csv_path, data, size);
    fpt_err err;
    fuzz_err_reset(&err);
    const int rc = fpt_import_csv(store, csv_path, "fuzz", targets, N_TARGETS, &err);
    fuzz_check_result("fpt_import_csv", rc, &err, NULL);
    if (rc != 0 && strncmp(err.msg, csv_path, strlen(csv_path)) != 0 &&
        strncmp(err.msg, db_path, strlen(db_path)) != 0)
        fuzz_die("err.msg names neither the CSV nor the store: \"%s\"", err.msg);
    if (!sqlite3_get_autocommit(db)) fuzz_die("a transaction was left open (rc %d)", rc);
    const counts c = count_rows();
    if (rc != 0) {
        if (c.experiments || c.jobs || c.epochs || c.first_passages)
            fuzz_die("rejected import changed the database: %lld experiments, %lld jobs, "
                     "%lld epochs, %lld first passages (%s)", c.experiments, c.jobs, c.epochs,
                     c.first_passages, err.msg);
        return 0;
    }
    const long long lines = data_lines(data, size);
    if (c.experiments != 1 || c.not_done != 0 || c.epochs != lines ||
        c.first_passages != N_TARGETS * c.jobs || (lines > 0) != (c.jobs > 0))
        fuzz_die("accepted import stored %lld experiments, %lld jobs (%lld not done), %lld "
                 "epochs for %lld data lines, %lld first passages", c.experiments, c.jobs,
                 c.not_done, c.epochs, lines, c.first_passages);
    char *msg = NULL;
    if (sqlite3_exec(db,
                     "BEGIN; DELETE FROM first_passages; DELETE FROM epochs; DELETE FROM jobs; "
                     "DELETE FROM experiments; COMMIT",
                     NULL, NULL, &msg) != SQLITE_OK)
        fuzz_die("cannot empty the store: %s", msg ? msg : "?");
    return 0;
}
