// synth_law.c — the synthetic first-passage law (see synth_law.h).
//
// Draws, all from the run's seed:
//   plateau at (re)start k        (seed, FPT_RNG_SYNTH, stream k)
//   epoch e's accuracy            (seed, FPT_RNG_SYNTH, stream 2^31 + e):
//                                 words 0-1 decide "reached" (53-bit
//                                 uniform < hazard), word 2 places the value
//   geometric timing              fpt_protocol_fires: (seed, FPT_RNG_PERTURB,
//                                 stream e), exactly as a trained run's
// Keying the accuracy draws by the absolute epoch, not by the age or by a
// count of draws, makes a perturbed run identical to the unperturbed run of
// the same seed up to its first perturbation (common random numbers: a
// comparison of protocols sees only their effect), and keeps every epoch's
// draws independent of the run's history, which is what the law assumes.
#include "train/synth_law.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/rng.h"

#define EPOCH_STREAM 0x80000000u   // + epoch; restart counts stay far below

const fpt_synth_law fpt_synth_law_default = {
    .burn_in = 10,
    .fast_share = 0.3,
    .fast_hazard = 0.3,
    .slow_hazard = 0.01,
    // One default for every protocol (read only for those with synth_after).
    .after = {0.1, 0.1, 0.1, 0.1, 0.1},
};
_Static_assert(FPT_PROTO_COUNT == 5, "a new protocol: add its 0.1 to .after above");

static int is_probability(double p) { return p >= 0.0 && p <= 1.0; }   // false for NaN

static int check_probability(const char *key, double p, fpt_err *err) {
    if (!is_probability(p))
        return fpt_fail(err, "[synthetic] %s %g is not a probability in [0, 1]", key, p);
    return 0;
}

int fpt_synth_law_check(const fpt_synth_law *law, fpt_err *err) {
    if (law->burn_in < 1 || law->burn_in > 100000)
        return fpt_fail(err, "[synthetic] burn_in %d out of range (expected 1..100000 epochs)",
                        law->burn_in);
    if (check_probability("fast_share", law->fast_share, err) ||
        check_probability("fast_hazard", law->fast_hazard, err) ||
        check_probability("slow_hazard", law->slow_hazard, err))
        return -1;
    // slow_hazard 0 is meaningful (runs that never get there unperturbed, as
    // 29% of the study's do); a fast plateau that never gets there is not.
    if (law->fast_hazard == 0.0)
        return fpt_fail(err, "[synthetic] fast_hazard 0: the fast plateau must reach the "
                             "target (expected 0 < fast_hazard <= 1)");
    for (int k = 0; k < FPT_PROTO_COUNT; k++) {
        if (!fpt_protocol_def_of((fpt_protocol_kind)k)->synth_after) continue;
        char key[64];
        snprintf(key, sizeof key, "after_%s", fpt_protocol_name((fpt_protocol_kind)k));
        if (check_probability(key, law->after[k], err)) return -1;
    }
    return 0;
}

// ---- runs ---------------------------------------------------------------

// A uniform double in [0, 1) with 53 random bits, so that u < p has
// probability p to double precision (and 0 and 1 exactly).
static double u53(fpt_rng *r) {
    const uint64_t hi = fpt_rng_u32(r) >> 5, lo = fpt_rng_u32(r) >> 6;   // 27 + 26 bits
    return (double)(hi << 26 | lo) * (1.0 / 9007199254740992.0);
}

// What the law needs to know of a run between epochs.
typedef struct synth_state {
    int age;          // epochs since the (re)start, capped at burn_in
    uint32_t starts;  // restarts so far (0: the run's own start)
    double hazard;    // per epoch once relaxed
} synth_state;

static double plateau_hazard(const fpt_synth_law *law, uint64_t seed, uint32_t start) {
    fpt_rng r;
    fpt_rng_init(&r, seed, FPT_RNG_SYNTH, start);
    return u53(&r) < law->fast_share ? law->fast_hazard : law->slow_hazard;
}

static double clip_percent(double a) { return a < 0.0 ? 0.0 : a > 100.0 ? 100.0 : a; }

// Test accuracy (percent) of epoch e, the state's age already counting it.
// Relaxing: below A, ramping up with the age.  Relaxed: A + [0.5, 3.5) with
// probability hazard, else A - [0.5, 6.5), whatever happened before.
static double epoch_accuracy(const fpt_synth_law *law, const synth_state *st, uint64_t seed,
                             int e, double A) {
    fpt_rng r;
    fpt_rng_init(&r, seed, FPT_RNG_SYNTH, EPOCH_STREAM + (uint32_t)e);
    const double hit = u53(&r), u = fpt_rng_uniform(&r);
    if (st->age < law->burn_in)
        return clip_percent((A - 0.5 - 6.0 * u) * (0.4 + 0.6 * st->age / law->burn_in));
    return clip_percent(hit < st->hazard ? A + 0.5 + 3.0 * u : A - 0.5 - 6.0 * u);
}

// The protocol fired after the epoch just evaluated.
static void perturb(const fpt_synth_law *law, fpt_protocol_kind kind, uint64_t seed,
                    synth_state *st) {
    if (kind == FPT_PROTO_RESET) {
        st->age = 0;
        st->starts++;
        st->hazard = plateau_hazard(law, seed, st->starts);
    } else if (kind != FPT_PROTO_NONE && st->age >= law->burn_in) {
        st->hazard = law->after[kind];
    }
}

