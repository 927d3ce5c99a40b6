// rng.c — Philox4x32-10 and the draws built on it (see rng.h).
#include "base/rng.h"
#include "base/simd.h"

#include <math.h>

// Multipliers and Weyl key increments from the Random123 paper.
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void fpt_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

static void block(uint64_t seed, uint32_t purpose, uint32_t stream, uint64_t index,
                  uint32_t out[4]) {
    uint32_t ctr[4] = {(uint32_t)index, (uint32_t)(index >> 32), stream, purpose};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    fpt_philox4x32_10(ctr, key, out);
}

void fpt_rng_init(fpt_rng *r, uint64_t seed, uint32_t purpose, uint32_t stream) {
    r->seed = seed;
    r->purpose = purpose;
    r->stream = stream;
    r->index = 0;
    r->used = 4;
}

uint32_t fpt_rng_u32(fpt_rng *r) {
    if (r->used == 4) {
        block(r->seed, r->purpose, r->stream, r->index++, r->buf);
        r->used = 0;
    }
    return r->buf[r->used++];
}

static inline float u24(uint32_t w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }

float fpt_rng_uniform(fpt_rng *r) { return u24(fpt_rng_u32(r)); }

uint32_t fpt_rng_below(fpt_rng *r, uint32_t n) {
    // Lemire's multiply-shift with rejection of the biased low region.
    uint64_t m = (uint64_t)fpt_rng_u32(r) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (uint64_t)fpt_rng_u32(r) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

// Box-Muller on two 32-bit words; u1 in (0, 1] so log() is finite.
static void box_muller(uint32_t a, uint32_t b, double *z0, double *z1) {
    double u1 = ((double)a + 1.0) * (1.0 / 4294967296.0);
    double u2 = (double)b * (1.0 / 4294967296.0);
    double rad = sqrt(-2.0 * log(u1));
    double th = 6.283185307179586476925 * u2;
    *z0 = rad * cos(th);
    *z1 = rad * sin(th);
}

void fpt_rng_fill_normal(uint64_t seed, uint32_t purpose, uint32_t stream,
                         float *out, size_t n, float mean, float std) {
    size_t nblocks = (n + 3) / 4;
    #pragma omp parallel for schedule(static) if (n >= FPT_PAR_MIN_WORK)
    for (size_t b = 0; b < nblocks; b++) {
        uint32_t w[4];
        double z[4];
        block(seed, purpose, stream, b, w);
        box_muller(w[0], w[1], &z[0], &z[1]);
        box_muller(w[2], w[3], &z[2], &z[3]);
        for (size_t j = 0; j < 4 && 4 * b + j < n; j++)
            out[4 * b + j] = (float)(mean + std * z[j]);
    }
}

void fpt_rng_fill_uniform(uint64_t seed, uint32_t purpose, uint32_t stream,
                          float *out, size_t n, float lo, float hi) {
    size_t nblocks = (n + 3) / 4;
    #pragma omp parallel for schedule(static) if (n >= FPT_PAR_MIN_WORK)
    for (size_t b = 0; b < nblocks; b++) {
        uint32_t w[4];
        block(seed, purpose, stream, b, w);
        for (size_t j = 0; j < 4 && 4 * b + j < n; j++)
            out[4 * b + j] = lo + (hi - lo) * u24(w[j]);
    }
}
