// job_spec.c — experiment specs: parsing, checks, expansion into jobs,
// canonical form and hash (see job_spec.h).
//
// inih reads the text through our own line reader.  The reader counts lines
// exactly as inih does (one reader call per line; lines longer than inih's
// buffer are refused instead of being split), so a handler call knows its
// line.  It also classifies each line the way inih 55 does, which shows the
// section headers (inih calls the handler only for keys, so empty sections
// such as [none] would otherwise be invisible) and catches indented
// continuation lines.
#include "campaign/job_spec.h"
#include "base/hash.h"
#include "base/memory.h"
#include "base/text.h"

#include <errno.h>
#include <stddef.h>
#include <ctype.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Sections: [experiment], one per protocol of the protocol table (in table
// order, so section SEC_PROTO + k is protocol kind k), then the settings
// sections (aux_keys below).
enum {
    SEC_EXPERIMENT,
    SEC_PROTO,
    SEC_NONE = SEC_PROTO + FPT_PROTO_NONE,
    SEC_CAMPAIGN = SEC_PROTO + FPT_PROTO_COUNT, SEC_SYNTHETIC, SEC_REPLAY,
    N_SEC
};
static int is_protocol_section(int sec) {
    return sec >= SEC_PROTO && sec < SEC_PROTO + FPT_PROTO_COUNT;
}
static fpt_protocol_kind kind_of(int sec) { return (fpt_protocol_kind)(sec - SEC_PROTO); }

static const char *section_name(int sec) {
    if (is_protocol_section(sec)) return fpt_protocol_name(kind_of(sec));
    return sec == SEC_EXPERIMENT ? "experiment"
           : sec == SEC_CAMPAIGN ? "campaign"
           : sec == SEC_SYNTHETIC ? "synthetic"
           : sec == SEC_REPLAY    ? "replay"
                                  : "?";
}

// "experiment, none, reset, ..., replay", for messages.
static const char *section_list(char *buf, size_t len) {
    size_t n = 0;
    buf[0] = 0;
    for (int sec = 0; sec < N_SEC; sec++)
        n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", sec ? ", " : "",
                              section_name(sec));
    return buf;
}

// A protocol section's own key `key` (beyond timing, periods and
// probabilities): the protocol table's, except those it inherits from the
// run's settings (eta_min, an [experiment] key).  NULL if none.
static const fpt_protocol_key *param_of(int sec, const char *key) {
    if (!is_protocol_section(sec)) return NULL;
    const fpt_protocol_def *d = fpt_protocol_def_of(kind_of(sec));
    for (int i = 0; d->keys[i]; i++)
        if (!d->keys[i]->inherited && !strcmp(d->keys[i]->name, key)) return d->keys[i];
    return NULL;
}

// Keys of the settings sections: each sets one field of fpt_job_spec.
typedef enum { AUX_DOUBLE, AUX_LONG, AUX_INT, AUX_MODE, AUX_PATH } aux_type;
typedef struct aux_key {
    int sec;
    const char *name;
    aux_type type;
    double lo, hi;   // accepted range, inclusive (numbers)
    size_t off;      // of the field in fpt_job_spec
} aux_key;
#define F(field) offsetof(fpt_job_spec, field)
static const aux_key aux_keys[] = {
    {SEC_CAMPAIGN, "mode", AUX_MODE, 0, 0, F(campaign.adaptive)},
    {SEC_CAMPAIGN, "budget_runs", AUX_LONG, 1, 1e9, F(campaign.budget_runs)},
    {SEC_CAMPAIGN, "budget_epochs", AUX_LONG, 1, 1e15, F(campaign.budget_epochs)},
    {SEC_CAMPAIGN, "precision", AUX_DOUBLE, 1e-3, 1, F(campaign.precision)},
    {SEC_CAMPAIGN, "baseline_share", AUX_DOUBLE, 0.01, 0.9, F(campaign.baseline_share)},
    {SEC_CAMPAIGN, "reference_share", AUX_DOUBLE, 0.01, 0.9, F(campaign.reference_share)},
    {SEC_CAMPAIGN, "confirm", AUX_INT, 1, 20, F(campaign.confirm)},
    {SEC_CAMPAIGN, "tolerance", AUX_DOUBLE, 0, 0.5, F(campaign.tolerance)},
    {SEC_CAMPAIGN, "batch", AUX_INT, 1, 100000, F(campaign.batch)},
    {SEC_CAMPAIGN, "min_runs", AUX_INT, 2, 100000, F(campaign.min_runs)},
    {SEC_SYNTHETIC, "burn_in", AUX_INT, 1, 100000, F(law.burn_in)},
    {SEC_SYNTHETIC, "fast_share", AUX_DOUBLE, 0, 1, F(law.fast_share)},
    {SEC_SYNTHETIC, "fast_hazard", AUX_DOUBLE, 0, 1, F(law.fast_hazard)},
    {SEC_SYNTHETIC, "slow_hazard", AUX_DOUBLE, 0, 1, F(law.slow_hazard)},
    // ... then after_<protocol> for each protocol with a synthetic
    // after-hazard (aux_find makes those entries from the protocol table)
    {SEC_REPLAY, "data", AUX_PATH, 0, 0, F(replay_path)},
};
#undef F
#define N_AUX (sizeof aux_keys / sizeof aux_keys[0])

