// dataset.h — image classification datasets: CIFAR-10, CIFAR-100 (official
// binary formats) and a built-in synthetic CIFAR-shaped dataset.
//
// Images are kept as uint8 (N, 3, 32, 32) — 3 KiB each, a quarter of float —
// and converted to normalised float when a batch is assembled:
//     x = (u8 / 255 - mean[c]) / std[c]
// with the per-channel mean and std of the TRAINING split (after any
// subset), computed at load time, applied to both splits.
#ifndef FPT_DATASET_H
#define FPT_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define FPT_IMG_C 3
#define FPT_IMG_HW 32
#define FPT_IMG_PIXELS (FPT_IMG_C * FPT_IMG_HW * FPT_IMG_HW)   // 3072

typedef enum fpt_dataset_kind {
    FPT_DATA_SYNTHETIC,
    FPT_DATA_CIFAR10,
    FPT_DATA_CIFAR100,
} fpt_dataset_kind;

typedef struct fpt_split {
    int n;              // images
    uint8_t *pixels;    // (n, 3, 32, 32)
    int32_t *labels;    // (n), in [0, num_classes)
} fpt_split;

typedef struct fpt_dataset {
    fpt_dataset_kind kind;
    int num_classes;
    int channels, height, width;   // TEMP (merged from the data branch)
    size_t image_bytes;
    fpt_split train, test;
    float mean[3], std[3];   // per channel, of train pixels scaled to [0, 1]
} fpt_dataset;

typedef struct fpt_dataset_options {
    fpt_dataset_kind kind;
    const char *path;        // CIFAR: directory holding the .bin files
    int train_subset;        // > 0: keep only the first N training images
    int test_subset;         // > 0: keep only the first N test images
    // synthetic only
    uint64_t seed;           // the dataset's own seed (not the run's)
    int synth_train, synth_test;   // sizes (defaults 5000 / 1000)
    double synth_label_noise;      // fraction of labels replaced at random
} fpt_dataset_options;

// Loads (CIFAR) or generates (synthetic) both splits and computes the
// normalisation.  Errors name the file and what was wrong with it.
int fpt_dataset_load(fpt_dataset *d, const fpt_dataset_options *o, fpt_err *err);
void fpt_dataset_free(fpt_dataset *d);

// Assembles a normalised float batch x (n, 3, 32, 32) NCHW and labels y (n)
// from split images idx[0..n).  With augment != 0, each image gets a random
// crop from the 4-pixel zero-padded image and a horizontal flip with
// probability 1/2, drawn from (seed, FPT_RNG_AUGMENT, stream = epoch), the
// draw for image i of the epoch taken at index `draw_base + i` so that the
// result does not depend on batching or threads.
void fpt_dataset_batch(const fpt_dataset *d, const fpt_split *s, const int *idx, int n,
                       int augment, uint64_t seed, uint32_t epoch, uint64_t draw_base,
                       float *x, int32_t *y);

enum { FPT_AUG_CROP = 1, FPT_AUG_FLIP = 2 };   // TEMP
#endif
