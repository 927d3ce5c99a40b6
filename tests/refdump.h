// refdump.h — reader for the PyTorch reference dumps written by
// tests/ref/make_ref.py (format documented at the top of that script).
#ifndef FPT_REFDUMP_H
#define FPT_REFDUMP_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

enum { REF_F32 = 0, REF_I32 = 1, REF_F64 = 2 };

typedef struct ref_rec {
    char name[64];
    int dtype, ndim;
    uint32_t dims[8];
    size_t count;     // elements
    double *f;        // every numeric record converted to double (exact)
    int32_t *i;       // int32 records as read (NULL otherwise)
    float *f32;       // float32 records as read (NULL otherwise)
} ref_rec;

typedef struct refdump {
    ref_rec *recs;
    int n;
} refdump;

int refdump_load(refdump *d, const char *path, fpt_err *err);
// The record called name, or NULL.
const ref_rec *refdump_get(const refdump *d, const char *name);
void refdump_free(refdump *d);

#endif
