// test_stage_norm.c — the study network's per-stage output normalisation
// (resnet.h, "Stage normalisation"): the forward against a closed form, the
// backward against an equivalent plain network, and the identity buffers
// against the plain network.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/resnet.h"
#include "base/rng.h"

#define SEED 91
#define N 6
#define HW 12      // 12 -> 12, 6, 3, 2: odd sizes on the way down
#define CLASSES 5

static fpt_resnet *make(int stage_norm) {
    fpt_err err = {{0}};
    fpt_resnet *m;
    cr_assert_eq(fpt_resnet_create(&m, &(fpt_resnet_arch){.width = 2, .num_classes = CLASSES, .in_channels = 1, .image_hw = HW, .stage_norm = stage_norm}, &err),
                 0, "%s", err.msg);
    fpt_resnet_init_params(m, SEED, 0, m->params);
    fpt_resnet_init_buffers(m, m->buffers);
    return m;
}

static void batch(float *x, int32_t *y) {
    fpt_rng_fill_normal(SEED, FPT_RNG_TEST, 1, x, (size_t)N * HW * HW, 0.0f, 1.0f);
    for (int i = 0; i < N; i++) y[i] = i % CLASSES;
}

static double loss_of(fpt_resnet *m, const float *x, const int32_t *y) {
    fpt_err err = {{0}};
    cr_assert_eq(fpt_resnet_forward(m, x, N, 1, &err), 0, "%s", err.msg);
    return fpt_resnet_backward(m, y, NULL);
}

// Identity buffers (0, 1): bit-identical to the network without them, as the
// study's forward skips the division then.
Test(stage_norm, identity_buffers_change_nothing) {
    fpt_resnet *a = make(0), *b = make(1);
    cr_assert_eq(b->n_buffers, a->n_buffers + 8);
    cr_assert_eq(b->n_params, a->n_params);
    float x[N * HW * HW];
    int32_t y[N];
    batch(x, y);
    double la = loss_of(a, x, y), lb = loss_of(b, x, y);
    cr_expect_eq(la, lb);
    cr_expect_eq(memcmp(a->grads, b->grads, sizeof(float) * a->n_params), 0);
    fpt_resnet_free(a), fpt_resnet_free(b);
}

// Stage 4 feeds only the pool and the linear layer, so with (mean, std) =
// (0.5, 2) there: logits_b = (W pool_a - 0.5 W 1) / 2 + bias
//                          = (logits_a - bias) / 2 - 0.25 rowsum(W) + bias.
Test(stage_norm, last_stage_forward_has_a_closed_form) {
    fpt_resnet *a = make(0), *b = make(1);
    b->buffers[b->stage_buf + 6] = 0.5f;
    b->buffers[b->stage_buf + 7] = 2.0f;
    float x[N * HW * HW];
    int32_t y[N];
    batch(x, y);
    fpt_err err = {{0}};
    cr_assert_eq(fpt_resnet_forward(a, x, N, 1, &err), 0);
    cr_assert_eq(fpt_resnet_forward(b, x, N, 1, &err), 0);
    const float *W = a->params + a->fc_w, *bias = a->params + a->fc_b;
    for (int i = 0; i < N; i++)
        for (int k = 0; k < CLASSES; k++) {
            double rowsum = 0.0;
            for (int c = 0; c < a->fc_in; c++) rowsum += W[k * a->fc_in + c];
            const double want = (a->logits[i * CLASSES + k] - bias[k]) / 2.0 - 0.25 * rowsum +
                                bias[k];
            cr_expect_float_eq(b->logits[i * CLASSES + k], want, 1e-5 * (1.0 + fabs(want)),
                               "image %d class %d", i, k);
        }
    fpt_resnet_free(a), fpt_resnet_free(b);
}

