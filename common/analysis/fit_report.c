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
        char a[64], b[64], rn[24] = "", rs[24] = "";
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
        fprintf(out, "  %9g  %-24s %-24s %+8.1f%%  %-9s %-9s%s\n", c->frequency,
                with_ci(c->rm, c->rm_lo, c->rm_hi, a, sizeof a),
                with_ci(x->predicted, x->lo, x->hi, b, sizeof b), 100 * x->rel_error, rn, rs,
                x->valid ? (fpt_frequency_key(c->timing, c->frequency) ==
                                    fpt_frequency_key(c->timing, P->reference)
                                ? "  (reference)"
                                : "")
                         : (geometric ? "  outside the model: 1/p < t_rel"
                                      : "  outside the model: tau < t_rel"));
        shown++;
    }
    if (!shown) fprintf(out, "  (no measured frequencies to compare)\n");
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
        fprintf(out, "Best predicted (model valid, tau >= t_rel): %s: mean FPT %s epochs.\n",
                fpt_condition_label(bp->protocol, bp->timing, bp->frequency, name, sizeof name),
                with_ci(bp->predicted, bp->lo, bp->hi, v, sizeof v));
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
