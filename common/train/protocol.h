// protocol.h — perturbation protocols applied between epochs (docs/SCIENCE.md s3).
//
// ONE TABLE.  Every protocol is one entry of type fpt_protocol_def, in its
// own file under protocols/ (its name, its keys with type, range and
// default, its extra check, its apply, its learning-rate hook, the
// prediction model the analysis uses for it, its synthetic-law key); the
// table (protocol.c) lists them in fpt_protocol_kind order.  The spec parser,
// `fptfarm train`'s options and help, the run loop, the configuration hash,
// the synthetic law and the campaign all iterate over the table, so a new
// protocol is: an enum value, a field per new parameter in fpt_protocol, its
// file under protocols/, one line in the table, and its tests (README,
// "Adding a protocol").
//
// A protocol is applied at an epoch boundary, AFTER that epoch's evaluation:
//   none            nothing
//   reset           fresh initialisation; BN statistics reset; momentum zeroed
//   partial_reset   the fraction f of weights with the smallest |w| (ONE
//                   global threshold over conv weights, BN scales and the
//                   linear weight) re-drawn from their initial distribution;
//                   optimizer state kept
//   shrink_perturb  theta <- lambda*theta + sigma*theta_new for every
//                   parameter and the BN running statistics (theta_new a
//                   fresh initialisation: running mean 0, var 1); momentum
//                   zeroed (the study rebuilt its optimizer)
//   warm_restart    the learning rate follows a cosine from the base rate to
//                   eta_min that restarts at every event (SGDR); weights kept
// Variants (`variant`): `clean` is the definition above; `study` is what the
// study's own code does (Hirshberg-Lab/OptPerturbationsNN,
// ffcv_optimization.py and nets.py, read 2026-12), where it differs:
//   partial_reset   reinitialize_smallest_weights_frac: the weights are every
//                   tensor named "*weight" (the same set as above); the
//                   threshold is the sorted |w| at index int(f * n) and every
//                   |w| <= it is chosen (so int(f*n) + 1 or more, ties
//                   included); each chosen weight is re-drawn from
//                   U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with the study's fan_in
//                   = shape[1] for 2+ dimensions (a conv's input channels,
//                   not Cin*K*K; the linear layer's input features) and
//                   shape[0] for a BatchNorm weight; and the optimizer is
//                   rebuilt afterwards (momentum zeroed; docs/SCIENCE.md s3 says
//                   "optimizer state kept", but the code's reset_small_weights
//                   builds a new torch.optim.SGD after every event).
//   shrink_perturb  the formula is applied to the whole state_dict, which in
//                   the study's network includes a (mean, std) buffer pair per
//                   stage output (resnet.h, stage_norm): std_k = lambda std +
//                   sigma, so every stage's output is divided by 1, 0.5, 0.3,
//                   0.22, ... -> sigma / (1 - lambda).  The model must be
//                   created with stage_norm (fpt_protocol_needs_stage_norm).
// Timing:
//   periodic        after epochs tau, 2tau, 3tau, ... (the study's)
//   geometric       after each epoch with probability p, drawn from
//                   (seed, FPT_RNG_PERTURB, stream = epoch)
// Every fresh initialisation is draw number (event + 1) of the run's seed:
// draw 0 is the run's own initialisation.
#ifndef FPT_PROTOCOL_H
#define FPT_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "nn/resnet.h"
#include "nn/sgd.h"

// The protocols, in table order.  Values are stable: they are the index of
// a protocol's entry and of its after-hazard in the synthetic law.
typedef enum fpt_protocol_kind {
    FPT_PROTO_NONE,
    FPT_PROTO_RESET,
    FPT_PROTO_PARTIAL_RESET,
    FPT_PROTO_SHRINK_PERTURB,
    FPT_PROTO_WARM_RESTART,
    FPT_PROTO_COUNT
} fpt_protocol_kind;

typedef enum fpt_timing { FPT_TIMING_PERIODIC, FPT_TIMING_GEOMETRIC, FPT_TIMING_COUNT } fpt_timing;

typedef enum fpt_variant { FPT_VARIANT_CLEAN, FPT_VARIANT_STUDY, FPT_VARIANT_COUNT } fpt_variant;

// Every protocol's parameters in one struct (a protocol reads only its
// own).  Defaults: fpt_protocol_defaults; ranges: the keys (protocol.c and
// protocols/*.c), checked by fpt_protocol_check.
typedef struct fpt_protocol {
    fpt_protocol_kind kind;    // default none
    fpt_timing timing;         // default periodic
    int period;                // tau, epochs, 1..100000 (periodic; default 20)
    double prob;               // p per epoch, (0, 1] (geometric; default 0.05)
    double fraction;           // partial_reset f, (0, 1] (default 0.2)
    double shrink;             // shrink_perturb lambda, [0, 1] (default 0.4)
    double sigma;              // shrink_perturb sigma, [0, 10] (default 0.1)
    double eta_min;            // warm_restart floor, [0, lr) (default 0); set from
                               // the learning-rate schedule's eta_min, not a key
    fpt_variant variant;       // partial_reset, shrink_perturb: clean (default) or study
} fpt_protocol;

