// protocol.h — perturbation protocols applied between epochs (docs/SCIENCE.md s3).
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

#include <stdint.h>

#include "base/error.h"
#include "nn/resnet.h"
#include "nn/sgd.h"

typedef enum fpt_protocol_kind {
    FPT_PROTO_NONE,
    FPT_PROTO_RESET,
    FPT_PROTO_PARTIAL_RESET,
    FPT_PROTO_SHRINK_PERTURB,
    FPT_PROTO_WARM_RESTART,
} fpt_protocol_kind;

typedef enum fpt_timing { FPT_TIMING_PERIODIC, FPT_TIMING_GEOMETRIC } fpt_timing;

typedef enum fpt_variant { FPT_VARIANT_CLEAN, FPT_VARIANT_STUDY } fpt_variant;

// Defaults and ranges (checked by fpt_protocol_check):
typedef struct fpt_protocol {
    fpt_protocol_kind kind;    // default none
    fpt_timing timing;         // default periodic
    int period;                // tau, epochs, 1..100000 (periodic; default 20)
    double prob;               // p per epoch, (0, 1] (geometric; default 0.05)
    double fraction;           // partial_reset f, (0, 1] (default 0.2)
    double shrink;             // shrink_perturb lambda, [0, 1] (default 0.4)
    double sigma;              // shrink_perturb sigma, [0, 10] (default 0.1)
    double eta_min;            // warm_restart floor, [0, lr) (default 0)
    fpt_variant variant;       // partial_reset, shrink_perturb: clean (default) or study
} fpt_protocol;

extern const fpt_protocol fpt_protocol_defaults;

const char *fpt_protocol_name(fpt_protocol_kind k);
const char *fpt_timing_name(fpt_timing t);
// "shrnk" -> error "unknown protocol 'shrnk' (expected: none, reset, ...)"
int fpt_protocol_parse(const char *s, fpt_protocol_kind *out, fpt_err *err);
int fpt_timing_parse(const char *s, fpt_timing *out, fpt_err *err);
const char *fpt_variant_name(fpt_variant v);   // "clean", "study"
int fpt_protocol_check(const fpt_protocol *p, fpt_err *err);
// Whether the model must carry the study network's stage buffers.
int fpt_protocol_needs_stage_norm(const fpt_protocol *p);

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
