// reset.c — stochastic resetting: at each event the network is initialised
// afresh (draw event + 1 of the run's seed), its BatchNorm statistics reset
// and the optimizer's momentum zeroed.  The analysis predicts it from the
// baseline alone (a restart: SCIENCE.md s4).
#include "train/protocols/protocols.h"

#include <math.h>

static int apply(const fpt_protocol *p, fpt_resnet *m, fpt_sgd *opt, uint64_t seed,
                 uint32_t event, float *scratch, uint8_t *chosen, fpt_err *err) {
    (void)p, (void)scratch, (void)chosen, (void)err;
    fpt_resnet_init_params(m, seed, event + 1, m->params);
    fpt_resnet_init_buffers(m, m->buffers);
    fpt_sgd_reset(opt);
    return 0;
}

static const fpt_protocol_key *const keys[] = {NULL};

const fpt_protocol_def fpt_protocol_reset = {
    .name = "reset",
    .kind = FPT_PROTO_RESET,
    .keys = keys,
    .summary = "fresh initialisation (stochastic resetting)",
    .model = FPT_PREDICT_RESTART,
    .synth_after = 0,   // the synthetic law restarts its run instead
    .apply = apply,
};
