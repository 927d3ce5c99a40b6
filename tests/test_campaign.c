// test_campaign.c — adaptive campaigns (campaign.h), driven in-process: each
// planning step's jobs are "run" by the farm's engines (engine.h) and stored
// as the coordinator stores them, until the campaign stops.
//
// References, independent of the planner and of the fit:
//   - the synthetic law's exact mean FPT at every candidate
//     (fpt_synth_survival, itself checked against closed forms and Monte
//     Carlo in test_engines.c): the campaign must find the true optimum;
//   - the study's published traces: the mean first-passage time of every
//     condition over all its recorded runs, computed here from the CSV (no
//     perturbed run is censored at 72%, so it is a plain mean): the campaign,
//     replaying at most a third of the sweep's runs, must recommend the
//     study's best protocol at a period within 10% of the best measured one.
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign/campaign.h"
#include "check.h"
#include "campaign/engine.h"
#include "analysis/first_passage.h"
#include "campaign/job_spec.h"
#include "train/replay.h"
#include "store/store.h"
#include "campaign/step.h"
#include "study_data.h"
#include "train/synth_law.h"
#include "tmpdir.h"

static char g_dir[512];
static void setup(void) { tmpdir_make(g_dir, sizeof g_dir, "campaign"); }
static void teardown(void) { tmpdir_remove(g_dir); }
TestSuite(campaign, .init = setup, .fini = teardown);

