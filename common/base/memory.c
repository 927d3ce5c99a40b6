// memory.c — checked allocation and memory limits (see memory.h).  An
// allocation that fails is reported through the error convention (error.h).
#include "base/memory.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/blas_setup.h"
#include "base/error.h"

// "512M" -> bytes: digits with at most one '.', then nothing or one of K,
// M, G (either case).  0 for anything else (signs, spaces, "inf", hex,
// other suffixes), for less than one byte and for 2^64 or more.
static size_t parse_size(const char *s) {
    const char *p = s;
    int digits = 0, dots = 0;
    for (; isdigit((unsigned char)*p) || *p == '.'; p++) {
        if (*p == '.') dots++;
        else digits++;
    }
    if (digits == 0 || dots > 1) return 0;
    double mult = 1.0;
    switch (*p) {
    case 'k': case 'K': mult = 1024.0, p++; break;
    case 'm': case 'M': mult = 1024.0 * 1024.0, p++; break;
    case 'g': case 'G': mult = 1024.0 * 1024.0 * 1024.0, p++; break;
    default: break;
    }
    if (*p) return 0;
    double v = strtod(s, NULL) * mult;   // strtod stops at the suffix
    if (!(v >= 1.0) || v >= (double)SIZE_MAX) return 0;   // (double)SIZE_MAX is 2^64
    return (size_t)v;
}

int fpt_mem_limit_check(fpt_err *err) {
    const char *cap = getenv("FPTFARM_MEMORY_LIMIT");
    if (!cap || parse_size(cap) > 0) return 0;
    return fpt_fail(err, "FPTFARM_MEMORY_LIMIT='%.200s': expected bytes or a number with K, M "
                         "or G", cap);
}

// The first number of a one-line file ("max" -> SIZE_MAX); 0 if unreadable.
static size_t read_number(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char buf[64] = "";
    size_t v = 0;
    if (fgets(buf, sizeof buf, f))
        v = strncmp(buf, "max", 3) ? (size_t)strtoull(buf, NULL, 10) : SIZE_MAX;
    fclose(f);
    return v;
}

// The memory limit and use of this process's cgroup: v2 ("0::/path" in
// /proc/self/cgroup: memory.max, memory.current) or v1 ("N:memory:/path":
// memory.limit_in_bytes, memory.usage_in_bytes).  0 when there is none.
static size_t cgroup_room(void) {
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return 0;
    char line[512], v1[480] = "", v2[480] = "";
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!strncmp(line, "0::", 3)) snprintf(v2, sizeof v2, "%.400s", line + 3);
        char *m = strstr(line, ":memory:");
        if (m) snprintf(v1, sizeof v1, "%.400s", m + 8);
    }
    fclose(f);
    char a[600], b[600];
    size_t max = 0, cur = 0;
    if (v1[0]) {
        snprintf(a, sizeof a, "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", v1);
        snprintf(b, sizeof b, "/sys/fs/cgroup/memory%s/memory.usage_in_bytes", v1);
        max = read_number(a), cur = read_number(b);
    }
    if (!max && v2[0]) {
        snprintf(a, sizeof a, "/sys/fs/cgroup%s/memory.max", v2);
        snprintf(b, sizeof b, "/sys/fs/cgroup%s/memory.current", v2);
        max = read_number(a), cur = read_number(b);
    }
    // No limit: "max" (v2), or v1's "unlimited" (about 2^63).
    if (max == 0 || max >= ((size_t)1 << 62)) return 0;
    return max > cur ? max - cur : 1;
}

static size_t meminfo_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return SIZE_MAX;
    char line[128];
    size_t v = SIZE_MAX;
    unsigned long long kb;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) v = (size_t)kb * 1024;
    fclose(f);
    return v;
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FPT_UNDER_ASAN 1
#endif
#endif
#ifdef __SANITIZE_ADDRESS__
#define FPT_UNDER_ASAN 1
#endif

#ifndef FPT_UNDER_ASAN
// The process's virtual size (VmSize): what counts against RLIMIT_AS.
static size_t vm_size(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long pages = 0;
    if (f) {
        if (fscanf(f, "%llu", &pages) != 1) pages = 0;
        fclose(f);
    }
    long page = sysconf(_SC_PAGESIZE);
    return (size_t)pages * (size_t)(page > 0 ? page : 4096);
}

// The address space set aside by fpt_mem_threads_check(): the virtual size
// the process will reach once its threads run (0: nothing set aside).
static size_t threads_floor;
#endif

size_t fpt_mem_available(const char **source) {
    size_t best = meminfo_available();
    const char *src = "MemAvailable in /proc/meminfo";
    size_t room = cgroup_room();
    if (room > 0 && room < best) best = room, src = "the cgroup's memory limit (e.g. Slurm's --mem)";
#ifndef FPT_UNDER_ASAN
    // RLIMIT_AS caps the address space, so compare it with the current
    // virtual size, or with what the threads will map when that is more.
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        size_t vs = vm_size(), lim = (size_t)rl.rlim_cur;
        if (threads_floor > vs) vs = threads_floor;
        size_t left = lim > vs ? lim - vs : 0;
        if (left < best) best = left, src = "the address-space limit (ulimit -v)";
    }
