// train_spec.c — the table of training-run settings (see train_spec.h).
#include "train/train_spec.h"

#include <assert.h>
#include <errno.h>
#include <ini.h>
#include <pthread.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/text.h"

typedef enum {
    T_INT, T_U64, T_DOUBLE, T_BOOL, T_ENUM, T_STRING, T_TARGETS,
    T_PROTOCOL,       // the protocol's name, from the protocol table
    T_PROTOCOL_KEY,   // a protocol parameter: `key` (protocol.h) reads and prints it
} opt_type;

typedef struct opt {
    const char *name;
    opt_type type;
    size_t offset;                 // into fpt_train_spec
    double min, max;               // T_INT, T_DOUBLE, T_TARGETS (inclusive)
    const char *const *choices;    // T_ENUM, NULL-terminated; stored as int
    const char *def;               // the default, as text (documentation)
    const char *help;
} opt;

static const char *const dataset_names[] = {"synthetic", "cifar10", "cifar100",
                                            "fashion-mnist", "mnist", NULL};
static const char *const schedule_names[] = {"constant", "step", "cosine", NULL};
static const char *const sampling_names[] = {"without_replacement", "with_replacement", NULL};
// Indexed by fpt_backend and fpt_precision (backend.h).
static const char *const backend_names[] = {"default", "blas", "onednn", NULL};
static const char *const precision_names[] = {"fp32", "bf16", NULL};

#define OFF(field) offsetof(fpt_train_spec, field)
static const opt options[] = {
    {"dataset", T_ENUM, OFF(data.kind), 0, 0, dataset_names, "synthetic",
     "data: synthetic (built in), cifar10 or cifar100 (official binary files), fashion-mnist "
     "or mnist (official IDX files, gzipped or not)"},
    {"data_path", T_STRING, OFF(data_path), 0, 0, NULL, "",
     "directory with the CIFAR .bin files (deploy/get-cifar.sh fetches them) or the four IDX "
     "files; fashion-mnist default: " FPT_FASHION_MNIST_DIR " (Debian dataset-fashion-mnist)"},
    {"train_subset", T_INT, OFF(data.train_subset), 0, 1e7, NULL, "0",
     "use only the first N training images (0: all)"},
    {"test_subset", T_INT, OFF(data.test_subset), 0, 1e7, NULL, "0",
     "use only the first N test images (0: all)"},
    {"synth_train", T_INT, OFF(data.synth_train), 100, 1e6, NULL, "5000",
     "synthetic training images"},
    {"synth_test", T_INT, OFF(data.synth_test), 100, 1e6, NULL, "1000", "synthetic test images"},
    {"synth_noise", T_DOUBLE, OFF(data.synth_label_noise), 0, 0.9, NULL, "0.1",
     "synthetic label noise: fraction of labels replaced at random (caps accuracy)"},
    {"data_seed", T_U64, OFF(data.seed), 0, 0, NULL, "1", "seed of the synthetic dataset"},
    {"width", T_INT, OFF(run.width), 1, FPT_RESNET_MAX_WIDTH, NULL, "16",
     "ResNet-18 base width w (64 = the standard ResNet-18)"},
    {"classes", T_INT, OFF(run.num_classes), 0, 100000, NULL, "0",
     "network outputs (0: the dataset's classes; the study used 1000)"},
    {"epochs", T_INT, OFF(run.epochs), 1, 100000, NULL, "30", "epochs E"},
    {"batch", T_INT, OFF(run.batch), 1, 4096, NULL, "128", "minibatch size"},
    {"lr", T_DOUBLE, OFF(run.lr.base), 1e-9, 100, NULL, "0.05", "learning rate"},
    {"lr_schedule", T_ENUM, OFF(run.lr.kind), 0, 0, schedule_names, "constant",
     "learning-rate schedule: constant, step or cosine (per epoch)"},
    {"lr_step_size", T_INT, OFF(run.lr.step_size), 1, 100000, NULL, "30",
     "step schedule: epochs between decays"},
    {"lr_gamma", T_DOUBLE, OFF(run.lr.gamma), 1e-9, 1, NULL, "0.1", "step schedule: factor"},
    {"lr_t_max", T_INT, OFF(run.lr.t_max), 1, 100000, NULL, "30",
     "cosine schedule: half period, epochs"},
    {"eta_min", T_DOUBLE, OFF(run.lr.eta_min), 0, 100, NULL, "0",
     "floor of the cosine schedule and of warm restarts"},
    {"momentum", T_DOUBLE, OFF(run.momentum), 0, 0.999999, NULL, "0.9", "SGD momentum"},
    {"weight_decay", T_DOUBLE, OFF(run.weight_decay), 0, 0.999999, NULL, "0.0005",
     "SGD weight decay"},
    {"sampling", T_ENUM, OFF(run.with_replacement), 0, 0, sampling_names,
     "without_replacement", "minibatches: without_replacement (shuffle) or with_replacement"},
    {"augment", T_BOOL, OFF(run.augment), 0, 0, NULL, "false",
     "random crop (4-pixel padding) and horizontal flip"},
    {"flip", T_BOOL, OFF(run.flip), 0, 0, NULL, "true",
     "with augment: mirror images at random (--no-flip for digits: mnist)"},
    // Here: "protocol", then every protocol key of the protocol table
    // (timing, period, prob, fraction, ...), with their ranges and defaults
    // from there (see table()).
    {"protocol", T_PROTOCOL, OFF(run.protocol.kind), 0, 0, NULL, "none", NULL},
    {"target", T_TARGETS, OFF(run.targets), 1e-9, 100, NULL, "50",
     "target test accuracy in percent; a comma list for several"},
    {"stop_at_target", T_BOOL, OFF(run.stop_at_target), 0, 0, NULL, "false",
     "end the run once every target is reached (default: train all epochs)"},
    {"seed", T_U64, OFF(run.seed), 0, 0, NULL, "1",
     "the run's seed (initialisation, data order, perturbations)"},
    {"threads", T_INT, OFF(threads), 1, 1024, NULL, "2", "threads for OpenBLAS and OpenMP"},
    {"backend", T_ENUM, OFF(run.backend), 0, 0, backend_names, "default",
     "compute backend: onednn (oneDNN primitives), blas (im2col + sgemm) or default (the "
     "fastest built)"},
    {"precision", T_ENUM, OFF(run.precision), 0, 0, precision_names, "fp32",
     "fp32, or bf16: mixed precision as PyTorch's CPU autocast (needs onednn and a CPU with "
     "AVX512_BF16 or AMX)"},
    {"checkpoint", T_STRING, OFF(checkpoint), 0, 0, NULL, "", "checkpoint file (none if empty)"},
    {"checkpoint_every", T_INT, OFF(run.checkpoint_every), 0, 100000, NULL, "0",
     "checkpoint every K epochs (0: only when stopped)"},
    {"resume", T_BOOL, OFF(resume), 0, 0, NULL, "false",
     "continue from the checkpoint when it exists"},
};
#define N_BASE_OPTIONS (sizeof options / sizeof options[0])
#define MAX_PROTOCOL_KEYS 64

