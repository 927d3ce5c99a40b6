// test_plot.c — figures of a fit drawn by gnuplot: every file written, PNG
// signature and IHDR size, SVG well begun and ended, datablocks free of
// inf/nan, quoting of hostile names, atomic replacement (a failing gnuplot
// leaves old figures and no temporary files), and the errors for a missing
// gnuplot, a failing one, and an unusable output directory.
//
// The fit is built by hand: a baseline and two periods of shrink_perturb,
// predictions with INFINITY and NAN values, KS arrays with 0 and NAN.
// Every test works in its own mkdtemp directory, removed by the fixture.
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/plot.h"
#include "tmpdir.h"

// ---- fixture ------------------------------------------------------------------

static char g_dir[64];

static void make_dir(void) {
    tmpdir_make(g_dir, sizeof g_dir, "plot");
}

static void remove_dir(void) { tmpdir_remove(g_dir); }

TestSuite(plot, .init = make_dir, .fini = remove_dir, .timeout = 20);

// ---- a fit by hand --------------------------------------------------------------

#define HORIZON 60
#define N_KS 30

static void curve(fpt_fit_condition *c, double plateau, double scale) {
    c->n_curve = HORIZON + 1;
    c->curve = calloc((size_t)c->n_curve, sizeof *c->curve);
    cr_assert_not_null(c->curve);
    for (int t = 0; t <= HORIZON; t++) {
        fpt_curve_point *q = &c->curve[t];
        q->epoch = t;
        // Integer-valued survival in steps of 1/50, as from 50 runs.
        q->s = t == 0 ? 1.0 : floor(50 * (plateau + (1 - plateau) * exp(-t / scale))) / 50;
        q->lo = fmax(0, q->s - 0.08);
        q->hi = fmin(1, q->s + 0.08);
        q->at_risk = (int)(50 * q->s);
    }
}

static void condition(fpt_fit_condition *c, const char *proto, const char *timing, double freq,
                      double rm) {
    snprintf(c->protocol, sizeof c->protocol, "%s", proto);
    snprintf(c->timing, sizeof c->timing, "%s", timing);
    c->frequency = freq;
    c->runs = 50;
    c->rm = rm, c->rm_lo = rm * 0.9, c->rm_hi = rm * 1.1;
    c->tail_rate = NAN, c->extrap_mean = NAN, c->final_acc = NAN;
}

static void prediction(fpt_fit_prediction *p, const char *proto, const char *timing, double freq,
                       fpt_model m, double pred) {
    snprintf(p->protocol, sizeof p->protocol, "%s", proto);
    snprintf(p->timing, sizeof p->timing, "%s", timing);
    p->frequency = freq;
    p->model = m;
    p->predicted = pred, p->lo = pred * 0.92, p->hi = pred * 1.08;
    p->measured = p->measured_lo = p->measured_hi = p->rel_error = NAN;
    p->valid = freq >= 15;
}

