// simd.h — vectorizing hot loops without tying the binary to one CPU.
//
// fptfarm is built for the baseline x86-64 (SSE2) so that a binary made on a
// login node runs on every compute node.  The few memory-bound loops that
// matter (BatchNorm, col2im) are compiled three times, for AVX-512
// (x86-64-v4), AVX2+FMA (x86-64-v3) and the baseline, and the loader picks
// the best one for the CPU at start-up (GCC function multi-versioning).
// Results can therefore differ in the last bit between CPU types, never
// between runs or thread counts on one machine.
#ifndef FPT_SIMD_H
#define FPT_SIMD_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(FPT_NO_CLONES)
#define FPT_SIMD_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FPT_SIMD_CLONES
#endif

// Parallel loops with less work than this (elements touched) run on one
// thread: a parallel region costs a few microseconds of fork/barrier, far
// more than a small layer of a narrow network, and much more when the
// machine is oversubscribed and the waiting threads spin.  Results do not
// depend on it (every loop is split so that any split gives the same sums).
#define FPT_PAR_MIN_WORK 65536

#endif
