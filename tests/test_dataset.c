// test_dataset.c — datasets: CIFAR-10/100 files written here in the official
// binary format (records of label byte(s) + 3072 pixel bytes, R then G then
// B planes, row-major) and MNIST-format IDX files (gzipped with zlib, or
// plain), loaded back; every malformed-file error; batch assembly against
// normalised values and crops/flips computed here; the synthetic dataset's
// determinism, label noise and class balance; and the real Fashion-MNIST of
// Debian's dataset-fashion-mnist against its published statistics.
//
// The pixel patterns are chosen so that the normalisation has closed forms:
//   R: (y*32 + x + 7g) mod 256 — every value 0..255 exactly 4 times per image,
//      so mean 127.5 and variance (256^2 - 1) / 12 whatever the images;
//   G: 20 + 10g, constant per image — mean and variance of an arithmetic
//      sequence: 20 + 5(n-1) and 100 (n^2 - 1) / 12 over images g < n;
//   B: a checkerboard of 50 and 200 with phase g — mean 125, std 75.
// They also make every crop/flip distinguishable: G's zero padding fixes the
// vertical offset and, up to a mirror image, the horizontal one; R's
// left-to-right increase tells the mirror image apart.
//
// The IDX images (1, 28, 28) are ramps, 10 + 3x + 5y + 2g for train image g
// and 250 - 4x - 3y - j for test image j (see idx_hand_stats for their
// closed-form statistics); never 0, so a crop's zero padding shows where it
// is, and the slope in x tells a mirror image apart.
//
// Every test works in its own mkdtemp directory, removed by the fixture.
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "data/dataset.h"
#include "base/rng.h"
#include "tmpdir.h"

#define CIFAR_PIXELS 3072            // (3, 32, 32): CIFAR and synthetic images
#define REC10 (1 + CIFAR_PIXELS)     // 3073 bytes
#define REC100 (2 + CIFAR_PIXELS)  // 3074 bytes
#define PLANE 1024
#define N_PER_FILE 3                 // CIFAR-10 fixture: 5 train files of 3 records
#define N_TRAIN10 15
#define N_TEST10 4
#define N_TRAIN100 6
#define N_TEST100 3

// ---- fixture: a scratch directory per test ---------------------------------

static char g_dir[64];

static void make_dir(void) {
    tmpdir_make(g_dir, sizeof g_dir, "dataset");
}

static void remove_dir(void) { tmpdir_remove(g_dir); }

TestSuite(dataset_cifar, .init = make_dir, .fini = remove_dir);
TestSuite(dataset_errors, .init = make_dir, .fini = remove_dir);
TestSuite(dataset_batch, .init = make_dir, .fini = remove_dir);
TestSuite(dataset_idx, .init = make_dir, .fini = remove_dir);
TestSuite(dataset_idx_errors, .init = make_dir, .fini = remove_dir);
TestSuite(dataset_synthetic);
TestSuite(dataset_fashion_mnist);

// ---- the known patterns ----------------------------------------------------

// Train image g (its index in the concatenation of the train files).
static uint8_t pix_train(int g, int c, int y, int x) {
    if (c == 0) return (uint8_t)((y * 32 + x + 7 * g) & 0xff);
    if (c == 1) return (uint8_t)(20 + 10 * g);
    return ((x + y + g) & 1) ? 200 : 50;
}

// Test image j: same shapes, other values (normalised with the TRAIN stats).
static uint8_t pix_test(int j, int c, int y, int x) {
    if (c == 0) return (uint8_t)((y * 32 + x + 3 * j + 100) & 0xff);
    if (c == 1) return (uint8_t)(5 * j + 1);
    return ((x + y + j) & 1) ? 30 : 220;
}

static int label10_train(int g) { return (3 * g + 1) % 10; }
static int label10_test(int j) { return (7 * j + 2) % 10; }
static const int FINE_TRAIN[N_TRAIN100] = {0, 99, 42, 7, 63, 18};
static const int COARSE_TRAIN[N_TRAIN100] = {19, 0, 5, 3, 12, 8};
static const int FINE_TEST[N_TEST100] = {99, 1, 50};
static const int COARSE_TEST[N_TEST100] = {7, 19, 0};

// Hand-computed normalisation of the first n train images (n >= 2), in [0, 1].
static void hand_stats(int n, double mean[3], double std[3]) {
    mean[0] = 127.5 / 255.0;
    std[0] = sqrt(65535.0 / 12.0) / 255.0;
    mean[1] = (20.0 + 5.0 * (n - 1)) / 255.0;
    std[1] = sqrt(100.0 * ((double)n * n - 1.0) / 12.0) / 255.0;
    mean[2] = 125.0 / 255.0;
    std[2] = 75.0 / 255.0;
}

// ---- writing files -------------------------------------------------------------

static void path_of(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", g_dir, name);
}

static void write_bytes(const char *name, const uint8_t *p, size_t n) {
    char path[256];
    path_of(path, sizeof path, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(p, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

// n records (label bytes + image) into a malloc'ed buffer; images g0 .. g0+n-1
// of the train (test = 0) or test (test = 1) pattern.
static uint8_t *records(int n, int g0, int test, int label_bytes, const int *coarse,
                        const int *fine) {
    const size_t rec = (size_t)label_bytes + CIFAR_PIXELS;
    uint8_t *buf = malloc(rec * (size_t)(n ? n : 1));
    cr_assert_not_null(buf);
    for (int r = 0; r < n; r++) {
        uint8_t *p = buf + (size_t)r * rec;
        const int g = g0 + r;
        if (label_bytes == 2) {
            p[0] = (uint8_t)coarse[g];
            p[1] = (uint8_t)fine[g];
        } else {
            p[0] = (uint8_t)(test ? label10_test(g) : label10_train(g));
        }
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    p[label_bytes + c * PLANE + y * 32 + x] =
                        test ? pix_test(g, c, y, x) : pix_train(g, c, y, x);
    }
    return buf;
}

static void write_cifar10(void) {
    char name[32];
    for (int f = 0; f < 5; f++) {
        uint8_t *b = records(N_PER_FILE, f * N_PER_FILE, 0, 1, NULL, NULL);
        snprintf(name, sizeof name, "data_batch_%d.bin", f + 1);
        write_bytes(name, b, (size_t)N_PER_FILE * REC10);
        free(b);
    }
    uint8_t *b = records(N_TEST10, 0, 1, 1, NULL, NULL);
    write_bytes("test_batch.bin", b, (size_t)N_TEST10 * REC10);
    free(b);
}

static void write_cifar100(void) {
    uint8_t *b = records(N_TRAIN100, 0, 0, 2, COARSE_TRAIN, FINE_TRAIN);
    write_bytes("train.bin", b, (size_t)N_TRAIN100 * REC100);
    free(b);
    b = records(N_TEST100, 0, 1, 2, COARSE_TEST, FINE_TEST);
    write_bytes("test.bin", b, (size_t)N_TEST100 * REC100);
    free(b);
}

static fpt_dataset_options cifar_opts(fpt_dataset_kind kind) {
    fpt_dataset_options o = {.kind = kind, .path = g_dir};
    return o;
}

// ---- checking a loaded split -----------------------------------------------------

static void expect_pixels(const fpt_split *s, int n, int test) {
    for (int g = 0; g < n; g++)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++) {
                    const uint8_t want = test ? pix_test(g, c, y, x) : pix_train(g, c, y, x);
                    const uint8_t got = s->pixels[(size_t)g * CIFAR_PIXELS + c * PLANE + y * 32 + x];
                    if (got != want)
                        cr_assert_fail("%s image %d channel %d (y %d, x %d): %d, expected %d",
                                 test ? "test" : "train", g, c, y, x, got, want);
                }
}

static void expect_stats(const fpt_dataset *d, int n_train) {
    double mean[3], std[3];
    hand_stats(n_train, mean, std);
    for (int c = 0; c < 3; c++) {
        cr_expect(fabs(d->mean[c] - mean[c]) < 1e-6, "mean[%d] = %.8f, expected %.8f", c,
                  (double)d->mean[c], mean[c]);
        cr_expect(fabs(d->std[c] - std[c]) < 1e-6, "std[%d] = %.8f, expected %.8f", c,
                  (double)d->std[c], std[c]);
    }
}

// ============================================================================
// CIFAR files
// ============================================================================

Test(dataset_cifar, cifar10_counts_labels_pixels_stats) {
    write_cifar10();
    fpt_dataset d;
    fpt_err err = {{0}};
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR10);
    cr_assert_eq(fpt_dataset_load(&d, &o, &err), 0, "%s", err.msg);
    cr_expect_eq(d.kind, FPT_DATA_CIFAR10);
    cr_expect_eq(d.num_classes, 10);
    cr_expect(d.channels == 3 && d.height == 32 && d.width == 32 && d.image_bytes == 3072,
              "geometry (%d, %d, %d), %zu bytes", d.channels, d.height, d.width, d.image_bytes);
    cr_assert_eq(d.train.n, N_TRAIN10);
    cr_assert_eq(d.test.n, N_TEST10);
    for (int g = 0; g < N_TRAIN10; g++)
        cr_expect_eq(d.train.labels[g], label10_train(g), "train label %d", g);
    for (int j = 0; j < N_TEST10; j++)
        cr_expect_eq(d.test.labels[j], label10_test(j), "test label %d", j);
    expect_pixels(&d.train, N_TRAIN10, 0);
    expect_pixels(&d.test, N_TEST10, 1);
    expect_stats(&d, N_TRAIN10);
    fpt_dataset_free(&d);
    cr_expect_null(d.train.pixels);
    cr_expect_eq(d.train.n, 0);
    cr_expect_eq(d.test.n, 0);
}

// 7 train images span files 1-3 (3 + 3 + 1): the subset is the prefix of the
// concatenation, and the statistics are those of the subset (G: mean 50, std 20).
Test(dataset_cifar, cifar10_subset_is_prefix_and_sets_stats) {
    write_cifar10();
    fpt_dataset d;
    fpt_err err = {{0}};
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR10);
    o.train_subset = 7;
    o.test_subset = 2;
    cr_assert_eq(fpt_dataset_load(&d, &o, &err), 0, "%s", err.msg);
    cr_assert_eq(d.train.n, 7);
    cr_assert_eq(d.test.n, 2);
    for (int g = 0; g < 7; g++) cr_expect_eq(d.train.labels[g], label10_train(g));
    expect_pixels(&d.train, 7, 0);
    expect_pixels(&d.test, 2, 1);
    expect_stats(&d, 7);
    cr_expect(fabs(d.mean[1] - 50.0 / 255.0) < 1e-6 && fabs(d.std[1] - 20.0 / 255.0) < 1e-6,
              "G mean %.6f std %.6f", (double)d.mean[1], (double)d.std[1]);
    fpt_dataset_free(&d);
}

