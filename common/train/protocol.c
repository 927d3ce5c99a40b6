// protocol.c — the protocol table and what every protocol shares: names,
// keys, checks, timing, the configuration hash's text, and the dispatch to
// each protocol's apply and learning-rate hook (protocols/*.c hold those).
#include "train/protocol.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "base/text.h"
#include "train/protocols/protocols.h"

const fpt_protocol fpt_protocol_defaults = {
    .kind = FPT_PROTO_NONE, .timing = FPT_TIMING_PERIODIC, .period = 20, .prob = 0.05,
    .fraction = 0.2, .shrink = 0.4, .sigma = 0.1, .eta_min = 0.0,
    .variant = FPT_VARIANT_CLEAN,
};

// The table, indexed by fpt_protocol_kind.
static const fpt_protocol_def *const table[FPT_PROTO_COUNT] = {
    [FPT_PROTO_NONE] = &fpt_protocol_none,
    [FPT_PROTO_RESET] = &fpt_protocol_reset,
    [FPT_PROTO_PARTIAL_RESET] = &fpt_protocol_partial_reset,
    [FPT_PROTO_SHRINK_PERTURB] = &fpt_protocol_shrink_perturb,
    [FPT_PROTO_WARM_RESTART] = &fpt_protocol_warm_restart,
};

static const char *const timing_names[] = {"periodic", "geometric", NULL};
const char *const fpt_variant_names[] = {"clean", "study", NULL};

#define F(field) offsetof(fpt_protocol, field)
static const fpt_protocol_key key_timing = {
    "timing", FPT_KEY_ENUM, F(timing), 0, 0, 0, timing_names, "timing", "",
    "when it fires: periodic (every period epochs) or geometric (probability prob)",
    FPT_HASH_V1, 0};
static const fpt_protocol_key key_period = {
    "period", FPT_KEY_INT, F(period), 1, 100000, 0, NULL, "period",
    "expected 1..100000 epochs", "periodic timing: tau, epochs", FPT_HASH_V1, 0};
static const fpt_protocol_key key_prob = {
    "prob", FPT_KEY_DOUBLE, F(prob), 0, 1, 1, NULL, "probability", "expected 0 < p <= 1",
    "geometric timing: probability per epoch", FPT_HASH_V1, 0};
#undef F
const fpt_protocol_key *const fpt_timing_keys[] = {&key_timing, &key_period, &key_prob, NULL};

const fpt_protocol_def *fpt_protocol_def_of(fpt_protocol_kind k) {
    return (unsigned)k < FPT_PROTO_COUNT ? table[k] : NULL;
}

const fpt_protocol_def *fpt_protocol_def_named(const char *name) {
    for (int k = 0; k < FPT_PROTO_COUNT; k++)
        if (!strcmp(name, table[k]->name)) return table[k];
    return NULL;
}

const char *fpt_protocol_name(fpt_protocol_kind k) {
    const fpt_protocol_def *d = fpt_protocol_def_of(k);
    return d ? d->name : "?";
}

const char *fpt_timing_name(fpt_timing t) {
    return (unsigned)t < FPT_TIMING_COUNT ? timing_names[t] : "?";
}

const char *fpt_condition_timing(fpt_protocol_kind k, fpt_timing t) {
    return k == FPT_PROTO_NONE ? "none" : fpt_timing_name(t);
}

const char *fpt_variant_name(fpt_variant v) {
    return (unsigned)v < FPT_VARIANT_COUNT ? fpt_variant_names[v] : "?";
}

const char *fpt_protocol_restart_name(void) {
    for (int k = 0; k < FPT_PROTO_COUNT; k++)
        if (table[k]->model == FPT_PREDICT_RESTART) return table[k]->name;
    return NULL;
}

const char *fpt_protocol_names(void) {
    // "none, reset, ...": at most FPT_PROTO_COUNT names of < 32 characters.
    static char list[FPT_PROTO_COUNT * 34];
    if (!list[0]) {
        size_t n = 0;
        for (int k = 0; k < FPT_PROTO_COUNT; k++)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", k ? ", " : "", table[k]->name);
    }
    return list;
}

