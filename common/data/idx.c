// idx.c — Fashion-MNIST / MNIST from their official IDX files (see idx.h).
//
// Read through zlib's gz* interface, which inflates gzip files and passes
// other files through unchanged, so the same code reads NAME.gz and NAME.
// A NAME.gz that is not gzip is refused (a mislabelled or broken download),
// while a NAME that happens to be gzip is inflated like any other.
//
// Memory is bounded before anything is allocated: a header count above the
// official one (60000 train / 10000 test) is refused, so a corrupt header
// cannot ask for more than 60000 * 784 bytes (47 MB).  Only the images a
// subset keeps are read; a split read in full must end exactly after the
// header's count, which also makes zlib check the gzip trailer (CRC, size).
#include "data/idx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/memory.h"

#define IDX_HW 28                          // image rows = columns
#define IDX_PIXELS (IDX_HW * IDX_HW)       // 784 bytes per image
#define IDX_CLASSES 10
#define IDX_UBYTE 0x08                     // magic byte 2: the data type, unsigned byte
#define IDX_MAGIC_IMAGES 0x00000803u       // unsigned bytes, 3 dimensions (n, rows, cols)
#define IDX_MAGIC_LABELS 0x00000801u       // unsigned bytes, 1 dimension (n)
#define OFFICIAL_TRAIN 60000
#define OFFICIAL_TEST 10000
#define GZ_BUFFER (128 * 1024)             // zlib's input buffer (default 8 KB)
#define GZ_MAX_READ (1u << 30)             // gzread takes an unsigned, returns an int

// A data set, for messages: its name, its directory and how to get its files.
typedef struct idx_source {
    const char *name;       // "Fashion-MNIST"
    const char *dir;
    const char *hint;       // appended to "cannot open" errors
} idx_source;

typedef struct idx_file {
    gzFile gz;              // NULL when not open
    char path[4096];        // the file opened: NAME.gz or NAME
    int gz_name;            // path ends in .gz
    uint32_t count;         // the header's item count (first dimension)
} idx_file;

typedef struct idx_split {
    const char *what;       // "train" / "test": the option prefix (train_subset)
    const char *prefix;     // "train" / "t10k": the file names'
    int official;           // the official image count of the split
    int subset;             // > 0: keep the first `subset` images
    idx_file images, labels;
    int n;                  // images kept
} idx_split;

// zlib's description of the stream's error state (Z_OK: NULL).  gzerror
// prefixes the message with zlib's name of the file, "<fd:N>" for gzdopen:
// dropped, the caller names the file.
static const char *gz_problem(gzFile gz) {
    int code = Z_OK;
    const char *msg = gzerror(gz, &code);
    if (code == Z_OK) return NULL;
    if (code == Z_ERRNO) return strerror(errno);
    if (!msg || !*msg) return "zlib error";
    if (msg[0] == '<') {
        const char *colon = strstr(msg, ">: ");
        if (colon) msg = colon + 3;
    }
    return msg;
}

// What went wrong with a read: nothing, a clean end of file, or zlib's (or
// the system's) description of the problem.  `counted`: whether `got`
// holds every byte read before the problem; a gzread that fails outright
// (a corrupt stream, a CRC mismatch) does not say how much it inflated.
typedef struct gz_status {
    const char *why;   // NULL: no problem, or a clean end of file
    int counted;
} gz_status;

