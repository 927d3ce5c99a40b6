// fuzz_common.h — what the libFuzzer harnesses share: the error contract,
// a scratch directory, and small file helpers.  Header-only (each harness is
// one translation unit linked with the sanitized library).
//
// The contract every parser must keep (error.h): a call returns 0 or -1;
// -1 comes with one non-empty line in err.msg (no '\n', NUL-terminated
// within the buffer).  A broken contract calls fuzz_die(), which prints what
// was wrong and aborts, so libFuzzer records the input as a crash.
// FPT_FUZZ_VERBOSE=1 in the environment prints every call's outcome (and
// the error line) to stderr, to see what an input does:
//   FPT_FUZZ_VERBOSE=1 build-fuzz/fuzz_cifar tests/fuzz/corpus/cifar/*
#ifndef FPT_FUZZ_COMMON_H
#define FPT_FUZZ_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"

// The model fuzz_checkpoint.c loads into, and make_seeds.c writes seeds
// for: the smallest ResNet-18 the library builds.
#define FUZZ_CKPT_WIDTH 1
#define FUZZ_CKPT_CLASSES 2
#define FUZZ_CKPT_HW 8

__attribute__((noreturn, format(printf, 1, 2)))
static inline void fuzz_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: CONTRACT BROKEN: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

// Checks the error contract of one call.  prefix (may be NULL): the text a
// rejection must start with (the file name the parser was given).
static inline void fuzz_check_result(const char *what, int rc, const fpt_err *err,
                                     const char *prefix) {
    static int verbose = -1;   // FPT_FUZZ_VERBOSE=1: say what became of each input
    if (verbose < 0) verbose = getenv("FPT_FUZZ_VERBOSE") && *getenv("FPT_FUZZ_VERBOSE") == '1';
    if (verbose) fprintf(stderr, "fuzz: %s: %s%s\n", what, rc ? "rejected: " : "accepted",
                         rc ? err->msg : "");
    if (rc != 0 && rc != -1) fuzz_die("%s returned %d (expected 0 or -1)", what, rc);
    if (rc == 0) return;
    const size_t n = strnlen(err->msg, sizeof err->msg);
    if (n == sizeof err->msg) fuzz_die("%s: err.msg is not NUL-terminated", what);
    if (n == 0) fuzz_die("%s returned -1 with an empty err.msg", what);
    const char *nl = memchr(err->msg, '\n', n);
    if (nl)
        fuzz_die("%s: err.msg is not one line (newline at byte %zu): \"%s\"", what,
                 (size_t)(nl - err->msg), err->msg);
    if (prefix && strncmp(err->msg, prefix, strlen(prefix)) != 0)
        fuzz_die("%s: err.msg does not start with \"%s\": \"%s\"", what, prefix, err->msg);
}

// A fresh error buffer full of garbage except for its first byte, so that a
// message the library forgot to terminate shows up.
static inline void fuzz_err_reset(fpt_err *err) {
    memset(err->msg, 'x', sizeof err->msg);
    err->msg[0] = '\0';
}

// ---- scratch directory -------------------------------------------------------

static char fuzz_dir[512];

static inline void fuzz_rm_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) fuzz_rm_tree(path);
        else unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static inline void fuzz_dir_remove(void) {
    if (fuzz_dir[0]) fuzz_rm_tree(fuzz_dir);
}

// Makes the process's scratch directory: $FPT_FUZZ_TMPDIR, else /dev/shm
// (tmpfs: the harnesses write files for every input), else $TMPDIR or /tmp.
// Removed at exit.
static inline const char *fuzz_dir_make(const char *name) {
    if (fuzz_dir[0]) return fuzz_dir;
    const char *base = getenv("FPT_FUZZ_TMPDIR");
    if (!base || !*base) {
        struct stat st;
        if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
            base = "/dev/shm";
        else if (!(base = getenv("TMPDIR")) || !*base)
            base = "/tmp";
    }
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/fptfarm-fuzz-%s-XXXXXX", base, name);
    if (!mkdtemp(fuzz_dir)) {
        fprintf(stderr, "fuzz: cannot create a scratch directory %s: %s\n", fuzz_dir,
                strerror(errno));
        exit(2);
    }
    atexit(fuzz_dir_remove);
    return fuzz_dir;
}

// Writes n bytes to path (created or truncated); exits on an I/O error (that
// is the harness's environment failing, not the parser).
static inline void fuzz_write_file(const char *path, const void *data, size_t n) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "fuzz: cannot create %s: %s\n", path, strerror(errno));
        exit(2);
    }
    const unsigned char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
            exit(2);
        }
        p += w;
        n -= (size_t)w;
    }
    close(fd);
}

// The loader harnesses' scratch: <scratch>/data, the directory the loader is
// pointed at (filled per input), and <scratch>/not-a-directory, a regular
// file to pass where a directory is expected.  dir and file: 600 bytes each.
static inline void fuzz_data_dir_make(const char *name, char *dir, char *file) {
    const char *root = fuzz_dir_make(name);
    snprintf(dir, 600, "%s/data", root);
    snprintf(file, 600, "%s/not-a-directory", root);
    if (mkdir(dir, 0755) != 0) {
        perror(dir);
        exit(2);
    }
    fuzz_write_file(file, "x", 1);
}

#endif