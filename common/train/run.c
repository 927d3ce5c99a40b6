// run.c — the training run loop (see run.h).
#include "train/run.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis/first_passage.h"
#include "base/hash.h"
#include "base/memory.h"
#include "base/prof.h"
#include "nn/resnet.h"
#include "base/rng.h"

const char *fpt_run_outcome_name(fpt_run_outcome o) {
    static const char *const names[] = {"completed", "reached", "diverged", "stopped"};
    return (unsigned)o < 4 ? names[o] : "?";
}

void fpt_run_config_defaults(fpt_run_config *c) {
    memset(c, 0, sizeof *c);
    c->width = 16;
    c->num_classes = 10;
    c->epochs = 30;
    c->batch = 128;
    c->lr = (fpt_lr_schedule){.kind = FPT_LR_CONSTANT, .base = 0.05, .gamma = 0.1,
                              .step_size = 30, .t_max = 30, .t0 = 10, .t_mult = 1};
    c->momentum = 0.9;
    c->weight_decay = 5e-4;
    c->protocol = fpt_protocol_defaults;
    c->n_targets = 1;
    c->targets[0] = 50.0;
    c->seed = 1;
    c->flip = 1;
}

int fpt_run_config_check(const fpt_run_config *c, const fpt_dataset *d, fpt_err *err) {
    if (c->width < 1 || c->width > FPT_RESNET_MAX_WIDTH)
        return fpt_fail(err, "width %d out of range (expected 1..%d)", c->width,
                        FPT_RESNET_MAX_WIDTH);
    if (c->num_classes < d->num_classes || c->num_classes > 100000)
        return fpt_fail(err, "classes %d out of range (expected %d..100000: at least the "
                             "dataset's %d classes)", c->num_classes, d->num_classes,
                        d->num_classes);
    if (c->epochs < 1 || c->epochs > 100000)
        return fpt_fail(err, "epochs %d out of range (expected 1..100000)", c->epochs);
    if (c->batch < 1 || c->batch > 4096)
        return fpt_fail(err, "batch %d out of range (expected 1..4096)", c->batch);
    if (c->batch > d->train.n)
        return fpt_fail(err, "batch %d is larger than the %d training images", c->batch,
                        d->train.n);
    if (c->n_targets < 1 || c->n_targets > FPT_MAX_TARGETS)
        return fpt_fail(err, "%d targets (expected 1..%d)", c->n_targets, FPT_MAX_TARGETS);
    for (int k = 0; k < c->n_targets; k++)
        if (!(c->targets[k] > 0.0 && c->targets[k] <= 100.0))
            return fpt_fail(err, "target %g out of range (expected 0 < accuracy <= 100, "
                                 "percent)", c->targets[k]);
    if (c->checkpoint_every < 0)
        return fpt_fail(err, "checkpoint_every %d must be >= 0", c->checkpoint_every);
    if (fpt_lr_check(&c->lr, err) || fpt_protocol_check_lr(&c->protocol, c->lr.base, err))
        return -1;
    if (!(c->momentum >= 0.0 && c->momentum < 1.0))
        return fpt_fail(err, "momentum %g out of range (expected 0 <= momentum < 1)",
                        c->momentum);
    if (!(c->weight_decay >= 0.0 && c->weight_decay < 1.0))
        return fpt_fail(err, "weight_decay %g out of range (expected 0 <= wd < 1)",
                        c->weight_decay);
    return fpt_backend_check(c->backend, c->precision, err);
}

