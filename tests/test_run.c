// test_run.c — the training run loop: reproducibility, resume from a
// checkpoint bit for bit, learning, divergence, stop at target, and
// refusing a checkpoint of another configuration.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "base/hash.h"
#include "train/run.h"

#define MAX_EPOCHS 16

typedef struct trace {
    int n, stop_after;
    fpt_epoch_record rec[MAX_EPOCHS];
} trace;

static int record(const fpt_epoch_record *r, const fpt_run_state *st, void *ctx) {
    trace *t = ctx;
    (void)st;
    cr_assert_lt(t->n, MAX_EPOCHS);
    t->rec[t->n++] = *r;
    return t->stop_after > 0 && r->epoch >= t->stop_after;
}

static fpt_dataset D;
static char dir[] = "/tmp/fpt_run_XXXXXX";

static void setup(void) {
    fpt_err err = {{0}};
    // Small on purpose: these tests train many short runs (also under ASan).
    fpt_dataset_options o = {.kind = FPT_DATA_SYNTHETIC, .seed = 3, .synth_train = 256,
                             .synth_test = 128, .synth_label_noise = 0.1f};
    cr_assert_eq(fpt_dataset_load(&D, &o, &err), 0, "%s", err.msg);
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
    fpt_dataset_free(&D);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(run, .init = setup, .fini = teardown);

static fpt_run_config small_config(void) {
    fpt_run_config c;
    fpt_run_config_defaults(&c);
    c.width = 4;
    c.epochs = 4;
    c.batch = 64;
    c.seed = 11;
    c.n_targets = 2;
    c.targets[0] = 20.0;
    c.targets[1] = 99.0;
    return c;
}

// Records equal bit for bit, except the wall time.
static void expect_same(const fpt_epoch_record *a, const fpt_epoch_record *b) {
    cr_expect_eq(a->epoch, b->epoch);
    cr_expect(memcmp(&a->train_loss, &b->train_loss, sizeof(double)) == 0,
              "epoch %d train loss %.17g vs %.17g", a->epoch, a->train_loss, b->train_loss);
    cr_expect(memcmp(&a->test_loss, &b->test_loss, sizeof(double)) == 0,
              "epoch %d test loss %.17g vs %.17g", a->epoch, a->test_loss, b->test_loss);
    cr_expect_eq(a->test_acc, b->test_acc, "epoch %d", a->epoch);
    cr_expect_eq(a->lr, b->lr, "epoch %d", a->epoch);
    cr_expect_eq(a->perturbed, b->perturbed, "epoch %d", a->epoch);
}

static void run_ok(const fpt_run_config *c, int resume, trace *t, fpt_run_state *st,
                   fpt_run_outcome *out) {
    fpt_err err = {{0}};
    cr_assert_eq(fpt_run(c, &D, "synthetic-test", resume, record, t, st, out, &err), 0, "%s",
                 err.msg);
}

Test(run, same_seed_same_trace) {
    fpt_run_config c = small_config();
    c.protocol.kind = FPT_PROTO_SHRINK_PERTURB;
    c.protocol.period = 2;
    trace a = {0}, b = {0};
    fpt_run_state sa, sb;
    fpt_run_outcome oa, ob;
    run_ok(&c, 0, &a, &sa, &oa);
    run_ok(&c, 0, &b, &sb, &ob);
    cr_assert_eq(a.n, 4);
    cr_assert_eq(b.n, 4);
    for (int e = 0; e < 4; e++) expect_same(&a.rec[e], &b.rec[e]);
    cr_expect_eq(a.rec[1].perturbed, 1);
    cr_expect_eq(a.rec[0].perturbed, 0);
    // another seed gives another trace
    c.seed = 12;
    trace d = {0};
    run_ok(&c, 0, &d, &sb, &ob);
    cr_expect_neq(a.rec[0].train_loss, d.rec[0].train_loss);
}

// Interrupt after epoch `stop`, resume, and compare with an uninterrupted
// run: the protocols with state (event count, last restart) and both
// timings are covered.
static void check_resume(fpt_run_config c, int stop, const char *name) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s.ckpt", dir, name);
    trace whole = {0}, first = {0}, rest = {0};
    fpt_run_state s_whole, s1, s2;
    fpt_run_outcome o;
    run_ok(&c, 0, &whole, &s_whole, &o);
    cr_assert_eq(o, FPT_RUN_COMPLETED);

    c.checkpoint_path = path;
    c.checkpoint_every = 1;
    first.stop_after = stop;
    run_ok(&c, 1, &first, &s1, &o);
    cr_assert_eq(o, FPT_RUN_STOPPED, "%s", name);
    cr_assert_eq(first.n, stop);
    run_ok(&c, 1, &rest, &s2, &o);
    cr_assert_eq(o, FPT_RUN_COMPLETED);
    cr_assert_eq(rest.n, c.epochs - stop, "%s: resumed run trained %d epochs", name, rest.n);
    for (int e = 0; e < stop; e++) expect_same(&first.rec[e], &whole.rec[e]);
    for (int e = 0; e < rest.n; e++) expect_same(&rest.rec[e], &whole.rec[stop + e]);
    cr_expect_eq(s2.perturb_events, s_whole.perturb_events, "%s", name);
    for (int k = 0; k < c.n_targets; k++) cr_expect_eq(s2.fpt[k], s_whole.fpt[k], "%s", name);
}

