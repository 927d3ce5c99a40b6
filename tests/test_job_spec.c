// test_job_spec.c — experiment specs (job_spec.h): the shipped job files,
// expansion order and per-job run configs, seed lists, every error with its
// file and line, the canonical hash and the job-count limit.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign/job_spec.h"

static char dir[] = "/tmp/fpt_jobspec_XXXXXX";

static void setup(void) { cr_assert_not_null(mkdtemp(dir)); }

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(job_spec, .init = setup, .fini = teardown, .timeout = 30);

// Writes `text` to dir/name and returns the path (static buffer).
static const char *write_ini(const char *name, const char *text) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void load_ok(fpt_job_spec *s, const char *text) {
    fpt_err err = {{0}};
    const char *path = write_ini("ok.ini", text);
    cr_assert_eq(fpt_job_spec_load(s, path, &err), 0, "%s\n---\n%s", err.msg, text);
}

// The file fails with a message "<path>:<line>: ..." containing `want`
// (line 0: "<path>: ..." with no line).
static void expect_error(const char *text, int line, const char *want) {
    fpt_err err = {{0}};
    fpt_job_spec s;
    const char *path = write_ini("bad.ini", text);
    cr_assert_eq(fpt_job_spec_load(&s, path, &err), -1, "accepted:\n%s", text);
    char prefix[300];
    if (line) snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
    else snprintf(prefix, sizeof prefix, "%s: ", path);
    cr_expect(strncmp(err.msg, prefix, strlen(prefix)) == 0, "expected prefix '%s' in: %s\n---\n%s",
              prefix, err.msg, text);
    cr_expect(strstr(err.msg, want), "expected '%s' in: %s\n---\n%s", want, err.msg, text);
    cr_expect_null(strchr(err.msg, '\n'), "one line: %s", err.msg);
    cr_expect_null(s.jobs);
}

#define EXP "[experiment]\nname = t\nseeds = 1\n"   // 3 lines

Test(job_spec, shipped_demo) {
    fpt_job_spec s;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_job_spec_load(&s, "jobs/demo.ini", &err), 0, "%s", err.msg);
    // none 2 + shrink_perturb 2 periods x 2 + partial_reset 1 x 2
    cr_expect_eq(s.n_seeds, 2);
    cr_expect_eq(s.n_protocols, 3);
    cr_expect_eq(s.n_jobs, 2 + 4 + 2);
    cr_expect_str_eq(s.name, "demo");
    cr_expect_eq(s.base.run.width, 8);
    cr_expect_eq(s.base.run.epochs, 6);
    cr_expect_eq(s.base.run.n_targets, 2);
    cr_expect_eq(s.base.threads, 1);
    cr_expect_eq(s.base.data.kind, FPT_DATA_FASHION_MNIST);
    cr_expect_eq(s.base.data.train_subset, 2048);
    fpt_job_spec_free(&s);
}

