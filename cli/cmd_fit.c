// cmd_fit.c — the analysis command on a results database:
//   fptfarm fit DB [--experiment NAME] [--target LIST] [--reference TAU] ...
// (fptfarm plot is cmd_plot.c.)
// The fit itself is the library's (campaign/fit_db.h), which the farm also
// calls when a campaign ends.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "analysis/fit.h"
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
