// test_checkpoint.c — checkpoints: bitwise round trip, the documented byte
// layout (decoded here by hand, with an independent FNV-1a), atomic
// replacement when a save fails (missing directory, a directory in the way,
// file-size limit, a full tmpfs), and rejection of damaged, mismatched or
// absurd files without touching the destination model.
//
// Every test works in its own mkdtemp directory, removed by the fixture.
#define _GNU_SOURCE   // unshare(2): the full-disk test mounts in a private namespace
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train/checkpoint.h"
#include "nn/resnet.h"
#include "base/rng.h"
#include "nn/sgd.h"
#include "tmpdir.h"

#define SEED 9173u
#define CLASSES 10
#define HW 16

// ---- fixture: a scratch directory per test ---------------------------------

static char g_dir[64];
static int g_mounted;

static void make_dir(void) {
    tmpdir_make(g_dir, sizeof g_dir, "ckpt");
    g_mounted = 0;
}

static void remove_dir(void) {
    if (g_mounted) umount2(g_dir, MNT_DETACH);
    g_mounted = 0;
    tmpdir_remove(g_dir);
}

TestSuite(checkpoint_roundtrip, .init = make_dir, .fini = remove_dir);
TestSuite(checkpoint_atomic, .init = make_dir, .fini = remove_dir);
TestSuite(checkpoint_corrupt, .init = make_dir, .fini = remove_dir);
TestSuite(checkpoint_shape, .init = make_dir, .fini = remove_dir);
TestSuite(checkpoint_state, .init = make_dir, .fini = remove_dir);

typedef struct path_buf {
    char s[256];
} path_buf;

static path_buf in_dir(const char *name) {
    path_buf p;
    snprintf(p.s, sizeof p.s, "%s/%s", g_dir, name);
    return p;
}

// ---- models, states, snapshots ----------------------------------------------

typedef struct net {
    fpt_resnet *m;
    fpt_sgd opt;
} net;

