// fit_report.c — the analysis report (see fit.h): what a user reads after
// `fptfarm fit`, short enough for a terminal.  Every table it prints is also
// in the database (fit_* tables) in full.
#include <math.h>
#include <string.h>

#include "analysis/fit.h"

// "12.34 [11.0, 13.9]" with "-" for what is not defined.
static const char *with_ci(double v, double lo, double hi, char *buf, size_t cap) {
    if (isinf(v)) snprintf(buf, cap, "never");
    else if (isnan(v)) snprintf(buf, cap, "-");
    else if (isfinite(lo) && isfinite(hi)) snprintf(buf, cap, "%.2f [%.2f, %.2f]", v, lo, hi);
    else snprintf(buf, cap, "%.2f", v);
    return buf;
}

static const char *median_text(const fpt_fit_condition *c, char *buf, size_t cap) {
    char lo[16] = "-", hi[16] = "NR";
    if (c->median_lo > 0) snprintf(lo, sizeof lo, "%d", c->median_lo);
    if (c->median_hi > 0) snprintf(hi, sizeof hi, "%d", c->median_hi);
    if (c->median > 0) snprintf(buf, cap, "%d [%s, %s]", c->median, lo, hi);
    else snprintf(buf, cap, "not reached");
    return buf;
}

static const fpt_fit_condition *baseline(const fpt_fit *f) {
    return f->n_conditions > 0 &&
                   fpt_condition_is_baseline(f->conditions[0].protocol, f->conditions[0].timing)
               ? &f->conditions[0]
               : NULL;
}

static void report_relaxation(const fpt_fit *f, FILE *out) {
    if (f->n_drift == 0) return;
    const int W = f->opt.ks_window;
    char interval[64] = "";
    if (f->t_rel_hi > 0)
        snprintf(interval, sizeof interval, " [%d, %d]", f->t_rel_lo, f->t_rel_hi);
    if (f->t_rel > 0)
        fprintf(out,
                "Relaxation: t_rel = %d%s epochs. The unperturbed runs' accuracy distribution "
                "stops drifting: its KS distance D(t) to epoch t + %d stays within %g of its late "
                "level %.3f (the median over epochs %d-%d) for %d epochs running from t = %d%s.\n",
                f->t_rel, interval, W, f->opt.relax_tolerance, f->relax_floor,
                (f->n_drift + W) / 2 > 1 ? (f->n_drift + W) / 2 : 1, f->n_drift, W, f->t_rel,
                interval[0] ? " (interval: bootstrap over runs)" : "");
    else
        fprintf(out,
                "Relaxation: not reached. The unperturbed runs' accuracy distribution drifts "
                "more than %g above its late level %.3f at every epoch: no quasi-stationary "
                "state within the runs.\n",
                f->opt.relax_tolerance, f->relax_floor);
    int from = f->t_rel > 3 ? f->t_rel - 3 : 1, to = f->t_rel > 0 ? f->t_rel + 2 : 8;
    if (to > f->n_drift) to = f->n_drift;
    fprintf(out, "  epoch t:  ");
    for (int t = from; t <= to; t++) fprintf(out, " %7d", t);
    fprintf(out, "\n  D(t, t+%d):", W);
    for (int t = from; t <= to; t++) fprintf(out, " %7.3f", f->drift[t - 1]);
    if (f->n_ks > 0 && to <= f->n_ks) {   // the KS tests against one epoch, for comparison
        fprintf(out, "\n  against epoch %d (KS tests%s): D", f->ks_reference,
                f->ks_t_rel > 0 ? "" : ", never stop rejecting");
        for (int t = from; t <= to; t++) fprintf(out, " %7.3f", f->ks_d[t - 1]);
        fprintf(out, ", p");
        for (int t = from; t <= to; t++) fprintf(out, " %7.2g", f->ks_p[t - 1]);
        if (f->ks_t_rel > 0)
            fprintf(out, "; p >= %g from t = %d", f->opt.alpha, f->ks_t_rel);
    }
    fprintf(out, "\n\n");
}