#endif
    const char *cap = getenv("FPTFARM_MEMORY_LIMIT");
    size_t c = cap ? parse_size(cap) : 0;
    if (c > 0 && c < best) best = c, src = "FPTFARM_MEMORY_LIMIT";
    if (source) *source = best == SIZE_MAX ? "nothing known" : src;
    return best;
}

// ---- the address-space limit ---------------------------------------------------
//
// The figures, measured on 2 vCPUs of an AMD EPYC (Zen 5), Debian 12: OpenBLAS
// 0.3.21 (OpenMP build), oneDNN 2.6.3, glibc 2.36.  The smallest ulimit -v
// (within 4 MiB) with which a command ends normally, started with 1 or 2
// BLAS threads (OMP_NUM_THREADS=1, or unset):
//   fptfarm version: 218 MiB | 344 MiB (the libraries map 87 MiB, OpenBLAS
//     reserves 128 MiB per thread); status 344, fit 354, import under 352;
//   fptfarm train --width 2 --epochs 1 --synth-train 200 --synth-test 100
//     --batch 50, by --threads, the same with 1 or 2 BLAS threads at start:
//       --backend blas    1: 366   2: 504            4: 775
//       --backend onednn  1: 395   2: 598   3: 796   4: 997
// Below these, OpenBLAS loops forever (at start-up, or at the first sgemm
// of a thread without a buffer) or libgomp exits; below 88 MiB the dynamic
// loader cannot map the libraries and says so itself.

#define MIB ((size_t)1 << 20)

// Start-up: what is mapped before the libraries' initialisers run, their
// BLAS buffers, and this much for the libraries' own start-up and a command
// that does not train (status, import, fit: measured at most 11 MiB above
// version).  With 2 BLAS threads here: 87 + 256 + 64 = 408 MiB, 64 MiB
// above the measured 344; with 1: 280 MiB, 62 above 218.
#define START_MARGIN (64 * MIB)

// A farm rank (fptfarm run under mpirun -n 3, threads = 1, the synthetic
// width-2 spec of tests/test_farm.c) needs 613 MiB where `fptfarm train`
// needs 395: Open MPI's components and shared-memory segments map 218 MiB.
// Below it, ranks died with a segmentation fault inside oneDNN or Open
// MPI's own messages, or (OMP_NUM_THREADS=1, 540-600 MiB) hung.  So every
// rank of `fptfarm run` is checked at start-up for MPI plus training with
// one thread (the spec's threads are not known yet): 664 MiB here, 51 above
// the measured 613.
#define MPI_SPACE (224 * MIB)

// Training with t threads: 208 MiB per thread (measured 201 with onednn,
// 137 with blas: a BLAS buffer of 128 MiB, a glibc malloc arena of 64 MiB, a
// stack of 8 MiB), on top of a base: the libraries' own mapping plus
// 113 MiB for their first use (oneDNN's, and the BLAS buffer of the calling
// thread: measured 106-110 MiB), or, when the BLAS started more threads than
// that and their buffers are mapped already, what is mapped now less 144
// MiB.  Plus a margin for the model and its data (which fpt_calloc() checks
// against what is left) and for fragmentation.  With 1 or 2 BLAS threads at
// start the need comes out 45-67 MiB above every onednn measurement above
// (441, 649, 857, 1065 MiB for 1-4 threads) and more above blas's.
#define THREAD_SPACE (208 * MIB)
#define FIRST_USE (113 * MIB)
#define PREMAPPED_CREDIT (144 * MIB)
#define TRAIN_MARGIN (32 * MIB)

#ifndef FPT_UNDER_ASAN
// The address space training with t threads reaches (without the margin),
// from what is mapped now and the BLAS buffers mapped (see THREAD_SPACE).
static size_t threads_space(int t, size_t mapped, size_t buffers) {
    size_t libs = mapped > buffers ? mapped - buffers : 0;
    size_t base = libs + FIRST_USE;
    if (mapped > PREMAPPED_CREDIT && mapped - PREMAPPED_CREDIT > base)
        base = mapped - PREMAPPED_CREDIT;
    return base + (size_t)t * THREAD_SPACE;
}
#endif

