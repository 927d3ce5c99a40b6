// plot.c — figures of a fit, drawn by gnuplot (see plot.h): which figures,
// their kept scripts, and running gnuplot with every output under a
// temporary name until all are drawn.  The figures themselves are in
// plot_survival.c, plot_mfpt.c, plot_pvm.c, plot_accuracy.c and plot_ks.c,
// assembled from the pieces in plot_gp.c.
#include "analysis/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analysis/plot_gp.h"
#include "base/memory.h"

extern char **environ;

#define PATH_BUF 4096

static int bands_have_data(const fpt_accuracy_bands *b) {
    for (int i = 0; b && i < b->n; i++)
        for (int e = 0; e < b->b[i].n_epochs; e++)
            if (b->b[i].count[e] > 0) return 1;
    return 0;
}

int fpt_plot_figures(const fpt_fit *fit, const fpt_accuracy_bands *bands,
                     const char *names[FPT_PLOT_MAX_FIGURES]) {
    int n = 0;
    if (!fit) return 0;
    if (fpt_gp_survival_has_data(fit)) names[n++] = "survival";
    if (fpt_gp_mfpt_has_data(fit, "periodic")) names[n++] = "mfpt";
    if (fpt_gp_mfpt_has_data(fit, "geometric")) names[n++] = "mfpt_geometric";
    if (fpt_gp_pvm_has_data(fit)) names[n++] = "predicted_vs_measured";
    if (bands_have_data(bands)) names[n++] = "accuracy";
    if (fpt_gp_ks_has_data(fit)) names[n++] = "ks";
    return n;
}

static unsigned formats_of(const fpt_plot_options *opt) {
    return opt && opt->formats ? opt->formats : FPT_PLOT_DEFAULT_FORMATS;
}

// The kept script of one figure, its datablocks numbered from *next_id.
static int write_script(const fpt_fit *fit, const fpt_accuracy_bands *bands,
                        const fpt_plot_options *opt, const char *name, FILE *f, int *next_id,
                        fpt_err *err) {
    const char *names[FPT_PLOT_MAX_FIGURES];
    const int n = fpt_plot_figures(fit, bands, names);
    int known = 0;
    for (int i = 0; i < n && !known; i++) known = strcmp(names[i], name) == 0;
    if (!known) return fpt_fail(err, "plot: %s has no %s figure", fit->experiment, name);

    // One scratch series big enough for any figure (the mean-FPT figure
    // splits it in two: series and off-scale markers).
    int cap = 2 * (fit->n_predictions + fit->n_conditions) + 2 * fit->n_ks + 2 * fit->n_drift + 8;
    for (int i = 0; i < fit->n_conditions; i++)
        if (fit->conditions[i].curve && 4 * fit->conditions[i].n_curve + 8 > cap)
            cap = 4 * fit->conditions[i].n_curve + 8;
    fpt_gp_series s = {fpt_calloc((size_t)cap, sizeof(fpt_gp_pt), "plot series", err), 0, cap};
    if (!s.p) return -1;

    fprintf(f, "# fptfarm: the %s figure of ", name);
    fpt_gp_quote(f, fit->experiment, sizeof fit->experiment - 1);
    if (isfinite(fit->opt.target)) fprintf(f, " at target %g%%", fit->opt.target);
    fprintf(f, ", for gnuplot 5.\n# Draw it again (after editing) with `gnuplot %s.gp` in this "
               "directory;\n# the data are inline datablocks ($dN << EOD ... EOD).\n",
            name);
    const unsigned formats = formats_of(opt);
    for (unsigned b = 1; b < (1u << FPT_PLOT_N_FORMATS); b <<= 1)
        if (formats & b)
            fprintf(f, "if (!exists(\"out_%s\")) out_%s = '%s.%s'\n", fpt_plot_format_ext(b),
                    fpt_plot_format_ext(b), name, fpt_plot_format_ext(b));
    fpt_plot_options o = opt ? *opt : fpt_plot_options_default;
    o.formats = formats;
    int rc;
    if (strcmp(name, "survival") == 0) rc = fpt_gp_fig_survival(f, fit, &o, &s, next_id);
    else if (strcmp(name, "mfpt") == 0) rc = fpt_gp_fig_mfpt(f, fit, "periodic", &o, &s, next_id);
    else if (strcmp(name, "mfpt_geometric") == 0)
        rc = fpt_gp_fig_mfpt(f, fit, "geometric", &o, &s, next_id);
    else if (strcmp(name, "predicted_vs_measured") == 0)
        rc = fpt_gp_fig_pvm(f, fit, &o, &s, next_id);
    else if (strcmp(name, "accuracy") == 0) rc = fpt_gp_fig_accuracy(f, fit, bands, &o, next_id);
    else rc = fpt_gp_fig_ks(f, fit, &o, &s, next_id);
    fpt_free(s.p);
    if (rc) return fpt_fail(err, "plot: cannot assemble the %s figure (out of memory)", name);
    if (fflush(f) != 0 || ferror(f))
        return fpt_fail(err, "cannot write the gnuplot script of %s: %s", name, strerror(errno));
    return 0;
}