extern const fpt_protocol fpt_protocol_defaults;

// ---- keys ---------------------------------------------------------------

typedef enum fpt_key_type { FPT_KEY_INT, FPT_KEY_DOUBLE, FPT_KEY_ENUM } fpt_key_type;

// How a key enters the configuration hash (fpt_protocol_hash_text).  The
// zero value is the safe one: a key added later is appended whenever it
// differs from its default, so it cannot be forgotten, and the checkpoints
// of configurations that leave it at its default keep their hash.
typedef enum fpt_key_hash {
    FPT_HASH_IF_SET,   // " name=value" appended when not the default
    FPT_HASH_V1,       // positional in the version-1 text (the first keys)
} fpt_key_hash;

// One parameter: the same descriptor reads specs (`fraction = 0.3`), command
// lines (`--fraction 0.3`), prints help and canonical text, checks ranges
// and hashes.
typedef struct fpt_protocol_key {
    const char *name;                // "fraction"
    fpt_key_type type;               // int and enum fields are int, double double
    size_t offset;                   // of the field in fpt_protocol
    double min, max;                 // range, inclusive except an open min
    int min_open;                    // 1: min itself is out ("0 < f <= 1")
    const char *const *choices;      // enum: the names, NULL-terminated
    const char *what;                // in range errors: "fraction", "probability", ...
    const char *range;               // in range errors: "expected 0 < f <= 1"
    const char *help;                // one line for --help
    fpt_key_hash hash;
    int inherited;                   // 1: copied from the run's settings (eta_min:
                                     // the schedule's floor), never set on its own
} fpt_protocol_key;

// The prediction the analysis makes for a protocol (SCIENCE.md s4).
typedef enum fpt_protocol_model {
    FPT_PREDICT_NOTHING,    // the baseline itself
    FPT_PREDICT_RESTART,    // from the baseline alone: a full restart
    FPT_PREDICT_QSS,        // from one reference condition's post-perturbation
                            // law (QSS and renewal; linear response when geometric)
} fpt_protocol_model;

typedef struct fpt_protocol_def {
    const char *name;                         // "partial_reset": spec section, --protocol
    fpt_protocol_kind kind;                   // its index in the table
    const fpt_protocol_key *const *keys;      // its own parameters, NULL-terminated
                                              // (timing keys are every perturbing one's)
    const char *summary;                      // one line: what it does
    fpt_protocol_model model;                 // what the fit predicts for it
    int synth_after;                          // 1: the synthetic law has an
                                              // after-hazard for it ([synthetic]
                                              // after_<name>, synth_law.h)
    // Checks beyond each key's range, given the run's base learning rate;
    // NULL: none.  Returns 0 or -1 with err.
    int (*check)(const fpt_protocol *p, double lr_base, fpt_err *err);
    // Applies event number `event` (0-based) after an epoch: see
    // fpt_protocol_apply.  NULL: nothing to the weights (warm_restart).
    int (*apply)(const fpt_protocol *p, fpt_resnet *m, fpt_sgd *opt, uint64_t seed,
                 uint32_t event, float *scratch, uint8_t *chosen, fpt_err *err);
    // The learning rate of 1-based epoch `epoch` when the last event was
    // after epoch `last_event` (0: none yet); NULL: the run's schedule.
    double (*lr)(const fpt_protocol *p, double lr_base, int epoch, int last_event);
    // Whether the network needs the study's stage buffers; NULL: no.
    int (*needs_stage_norm)(const fpt_protocol *p);
} fpt_protocol_def;

// The entry of kind k (NULL if k is not a protocol).
const fpt_protocol_def *fpt_protocol_def_of(fpt_protocol_kind k);
// The entry named `name` (NULL if none).
const fpt_protocol_def *fpt_protocol_def_named(const char *name);
// The keys shared by every perturbing protocol (timing, period, prob),
// NULL-terminated.
extern const fpt_protocol_key *const fpt_timing_keys[];
// Key `name` of protocol `d` or of the timing keys (NULL: not one of them).
const fpt_protocol_key *fpt_protocol_key_of(const fpt_protocol_def *d, const char *name);
// Key `name` of any protocol, or a timing key (NULL: none has it).
const fpt_protocol_key *fpt_protocol_key_named(const char *name);
// The i-th key of all protocols' keys and the timing keys, without repeats
// (timing keys first, then each protocol's in table order); NULL past the end.
const fpt_protocol_key *fpt_protocol_key_at(size_t i);
// Sets key k of *p from text; errors name the key, the value and the range
// ("fraction: '1.5' is not a number in (0, 1]").
int fpt_protocol_key_set(const fpt_protocol_key *k, fpt_protocol *p, const char *value,
                         fpt_err *err);
