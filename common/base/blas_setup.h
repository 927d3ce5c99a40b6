// blas_setup.h — choosing OpenBLAS kernels and thread counts (with MKL or
// BLIS, built with BLAS=mkl|blis, only the thread count: they dispatch on
// the CPU themselves).
//
// Debian's OpenBLAS 0.3.21 does not recognise recent Xeons and falls back to
// its generic "Prescott" kernels (about 60 GFLOP/s sgemm here, against ~150
// with the SkylakeX kernels).  The kernel set is chosen when the library is
// loaded, from OPENBLAS_CORETYPE, so the fix is to set that variable and
// re-execute the program before it does anything else.
#ifndef FPT_BLAS_SETUP_H
#define FPT_BLAS_SETUP_H

#include <stddef.h>

// Call first thing in main().  If OPENBLAS_CORETYPE is unset and OpenBLAS
// picked weaker kernels than the CPU supports (AVX-512 -> SkylakeX, AVX2+FMA
// -> Haswell), sets it and re-executes /proc/self/exe with the same argv
// (once: FPTFARM_COREFIX, set to the kernels OpenBLAS had picked, guards it).
// Returns only if no re-exec happened or it failed.  Prints nothing, so that
// a bad command line still gives exactly one error line: commands print
// fpt_blas_describe() in their header instead.
void fpt_blas_fix_coretype(char **argv);

// Name of the kernel set OpenBLAS uses ("SkylakeX", "Prescott", ...).
const char *fpt_blas_corename(void);
// "SkylakeX (set by fptfarm; OpenBLAS had picked Prescott)", or
// "SkylakeX (auto-detected)", or "... (OPENBLAS_CORETYPE from the environment)".
const char *fpt_blas_describe(void);

// One option sets both OpenBLAS's and OpenMP's thread counts (n >= 1).
void fpt_set_threads(int n);

// The number of threads the BLAS starts with, from the environment envp
// alone (NULL: this process's), so that it can be known before the library
// is initialised (memory.h uses it to check the address-space limit; before
// libc's own initialiser, getenv() does not work yet: pass the envp that
// .preinit_array functions get).  Debian's OpenMP build of OpenBLAS 0.3.21
// (the one the Makefile links) starts OMP_NUM_THREADS threads if set, else
// one per configured CPU, and never more than one per CPU; it ignores
// OPENBLAS_NUM_THREADS and the process's CPU affinity at start-up (measured
// with ulimit -v probes: OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1, both,
// OMP_NUM_THREADS=8 on 2 CPUs, taskset -c 0).
int fpt_blas_startup_threads(char *const *envp);

// The address space the BLAS maps for each of its threads (bytes):
// OpenBLAS reserves a 128 MiB work buffer per thread (its BUFFER_SIZE,
// 32 << 22, in its DYNAMIC_ARCH builds; measured: fptfarm starts in
// 215 MiB with one thread and 343 MiB with two).  Without the room it does
// not fail but loops in blas_memory_alloc forever.  0 for MKL and BLIS
// (not measured).
size_t fpt_blas_thread_space(void);

#endif
