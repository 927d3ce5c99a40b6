// checkpoint.h — saving and restoring a training run, atomically.
//
// A checkpoint holds everything a run needs to continue exactly as if it had
// never stopped: the parameters, the BatchNorm running statistics, the SGD
// momentum, and the run's small state below.  All randomness is counter-based
// (rng.h) and keyed by epoch and event number, so no generator state needs
// saving.  Resuming from a checkpoint reproduces the uninterrupted trace bit
// for bit (same binary, thread count and BLAS).
//
// File format (little-endian, as written by the machine; not meant to move
// between architectures):
//   magic "FPTCKPT\0" (8 bytes), uint32 version (2),
//   uint32 header bytes (112: the size of the header fields that follow),
//   the header, fixed-width fields packed without padding:
//     uint64 config_hash, int32 epoch, perturb_events, last_restart,
//     diverged, n_targets, int32 fpt[8] (fpt_run_state's fields, in order),
//     int32 width, num_classes, image_hw, uint64 n_params, n_buffers
//     (the model's shape, which load checks against the model it fills),
//     uint8 owner_db[16], int64 owner_job (version 2: whose checkpoint it is),
//   params (n_params float32), buffers (n_buffers float32),
//   velocity (n_params float32),
//   uint64 FNV-1a hash (64 bit) of every byte before it.
// So a file is 128 + 4 * (2 n_params + n_buffers) + 8 bytes.  Version 1
// files (header 88 bytes, no owner) are still read, with the owner zero.  Load also
// rejects states no run can reach (negative epoch, n_targets > 8, an fpt
// entry or last_restart outside 0..epoch, diverged not 0/1), and save
// refuses to write them.
// Writing goes to "<path>.tmp.<pid>", is flushed and fsync'ed, then renamed
// over <path> and the directory fsync'ed: a crash or a full disk at any
// moment leaves either the old checkpoint or the new one, never a torn file.
#ifndef FPT_CHECKPOINT_H
#define FPT_CHECKPOINT_H

#include <stdint.h>

#include "base/error.h"
#include "nn/resnet.h"
#include "nn/sgd.h"

#define FPT_MAX_TARGETS 8

// The run's own state (besides the arrays).  Plain fixed-width fields.
typedef struct fpt_run_state {
    uint64_t config_hash;     // of the run's configuration: resume refuses a mismatch
    int32_t epoch;            // epochs completed (trained, evaluated, perturbed)
    int32_t perturb_events;   // perturbations applied so far (numbers fresh draws)
    int32_t last_restart;     // epoch after which the LR schedule last restarted (0 = start)
    int32_t diverged;         // 1 once the loss became NaN/Inf (the run then stops)
    int32_t n_targets;
    int32_t fpt[FPT_MAX_TARGETS];   // first epoch with test accuracy >= target k; 0 = not yet
    // Whose checkpoint this is: the farm's results database (its 128-bit
    // identity, store.h) and job id; all zero outside a farm (fptfarm train).
    // A worker resumes a checkpoint only if both are its job's.
    uint8_t owner_db[16];
    int64_t owner_job;
} fpt_run_state;

int fpt_checkpoint_save(const char *path, const fpt_run_state *st, const fpt_resnet *m,
                        const fpt_sgd *opt, fpt_err *err);
// Loads into an already-created model and optimizer of the same shape; any
// mismatch (magic, version, sizes, hash, truncation) is an error naming the
// file and leaves m and opt untouched.
int fpt_checkpoint_load(const char *path, fpt_run_state *st, fpt_resnet *m, fpt_sgd *opt,
                        fpt_err *err);
// Reads and verifies a checkpoint (format, size, hash, state) without a
// model: its run state, for deciding whether to resume it.
int fpt_checkpoint_peek(const char *path, fpt_run_state *st, fpt_err *err);
// The 32 hex digits of a database identity as owner_db bytes; -1 if malformed.
int fpt_checkpoint_owner_parse(const char *hex, uint8_t out[16]);

// A save writes "<path>.tmp.<pid>" and renames it over path; a process killed
// in between leaves that file (as large as a checkpoint) behind.  Removes
// every such leftover of path; call it only when no other process can be
// saving to path.
void fpt_checkpoint_remove_temporaries(const char *path);

#endif
