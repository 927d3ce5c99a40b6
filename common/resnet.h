// resnet.h — ResNet-18, CIFAR variant, in one flat parameter arena.
//
// Architecture (He et al. 2016, CIFAR stem as in the study):
//   stem   conv3x3(3 -> w, stride 1) BN ReLU            (no max-pool)
//   stage  s = 1..4 of two BasicBlocks, width w*2^(s-1), stride 2 for s > 1
//          block: conv3x3 BN ReLU conv3x3 BN, + shortcut, ReLU;
//          shortcut = identity, or conv1x1(stride) BN when the shape changes
//   head   global average pool, linear(8w -> num_classes)
// w = 64 with 10 classes is the standard 11,173,962-parameter ResNet-18.
//
// Memory.  params, grads and the SGD momentum each live in ONE float array
// of n_params, in PyTorch's named_parameters() order (so a state dump maps
// one to one, and a perturbation is a loop over one array).  The BatchNorm
// running statistics live in `buffers` ((2, C) = [mean; var] per BN layer,
// in module order).  `tensors` describes each parameter tensor's place and
// kind, which the perturbation protocols need.
#ifndef FPT_RESNET_H
#define FPT_RESNET_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "layers.h"

typedef enum fpt_param_kind {
    FPT_PARAM_CONV_W,   // (Cout, Cin, K, K), Kaiming normal, fan_out
    FPT_PARAM_BN_W,     // (C) BN scale gamma, init 1
    FPT_PARAM_BN_B,     // (C) BN shift beta, init 0
    FPT_PARAM_FC_W,     // (out, in), U(-1/sqrt(in), 1/sqrt(in))
    FPT_PARAM_FC_B,     // (out),     U(-1/sqrt(in), 1/sqrt(in))
} fpt_param_kind;

typedef struct fpt_param_tensor {
    char name[64];          // PyTorch-style name, e.g. "layer2.0.shortcut.0.weight"
    fpt_param_kind kind;
    size_t offset, size;    // floats, into params/grads
    int fan_in, fan_out;
} fpt_param_tensor;

#define FPT_MAX_TENSORS 64

// A convolution followed by BatchNorm: offsets of its parameters and stats.
typedef struct fpt_convbn {
    fpt_conv_shape s;
    size_t w, gamma, beta;  // offsets into params
    size_t running;         // offset into buffers: (2, cout)
    size_t save;            // offset into the per-batch BN save arrays: (2, cout)
} fpt_convbn;

typedef struct fpt_block {
    fpt_convbn c1, c2, proj;
    int has_proj;
    int cin, cout, stride, h_in, h_out;  // h: square spatial size
    // activations of the current batch, (C, N, h, h) each; see resnet.c
    float *z1, *a1, *z2, *zs, *out;
} fpt_block;

typedef struct fpt_resnet {
    int width, num_classes, image_hw;    // image_hw: input is (3, hw, hw)
    fpt_convbn stem;
    fpt_block blocks[8];
    size_t fc_w, fc_b;                   // offsets into params
    int fc_in;

    size_t n_params, n_buffers, n_bn_channels;
    float *params, *grads, *buffers;
    fpt_param_tensor tensors[FPT_MAX_TENSORS];
    int n_tensors;

    // Per-batch state, (re)allocated by fpt_resnet_forward for batch <= batch_cap.
    int batch_cap, batch;
    size_t ws_floats;                    // im2col budget per buffer (floats)
    float *act_arena;
    float *x, *z0, *a0;                  // input (3,N,hw,hw) and stem activations
    float *bn_save;                      // (n_bn_channels * 2) means and invstds
    float *pooled, *logits, *dlogits, *dpooled;
    float *g[4];                         // gradient scratch, largest activation each
    fpt_conv_ws ws;
} fpt_resnet;

// Builds the layout and allocates params, grads and buffers (zeroed; call
// fpt_resnet_init).  width >= 1, num_classes >= 2, image_hw a multiple of 8.
int fpt_resnet_create(fpt_resnet **out, int width, int num_classes, int image_hw,
                      fpt_err *err);
void fpt_resnet_free(fpt_resnet *m);

// torchvision initialisation drawn from (seed, FPT_RNG_INIT, draw): conv
// weights N(0, 2/fan_out), BN gamma 1 and beta 0, linear weight and bias
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)).  Writes a whole parameter arena into
// `params` (m->params, or another array of n_params for a fresh draw used by
// a perturbation).  Tensor t of draw d uses stream d*256 + t.
void fpt_resnet_init_params(const fpt_resnet *m, uint64_t seed, uint32_t draw, float *params);
// BatchNorm running statistics to their initial mean 0, var 1.
void fpt_resnet_init_buffers(const fpt_resnet *m, float *buffers);

// Forward pass on x (N, 3, hw, hw) NCHW.  train != 0: batch statistics, the
// running statistics are updated, and activations are kept for backward.
// Returns 0 and leaves logits (N, num_classes) in m->logits.
int fpt_resnet_forward(fpt_resnet *m, const float *x, int N, int train, fpt_err *err);

// After a training forward: mean cross-entropy of m->logits against labels,
// and the gradient of it with respect to every parameter into m->grads.
// Returns the loss; *correct gets the number of top-1 hits if non-NULL.
double fpt_resnet_backward(fpt_resnet *m, const int32_t *labels, int *correct);

// FLOPs (multiply-add = 2) of one forward pass of one image, convolutions and
// linear layer only.  Training is about 3x this.
double fpt_resnet_forward_flops(const fpt_resnet *m);

#endif
