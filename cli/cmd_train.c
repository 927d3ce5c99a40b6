// cmd_train.c — `fptfarm train`: one run on this machine, without MPI.
//
// Prints one line per epoch and the first-passage times at the end.  This is
// also how users try a configuration before launching a sweep.
#include "cli/commands.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "nn/backend.h"
#include "base/blas_setup.h"
#include "base/memory.h"
#include "train/train_spec.h"

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

// Prints one line per epoch to ctx (a FILE *); stops the run on a signal.
static int on_epoch(const fpt_epoch_record *r, const fpt_run_state *st, void *ctx) {
    FILE *out = ctx;
    (void)st;
    fprintf(out, "%5d %11.4f %10.4f %8.2f%% %9.5f %9s %8.2f\n", r->epoch, r->train_loss,
            r->test_loss, r->test_acc, r->lr, r->perturbed ? "yes" : "-", r->seconds);
    fflush(out);
    return stop_requested;
}

static void usage(FILE *f) {
    fprintf(f, "usage: fptfarm train [--config FILE.ini] [--option value ...]\n"
               "Trains one run locally; options override the [train] section of FILE.ini.\n"
               "options:\n");
    fpt_train_spec_help(f);
}

int fpt_cmd_train(int argc, char **argv, fpt_err *err) {
    fpt_train_spec spec;
    fpt_train_spec_defaults(&spec);
    // The ini file first, so that command-line options override it.
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) return fpt_fail(err, "--config needs a file");
            if (fpt_train_spec_load_ini(&spec, argv[i + 1], err)) return -1;
        }
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--config")) {
            i++;
            continue;
        }
        if (strncmp(a, "--", 2) != 0)
            return fpt_fail(err, "train: unexpected argument '%s' (options start with --)", a);
        const char *name = a + 2;
        int negate = !strncmp(name, "no-", 3) && fpt_train_spec_is_flag(name + 3);
        if (negate || fpt_train_spec_is_flag(name)) {
            if (fpt_train_spec_set(&spec, negate ? name + 3 : name, negate ? "false" : "true",
                                   err))
                return -1;
            continue;
        }
        if (i + 1 >= argc) return fpt_fail(err, "option %s needs a value", a);
        if (fpt_train_spec_set(&spec, name, argv[++i], err)) return -1;
    }
    fpt_train_spec_finish(&spec);
    // Before the threads exist: under a small ulimit -v their buffers would
    // make OpenBLAS spin forever or libgomp exit (memory.h).
    if (fpt_mem_threads_check(spec.threads, err)) return -1;
    fpt_set_threads(spec.threads);
    if (fpt_backend_check(spec.run.backend, spec.run.precision, err)) return -1;

    fpt_dataset data;
    if (fpt_dataset_load(&data, &spec.data, err)) return -1;
    if (spec.run.num_classes == 0) spec.run.num_classes = data.num_classes;
    char tag[256];
    fpt_train_spec_data_tag(&spec, tag, sizeof tag);

    const fpt_run_config *c = &spec.run;
    const fpt_protocol *p = &c->protocol;
    printf("train: ResNet-18 width %d, %d outputs; %s: %d train / %d test images; "
           "%d epochs, batch %d, lr %g, momentum %g, weight decay %g; seed %llu\n",
           c->width, c->num_classes, tag, data.train.n, data.test.n, c->epochs, c->batch,
           c->lr.base, c->momentum, c->weight_decay, (unsigned long long)c->seed);
    printf("threads: %d; compute: %s; BLAS: %s\n", spec.threads,
           fpt_backend_describe(c->backend, c->precision), fpt_blas_describe());
    if (p->kind != FPT_PROTO_NONE) {
        char when[64];
        if (p->timing == FPT_TIMING_PERIODIC) snprintf(when, sizeof when, "every %d epochs", p->period);
        else snprintf(when, sizeof when, "with probability %g per epoch", p->prob);
        printf("protocol: %s, %s%s\n", fpt_protocol_name(p->kind), when,
               p->variant == FPT_VARIANT_STUDY ? "; variant study (as the study's code)" : "");
    }
    printf("%5s %11s %10s %9s %9s %9s %8s\n", "epoch", "train_loss", "test_loss", "test_acc",
           "lr", "perturbed", "seconds");

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    fpt_run_state st;
    fpt_run_outcome outcome;
    int rc = fpt_run(c, &data, tag, spec.resume, on_epoch, stdout, &st, &outcome, err);
    fpt_dataset_free(&data);
    if (rc) return -1;
    for (int k = 0; k < c->n_targets; k++) {
        if (st.fpt[k])
            printf("first passage: target %.2f%% reached at epoch %d\n", c->targets[k], st.fpt[k]);
        else
            printf("first passage: target %.2f%% not reached in %d epochs (censored)\n",
                   c->targets[k], st.epoch);
    }
    printf("run %s after %d epochs\n", fpt_run_outcome_name(outcome), st.epoch);
    if (outcome == FPT_RUN_STOPPED) {
        if (c->checkpoint_path)
            printf("stopped by signal; resume with the same options and --resume\n");
        return 3;   // distinct exit code: interrupted, resumable
    }
    return outcome == FPT_RUN_DIVERGED ? 4 : 0;
}
