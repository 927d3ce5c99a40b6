// store_sql.h — small helpers shared by the store's own modules
// (store_fit.c, store_campaign.c): a prepared statement with the store's
// error reporting, and text columns copied into fixed buffers.
#ifndef FPT_STORE_SQL_H
#define FPT_STORE_SQL_H

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>

#include "base/error.h"
#include "store/store.h"

static inline int fpt_sql_prep(fpt_store *s, const char *sql, sqlite3_stmt **st, fpt_err *err) {
    if (sqlite3_prepare_v2(fpt_store_sqlite(s), sql, -1, st, NULL) != SQLITE_OK)
        return fpt_fail(err, "%s: preparing '%.50s': %s", fpt_store_path(s), sql,
                        sqlite3_errmsg(fpt_store_sqlite(s)));
    return 0;
}

// The failed step of st, with the statement's text (st is not finalized).
static inline int fpt_sql_step_fail(fpt_store *s, sqlite3_stmt *st, fpt_err *err) {
    return fpt_fail(err, "%s: '%.50s': %s", fpt_store_path(s), sqlite3_sql(st),
                    sqlite3_errmsg(fpt_store_sqlite(s)));
}

// Steps an insert and resets it, bindings cleared, for the next row.
static inline int fpt_sql_insert(fpt_store *s, sqlite3_stmt *st, fpt_err *err) {
    if (sqlite3_step(st) != SQLITE_DONE) return fpt_sql_step_fail(s, st, err);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return 0;
}

static inline void fpt_sql_bind_num(sqlite3_stmt *st, int i, double v) {
    if (isfinite(v)) sqlite3_bind_double(st, i, v);
    else sqlite3_bind_null(st, i);
}

static inline void fpt_sql_bind_text(sqlite3_stmt *st, int i, const char *t) {
    if (t && *t) sqlite3_bind_text(st, i, t, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

static inline double fpt_sql_col_num(sqlite3_stmt *st, int i) {
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static inline void fpt_sql_text_col(sqlite3_stmt *st, int i, char *out, size_t cap) {
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

#endif
