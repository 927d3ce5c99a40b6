// checkpoint.c — atomic save and all-or-nothing load of a run (see
// checkpoint.h for the file format).
#include "train/checkpoint.h"
#include "base/hash.h"
#include "base/memory.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// The float arrays are written straight from memory, so their byte order is
// the machine's; the format says little-endian, so refuse to build where that
// would be a lie rather than write files no other build can read.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint.c writes float arrays in memory order, but the format is little-endian"
#endif

#define CKPT_MAGIC "FPTCKPT"   // 7 characters + the NUL = 8 bytes in the file
#define CKPT_MAGIC_BYTES 8
#define CKPT_VERSION 2u
#define CKPT_PREAMBLE 16       // magic, uint32 version, uint32 header bytes
// config_hash 8, epoch .. n_targets 5 * 4, fpt 8 * 4, width, num_classes,
// image_hw 3 * 4, n_params 8, n_buffers 8; version 2 adds owner_db 16 and
// owner_job 8.
#define CKPT_HEADER_V1 (8 + 5 * 4 + FPT_MAX_TARGETS * 4 + 3 * 4 + 8 + 8)
#define CKPT_HEADER (CKPT_HEADER_V1 + 16 + 8)
#define CKPT_PREFIX (CKPT_PREAMBLE + CKPT_HEADER)   // where the arrays start (version 2)
#define CKPT_HASH 8

_Static_assert(CKPT_HEADER_V1 == 88, "header size is part of format version 1");
_Static_assert(CKPT_HEADER == 112, "header size is part of format version 2");

// The trailing FNV-1a hash (hash.h) detects accidental damage (torn copies,
// bit rot), not tampering.

// ---- header encoding: explicit widths and byte order, no struct padding ----

typedef struct ckpt_header {
    fpt_run_state st;
    int32_t width, num_classes, image_hw;
    uint64_t n_params, n_buffers;
} ckpt_header;

static unsigned char *put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
    return p + 4;
}

static unsigned char *put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
    return p + 8;
}

static unsigned char *put_i32(unsigned char *p, int32_t v) {
    uint32_t u;
    memcpy(&u, &v, 4);   // two's complement bits, without an implementation-defined cast
    return put_u32(p, u);
}

static uint32_t get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int32_t get_i32(const unsigned char *p) {
    uint32_t u = get_u32(p);
    int32_t v;
    memcpy(&v, &u, 4);
    return v;
}

static void encode_prefix(unsigned char out[CKPT_PREFIX], const ckpt_header *h) {
    unsigned char *p = out;
    memcpy(p, CKPT_MAGIC, CKPT_MAGIC_BYTES);
    p += CKPT_MAGIC_BYTES;
    p = put_u32(p, CKPT_VERSION);
    p = put_u32(p, CKPT_HEADER);
    p = put_u64(p, h->st.config_hash);
    p = put_i32(p, h->st.epoch);
    p = put_i32(p, h->st.perturb_events);
    p = put_i32(p, h->st.last_restart);
    p = put_i32(p, h->st.diverged);
    p = put_i32(p, h->st.n_targets);
    for (int k = 0; k < FPT_MAX_TARGETS; k++) p = put_i32(p, h->st.fpt[k]);
    p = put_i32(p, h->width);
    p = put_i32(p, h->num_classes);
    p = put_i32(p, h->image_hw);
    p = put_u64(p, h->n_params);
    p = put_u64(p, h->n_buffers);
    memcpy(p, h->st.owner_db, 16);
    p += 16;
    p = put_u64(p, (uint64_t)h->st.owner_job);
}

// The header fields after the preamble (magic, version, size: checked by the
// caller); a version-1 header (v1 = 1) has no owner, left zero.
static void decode_header(const unsigned char *in, int v1, ckpt_header *h) {
    const unsigned char *p = in + CKPT_PREAMBLE;
    memset(h, 0, sizeof *h);
    h->st.config_hash = get_u64(p), p += 8;
    h->st.epoch = get_i32(p), p += 4;
    h->st.perturb_events = get_i32(p), p += 4;
    h->st.last_restart = get_i32(p), p += 4;
    h->st.diverged = get_i32(p), p += 4;
    h->st.n_targets = get_i32(p), p += 4;
    for (int k = 0; k < FPT_MAX_TARGETS; k++) h->st.fpt[k] = get_i32(p), p += 4;
    h->width = get_i32(p), p += 4;
    h->num_classes = get_i32(p), p += 4;
    h->image_hw = get_i32(p), p += 4;
    h->n_params = get_u64(p), p += 8;
    h->n_buffers = get_u64(p), p += 8;
    if (v1) return;
    memcpy(h->st.owner_db, p, 16), p += 16;
    h->st.owner_job = (int64_t)get_u64(p);
}

