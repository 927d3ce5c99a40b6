// cmd_fit.c — the analysis commands on a results database:
//   fptfarm fit DB [--experiment NAME] [--target LIST] [--reference TAU] ...
//   fptfarm plot DB [--experiment NAME] [--out DIR]
// The fit itself is the library's (campaign/fit_db.h), which the farm also
// calls when a campaign ends.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "analysis/fit.h"
#include "analysis/plot.h"
#include "analysis/runs.h"
#include "campaign/fit_db.h"
#include "store/store.h"

static const char fit_usage[] =
    "usage: fptfarm fit DB [--experiment NAME] [--target 72[,60]] [--reference TAU]\n"
    "                      [--reference-p P] [--bootstrap 1000] [--seed 1] [--level 0.95]\n"
    "                      [--ci log-log|log]\n"
    "                      [--relax-tolerance 0.05] [--relax-window 5] [--qss-tolerance 0.1]\n"
    "                      [--ks-reference EPOCH] [--alpha 0.05] [--min-runs 10]\n"
    "                      [--tail-from EPOCH] [--quiet]";

// A number option: the whole text must parse, within [lo, hi].
static int number(const char *opt, const char *text, double lo, double hi, double *out,
                  fpt_err *err) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !(v >= lo && v <= hi))
        return fpt_fail(err, "fit: %s '%s': expected a number in [%g, %g]", opt, text, lo, hi);
    *out = v;
    return 0;
}

static int integer(const char *opt, const char *text, double lo, double hi, int *out,
                   fpt_err *err) {
    double v = 0;
    if (number(opt, text, lo, hi, &v, err)) return -1;
    if (v != floor(v)) return fpt_fail(err, "fit: %s '%s': expected a whole number", opt, text);
    *out = (int)v;
    return 0;
}

// "72" or "72,60": targets in percent.
static int target_list(const char *text, double *t, int *n, fpt_err *err) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (*n == FPT_RUNS_MAX_TARGETS)
            return fpt_fail(err, "fit: --target: more than %d targets", FPT_RUNS_MAX_TARGETS);
        if (number("--target", tok, 1e-9, 100, &t[(*n)++], err)) return -1;
    }
    if (*n == 0) return fpt_fail(err, "fit: --target: expected a list of accuracies, e.g. 72,60");
    return 0;
}