// Key k's value in *p as canonical text: integers in decimal, numbers in the
// shortest %g that reads back exactly, enums by name.  Returns the length.
int fpt_protocol_key_format(const fpt_protocol_key *k, const fpt_protocol *p, char *buf,
                            size_t len);
// The configuration hash's text of the parameters (fpt_run_config_hash):
// `v1` the version-1 fields positionally, the protocol's name then every
// FPT_HASH_V1 key in fpt_protocol_key_at order
// ("shrink_perturb,periodic,20,0.050000000000000003,...,0"); `extra`
// " key=value" for each FPT_HASH_IF_SET key whose value differs from its
// default ("" when none does).  Return 0, or -1 if a buffer is too short.
int fpt_protocol_hash_v1(const fpt_protocol *p, char *buf, size_t len);
int fpt_protocol_hash_extra(const fpt_protocol *p, char *buf, size_t len);
// Whether key k's value in *p differs from fpt_protocol_defaults'.
int fpt_protocol_key_is_default(const fpt_protocol_key *k, const fpt_protocol *p);

// ---- the protocols ------------------------------------------------------

const char *fpt_protocol_name(fpt_protocol_kind k);
const char *fpt_timing_name(fpt_timing t);
// "shrnk" -> error "unknown protocol 'shrnk' (expected: none, reset, ...)"
int fpt_protocol_parse(const char *s, fpt_protocol_kind *out, fpt_err *err);
int fpt_timing_parse(const char *s, fpt_timing *out, fpt_err *err);
const char *fpt_variant_name(fpt_variant v);   // "clean", "study"
// The timing of a condition as the store, the fit and the plots name it
// (analysis/condition.h): "none" for the baseline, else the timing's name.
const char *fpt_condition_timing(fpt_protocol_kind k, fpt_timing t);
// The name of the protocol the analysis predicts as a full restart from the
// baseline alone (the entry with FPT_PREDICT_RESTART), for the fit's
// restart_protocol; NULL if the table has none.
const char *fpt_protocol_restart_name(void);
// The protocol names, comma-separated ("none, reset, ..."), for messages.
const char *fpt_protocol_names(void);
// Every key's range and the protocol's own check (`lr_base`: the run's base
// learning rate; NaN skips the checks that need it).
int fpt_protocol_check_lr(const fpt_protocol *p, double lr_base, fpt_err *err);
// The same without the learning rate.
int fpt_protocol_check(const fpt_protocol *p, fpt_err *err);
// Whether the model must carry the study network's stage buffers.
int fpt_protocol_needs_stage_norm(const fpt_protocol *p);
// The learning rate of 1-based `epoch` under the protocol's hook, or
// `scheduled` (the run's schedule) when it has none.
double fpt_protocol_lr(const fpt_protocol *p, double lr_base, double scheduled, int epoch,
                       int last_event);
// Whether events restart the learning-rate hook (the run records them).
int fpt_protocol_has_lr_hook(const fpt_protocol *p);

// Whether the protocol fires after epoch `epoch` (1-based).
int fpt_protocol_fires(const fpt_protocol *p, uint64_t seed, int epoch);

// Applies event number `event` (0-based count of events so far) to the model
// and optimizer.  `scratch` holds m->n_params floats (the fresh draw) and
// `chosen` m->n_params bytes (partial_reset's selection).  warm_restart
// changes nothing here (the run loop restarts the schedule).  Returns 0, or
// -1 with err when memory for partial_reset's sort cannot be had (the model
// is then unchanged).
int fpt_protocol_apply(const fpt_protocol *p, fpt_resnet *m, fpt_sgd *opt, uint64_t seed,
                       uint32_t event, float *scratch, uint8_t *chosen, fpt_err *err);

// partial_reset's selection, exposed for tests: marks in `chosen` (n_params
// bytes, 1 = re-drawn) the round(f * eligible) eligible weights of smallest
// |w|, ties broken by position (clean), or every eligible weight with |w| <=
// the sorted |w| at index int(f * eligible) (study; all of them if that
// index is past the end).  *picked = how many were chosen.  Fails (nothing
// marked) only when the memory for sorting |w| cannot be had.
int fpt_partial_reset_select(const fpt_resnet *m, double fraction, fpt_variant variant,
                             uint8_t *chosen, size_t *picked, fpt_err *err);
// The study variant's re-draw bound for tensor t: 1/sqrt(shape[1]) for 2+
// dimensions, 1/sqrt(shape[0]) for one.
float fpt_partial_reset_study_bound(const fpt_param_tensor *t);

#endif