// A state that cannot come from a run.  Checked on save too, so that a run
// never writes a checkpoint that its own resume would refuse.  All eight fpt
// entries are checked (not only the first n_targets): unused ones must be 0
// like "not reached yet", so garbage there is caught rather than carried.
static int check_state(const fpt_run_state *st, fpt_err *err) {
    if (st->epoch < 0) return fpt_fail(err, "epoch %" PRId32 " is negative", st->epoch);
    if (st->perturb_events < 0)
        return fpt_fail(err, "perturb_events %" PRId32 " is negative", st->perturb_events);
    if (st->last_restart < 0 || st->last_restart > st->epoch)
        return fpt_fail(err, "last_restart %" PRId32 " out of range (expected 0..epoch = %" PRId32
                        ")", st->last_restart, st->epoch);
    if (st->diverged != 0 && st->diverged != 1)
        return fpt_fail(err, "diverged = %" PRId32 " (expected 0 or 1)", st->diverged);
    if (st->n_targets < 0 || st->n_targets > FPT_MAX_TARGETS)
        return fpt_fail(err, "n_targets %" PRId32 " out of range (expected 0..%d)", st->n_targets,
                        FPT_MAX_TARGETS);
    for (int k = 0; k < FPT_MAX_TARGETS; k++)
        if (st->fpt[k] < 0 || st->fpt[k] > st->epoch)
            return fpt_fail(err, "fpt[%d] = %" PRId32 " out of range (expected 0..epoch = %" PRId32
                            ")", k, st->fpt[k], st->epoch);
    return 0;
}

// ---- I/O helpers: whole buffers, through partial transfers and EINTR -------

// Linux moves at most ~2 GiB per call; smaller pieces keep every call legal.
#define IO_CHUNK ((size_t)1 << 30)

