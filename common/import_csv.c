// import_csv.c — see import_csv.h.
#include "import_csv.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "first_passage.h"

#define HEADER "protocol,period,seed,epoch,test_acc"
#define NFIELDS 5

// The run being read: its key, first line and epochs so far.
typedef struct run_buf {
    char *protocol;
    long period;
    long long seed;
    int64_t job_id;
    long first_line;
    fpt_epoch_record *recs;
    double *acc;
    int n, cap;
} run_buf;

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

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

// Stores the buffered run's epochs and first passages and marks it done.
static int flush_run(fpt_store *s, run_buf *r, const double *targets, int n_targets,
                     fpt_err *err) {
    if (r->n == 0) return 0;
    if (fpt_store_add_epochs(s, r->job_id, r->recs, r->n, err)) return -1;
    for (int k = 0; k < n_targets; k++) {
        int t = fpt_first_passage(r->acc, r->n, targets[k]);
        if (fpt_store_first_passage(s, r->job_id, targets[k], t, r->n, err)) return -1;
    }
    if (fpt_store_job_finish(s, r->job_id, FPT_JOB_DONE, err)) return -1;
    r->n = 0;
    return 0;
}

static int push_epoch(run_buf *r, int epoch, double acc, fpt_err *err) {
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 256;
        fpt_epoch_record *nr = realloc(r->recs, (size_t)cap * sizeof *nr);
        if (!nr) return fpt_fail(err, "out of memory for %d epochs", cap);
        r->recs = nr;
        double *na = realloc(r->acc, (size_t)cap * sizeof *na);
        if (!na) return fpt_fail(err, "out of memory for %d epochs", cap);
        r->acc = na;
        r->cap = cap;
    }
    fpt_epoch_record *e = &r->recs[r->n];
    e->epoch = epoch;
    e->train_loss = e->test_loss = e->lr = e->seconds = NAN;
    e->test_acc = acc;
    e->perturbed = 0;
    r->acc[r->n++] = acc;
    return 0;
}

static int import_rows(fpt_store *s, FILE *f, const char *path, int64_t exp_id,
                       const double *targets, int n_targets, run_buf *r, fpt_err *err) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 1;
    int rc = -1;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if ((size_t)len != strlen(line)) {
            fpt_fail(err, "%s:%ld: NUL byte in line", path, lineno);
            goto out;
        }
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
        if (nf != NFIELDS) {
            fpt_fail(err, "%s:%ld: expected 5 comma-separated fields " HEADER, path, lineno);
            goto out;
        }
        const char *protocol = field[0];
        long period, epoch;
        long long seed;
        double acc;
        if (!*protocol) {
            fpt_fail(err, "%s:%ld: empty protocol", path, lineno);
            goto out;
        }
        if (parse_long(field[1], &period) || period < 0) {
            fpt_fail(err, "%s:%ld: bad period '%s' (an integer >= 0)", path, lineno, field[1]);
            goto out;
        }
        if (parse_ll(field[2], &seed)) {
            fpt_fail(err, "%s:%ld: bad seed '%s' (an integer)", path, lineno, field[2]);
            goto out;
        }
        if (parse_long(field[3], &epoch)) {
            fpt_fail(err, "%s:%ld: bad epoch '%s' (an integer)", path, lineno, field[3]);
            goto out;
        }
        if (epoch < 1) {
            fpt_fail(err, "%s:%ld: epoch %ld < 1 (epochs count from 1)", path, lineno, epoch);
            goto out;
        }
        if (parse_double(field[4], &acc)) {
            fpt_fail(err, "%s:%ld: bad number '%s' for test_acc", path, lineno, field[4]);
            goto out;
        }
        if (acc < 0.0 || acc > 100.0) {
            fpt_fail(err, "%s:%ld: test_acc %s outside [0, 100] (percent)", path, lineno, field[4]);
            goto out;
        }
        int is_none = strcmp(protocol, "none") == 0;
        if (is_none && period != 0) {
            fpt_fail(err, "%s:%ld: protocol none needs period 0, not %ld", path, lineno, period);
            goto out;
        }
        if (!is_none && period < 1) {
            fpt_fail(err, "%s:%ld: protocol %s needs a period >= 1", path, lineno, protocol);
            goto out;
        }

        int same = r->protocol && strcmp(r->protocol, protocol) == 0 && r->period == period &&
                   r->seed == seed;
        if (!same) {
            if (flush_run(s, r, targets, n_targets, err)) {
                fpt_err_prefix(err, "%s:%ld: ", path, r->first_line);
                goto out;
            }
            free(r->protocol);
            r->protocol = strdup(protocol);
            if (!r->protocol) {
                fpt_fail(err, "%s:%ld: out of memory", path, lineno);
                goto out;
            }
            r->period = period;
            r->seed = seed;
            r->first_line = lineno;
            int created;
            if (fpt_store_job(s, exp_id, protocol, is_none ? "none" : "periodic", (double)period,
                              (int64_t)seed, &r->job_id, &created, err)) {
                fpt_err_prefix(err, "%s:%ld: ", path, lineno);
                goto out;
            }
            if (!created) {
                fpt_fail(err,
                         "%s:%ld: run (%s, period %ld, seed %lld) appears again: the rows of "
                         "a run must be contiguous",
                         path, lineno, protocol, period, seed);
                goto out;
            }
            if (epoch != 1) {
                fpt_fail(err, "%s:%ld: run (%s, period %ld, seed %lld) starts at epoch %ld, not 1",
                         path, lineno, protocol, period, seed, epoch);
                goto out;
            }
        } else {
            int prev = r->recs[r->n - 1].epoch;
            if (epoch == prev) {
                fpt_fail(err, "%s:%ld: duplicate epoch %ld of run (%s, period %ld, seed %lld)",
                         path, lineno, epoch, protocol, period, seed);
                goto out;
            }
            if (epoch != prev + 1) {
                fpt_fail(err,
                         "%s:%ld: epoch %ld after epoch %d in run (%s, period %ld, seed %lld): "
                         "epochs must be 1..n in order without gaps",
                         path, lineno, epoch, prev, protocol, period, seed);
                goto out;
            }
        }
        if (push_epoch(r, (int)epoch, acc, err)) {
            fpt_err_prefix(err, "%s:%ld: ", path, lineno);
            goto out;
        }
    }
    if (ferror(f)) {
        fpt_fail(err, "%s:%ld: read error: %s", path, lineno + 1, strerror(errno));
        goto out;
    }
    if (flush_run(s, r, targets, n_targets, err)) {
        fpt_err_prefix(err, "%s:%ld: ", path, r->first_line);
        goto out;
    }
    rc = 0;
