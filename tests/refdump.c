// refdump.c — see refdump.h.  Strict: any short read, unknown dtype or
// missing END record is an error naming the file and the record.
#include "refdump.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rd(FILE *f, void *p, size_t n) { return fread(p, 1, n, f) == n ? 0 : -1; }

int refdump_load(refdump *d, const char *path, fpt_err *err) {
    memset(d, 0, sizeof *d);
    FILE *f = fopen(path, "rb");
    if (!f) return fpt_fail(err, "%s: cannot open (run tests/ref/make_ref.py?)", path);
    char magic[8];
    uint32_t version;
    if (rd(f, magic, 8) || memcmp(magic, "FPTREF\0\0", 8) || rd(f, &version, 4) || version != 1) {
        fclose(f);
        return fpt_fail(err, "%s: not an FPTREF version 1 dump", path);
    }
    int cap = 0;
    for (;;) {
        uint16_t len;
        uint8_t dtype, ndim;
        ref_rec r = {0};
        if (rd(f, &len, 2) || len == 0 || len >= sizeof r.name || rd(f, r.name, len) ||
            rd(f, &dtype, 1) || rd(f, &ndim, 1) || ndim > 8 || dtype > 2 ||
            rd(f, r.dims, 4u * ndim))
            goto bad;
        r.dtype = dtype;
        r.ndim = ndim;
        r.count = 1;
        for (int k = 0; k < ndim; k++) r.count *= r.dims[k];
        if (strcmp(r.name, "END") == 0) break;
        size_t esz = dtype == REF_F64 ? 8 : 4;
        void *raw = malloc(r.count * esz + 1);
        r.f = malloc(r.count * sizeof(double) + 1);
        if (!raw || !r.f || rd(f, raw, r.count * esz)) {
            free(raw);
            free(r.f);
            goto bad;
        }
        for (size_t k = 0; k < r.count; k++)
            r.f[k] = dtype == REF_F32 ? ((float *)raw)[k]
                   : dtype == REF_I32 ? ((int32_t *)raw)[k]
                                      : ((double *)raw)[k];
        if (dtype == REF_I32) r.i = raw;
        else if (dtype == REF_F32) r.f32 = raw;
        else free(raw);
        if (d->n == cap) {
            cap = cap ? 2 * cap : 32;
            d->recs = realloc(d->recs, sizeof(ref_rec) * cap);
            if (!d->recs) abort();
        }
        d->recs[d->n++] = r;
    }
    fclose(f);
    return 0;
bad:
    fclose(f);
    refdump_free(d);
    return fpt_fail(err, "%s: truncated or malformed record", path);
}

const ref_rec *refdump_get(const refdump *d, const char *name) {
    for (int k = 0; k < d->n; k++)
        if (strcmp(d->recs[k].name, name) == 0) return &d->recs[k];
    return NULL;
}

void refdump_free(refdump *d) {
    for (int k = 0; k < d->n; k++) {
        free(d->recs[k].f);
        free(d->recs[k].i);
        free(d->recs[k].f32);
    }
    free(d->recs);
    memset(d, 0, sizeof *d);
}
