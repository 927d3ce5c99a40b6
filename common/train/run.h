// run.h — one training run: a (protocol, frequency, seed) trained for up to
// `epochs` epochs, evaluated after every epoch, perturbed on schedule, with
// its first-passage times recorded (docs/SCIENCE.md s1 and s3).
//
// Each epoch, in this order:
//   1. train one epoch (minibatches shuffled without replacement by default,
//      or drawn with replacement), learning rate fixed for the epoch;
//   2. evaluate test loss and accuracy (BN in evaluation mode);
//   3. first passage: for each target, the first epoch with accuracy >= it;
//   4. apply the protocol if it fires after this epoch;
//   5. emit the epoch record through the callback;
//   6. checkpoint every `checkpoint_every` epochs (and when stopped).
// A NaN/Inf training loss ends the run as diverged; the epoch in which it
// happened is not recorded.
#ifndef FPT_RUN_H
#define FPT_RUN_H

#include <stdint.h>

#include "nn/backend.h"
#include "train/checkpoint.h"
#include "data/dataset.h"
#include "base/error.h"
#include "train/protocol.h"
#include "nn/sgd.h"

typedef struct fpt_run_config {
    int width, num_classes;        // model
    int epochs, batch;             // E (epochs), minibatch size (images)
    fpt_lr_schedule lr;            // ignored by warm_restart (its own cosine)
    double momentum, weight_decay;
    int with_replacement;          // sample minibatches with replacement
    int augment;                   // random crop (+ flip) (off by default, as the study)
    int flip;                      // with augment: also mirror (default 1; 0 for digits)
    fpt_protocol protocol;
    int n_targets;
    double targets[FPT_MAX_TARGETS];   // test accuracy, percent
    int stop_at_target;            // end the run once every target is reached
    uint64_t seed;                 // the run's seed: init, data order, perturbations
    fpt_backend backend;           // compute backend (backend.h); default: the fastest built
    fpt_precision precision;       // fp32 or bf16 (mixed precision)
    const char *checkpoint_path;   // NULL: no checkpoints
    int checkpoint_every;          // epochs; 0: only when stopped
    uint8_t owner_db[16];          // written into checkpoints (fpt_run_state); resume
    int64_t owner_job;             // refuses a checkpoint of another owner
} fpt_run_config;

typedef struct fpt_epoch_record {
    int epoch;                 // 1-based
    double train_loss;         // mean minibatch loss over the epoch
    double test_loss;          // mean over the test split
    double test_acc;           // percent
    double lr;                 // learning rate used in the epoch
    int perturbed;             // the protocol fired after this epoch
    double seconds;            // wall time of the epoch (train + eval + perturb)
} fpt_epoch_record;

// Called after every epoch; return non-zero to stop the run cleanly (it is
// then checkpointed, if a path is set, and fpt_run returns FPT_RUN_STOPPED).
typedef int (*fpt_epoch_fn)(const fpt_epoch_record *rec, const fpt_run_state *st, void *ctx);

typedef enum fpt_run_outcome {
    FPT_RUN_COMPLETED,   // trained all epochs
    FPT_RUN_REACHED,     // stop_at_target and every target reached
    FPT_RUN_DIVERGED,    // loss became NaN/Inf
    FPT_RUN_STOPPED,     // the callback asked to stop
} fpt_run_outcome;

const char *fpt_run_outcome_name(fpt_run_outcome o);

// Fills defaults: width 16, 10 classes, 30 epochs, batch 128, constant
// lr 0.05, momentum 0.9, weight decay 5e-4, without replacement, no
// augmentation (flip when augmenting), protocol none, one target 50%, seed 1.
void fpt_run_config_defaults(fpt_run_config *c);
int fpt_run_config_check(const fpt_run_config *c, const fpt_dataset *d, fpt_err *err);
// Hash of everything that determines the trajectory's values (not epochs,
// targets, thread count or checkpointing), plus a tag of the dataset.
uint64_t fpt_run_config_hash(const fpt_run_config *c, const char *dataset_tag);

// Everything a run of c on d needs before its first epoch (configuration,
// model, optimizer, buffers, one training step's memory), allocated, checked
// and freed: a farm checks its setup once before any job starts.
int fpt_run_check_setup(const fpt_run_config *c, const fpt_dataset *d, fpt_err *err);

// Runs (or, with resume and an existing checkpoint, continues) the run.
// *state receives the final state (epochs done, first passages).
int fpt_run(const fpt_run_config *c, const fpt_dataset *d, const char *dataset_tag, int resume,
            fpt_epoch_fn on_epoch, void *ctx, fpt_run_state *state, fpt_run_outcome *outcome,
            fpt_err *err);

#endif