// The FINE label (second byte) is used; coarse labels differ from the fine
// ones in every record, so taking the wrong byte fails.
Test(dataset_cifar, cifar100_uses_fine_labels) {
    write_cifar100();
    fpt_dataset d;
    fpt_err err = {{0}};
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR100);
    cr_assert_eq(fpt_dataset_load(&d, &o, &err), 0, "%s", err.msg);
    cr_expect_eq(d.kind, FPT_DATA_CIFAR100);
    cr_expect_eq(d.num_classes, 100);
    cr_expect(d.channels == 3 && d.height == 32 && d.width == 32 && d.image_bytes == 3072,
              "geometry (%d, %d, %d), %zu bytes", d.channels, d.height, d.width, d.image_bytes);
    cr_assert_eq(d.train.n, N_TRAIN100);
    cr_assert_eq(d.test.n, N_TEST100);
    for (int g = 0; g < N_TRAIN100; g++) cr_expect_eq(d.train.labels[g], FINE_TRAIN[g]);
    for (int j = 0; j < N_TEST100; j++) cr_expect_eq(d.test.labels[j], FINE_TEST[j]);
    expect_pixels(&d.train, N_TRAIN100, 0);
    expect_pixels(&d.test, N_TEST100, 1);
    expect_stats(&d, N_TRAIN100);
    fpt_dataset_free(&d);
}

// ============================================================================
// malformed data: each error names the file and says what was wrong
// ============================================================================

// Loads, expects failure, checks every fragment is in the message and that
// the dataset was left empty.
static void expect_load_error(const fpt_dataset_options *o, const char *const *frags) {
    fpt_dataset d;
    fpt_err err = {{0}};
    memset(&d, 0x5a, sizeof d);
    cr_assert_eq(fpt_dataset_load(&d, o, &err), -1, "load succeeded; expected: %s", frags[0]);
    for (int i = 0; frags[i]; i++)
        cr_expect_not_null(strstr(err.msg, frags[i]), "message '%s' lacks '%s'", err.msg,
                           frags[i]);
    cr_expect_null(d.train.pixels);
    cr_expect_null(d.test.labels);
    cr_expect_eq(d.train.n, 0);
    measured("error: %s", err.msg);
}

// Rewrites a file with its first `keep` bytes followed by `extra` 0x01 bytes.
static void resize_file(const char *name, size_t keep, size_t extra) {
    char path[256];
    path_of(path, sizeof path, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    uint8_t *buf = calloc(keep + extra + 1, 1);
    cr_assert_not_null(buf);
    size_t got = fread(buf, 1, keep, f);
    fclose(f);
    cr_assert_eq(got, keep);
    memset(buf + keep, 1, extra);
    write_bytes(name, buf, keep + extra);
    free(buf);
}

Test(dataset_errors, cifar10_truncated_file) {
    write_cifar10();
    resize_file("data_batch_3.bin", 3 * REC10 - 100, 0);   // 9119 bytes
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR10);
    const char *frags[] = {"data_batch_3.bin",
                           "size 9119 bytes is not a multiple of the 3073-byte CIFAR-10 record",
                           "truncated", NULL};
    expect_load_error(&o, frags);
}

Test(dataset_errors, cifar10_extra_byte) {
    write_cifar10();
    resize_file("test_batch.bin", 4 * REC10, 1);   // 12293 bytes
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR10);
    const char *frags[] = {"test_batch.bin",
                           "size 12293 bytes is not a multiple of the 3073-byte CIFAR-10 record",
                           NULL};
    expect_load_error(&o, frags);
}

Test(dataset_errors, cifar10_empty_file) {
    write_cifar10();
    resize_file("data_batch_1.bin", 0, 0);
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR10);
    const char *frags[] = {"data_batch_1.bin", "size 0 bytes", "3073-byte CIFAR-10 record",
                           NULL};
    expect_load_error(&o, frags);
}

// A CIFAR-10-sized file read as CIFAR-100 (6 * 3073 = 18438 = 5.998 records).
Test(dataset_errors, cifar100_wrong_record_size) {
    write_cifar100();
    uint8_t *b = records(6, 0, 0, 1, NULL, NULL);
    write_bytes("train.bin", b, 6 * REC10);
    free(b);
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR100);
    const char *frags[] = {"train.bin",
                           "size 18438 bytes is not a multiple of the 3074-byte CIFAR-100 record",
                           NULL};
    expect_load_error(&o, frags);
}

Test(dataset_errors, cifar10_label_out_of_range) {
    write_cifar10();
    uint8_t *b = records(N_PER_FILE, 9, 0, 1, NULL, NULL);   // data_batch_4: images 9..11
    b[2 * REC10] = 10;                                        // record 2's label
    write_bytes("data_batch_4.bin", b, N_PER_FILE * REC10);
    free(b);
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR10);
    const char *frags[] = {"data_batch_4.bin", "record 2 has label 10", "expected 0..9", NULL};
    expect_load_error(&o, frags);
}

Test(dataset_errors, cifar100_fine_label_out_of_range) {
    write_cifar100();
    uint8_t *b = records(N_TEST100, 0, 1, 2, COARSE_TEST, FINE_TEST);
    b[1 * REC100 + 1] = 100;   // record 1's fine label
    write_bytes("test.bin", b, N_TEST100 * REC100);
    free(b);
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR100);
    const char *frags[] = {"test.bin", "record 1 has fine label 100", "expected 0..99", NULL};
    expect_load_error(&o, frags);
}

Test(dataset_errors, cifar100_coarse_label_out_of_range) {
    write_cifar100();
    uint8_t *b = records(N_TRAIN100, 0, 0, 2, COARSE_TRAIN, FINE_TRAIN);
    b[4 * REC100] = 20;   // record 4's coarse label
    write_bytes("train.bin", b, N_TRAIN100 * REC100);
    free(b);
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR100);
    const char *frags[] = {"train.bin", "record 4 has coarse label 20", "expected 0..19", NULL};
    expect_load_error(&o, frags);
}

Test(dataset_errors, cifar10_missing_file) {
    write_cifar10();
    char path[256];
    path_of(path, sizeof path, "data_batch_5.bin");
    cr_assert_eq(unlink(path), 0);
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR10);
    const char *frags[] = {path, "No such file", "deploy/get-cifar.sh", "cifar10", NULL};
    expect_load_error(&o, frags);
}

Test(dataset_errors, cifar100_missing_test_file) {
    write_cifar100();
    char path[256];
    path_of(path, sizeof path, "test.bin");
    cr_assert_eq(unlink(path), 0);
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR100);
    const char *frags[] = {path, "No such file", "deploy/get-cifar.sh", "cifar100", NULL};
    expect_load_error(&o, frags);
}

Test(dataset_errors, missing_directory) {
    char path[256];
    path_of(path, sizeof path, "no-such-dir");
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR10);
    o.path = path;
    const char *frags[] = {path, "No such file", "deploy/get-cifar.sh", NULL};
    expect_load_error(&o, frags);
}

Test(dataset_errors, path_is_a_file) {
    write_cifar10();
    char path[256];
    path_of(path, sizeof path, "test_batch.bin");
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR10);
    o.path = path;
    const char *frags[] = {path, "not a directory", "deploy/get-cifar.sh", NULL};
    expect_load_error(&o, frags);
}

Test(dataset_errors, train_subset_too_large) {
    write_cifar10();
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR10);
    o.train_subset = 16;
    const char *frags[] = {"data_batch_1.bin", "data_batch_5.bin", "15 train images",
                           "fewer than the 16", NULL};
    expect_load_error(&o, frags);
}

Test(dataset_errors, test_subset_too_large) {
    write_cifar10();
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR10);
    o.test_subset = 5;
    const char *frags[] = {"test_batch.bin", "holds 4 test images", "fewer than the 5", NULL};
    expect_load_error(&o, frags);
}