// The options with the protocol keys in place: built once, on the first
// reader's call (pthread_once: readers may be on any thread).
static opt all[N_BASE_OPTIONS + MAX_PROTOCOL_KEYS];
static const fpt_protocol_key *all_keys[N_BASE_OPTIONS + MAX_PROTOCOL_KEYS];   // T_PROTOCOL_KEY's
static size_t n_all;
static char protocol_help[512];
static pthread_once_t all_once = PTHREAD_ONCE_INIT;

static void build_all(void) {
    snprintf(protocol_help, sizeof protocol_help, "perturbation: %s", fpt_protocol_names());
    for (size_t i = 0; i < N_BASE_OPTIONS; i++) {
        all[n_all++] = options[i];
        if (options[i].type != T_PROTOCOL) continue;
        all[n_all - 1].help = protocol_help;
        const fpt_protocol_key *k;
        for (size_t j = 0; (k = fpt_protocol_key_at(j)); j++) {
            if (k->inherited) continue;   // set by another option (eta_min)
            assert(n_all < sizeof all / sizeof all[0]);
            all_keys[n_all] = k;
            all[n_all++] = (opt){k->name, T_PROTOCOL_KEY, OFF(run.protocol), k->min, k->max,
                                 k->choices, NULL, k->help};
        }
    }
}

static const opt *table(size_t *n) {
    pthread_once(&all_once, build_all);
    *n = n_all;
    return all;
}

// The protocol key behind a T_PROTOCOL_KEY option (o points into all[]).
static const fpt_protocol_key *key_of(const opt *o) { return all_keys[o - all]; }

void fpt_train_spec_defaults(fpt_train_spec *s) {
    memset(s, 0, sizeof *s);
    fpt_run_config_defaults(&s->run);
    s->run.num_classes = 0;   // the dataset's, resolved by the caller
    s->data.kind = FPT_DATA_SYNTHETIC;
    s->data.synth_train = 5000;
    s->data.synth_test = 1000;
    s->data.synth_label_noise = 0.1;
    s->data.seed = 1;
    s->threads = 2;
}

