// none.c — no perturbation: the baseline runs every prediction starts from.
#include "train/protocols/protocols.h"

#include <math.h>

static const fpt_protocol_key *const keys[] = {NULL};

const fpt_protocol_def fpt_protocol_none = {
    .name = "none",
    .kind = FPT_PROTO_NONE,
    .keys = keys,
    .summary = "no perturbation (the baseline)",
    .model = FPT_PREDICT_NOTHING,
    .synth_after = 0,
};
