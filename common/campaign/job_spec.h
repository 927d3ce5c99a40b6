// job_spec.h — an experiment (campaign) spec: the farm's input,
// `mpirun -n N fptfarm run jobs/x.ini`.
//
// Format (ini, read with inih; ';' and '#' start comments):
//
//   [experiment]              required, once
//   name  = meir2025-cifar10  required; [A-Za-z0-9_.-], 1..64 characters
//   seeds = 1-10, 20          required; items "a" or "a-b" (a <= b), each
//                             0..2^63-1 (an SQLite INTEGER); duplicates and an
//                             empty list are errors
//   <any train-spec key>      epochs, width, lr, target (a list), threads
//                             (threads per worker), dataset, ... except:
//     protocol, timing, period, prob, fraction, shrink, sigma, variant -> protocol
//       sections (below);
//     seed -> 'seeds'; checkpoint, checkpoint_every, resume -> set by the
//       farm per run.
//
//   [none]                    no keys: include unperturbed baseline runs
//   [reset]                   timing = periodic (default) | geometric
//   [partial_reset]           periods = 1,2,5,10    periodic; integers 1..100000
//   [shrink_perturb]          probabilities = 0.01  geometric; each in (0, 1]
//   [warm_restart]            plus the protocol's own parameters:
//                               partial_reset: fraction, variant;
//                               shrink_perturb: shrink, sigma, variant
//                               (variant = clean | study: protocol.h);
//                               eta_min is an [experiment] key
//   [campaign]                optional: how the jobs are run (campaign.h)
//     mode = sweep            every job of the grid (default)
//          | adaptive         the response model chooses which jobs to run:
//                             the grid above is the set of candidates
//     budget_runs = 300       adaptive: exactly one of the two budgets
//     budget_epochs = 60000
//     precision = 0.1         relative half-width of the 95% intervals sought
//     baseline_share = 0.3    most of the budget spent on baselines
//     reference_share = 0.3   ... and on the reference periods (all protocols)
//     confirm = 3             candidates confirmed by measurement
//     tolerance = 0.05        "settled": no rival can be more than 5% faster
//     batch = 20              runs per decision
//     min_runs = 10           fewest runs before a condition is estimated
//   [synthetic]               optional: jobs draw their traces from a known
//                             first-passage law instead of training
//                             (synth_law.h); keys burn_in, fast_share,
//                             fast_hazard, slow_hazard, after_partial_reset,
//                             after_shrink_perturb, after_warm_restart
//   [replay]                  optional: jobs replay recorded runs (replay.h);
//     data = traces.csv       the trace table, relative to the working
//                             directory
//   At most one of [synthetic] and [replay].
//   At least one protocol section; each section at most once; a perturbing
//   protocol needs the list matching its timing (and not the other one).
//   Keys accept '-' for '_'.  Indented (continuation) lines are refused, and
//   lines are limited to 199 characters (inih's line buffer).
//
// Job order (stable; a job's index identifies it): protocol sections in
// file order; within a section, frequencies in the listed order; within a
// frequency, seeds in the listed order.  [none] has one "frequency", 0.
//
// Canonical form and hash.  `canonical` is the text
//     fptfarm-job-spec v1
//     experiment.<key>=<value>      sorted by key
//     [<protocol>]                  each protocol section, in file order,
//     <protocol>.<key>=<value>      its keys sorted
// with only the keys written in the file, key names canonical ('-' -> '_')
// and values re-printed from their parsed form (numbers in the shortest %g
// form that reads back exactly, seed lists as ascending runs "a-b" in the
// listed order).  `hash` is FNV-1a 64 of it.
//   Unchanged by: comments, blank lines, whitespace, key order within a
//   section, the position of [experiment], number spelling that parses to
//   the same value (0.010 = 0.01), "1-3" vs "1,2,3", '-' vs '_' in keys.
//   Changed by: any parsed value (including name, threads and data_path), a
//   key added or removed (even if written with its default value), and the
//   order of protocol sections or of list items (they change job indices).
#ifndef FPT_JOB_SPEC_H
#define FPT_JOB_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "train/protocol.h"
#include "train/run.h"
#include "train/synth_law.h"
#include "train/train_spec.h"