int fpt_protocol_parse(const char *s, fpt_protocol_kind *out, fpt_err *err) {
    const fpt_protocol_def *d = fpt_protocol_def_named(s);
    if (d) {
        *out = d->kind;
        return 0;
    }
    return fpt_fail(err, "unknown protocol '%s' (expected: %s)", s, fpt_protocol_names());
}

int fpt_timing_parse(const char *s, fpt_timing *out, fpt_err *err) {
    for (int k = 0; timing_names[k]; k++)
        if (strcmp(s, timing_names[k]) == 0) {
            *out = (fpt_timing)k;
            return 0;
        }
    return fpt_fail(err, "unknown timing '%s' (expected: periodic, geometric)", s);
}

// ---- keys ---------------------------------------------------------------

const fpt_protocol_key *fpt_protocol_key_of(const fpt_protocol_def *d, const char *name) {
    for (int i = 0; fpt_timing_keys[i]; i++)
        if (!strcmp(fpt_timing_keys[i]->name, name)) return fpt_timing_keys[i];
    for (int i = 0; d && d->keys[i]; i++)
        if (!strcmp(d->keys[i]->name, name)) return d->keys[i];
    return NULL;
}

const fpt_protocol_key *fpt_protocol_key_at(size_t i) {
    for (size_t t = 0; fpt_timing_keys[t]; t++)
        if (i-- == 0) return fpt_timing_keys[t];
    for (int k = 0; k < FPT_PROTO_COUNT; k++)
        for (int j = 0; table[k]->keys[j]; j++) {
            const fpt_protocol_key *key = table[k]->keys[j];
            int seen = 0;   // shared keys (variant) count once, at their first protocol
            for (int k2 = 0; k2 < k && !seen; k2++)
                for (int j2 = 0; table[k2]->keys[j2]; j2++) seen |= table[k2]->keys[j2] == key;
            if (!seen && i-- == 0) return key;
        }
    return NULL;
}

const fpt_protocol_key *fpt_protocol_key_named(const char *name) {
    const fpt_protocol_key *k;
    for (size_t i = 0; (k = fpt_protocol_key_at(i)); i++)
        if (!strcmp(k->name, name)) return k;
    return NULL;
}

static int *int_field(const fpt_protocol_key *k, fpt_protocol *p) {
    return (int *)((char *)p + k->offset);
}
static double get_double(const fpt_protocol_key *k, const fpt_protocol *p) {
    return *(const double *)((const char *)p + k->offset);
}
static int get_int(const fpt_protocol_key *k, const fpt_protocol *p) {
    return *(const int *)((const char *)p + k->offset);
}

static int in_range(const fpt_protocol_key *k, double v) {   // false for NaN
    return (k->min_open ? v > k->min : v >= k->min) && v <= k->max;
}

int fpt_protocol_key_set(const fpt_protocol_key *k, fpt_protocol *p, const char *value,
                         fpt_err *err) {
    if (k->type == FPT_KEY_ENUM) {
        for (int i = 0; k->choices[i]; i++)
            if (!strcmp(value, k->choices[i])) {
                *int_field(k, p) = i;
                return 0;
            }
        char list[256];
        size_t n = 0;
        list[0] = 0;
        for (int i = 0; k->choices[i]; i++)
            n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0, "%s%s",
                                  i ? ", " : "", k->choices[i]);
        return fpt_fail(err, "unknown %s '%s' (expected: %s)", k->name, value, list);
    }
    char *end;
    errno = 0;
    double d = strtod(value, &end);
    int ok = !errno && end != value && !*end && isfinite(d) && in_range(k, d);
    if (k->type == FPT_KEY_INT) {
        if (!ok || d != floor(d))
            return fpt_fail(err, "%s: '%s' is not an integer in %.0f..%.0f", k->name, value,
                            k->min, k->max);
        *int_field(k, p) = (int)d;
        return 0;
    }
    if (!ok)
        return fpt_fail(err, "%s: '%s' is not a number in %s%g, %g]", k->name, value,
                        k->min_open ? "(" : "[", k->min, k->max);
    *(double *)((char *)p + k->offset) = d;
    return 0;
}