Test(job_spec, shipped_meir2025) {
    fpt_job_spec s;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_job_spec_load(&s, "jobs/meir2025-cifar10.ini", &err), 0, "%s", err.msg);
    // none 100 + (shrink_perturb + partial_reset) 12 periods x 100 seeds
    cr_expect_eq(s.n_seeds, 100);
    cr_expect_eq(s.n_jobs, 100 + 2 * 12 * 100);
    cr_expect_eq(s.base.run.width, 64);
    cr_expect_eq(s.base.run.num_classes, 1000);
    cr_expect_eq(s.base.run.batch, 125);
    cr_expect_eq(s.base.run.epochs, 200);
    cr_expect_eq(s.base.run.momentum, 0.0);
    cr_expect_eq(s.base.run.weight_decay, 0.0);
    cr_expect_eq(s.base.run.augment, 0);
    cr_expect_eq(s.base.data.kind, FPT_DATA_CIFAR10);
    cr_expect_eq(s.base.run.targets[0], 72.0);
    cr_expect_not_null(s.base.data.path);
    fpt_run_config rc;
    // last job: partial_reset, period 100, seed 100
    cr_assert_eq(fpt_job_spec_run_config(&s, s.n_jobs - 1, &rc, &err), 0, "%s", err.msg);
    cr_expect_eq(rc.protocol.kind, FPT_PROTO_PARTIAL_RESET);
    cr_expect_eq(rc.protocol.period, 100);
    cr_expect_eq(rc.seed, 100);
    cr_expect_eq(rc.protocol.fraction, 0.3);
    // both protocols as the study's code applies them
    cr_expect_eq(rc.protocol.variant, FPT_VARIANT_STUDY);
    cr_assert_eq(fpt_job_spec_run_config(&s, 100, &rc, &err), 0, "%s", err.msg);
    cr_expect_eq(rc.protocol.kind, FPT_PROTO_SHRINK_PERTURB);
    cr_expect_eq(rc.protocol.variant, FPT_VARIANT_STUDY);
    cr_expect_eq(fpt_job_spec_run_config(&s, s.n_jobs, &rc, &err), -1);
    cr_expect(strstr(err.msg, "out of range"), "%s", err.msg);
    fpt_job_spec_free(&s);
}

Test(job_spec, expansion_order_and_run_configs) {
    fpt_job_spec s;
    load_ok(&s, "[experiment]\nname = order\nseeds = 7, 3\nepochs = 9\nlr = 0.02\n"
                "eta_min = 0.001\ntarget = 40, 60\n"
                "[shrink_perturb]\nperiods = 5, 2\nshrink = 0.5\nsigma = 0.25\n"
                "[none]\n"
                "[reset]\ntiming = geometric\nprobabilities = 0.1, 0.5\n"
                "[partial_reset]\nfraction = 0.3\nperiods = 4\n"
                "[warm_restart]\nperiods = 10\n");
    // sections in file order; frequencies as listed; seeds as listed
    struct { fpt_protocol_kind k; fpt_timing t; double f; uint64_t seed; } want[] = {
        {FPT_PROTO_SHRINK_PERTURB, FPT_TIMING_PERIODIC, 5, 7},
        {FPT_PROTO_SHRINK_PERTURB, FPT_TIMING_PERIODIC, 5, 3},
        {FPT_PROTO_SHRINK_PERTURB, FPT_TIMING_PERIODIC, 2, 7},
        {FPT_PROTO_SHRINK_PERTURB, FPT_TIMING_PERIODIC, 2, 3},
        {FPT_PROTO_NONE, FPT_TIMING_PERIODIC, 0, 7},
        {FPT_PROTO_NONE, FPT_TIMING_PERIODIC, 0, 3},
        {FPT_PROTO_RESET, FPT_TIMING_GEOMETRIC, 0.1, 7},
        {FPT_PROTO_RESET, FPT_TIMING_GEOMETRIC, 0.1, 3},
        {FPT_PROTO_RESET, FPT_TIMING_GEOMETRIC, 0.5, 7},
        {FPT_PROTO_RESET, FPT_TIMING_GEOMETRIC, 0.5, 3},
        {FPT_PROTO_PARTIAL_RESET, FPT_TIMING_PERIODIC, 4, 7},
        {FPT_PROTO_PARTIAL_RESET, FPT_TIMING_PERIODIC, 4, 3},
        {FPT_PROTO_WARM_RESTART, FPT_TIMING_PERIODIC, 10, 7},
        {FPT_PROTO_WARM_RESTART, FPT_TIMING_PERIODIC, 10, 3},
    };
    size_t n = sizeof want / sizeof want[0];
    cr_assert_eq(s.n_jobs, n);
    fpt_err err = {{0}};
    for (size_t i = 0; i < n; i++) {
        const fpt_job *j = &s.jobs[i];
        cr_expect(j->protocol == want[i].k && j->timing == want[i].t &&
                      j->frequency == want[i].f && j->seed == want[i].seed,
                  "job %zu: %s %s %g seed %llu", i, fpt_protocol_name(j->protocol),
                  fpt_timing_name(j->timing), j->frequency, (unsigned long long)j->seed);
        fpt_run_config c;
        cr_assert_eq(fpt_job_spec_run_config(&s, i, &c, &err), 0, "%s", err.msg);
        cr_expect_eq(c.protocol.kind, want[i].k);
        cr_expect_eq(c.protocol.timing, want[i].t);
        cr_expect_eq(c.seed, want[i].seed);
        cr_expect_eq(c.epochs, 9);
        cr_expect_eq(c.lr.base, 0.02);
        cr_expect_eq(c.n_targets, 2);
        cr_expect_eq(c.targets[1], 60.0);
        cr_expect_null(c.checkpoint_path);
        cr_expect_eq(c.protocol.eta_min, 0.001);
        if (want[i].k != FPT_PROTO_NONE) {
            if (want[i].t == FPT_TIMING_PERIODIC) cr_expect_eq(c.protocol.period, (int)want[i].f);
            else cr_expect_eq(c.protocol.prob, want[i].f);
        }
        if (want[i].k == FPT_PROTO_SHRINK_PERTURB) {
            cr_expect_eq(c.protocol.shrink, 0.5);
            cr_expect_eq(c.protocol.sigma, 0.25);
        }
        if (want[i].k == FPT_PROTO_PARTIAL_RESET) cr_expect_eq(c.protocol.fraction, 0.3);
        cr_expect_eq(fpt_protocol_check(&c.protocol, &err), 0, "job %zu: %s", i, err.msg);
    }
    cr_expect(strstr(s.text, "[warm_restart]"), "raw text kept");
    fpt_job_spec_free(&s);
}