const fpt_campaign_spec fpt_campaign_spec_default = {
    .adaptive = 0, .precision = 0.1, .baseline_share = 0.3, .reference_share = 0.3,
    .confirm = 3, .tolerance = 0.05, .batch = 20, .min_runs = 10,
};

const char *fpt_engine_name(fpt_engine e) {
    return e == FPT_ENGINE_SYNTHETIC ? "synthetic" : e == FPT_ENGINE_REPLAY ? "replay" : "train";
}

#define MAX_KEYS 64
#define MAX_RANGES 128
#define LIMIT_STR "1000000"

typedef struct key_rec {
    char name[40];
    int line;
} key_rec;

typedef struct section {
    int present, line;
    int n_keys;
    key_rec keys[MAX_KEYS];
    int timing_set;
    fpt_timing timing;
    fpt_protocol params;   // a protocol section's own keys, over the defaults
    int n_periods, n_probs, periods_line, probs_line;
    double periods[FPT_JOB_MAX_FREQS], probs[FPT_JOB_MAX_FREQS];
} section;

typedef struct ctx {
    fpt_job_spec *s;
    fpt_err *err;
    const char *text;
    size_t len, pos;
    int lineno;
    char prev_name[64];    // inih's: the last key, "" after a section header
    int cur;               // current section, -1 before the first
    int failed, err_line;  // first error (err->msg) and its line
    int order[N_SEC];      // protocol sections in file order
    int n_order;
    section sec[N_SEC];
    int name_set, seeds_set;
    int n_ranges;
    uint64_t lo[MAX_RANGES], hi[MAX_RANGES];
} ctx;

static int fail_here(ctx *c, int line) {
    c->failed = 1;
    c->err_line = line;
    return 0;   // for inih: "error on this line"
}

#define FAIL(c, line, ...) (fpt_fail((c)->err, __VA_ARGS__), fail_here((c), (line)))

// ---- lists --------------------------------------------------------------

static char *trim(char *p) {
    while (isspace((unsigned char)*p)) p++;
    char *e = p + strlen(p);
    while (e > p && isspace((unsigned char)e[-1])) *--e = 0;
    return p;
}

// Splits `value` at commas into trimmed items (empty items kept, so "1,,2"
// is caught).  Returns the count, or -1 if there are more than `max`.
static int split(char *buf, char **items, int max) {
    int n = 0;
    char *p = buf;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = 0;
        if (n == max) return -1;
        items[n++] = trim(p);
        if (!comma) return n;
        p = comma + 1;
    }
}

static int parse_u63(const char *p, const char **end, uint64_t *out) {
    if (!isdigit((unsigned char)*p)) return -1;
    uint64_t v = 0;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_C(9223372036854775807) - d) / 10) return -1;
        v = v * 10 + d;
    }
    *end = p;
    *out = v;
    return 0;
}