Test(run, resume_equals_uninterrupted) {
    fpt_run_config c = small_config();
    c.epochs = 5;
    c.protocol.kind = FPT_PROTO_SHRINK_PERTURB;
    c.protocol.period = 2;
    check_resume(c, 2, "shrink");   // stopped right after a perturbation
    c.protocol.kind = FPT_PROTO_WARM_RESTART;
    check_resume(c, 3, "warm");     // mid-cycle: the schedule must continue
    c.protocol.kind = FPT_PROTO_PARTIAL_RESET;
    c.protocol.timing = FPT_TIMING_GEOMETRIC;
    c.protocol.prob = 0.5;
    c.with_replacement = 1;
    check_resume(c, 2, "partial_geometric");
}

// Every backend and precision this build and CPU can run: the same seed
// gives the same trace bit for bit, and a resumed run equals an
// uninterrupted one (the backend's plans and weight caches are rebuilt from
// the checkpoint's parameters).
Test(run, every_backend_reproducible_and_resumable) {
    test_backend all[4];
    const int n = test_backends_all(all);
    for (int i = 0; i < n; i++) {
        fpt_run_config c = small_config();
        c.backend = all[i].backend;
        c.precision = all[i].precision;
        c.epochs = 4;
        c.protocol.kind = FPT_PROTO_SHRINK_PERTURB;
        c.protocol.variant = FPT_VARIANT_STUDY;   // the stage normalisation too
        c.protocol.period = 1;
        trace a = {0}, b = {0};
        fpt_run_state sa, sb;
        fpt_run_outcome oa, ob;
        run_ok(&c, 0, &a, &sa, &oa);
        run_ok(&c, 0, &b, &sb, &ob);
        cr_assert_eq(a.n, 4);
        for (int e = 0; e < 4; e++) expect_same(&a.rec[e], &b.rec[e]);
        char name[64];
        snprintf(name, sizeof name, "%s_%s", fpt_backend_name(c.backend),
                 fpt_precision_name(c.precision));
        check_resume(c, 2, name);
    }
}

// The study's variants: the stage buffers of shrink_perturb (saved in the
// checkpoint with the BN statistics) and partial_reset's own re-draw.
Test(run, study_variants_resume_equals_uninterrupted) {
    fpt_run_config c = small_config();
    c.epochs = 5;
    c.protocol.kind = FPT_PROTO_SHRINK_PERTURB;
    c.protocol.variant = FPT_VARIANT_STUDY;
    c.protocol.period = 1;   // stage std 0.5, 0.3, ... from epoch 2 on
    check_resume(c, 3, "shrink_study");
    c.protocol.kind = FPT_PROTO_PARTIAL_RESET;
    c.protocol.period = 2;
    c.protocol.fraction = 0.3;
    check_resume(c, 2, "partial_study");
}

// A configuration that uses no setting added since the hash's version 1
// keeps its version-1 hash, so checkpoints written before those settings
// existed still resume.  The text below is v1's format, written out by hand;
// the value is its FNV-1a 64 computed outside fptfarm (Python).
Test(run, version_1_configurations_keep_their_hash) {
    fpt_run_config c = small_config();
    const char *v1 = "v1 data=t width=4 classes=10 batch=64 lr=0,0.050000000000000003,"
                     "0.10000000000000001,30,30,10,1,0 mom=0.90000000000000002 "
                     "wd=0.00050000000000000001 repl=0 aug=0 proto=none,periodic,20,"
                     "0.050000000000000003,0.20000000000000001,0.40000000000000002,"
                     "0.10000000000000001,0 seed=11";
    cr_expect_eq(fpt_fnv1a(FPT_FNV1A_INIT, v1, strlen(v1)), 0x38e27b05734816d4ULL);
    cr_expect_eq(fpt_run_config_hash(&c, "t"), 0x38e27b05734816d4ULL);
}

