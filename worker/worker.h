// worker.h — the worker ranks of the farm (see worker.c, farm_proto.h).
#ifndef FPT_WORKER_H
#define FPT_WORKER_H

#include "error.h"
#include "job_spec.h"

// Runs jobs until the coordinator says there are no more (or asks to stop).
// Checkpoints go to ckpt_dir/job-<id>.ckpt.
int fpt_worker_main(const fpt_job_spec *spec, const char *ckpt_dir, fpt_err *err);

#endif
