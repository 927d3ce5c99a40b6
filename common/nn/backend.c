// backend.c — naming, choosing and checking compute backends (backend.h).
#include "nn/backend.h"

#include <stdio.h>
#include <string.h>

#include "nn/backend/ops.h"

static const char *const backend_names[] = {"default", "blas", "onednn"};
static const char *const precision_names[] = {"fp32", "bf16"};

const char *fpt_backend_name(fpt_backend b) {
    return (unsigned)b < sizeof backend_names / sizeof *backend_names ? backend_names[b] : "?";
}

const char *fpt_precision_name(fpt_precision p) {
    return (unsigned)p < sizeof precision_names / sizeof *precision_names ? precision_names[p]
                                                                           : "?";
}

int fpt_backend_parse(const char *s, fpt_backend *out, fpt_err *err) {
    for (int b = FPT_BACKEND_BLAS; b <= FPT_BACKEND_ONEDNN; b++)
        if (strcmp(s, backend_names[b]) == 0) {
            *out = (fpt_backend)b;
            return 0;
        }
    return fpt_fail(err, "unknown backend '%s' (expected: onednn, blas)", s);
}

int fpt_precision_parse(const char *s, fpt_precision *out, fpt_err *err) {
    for (int p = FPT_PRECISION_FP32; p <= FPT_PRECISION_BF16; p++)
        if (strcmp(s, precision_names[p]) == 0) {
            *out = (fpt_precision)p;
            return 0;
        }
    return fpt_fail(err, "unknown precision '%s' (expected: fp32, bf16)", s);
}

const fpt_net_ops *fpt_backend_ops(fpt_backend b) {
    switch (b) {
    case FPT_BACKEND_BLAS: return &fpt_blas_ops;
#ifdef FPT_HAVE_ONEDNN
    case FPT_BACKEND_ONEDNN: return &fpt_onednn_ops;
#endif
    default: return NULL;
    }
}

int fpt_backend_built(fpt_backend b) {
    return fpt_backend_ops(b) != NULL;
}

fpt_backend fpt_backend_resolve(fpt_backend b) {
    if (b != FPT_BACKEND_DEFAULT) return b;
    return fpt_backend_built(FPT_BACKEND_ONEDNN) ? FPT_BACKEND_ONEDNN : FPT_BACKEND_BLAS;
}

int fpt_backend_check(fpt_backend b, fpt_precision p, fpt_err *err) {
    b = fpt_backend_resolve(b);
    if (p != FPT_PRECISION_FP32 && p != FPT_PRECISION_BF16)
        return fpt_fail(err, "unknown precision %d", (int)p);
    if (!fpt_backend_built(b))
        return fpt_fail(err, "backend '%s' is not in this build of fptfarm (rebuild with "
                             "`make DNN=onednn` after deploy/install-deps.sh; built: blas)",
                        fpt_backend_name(b));
    if (p == FPT_PRECISION_BF16 && b != FPT_BACKEND_ONEDNN)
        return fpt_fail(err, "precision bf16 needs the onednn backend (the %s backend computes "
                             "in fp32 only)", fpt_backend_name(b));
#ifdef FPT_HAVE_ONEDNN
    if (b == FPT_BACKEND_ONEDNN) return fpt_onednn_check(p, err);
#endif
    return 0;
}

const char *fpt_backend_describe(fpt_backend b, fpt_precision p) {
    static char line[160];
    b = fpt_backend_resolve(b);
#ifdef FPT_HAVE_ONEDNN
    if (b == FPT_BACKEND_ONEDNN) {
        snprintf(line, sizeof line, "%s, %s", fpt_onednn_describe(), fpt_precision_name(p));
        return line;
    }
#endif
    snprintf(line, sizeof line, "%s (im2col + sgemm), %s", fpt_backend_name(b),
             fpt_precision_name(p));
    return line;
}
