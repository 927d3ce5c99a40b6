// fuzz_idx.c — libFuzzer harness for the MNIST-format (IDX) loader
// (fpt_dataset_load for Fashion-MNIST and MNIST, common/data/idx.c) on files
// written from the input, gzipped or not.
//
// Input layout (little-endian):
//   byte 0      flags: bit 0 = MNIST (else Fashion-MNIST); bit 1 = give the
//               loader a regular file as its directory; bit 2 = no path,
//               NULL (bit 3 clear) or "" (bit 3 set) — MNIST only, since
//               Fashion-MNIST would then read the installed data set
//   byte 1      train_subset, as int8 (negative values are refused)
//   byte 2      test_subset, as int8
//   byte 3      how each file is stored, 2 bits per file (bits 0-1:
//               train-images, 2-3: train-labels, 4-5: t10k-images, 6-7:
//               t10k-labels):
//                 0  NAME holds the bytes (gzip or not: zlib reads both)
//                 1  NAME.gz holds the bytes as they are (a gzip stream for
//                    the loader to inflate, or data that is not gzip)
//                 2  NAME.gz holds the bytes gzip-compressed by the harness
//                 3  as 2, and NAME holds the bytes with the last one
//                    inverted: the loader must take NAME.gz
//   then, for each of the four files in that order: uint16 L, then L bytes
//   (fewer if the input ends first).  L = 0xFFFF: the file is missing;
//   0xFFFE: a directory in its place.  A length field cut off by the end of
//   the input: missing.
// One image is 784 bytes after a 16-byte header, so a valid input of one
// train and one test image is under 2 KB; -max_len=32768 leaves room for a
// few dozen (or a gzip stream inflating to many more).
//
// Contract checked (besides ASan/UBSan/LeakSanitizer):
//   rejected: -1, one non-empty line, nothing left allocated in the dataset;
//   accepted: 10 classes, geometry (1, 28, 28) of 784 bytes; each split's
//     files, as zlib inflates them (the .gz one when both exist), have the
//     IDX headers (magic 0x00000803 / 0x00000801, n images of 28x28, n
//     labels, n within the official count); the split holds the subset
//     size or n images, equal to the file's first records, labels in 0..9;
//     a split read in full is exactly its header's size with an intact
//     gzip stream; mean in [0, 1], std in (0, 1], the unused channels 0.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/dataset.h"
#include "fuzz_common.h"

#define MISSING 0xFFFF
#define A_DIRECTORY 0xFFFE
#define PIXELS 784                  // (1, 28, 28)
#define MAX_INFLATED (64u << 20)    // far above any accepted file (60000 images: 47 MB)

static const char *const NAMES[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                     "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
static const uint32_t OFFICIAL[2] = {60000, 10000};

static char data_dir[600], as_file[600];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_data_dir_make("idx", data_dir, as_file);
    return 0;
}

static void remove_entry(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) rmdir(path);
    else unlink(path);
}

static void write_gzip(const char *path, const uint8_t *p, size_t n) {
    gzFile f = gzopen(path, "wb");
    if (!f || (n && gzwrite(f, p, (unsigned)n) != (int)n) || gzclose(f) != Z_OK) {
        fprintf(stderr, "fuzz: cannot write %s\n", path);
        exit(2);
    }
}

// Makes dir/NAME and dir/NAME.gz what the input says.
static void place(int k, unsigned mode, const uint8_t **p, const uint8_t *end) {
    char plain[700], gz[704];
    snprintf(plain, sizeof plain, "%s/%s", data_dir, NAMES[k]);
    snprintf(gz, sizeof gz, "%s.gz", plain);
    remove_entry(plain);
    remove_entry(gz);
    if (end - *p < 2) return;   // cut off: missing
    const unsigned len = (unsigned)(*p)[0] | (unsigned)(*p)[1] << 8;
    *p += 2;
    if (len == MISSING) return;
    const char *where = mode == 0 ? plain : gz;
    if (len == A_DIRECTORY) {
        if (mkdir(where, 0755) != 0) {
            perror(where);
            exit(2);
        }
        return;
    }
    const size_t n = (size_t)(end - *p) < len ? (size_t)(end - *p) : len;
    if (mode <= 1) fuzz_write_file(where, *p, n);
    else write_gzip(gz, *p, n);
    if (mode == 3 && n > 0) {
        uint8_t *other = malloc(n);
        if (!other) exit(2);
        memcpy(other, *p, n);
        other[n - 1] ^= 0xff;
        fuzz_write_file(plain, other, n);
        free(other);
    }
    *p += n;
}

