// conv2d.c — 2-D convolution without bias, as im2col + one sgemm per chunk
// of images, with the direct-loop reference beside it (see layers.h).
//
// Shapes (channel-major, see layers.h):
//   x  (Cin, N, H, W)      w  (Cout, Cin, K, K)      y  (Cout, N, Ho, Wo)
//   col (Cin*K*K, n*Ho*Wo) for a chunk of n images: row r = (ci, kh, kw),
//   column (image, oh, ow).  Then  y[:, chunk] = w (Cout x CKK) . col.
#include "nn/layers.h"
#include "base/prof.h"
#include "base/simd.h"

#include "base/blas.h"
#include <stdlib.h>
#include <string.h>


// Images per chunk: as many as fit in the workspace (at least one; the model
// sizes the workspace for one image of its largest layer).
static int chunk_images(size_t rows, size_t hwo, int N, size_t cap) {
    size_t per_image = rows * hwo;
    size_t nb = per_image ? cap / per_image : (size_t)N;
    if (nb < 1) nb = 1;   // caller bug; fpt_resnet guarantees cap >= per_image
    if (nb > (size_t)N) nb = (size_t)N;
    return (int)nb;
}

// One row r = (c, kh, kw) of the im2col matrix for images [n0, n0+nb):
// dst (nb, Ho, Wo) <- the input plane of channel c shifted by (kh, kw),
// zero where the window pads.
FPT_SIMD_CLONES
static void im2col_row(const fpt_conv_shape *s, int N, int H, int W, int Ho, int Wo,
                       const float *x, int n0, int nb, int c, int kh, int kw, float *dst) {
    const int st = s->stride, pad = s->pad;
    // Output columns ow whose input column iw = ow*st - pad + kw is inside.
    int lo = 0, hi = Wo;
    while (lo < Wo && lo * st - pad + kw < 0) lo++;
    while (hi > lo && (hi - 1) * st - pad + kw >= W) hi--;
    for (int n = 0; n < nb; n++) {
        const float *xp = x + ((size_t)c * N + n0 + n) * H * W;
        for (int oh = 0; oh < Ho; oh++) {
            float *d = dst + ((size_t)n * Ho + oh) * Wo;
            const int ih = oh * st - pad + kh;
            if (ih < 0 || ih >= H) {
                for (int ow = 0; ow < Wo; ow++) d[ow] = 0.0f;
                continue;
            }
            const float *xr = xp + (size_t)ih * W - pad + kw;
            for (int ow = 0; ow < lo; ow++) d[ow] = 0.0f;
            if (st == 1)
                for (int ow = lo; ow < hi; ow++) d[ow] = xr[ow];
            else
                for (int ow = lo; ow < hi; ow++) d[ow] = xr[ow * st];
            for (int ow = hi; ow < Wo; ow++) d[ow] = 0.0f;
        }
    }
}

// col (CKK, nb*Ho*Wo) <- x images [n0, n0+nb), one row per (c, kh, kw).
static void im2col(const fpt_conv_shape *s, int N, int H, int W, int Ho, int Wo,
                   const float *x, int n0, int nb, float *col) {
    const int K = s->k, rows = s->cin * K * K;
    const size_t cols = (size_t)nb * Ho * Wo;
    #pragma omp parallel for schedule(static) if ((size_t)rows * cols >= FPT_PAR_MIN_WORK)
    for (int r = 0; r < rows; r++)
        im2col_row(s, N, H, W, Ho, Wo, x, n0, nb, r / (K * K), (r / K) % K, r % K,
                   col + (size_t)r * cols);
}

// d[j * stride] += s[j] for j < n: one output row of col2im.
FPT_SIMD_CLONES
static void add_row(int n, int stride, float *restrict d, const float *restrict s) {
    if (stride == 1)
        for (int j = 0; j < n; j++) d[j] += s[j];
    else
        for (int j = 0; j < n; j++) d[j * stride] += s[j];
}

