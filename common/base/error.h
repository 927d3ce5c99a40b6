// error.h — how fptfarm reports failures.
//
// Every function that can fail takes an `fpt_err *` and returns 0 on success
// or -1 on failure, after writing one human-readable line into err->msg.
// Callers add context on the way up with fpt_err_prefix() ("jobs/x.ini:12: "),
// and main() prints "fptfarm: <msg>" once and exits non-zero.  Nothing prints
// from inside the library, so one failure gives exactly one line.
//
// Messages quote input (paths, CSV cells, names) that may hold any bytes, so
// they are kept printable and on one line: valid UTF-8 passes unchanged;
// control characters and bytes that are not valid UTF-8 become \xNN, both
// when a message is made and when it is printed.
#ifndef FPT_ERROR_H
#define FPT_ERROR_H

#include <stddef.h>
#include <stdio.h>

typedef struct fpt_err {
    char msg[1024];
} fpt_err;

// Formats the message into err (may be NULL) and returns -1.
int fpt_fail(fpt_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

// Prepends formatted context to an existing message and returns -1.
int fpt_err_prefix(fpt_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

// Copies the text `in` into out (cap >= 1 bytes, always terminated): valid
// UTF-8 unchanged; control characters (U+0000-U+001F, U+007F, and the C1
// controls U+0080-U+009F, which some terminals obey too) and every byte
// that is not part of valid UTF-8 as \xNN.  Cuts only between characters or
// escapes.  Returns the length written.
size_t fpt_text_escape(char *out, size_t cap, const char *in);

// Prints the program's error line, "fptfarm: <formatted text>\n", on f, the
// text escaped as fpt_text_escape() does.  Use it wherever an error line is
// printed, e.g. fpt_print_error(stderr, "%s", err.msg).
void fpt_print_error(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