// experiment: a name to put in the titles.  geometric: add geometric predictions.
static fpt_fit *make_fit(const char *experiment, int geometric) {
    fpt_fit *f = calloc(1, sizeof *f);
    cr_assert_not_null(f);
    snprintf(f->experiment, sizeof f->experiment, "%s", experiment);
    f->opt.target = 72, f->opt.alpha = 0.05, f->opt.level = 0.95, f->opt.bootstrap = 100;
    f->horizon = HORIZON;
    f->t_rel = 15;
    f->ks_reference = N_KS;
    f->mean_t = f->mean_t2 = NAN;

    f->n_conditions = 3 + (geometric ? 1 : 0);
    f->conditions = calloc((size_t)f->n_conditions, sizeof *f->conditions);
    cr_assert_not_null(f->conditions);
    condition(&f->conditions[0], "none", "none", 0, 38.5);
    curve(&f->conditions[0], 0.3, 15);
    f->conditions[0].curve[33].lo = NAN;   // a hole in the band
    condition(&f->conditions[1], "shrink_perturb", "periodic", 20, 14.2);
    curve(&f->conditions[1], 0, 9);
    f->conditions[1].curve[50].s = NAN;    // a hole in a curve
    condition(&f->conditions[2], "shrink_perturb", "periodic", 10, 9.1);
    curve(&f->conditions[2], 0, 6);
    if (geometric) {
        condition(&f->conditions[3], "shrink_perturb", "geometric", 0.05, 16.0);
        curve(&f->conditions[3], 0.05, 10);
    }

    f->n_protocols = 1;
    f->protocols = calloc(1, sizeof *f->protocols);
    cr_assert_not_null(f->protocols);
    snprintf(f->protocols[0].protocol, FPT_FIT_NAME, "shrink_perturb");
    snprintf(f->protocols[0].timing, FPT_FIT_NAME, "periodic");
    f->protocols[0].reference = 20, f->protocols[0].tp_runs = 40;
    f->protocols[0].tp_mean = 8, f->protocols[0].tp_lo = 7, f->protocols[0].tp_hi = 9;

    static const double TAU[6] = {1, 2, 5, 10, 20, 40};
    f->n_predictions = 3 * 6 + (geometric ? 4 : 0);
    f->predictions = calloc((size_t)f->n_predictions, sizeof *f->predictions);
    cr_assert_not_null(f->predictions);
    int k = 0;
    for (int m = 0; m < 3; m++)
        for (int i = 0; i < 6; i++) {
            fpt_fit_prediction *p = &f->predictions[k++];
            prediction(p, "shrink_perturb", "periodic", TAU[i], (fpt_model)m,
                       6 + 0.4 * TAU[i] + 2 * m);
            if (TAU[i] == 10 || TAU[i] == 20) {
                p->has_measured = 1;
                p->measured = TAU[i] == 10 ? 9.1 : 14.2;
                p->measured_lo = p->measured * 0.9;
                p->measured_hi = TAU[i] == 10 ? NAN : p->measured * 1.1;   // no upper bound
                p->rel_error = (p->predicted - p->measured) / p->measured;
            }
        }
    f->predictions[2 * 6 + 0].predicted = INFINITY;   // restart at tau = 1: never reached
    f->predictions[2 * 6 + 0].lo = f->predictions[2 * 6 + 0].hi = INFINITY;
    f->predictions[1 * 6 + 2].predicted = NAN;        // renewal at tau = 5
    f->predictions[0 * 6 + 1].lo = NAN;               // QSS band hole at tau = 2
    f->predictions[0 * 6 + 5].hi = INFINITY;
    if (geometric) {
        static const double P[4] = {0.01, 0.02, 0.05, 0.1};
        for (int i = 0; i < 4; i++) {
            fpt_fit_prediction *p = &f->predictions[k++];
            prediction(p, "shrink_perturb", "geometric", P[i], FPT_MODEL_LINEAR, 30 - 100 * P[i]);
            if (P[i] == 0.05) p->has_measured = 1, p->measured = 16, p->measured_lo = 14,
                              p->measured_hi = 18;
        }
        f->predictions[k - 1].predicted = -INFINITY;
    }

    f->n_ks = N_KS;
    f->ks_d = calloc(N_KS, sizeof(double));
    f->ks_p = calloc(N_KS, sizeof(double));
    cr_assert(f->ks_d && f->ks_p);
    for (int i = 0; i < N_KS; i++) {
        const int t = i + 1;
        f->ks_d[i] = 0.8 * exp(-t / 6.0);
        f->ks_p[i] = fmin(1, exp(-(16.0 - t) * 2.5));
    }
    f->ks_p[0] = 0;     // floored on the log axis
    f->ks_p[2] = NAN;
    f->ks_d[4] = INFINITY;
    f->ks_p[N_KS - 1] = NAN;   // the reference epoch against itself
    return f;
}

static void free_fit(fpt_fit *f) {
    fpt_fit_free(f);
    free(f);
}

// ---- checks -------------------------------------------------------------------------

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void check_png(const char *dir, const char *name) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s.png", dir, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    unsigned char h[24];
    const size_t got = fread(h, 1, sizeof h, f);
    fclose(f);
    cr_assert_eq(got, sizeof h, "%s: short file", path);
    static const unsigned char SIG[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    cr_expect_eq(memcmp(h, SIG, 8), 0, "%s: no PNG signature", path);
    cr_expect_eq(memcmp(h + 12, "IHDR", 4), 0, "%s: first chunk is not IHDR", path);
    cr_expect_eq(be32(h + 16), FPT_PLOT_WIDTH, "%s: width %u", path, be32(h + 16));
    cr_expect_eq(be32(h + 20), FPT_PLOT_HEIGHT, "%s: height %u", path, be32(h + 20));
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void check_svg(const char *dir, const char *name) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s.svg", dir, name);
    char *s = slurp(path);
    cr_expect_not_null(strstr(s, "<svg"), "%s: no <svg", path);
    cr_expect_not_null(strstr(s, "</svg>"), "%s: no </svg>", path);
    free(s);
}

