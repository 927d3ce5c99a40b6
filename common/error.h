// error.h — how fptfarm reports failures.
//
// Every function that can fail takes an `fpt_err *` and returns 0 on success
// or -1 on failure, after writing one human-readable line into err->msg.
// Callers add context on the way up with fpt_err_prefix() ("jobs/x.ini:12: "),
// and main() prints "fptfarm: <msg>" once and exits non-zero.  Nothing prints
// from inside the library, so one failure gives exactly one line.
#ifndef FPT_ERROR_H
#define FPT_ERROR_H

#include <stddef.h>

typedef struct fpt_err {
    char msg[1024];
} fpt_err;

// Formats the message into err (may be NULL) and returns -1.
int fpt_fail(fpt_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

// Prepends formatted context to an existing message and returns -1.
int fpt_err_prefix(fpt_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

// 64-byte aligned, zero-filled allocation; NULL with err set on failure.
// `what` names the buffer in the error ("activations for batch 128").
void *fpt_calloc(size_t count, size_t size, const char *what, fpt_err *err);
void fpt_free(void *p);

#endif