// A model whose params, BN statistics and momentum are all random and
// distinct (streams s, s+1, s+2), so any mix-up of the three arrays shows.
static net make_net(int width, int hw, uint32_t s) {
    fpt_err err = {{0}};
    net n;
    cr_assert_eq(fpt_resnet_create(&n.m, &(fpt_resnet_arch){.width = width, .num_classes = CLASSES, .in_channels = 3, .image_hw = hw, .stage_norm = 0}, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_sgd_create(&n.opt, n.m->n_params, 0.9, 5e-4, &err), 0, "%s", err.msg);
    fpt_rng_fill_normal(SEED, FPT_RNG_TEST, s, n.m->params, n.m->n_params, 0.0f, 0.5f);
    fpt_rng_fill_uniform(SEED, FPT_RNG_TEST, s + 1, n.m->buffers, n.m->n_buffers, 0.1f, 2.0f);
    fpt_rng_fill_normal(SEED, FPT_RNG_TEST, s + 2, n.opt.velocity, n.m->n_params, 0.0f, 0.01f);
    return n;
}

static void free_net(net *n) {
    fpt_sgd_free(&n->opt);
    fpt_resnet_free(n->m);
}

// Every field set, none to its zero value.
static fpt_run_state full_state(void) {
    fpt_run_state st;
    memset(&st, 0, sizeof st);
    st.config_hash = 0xF00DFACE12345678ull;   // top bit set: no sign trouble
    st.epoch = 40;
    st.perturb_events = 7;
    st.last_restart = 30;
    st.diverged = 1;
    st.n_targets = FPT_MAX_TARGETS;
    for (int k = 0; k < FPT_MAX_TARGETS; k++) st.fpt[k] = 3 + 4 * k;   // 3..31 <= epoch
    for (int i = 0; i < 16; i++) st.owner_db[i] = (uint8_t)(0xA0 + i);
    st.owner_job = 0x0123456789ABCDEFll;
    return st;
}

// What a failed load must not change: values no checkpoint here contains.
static fpt_run_state sentinel_state(void) {
    fpt_run_state st;
    memset(&st, 0, sizeof st);
    st.config_hash = 0x5E5E5E5E5E5E5E5Eull;
    st.epoch = -77;
    st.perturb_events = -78;
    st.last_restart = -79;
    st.diverged = -80;
    st.n_targets = -81;
    for (int k = 0; k < FPT_MAX_TARGETS; k++) st.fpt[k] = -100 - k;
    memset(st.owner_db, 0xEE, 16);
    st.owner_job = -12345;
    return st;
}

static void expect_same_state(const fpt_run_state *a, const fpt_run_state *b, const char *ctx) {
    cr_expect(memcmp(a->owner_db, b->owner_db, 16) == 0, "%s: owner_db", ctx);
    cr_expect_eq(a->owner_job, b->owner_job, "%s: owner_job", ctx);
    cr_expect_eq(a->config_hash, b->config_hash, "%s: config_hash", ctx);
    cr_expect_eq(a->epoch, b->epoch, "%s: epoch", ctx);
    cr_expect_eq(a->perturb_events, b->perturb_events, "%s: perturb_events", ctx);
    cr_expect_eq(a->last_restart, b->last_restart, "%s: last_restart", ctx);
    cr_expect_eq(a->diverged, b->diverged, "%s: diverged", ctx);
    cr_expect_eq(a->n_targets, b->n_targets, "%s: n_targets", ctx);
    for (int k = 0; k < FPT_MAX_TARGETS; k++)
        cr_expect_eq(a->fpt[k], b->fpt[k], "%s: fpt[%d]", ctx, k);
}

typedef struct snapshot {
    float *params, *buffers, *velocity;
    size_t np, nb;
} snapshot;

static float *dup_floats(const float *x, size_t n) {
    float *c = malloc(sizeof(float) * n);
    cr_assert_not_null(c);
    memcpy(c, x, sizeof(float) * n);
    return c;
}

static snapshot take(const net *n) {
    return (snapshot){dup_floats(n->m->params, n->m->n_params),
                      dup_floats(n->m->buffers, n->m->n_buffers),
                      dup_floats(n->opt.velocity, n->m->n_params), n->m->n_params,
                      n->m->n_buffers};
}

static void drop(snapshot *s) {
    free(s->params);
    free(s->buffers);
    free(s->velocity);
}

// Bitwise (memcmp): NaN payloads and -0.0 must survive too.
static void expect_arrays(const net *n, const snapshot *s, const char *ctx) {
    cr_assert_eq(n->m->n_params, s->np, "%s", ctx);
    cr_expect(memcmp(n->m->params, s->params, sizeof(float) * s->np) == 0, "%s: params", ctx);
    cr_expect(memcmp(n->m->buffers, s->buffers, sizeof(float) * s->nb) == 0, "%s: buffers", ctx);
    cr_expect(memcmp(n->opt.velocity, s->velocity, sizeof(float) * s->np) == 0,
              "%s: velocity", ctx);
}

// ---- files --------------------------------------------------------------------

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert_geq(n, 0);
    rewind(f);
    unsigned char *b = malloc((size_t)n + 1);
    cr_assert_not_null(b);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n, "%s: short read", path);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(b, 1, n, f), n, "%s: short write", path);
    cr_assert_eq(fclose(f), 0, "%s: %s", path, strerror(errno));
}

// Entries of the scratch directory whose name contains ".tmp.".
static int count_temps(void) {
    DIR *d = opendir(g_dir);
    cr_assert_not_null(d, "%s: %s", g_dir, strerror(errno));
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static void save_ok(const char *path, const fpt_run_state *st, const net *n) {
    fpt_err err = {{0}};
    cr_assert_eq(fpt_checkpoint_save(path, st, n->m, &n->opt, &err), 0, "%s", err.msg);
}

// ---- the format, written down independently of checkpoint.c -------------------

// FNV-1a 64 from its published parameters (Fowler/Noll/Vo).
static uint64_t fnv1a_ref(const unsigned char *b, size_t n) {
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static uint64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static int32_t le32(const unsigned char *p) {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    int32_t s;
    memcpy(&s, &v, 4);
    return s;
}

static void set_le32(unsigned char *p, int32_t s) {
    uint32_t v;
    memcpy(&v, &s, 4);
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> 8 * i);
}

static void set_le64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> 8 * i);
}

