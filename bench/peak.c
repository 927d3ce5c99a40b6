// peak.c — the machine's measured arithmetic peak, the yardstick of `make
// bench`'s "share of peak" column: fp32 FMA (AVX-512, else AVX2) and bf16
// dot products (VDPBF16PS, AVX512_BF16), on 1..T threads.  Each thread runs
// ACC independent accumulator chains (enough to cover the FMA latency on
// two pipes) over registers only, so memory plays no part.
//
//   peak --threads 2 [--seconds 0.5]
// prints one JSON line: {"threads":2,"fp32_gflops":..,"bf16_gflops":..,"isa":".."}
// (bf16_gflops 0 when the CPU lacks AVX512_BF16).
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/prof.h"

#define ACC 16
#define ITERS 4096

// Returns the FLOPs of `reps` rounds (multiply + add = 2 per lane).
__attribute__((target("avx512f"))) static double fma512(long reps, float seed) {
    __m512 acc[ACC], a = _mm512_set1_ps(seed), b = _mm512_set1_ps(0.999f);
    for (int k = 0; k < ACC; k++) acc[k] = _mm512_set1_ps((float)k);
    for (long r = 0; r < reps; r++)
        for (int i = 0; i < ITERS; i++)
            for (int k = 0; k < ACC; k++) acc[k] = _mm512_fmadd_ps(acc[k], b, a);
    float sink = 0;
    for (int k = 0; k < ACC; k++) sink += _mm512_reduce_add_ps(acc[k]);
    if (sink == 12345.0f) puts("");   // keeps the loop
    return 2.0 * 16 * ACC * (double)ITERS * reps;
}

__attribute__((target("avx2,fma"))) static double fma256(long reps, float seed) {
    __m256 acc[ACC], a = _mm256_set1_ps(seed), b = _mm256_set1_ps(0.999f);
    for (int k = 0; k < ACC; k++) acc[k] = _mm256_set1_ps((float)k);
    for (long r = 0; r < reps; r++)
        for (int i = 0; i < ITERS; i++)
            for (int k = 0; k < ACC; k++) acc[k] = _mm256_fmadd_ps(acc[k], b, a);
    float out[8], sink = 0;
    for (int k = 0; k < ACC; k++) {
        _mm256_storeu_ps(out, acc[k]);
        for (int j = 0; j < 8; j++) sink += out[j];
    }
    if (sink == 12345.0f) puts("");
    return 2.0 * 8 * ACC * (double)ITERS * reps;
}

// VDPBF16PS: 16 lanes, each 2 bf16 products added to fp32: 64 FLOPs.
__attribute__((target("avx512f,avx512bf16"))) static double dpbf16(long reps, float seed) {
    __m512 acc[ACC];
    __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3f7f);
    (void)seed;
    for (int k = 0; k < ACC; k++) acc[k] = _mm512_set1_ps((float)k);
    for (long r = 0; r < reps; r++)
        for (int i = 0; i < ITERS; i++)
            for (int k = 0; k < ACC; k++) acc[k] = _mm512_dpbf16_ps(acc[k], a, b);
    float sink = 0;
    for (int k = 0; k < ACC; k++) sink += _mm512_reduce_add_ps(acc[k]);
    if (sink == 12345.0f) puts("");
    return 4.0 * 16 * ACC * (double)ITERS * reps;
}

// GFLOP/s of kernel f on `threads` threads, each running it for ~seconds.
static double measure(double (*f)(long, float), int threads, double seconds) {
    long reps = 1;
    for (;;) {   // calibrate on one thread
        double t0 = fpt_now();
        f(reps, 1.0f);
        if (fpt_now() - t0 > seconds / 4) break;
        reps *= 2;
    }
    reps *= 4;
    double flops = 0, t0 = fpt_now();
    #pragma omp parallel num_threads(threads) reduction(+ : flops)
    flops += f(reps, 1.0f + (float)omp_get_thread_num());
    return flops / (fpt_now() - t0) / 1e9;
}

int main(int argc, char **argv) {
    int threads = 1;
    double seconds = 0.5;
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
    }
    __builtin_cpu_init();
    const int avx512 = __builtin_cpu_supports("avx512f");
    const int bf16 = avx512 && __builtin_cpu_supports("avx512bf16");
    double fp32 = avx512 ? measure(fma512, threads, seconds)
                         : __builtin_cpu_supports("fma") ? measure(fma256, threads, seconds) : 0;
    double b = bf16 ? measure(dpbf16, threads, seconds) : 0;
    printf("{\"threads\":%d,\"fp32_gflops\":%.1f,\"bf16_gflops\":%.1f,\"isa\":\"%s\"}\n", threads,
           fp32, b, bf16 ? "avx512_bf16" : avx512 ? "avx512" : "avx2");
    return 0;
}
