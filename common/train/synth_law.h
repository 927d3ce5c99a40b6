// synth_law.h — a synthetic first-passage law: runs that cost nothing to
// "train", whose true mean first-passage time under every protocol and
// frequency is known exactly.  The farm's `[synthetic]` engine (job_spec.h)
// uses it instead of training, so the adaptive campaign (campaign.h) can be
// tested against a known optimum.
//
// The law (all times in epochs; A = the run's first target, percent; a
// run's age after an epoch = the epochs trained since its (re)start, that
// epoch included):
//   - A run starts "relaxing": at ages 1..b-1 (b = burn_in) the test accuracy
//     ramps up with the age and stays below A (no first passage is possible).
//   - At the start it settles on a plateau: "fast" with probability
//     fast_share (per-epoch hazard h = fast_hazard), else "slow"
//     (h = slow_hazard).
//   - From age b on, each epoch independently reaches A with probability h:
//     acc >= A with probability h, below A otherwise, so the accuracy across
//     runs is stationary after b (the KS test finds t_rel ~ b) and
//     T = b - 1 + Geometric(h) given the plateau.
//   - A perturbation after epoch e (the protocol's schedule: periodic every
//     tau epochs, or geometric with probability p after each epoch):
//       reset: a full restart (age 0, plateau drawn again);
//       any other protocol: if the run has relaxed (age >= b), its hazard
//       becomes after[kind] (memoryless, so later perturbations change
//       nothing); before that it has no effect.
//     So for tau >= b the quasi-stationary response model (docs/SCIENCE.md s4) is
//     exact, with <T_p> = 1 / after[kind]; below b it is not.
//   - Every draw comes from the run's seed (rng.h), so a run is a pure
//     function of (law, protocol, timing, frequency, seed, epochs, target).
//     Epoch e's accuracy draws depend on (seed, e) only (synth_law.c), so a
//     perturbed run equals the unperturbed run of the same seed up to its
//     first perturbation; timing is fpt_protocol_fires', as a trained run's.
//   - The values (percent, u uniform in [0, 1) each epoch, clipped to
//     [0, 100]): relaxing (A - 0.5 - 6u) (0.4 + 0.6 age / b); relaxed
//     A + 0.5 + 3u when reaching, else A - 0.5 - 6u.  Losses fall linearly
//     with the accuracy.  Needs 0 < A <= 100 (fpt_run_config_check's range).
#ifndef FPT_SYNTH_LAW_H
#define FPT_SYNTH_LAW_H

#include "base/error.h"
#include "train/protocol.h"
#include "train/run.h"

typedef struct fpt_synth_law {
    int burn_in;                       // b >= 1, epochs
    double fast_share;                 // in [0, 1]
    double fast_hazard, slow_hazard;   // per epoch, in [0, 1]
    double after[FPT_PROTO_COUNT];     // hazard after a perturbation, indexed by
                                       // fpt_protocol_kind; used for the protocols
                                       // whose table entry has synth_after (the
                                       // key after_<name>; not none, not reset)
} fpt_synth_law;

// burn_in 10, fast_share 0.3, fast_hazard 0.3, slow_hazard 0.01, after 0.1.
extern const fpt_synth_law fpt_synth_law_default;

// Checks ranges; errors name the key ("[synthetic] fast_hazard ...").
// burn_in 1..100000; fast_share, slow_hazard and the after[] of every
// protocol with an after-hazard in [0, 1]; fast_hazard in (0, 1].
int fpt_synth_law_check(const fpt_synth_law *law, fpt_err *err);

// Generates the run `c` (protocol, timing, period/prob, seed, epochs,
// targets[0] = A) into recs[0..c->epochs): epoch, test_acc, train_loss,
// test_loss, lr = c->lr.base, perturbed, seconds = 0.  Never diverges.
void fpt_synth_run(const fpt_synth_law *law, const fpt_run_config *c, fpt_epoch_record *recs);

// The exact survival S(t) = P(T > t), t = 0..horizon, into S[0..horizon],
// for protocol `kind` with `timing` at `freq` (period >= 1 epochs, or
// probability in (0, 1]; any value for FPT_PROTO_NONE; an invalid one means
// no perturbation).  Geometric timing uses the probability with which
// fpt_protocol_fires actually fires, ceil(p 2^32) / 2^32, so S is the exact
// law of fpt_synth_run's runs.  horizon >= 0.  *mean gets E[min(T, horizon)]
// = sum_{t<horizon} S(t), the restricted mean the analysis measures (epochs).
// Fails only when its working memory (2 (burn_in + 1) doubles) cannot be
// allocated; then S and *mean are untouched.
int fpt_synth_survival(const fpt_synth_law *law, fpt_protocol_kind kind, fpt_timing timing,
                       double freq, int horizon, double *S, double *mean, fpt_err *err);

#endif
