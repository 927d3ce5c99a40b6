// test_dataset.c — datasets: CIFAR-10/100 files written here in the official
// binary format (records of label byte(s) + 3072 pixel bytes, R then G then
// B planes, row-major) and loaded back; every malformed-file error; batch
// assembly against normalised values and crops/flips computed here; and the
// synthetic dataset's determinism, label noise and class balance.
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
// Every test works in its own mkdtemp directory, removed by the fixture.
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "dataset.h"
#include "tmpdir.h"

#define REC10 (1 + FPT_IMG_PIXELS)   // 3073 bytes
#define REC100 (2 + FPT_IMG_PIXELS)  // 3074 bytes
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
TestSuite(dataset_synthetic);

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
    const size_t rec = (size_t)label_bytes + FPT_IMG_PIXELS;
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
                    const uint8_t got = s->pixels[(size_t)g * FPT_IMG_PIXELS + c * PLANE + y * 32 + x];
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
    float x[4 * FPT_IMG_PIXELS];
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
                    const double e = fabs(x[b * FPT_IMG_PIXELS + c * PLANE + yy * 32 + xx] - want);
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
                const double e = fabs(x[b * FPT_IMG_PIXELS + c * PLANE + k] - want);
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

// Each output image is exactly one of the 9 x 9 x 2 crops/flips of its source.
Test(dataset_batch, augmentation_is_a_crop_and_flip_that_varies) {
    fpt_dataset d;
    load_fixture(&d);
    int idx[N_AUG];
    for (int i = 0; i < N_AUG; i++) idx[i] = (4 * i) % N_TRAIN10;
    float *x = malloc(sizeof(float) * N_AUG * FPT_IMG_PIXELS);
    int32_t y[N_AUG];
    cr_assert_not_null(x);
    fpt_dataset_batch(&d, &d.train, idx, N_AUG, 1, 42, 3, 1000, x, y);
    int seen[9][9] = {{0}}, flips = 0, distinct = 0;
    for (int i = 0; i < N_AUG; i++) {
        cr_expect_eq(y[i], label10_train(idx[i]));
        int matches = 0, mox = -1, moy = -1, mflip = -1;
        for (int oy = 0; oy <= 8; oy++)
            for (int ox = 0; ox <= 8; ox++)
                for (int f = 0; f < 2; f++)
                    if (crop_flip_err(x + (size_t)i * FPT_IMG_PIXELS, idx[i], ox, oy, f) <
                        TOL_NORM) {
                        matches++;
                        mox = ox, moy = oy, mflip = f;
                    }
        cr_assert_eq(matches, 1, "image %d matches %d of the 162 crops/flips", i, matches);
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
    const size_t n = (size_t)N_AUG * FPT_IMG_PIXELS;
    float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
    int32_t ya[N_AUG], yb[N_AUG];
    cr_assert(a && b);

    omp_set_num_threads(2);
    fpt_dataset_batch(&d, &d.train, idx, N_AUG, 1, 42, 3, 500, a, ya);
    fpt_dataset_batch(&d, &d.train, idx, N_AUG, 1, 42, 3, 500, b, yb);
    cr_expect_eq(memcmp(a, b, sizeof(float) * n), 0, "same arguments, different batch");

    omp_set_num_threads(1);
    fpt_dataset_batch(&d, &d.train, idx, N_AUG, 1, 42, 3, 500, b, yb);
    cr_expect_eq(memcmp(a, b, sizeof(float) * n), 0, "1 thread differs from 2");
    omp_set_num_threads(2);

    memset(b, 0, sizeof(float) * n);
    fpt_dataset_batch(&d, &d.train, idx, 25, 1, 42, 3, 500, b, yb);
    fpt_dataset_batch(&d, &d.train, idx + 25, N_AUG - 25, 1, 42, 3, 525,
                      b + (size_t)25 * FPT_IMG_PIXELS, yb + 25);
    cr_expect_eq(memcmp(a, b, sizeof(float) * n), 0, "two batches differ from one");
    cr_expect_eq(memcmp(ya, yb, sizeof ya), 0);

    fpt_dataset_batch(&d, &d.train, idx, N_AUG, 1, 42, 4, 500, b, yb);
    cr_expect_neq(memcmp(a, b, sizeof(float) * n), 0, "epoch 4 repeats epoch 3's crops");
    fpt_dataset_batch(&d, &d.train, idx, N_AUG, 1, 43, 3, 500, b, yb);
    cr_expect_neq(memcmp(a, b, sizeof(float) * n), 0, "seed 43 repeats seed 42's crops");
    fpt_dataset_batch(&d, &d.train, idx, N_AUG, 1, 42, 3, 501, b, yb);
    cr_expect_neq(memcmp(a, b, sizeof(float) * n), 0, "draw_base 501 repeats 500's crops");
    free(a);
    free(b);
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
    cr_expect_eq(memcmp(a.train.pixels, b.train.pixels, (size_t)300 * FPT_IMG_PIXELS), 0);
    cr_expect_eq(memcmp(a.test.pixels, b.test.pixels, (size_t)100 * FPT_IMG_PIXELS), 0);
    cr_expect_eq(memcmp(a.train.labels, b.train.labels, 300 * sizeof(int32_t)), 0);
    cr_expect_eq(memcmp(a.test.labels, b.test.labels, 100 * sizeof(int32_t)), 0);
    cr_expect_eq(memcmp(a.mean, b.mean, sizeof a.mean), 0);
    cr_expect_eq(memcmp(a.std, b.std, sizeof a.std), 0);
    // The train and test splits are different images.
    cr_expect_gt(bytes_differing(a.train.pixels, a.test.pixels, (size_t)100 * FPT_IMG_PIXELS),
                 100 * FPT_IMG_PIXELS / 2);

    o.seed = 8;
    synth_load(&c, &o);
    const size_t diff = bytes_differing(a.train.pixels, c.train.pixels, (size_t)300 * FPT_IMG_PIXELS);
    cr_expect_gt(diff, (size_t)300 * FPT_IMG_PIXELS / 2, "seed 8: only %zu bytes differ", diff);
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
    cr_expect_eq(memcmp(clean.train.pixels, noisy.train.pixels, (size_t)n_train * FPT_IMG_PIXELS), 0,
                 "label noise changed the training images");
    cr_expect_eq(memcmp(clean.test.pixels, noisy.test.pixels, (size_t)n_test * FPT_IMG_PIXELS), 0,
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
    double *mean = calloc((size_t)10 * FPT_IMG_PIXELS, sizeof(double));
    int count[10] = {0};
    cr_assert_not_null(mean);
    for (int i = 0; i < d.train.n; i++) {
        const int k = d.train.labels[i];
        count[k]++;
        for (int j = 0; j < FPT_IMG_PIXELS; j++)
            mean[(size_t)k * FPT_IMG_PIXELS + j] += d.train.pixels[(size_t)i * FPT_IMG_PIXELS + j];
    }
    for (int k = 0; k < 10; k++)
        for (int j = 0; j < FPT_IMG_PIXELS; j++) mean[(size_t)k * FPT_IMG_PIXELS + j] /= count[k];
    int hits = 0;
    for (int i = 0; i < d.test.n; i++) {
        int best = -1;
        double best_d = INFINITY;
        for (int k = 0; k < 10; k++) {
            double s = 0.0;
            for (int j = 0; j < FPT_IMG_PIXELS; j++) {
                const double e = d.test.pixels[(size_t)i * FPT_IMG_PIXELS + j] -
                                 mean[(size_t)k * FPT_IMG_PIXELS + j];
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
    cr_expect_eq(memcmp(full.train.pixels, sub.train.pixels, (size_t)120 * FPT_IMG_PIXELS), 0);
    cr_expect_eq(memcmp(full.test.pixels, sub.test.pixels, (size_t)30 * FPT_IMG_PIXELS), 0);
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
                s += d.train.pixels[(size_t)i * FPT_IMG_PIXELS + c * PLANE + k] / 255.0;
        const double m = s / n;
        for (int i = 0; i < d.train.n; i++)
            for (int k = 0; k < PLANE; k++) {
                const double e = d.train.pixels[(size_t)i * FPT_IMG_PIXELS + c * PLANE + k] / 255.0 - m;
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
