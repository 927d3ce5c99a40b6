// worker.h — the worker ranks of the farm (see worker.c, farm_proto.h).
#ifndef FPT_WORKER_H
#define FPT_WORKER_H

#include "error.h"
#include "job_spec.h"

// Runs jobs until the coordinator says there are no more (or asks to stop).
// Checkpoints go to ckpt_dir/job-<id>.ckpt.  noop: no training, each job
// sends `epochs` synthetic records at once (benchmarks of the farm itself).
int fpt_worker_main(const fpt_job_spec *spec, const char *ckpt_dir, int noop, fpt_err *err);

#endif
