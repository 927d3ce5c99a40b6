// replay.h — the farm's `[replay]` engine (job_spec.h): instead of training,
// a job replays a run recorded in a published trace table (the CSV format of
// import_csv.h, e.g. ../shared/data/meir2025/cifar10_traces.csv), so whole
// campaigns (sweeps or adaptive ones) can be re-enacted on real data.
//
// A job (protocol, period, seed) gets one of that condition's recorded runs:
// the condition's runs in file order are shuffled once by a fixed
// permutation (Fisher-Yates drawing from rng.h's FPT_RNG_REPLAY, seeded
// with FNV-1a of "protocol/period", e.g. "shrink_perturb/20": the
// condition alone), and seed s takes run perm[s mod n].  So seeds 1..k
// draw k distinct runs (a random sample without replacement, k <= n), the
// same ones on every machine; seeds beyond n wrap.
#ifndef FPT_REPLAY_H
#define FPT_REPLAY_H

#include <stdint.h>

#include "base/error.h"

typedef struct fpt_replay fpt_replay;

// Reads the whole table (errors "file:LINE: problem", as the import).
int fpt_replay_load(fpt_replay **out, const char *csv_path, fpt_err *err);
void fpt_replay_free(fpt_replay *r);   // NULL is fine

// Runs recorded for (protocol, period): 0 when there are none.  protocol
// "none" has period 0.
int fpt_replay_count(const fpt_replay *r, const char *protocol, double period);

// The trace of job (protocol, period, seed): *acc points to n_epochs test
// accuracies (percent, acc[e-1] after epoch e), owned by r.  Fails, naming
// the file and listing the conditions it holds, if the condition is absent.
int fpt_replay_trace(const fpt_replay *r, const char *protocol, double period, uint64_t seed,
                     const double **acc, int *n_epochs, fpt_err *err);

#endif