// G = 77 in every training image: std 0 cannot be normalised.
Test(dataset_errors, constant_channel) {
    write_cifar10();
    char name[32];
    for (int f = 0; f < 5; f++) {
        uint8_t *b = records(N_PER_FILE, f * N_PER_FILE, 0, 1, NULL, NULL);
        for (int r = 0; r < N_PER_FILE; r++) memset(b + (size_t)r * REC10 + 1 + PLANE, 77, PLANE);
        snprintf(name, sizeof name, "data_batch_%d.bin", f + 1);
        write_bytes(name, b, (size_t)N_PER_FILE * REC10);
        free(b);
    }
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR10);
    const char *frags[] = {"constant channel 1", "77", NULL};
    expect_load_error(&o, frags);
}

// The official files hold 10000 records each (CIFAR-10): one more is refused
// (another data set, or files concatenated), exactly 10000 is accepted.
Test(dataset_errors, cifar10_more_records_than_official) {
    write_cifar10();
    uint8_t *b = records(10001, 0, 1, 1, NULL, NULL);
    write_bytes("test_batch.bin", b, (size_t)10001 * REC10);
    char path[256];
    path_of(path, sizeof path, "test_batch.bin");
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR10);
    const char *frags[] = {path, "10001 records, more than the official 10000", NULL};
    expect_load_error(&o, frags);

    write_bytes("test_batch.bin", b, (size_t)10000 * REC10);
    free(b);
    fpt_dataset d;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_dataset_load(&d, &o, &err), 0, "10000 records refused: %s", err.msg);
    cr_expect_eq(d.test.n, 10000);
    cr_expect_eq(d.test.labels[9999], label10_test(9999));
    cr_expect_eq(d.test.pixels[(size_t)9999 * CIFAR_PIXELS + PLANE], pix_test(9999, 1, 0, 0));
    fpt_dataset_free(&d);
}

static void make_subdir(const char *name) {
    char path[256];
    path_of(path, sizeof path, name);
    cr_assert_eq(mkdir(path, 0755), 0, "%s: %s", path, strerror(errno));
}

// torchvision's download is the Python (pickled) version; each of its
// layouts gets an error that says so and how to get the binary version.
Test(dataset_errors, pickled_cifar_is_named_as_such) {
    static const struct {
        fpt_dataset_kind kind;
        const char *files[3];   // made empty (the loader only looks at the names)
        const char *subdir;
        const char *arg, *archive;
    } layouts[] = {
        {FPT_DATA_CIFAR10, {"data_batch_1", "batches.meta"}, NULL, "cifar10",
         "cifar-10-binary.tar.gz"},
        {FPT_DATA_CIFAR10, {NULL}, "cifar-10-batches-py", "cifar10", "cifar-10-binary.tar.gz"},
        {FPT_DATA_CIFAR100, {"train", "test", "meta"}, NULL, "cifar100",
         "cifar-100-binary.tar.gz"},
        {FPT_DATA_CIFAR100, {NULL}, "cifar-100-python", "cifar100", "cifar-100-binary.tar.gz"},
    };
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        char sub[64], script[64];
        snprintf(sub, sizeof sub, "layout%zu", i);
        make_subdir(sub);
        for (int k = 0; k < 3 && layouts[i].files[k]; k++) {
            char name[128];
            snprintf(name, sizeof name, "%s/%s", sub, layouts[i].files[k]);
            write_bytes(name, (const uint8_t *)"", 0);
        }
        if (layouts[i].subdir) {
            char name[128];
            snprintf(name, sizeof name, "%s/%s", sub, layouts[i].subdir);
            make_subdir(name);
        }
        char dir[256];
        path_of(dir, sizeof dir, sub);
        fpt_dataset_options o = {.kind = layouts[i].kind, .path = dir};
        snprintf(script, sizeof script, "deploy/get-cifar.sh DIR %s", layouts[i].arg);
        const char *frags[] = {dir, "Python (pickled) version", "cannot read", script,
                               layouts[i].archive, NULL};
        expect_load_error(&o, frags);
    }
}

// deploy/get-cifar.sh DIR prints DIR/cifar-10-batches-bin: given DIR, the
// error points one level down.
Test(dataset_errors, cifar_parent_of_binary_directory) {
    make_subdir("cifar-10-batches-bin");
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR10);
    char want[300];
    snprintf(want, sizeof want, "pass %s/cifar-10-batches-bin", g_dir);
    const char *frags[] = {"no data_batch_1.bin here", want, NULL};
    expect_load_error(&o, frags);
}

// The binary files win when the Python version sits next to them.
Test(dataset_cifar, binary_next_to_pickled_loads) {
    write_cifar10();
    write_bytes("data_batch_1", (const uint8_t *)"", 0);
    write_bytes("batches.meta", (const uint8_t *)"", 0);
    make_subdir("cifar-10-batches-py");
    fpt_dataset d;
    fpt_err err = {{0}};
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR10);
    cr_assert_eq(fpt_dataset_load(&d, &o, &err), 0, "%s", err.msg);
    cr_expect_eq(d.train.n, N_TRAIN10);
    fpt_dataset_free(&d);
}

// ============================================================================
// batches
// ============================================================================

static void load_fixture(fpt_dataset *d) {
    write_cifar10();
    fpt_err err = {{0}};
    fpt_dataset_options o = cifar_opts(FPT_DATA_CIFAR10);
    cr_assert_eq(fpt_dataset_load(d, &o, &err), 0, "%s", err.msg);
}

// Normalised value of raw byte u in channel c, from the hand statistics.
static double norm_hand(int u, int c) {
    double mean[3], std[3];
    hand_stats(N_TRAIN10, mean, std);
    return (u / 255.0 - mean[c]) / std[c];
}

// Float rounding of u*scale + shift with |x| < 3: a few ulp of 3 is ~1e-6.
#define TOL_NORM 1e-5

Test(dataset_batch, no_augmentation_exact_values) {
    fpt_dataset d;
    load_fixture(&d);
    const int idx[] = {14, 0, 7, 3};
    float x[4 * CIFAR_PIXELS];
    int32_t y[4];
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = NAN;
    fpt_dataset_batch(&d, &d.train, idx, 4, 0, 1, 1, 0, x, y);
    double worst = 0.0;
    for (int b = 0; b < 4; b++) {
        cr_expect_eq(y[b], label10_train(idx[b]));
        for (int c = 0; c < 3; c++)
            for (int yy = 0; yy < 32; yy++)
                for (int xx = 0; xx < 32; xx++) {
                    const double want = norm_hand(pix_train(idx[b], c, yy, xx), c);
                    const double e = fabs(x[b * CIFAR_PIXELS + c * PLANE + yy * 32 + xx] - want);
                    if (!(e <= worst)) worst = e;   // NaN propagates
                }
    }
    measured("batch normalisation error %.3g", worst);
    cr_expect(worst < TOL_NORM, "max |x - want| = %.3g", worst);

    // The test split is normalised with the TRAIN statistics.
    const int tidx[] = {3, 1};
    fpt_dataset_batch(&d, &d.test, tidx, 2, 0, 1, 1, 0, x, y);
    worst = 0.0;
    for (int b = 0; b < 2; b++) {
        cr_expect_eq(y[b], label10_test(tidx[b]));
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < PLANE; k++) {
                const double want = norm_hand(pix_test(tidx[b], c, k / 32, k % 32), c);
                const double e = fabs(x[b * CIFAR_PIXELS + c * PLANE + k] - want);
                if (!(e <= worst)) worst = e;
            }
    }
    cr_expect(worst < TOL_NORM, "test split: max |x - want| = %.3g", worst);
    fpt_dataset_free(&d);
}

// torchvision's RandomCrop(32, padding=4) + RandomHorizontalFlip, written
// out: pad the raw image with 0, take the window at (ox, oy) of the 40x40
// padded image, mirror it if flip, normalise.  Returns max |got - that|.
static double crop_flip_err(const float *got, int g, int ox, int oy, int flip) {
    double err = 0.0;
    for (int c = 0; c < 3; c++)
        for (int yy = 0; yy < 32; yy++)
            for (int xx = 0; xx < 32; xx++) {
                const int wx = flip ? 31 - xx : xx;            // column in the window
                const int py = yy + oy, px = wx + ox;          // in the padded image
                const int inside = py >= 4 && py < 36 && px >= 4 && px < 36;
                const int u = inside ? pix_train(g, c, py - 4, px - 4) : 0;
                const double e = fabs(got[c * PLANE + yy * 32 + xx] - norm_hand(u, c));
                if (!(e <= err)) err = e;
                if (err > 0.1) return err;   // clearly another crop: stop early
            }
    return err;
}

#define N_AUG 40
#define AUG_BOTH (FPT_AUG_CROP | FPT_AUG_FLIP)

// The draw dataset.h documents for image i of a batch: block draw_base + i
// of (seed, FPT_RNG_AUGMENT, stream = epoch), words ox, oy (each mapped to
// [0, 9) by multiply-shift: floor(w * 9 / 2^32)) and the flip bit (the top
// bit of the third word).  Pinning it keeps the crops of a seed the same
// from one version to the next.
static void expected_draw(uint64_t seed, uint32_t epoch, uint64_t index, int *ox, int *oy,
                          int *flip) {
    fpt_rng r;
    fpt_rng_init(&r, seed, FPT_RNG_AUGMENT, epoch);
    r.index = index;
    *ox = (int)(((uint64_t)fpt_rng_u32(&r) * 9) >> 32);
    *oy = (int)(((uint64_t)fpt_rng_u32(&r) * 9) >> 32);
    *flip = (int)(fpt_rng_u32(&r) >> 31);
}

