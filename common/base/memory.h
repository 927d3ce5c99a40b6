// memory.h — checked allocation, and how much memory this process may still
// use, so that work that cannot fit is refused with numbers before it
// starts, instead of being killed by the kernel's OOM killer (or a cgroup)
// half-way through.
#ifndef FPT_MEMORY_H
#define FPT_MEMORY_H

#include <stddef.h>

#include "base/error.h"

// 64-byte aligned, zero-filled allocation of count x size bytes (at least
// one), checked first against fpt_mem_available() (fpt_mem_check), so that
// a buffer that cannot fit is refused before it is touched.  NULL with err
// set on failure (the size overflows, it does not fit, the allocator
// refuses): `what` names the buffer in the error ("activations for batch
// 128").  Free with fpt_free.
void *fpt_calloc(size_t count, size_t size, const char *what, fpt_err *err);
void fpt_free(void *p);

// Bytes this process can still allocate and touch: the smallest of
//   MemAvailable from /proc/meminfo;
//   the cgroup v2 limit minus current use (memory.max - memory.current),
//     which is how Slurm's task/cgroup enforces --mem;
//   RLIMIT_AS minus the current virtual size (not under ASan, whose shadow
//     memory makes the address space meaningless);
//   FPTFARM_MEMORY_LIMIT (bytes, or with a K, M, G suffix), a user's cap;
//     an unparsable value is ignored here: fpt_mem_limit_check() refuses it.
// *source (may be NULL) names the binding one ("MemAvailable", ...).
// SIZE_MAX when nothing is known.
size_t fpt_mem_available(const char **source);

// Refuses an FPTFARM_MEMORY_LIMIT that is set but is not bytes or a number
// with a K, M or G suffix ("512M", "1.5G", "3000000"; above 0, below 2^64):
// "FPTFARM_MEMORY_LIMIT='12X': expected bytes or a number with K, M or G".
// Commands call it before they write anything, so a typo is never taken
// for "no limit".
int fpt_mem_limit_check(fpt_err *err);

// ---- the address-space limit (ulimit -v, RLIMIT_AS) ------------------------
//
// Libraries reserve address space they never touch: OpenBLAS 128 MiB per
// thread (blas_setup.h), glibc a 64 MiB malloc arena per thread, each thread
// its stack.  Under a small ulimit -v, OpenBLAS loops forever at start-up or
// at its first sgemm on a new thread, and libgomp exits with its own
// message.  So fptfarm checks the limit against these reservations first.
// Nothing is checked under AddressSanitizer, which reserves terabytes of
// shadow memory and refuses any finite limit itself, at start-up.

// At start-up, before any library's initialiser has run (envp: the
// process's environment, as .preinit_array functions get it): fails,
// writing one line (without "fptfarm: ") into msg, when the limit leaves too
// little room for the BLAS's threads (fpt_blas_startup_threads()) on top of
// what is mapped now, plus a margin; with mpi (a rank of `fptfarm run`), for
// MPI and training with one thread as well (memory.c has the figures).
int fpt_mem_startup_check(char *const *envp, int mpi, char *msg, size_t cap);

// Before training with `threads` threads: fails with the limit and the
// address space they need when ulimit -v is too small.  On success, that
// address space is set aside: fpt_mem_available() counts it as used, so
// that the model's own allocations are refused with numbers instead of
// taking the room the threads will map later.
int fpt_mem_threads_check(int threads, fpt_err *err);

// Fails, saying how much `what` needs against what is available and where
// that figure comes from, when bytes > fpt_mem_available().
int fpt_mem_check(size_t bytes, const char *what, fpt_err *err);

#endif
