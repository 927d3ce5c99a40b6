// cmd_plot.c — figures of the stored fits:
//   fptfarm plot DB [--experiment NAME] [--out DIR] [--target PCT]
//                   [--format png,svg,pdf] [--size WxH] [--no-title]
// Each fit's figures go to DIR/target-<T>/ (analysis/plot.h), with the
// accuracy figure's bands computed from the database's runs.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "analysis/accuracy_bands.h"
#include "analysis/fit.h"
#include "analysis/plot.h"
#include "analysis/runs.h"
#include "store/store.h"

static const char plot_usage[] =
    "usage: fptfarm plot DB [--experiment NAME] [--out DIR] [--target PCT]\n"
    "                       [--format png,svg,pdf] [--size WxH] [--no-title]";

// The default figure directory: DB without its .db suffix, plus "-figures".
static void default_out(const char *db, char *out, size_t cap) {
    size_t n = strlen(db);
    if (n > 3 && !strcmp(db + n - 3, ".db")) n -= 3;
    snprintf(out, cap, "%.*s-figures", (int)n, db);
}

int fpt_cmd_plot(int argc, char **argv, fpt_err *err) {
    const char *db = NULL, *experiment = NULL, *out = NULL;
    fpt_plot_options opt = fpt_plot_options_default;
    unsigned formats = 0;   // --format given: exactly those
    int have_target = 0;
    double target = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("%s\n", plot_usage);
            return 0;
        }
        if (!strcmp(a, "--no-title")) {
            opt.no_title = 1;
            continue;
        }
        if (a[0] != '-') {
            if (db)
                return fpt_fail(err, "plot: unexpected argument '%s' (one database; fptfarm plot "
                                     "--help lists the options)", a);
            db = a;
            continue;
        }
        const int known = !strcmp(a, "--experiment") || !strcmp(a, "--out") ||
                          !strcmp(a, "--target") || !strcmp(a, "--format") || !strcmp(a, "--size");
        if (!known)
            return fpt_fail(err, "plot: unknown option '%s' (expected --experiment NAME, --out "
                                 "DIR, --target PCT, --format png,svg,pdf, --size WxH, "
                                 "--no-title)",
                            a);
        if (!v) return fpt_fail(err, "plot: option %s needs a value (fptfarm plot --help)", a);
        i++;
        int rc = 0;
        if (!strcmp(a, "--experiment")) experiment = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--target"))
            rc = fpt_plot_parse_target(v, &target, err), have_target = 1;
        else if (!strcmp(a, "--format")) rc = fpt_plot_parse_formats(v, &formats, err);
        else rc = fpt_plot_parse_size(v, &opt.width, &opt.height, err);
        if (rc) return -1;
    }
    if (!db) return fpt_fail(err, "%s", plot_usage);
    if (formats) opt.formats = formats;
    char dir[1024], sub[1100];
    if (!out) default_out(db, dir, sizeof dir), out = dir;
    fpt_store *s;
    if (fpt_store_open(&s, db, 0, NULL, err)) return -1;
    fpt_fit *fits = NULL;
    int n = 0;
    fpt_runs runs;
    memset(&runs, 0, sizeof runs);
    int rc = fpt_store_snapshot_begin(s, err);
    if (rc == 0) rc = fpt_store_load_fits(s, experiment, &fits, &n, err);
    if (rc == 0) rc = fpt_store_load_runs(s, experiment, &runs, err);
    fpt_store_snapshot_end(s);
    fpt_store_close(s);
    int only = -1;
    if (rc == 0 && have_target) {
        only = fpt_plot_select_target(fits, n, target, err);
        if (only < 0) rc = -1;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        if (only >= 0 && i != only) continue;
        fpt_accuracy_bands bands;
        rc = fpt_accuracy_bands_for_fit(&runs, &fits[i], &bands, err);
        if (rc) break;
        snprintf(sub, sizeof sub, "%s/target-%g", out, fits[i].opt.target);
        const char *names[FPT_PLOT_MAX_FIGURES];
        const int n_fig = fpt_plot_figures(&fits[i], &bands, names);
        int written = 0;
        rc = fpt_plot_fit(&fits[i], &bands, &opt, sub, &written, err);
        if (rc == 0) {
            printf("%s, target %g%%: %d files in %s/:", fits[i].experiment, fits[i].opt.target,
                   written, sub);
            for (int k = 0; k < n_fig; k++) printf("%s %s", k ? "," : "", names[k]);
            printf(" (");
            for (unsigned b = 1; b < (1u << FPT_PLOT_N_FORMATS); b <<= 1)
                if (opt.formats & b) printf(".%s, ", fpt_plot_format_ext(b));
            printf("and each figure's gnuplot script .gp)\n");
        }
        fpt_accuracy_bands_free(&bands);
    }
    for (int i = 0; i < n; i++) fpt_fit_free(&fits[i]);
    free(fits);
    fpt_runs_free(&runs);
    return rc;
}