// Option names match with '-' and '_' taken as equal.
static int name_eq(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;
        if (x != y) return 0;
    }
    return *a == *b;
}

static const opt *find(const char *name) {
    size_t n;
    const opt *o = table(&n);
    for (size_t i = 0; i < n; i++)
        if (name_eq(name, o[i].name)) return &o[i];
    return NULL;
}

int fpt_train_spec_is_flag(const char *name) {
    const opt *o = find(name);
    return o && o->type == T_BOOL;
}

static int parse_double(const char *v, double *out) {
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d)) return -1;
    *out = d;
    return 0;
}

static int list_choices(const opt *o, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = 0;
    for (int k = 0; o->choices[k]; k++)
        used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s", k ? ", " : "",
                                 o->choices[k]);
    return 0;
}

int fpt_train_spec_set(fpt_train_spec *s, const char *name, const char *value, fpt_err *err) {
    const opt *o = find(name);
    if (!o) return fpt_fail(err, "unknown option '%s' (see 'fptfarm train --help')", name);
    char *field = (char *)s + o->offset;
    switch (o->type) {
    case T_INT: {
        double d;
        if (parse_double(value, &d) || d != floor(d) || d < o->min || d > o->max)
            return fpt_fail(err, "%s: '%s' is not an integer in %.0f..%.0f", o->name, value,
                            o->min, o->max);
        *(int *)field = (int)d;
        return 0;
    }
    case T_U64: {
        char *end;
        errno = 0;
        unsigned long long u = strtoull(value, &end, 10);
        if (errno || end == value || *end || value[0] == '-')
            return fpt_fail(err, "%s: '%s' is not a non-negative integer", o->name, value);
        *(uint64_t *)field = u;
        return 0;
    }
    case T_DOUBLE: {
        double d;
        if (parse_double(value, &d) || d < o->min || d > o->max)
            return fpt_fail(err, "%s: '%s' is not a number in [%g, %g]", o->name, value, o->min,
                            o->max);
        *(double *)field = d;
        return 0;
    }
    case T_BOOL:
        if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcmp(value, "1"))
            *(int *)field = 1;
        else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") || !strcmp(value, "0"))
            *(int *)field = 0;
        else
            return fpt_fail(err, "%s: '%s' is not a boolean (expected true or false)", o->name,
                            value);
        return 0;
    case T_ENUM:
        for (int k = 0; o->choices[k]; k++)
            if (!strcmp(value, o->choices[k])) {
                *(int *)field = k;
                return 0;
            }
        {
            char list[256];
            list_choices(o, list, sizeof list);
            return fpt_fail(err, "unknown %s '%s' (expected: %s)", o->name, value, list);
        }
    case T_STRING: {
        size_t n = strlen(value);
        if (n >= 1024) return fpt_fail(err, "%s: value longer than 1023 characters", o->name);
        memcpy(field, value, n + 1);
        return 0;
    }
    case T_PROTOCOL:
        return fpt_protocol_parse(value, (fpt_protocol_kind *)field, err);
    case T_PROTOCOL_KEY:
        return fpt_protocol_key_set(key_of(o), (fpt_protocol *)field, value, err);
    case T_TARGETS: {
        double *t = (double *)field;
        int n = 0;
        char buf[512];
        snprintf(buf, sizeof buf, "%s", value);
        for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok;
             tok = strtok_r(NULL, ", ", &save)) {
            double d;
            if (n == FPT_MAX_TARGETS)
                return fpt_fail(err, "%s: more than %d targets", o->name, FPT_MAX_TARGETS);
            if (parse_double(tok, &d) || d < o->min || d > o->max)
                return fpt_fail(err, "%s: '%s' is not an accuracy in (0, 100] percent", o->name,
                                tok);
            t[n++] = d;
        }
        if (n == 0) return fpt_fail(err, "%s: empty list (expected e.g. 72 or 60,72)", o->name);
        s->run.n_targets = n;
        return 0;
    }
    }
    return fpt_fail(err, "internal: option type %d", (int)o->type);
}

typedef struct ini_ctx {
    fpt_train_spec *s;
    fpt_err *err;
} ini_ctx;

static int on_ini(void *user, const char *section, const char *name, const char *value) {
    ini_ctx *c = user;
    if (strcmp(section, "train") != 0) {
        fpt_fail(c->err, "unknown section [%s] (expected [train])", section);
        return 0;
    }
    return fpt_train_spec_set(c->s, name, value, c->err) == 0;
}