// Names in dir (sorted, joined by spaces), dot files included.
static void listing(const char *dir, char *out, size_t n) {
    out[0] = '\0';
    struct dirent **ents;
    int k = scandir(dir, &ents, NULL, alphasort);
    cr_assert_geq(k, 0, "%s: %s", dir, strerror(errno));
    for (int i = 0; i < k; i++) {
        if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, "..")) {
            strncat(out, ents[i]->d_name, n - strlen(out) - 1);
            strncat(out, " ", n - strlen(out) - 1);
        }
        free(ents[i]);
    }
    free(ents);
}

static char *script_of(const fpt_fit *fit, const char *dir, const char *tag) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    fpt_err err = {{0}};
    const int rc = fpt_plot_write_script(fit, dir, tag, f, &err);
    fclose(f);
    cr_assert_eq(rc, 0, "%s", err.msg);
    return buf;
}

// A fake gnuplot: a shell script with this body, made executable.
static void fake_gnuplot(const char *path, const char *body) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "#!/bin/sh\ncat >/dev/null\n%s\n", body);
    fclose(f);
    cr_assert_eq(chmod(path, 0755), 0);
}

// ---- tests ----------------------------------------------------------------------------

Test(plot, writes_every_figure) {
    char pwned[128], name[256], out[128], ls[512];
    snprintf(pwned, sizeof pwned, "%s/pwned", g_dir);
    // Quotes, a shell command in backquotes, a macro and a newline in the name.
    snprintf(name, sizeof name, "cifar10 'quick' `touch %s` @x\nend", pwned);
    fpt_fit *fit = make_fit(name, 0);
    snprintf(out, sizeof out, "%s/figs/sub", g_dir);   // created like mkdir -p
    fpt_err err = {{0}};
    int written = -1;
    cr_assert_eq(fpt_plot_fit(fit, out, &written, &err), 0, "%s", err.msg);
    cr_expect_eq(written, 6);
    listing(out, ls, sizeof ls);
    cr_expect_str_eq(ls, "ks.png ks.svg mfpt.png mfpt.svg survival.png survival.svg ");
    static const char *const FIG[3] = {"survival", "mfpt", "ks"};
    for (int i = 0; i < 3; i++) {
        check_png(out, FIG[i]);
        check_svg(out, FIG[i]);
    }
    cr_expect_neq(access(pwned, F_OK), 0, "a backquoted command in the name was run");
    // The title made it through, quotes and all.
    snprintf(name, sizeof name, "%s/survival.svg", out);
    char *svg = slurp(name);
    cr_expect_not_null(strstr(svg, "shrink_perturb tau=20"), "legend");
    cr_expect_not_null(strstr(svg, "cifar10 &apos;quick&apos;") ||
                           strstr(svg, "cifar10 'quick'"),
                       "title");
    free(svg);
    // Plotting again replaces the figures.
    cr_assert_eq(fpt_plot_fit(fit, out, NULL, &err), 0, "%s", err.msg);
    listing(out, ls, sizeof ls);
    cr_expect_str_eq(ls, "ks.png ks.svg mfpt.png mfpt.svg survival.png survival.svg ");
    free_fit(fit);
}

Test(plot, geometric_figure) {
    fpt_fit *fit = make_fit("geo", 1);
    const char *names[FPT_PLOT_MAX_FIGURES];
    cr_assert_eq(fpt_plot_figures(fit, names), 4);
    cr_expect_str_eq(names[2], "mfpt_geometric");
    fpt_err err = {{0}};
    int written = 0;
    cr_assert_eq(fpt_plot_fit(fit, g_dir, &written, &err), 0, "%s", err.msg);
    cr_expect_eq(written, 8);
    check_png(g_dir, "mfpt_geometric");
    check_svg(g_dir, "mfpt_geometric");
    check_png(g_dir, "survival");
    free_fit(fit);
}

