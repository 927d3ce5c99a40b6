// test_rng.c — Philox4x32-10 against the published known-answer vectors, the
// draws built on it against the raw generator and the documented counter
// mapping, and their distributions against statistical tests.
//
// Statistical tests run on fixed seeds, so each is deterministic; the limits
// are set at the 0.1% level (or 5 standard errors, p ~ 6e-7) so that a
// correct generator passes for essentially any seed, while a wrong transform
// (a bad scale, a dropped bit, a modulo bias, a mis-ordered Box-Muller) moves
// the statistic by many standard errors.
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "base/rng.h"

// ---- Philox4x32-10 known answers -----------------------------------------
// From Random123's kat_vectors (Salmon et al., SC'11): counter[4], key[2] ->
// output[4], the "philox4x32 10" lines.
Test(philox, random123_known_answers) {
    static const struct {
        uint32_t ctr[4], key[2], out[4];
    } kat[] = {
        {{0x00000000, 0x00000000, 0x00000000, 0x00000000}, {0x00000000, 0x00000000},
         {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (size_t v = 0; v < sizeof kat / sizeof kat[0]; v++) {
        uint32_t out[4];
        fpt_philox4x32_10(kat[v].ctr, kat[v].key, out);
        for (int j = 0; j < 4; j++)
            cr_expect_eq(out[j], kat[v].out[j], "vector %zu word %d: %08x, expected %08x", v, j,
                         out[j], kat[v].out[j]);
    }
}

// ---- the sequential reader ------------------------------------------------

static void expect_block(uint64_t seed, uint32_t purpose, uint32_t stream, uint64_t index,
                         uint32_t out[4]) {
    const uint32_t ctr[4] = {(uint32_t)index, (uint32_t)(index >> 32), stream, purpose};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    fpt_philox4x32_10(ctr, key, out);
}

Test(rng, reader_follows_documented_counter_mapping) {
    const uint64_t seed = 0x0123456789abcdefull;   // distinct halves: key order matters
    const uint32_t purpose = FPT_RNG_AUGMENT, stream = 7;
    fpt_rng r;
    fpt_rng_init(&r, seed, purpose, stream);
    for (uint64_t b = 0; b < 6; b++) {
        uint32_t want[4];
        expect_block(seed, purpose, stream, b, want);
        for (int j = 0; j < 4; j++) {
            uint32_t got = fpt_rng_u32(&r);
            cr_expect_eq(got, want[j], "block %llu word %d: %08x, expected %08x",
                         (unsigned long long)b, j, got, want[j]);
        }
    }
    // Across the 2^32 boundary of the block index (its high word is ctr[1]):
    // start the reader at block 2^32 - 1 via its documented `index` field.
    fpt_rng_init(&r, seed, purpose, stream);
    r.index = 0xffffffffull;
    for (uint64_t b = 0xffffffffull; b < 0x100000001ull + 1; b++) {
        uint32_t want[4];
        expect_block(seed, purpose, stream, b, want);
        for (int j = 0; j < 4; j++) {
            uint32_t got = fpt_rng_u32(&r);
            cr_expect_eq(got, want[j], "block %#llx word %d", (unsigned long long)b, j);
        }
    }
}

static int count_equal_words(uint64_t s1, uint32_t p1, uint32_t q1, uint64_t s2, uint32_t p2,
                             uint32_t q2, int n) {
    fpt_rng a, b;
    fpt_rng_init(&a, s1, p1, q1);
    fpt_rng_init(&b, s2, p2, q2);
    int same = 0;
    for (int i = 0; i < n; i++) same += fpt_rng_u32(&a) == fpt_rng_u32(&b);
    return same;
}

Test(rng, purpose_stream_and_seed_separate_sequences) {
    // Independent 32-bit words coincide with probability 2^-32 each: among
    // 64 pairs, even one match would be suspicious; allow one.
    cr_expect_leq(count_equal_words(5, FPT_RNG_INIT, 0, 5, FPT_RNG_DATA_ORDER, 0, 64), 1,
                  "purposes must give different words");
    cr_expect_leq(count_equal_words(5, FPT_RNG_INIT, 0, 5, FPT_RNG_INIT, 1, 64), 1,
                  "streams must give different words");
    cr_expect_leq(count_equal_words(5, FPT_RNG_INIT, 0, 6, FPT_RNG_INIT, 0, 64), 1,
                  "seeds must give different words");
    cr_expect_leq(count_equal_words(5, FPT_RNG_INIT, 0, 5ull << 32, FPT_RNG_INIT, 0, 64), 1,
                  "the high half of the seed must matter");
    // Swapping stream and purpose must not collide either (ctr[2] vs ctr[3]).
    cr_expect_leq(count_equal_words(5, 3, 4, 5, 4, 3, 64), 1, "stream/purpose swapped");
    // And the same triple twice is the same sequence.
    cr_expect_eq(count_equal_words(9, FPT_RNG_TEST, 3, 9, FPT_RNG_TEST, 3, 64), 64);
}

Test(rng, uniform_has_24_bits_in_unit_interval) {
    fpt_rng r;
    fpt_rng_init(&r, 11, FPT_RNG_TEST, 0);
    for (int i = 0; i < 10000; i++) {
        float u = fpt_rng_uniform(&r);
        double scaled = (double)u * 16777216.0;   // 2^24
        cr_assert(u >= 0.0f && u < 1.0f, "uniform %g outside [0, 1)", u);
        cr_assert_eq(scaled, floor(scaled), "uniform %a is not a multiple of 2^-24", u);
    }
}

// ---- fpt_rng_below ----------------------------------------------------------

Test(rng, below_six_is_uniform) {
    // 60000 draws in 6 cells (expected 10000 each): Pearson's chi-square has
    // 5 degrees of freedom; its 0.1% critical value is 20.515.
    enum { n = 6, draws = 60000 };
    long count[n] = {0};
    fpt_rng r;
    fpt_rng_init(&r, 12345, FPT_RNG_TEST, 1);
    for (int i = 0; i < draws; i++) {
        uint32_t v = fpt_rng_below(&r, n);
        cr_assert_lt(v, (uint32_t)n, "below(6) returned %u", v);
        count[v]++;
    }
    double chi2 = 0.0, e = (double)draws / n;
    for (int k = 0; k < n; k++) chi2 += (count[k] - e) * (count[k] - e) / e;
    measured("rng_below(6): chi-square %.3f (5 dof, limit 20.5)", chi2);
    cr_expect_lt(chi2, 20.5, "chi-square %.2f over 5 dof exceeds the 0.1%% value 20.5", chi2);
}

Test(rng, below_edge_cases) {
    fpt_rng r;
    fpt_rng_init(&r, 99, FPT_RNG_TEST, 2);
    for (int i = 0; i < 100; i++) cr_assert_eq(fpt_rng_below(&r, 1), 0u);
    // n = 3 * 2^30: 2^32 / n = 4/3, so plain multiply-shift (floor(w n / 2^32))
    // gives every v = 0 (mod 3) two words and the others one:
    // P(v = 0 mod 3) would be 1/2.  With the rejection of the 2^32 mod n = 2^30
    // biased words it is 1/3.  A quarter of all words are rejected, so this
    // also exercises the rejection loop.  Limit: 5 standard errors.
    const uint32_t big = 0xC0000000u;
    enum { draws = 20000 };
    int zero_mod3 = 0;
    for (int i = 0; i < draws; i++) {
        uint32_t v = fpt_rng_below(&r, big);
        cr_assert_lt(v, big, "below(%u) returned %u", big, v);
        zero_mod3 += v % 3 == 0;
    }
    const double frac = (double)zero_mod3 / draws, se = sqrt(1.0 / 3 * 2.0 / 3 / draws);
    measured("rng_below(3*2^30): P(v = 0 mod 3) off by %.2f SE", (frac - 1.0 / 3) / se);
    cr_expect_leq(fabs(frac - 1.0 / 3), 5 * se, "P(v = 0 mod 3) = %.4f, expected 1/3", frac);
}

// ---- whole-array fills ------------------------------------------------------

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

Test(fill, normal_moments_and_ks) {
    enum { n = 100000 };
    const double mu = 1.5, sd = 2.5;
    float *v = malloc(sizeof(float) * n);
    double *z = malloc(sizeof(double) * n);
    cr_assert(v && z);
    fpt_rng_fill_normal(2024, FPT_RNG_TEST, 5, v, n, (float)mu, (float)sd);
    double s = 0.0;
    for (int i = 0; i < n; i++) s += v[i];
    const double mean = s / n;
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += (v[i] - mean) * (v[i] - mean);
    const double var = ss / (n - 1);
    // Standard errors: of the mean sd/sqrt(n); of the sample variance of a
    // normal, sd^2 sqrt(2/(n-1)).
    const double se_mean = sd / sqrt(n), se_var = sd * sd * sqrt(2.0 / (n - 1));
    measured("fill_normal: mean off by %.2f SE, variance by %.2f SE", (mean - mu) / se_mean,
             (var - sd * sd) / se_var);
    cr_expect_leq(fabs(mean - mu), 5 * se_mean, "mean %.5f, expected %.5f", mean, mu);
    cr_expect_leq(fabs(var - sd * sd), 5 * se_var, "variance %.5f, expected %.5f", var, sd * sd);

    // Kolmogorov-Smirnov against the normal CDF Phi(z) = erfc(-z/sqrt2)/2.
    // For a fully specified distribution sqrt(n) D has, asymptotically, the
    // Kolmogorov distribution, whose 0.1% critical value is 1.949.  The float
    // rounding of the samples (relative 6e-8) moves D by far less than 1/n.
    for (int i = 0; i < n; i++) z[i] = ((double)v[i] - mu) / sd;
    qsort(z, n, sizeof(double), cmp_double);
    double D = 0.0;
    for (int i = 0; i < n; i++) {
        const double F = 0.5 * erfc(-z[i] / sqrt(2.0));
        D = fmax(D, fmax((double)(i + 1) / n - F, F - (double)i / n));
    }
    measured("fill_normal: KS sqrt(n) D = %.3f (limit 1.95)", D * sqrt(n));
    cr_expect_lt(D * sqrt(n), 1.95, "KS statistic sqrt(n) D = %.3f", D * sqrt(n));
    free(v);
    free(z);
}

// Element i is a function of (seed, purpose, stream, i) only: not of n, not
// of the thread count.  Checked bitwise on both fills.
Test(fill, thread_count_and_length_independent) {
    enum { n = 100003 };   // not a multiple of 4: a partial last block
    float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
    cr_assert(a && b);
    for (int kind = 0; kind < 2; kind++) {
        const char *name = kind ? "uniform" : "normal";
        omp_set_num_threads(1);
        if (kind) fpt_rng_fill_uniform(77, FPT_RNG_TEST, 8, a, n, -1.0f, 2.0f);
        else fpt_rng_fill_normal(77, FPT_RNG_TEST, 8, a, n, 0.0f, 1.0f);
        omp_set_num_threads(2);
        if (kind) fpt_rng_fill_uniform(77, FPT_RNG_TEST, 8, b, n, -1.0f, 2.0f);
        else fpt_rng_fill_normal(77, FPT_RNG_TEST, 8, b, n, 0.0f, 1.0f);
        cr_expect_eq(memcmp(a, b, sizeof(float) * n), 0, "%s: 1 vs 2 threads differ", name);

        float small[10], mid[1001];
        if (kind) {
            fpt_rng_fill_uniform(77, FPT_RNG_TEST, 8, small, 10, -1.0f, 2.0f);
            fpt_rng_fill_uniform(77, FPT_RNG_TEST, 8, mid, 1001, -1.0f, 2.0f);
        } else {
            fpt_rng_fill_normal(77, FPT_RNG_TEST, 8, small, 10, 0.0f, 1.0f);
            fpt_rng_fill_normal(77, FPT_RNG_TEST, 8, mid, 1001, 0.0f, 1.0f);
        }
        cr_expect_eq(memcmp(small, mid, sizeof small), 0, "%s: n=10 is not a prefix of n=1001",
                     name);
        cr_expect_eq(memcmp(mid, a, sizeof mid), 0, "%s: n=1001 is not a prefix of n=%d", name,
                     n);
    }
    free(a);
    free(b);
}

Test(fill, uniform_range_and_moments) {
    enum { n = 100000 };
    const float ranges[][2] = {{-0.75f, 2.25f}, {0.0f, 1.0f}, {-0.0883883476f, 0.0883883476f}};
    float *v = malloc(sizeof(float) * n);
    cr_assert(v);
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++) {
        const double lo = ranges[k][0], hi = ranges[k][1], w = hi - lo;
        fpt_rng_fill_uniform(31, FPT_RNG_TEST, (uint32_t)k, v, n, ranges[k][0], ranges[k][1]);
        double s = 0.0, mn = hi, mx = lo;
        for (int i = 0; i < n; i++) {
            cr_assert(v[i] >= ranges[k][0] && v[i] < ranges[k][1],
                      "range %zu: %.9g not in [%g, %g)", k, v[i], lo, hi);
            s += v[i];
            mn = fmin(mn, v[i]);
            mx = fmax(mx, v[i]);
        }
        const double mean = s / n;
        double ss = 0.0;
        for (int i = 0; i < n; i++) ss += (v[i] - mean) * (v[i] - mean);
        const double var = ss / (n - 1);
        // U(lo, hi): variance w^2/12, fourth central moment w^4/80, so the
        // sample variance has SE sqrt((w^4/80 - w^4/144) / n).
        const double se_mean = w / sqrt(12.0 * n);
        const double se_var = w * w * sqrt((1.0 / 80 - 1.0 / 144) / n);
        measured("fill_uniform [%g,%g): mean off by %.2f SE, variance by %.2f SE", lo, hi,
                 (mean - (lo + hi) / 2) / se_mean, (var - w * w / 12) / se_var);
        cr_expect_leq(fabs(mean - (lo + hi) / 2), 5 * se_mean, "range %zu: mean %.6f", k, mean);
        cr_expect_leq(fabs(var - w * w / 12), 5 * se_var, "range %zu: variance %.6g", k, var);
        // The extremes of 1e5 draws lie within ~1e-4 w of the ends (the
        // chance that none falls within 2e-4 w of an end is e^-20).
        cr_expect_leq(mn - lo, 2e-4 * w, "range %zu: min %.6g far from lo", k, mn);
        cr_expect_leq(hi - mx, 2e-4 * w, "range %zu: max %.6g far from hi", k, mx);
    }
    free(v);
}