int fpt_plot_write_script(const fpt_fit *fit, const fpt_accuracy_bands *bands,
                          const fpt_plot_options *opt, const char *name, FILE *f, fpt_err *err) {
    if (!fit) return fpt_fail(err, "plot: no fit");
    if (!name) return fpt_fail(err, "plot: no figure name");
    int next_id = 0;
    return write_script(fit, bands, opt, name, f, &next_id, err);
}

static int output_path(char *buf, size_t n, const char *dir, const char *name, const char *ext,
                       const char *tag, fpt_err *err) {
    int len = tag ? snprintf(buf, n, "%s/.%s.%s.%s.tmp", dir, name, ext, tag)
                  : snprintf(buf, n, "%s/%s.%s", dir, name, ext);
    if (len < 0 || (size_t)len >= n)
        return fpt_fail(err, "plot directory name too long: %.200s...", dir);
    return 0;
}

// ---- running gnuplot --------------------------------------------------------------

int fpt_plot_find_gnuplot(char *buf, size_t n, fpt_err *err) {
    const char *env = getenv("FPTFARM_GNUPLOT");
    struct stat st;
    if (env && *env) {
        const char *why = NULL;
        if (stat(env, &st) != 0) why = strerror(errno);
        else if (!S_ISREG(st.st_mode)) why = "not a regular file";
        else if (access(env, X_OK) != 0) why = "not executable";
        if (why)
            return fpt_fail(err, "gnuplot not found: FPTFARM_GNUPLOT=%s: %s (install gnuplot-nox, "
                                 "e.g. apt-get install gnuplot-nox, or point FPTFARM_GNUPLOT at "
                                 "gnuplot)",
                            env, why);
        if (strlen(env) >= n) return fpt_fail(err, "FPTFARM_GNUPLOT: path too long");
        strcpy(buf, env);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    for (;;) {
        const char *colon = strchr(path, ':');
        const int len = (int)(colon ? (size_t)(colon - path) : strlen(path));
        // An empty PATH entry is the current directory.
        const int w = snprintf(buf, n, "%.*s/gnuplot", len ? len : 1, len ? path : ".");
        if (w > 0 && (size_t)w < n && stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
            access(buf, X_OK) == 0)
            return 0;
        if (!colon) break;
        path = colon + 1;
    }
    if (n) buf[0] = '\0';
    return fpt_fail(err, "gnuplot is not installed (not found on PATH): install gnuplot-nox "
                         "(apt-get install gnuplot-nox), or set FPTFARM_GNUPLOT to its path");
}

// mkdir -p; the error names the directory (and the part that failed).
static int make_dirs(const char *dir, fpt_err *err) {
    char buf[PATH_BUF];
    const size_t len = strlen(dir);
    if (len >= sizeof buf) return fpt_fail(err, "plot directory name too long: %.200s...", dir);
    memcpy(buf, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if ((buf[i] != '/' && buf[i] != '\0') || buf[i - 1] == '/') continue;
        const char keep = buf[i];
        buf[i] = '\0';
        struct stat st;
        if (mkdir(buf, 0777) != 0) {
            const int e = errno;
            if (e != EEXIST || stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
                const char *why = e == EEXIST ? "exists and is not a directory" : strerror(e);
                if (i == len) return fpt_fail(err, "cannot create plot directory %s: %s", dir, why);
                return fpt_fail(err, "cannot create plot directory %s: %s: %s", dir, buf, why);
            }
        }
        buf[i] = keep;
    }
    return 0;
}

// The line of gnuplot's stderr to quote: the first "line N: ..." (its error
// format), else the first non-blank line.  Empty when there is none.
static void first_error_line(FILE *f, char *out, size_t n) {
    out[0] = '\0';
    if (!f || fseek(f, 0, SEEK_SET) != 0) return;
    char line[1024], fallback[1024] = "";
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        const char *p = line + strspn(line, " \t");
        if (!*p) continue;
        int num = 0;
        if (strncmp(p, "line ", 5) == 0) {
            const char *q = p + 5;
            while (*q >= '0' && *q <= '9') q++, num = 1;
            num = num && *q == ':';
        }
        if (num) {
            snprintf(out, n, "%.300s", p);
            return;
        }
        if (!fallback[0] && strncmp(p, "gnuplot>", 8) != 0 && p[0] != '^')
            snprintf(fallback, sizeof fallback, "%s", p);
    }
    snprintf(out, n, "%.300s", fallback);
}