static const char *at(const char *name) {
    static char buf[4][700];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static void parse(fpt_job_spec *s, const char *text) {
    fpt_err err = {{0}};
    cr_assert_eq(fpt_job_spec_parse(s, text, strlen(text), "test.ini", &err), 0, "%s", err.msg);
}

// Runs job `idx` (database id `id`) as a worker would, and stores it as the
// coordinator does: epochs, first passages, done.
static void run_job(fpt_store *db, const fpt_job_spec *spec, const fpt_replay *rp, size_t idx,
                    int64_t id) {
    fpt_err err = {{0}};
    fpt_run_config cfg;
    cr_assert_eq(fpt_job_spec_run_config(spec, idx, &cfg, &err), 0, "%s", err.msg);
    fpt_epoch_record *recs = calloc((size_t)cfg.epochs, sizeof *recs);
    double *acc = calloc((size_t)cfg.epochs, sizeof *acc);
    int n;
    cr_assert_eq(fpt_engine_records(spec, &cfg, rp, recs, &n, &err), 0, "%s", err.msg);
    for (int e = 0; e < n; e++) acc[e] = recs[e].test_acc;
    cr_assert_eq(fpt_store_begin(db, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_store_add_epochs(db, id, recs, n, &err), 0, "%s", err.msg);
    for (int k = 0; k < cfg.n_targets; k++)
        cr_assert_eq(fpt_store_first_passage(db, id, cfg.targets[k],
                                             fpt_first_passage(acc, n, cfg.targets[k]), n, &err),
                     0, "%s", err.msg);
    cr_assert_eq(fpt_store_job_finish(db, id, FPT_JOB_DONE, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_store_commit(db, &err), 0, "%s", err.msg);
    free(recs);
    free(acc);
}

typedef struct outcome {
    int steps;
    fpt_campaign_state st;   // the final history
} outcome;

// Drives the campaign of `spec` in database `path` to its stop.  With
// kill_after > 0, the "coordinator dies" after that many steps, with half of
// the step's jobs stored: the store is closed and opened again, and the
// campaign resumes from the database alone.
static outcome drive(const fpt_job_spec *spec, const char *path, const fpt_replay *rp,
                     int kill_after) {
    fpt_err err = {{0}};
    fpt_store *db;
    cr_assert_eq(fpt_store_open(&db, path, 1, NULL, &err), 0, "%s", err.msg);
    int64_t exp_id;
    char hash[32];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)spec->hash);
    cr_assert_eq(fpt_store_experiment(db, spec->name, spec->canonical, hash, "farm", &exp_id, NULL,
                                      &err),
                 0, "%s", err.msg);
    outcome o = {0};
    for (;;) {
        fpt_campaign_plan plan;
        int64_t *ids;
        cr_assert_eq(fpt_campaign_step(db, spec, exp_id, &plan, &ids, &err), 0, "%s", err.msg);
        cr_assert_lt(o.steps, 500, "the campaign does not stop");
        if (plan.done && plan.n_jobs == 0) {
            fpt_campaign_plan_free(&plan);
            free(ids);
            break;
        }
        o.steps++;
        size_t half = o.steps == kill_after ? plan.n_jobs / 2 : plan.n_jobs;
        for (size_t i = 0; i < half; i++) run_job(db, spec, rp, plan.jobs[i], ids[i]);
        if (half < plan.n_jobs) {   // killed: the rest is pending in the database
            fpt_store_close(db);
            cr_assert_eq(fpt_store_open(&db, path, 1, NULL, &err), 0, "%s", err.msg);
            for (size_t i = half; i < plan.n_jobs; i++) {
                fpt_job_state js;
                cr_assert_eq(fpt_store_job_state(db, ids[i], &js, &err), 0, "%s", err.msg);
                cr_assert_eq(js, FPT_JOB_PENDING);
                run_job(db, spec, rp, plan.jobs[i], ids[i]);
            }
        }
        fpt_campaign_plan_free(&plan);
        free(ids);
    }
    cr_assert_eq(fpt_campaign_load(db, spec, exp_id, &o.st, &err), 0, "%s", err.msg);
    fpt_store_close(db);
    cr_assert_gt(o.st.n, 0);
    cr_assert_eq(o.st.d[o.st.n - 1].action, FPT_ACT_STOP, "the campaign did not stop");
    return o;
}

// The recommendation: the stop decision's condition.
static const fpt_decision *recommended(const outcome *o) { return &o->st.d[o->st.n - 1]; }

// ---- the synthetic law -----------------------------------------------------------

// A plateau mixture: 70% of runs settle fast (hazard 0.15 per epoch after an
// 8-epoch burn-in), 30% slow (0.005).  Shrink-and-perturb moves a relaxed run
// to hazard 0.08, partial resetting to 0.05.  The exact means (epochs, to the
// 100-epoch horizon): unperturbed 34.02; shrink_perturb 18.62 at tau = 6 and
// 12 (the optimum), within 3% of it for every tau <= 16, 28.44 at 60;
// partial_reset at best 22.08 (tau = 20); reset at best 23.32 (tau = 20).
// So the right answer is "shrink_perturb, at a short period": a flat optimum,
// as first-passage optima are, which the campaign must land in.
static const char *SYNTH_SPEC =
    "[experiment]\n"
    "name = synth-adaptive\n"
    "seeds = 1-150\n"
    "epochs = 100\n"
    "target = 70\n"
    "[campaign]\n"
    "mode = adaptive\n"
    "budget_runs = 1200\n"
    "[synthetic]\n"
    "burn_in = 8\n"
    "fast_share = 0.7\n"
    "fast_hazard = 0.15\n"
    "slow_hazard = 0.005\n"
    "after_shrink_perturb = 0.08\n"
    "after_partial_reset = 0.05\n"
    "[none]\n"
    "[shrink_perturb]\n"
    "periods = 1, 2, 4, 6, 8, 10, 12, 14, 16, 20, 25, 30, 40, 60\n"
    "[partial_reset]\n"
    "periods = 2, 4, 8, 12, 16, 20, 30, 40\n"
    "[reset]\n"
    "periods = 10, 15, 20, 30, 40\n";

static double true_mean(const fpt_job_spec *s, const char *protocol, double freq) {
    fpt_protocol_kind kind = FPT_PROTO_NONE;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_protocol_parse(protocol, &kind, &err), 0, "%s", err.msg);
    int H = s->base.run.epochs;
    double *S = malloc(((size_t)H + 1) * sizeof *S);
    double m = NAN;
    cr_assert_eq(fpt_synth_survival(&s->law, kind, FPT_TIMING_PERIODIC, freq, H, S, &m, &err), 0,
                 "%s", err.msg);
    free(S);
    return m;
}

