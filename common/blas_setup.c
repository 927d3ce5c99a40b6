// blas_setup.c — OpenBLAS kernel choice and thread counts (see blas_setup.h).
#define _GNU_SOURCE
#include "blas_setup.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

const char *fpt_blas_corename(void) { return openblas_get_corename(); }

static int core_in(const char *core, const char *const *list) {
    for (; *list; list++)
        if (strcasecmp(core, *list) == 0) return 1;
    return 0;
}

void fpt_blas_fix_coretype(char **argv, FILE *log) {
    const char *core = openblas_get_corename();
    if (getenv("OPENBLAS_CORETYPE") || getenv("FPTFARM_COREFIX")) {
        if (log) fprintf(log, "fptfarm: OpenBLAS kernels: %s%s\n", core,
                         getenv("FPTFARM_COREFIX") ? " (set by fptfarm)" : " (OPENBLAS_CORETYPE)");
        return;
    }
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
    if (!want) {
        if (log) fprintf(log, "fptfarm: OpenBLAS kernels: %s\n", core);
        return;
    }
    if (log) fprintf(log, "fptfarm: OpenBLAS picked '%s' kernels on a CPU that supports '%s'; "
                          "restarting with OPENBLAS_CORETYPE=%s\n", core, want, want);
    setenv("OPENBLAS_CORETYPE", want, 1);
    setenv("FPTFARM_COREFIX", "1", 1);
    if (log) fflush(log);
    execv("/proc/self/exe", argv);
    if (log) fprintf(log, "fptfarm: re-exec failed; continuing with '%s' kernels\n", core);
}

void fpt_set_threads(int n) {
    if (n < 1) n = 1;
    openblas_set_num_threads(n);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
}
