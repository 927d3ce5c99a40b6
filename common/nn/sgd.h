// sgd.h — stochastic gradient descent with PyTorch's torch.optim.SGD
// semantics (dampening 0, no Nesterov), and learning-rate schedules.
#ifndef FPT_SGD_H
#define FPT_SGD_H

#include <stddef.h>

#include "base/error.h"

typedef struct fpt_sgd {
    double lr, momentum, weight_decay;
    size_t n;
    float *velocity;   // (n) momentum buffer; zero = freshly built optimizer
} fpt_sgd;

int fpt_sgd_create(fpt_sgd *opt, size_t n, double momentum, double weight_decay, fpt_err *err);
void fpt_sgd_free(fpt_sgd *opt);
// Zeroes the momentum buffer, as rebuilding the optimizer does in PyTorch.
void fpt_sgd_reset(fpt_sgd *opt);
// One step at learning rate lr, per element:
//   g += wd * theta;  v = mu * v + g;  theta -= lr * v
// With momentum 0 the buffer is not touched (theta -= lr * g).
void fpt_sgd_step(fpt_sgd *opt, float *params, const float *grads, double lr);

// Learning rate as a function of the 0-based epoch, matching PyTorch's
// schedulers stepped once per epoch:
//   constant: base
//   step:     base * gamma^floor(epoch / step_size)              (StepLR)
//   cosine:   eta_min + (base - eta_min) (1 + cos(pi e / t_max)) / 2
//             (CosineAnnealingLR; past t_max it follows the cosine back up)
//   sgdr:     the same within cycles of length t0, t0*t_mult, ...  restarting
//             at base at each cycle start (CosineAnnealingWarmRestarts)
typedef enum fpt_lr_kind { FPT_LR_CONSTANT, FPT_LR_STEP, FPT_LR_COSINE, FPT_LR_SGDR } fpt_lr_kind;

typedef struct fpt_lr_schedule {
    fpt_lr_kind kind;
    double base;        // initial learning rate
    double gamma;       // step: factor
    int step_size;      // step: epochs between factors
    int t_max;          // cosine: half period, epochs
    int t0, t_mult;     // sgdr: first cycle length (epochs), growth factor
    double eta_min;     // cosine, sgdr: floor
} fpt_lr_schedule;

int fpt_lr_check(const fpt_lr_schedule *s, fpt_err *err);
double fpt_lr_at(const fpt_lr_schedule *s, int epoch);

#endif