int fpt_train_spec_load_ini(fpt_train_spec *s, const char *path, fpt_err *err) {
    FILE *f = fopen(path, "r");
    if (!f) return fpt_fail(err, "%s: cannot open: %s", path, strerror(errno));
    ini_ctx c = {s, err};
    err->msg[0] = 0;
    int line = ini_parse_file(f, on_ini, &c);
    fclose(f);
    if (line > 0) {
        if (!err->msg[0]) fpt_fail(err, "syntax error (expected 'key = value' or '[section]')");
        return fpt_err_prefix(err, "%s:%d: ", path, line);
    }
    if (line < 0) return fpt_fail(err, "%s: cannot read", path);
    return 0;
}

void fpt_train_spec_finish(fpt_train_spec *s) {
    s->data.path = s->data_path[0] ? s->data_path : NULL;
    s->run.checkpoint_path = s->checkpoint[0] ? s->checkpoint : NULL;
    s->run.protocol.eta_min = s->run.lr.eta_min;
}

void fpt_train_spec_data_tag(const fpt_train_spec *s, char *buf, size_t len) {
    const fpt_dataset_options *d = &s->data;
    if (d->kind == FPT_DATA_SYNTHETIC)
        snprintf(buf, len, "synthetic:%llu:%d:%d:%.6g:%d:%d", (unsigned long long)d->seed,
                 d->synth_train, d->synth_test, d->synth_label_noise, d->train_subset,
                 d->test_subset);
    else
        snprintf(buf, len, "%s:%d:%d", dataset_names[d->kind], d->train_subset, d->test_subset);
}

void fpt_train_spec_help(FILE *f) {
    size_t n;
    const opt *all_opts = table(&n);
    for (size_t i = 0; i < n; i++) {
        const opt *o = &all_opts[i];
        char flag[64], def[64];
        snprintf(flag, sizeof flag, "--%s", o->name);
        for (char *p = flag + 2; *p; p++)
            if (*p == '_') *p = '-';
        if (o->type == T_PROTOCOL_KEY)
            fpt_protocol_key_format(key_of(o), &fpt_protocol_defaults, def, sizeof def);
        else snprintf(def, sizeof def, "%s", o->def[0] ? o->def : "none");
        fprintf(f, "  %-20s %s [default: %s]\n", flag, o->help, def);
    }
}

const char *fpt_train_spec_key(size_t i) {
    size_t n;
    const opt *o = table(&n);
    return i < n ? o[i].name : NULL;
}

const char *fpt_train_spec_canonical(const char *name) {
    const opt *o = find(name);
    return o ? o->name : NULL;
}

int fpt_train_spec_format(const fpt_train_spec *s, const char *name, char *buf, size_t len,
                          fpt_err *err) {
    const opt *o = find(name);
    if (!o) return fpt_fail(err, "unknown option '%s'", name);
    const char *field = (const char *)s + o->offset;
    size_t n = 0;
    switch (o->type) {
    case T_INT:
        n = (size_t)snprintf(buf, len, "%d", *(const int *)field);
        break;
    case T_BOOL:
        n = (size_t)snprintf(buf, len, "%s", *(const int *)field ? "true" : "false");
        break;
    case T_U64:
        n = (size_t)snprintf(buf, len, "%llu", (unsigned long long)*(const uint64_t *)field);
        break;
    case T_DOUBLE:
        n = (size_t)fpt_format_double(buf, len, *(const double *)field);
        break;
    case T_ENUM:
        n = (size_t)snprintf(buf, len, "%s", o->choices[*(const int *)field]);
        break;
    case T_PROTOCOL:
        n = (size_t)snprintf(buf, len, "%s", fpt_protocol_name(*(const fpt_protocol_kind *)field));
        break;
    case T_PROTOCOL_KEY:
        n = (size_t)fpt_protocol_key_format(key_of(o), (const fpt_protocol *)field, buf, len);
        break;
    case T_STRING:
        n = (size_t)snprintf(buf, len, "%s", field);
        break;
    case T_TARGETS: {
        const double *t = (const double *)field;
        if (len) buf[0] = 0;
        for (int k = 0; k < s->run.n_targets; k++)
        {
            char one[40];
            fpt_format_double(one, sizeof one, t[k]);
            n += (size_t)snprintf(buf + (n < len ? n : len), n < len ? len - n : 0, "%s%s",
                                  k ? "," : "", one);
        }
        break;
    }
    }
    if (n >= len) return fpt_fail(err, "%s: value longer than %zu characters", o->name, len);
    return 0;
}