int fpt_protocol_key_format(const fpt_protocol_key *k, const fpt_protocol *p, char *buf,
                            size_t len) {
    switch (k->type) {
    case FPT_KEY_INT: return snprintf(buf, len, "%d", get_int(k, p));
    case FPT_KEY_DOUBLE: return fpt_format_double(buf, len, get_double(k, p));
    case FPT_KEY_ENUM: return snprintf(buf, len, "%s", k->choices[get_int(k, p)]);
    }
    return snprintf(buf, len, "?");
}

int fpt_protocol_key_is_default(const fpt_protocol_key *k, const fpt_protocol *p) {
    if (k->type == FPT_KEY_DOUBLE) return get_double(k, p) == get_double(k, &fpt_protocol_defaults);
    return get_int(k, p) == get_int(k, &fpt_protocol_defaults);
}

// The hash's own number format (%.17g: version 1's), not the canonical one.
static int hash_value(const fpt_protocol_key *k, const fpt_protocol *p, char *buf, size_t len) {
    switch (k->type) {
    case FPT_KEY_INT: return snprintf(buf, len, "%d", get_int(k, p));
    case FPT_KEY_DOUBLE: return snprintf(buf, len, "%.17g", get_double(k, p));
    case FPT_KEY_ENUM: return snprintf(buf, len, "%s", k->choices[get_int(k, p)]);
    }
    return -1;
}

int fpt_protocol_hash_v1(const fpt_protocol *p, char *buf, size_t len) {
    size_t n = (size_t)snprintf(buf, len, "%s", fpt_protocol_name(p->kind));
    const fpt_protocol_key *k;
    for (size_t i = 0; (k = fpt_protocol_key_at(i)) && n < len; i++) {
        if (k->hash != FPT_HASH_V1) continue;
        n += (size_t)snprintf(buf + n, len - n, ",");
        if (n < len) n += (size_t)hash_value(k, p, buf + n, len - n);
    }
    return n < len ? 0 : -1;
}

int fpt_protocol_hash_extra(const fpt_protocol *p, char *buf, size_t len) {
    size_t n = 0;
    if (len) buf[0] = 0;
    const fpt_protocol_key *k;
    for (size_t i = 0; (k = fpt_protocol_key_at(i)) && n < len; i++) {
        if (k->hash != FPT_HASH_IF_SET || fpt_protocol_key_is_default(k, p)) continue;
        n += (size_t)snprintf(buf + n, len - n, " %s=", k->name);
        if (n < len) n += (size_t)hash_value(k, p, buf + n, len - n);
    }
    return n < len ? 0 : -1;
}

// ---- checks -------------------------------------------------------------

static int uses_key(const fpt_protocol_def *d, const fpt_protocol_key *k) {
    for (int i = 0; d->keys[i]; i++)
        if (d->keys[i] == k) return 1;
    return 0;
}

static int check_key(const fpt_protocol_key *k, const fpt_protocol *p, fpt_err *err) {
    if (k->type == FPT_KEY_ENUM || k->inherited) return 0;
    if (k->type == FPT_KEY_INT) {
        const int v = get_int(k, p);
        if (!in_range(k, v))
            return fpt_fail(err, "%s %d out of range (%s)", k->what, v, k->range);
        return 0;
    }
    const double v = get_double(k, p);
    if (!in_range(k, v)) return fpt_fail(err, "%s %g out of range (%s)", k->what, v, k->range);
    return 0;
}