void fpt_synth_run(const fpt_synth_law *law, const fpt_run_config *c, fpt_epoch_record *recs) {
    const double A = c->targets[0];
    synth_state st = {.age = 0, .starts = 0, .hazard = plateau_hazard(law, c->seed, 0)};
    for (int e = 1; e <= c->epochs; e++) {
        if (st.age < law->burn_in) st.age++;
        const double acc = epoch_accuracy(law, &st, c->seed, e, A);
        const int fired = fpt_protocol_fires(&c->protocol, c->seed, e);
        if (fired) perturb(law, c->protocol.kind, c->seed, &st);
        // Losses: any smooth decreasing function of the accuracy will do.
        recs[e - 1] = (fpt_epoch_record){
            .epoch = e,
            .train_loss = (100.0 - acc) / 50.0,
            .test_loss = (100.0 - acc) / 40.0,
            .test_acc = acc,
            .lr = c->lr.base,
            .perturbed = fired,
            .seconds = 0.0,
        };
    }
}

// ---- the exact survival -------------------------------------------------

// The law of a run that has not reached A yet, after an epoch and its
// perturbation: mass by (age 0..b, b meaning ">= b") on each plateau, and
// the mass whose hazard a perturbation set to `after` (all relaxed).
typedef struct synth_dist {
    int b;
    double *fast, *slow;   // [0..b]
    double perturbed;
} synth_dist;

static double dist_total(const synth_dist *d) {
    double m = d->perturbed;
    for (int a = 0; a <= d->b; a++) m += d->fast[a] + d->slow[a];
    return m;
}

// One epoch: everyone ages; whoever is relaxed reaches A with its hazard.
static void dist_epoch(synth_dist *d, double hf, double hs, double h_after) {
    const int b = d->b;
    d->fast[b] = (d->fast[b] + d->fast[b - 1]) * (1.0 - hf);
    d->slow[b] = (d->slow[b] + d->slow[b - 1]) * (1.0 - hs);
    for (int a = b - 1; a >= 1; a--) {
        d->fast[a] = d->fast[a - 1];
        d->slow[a] = d->slow[a - 1];
    }
    d->fast[0] = d->slow[0] = 0.0;
    d->perturbed *= 1.0 - h_after;
}

// A perturbation hitting the share w of the runs (w = 1 periodic, p geometric).
static void dist_perturb(synth_dist *d, fpt_protocol_kind kind, double q, double w) {
    const int b = d->b;
    if (kind == FPT_PROTO_RESET) {
        const double moved = w * dist_total(d);
        for (int a = 0; a <= b; a++) {
            d->fast[a] *= 1.0 - w;
            d->slow[a] *= 1.0 - w;
        }
        d->perturbed *= 1.0 - w;
        d->fast[0] += q * moved;
        d->slow[0] += (1.0 - q) * moved;
    } else if (kind != FPT_PROTO_NONE) {
        d->perturbed += w * (d->fast[b] + d->slow[b]);
        d->fast[b] *= 1.0 - w;
        d->slow[b] *= 1.0 - w;
    }
}

// The probability that the protocol fires after epoch t, as fpt_protocol_fires
// decides it: geometric timing compares a 32-bit word with p 2^32, which
// fires with probability ceil(p 2^32) / 2^32 (within 2.4e-10 of p).
static double fire_probability(fpt_protocol_kind kind, fpt_timing timing, double freq, int t) {
    if (kind == FPT_PROTO_NONE) return 0.0;
    if (timing == FPT_TIMING_GEOMETRIC)
        return freq > 0.0 ? fmin(1.0, ceil(freq * 4294967296.0) / 4294967296.0) : 0.0;
    if (!(freq >= 0.5 && freq < 2147483647.0)) return 0.0;   // no period: never fires
    fpt_protocol p = fpt_protocol_defaults;
    p.kind = kind;
    p.timing = FPT_TIMING_PERIODIC;
    p.period = (int)llround(freq);
    return fpt_protocol_fires(&p, 0, t) ? 1.0 : 0.0;
}

int fpt_synth_survival(const fpt_synth_law *law, fpt_protocol_kind kind, fpt_timing timing,
                       double freq, int horizon, double *S, double *mean_out, fpt_err *err) {
    const int b = law->burn_in;
    // Ages 0..b; with b = 1 the "age b - 1" of dist_epoch is age 0.
    synth_dist d = {.b = b, .fast = calloc((size_t)b + 1, sizeof(double)),
                    .slow = calloc((size_t)b + 1, sizeof(double)), .perturbed = 0.0};
    if (!d.fast || !d.slow) {   // (b + 1) doubles each, b <= 100000: 1.6 MB at most
        free(d.fast);
        free(d.slow);
        return fpt_fail(err, "synthetic law: out of memory allocating its age distribution "
                             "(burn_in %d: 2 x %d doubles, %.1f KiB)",
                        b, b + 1, 2.0 * ((double)b + 1.0) * sizeof(double) / 1024.0);
    }
    d.fast[0] = law->fast_share;
    d.slow[0] = 1.0 - law->fast_share;
    const double h_after =
        kind == FPT_PROTO_NONE || kind == FPT_PROTO_RESET ? 0.0 : law->after[kind];
    S[0] = 1.0;
    double mean = 0.0;
    for (int t = 1; t <= horizon; t++) {
        mean += S[t - 1];
        dist_epoch(&d, law->fast_hazard, law->slow_hazard, h_after);
        const double w = fire_probability(kind, timing, freq, t);
        if (w > 0.0) dist_perturb(&d, kind, law->fast_share, w);
        S[t] = dist_total(&d);
    }
    free(d.fast);
    free(d.slow);
    *mean_out = mean;
    return 0;
}