// 0, or -1 with errno set.
static int write_all(int fd, const void *data, size_t n) {
    const unsigned char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n < IO_CHUNK ? n : IO_CHUNK);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        // write() returns 0 for a non-empty regular-file write only if it
        // cannot store anything; report it rather than spin.
        if (w == 0) {
            errno = ENOSPC;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

// Bytes read (< n only at end of file), or -1 with errno set.
static ssize_t read_all(int fd, void *data, size_t n) {
    unsigned char *p = data;
    size_t got = 0;
    while (got < n) {
        size_t want = n - got < IO_CHUNK ? n - got : IO_CHUNK;
        ssize_t r = read(fd, p + got, want);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

// fsync the directory holding `path`, so that the rename itself is durable.
static int sync_parent_dir(const char *path, fpt_err *err) {
    const char *slash = strrchr(path, '/');
    char *dir = !slash         ? strdup(".")
                : slash == path ? strdup("/")
                                : strndup(path, (size_t)(slash - path));
    if (!dir) return fpt_fail(err, "%s: out of memory", path);
    int rc = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        rc = fpt_fail(err, "%s: saved, but cannot open directory %s to sync it (the new "
                      "checkpoint may not survive a crash): %s", path, dir, strerror(errno));
    } else {
        // EINVAL: the filesystem cannot sync directories; nothing more to do there.
        if (fsync(fd) < 0 && errno != EINVAL)
            rc = fpt_fail(err, "%s: saved, but fsync of directory %s failed (the new checkpoint "
                          "may not survive a crash): %s", path, dir, strerror(errno));
        close(fd);   // read-only directory descriptor: nothing to lose on close
    }
    free(dir);
    return rc;
}

// ---- fault injection (tests/test_faults.c only) ----------------------------

// FPTFARM_FAULT=checkpoint:N:ACTION makes this process's Nth checkpoint save
// meet ACTION half-way: with the whole checkpoint written to the temporary
// file, before its fsync and the rename.  ACTION: term (raise SIGTERM: `fptfarm
// train` stops after the next epoch; farm workers ignore it), kill (SIGKILL)
// or abort (abort()).  Read once per process; when the variable is unset or
// names another fault (always, outside the tests) this does nothing.
static void fault_point_checkpoint(void) {
    static int parsed, sig;
    static long at, saves;
    if (!parsed) {
        parsed = 1;
        const char *f = getenv("FPTFARM_FAULT");
        char act[8];
        if (f && sscanf(f, "checkpoint:%ld:%7s", &at, act) == 2 && at >= 1)
            sig = !strcmp(act, "term") ? SIGTERM : !strcmp(act, "kill") ? SIGKILL
                  : !strcmp(act, "abort") ? SIGABRT : 0;
    }
    if (!sig || ++saves != at) return;
    if (sig == SIGABRT) abort();
    raise(sig);
}

// ---- save -----------------------------------------------------------------

int fpt_checkpoint_save(const char *path, const fpt_run_state *st, const fpt_resnet *m,
                        const fpt_sgd *opt, fpt_err *err) {
    if (opt->n != m->n_params)
        return fpt_fail(err, "%s: optimizer has %zu momentum values but the model has %zu "
                        "parameters", path, opt->n, m->n_params);
    if (check_state(st, err) < 0)
        return fpt_err_prefix(err, "%s: refusing to save an invalid run state: ", path);

    ckpt_header h = {*st, m->width, m->num_classes, m->image_hw, m->n_params, m->n_buffers};
    unsigned char head[CKPT_PREFIX];
    encode_prefix(head, &h);
    const size_t pbytes = sizeof(float) * m->n_params, bbytes = sizeof(float) * m->n_buffers;
    uint64_t hash = fpt_fnv1a(FPT_FNV1A_INIT, head, sizeof head);
    hash = fpt_fnv1a(hash, m->params, pbytes);
    hash = fpt_fnv1a(hash, m->buffers, bbytes);
    hash = fpt_fnv1a(hash, opt->velocity, pbytes);
    unsigned char tail[CKPT_HASH];
    put_u64(tail, hash);

    // A name of our own next to the target (same filesystem, so rename is
    // atomic); the pid keeps two processes saving one path from sharing it.
    const size_t tlen = strlen(path) + 32;
    char *tmp = malloc(tlen);
    if (!tmp) return fpt_fail(err, "%s: out of memory", path);
    snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        // Not ours (or not there): nothing to remove.
        fpt_fail(err, "%s: cannot create temporary file %s: %s", path, tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    const char *what;
    if (write_all(fd, head, sizeof head) < 0 || write_all(fd, m->params, pbytes) < 0 ||
        write_all(fd, m->buffers, bbytes) < 0 || write_all(fd, opt->velocity, pbytes) < 0 ||
        write_all(fd, tail, sizeof tail) < 0) {
        what = "write failed";
        goto fail;
    }
    fault_point_checkpoint();
    // fsync before rename: otherwise a crash can leave the new name pointing
    // at data that never reached the disk.
    if (fsync(fd) < 0) {
        what = "fsync failed";
        goto fail;
    }
    // Some filesystems (NFS, quotas) report write errors only at close.
    // On Linux the descriptor is released even when close fails.
    {
        int rc = close(fd);
        fd = -1;
        if (rc < 0) {
            what = "close failed";
            goto fail;
        }
    }
    if (rename(tmp, path) < 0) {
        const int e = errno;
        unlink(tmp);
        fpt_fail(err, "%s: cannot rename %s over it: %s", path, tmp, strerror(e));
        free(tmp);
        return -1;
    }
    free(tmp);
    return sync_parent_dir(path, err);

fail: {
        const int e = errno;
        if (fd >= 0) close(fd);   // the write already failed; its error is the one to report
        unlink(tmp);
        fpt_fail(err, "%s: %s: %s (previous checkpoint, if any, left unchanged)", path, what,
                 strerror(e));
        free(tmp);
        return -1;
    }
}

// ---- load -----------------------------------------------------------------

// Reads the whole of a checkpoint and verifies what needs no model: magic,
// version, sizes, the hash, the run state.  On success *buf (malloc'ed, the
// whole file) and *arrays (where the arrays start in it) are the caller's.
static int read_verified(const char *path, ckpt_header *h, unsigned char **buf, size_t *arrays,
                         fpt_err *err) {
    *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fpt_fail(err, "%s: cannot open: %s", path, strerror(errno));
    unsigned char *b = NULL;
    int rc = -1;
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        fpt_fail(err, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        fpt_fail(err, "%s: not a regular file", path);
        goto out;
    }
    const uint64_t fsize = (uint64_t)sb.st_size;

    // The fixed prefix first: it says how big the whole file must be.
    unsigned char head[CKPT_PREFIX];
    const size_t have = fsize < CKPT_PREFIX ? (size_t)fsize : CKPT_PREFIX;
    ssize_t got = read_all(fd, head, have);
    if (got < 0) {
        fpt_fail(err, "%s: read failed: %s", path, strerror(errno));
        goto out;
    }
    if ((size_t)got != have) {
        fpt_fail(err, "%s: file shrank while reading (%zd of %zu header bytes)", path, got, have);
        goto out;
    }
    if (have >= CKPT_MAGIC_BYTES && memcmp(head, CKPT_MAGIC, CKPT_MAGIC_BYTES) != 0) {
        fpt_fail(err, "%s: not a checkpoint (bad magic: expected \"%s\\0\")", path, CKPT_MAGIC);
        goto out;
    }
    if (fsize < CKPT_PREAMBLE + CKPT_HEADER_V1 + CKPT_HASH) {
        fpt_fail(err, "%s: truncated: %" PRIu64 " bytes, less than the %d bytes of header and "
                 "hash alone", path, fsize, CKPT_PREAMBLE + CKPT_HEADER_V1 + CKPT_HASH);
        goto out;
    }
    const uint32_t version = get_u32(head + 8), hbytes = get_u32(head + 12);
    if (version != CKPT_VERSION && version != 1) {
        fpt_fail(err, "%s: unsupported checkpoint version %" PRIu32 " (this build reads versions "
                 "1 and %u)", path, version, CKPT_VERSION);
        goto out;
    }
    const uint32_t want_h = version == 1 ? CKPT_HEADER_V1 : CKPT_HEADER;
    if (hbytes != want_h) {
        fpt_fail(err, "%s: header is %" PRIu32 " bytes, version %" PRIu32 " has %" PRIu32, path,
                 hbytes, version, want_h);
        goto out;
    }
    const size_t prefix = CKPT_PREAMBLE + want_h;
    if (fsize < prefix + CKPT_HASH) {
        fpt_fail(err, "%s: truncated: %" PRIu64 " bytes, less than the %zu bytes of header and "
                 "hash alone", path, fsize, prefix + CKPT_HASH);
        goto out;
    }
    decode_header(head, version == 1, h);

    // Expected size from the header, without overflow (the counts are not
    // yet verified by the hash: a damaged count must give an error, not a
    // wrapped size).
    const uint64_t limit = UINT64_MAX / 16;   // 4 bytes * (2 n_params + n_buffers) fits below
    if (h->n_params > limit || h->n_buffers > limit) {
        fpt_fail(err, "%s: header claims %" PRIu64 " parameters and %" PRIu64 " buffer values "
                 "(file corrupt)", path, h->n_params, h->n_buffers);
        goto out;
    }
    const uint64_t expect = prefix + 4 * (2 * h->n_params + h->n_buffers) + CKPT_HASH;
    if (fsize != expect) {
        fpt_fail(err, "%s: file is %" PRIu64 " bytes, but its header (%" PRIu64 " parameters, "
                 "%" PRIu64 " buffer values) makes it %" PRIu64 " (%s)", path, fsize,
                 h->n_params, h->n_buffers, expect,
                 fsize < expect ? "truncated" : "extra bytes at the end");
        goto out;
    }
    if (expect > SIZE_MAX) {
        fpt_fail(err, "%s: %" PRIu64 " bytes do not fit in memory", path, expect);
        goto out;
    }

    // The whole file into memory: the hash must be verified before anything
    // is copied into the model, so a damaged file changes nothing.
    const size_t total = (size_t)expect;
    if (fpt_mem_check(total, "reading the checkpoint", err)) {
        fpt_err_prefix(err, "%s: ", path);
        goto out;
    }
    b = malloc(total);
    if (!b) {
        fpt_fail(err, "%s: out of memory reading %.1f MiB", path,
                 (double)total / (1024.0 * 1024.0));
        goto out;
    }
    memcpy(b, head, have);
    got = read_all(fd, b + have, total - have);
    if (got < 0) {
        fpt_fail(err, "%s: read failed: %s", path, strerror(errno));
        goto out;
    }
    if ((size_t)got != total - have) {
        fpt_fail(err, "%s: file shrank while reading (%zu of %zu bytes)", path,
                 have + (size_t)got, total);
        goto out;
    }
    const uint64_t stored = get_u64(b + total - CKPT_HASH);
    const uint64_t computed = fpt_fnv1a(FPT_FNV1A_INIT, b, total - CKPT_HASH);
    if (stored != computed) {
        fpt_fail(err, "%s: checksum mismatch, file corrupt (stored FNV-1a hash %016" PRIx64
                 ", computed %016" PRIx64 ")", path, stored, computed);
        goto out;
    }
    if (check_state(&h->st, err) < 0) {
        fpt_err_prefix(err, "%s: invalid run state: ", path);
        goto out;
    }
    *buf = b, b = NULL;
    *arrays = prefix;
    rc = 0;
out:
    free(b);
    close(fd);   // read-only: a close error cannot lose data
    return rc;
}

int fpt_checkpoint_peek(const char *path, fpt_run_state *st, fpt_err *err) {
    ckpt_header h;
    unsigned char *buf;
    size_t arrays;
    if (read_verified(path, &h, &buf, &arrays, err)) return -1;
    free(buf);
    *st = h.st;
    return 0;
}

int fpt_checkpoint_owner_parse(const char *hex, uint8_t out[16]) {
    if (strlen(hex) != 32) return -1;
    for (int i = 0; i < 16; i++) {
        unsigned v;
        if (!isxdigit((unsigned char)hex[2 * i]) || !isxdigit((unsigned char)hex[2 * i + 1]) ||
            sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

int fpt_checkpoint_load(const char *path, fpt_run_state *st, fpt_resnet *m, fpt_sgd *opt,
                        fpt_err *err) {
    if (opt->n != m->n_params)
        return fpt_fail(err, "%s: optimizer has %zu momentum values but the model has %zu "
                        "parameters", path, opt->n, m->n_params);
    ckpt_header h;
    unsigned char *buf;
    size_t arrays;
    if (read_verified(path, &h, &buf, &arrays, err)) return -1;
    if (h.n_params != m->n_params || h.n_buffers != m->n_buffers || h.width != m->width ||
        h.num_classes != m->num_classes || h.image_hw != m->image_hw) {
        char what[160];
        if (h.n_params != m->n_params)
            snprintf(what, sizeof what, "model has %zu parameters, checkpoint has %" PRIu64
                     " (different width or classes?)", m->n_params, h.n_params);
        else if (h.n_buffers != m->n_buffers)
            snprintf(what, sizeof what, "model has %zu BatchNorm statistics, checkpoint has %"
                     PRIu64, m->n_buffers, h.n_buffers);
        else
            snprintf(what, sizeof what, "checkpoint is for another model shape");
        fpt_fail(err, "%s: %s; checkpoint: width %" PRId32 ", %" PRId32 " classes, %" PRId32
                 "x%" PRId32 " images; model: width %d, %d classes, %dx%d images", path, what,
                 h.width, h.num_classes, h.image_hw, h.image_hw, m->width, m->num_classes,
                 m->image_hw, m->image_hw);
        free(buf);
        return -1;
    }
    // Every check passed: only now touch the caller's model and optimizer.
    const unsigned char *p = buf + arrays;
    memcpy(m->params, p, sizeof(float) * m->n_params);
    p += sizeof(float) * m->n_params;
    memcpy(m->buffers, p, sizeof(float) * m->n_buffers);
    p += sizeof(float) * m->n_buffers;
    memcpy(opt->velocity, p, sizeof(float) * m->n_params);
    *st = h.st;
    free(buf);
    return 0;
}

void fpt_checkpoint_remove_temporaries(const char *path) {
    char pattern[4200];
    snprintf(pattern, sizeof pattern, "%.4096s.tmp.*", path);
    glob_t g;
    if (glob(pattern, GLOB_NOSORT | GLOB_NOESCAPE, NULL, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; i++) unlink(g.gl_pathv[i]);
    globfree(&g);
}