// --no-flip: crops only.  It changes the trajectory and the hash; without
// augmentation it means nothing and changes neither.
Test(run, no_flip_crops_without_mirroring) {
    fpt_run_config c = small_config();
    c.epochs = 1;
    c.augment = 1;
    trace a = {0}, b = {0};
    fpt_run_state st;
    fpt_run_outcome o;
    run_ok(&c, 0, &a, &st, &o);
    const uint64_t h_flip = fpt_run_config_hash(&c, "t");
    c.flip = 0;
    run_ok(&c, 0, &b, &st, &o);
    cr_expect_neq(a.rec[0].train_loss, b.rec[0].train_loss);
    cr_expect_neq(fpt_run_config_hash(&c, "t"), h_flip);
    c.augment = 0;
    const uint64_t h_plain = fpt_run_config_hash(&c, "t");
    c.flip = 1;
    cr_expect_eq(fpt_run_config_hash(&c, "t"), h_plain);
}

// The precision enters the configuration hash (bf16 changes the values);
// the backend does not (it changes only their rounding, so a checkpoint can
// resume on another backend: tested), and fp32 keeps the version-1 hash.
Test(run, precision_enters_the_hash_backend_does_not) {
    fpt_run_config c = small_config();
    const uint64_t h = fpt_run_config_hash(&c, "t");
    c.backend = FPT_BACKEND_BLAS;
    cr_expect_eq(fpt_run_config_hash(&c, "t"), h);
    c.backend = FPT_BACKEND_ONEDNN;
    cr_expect_eq(fpt_run_config_hash(&c, "t"), h);
    c.precision = FPT_PRECISION_BF16;
    cr_expect_neq(fpt_run_config_hash(&c, "t"), h);
    if (!fpt_backend_built(FPT_BACKEND_ONEDNN)) return;
    // Stopped on one backend, resumed on the other: it continues.
    char path[256];
    snprintf(path, sizeof path, "%s/cross.ckpt", dir);
    c = small_config();
    c.backend = FPT_BACKEND_BLAS;
    c.checkpoint_path = path;
    c.checkpoint_every = 1;
    trace first = {.stop_after = 2}, rest = {0};
    fpt_run_state st;
    fpt_run_outcome o;
    run_ok(&c, 1, &first, &st, &o);
    cr_assert_eq(o, FPT_RUN_STOPPED);
    c.backend = FPT_BACKEND_ONEDNN;
    run_ok(&c, 1, &rest, &st, &o);
    cr_expect_eq(o, FPT_RUN_COMPLETED);
    cr_expect_eq(rest.n, c.epochs - 2);
}

// The variant changes the trajectory, and so the configuration hash, while a
// clean configuration keeps the hash it had before variants existed.
Test(run, variant_enters_the_configuration_hash) {
    fpt_run_config c = small_config();
    c.protocol.kind = FPT_PROTO_SHRINK_PERTURB;
    const uint64_t clean = fpt_run_config_hash(&c, "t");
    c.protocol.variant = FPT_VARIANT_STUDY;
    cr_expect_neq(fpt_run_config_hash(&c, "t"), clean);
    trace a = {0}, b = {0};
    fpt_run_state st;
    fpt_run_outcome o;
    c.protocol.period = 1;
    c.epochs = 3;
    run_ok(&c, 0, &a, &st, &o);
    c.protocol.variant = FPT_VARIANT_CLEAN;
    run_ok(&c, 0, &b, &st, &o);
    cr_expect_eq(memcmp(&a.rec[0].train_loss, &b.rec[0].train_loss, sizeof(double)), 0,
                 "identical until the first event");
    cr_expect_neq(a.rec[2].train_loss, b.rec[2].train_loss, "the stage buffers act after it");
}