out:
    free(line);
    return rc;
}

int fpt_import_csv(fpt_store *s, const char *csv_path, const char *experiment_name,
                   const double *targets, int n_targets, fpt_err *err) {
    if (n_targets < 1 || n_targets > 64)
        return fpt_fail(err, "%s: import needs 1 to 64 targets, got %d", csv_path, n_targets);
    char spec[1024];
    const char *base = strrchr(csv_path, '/');
    base = base ? base + 1 : csv_path;
    int off = snprintf(spec, sizeof spec, "import of %s (" HEADER "); targets", base);
    for (int k = 0; k < n_targets; k++) {
        if (!isfinite(targets[k]) || targets[k] < 0.0 || targets[k] > 100.0)
            return fpt_fail(err, "%s: target %g outside [0, 100] (percent)", csv_path, targets[k]);
        if (off > 0 && (size_t)off < sizeof spec)
            off += snprintf(spec + off, sizeof spec - (size_t)off, "%s%g", k ? "," : " ",
                            targets[k]);
    }
    char hash[17];
    snprintf(hash, sizeof hash, "%016" PRIx64, fnv1a(spec));

    FILE *f = fopen(csv_path, "r");
    if (!f) return fpt_fail(err, "%s: cannot open: %s", csv_path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, f);
    if (len < 0) {
        free(line);
        fclose(f);
        return fpt_fail(err, "%s:1: empty file, expected the header " HEADER, csv_path);
    }
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if (strcmp(line, HEADER) != 0) {
        fpt_fail(err, "%s:1: expected the header " HEADER ", got '%.80s'", csv_path, line);
        free(line);
        fclose(f);
        return -1;
    }
    free(line);

    run_buf r = {0};
    int rc = -1;
    if (fpt_store_begin(s, err)) goto out;
    int64_t exp_id;
    int created;
    if (fpt_store_experiment(s, experiment_name, spec, hash, "import", &exp_id, &created, err))
        goto rollback;
    if (!created) {
        fpt_fail(err, "%s: experiment '%s' already exists; import into a new name",
                 fpt_store_path(s), experiment_name);
        goto rollback;
    }
    if (import_rows(s, f, csv_path, exp_id, targets, n_targets, &r, err)) goto rollback;
    if (fpt_store_commit(s, err)) goto out;
    rc = 0;
    goto out;
rollback:
    fpt_store_rollback(s);
out:
    free(r.protocol);
    free(r.recs);
    free(r.acc);
    fclose(f);
    return rc;
}