Test(plot, script_datablocks_are_finite) {
    fpt_fit *fit = make_fit("blocks", 1);
    char *s = script_of(fit, "/some/dir", NULL);
    // Every datablock row: 2 to 4 finite numbers; no inf or nan anywhere in the data.
    int blocks = 0, rows = 0, in = 0;
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
        if (!in) {
            if (line[0] == '$' && strstr(line, " << EOD")) in = 1, blocks++;
            continue;
        }
        if (strcmp(line, "EOD") == 0) {
            in = 0;
            continue;
        }
        for (const char *w = line; *w; w++)
            cr_expect(strncasecmp(w, "inf", 3) && strncasecmp(w, "nan", 3), "row '%s'", line);
        int cols = 0;
        char *p = line, *e;
        for (;;) {
            double v = strtod(p, &e);
            if (e == p) break;
            cr_expect(isfinite(v), "row '%s'", line);
            cols++, p = e;
        }
        cr_expect(cols >= 2 && cols <= 4 && *p == '\0', "row '%s'", line);
        rows++;
    }
    cr_expect_eq(in, 0, "unterminated datablock");
    cr_expect_geq(blocks, 10);
    cr_expect_geq(rows, 100);
    free(s);

    s = script_of(fit, "/some/dir", NULL);
    cr_expect_not_null(strstr(s, "set output '/some/dir/survival.png'"));
    cr_expect_not_null(strstr(s, "set output '/some/dir/mfpt_geometric.svg'"));
    cr_expect_not_null(strstr(s, "'shrink_perturb tau=20'"));
    cr_expect_not_null(strstr(s, "'shrink_perturb tau=10'"));
    cr_expect_not_null(strstr(s, "'shrink_perturb p=0.05'"));
    cr_expect_not_null(strstr(s, "outside QSS (tau < t_rel = 15)"));
    cr_expect_not_null(strstr(s, "'alpha = 0.05'"));
    cr_expect_not_null(strstr(s, "t_rel = 15"));
    cr_expect_not_null(strstr(s, "title 'shrink_perturb'"));   // one key entry per protocol
    cr_expect_not_null(strstr(s, "'QSS prediction, 95% band'"));
    cr_expect_not_null(strstr(s, "'renewal prediction'"));
    cr_expect_not_null(strstr(s, "'restart prediction'"));
    cr_expect_not_null(strstr(s, "'linear response prediction, 95% band'"));
    cr_expect_not_null(strstr(s, "'baseline E[min(T,60)] = 38.5'"));
    cr_expect_not_null(strstr(s, "set logscale x"));
    cr_expect_not_null(strstr(s, "p-values below 1e-16"));
    free(s);
    s = script_of(fit, "/some/dir", "42-0");
    cr_expect_not_null(strstr(s, "set output '/some/dir/.survival.png.42-0.tmp'"));
    cr_expect_null(strstr(s, "/some/dir/survival.png"));
    free(s);
    free_fit(fit);
}

Test(plot, missing_gnuplot_leaves_nothing) {
    fpt_fit *fit = make_fit("x", 0);
    char out[128], ls[256];
    snprintf(out, sizeof out, "%s/new", g_dir);
    cr_assert_eq(setenv("FPTFARM_GNUPLOT", "/nonexistent", 1), 0);
    fpt_err err = {{0}};
    int written = -1;
    cr_assert_eq(fpt_plot_fit(fit, out, &written, &err), -1);
    cr_expect_eq(written, 0);
    cr_expect_not_null(strstr(err.msg, "gnuplot"), "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, "/nonexistent"), "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, "install gnuplot-nox"), "%s", err.msg);
    cr_expect_neq(access(out, F_OK), 0, "output directory created anyway");
    cr_assert_eq(fpt_plot_fit(fit, g_dir, NULL, &err), -1);
    listing(g_dir, ls, sizeof ls);
    cr_expect_str_eq(ls, "");
    // Not on PATH either.
    unsetenv("FPTFARM_GNUPLOT");
    cr_assert_eq(setenv("PATH", g_dir, 1), 0);
    char buf[256];
    cr_assert_eq(fpt_plot_find_gnuplot(buf, sizeof buf, &err), -1);
    cr_assert_eq(fpt_plot_fit(fit, out, NULL, &err), -1);
    cr_expect_not_null(strstr(err.msg, "gnuplot is not installed"), "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, "install gnuplot-nox"), "%s", err.msg);
    cr_expect_neq(access(out, F_OK), 0);
    free_fit(fit);
}