// Byte offsets, from the field list in checkpoint.h.
enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 8,
    OFF_HBYTES = 12,
    OFF_CONFIG = 16,
    OFF_EPOCH = 24,
    OFF_PERTURB = 28,
    OFF_RESTART = 32,
    OFF_DIVERGED = 36,
    OFF_NTARGETS = 40,
    OFF_FPT = 44,                         // 8 x int32
    OFF_WIDTH = OFF_FPT + 4 * 8,          // 76
    OFF_CLASSES = OFF_WIDTH + 4,
    OFF_HW = OFF_CLASSES + 4,
    OFF_NPARAMS = OFF_HW + 4,             // 88
    OFF_NBUFFERS = OFF_NPARAMS + 8,
    OFF_OWNER_DB = OFF_NBUFFERS + 8,      // 104 (version 2)
    OFF_OWNER_JOB = OFF_OWNER_DB + 16,    // 120
    OFF_ARRAYS = OFF_OWNER_JOB + 8,       // 128
    OFF_ARRAYS_V1 = OFF_OWNER_DB,         // version 1 had no owner
};

static size_t expected_size(size_t np, size_t nb) {
    const size_t header = 8 /* magic */ + 4 /* version */ + 4 /* header bytes */ +
                          8 /* config_hash */ + 5 * 4 /* epoch..n_targets */ +
                          8 * 4 /* fpt */ + 3 * 4 /* width, classes, hw */ +
                          8 + 8 /* n_params, n_buffers */ + 16 + 8 /* owner_db, owner_job */;
    return header + 4 * np + 4 * nb + 4 * np + 8 /* hash */;
}

// Recompute the trailing hash after editing a file's bytes.
static void rehash(unsigned char *b, size_t n) { set_le64(b + n - 8, fnv1a_ref(b, n - 8)); }

// ---- round trip and layout -----------------------------------------------------

Test(checkpoint_roundtrip, bitwise) {
    net src = make_net(4, HW, 10);
    // Values a text or float-converting format would mangle.
    const uint32_t nan_payload = 0x7FC12345u, denorm = 0x00000001u;
    memcpy(&src.m->params[0], &nan_payload, 4);
    src.m->params[1] = -0.0f;
    src.m->params[2] = 1.0f / 0.0f;
    memcpy(&src.opt.velocity[3], &denorm, 4);
    const fpt_run_state st = full_state();
    const path_buf p = in_dir("run.ckpt");
    save_ok(p.s, &st, &src);

    // The destination starts different in every array (other streams).
    net dst = make_net(4, HW, 20);
    cr_assert(memcmp(dst.m->params, src.m->params, sizeof(float) * 16) != 0);
    fpt_run_state got = sentinel_state();
    fpt_err err = {{0}};
    cr_assert_eq(fpt_checkpoint_load(p.s, &got, dst.m, &dst.opt, &err), 0, "%s", err.msg);
    snapshot want = take(&src);
    expect_arrays(&dst, &want, "after load");
    expect_same_state(&got, &st, "after load");
    drop(&want);
    free_net(&src);
    free_net(&dst);
}

