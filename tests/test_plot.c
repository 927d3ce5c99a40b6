// test_plot.c — figures of a fit drawn by gnuplot: every file written, PNG
// signature and IHDR size, SVG well begun and ended, datablocks free of
// inf/nan, quoting of hostile names, atomic replacement (a failing gnuplot
// leaves old figures and no temporary files), and the errors for a missing
// gnuplot, a failing one, and an unusable output directory.  Then the
// figures' rules and options: the mean-FPT figure's y range set by the data
// (numbers worked by hand from the fit below), the kept scripts drawing
// their figures again, pdf output, size and titles, the option parsers, and
// the accuracy bands' quantiles against numpy.
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

#include "analysis/accuracy_bands.h"
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
    f->protocols[0].confirmed_lo = 10, f->protocols[0].confirmed_hi = 20;   // the QSS check
    f->protocols[0].contradicted_below = 2;

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
    f->n_drift = N_KS - 5;        // D(t, t + 5), t = 1..25
    f->drift = calloc(N_KS, sizeof(double));
    cr_assert_not_null(f->drift);
    for (int i = 0; i < f->n_drift; i++) f->drift[i] = 0.02 + 0.9 * exp(-(i + 1) / 4.0);
    f->opt.ks_window = 5, f->opt.relax_tolerance = 0.05, f->relax_floor = 0.02;
    f->t_rel_lo = 13, f->t_rel_hi = 17;
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

// The kept scripts of every figure of the fit (default options), concatenated.
static char *scripts_of(const fpt_fit *fit, const fpt_plot_options *opt) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    const char *names[FPT_PLOT_MAX_FIGURES];
    const int n = fpt_plot_figures(fit, NULL, names);
    for (int i = 0; i < n; i++) {
        fpt_err err = {{0}};
        const int rc = fpt_plot_write_script(fit, NULL, opt, names[i], f, &err);
        cr_assert_eq(rc, 0, "%s: %s", names[i], err.msg);
    }
    fclose(f);
    return buf;
}

// The kept script of one figure.
static char *script_of(const fpt_fit *fit, const char *name, const fpt_plot_options *opt) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    fpt_err err = {{0}};
    const int rc = fpt_plot_write_script(fit, NULL, opt, name, f, &err);
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

// What fpt_plot_fit writes for make_fit(.., 0): 4 figures, .png .svg .gp.
#define ALL_FILES                                                                                 \
    "ks.gp ks.png ks.svg mfpt.gp mfpt.png mfpt.svg predicted_vs_measured.gp "                      \
    "predicted_vs_measured.png predicted_vs_measured.svg survival.gp survival.png survival.svg "

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
    cr_assert_eq(fpt_plot_fit(fit, NULL, NULL, out, &written, &err), 0, "%s", err.msg);
    cr_expect_eq(written, 12);   // 4 figures: .png, .svg and the script .gp
    listing(out, ls, sizeof ls);
    cr_expect_str_eq(ls, ALL_FILES);
    static const char *const FIG[4] = {"survival", "mfpt", "predicted_vs_measured", "ks"};
    for (int i = 0; i < 4; i++) {
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
    cr_assert_eq(fpt_plot_fit(fit, NULL, NULL, out, NULL, &err), 0, "%s", err.msg);
    listing(out, ls, sizeof ls);
    cr_expect_str_eq(ls, ALL_FILES);
    free_fit(fit);
}

Test(plot, geometric_figure) {
    fpt_fit *fit = make_fit("geo", 1);
    const char *names[FPT_PLOT_MAX_FIGURES];
    cr_assert_eq(fpt_plot_figures(fit, NULL, names), 5);
    cr_expect_str_eq(names[2], "mfpt_geometric");
    cr_expect_str_eq(names[3], "predicted_vs_measured");
    fpt_err err = {{0}};
    int written = 0;
    cr_assert_eq(fpt_plot_fit(fit, NULL, NULL, g_dir, &written, &err), 0, "%s", err.msg);
    cr_expect_eq(written, 15);
    check_png(g_dir, "mfpt_geometric");
    check_svg(g_dir, "mfpt_geometric");
    check_png(g_dir, "survival");
    free_fit(fit);
}

