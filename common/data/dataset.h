// dataset.h — image classification datasets: CIFAR-10, CIFAR-100 (official
// binary formats), Fashion-MNIST and MNIST (official IDX files, gzipped or
// not; common/data/idx.c) and a built-in synthetic CIFAR-shaped dataset.
//
// The image geometry is the data set's: (C, H, W) = (3, 32, 32) for CIFAR
// and synthetic, (1, 28, 28) for the MNIST formats.  Images are kept as
// uint8 (N, C, H, W) — a quarter of float — and converted to normalised
// float when a batch is assembled:
//     x = (u8 / 255 - mean[c]) / std[c]
// with the per-channel mean and std of the TRAINING split (after any
// subset), computed at load time, applied to both splits.
#ifndef FPT_DATASET_H
#define FPT_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

// Most channels a data set has (RGB); mean/std are sized for it.
#define FPT_MAX_CHANNELS 3

// Where Debian's dataset-fashion-mnist package puts the four .gz IDX files:
// the Fashion-MNIST path when none is given.
#define FPT_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

// train_spec.c names the kinds by these values (dataset_names[kind]):
// append, never reorder.
typedef enum fpt_dataset_kind {
    FPT_DATA_SYNTHETIC,
    FPT_DATA_CIFAR10,
    FPT_DATA_CIFAR100,
    FPT_DATA_FASHION_MNIST,
    FPT_DATA_MNIST,
} fpt_dataset_kind;

typedef struct fpt_split {
    int n;              // images
    uint8_t *pixels;    // (n, C, H, W) of the dataset, row-major
    int32_t *labels;    // (n), in [0, num_classes)
} fpt_split;

typedef struct fpt_dataset {
    fpt_dataset_kind kind;
    int num_classes;
    int channels, height, width;   // C, H, W of every image (pixels)
    size_t image_bytes;            // C * H * W: one image's uint8 pixels
    fpt_split train, test;
    // Per channel c < channels, of the train pixels scaled to [0, 1]
    // (population std); entries from `channels` on are 0.
    float mean[FPT_MAX_CHANNELS], std[FPT_MAX_CHANNELS];
} fpt_dataset;

typedef struct fpt_dataset_options {
    fpt_dataset_kind kind;
    // CIFAR: directory holding the .bin files.  MNIST formats: directory
    // holding the four IDX files; NULL or "" = FPT_FASHION_MNIST_DIR for
    // Fashion-MNIST (MNIST has no default).
    const char *path;
    int train_subset;        // > 0: keep only the first N training images
    int test_subset;         // > 0: keep only the first N test images
    // synthetic only
    uint64_t seed;           // the dataset's own seed (not the run's)
    int synth_train, synth_test;   // sizes (defaults 5000 / 1000)
    double synth_label_noise;      // fraction of labels replaced at random
} fpt_dataset_options;

// Loads (CIFAR, MNIST formats) or generates (synthetic) both splits, sets the
// geometry and computes the normalisation.  Errors name the file and what was
// wrong with it; on error *d is left empty (nothing to free).
// For the loaders: allocates split s for n images of d's geometry (set
// first), pixels and labels zeroed, and sets s->n; `what` ("train", "test")
// names it in the out-of-memory error.
int fpt_split_alloc(const fpt_dataset *d, fpt_split *s, int n, const char *what, fpt_err *err);
int fpt_dataset_load(fpt_dataset *d, const fpt_dataset_options *o, fpt_err *err);
void fpt_dataset_free(fpt_dataset *d);

// Augmentation flags of fpt_dataset_batch (a bit set; 0 = none).
#define FPT_AUG_CROP 1u   // random HxW crop of the raw image zero-padded by 4 px per side
#define FPT_AUG_FLIP 2u   // horizontal mirror with probability 1/2

// Assembles a normalised float batch x (n, C, H, W) NCHW and labels y (n)
// (y may be NULL) from split images idx[0..n).  With a flag of `augment`
// set, image i draws one Philox block at index `draw_base + i` of (seed,
// FPT_RNG_AUGMENT, stream = epoch): crop offsets x and y, then the flip bit,
// all drawn whichever of the flags are set.  So the result depends neither on
// batching nor on threads, and one flag's draws not on the other flag.
// Other bits of `augment` are ignored.
void fpt_dataset_batch(const fpt_dataset *d, const fpt_split *s, const int *idx, int n,
                       unsigned augment, uint64_t seed, uint32_t epoch, uint64_t draw_base,
                       float *x, int32_t *y);

#endif