Test(checkpoint_roundtrip, layout_matches_documented_format) {
    net n = make_net(4, HW, 30);
    const fpt_run_state st = full_state();
    const path_buf p = in_dir("run.ckpt");
    save_ok(p.s, &st, &n);
    size_t len;
    unsigned char *b = slurp(p.s, &len);
    const size_t np = n.m->n_params, nb = n.m->n_buffers;
    cr_assert_eq(len, expected_size(np, nb), "file is %zu bytes, format says %zu", len,
                 expected_size(np, nb));
    cr_expect(memcmp(b + OFF_MAGIC, "FPTCKPT\0", 8) == 0, "magic");
    cr_expect_eq(le32(b + OFF_VERSION), 2);
    cr_expect_eq(le32(b + OFF_HBYTES), OFF_ARRAYS - 16);
    cr_expect_eq(le64(b + OFF_CONFIG), st.config_hash);
    cr_expect_eq(le32(b + OFF_EPOCH), st.epoch);
    cr_expect_eq(le32(b + OFF_PERTURB), st.perturb_events);
    cr_expect_eq(le32(b + OFF_RESTART), st.last_restart);
    cr_expect_eq(le32(b + OFF_DIVERGED), st.diverged);
    cr_expect_eq(le32(b + OFF_NTARGETS), st.n_targets);
    for (int k = 0; k < 8; k++) cr_expect_eq(le32(b + OFF_FPT + 4 * k), st.fpt[k], "fpt[%d]", k);
    cr_expect_eq(le32(b + OFF_WIDTH), 4);
    cr_expect_eq(le32(b + OFF_CLASSES), CLASSES);
    cr_expect_eq(le32(b + OFF_HW), HW);
    cr_expect_eq(le64(b + OFF_NPARAMS), (uint64_t)np);
    cr_expect_eq(le64(b + OFF_NBUFFERS), (uint64_t)nb);
    cr_expect(memcmp(b + OFF_OWNER_DB, st.owner_db, 16) == 0, "owner_db");
    cr_expect_eq(le64(b + OFF_OWNER_JOB), (uint64_t)st.owner_job);
    const unsigned char *a = b + OFF_ARRAYS;
    cr_expect(memcmp(a, n.m->params, 4 * np) == 0, "params");
    cr_expect(memcmp(a + 4 * np, n.m->buffers, 4 * nb) == 0, "buffers");
    cr_expect(memcmp(a + 4 * np + 4 * nb, n.opt.velocity, 4 * np) == 0, "velocity");
    cr_expect_eq(le64(b + len - 8), fnv1a_ref(b, len - 8), "trailing FNV-1a hash");
    free(b);
    free_net(&n);
}

// A version-1 file (an older fptfarm's: 88 header bytes, no owner) is still
// read, its owner zero; peek reads the state without a model.
Test(checkpoint_roundtrip, version_1_files_read_with_no_owner) {
    net n = make_net(4, HW, 31);
    const fpt_run_state st = full_state();
    const path_buf p = in_dir("run.ckpt");
    save_ok(p.s, &st, &n);
    size_t len;
    unsigned char *b = slurp(p.s, &len);
    // Rebuild it as version 1: drop the owner, fix version, header size, hash.
    const size_t len1 = len - 24;
    unsigned char *v1 = malloc(len1);
    memcpy(v1, b, OFF_OWNER_DB);
    memcpy(v1 + OFF_ARRAYS_V1, b + OFF_ARRAYS, len - OFF_ARRAYS);
    set_le32(v1 + OFF_VERSION, 1);
    set_le32(v1 + OFF_HBYTES, 88);
    rehash(v1, len1);
    const path_buf q = in_dir("v1.ckpt");
    spit(q.s, v1, len1);
    net dst = make_net(4, HW, 32);
    fpt_run_state got = sentinel_state(), want = st;
    memset(want.owner_db, 0, 16);
    want.owner_job = 0;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_checkpoint_load(q.s, &got, dst.m, &dst.opt, &err), 0, "%s", err.msg);
    expect_same_state(&got, &want, "version 1");
    snapshot s0 = take(&n);
    expect_arrays(&dst, &s0, "version 1");
    drop(&s0);
    fpt_run_state peeked = sentinel_state();
    cr_assert_eq(fpt_checkpoint_peek(p.s, &peeked, &err), 0, "%s", err.msg);
    expect_same_state(&peeked, &st, "peek");
    // peek verifies the hash too.
    b[OFF_ARRAYS + 5] ^= 1;
    spit(q.s, b, len);
    cr_assert_eq(fpt_checkpoint_peek(q.s, &peeked, &err), -1);
    cr_assert(strstr(err.msg, "checksum") != NULL, "%s", err.msg);
    uint8_t o[16];
    cr_assert_eq(fpt_checkpoint_owner_parse("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf", o), 0);
    cr_assert(memcmp(o, st.owner_db, 16) == 0);
    cr_assert_eq(fpt_checkpoint_owner_parse("a0a1", o), -1);
    cr_assert_eq(fpt_checkpoint_owner_parse("g0a1a2a3a4a5a6a7a8a9aaabacadaeaf", o), -1);
    free(b);
    free(v1);
    free_net(&n);
    free_net(&dst);
}

// ---- atomicity ---------------------------------------------------------------------

