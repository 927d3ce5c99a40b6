// store_sql.h — small helpers shared by the store's own modules
// (store_fit.c, store_campaign.c): a prepared statement with the store's
// error reporting, and text columns copied into fixed buffers.
#ifndef FPT_STORE_SQL_H
#define FPT_STORE_SQL_H

#include <sqlite3.h>
#include <stdio.h>

#include "error.h"
#include "store.h"

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

static inline void fpt_sql_text_col(sqlite3_stmt *st, int i, char *out, size_t cap) {
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

#endif