// Reads up to n bytes into buf; *got = bytes read.  Returns 0 when all n
// were read, else -1 with *st saying why.  A gzip stream cut off reports
// Z_BUF_ERROR ("unexpected end of file") while still returning what it
// could inflate, possibly while inflating ahead of what was asked for: so
// the error counts only when the bytes asked for did not all come (the
// read past the end of a split finds it, and a subset, read only as far as
// it needs, does not care).
static int gz_read_full(gzFile gz, uint8_t *buf, size_t n, size_t *got, gz_status *st) {
    *got = 0;
    st->why = NULL;
    st->counted = 1;
    while (*got < n) {
        const size_t left = n - *got;
        const int k = gzread(gz, buf + *got, (unsigned)(left < GZ_MAX_READ ? left : GZ_MAX_READ));
        if (k < 0) {
            st->why = gz_problem(gz);
            if (!st->why) st->why = "read error";
            st->counted = 0;
            return -1;
        }
        if (k == 0) break;
        *got += (size_t)k;
    }
    if (*got == n) return 0;
    st->why = gz_problem(gz);
    return -1;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

// Opens dir/base.gz, else dir/base; names the file in every error.
static int idx_open(idx_file *f, const idx_source *src, const char *base, fpt_err *err) {
    int fd = -1;
    for (int gz = 1; gz >= 0 && fd < 0; gz--) {
        const int k =
            snprintf(f->path, sizeof f->path, "%s/%s%s", src->dir, base, gz ? ".gz" : "");
        if (k < 0 || (size_t)k >= sizeof f->path)
            return fpt_fail(err, "%s/%s: path longer than %zu bytes", src->dir, base,
                            sizeof f->path - 1);
        f->gz_name = gz;
        fd = open(f->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno != ENOENT)
            return fpt_fail(err, "%s: cannot open: %s", f->path, strerror(errno));
    }
    if (fd < 0)
        return fpt_fail(err, "%s/%s: cannot open: no such file, gzipped (.gz) or not; %s",
                        src->dir, base, src->hint);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        const int e = errno;
        close(fd);
        return fpt_fail(err, "%s: cannot stat: %s", f->path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {   // a directory would fail later with a vaguer EISDIR
        close(fd);
        return fpt_fail(err, "%s: not a regular file (expected the %s IDX file)", f->path,
                        src->name);
    }
    f->gz = gzdopen(fd, "rb");
    if (!f->gz) {
        close(fd);   // gzdopen leaves fd open when it fails
        return fpt_fail(err, "%s: cannot set up zlib to read it (out of memory?)", f->path);
    }
    gzbuffer(f->gz, GZ_BUFFER);   // before the first read, as zlib requires
    if (f->gz_name && gzdirect(f->gz))
        return fpt_fail(err, "%s: not a gzip file (the name ends in .gz but the data is not "
                        "gzip-compressed; corrupt download?)", f->path);
    return 0;
}

static void idx_close(idx_file *f) {
    if (f->gz) gzclose_r(f->gz);
    f->gz = NULL;
}

// Reads and checks the header of an open file: magic, dimensions and, for
// images, 28x28; a count in 1..official.  Sets f->count.
static int idx_header(idx_file *f, const idx_split *sp, int images, fpt_err *err) {
    const uint32_t want_magic = images ? IDX_MAGIC_IMAGES : IDX_MAGIC_LABELS;
    const int want_dims = images ? 3 : 1;
    const char *kind = images ? "images" : "labels";
    uint8_t h[16];   // magic, then up to 3 sizes
    size_t got;
    gz_status st;
    if (gz_read_full(f->gz, h, 4, &got, &st)) {
        if (st.why)
            return fpt_fail(err, "%s: cannot read the header: %s (corrupt gzip file?)", f->path,
                            st.why);
        return fpt_fail(err, "%s: truncated header: %zu bytes, expected at least %d (magic "
                        "0x%08x, then the sizes)", f->path, got, 4 + 4 * want_dims, want_magic);
    }
    const uint32_t magic = be32(h);
    if (magic != want_magic) {
        // Right data type, other rank: say so; anything else is not our IDX.
        if ((magic & 0xffffff00u) == (IDX_UBYTE << 8))
            return fpt_fail(err, "%s: %u dimensions (magic 0x%08x), expected %d for %s "
                            "(magic 0x%08x)", f->path, magic & 0xffu, magic, want_dims, kind,
                            want_magic);
        return fpt_fail(err, "%s: wrong magic 0x%08x, expected 0x%08x (IDX %s: unsigned bytes, "
                        "%d dimension%s); not an IDX file of %s?", f->path, magic, want_magic,
                        kind, want_dims, want_dims > 1 ? "s" : "", kind);
    }
    if (gz_read_full(f->gz, h + 4, 4 * (size_t)want_dims, &got, &st)) {
        if (st.why)
            return fpt_fail(err, "%s: cannot read the header: %s (corrupt gzip file?)", f->path,
                            st.why);
        return fpt_fail(err, "%s: truncated header: %zu bytes, expected %d (magic and %d sizes)",
                        f->path, 4 + got, 4 + 4 * want_dims, want_dims);
    }
    f->count = be32(h + 4);
    if (images && (be32(h + 8) != IDX_HW || be32(h + 12) != IDX_HW))
        return fpt_fail(err, "%s: images of %ux%u pixels, expected %dx%d", f->path, be32(h + 8),
                        be32(h + 12), IDX_HW, IDX_HW);
    if (f->count == 0)
        return fpt_fail(err, "%s: header count 0, expected 1..%d %s", f->path, sp->official,
                        kind);
    if (f->count > (uint32_t)sp->official)
        return fpt_fail(err, "%s: header count %u %s, more than the official %d of the %s "
                        "split (corrupt header or not this data set)", f->path, f->count, kind,
                        sp->official, sp->what);
    return 0;
}

// Opens and checks both files of a split and decides how many images to keep.
static int split_open(idx_split *sp, const idx_source *src, fpt_err *err) {
    char base[64];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", sp->prefix);
    if (idx_open(&sp->images, src, base, err) || idx_header(&sp->images, sp, 1, err)) return -1;
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", sp->prefix);
    if (idx_open(&sp->labels, src, base, err) || idx_header(&sp->labels, sp, 0, err)) return -1;
    if (sp->images.count != sp->labels.count)
        return fpt_fail(err, "%s holds %u images but %s holds %u labels (expected one label per "
                        "image)", sp->images.path, sp->images.count, sp->labels.path,
                        sp->labels.count);
    const int count = (int)sp->images.count;   // <= official: fits
    if (sp->subset > count)
        return fpt_fail(err, "%s: holds %d %s images, fewer than the %d asked for (%s_subset)",
                        sp->images.path, count, sp->what, sp->subset, sp->what);
    sp->n = sp->subset > 0 ? sp->subset : count;
    return 0;
}

// Reads the first sp->n items of one open file (item = image or label) into
// buf; when that is the whole file, checks that nothing follows.
static int read_items(idx_file *f, const idx_split *sp, size_t item_bytes, uint8_t *buf,
                      fpt_err *err) {
    const char *kind = item_bytes > 1 ? "images" : "labels";
    const size_t want = (size_t)sp->n * item_bytes;
    size_t got;
    gz_status st;
    if (gz_read_full(f->gz, buf, want, &got, &st)) {
        if (st.why && !st.counted)
            return fpt_fail(err, "%s: %s while reading the %s (corrupt gzip file)", f->path,
                            st.why, kind);
        if (st.why)   // a gzip stream cut off: zlib's "unexpected end of file"
            return fpt_fail(err, "%s: truncated: %s after %zu complete %s of the %u the header "
                            "promises", f->path, st.why, got / item_bytes, kind, f->count);
        return fpt_fail(err, "%s: truncated: the header promises %u %s, the file holds %zu "
                        "complete ones (%zu of %zu data bytes)", f->path, f->count, kind,
                        got / item_bytes, got, (size_t)f->count * item_bytes);
    }
    if ((uint32_t)sp->n < f->count) return 0;   // a subset: the rest is not read
    uint8_t extra;
    if (gz_read_full(f->gz, &extra, 1, &got, &st) == 0)
        return fpt_fail(err, "%s: trailing data: bytes beyond the %u %s the header promises "
                        "(expected the file to end there)", f->path, f->count, kind);
    if (st.why)   // past the data: the gzip trailer (CRC, length) or a cut-off stream
        return fpt_fail(err, "%s: %s after all %u %s (corrupt or truncated gzip file)", f->path,
                        st.why, f->count, kind);
    return 0;
}

static int split_read(const fpt_dataset *d, idx_split *sp, fpt_split *s, fpt_err *err) {
    char name[96];
    if (fpt_split_alloc(d, s, sp->n, sp->what, err)) return -1;
    if (read_items(&sp->images, sp, IDX_PIXELS, s->pixels, err)) return -1;
    snprintf(name, sizeof name, "%s label bytes (%d)", sp->what, sp->n);
    uint8_t *bytes = fpt_calloc((size_t)sp->n, 1, name, err);
    int rc = bytes ? read_items(&sp->labels, sp, 1, bytes, err) : -1;
    for (int i = 0; rc == 0 && i < sp->n; i++) {
        if (bytes[i] >= IDX_CLASSES)
            rc = fpt_fail(err, "%s: record %d has label %d, expected 0..%d", sp->labels.path, i,
                          bytes[i], IDX_CLASSES - 1);
        else
            s->labels[i] = bytes[i];
    }
    fpt_free(bytes);
    return rc;
}

int fpt_idx_load(fpt_dataset *d, const fpt_dataset_options *o, fpt_err *err) {
    const int fashion = o->kind == FPT_DATA_FASHION_MNIST;
    const int given = o->path && o->path[0];
    char hint[600];
    idx_source src = {fashion ? "Fashion-MNIST" : "MNIST",
                      given ? o->path : FPT_FASHION_MNIST_DIR, hint};
    if (!fashion && !given)
        return fpt_fail(err, "MNIST: no data path given; pass data_path = the directory holding "
                        "the four official IDX files (train-images-idx3-ubyte, "
                        "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, "
                        "gzipped or not)");
    if (fashion && !given)
        snprintf(hint, sizeof hint, "install the Debian package dataset-fashion-mnist "
                 "(deploy/install-deps.sh) or set data_path");
    else
        snprintf(hint, sizeof hint, "expected the four official %s IDX files "
                 "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                 "t10k-labels-idx1-ubyte, each gzipped or not) there: set data_path to the "
                 "directory holding them%s", src.name,
                 fashion ? " (or leave it empty for Debian's dataset-fashion-mnist in "
                           FPT_FASHION_MNIST_DIR ")" : "");
    struct stat st;
    if (stat(src.dir, &st) != 0)
        return fpt_fail(err, "%s directory %s: %s; %s", src.name, src.dir, strerror(errno), hint);
    if (!S_ISDIR(st.st_mode))
        return fpt_fail(err, "%s directory %s: not a directory; %s", src.name, src.dir, hint);

    d->num_classes = IDX_CLASSES;
    d->channels = 1;
    d->height = d->width = IDX_HW;
    d->image_bytes = IDX_PIXELS;
    idx_split sp[2] = {
        {.what = "train", .prefix = "train", .official = OFFICIAL_TRAIN,
         .subset = o->train_subset},
        {.what = "test", .prefix = "t10k", .official = OFFICIAL_TEST, .subset = o->test_subset},
    };
    // Every header first, so that a missing or wrong test file fails before
    // 47 MB of training images are inflated.
    int rc = -1;
    if (split_open(&sp[0], &src, err) || split_open(&sp[1], &src, err) ||
        split_read(d, &sp[0], &d->train, err) || split_read(d, &sp[1], &d->test, err))
        goto done;
    rc = 0;
done:
    for (int i = 0; i < 2; i++) {
        idx_close(&sp[i].images);
        idx_close(&sp[i].labels);
    }
    return rc;
}