Test(checkpoint_atomic, replaces_and_leaves_no_temp) {
    net a = make_net(4, HW, 40), b = make_net(4, HW, 50);
    fpt_run_state sa = full_state(), sb = full_state();
    sb.epoch = 41;
    sb.config_hash = 1;
    const path_buf p = in_dir("run.ckpt");
    save_ok(p.s, &sa, &a);
    cr_expect_eq(count_temps(), 0, "a temporary file remains after a successful save");
    save_ok(p.s, &sb, &b);
    cr_expect_eq(count_temps(), 0, "a temporary file remains after replacing a checkpoint");

    net dst = make_net(4, HW, 60);
    fpt_run_state got = sentinel_state();
    fpt_err err = {{0}};
    cr_assert_eq(fpt_checkpoint_load(p.s, &got, dst.m, &dst.opt, &err), 0, "%s", err.msg);
    snapshot want = take(&b);
    expect_arrays(&dst, &want, "second save");
    expect_same_state(&got, &sb, "second save");
    drop(&want);
    free_net(&a);
    free_net(&b);
    free_net(&dst);
}

static void expect_unchanged(const char *path, const unsigned char *prev, size_t prev_len,
                             const char *ctx) {
    size_t len;
    unsigned char *now = slurp(path, &len);
    cr_expect(len == prev_len && memcmp(now, prev, len) == 0,
              "%s: previous checkpoint changed by a failed save (%s)", path, ctx);
    free(now);
}

// A failed save must name the path and the cause, leave the previous
// checkpoint (if prev) byte-identical and remove its temporary file.
static void expect_failed_save(const char *path, const fpt_run_state *st, const net *n,
                               const char *cause, const unsigned char *prev, size_t prev_len) {
    fpt_err err = {{0}};
    cr_expect_eq(fpt_checkpoint_save(path, st, n->m, &n->opt, &err), -1,
                 "save to %s should fail (%s)", path, cause);
    cr_expect(strstr(err.msg, path) != NULL, "message lacks the path: %s", err.msg);
    cr_expect(strstr(err.msg, cause) != NULL, "message lacks \"%s\": %s", cause, err.msg);
    if (prev) expect_unchanged(path, prev, prev_len, cause);
    cr_expect_eq(count_temps(), 0, "a temporary file remains after a failed save (%s)", cause);
}

Test(checkpoint_atomic, failed_saves_keep_previous) {
    net a = make_net(4, HW, 70), b = make_net(4, HW, 80);
    const fpt_run_state st = full_state();
    const path_buf p = in_dir("run.ckpt");
    save_ok(p.s, &st, &a);
    size_t prev_len;
    unsigned char *prev = slurp(p.s, &prev_len);

    // The directory does not exist: nothing to create, nothing left behind.
    const path_buf missing = in_dir("no/such/dir/run.ckpt");
    expect_failed_save(missing.s, &st, &b, strerror(ENOENT), NULL, 0);

    // A directory where the file should go: the rename fails, the
    // directory stays, the temporary file goes.
    const path_buf isdir = in_dir("isdir.ckpt");
    cr_assert_eq(mkdir(isdir.s, 0755), 0, "%s", strerror(errno));
    expect_failed_save(isdir.s, &st, &b, strerror(EISDIR), NULL, 0);
    struct stat sb;
    cr_expect(stat(isdir.s, &sb) == 0 && S_ISDIR(sb.st_mode), "the directory was replaced");
    cr_assert_eq(rmdir(isdir.s), 0, "%s", strerror(errno));

    // The temporary name taken by a directory: the new file cannot even be
    // created; the existing checkpoint must survive, and so must the
    // directory, which is not the saver's to remove.
    char tmpname[64];
    snprintf(tmpname, sizeof tmpname, "run.ckpt.tmp.%ld", (long)getpid());
    const path_buf tmpdir = in_dir(tmpname);
    cr_assert_eq(mkdir(tmpdir.s, 0755), 0, "%s", strerror(errno));
    fpt_err err = {{0}};
    cr_expect_eq(fpt_checkpoint_save(p.s, &st, b.m, &b.opt, &err), -1);
    cr_expect(strstr(err.msg, p.s) && strstr(err.msg, strerror(EISDIR)), "message: %s", err.msg);
    expect_unchanged(p.s, prev, prev_len, "temporary name taken");
    cr_expect(stat(tmpdir.s, &sb) == 0 && S_ISDIR(sb.st_mode), "the saver removed %s", tmpdir.s);
    cr_assert_eq(rmdir(tmpdir.s), 0, "%s", strerror(errno));

    // Writes failing part-way, through a file-size limit: what a full disk
    // looks like to write(), with no privilege needed.  SIGXFSZ would kill
    // the test instead of letting write() return EFBIG.
    struct rlimit old;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = {8192, old.rlim_max};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &small), 0, "%s", strerror(errno));
    const int rc = fpt_checkpoint_save(p.s, &st, b.m, &b.opt, &err);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0, "%s", strerror(errno));
    signal(SIGXFSZ, old_handler);
    cr_expect_eq(rc, -1, "a save past RLIMIT_FSIZE should fail");
    cr_expect(strstr(err.msg, p.s) && strstr(err.msg, "write failed") &&
                  strstr(err.msg, strerror(EFBIG)),
              "message: %s", err.msg);
    expect_unchanged(p.s, prev, prev_len, "file size limit");

    // An impossible state is refused before anything is written.
    fpt_run_state bad = st;
    bad.n_targets = 9;
    expect_failed_save(p.s, &bad, &b, "n_targets", prev, prev_len);
    cr_expect_eq(count_temps(), 0, "a temporary file remains after failed saves");

    free(prev);
    free_net(&a);
    free_net(&b);
}

