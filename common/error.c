// error.c — error messages and checked allocation (see error.h).
#include "error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"

// Control characters quoted from input (a newline, an escape sequence in a
// name) would break the one-line contract or drive the terminal: shown as '?'.
static void one_line(char *msg) {
    for (unsigned char *p = (unsigned char *)msg; *p; p++)
        if (*p < 0x20 || *p == 0x7f) *p = '?';
}

int fpt_fail(fpt_err *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        one_line(err->msg);
    }
    return -1;
}

int fpt_err_prefix(fpt_err *err, const char *fmt, ...) {
    if (!err) return -1;
    char head[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    // Truncation keeps the head of the message, the part a user reads first.
    size_t h = strlen(head);
    if (h >= sizeof err->msg) h = sizeof err->msg - 1;
    memcpy(err->msg, head, h);
    size_t rest = strnlen(old, sizeof old);
    if (rest > sizeof err->msg - 1 - h) rest = sizeof err->msg - 1 - h;
    memcpy(err->msg + h, old, rest);
    err->msg[h + rest] = '\0';
    one_line(err->msg);
    return -1;
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
