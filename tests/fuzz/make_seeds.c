// make_seeds.c — writes the binary seed corpora of the fuzzers with the
// library itself: valid checkpoints (fpt_checkpoint_save), tiny CIFAR-10
// and CIFAR-100 inputs in fuzz_cifar.c's layout and tiny Fashion-MNIST /
// MNIST inputs in fuzz_idx.c's layout (plain, gzipped by the harness, and
// gzip streams written here with zlib), plus near-valid variants.
//
//   build-fuzz/make_seeds tests/fuzz/corpus
//
// writes DIR/checkpoint/*.bin (not *.ckpt, which .gitignore drops),
// DIR/cifar/*.bin and DIR/idx/*.bin.  The output is deterministic (fixed
// seeds; zlib's output for a given level and input), so rerunning it changes
// nothing; the text corpora (job specs, CSV) are written by hand.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "train/checkpoint.h"
#include "data/dataset.h"
#include "fuzz_common.h"
#include "nn/resnet.h"
#include "nn/sgd.h"

#define CIFAR_PIXELS 3072   // (3, 32, 32)
#define IDX_PIXELS 784      // (1, 28, 28)

static void die(const char *what, const fpt_err *err) {
    fprintf(stderr, "make_seeds: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

static void write_or_die(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) die(path, NULL);
}

// ---- checkpoints ---------------------------------------------------------------

static void checkpoints(const char *dir) {
    fpt_err err;
    fpt_resnet *m;
    fpt_sgd opt;
    if (fpt_resnet_create(&m, &(fpt_resnet_arch){.width = FUZZ_CKPT_WIDTH, .num_classes = FUZZ_CKPT_CLASSES, .in_channels = 3, .image_hw = FUZZ_CKPT_HW, .stage_norm = 0}, &err) ||
        fpt_sgd_create(&opt, m->n_params, 0.9, 0.0, &err))
        die("model", &err);
    fpt_resnet_init_params(m, 7, 0, m->params);
    fpt_resnet_init_buffers(m, m->buffers);
    char path[1024];

    // A fresh run (epoch 0, zero momentum).
    fpt_run_state st = {.config_hash = 0x0123456789abcdefull, .n_targets = 1};
    snprintf(path, sizeof path, "%s/checkpoint/fresh.bin", dir);
    if (fpt_checkpoint_save(path, &st, m, &opt, &err)) die("save", &err);

    // Mid-run: momentum, perturbations, a restart, two targets (one reached).
    for (size_t i = 0; i < opt.n; i++) opt.velocity[i] = (float)((double)i * 1e-3 - 0.5);
    // A farm's: it names its database and job.
    fpt_run_state mid = {.config_hash = 42, .epoch = 12, .perturb_events = 3,
                         .last_restart = 10, .n_targets = 2, .fpt = {7},
                         .owner_db = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
                         .owner_job = 17};
    snprintf(path, sizeof path, "%s/checkpoint/mid-run.bin", dir);
    if (fpt_checkpoint_save(path, &mid, m, &opt, &err)) die("save", &err);

    // Diverged, every target slot used.
    fpt_run_state div = {.config_hash = 7, .epoch = 30, .perturb_events = 29,
                         .last_restart = 30, .diverged = 1, .n_targets = 8,
                         .fpt = {1, 2, 3, 4, 5, 6, 7, 30}};
    snprintf(path, sizeof path, "%s/checkpoint/diverged.bin", dir);
    if (fpt_checkpoint_save(path, &div, m, &opt, &err)) die("save", &err);

    // Near-valid: the fresh file's prefix alone (truncated; header intact).
    snprintf(path, sizeof path, "%s/checkpoint/fresh.bin", dir);
    FILE *f = fopen(path, "rb");
    unsigned char head[112];
    if (!f || fread(head, 1, sizeof head, f) != sizeof head) die(path, NULL);
    fclose(f);
    snprintf(path, sizeof path, "%s/checkpoint/truncated.bin", dir);
    write_or_die(path, head, sizeof head);

    fpt_sgd_free(&opt);
    fpt_resnet_free(m);
}

// ---- CIFAR (fuzz_cifar.c's layout) -------------------------------------------------

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) die("out of memory", NULL);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static uint32_t lcg = 12345;
static unsigned char next_byte(void) {
    lcg = lcg * 1664525u + 1013904223u;
    return (unsigned char)(lcg >> 24);
}