// A real full disk: a 64 KiB tmpfs, mounted in a private mount namespace so
// that it vanishes with the test process whatever happens.  Needs
// CAP_SYS_ADMIN; skipped otherwise (the file-size-limit case above covers
// the same code path without privilege).
Test(checkpoint_atomic, full_disk_tmpfs) {
    if (unshare(CLONE_NEWNS) != 0)
        cr_skip_test("no private mount namespace (%s): full-disk test needs root",
                     strerror(errno));
    // Keep our mount from propagating back to the host's namespace.
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        cr_skip_test("cannot make mounts private (%s)", strerror(errno));
    if (mount("tmpfs", g_dir, "tmpfs", 0, "size=64k") != 0)
        cr_skip_test("cannot mount a tmpfs on %s (%s)", g_dir, strerror(errno));
    g_mounted = 1;

    // Width 1: about 23 KB a checkpoint, so one fits with room to spare.
    net a = make_net(1, HW, 90), b = make_net(1, HW, 100);
    const fpt_run_state st = full_state();
    const path_buf p = in_dir("run.ckpt");
    cr_assert_lt(expected_size(a.m->n_params, a.m->n_buffers), 32 * 1024);
    save_ok(p.s, &st, &a);
    size_t prev_len;
    unsigned char *prev = slurp(p.s, &prev_len);

    // Fill what is left.
    const path_buf fill = in_dir("filler");
    int fd = open(fill.s, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0, "%s: %s", fill.s, strerror(errno));
    static const unsigned char page[4096];
    size_t filled = 0;
    for (;;) {
        ssize_t w = write(fd, page, sizeof page);
        if (w <= 0) break;
        filled += (size_t)w;
    }
    cr_assert_eq(errno, ENOSPC, "filling the tmpfs stopped with %s", strerror(errno));
    close(fd);
    cr_assert_lt(filled, 64 * 1024, "the tmpfs is larger than asked");

    expect_failed_save(p.s, &st, &b, strerror(ENOSPC), prev, prev_len);

    // Space again: the next save goes through and holds the new state.
    cr_assert_eq(unlink(fill.s), 0, "%s", strerror(errno));
    save_ok(p.s, &st, &b);
    net dst = make_net(1, HW, 110);
    fpt_run_state got = sentinel_state();
    fpt_err err = {{0}};
    cr_assert_eq(fpt_checkpoint_load(p.s, &got, dst.m, &dst.opt, &err), 0, "%s", err.msg);
    snapshot want = take(&b);
    expect_arrays(&dst, &want, "after the disk had space again");
    drop(&want);
    free(prev);
    free_net(&a);
    free_net(&b);
    free_net(&dst);
}

// ---- rejected loads: damage ---------------------------------------------------

