// make_seeds.c — writes the binary seed corpora of the fuzzers with the
// library itself: valid checkpoints (fpt_checkpoint_save) and tiny CIFAR-10
// and CIFAR-100 inputs in fuzz_cifar.c's layout, plus near-valid variants.
//
//   build-fuzz/make_seeds tests/fuzz/corpus
//
// writes DIR/checkpoint/*.bin (not *.ckpt, which .gitignore drops) and
// DIR/cifar/*.bin.  The output is deterministic (fixed seeds), so rerunning
// it changes nothing; the text corpora (job specs, CSV) are written by hand.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "dataset.h"
#include "fuzz_common.h"
#include "resnet.h"
#include "sgd.h"

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
    if (fpt_resnet_create(&m, &(fpt_resnet_arch){FUZZ_CKPT_WIDTH, FUZZ_CKPT_CLASSES, 3, FUZZ_CKPT_HW, 0}, &err) ||
        fpt_sgd_create(&opt, m->n_params, 0.9, 0.0, &err))
        die("model", &err);
    fpt_resnet_init_params(m, 7, 0, m->params);
    fpt_resnet_init_buffers(m, m->buffers);
    char path[1024];

    // A fresh run (epoch 0, zero momentum).
    fpt_run_state st = {0x0123456789abcdefull, 0, 0, 0, 0, 1, {0}};
    snprintf(path, sizeof path, "%s/checkpoint/fresh.bin", dir);
    if (fpt_checkpoint_save(path, &st, m, &opt, &err)) die("save", &err);

    // Mid-run: momentum, perturbations, a restart, two targets (one reached).
    for (size_t i = 0; i < opt.n; i++) opt.velocity[i] = (float)((double)i * 1e-3 - 0.5);
    fpt_run_state mid = {42, 12, 3, 10, 0, 2, {7, 0, 0, 0, 0, 0, 0, 0}};
    snprintf(path, sizeof path, "%s/checkpoint/mid-run.bin", dir);
    if (fpt_checkpoint_save(path, &mid, m, &opt, &err)) die("save", &err);

    // Diverged, every target slot used.
    fpt_run_state div = {7, 30, 29, 30, 1, 8, {1, 2, 3, 4, 5, 6, 7, 30}};
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
    const size_t len = (size_t)records * (size_t)(label_bytes + FPT_IMG_PIXELS);
    const unsigned char lenb[2] = {(unsigned char)(len & 0xff), (unsigned char)(len >> 8)};
    put(b, lenb, 2);
    for (int r = 0; r < records; r++) {
        unsigned char lab[2] = {(unsigned char)((label + r) % 20),
                                (unsigned char)((label + r) % (label_bytes == 2 ? 100 : 10))};
        put(b, label_bytes == 2 ? lab : lab + 1, (size_t)label_bytes);
        for (int i = 0; i < FPT_IMG_PIXELS; i++) {
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

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds CORPUS_DIR (writes CORPUS_DIR/checkpoint, "
                        "CORPUS_DIR/cifar)\n");
        return 2;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/checkpoint", argv[1]);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/cifar", argv[1]);
    mkdir(path, 0755);
    checkpoints(argv[1]);
    cifar(argv[1]);
    return 0;
}