static int cmp_range(const void *a, const void *b) {
    const uint64_t *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

static int parse_seeds(ctx *c, const char *value, int line) {
    char buf[256], *items[MAX_RANGES];
    snprintf(buf, sizeof buf, "%s", value);
    if (!*trim(buf)) return FAIL(c, line, "seeds: empty list (expected e.g. 1-100 or 1,2,3)");
    int n = split(buf, items, MAX_RANGES);
    if (n < 0) return FAIL(c, line, "seeds: more than %d items", MAX_RANGES);
    uint64_t pairs[MAX_RANGES][2];
    for (int i = 0; i < n; i++) {
        const char *p = items[i], *e;
        uint64_t a, b;
        if (!*p) return FAIL(c, line, "seeds: empty item in '%s'", value);
        if (parse_u63(p, &e, &a)) goto bad;
        while (*e == ' ' || *e == '\t') e++;
        b = a;
        if (*e == '-') {
            e++;
            while (*e == ' ' || *e == '\t') e++;
            if (parse_u63(e, &e, &b)) goto bad;
        }
        if (*e) goto bad;
        if (a > b) return FAIL(c, line, "seeds: range '%s' is empty (start above end)", p);
        c->lo[i] = pairs[i][0] = a;
        c->hi[i] = pairs[i][1] = b;
        continue;
    bad:
        return FAIL(c, line,
                    "seeds: '%s' is not a seed or a range (expected N or A-B, integers "
                    "0..9223372036854775807)",
                    p);
    }
    qsort(pairs, (size_t)n, sizeof pairs[0], cmp_range);
    for (int i = 1; i < n; i++)
        if (pairs[i][0] <= pairs[i - 1][1])
            return FAIL(c, line, "seeds: seed %llu is listed twice",
                        (unsigned long long)pairs[i][0]);
    c->n_ranges = n;
    c->seeds_set = 1;
    return 1;
}

// periods (integers 1..100000) or probabilities (0, 1]; no duplicates.
static int parse_freqs(ctx *c, const char *key, const char *value, int line, int integers,
                       double *out, int *n_out) {
    char buf[256], *items[FPT_JOB_MAX_FREQS];
    snprintf(buf, sizeof buf, "%s", value);
    if (!*trim(buf))
        return FAIL(c, line, "%s: empty list (expected e.g. %s)", key,
                    integers ? "1,2,5,10" : "0.01,0.05");
    int n = split(buf, items, FPT_JOB_MAX_FREQS);
    if (n < 0) return FAIL(c, line, "%s: more than %d items", key, FPT_JOB_MAX_FREQS);
    for (int i = 0; i < n; i++) {
        char *end;
        errno = 0;
        double d = strtod(items[i], &end);
        int ok = !errno && end != items[i] && !*end;
        // Range first: casting NaN or a double beyond long's range is undefined.
        if (integers) ok = ok && d >= 1 && d <= 100000 && d == (double)(long)d;
        else ok = ok && d > 0.0 && d <= 1.0;
        if (!ok)
            return FAIL(c, line,
                        integers ? "%s: '%s' is not an integer in 1..100000"
                                 : "%s: '%s' is not a probability in (0, 1]",
                        key, items[i]);
        for (int j = 0; j < i; j++)
            if (out[j] == d) return FAIL(c, line, "%s: %s is listed twice", key, items[i]);
        out[i] = d;
    }
    *n_out = n;
    return 1;
}

// ---- keys ---------------------------------------------------------------

// Per-run or protocol keys refused in [experiment], with where they belong.
static int misplaced_in_experiment(ctx *c, const char *key, int line) {
    if (!strcmp(key, "protocol"))
    {
        char list[256] = "";
        for (int sec = SEC_PROTO; sec < SEC_PROTO + FPT_PROTO_COUNT; sec++) {
            const size_t at = strlen(list);
            snprintf(list + at, sizeof list - at, "%s[%s]", sec > SEC_PROTO ? ", " : "",
                     section_name(sec));
        }
        return FAIL(c, line, "'protocol' does not belong in [experiment]: each protocol is its "
                             "own section (%s)", list);
    }
    if (!strcmp(key, "timing"))
        return FAIL(c, line, "'timing' does not belong in [experiment]: set it in each protocol "
                             "section");
    if (!strcmp(key, "period") || !strcmp(key, "prob"))
        return FAIL(c, line, "'%s' does not belong in [experiment]: list the frequencies in each "
                             "protocol section ('periods = 1,2,5' or 'probabilities = 0.01,0.05')",
                    key);
    const fpt_protocol_key *pk = fpt_protocol_key_named(key);
    if (pk && !pk->inherited) {   // a protocol's own parameter: name its section(s)
        char where[256] = "";
        int n_in = 0, total = 0;
        for (int sec = SEC_PROTO; sec < SEC_PROTO + FPT_PROTO_COUNT; sec++)
            total += param_of(sec, key) != NULL;
        for (int sec = SEC_PROTO; sec < SEC_PROTO + FPT_PROTO_COUNT; sec++) {
            if (!param_of(sec, key)) continue;
            const size_t at = strlen(where);
            snprintf(where + at, sizeof where - at, "%s[%s]",
                     n_in == 0 ? "" : n_in == total - 1 ? " or " : ", ", section_name(sec));
            n_in++;
        }
        if (total == 1)
            return FAIL(c, line, "'%s' does not belong in [experiment]: it is a parameter of %s",
                        key, where);
        return FAIL(c, line, "'%s' does not belong in [experiment]: set it in %s", key, where);
    }
    if (!strcmp(key, "seed"))
        return FAIL(c, line, "'seed' does not belong in [experiment]: list the runs' seeds with "
                             "'seeds = 1-100'");
    if (!strcmp(key, "checkpoint") || !strcmp(key, "checkpoint_every") || !strcmp(key, "resume"))
        return FAIL(c, line, "'%s' does not belong in a job spec: the farm sets it for each run",
                    key);
    return -1;   // not misplaced
}

static int is_experiment_key(const char *key) {
    if (!strcmp(key, "name") || !strcmp(key, "seeds")) return 1;
    const char *canon = fpt_train_spec_canonical(key);
    if (!canon) return 0;
    const fpt_protocol_key *pk = fpt_protocol_key_named(canon);
    if (pk && !pk->inherited) return 0;   // timing, period, prob and the protocols' own
    static const char *const refused[] = {"protocol", "seed", "checkpoint", "checkpoint_every",
                                          "resume"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (!strcmp(canon, refused[i])) return 0;
    return 1;
}

static void experiment_keys(char *buf, size_t len) {
    size_t n = (size_t)snprintf(buf, len, "name, seeds");
    for (size_t i = 0; fpt_train_spec_key(i); i++)
        if (is_experiment_key(fpt_train_spec_key(i)) && n < len)
            n += (size_t)snprintf(buf + n, len - n, ", %s", fpt_train_spec_key(i));
}


static int on_experiment_key(ctx *c, const char *key, const char *value, int line) {
    fpt_job_spec *s = c->s;
    if (!strcmp(key, "name")) {
        size_t n = strlen(value);
        if (n < 1 || n > 64 || strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                             "0123456789_.-") != n)
            return FAIL(c, line, "name: '%s' is not a name (1..64 characters of A-Z a-z 0-9 _ . -)",
                        value);
        memcpy(s->name, value, n + 1);
        c->name_set = 1;
        return 1;
    }
    if (!strcmp(key, "seeds")) return parse_seeds(c, value, line);
    int m = misplaced_in_experiment(c, key, line);
    if (m >= 0) return m;
    if (!fpt_train_spec_canonical(key)) {
        char list[1024];
        experiment_keys(list, sizeof list);
        return FAIL(c, line, "unknown key '%s' in [experiment] (expected: %s)", key, list);
    }
    if (fpt_train_spec_set(&s->base, key, value, c->err)) return fail_here(c, line);
    return 1;
}

static int on_protocol_key(ctx *c, int sec, const char *key, const char *value, int line) {
    section *S = &c->sec[sec];
    if (sec != SEC_NONE) {
        if (!strcmp(key, "timing")) {
            if (fpt_timing_parse(value, &S->timing, c->err)) return fail_here(c, line);
            S->timing_set = 1;
            return 1;
        }
        if (!strcmp(key, "periods")) {
            S->periods_line = line;
            return parse_freqs(c, key, value, line, 1, S->periods, &S->n_periods);
        }
        if (!strcmp(key, "probabilities")) {
            S->probs_line = line;
            return parse_freqs(c, key, value, line, 0, S->probs, &S->n_probs);
        }
        const fpt_protocol_key *pk = param_of(sec, key);
        if (pk) {
            if (fpt_protocol_key_set(pk, &S->params, value, c->err)) return fail_here(c, line);
            return 1;
        }
    }
    // Unknown: list this section's keys, and say where the key belongs.
    char expected[256], hint[128] = "";
    if (sec == SEC_NONE) {
        snprintf(expected, sizeof expected, "no keys: [none] only adds unperturbed runs");
    } else {
        size_t n = (size_t)snprintf(expected, sizeof expected, "timing, periods, probabilities");
        const fpt_protocol_def *d = fpt_protocol_def_of(kind_of(sec));
        for (int k = 0; d->keys[k]; k++)
            if (!d->keys[k]->inherited)
                n += (size_t)snprintf(expected + n, sizeof expected - n, ", %s", d->keys[k]->name);
    }
    for (int other = SEC_PROTO; other < SEC_PROTO + FPT_PROTO_COUNT; other++) {
        if (other == sec || !param_of(other, key)) continue;
        const size_t at = strlen(hint);
        if (at) snprintf(hint + at, sizeof hint - at, " and [%s]", section_name(other));
        else snprintf(hint, sizeof hint, "; '%s' is a parameter of [%s]", key, section_name(other));
    }
    if (!hint[0] && is_experiment_key(key))
        snprintf(hint, sizeof hint, "; '%s' belongs in [experiment]", key);
    return FAIL(c, line, "unknown key '%s' in [%s] (expected: %s)%s", key, section_name(sec),
                expected, hint);
}

// Whether protocol kind k has a [synthetic] after_<name> key.
static int has_after_key(int k) { return fpt_protocol_def_of((fpt_protocol_kind)k)->synth_after; }

// The settings key `key` of section `sec`, or NULL.  A [synthetic]
// after_<protocol> key is made in *made (its name is `key` itself).
static const aux_key *aux_find(int sec, const char *key, aux_key *made) {
    for (size_t i = 0; i < N_AUX; i++)
        if (aux_keys[i].sec == sec && !strcmp(aux_keys[i].name, key)) return &aux_keys[i];
    if (sec == SEC_SYNTHETIC && !strncmp(key, "after_", 6)) {
        const fpt_protocol_def *d = fpt_protocol_def_named(key + 6);
        if (d && has_after_key(d->kind)) {
            *made = (aux_key){SEC_SYNTHETIC, key, AUX_DOUBLE, 0, 1,
                              offsetof(fpt_job_spec, law.after) + sizeof(double) * d->kind};
            return made;
        }
    }
    return NULL;
}

static int on_aux_key(ctx *c, int sec, const char *key, const char *value, int line) {
    aux_key made;
    const aux_key *k = aux_find(sec, key, &made);
    if (!k) {
        char expected[400];
        size_t n = 0;
        expected[0] = 0;
        for (size_t i = 0; i < N_AUX; i++)
            if (aux_keys[i].sec == sec && n < sizeof expected)
                n += (size_t)snprintf(expected + n, sizeof expected - n, "%s%s", n ? ", " : "",
                                      aux_keys[i].name);
        for (int p = 0; sec == SEC_SYNTHETIC && p < FPT_PROTO_COUNT; p++)
            if (has_after_key(p) && n < sizeof expected)
                n += (size_t)snprintf(expected + n, sizeof expected - n, ", after_%s",
                                      fpt_protocol_name((fpt_protocol_kind)p));
        return FAIL(c, line, "unknown key '%s' in [%s] (expected: %s)", key, section_name(sec),
                    expected);
    }
    char *field = (char *)c->s + k->off;
    switch (k->type) {
    case AUX_MODE:
        if (!strcmp(value, "sweep")) *(int *)field = 0;
        else if (!strcmp(value, "adaptive")) *(int *)field = 1;
        else return FAIL(c, line, "mode: '%s' is not a mode (expected: sweep, adaptive)", value);
        return 1;
    case AUX_PATH: {
        size_t n = strlen(value);
        if (n == 0 || n >= sizeof c->s->replay_path)
            return FAIL(c, line, "%s: expected a file path of 1..%zu characters", key,
                        sizeof c->s->replay_path - 1);
        memcpy(field, value, n + 1);
        return 1;
    }
    default: {
        char *end;
        errno = 0;
        double d = strtod(value, &end);
        int ok = !errno && end != value && !*end && d >= k->lo && d <= k->hi;
        if (ok && k->type != AUX_DOUBLE) ok = d == (double)(long long)d;
        if (!ok)
            return FAIL(c, line, "%s: '%s' is not %s in %g..%g", key, value,
                        k->type == AUX_DOUBLE ? "a number" : "an integer", k->lo, k->hi);
        if (k->type == AUX_DOUBLE) *(double *)field = d;
        else if (k->type == AUX_LONG) *(long *)field = (long)d;
        else *(int *)field = (int)d;
        return 1;
    }
    }
}

static int on_key(void *user, const char *inih_section, const char *name, const char *value) {
    (void)inih_section;   // c->cur, from the reader, is the same section
    ctx *c = user;
    if (c->failed) return 0;
    int line = c->lineno;
    if (c->cur < 0)
        return FAIL(c, line, "key '%s' before any section (start with [experiment])", name);
    char key[40];
    size_t n = strlen(name);
    if (n >= sizeof key) return FAIL(c, line, "unknown key '%.60s' in [%s]", name,
                                     section_name(c->cur));
    for (size_t i = 0; i <= n; i++) key[i] = name[i] == '-' ? '_' : name[i];
    const char *canon = is_protocol_section(c->cur) || c->cur == SEC_EXPERIMENT
                            ? fpt_train_spec_canonical(key)
                            : NULL;
    if (canon) snprintf(key, sizeof key, "%s", canon);
    section *S = &c->sec[c->cur];
    for (int k = 0; k < S->n_keys; k++)
        if (!strcmp(S->keys[k].name, key))
            return FAIL(c, line, "'%s' is set twice in [%s] (first on line %d)", key,
                        section_name(c->cur), S->keys[k].line);
    int ok = c->cur == SEC_EXPERIMENT        ? on_experiment_key(c, key, value, line)
             : is_protocol_section(c->cur) ? on_protocol_key(c, c->cur, key, value, line)
                                           : on_aux_key(c, c->cur, key, value, line);
    if (ok && S->n_keys < MAX_KEYS) {
        snprintf(S->keys[S->n_keys].name, sizeof S->keys[0].name, "%s", key);
        S->keys[S->n_keys++].line = line;
    }
    return ok;
}

// ---- the line reader ----------------------------------------------------

static void open_section(ctx *c, const char *name) {
    for (int i = 0; i < N_SEC; i++)
        if (!strcmp(name, section_name(i))) {
            if (c->sec[i].present) {
                FAIL(c, c->lineno, "section [%s] appears twice (first on line %d)", name,
                     c->sec[i].line);
                return;
            }
            c->sec[i].present = 1;
            c->sec[i].line = c->lineno;
            if (is_protocol_section(i)) c->order[c->n_order++] = i;
            c->cur = i;
            return;
        }
    char list[256];
    FAIL(c, c->lineno, "unknown section [%s] (expected: %s)", name, section_list(list, sizeof list));
}

static char *rstrip(char *s) {
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

// inih's find_chars_or_comment (inline comments: ';' after whitespace).
static char *find_chars_or_comment(char *s, const char *chars) {
    int was_space = 0;
    while (*s && (!chars || !strchr(chars, *s)) && !(was_space && *s == ';')) {
        was_space = isspace((unsigned char)*s);
        s++;
    }
    return s;
}

// Classifies one line as inih 55 does (comment, continuation, section,
// key); acts on section headers and refuses continuations.
static void classify(ctx *c, const char *raw) {
    char b[256];
    snprintf(b, sizeof b, "%s", raw);
    char *start = b;
    if (c->lineno == 1 && (unsigned char)b[0] == 0xEF && (unsigned char)b[1] == 0xBB &&
        (unsigned char)b[2] == 0xBF)
        start += 3;
    start = rstrip(start);
    while (isspace((unsigned char)*start)) start++;
    if (!*start || *start == ';' || *start == '#') return;
    if (c->prev_name[0] && start > b) {
        FAIL(c, c->lineno, "indented line would continue the value of '%s' (continuation lines "
                           "are not supported: remove the indentation)", c->prev_name);
        return;
    }
    if (*start == '[') {
        char *end = find_chars_or_comment(start + 1, "]");
        if (*end == ']') {
            *end = 0;
            c->prev_name[0] = 0;
            open_section(c, start + 1);
        }
        return;   // no ']': inih reports the syntax error
    }
    char *end = find_chars_or_comment(start, "=:");
    if (*end == '=' || *end == ':') {
        *end = 0;
        snprintf(c->prev_name, sizeof c->prev_name, "%s", rstrip(start));
    }
}

static char *read_line(char *str, int num, void *stream) {
    ctx *c = stream;
    if (c->failed || c->pos >= c->len) return NULL;
    const char *p = c->text + c->pos;
    const char *nl = memchr(p, '\n', c->len - c->pos);
    size_t n = nl ? (size_t)(nl - p) + 1 : c->len - c->pos;
    c->lineno++;
    if (n > (size_t)num - 1) {
        FAIL(c, c->lineno, "line longer than %d characters", num - 2);
        return NULL;
    }
    memcpy(str, p, n);
    str[n] = 0;
    c->pos += n;
    classify(c, str);
    return c->failed ? NULL : str;
}

// ---- after parsing ------------------------------------------------------

static int at(ctx *c, int line) {
    return line > 0 ? fpt_err_prefix(c->err, "%s:%d: ", c->s->path, line)
                    : fpt_err_prefix(c->err, "%s: ", c->s->path);
}

static int build_protocols(ctx *c) {
    fpt_job_spec *s = c->s;
    for (int i = 0; i < c->n_order; i++) {
        int sec = c->order[i];
        section *S = &c->sec[sec];
        fpt_job_protocol *jp = &s->protocols[s->n_protocols++];
        jp->line = S->line;
        jp->protocol = S->params;   // the defaults and the section's own keys
        jp->protocol.kind = kind_of(sec);
        jp->protocol.timing = S->timing_set ? S->timing : FPT_TIMING_PERIODIC;
        jp->protocol.eta_min = s->base.run.lr.eta_min;
        if (sec == SEC_NONE) {
            jp->n_freqs = 1;
            jp->freqs[0] = 0.0;
            continue;
        }
        const char *name = section_name(sec);
        int periodic = jp->protocol.timing == FPT_TIMING_PERIODIC;
        if (periodic && S->n_probs)
            return FAIL(c, S->probs_line, "'probabilities' needs timing = geometric ([%s] is "
                                          "periodic: use 'periods')", name), -1;
        if (!periodic && S->n_periods)
            return FAIL(c, S->periods_line, "'periods' needs periodic timing ([%s] has timing = "
                                            "geometric: use 'probabilities')", name), -1;
        if (periodic && !S->n_periods)
            return FAIL(c, S->line, "[%s] needs 'periods = ...' (e.g. periods = 1,2,5,10)", name),
                   -1;
        if (!periodic && !S->n_probs)
            return FAIL(c, S->line, "[%s] needs 'probabilities = ...' (e.g. probabilities = "
                                    "0.01,0.05)", name), -1;
        jp->n_freqs = periodic ? S->n_periods : S->n_probs;
        memcpy(jp->freqs, periodic ? S->periods : S->probs, sizeof(double) * (size_t)jp->n_freqs);
        for (int f = 0; f < jp->n_freqs; f++) {
            fpt_protocol p = jp->protocol;
            if (periodic) p.period = (int)jp->freqs[f];
            else p.prob = jp->freqs[f];
            if (fpt_protocol_check_lr(&p, s->base.run.lr.base, c->err)) {
                fail_here(c, S->line);
                return fpt_err_prefix(c->err, "[%s]: ", name);
            }
        }
    }
    return 0;
}

#define E_LINE(c) ((c)->sec[SEC_EXPERIMENT].line)

// [campaign], [synthetic] and [replay]: what can only be checked whole.
static int check_settings(ctx *c) {
    fpt_job_spec *s = c->s;
    const section *C = &c->sec[SEC_CAMPAIGN], *Y = &c->sec[SEC_SYNTHETIC], *R = &c->sec[SEC_REPLAY];
    if (Y->present && R->present)
        return FAIL(c, R->line, "[replay] and [synthetic] (line %d) both choose what a job does: "
                                "keep one", Y->line), -1;
    if (Y->present) {
        s->engine = FPT_ENGINE_SYNTHETIC;
        if (fpt_synth_law_check(&s->law, c->err)) return fail_here(c, Y->line), -1;
    }
    if (R->present) {
        s->engine = FPT_ENGINE_REPLAY;
        if (!s->replay_path[0])
            return FAIL(c, R->line, "[replay] needs 'data = FILE' (a trace table: "
                                    "protocol,period,seed,epoch,test_acc)"), -1;
        for (int i = 0; i < s->n_protocols; i++)
            if (s->protocols[i].protocol.kind != FPT_PROTO_NONE &&
                s->protocols[i].protocol.timing != FPT_TIMING_PERIODIC)
                return FAIL(c, s->protocols[i].line, "[%s]: recorded runs are periodic; [replay] "
                            "cannot replay timing = geometric",
                            fpt_protocol_name(s->protocols[i].protocol.kind)), -1;
    }
    fpt_campaign_spec *K = &s->campaign;
    K->line = C->present ? C->line : 0;
    if (!K->adaptive) {
        if (K->budget_runs || K->budget_epochs)
            return FAIL(c, C->line, "[campaign]: a budget applies to mode = adaptive (a sweep runs "
                                    "every job)"), -1;
        return 0;
    }
    if (!K->budget_runs == !K->budget_epochs)
        return FAIL(c, C->line, "[campaign] mode = adaptive needs one budget: budget_runs = N or "
                                "budget_epochs = N"), -1;
    int baseline = 0, perturbing = 0;
    for (int i = 0; i < s->n_protocols; i++)
        if (s->protocols[i].protocol.kind == FPT_PROTO_NONE) baseline = 1;
        else perturbing = 1;
    if (!baseline || !perturbing)
        return FAIL(c, C->line, "[campaign] mode = adaptive needs a [none] section (the "
                                "baselines) and at least one perturbing protocol (the "
                                "candidates)"), -1;
    if (K->baseline_share + K->reference_share >= 1)
        return FAIL(c, C->line, "[campaign]: baseline_share + reference_share = %g leaves "
                                "nothing to confirm with (must be < 1)",
                    K->baseline_share + K->reference_share), -1;
    if (s->n_seeds < (size_t)K->min_runs)
        return FAIL(c, E_LINE(c), "seeds: an adaptive campaign draws a condition's runs from the "
                                  "seed list; %zu seeds are fewer than min_runs = %d",
                    s->n_seeds, K->min_runs), -1;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void put_seeds(FILE *f, const fpt_job_spec *s) {
    for (size_t i = 0; i < s->n_seeds;) {
        size_t j = i;
        while (j + 1 < s->n_seeds && s->seeds[j + 1] == s->seeds[j] + 1) j++;
        fprintf(f, "%s%llu", i ? "," : "", (unsigned long long)s->seeds[i]);
        if (j > i) fprintf(f, "-%llu", (unsigned long long)s->seeds[j]);
        i = j + 1;
    }
}

// The shortest %g form that reads back as exactly v.
static void put_double(FILE *f, double v) {
    char one[40];
    fpt_format_double(one, sizeof one, v);
    fputs(one, f);
}

static void put_aux(FILE *m, const fpt_job_spec *s, const aux_key *k) {
    const char *field = (const char *)s + k->off;
    switch (k->type) {
    case AUX_MODE: fputs(*(const int *)field ? "adaptive" : "sweep", m); break;
    case AUX_PATH: fputs(field, m); break;
    case AUX_DOUBLE: put_double(m, *(const double *)field); break;
    case AUX_LONG: fprintf(m, "%ld", *(const long *)field); break;
    case AUX_INT: fprintf(m, "%d", *(const int *)field); break;
    }
}

// One section's "sec.key=value" lines, sorted.
static int put_section(ctx *c, FILE *f, int sec) {
    section *S = &c->sec[sec];
    char *lines[MAX_KEYS];
    int n = 0, rc = 0;
    for (int k = 0; k < S->n_keys; k++) {
        const char *key = S->keys[k].name;
        aux_key made;
        char *buf = NULL;
        size_t sz = 0;
        FILE *m = open_memstream(&buf, &sz);
        if (!m) return fpt_fail(c->err, "out of memory");
        fprintf(m, "%s.%s=", section_name(sec), key);
        if (!strcmp(key, "name")) fputs(c->s->name, m);
        else if (!strcmp(key, "seeds")) put_seeds(m, c->s);
        else if (!strcmp(key, "timing")) fputs(fpt_timing_name(S->timing), m);
        else if (param_of(sec, key)) {
            char val[64];
            fpt_protocol_key_format(param_of(sec, key), &S->params, val, sizeof val);
            fputs(val, m);
        }
        else if (!strcmp(key, "periods") || !strcmp(key, "probabilities")) {
            int np = key[1] == 'e' ? S->n_periods : S->n_probs;
            const double *v = key[1] == 'e' ? S->periods : S->probs;
            for (int i = 0; i < np; i++) {
                if (i) fputc(',', m);
                put_double(m, v[i]);
            }
        } else if (aux_find(sec, key, &made)) {
            put_aux(m, c->s, aux_find(sec, key, &made));
        } else {
            char val[1100];
            if (fpt_train_spec_format(&c->s->base, key, val,
                                      sizeof val, c->err))
                rc = -1;
            fputs(val, m);
        }
        fclose(m);
        lines[n++] = buf;
    }
    qsort(lines, (size_t)n, sizeof lines[0], cmp_str);
    if (sec != SEC_EXPERIMENT) fprintf(f, "[%s]\n", section_name(sec));
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s\n", lines[i]);
        free(lines[i]);
    }
    return rc;
}

static int build_canonical(ctx *c) {
    fpt_job_spec *s = c->s;
    size_t sz = 0;
    FILE *f = open_memstream(&s->canonical, &sz);
    if (!f) return fpt_fail(c->err, "out of memory");
    fputs("fptfarm-job-spec v1\n", f);
    int rc = put_section(c, f, SEC_EXPERIMENT);
    for (int i = 0; i < c->n_order && !rc; i++) rc = put_section(c, f, c->order[i]);
    // Settings sections last, and only when present: specs written before
    // they existed keep their hash.
    for (int sec = SEC_CAMPAIGN; sec < N_SEC && !rc; sec++)
        if (c->sec[sec].present) rc = put_section(c, f, sec);
    fclose(f);
    if (rc) return -1;
    s->hash = fpt_fnv1a(FPT_FNV1A_INIT, s->canonical, strlen(s->canonical));
    return 0;
}

static void u128_str(unsigned __int128 v, char *buf) {
    char tmp[48];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    buf[n] = 0;
}

static int finish(ctx *c) {
    fpt_job_spec *s = c->s;
    section *E = &c->sec[SEC_EXPERIMENT];
    if (!E->present) return fpt_fail(c->err, "no [experiment] section (it sets name and seeds)");
    if (!c->name_set)
        return FAIL(c, E->line, "[experiment] needs 'name = ...' (e.g. name = demo)"), -1;
    if (!c->seeds_set)
        return FAIL(c, E->line, "[experiment] needs 'seeds = ...' (e.g. seeds = 1-100)"), -1;
    if (!c->n_order)
        return fpt_fail(c->err, "no protocol section (expected at least one of [none], [reset], "
                                "[partial_reset], [shrink_perturb], [warm_restart])");
    if (fpt_lr_check(&s->base.run.lr, c->err)) return fail_here(c, E->line), -1;
    if (build_protocols(c)) return -1;

    // Count before any allocation: seeds up to 2^63, so 128-bit arithmetic.
    unsigned __int128 n_seeds = 0, freqs = 0;
    for (int i = 0; i < c->n_ranges; i++) n_seeds += (unsigned __int128)(c->hi[i] - c->lo[i]) + 1;
    for (int i = 0; i < s->n_protocols; i++) freqs += (unsigned)s->protocols[i].n_freqs;
    unsigned __int128 n_jobs = n_seeds * freqs;
    if (n_jobs > FPT_JOB_MAX_JOBS) {
        char num[48];
        u128_str(n_jobs, num);
        return fpt_fail(c->err, "%s jobs (protocols x frequencies x seeds) exceeds the limit of "
                                LIMIT_STR, num);
    }
    s->n_seeds = (size_t)n_seeds;
    s->n_jobs = (size_t)n_jobs;
    s->seeds = fpt_calloc(s->n_seeds, sizeof(uint64_t), "seed list", c->err);
    s->jobs = s->seeds ? fpt_calloc(s->n_jobs, sizeof(fpt_job), "job list", c->err) : NULL;
    if (!s->jobs) return -1;
    size_t k = 0;
    for (int i = 0; i < c->n_ranges; i++)
        for (uint64_t v = c->lo[i];; v++) {
            s->seeds[k++] = v;
            if (v == c->hi[i]) break;
        }
    k = 0;
    for (int p = 0; p < s->n_protocols; p++)
        for (int f = 0; f < s->protocols[p].n_freqs; f++)
            for (size_t i = 0; i < s->n_seeds; i++)
                s->jobs[k++] = (fpt_job){s->protocols[p].protocol.kind,
                                         s->protocols[p].protocol.timing,
                                         s->protocols[p].freqs[f], s->seeds[i], p};
    fpt_train_spec_finish(&s->base);
    if (check_settings(c)) return -1;
    return build_canonical(c);
}

int fpt_job_spec_parse(fpt_job_spec *s, const char *text, size_t len, const char *path,
                       fpt_err *err) {
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", path);
    fpt_train_spec_defaults(&s->base);
    s->campaign = fpt_campaign_spec_default;
    s->law = fpt_synth_law_default;
    if (memchr(text, 0, len)) return fpt_fail(err, "%s: contains a NUL byte (not a text file)", path);
    s->text = malloc(len + 1);
    ctx *c = calloc(1, sizeof *c);
    if (!s->text || !c) {
        free(c);
        fpt_job_spec_free(s);
        return fpt_fail(err, "%s: out of memory", path);
    }
    memcpy(s->text, text, len);
    s->text[len] = 0;
    s->text_len = len;
    c->s = s;
    c->err = err;
    c->text = s->text;
    c->len = len;
    c->cur = -1;
    for (int sec = SEC_PROTO; sec < SEC_PROTO + FPT_PROTO_COUNT; sec++)
        c->sec[sec].params = fpt_protocol_defaults;
    err->msg[0] = 0;
    int line = ini_parse_stream(read_line, c, on_key, c);
    int rc = 0;
    if (line > 0 && (!c->failed || line < c->err_line)) {
        fpt_fail(err, "syntax error (expected 'key = value' or '[section]')");
        rc = at(c, line);
    } else if (c->failed) {
        rc = at(c, c->err_line);
    } else if (line < 0) {
        rc = fpt_fail(err, "%s: out of memory", path);
    } else if (finish(c)) {
        rc = at(c, c->failed ? c->err_line : 0);
    }
    free(c);
    if (rc) fpt_job_spec_free(s);
    return rc;
}

int fpt_job_spec_load(fpt_job_spec *s, const char *path, fpt_err *err) {
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "rb");
    if (!f) return fpt_fail(err, "%s: cannot open: %s", path, strerror(errno));
    char *buf = malloc(FPT_JOB_MAX_TEXT + 1);
    size_t n = buf ? fread(buf, 1, FPT_JOB_MAX_TEXT + 1, f) : 0;
    int bad = !buf || ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return fpt_fail(err, "%s: cannot read", path);
    }
    if (n > FPT_JOB_MAX_TEXT) {
        free(buf);
        return fpt_fail(err, "%s: larger than %d bytes (not a job spec?)", path, FPT_JOB_MAX_TEXT);
    }
    int rc = fpt_job_spec_parse(s, buf, n, path, err);
    free(buf);
    return rc;
}

void fpt_job_spec_free(fpt_job_spec *s) {
    fpt_free(s->seeds);
    fpt_free(s->jobs);
    free(s->text);
    free(s->canonical);
    s->seeds = NULL;
    s->jobs = NULL;
    s->text = s->canonical = NULL;
    s->n_jobs = s->n_seeds = 0;
}

int fpt_job_spec_run_config(const fpt_job_spec *s, size_t job, fpt_run_config *out,
                            fpt_err *err) {
    if (job >= s->n_jobs)
        return fpt_fail(err, "%s: job %zu out of range (the spec has %zu jobs)", s->path, job,
                        s->n_jobs);
    const fpt_job *j = &s->jobs[job];
    *out = s->base.run;
    out->protocol = s->protocols[j->section].protocol;
    if (j->protocol != FPT_PROTO_NONE) {
        if (j->timing == FPT_TIMING_PERIODIC) out->protocol.period = (int)j->frequency;
        else out->protocol.prob = j->frequency;
    }
    out->seed = j->seed;
    out->checkpoint_path = NULL;
    out->checkpoint_every = 0;
    return 0;
}
