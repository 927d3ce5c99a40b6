// error.c — error messages (see error.h): made, escaped, prefixed, printed.
#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

// The length of the valid UTF-8 character at p (1-4), or 0 when p starts no
// valid one: a stray continuation byte, an overlong form (C0, C1, E0 80-9F,
// F0 80-8F), a UTF-16 surrogate (ED A0-BF), beyond U+10FFFF (F4 90-, F5-FF)
// or a sequence cut short (the terminating NUL is not a continuation byte,
// so nothing past it is read).
static int utf8_len(const unsigned char *p) {
    const unsigned c = p[0];
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) return (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        const unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        const unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80 ? 4
                                                                                          : 0;
    }
    return 0;
}

size_t fpt_text_escape(char *out, size_t cap, const char *in) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)in;
    size_t n = 0;
    while (*p) {
        int len = utf8_len(p);
        // C0 controls and DEL would break the line or drive the terminal;
        // so can the C1 controls (U+0080-U+009F: CSI is U+009B), valid UTF-8
        // or not.  Everything else that decodes is printed as it is.
        const int control =
            len == 1 ? (*p < 0x20 || *p == 0x7f) : len == 2 && p[0] == 0xc2 && p[1] < 0xa0;
        const int escaped = len == 0 || control;
        const int bytes = len == 0 ? 1 : len;
        const size_t need = escaped ? 4 * (size_t)bytes : (size_t)bytes;
        if (n + need >= cap) break;   // only whole characters and escapes
        for (int i = 0; i < bytes; i++) {
            if (escaped) {
                out[n++] = '\\';
                out[n++] = 'x';
                out[n++] = hex[p[i] >> 4];
                out[n++] = hex[p[i] & 15];
            } else {
                out[n++] = (char)p[i];
            }
        }
        p += bytes;
    }
    if (cap > 0) out[n] = '\0';   // n < cap: every append checked it
    return n;
}

// Messages are escaped when made, so that wherever one goes (a terminal, a
// log, another rank, the database) it is one printable line.  Escaping is
// idempotent: its output is ASCII escapes and valid UTF-8.
static void one_line(fpt_err *err) {
    char tmp[sizeof err->msg];
    size_t n = fpt_text_escape(tmp, sizeof tmp, err->msg);
    memcpy(err->msg, tmp, n + 1);
}

void fpt_print_error(FILE *f, const char *fmt, ...) {
    char raw[4096], text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    fpt_text_escape(text, sizeof text, raw);
    // One fprintf: glibc writes an unbuffered stream's whole line in one
    // write, so ranks sharing a terminal do not interleave inside it.
    fprintf(f, "fptfarm: %s\n", text);
    fflush(f);
}

int fpt_fail(fpt_err *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        one_line(err);
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
    one_line(err);
    return -1;
}