Test(run, resumed_run_with_other_config_is_refused) {
    char path[256];
    snprintf(path, sizeof path, "%s/other.ckpt", dir);
    fpt_run_config c = small_config();
    c.epochs = 2;
    c.checkpoint_path = path;
    c.checkpoint_every = 1;
    trace t = {0};
    fpt_run_state st;
    fpt_run_outcome o;
    run_ok(&c, 1, &t, &st, &o);
    c.epochs = 3;
    c.seed = 99;   // another run
    fpt_err err = {{0}};
    cr_assert_eq(fpt_run(&c, &D, "synthetic-test", 1, record, &t, &st, &o, &err), -1);
    cr_expect(strstr(err.msg, path) && strstr(err.msg, "different configuration"), "%s",
              err.msg);
}

Test(run, warm_restart_learning_rate_is_sgdr) {
    fpt_run_config c = small_config();
    c.epochs = 6;
    c.lr.base = 0.1;
    c.protocol.kind = FPT_PROTO_WARM_RESTART;
    c.protocol.period = 3;
    c.protocol.eta_min = 0.0;
    trace t = {0};
    fpt_run_state st;
    fpt_run_outcome o;
    run_ok(&c, 0, &t, &st, &o);
    // CosineAnnealingWarmRestarts(T_0 = 3): 0.1 * (1 + cos(pi * t / 3)) / 2, t = 0, 1, 2.
    const double want[6] = {0.1, 0.075, 0.025, 0.1, 0.075, 0.025};
    for (int e = 0; e < 6; e++) cr_expect(fabs(t.rec[e].lr - want[e]) < 1e-12, "epoch %d: %.17g",
                                          e + 1, t.rec[e].lr);
    cr_expect_eq(t.rec[2].perturbed, 1);
    cr_expect_eq(t.rec[5].perturbed, 1);
}

Test(run, small_resnet_learns_the_synthetic_data) {
    fpt_err err = {{0}};
    fpt_dataset big;
    fpt_dataset_options opt = {.kind = FPT_DATA_SYNTHETIC, .seed = 4, .synth_train = 1024,
                               .synth_test = 256, .synth_label_noise = 0.1f};
    cr_assert_eq(fpt_dataset_load(&big, &opt, &err), 0, "%s", err.msg);
    fpt_run_config c = small_config();
    c.width = 8;
    c.epochs = 4;
    c.batch = 32;
    trace t = {0};
    fpt_run_state st;
    fpt_run_outcome o;
    cr_assert_eq(fpt_run(&c, &big, "synthetic-big", 0, record, &t, &st, &o, &err), 0, "%s",
                 err.msg);
    fpt_dataset_free(&big);
    // Chance is 10%; the label noise caps accuracy near 91%.  The data are
    // made hard on purpose (several epochs to a useful accuracy), so ask for
    // well above chance at the best of the 4 evaluations.
    double best = 0.0;
    for (int e = 0; e < 4; e++) best = fmax(best, t.rec[e].test_acc);
    cr_expect_gt(best, 35.0, "best test accuracy %.1f%% in 4 epochs", best);
    cr_expect_lt(t.rec[3].train_loss, t.rec[0].train_loss);
}

// BatchNorm keeps most absurd learning rates finite, so make the blow-up
// certain: with momentum 0, each step multiplies the weights by about
// |1 - lr*wd| = 89 (weight decay alone), so float32 (max 3.4e38) overflows
// within ~20 steps = 5 epochs of 4 minibatches, and the loss becomes Inf/NaN.
Test(run, absurd_learning_rate_diverges) {
    fpt_run_config c = small_config();
    c.lr.base = 100.0;
    c.weight_decay = 0.9;
    c.momentum = 0.0;
    c.epochs = 10;
    trace t = {0};
    fpt_run_state st;
    fpt_run_outcome o;
    run_ok(&c, 0, &t, &st, &o);
    cr_expect_eq(o, FPT_RUN_DIVERGED, "outcome %s", fpt_run_outcome_name(o));
    cr_expect_eq(st.diverged, 1);
    cr_expect_lt(t.n, 10, "the diverged epoch must not be recorded");
    for (int e = 0; e < t.n; e++) cr_expect(isfinite(t.rec[e].train_loss));
}

Test(run, stop_at_target_ends_the_run) {
    fpt_run_config c = small_config();
    c.n_targets = 1;
    c.targets[0] = 1.0;   // reached at the first evaluation
    c.stop_at_target = 1;
    trace t = {0};
    fpt_run_state st;
    fpt_run_outcome o;
    run_ok(&c, 0, &t, &st, &o);
    cr_expect_eq(o, FPT_RUN_REACHED);
    cr_expect_eq(t.n, 1);
    cr_expect_eq(st.fpt[0], 1);
}