// Each output image is exactly one of the 9 x 9 x 2 crops/flips of its source.
Test(dataset_batch, augmentation_is_a_crop_and_flip_that_varies) {
    fpt_dataset d;
    load_fixture(&d);
    int idx[N_AUG];
    for (int i = 0; i < N_AUG; i++) idx[i] = (4 * i) % N_TRAIN10;
    float *x = malloc(sizeof(float) * N_AUG * CIFAR_PIXELS);
    int32_t y[N_AUG];
    cr_assert_not_null(x);
    fpt_dataset_batch(&d, &d.train, idx, N_AUG, AUG_BOTH, 42, 3, 1000, x, y);
    int seen[9][9] = {{0}}, flips = 0, distinct = 0;
    for (int i = 0; i < N_AUG; i++) {
        cr_expect_eq(y[i], label10_train(idx[i]));
        int matches = 0, mox = -1, moy = -1, mflip = -1;
        for (int oy = 0; oy <= 8; oy++)
            for (int ox = 0; ox <= 8; ox++)
                for (int f = 0; f < 2; f++)
                    if (crop_flip_err(x + (size_t)i * CIFAR_PIXELS, idx[i], ox, oy, f) <
                        TOL_NORM) {
                        matches++;
                        mox = ox, moy = oy, mflip = f;
                    }
        cr_assert_eq(matches, 1, "image %d matches %d of the 162 crops/flips", i, matches);
        int ox, oy, flip;
        expected_draw(42, 3, 1000 + (uint64_t)i, &ox, &oy, &flip);
        cr_expect(mox == ox && moy == oy && mflip == flip,
                  "image %d: crop (%d, %d) flip %d, the draw says (%d, %d) flip %d", i, mox, moy,
                  mflip, ox, oy, flip);
        if (!seen[moy][mox]++) distinct++;
        flips += mflip;
    }
    // 40 fair draws: P(flips outside [8, 32]) ~ 1e-4, P(< 15 distinct of 81
    // offsets) ~ 1e-6 — and the seed is fixed, so this is deterministic.
    measured("augmentation: %d flips of %d, %d distinct offsets", flips, N_AUG, distinct);
    cr_expect(flips >= 8 && flips <= N_AUG - 8, "%d of %d images flipped", flips, N_AUG);
    cr_expect(distinct >= 15, "only %d distinct crop offsets in %d images", distinct, N_AUG);
    free(x);
    fpt_dataset_free(&d);
}

// Same (seed, epoch, draw_base): same batch; another epoch or seed: another.
// One batch of 40 == a batch of 25 then one of 15 at draw_base + 25; and the
// thread count does not matter.
Test(dataset_batch, augmentation_depends_only_on_seed_epoch_and_draw) {
    fpt_dataset d;
    load_fixture(&d);
    int idx[N_AUG];
    for (int i = 0; i < N_AUG; i++) idx[i] = (7 * i + 2) % N_TRAIN10;
    const size_t n = (size_t)N_AUG * CIFAR_PIXELS;
    float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
    int32_t ya[N_AUG], yb[N_AUG];
    cr_assert(a && b);

    omp_set_num_threads(2);
    fpt_dataset_batch(&d, &d.train, idx, N_AUG, AUG_BOTH, 42, 3, 500, a, ya);
    fpt_dataset_batch(&d, &d.train, idx, N_AUG, AUG_BOTH, 42, 3, 500, b, yb);
    cr_expect_eq(memcmp(a, b, sizeof(float) * n), 0, "same arguments, different batch");

    omp_set_num_threads(1);
    fpt_dataset_batch(&d, &d.train, idx, N_AUG, AUG_BOTH, 42, 3, 500, b, yb);
    cr_expect_eq(memcmp(a, b, sizeof(float) * n), 0, "1 thread differs from 2");
    omp_set_num_threads(2);

    memset(b, 0, sizeof(float) * n);
    fpt_dataset_batch(&d, &d.train, idx, 25, AUG_BOTH, 42, 3, 500, b, yb);
    fpt_dataset_batch(&d, &d.train, idx + 25, N_AUG - 25, AUG_BOTH, 42, 3, 525,
                      b + (size_t)25 * CIFAR_PIXELS, yb + 25);
    cr_expect_eq(memcmp(a, b, sizeof(float) * n), 0, "two batches differ from one");
    cr_expect_eq(memcmp(ya, yb, sizeof ya), 0);

    fpt_dataset_batch(&d, &d.train, idx, N_AUG, AUG_BOTH, 42, 4, 500, b, yb);
    cr_expect_neq(memcmp(a, b, sizeof(float) * n), 0, "epoch 4 repeats epoch 3's crops");
    fpt_dataset_batch(&d, &d.train, idx, N_AUG, AUG_BOTH, 43, 3, 500, b, yb);
    cr_expect_neq(memcmp(a, b, sizeof(float) * n), 0, "seed 43 repeats seed 42's crops");
    fpt_dataset_batch(&d, &d.train, idx, N_AUG, AUG_BOTH, 42, 3, 501, b, yb);
    cr_expect_neq(memcmp(a, b, sizeof(float) * n), 0, "draw_base 501 repeats 500's crops");
    free(a);
    free(b);
    fpt_dataset_free(&d);
}

// ============================================================================
// MNIST-format (IDX) files
// ============================================================================

#define IDX_HW 28
#define IDX_PIXELS 784               // (1, 28, 28)
#define N_TRAIN_IDX 7
#define N_TEST_IDX 4
#define IDX_TRAIN_IMAGES "train-images-idx3-ubyte"
#define IDX_TRAIN_LABELS "train-labels-idx1-ubyte"
#define IDX_TEST_IMAGES "t10k-images-idx3-ubyte"
#define IDX_TEST_LABELS "t10k-labels-idx1-ubyte"

static uint8_t idx_pix_train(int g, int y, int x) { return (uint8_t)(10 + 3 * x + 5 * y + 2 * g); }
static uint8_t idx_pix_test(int j, int y, int x) { return (uint8_t)(250 - 4 * x - 3 * y - j); }

