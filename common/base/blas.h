// blas.h — the CBLAS header of the BLAS this build links (Makefile: BLAS=).
//
// fptfarm calls only cblas_sgemm/cblas_sgemv, which OpenBLAS, MKL and BLIS
// all provide with the same signature; the library-specific calls (kernel
// choice, thread count) live in blas_setup.c.
#ifndef FPT_BLAS_H
#define FPT_BLAS_H

#if defined(FPT_BLAS_MKL)
#include <mkl_cblas.h>
#else   // OpenBLAS and BLIS (its pkg-config adds the directory of its cblas.h)
#include <cblas.h>
#endif

#endif
