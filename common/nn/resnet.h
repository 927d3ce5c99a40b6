// resnet.h — ResNet-18, CIFAR variant, in one flat parameter arena.
//
// Architecture (He et al. 2016, CIFAR stem as in the study):
//   input  (C, hw, hw): C = 3 for CIFAR, 1 for MNIST-format data
//   stem   conv3x3(C -> w, stride 1) BN ReLU            (no max-pool)
//   stage  s = 1..4 of two BasicBlocks, width w*2^(s-1), stride 2 for s > 1
//          block: conv3x3 BN ReLU conv3x3 BN, + shortcut, ReLU;
//          shortcut = identity, or conv1x1(stride) BN when the shape changes
//   head   global average pool, linear(8w -> num_classes)
// w = 64 with 10 classes is the standard 11,173,962-parameter ResNet-18.
// Spatial sizes: stride-2 stages give ceil(h/2) (3x3 pad 1 and 1x1 pad 0
// alike), so 32 -> 32, 16, 8, 4 and 28 -> 28, 14, 7, 4.
//
// Stage normalisation (optional, `stage_norm`): the study's network
// (Hirshberg-Lab/OptPerturbationsNN, nets.py) carries two scalar buffers per
// stage output, mean_j (init 0) and std_j (init 1), j = 1..4, and computes
// x = (x - mean_j) / std_j after stage j whenever (mean_j, std_j) != (0, 1).
// They matter only under its shrink-and-perturb, which shrinks them with the
// rest of the state (protocol.h).  They live at the end of `buffers`,
// [mean_1, std_1, ..., mean_4, std_4], so checkpoints carry them.
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

#include "nn/backend.h"
#include "base/error.h"
#include "nn/layers.h"

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
    int fan_in, fan_out;    // conv: Cin*K*K, Cout*K*K and linear: in, out, as torch.nn.init
                            // computes them; a bias: its weight's fan_in; BN: 1, C (unused)
    int ndim, shape[4];     // the PyTorch shape: (Cout, Cin, K, K), (C), (out, in), (out)
} fpt_param_tensor;

#define FPT_MAX_TENSORS 64

// A convolution followed by BatchNorm: offsets of its parameters and stats.
typedef struct fpt_convbn {
    fpt_conv_shape s;
    int id;                 // 0..n_layers-1 in module order: the backend's plan index
    int h_in, h_out;        // square spatial size of its input and output
    int relu;               // a ReLU follows the BN (the stem, each block's conv1)
    size_t w, gamma, beta;  // offsets into params
    size_t running;         // offset into buffers: (2, cout)
} fpt_convbn;

#define FPT_MAX_LAYERS 24   // conv+BN layers: ResNet-18 has 20

typedef struct fpt_block {
    fpt_convbn c1, c2, proj;
    int has_proj;
    int cin, cout, stride, h_in, h_out;  // h: square spatial size
    // activations of the current batch, (N, C, h, h) each in the backend's
    // layout (backend/ops.h); see resnet.c
    void *z1, *a1, *z2, *zs, *out;
    // Last block of a stage with stage_norm: (out - mean) / std, and what the
    // next layer reads (`normed` when the stage's normalisation was active in
    // the last forward, else `out`).
    void *normed;
    const void *y;
} fpt_block;

// What fpt_resnet_create builds.
// The widest model (base width w; 64 is the standard ResNet-18): the one
// limit the network, the run configuration and `--width` all check.
#define FPT_RESNET_MAX_WIDTH 256

typedef struct fpt_resnet_arch {
    int width;          // base width w, 1..1024 (64: the standard ResNet-18)
    int num_classes;    // outputs, 2..100000
    int in_channels;    // input channels, 1..4
    int image_hw;       // input height = width, 4..512 pixels
    int stage_norm;     // 1: the study network's per-stage buffers (above)
    fpt_backend backend;      // FPT_BACKEND_DEFAULT (0): the fastest built
    fpt_precision precision;  // FPT_PRECISION_FP32 (0) or bf16 (backend.h)
} fpt_resnet_arch;

struct fpt_net_ops;

typedef struct fpt_resnet {
    int width, num_classes, image_hw;    // image_hw: input is (in_channels, hw, hw)
    int in_channels, stage_norm;
    size_t stage_buf;                    // offset into buffers of (mean_1, std_1, ...) if stage_norm
    int stage_active[4];                 // stage j's normalisation applied in the last forward
    fpt_convbn stem;
    fpt_block blocks[8];
    int n_layers;                        // conv+BN layers (fpt_convbn.id < n_layers)
    fpt_convbn *layer[FPT_MAX_LAYERS];   // by id
    size_t fc_w, fc_b;                   // offsets into params
    int fc_in;

    size_t n_params, n_buffers, n_bn_channels;
    float *params, *grads, *buffers;
    fpt_param_tensor tensors[FPT_MAX_TENSORS];
    int n_tensors;

    // The compute backend (backend.h) and its state: plans, workspace.
    fpt_backend backend;                 // resolved: never FPT_BACKEND_DEFAULT
    fpt_precision precision;
    const struct fpt_net_ops *ops;
    void *be;

    // Per-batch state, (re)allocated by fpt_resnet_forward for batch <= batch_cap.
    int batch_cap, batch;
    void *act_arena;
    void *x, *z0, *a0;                   // input and stem activations (backend layout)
    void *g[4];                          // gradient scratch, largest activation each
    float *pooled, *logits, *dlogits, *dpooled;   // (N, fc_in), (N, classes): fp32 plain
} fpt_resnet;

// Builds the layout, allocates params, grads and buffers (zeroed; call
// fpt_resnet_init_*) and creates the backend.  Ranges as in fpt_resnet_arch;
// errors say which, and fpt_backend_check's for the backend and precision.
int fpt_resnet_create(fpt_resnet **out, const fpt_resnet_arch *arch, fpt_err *err);
void fpt_resnet_free(fpt_resnet *m);

// torchvision initialisation drawn from (seed, FPT_RNG_INIT, draw): conv
// weights N(0, 2/fan_out), BN gamma 1 and beta 0, linear weight and bias
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)).  Writes a whole parameter arena into
// `params` (m->params, or another array of n_params for a fresh draw used by
// a perturbation).  Tensor t of draw d uses stream d*256 + t.
void fpt_resnet_init_params(const fpt_resnet *m, uint64_t seed, uint32_t draw, float *params);
// BatchNorm running statistics to their initial mean 0, var 1 (and the
// stage buffers, if any, to mean 0, std 1).
void fpt_resnet_init_buffers(const fpt_resnet *m, float *buffers);

// Forward pass on x (N, in_channels, hw, hw) NCHW.  train != 0: batch statistics, the
// running statistics are updated, and activations are kept for backward.
// Returns 0 and leaves logits (N, num_classes) in m->logits.  Reads
// m->params afresh every call (a protocol or SGD may have changed them).
int fpt_resnet_forward(fpt_resnet *m, const float *x, int N, int train, fpt_err *err);

// After a training forward: mean cross-entropy of m->logits against labels,
// and the gradient of it with respect to every parameter into m->grads.
// Returns the loss; *correct gets the number of top-1 hits if non-NULL.
double fpt_resnet_backward(fpt_resnet *m, const int32_t *labels, int *correct);

// FLOPs (multiply-add = 2) of one forward pass of one image, convolutions and
// linear layer only.  Training is about 3x this.
double fpt_resnet_forward_flops(const fpt_resnet *m);

#endif