// The first n train images, in [0, 1].  x, y and g are independent and
// uniform on 0..27, 0..27 and 0..n-1, so with u = 10 + 3x + 5y + 2g:
//   mean u = 10 + (3 + 5) * 13.5 + 2 (n - 1) / 2 = 118 + (n - 1)
//   var u  = (3^2 + 5^2) (28^2 - 1) / 12 + 2^2 (n^2 - 1) / 12
static void idx_hand_stats(int n, double *mean, double *std) {
    *mean = (118.0 + (n - 1)) / 255.0;
    *std = sqrt(34.0 * 783.0 / 12.0 + 4.0 * ((double)n * n - 1.0) / 12.0) / 255.0;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

// An images file: magic 0x00000803, then n, 28, 28 (big-endian), then n
// images of the train or test pattern; *len = 16 + 784 n.
static uint8_t *idx_images(int n, int test, size_t *len) {
    *len = 16 + (size_t)n * IDX_PIXELS;
    uint8_t *b = malloc(*len);
    cr_assert_not_null(b);
    put_be32(b, 0x00000803);
    put_be32(b + 4, (uint32_t)n);
    put_be32(b + 8, IDX_HW);
    put_be32(b + 12, IDX_HW);
    for (int g = 0; g < n; g++)
        for (int y = 0; y < IDX_HW; y++)
            for (int x = 0; x < IDX_HW; x++)
                b[16 + (size_t)g * IDX_PIXELS + y * IDX_HW + x] =
                    test ? idx_pix_test(g, y, x) : idx_pix_train(g, y, x);
    return b;
}

// A labels file: magic 0x00000801, n, then n labels; *len = 8 + n.
static uint8_t *idx_labels(int n, int test, size_t *len) {
    *len = 8 + (size_t)n;
    uint8_t *b = malloc(*len);
    cr_assert_not_null(b);
    put_be32(b, 0x00000801);
    put_be32(b + 4, (uint32_t)n);
    for (int g = 0; g < n; g++) b[8 + g] = (uint8_t)(test ? label10_test(g) : label10_train(g));
    return b;
}

// Writes name (gz = 0) or name.gz, compressed by zlib (gz = 1).
static void write_idx(const char *name, const uint8_t *p, size_t n, int gz) {
    if (!gz) {
        write_bytes(name, p, n);
        return;
    }
    char path[256];
    path_of(path, sizeof path, name);
    strcat(path, ".gz");
    gzFile f = gzopen(path, "wb");
    cr_assert_not_null(f, "gzopen %s", path);
    cr_assert_eq(gzwrite(f, p, (unsigned)n), (int)n, "gzwrite %s", path);
    cr_assert_eq(gzclose(f), Z_OK);
}

// The four files of the fixture, each gzipped if bit k of gz_mask is set
// (k = 0 train images, 1 train labels, 2 test images, 3 test labels).
static void write_idx_set(unsigned gz_mask) {
    size_t len;
    uint8_t *b = idx_images(N_TRAIN_IDX, 0, &len);
    write_idx(IDX_TRAIN_IMAGES, b, len, gz_mask & 1);
    free(b);
    b = idx_labels(N_TRAIN_IDX, 0, &len);
    write_idx(IDX_TRAIN_LABELS, b, len, (gz_mask >> 1) & 1);
    free(b);
    b = idx_images(N_TEST_IDX, 1, &len);
    write_idx(IDX_TEST_IMAGES, b, len, (gz_mask >> 2) & 1);
    free(b);
    b = idx_labels(N_TEST_IDX, 1, &len);
    write_idx(IDX_TEST_LABELS, b, len, (gz_mask >> 3) & 1);
    free(b);
}

static fpt_dataset_options idx_opts(fpt_dataset_kind kind) {
    fpt_dataset_options o = {.kind = kind, .path = g_dir};
    return o;
}

// Checks geometry, the first n_train / n_test images and labels of the
// patterns, and the closed-form statistics of the first n_train.
static void expect_idx_dataset(const fpt_dataset *d, fpt_dataset_kind kind, int n_train,
                               int n_test) {
    cr_expect_eq(d->kind, kind);
    cr_expect_eq(d->num_classes, 10);
    cr_expect(d->channels == 1 && d->height == 28 && d->width == 28 && d->image_bytes == 784,
              "geometry (%d, %d, %d), %zu bytes", d->channels, d->height, d->width,
              d->image_bytes);
    cr_assert_eq(d->train.n, n_train);
    cr_assert_eq(d->test.n, n_test);
    for (int s = 0; s < 2; s++) {
        const fpt_split *sp = s ? &d->test : &d->train;
        for (int g = 0; g < sp->n; g++) {
            cr_expect_eq(sp->labels[g], s ? label10_test(g) : label10_train(g),
                         "%s label %d", s ? "test" : "train", g);
            for (int k = 0; k < IDX_PIXELS; k++) {
                const uint8_t want = s ? idx_pix_test(g, k / 28, k % 28)
                                       : idx_pix_train(g, k / 28, k % 28);
                const uint8_t got = sp->pixels[(size_t)g * IDX_PIXELS + k];
                if (got != want)
                    cr_assert_fail("%s image %d pixel (y %d, x %d): %d, expected %d",
                                   s ? "test" : "train", g, k / 28, k % 28, got, want);
            }
        }
    }
    double mean, std;
    idx_hand_stats(n_train, &mean, &std);
    cr_expect(fabs(d->mean[0] - mean) < 1e-6, "mean %.8f, expected %.8f", (double)d->mean[0],
              mean);
    cr_expect(fabs(d->std[0] - std) < 1e-6, "std %.8f, expected %.8f", (double)d->std[0], std);
    for (int c = 1; c < FPT_MAX_CHANNELS; c++)
        cr_expect(d->mean[c] == 0.0f && d->std[c] == 0.0f, "unused channel %d: %g %g", c,
                  (double)d->mean[c], (double)d->std[c]);
}

static void load_idx(fpt_dataset *d, const fpt_dataset_options *o) {
    fpt_err err = {{0}};
    cr_assert_eq(fpt_dataset_load(d, o, &err), 0, "%s", err.msg);
}

Test(dataset_idx, fashion_gzipped_counts_labels_pixels_stats) {
    write_idx_set(0xf);
    fpt_dataset d;
    fpt_dataset_options o = idx_opts(FPT_DATA_FASHION_MNIST);
    load_idx(&d, &o);
    expect_idx_dataset(&d, FPT_DATA_FASHION_MNIST, N_TRAIN_IDX, N_TEST_IDX);
    fpt_dataset_free(&d);
    cr_expect_null(d.train.pixels);
    cr_expect_eq(d.test.n, 0);
}

// Uncompressed files, and a mixture: each file is looked up on its own.
Test(dataset_idx, mnist_plain_and_mixed_files) {
    write_idx_set(0);
    fpt_dataset d;
    fpt_dataset_options o = idx_opts(FPT_DATA_MNIST);
    load_idx(&d, &o);
    expect_idx_dataset(&d, FPT_DATA_MNIST, N_TRAIN_IDX, N_TEST_IDX);
    fpt_dataset_free(&d);

    tmpdir_remove(g_dir);
    make_dir();
    write_idx_set(0x5);   // images gzipped, labels plain
    load_idx(&d, &o);
    expect_idx_dataset(&d, FPT_DATA_MNIST, N_TRAIN_IDX, N_TEST_IDX);
    fpt_dataset_free(&d);
}

// NAME.gz is tried first: a plain NAME next to it (here with other images
// and another count) is not read.
Test(dataset_idx, gz_is_tried_first) {
    write_idx_set(0xf);
    size_t len;
    uint8_t *b = idx_images(3, 1, &len);   // 3 test-pattern images
    write_idx(IDX_TRAIN_IMAGES, b, len, 0);
    free(b);
    fpt_dataset d;
    fpt_dataset_options o = idx_opts(FPT_DATA_FASHION_MNIST);
    load_idx(&d, &o);
    expect_idx_dataset(&d, FPT_DATA_FASHION_MNIST, N_TRAIN_IDX, N_TEST_IDX);
    fpt_dataset_free(&d);
}

// A subset is the prefix, with the statistics of the subset; only the
// images and labels kept are read, so a file cut after them and a bad label
// after them go unnoticed, while the header is still checked.
Test(dataset_idx, subset_is_prefix_and_reads_only_what_it_keeps) {
    write_idx_set(0);
    fpt_dataset d;
    fpt_dataset_options o = idx_opts(FPT_DATA_MNIST);
    o.train_subset = 3;
    o.test_subset = 2;
    load_idx(&d, &o);
    expect_idx_dataset(&d, FPT_DATA_MNIST, 3, 2);
    fpt_dataset_free(&d);

    size_t len;
    uint8_t *b = idx_images(N_TRAIN_IDX, 0, &len);
    write_idx(IDX_TRAIN_IMAGES, b, 16 + 4 * IDX_PIXELS + 100, 0);   // 4.1 of 7 images
    free(b);
    b = idx_labels(N_TEST_IDX, 1, &len);
    b[8 + 3] = 200;   // test record 3
    write_idx(IDX_TEST_LABELS, b, len, 0);
    free(b);
    load_idx(&d, &o);
    expect_idx_dataset(&d, FPT_DATA_MNIST, 3, 2);
    fpt_dataset_free(&d);
}

// ---- malformed IDX data: each error names the file and the problem ------------

// One fixture file replaced: the standard content of `name` (train or test,
// images or labels) passed through `edit`, written plain or gzipped; the
// other files stay as written by write_idx_set(gz ? 0xf : 0).
typedef void (*idx_edit)(uint8_t *b, size_t *len);

static void write_idx_edited(const char *name, int gz, idx_edit edit) {
    write_idx_set(gz ? 0xf : 0);
    const int test = strncmp(name, "t10k", 4) == 0;
    const int images = strstr(name, "images") != NULL;
    const int n = test ? N_TEST_IDX : N_TRAIN_IDX;
    size_t len;
    uint8_t *b = images ? idx_images(n, test, &len) : idx_labels(n, test, &len);
    uint8_t *big = realloc(b, len + 64);   // room for edits that append
    cr_assert_not_null(big);
    edit(big, &len);
    write_idx(name, big, len, gz);
    free(big);
}

// Expects the load of the fixture directory to fail naming dir/name (.gz if
// gz) and every fragment.
static void expect_idx_error(fpt_dataset_kind kind, const char *name, int gz,
                             const char *const *frags) {
    char path[256];
    path_of(path, sizeof path, name);
    if (gz) strcat(path, ".gz");
    const char *all[8] = {path};
    for (int i = 0; i < 6 && frags[i]; i++) all[i + 1] = frags[i];
    fpt_dataset_options o = idx_opts(kind);
    expect_load_error(&o, all);
}

static void cut_half_image(uint8_t *b, size_t *len) { (void)b, *len = 16 + 5 * IDX_PIXELS + 392; }
static void cut_two_labels(uint8_t *b, size_t *len) { (void)b, *len = 8 + 2; }
static void append_byte(uint8_t *b, size_t *len) { b[(*len)++] = 0; }
static void magic_byteswapped(uint8_t *b, size_t *len) { (void)len, put_be32(b, 0x03080000); }
static void magic_float(uint8_t *b, size_t *len) { (void)len, put_be32(b, 0x00000d01); }
static void dims_2(uint8_t *b, size_t *len) { (void)len, put_be32(b, 0x00000802); }
static void dims_3(uint8_t *b, size_t *len) { (void)len, put_be32(b, 0x00000803); }
static void size_32x32(uint8_t *b, size_t *len) {
    (void)len, put_be32(b + 8, 32), put_be32(b + 12, 32);
}
static void count_0(uint8_t *b, size_t *len) { (void)len, put_be32(b + 4, 0); }
static void count_6(uint8_t *b, size_t *len) { put_be32(b + 4, 6), *len = 8 + 6; }
static void count_10001(uint8_t *b, size_t *len) { (void)len, put_be32(b + 4, 10001); }
static void count_60001(uint8_t *b, size_t *len) { (void)len, put_be32(b + 4, 60001); }
static void label_3_is_10(uint8_t *b, size_t *len) { (void)len, b[8 + 3] = 10; }
static void header_6_bytes(uint8_t *b, size_t *len) { (void)b, *len = 6; }

Test(dataset_idx_errors, truncated_image_file) {
    write_idx_edited(IDX_TRAIN_IMAGES, 0, cut_half_image);
    const char *frags[] = {"truncated", "promises 7 images", "holds 5 complete", NULL};
    expect_idx_error(FPT_DATA_MNIST, IDX_TRAIN_IMAGES, 0, frags);
}

Test(dataset_idx_errors, truncated_label_file) {
    write_idx_edited(IDX_TEST_LABELS, 0, cut_two_labels);
    const char *frags[] = {"truncated", "promises 4 labels", "holds 2 complete", NULL};
    expect_idx_error(FPT_DATA_MNIST, IDX_TEST_LABELS, 0, frags);
}

// A gzip file cut off: zlib's "unexpected end of file", and how many images
// it still gave.
Test(dataset_idx_errors, truncated_gzip_file) {
    write_idx_set(0xf);
    char path[256];
    path_of(path, sizeof path, IDX_TRAIN_IMAGES ".gz");
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(truncate(path, st.st_size / 2), 0);
    const char *frags[] = {"truncated", "unexpected end of file", "complete images of the 7",
                           NULL};
    expect_idx_error(FPT_DATA_FASHION_MNIST, IDX_TRAIN_IMAGES, 1, frags);
}

// A flipped bit in the gzip trailer's CRC-32 (the last 8 bytes are CRC-32,
// then the length): the data inflate, and zlib's check fails.
Test(dataset_idx_errors, gzip_crc_mismatch) {
    write_idx_set(0xf);
    char path[256];
    path_of(path, sizeof path, IDX_TEST_LABELS ".gz");
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, -8, SEEK_END), 0);
    const int c = fgetc(f);
    cr_assert_eq(fseek(f, -8, SEEK_END), 0);
    fputc(c ^ 1, f);
    cr_assert_eq(fclose(f), 0);
    const char *frags[] = {"incorrect data check", "corrupt", NULL};
    expect_idx_error(FPT_DATA_FASHION_MNIST, IDX_TEST_LABELS, 1, frags);
}