int fpt_mem_startup_check(char *const *envp, int mpi, char *msg, size_t cap) {
#ifdef FPT_UNDER_ASAN
    (void)envp, (void)mpi, (void)msg, (void)cap;
    return 0;
#else
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
    const int n = fpt_blas_startup_threads(envp);
    const size_t libs = vm_size(), buffers = (size_t)n * fpt_blas_thread_space();
    const double lim = (double)rl.rlim_cur / (double)MIB;
    const char *fewer = buffers > 0 && n > 1 ? " or start fewer threads (e.g. OMP_NUM_THREADS=1)"
                                             : "";
    char blas[128] = "";
    if (buffers > 0 && n == 1)
        snprintf(blas, sizeof blas, ", %zu MiB for OpenBLAS's thread", buffers / MIB);
    else if (buffers > 0)
        snprintf(blas, sizeof blas, ", %zu MiB for each of OpenBLAS's %d threads",
                 fpt_blas_thread_space() / MIB, n);
    if (mpi) {
        // Every rank of a farm may train: MPI and one training thread.
        const size_t train = threads_space(1, libs + buffers, buffers) + TRAIN_MARGIN;
        const size_t need = train + MPI_SPACE;
        if ((size_t)rl.rlim_cur >= need) return 0;
        snprintf(msg, cap,
                 "the address-space limit (ulimit -v) is %.1f MiB, but a farm rank needs at "
                 "least %zu MiB: %zu MiB for MPI and %zu MiB to train with one thread (%zu MiB "
                 "of libraries%s); raise the limit (ulimit -v %zu or more)%s",
                 lim, (need + MIB - 1) / MIB, MPI_SPACE / MIB, (train + MIB - 1) / MIB,
                 libs / MIB, blas, (need + 1023) / 1024, fewer);
        return -1;
    }
    const size_t need = libs + buffers + START_MARGIN;
    if ((size_t)rl.rlim_cur >= need) return 0;
    snprintf(msg, cap,
             "the address-space limit (ulimit -v) is %.1f MiB, but fptfarm needs at least %zu MiB "
             "to start: %zu MiB of libraries%s and %zu MiB to work in; raise the limit "
             "(ulimit -v %zu or more)%s",
             lim, (need + MIB - 1) / MIB, libs / MIB, blas, START_MARGIN / MIB,
             (need + 1023) / 1024, fewer);
    return -1;
#endif
}

int fpt_mem_threads_check(int threads, fpt_err *err) {
#ifdef FPT_UNDER_ASAN
    (void)threads, (void)err;
    return 0;
#else
    if (threads < 1) threads = 1;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
    const size_t mapped = vm_size(), lim = (size_t)rl.rlim_cur;
    const size_t buffers = (size_t)fpt_blas_startup_threads(NULL) * fpt_blas_thread_space();
    const size_t reach = threads_space(threads, mapped, buffers), need = reach + TRAIN_MARGIN;
    if (lim >= need) {
        threads_floor = reach;
        return 0;
    }
    char fewer[96] = "";
    if (threads > 1)
        snprintf(fewer, sizeof fewer, " or use fewer threads (--threads 1 needs about %zu MiB)",
                 (threads_space(1, mapped, buffers) + TRAIN_MARGIN + MIB - 1) / MIB);
    return fpt_fail(err,
                    "training with %d thread%s needs about %zu MiB of address space (%zu MiB per "
                    "thread for its BLAS buffer, malloc arena and stack, %zu MiB for the libraries "
                    "and their first use, %zu MiB for the model), but the address-space limit "
                    "(ulimit -v) is %.1f MiB; raise it (ulimit -v %zu or more)%s",
                    threads, threads == 1 ? "" : "s", (need + MIB - 1) / MIB, THREAD_SPACE / MIB,
                    (reach - (size_t)threads * THREAD_SPACE) / MIB, TRAIN_MARGIN / MIB,
                    (double)lim / (double)MIB, (need + 1023) / 1024, fewer);
#endif
}

int fpt_mem_check(size_t bytes, const char *what, fpt_err *err) {
    const char *src;
    size_t avail = fpt_mem_available(&src);
    if (bytes <= avail) return 0;
    const double mib = 1024.0 * 1024.0;
    return fpt_fail(err, "%s needs %.1f MiB, but only %.1f MiB are available (%s)", what,
                    (double)bytes / mib, (double)avail / mib, src);
}

void *fpt_calloc(size_t count, size_t size, const char *what, fpt_err *err) {
    if (count == 0 || size == 0) count = size = 1;
    if (count > SIZE_MAX / size) {
        fpt_fail(err, "cannot allocate %s: size overflows", what);
        return NULL;
    }
    size_t bytes = count * size;
    // Refuse what cannot fit before touching it (the memset below would
    // otherwise commit it page by page until the OOM killer steps in).
    if (fpt_mem_check(bytes, what, err)) return NULL;
    size_t rounded = (bytes + 63) & ~(size_t)63;  // aligned_alloc wants a multiple
    void *p = aligned_alloc(64, rounded);
    if (!p) {
        fpt_fail(err, "out of memory allocating %s (%.1f MiB)", what,
                 (double)bytes / (1024.0 * 1024.0));
        return NULL;
    }
    memset(p, 0, rounded);
    return p;
}

void fpt_free(void *p) { free(p); }
