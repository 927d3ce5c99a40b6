// shrink_perturb.c — shrink and perturb (Ash & Adams 2020): every
// parameter and the BN running statistics become lambda*theta +
// sigma*theta_new (theta_new a fresh initialisation: running mean 0, var 1);
// momentum zeroed (the study rebuilt its optimizer).  Variant study: the
// stage buffers of the study's network are shrunk too (protocol.h).
#include "train/protocols/protocols.h"

#include <math.h>

static int needs_stage_norm(const fpt_protocol *p) { return p->variant == FPT_VARIANT_STUDY; }

static int apply(const fpt_protocol *p, fpt_resnet *m, fpt_sgd *opt, uint64_t seed,
                 uint32_t event, float *scratch, uint8_t *chosen, fpt_err *err) {
    (void)chosen;
    const uint32_t draw = event + 1;
    // The study's variant shrinks the stage buffers too: without them it
    // would silently be the clean one.
    if (needs_stage_norm(p) && !m->stage_norm)
        return fpt_fail(err, "shrink_perturb variant study needs the network's stage "
                             "buffers (fpt_resnet_arch.stage_norm)");
    const float lam = (float)p->shrink, sig = (float)p->sigma;
    fpt_resnet_init_params(m, seed, draw, scratch);
    for (size_t i = 0; i < m->n_params; i++)
        m->params[i] = lam * m->params[i] + sig * scratch[i];
    // A fresh network's running statistics are mean 0, var 1 (and, with
    // stage_norm, its stage buffers mean 0, std 1: shrunk alike).
    float *fresh = scratch;   // reuse: n_buffers < n_params
    fpt_resnet_init_buffers(m, fresh);
    for (size_t i = 0; i < m->n_buffers; i++)
        m->buffers[i] = lam * m->buffers[i] + sig * fresh[i];
    fpt_sgd_reset(opt);
    return 0;
}

static const fpt_protocol_key key_shrink = {
    "shrink", FPT_KEY_DOUBLE, offsetof(fpt_protocol, shrink), 0, 1, 0, NULL, "shrink",
    "expected 0 <= lambda <= 1", "shrink_perturb: lambda", FPT_HASH_V1, 0};
static const fpt_protocol_key key_sigma = {
    "sigma", FPT_KEY_DOUBLE, offsetof(fpt_protocol, sigma), 0, 10, 0, NULL, "sigma",
    "expected 0 <= sigma <= 10", "shrink_perturb: sigma", FPT_HASH_V1, 0};

static const fpt_protocol_key *const keys[] = {&key_shrink, &key_sigma, &fpt_key_variant, NULL};

const fpt_protocol_def fpt_protocol_shrink_perturb = {
    .name = "shrink_perturb",
    .kind = FPT_PROTO_SHRINK_PERTURB,
    .keys = keys,
    .summary = "theta <- lambda theta + sigma theta_new (shrink and perturb)",
    .model = FPT_PREDICT_QSS,
    .synth_after = 1,
    .apply = apply,
    .needs_stage_norm = needs_stage_norm,
};
