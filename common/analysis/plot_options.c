// plot_options.c — output settings of the figures and the parsing of
// `fptfarm plot`'s option values (see plot_options.h).
#include "analysis/plot_options.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const fpt_plot_options fpt_plot_options_default = {
    .formats = FPT_PLOT_DEFAULT_FORMATS, .width = FPT_PLOT_WIDTH, .height = FPT_PLOT_HEIGHT};

static const char *const EXT[FPT_PLOT_N_FORMATS] = {"png", "svg", "pdf"};

const char *fpt_plot_format_ext(unsigned format) {
    for (int i = 0; i < FPT_PLOT_N_FORMATS; i++)
        if (format == 1u << i) return EXT[i];
    return NULL;
}

int fpt_plot_parse_formats(const char *text, unsigned *formats, fpt_err *err) {
    const char *p = text;
    unsigned add = 0;
    for (;;) {
        const size_t len = strcspn(p, ",");
        int hit = -1;
        for (int i = 0; i < FPT_PLOT_N_FORMATS && hit < 0; i++)
            if (len == strlen(EXT[i]) && strncmp(p, EXT[i], len) == 0) hit = i;
        if (hit < 0)
            return fpt_fail(err, "plot: --format '%.100s': expected png, svg or pdf, or a comma "
                                 "list of them (e.g. png,pdf)",
                            text);
        add |= 1u << hit;
        if (!p[len]) break;
        p += len + 1;
    }
    *formats |= add;
    return 0;
}

// A whole number in [lo, hi] from text[0..len).
static int side(const char *text, size_t len, int *out) {
    if (len == 0 || len > 6) return -1;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') return -1;
        v = 10 * v + (text[i] - '0');
    }
    if (v < FPT_PLOT_MIN_SIDE || v > FPT_PLOT_MAX_SIDE) return -1;
    *out = v;
    return 0;
}

int fpt_plot_parse_size(const char *text, int *width, int *height, fpt_err *err) {
    const char *x = strchr(text, 'x');
    int w = 0, h = 0;
    if (!x || side(text, (size_t)(x - text), &w) || side(x + 1, strlen(x + 1), &h))
        return fpt_fail(err, "plot: --size '%.100s': expected WIDTHxHEIGHT in pixels, each a "
                             "whole number from %d to %d (e.g. 1200x840)",
                        text, FPT_PLOT_MIN_SIDE, FPT_PLOT_MAX_SIDE);
    *width = w, *height = h;
    return 0;
}

int fpt_plot_parse_target(const char *text, double *target, fpt_err *err) {
    char *end;
    errno = 0;
    const double v = strtod(text, &end);
    if (end == text || *end || errno || !(v > 0 && v <= 100))
        return fpt_fail(err, "plot: --target '%.100s': expected a target accuracy in percent, "
                             "in (0, 100] (e.g. 72)",
                        text);
    *target = v;
    return 0;
}

int fpt_plot_select_target(const fpt_fit *fits, int n, double target, fpt_err *err) {
    for (int i = 0; i < n; i++)
        if (fabs(fits[i].opt.target - target) <= 1e-9) return i;
    char list[512] = "";
    size_t len = 0;
    for (int i = 0; i < n && len < sizeof list - 16; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%g", i ? ", " : "",
                                fits[i].opt.target);
    if (n == 0)
        return fpt_fail(err, "plot: --target %g: the database holds no fit (run fptfarm fit "
                             "first)",
                        target);
    return fpt_fail(err, "plot: --target %g: no stored fit at that target (stored: %s; fptfarm "
                         "fit DB --target %g adds one)",
                    target, list, target);
}