// Loads `path` into a fresh model of the given width and image size (random
// contents, sentinel state); expects failure with the path and `keyword` in
// the message, and every array and state field of the destination unchanged.
static void expect_rejected(const char *path, int width, int hw, const char *keyword,
                            const char *ctx) {
    net dst = make_net(width, hw, 200);
    snapshot before = take(&dst);
    fpt_run_state got = sentinel_state();
    const fpt_run_state want_st = sentinel_state();
    fpt_err err = {{0}};
    cr_expect_eq(fpt_checkpoint_load(path, &got, dst.m, &dst.opt, &err), -1,
                 "%s: load should fail", ctx);
    cr_expect(strstr(err.msg, path) != NULL, "%s: message lacks the path: %s", ctx, err.msg);
    cr_expect(strstr(err.msg, keyword) != NULL, "%s: message lacks \"%s\": %s", ctx, keyword,
              err.msg);
    expect_arrays(&dst, &before, ctx);
    expect_same_state(&got, &want_st, ctx);
    drop(&before);
    free_net(&dst);
}

Test(checkpoint_corrupt, damaged_files_rejected) {
    net n = make_net(4, HW, 120);
    const fpt_run_state st = full_state();
    const path_buf good = in_dir("good.ckpt"), bad = in_dir("bad.ckpt");
    save_ok(good.s, &st, &n);
    size_t len;
    unsigned char *b = slurp(good.s, &len);
    unsigned char *c = malloc(len + 1);
    cr_assert_not_null(c);

    // One byte flipped in the middle (inside the parameters): only the hash sees it.
    memcpy(c, b, len);
    c[len / 2] ^= 0xFF;
    spit(bad.s, c, len);
    expect_rejected(bad.s, 4, HW, "checksum", "byte flipped in the middle");

    // One byte flipped in the stored hash itself.
    memcpy(c, b, len);
    c[len - 3] ^= 0x10;
    spit(bad.s, c, len);
    expect_rejected(bad.s, 4, HW, "checksum", "byte flipped in the hash");

    spit(bad.s, b, len - 1);
    expect_rejected(bad.s, 4, HW, "truncated", "truncated by one byte");
    spit(bad.s, b, 10);
    expect_rejected(bad.s, 4, HW, "truncated", "truncated to 10 bytes");
    spit(bad.s, b, 0);
    expect_rejected(bad.s, 4, HW, "truncated", "empty file");

    memcpy(c, b, len);
    c[len] = 0;
    spit(bad.s, c, len + 1);
    expect_rejected(bad.s, 4, HW, "extra bytes", "one byte appended");

    memcpy(c, b, len);
    c[3] = 'X';
    spit(bad.s, c, len);
    expect_rejected(bad.s, 4, HW, "magic", "wrong magic");

    memcpy(c, b, len);
    set_le32(c + OFF_VERSION, 3);
    rehash(c, len);   // so that only the version can be the complaint
    spit(bad.s, c, len);
    expect_rejected(bad.s, 4, HW, "version 3", "wrong version");

    memcpy(c, b, len);
    set_le32(c + OFF_HBYTES, 92);
    rehash(c, len);
    spit(bad.s, c, len);
    expect_rejected(bad.s, 4, HW, "header", "wrong header size");

    // A parameter count that overflows the size computation.
    memcpy(c, b, len);
    set_le64(c + OFF_NPARAMS, UINT64_MAX / 4 + 1);
    rehash(c, len);
    spit(bad.s, c, len);
    expect_rejected(bad.s, 4, HW, "parameters", "huge n_params");

    const path_buf none = in_dir("missing.ckpt");
    expect_rejected(none.s, 4, HW, strerror(ENOENT), "missing file");
    expect_rejected(g_dir, 4, HW, "not a regular file", "a directory");

    free(b);
    free(c);
    free_net(&n);
}

// ---- rejected loads: another model ----------------------------------------------