// Starts from dx_add (may be NULL, or alias dx) instead of zero.
static void col2im(const fpt_conv_shape *s, int N, int H, int W, int Ho, int Wo,
                   const float *dcol, int n0, int nb, float *dx, const float *dx_add) {
    const int K = s->k, st = s->stride, pad = s->pad;
    const size_t cols = (size_t)nb * Ho * Wo;
    #pragma omp parallel for schedule(static) if ((size_t)K * K * s->cin * cols >= FPT_PAR_MIN_WORK)
    for (int c = 0; c < s->cin; c++) {
        float *dxc = dx + ((size_t)c * N + n0) * H * W;
        const size_t plane = (size_t)nb * H * W;
        if (!dx_add) memset(dxc, 0, sizeof(float) * plane);
        else if (dx_add != dx) memcpy(dxc, dx_add + ((size_t)c * N + n0) * H * W, sizeof(float) * plane);
        for (int kh = 0; kh < K; kh++)
            for (int kw = 0; kw < K; kw++) {
                const float *src = dcol + (size_t)((c * K + kh) * K + kw) * cols;
                int lo = 0, hi = Wo;
                while (lo < Wo && lo * st - pad + kw < 0) lo++;
                while (hi > lo && (hi - 1) * st - pad + kw >= W) hi--;
                for (int n = 0; n < nb; n++)
                    for (int oh = 0; oh < Ho; oh++) {
                        const int ih = oh * st - pad + kh;
                        if (ih < 0 || ih >= H) continue;
                        float *d = dxc + ((size_t)n * H + ih) * W;
                        const float *sr = src + ((size_t)n * Ho + oh) * Wo;
                        add_row(hi - lo, st, d + lo * st - pad + kw, sr + lo);
                    }
            }
    }
}

// The shapes of one convolution over a batch, and its chunking.
typedef struct conv_plan {
    int Ho, Wo, rows, nb;   // output size; im2col rows (Cin*K*K); images per chunk
    size_t hwo, ldy;        // Ho*Wo; leading dimension of y and dy (N*Ho*Wo)
} conv_plan;

static conv_plan make_plan(const fpt_conv_shape *s, int N, int H, int W, size_t cap) {
    conv_plan p;
    p.Ho = fpt_conv_out_size(H, s->k, s->stride, s->pad);
    p.Wo = fpt_conv_out_size(W, s->k, s->stride, s->pad);
    p.hwo = (size_t)p.Ho * p.Wo;
    p.ldy = (size_t)N * p.hwo;
    p.rows = s->cin * s->k * s->k;
    p.nb = chunk_images((size_t)p.rows, p.hwo, N, cap);
    return p;
}

void fpt_conv2d_forward(const fpt_conv_shape *s, int N, int H, int W,
                        const float *x, const float *w, float *y, fpt_conv_ws *ws) {
    const conv_plan p = make_plan(s, N, H, W, ws->cap);
    for (int n0 = 0; n0 < N; n0 += p.nb) {
        const int cnt = N - n0 < p.nb ? N - n0 : p.nb;
        const int cols = (int)(cnt * p.hwo);
        FPT_TIMED(FPT_PROF_IM2COL, 0.0, im2col(s, N, H, W, p.Ho, p.Wo, x, n0, cnt, ws->col));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->cout, cols, p.rows,
                    1.0f, w, p.rows, ws->col, cols, 0.0f, y + n0 * p.hwo, (int)p.ldy);
    }
}

void fpt_conv2d_backward(const fpt_conv_shape *s, int N, int H, int W,
                         const float *x, const float *w, const float *dy,
                         float *dx, float *dw, fpt_conv_ws *ws) {
    fpt_conv2d_backward_residual(s, N, H, W, x, w, dy, dx, NULL, dw, ws);
}

