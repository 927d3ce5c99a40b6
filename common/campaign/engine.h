// engine.h — the epoch records of a job that is not trained: the
// [synthetic] law (synth_law.h) or a [replay]ed recorded run (replay.h).
// The farm's workers stream them like a training run's; tests drive
// campaigns with them in-process.
#ifndef FPT_ENGINE_H
#define FPT_ENGINE_H

#include "base/error.h"
#include "campaign/job_spec.h"
#include "train/replay.h"
#include "train/run.h"

// Fills recs[0..*n) (room for cfg->epochs) for job config cfg of spec:
// synthetic, cfg->epochs records; replay (r: the loaded [replay] data), the
// recorded run cut to cfg->epochs (shorter if it is), with test accuracy and
// the perturbed flag only (the rest NaN: not recorded).
int fpt_engine_records(const fpt_job_spec *spec, const fpt_run_config *cfg, const fpt_replay *r,
                       fpt_epoch_record *recs, int *n, fpt_err *err);

#endif