Test(checkpoint_shape, width_classes_and_image_size) {
    net n = make_net(4, HW, 130);
    const fpt_run_state st = full_state();
    const path_buf p = in_dir("w4.ckpt");
    save_ok(p.s, &st, &n);
    expect_rejected(p.s, 8, HW, "parameters", "width 4 into width 8");
    expect_rejected(p.s, 8, HW, "width 4", "width 4 into width 8");
    expect_rejected(p.s, 8, HW, "width 8", "width 4 into width 8");
    // Same parameter count, other input size: the file is intact and the
    // arrays would fit, but the run is not the same.
    expect_rejected(p.s, 4, 2 * HW, "32x32", "16x16 images into a 32x32 model");
    free_net(&n);
}

// ---- rejected loads: intact files with impossible states -------------------------

Test(checkpoint_state, absurd_fields_rejected_despite_valid_hash) {
    net n = make_net(4, HW, 140);
    const fpt_run_state st = full_state();   // epoch 40
    const path_buf good = in_dir("good.ckpt"), bad = in_dir("bad.ckpt");
    save_ok(good.s, &st, &n);
    size_t len;
    unsigned char *b = slurp(good.s, &len);
    unsigned char *c = malloc(len);
    cr_assert_not_null(c);

    // Control: an edit that is legal must load, which shows that rehash()
    // produces hashes the loader accepts, so the rejections below are about
    // the fields and not the hash.
    memcpy(c, b, len);
    set_le64(c + OFF_CONFIG, 0x0123456789ABCDEFull);
    set_le32(c + OFF_EPOCH, 41);
    rehash(c, len);
    spit(bad.s, c, len);
    {
        net dst = make_net(4, HW, 150);
        fpt_run_state got = sentinel_state();
        fpt_err err = {{0}};
        cr_assert_eq(fpt_checkpoint_load(bad.s, &got, dst.m, &dst.opt, &err), 0,
                     "rehashed legal edit: %s", err.msg);
        cr_expect_eq(got.config_hash, 0x0123456789ABCDEFull);
        cr_expect_eq(got.epoch, 41);
        free_net(&dst);
    }

    static const struct {
        int off;
        int32_t value;
        const char *keyword;
    } cases[] = {
        {OFF_EPOCH, -1, "epoch"},
        {OFF_PERTURB, -5, "perturb_events"},
        {OFF_RESTART, 41, "last_restart"},   // after the current epoch
        {OFF_RESTART, -1, "last_restart"},
        {OFF_DIVERGED, 2, "diverged"},
        {OFF_DIVERGED, -1, "diverged"},
        {OFF_NTARGETS, 9, "n_targets"},
        {OFF_NTARGETS, -1, "n_targets"},
        {OFF_FPT + 4 * 3, 41, "fpt[3]"},    // reached after the current epoch
        {OFF_FPT + 4 * 7, -2, "fpt[7]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(c, b, len);
        set_le32(c + cases[i].off, cases[i].value);
        rehash(c, len);
        spit(bad.s, c, len);
        char ctx[64];
        snprintf(ctx, sizeof ctx, "%s = %d", cases[i].keyword, (int)cases[i].value);
        expect_rejected(bad.s, 4, HW, cases[i].keyword, ctx);
    }
    free(b);
    free(c);
    free_net(&n);
}

// Leftovers of a save killed before its rename ("<path>.tmp.<pid>") are
// removed; the checkpoint itself and other files are not.
Test(checkpoint_atomic, leftover_temporaries_removed) {
    char path[128], f[200];
    snprintf(path, sizeof path, "%s/job-7.ckpt", g_dir);
    static const char *const names[] = {"job-7.ckpt", "job-7.ckpt.tmp.123", "job-7.ckpt.tmp.4567",
                                        "job-70.ckpt.tmp.1", "job-7.ckpt.bak"};
    for (int i = 0; i < 5; i++) {
        snprintf(f, sizeof f, "%s/%s", g_dir, names[i]);
        FILE *fp = fopen(f, "w");
        cr_assert_not_null(fp);
        fputs("x", fp);
        fclose(fp);
    }
    fpt_checkpoint_remove_temporaries(path);
    static const int kept[5] = {1, 0, 0, 1, 1};
    for (int i = 0; i < 5; i++) {
        snprintf(f, sizeof f, "%s/%s", g_dir, names[i]);
        cr_expect_eq(access(f, F_OK) == 0, kept[i], "%s %s", names[i],
                     kept[i] ? "removed" : "left");
    }
}
