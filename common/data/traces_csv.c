// traces_csv.c — the trace table reader (see traces_csv.h).
#define _GNU_SOURCE   // tdestroy
#include "data/traces_csv.h"

#include <errno.h>
#include <math.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NFIELDS 5

// A run key seen so far: rows of a run must be contiguous, so a key that
// comes back after another run is an error.
typedef struct run_key {
    char *protocol;
    long period;
    long long seed;
} run_key;

struct fpt_traces_csv {
    FILE *f;
    char *path;
    // the run being read
    const char *protocol;   // owned by its key in `seen`
    long period;
    long long seed;
    long first_line;
    double *acc;
    int n, cap;
    void *seen;             // every run key so far (a tsearch tree of run_key)
};

// One parsed row.
typedef struct row {
    const char *protocol;
    long period, epoch;
    long long seed;
    double acc;
} row;

// ---- numbers ------------------------------------------------------------

static int parse_long(const char *t, long *v) {
    if (!*t) return -1;
    char *end;
    errno = 0;
    long long x = strtoll(t, &end, 10);
    if (*end || errno || x < -2147483647LL || x > 2147483647LL) return -1;
    *v = (long)x;
    return 0;
}

static int parse_ll(const char *t, long long *v) {
    if (!*t) return -1;
    char *end;
    errno = 0;
    *v = strtoll(t, &end, 10);
    return (*end || errno) ? -1 : 0;
}

static int parse_double(const char *t, double *v) {
    if (!*t) return -1;
    char *end;
    errno = 0;
    *v = strtod(t, &end);
    return (*end || errno || !isfinite(*v)) ? -1 : 0;
}

// ---- the set of run keys ------------------------------------------------

static int key_cmp(const void *pa, const void *pb) {
    const run_key *a = pa, *b = pb;
    if (a->period != b->period) return a->period < b->period ? -1 : 1;
    if (a->seed != b->seed) return a->seed < b->seed ? -1 : 1;
    return strcmp(a->protocol, b->protocol);
}

static void key_free(void *p) {
    run_key *k = p;
    free(k->protocol);
    free(k);
}

// Adds the key: 1 if new (*stored = the set's copy of the protocol), 0 if it
// was already there, -1 out of memory.
static int key_add(fpt_traces_csv *t, const char *protocol, long period, long long seed,
                   const char **stored) {
    run_key *k = malloc(sizeof *k);
    if (!k || !(k->protocol = strdup(protocol))) {
        free(k);
        return -1;
    }
    k->period = period, k->seed = seed;
    run_key **in = tsearch(k, &t->seen, key_cmp);
    if (!in || *in != k) {
        key_free(k);
        return in ? 0 : -1;
    }
    *stored = k->protocol;
    return 1;
}

// ---- rows ---------------------------------------------------------------

// Splits and validates one data line (modified in place).
static int parse_row(char *line, const char *path, long lineno, row *r, fpt_err *err) {
    char *field[NFIELDS];
    int nf = 0;
    field[nf++] = line;
    for (char *p = line; *p; p++) {
        if (*p == ',') {
            *p = '\0';
            if (nf == NFIELDS) {
                nf++;
                break;
            }
            field[nf++] = p + 1;
        }
    }
    if (nf != NFIELDS)
        return fpt_fail(err, "%s:%ld: expected 5 comma-separated fields " FPT_TRACES_CSV_HEADER,
                        path, lineno);
    r->protocol = field[0];
    if (!*r->protocol) return fpt_fail(err, "%s:%ld: empty protocol", path, lineno);
    if (parse_long(field[1], &r->period) || r->period < 0)
        return fpt_fail(err, "%s:%ld: bad period '%s' (an integer >= 0)", path, lineno, field[1]);
    if (parse_ll(field[2], &r->seed))
        return fpt_fail(err, "%s:%ld: bad seed '%s' (an integer)", path, lineno, field[2]);
    if (parse_long(field[3], &r->epoch))
        return fpt_fail(err, "%s:%ld: bad epoch '%s' (an integer)", path, lineno, field[3]);
    if (r->epoch < 1)
        return fpt_fail(err, "%s:%ld: epoch %ld < 1 (epochs count from 1)", path, lineno,
                        r->epoch);
    if (parse_double(field[4], &r->acc))
        return fpt_fail(err, "%s:%ld: bad number '%s' for test_acc", path, lineno, field[4]);
    if (r->acc < 0.0 || r->acc > 100.0)
        return fpt_fail(err, "%s:%ld: test_acc %s outside [0, 100] (percent)", path, lineno,
                        field[4]);
    const int is_none = strcmp(r->protocol, "none") == 0;
    if (is_none && r->period != 0)
        return fpt_fail(err, "%s:%ld: protocol none needs period 0, not %ld", path, lineno,
                        r->period);
    if (!is_none && r->period < 1)
        return fpt_fail(err, "%s:%ld: protocol %s needs a period >= 1", path, lineno,
                        r->protocol);
    return 0;
}

// Hands the buffered run (if any) to the callback.
static int emit_run(fpt_traces_csv *t, fpt_trace_run_fn on_run, void *ctx, fpt_err *err) {
    if (t->n == 0) return 0;
    const fpt_trace_run run = {t->protocol, t->period, t->seed, t->acc, t->n, t->first_line};
    if (on_run(&run, ctx, err)) return fpt_err_prefix(err, "%s:%ld: ", t->path, t->first_line);
    t->n = 0;
    return 0;
}

