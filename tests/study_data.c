// study_data.c — see study_data.h.
#include "study_data.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define STUDY_XZ "tests/data/meir2025-cifar10_traces.csv.xz"
#define STUDY_SHARED "../shared/data/meir2025/cifar10_traces.csv"
#define STUDY_SHA256 "ac2b72331c4ff2054c9283d186e11f1cfe6ad20290efd5c9efc0d0a291dc3e97"

static void sha256_of(const char *path, char out[65]) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "cannot run sha256sum");
    cr_assert_eq(fscanf(p, "%64s", out), 1, "sha256sum %s printed nothing", path);
    cr_assert_eq(pclose(p), 0, "sha256sum %s failed", path);
}

void study_csv(const char *dir, char *out, size_t cap) {
    cr_assert_eq(access(STUDY_XZ, R_OK), 0, "%s missing (tests run from the project root)",
                 STUDY_XZ);
    snprintf(out, cap, "%s/traces.csv", dir);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "xz -dc '%s' > '%s'", STUDY_XZ, out);
    cr_assert_eq(system(cmd), 0, "%s failed (is xz-utils installed?)", cmd);
    char sum[65];
    sha256_of(out, sum);
    cr_assert_str_eq(sum, STUDY_SHA256, "%s does not decompress to the study's file", STUDY_XZ);
    if (access(STUDY_SHARED, R_OK) == 0) {
        sha256_of(STUDY_SHARED, sum);
        cr_assert_str_eq(sum, STUDY_SHA256, "%s differs from the copy in %s", STUDY_SHARED,
                         STUDY_XZ);
    }
}
