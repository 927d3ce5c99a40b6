// layers.h — the layers of a CIFAR ResNet, each as a forward/backward pair.
//
// Layout.  Activations are stored channel-major, (C, N, H, W): all images of
// one channel are contiguous.  This is PyTorch's NCHW with the first two axes
// swapped, chosen because (a) a convolution over the whole batch is then ONE
// sgemm whose output lands directly in (Cout, N, Ho, Wo) with no transpose,
// and (b) BatchNorm reduces over one contiguous run per channel.  Images
// enter as NCHW and are converted once (fpt_nchw_to_cnhw).
//
// Gradients of parameters are OVERWRITTEN, not accumulated: every parameter
// of a ResNet is used exactly once per step, so no zero_grad is needed.
//
// Every optimized kernel has a plain reference kernel beside it (suffix
// _ref), written as the textbook loop, used by the tests as an independent
// check of the optimized one.
//
// Threads: OpenMP loops are split over channels or output rows, never inside
// a reduction, so results are identical for any OpenMP thread count.
#ifndef FPT_LAYERS_H
#define FPT_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

// ---- layout -------------------------------------------------------------
// x: (N, C, HW) -> y: (C, N, HW)
void fpt_nchw_to_cnhw(const float *x, float *y, int N, int C, int HW);

// ---- conv2d (no bias) ----------------------------------------------------
typedef struct fpt_conv_shape {
    int cin, cout, k, stride, pad;
} fpt_conv_shape;

static inline int fpt_conv_out_size(int in, int k, int stride, int pad) {
    return (in + 2 * pad - k) / stride + 1;
}

// Scratch for im2col: `col` and `dcol` hold `cap` floats each.  The batch is
// processed in chunks of whole images so that cin*k*k*chunk*Ho*Wo <= cap;
// chunking depends only on shapes and cap, never on threads.
typedef struct fpt_conv_ws {
    float *col, *dcol;
    size_t cap;   // floats in each of col, dcol
} fpt_conv_ws;

// x: (Cin, N, H, W), w: (Cout, Cin, K, K) -> y: (Cout, N, Ho, Wo)
void fpt_conv2d_forward(const fpt_conv_shape *s, int N, int H, int W,
                        const float *x, const float *w, float *y, fpt_conv_ws *ws);
// dy: (Cout, N, Ho, Wo) -> dw: (Cout, Cin, K, K) (overwritten),
// dx: (Cin, N, H, W) (overwritten; may be NULL when not needed, e.g. the stem)
void fpt_conv2d_backward(const fpt_conv_shape *s, int N, int H, int W,
                         const float *x, const float *w, const float *dy,
                         float *dx, float *dw, fpt_conv_ws *ws);
// The same, plus a residual: dx = (gradient at x) + dx_add, where dx_add
// (Cin, N, H, W) may alias dx.  Saves the separate pass that adds the
// shortcut's gradient in a residual block.
void fpt_conv2d_backward_residual(const fpt_conv_shape *s, int N, int H, int W,
                                  const float *x, const float *w, const float *dy,
                                  float *dx, const float *dx_add, float *dw, fpt_conv_ws *ws);
// Direct-loop references with the same contracts (no workspace).  The
// backward one sums in double, in buffers of its own the size of x and w:
// it fails (dx, dw untouched) only when they cannot be allocated.
void fpt_conv2d_forward_ref(const fpt_conv_shape *s, int N, int H, int W,
                            const float *x, const float *w, float *y);
int fpt_conv2d_backward_ref(const fpt_conv_shape *s, int N, int H, int W,
                            const float *x, const float *w, const float *dy,
                            float *dx, float *dw, fpt_err *err);

// ---- BatchNorm2d -----------------------------------------------------------
// PyTorch semantics: training normalizes with the batch mean and the biased
// batch variance, and updates running_mean/var with momentum m using the
// UNBIASED batch variance; evaluation uses the running statistics.
#define FPT_BN_EPS 1e-5
#define FPT_BN_MOMENTUM 0.1