// `variant` is per protocol section: one section's choice never leaks into
// another, and a spec that does not name it keeps the canonical text (and so
// the hash) it had before the key existed.
Test(job_spec, variant_is_per_section) {
    fpt_job_spec s;
    load_ok(&s, "[experiment]\nname = v\nseeds = 1\n"
                "[partial_reset]\nperiods = 4\nvariant = study\n"
                "[shrink_perturb]\nperiods = 2\n");
    fpt_err err = {{0}};
    fpt_run_config c;
    cr_assert_eq(fpt_job_spec_run_config(&s, 0, &c, &err), 0, "%s", err.msg);
    cr_expect_eq(c.protocol.kind, FPT_PROTO_PARTIAL_RESET);
    cr_expect_eq(c.protocol.variant, FPT_VARIANT_STUDY);
    cr_assert_eq(fpt_job_spec_run_config(&s, 1, &c, &err), 0, "%s", err.msg);
    cr_expect_eq(c.protocol.kind, FPT_PROTO_SHRINK_PERTURB);
    cr_expect_eq(c.protocol.variant, FPT_VARIANT_CLEAN);
    cr_expect(strstr(s.canonical, "partial_reset.variant=study\n"), "%s", s.canonical);
    cr_expect(!strstr(s.canonical, "shrink_perturb.variant"), "%s", s.canonical);
    fpt_job_spec_free(&s);
    load_ok(&s, "[experiment]\nname = v\nseeds = 1\n[shrink_perturb]\nperiods = 2\n");
    cr_expect_str_eq(s.canonical, "fptfarm-job-spec v1\nexperiment.name=v\nexperiment.seeds=1\n"
                                  "[shrink_perturb]\nshrink_perturb.periods=2\n");
    fpt_job_spec_free(&s);
}

Test(job_spec, seed_lists_ranges_and_mixes) {
    fpt_job_spec s;
    load_ok(&s, "[experiment]\nname = a\nseeds = 1-10, 20, 15-16, 0\n[none]\n");
    uint64_t want[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 15, 16, 0};
    cr_assert_eq(s.n_seeds, 14);
    for (size_t i = 0; i < 14; i++) cr_expect_eq(s.seeds[i], want[i], "seed %zu", i);
    cr_expect_eq(s.n_jobs, 14);
    fpt_job_spec_free(&s);

    load_ok(&s, "[experiment]\nname = b\nseeds = 9223372036854775806-9223372036854775807\n"
                "[none]\n");
    cr_assert_eq(s.n_seeds, 2);
    cr_expect_eq(s.seeds[1], UINT64_C(9223372036854775807));
    fpt_job_spec_free(&s);
}