static void unlink_all(char paths[][PATH_BUF], int n) {
    for (int i = 0; i < n; i++)
        if (paths[i][0]) unlink(paths[i]);
}

int fpt_plot_fit(const fpt_fit *fit, const fpt_accuracy_bands *bands,
                 const fpt_plot_options *opt, const char *out_dir, int *written, fpt_err *err) {
    if (written) *written = 0;
    if (!fit) return fpt_fail(err, "plot: no fit");
    if (!out_dir || !*out_dir) return fpt_fail(err, "plot: no output directory");
    if (fpt_gp_has_control(out_dir))
        return fpt_fail(err, "plot directory name has a control character: %s", out_dir);
    const char *names[FPT_PLOT_MAX_FIGURES];
    const int n_fig = fpt_plot_figures(fit, bands, names);
    if (n_fig == 0)
        return fpt_fail(err, "%s: nothing to plot (no survival curve, mean FPT or KS value)",
                        fit->experiment);
    // The files of a figure: one per format, then its script.
    const unsigned formats = formats_of(opt);
    const char *exts[FPT_PLOT_N_FORMATS + 1];
    int per = 0;
    for (unsigned b = 1; b < (1u << FPT_PLOT_N_FORMATS); b <<= 1)
        if (formats & b) exts[per++] = fpt_plot_format_ext(b);
    exts[per++] = "gp";
    // Nothing touches the disk before gnuplot is known to be there.
    char gnuplot[PATH_BUF];
    if (fpt_plot_find_gnuplot(gnuplot, sizeof gnuplot, err)) return -1;
    if (make_dirs(out_dir, err)) return -1;

    // Reserve the temporary names (O_EXCL: never someone else's file).
    const int n_files = per * n_fig;
    char (*tmp)[PATH_BUF] = fpt_calloc(2 * (size_t)n_files, PATH_BUF, "plot file names", err);
    if (!tmp) return -1;
    char (*fin)[PATH_BUF] = tmp + n_files;
    char tag[48];
    for (int attempt = 0;; attempt++) {
        snprintf(tag, sizeof tag, "%ld-%d", (long)getpid(), attempt);
        int i = 0, e = 0;
        for (; i < n_files; i++) {
            if (output_path(tmp[i], PATH_BUF, out_dir, names[i / per], exts[i % per], tag, err) ||
                output_path(fin[i], PATH_BUF, out_dir, names[i / per], exts[i % per], NULL, err)) {
                unlink_all(tmp, i);
                fpt_free(tmp);
                return -1;
            }
            int fd = open(tmp[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
            if (fd < 0) {
                e = errno;
                break;
            }
            close(fd);
        }
        if (i == n_files) break;
        unlink_all(tmp, i);
        if (e != EEXIST || attempt >= 100) {
            fpt_free(tmp);
            return fpt_fail(err, "cannot write figures in %s: %s", out_dir, strerror(e));
        }
    }

    int rc = -1;
    FILE *script = tmpfile(), *errf = tmpfile();
    if (!script || !errf) {
        fpt_fail(err, "plot: cannot create a temporary file: %s", strerror(errno));
        goto done;
    }
    // gnuplot's input: per figure, its outputs' temporary names, then its
    // kept script, which is also written to its own temporary name.
    int next_id = 0;
    for (int k = 0; k < n_fig; k++) {
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        if (!mem) {
            fpt_fail(err, "plot: out of memory assembling the scripts");
            goto done;
        }
        int w = write_script(fit, bands, opt, names[k], mem, &next_id, err);
        if (fclose(mem) != 0 && w == 0)
            w = fpt_fail(err, "plot: out of memory assembling the scripts");
        if (w) {
            free(text);
            goto done;
        }
        for (int j = 0; j + 1 < per; j++) {
            fprintf(script, "out_%s = ", exts[j]);
            fpt_gp_quote(script, tmp[k * per + j], SIZE_MAX);
            fputc('\n', script);
        }
        fwrite(text, 1, len, script);
        FILE *kept = fopen(tmp[k * per + per - 1], "w");
        const int bad = !kept || fwrite(text, 1, len, kept) != len;
        const int e = errno;
        if (kept && fclose(kept) != 0 && !bad) {
            free(text);
            fpt_fail(err, "cannot write %s: %s", tmp[k * per + per - 1], strerror(errno));
            goto done;
        }
        free(text);
        if (bad) {
            fpt_fail(err, "cannot write %s: %s", tmp[k * per + per - 1], strerror(e));
            goto done;
        }
    }
    if (fflush(script) != 0 || ferror(script) || fseek(script, 0, SEEK_SET) != 0) {
        fpt_fail(err, "plot: cannot write the gnuplot script: %s", strerror(errno));
        goto done;
    }
    // gnuplot gets default handling of the usual signals and none blocked,
    // whatever the caller set up for itself.
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    if (posix_spawn_file_actions_init(&fa) != 0) {
        fpt_fail(err, "plot: out of memory starting gnuplot");
        goto done;
    }
    if (posix_spawnattr_init(&at) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        fpt_fail(err, "plot: out of memory starting gnuplot");
        goto done;
    }
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGHUP);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawn_file_actions_adddup2(&fa, fileno(script), 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fileno(errf), 2);
    char *argv[] = {"gnuplot", "-d", NULL};
    pid_t pid;
    int se = posix_spawn(&pid, gnuplot, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (se != 0) {
        fpt_fail(err, "cannot run gnuplot (%s): %s (install gnuplot-nox, or set FPTFARM_GNUPLOT)",
                 gnuplot, strerror(se));
        goto done;
    }
    int status;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {}
    if (w < 0) {
        fpt_fail(err, "gnuplot (%s): cannot wait for it: %s", gnuplot, strerror(errno));
        goto done;
    }
    char line[400];
    first_error_line(errf, line, sizeof line);
    const char *hint = !strstr(line, "terminal") ? ""
                       : formats & FPT_PLOT_PDF
                           ? " (fptfarm needs gnuplot's pngcairo and svg terminals, and pdfcairo "
                             "for --format pdf: install gnuplot-nox, or leave pdf out)"
                           : " (fptfarm needs gnuplot's pngcairo and svg terminals: install "
                             "gnuplot-nox)";
    if (WIFSIGNALED(status)) {
        fpt_fail(err, "gnuplot (%s) was killed by signal %d%s%s%s", gnuplot, WTERMSIG(status),
                 line[0] ? ": \"" : "", line, line[0] ? "\"" : "");
        goto done;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (line[0])
            fpt_fail(err, "gnuplot (%s) failed with exit status %d: \"%s\"%s", gnuplot,
                     WEXITSTATUS(status), line, hint);
        else
            fpt_fail(err, "gnuplot (%s) failed with exit status %d and no message", gnuplot,
                     WEXITSTATUS(status));
        goto done;
    }
    for (int i = 0; i < n_files; i++) {
        struct stat st;
        if (stat(tmp[i], &st) != 0 || st.st_size == 0) {
            fpt_fail(err, "gnuplot (%s) exited normally but did not write %s%s%s%s", gnuplot,
                     fin[i], line[0] ? ": \"" : "", line, line[0] ? "\"" : "");
            goto done;
        }
        // Durable before the rename: a crash must not leave an empty figure.
        int fd = open(tmp[i], O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            (void)fsync(fd);
            close(fd);
        }
    }
    int moved = 0;
    for (; moved < n_files; moved++) {
        if (rename(tmp[moved], fin[moved]) != 0) {
            fpt_fail(err, "cannot rename %s to %s: %s", tmp[moved], fin[moved], strerror(errno));
            break;
        }
        tmp[moved][0] = '\0';
        if (written) *written = moved + 1;
    }
    if (moved == n_files) rc = 0;

done:
    if (rc != 0) unlink_all(tmp, n_files);
    fpt_free(tmp);
    if (script) fclose(script);
    if (errf) fclose(errf);
    return rc;
}