Test(dataset_idx_errors, trailing_bytes) {
    write_idx_edited(IDX_TRAIN_IMAGES, 0, append_byte);
    const char *frags[] = {"trailing data", "beyond the 7 images", NULL};
    expect_idx_error(FPT_DATA_MNIST, IDX_TRAIN_IMAGES, 0, frags);
}

Test(dataset_idx_errors, trailing_bytes_gzipped_labels) {
    write_idx_edited(IDX_TRAIN_LABELS, 1, append_byte);
    const char *frags[] = {"trailing data", "beyond the 7 labels", NULL};
    expect_idx_error(FPT_DATA_FASHION_MNIST, IDX_TRAIN_LABELS, 1, frags);
}

Test(dataset_idx_errors, wrong_magic_images) {
    write_idx_edited(IDX_TEST_IMAGES, 0, magic_byteswapped);
    const char *frags[] = {"wrong magic 0x03080000", "expected 0x00000803", NULL};
    expect_idx_error(FPT_DATA_MNIST, IDX_TEST_IMAGES, 0, frags);
}

Test(dataset_idx_errors, wrong_magic_labels) {
    write_idx_edited(IDX_TRAIN_LABELS, 1, magic_float);
    const char *frags[] = {"wrong magic 0x00000d01", "expected 0x00000801", NULL};
    expect_idx_error(FPT_DATA_FASHION_MNIST, IDX_TRAIN_LABELS, 1, frags);
}

Test(dataset_idx_errors, wrong_dimensions) {
    write_idx_edited(IDX_TRAIN_IMAGES, 0, dims_2);
    const char *frags[] = {"2 dimensions (magic 0x00000802), expected 3", NULL};
    expect_idx_error(FPT_DATA_MNIST, IDX_TRAIN_IMAGES, 0, frags);
    tmpdir_remove(g_dir);
    make_dir();
    write_idx_edited(IDX_TEST_LABELS, 0, dims_3);
    const char *frags2[] = {"3 dimensions (magic 0x00000803), expected 1", NULL};
    expect_idx_error(FPT_DATA_MNIST, IDX_TEST_LABELS, 0, frags2);
}

Test(dataset_idx_errors, image_size_not_28x28) {
    write_idx_edited(IDX_TRAIN_IMAGES, 1, size_32x32);
    const char *frags[] = {"images of 32x32 pixels, expected 28x28", NULL};
    expect_idx_error(FPT_DATA_FASHION_MNIST, IDX_TRAIN_IMAGES, 1, frags);
}

Test(dataset_idx_errors, count_zero) {
    write_idx_edited(IDX_TEST_IMAGES, 0, count_0);
    const char *frags[] = {"header count 0", NULL};
    expect_idx_error(FPT_DATA_MNIST, IDX_TEST_IMAGES, 0, frags);
}

// Checked on the header alone, subset or not: the file need not hold them.
Test(dataset_idx_errors, count_above_official) {
    write_idx_edited(IDX_TEST_IMAGES, 0, count_10001);
    const char *frags[] = {"header count 10001 images", "more than the official 10000", NULL};
    expect_idx_error(FPT_DATA_MNIST, IDX_TEST_IMAGES, 0, frags);
    tmpdir_remove(g_dir);
    make_dir();
    write_idx_edited(IDX_TRAIN_LABELS, 1, count_60001);
    char path[256];
    path_of(path, sizeof path, IDX_TRAIN_LABELS ".gz");
    fpt_dataset_options o = idx_opts(FPT_DATA_FASHION_MNIST);
    o.train_subset = 2;
    const char *frags2[] = {path, "header count 60001 labels", "more than the official 60000",
                            NULL};
    expect_load_error(&o, frags2);
}

Test(dataset_idx_errors, image_and_label_counts_differ) {
    write_idx_edited(IDX_TRAIN_LABELS, 0, count_6);
    char images[256];
    path_of(images, sizeof images, IDX_TRAIN_IMAGES);
    const char *frags[] = {images, "holds 7 images", "holds 6 labels", NULL};
    expect_idx_error(FPT_DATA_MNIST, IDX_TRAIN_LABELS, 0, frags);
}

Test(dataset_idx_errors, label_out_of_range) {
    write_idx_edited(IDX_TEST_LABELS, 1, label_3_is_10);
    const char *frags[] = {"record 3 has label 10", "expected 0..9", NULL};
    expect_idx_error(FPT_DATA_FASHION_MNIST, IDX_TEST_LABELS, 1, frags);
}

Test(dataset_idx_errors, truncated_header) {
    write_idx_edited(IDX_TRAIN_IMAGES, 0, header_6_bytes);
    const char *frags[] = {"truncated header", NULL};
    expect_idx_error(FPT_DATA_MNIST, IDX_TRAIN_IMAGES, 0, frags);
}

// A .gz name on data that is not gzip (here plain text) is refused as such,
// not read through as if uncompressed.
Test(dataset_idx_errors, gz_name_not_gzip) {
    write_idx_set(0xf);
    write_bytes(IDX_TEST_IMAGES ".gz", (const uint8_t *)"<html>Not Found</html>\n", 23);
    const char *frags[] = {"not a gzip file", NULL};
    expect_idx_error(FPT_DATA_FASHION_MNIST, IDX_TEST_IMAGES, 1, frags);
}

Test(dataset_idx_errors, missing_file) {
    write_idx_set(0);
    char path[256];
    path_of(path, sizeof path, IDX_TEST_LABELS);
    cr_assert_eq(unlink(path), 0);
    const char *frags[] = {path, "cannot open", "no such file, gzipped (.gz) or not",
                           "t10k-labels-idx1-ubyte, each gzipped or not", "data_path", NULL};
    fpt_dataset_options o = idx_opts(FPT_DATA_MNIST);
    expect_load_error(&o, frags);
}

Test(dataset_idx_errors, directory_in_place_of_a_file) {
    write_idx_set(0);
    make_subdir(IDX_TRAIN_LABELS ".gz");
    const char *frags[] = {"not a regular file", NULL};
    expect_idx_error(FPT_DATA_MNIST, IDX_TRAIN_LABELS, 1, frags);
}

Test(dataset_idx_errors, subset_too_large) {
    write_idx_set(0xf);
    fpt_dataset_options o = idx_opts(FPT_DATA_FASHION_MNIST);
    o.test_subset = 5;
    char path[256];
    path_of(path, sizeof path, IDX_TEST_IMAGES ".gz");
    const char *frags[] = {path, "holds 4 test images, fewer than the 5", "test_subset", NULL};
    expect_load_error(&o, frags);
}

Test(dataset_idx_errors, no_or_bad_directory) {
    fpt_dataset_options o = {.kind = FPT_DATA_MNIST};
    const char *frags[] = {"MNIST: no data path given", "data_path", "train-images-idx3-ubyte",
                           NULL};
    expect_load_error(&o, frags);
    o.path = "";
    expect_load_error(&o, frags);

    char path[256];
    path_of(path, sizeof path, "no-such-dir");
    o = idx_opts(FPT_DATA_FASHION_MNIST);
    o.path = path;
    const char *frags2[] = {"Fashion-MNIST directory", path, "No such file", "data_path", NULL};
    expect_load_error(&o, frags2);
}

// ---- batches of 28x28 single-channel images ------------------------------------------

static void load_idx_fixture(fpt_dataset *d) {
    write_idx_set(0xf);
    fpt_dataset_options o = idx_opts(FPT_DATA_FASHION_MNIST);
    load_idx(d, &o);
}

static double idx_norm_hand(int u) {
    double mean, std;
    idx_hand_stats(N_TRAIN_IDX, &mean, &std);
    return (u / 255.0 - mean) / std;
}

