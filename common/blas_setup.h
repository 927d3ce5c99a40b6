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

#endif