Test(campaign, synthetic_law_finds_the_true_optimum, .timeout = 300) {
    fpt_job_spec s;
    parse(&s, SYNTH_SPEC);
    // The truth: the best condition of the grid by its exact restricted mean.
    double best = true_mean(&s, "none", 0);
    const char *best_p = "none";
    double best_f = 0;
    for (int p = 0; p < s.n_protocols; p++)
        for (int f = 0; f < s.protocols[p].n_freqs; f++) {
            const char *name = fpt_protocol_name(s.protocols[p].protocol.kind);
            double m = true_mean(&s, name, s.protocols[p].freqs[f]);
            if (m < best) best = m, best_p = name, best_f = s.protocols[p].freqs[f];
        }
    outcome o = drive(&s, at("synth.db"), NULL, 0);
    const fpt_decision *r = recommended(&o);
    double got = true_mean(&s, r->protocol, r->frequency);
    double share = (double)o.st.runs_used / (double)s.n_jobs;
    measured("synthetic: true optimum %s %g, mean %.3f epochs; recommended %s %g, true mean %.3f "
             "(%+.2f%%), measured %.3f [%.3f, %.3f]; %lld runs of the sweep's %zu (%.1f%%), %d "
             "steps; %s",
             best_p, best_f, best, r->protocol, r->frequency, got, 100 * (got / best - 1),
             r->estimate, r->lo, r->hi, (long long)o.st.runs_used, s.n_jobs, 100 * share, o.steps,
             r->reason);
    cr_expect_str_eq(r->protocol, best_p, "recommended %s %g, the optimum is %s %g", r->protocol,
                     r->frequency, best_p, best_f);
    cr_expect_leq(got, 1.05 * best, "recommended %s %g: true mean %.3f, the optimum %.3f",
                  r->protocol, r->frequency, got, best);
    cr_expect_leq(share, 0.25, "the campaign used %.1f%% of the sweep's runs", 100 * share);
    // The measured value it reports holds the truth.
    cr_expect(r->lo <= got && got <= r->hi, "true %.3f outside [%.3f, %.3f]", got, r->lo, r->hi);
    fpt_campaign_state_free(&o.st);
    fpt_job_spec_free(&s);
}

Test(campaign, resume_after_a_kill_is_exact, .timeout = 300) {
    fpt_job_spec s;
    parse(&s, SYNTH_SPEC);
    outcome a = drive(&s, at("whole.db"), NULL, 0);
    for (int kill = 1; kill <= a.steps; kill += a.steps / 3 + 1) {
        char name[32];
        snprintf(name, sizeof name, "killed-%d.db", kill);
        outcome b = drive(&s, at(name), NULL, kill);
        cr_assert_eq(b.st.n, a.st.n, "kill at step %d: %d decisions, uninterrupted %d", kill,
                     b.st.n, a.st.n);
        cr_expect_eq(b.st.runs_used, a.st.runs_used);
        cr_expect_eq(b.st.epochs_used, a.st.epochs_used);
        for (int i = 0; i < a.st.n; i++) {
            const fpt_decision *x = &a.st.d[i], *y = &b.st.d[i];
            cr_expect(x->phase == y->phase && x->action == y->action &&
                          !strcmp(x->protocol, y->protocol) && x->frequency == y->frequency &&
                          x->runs == y->runs && !strcmp(x->reason, y->reason) &&
                          (x->estimate == y->estimate || (isnan(x->estimate) && isnan(y->estimate))),
                      "kill at step %d: decision %d differs: '%s' / '%s'", kill, i + 1, x->reason,
                      y->reason);
        }
        fpt_campaign_state_free(&b.st);
    }
    fpt_campaign_state_free(&a.st);
    fpt_job_spec_free(&s);
}

// ---- the study's data, replayed -------------------------------------------------

