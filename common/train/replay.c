// replay.c — the replay engine's trace table (see replay.h).
//
// Every accuracy of the file is kept, as double, in one pool (the study's
// 598,400 rows are 4.8 MB); a run is an offset and a length into it.
#include "train/replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/rng.h"
#include "data/traces_csv.h"

typedef struct replay_run {
    size_t offset;   // into pool
    int n_epochs;
} replay_run;

// A (protocol, period) and its runs: indices into runs[], in file order
// while loading, then in the condition's fixed permuted order.
typedef struct replay_cond {
    char *protocol;
    long period;   // epochs; 0 for none
    int *runs;
    int n, cap;
} replay_cond;

struct fpt_replay {
    char *path;
    double *pool;
    size_t pool_n;
    int pool_cap;   // elements; grow() stops at 2^30 (8 GB), beyond any table
    replay_run *runs;
    int n_runs, runs_cap;
    replay_cond *conds;   // in order of first appearance in the file
    int n_conds, conds_cap;
};

// The array p (capacity *cap elements of `size` bytes) grown to hold `need`
// elements: the same or a new pointer, or NULL (p intact) out of memory.
static void *grow(void *p, int *cap, size_t need, size_t size) {
    if (need <= (size_t)*cap) return p;
    size_t n = *cap ? (size_t)*cap : 64;
    while (n < need) n *= 2;
    if (n > 0x7fffffff) return NULL;
    void *q = realloc(p, n * size);
    if (q) *cap = (int)n;
    return q;
}

static replay_cond *find_cond(const fpt_replay *r, const char *protocol, double period) {
    for (int i = r->n_conds - 1; i >= 0; i--)   // the last one first: runs come grouped
        if ((double)r->conds[i].period == period && strcmp(r->conds[i].protocol, protocol) == 0)
            return &r->conds[i];
    return NULL;
}

static replay_cond *add_cond(fpt_replay *r, const char *protocol, long period) {
    replay_cond *conds = grow(r->conds, &r->conds_cap, (size_t)r->n_conds + 1, sizeof *conds);
    if (!conds) return NULL;
    r->conds = conds;
    char *name = strdup(protocol);
    if (!name) return NULL;
    replay_cond *c = &r->conds[r->n_conds++];
    *c = (replay_cond){.protocol = name, .period = period};
    return c;
}

// Room for one more run of n epochs, in the pool, the run list and c's list.
static int make_room(fpt_replay *r, replay_cond *c, size_t n) {
    double *pool = grow(r->pool, &r->pool_cap, r->pool_n + n, sizeof *pool);
    if (!pool) return -1;
    r->pool = pool;
    replay_run *runs = grow(r->runs, &r->runs_cap, (size_t)r->n_runs + 1, sizeof *runs);
    if (!runs) return -1;
    r->runs = runs;
    int *mine = grow(c->runs, &c->cap, (size_t)c->n + 1, sizeof *mine);
    if (!mine) return -1;
    c->runs = mine;
    return 0;
}

// traces_csv callback: one run into the pool and its condition.
static int keep_run(const fpt_trace_run *run, void *ctx, fpt_err *err) {
    fpt_replay *r = ctx;
    replay_cond *c = find_cond(r, run->protocol, (double)run->period);
    if (!c && !(c = add_cond(r, run->protocol, run->period)))
        return fpt_fail(err, "out of memory for condition %s period %ld", run->protocol,
                        run->period);
    const size_t n = (size_t)run->n_epochs;
    if (make_room(r, c, n))
        return fpt_fail(err, "out of memory after %d runs (%zu accuracies)", r->n_runs,
                        r->pool_n);
    memcpy(r->pool + r->pool_n, run->acc, n * sizeof *run->acc);
    r->runs[r->n_runs] = (replay_run){r->pool_n, run->n_epochs};
    r->pool_n += n;
    c->runs[c->n++] = r->n_runs++;
    return 0;
}

