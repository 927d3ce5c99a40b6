// condition.h — a condition: what the runs of one group share, the key the
// store, the fit, the plots and the campaign all use to match runs,
// conditions, predictions and decisions.
//
//   protocol   the protocol's name ("none", "reset", "shrink_perturb", ...)
//   timing     "none" (the baseline: no perturbation), "periodic" or
//              "geometric"
//   frequency  periodic: the period tau, epochs (an integer); geometric:
//              the probability p per epoch; none: 0
//
// Frequencies are never compared with == on doubles, which may have been
// computed in different places (a period read back from SQLite, a grid
// point, 1/(1/p)); they are compared by their integer key
// (fpt_frequency_key).
#ifndef FPT_CONDITION_H
#define FPT_CONDITION_H

#include <stddef.h>
#include <stdint.h>

// The integer key of a frequency: periodic, the period rounded to an
// integer; geometric, p 2^32 rounded (the resolution at which the
// protocols' geometric timing fires: two probabilities with one key fire on
// the same epochs, fpt_protocol_fires); none or anything else, 0.
int64_t fpt_frequency_key(const char *timing, double frequency);

// Whether two conditions are the same: equal protocol and timing names and
// equal frequency keys.
int fpt_condition_same(const char *protocol_a, const char *timing_a, double frequency_a,
                       const char *protocol_b, const char *timing_b, double frequency_b);

// Whether a condition is the baseline: protocol "none" or timing "none"
// (the store writes both; either alone identifies it).
int fpt_condition_is_baseline(const char *protocol, const char *timing);

// Its text for reports: "none (unperturbed)", "shrink_perturb tau=20",
// "reset p=0.05".  Returns buf.
const char *fpt_condition_label(const char *protocol, const char *timing, double frequency,
                                char *buf, size_t cap);

#endif