static void report_conditions(const fpt_fit *f, FILE *out) {
    fprintf(out, "Runs by condition (mean FPT = Kaplan-Meier restricted mean to epoch %d; "
                 "median with its %g%% interval, NR = not reached):\n",
            f->horizon, 100 * f->opt.level);
    fprintf(out, "  %-34s %5s %7s %8s %8s  %-24s %-16s %9s\n", "condition", "runs", "reached",
            "censored", "diverged", "mean FPT [CI]", "median", "final acc");
    for (int k = 0; k < f->n_conditions; k++) {
        const fpt_fit_condition *c = &f->conditions[k];
        char name[96], m[64], med[48], acc[16] = "-";
        fpt_condition_label(c->protocol, c->timing, c->frequency, name, sizeof name);
        if (isfinite(c->final_acc)) snprintf(acc, sizeof acc, "%.2f%%", c->final_acc);
        if (c->runs == 0) {
            fprintf(out, "  %-34s %5d %7s %8s %8d  (every run diverged before the target)\n",
                    name, 0, "-", "-", c->diverged);
            continue;
        }
        // No run reached the target: its restricted mean is the horizon, no
        // FPT; it is shown as such and left out of the recommendation.
        if (c->reached == 0)
            snprintf(m, sizeof m, "not reached by %d", f->horizon);
        else with_ci(c->rm, c->rm_lo, c->rm_hi, m, sizeof m);
        fprintf(out, "  %-34s %5d %7d %8d %8d  %-24s %-16s %9s\n", name, c->runs,
                c->reached, c->censored, c->diverged, m, median_text(c, med, sizeof med), acc);
    }
    const fpt_fit_condition *b = baseline(f);
    if (b && b->censored > 0) {
        if (isfinite(b->tail_rate))
            fprintf(out,
                    "  Unperturbed tail: S(t) ~ S(%d) exp(-k (t - %d)) with k = %.4g +- %.2g per "
                    "epoch (censored-geometric MLE); extrapolated mean FPT = %.2f epochs "
                    "(EXTRAPOLATED by that model, not measured).\n",
                    b->tail_t0, b->tail_t0, b->tail_rate, b->tail_rate_se, b->extrap_mean);
        else
            fprintf(out, "  Unperturbed tail: no first passages after epoch %d: no extrapolated "
                         "mean; the mean FPT above is restricted to the horizon.\n",
                    b->tail_t0);
    }
    fprintf(out, "\n");
}

// The last column of a measured row: the reference, the QSS check's verdict,
// or why the prediction is outside the model.
static const char *row_note(const fpt_fit *f, const fpt_fit_protocol *P,
                            const fpt_fit_prediction *x, const fpt_fit_condition *c, char *buf,
                            size_t cap) {
    const int is_ref =
        fpt_frequency_key(c->timing, c->frequency) == fpt_frequency_key(c->timing, P->reference);
    const char *v = x->support != FPT_SUPPORT_UNTESTED ? fpt_support_name(x->support) : NULL;
    if (is_ref) snprintf(buf, cap, "reference%s%s", v ? ", " : "", v ? v : "");
    else if (v) snprintf(buf, cap, "%s%s", v, x->valid ? "" : ": outside the model");
    else if (!x->valid)
        snprintf(buf, cap, "outside the model: %s < t_rel",
                 strcmp(c->timing, "geometric") ? "tau" : "1/p");
    else buf[0] = 0;
    (void)f;
    return buf;
}

// "3, 5" for the measured periods of P whose decisive verdict is v.
static void periods_with(const fpt_fit *f, const fpt_fit_protocol *P, fpt_support v, char *buf,
                         size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < f->n_qss && n + 16 < cap; i++) {
        const fpt_qss_test *x = &f->qss[i];
        if (x->kind == FPT_QSS_LOO && x->decisive && x->verdict == v &&
            !strcmp(x->protocol, P->protocol))
            n += (size_t)snprintf(buf + n, cap - n, "%s%g", n ? ", " : "", x->tau);
    }
}