int fpt_protocol_check_lr(const fpt_protocol *p, double lr_base, fpt_err *err) {
    const fpt_protocol_def *d = fpt_protocol_def_of(p->kind);
    if (!d) return fpt_fail(err, "unknown protocol %d", (int)p->kind);
    if ((unsigned)p->variant >= FPT_VARIANT_COUNT)
        return fpt_fail(err, "unknown variant %d", (int)p->variant);
    if (p->variant != FPT_VARIANT_CLEAN && !uses_key(d, &fpt_key_variant)) {
        char with[128] = "";   // "partial_reset and shrink_perturb"
        int n_with = 0, total = 0;
        for (int k = 0; k < FPT_PROTO_COUNT; k++) total += uses_key(table[k], &fpt_key_variant);
        for (int k = 0; k < FPT_PROTO_COUNT; k++) {
            if (!uses_key(table[k], &fpt_key_variant)) continue;
            const size_t at = strlen(with);
            snprintf(with + at, sizeof with - at, "%s%s",
                     n_with == 0 ? "" : n_with == total - 1 ? " and " : ", ", table[k]->name);
            n_with++;
        }
        return fpt_fail(err, "variant %s applies to %s only (protocol %s has no variants)",
                        fpt_variant_name(p->variant), with, d->name);
    }
    if (p->kind == FPT_PROTO_NONE) return 0;
    if ((unsigned)p->timing >= FPT_TIMING_COUNT)
        return fpt_fail(err, "unknown timing %d", (int)p->timing);
    if (check_key(p->timing == FPT_TIMING_PERIODIC ? &key_period : &key_prob, p, err)) return -1;
    for (int i = 0; d->keys[i]; i++)
        if (check_key(d->keys[i], p, err)) return -1;
    return d->check ? d->check(p, lr_base, err) : 0;
}

int fpt_protocol_check(const fpt_protocol *p, fpt_err *err) {
    return fpt_protocol_check_lr(p, NAN, err);
}

int fpt_protocol_needs_stage_norm(const fpt_protocol *p) {
    const fpt_protocol_def *d = fpt_protocol_def_of(p->kind);
    return d && d->needs_stage_norm && d->needs_stage_norm(p);
}

int fpt_protocol_has_lr_hook(const fpt_protocol *p) {
    const fpt_protocol_def *d = fpt_protocol_def_of(p->kind);
    return d && d->lr;
}

double fpt_protocol_lr(const fpt_protocol *p, double lr_base, double scheduled, int epoch,
                       int last_event) {
    const fpt_protocol_def *d = fpt_protocol_def_of(p->kind);
    return d && d->lr ? d->lr(p, lr_base, epoch, last_event) : scheduled;
}

// ---- timing and events --------------------------------------------------

int fpt_protocol_fires(const fpt_protocol *p, uint64_t seed, int epoch) {
    if (p->kind == FPT_PROTO_NONE || epoch < 1) return 0;
    if (p->timing == FPT_TIMING_PERIODIC) return epoch % p->period == 0;
    fpt_rng r;
    fpt_rng_init(&r, seed, FPT_RNG_PERTURB, (uint32_t)epoch);
    return (double)fpt_rng_u32(&r) < p->prob * 4294967296.0;
}

int fpt_protocol_apply(const fpt_protocol *p, fpt_resnet *m, fpt_sgd *opt, uint64_t seed,
                       uint32_t event, float *scratch, uint8_t *chosen, fpt_err *err) {
    const fpt_protocol_def *d = fpt_protocol_def_of(p->kind);
    if (!d) return fpt_fail(err, "unknown protocol %d", (int)p->kind);
    return d->apply ? d->apply(p, m, opt, seed, event, scratch, chosen, err) : 0;
}

const fpt_protocol_key fpt_key_variant = {
    "variant", FPT_KEY_ENUM, offsetof(fpt_protocol, variant), 0, 0, 0, fpt_variant_names,
    "variant", "",
    "partial_reset, shrink_perturb: clean (the definitions) or study (as the study's code "
    "applies them; the README explains both)",
    FPT_HASH_IF_SET, 0};
