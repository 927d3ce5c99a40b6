// study_data.h — the study's published traces for the tests (tests/data/README.md).
#ifndef FPT_TEST_STUDY_DATA_H
#define FPT_TEST_STUDY_DATA_H

#include <stddef.h>

// Decompresses tests/data/meir2025-cifar10_traces.csv.xz into dir/traces.csv,
// checks its SHA-256 (and that it is byte for byte the shared copy,
// ../shared/data/meir2025/cifar10_traces.csv, when that exists), and writes
// the path into out.  Fails the calling test on any mismatch.
void study_csv(const char *dir, char *out, size_t cap);

#endif