Test(job_spec, section_errors) {
    expect_error(EXP "[none]\n\n[shrnk]\nperiods = 2\n", 6,
                 "unknown section [shrnk] (expected: experiment, none, reset, partial_reset, "
                 "shrink_perturb, warm_restart, campaign, synthetic, replay)");
    expect_error(EXP "[reset]\nperiods = 2\n[reset]\n", 6,
                 "section [reset] appears twice (first on line 4)");
    expect_error(EXP "[none]\n[experiment]\n", 5, "section [experiment] appears twice");
    expect_error("[none]\n", 0, "no [experiment] section");
    expect_error(EXP "epochs = 3\n", 0, "no protocol section");
    expect_error("; comment\n\n[experiment]\nseeds = 1\n[none]\n", 3, "needs 'name");
    expect_error("[experiment]\nname = x\n[none]\n", 1, "needs 'seeds");
    expect_error("name = x\n[experiment]\n", 1, "before any section");
    expect_error(EXP "[none]\njunk line\n", 5, "syntax error");
    expect_error(EXP "[none\n", 4, "syntax error");
}

Test(job_spec, key_errors) {
    expect_error(EXP "x = 1\n[none]\n", 4,
                 "unknown key 'x' in [experiment] (expected: name, seeds, dataset, data_path");
    expect_error(EXP "[reset]\nperiods = 2\nshrink = 0.3\n", 6,
                 "unknown key 'shrink' in [reset] (expected: timing, periods, probabilities); "
                 "'shrink' is a parameter of [shrink_perturb]");
    expect_error(EXP "[partial_reset]\nperiods = 2\nepochs = 3\n", 6,
                 "unknown key 'epochs' in [partial_reset] (expected: timing, periods, "
                 "probabilities, fraction, variant); 'epochs' belongs in [experiment]");
    expect_error(EXP "[none]\nperiods = 3\n", 5, "unknown key 'periods' in [none] (expected: no "
                                                 "keys");
    expect_error(EXP "[shrink_perturb]\nperiods = 1\nsigma = 1\nsigma = 2\n", 7,
                 "'sigma' is set twice in [shrink_perturb] (first on line 6)");
    expect_error(EXP "epochs = 3\nepochs = 4\n[none]\n", 5, "'epochs' is set twice");
    // keys that belong elsewhere
    expect_error(EXP "protocol = reset\n[none]\n", 4, "each protocol is its own section");
    expect_error(EXP "timing = geometric\n[none]\n", 4, "'timing' does not belong in "
                                                        "[experiment]");
    expect_error(EXP "period = 3\n[none]\n", 4, "'periods = 1,2,5'");
    expect_error(EXP "prob = 0.1\n[none]\n", 4, "'prob' does not belong in [experiment]");
    expect_error(EXP "fraction = 0.1\n[none]\n", 4, "parameter of [partial_reset]");
    expect_error(EXP "shrink = 0.1\n[none]\n", 4, "parameter of [shrink_perturb]");
    expect_error(EXP "sigma = 0.1\n[none]\n", 4, "parameter of [shrink_perturb]");
    expect_error(EXP "seed = 4\n[none]\n", 4, "'seeds = 1-100'");
    expect_error(EXP "checkpoint = x.ckpt\n[none]\n", 4, "the farm sets it for each run");
    expect_error(EXP "checkpoint_every = 2\n[none]\n", 4, "the farm sets it");
    expect_error(EXP "resume = true\n[none]\n", 4, "the farm sets it");
    // indented continuation lines are refused, not silently merged
    expect_error(EXP "epochs = 3\n  width = 4\n[none]\n", 5, "continue the value of 'epochs'");
    char long_line[400];
    snprintf(long_line, sizeof long_line, EXP "data_path = %0300d\n[none]\n", 0);
    expect_error(long_line, 4, "line longer than");
}

