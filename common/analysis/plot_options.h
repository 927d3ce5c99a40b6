// plot_options.h — how figures are written (formats, size, titles), and the
// parsing of `fptfarm plot`'s option values, kept here so that tests can
// check them without the command line.
#ifndef FPT_PLOT_OPTIONS_H
#define FPT_PLOT_OPTIONS_H

#include "analysis/fit.h"
#include "base/error.h"

// Output formats, as bits of fpt_plot_options.formats.
enum {
    FPT_PLOT_PNG = 1,   // gnuplot's pngcairo terminal
    FPT_PLOT_SVG = 2,   // svg
    FPT_PLOT_PDF = 4    // pdfcairo (Debian's gnuplot-nox has it)
};
#define FPT_PLOT_N_FORMATS 3
#define FPT_PLOT_DEFAULT_FORMATS (FPT_PLOT_PNG | FPT_PLOT_SVG)

#define FPT_PLOT_WIDTH 800       // pixels (png, svg)
#define FPT_PLOT_HEIGHT 560
#define FPT_PLOT_MIN_SIDE 200    // --size limits, pixels
#define FPT_PLOT_MAX_SIDE 10000
// pdf pages: 100 pixels per inch (800 x 560 pixels -> 8 x 5.6 in).
#define FPT_PLOT_PDF_PX_PER_INCH 100.0

typedef struct fpt_plot_options {
    unsigned formats;   // FPT_PLOT_* bits; 0 means FPT_PLOT_DEFAULT_FORMATS
    int width, height;  // pixels; 0 means FPT_PLOT_WIDTH x FPT_PLOT_HEIGHT
    int no_title;       // 1: no title line above the figures
} fpt_plot_options;

extern const fpt_plot_options fpt_plot_options_default;

// The file extension of one format bit ("png", "svg", "pdf"); NULL otherwise.
const char *fpt_plot_format_ext(unsigned format);

// "png", "svg,pdf", ...: the formats named are added to *formats.  Errors
// (one line naming --format and what was expected): an empty list or item,
// an unknown name.
int fpt_plot_parse_formats(const char *text, unsigned *formats, fpt_err *err);

// "1200x840": width and height in pixels, each whole and within
// [FPT_PLOT_MIN_SIDE, FPT_PLOT_MAX_SIDE].  Errors name --size.
int fpt_plot_parse_size(const char *text, int *width, int *height, fpt_err *err);

// "72": a target in percent, in (0, 100].  Errors name --target.
int fpt_plot_parse_target(const char *text, double *target, fpt_err *err);

// The index of the fit at `target` among fits[0..n-1] (targets equal within
// 1e-9), or -1 with one line listing the stored targets.
int fpt_plot_select_target(const fpt_fit *fits, int n, double target, fpt_err *err);

#endif