void fpt_conv2d_backward_residual(const fpt_conv_shape *s, int N, int H, int W,
                                  const float *x, const float *w, const float *dy,
                                  float *dx, const float *dx_add, float *dw, fpt_conv_ws *ws) {
    const conv_plan p = make_plan(s, N, H, W, ws->cap);
    const int rows = p.rows;
    for (int n0 = 0; n0 < N; n0 += p.nb) {
        const int cnt = N - n0 < p.nb ? N - n0 : p.nb;
        const int cols = (int)(cnt * p.hwo);
        FPT_TIMED(FPT_PROF_IM2COL, 0.0, im2col(s, N, H, W, p.Ho, p.Wo, x, n0, cnt, ws->col));
        // dw (Cout x CKK) (+)= dy[:, chunk] (Cout x cols) . col^T
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->cout, rows, cols,
                    1.0f, dy + n0 * p.hwo, (int)p.ldy, ws->col, cols,
                    n0 == 0 ? 0.0f : 1.0f, dw, rows);
        if (dx) {
            // dcol (CKK x cols) = w^T (CKK x Cout) . dy[:, chunk]
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rows, cols, s->cout,
                        1.0f, w, rows, dy + n0 * p.hwo, (int)p.ldy, 0.0f, ws->dcol, cols);
            FPT_TIMED(FPT_PROF_IM2COL, 0.0,
                      col2im(s, N, H, W, p.Ho, p.Wo, ws->dcol, n0, cnt, dx, dx_add));
        }
    }
}

// ---- references: the definition of convolution, summed in double ----------

void fpt_conv2d_forward_ref(const fpt_conv_shape *s, int N, int H, int W,
                            const float *x, const float *w, float *y) {
    const int K = s->k;
    const int Ho = fpt_conv_out_size(H, K, s->stride, s->pad);
    const int Wo = fpt_conv_out_size(W, K, s->stride, s->pad);
    for (int co = 0; co < s->cout; co++)
        for (int n = 0; n < N; n++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    double acc = 0.0;
                    for (int ci = 0; ci < s->cin; ci++)
                        for (int kh = 0; kh < K; kh++)
                            for (int kw = 0; kw < K; kw++) {
                                int ih = oh * s->stride - s->pad + kh;
                                int iw = ow * s->stride - s->pad + kw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                acc += (double)w[((co * s->cin + ci) * K + kh) * K + kw] *
                                       x[(((size_t)ci * N + n) * H + ih) * W + iw];
                            }
                    y[(((size_t)co * N + n) * Ho + oh) * Wo + ow] = (float)acc;
                }
}

int fpt_conv2d_backward_ref(const fpt_conv_shape *s, int N, int H, int W,
                            const float *x, const float *w, const float *dy,
                            float *dx, float *dw, fpt_err *err) {
    const int K = s->k;
    const int Ho = fpt_conv_out_size(H, K, s->stride, s->pad);
    const int Wo = fpt_conv_out_size(W, K, s->stride, s->pad);
    const size_t nx = (size_t)s->cin * N * H * W, nw = (size_t)s->cout * s->cin * K * K;
    double *ax = calloc(nx, sizeof(double)), *aw = calloc(nw, sizeof(double));
    if (!ax || !aw) {
        free(ax);
        free(aw);
        return fpt_fail(err, "conv2d reference backward: out of memory allocating its "
                             "double sums (%zu + %zu doubles, %.1f MiB)",
                        nx, nw, (double)(nx + nw) * sizeof(double) / (1024.0 * 1024.0));
    }
    for (int co = 0; co < s->cout; co++)
        for (int n = 0; n < N; n++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    double g = dy[(((size_t)co * N + n) * Ho + oh) * Wo + ow];
                    for (int ci = 0; ci < s->cin; ci++)
                        for (int kh = 0; kh < K; kh++)
                            for (int kw = 0; kw < K; kw++) {
                                int ih = oh * s->stride - s->pad + kh;
                                int iw = ow * s->stride - s->pad + kw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                size_t xi = (((size_t)ci * N + n) * H + ih) * W + iw;
                                size_t wi = ((size_t)(co * s->cin + ci) * K + kh) * K + kw;
                                aw[wi] += g * x[xi];
                                ax[xi] += g * w[wi];
                            }
                }
    for (size_t i = 0; i < nw; i++) dw[i] = (float)aw[i];
    if (dx)
        for (size_t i = 0; i < nx; i++) dx[i] = (float)ax[i];
    free(ax);
    free(aw);
    return 0;
}
