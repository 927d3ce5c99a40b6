// bench_train.c — images per second of a full ResNet-18 training step
// (forward, cross-entropy, backward, SGD) or of inference, on random
// CIFAR-shaped data, and the process's peak RSS.  Prints one JSON line, the
// same fields as bench/bench_torch.py, so bench/run.sh can put the two side
// by side.  --profile adds GFLOP/s by layer type.
//
//   bench_train --width 64 --batch 128 --threads 2 --mode train [--steps 3]
//               [--backend onednn|blas] [--precision fp32|bf16]
// The default backend, as fptfarm's, is the fastest one built.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "nn/backend.h"
#include "base/blas_setup.h"
#include "base/prof.h"
#include "nn/resnet.h"
#include "base/rng.h"
#include "nn/sgd.h"

static int arg_int(int argc, char **argv, const char *name, int def) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return atoi(argv[i + 1]);
    return def;
}

static const char *arg_str(int argc, char **argv, const char *name, const char *def) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return def;
}

static int has_flag(int argc, char **argv, const char *name) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0) return 1;
    return 0;
}

int main(int argc, char **argv) {
    fpt_blas_fix_coretype(argv);
    const int width = arg_int(argc, argv, "--width", 64);
    const int batch = arg_int(argc, argv, "--batch", 128);
    const int threads = arg_int(argc, argv, "--threads", 2);
    const int steps = arg_int(argc, argv, "--steps", 3);
    const int warmup = arg_int(argc, argv, "--warmup", 1);
    const int classes = arg_int(argc, argv, "--classes", 10);
    const char *mode = arg_str(argc, argv, "--mode", "train");
    const int train = strcmp(mode, "train") == 0;
    fpt_set_threads(threads);

    fpt_err err = {{0}};
    fpt_backend backend = FPT_BACKEND_DEFAULT;
    fpt_precision precision = FPT_PRECISION_FP32;
    const char *bname = arg_str(argc, argv, "--backend", NULL);
    if ((bname && fpt_backend_parse(bname, &backend, &err)) ||
        fpt_precision_parse(arg_str(argc, argv, "--precision", "fp32"), &precision, &err)) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 1;
    }
    backend = fpt_backend_resolve(backend);
    fpt_resnet *m;
    fpt_sgd opt;
    if (fpt_resnet_create(&m, &(fpt_resnet_arch){.width = width, .num_classes = classes,
                                                 .in_channels = 3, .image_hw = 32,
                                                 .backend = backend, .precision = precision},
                          &err) ||
        fpt_sgd_create(&opt, m->n_params, 0.9, 0.0, &err)) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 1;
    }
    fpt_resnet_init_params(m, 1, 0, m->params);
    fpt_resnet_init_buffers(m, m->buffers);
    const size_t in_floats = (size_t)batch * 3 * 32 * 32;
    float *x = malloc(sizeof(float) * in_floats);
    int32_t *y = malloc(sizeof(int32_t) * batch);
    fpt_rng_fill_normal(7, FPT_RNG_TEST, 0, x, in_floats, 0.0f, 1.0f);
    for (int i = 0; i < batch; i++) y[i] = i % classes;

    double t_total = 0.0;
    for (int s = 0; s < warmup + steps; s++) {
        if (s == warmup) {
            memset(&fpt_prof_global, 0, sizeof fpt_prof_global);
            fpt_prof_global.enabled = has_flag(argc, argv, "--profile");
        }
        double t0 = fpt_now();
        if (fpt_resnet_forward(m, x, batch, train, &err)) {
            fprintf(stderr, "bench_train: %s\n", err.msg);
            return 1;
        }
        if (train) {
            fpt_resnet_backward(m, y, NULL);
            FPT_TIMED(FPT_PROF_SGD, 4.0 * (double)m->n_params,
                      fpt_sgd_step(&opt, m->params, m->grads, 0.01));
        }
        if (s >= warmup) t_total += fpt_now() - t0;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"impl\":\"fptfarm\",\"width\":%d,\"batch\":%d,\"threads\":%d,\"mode\":\"%s\","
           "\"img_per_s\":%.2f,\"peak_rss_mib\":%.1f,\"blas_core\":\"%s\","
           "\"backend\":\"%s\",\"precision\":\"%s\",\"kernels\":\"%s\"",
           width, batch, threads, mode, batch * steps / t_total, ru.ru_maxrss / 1024.0,
           fpt_blas_corename(), fpt_backend_name(backend), fpt_precision_name(precision),
           fpt_backend_describe(backend, precision));
    if (fpt_prof_global.enabled) {
        printf(",\"profile\":[");
        for (int k = 0; k < FPT_PROF_KINDS; k++) {
            const double sec = fpt_prof_global.seconds[k] / steps;
            const double gf = fpt_prof_global.flops[k] / steps / 1e9;
            printf("%s{\"layer\":\"%s\",\"ms_per_step\":%.1f,\"gflop_per_step\":%.2f,"
                   "\"gflop_per_s\":%.1f}", k ? "," : "", fpt_prof_names[k], 1e3 * sec, gf,
                   sec > 0 ? gf / sec : 0.0);
        }
        printf("]");
    }
    printf("}\n");
    free(x);
    free(y);
    fpt_sgd_free(&opt);
    fpt_resnet_free(m);
    return 0;
}