Test(dataset_batch, idx_no_augmentation_exact_values) {
    fpt_dataset d;
    load_idx_fixture(&d);
    const int idx[] = {6, 0, 3};
    float x[3 * IDX_PIXELS];
    int32_t y[3];
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = NAN;
    fpt_dataset_batch(&d, &d.train, idx, 3, 0, 1, 1, 0, x, y);
    double worst = 0.0;
    for (int b = 0; b < 3; b++) {
        cr_expect_eq(y[b], label10_train(idx[b]));
        for (int k = 0; k < IDX_PIXELS; k++) {
            const double e = fabs(x[b * IDX_PIXELS + k] -
                                  idx_norm_hand(idx_pix_train(idx[b], k / 28, k % 28)));
            if (!(e <= worst)) worst = e;
        }
    }
    cr_expect(worst < TOL_NORM, "max |x - want| = %.3g", worst);
    const int tidx[] = {2};
    fpt_dataset_batch(&d, &d.test, tidx, 1, 0, 1, 1, 0, x, NULL);
    worst = 0.0;
    for (int k = 0; k < IDX_PIXELS; k++) {
        const double e = fabs(x[k] - idx_norm_hand(idx_pix_test(2, k / 28, k % 28)));
        if (!(e <= worst)) worst = e;
    }
    cr_expect(worst < TOL_NORM, "test split: max |x - want| = %.3g", worst);
    fpt_dataset_free(&d);
}

// RandomCrop(28, padding=4) + RandomHorizontalFlip written out for the
// 28x28 ramp: max |got - that|.
static double idx_crop_flip_err(const float *got, int g, int ox, int oy, int flip) {
    double err = 0.0;
    for (int yy = 0; yy < 28; yy++)
        for (int xx = 0; xx < 28; xx++) {
            const int wx = flip ? 27 - xx : xx;
            const int py = yy + oy, px = wx + ox;   // in the 36x36 padded image
            const int inside = py >= 4 && py < 32 && px >= 4 && px < 32;
            const int u = inside ? idx_pix_train(g, py - 4, px - 4) : 0;
            const double e = fabs(got[yy * 28 + xx] - idx_norm_hand(u));
            if (!(e <= err)) err = e;
            if (err > 0.1) return err;
        }
    return err;
}

// Each image is the one crop/flip of the 9 x 9 x 2 that its draw names; with
// CROP alone it is never mirrored, with FLIP alone never moved, and the
// draws are those of CROP|FLIP.
Test(dataset_batch, idx_crop_and_flip_flags) {
    fpt_dataset d;
    load_idx_fixture(&d);
    int idx[N_AUG];
    for (int i = 0; i < N_AUG; i++) idx[i] = (3 * i) % N_TRAIN_IDX;
    float *x = malloc(sizeof(float) * N_AUG * IDX_PIXELS);
    int32_t y[N_AUG];
    cr_assert_not_null(x);
    const unsigned flags[3] = {AUG_BOTH, FPT_AUG_CROP, FPT_AUG_FLIP};
    for (int f = 0; f < 3; f++) {
        fpt_dataset_batch(&d, &d.train, idx, N_AUG, flags[f], 9, 2, 70, x, y);
        int flips = 0, moved = 0;
        for (int i = 0; i < N_AUG; i++) {
            cr_expect_eq(y[i], label10_train(idx[i]));
            int ox, oy, flip;
            expected_draw(9, 2, 70 + (uint64_t)i, &ox, &oy, &flip);
            if (!(flags[f] & FPT_AUG_CROP)) ox = oy = 4;
            if (!(flags[f] & FPT_AUG_FLIP)) flip = 0;
            int matches = 0, mox = -1, moy = -1, mflip = -1;
            for (int ty = 0; ty <= 8; ty++)
                for (int tx = 0; tx <= 8; tx++)
                    for (int tf = 0; tf < 2; tf++)
                        if (idx_crop_flip_err(x + (size_t)i * IDX_PIXELS, idx[i], tx, ty, tf) <
                            TOL_NORM)
                            matches++, mox = tx, moy = ty, mflip = tf;
            cr_assert_eq(matches, 1, "flags %u image %d matches %d of the 162 crops/flips",
                         flags[f], i, matches);
            cr_expect(mox == ox && moy == oy && mflip == flip,
                      "flags %u image %d: crop (%d, %d) flip %d, expected (%d, %d) flip %d",
                      flags[f], i, mox, moy, mflip, ox, oy, flip);
            flips += mflip;
            moved += mox != 4 || moy != 4;
        }
        measured("idx augmentation flags %u: %d flips, %d moved of %d", flags[f], flips, moved,
                 N_AUG);
        // Fair draws: with a flag on, its effect shows in well over a few of 40.
        if (flags[f] & FPT_AUG_FLIP) cr_expect(flips >= 8 && flips <= N_AUG - 8, "%d flips", flips);
        if (flags[f] & FPT_AUG_CROP) cr_expect(moved >= 30, "%d of %d moved", moved, N_AUG);
    }
    free(x);
    fpt_dataset_free(&d);
}

// ============================================================================
// synthetic
// ============================================================================

static fpt_dataset_options synth_opts(uint64_t seed, int n_train, int n_test, float noise) {
    fpt_dataset_options o = {.kind = FPT_DATA_SYNTHETIC, .seed = seed, .synth_train = n_train,
                             .synth_test = n_test, .synth_label_noise = noise};
    return o;
}

static void synth_load(fpt_dataset *d, const fpt_dataset_options *o) {
    fpt_err err = {{0}};
    cr_assert_eq(fpt_dataset_load(d, o, &err), 0, "%s", err.msg);
    cr_assert_eq(d->kind, FPT_DATA_SYNTHETIC);
    cr_assert_eq(d->num_classes, 10);
}

static size_t bytes_differing(const uint8_t *a, const uint8_t *b, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += a[i] != b[i];
    return k;
}

Test(dataset_synthetic, same_seed_same_bytes_other_seed_other_bytes) {
    fpt_dataset a, b, c;
    fpt_dataset_options o = synth_opts(7, 300, 100, 0.2f);
    synth_load(&a, &o);
    synth_load(&b, &o);
    cr_assert_eq(a.train.n, 300);
    cr_assert_eq(a.test.n, 100);
    cr_expect_eq(memcmp(a.train.pixels, b.train.pixels, (size_t)300 * CIFAR_PIXELS), 0);
    cr_expect_eq(memcmp(a.test.pixels, b.test.pixels, (size_t)100 * CIFAR_PIXELS), 0);
    cr_expect_eq(memcmp(a.train.labels, b.train.labels, 300 * sizeof(int32_t)), 0);
    cr_expect_eq(memcmp(a.test.labels, b.test.labels, 100 * sizeof(int32_t)), 0);
    cr_expect_eq(memcmp(a.mean, b.mean, sizeof a.mean), 0);
    cr_expect_eq(memcmp(a.std, b.std, sizeof a.std), 0);
    // The train and test splits are different images.
    cr_expect_gt(bytes_differing(a.train.pixels, a.test.pixels, (size_t)100 * CIFAR_PIXELS),
                 100 * CIFAR_PIXELS / 2);

    o.seed = 8;
    synth_load(&c, &o);
    const size_t diff = bytes_differing(a.train.pixels, c.train.pixels, (size_t)300 * CIFAR_PIXELS);
    cr_expect_gt(diff, (size_t)300 * CIFAR_PIXELS / 2, "seed 8: only %zu bytes differ", diff);
    int same_labels = 0;
    for (int i = 0; i < 300; i++) same_labels += a.train.labels[i] == c.train.labels[i];
    cr_expect_lt(same_labels, 60, "seed 8: %d of 300 labels equal (chance: 30)", same_labels);
    fpt_dataset_free(&a);
    fpt_dataset_free(&b);
    fpt_dataset_free(&c);
}

// Same seed, noise 0 vs p: the images are the same and a fraction p * 9/10 of
// the labels differ (a replaced label keeps its class with probability 1/10),
// in both splits, within 4 standard errors.  p = 0.8 puts "replace by another
// class" (0.8 changed) 8 and 5.6 standard errors away from the right 0.72.
// The clean labels are in range
// and uniform over the 10 classes: each count within 5 SD of n/10.
Test(dataset_synthetic, label_noise_fraction_and_class_balance) {
    const float p = 0.8f;
    const int n_train = 2000, n_test = 1000;
    fpt_dataset clean, noisy;
    fpt_dataset_options o = synth_opts(11, n_train, n_test, 0.0f);
    synth_load(&clean, &o);
    o.synth_label_noise = p;
    synth_load(&noisy, &o);
    cr_expect_eq(memcmp(clean.train.pixels, noisy.train.pixels, (size_t)n_train * CIFAR_PIXELS), 0,
                 "label noise changed the training images");
    cr_expect_eq(memcmp(clean.test.pixels, noisy.test.pixels, (size_t)n_test * CIFAR_PIXELS), 0,
                 "label noise changed the test images");
    const double q = p * 0.9;
    const fpt_split *cs[2] = {&clean.train, &clean.test}, *ns[2] = {&noisy.train, &noisy.test};
    for (int s = 0; s < 2; s++) {
        const int n = cs[s]->n;
        int changed = 0, count[10] = {0};
        for (int i = 0; i < n; i++) {
            cr_assert(cs[s]->labels[i] >= 0 && cs[s]->labels[i] < 10, "label %d", cs[s]->labels[i]);
            cr_assert(ns[s]->labels[i] >= 0 && ns[s]->labels[i] < 10, "label %d", ns[s]->labels[i]);
            changed += cs[s]->labels[i] != ns[s]->labels[i];
            count[cs[s]->labels[i]]++;
        }
        const double frac = (double)changed / n, se = sqrt(q * (1 - q) / n);
        measured("label noise %s: %.4f changed, expected %.4f +- %.4f", s ? "test" : "train",
                 frac, q, se);
        cr_expect(fabs(frac - q) < 4 * se, "%s: %.4f of labels changed, expected %.4f +- 4 * %.4f",
                  s ? "test" : "train", frac, q, se);
        const double sd = sqrt(n * 0.1 * 0.9);
        for (int k = 0; k < 10; k++)
            cr_expect(fabs(count[k] - 0.1 * n) < 5 * sd, "%s: class %d has %d of %d",
                      s ? "test" : "train", k, count[k], n);
    }
    fpt_dataset_free(&clean);
    fpt_dataset_free(&noisy);
}

