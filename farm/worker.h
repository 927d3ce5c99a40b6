// worker.h — the worker ranks of the farm (see worker.c, farm_proto.h).
#ifndef FPT_WORKER_H
#define FPT_WORKER_H

#include "base/error.h"
#include "campaign/job_spec.h"

// Checks this worker's setup, agrees on it with every rank (farm_proto.h),
// then runs jobs until the coordinator says there are no more (or asks to
// stop).  Checkpoints go to ckpt_dir/job-<id>.ckpt, owned by database_id (32
// hex digits, store.h).  noop: no training, each job sends `epochs`
// synthetic records at once (benchmarks of the farm itself).  Errors go to
// the coordinator (TAG_ERROR), which reports them and ends the farm; -1 is
// returned only when even that is impossible.
int fpt_worker_main(const fpt_job_spec *spec, const char *ckpt_dir, const char *database_id,
                    int noop, fpt_err *err);

// The setup agreement's reduction (farm_proto.h): every rank calls it once
// with its own failure (0 or 1); returns how many ranks failed.  Rank 0
// waits politely (it must not spin a core away from the workers).
int fpt_farm_setup_agree(int failed);

#endif