// Fisher-Yates over the condition's runs, from a seed that depends on the
// condition alone ("shrink_perturb/20"): the same sample on every machine,
// whatever else the file holds.
static void shuffle(replay_cond *c) {
    char period[24];
    snprintf(period, sizeof period, "/%ld", c->period);
    uint64_t h = fpt_fnv1a(FPT_FNV1A_INIT, c->protocol, strlen(c->protocol));
    h = fpt_fnv1a(h, period, strlen(period));   // FNV-1a of "protocol/period"
    fpt_rng g;
    fpt_rng_init(&g, h, FPT_RNG_REPLAY, 0);
    for (int i = c->n - 1; i > 0; i--) {
        const int j = (int)fpt_rng_below(&g, (uint32_t)i + 1);
        const int t = c->runs[i];
        c->runs[i] = c->runs[j];
        c->runs[j] = t;
    }
}

void fpt_replay_free(fpt_replay *r) {
    if (!r) return;
    for (int i = 0; i < r->n_conds; i++) {
        free(r->conds[i].protocol);
        free(r->conds[i].runs);
    }
    free(r->conds);
    free(r->runs);
    free(r->pool);
    free(r->path);
    free(r);
}

int fpt_replay_load(fpt_replay **out, const char *csv_path, fpt_err *err) {
    *out = NULL;
    fpt_replay *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(csv_path))) {
        free(r);
        return fpt_fail(err, "%s: out of memory", csv_path);
    }
    fpt_traces_csv *t;
    if (fpt_traces_csv_open(&t, csv_path, err) || fpt_traces_csv_read(t, keep_run, r, err)) {
        fpt_traces_csv_close(t);   // NULL when the open failed
        fpt_replay_free(r);
        return -1;
    }
    fpt_traces_csv_close(t);
    for (int i = 0; i < r->n_conds; i++) shuffle(&r->conds[i]);
    *out = r;
    return 0;
}

int fpt_replay_count(const fpt_replay *r, const char *protocol, double period) {
    const replay_cond *c = find_cond(r, protocol, period);
    return c ? c->n : 0;
}

static int cond_order(const void *pa, const void *pb) {
    const replay_cond *a = *(const replay_cond *const *)pa, *b = *(const replay_cond *const *)pb;
    int c = strcmp(a->protocol, b->protocol);
    return c ? c : (a->period > b->period) - (a->period < b->period);
}

// "none 0 (1000 runs), shrink_perturb 1 (114 runs), ..." into buf, sorted by
// protocol and period, cut to whole entries and "and N more" when it does
// not fit.
static void list_conds(const fpt_replay *r, char *buf, size_t cap) {
    const replay_cond **order = malloc(sizeof *order * (size_t)(r->n_conds ? r->n_conds : 1));
    if (r->n_conds == 0 || !order) {
        snprintf(buf, cap, r->n_conds ? "%d conditions" : "no runs", r->n_conds);
        free(order);
        return;
    }
    for (int i = 0; i < r->n_conds; i++) order[i] = &r->conds[i];
    qsort(order, (size_t)r->n_conds, sizeof *order, cond_order);
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < r->n_conds; i++) {
        char item[200];
        snprintf(item, sizeof item, "%s%s %ld (%d runs)", i ? ", " : "", order[i]->protocol,
                 order[i]->period, order[i]->n);
        if (off + strlen(item) + 24 >= cap) {
            snprintf(buf + off, cap - off, ", and %d more", r->n_conds - i);
            break;
        }
        off += (size_t)snprintf(buf + off, cap - off, "%s", item);
    }
    free(order);
}

int fpt_replay_trace(const fpt_replay *r, const char *protocol, double period, uint64_t seed,
                     const double **acc, int *n_epochs, fpt_err *err) {
    const replay_cond *c = find_cond(r, protocol, period);
    if (!c) {
        char held[600];
        list_conds(r, held, sizeof held);
        return fpt_fail(err, "%s: no recorded runs for %s period %g (it holds: %s)", r->path,
                        protocol, period, held);
    }
    const replay_run *run = &r->runs[c->runs[seed % (uint64_t)c->n]];
    *acc = r->pool + run->offset;
    *n_epochs = run->n_epochs;
    return 0;
}
