// main.c — the fptfarm command line.
//
//   fptfarm train [--config FILE.ini] [--option value ...]
//   fptfarm demo [--threads N] [--epochs N] [--width W] [--seed S]
//   fptfarm version
//
// Errors print one line, "fptfarm: <what went wrong>", and exit 1; bad usage
// exits 2.
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas_setup.h"
#include "commands.h"
#include "demo.h"
#include "error.h"

#define FPTFARM_VERSION "0.1.0"

static void usage(FILE *f) {
    fprintf(f,
            "usage: fptfarm <command> [options]\n"
            "commands:\n"
            "  train     one training run on this machine (fptfarm train --help)\n"
            "  demo      train a small ResNet-18 on a synthetic 10-class problem\n"
            "            options: --threads N (2)  --epochs N (4)  --width W (8)  --seed S (1)\n"
            "  version   print the version\n");
}

// Parses "--name value" as an integer in [lo, hi].
static int int_opt(const char *name, const char *val, long lo, long hi, long *out, fpt_err *err) {
    if (!val) return fpt_fail(err, "option %s needs a value", name);
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || *end || end == val || v < lo || v > hi)
        return fpt_fail(err, "option %s: '%s' is not an integer in %ld..%ld", name, val, lo, hi);
    *out = v;
    return 0;
}

static int cmd_demo(int argc, char **argv, fpt_err *err) {
    fpt_demo_options o = {.width = 8, .epochs = 4, .batch = 32, .n_train = 1024,
                          .n_test = 512, .lr = 0.02, .signal = 0.3f, .seed = 1};
    long threads = 2, v;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--threads")) { if (int_opt(a, val, 1, 1024, &threads, err)) return -1; }
        else if (!strcmp(a, "--epochs")) { if (int_opt(a, val, 1, 1000, &v, err)) return -1; o.epochs = (int)v; }
        else if (!strcmp(a, "--width")) { if (int_opt(a, val, 1, 256, &v, err)) return -1; o.width = (int)v; }
        else if (!strcmp(a, "--seed")) { if (int_opt(a, val, 0, LONG_MAX, &v, err)) return -1; o.seed = (uint64_t)v; }
        else return fpt_fail(err, "demo: unknown option '%s' (expected --threads, --epochs, --width, --seed)", a);
        i++;
    }
    fpt_set_threads((int)threads);
    return fpt_demo_run(&o, stdout, err);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    fpt_err err = {{0}};
    int rc;
    if (!strcmp(argv[1], "version")) {
        printf("fptfarm %s\n", FPTFARM_VERSION);
        return 0;
    } else if (!strcmp(argv[1], "train")) {
        fpt_blas_fix_coretype(argv);
        rc = fpt_cmd_train(argc - 2, argv + 2, &err);
    } else if (!strcmp(argv[1], "demo")) {
        fpt_blas_fix_coretype(argv);
        rc = cmd_demo(argc - 2, argv + 2, &err);
    } else {
        fprintf(stderr, "fptfarm: unknown command '%s' (expected: train, demo, version)\n",
                argv[1]);
        return 2;
    }
    if (rc < 0) {
        fprintf(stderr, "fptfarm: %s\n", err.msg);
        return 1;
    }
    return rc;
}