int fpt_cmd_fit(int argc, char **argv, fpt_err *err) {
    const char *db = NULL, *experiment = NULL;
    double targets[FPT_RUNS_MAX_TARGETS];
    int n_targets = 0, quiet = 0;
    fpt_fit_options o = fpt_fit_options_default;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x = 0;
        int rc = 0;
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("%s\n", fit_usage);
            return 0;
        }
        if (a[0] != '-') {
            if (db)
                return fpt_fail(err, "fit: unexpected argument '%s' (one database; fptfarm fit "
                                     "--help lists the options)", a);
            db = a;
            continue;
        }
        if (!v) return fpt_fail(err, "fit: option %s needs a value (fptfarm fit --help)", a);
        i++;
        if (!strcmp(a, "--experiment")) experiment = v;
        else if (!strcmp(a, "--target")) rc = target_list(v, targets, &n_targets, err);
        else if (!strcmp(a, "--reference")) rc = number(a, v, 1, 1e9, &o.reference, err);
        else if (!strcmp(a, "--reference-p")) rc = number(a, v, 1e-9, 1, &o.reference_p, err);
        else if (!strcmp(a, "--bootstrap")) rc = integer(a, v, 0, 1000000, &o.bootstrap, err);
        else if (!strcmp(a, "--seed")) rc = number(a, v, 0, 1e18, &x, err), o.seed = (uint64_t)x;
        else if (!strcmp(a, "--level")) rc = number(a, v, 0.5, 0.9999, &o.level, err);
        else if (!strcmp(a, "--alpha")) rc = number(a, v, 1e-6, 0.5, &o.alpha, err);
        else if (!strcmp(a, "--ks-reference")) rc = integer(a, v, 2, 1e6, &o.ks_reference, err);
        else if (!strcmp(a, "--relax-tolerance"))
            rc = number(a, v, 0, 1, &o.relax_tolerance, err);
        else if (!strcmp(a, "--qss-tolerance"))
            rc = number(a, v, 0.001, 1, &o.qss_tolerance, err);
        else if (!strcmp(a, "--relax-window")) rc = integer(a, v, 1, 1e5, &o.ks_window, err);
        else if (!strcmp(a, "--min-runs")) rc = integer(a, v, 2, 1e6, &o.min_runs, err);
        else if (!strcmp(a, "--tail-from")) rc = integer(a, v, 1, 1e6, &o.tail_t0, err);
        else if (!strcmp(a, "--ci")) {
            if (!strcmp(v, "log-log")) o.ci = FPT_CI_LOGLOG;
            else if (!strcmp(v, "log")) o.ci = FPT_CI_LOG;
            else return fpt_fail(err, "fit: --ci '%s': expected log-log or log", v);
        } else
            return fpt_fail(err, "fit: unknown option '%s' (fptfarm fit --help lists the options)",
                            a);
        if (rc) return -1;
    }
    if (!db) return fpt_fail(err, "usage: fptfarm fit DB [options] (fptfarm fit --help)");
    fpt_store *s;
    if (fpt_store_open(&s, db, 0, NULL, err)) return -1;
    int rc = fpt_fit_database(s, experiment, targets, n_targets, &o, quiet ? NULL : stdout, err);
    fpt_store_close(s);
    if (rc == 0 && !quiet)
        printf("Stored in %s (tables fits, fit_conditions, fit_survival, fit_drift, fit_ks, "
               "fit_references, fit_predictions, fit_qss; view v_fit_check). Figures: fptfarm plot %s\n",
               db, db);
    return rc;
}

// The default figure directory: DB without its .db suffix, plus "-figures".
static void default_out(const char *db, char *out, size_t cap) {
    size_t n = strlen(db);
    if (n > 3 && !strcmp(db + n - 3, ".db")) n -= 3;
    snprintf(out, cap, "%.*s-figures", (int)n, db);
}

int fpt_cmd_plot(int argc, char **argv, fpt_err *err) {
    const char *db = NULL, *experiment = NULL, *out = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--experiment") && i + 1 < argc) experiment = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] == '-')
            return fpt_fail(err, "plot: unknown or incomplete option '%s' (expected --experiment "
                                 "NAME, --out DIR)", argv[i]);
        else if (!db) db = argv[i];
        else return fpt_fail(err, "plot: unexpected argument '%s'", argv[i]);
    }
    if (!db) return fpt_fail(err, "usage: fptfarm plot DB [--experiment NAME] [--out DIR]");
    char dir[1024], sub[1100];
    if (!out) default_out(db, dir, sizeof dir), out = dir;
    fpt_store *s;
    if (fpt_store_open(&s, db, 0, NULL, err)) return -1;
    fpt_fit *fits;
    int n;
    int rc = fpt_store_snapshot_begin(s, err);
    if (rc == 0) rc = fpt_store_load_fits(s, experiment, &fits, &n, err);
    fpt_store_snapshot_end(s);
    fpt_store_close(s);
    if (rc) return -1;
    for (int i = 0; i < n && rc == 0; i++) {
        snprintf(sub, sizeof sub, "%s/target-%g", out, fits[i].opt.target);
        int written = 0;
        rc = fpt_plot_fit(&fits[i], sub, &written, err);
        if (rc == 0)
            printf("%s, target %g%%: %d figures in %s/ (survival, mfpt, ks; .png and .svg)\n",
                   fits[i].experiment, fits[i].opt.target, written, sub);
    }
    for (int i = 0; i < n; i++) fpt_fit_free(&fits[i]);
    free(fits);
    return rc;
}
