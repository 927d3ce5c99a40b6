// memory.h — how much memory this process may still use, so that work that
// cannot fit is refused with numbers before it starts, instead of being
// killed by the kernel's OOM killer (or a cgroup) half-way through.
#ifndef FPT_MEMORY_H
#define FPT_MEMORY_H

#include <stddef.h>

#include "error.h"

// Bytes this process can still allocate and touch: the smallest of
//   MemAvailable from /proc/meminfo;
//   the cgroup v2 limit minus current use (memory.max - memory.current),
//     which is how Slurm's task/cgroup enforces --mem;
//   RLIMIT_AS minus the current virtual size (not under ASan, whose shadow
//     memory makes the address space meaningless);
//   FPTFARM_MEMORY_LIMIT (bytes, or with a K, M, G suffix), a user's cap.
// *source (may be NULL) names the binding one ("MemAvailable", ...).
// SIZE_MAX when nothing is known.
size_t fpt_mem_available(const char **source);

// Fails, saying how much `what` needs against what is available and where
// that figure comes from, when bytes > fpt_mem_available().
int fpt_mem_check(size_t bytes, const char *what, fpt_err *err);

#endif
