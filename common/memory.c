// memory.c — see memory.h.
#include "memory.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

// "512M" -> bytes; 0 when unparsable.
static size_t parse_size(const char *s) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v > 0)) return 0;
    switch (toupper((unsigned char)*end)) {
    case 'K': v *= 1024.0; break;
    case 'M': v *= 1024.0 * 1024.0; break;
    case 'G': v *= 1024.0 * 1024.0 * 1024.0; break;
    case 'T': v *= 1024.0 * 1024.0 * 1024.0 * 1024.0; break;
    default: break;
    }
    return v >= (double)SIZE_MAX ? SIZE_MAX : (size_t)v;
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

size_t fpt_mem_available(const char **source) {
    size_t best = meminfo_available();
    const char *src = "MemAvailable in /proc/meminfo";
    size_t room = cgroup_room();
    if (room > 0 && room < best) best = room, src = "the cgroup's memory limit (e.g. Slurm's --mem)";
#ifndef FPT_UNDER_ASAN
    // RLIMIT_AS caps the address space, so compare it with the current
    // virtual size (/proc/self/statm, in pages).
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        size_t vs = 0, lim = (size_t)rl.rlim_cur;
        FILE *f = fopen("/proc/self/statm", "r");
        unsigned long long pages = 0;
        if (f) {
            if (fscanf(f, "%llu", &pages) == 1) vs = (size_t)pages * 4096;
            fclose(f);
        }
        size_t left = lim > vs ? lim - vs : 0;
        if (left < best) best = left, src = "the address-space limit (ulimit -v)";
    }
#endif
    const char *cap = getenv("FPTFARM_MEMORY_LIMIT");
    if (cap && *cap) {
        size_t c = parse_size(cap);
        if (c > 0 && c < best) best = c, src = "FPTFARM_MEMORY_LIMIT";
    }
    if (source) *source = best == SIZE_MAX ? "nothing known" : src;
    return best;
}

int fpt_mem_check(size_t bytes, const char *what, fpt_err *err) {
    const char *src;
    size_t avail = fpt_mem_available(&src);
    if (bytes <= avail) return 0;
    const double mib = 1024.0 * 1024.0;
    return fpt_fail(err, "%s needs %.1f MiB, but only %.1f MiB are available (%s)", what,
                    (double)bytes / mib, (double)avail / mib, src);
}