// Starts a new run at row r (line lineno), refusing a key seen before.
static int start_run(fpt_traces_csv *t, const row *r, long lineno, fpt_err *err) {
    const char *stored = NULL;
    int added = key_add(t, r->protocol, r->period, r->seed, &stored);
    if (added < 0) return fpt_fail(err, "%s:%ld: out of memory", t->path, lineno);
    if (added == 0)
        return fpt_fail(err,
                        "%s:%ld: run (%s, period %ld, seed %lld) appears again: the rows of a "
                        "run must be contiguous",
                        t->path, lineno, r->protocol, r->period, r->seed);
    t->protocol = stored;
    t->period = r->period;
    t->seed = r->seed;
    t->first_line = lineno;
    if (r->epoch != 1)
        return fpt_fail(err, "%s:%ld: run (%s, period %ld, seed %lld) starts at epoch %ld, not 1",
                        t->path, lineno, r->protocol, r->period, r->seed, r->epoch);
    return 0;
}

// Row r continues the current run: its epoch must be the next one.
static int continue_run(const fpt_traces_csv *t, const row *r, long lineno, fpt_err *err) {
    const int prev = t->n;   // epochs 1..n so far
    if (r->epoch == prev)
        return fpt_fail(err, "%s:%ld: duplicate epoch %ld of run (%s, period %ld, seed %lld)",
                        t->path, lineno, r->epoch, r->protocol, r->period, r->seed);
    if (r->epoch != prev + 1)
        return fpt_fail(err,
                        "%s:%ld: epoch %ld after epoch %d in run (%s, period %ld, seed %lld): "
                        "epochs must be 1..n in order without gaps",
                        t->path, lineno, r->epoch, prev, r->protocol, r->period, r->seed);
    return 0;
}

static int push_acc(fpt_traces_csv *t, double acc, long lineno, fpt_err *err) {
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 256;
        double *na = realloc(t->acc, (size_t)cap * sizeof *na);
        if (!na) return fpt_fail(err, "%s:%ld: out of memory for %d epochs", t->path, lineno, cap);
        t->acc = na;
        t->cap = cap;
    }
    t->acc[t->n++] = acc;
    return 0;
}

// Strips the line end; refuses a NUL inside the line.
static int chomp(char *line, ssize_t len, const char *path, long lineno, fpt_err *err) {
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if ((size_t)len != strlen(line)) return fpt_fail(err, "%s:%ld: NUL byte in line", path, lineno);
    return 0;
}

// ---- the reader ---------------------------------------------------------

void fpt_traces_csv_close(fpt_traces_csv *t) {
    if (!t) return;
    if (t->f) fclose(t->f);
    tdestroy(t->seen, key_free);
    free(t->acc);
    free(t->path);
    free(t);
}

int fpt_traces_csv_open(fpt_traces_csv **out, const char *path, fpt_err *err) {
    *out = NULL;
    fpt_traces_csv *t = calloc(1, sizeof *t);
    if (!t || !(t->path = strdup(path))) {
        free(t);
        return fpt_fail(err, "%s: out of memory", path);
    }
    t->f = fopen(path, "r");
    if (!t->f) {
        fpt_fail(err, "%s: cannot open: %s", path, strerror(errno));
        fpt_traces_csv_close(t);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, t->f);
    int rc = 0;
    if (len < 0) {
        rc = fpt_fail(err, "%s:1: empty file, expected the header " FPT_TRACES_CSV_HEADER, path);
    } else {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (strcmp(line, FPT_TRACES_CSV_HEADER) != 0)
            rc = fpt_fail(err, "%s:1: expected the header " FPT_TRACES_CSV_HEADER ", got '%.80s'",
                          path, line);
    }
    free(line);
    if (rc) {
        fpt_traces_csv_close(t);
        return -1;
    }
    *out = t;
    return 0;
}

int fpt_traces_csv_read(fpt_traces_csv *t, fpt_trace_run_fn on_run, void *ctx, fpt_err *err) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 1;
    int rc = -1;
    while ((len = getline(&line, &cap, t->f)) >= 0) {
        lineno++;
        row r = {0};   // (set by parse_row; gcc cannot see that fpt_fail returns -1)
        if (chomp(line, len, t->path, lineno, err) || parse_row(line, t->path, lineno, &r, err))
            goto out;
        const int same = t->n > 0 && strcmp(t->protocol, r.protocol) == 0 &&
                         t->period == r.period && t->seed == r.seed;
        if (same ? continue_run(t, &r, lineno, err)
                 : emit_run(t, on_run, ctx, err) || start_run(t, &r, lineno, err))
            goto out;
        if (push_acc(t, r.acc, lineno, err)) goto out;
    }
    if (ferror(t->f)) {
        fpt_fail(err, "%s:%ld: read error: %s", t->path, lineno + 1, strerror(errno));
        goto out;
    }
    if (emit_run(t, on_run, ctx, err)) goto out;
    rc = 0;
out:
    free(line);
    return rc;
}