#define FPT_JOB_MAX_JOBS 1000000   // protocols x frequencies x seeds
#define FPT_JOB_MAX_FREQS 128      // per section (a 199-character line holds fewer)
#define FPT_JOB_MAX_TEXT (1 << 20) // bytes of spec file

typedef struct fpt_job {
    fpt_protocol_kind protocol;
    fpt_timing timing;
    double frequency;   // periodic: the period tau in epochs; geometric: the
                        // probability per epoch; none: 0
    uint64_t seed;
    int section;        // index into fpt_job_spec.protocols
} fpt_job;

typedef struct fpt_job_protocol {
    fpt_protocol protocol;            // kind, timing and parameters (period
                                      // and prob unset: see freqs)
    int n_freqs;                      // [none]: 1 (frequency 0)
    double freqs[FPT_JOB_MAX_FREQS];  // periods or probabilities, as listed
    int line;                         // of the section header
} fpt_job_protocol;

// What a job does.
typedef enum fpt_engine {
    FPT_ENGINE_TRAIN,       // trains the network (the default)
    FPT_ENGINE_SYNTHETIC,   // samples the [synthetic] law: no training, no data
    FPT_ENGINE_REPLAY,      // replays a recorded run from [replay] data
} fpt_engine;

const char *fpt_engine_name(fpt_engine e);   // "train", "synthetic", "replay"

// The [campaign] section (defaults: fpt_campaign_spec_default).
typedef struct fpt_campaign_spec {
    int adaptive;            // 0: sweep every job; 1: adaptive
    long budget_runs;        // runs; 0 = not set
    long budget_epochs;      // epochs trained; 0 = not set
    double precision;        // relative half-width of 95% intervals sought
    double baseline_share;   // of the budget, at most, for the baselines
    double reference_share;  // of the budget, at most, for the references
    int confirm;             // candidates run to confirm the prediction
    double tolerance;        // relative: a rival faster by less is no rival
    int batch;               // runs added per decision
    int min_runs;            // runs before a condition is estimated
    int line;                // of the [campaign] header; 0 = absent
} fpt_campaign_spec;

extern const fpt_campaign_spec fpt_campaign_spec_default;

typedef struct fpt_job_spec {
    char path[1024];                  // as given, for messages
    char name[65];
    fpt_train_spec base;              // [experiment] settings over the defaults
    size_t n_seeds;
    uint64_t *seeds;                  // in the listed order
    int n_protocols;
    fpt_job_protocol protocols[FPT_PROTO_COUNT];   // in file order
    size_t n_jobs;
    fpt_job *jobs;                    // the expansion, in the order above
    fpt_campaign_spec campaign;       // [campaign], or the defaults (sweep)
    fpt_engine engine;
    fpt_synth_law law;                // [synthetic] (engine synthetic)
    char replay_path[1024];           // [replay] data (engine replay)
    char *text;                       // the raw file text (NUL-terminated)
    size_t text_len;
    char *canonical;                  // the canonical form (see above)
    uint64_t hash;                    // FNV-1a 64 of `canonical`
} fpt_job_spec;

// Reads and parses `path`.  Errors: "path:LINE: message" (or "path: ..." for
// whole-file problems).  On failure *s holds nothing to free.  *s must not be
// copied by value afterwards (base.data.path points into it).
int fpt_job_spec_load(fpt_job_spec *s, const char *path, fpt_err *err);
// The same from text in memory (e.g. broadcast by the coordinator); `path`
// only names it in messages.
int fpt_job_spec_parse(fpt_job_spec *s, const char *text, size_t len, const char *path,
                       fpt_err *err);
void fpt_job_spec_free(fpt_job_spec *s);

// The full run configuration of job `job`: the [experiment] settings, that
// section's protocol parameters, the job's frequency (as period or prob) and
// seed; no checkpoint (the farm sets it).  The dataset-dependent checks
// (fpt_run_config_check) are the caller's.
int fpt_job_spec_run_config(const fpt_job_spec *s, size_t job, fpt_run_config *out,
                            fpt_err *err);

#endif