// Mean first passage to `target` of every run of (protocol, period) in the
// CSV, parsed here; *censored counts runs that never reach it.
static double csv_mean_fpt(const char *csv, const char *protocol, int period, double target,
                           int *censored, int *runs) {
    FILE *f = fopen(csv, "r");
    cr_assert_not_null(f);
    char line[256], proto[64], last_key[96] = "";
    int p, epoch, fpt = 0, n = 0;
    long long seed;
    double acc, sum = 0;
    *censored = 0;
    cr_assert_not_null(fgets(line, sizeof line, f));   // header
    while (fgets(line, sizeof line, f)) {
        for (char *c = line; *c; c++)
            if (*c == ',') *c = ' ';
        cr_assert_eq(sscanf(line, "%63s %d %lld %d %lf", proto, &p, &seed, &epoch, &acc), 5);
        if (strcmp(proto, protocol) || p != period) continue;
        char key[96];
        snprintf(key, sizeof key, "%s/%d/%lld", proto, p, seed);
        if (strcmp(key, last_key)) {   // a new run
            if (last_key[0]) {
                if (fpt) sum += fpt;
                else (*censored)++;
                n++;
            }
            snprintf(last_key, sizeof last_key, "%s", key);
            fpt = 0;
        }
        if (!fpt && acc >= target) fpt = epoch;
    }
    if (last_key[0]) {
        if (fpt) sum += fpt;
        else (*censored)++;
        n++;
    }
    fclose(f);
    *runs = n;
    return sum / (n - *censored);
}

Test(campaign, replay_of_the_study_recommends_its_best, .timeout = 600) {
    char csv[700];
    study_csv(g_dir, csv, sizeof csv);
    static const int periods[] = {1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 50, 100};
    char text[2048];
    snprintf(text, sizeof text,
             "[experiment]\nname = replay-adaptive\nseeds = 1-75\nepochs = 200\ntarget = 72\n"
             "[campaign]\nmode = adaptive\nbudget_runs = 325\n"
             "[replay]\ndata = %s\n"
             "[none]\n[shrink_perturb]\nperiods = 1,2,3,4,5,7,10,15,20,30,50,100\n",
             csv);
    fpt_job_spec s;
    parse(&s, text);
    // The reference: every recorded run of every perturbed condition.
    double best = INFINITY, mean[12];
    int best_tau = 0;
    for (int i = 0; i < 12; i++) {
        int cens, runs;
        mean[i] = csv_mean_fpt(csv, "shrink_perturb", periods[i], 72, &cens, &runs);
        cr_assert_eq(cens, 0, "period %d: %d of %d runs censored: the plain mean is not the "
                              "restricted mean", periods[i], cens, runs);
        if (mean[i] < best) best = mean[i], best_tau = periods[i];
    }
    fpt_replay *rp;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_replay_load(&rp, csv, &err), 0, "%s", err.msg);
    outcome o = drive(&s, at("replay.db"), rp, 0);
    const fpt_decision *r = recommended(&o);
    double got = NAN;
    for (int i = 0; i < 12; i++)
        if (r->frequency == periods[i]) got = mean[i];
    double share = (double)o.st.runs_used / (double)s.n_jobs;
    measured("replay: best measured over all recorded runs: shrink_perturb tau=%d, %.3f epochs; "
             "recommended %s %g (all its recorded runs: %.3f, %+.1f%%; the campaign measured "
             "%.3f [%.3f, %.3f]); %lld runs of the sweep's %zu (%.1f%%), the study made 2992; %s",
             best_tau, best, r->protocol, r->frequency, got, 100 * (got / best - 1), r->estimate,
             r->lo, r->hi, (long long)o.st.runs_used, s.n_jobs, 100 * share, r->reason);
    cr_expect_str_eq(r->protocol, "shrink_perturb");
    cr_expect_leq(got, 1.10 * best, "tau=%g: mean %.3f epochs, the best %.3f (tau=%d)",
                  r->frequency, got, best, best_tau);
    cr_expect_leq(o.st.runs_used * 3, (int64_t)s.n_jobs, "%lld runs, more than a third of %zu",
                  (long long)o.st.runs_used, s.n_jobs);
    fpt_replay_free(rp);
    fpt_campaign_state_free(&o.st);
    fpt_job_spec_free(&s);
}

// ---- the spec ----------------------------------------------------------------------

static void expect_refused(const char *text, const char *says) {
    fpt_job_spec s;
    fpt_err err = {{0}};
    cr_expect_eq(fpt_job_spec_parse(&s, text, strlen(text), "x.ini", &err), -1, "accepted: %s",
                 text);
    cr_expect(strstr(err.msg, says) != NULL, "'%s' does not say '%s'", err.msg, says);
}