Test(job_spec, value_errors) {
    expect_error(EXP "\n; c\nepochs = 0\n[none]\n", 6,
                 "epochs: '0' is not an integer in 1..100000");
    expect_error(EXP "lr = fast\n[none]\n", 4, "lr: 'fast' is not a number");
    expect_error(EXP "target = 50, 120\n[none]\n", 4, "target: '120'");
    expect_error(EXP "dataset = mnst\n[none]\n", 4,
                 "unknown dataset 'mnst' (expected: synthetic, cifar10, cifar100, fashion-mnist, "
                 "mnist)");
    expect_error(EXP "[partial_reset]\nperiods = 2\nvariant = paper\n", 6,
                 "unknown variant 'paper' (expected: clean, study)");
    expect_error(EXP "variant = study\n[none]\n", 4,
                 "'variant' does not belong in [experiment]: set it in [partial_reset] or "
                 "[shrink_perturb]");
    expect_error(EXP "[reset]\nperiods = 2\nvariant = study\n", 6,
                 "unknown key 'variant' in [reset] (expected: timing, periods, probabilities); "
                 "'variant' is a parameter of [partial_reset] and [shrink_perturb]");
    expect_error("[experiment]\nname = has space\nseeds = 1\n[none]\n", 2, "name: 'has space'");
    expect_error("[experiment]\nname = \nseeds = 1\n[none]\n", 2, "name: ''");
    // seeds
    expect_error("[experiment]\nname = x\nseeds =\n[none]\n", 3, "seeds: empty list");
    expect_error("[experiment]\nname = x\nseeds = 1,,2\n[none]\n", 3, "seeds: empty item");
    expect_error("[experiment]\nname = x\nseeds = 1-10, 5\n[none]\n", 3, "seed 5 is listed twice");
    expect_error("[experiment]\nname = x\nseeds = 3, 3\n[none]\n", 3, "seed 3 is listed twice");
    expect_error("[experiment]\nname = x\nseeds = 5-2\n[none]\n", 3, "range '5-2' is empty");
    expect_error("[experiment]\nname = x\nseeds = -3\n[none]\n", 3, "'-3' is not a seed");
    expect_error("[experiment]\nname = x\nseeds = 9223372036854775808\n[none]\n", 3,
                 "is not a seed or a range");
    expect_error("[experiment]\nname = x\nseeds = 1.5\n[none]\n", 3, "'1.5' is not a seed");
    // protocol sections
    expect_error(EXP "[reset]\nperiods = 2, 0\n", 5, "periods: '0' is not an integer in "
                                                     "1..100000");
    expect_error(EXP "[reset]\nperiods = 2, 2\n", 5, "periods: 2 is listed twice");
    expect_error(EXP "[reset]\nperiods =\n", 5, "periods: empty list");
    expect_error(EXP "[reset]\ntiming = geometric\nprobabilities = 0.5, 1.5\n", 6,
                 "probabilities: '1.5' is not a probability in (0, 1]");
    expect_error(EXP "[reset]\ntiming = sometimes\n", 5, "unknown timing 'sometimes'");
    expect_error(EXP "[reset]\nperiods = 2\ntiming = geometric\n", 5,
                 "'periods' needs periodic timing");
    expect_error(EXP "[reset]\nprobabilities = 0.1\n", 5, "'probabilities' needs timing = "
                                                          "geometric");
    expect_error(EXP "[none]\n[reset]\n", 5, "[reset] needs 'periods = ...'");
    expect_error(EXP "[reset]\ntiming = geometric\n", 4, "[reset] needs 'probabilities = ...'");
    expect_error(EXP "[partial_reset]\nperiods = 2\nfraction = 0\n", 6, "fraction: '0'");
    expect_error(EXP "[shrink_perturb]\nperiods = 2\nshrink = 2\n", 6, "shrink: '2'");
    expect_error(EXP "[warm_restart]\ntiming = geometric\nprobabilities = 0.1\n", 4,
                 "warm_restart needs periodic timing");
    expect_error("[experiment]\nname = x\nseeds = 1\nlr = 0.01\neta_min = 0.1\n[warm_restart]\n"
                 "periods = 3\n",
                 6, "eta_min 0.1 must be below the learning rate 0.01");
    expect_error("[experiment]\nname = x\nseeds = 1\nlr_schedule = cosine\nlr = 0.01\n"
                 "eta_min = 0.1\n[none]\n",
                 1, "eta_min");
}