Test(plot, script_datablocks_are_finite) {
    fpt_fit *fit = make_fit("blocks", 1);
    char *s = scripts_of(fit, NULL);
    // Every datablock row: 2 to 7 finite numbers; no inf or nan anywhere in the data.
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
        if (line[0] == '#') continue;   // a block's column names
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
        cr_expect(cols >= 2 && cols <= 7 && *p == '\0', "row '%s'", line);
        rows++;
    }
    cr_expect_eq(in, 0, "unterminated datablock");
    cr_expect_geq(blocks, 10);
    cr_expect_geq(rows, 100);
    free(s);

    s = scripts_of(fit, NULL);
    // Each kept script writes its own figure into the current directory,
    // unless told other names (fpt_plot_fit's temporary ones).
    cr_expect_not_null(strstr(s, "if (!exists(\"out_png\")) out_png = 'survival.png'"));
    cr_expect_not_null(strstr(s, "if (!exists(\"out_svg\")) out_svg = 'mfpt_geometric.svg'"));
    cr_expect_not_null(strstr(s, "set output out_png"));
    cr_expect_null(strstr(s, "out_pdf"));   // not asked for
    cr_expect_not_null(strstr(s, "'shrink_perturb tau=20'"));
    cr_expect_not_null(strstr(s, "'shrink_perturb tau=10'"));
    cr_expect_not_null(strstr(s, "'shrink_perturb p=0.05'"));
    cr_expect_not_null(strstr(s, "tau < t_rel = 15: QSS not assumed"));
    // The QSS check's bars: confirmed 10..20 in the protocol's colour, red
    // from the left edge to the contradicted period 2.
    cr_expect_not_null(strstr(s, "'QSS check, shrink_perturb: confirmed for tau 10..20'"));
    cr_expect_not_null(strstr(s, "from first 10, graph 0.035 to first 20, graph 0.035 nohead"));
    cr_expect_not_null(strstr(s, "from graph 0, graph 0.035 to first 2, graph 0.035 nohead"));
    cr_expect_not_null(strstr(s, "'fails for tau <= 2'"));
    cr_expect_not_null(strstr(s, "'alpha = 0.05 (right axis)'"));
    cr_expect_not_null(strstr(s, "'bound: late level 0.020 + tolerance 0.05'"));
    cr_expect_not_null(strstr(s, "'t_rel = 15 [13, 17]'"));
    cr_expect_not_null(strstr(s, "t_rel = 15"));
    cr_expect_not_null(strstr(s, "title 'shrink_perturb'"));   // one key entry per protocol
    cr_expect_not_null(strstr(s, "'QSS prediction'"));
    cr_expect_not_null(strstr(s, "'QSS prediction, 95% interval'"));
    cr_expect_not_null(strstr(s, "'renewal prediction'"));
    cr_expect_not_null(strstr(s, "'restart prediction'"));
    cr_expect_not_null(strstr(s, "'linear response prediction, 95% interval'"));
    cr_expect_not_null(strstr(s, "'baseline E[min(T,60)] = 38.5'"));
    cr_expect_not_null(strstr(s, "'predicted = measured'"));
    cr_expect_not_null(strstr(s, "'hollow: outside the model (valid = 0)'"));
    cr_expect_not_null(strstr(s, "'shrink_perturb tau=20 band (reference)'"));
    cr_expect_not_null(strstr(s, "set logscale x"));
    cr_expect_not_null(strstr(s, "< 1e-16 drawn at 1e-16"));
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
    cr_assert_eq(fpt_plot_fit(fit, NULL, NULL, out, &written, &err), -1);
    cr_expect_eq(written, 0);
    cr_expect_not_null(strstr(err.msg, "gnuplot"), "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, "/nonexistent"), "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, "install gnuplot-nox"), "%s", err.msg);
    cr_expect_neq(access(out, F_OK), 0, "output directory created anyway");
    cr_assert_eq(fpt_plot_fit(fit, NULL, NULL, g_dir, NULL, &err), -1);
    listing(g_dir, ls, sizeof ls);
    cr_expect_str_eq(ls, "");
    // Not on PATH either.
    unsetenv("FPTFARM_GNUPLOT");
    cr_assert_eq(setenv("PATH", g_dir, 1), 0);
    char buf[256];
    cr_assert_eq(fpt_plot_find_gnuplot(buf, sizeof buf, &err), -1);
    cr_assert_eq(fpt_plot_fit(fit, NULL, NULL, out, NULL, &err), -1);
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
    cr_assert_eq(fpt_plot_fit(fit, NULL, NULL, out, &written, &err), -1);
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
    cr_assert_eq(fpt_plot_fit(fit, NULL, NULL, out, &written, &err), -1);
    cr_expect_not_null(strstr(err.msg, "did not write"), "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, "survival.png"), "%s", err.msg);
    listing(out, ls, sizeof ls);
    cr_expect_str_eq(ls, "survival.png ");

    // The real gnuplot replaces the old figure.
    unsetenv("FPTFARM_GNUPLOT");
    cr_assert_eq(fpt_plot_fit(fit, NULL, NULL, out, &written, &err), 0, "%s", err.msg);
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
    cr_assert_eq(fpt_plot_fit(fit, NULL, NULL, out, NULL, &err), -1);
    cr_expect_not_null(strstr(err.msg, out), "%s", err.msg);
    cr_assert_eq(fpt_plot_fit(fit, NULL, NULL, file, NULL, &err), -1);
    cr_expect_not_null(strstr(err.msg, file), "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, "not a directory"), "%s", err.msg);
    // A directory without write permission (root writes anyway).
    if (geteuid() != 0) {
        char ro[128];
        snprintf(ro, sizeof ro, "%s/ro", g_dir);
        cr_assert_eq(mkdir(ro, 0555), 0);
        cr_assert_eq(fpt_plot_fit(fit, NULL, NULL, ro, NULL, &err), -1);
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
    cr_expect_eq(fpt_plot_figures(&fit, NULL, names), 0);
    fpt_err err = {{0}};
    cr_assert_eq(fpt_plot_fit(&fit, NULL, NULL, g_dir, NULL, &err), -1);
    cr_expect_not_null(strstr(err.msg, "nothing to plot"), "%s", err.msg);
    // Only a baseline with a curve: survival alone (plus the baseline-only mfpt
    // has no periodic data, so no mfpt figure).
    fpt_fit *f = make_fit("base only", 0);
    f->n_conditions = 1;
    f->n_predictions = 0;
    f->n_ks = 0;
    cr_expect_eq(fpt_plot_figures(f, NULL, names), 1);
    cr_expect_str_eq(names[0], "survival");
    f->n_conditions = 3;
    free_fit(f);
}

// ---- the figures' rules and options ---------------------------------------------------

// The numbers of "set <axis>range [a:b]" in s, the first such line.
static void range_of(const char *s, const char *axis, double *a, double *b) {
    char key[32];
    snprintf(key, sizeof key, "set %srange [", axis);
    const char *p = strstr(s, key);
    cr_assert_not_null(p, "no %s", key);
    cr_assert_eq(sscanf(p + strlen(key), "%lf:%lf]", a, b), 2, "%.60s", p);
}

// A prediction far off (QSS at tau = 40: 1e4 epochs) must not set the range.
// The fit's measured values (make_fit): the predictions with has_measured
// at tau = 10 (9.1, interval from 8.19, no upper end) and 20 (14.2, from
// 12.78); the conditions at the same periods are not drawn twice; the
// baseline line 38.5.  So the data span [8.19, 38.5] and the range is
// [8.19 / 1.15, 38.5 * 1.5] = [7.121739130..., 57.75].
// Beyond it: QSS (6 + 0.4 tau) at tau = 1 and 2 (6.4, 6.8 < 7.12: one run
// below, marked where it re-enters, at tau = 2, point type 11) and the far
// one at tau = 40 (above, point type 9).  Renewal (8 + 0.4 tau) and restart
// (10 + 0.4 tau) stay inside.
Test(plot, mfpt_range_is_set_by_the_data_and_far_predictions_are_marked) {
    fpt_fit *fit = make_fit("clip", 0);
    fpt_fit_prediction *far = &fit->predictions[0 * 6 + 5];   // QSS, tau = 40
    cr_assert_eq(far->frequency, 40);
    cr_assert_eq(far->model, FPT_MODEL_QSS);
    far->predicted = 1e4, far->lo = 9e3, far->hi = 1.1e4;
    // With the QSS check's bars along the bottom the range goes 1.35 times
    // lower, for their row; without them, as above.
    char *s = script_of(fit, "mfpt", NULL);
    double a, b;
    range_of(s, "y", &a, &b);
    cr_expect(fabs(a - 8.19 / 1.15 / 1.35) < 1e-6, "y from %.9g with the QSS bars", a);
    free(s);
    fit->protocols[0].confirmed_lo = fit->protocols[0].confirmed_hi = 0;
    fit->protocols[0].contradicted_below = 0;
    s = script_of(fit, "mfpt", NULL);
    cr_expect_null(strstr(s, "QSS check"));
    range_of(s, "y", &a, &b);
    cr_expect(fabs(a - 8.19 / 1.15) < 1e-6, "y from %.9g, expected 7.12173913", a);
    cr_expect(fabs(b - 57.75) < 1e-9, "y to %.9g, expected 57.75", b);
    // The markers' block: (x, edge, point type).
    cr_expect_not_null(strstr(s, "\n2 7.12173913 11\n"), "marker below at tau = 2");
    cr_expect_not_null(strstr(s, "\n40 57.75 9\n"), "marker above at tau = 40");
    cr_expect_not_null(strstr(s, "'prediction off scale (leaves the range here)'"));
    // The band is clamped to the range: at tau = 40 it is [57.75, 57.75].
    cr_expect_not_null(strstr(s, "\n40 57.75 57.75\n"), "band at tau = 40 clamped");
    free(s);

    // Nothing measured: the QSS prediction and its band set the range.
    for (int i = 0; i < fit->n_predictions; i++) fit->predictions[i].has_measured = 0;
    for (int i = 1; i < fit->n_conditions; i++) fit->conditions[i].rm = NAN;
    s = script_of(fit, "mfpt", NULL);
    range_of(s, "y", &a, &b);
    // QSS values 6.4 .. 1e4 with band ends from 6.4*0.92 = 5.888 (tau = 1)
    // to 1.1e4 (tau = 40); the baseline 38.5 inside.
    cr_expect(fabs(a - 5.888 / 1.15) < 1e-6, "y from %.9g", a);
    cr_expect(fabs(b - 1.1e4 * 1.5) < 1e-6, "y to %.9g", b);
    free(s);
    free_fit(fit);
}

// Runs gnuplot on a kept script in its own directory; returns its exit status.
static int run_kept(const char *dir, const char *script) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot %s >/dev/null 2>&1", dir, script);
    return system(cmd);
}

static void copy_file(const char *from, const char *to) {
    char *text = slurp(from);
    FILE *f = fopen(to, "w");
    cr_assert_not_null(f, "%s: %s", to, strerror(errno));
    fputs(text, f);
    fclose(f);
    free(text);
}

Test(plot, kept_script_draws_its_figure_again) {
    fpt_fit *fit = make_fit("kept", 0);
    char out[128], elsewhere[128], from[256], to[256], ls[512];
    snprintf(out, sizeof out, "%s/figs", g_dir);
    snprintf(elsewhere, sizeof elsewhere, "%s/copy", g_dir);
    cr_assert_eq(mkdir(elsewhere, 0755), 0);
    fpt_err err = {{0}};
    cr_assert_eq(fpt_plot_fit(fit, NULL, NULL, out, NULL, &err), 0, "%s", err.msg);
    static const char *const FIG[4] = {"survival", "mfpt", "predicted_vs_measured", "ks"};
    for (int i = 0; i < 4; i++) {
        snprintf(from, sizeof from, "%s/%s.gp", out, FIG[i]);
        snprintf(to, sizeof to, "%s/%s.gp", elsewhere, FIG[i]);
        copy_file(from, to);
        cr_expect_eq(run_kept(elsewhere, strrchr(to, '/') + 1), 0, "gnuplot %s failed", to);
        check_png(elsewhere, FIG[i]);
        check_svg(elsewhere, FIG[i]);
    }
    listing(elsewhere, ls, sizeof ls);
    cr_expect_str_eq(ls, "ks.gp ks.png ks.svg mfpt.gp mfpt.png mfpt.svg predicted_vs_measured.gp "
                         "predicted_vs_measured.png predicted_vs_measured.svg survival.gp "
                         "survival.png survival.svg ");
    free_fit(fit);
}

// pdf by pdfcairo when this gnuplot has it; otherwise the error must say so.
Test(plot, pdf_is_written_or_its_terminal_named) {
    fpt_fit *fit = make_fit("pdf", 0);
    const int have_pdfcairo =
        system("gnuplot -e 'set terminal pdfcairo' >/dev/null 2>&1") == 0;
    fpt_plot_options opt = fpt_plot_options_default;
    opt.formats = FPT_PLOT_PDF;
    fpt_err err = {{0}};
    int written = -1;
    const int rc = fpt_plot_fit(fit, NULL, &opt, g_dir, &written, &err);
    char ls[512];
    listing(g_dir, ls, sizeof ls);
    if (have_pdfcairo) {
        cr_assert_eq(rc, 0, "%s", err.msg);
        cr_expect_eq(written, 8);   // 4 figures: .pdf and .gp
        cr_expect_str_eq(ls, "ks.gp ks.pdf mfpt.gp mfpt.pdf predicted_vs_measured.gp "
                             "predicted_vs_measured.pdf survival.gp survival.pdf ");
        char path[256];
        snprintf(path, sizeof path, "%s/mfpt.pdf", g_dir);
        char *pdf = slurp(path);
        cr_expect_eq(strncmp(pdf, "%PDF", 4), 0, "mfpt.pdf does not start with %%PDF");
        free(pdf);
    } else {
        cr_assert_eq(rc, -1);
        cr_expect_not_null(strstr(err.msg, "pdfcairo"), "%s", err.msg);
        cr_expect_str_eq(ls, "");
    }
    // A gnuplot without pdfcairo, as it reports it: the error names the terminal.
    char gp[128], out[128];
    snprintf(gp, sizeof gp, "%s/gnuplot", g_dir);
    snprintf(out, sizeof out, "%s/nopdf", g_dir);
    fake_gnuplot(gp, "echo 'set terminal pdfcairo size 8in,5.6in' >&2\n"
                     "echo '             ^' >&2\n"
                     "echo '         line 30: unknown or ambiguous terminal type; type just "
                     "'\\''set terminal'\\'' for a list' >&2\nexit 1");
    cr_assert_eq(setenv("FPTFARM_GNUPLOT", gp, 1), 0);
    cr_assert_eq(fpt_plot_fit(fit, NULL, &opt, out, NULL, &err), -1);
    unsetenv("FPTFARM_GNUPLOT");
    cr_expect_not_null(strstr(err.msg, "unknown or ambiguous terminal type"), "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, "pdfcairo for --format pdf"), "%s", err.msg);
    listing(out, ls, sizeof ls);
    cr_expect_str_eq(ls, "", "files left: %s", ls);
    free_fit(fit);
}

Test(plot, size_and_no_title) {
    fpt_fit *fit = make_fit("sized", 0);
    fpt_plot_options opt = fpt_plot_options_default;
    opt.width = 1000, opt.height = 700, opt.no_title = 1, opt.formats = FPT_PLOT_PNG;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_plot_fit(fit, NULL, &opt, g_dir, NULL, &err), 0, "%s", err.msg);
    char path[256];
    snprintf(path, sizeof path, "%s/mfpt.png", g_dir);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    unsigned char h[24];
    cr_assert_eq(fread(h, 1, sizeof h, f), sizeof h);
    fclose(f);
    cr_expect_eq(be32(h + 16), 1000);
    cr_expect_eq(be32(h + 20), 700);
    snprintf(path, sizeof path, "%s/mfpt.gp", g_dir);
    char *s = slurp(path);
    cr_expect_null(strstr(s, "set title"), "a title with --no-title");
    cr_expect_null(strstr(s, "out_svg"), "svg not asked for");
    // Text and lines scale with the figure: min(1000/800, 700/560) = 1.25.
    cr_expect_not_null(strstr(s, "size 1000,700"));
    cr_expect_not_null(strstr(s, "fontscale 1.25 linewidth 1.25"));
    free(s);
    free_fit(fit);
}

Test(plot, options_parse_and_reject_bad_values) {
    fpt_err err = {{0}};
    unsigned fm = 0;
    cr_expect_eq(fpt_plot_parse_formats("png", &fm, &err), 0);
    cr_expect_eq(fm, FPT_PLOT_PNG);
    cr_expect_eq(fpt_plot_parse_formats("svg,pdf", &fm, &err), 0);   // repeatable: adds
    cr_expect_eq(fm, FPT_PLOT_PNG | FPT_PLOT_SVG | FPT_PLOT_PDF);
    static const char *const BAD_FORMAT[] = {"", "jpg", "png,", ",png", "PNG", "png,,svg",
                                             "pdf svg", "png;svg"};
    for (size_t i = 0; i < sizeof BAD_FORMAT / sizeof *BAD_FORMAT; i++) {
        fm = 0;
        err.msg[0] = '\0';
        cr_expect_eq(fpt_plot_parse_formats(BAD_FORMAT[i], &fm, &err), -1, "'%s'", BAD_FORMAT[i]);
        cr_expect_eq(fm, 0u, "'%s' changed the formats", BAD_FORMAT[i]);
        cr_expect_not_null(strstr(err.msg, "--format"), "%s", err.msg);
        cr_expect_not_null(strstr(err.msg, "expected png, svg or pdf"), "%s", err.msg);
        cr_expect_null(strchr(err.msg, '\n'), "one line: %s", err.msg);
    }
    int w = 0, h = 0;
    cr_expect_eq(fpt_plot_parse_size("1200x840", &w, &h, &err), 0);
    cr_expect_eq(w, 1200);
    cr_expect_eq(h, 840);
    cr_expect_eq(fpt_plot_parse_size("200x10000", &w, &h, &err), 0);   // the limits
    static const char *const BAD_SIZE[] = {"", "800", "x600", "800x", "199x600", "800x10001",
                                           "8e2x600", "-800x600", "800X600", "800x600x2",
                                           "800 x600", "1.5x600"};
    for (size_t i = 0; i < sizeof BAD_SIZE / sizeof *BAD_SIZE; i++) {
        w = h = 7;
        cr_expect_eq(fpt_plot_parse_size(BAD_SIZE[i], &w, &h, &err), -1, "'%s'", BAD_SIZE[i]);
        cr_expect(w == 7 && h == 7, "'%s' changed the size", BAD_SIZE[i]);
        cr_expect_not_null(strstr(err.msg, "--size"), "%s", err.msg);
        cr_expect_not_null(strstr(err.msg, "WIDTHxHEIGHT"), "%s", err.msg);
    }
    double t = 0;
    cr_expect_eq(fpt_plot_parse_target("72", &t, &err), 0);
    cr_expect_eq(t, 72);
    cr_expect_eq(fpt_plot_parse_target("72.5", &t, &err), 0);
    cr_expect_eq(t, 72.5);
    static const char *const BAD_TARGET[] = {"", "abc", "0", "-5", "101", "72%", "nan", "inf"};
    for (size_t i = 0; i < sizeof BAD_TARGET / sizeof *BAD_TARGET; i++) {
        cr_expect_eq(fpt_plot_parse_target(BAD_TARGET[i], &t, &err), -1, "'%s'", BAD_TARGET[i]);
        cr_expect_not_null(strstr(err.msg, "--target"), "%s", err.msg);
    }
    // Choosing a stored fit by target; none: the stored ones listed.
    fpt_fit fits[2];
    memset(fits, 0, sizeof fits);
    fits[0].opt.target = 72, fits[1].opt.target = 60;
    cr_expect_eq(fpt_plot_select_target(fits, 2, 60, &err), 1);
    cr_expect_eq(fpt_plot_select_target(fits, 2, 72, &err), 0);
    cr_expect_eq(fpt_plot_select_target(fits, 2, 80, &err), -1);
    cr_expect_not_null(strstr(err.msg, "--target 80"), "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, "stored: 72, 60"), "%s", err.msg);
    cr_expect_eq(fpt_plot_select_target(fits, 0, 80, &err), -1);
    cr_expect_not_null(strstr(err.msg, "no fit"), "%s", err.msg);
}

// ---- accuracy bands -------------------------------------------------------------------

// Expected values computed with numpy 1.24.2 (default method "linear", i.e.
// type 7): np.quantile(sample, p) for p in 0.1, 0.25, 0.5, 0.75, 0.9.
static void expect_q(const double *got, const double *want, const char *what) {
    for (int k = 0; k < FPT_ACC_NQ; k++)
        cr_expect(fabs(got[k] - want[k]) < 1e-9, "%s, p = %g: %.17g, numpy %.17g", what,
                  fpt_acc_probs[k], got[k], want[k]);
}

static int cmp_d(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

Test(plot, quantiles_match_numpy) {
    static const struct {
        int n;
        double v[8];
        double want[FPT_ACC_NQ];
    } CASES[] = {
        {7,
         {71.2, 68.5, 73.9, 70.0, 69.3, 72.8, 74.4},
         {68.98, 69.65, 71.2, 73.35, 74.10000000000001}},
        {4, {60.0, 62.5, 61.0, 65.0}, {60.3, 60.75, 61.75, 63.125, 64.25}},
        {1, {42.0}, {42, 42, 42, 42, 42}},
        {2, {10.0, 20.0}, {11.0, 12.5, 15.0, 17.5, 19.0}},
    };
    for (size_t c = 0; c < sizeof CASES / sizeof *CASES; c++) {
        double v[8], got[FPT_ACC_NQ];
        memcpy(v, CASES[c].v, sizeof v);
        qsort(v, (size_t)CASES[c].n, sizeof *v, cmp_d);
        for (int k = 0; k < FPT_ACC_NQ; k++)
            got[k] = fpt_quantile7(v, CASES[c].n, fpt_acc_probs[k]);
        char what[32];
        snprintf(what, sizeof what, "case %zu", c);
        expect_q(got, CASES[c].want, what);
    }
    double one = 1;
    cr_expect(isnan(fpt_quantile7(&one, 0, 0.5)));
    cr_expect(isnan(fpt_quantile7(&one, 1, 1.5)));
}

// Runs by hand: four baseline runs (one only 2 epochs long), a diverged
// baseline run and a run of another condition, both left out.  Expected per
// epoch, from numpy as above over the baseline runs that have the epoch:
//   epoch 1: [40, 45, 38.5, 50]   -> 38.95 39.625 42.5 46.25 48.5
//   epoch 2: [55.5, 60, 58, 52]   -> 53.05 54.625 56.75 58.5 59.4
//   epoch 3: [70.25, 72, 71]      -> 70.4 70.625 71.0 71.5 71.8
Test(plot, accuracy_bands_of_runs_by_hand) {
    static const double R1[] = {40.0, 55.5, 70.25}, R2[] = {45.0, 60.0, 72.0}, R3[] = {38.5, 58.0},
                        R4[] = {50.0, 52.0, 71.0}, DIV[] = {90, 90, 90, 90}, OTHER[] = {1, 2, 3};
    fpt_run_trace tr[6];
    memset(tr, 0, sizeof tr);
    const double *acc[6] = {R1, R2, R3, R4, DIV, OTHER};
    const int n[6] = {3, 3, 2, 3, 4, 3};
    for (int i = 0; i < 6; i++) {
        snprintf(tr[i].protocol, sizeof tr[i].protocol, "%s", i == 5 ? "reset" : "none");
        snprintf(tr[i].timing, sizeof tr[i].timing, "%s", i == 5 ? "periodic" : "none");
        tr[i].frequency = i == 5 ? 20 : 0;
        tr[i].acc = acc[i], tr[i].n_epochs = n[i], tr[i].diverged = i == 4;
    }
    fpt_runs runs;
    memset(&runs, 0, sizeof runs);
    runs.n_runs = 6, runs.runs = tr;
    fpt_acc_band b;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_acc_band_compute(&runs, "none", "none", 0, &b, &err), 0, "%s", err.msg);
    cr_expect_eq(b.runs, 4);
    cr_expect_eq(b.n_epochs, 3);
    static const double WANT[3][FPT_ACC_NQ] = {{38.95, 39.625, 42.5, 46.25, 48.5},
                                               {53.05, 54.625, 56.75, 58.5, 59.4},
                                               {70.4, 70.625, 71.0, 71.5, 71.8}};
    static const int COUNT[3] = {4, 4, 3};
    for (int e = 1; e <= 3; e++) {
        char what[32];
        snprintf(what, sizeof what, "epoch %d", e);
        cr_expect_eq(b.count[e - 1], COUNT[e - 1], "%s", what);
        expect_q(&b.q[(e - 1) * FPT_ACC_NQ], WANT[e - 1], what);
    }
    fpt_acc_band_free(&b);
    // The reference condition of a fit: the other run alone.
    cr_assert_eq(fpt_acc_band_compute(&runs, "reset", "periodic", 20, &b, &err), 0, "%s", err.msg);
    cr_expect_eq(b.runs, 1);
    cr_expect_eq(b.q[2 * FPT_ACC_NQ + 2], 3);
    fpt_acc_band_free(&b);
    // No run of a condition: one line naming it.
    cr_expect_eq(fpt_acc_band_compute(&runs, "shrink_perturb", "periodic", 5, &b, &err), -1);
    cr_expect_not_null(strstr(err.msg, "shrink_perturb tau=5"), "%s", err.msg);

    // The accuracy figure from these bands: drawn, and its kept script runs.
    fpt_fit *fit = make_fit("acc", 0);
    fpt_accuracy_bands bands;
    memset(&bands, 0, sizeof bands);
    bands.target = 72;
    cr_assert_eq(fpt_acc_band_compute(&runs, "none", "none", 0, &bands.b[0], &err), 0);
    bands.n = 1;
    const char *names[FPT_PLOT_MAX_FIGURES];
    const int n_fig = fpt_plot_figures(fit, &bands, names);
    cr_assert_eq(n_fig, 5);
    cr_expect_str_eq(names[3], "accuracy");
    cr_assert_eq(fpt_plot_fit(fit, &bands, NULL, g_dir, NULL, &err), 0, "%s", err.msg);
    check_png(g_dir, "accuracy");
    check_svg(g_dir, "accuracy");
    char path[256];
    snprintf(path, sizeof path, "%s/accuracy.gp", g_dir);
    char *s = slurp(path);
    cr_expect_not_null(strstr(s, "\n2 53.05 54.625 56.75 58.5 59.4\n"), "epoch 2 row");
    cr_expect_not_null(strstr(s, "'target 72%'"));
    cr_expect_not_null(strstr(s, "'baseline (4 runs)'"));
    free(s);
    fpt_accuracy_bands_free(&bands);
    free_fit(fit);
}