// The QSS check of one periodic protocol (docs/SCIENCE.md s4.6): where the
// model is confirmed, contradicted, untested; the leave-one-out matrix; the
// post-perturbation laws of neighbouring reference periods.
static void report_qss(const fpt_fit *f, const fpt_fit_protocol *P, FILE *out) {
    double from[8];
    int nf = 0, any = 0;
    for (int i = 0; i < f->n_qss; i++) {
        const fpt_qss_test *x = &f->qss[i];
        if (strcmp(x->protocol, P->protocol) || x->kind != FPT_QSS_LOO) continue;
        any = 1;
        int k = 0;
        while (k < nf && from[k] != x->from) k++;
        if (k == nf && nf < 8) from[nf++] = x->from;
    }
    if (!any) {
        if (strcmp(P->timing, "geometric"))
            fprintf(out, "  QSS check: untested: it needs runs at two or more periods (>= %d "
                         "runs each).\n", f->opt.min_runs);
        return;
    }
    const double tol = 100 * f->opt.qss_tolerance;
    char con[160], inc[160], ctr[160];
    periods_with(f, P, FPT_SUPPORT_CONFIRMED, con, sizeof con);
    periods_with(f, P, FPT_SUPPORT_INCONCLUSIVE, inc, sizeof inc);
    periods_with(f, P, FPT_SUPPORT_CONTRADICTED, ctr, sizeof ctr);
    fprintf(out, "  QSS check (each measured mean FPT against the model fed by another period's "
                 "runs, both restricted to %d epochs; tolerance +-%g%%):\n", f->horizon, tol);
    if (P->confirmed_lo > 0)
        fprintf(out, "    the model holds for tau %g..%g (confirmed at every measured period "
                     "there)", P->confirmed_lo, P->confirmed_hi);
    else
        fprintf(out, "    confirmed nowhere as a range");
    if (P->contradicted_below > 0) fprintf(out, "; fails at tau <= %g", P->contradicted_below);
    if (P->contradicted_above > 0) fprintf(out, "; fails at tau >= %g", P->contradicted_above);
    fprintf(out, ".\n    measured periods: confirmed %s; contradicted %s; inconclusive (more runs "
                 "would decide) %s. Elsewhere untested: predictions there are used only at tau "
                 ">= t_rel.\n",
            con[0] ? con : "none", ctr[0] ? ctr : "none", inc[0] ? inc : "none");
    // The leave-one-out matrix: rel. error of the prediction from each
    // reference period; * marks the one the verdict rests on.
    fprintf(out, "    relative error of the prediction at tau (rows) from the runs at each period "
                 "(columns; * = the one the verdict rests on):\n    %15s: ", "tau");
    for (int k = 0; k < nf; k++) fprintf(out, " from %-5g", from[k]);
    fprintf(out, "\n");
    double row = NAN;
    for (int i = 0; i <= f->n_qss; i++) {
        const fpt_qss_test *x = i < f->n_qss ? &f->qss[i] : NULL;
        if (x && (strcmp(x->protocol, P->protocol) || x->kind != FPT_QSS_LOO)) continue;
        if (!x || x->tau != row) {
            if (!isnan(row)) fprintf(out, "\n");
            if (!x) break;
            row = x->tau;
            fprintf(out, "    %15g: ", row);
            // cells in the order of from[]
            for (int k = 0; k < nf; k++) {
                const fpt_qss_test *y = NULL;
                for (int j = i; j < f->n_qss && !y; j++)
                    if (f->qss[j].kind == FPT_QSS_LOO && f->qss[j].tau == row &&
                        f->qss[j].from == from[k] && !strcmp(f->qss[j].protocol, P->protocol))
                        y = &f->qss[j];
                if (!y) fprintf(out, " %-10s", "-");
                else if (isfinite(y->rel)) {
                    char cell[24];
                    snprintf(cell, sizeof cell, "%+.1f%%%s", 100 * y->rel, y->decisive ? "*" : "");
                    fprintf(out, " %-10s", cell);
                } else fprintf(out, " %-10s", "n/a");
            }
        }
    }
    for (int i = 0; i < f->n_qss; i++) {
        const fpt_qss_test *x = &f->qss[i];
        if (strcmp(x->protocol, P->protocol) || x->kind != FPT_QSS_LAW) continue;
        char ci[48] = "";
        if (isfinite(x->rel_lo))
            snprintf(ci, sizeof ci, " [%+.1f%%, %+.1f%%]", 100 * x->rel_lo, 100 * x->rel_hi);
        fprintf(out, "    law after tau %g vs %g (%d epochs): KS distance %.3f, <T_p> %.2f vs "
                     "%.2f (%+.1f%%%s): %s\n",
                x->from, x->tau, x->horizon, x->distance, x->predicted, x->measured,
                100 * x->rel, ci, fpt_support_name(x->verdict));
    }
}

