// idx.h — the loader of MNIST-format data sets (Fashion-MNIST, MNIST): the
// four official IDX files of a directory, each gzipped (NAME.gz, tried first)
// or not (NAME):
//   train-images-idx3-ubyte  train-labels-idx1-ubyte   (60000 images)
//   t10k-images-idx3-ubyte   t10k-labels-idx1-ubyte    (10000 images)
// An IDX file is a big-endian header — magic 0x000008DD (0x08: unsigned
// bytes, DD: number of dimensions), then DD uint32 sizes — followed by the
// items, row-major: images (n, 28, 28) uint8, labels (n) uint8 in 0..9.
// fpt_dataset_load (dataset.c) dispatches here.
#ifndef FPT_IDX_H
#define FPT_IDX_H

#include "data/dataset.h"

// Fills d->train and d->test (the first o->train_subset / o->test_subset
// images when > 0), d->num_classes = 10 and the geometry (1, 28, 28), for
// o->kind FPT_DATA_FASHION_MNIST or FPT_DATA_MNIST, from o->path (NULL or ""
// = FPT_FASHION_MNIST_DIR for Fashion-MNIST; required for MNIST).  Every
// header and every label read is validated; a split read in full must hold
// exactly the header's count.  On error, whatever was allocated stays in d
// for fpt_dataset_free.  Does not compute the normalisation.
int fpt_idx_load(fpt_dataset *d, const fpt_dataset_options *o, fpt_err *err);

#endif
