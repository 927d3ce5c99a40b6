// fuzz_cifar.c — libFuzzer harness for the CIFAR-10/100 binary loaders
// (fpt_dataset_load, common/data/dataset.c) on files written from the input.
//
// Input layout (little-endian):
//   byte 0      flags: bit 0 = CIFAR-100 (else CIFAR-10); bit 1 = give the
//               loader a regular file as its directory; bit 2 = no path
//   byte 1      train_subset, as int8 (negative values are refused)
//   byte 2      test_subset, as int8
//   then, for each file of the format in order (CIFAR-10: data_batch_1.bin
//   .. data_batch_5.bin, test_batch.bin; CIFAR-100: train.bin, test.bin):
//   uint16 L, then L bytes of the file (fewer if the input ends first).
//   L = 0xFFFF: the file is missing; L = 0xFFFE: a directory in its place.
//   A file whose length field is cut off by the end of the input is missing.
// Records are 3073 (CIFAR-10) or 3074 (CIFAR-100) bytes, so a one-record file
// per name keeps an input under 19 KB; -max_len=32768 leaves room for a few.
//
// Contract checked (besides ASan/UBSan/LeakSanitizer):
//   rejected: -1, one non-empty line, and nothing left allocated in the
//     dataset;
//   accepted: 0, 10 or 100 classes, geometry (3, 32, 32) of 3072 bytes, both
//     splits non-empty and of the subset size when one was asked for, every
//     label in range, the split's images equal to the files' records (the
//     subset a prefix of their concatenation), per-channel mean in [0, 1]
//     and std in (0, 1].
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "fuzz_common.h"

#define MISSING 0xFFFF
#define A_DIRECTORY 0xFFFE
#define CIFAR_PIXELS 3072   // (3, 32, 32) after the label byte(s)

typedef struct layout {
    const char *names[6];
    int n_files, n_train_files, label_bytes, classes;
} layout;

static const layout CIFAR10 = {{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"},
                               6, 5, 1, 10};
static const layout CIFAR100 = {{"train.bin", "test.bin"}, 2, 1, 2, 100};

// Where each file's bytes are in the input (for checking an accepted load).
typedef struct file_span {
    const uint8_t *p;
    size_t n;
    int present;
} file_span;

static char data_dir[600], as_file[600];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_data_dir_make("cifar", data_dir, as_file);
    return 0;
}

// Makes path hold what the input says; returns its span.
static file_span place(const char *path, const uint8_t **p, const uint8_t *end) {
    file_span f = {NULL, 0, 0};
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) rmdir(path);
        else unlink(path);
    }
    if (end - *p < 2) return f;   // cut off: missing
    const unsigned len = (unsigned)(*p)[0] | (unsigned)(*p)[1] << 8;
    *p += 2;
    if (len == MISSING) return f;
    if (len == A_DIRECTORY) {
        if (mkdir(path, 0755) != 0) {
            perror(path);
            exit(2);
        }
        return f;
    }
    const size_t n = (size_t)(end - *p) < len ? (size_t)(end - *p) : len;
    fuzz_write_file(path, *p, n);
    f.p = *p;
    f.n = n;
    f.present = 1;
    *p += n;
    return f;
}

// The accepted split holds the first s->n records of files[0..n_files).
static void check_split(const fpt_split *s, const layout *L, const file_span *files, int n_files,
                        int subset, const char *what) {
    const size_t rec = (size_t)L->label_bytes + CIFAR_PIXELS;
    size_t total = 0;
    for (int i = 0; i < n_files; i++) {
        if (!files[i].present) fuzz_die("%s: accepted with a file missing", what);
        if (files[i].n == 0 || files[i].n % rec) fuzz_die("%s: accepted a file of %zu bytes",
                                                          what, files[i].n);
        total += files[i].n / rec;
    }
    const size_t want = subset > 0 ? (size_t)subset : total;
    if (s->n < 1 || (size_t)s->n != want || !s->pixels || !s->labels)
        fuzz_die("%s: %d images, expected %zu", what, s->n, want);
    int r = 0;
    for (int i = 0; i < n_files && r < s->n; i++)
        for (size_t k = 0; k < files[i].n / rec && r < s->n; k++, r++) {
            const uint8_t *q = files[i].p + k * rec;
            if (L->label_bytes == 2 && q[0] >= 20) fuzz_die("%s: coarse label %d accepted", what,
                                                            q[0]);
            const int label = q[L->label_bytes - 1];
            if (s->labels[r] != label || label >= L->classes)
                fuzz_die("%s: image %d has label %d, file says %d", what, r, (int)s->labels[r],
                         label);
            if (memcmp(s->pixels + (size_t)r * CIFAR_PIXELS, q + L->label_bytes,
                       CIFAR_PIXELS) != 0)
                fuzz_die("%s: image %d differs from its record", what, r);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3) return 0;
    const uint8_t *p = data + 3, *end = data + size;
    const int is100 = data[0] & 1;
    const layout *L = is100 ? &CIFAR100 : &CIFAR10;
    fpt_dataset_options o;
    memset(&o, 0, sizeof o);
    o.kind = is100 ? FPT_DATA_CIFAR100 : FPT_DATA_CIFAR10;
    o.path = (data[0] & 4) ? NULL : (data[0] & 2) ? as_file : data_dir;
    o.train_subset = (int8_t)data[1];
    o.test_subset = (int8_t)data[2];

    file_span files[6];
    char path[700];
    for (int i = 0; i < L->n_files; i++) {
        snprintf(path, sizeof path, "%s/%s", data_dir, L->names[i]);
        files[i] = place(path, &p, end);
    }
    // Leftovers of the other layout would not matter to the loader, but
    // remove them so the directory holds exactly this input.
    const layout *other = is100 ? &CIFAR10 : &CIFAR100;
    for (int i = 0; i < other->n_files; i++) {
        snprintf(path, sizeof path, "%s/%s", data_dir, other->names[i]);
        struct stat st;
        if (lstat(path, &st) == 0) {
            if (S_ISDIR(st.st_mode)) rmdir(path);
            else unlink(path);
        }
    }

    fpt_dataset d;
    fpt_err err;
    fuzz_err_reset(&err);
    const int rc = fpt_dataset_load(&d, &o, &err);
    fuzz_check_result("fpt_dataset_load", rc, &err, NULL);
    if (rc != 0) {
        if (d.train.pixels || d.train.labels || d.test.pixels || d.test.labels)
            fuzz_die("rejected load left images or labels allocated");
        return 0;
    }
    if (!o.path || o.path == as_file) fuzz_die("accepted without a data directory");
    if (d.num_classes != L->classes) fuzz_die("%d classes, expected %d", d.num_classes,
                                              L->classes);
    if (d.channels != 3 || d.height != 32 || d.width != 32 || d.image_bytes != CIFAR_PIXELS)
        fuzz_die("geometry (%d, %d, %d) of %zu bytes", d.channels, d.height, d.width,
                 d.image_bytes);
    check_split(&d.train, L, files, L->n_train_files, o.train_subset, "train");
    check_split(&d.test, L, files + L->n_train_files, 1, o.test_subset, "test");
    for (int c = 0; c < 3; c++)
        if (!(d.mean[c] >= 0.0f && d.mean[c] <= 1.0f && d.std[c] > 0.0f && d.std[c] <= 1.0f))
            fuzz_die("channel %d: mean %g, std %g", c, (double)d.mean[c], (double)d.std[c]);
    fpt_dataset_free(&d);
    return 0;
}