Test(plot, failing_gnuplot_is_quoted_and_old_figures_stay) {
    fpt_fit *fit = make_fit("x", 0);
    char gp[128], out[128], path[192], ls[512];
    snprintf(gp, sizeof gp, "%s/gnuplot", g_dir);
    snprintf(out, sizeof out, "%s/out", g_dir);
    cr_assert_eq(mkdir(out, 0755), 0);
    snprintf(path, sizeof path, "%s/survival.png", out);
    FILE *f = fopen(path, "w");
    fputs("old figure", f);
    fclose(f);
    // gnuplot's error format: the command echoed, a caret, then "line N: ...".
    fake_gnuplot(gp, "echo 'Warning: empty x range' >&2\n"
                     "echo 'gnuplot> plot $d0 using 1:2' >&2\n"
                     "echo '                 ^' >&2\n"
                     "echo '         line 7: all points y value undefined!' >&2\n"
                     "exit 1");
    cr_assert_eq(setenv("FPTFARM_GNUPLOT", gp, 1), 0);
    fpt_err err = {{0}};
    int written = -1;
    cr_assert_eq(fpt_plot_fit(fit, out, &written, &err), -1);
    cr_expect_eq(written, 0);
    cr_expect_not_null(strstr(err.msg, "gnuplot"), "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, "exit status 1"), "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, "\"line 7: all points y value undefined!\""), "%s",
                       err.msg);
    listing(out, ls, sizeof ls);
    cr_expect_str_eq(ls, "survival.png ", "temporary files left: %s", ls);
    char *old = slurp(path);
    cr_expect_str_eq(old, "old figure");
    free(old);

    // Exits 0 but draws nothing: an error, and still no temporary files.
    fake_gnuplot(gp, "echo 'Fontconfig warning' >&2\nexit 0");
    cr_assert_eq(fpt_plot_fit(fit, out, &written, &err), -1);
    cr_expect_not_null(strstr(err.msg, "did not write"), "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, "survival.png"), "%s", err.msg);
    listing(out, ls, sizeof ls);
    cr_expect_str_eq(ls, "survival.png ");

    // The real gnuplot replaces the old figure.
    unsetenv("FPTFARM_GNUPLOT");
    cr_assert_eq(fpt_plot_fit(fit, out, &written, &err), 0, "%s", err.msg);
    check_png(out, "survival");
    free_fit(fit);
}

Test(plot, unusable_directory_is_named) {
    fpt_fit *fit = make_fit("x", 0);
    char file[128], out[192];
    snprintf(file, sizeof file, "%s/file", g_dir);
    FILE *f = fopen(file, "w");
    fclose(f);
    // A regular file where a directory should be (fails even for root).
    snprintf(out, sizeof out, "%s/sub", file);
    fpt_err err = {{0}};
    cr_assert_eq(fpt_plot_fit(fit, out, NULL, &err), -1);
    cr_expect_not_null(strstr(err.msg, out), "%s", err.msg);
    cr_assert_eq(fpt_plot_fit(fit, file, NULL, &err), -1);
    cr_expect_not_null(strstr(err.msg, file), "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, "not a directory"), "%s", err.msg);
    // A directory without write permission (root writes anyway).
    if (geteuid() != 0) {
        char ro[128];
        snprintf(ro, sizeof ro, "%s/ro", g_dir);
        cr_assert_eq(mkdir(ro, 0555), 0);
        cr_assert_eq(fpt_plot_fit(fit, ro, NULL, &err), -1);
        cr_expect_not_null(strstr(err.msg, ro), "%s", err.msg);
        cr_expect_not_null(strstr(err.msg, "ermission"), "%s", err.msg);
    }
    free_fit(fit);
}

Test(plot, nothing_to_plot) {
    fpt_fit fit;
    memset(&fit, 0, sizeof fit);
    snprintf(fit.experiment, sizeof fit.experiment, "empty");
    const char *names[FPT_PLOT_MAX_FIGURES];
    cr_expect_eq(fpt_plot_figures(&fit, names), 0);
    fpt_err err = {{0}};
    cr_assert_eq(fpt_plot_fit(&fit, g_dir, NULL, &err), -1);
    cr_expect_not_null(strstr(err.msg, "nothing to plot"), "%s", err.msg);
    // Only a baseline with a curve: survival alone (plus the baseline-only mfpt
    // has no periodic data, so no mfpt figure).
    fpt_fit *f = make_fit("base only", 0);
    f->n_conditions = 1;
    f->n_predictions = 0;
    f->n_ks = 0;
    cr_expect_eq(fpt_plot_figures(f, names), 1);
    cr_expect_str_eq(names[0], "survival");
    f->n_conditions = 3;
    free_fit(f);
}