// The backward against an equivalent plain network.  With mean_j = 0:
//  - after stages 1..3 every consumer of the stage's output is a convolution
//    followed by training-mode BatchNorm, which is invariant to scaling its
//    input (up to eps = 1e-5 against the batch variance), so the loss and
//    every gradient equal the plain network's;
//  - after stage 4, logits = W (pool / s4) + b: the plain network with
//    fc.weight = W / s4, whose fc.weight gradient is s4 times ours.
// A backward that skipped the 1/std (or applied it twice) would scale the
// gradients upstream of a stage by its std: 2, 0.5, 4 or 2.5 here.
Test(stage_norm, backward_equals_the_equivalent_plain_network) {
    fpt_resnet *m = make(1), *plain = make(0);
    const float sd[4] = {2.0f, 0.5f, 4.0f, 2.5f};
    for (int j = 0; j < 4; j++) m->buffers[m->stage_buf + 2 * j + 1] = sd[j];
    for (size_t i = 0; i < m->fc_in * (size_t)CLASSES; i++) plain->params[plain->fc_w + i] /= sd[3];
    float x[N * HW * HW];
    int32_t y[N];
    batch(x, y);
    const double lm = loss_of(m, x, y), lp = loss_of(plain, x, y);
    cr_expect_float_eq(lm, lp, 1e-4 * lp, "loss %.9g vs %.9g", lm, lp);
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < m->n_params; i++) {
        const int in_fc_w = i >= m->fc_w && i < m->fc_w + (size_t)m->fc_in * CLASSES;
        const double want = in_fc_w ? plain->grads[i] / sd[3] : plain->grads[i];
        num += (m->grads[i] - want) * (m->grads[i] - want);
        den += want * want;
    }
    cr_expect_leq(sqrt(num / den), 2e-3, "relative L2 error of the gradient %g",
                  sqrt(num / den));
    fpt_resnet_free(m), fpt_resnet_free(plain);
}

// Geometry of the 1-channel 28x28 network (Fashion-MNIST), written out: the
// stages run at 28, 14, 7, 4 (ceil of halving, as PyTorch's 3x3 pad-1 and
// 1x1 pad-0 stride-2 convolutions give), and the stem holds w * 1 * 3 * 3
// weights instead of w * 3 * 3 * 3.
Test(stage_norm, one_channel_28_pixel_geometry) {
    fpt_err err = {{0}};
    fpt_resnet *g, *c3;
    cr_assert_eq(fpt_resnet_create(&g, &(fpt_resnet_arch){.width = 8, .num_classes = 10, .in_channels = 1, .image_hw = 28, .stage_norm = 0}, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(fpt_resnet_create(&c3, &(fpt_resnet_arch){.width = 8, .num_classes = 10, .in_channels = 3, .image_hw = 28, .stage_norm = 0}, &err), 0, "%s",
                 err.msg);
    const int want[8] = {28, 28, 14, 14, 7, 7, 4, 4};
    for (int i = 0; i < 8; i++) cr_expect_eq(g->blocks[i].h_out, want[i], "block %d", i);
    cr_expect_eq(c3->n_params - g->n_params, (size_t)8 * 2 * 9);
    cr_expect_eq(g->tensors[0].shape[1], 1);
    // One forward and backward at 28 pixels: every number finite.
    float x[2 * 28 * 28];
    int32_t y[2] = {3, 7};
    fpt_rng_fill_normal(SEED, FPT_RNG_TEST, 2, x, 2 * 28 * 28, 0.0f, 1.0f);
    fpt_resnet_init_params(g, SEED, 0, g->params);
    fpt_resnet_init_buffers(g, g->buffers);
    cr_assert_eq(fpt_resnet_forward(g, x, 2, 1, &err), 0, "%s", err.msg);
    cr_expect(isfinite(fpt_resnet_backward(g, y, NULL)));
    for (size_t i = 0; i < g->n_params; i++) cr_assert(isfinite(g->grads[i]), "grad %zu", i);
    fpt_resnet_free(g), fpt_resnet_free(c3);
}