// One file of `records` records; label_bytes 1 or 2; labels from `label`.
static void put_file(buf *b, int records, int label_bytes, int label) {
    const size_t len = (size_t)records * (size_t)(label_bytes + CIFAR_PIXELS);
    const unsigned char lenb[2] = {(unsigned char)(len & 0xff), (unsigned char)(len >> 8)};
    put(b, lenb, 2);
    for (int r = 0; r < records; r++) {
        unsigned char lab[2] = {(unsigned char)((label + r) % 20),
                                (unsigned char)((label + r) % (label_bytes == 2 ? 100 : 10))};
        put(b, label_bytes == 2 ? lab : lab + 1, (size_t)label_bytes);
        for (int i = 0; i < CIFAR_PIXELS; i++) {
            unsigned char v = next_byte();
            put(b, &v, 1);
        }
    }
}

static void put_missing(buf *b, unsigned code) {
    const unsigned char lenb[2] = {(unsigned char)(code & 0xff), (unsigned char)(code >> 8)};
    put(b, lenb, 2);
}

static void save(const char *dir, const char *name, buf *b) {
    char path[1024];
    snprintf(path, sizeof path, "%s/cifar/%s", dir, name);
    write_or_die(path, b->p, b->n);
    b->n = 0;
}

static void cifar(const char *dir) {
    buf b = {0};
    // CIFAR-10: one record per file, all of them.
    const unsigned char c10[3] = {0, 0, 0};
    put(&b, c10, 3);
    for (int i = 0; i < 6; i++) put_file(&b, 1, 1, i);
    save(dir, "cifar10-1-per-file.bin", &b);
    // CIFAR-10: two records in the first file, subsets 2 and 1.
    const unsigned char c10s[3] = {0, 2, 1};
    put(&b, c10s, 3);
    put_file(&b, 2, 1, 3);
    for (int i = 1; i < 6; i++) put_file(&b, 1, 1, i);
    save(dir, "cifar10-subset.bin", &b);
    // CIFAR-10: data_batch_5.bin missing (near-valid).
    put(&b, c10, 3);
    for (int i = 0; i < 4; i++) put_file(&b, 1, 1, i);
    put_missing(&b, 0xFFFF);
    put_file(&b, 1, 1, 9);
    save(dir, "cifar10-missing-batch5.bin", &b);
    // CIFAR-100: one record per file.
    const unsigned char c100[3] = {1, 0, 0};
    put(&b, c100, 3);
    put_file(&b, 1, 2, 5);
    put_file(&b, 1, 2, 17);
    save(dir, "cifar100-1-per-file.bin", &b);
    // CIFAR-100: three training records, subsets 3 and 1.
    const unsigned char c100s[3] = {1, 3, 1};
    put(&b, c100s, 3);
    put_file(&b, 3, 2, 98);
    put_file(&b, 1, 2, 0);
    save(dir, "cifar100-subset.bin", &b);
    free(b.p);
}

// ---- MNIST-format IDX files (fuzz_idx.c's layout) ----------------------------------

static void be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

// The bytes of an IDX images file of n random images (header count `count`),
// or of a labels file of n labels 0..9 from `label` on.
static void idx_file(buf *f, int images, int n, uint32_t count, int label) {
    unsigned char h[16];
    be32(h, images ? 0x00000803u : 0x00000801u);
    be32(h + 4, count);
    be32(h + 8, 28);
    be32(h + 12, 28);
    put(f, h, images ? 16 : 8);
    for (int i = 0; i < n; i++) {
        if (!images) {
            const unsigned char l = (unsigned char)((label + i) % 10);
            put(f, &l, 1);
            continue;
        }
        for (int k = 0; k < IDX_PIXELS; k++) {
            const unsigned char v = next_byte();
            put(f, &v, 1);
        }
    }
}

