// rng.h — counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
//
// Every random draw in fptfarm is a pure function of
//     (seed, purpose, stream, index)
// where `purpose` says what the numbers are for (initialisation, data order,
// augmentation, perturbation noise, ...), `stream` separates repeated uses of
// one purpose (an epoch number, a perturbation count) and `index` is the
// position of the draw.  So a run's numbers do not depend on the thread count,
// on the order in which jobs are scheduled, or on how many numbers some other
// purpose consumed before: resuming from a checkpoint only needs the counters.
//
// Mapping onto Philox: key = seed (64 bit), counter = (index lo, index hi,
// stream, purpose).  Each counter value gives one block of four 32-bit words.
#ifndef FPT_RNG_H
#define FPT_RNG_H

#include <stddef.h>
#include <stdint.h>

enum fpt_rng_purpose {
    FPT_RNG_INIT = 1,         // weight initialisation; stream = draw number
    FPT_RNG_DATA_ORDER = 2,   // minibatch order; stream = epoch
    FPT_RNG_AUGMENT = 3,      // crops and flips; stream = epoch
    FPT_RNG_PERTURB = 4,      // protocol noise and timing; stream = event
    FPT_RNG_DATASET = 5,      // synthetic data generation
    FPT_RNG_BOOTSTRAP = 6,    // the analysis' resampling of runs; stream = resample
    FPT_RNG_SYNTH = 7,        // the synthetic law (synth_law.c): stream = restart count
                              // for plateaus, 2^31 + epoch for accuracies
    FPT_RNG_REPLAY = 8,       // replay's permutation of a condition's runs (replay.c);
                              // seed = hash of the condition, stream 0
    FPT_RNG_RELAX = 9,        // the relaxation time's bootstrap over runs; stream = resample
    FPT_RNG_QSS = 10,         // the QSS check's bootstrap over runs; stream = resample
    FPT_RNG_TEST = 99,        // tests
};

// The raw Philox4x32-10 bijection: out = philox(ctr, key).
void fpt_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

// A sequential reader over one (seed, purpose, stream): index advances by one
// block each time the four words of the current block are used up.
typedef struct fpt_rng {
    uint64_t seed;
    uint32_t purpose, stream;
    uint64_t index;   // next block to generate
    uint32_t buf[4];
    int used;         // words of buf already consumed (4 = empty)
} fpt_rng;

void fpt_rng_init(fpt_rng *r, uint64_t seed, uint32_t purpose, uint32_t stream);
uint32_t fpt_rng_u32(fpt_rng *r);
// Uniform in [0, 1) with 24 random bits (exactly representable in float).
float fpt_rng_uniform(fpt_rng *r);
// Uniform integer in [0, n) without modulo bias (n >= 1).
uint32_t fpt_rng_below(fpt_rng *r, uint32_t n);

// Whole-array fills, parallel and thread-count independent: element i is made
// from block i/4, word i%4, of (seed, purpose, stream).
//   out[i] = mean + std * N(0,1)   (Box-Muller on pairs of words, in double)
void fpt_rng_fill_normal(uint64_t seed, uint32_t purpose, uint32_t stream,
                         float *out, size_t n, float mean, float std);
//   out[i] = U(lo, hi)
void fpt_rng_fill_uniform(uint64_t seed, uint32_t purpose, uint32_t stream,
                          float *out, size_t n, float lo, float hi);

#endif