Test(job_spec, job_count_limit) {
    // 2 protocols' frequencies (1 + 2 periods) x 400000 seeds = 1200000 jobs
    expect_error("[experiment]\nname = x\nseeds = 1-400000\n[none]\n[reset]\nperiods = 1, 2\n", 0,
                 "1200000 jobs (protocols x frequencies x seeds) exceeds the limit of 1000000");
    // absurd: every seed there is, refused before any allocation
    expect_error("[experiment]\nname = x\nseeds = 0-9223372036854775807\n[reset]\n"
                 "periods = 1, 2\n",
                 0, "18446744073709551616 jobs");
    // exactly at the limit is fine (materialised: 1000000 jobs)
    fpt_job_spec s;
    load_ok(&s, "[experiment]\nname = x\nseeds = 1-500000\n[none]\n[warm_restart]\nperiods = 7\n");
    cr_expect_eq(s.n_jobs, 1000000);
    cr_expect_eq(s.jobs[999999].seed, 500000);
    cr_expect_eq(s.jobs[999999].frequency, 7.0);
    fpt_job_spec_free(&s);
}

static uint64_t hash_of(const char *text) {
    fpt_job_spec s;
    load_ok(&s, text);
    uint64_t h = s.hash;
    fpt_job_spec_free(&s);
    return h;
}