// The images carry their class: a nearest-class-mean classifier fitted on
// the training split beats chance (10%) on the test split by a wide margin.
// (Mislabelled or class-independent images would give ~10%.)  Measured 0.93
// with the shipped difficulty knobs; a retuning that makes the classes
// harder to tell apart by their mean images may need a lower bound here.
#define SYNTH_NCM_MIN_ACC 0.4
Test(dataset_synthetic, images_carry_their_class) {
    fpt_dataset d;
    fpt_dataset_options o = synth_opts(5, 1000, 300, 0.0f);
    synth_load(&d, &o);
    double *mean = calloc((size_t)10 * CIFAR_PIXELS, sizeof(double));
    int count[10] = {0};
    cr_assert_not_null(mean);
    for (int i = 0; i < d.train.n; i++) {
        const int k = d.train.labels[i];
        count[k]++;
        for (int j = 0; j < CIFAR_PIXELS; j++)
            mean[(size_t)k * CIFAR_PIXELS + j] += d.train.pixels[(size_t)i * CIFAR_PIXELS + j];
    }
    for (int k = 0; k < 10; k++)
        for (int j = 0; j < CIFAR_PIXELS; j++) mean[(size_t)k * CIFAR_PIXELS + j] /= count[k];
    int hits = 0;
    for (int i = 0; i < d.test.n; i++) {
        int best = -1;
        double best_d = INFINITY;
        for (int k = 0; k < 10; k++) {
            double s = 0.0;
            for (int j = 0; j < CIFAR_PIXELS; j++) {
                const double e = d.test.pixels[(size_t)i * CIFAR_PIXELS + j] -
                                 mean[(size_t)k * CIFAR_PIXELS + j];
                s += e * e;
            }
            if (s < best_d) best_d = s, best = k;
        }
        hits += best == d.test.labels[i];
    }
    const double acc = (double)hits / d.test.n;
    measured("synthetic nearest-class-mean test accuracy %.3f", acc);
    cr_expect(acc > SYNTH_NCM_MIN_ACC, "nearest-class-mean accuracy %.3f", acc);
    free(mean);
    fpt_dataset_free(&d);
}

// A subset is the prefix of the full split; sizes default to 5000 / 1000.
Test(dataset_synthetic, subset_is_prefix_and_defaults) {
    fpt_dataset full, sub;
    fpt_dataset_options o = synth_opts(9, 300, 100, 0.1f);
    synth_load(&full, &o);
    o.train_subset = 120;
    o.test_subset = 30;
    synth_load(&sub, &o);
    cr_assert_eq(sub.train.n, 120);
    cr_assert_eq(sub.test.n, 30);
    cr_expect_eq(memcmp(full.train.pixels, sub.train.pixels, (size_t)120 * CIFAR_PIXELS), 0);
    cr_expect_eq(memcmp(full.test.pixels, sub.test.pixels, (size_t)30 * CIFAR_PIXELS), 0);
    cr_expect_eq(memcmp(full.train.labels, sub.train.labels, 120 * sizeof(int32_t)), 0);
    cr_expect_eq(memcmp(full.test.labels, sub.test.labels, 30 * sizeof(int32_t)), 0);
    fpt_dataset_free(&full);
    fpt_dataset_free(&sub);

    fpt_dataset d;
    o = synth_opts(9, 0, 0, 0.0f);
    synth_load(&d, &o);
    cr_expect_eq(d.train.n, 5000);
    cr_expect_eq(d.test.n, 1000);
    fpt_dataset_free(&d);
}

// mean/std against a two-pass computation in double over the generated pixels.
Test(dataset_synthetic, normalisation_matches_two_pass_stats) {
    fpt_dataset d;
    fpt_dataset_options o = synth_opts(4, 400, 50, 0.0f);
    synth_load(&d, &o);
    for (int c = 0; c < 3; c++) {
        double s = 0.0, v = 0.0;
        const double n = (double)d.train.n * PLANE;
        for (int i = 0; i < d.train.n; i++)
            for (int k = 0; k < PLANE; k++)
                s += d.train.pixels[(size_t)i * CIFAR_PIXELS + c * PLANE + k] / 255.0;
        const double m = s / n;
        for (int i = 0; i < d.train.n; i++)
            for (int k = 0; k < PLANE; k++) {
                const double e = d.train.pixels[(size_t)i * CIFAR_PIXELS + c * PLANE + k] / 255.0 - m;
                v += e * e;
            }
        const double sd = sqrt(v / n);
        cr_expect(fabs(d.mean[c] - m) < 1e-6, "mean[%d] %.7f vs %.7f", c, (double)d.mean[c], m);
        cr_expect(fabs(d.std[c] - sd) < 1e-6, "std[%d] %.7f vs %.7f", c, (double)d.std[c], sd);
        // Pixels spread over the byte range rather than collapsing or clamping.
        cr_expect(sd > 0.08 && sd < 0.3, "std[%d] = %.3f", c, sd);
    }
    fpt_dataset_free(&d);
}

Test(dataset_synthetic, bad_options_rejected) {
    const struct {
        float noise;
        int n_train, subset;
        const char *frag;
    } cases[] = {
        {0.95f, 100, 0, "synth_label_noise 0.95 is outside [0, 0.9]"},
        {-0.01f, 100, 0, "synth_label_noise -0.01 is outside"},
        {NAN, 100, 0, "synth_label_noise nan is outside"},
        {0.1f, -5, 0, "synth_train -5"},
        {0.1f, 100, 101, "train_subset 101 exceeds its 100 training images"},
        {0.1f, 100, -1, "train_subset -1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fpt_dataset d;
        fpt_err err = {{0}};
        fpt_dataset_options o = synth_opts(1, cases[i].n_train, 10, cases[i].noise);
        o.train_subset = cases[i].subset;
        cr_expect_eq(fpt_dataset_load(&d, &o, &err), -1, "case %zu accepted", i);
        cr_expect_not_null(strstr(err.msg, cases[i].frag), "case %zu: '%s' lacks '%s'", i,
                           err.msg, cases[i].frag);
        cr_expect_null(d.train.pixels);
    }
    // The boundary values are accepted.
    fpt_dataset d;
    fpt_err err = {{0}};
    fpt_dataset_options o = synth_opts(1, 20, 10, 0.9f);
    cr_expect_eq(fpt_dataset_load(&d, &o, &err), 0, "%s", err.msg);
    fpt_dataset_free(&d);
}

// ============================================================================
// the real Fashion-MNIST (Debian's dataset-fashion-mnist)
// ============================================================================

// Published facts of Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, and its
// README): 60000 training and 10000 test images of 28x28, 10 classes of
// exactly 6000 / 1000 images each; the per-pixel mean and std of the
// training images scaled to [0, 1], 0.2860 and 0.3530, are the values
// quoted for its normalisation.  The first and last training labels, 9 0 0
// and 3 0 5, are those printed by TensorFlow's "Basic classification"
// tutorial.  A missing package is a failure, not a skip: the data set is a
// declared dependency (deploy/install-deps.sh).
Test(dataset_fashion_mnist, debian_package_matches_published_statistics) {
    fpt_dataset d;
    fpt_err err = {{0}};
    fpt_dataset_options o = {.kind = FPT_DATA_FASHION_MNIST};   // path NULL: the default
    if (fpt_dataset_load(&d, &o, &err) != 0)
        cr_assert_fail("Fashion-MNIST not loadable from %s: install the Debian package "
                       "dataset-fashion-mnist (deploy/install-deps.sh): %s",
                       FPT_FASHION_MNIST_DIR, err.msg);
    cr_expect(d.channels == 1 && d.height == 28 && d.width == 28 && d.image_bytes == 784,
              "geometry (%d, %d, %d)", d.channels, d.height, d.width);
    cr_expect_eq(d.num_classes, 10);
    cr_assert_eq(d.train.n, 60000);
    cr_assert_eq(d.test.n, 10000);
    int train[10] = {0}, test[10] = {0};
    for (int i = 0; i < d.train.n; i++) train[d.train.labels[i]]++;
    for (int i = 0; i < d.test.n; i++) test[d.test.labels[i]]++;
    for (int k = 0; k < 10; k++) {
        cr_expect_eq(train[k], 6000, "class %d: %d training images", k, train[k]);
        cr_expect_eq(test[k], 1000, "class %d: %d test images", k, test[k]);
    }
    const int first[3] = {9, 0, 0}, last[3] = {3, 0, 5};
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(d.train.labels[i], first[i], "train label %d", i);
        cr_expect_eq(d.train.labels[59997 + i], last[i], "train label %d", 59997 + i);
    }
    measured("Fashion-MNIST train mean %.5f std %.5f", (double)d.mean[0], (double)d.std[0]);
    cr_expect(fabs(d.mean[0] - 0.2860) < 5e-4, "mean %.5f, published 0.2860", (double)d.mean[0]);
    cr_expect(fabs(d.std[0] - 0.3530) < 5e-4, "std %.5f, published 0.3530", (double)d.std[0]);
    fpt_dataset_free(&d);
}