static void report_protocol(const fpt_fit *f, const fpt_fit_protocol *P, FILE *out) {
    const int geometric = !strcmp(P->timing, "geometric");
    if (!(P->reference > 0)) {
        fprintf(out, "Response model, %s (%s): not fitted: %s.\n\n", P->protocol, P->timing,
                P->why);
        return;
    }
    char tp[64];
    fprintf(out,
            "Response model, %s (%s): reference %s = %g (%d runs still short of the target "
            "then): <T_p> = %s epochs%s.\n",
            P->protocol, P->timing, geometric ? "p" : "tau0", P->reference, P->tp_runs,
            with_ci(P->tp_mean, P->tp_lo, P->tp_hi, tp, sizeof tp),
            P->tp_tail > 0 ? " (restricted: some never reached)" : "");
    if (f->t_rel > 0 && !geometric && P->reference < f->t_rel)
        fprintf(out, "  WARNING: the reference tau0 = %g is below t_rel = %d: the model assumes "
                     "perturbations hit the quasi-stationary state.\n",
                P->reference, f->t_rel);
    fpt_model m = geometric ? FPT_MODEL_LINEAR : FPT_MODEL_QSS;
    fprintf(out, "  %9s  %-24s %-24s %9s  %s\n", geometric ? "p" : "tau", "measured [CI]",
            geometric ? "linear response [CI]" : "QSS prediction [CI]", "rel.err",
            geometric ? "" : "renewal   restart");
    int shown = 0;
    for (int k = 0; k < f->n_conditions; k++) {
        const fpt_fit_condition *c = &f->conditions[k];
        if (strcmp(c->protocol, P->protocol) || strcmp(c->timing, P->timing) || c->runs == 0)
            continue;
        const fpt_fit_prediction *x =
            fpt_fit_prediction_of(f, P->protocol, P->timing, c->frequency, m);
        if (!x) continue;
        char a[64], b[64], rn[24] = "", rs[24] = "", note[64];
        if (!geometric) {
            const fpt_fit_prediction *r =
                fpt_fit_prediction_of(f, P->protocol, P->timing, c->frequency,
                                      FPT_MODEL_RENEWAL);
            const fpt_fit_prediction *z =
                f->opt.restart_protocol
                    ? fpt_fit_prediction_of(f, f->opt.restart_protocol, "periodic", c->frequency,
                                            FPT_MODEL_RESTART)
                    : NULL;
            if (r) with_ci(r->predicted, NAN, NAN, rn, sizeof rn);
            if (z) with_ci(z->predicted, NAN, NAN, rs, sizeof rs);
        }
        fprintf(out, "  %9g  %-24s %-24s %+8.1f%%  %-9s %-9s  %s\n", c->frequency,
                with_ci(c->rm, c->rm_lo, c->rm_hi, a, sizeof a),
                with_ci(x->predicted, x->lo, x->hi, b, sizeof b), 100 * x->rel_error, rn, rs,
                row_note(f, P, x, c, note, sizeof note));
        shown++;
    }
    if (!shown) fprintf(out, "  (no measured frequencies to compare)\n");
    report_qss(f, P, out);
    fprintf(out, "\n");
}

