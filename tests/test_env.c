// test_env.c — see test_env.h.
#include "test_env.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void test_mpi_env(const char *dir) {
    setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMPI_MCA_btl", "self,vader", 1);
    setenv("OMPI_MCA_orte_tmpdir_base", dir, 1);
    setenv("OMPI_MCA_btl_vader_backing_directory", dir, 1);
    setenv("OMP_NUM_THREADS", "1", 1);
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
}

static void exec_sql(sqlite3 *db, const char *sql) {
    char *err = NULL;
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &err), SQLITE_OK, "%.60s: %s", sql,
                 err ? err : "");
}

void test_make_v1_database(const char *path) {
    FILE *f = fopen("results/schema.sql", "rb");
    cr_assert_not_null(f, "results/schema.sql (tests run from the project root)");
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    cr_assert_lt(n, sizeof buf - 1, "schema.sql larger than the test buffer");
    buf[n] = '\0';
    char *cut = strstr(buf, "-- ==== version 2:");
    cr_assert_not_null(cut, "results/schema.sql has no version-2 section");
    *cut = '\0';
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    exec_sql(db, buf);
    exec_sql(db, "PRAGMA user_version = 1");
    exec_sql(db, "INSERT INTO experiments (name, spec_text, spec_hash, source) "
                 "VALUES ('old', 'spec', 'h', 'farm')");
    exec_sql(db, "INSERT INTO jobs (experiment_id, protocol, timing, frequency, seed, state) "
                 "VALUES (1, 'none', 'none', 0, 7, 'done')");
    exec_sql(db, "INSERT INTO epochs (job_id, epoch, test_acc) VALUES (1, 1, 41.5), (1, 2, 60.25)");
    exec_sql(db, "INSERT INTO first_passages (job_id, target, epoch, censored_at) "
                 "VALUES (1, 50, 2, NULL)");
    sqlite3_close(db);
}