// The content the loader should have read for file k, as zlib inflates it;
// *clean = 0 if zlib reported a problem (a corrupt or cut-off stream).
static uint8_t *content(int k, size_t *n, int *clean) {
    char path[704];
    snprintf(path, sizeof path, "%s/%s.gz", data_dir, NAMES[k]);
    struct stat st;
    const int is_gz = stat(path, &st) == 0;
    if (!is_gz) snprintf(path, sizeof path, "%s/%s", data_dir, NAMES[k]);
    gzFile f = gzopen(path, "rb");
    if (!f) fuzz_die("accepted, but %s cannot be opened", path);
    if (is_gz && gzdirect(f)) fuzz_die("accepted %s, which is not gzip", path);
    size_t cap = 1 << 16;
    uint8_t *buf = malloc(cap);
    *n = 0;
    int r;
    while (buf && (r = gzread(f, buf + *n, (unsigned)(cap - *n))) > 0) {
        *n += (size_t)r;
        if (*n == cap) {
            if (cap >= MAX_INFLATED) fuzz_die("%s inflates to more than %u bytes", path,
                                              MAX_INFLATED);
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    if (!buf) exit(2);
    int code;
    gzerror(f, &code);
    *clean = code == Z_OK;
    gzclose(f);
    return buf;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

// Split s (0 train, 1 test) holds the first records of its two files.
static void check_split(const fpt_split *sp, int s, int subset) {
    const char *what = s ? "test" : "train";
    size_t ni, nl;
    int ci, cl;
    uint8_t *im = content(2 * s, &ni, &ci), *lb = content(2 * s + 1, &nl, &cl);
    if (ni < 16 || be32(im) != 0x803 || be32(im + 8) != 28 || be32(im + 12) != 28)
        fuzz_die("%s: accepted an images file without a 28x28 IDX header", what);
    if (nl < 8 || be32(lb) != 0x801) fuzz_die("%s: accepted a labels file without its magic",
                                              what);
    const uint32_t count = be32(im + 4);
    if (count == 0 || count > OFFICIAL[s] || be32(lb + 4) != count)
        fuzz_die("%s: accepted header counts %u images, %u labels", what, count, be32(lb + 4));
    const size_t want = subset > 0 ? (size_t)subset : count;
    if (sp->n < 1 || (size_t)sp->n != want || !sp->pixels || !sp->labels)
        fuzz_die("%s: %d images, expected %zu", what, sp->n, want);
    if (subset <= 0 && (ni != 16 + (size_t)count * PIXELS || nl != 8 + (size_t)count || !ci ||
                        !cl))
        fuzz_die("%s: read in full, but the files inflate to %zu and %zu bytes for %u images "
                 "(clean %d %d)", what, ni, nl, count, ci, cl);
    if (ni < 16 + want * PIXELS || nl < 8 + want)
        fuzz_die("%s: %zu images accepted from files of %zu and %zu bytes", what, want, ni, nl);
    for (int i = 0; i < sp->n; i++) {
        if (lb[8 + i] > 9 || sp->labels[i] != lb[8 + i])
            fuzz_die("%s: image %d has label %d, file says %d", what, i, (int)sp->labels[i],
                     lb[8 + i]);
        if (memcmp(sp->pixels + (size_t)i * PIXELS, im + 16 + (size_t)i * PIXELS, PIXELS))
            fuzz_die("%s: image %d differs from its record", what, i);
    }
    free(im);
    free(lb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    const uint8_t *p = data + 4, *end = data + size;
    const int mnist = data[0] & 1;
    fpt_dataset_options o;
    memset(&o, 0, sizeof o);
    o.kind = mnist ? FPT_DATA_MNIST : FPT_DATA_FASHION_MNIST;
    o.path = (data[0] & 2) ? as_file : data_dir;
    if (mnist && (data[0] & 4)) o.path = (data[0] & 8) ? "" : NULL;
    o.train_subset = (int8_t)data[1];
    o.test_subset = (int8_t)data[2];
    for (int k = 0; k < 4; k++) place(k, (data[3] >> (2 * k)) & 3u, &p, end);

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
    if (o.path != data_dir) fuzz_die("accepted without the data directory");
    if (d.num_classes != 10 || d.channels != 1 || d.height != 28 || d.width != 28 ||
        d.image_bytes != PIXELS)
        fuzz_die("%d classes, geometry (%d, %d, %d) of %zu bytes", d.num_classes, d.channels,
                 d.height, d.width, d.image_bytes);
    check_split(&d.train, 0, o.train_subset);
    check_split(&d.test, 1, o.test_subset);
    if (!(d.mean[0] >= 0.0f && d.mean[0] <= 1.0f && d.std[0] > 0.0f && d.std[0] <= 1.0f))
        fuzz_die("mean %g, std %g", (double)d.mean[0], (double)d.std[0]);
    for (int c = 1; c < FPT_MAX_CHANNELS; c++)
        if (d.mean[c] != 0.0f || d.std[c] != 0.0f) fuzz_die("unused channel %d set", c);
    fpt_dataset_free(&d);
    return 0;
}