// FNV-1a over a canonical text of the trajectory-determining settings:
// stable across builds and struct layouts.  Settings added since v1 are
// appended only when they differ from the behaviour v1 had, so that the
// checkpoints of existing campaigns keep their hash.  The protocol's part
// comes from the protocol table (fpt_protocol_hash_v1/_extra): a new
// protocol parameter enters the hash without a line here.
uint64_t fpt_run_config_hash(const fpt_run_config *c, const char *dataset_tag) {
    char s[1024], proto[512], extra[256];
    if (fpt_protocol_hash_v1(&c->protocol, proto, sizeof proto) ||
        fpt_protocol_hash_extra(&c->protocol, extra, sizeof extra)) {
        assert(!"protocol hash text longer than its buffer");
        return 0;
    }
    int n = snprintf(s, sizeof s,
             "v1 data=%s width=%d classes=%d batch=%d lr=%d,%.17g,%.17g,%d,%d,%d,%d,%.17g "
             "mom=%.17g wd=%.17g repl=%d aug=%d proto=%s seed=%llu%s",
             dataset_tag ? dataset_tag : "", c->width, c->num_classes, c->batch, (int)c->lr.kind,
             c->lr.base, c->lr.gamma, c->lr.step_size, c->lr.t_max, c->lr.t0, c->lr.t_mult,
             c->lr.eta_min, c->momentum, c->weight_decay, c->with_replacement, c->augment,
             proto, (unsigned long long)c->seed, extra);
    if (c->augment && !c->flip && n > 0 && (size_t)n < sizeof s)
        n += snprintf(s + n, sizeof s - (size_t)n, " flip=0");
    // The precision changes the trajectory's values; the backend only their
    // rounding (as BLAS kernels and thread counts do), so a checkpoint may
    // resume on another backend.
    if (c->precision != FPT_PRECISION_FP32 && n > 0 && (size_t)n < sizeof s)
        n += snprintf(s + n, sizeof s - (size_t)n, " precision=%s", fpt_precision_name(c->precision));
    return fpt_fnv1a(FPT_FNV1A_INIT, s, strlen(s));
}

// Learning rate of epoch `epoch` (1-based): the protocol's hook when it has
// one (warm_restart's cosine restarted after each event), else the schedule.
static double lr_for_epoch(const fpt_run_config *c, const fpt_run_state *st, int epoch) {
    if (fpt_protocol_has_lr_hook(&c->protocol))
        return fpt_protocol_lr(&c->protocol, c->lr.base, NAN, epoch, st->last_restart);
    return fpt_lr_at(&c->lr, epoch - 1);
}