// A gzip stream of f's bytes (zlib's deflate with the gzip wrapper), in place.
static void gzip_in_place(buf *f) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        die("deflateInit2", NULL);
    const uLong cap = deflateBound(&z, (uLong)f->n);
    unsigned char *out = malloc(cap);
    if (!out) die("out of memory", NULL);
    z.next_in = f->p;
    z.avail_in = (uInt)f->n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) die("deflate", NULL);
    f->n = 0;
    put(f, out, z.total_out);
    deflateEnd(&z);
    free(out);
}

// One file of the input: its 16-bit length, then its bytes.
static void put_sized(buf *b, const buf *f) {
    if (f->n >= 0xFFFE) die("seed file too long", NULL);
    const unsigned char lenb[2] = {(unsigned char)(f->n & 0xff), (unsigned char)(f->n >> 8)};
    put(b, lenb, 2);
    put(b, f->p, f->n);
}

// The four files: n_train / n_test images (headers saying so, unless
// label_count >= 0 overrides the train labels' count), written per `modes`
// (fuzz_idx.c byte 3); mode 1 files are gzipped here.
static void idx_input(buf *b, unsigned flags, int train_subset, int test_subset, unsigned modes,
                      int n_train, int n_test, int label_count) {
    const unsigned char head[4] = {(unsigned char)flags, (unsigned char)train_subset,
                                   (unsigned char)test_subset, (unsigned char)modes};
    put(b, head, 4);
    for (int k = 0; k < 4; k++) {
        buf f = {0};
        const int n = k < 2 ? n_train : n_test;
        const uint32_t count = k == 1 && label_count >= 0 ? (uint32_t)label_count : (uint32_t)n;
        idx_file(&f, !(k & 1), k == 1 && label_count >= 0 ? label_count : n, count, 3 * k);
        if (((modes >> (2 * k)) & 3u) == 1) gzip_in_place(&f);
        put_sized(b, &f);
        free(f.p);
    }
}

static void save_idx(const char *dir, const char *name, buf *b) {
    char path[1024];
    snprintf(path, sizeof path, "%s/idx/%s", dir, name);
    write_or_die(path, b->p, b->n);
    b->n = 0;
}

static void idx(const char *dir) {
    buf b = {0};
    // Fashion-MNIST, plain files, one image per split.
    idx_input(&b, 0, 0, 0, 0x00, 1, 1, -1);
    save_idx(dir, "fashion-plain.bin", &b);
    // MNIST, every file gzipped by the harness; two train images.
    idx_input(&b, 1, 0, 0, 0xAA, 2, 1, -1);
    save_idx(dir, "mnist-gzip-by-harness.bin", &b);
    // Fashion-MNIST, every file a gzip stream written here.
    idx_input(&b, 0, 0, 0, 0x55, 1, 2, -1);
    save_idx(dir, "fashion-gzip-streams.bin", &b);
    // Subsets 2 and 1 of 3 and 2 images; NAME.gz next to a different NAME.
    idx_input(&b, 0, 2, 1, 0xFF, 3, 2, -1);
    save_idx(dir, "fashion-subset-gz-and-plain.bin", &b);
    // Near-valid: 2 train images but 1 label.
    idx_input(&b, 1, 0, 0, 0x00, 2, 1, 1);
    save_idx(dir, "mnist-count-mismatch.bin", &b);
    // Near-valid: MNIST without a path.
    idx_input(&b, 1 | 4, 0, 0, 0x00, 1, 1, -1);
    save_idx(dir, "mnist-no-path.bin", &b);
    free(b.p);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds CORPUS_DIR (writes CORPUS_DIR/checkpoint, "
                        "CORPUS_DIR/cifar, CORPUS_DIR/idx)\n");
        return 2;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/checkpoint", argv[1]);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/cifar", argv[1]);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/idx", argv[1]);
    mkdir(path, 0755);
    checkpoints(argv[1]);
    cifar(argv[1]);
    idx(argv[1]);
    return 0;
}