// x, y: (C, M) with M = N*H*W.  Saves per-channel mean and 1/sqrt(var+eps)
// (each (C)) for backward.  running: (2, C) = [mean; var], updated in place.
void fpt_bn_forward_train(int C, size_t M, const float *x, const float *gamma,
                          const float *beta, float *running, float *save_mean,
                          float *save_invstd, float *y);
void fpt_bn_forward_eval(int C, size_t M, const float *x, const float *gamma,
                         const float *beta, const float *running, float *y);
// dx may alias dy.  dgamma, dbeta: (C), overwritten.
void fpt_bn_backward(int C, size_t M, const float *x, const float *gamma,
                     const float *save_mean, const float *save_invstd,
                     const float *dy, float *dx, float *dgamma, float *dbeta);
// Fused BN then ReLU (y = max(0, BN(x))): one pass instead of two.  The
// reference is fpt_bn_forward_*_ref followed by fpt_relu_forward.
void fpt_bn_relu_forward_train(int C, size_t M, const float *x, const float *gamma,
                               const float *beta, float *running, float *save_mean,
                               float *save_invstd, float *y);
void fpt_bn_relu_forward_eval(int C, size_t M, const float *x, const float *gamma,
                              const float *beta, const float *running, float *y);
// Backward through ReLU then BN: first dy *= (relu_out > 0) IN PLACE (the
// ReLU's backward; the caller may reuse the masked gradient, e.g. for a
// residual shortcut), then fpt_bn_backward.  relu_out is the fused forward's
// output.  dx may alias dy.
void fpt_bn_relu_backward(int C, size_t M, const float *x, const float *relu_out,
                          const float *gamma, const float *save_mean, const float *save_invstd,
                          float *dy, float *dx, float *dgamma, float *dbeta);
void fpt_bn_forward_train_ref(int C, size_t M, const float *x, const float *gamma,
                              const float *beta, float *running, float *save_mean,
                              float *save_invstd, float *y);
void fpt_bn_backward_ref(int C, size_t M, const float *x, const float *gamma,
                         const float *save_mean, const float *save_invstd,
                         const float *dy, float *dx, float *dgamma, float *dbeta);

// ---- element-wise ----------------------------------------------------------
void fpt_relu_forward(size_t n, const float *x, float *y);          // y may alias x
// Uses the forward OUTPUT y (y > 0 <=> x > 0); dx may alias dy.
void fpt_relu_backward(size_t n, const float *y, const float *dy, float *dx);
void fpt_add_inplace(size_t n, float *y, const float *x);          // y += x
void fpt_add_relu_inplace(size_t n, float *y, const float *x);     // y = max(0, y + x)

// ---- global average pool ----------------------------------------------------
// x: (C, N, HW) -> y: (N, C)
void fpt_avgpool_forward(int C, int N, int HW, const float *x, float *y);
// dy: (N, C) -> dx: (C, N, HW)
void fpt_avgpool_backward(int C, int N, int HW, const float *dy, float *dx);

// ---- linear -----------------------------------------------------------------
// x: (N, in), w: (out, in), b: (out) -> y: (N, out)
void fpt_linear_forward(int N, int in, int out, const float *x, const float *w,
                        const float *b, float *y);
// dy: (N, out) -> dx: (N, in), dw: (out, in), db: (out), all overwritten
void fpt_linear_backward(int N, int in, int out, const float *x, const float *w,
                         const float *dy, float *dx, float *dw, float *db);

// ---- softmax cross-entropy ---------------------------------------------------
// logits: (N, K), labels: (N) in [0, K).  Returns the mean loss over the batch
// (as PyTorch's F.cross_entropy) and, when dlogits != NULL, its gradient
// (softmax - onehot) / N.  Also counts correct top-1 predictions in *correct
// when correct != NULL.
double fpt_softmax_xent(int N, int K, const float *logits, const int32_t *labels,
                        float *dlogits, int *correct);

#endif