Test(job_spec, canonical_hash) {
    const char *base = "[experiment]\nname = h\nseeds = 1-3, 9\nepochs = 5\nlr = 0.01\n"
                       "target = 50, 70\n[shrink_perturb]\nperiods = 2, 3\nshrink = 0.5\n[none]\n";
    uint64_t h = hash_of(base);
    // comments, blank lines, whitespace, key order within a section, number
    // spelling, seed spelling, '-' for '_', [experiment] moved: unchanged
    cr_expect_eq(hash_of("; a campaign\n\n[experiment]  ; the settings\n  name=h\n"
                         "target=50,70\nlr = 0.010   ; spelled differently\nepochs   =   5\n"
                         "seeds = 1,2,3,9\n\n[shrink_perturb]\nshrink = 5e-1\nperiods=2 ,3\n"
                         "# done\n[none]\n"),
                 h);
    // moving [experiment] after the protocol sections
    cr_expect_eq(hash_of("[shrink_perturb]\nperiods = 2, 3\nshrink = 0.5\n[none]\n"
                         "[experiment]\nname = h\nseeds = 1-3, 9\nepochs = 5\nlr = 0.01\n"
                         "target = 50, 70\n"),
                 h);
    // any value change changes it
    const char *changed[] = {
        "[experiment]\nname = h\nseeds = 1-3, 8\nepochs = 5\nlr = 0.01\n"
        "target = 50, 70\n[shrink_perturb]\nperiods = 2, 3\nshrink = 0.5\n[none]\n",
        "[experiment]\nname = h\nseeds = 1-3, 9\nepochs = 6\nlr = 0.01\n"
        "target = 50, 70\n[shrink_perturb]\nperiods = 2, 3\nshrink = 0.5\n[none]\n",
        "[experiment]\nname = h\nseeds = 1-3, 9\nepochs = 5\nlr = 0.01\n"
        "target = 50, 71\n[shrink_perturb]\nperiods = 2, 3\nshrink = 0.5\n[none]\n",
        "[experiment]\nname = h\nseeds = 1-3, 9\nepochs = 5\nlr = 0.01\n"
        "target = 50, 70\n[shrink_perturb]\nperiods = 2, 4\nshrink = 0.5\n[none]\n",
        "[experiment]\nname = h\nseeds = 1-3, 9\nepochs = 5\nlr = 0.01\n"
        "target = 50, 70\n[shrink_perturb]\nperiods = 2, 3\nshrink = 0.6\n[none]\n",
        // a key added with its default value
        "[experiment]\nname = h\nseeds = 1-3, 9\nepochs = 5\nlr = 0.01\nmomentum = 0.9\n"
        "target = 50, 70\n[shrink_perturb]\nperiods = 2, 3\nshrink = 0.5\n[none]\n",
        // order of list items and of protocol sections (job indices change)
        "[experiment]\nname = h\nseeds = 9, 1-3\nepochs = 5\nlr = 0.01\n"
        "target = 50, 70\n[shrink_perturb]\nperiods = 2, 3\nshrink = 0.5\n[none]\n",
        "[experiment]\nname = h\nseeds = 1-3, 9\nepochs = 5\nlr = 0.01\n"
        "target = 50, 70\n[none]\n[shrink_perturb]\nperiods = 2, 3\nshrink = 0.5\n",
    };
    for (size_t i = 0; i < sizeof changed / sizeof changed[0]; i++)
        cr_expect_neq(hash_of(changed[i]), h, "change %zu did not change the hash", i);

    fpt_job_spec s;
    load_ok(&s, base);
    cr_expect_str_eq(s.canonical, "fptfarm-job-spec v1\n"
                                  "experiment.epochs=5\n"
                                  "experiment.lr=0.01\n"
                                  "experiment.name=h\n"
                                  "experiment.seeds=1-3,9\n"
                                  "experiment.target=50,70\n"
                                  "[shrink_perturb]\n"
                                  "shrink_perturb.periods=2,3\n"
                                  "shrink_perturb.shrink=0.5\n"
                                  "[none]\n");
    fpt_job_spec_free(&s);
}

Test(job_spec, parse_from_memory_and_missing_file) {
    fpt_job_spec s;
    fpt_err err = {{0}};
    const char *t = EXP "[none]\n";
    cr_assert_eq(fpt_job_spec_parse(&s, t, strlen(t), "<mem>", &err), 0, "%s", err.msg);
    cr_expect_eq(s.n_jobs, 1);
    fpt_job_spec_free(&s);
    cr_expect_eq(fpt_job_spec_parse(&s, EXP "x\n", strlen(EXP "x\n"), "<mem>", &err), -1);
    cr_expect(strstr(err.msg, "<mem>:4: syntax error"), "%s", err.msg);
    cr_expect_eq(fpt_job_spec_load(&s, "/nonexistent/x.ini", &err), -1);
    cr_expect(strstr(err.msg, "/nonexistent/x.ini: cannot open"), "%s", err.msg);
}

// Input quoted into an error never breaks the one-line contract: control
// characters (an escape sequence, a carriage return) come out as \xNN.
Test(job_spec, control_characters_in_errors_are_neutralised) {
    static const char text[] = "[experiment]\nname = a\x1b[2Jb\rc\nseeds = 1\n[none]\n";
    fpt_job_spec s;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_job_spec_parse(&s, text, sizeof text - 1, "x.ini", &err), -1);
    for (const unsigned char *p = (const unsigned char *)err.msg; *p; p++)
        cr_assert(*p >= 0x20 && *p != 0x7f, "control byte 0x%02x in '%s'", *p, err.msg);
    cr_expect(strstr(err.msg, "x.ini:2: ") == err.msg, "%s", err.msg);
    cr_expect(strstr(err.msg, "a\\x1b[2Jb\\x0dc") != NULL, "%s", err.msg);
}