Test(campaign, spec_errors_say_what_is_wrong) {
    // Each case: settings after HEAD (lines 1-6), and what the error says.
#define HEAD "[experiment]\nname = a\nseeds = 1-20\n[none]\n[reset]\nperiods = 5\n"
#define ADAPTIVE "[campaign]\nmode = adaptive\nbudget_runs = 50\n"
    static const struct { const char *text, *says; } bad[] = {
        {HEAD "[campaign]\nmode = adaptve\n",
         "x.ini:8: mode: 'adaptve' is not a mode (expected: sweep, adaptive)"},
        {HEAD "[campaign]\nmode = adaptive\n",
         "x.ini:7: [campaign] mode = adaptive needs one budget"},
        {HEAD "[campaign]\nmode = adaptive\nbudget_runs = 5\nbudget_epochs = 9\n",
         "needs one budget"},
        {HEAD "[campaign]\nbudget_runs = 50\n", "a budget applies to mode = adaptive"},
        {HEAD ADAPTIVE "confirm = 0\n", "x.ini:10: confirm: '0' is not an integer in 1..20"},
        {HEAD ADAPTIVE "bugdet = 3\n",
         "unknown key 'bugdet' in [campaign] (expected: mode, budget_runs"},
        {HEAD ADAPTIVE "min_runs = 30\n", "20 seeds are fewer than min_runs = 30"},
        {"[experiment]\nname = a\nseeds = 1-20\n[reset]\nperiods = 5\n" ADAPTIVE,
         "needs a [none] section"},
        {HEAD "[synthetic]\nburn_in = 3\n[replay]\ndata = x.csv\n",
         "[replay] and [synthetic] (line 7) both choose"},
        {HEAD "[replay]\n", "[replay] needs 'data = FILE'"},
        {HEAD "[synthetic]\nfast_hazard = 1.5\n", "fast_hazard: '1.5' is not a number in 0..1"},
    };
#undef HEAD
#undef ADAPTIVE
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) expect_refused(bad[i].text, bad[i].says);
}

Test(campaign, settings_sections_enter_the_hash_and_old_specs_keep_theirs) {
    const char *plain = "[experiment]\nname = a\nseeds = 1-20\n[none]\n[reset]\nperiods = 5\n";
    fpt_job_spec a, b, c;
    parse(&a, plain);
    // The canonical form of a spec without settings sections is unchanged
    // (FNV-1a of the v1 text, computed independently here).
    const char *canon = a.canonical;
    cr_expect(strstr(canon, "campaign") == NULL && strstr(canon, "synthetic") == NULL);
    cr_expect_eq(a.campaign.adaptive, 0);
    cr_expect_eq(a.engine, FPT_ENGINE_TRAIN);
    char t[512];
    snprintf(t, sizeof t, "%s[campaign]\nmode = adaptive\nbudget_runs = 50\n", plain);
    parse(&b, t);
    snprintf(t, sizeof t, "%s[campaign]\nbudget-runs = 50.0\nmode = adaptive ; comment\n", plain);
    parse(&c, t);
    cr_expect_neq(a.hash, b.hash);
    cr_expect_eq(b.hash, c.hash, "the same settings written differently hash differently:\n%s\n%s",
                 b.canonical, c.canonical);
    cr_expect(strstr(b.canonical, "[campaign]\ncampaign.budget_runs=50\ncampaign.mode=adaptive\n"),
              "%s", b.canonical);
    cr_expect_eq(b.campaign.budget_runs, 50);
    cr_expect_eq(b.campaign.batch, 20);
    fpt_job_spec_free(&a), fpt_job_spec_free(&b), fpt_job_spec_free(&c);
}

