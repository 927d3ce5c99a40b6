// demo.c — `fptfarm demo`: one small local training run, end to end.
//
// Until the training-run and farm layers exist, the demo proves the numerical
// core on a problem with a known answer: 10 classes, each a fixed random
// 3x32x32 template, every image = signal * template[class] + N(0, 1) noise.
// A ResNet-18 at width 8 must learn to tell the classes apart; the held-out
// accuracy climbs from chance (10%) towards 100% in a few epochs.
#include "demo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas_setup.h"
#include "prof.h"
#include "resnet.h"
#include "rng.h"
#include "sgd.h"

#define HW 32
#define PIX (3 * HW * HW)

// x: (n, 3, 32, 32), y: (n); sample i of split `split` draws stream split*2^20+i.
static void make_split(const float *templates, int n, int split, float signal, uint64_t seed,
                       float *x, int32_t *y) {
    for (int i = 0; i < n; i++) {
        fpt_rng r;
        fpt_rng_init(&r, seed, FPT_RNG_DATASET, (uint32_t)(split << 20) + (uint32_t)i);
        y[i] = (int32_t)fpt_rng_below(&r, 10);
        fpt_rng_fill_normal(seed, FPT_RNG_DATASET, (uint32_t)(split << 20) + (1u << 19) + i,
                            x + (size_t)i * PIX, PIX, 0.0f, 1.0f);
        for (int k = 0; k < PIX; k++) x[(size_t)i * PIX + k] += signal * templates[y[i] * PIX + k];
    }
}

int fpt_demo_run(const fpt_demo_options *o, FILE *out, fpt_err *err) {
    const int n_train = o->n_train, n_test = o->n_test, B = o->batch;
    int rc = -1;
    fpt_resnet *m = NULL;
    fpt_sgd opt = {0};
    float *templates = fpt_calloc((size_t)10 * PIX, sizeof(float), "class templates", err);
    float *xtr = fpt_calloc((size_t)n_train * PIX, sizeof(float), "training images", err);
    float *xte = fpt_calloc((size_t)n_test * PIX, sizeof(float), "test images", err);
    float *xb = fpt_calloc((size_t)B * PIX, sizeof(float), "batch", err);
    int32_t *ytr = fpt_calloc((size_t)n_train, sizeof(int32_t), "training labels", err);
    int32_t *yte = fpt_calloc((size_t)n_test, sizeof(int32_t), "test labels", err);
    int32_t *yb = fpt_calloc((size_t)B, sizeof(int32_t), "batch labels", err);
    int *order = fpt_calloc((size_t)n_train, sizeof(int), "data order", err);
    if (!templates || !xtr || !xte || !xb || !ytr || !yte || !yb || !order) goto done;
    if (fpt_resnet_create(&m, o->width, 10, HW, err) ||
        fpt_sgd_create(&opt, m->n_params, 0.9, 5e-4, err))
        goto done;

    float coarse[10 * 3 * 8 * 8];   // (class, channel, 8, 8)
    fpt_rng_fill_normal(o->seed, FPT_RNG_DATASET, 0xFFFFF, coarse, sizeof coarse / sizeof *coarse,
                        0, 1);
    for (int c = 0; c < 10 * 3; c++)
        for (int i = 0; i < HW; i++)
            for (int j = 0; j < HW; j++)
                templates[(size_t)c * HW * HW + i * HW + j] = coarse[c * 64 + (i / 4) * 8 + j / 4];
    make_split(templates, n_train, 1, o->signal, o->seed, xtr, ytr);
    make_split(templates, n_test, 2, o->signal, o->seed, xte, yte);
    fpt_resnet_init_params(m, o->seed, 0, m->params);
    fpt_resnet_init_buffers(m, m->buffers);
    fprintf(out, "demo: ResNet-18 width %d (%zu parameters), %d training / %d test images, "
                 "batch %d, SGD lr %.3g momentum 0.9\n",
            o->width, m->n_params, n_train, n_test, B, o->lr);
    fprintf(out, "demo: OpenBLAS kernels: %s\n", fpt_blas_describe());
    fprintf(out, "%5s %11s %10s %9s %8s\n", "epoch", "train_loss", "test_loss", "test_acc",
            "seconds");
    for (int epoch = 1; epoch <= o->epochs; epoch++) {
        double t0 = fpt_now(), loss_sum = 0.0;
        // Shuffle without replacement: Fisher-Yates on the epoch's own stream.
        fpt_rng r;
        fpt_rng_init(&r, o->seed, FPT_RNG_DATA_ORDER, (uint32_t)epoch);
        for (int i = 0; i < n_train; i++) order[i] = i;
        for (int i = n_train - 1; i > 0; i--) {
            int j = (int)fpt_rng_below(&r, (uint32_t)i + 1);
            int t = order[i]; order[i] = order[j]; order[j] = t;
        }
        int steps = 0;
        for (int s = 0; s + B <= n_train; s += B, steps++) {
            for (int b = 0; b < B; b++) {
                memcpy(xb + (size_t)b * PIX, xtr + (size_t)order[s + b] * PIX, sizeof(float) * PIX);
                yb[b] = ytr[order[s + b]];
            }
            if (fpt_resnet_forward(m, xb, B, 1, err)) goto done;
            loss_sum += fpt_resnet_backward(m, yb, NULL);
            fpt_sgd_step(&opt, m->params, m->grads, o->lr);
        }
        double test_loss = 0.0;
        int hits = 0;
        for (int s = 0; s < n_test; s += B) {
            int nb = n_test - s < B ? n_test - s : B, c;
            if (fpt_resnet_forward(m, xte + (size_t)s * PIX, nb, 0, err)) goto done;
            test_loss += nb * fpt_softmax_xent(nb, 10, m->logits, yte + s, NULL, &c);
            hits += c;
        }
        fprintf(out, "%5d %11.4f %10.4f %8.2f%% %8.2f\n", epoch, loss_sum / steps,
                test_loss / n_test, 100.0 * hits / n_test, fpt_now() - t0);
        fflush(out);
    }
    rc = 0;
done:
    fpt_free(templates); fpt_free(xtr); fpt_free(xte); fpt_free(xb);
    fpt_free(ytr); fpt_free(yte); fpt_free(yb); fpt_free(order);
    fpt_sgd_free(&opt);
    fpt_resnet_free(m);
    return rc;
}
