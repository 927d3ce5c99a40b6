// hash.h — FNV-1a 64 (Fowler-Noll-Vo), the one hash fptfarm uses: for
// checkpoint integrity and for fingerprints of configurations and specs.
// Not cryptographic: it detects accidents (torn files, edited specs), not
// tampering.
#ifndef FPT_HASH_H
#define FPT_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FPT_FNV1A_INIT 14695981039346656037ULL   // offset basis

// Continues hash h over n bytes (start with FPT_FNV1A_INIT).
static inline uint64_t fpt_fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;   // FNV prime
    }
    return h;
}

#endif
