// prof.c — storage for the per-layer-type timers (see prof.h).
#include "base/prof.h"

fpt_prof fpt_prof_global;
const char *const fpt_prof_names[FPT_PROF_KINDS] = {
    "conv forward", "conv backward", "batchnorm", "relu/add/layout", "pool+linear+loss", "sgd",
    "(of conv: im2col/col2im)",
};