// The report; the recommendation is the smallest mean FPT among the measured
// conditions and the predictions inside the model's domain.
void fpt_fit_report(const fpt_fit *f, FILE *out) {
    const fpt_fit_condition *b = baseline(f);
    int runs = 0;
    for (int k = 0; k < f->n_conditions; k++)
        runs += f->conditions[k].runs + f->conditions[k].diverged;
    fprintf(out, "== fptfarm fit: %s, target %g%% test accuracy ==\n", f->experiment,
            f->opt.target);
    fprintf(out,
            "%d finished runs over %d conditions, horizon %d epochs%s. Intervals: %g%%; survival "
            "bands pointwise on the %s scale (%s); means by bootstrap over runs (%d resamples, "
            "seed %llu).\n\n",
            runs, f->n_conditions, f->horizon,
            f->excluded_unfinished ? " (unfinished runs left out)" : "", 100 * f->opt.level,
            f->opt.ci == FPT_CI_LOG ? "log" : "log-log",
            f->opt.ci == FPT_CI_LOG ? "as R's survfit" : "as lifelines", f->opt.bootstrap,
            (unsigned long long)f->opt.seed);
    if (f->excluded_unfinished)
        fprintf(out, "Left out: %d runs not finished (pending, running or failed).\n\n",
                f->excluded_unfinished);
    report_relaxation(f, out);
    report_conditions(f, out);
    for (int p = 0; p < f->n_protocols; p++) report_protocol(f, &f->protocols[p], out);
    for (int i = 0; i < f->n_notes; i++) fprintf(out, "Note: %s.\n", f->notes[i]);
    if (f->n_notes) fprintf(out, "\n");

    // Recommendation.
    const fpt_fit_prediction *bp = NULL;   // best valid prediction of a fitted protocol
    for (int i = 0; i < f->n_predictions; i++) {
        const fpt_fit_prediction *x = &f->predictions[i];
        if (!x->valid || !isfinite(x->predicted)) continue;
        if (x->model != FPT_MODEL_QSS && x->model != FPT_MODEL_LINEAR) continue;
        if (!bp || x->predicted < bp->predicted) bp = x;
    }
    const fpt_fit_condition *bm = NULL;    // best measured perturbed condition
    for (int k = 0; k < f->n_conditions; k++) {
        const fpt_fit_condition *c = &f->conditions[k];
        if (c == b || c->runs == 0 || c->reached == 0) continue;   // no FPT to rank
        if (!bm || c->rm < bm->rm) bm = c;
    }
    char name[96], v[64];
    if (bp)
        fprintf(out, "Best predicted (where the model is confirmed, or untested at tau >= t_rel): %s: "
                "mean FPT %s epochs%s.\n",
                fpt_condition_label(bp->protocol, bp->timing, bp->frequency, name, sizeof name),
                with_ci(bp->predicted, bp->lo, bp->hi, v, sizeof v),
                bp->support == FPT_SUPPORT_CONFIRMED ? " (confirmed by measured periods)"
                : bp->model == FPT_MODEL_QSS          ? " (untested: no measured period decides it)"
                                                      : "");
    if (bm)
        fprintf(out, "Best measured: %s: mean FPT %s epochs (%d runs).\n",
                fpt_condition_label(bm->protocol, bm->timing, bm->frequency, name, sizeof name),
                with_ci(bm->rm, bm->rm_lo, bm->rm_hi, v, sizeof v), bm->runs);
    if (!b) return;
    if (b->reached == 0) {   // the baseline has no FPT: no "x times faster"
        if (bm)
            fprintf(out,
                    "Recommendation: %s, mean FPT %s epochs (measured); no unperturbed run "
                    "reaches %g%% within %d epochs, so no speed-up can be stated.\n",
                    fpt_condition_label(bm->protocol, bm->timing, bm->frequency, name,
                                        sizeof name),
                    with_ci(bm->rm, bm->rm_lo, bm->rm_hi, v, sizeof v), f->opt.target,
                    f->horizon);
        else
            fprintf(out, "Recommendation: none: no run reaches %g%% within %d epochs.\n",
                    f->opt.target, f->horizon);
        return;
    }
    double best = INFINITY;
    const char *bp_name = NULL;
    if (bm && bm->rm < best) best = bm->rm, bp_name = "measured";
    if (bp && bp->predicted < best) best = bp->predicted, bp_name = "predicted";
    if (!bp_name || best >= b->rm) {
        fprintf(out,
                "Recommendation: no perturbation. Unperturbed runs reach %g%% in %.2f epochs "
                "(restricted mean), and nothing measured or predicted does better.\n",
                f->opt.target, b->rm);
        return;
    }
    int use_measured = !strcmp(bp_name, "measured");
    const char *proto = use_measured ? bm->protocol : bp->protocol;
    const char *timing = use_measured ? bm->timing : bp->timing;
    double freq = use_measured ? bm->frequency : bp->frequency;
    fprintf(out, "Recommendation: %s, mean FPT %s epochs (%s) against %.2f unperturbed (%.1fx "
                 "faster).\n",
            fpt_condition_label(proto, timing, freq, name, sizeof name),
            use_measured ? with_ci(bm->rm, bm->rm_lo, bm->rm_hi, v, sizeof v)
                         : with_ci(bp->predicted, bp->lo, bp->hi, v, sizeof v),
            bp_name, b->rm, b->rm / best);
    const fpt_fit_condition *rc = fpt_fit_condition_of(f, proto, timing, freq);
    if (rc && isfinite(rc->final_acc) && isfinite(b->final_acc))
        fprintf(out, "Final accuracy (mean of the last 10 epochs): %.2f%% against %.2f%% "
                     "unperturbed (%+.2f points).\n",
                rc->final_acc, b->final_acc, rc->final_acc - b->final_acc);
    else
        fprintf(out, "Final accuracy: not measured at this frequency (no runs there); run it to "
                     "confirm the prediction.\n");
}
