// blas_setup.c — BLAS kernel choice and thread counts (see blas_setup.h).
#define _GNU_SOURCE
#include "base/blas_setup.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(FPT_BLAS_MKL)
#include <mkl.h>
#elif defined(FPT_BLAS_BLIS)
#include <blis.h>
#else
#include <cblas.h>   // OpenBLAS: declares openblas_get_corename, openblas_set_num_threads
#define FPT_BLAS_OPENBLAS 1
#endif

// A thread count from the environment envp (NULL: this process's): its
// first number ("4" or "4,2", as OpenMP allows lists), or 0 when unset or
// not a positive number.
static int env_threads(char *const *envp, const char *name) {
    const char *v = NULL;
    if (!envp) v = getenv(name);
    for (size_t len = strlen(name); envp && *envp && !v; envp++)
        if (!strncmp(*envp, name, len) && (*envp)[len] == '=') v = *envp + len + 1;
    if (!v) return 0;
    char *end;
    long n = strtol(v, &end, 10);
    return end != v && n > 0 && n < INT_MAX ? (int)n : 0;
}

int fpt_blas_startup_threads(char *const *envp) {
    long cpus = sysconf(_SC_NPROCESSORS_CONF);
    if (cpus < 1) cpus = 1;
    const int n = env_threads(envp, "OMP_NUM_THREADS");
    return n > 0 && n < cpus ? n : (int)(cpus < INT_MAX ? cpus : INT_MAX);
}

#ifdef FPT_BLAS_OPENBLAS
size_t fpt_blas_thread_space(void) { return (size_t)128 << 20; }

const char *fpt_blas_corename(void) { return openblas_get_corename(); }

static int core_in(const char *core, const char *const *list) {
    for (; *list; list++)
        if (strcasecmp(core, *list) == 0) return 1;
    return 0;
}

void fpt_blas_fix_coretype(char **argv) {
    const char *core = openblas_get_corename();
    if (getenv("OPENBLAS_CORETYPE") || getenv("FPTFARM_COREFIX")) return;
    static const char *const avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids", NULL};
    static const char *const avx2[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake",
                                       "SapphireRapids", NULL};
    const char *want = NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
        if (!core_in(core, avx512)) want = "SkylakeX";
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        if (!core_in(core, avx2)) want = "Haswell";
    }
    if (!want) return;
    setenv("OPENBLAS_CORETYPE", want, 1);
    setenv("FPTFARM_COREFIX", core, 1);
    fflush(NULL);
    execv("/proc/self/exe", argv);
    // exec failed: carry on with the kernels we have (fpt_blas_describe says so)
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv("FPTFARM_COREFIX");
}

const char *fpt_blas_describe(void) {
    static char buf[160];
    const char *core = openblas_get_corename(), *fix = getenv("FPTFARM_COREFIX");
    if (fix)
        snprintf(buf, sizeof buf, "OpenBLAS, %s kernels (set by fptfarm; OpenBLAS had picked %s)", core, fix);
    else if (getenv("OPENBLAS_CORETYPE"))
        snprintf(buf, sizeof buf, "OpenBLAS, %s kernels (OPENBLAS_CORETYPE from the environment)", core);
    else
        snprintf(buf, sizeof buf, "OpenBLAS, %s kernels (auto-detected)", core);
    return buf;
}

void fpt_set_threads(int n) {
    if (n < 1) n = 1;
    openblas_set_num_threads(n);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
}

#else   // MKL or BLIS: their own CPU dispatch; only the thread count to set

size_t fpt_blas_thread_space(void) { return 0; }

const char *fpt_blas_corename(void) {
#if defined(FPT_BLAS_MKL)
    return "MKL";
#else
    return "BLIS";
#endif
}

void fpt_blas_fix_coretype(char **argv) { (void)argv; }

const char *fpt_blas_describe(void) {
    static char buf[200];
#if defined(FPT_BLAS_MKL)
    char version[160];
    mkl_get_version_string(version, sizeof version);
    snprintf(buf, sizeof buf, "%s", version);
#else
    snprintf(buf, sizeof buf, "BLIS %s (%s kernels)", bli_info_get_version_str(),
             bli_arch_string(bli_arch_query_id()));
#endif
    return buf;
}

void fpt_set_threads(int n) {
    if (n < 1) n = 1;
#if defined(FPT_BLAS_MKL)
    mkl_set_num_threads(n);
#else
    bli_thread_set_num_threads(n);
#endif
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
}
#endif