// The order of training images in `epoch`: a permutation (without
// replacement) or independent uniform draws (with replacement), from
// (seed, FPT_RNG_DATA_ORDER, stream = epoch).
static void epoch_order(const fpt_run_config *c, int n, int epoch, int *order) {
    fpt_rng r;
    fpt_rng_init(&r, c->seed, FPT_RNG_DATA_ORDER, (uint32_t)epoch);
    if (c->with_replacement) {
        for (int i = 0; i < n; i++) order[i] = (int)fpt_rng_below(&r, (uint32_t)n);
        return;
    }
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = n - 1; i > 0; i--) {   // Fisher-Yates
        int j = (int)fpt_rng_below(&r, (uint32_t)i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

typedef struct run_buffers {
    fpt_resnet *m;
    fpt_sgd opt;
    float *x, *scratch;   // batch (B, C, H, W); fresh-draw scratch (n_params)
    uint8_t *chosen;      // (n_params) partial_reset's selection
    int32_t *y;           // (B)
    int *order;           // (n_train)
    int *idx;             // (B) test indices
} run_buffers;

static void free_buffers(run_buffers *b) {
    fpt_free(b->x);
    fpt_free(b->scratch);
    fpt_free(b->chosen);
    fpt_free(b->y);
    fpt_free(b->order);
    fpt_free(b->idx);
    fpt_sgd_free(&b->opt);
    fpt_resnet_free(b->m);
}

// Trains one epoch; returns the mean minibatch loss (NaN if it diverged).
static int train_epoch(const fpt_run_config *c, const fpt_dataset *d, run_buffers *b, int epoch,
                       double lr, double *mean_loss, fpt_err *err) {
    const int n = d->train.n, B = c->batch;
    epoch_order(c, n, epoch, b->order);
    double sum = 0.0;
    for (int s = 0; s < n; s += B) {
        const int nb = n - s < B ? n - s : B;
        const unsigned aug = c->augment ? FPT_AUG_CROP | (c->flip ? FPT_AUG_FLIP : 0u) : 0u;
        fpt_dataset_batch(d, &d->train, b->order + s, nb, aug, c->seed, (uint32_t)epoch,
                          (uint64_t)s, b->x, b->y);
        if (fpt_resnet_forward(b->m, b->x, nb, 1, err)) return -1;
        double loss = fpt_resnet_backward(b->m, b->y, NULL);
        if (!isfinite(loss)) {
            *mean_loss = NAN;
            return 0;
        }
        sum += loss * nb;
        fpt_sgd_step(&b->opt, b->m->params, b->m->grads, lr);
    }
    *mean_loss = sum / n;
    return 0;
}

static int evaluate(const fpt_run_config *c, const fpt_dataset *d, run_buffers *b,
                    double *loss, double *acc, fpt_err *err) {
    const int n = d->test.n, B = c->batch;
    double sum = 0.0;
    long hits = 0;
    for (int s = 0; s < n; s += B) {
        const int nb = n - s < B ? n - s : B;
        for (int i = 0; i < nb; i++) b->idx[i] = s + i;
        fpt_dataset_batch(d, &d->test, b->idx, nb, 0, 0, 0, 0, b->x, b->y);
        if (fpt_resnet_forward(b->m, b->x, nb, 0, err)) return -1;
        int correct;
        sum += nb * fpt_softmax_xent(nb, b->m->num_classes, b->m->logits, b->y, NULL, &correct);
        hits += correct;
    }
    *loss = sum / n;
    *acc = 100.0 * (double)hits / n;
    return 0;
}

static int all_reached(const fpt_run_state *st) {
    for (int k = 0; k < st->n_targets; k++)
        if (st->fpt[k] == 0) return 0;
    return 1;
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

// The model, optimizer and batch buffers of a run of c on d.
static int alloc_buffers(const fpt_run_config *c, const fpt_dataset *d, run_buffers *b,
                         fpt_err *err) {
    const int B = c->batch;
    if (d->height != d->width)
        return fpt_fail(err, "images of %dx%d pixels: the network takes square images only",
                        d->height, d->width);
    const fpt_resnet_arch arch = {
        .width = c->width, .num_classes = c->num_classes, .in_channels = d->channels,
        .image_hw = d->height, .stage_norm = fpt_protocol_needs_stage_norm(&c->protocol),
        .backend = c->backend, .precision = c->precision};
    if (fpt_resnet_create(&b->m, &arch, err) ||
        fpt_sgd_create(&b->opt, b->m->n_params, c->momentum, c->weight_decay, err))
        return -1;
    b->x = fpt_calloc((size_t)B * d->image_bytes, sizeof(float), "batch images", err);
    b->y = b->x ? fpt_calloc((size_t)B, sizeof(int32_t), "batch labels", err) : NULL;
    b->idx = b->y ? fpt_calloc((size_t)B, sizeof(int), "test indices", err) : NULL;
    b->order = b->idx ? fpt_calloc((size_t)d->train.n, sizeof(int), "data order", err) : NULL;
    b->scratch = b->order ? fpt_calloc(b->m->n_params, sizeof(float), "perturbation draw", err)
                          : NULL;
    b->chosen = b->scratch ? fpt_calloc(b->m->n_params, 1, "partial_reset selection", err) : NULL;
    return b->chosen ? 0 : -1;
}

int fpt_run_check_setup(const fpt_run_config *c, const fpt_dataset *d, fpt_err *err) {
    if (fpt_run_config_check(c, d, err)) return -1;
    run_buffers b = {0};
    // One training step on a zero batch: what the backend allocates for a
    // batch (activations, plans, workspace) is allocated and checked too.
    int rc = alloc_buffers(c, d, &b, err);
    if (rc == 0) {
        fpt_resnet_init_params(b.m, c->seed, 0, b.m->params);
        fpt_resnet_init_buffers(b.m, b.m->buffers);
        rc = fpt_resnet_forward(b.m, b.x, c->batch, 1, err);
        if (rc == 0) (void)fpt_resnet_backward(b.m, b.y, NULL);
    }
    free_buffers(&b);
    return rc;
}

int fpt_run(const fpt_run_config *c, const fpt_dataset *d, const char *dataset_tag, int resume,
            fpt_epoch_fn on_epoch, void *ctx, fpt_run_state *state, fpt_run_outcome *outcome,
            fpt_err *err) {
    if (fpt_run_config_check(c, d, err)) return -1;
    run_buffers b = {0};
    int rc = -1;
    fpt_run_state st = {0};
    st.config_hash = fpt_run_config_hash(c, dataset_tag);
    st.n_targets = c->n_targets;
    memcpy(st.owner_db, c->owner_db, sizeof st.owner_db);
    st.owner_job = c->owner_job;

    if (alloc_buffers(c, d, &b, err)) goto done;

    if (resume && c->checkpoint_path && file_exists(c->checkpoint_path)) {
        fpt_run_state saved;
        if (fpt_checkpoint_load(c->checkpoint_path, &saved, b.m, &b.opt, err)) goto done;
        if (saved.config_hash != st.config_hash) {
            fpt_fail(err, "%s: checkpoint belongs to a different configuration (model, "
                          "data, optimizer, protocol or seed changed); remove it to start over",
                     c->checkpoint_path);
            goto done;
        }
        if (memcmp(saved.owner_db, st.owner_db, sizeof st.owner_db) != 0 ||
            saved.owner_job != st.owner_job) {
            fpt_fail(err, "%s: checkpoint of another database or job (job %lld); remove it to "
                          "start over", c->checkpoint_path, (long long)saved.owner_job);
            goto done;
        }
        if (saved.n_targets != c->n_targets) {
            fpt_fail(err, "%s: checkpoint tracks %d targets, the configuration %d",
                     c->checkpoint_path, saved.n_targets, c->n_targets);
            goto done;
        }
        st = saved;
    } else {
        fpt_resnet_init_params(b.m, c->seed, 0, b.m->params);
        fpt_resnet_init_buffers(b.m, b.m->buffers);
    }

    fpt_run_outcome out = FPT_RUN_COMPLETED;
    if (st.diverged) out = FPT_RUN_DIVERGED;
    else if (c->stop_at_target && all_reached(&st)) out = FPT_RUN_REACHED;
    while (out == FPT_RUN_COMPLETED && st.epoch < c->epochs) {
        const int epoch = st.epoch + 1;
        const double t0 = fpt_now(), lr = lr_for_epoch(c, &st, epoch);
        fpt_epoch_record rec = {.epoch = epoch, .lr = lr};
        if (train_epoch(c, d, &b, epoch, lr, &rec.train_loss, err)) goto done;
        if (!isfinite(rec.train_loss)) {
            st.diverged = 1;
            out = FPT_RUN_DIVERGED;
            break;
        }
        if (evaluate(c, d, &b, &rec.test_loss, &rec.test_acc, err)) goto done;
        for (int k = 0; k < c->n_targets; k++)
            fpt_first_passage_step(&st.fpt[k], epoch, rec.test_acc, c->targets[k]);
        if (fpt_protocol_fires(&c->protocol, c->seed, epoch)) {
            if (fpt_protocol_apply(&c->protocol, b.m, &b.opt, c->seed,
                                   (uint32_t)st.perturb_events, b.scratch, b.chosen, err))
                goto done;
            st.perturb_events++;
            if (fpt_protocol_has_lr_hook(&c->protocol)) st.last_restart = epoch;
            rec.perturbed = 1;
        }
        st.epoch = epoch;
        rec.seconds = fpt_now() - t0;
        int stop = on_epoch ? on_epoch(&rec, &st, ctx) : 0;
        if (c->stop_at_target && all_reached(&st)) out = FPT_RUN_REACHED;
        if (stop) out = FPT_RUN_STOPPED;
        int due = c->checkpoint_every > 0 && epoch % c->checkpoint_every == 0;
        if (c->checkpoint_path && (due || stop) &&
            fpt_checkpoint_save(c->checkpoint_path, &st, b.m, &b.opt, err))
            goto done;
    }
    if (out == FPT_RUN_DIVERGED && c->checkpoint_path &&
        fpt_checkpoint_save(c->checkpoint_path, &st, b.m, &b.opt, err))
        goto done;
    *state = st;
    *outcome = out;
    rc = 0;
done:
    free_buffers(&b);
    return rc;
}