// The count of rows of `sql` run on db with `other` attached as o.
static long long attached_count(const char *db, const char *other, const char *sql) {
    sqlite3 *d;
    cr_assert_eq(sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    char attach[600];
    snprintf(attach, sizeof attach, "ATTACH '%s' AS o", other);
    cr_assert_eq(sqlite3_exec(d, attach, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(d));
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(d, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(d));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(d);
    return n;
}

// `fptfarm merge` carries an adaptive campaign's decisions and summary, value
// for value (checked by SQL against the source, not by the merge's own
// reading); merging again changes nothing; a source whose decisions differ
// is refused, OUT left as it was.
Test(campaign, merge_carries_the_decisions, .timeout = 300) {
    fpt_job_spec s;
    parse(&s, SYNTH_SPEC);
    outcome o = drive(&s, at("src.db"), NULL, 0);
    fpt_campaign_state_free(&o.st);
    static const char cols[] = "seq, phase, action, protocol, timing, frequency, runs, basis, "
                               "estimate, lo, hi, runs_used, epochs_used, reason, created_at";
    char q[1200];
    long long n_src = attached_count(at("src.db"), at("src.db"),
                                     "SELECT count(*) FROM campaign_decisions");
    cr_assert_gt(n_src, 3);
    for (int round = 0; round < 2; round++) {
        fpt_err err = {{0}};
        fpt_store *out;
        cr_assert_eq(fpt_store_open(&out, at("out.db"), 1, NULL, &err), 0, "%s", err.msg);
        const char *in[1] = {at("src.db")};
        fpt_merge_summary *sum;
        int n;
        cr_assert_eq(fpt_store_merge(out, in, 1, &sum, &n, &err), 0, "%s", err.msg);
        free(sum);
        fpt_store_close(out);
        cr_expect_eq(attached_count(at("out.db"), at("src.db"),
                                    "SELECT count(*) FROM campaign_decisions"), n_src,
                     "round %d: %lld decisions, the source has %lld", round,
                     attached_count(at("out.db"), at("src.db"),
                                    "SELECT count(*) FROM campaign_decisions"), n_src);
        snprintf(q, sizeof q, "SELECT count(*) FROM (SELECT %s FROM main.campaign_decisions "
                              "EXCEPT SELECT %s FROM o.campaign_decisions)", cols, cols);
        cr_expect_eq(attached_count(at("out.db"), at("src.db"), q), 0, "a decision differs");
        cr_expect_eq(attached_count(at("out.db"), at("src.db"),
                                    "SELECT count(*) FROM (SELECT phase, stopped, protocol, timing, "
                                    "frequency, estimate, lo, hi, runs_used, epochs_used, "
                                    "sweep_runs, sweep_epochs, reason FROM main.campaign_summary "
                                    "EXCEPT SELECT phase, stopped, protocol, timing, frequency, "
                                    "estimate, lo, hi, runs_used, epochs_used, sweep_runs, "
                                    "sweep_epochs, reason FROM o.campaign_summary)"), 0,
                     "the summary differs");
        cr_expect_eq(attached_count(at("out.db"), at("src.db"),
                                    "SELECT count(*) FROM campaign_summary"), 1);
    }
    // Another run of the campaign, decided differently at decision 3.
    sqlite3 *d;
    cr_assert_eq(sqlite3_open(at("src.db"), &d), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(d, "UPDATE campaign_decisions SET reason = reason || ' (other)' "
                                 "WHERE seq = 3", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(d);
    FILE *f = fopen(at("out.db"), "rb");
    cr_assert_not_null(f);
    static char before[1 << 22], after[1 << 22];
    size_t n0 = fread(before, 1, sizeof before, f);
    fclose(f);
    fpt_err err = {{0}};
    fpt_store *out;
    cr_assert_eq(fpt_store_open(&out, at("out.db"), 1, NULL, &err), 0, "%s", err.msg);
    const char *in[1] = {at("src.db")};
    fpt_merge_summary *sum = NULL;
    int n;
    cr_assert_eq(fpt_store_merge(out, in, 1, &sum, &n, &err), -1);
    fpt_store_close(out);
    cr_expect(strstr(err.msg, "other adaptive-campaign decisions") &&
                  strstr(err.msg, "decision 3 differs"), "%s", err.msg);
    f = fopen(at("out.db"), "rb");
    size_t n1 = fread(after, 1, sizeof after, f);
    fclose(f);
    cr_expect(n0 == n1 && memcmp(before, after, n0) == 0, "the refused merge changed OUT");
    fpt_job_spec_free(&s);
}
