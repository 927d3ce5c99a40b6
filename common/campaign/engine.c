// engine.c — records of synthetic and replayed jobs (engine.h).
#include "campaign/engine.h"

#include <math.h>

#include "train/synth_law.h"

int fpt_engine_records(const fpt_job_spec *spec, const fpt_run_config *cfg, const fpt_replay *r,
                       fpt_epoch_record *recs, int *n, fpt_err *err) {
    *n = cfg->epochs;
    if (spec->engine == FPT_ENGINE_SYNTHETIC) {
        fpt_synth_run(&spec->law, cfg, recs);
        return 0;
    }
    if (spec->engine != FPT_ENGINE_REPLAY || !r)
        return fpt_fail(err, "internal: job of engine '%s' has no records to make",
                        fpt_engine_name(spec->engine));
    const double *acc;
    int len;
    const int perturbing = cfg->protocol.kind != FPT_PROTO_NONE;
    const double period = perturbing ? cfg->protocol.period : 0;   // epochs
    if (fpt_replay_trace(r, fpt_protocol_name(cfg->protocol.kind), period, cfg->seed, &acc, &len,
                         err))
        return -1;
    if (len < *n) *n = len;
    for (int e = 1; e <= *n; e++)
        recs[e - 1] = (fpt_epoch_record){
            .epoch = e, .test_acc = acc[e - 1], .train_loss = NAN, .test_loss = NAN,
            .lr = NAN, .seconds = NAN,
            // the study perturbed after the evaluation of epochs tau, 2 tau, ...
            .perturbed = perturbing && e % cfg->protocol.period == 0};
    return 0;
}
