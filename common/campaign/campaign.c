// campaign.c — the adaptive campaign's planner (campaign.h): from the
// finished runs and the decisions so far, the next decisions and the jobs
// they create.  No I/O and no SQLite: step.c loads and saves the state
// through the store.
#include "campaign/campaign.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/fit.h"

#define PLAN_BOOTSTRAP 400   // resamples per planning fit: intervals to ~1%

static const char *const phase_names[] = {"baseline", "reference", "confirm", "done"};
static const char *const action_names[] = {"run", "estimate", "candidate", "drop", "stop"};

const char *fpt_campaign_phase_name(fpt_campaign_phase p) {
    return (unsigned)p <= FPT_PHASE_DONE ? phase_names[p] : "?";
}
const char *fpt_campaign_action_name(fpt_campaign_action a) {
    return (unsigned)a <= FPT_ACT_STOP ? action_names[a] : "?";
}
const char *fpt_basis_name(fpt_basis b) {
    return b == FPT_BASIS_MEASURED ? "measured" : b == FPT_BASIS_PREDICTED ? "predicted" : NULL;
}
int fpt_campaign_phase_parse(const char *s, fpt_campaign_phase *p) {
    for (int i = 0; i <= FPT_PHASE_DONE; i++)
        if (!strcmp(s, phase_names[i])) return *p = (fpt_campaign_phase)i, 0;
    return -1;
}
int fpt_campaign_action_parse(const char *s, fpt_campaign_action *a) {
    for (int i = 0; i <= FPT_ACT_STOP; i++)
        if (!strcmp(s, action_names[i])) return *a = (fpt_campaign_action)i, 0;
    return -1;
}

size_t fpt_campaign_conditions(const fpt_job_spec *spec) {
    size_t n = 0;
    for (int p = 0; p < spec->n_protocols; p++) n += (size_t)spec->protocols[p].n_freqs;
    return n;
}

void fpt_campaign_plan_free(fpt_campaign_plan *p) {
    free(p->d);
    free(p->jobs);
    memset(p, 0, sizeof *p);
}

void fpt_campaign_state_free(fpt_campaign_state *s) {
    free(s->d);
    free(s->issued);
    memset(s, 0, sizeof *s);
}

// ---- the grid ------------------------------------------------------------------

// One condition of the grid with what is known about it.
typedef struct cand {
    size_t cond;                 // index in spec order
    const char *protocol, *timing;
    double freq;
    fpt_protocol_kind kind;
    int issued;                  // runs issued
    int measured;                // finished runs >= min_runs
    double m, m_lo, m_hi;        // measured restricted mean and interval
    int predicted;
    double p, p_lo, p_hi;        // predicted mean and interval
    fpt_support support;         // the QSS check's verdict at this period (fit.h)
    int live, dropped, chosen;   // from the history
    int need;                    // confirm: runs wanted this step
} cand;

typedef struct planner {
    const fpt_job_spec *spec;
    const fpt_campaign_spec *K;
    const fpt_campaign_state *st;
    fpt_campaign_plan *out;
    fpt_err *err;
    double budget;               // in runs (budget_epochs / epochs for an epoch budget)
    double left;                 // runs the budget still allows
    int64_t runs_used;           // including this step's
    size_t n_cand;
    cand *c;                     // every condition, baseline first if listed first
    int base;                    // index of the baseline condition
    fpt_fit fit;
    int have_fit;
    char fit_why[300];
} planner;

static const char *timing_of(const fpt_job_protocol *p) {
    return fpt_condition_timing(p->protocol.kind, p->protocol.timing);
}

// Decisions of one step: at most one run per condition and phase, one
// candidate and one drop per condition, an estimate and a stop (sized by
// fpt_campaign_plan).
static fpt_decision *add(planner *P, fpt_campaign_phase phase, fpt_campaign_action a,
                         const cand *c, const char *fmt, ...) {
    fpt_campaign_plan *o = P->out;
    fpt_decision *d = &o->d[o->n++];
    memset(d, 0, sizeof *d);
    d->seq = P->st->n + o->n;
    d->phase = phase;
    d->action = a;
    d->frequency = d->estimate = d->lo = d->hi = NAN;
    if (c) {
        snprintf(d->protocol, sizeof d->protocol, "%s", c->protocol);
        snprintf(d->timing, sizeof d->timing, "%s", c->timing);
        d->frequency = c->freq;
    }
    d->runs_used = P->runs_used;
    d->epochs_used = P->st->epochs_used;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof d->reason, fmt, ap);
    va_end(ap);
    return d;
}

static void set_estimate(fpt_decision *d, fpt_basis b, double v, double lo, double hi) {
    d->basis = b;
    d->estimate = v, d->lo = lo, d->hi = hi;
}

// Queues up to n more runs at candidate c (its next seeds, within the
// budget); returns how many.
static int run_more(planner *P, cand *c, int n, fpt_campaign_phase phase, const char *why) {
    const fpt_job_spec *s = P->spec;
    int room = (int)s->n_seeds - c->issued;
    if (n > room) n = room;
    if (n > (int)P->left) n = (int)P->left;
    if (n <= 0) return 0;
    fpt_decision *d = add(P, phase, FPT_ACT_RUN, c, "%s", why);
    d->runs = n;
    for (int k = 0; k < n; k++)
        P->out->jobs[P->out->n_jobs++] = c->cond * s->n_seeds + (size_t)(c->issued + k);
    c->issued += n;
    P->left -= n;
    P->runs_used += n;
    return n;
}

static double rel_half_width(double m, double lo, double hi) {
    return isfinite(m) && m > 0 && isfinite(lo) && isfinite(hi) ? (hi - lo) / 2 / m : INFINITY;
}

// The planning fit of the finished runs, at the spec's first target.
static void refit(planner *P, const fpt_runs *runs) {
    fpt_fit_options o = fpt_fit_options_default;
    o.restart_protocol = fpt_protocol_restart_name();   // the protocol table's
    o.target = P->spec->base.run.targets[0];
    o.min_runs = P->K->min_runs;
    o.bootstrap = PLAN_BOOTSTRAP;
    fpt_err e = {{0}};
    P->have_fit = fpt_fit_run(runs, &o, &P->fit, &e) == 0;
    if (!P->have_fit) snprintf(P->fit_why, sizeof P->fit_why, "%.250s", e.msg);
    for (size_t i = 0; i < P->n_cand && P->have_fit; i++) {
        cand *c = &P->c[i];
        const fpt_fit_condition *m = fpt_fit_condition_of(&P->fit, c->protocol, c->timing, c->freq);
        if (m && m->runs >= P->K->min_runs) {
            c->measured = 1;
            c->m = m->rm, c->m_lo = m->rm_lo, c->m_hi = m->rm_hi;
        }
        // The prediction the protocol table names for it (linear response
        // for geometric timing).
        const fpt_protocol_model pm = fpt_protocol_def_of(c->kind)->model;
        if (pm == FPT_PREDICT_NOTHING) continue;
        fpt_model model = !strcmp(c->timing, "geometric") ? FPT_MODEL_LINEAR
                          : pm == FPT_PREDICT_RESTART     ? FPT_MODEL_RESTART
                                                          : FPT_MODEL_QSS;
        const fpt_fit_prediction *x =
            fpt_fit_prediction_of(&P->fit, c->protocol, c->timing, c->freq, model);
        // A prediction the QSS check contradicts (at or beyond a measured
        // period the model misses) does not steer the search.
        if (x && !isnan(x->predicted) && x->support != FPT_SUPPORT_CONTRADICTED) {
            c->predicted = 1;
            c->p = x->predicted, c->p_lo = x->lo, c->p_hi = x->hi;
            c->support = x->support;
        }
    }
}

// The value a candidate is ranked by: measured if it can be, else predicted.
static double score(const cand *c) {
    return c->measured ? c->m : c->predicted ? c->p : INFINITY;
}

// ---- phases --------------------------------------------------------------------

static int share_left(planner *P, double share, int64_t spent) {
    double cap = share * P->budget - (double)spent;
    return cap < 0 ? 0 : (int)cap;
}

static int batch_for(planner *P, int current, double rel, int share_room) {
    // Interval half-widths shrink as 1/sqrt(n): the runs the precision needs.
    int n = P->K->batch;
    if (current > 0 && isfinite(rel)) {
        double need = current * (rel / P->K->precision) * (rel / P->K->precision) - current;
        if (need > n) n = (int)ceil(need);
    }
    if (n > share_room) n = share_room;
    return n;
}

// Phase 1; returns 1 when the phase is over.
static int plan_baseline(planner *P) {
    cand *b = &P->c[P->base];
    int spent = b->issued;
    int room = share_left(P, P->K->baseline_share, spent);
    if (!b->measured) {
        int n = P->K->batch > P->K->min_runs ? P->K->batch : P->K->min_runs;
        if (n > room && spent == 0) n = room > P->K->min_runs ? room : P->K->min_runs;
        if (n > room && spent > 0) n = room;
        if (run_more(P, b, n, FPT_PHASE_BASELINE,
                     spent ? "too few finished unperturbed runs to estimate S(t)"
                           : "unperturbed runs first: S(t), <T> and t_rel"))
            return 0;
        return 1;   // nothing more can be run: the next phase says what is missing
    }
    double rel = rel_half_width(b->m, b->m_lo, b->m_hi);
    int t_rel = P->fit.t_rel;
    if (rel <= P->K->precision && t_rel > 0) return 1;
    int n = batch_for(P, spent, t_rel > 0 ? rel : INFINITY, room);
    char why[200];
    snprintf(why, sizeof why, "baseline mean FPT %.2f epochs +-%.1f%% (sought +-%.1f%%), t_rel %s",
             b->m, 100 * rel, 100 * P->K->precision, t_rel > 0 ? "found" : "not found yet");
    return run_more(P, b, n, FPT_PHASE_BASELINE, why) ? 0 : 1;
}

// tau0 of a protocol section: the shortest listed period >= t_rel (else the
// longest); geometric: the largest p with 1/p >= t_rel (else the smallest).
static cand *reference_of(planner *P, int section, size_t first) {
    const fpt_job_protocol *jp = &P->spec->protocols[section];
    int geometric = jp->protocol.timing == FPT_TIMING_GEOMETRIC;
    int t_rel = P->have_fit ? P->fit.t_rel : 0;
    cand *best = NULL, *fallback = NULL;
    for (int f = 0; f < jp->n_freqs; f++) {
        cand *c = &P->c[first + (size_t)f];
        double period = geometric ? 1 / c->freq : c->freq;
        if (!fallback || period > (geometric ? 1 / fallback->freq : fallback->freq)) fallback = c;
        if (t_rel > 0 && period >= t_rel &&
            (!best || period < (geometric ? 1 / best->freq : best->freq)))
            best = c;
    }
    return best ? best : fallback;
}

static const fpt_fit_protocol *fitted_protocol(const planner *P, const cand *c) {
    for (int i = 0; P->have_fit && i < P->fit.n_protocols; i++)
        if (!strcmp(P->fit.protocols[i].protocol, c->protocol) &&
            !strcmp(P->fit.protocols[i].timing, c->timing))
            return &P->fit.protocols[i];
    return NULL;
}

// Phase 2; returns 1 when the phase is over.
static int plan_reference(planner *P) {
    int64_t spent = 0;
    for (size_t i = 0; i < P->n_cand; i++)
        if (P->c[i].kind != FPT_PROTO_NONE) spent += P->c[i].issued;
    int room = share_left(P, P->K->reference_share, spent);
    int any = 0;
    size_t first = 0;
    for (int s = 0; s < P->spec->n_protocols; s++) {
        const fpt_job_protocol *jp = &P->spec->protocols[s];
        size_t here = first;
        first += (size_t)jp->n_freqs;
        // Only protocols predicted from a reference condition need one.
        if (fpt_protocol_def_of(jp->protocol.kind)->model != FPT_PREDICT_QSS) continue;
        cand *r = reference_of(P, s, here);
        const fpt_fit_protocol *fp = fitted_protocol(P, r);
        double rel = fp && fp->reference > 0 ? rel_half_width(fp->tp_mean, fp->tp_lo, fp->tp_hi)
                                             : INFINITY;
        if (rel <= P->K->precision) continue;
        char why[200];
        if (fp && fp->reference > 0)
            snprintf(why, sizeof why, "<T_p> at the reference %.2f epochs +-%.1f%% (sought +-%.1f%%)",
                     fp->tp_mean, 100 * rel, 100 * P->K->precision);
        else
            snprintf(why, sizeof why, "reference %s %g (t_rel %d): <T_p> needs runs still short of "
                     "the target at the first perturbation",
                     !strcmp(r->timing, "geometric") ? "p" : "period", r->freq,
                     P->have_fit ? P->fit.t_rel : 0);
        int n = batch_for(P, r->issued, fp && fp->reference > 0 ? rel : INFINITY, room);
        int got = run_more(P, r, n, FPT_PHASE_REFERENCE, why);
        room -= got;
        any |= got > 0;
    }
    return !any;
}

// The live candidates and the best of them (or the baseline).
static cand *best_of(planner *P) {
    cand *b = &P->c[P->base];
    for (size_t i = 0; i < P->n_cand; i++)
        if (P->c[i].live && score(&P->c[i]) < score(b)) b = &P->c[i];
    return b;
}

// Promotes the unexplored candidate with the smallest prediction below
// `below`; NULL if none.
static cand *promote(planner *P, double below, const char *why) {
    cand *n = NULL;
    for (size_t i = 0; i < P->n_cand; i++) {
        cand *c = &P->c[i];
        if (c->kind == FPT_PROTO_NONE || c->live || c->dropped || c->chosen || !c->predicted)
            continue;
        if (!(c->p < below)) continue;
        if (!n || c->p < n->p) n = c;
    }
    if (!n) return NULL;
    n->live = n->chosen = 1;
    char lbl[96];
    fpt_condition_label(n->protocol, n->timing, n->freq, lbl, sizeof lbl);
    const int under_t_rel =
        n->freq < (P->have_fit ? P->fit.t_rel : 0) && strcmp(n->timing, "geometric");
    fpt_decision *d =
        add(P, FPT_PHASE_CONFIRM, FPT_ACT_CANDIDATE, n, "%s%s", why,
            n->support == FPT_SUPPORT_CONFIRMED ? " (the model is confirmed there by measured periods)"
            : under_t_rel ? " (below t_rel: outside the model, so it must be measured)"
                    : "");
    set_estimate(d, FPT_BASIS_PREDICTED, n->p, n->p_lo, n->p_hi);
    return n;
}

static int is_rival_settled(const planner *P, const cand *c, const cand *b) {
    return c->measured && c->m_lo >= (1 - P->K->tolerance) * b->m_hi;
}

static void stop(planner *P, cand *b, const char *why) {
    char lbl[96];
    fpt_condition_label(b->protocol, b->timing, b->freq, lbl, sizeof lbl);
    fpt_decision *d = add(P, FPT_PHASE_DONE, FPT_ACT_STOP, b, "%s; recommendation: %s", why,
                          b->kind == FPT_PROTO_NONE ? "no perturbation" : lbl);
    set_estimate(d, b->measured ? FPT_BASIS_MEASURED : FPT_BASIS_PREDICTED, score(b),
                 b->measured ? b->m_lo : b->p_lo, b->measured ? b->m_hi : b->p_hi);
    P->out->done = 1;
}

// Phase 3.
static void plan_confirm(planner *P, int entering) {
    if (entering) {
        int k = 0;
        while (k < P->K->confirm && promote(P, INFINITY, k == 0 ? "best predicted mean FPT"
                                                                : "next best predicted mean FPT"))
            k++;
        if (k == 0) {
            stop(P, &P->c[P->base], "no candidate has a finite prediction (see the fit's notes)");
            return;
        }
    }
    cand *b = best_of(P);
    // Drops: measured, and wholly slower than the best.
    if (b->measured)
        for (size_t i = 0; i < P->n_cand; i++) {
            cand *c = &P->c[i];
            if (!c->live || c == b || !c->measured || !(c->m_lo > b->m_hi)) continue;
            c->live = 0, c->dropped = 1;
            fpt_decision *d = add(P, FPT_PHASE_CONFIRM, FPT_ACT_DROP, c,
                                  "measured %.2f [%.2f, %.2f] epochs lies wholly above the best, "
                                  "%.2f [%.2f, %.2f]",
                                  c->m, c->m_lo, c->m_hi, b->m, b->m_lo, b->m_hi);
            set_estimate(d, FPT_BASIS_MEASURED, c->m, c->m_lo, c->m_hi);
            promote(P, b->m, "takes the dropped candidate's place: predicted below the best "
                             "measured");
        }
    // Unexplored candidates predicted to beat the best measured one by more
    // than the tolerance must be looked at.
    if (b->measured)
        while (promote(P, (1 - P->K->tolerance) * b->m_lo,
                       "predicted faster than the best measured"))
            ;
    b = best_of(P);
    int settled = b->measured;
    for (size_t i = 0; settled && i < P->n_cand; i++) {
        cand *c = &P->c[i];
        if (c != b && (c->live || (int)i == P->base) && !is_rival_settled(P, c, b)) settled = 0;
    }
    if (settled) {
        stop(P, b, "settled: no rival can be more than the tolerance faster");
        return;
    }
    // Runs for every live candidate not yet measured, not yet precise, or
    // still overlapping the best.
    int k = 0;
    for (size_t i = 0; i < P->n_cand; i++) {
        cand *c = &P->c[i];
        int overlaps = c != b && !is_rival_settled(P, c, b);
        int imprecise = rel_half_width(c->m, c->m_lo, c->m_hi) > P->K->precision;
        c->need = c->live && c->issued < (int)P->spec->n_seeds &&
                  (!c->measured || imprecise || overlaps);
        k += c->need;
    }
    // The best's interval decides the rivals: it is narrowed with them.
    if (k > 0 && b->live && !b->need && b->issued < (int)P->spec->n_seeds) b->need = 1, k++;
    int per = k ? (P->K->batch + k - 1) / k : 0, got = 0;
    for (size_t i = 0; i < P->n_cand; i++) {
        cand *c = &P->c[i];
        if (!c->need) continue;
        char why[200];
        if (!c->measured)
            snprintf(why, sizeof why, "confirm: predicted %.2f epochs, not measured yet", c->p);
        else
            snprintf(why, sizeof why, "confirm: measured %.2f [%.2f, %.2f] epochs against the "
                     "best %.2f [%.2f, %.2f]", c->m, c->m_lo, c->m_hi, b->m, b->m_lo, b->m_hi);
        got += run_more(P, c, per, FPT_PHASE_CONFIRM, why);
    }
    if (got) return;
    // Not settled: say which rivals are still within the tolerance.
    char why[300], lbl[96];
    size_t len = (size_t)snprintf(why, sizeof why, "%s; not settled against",
                                  P->left < 1 ? "budget spent" : "candidates' seed lists exhausted");
    for (size_t i = 0; i < P->n_cand && len < sizeof why - 100; i++) {
        cand *c = &P->c[i];
        if (c == b || !(c->live || (int)i == P->base) || is_rival_settled(P, c, b)) continue;
        fpt_condition_label(c->protocol, c->timing, c->freq, lbl, sizeof lbl);
        len += (size_t)snprintf(why + len, sizeof why - len, " %s (%.2f),", lbl, score(c));
    }
    why[len - 1] = 0;   // the last comma
    stop(P, b, why);
}

// The phase the history ends in, and which candidates are live.
static fpt_campaign_phase replay_history(planner *P) {
    fpt_campaign_phase ph = FPT_PHASE_BASELINE;
    for (int i = 0; i < P->st->n; i++) {
        const fpt_decision *d = &P->st->d[i];
        ph = d->phase;
        for (size_t j = 0; j < P->n_cand; j++) {
            cand *c = &P->c[j];
            if (!fpt_condition_same(c->protocol, c->timing, c->freq, d->protocol, d->timing,
                                    d->frequency))
                continue;
            if (d->action == FPT_ACT_CANDIDATE) c->live = c->chosen = 1;
            if (d->action == FPT_ACT_DROP) c->live = 0, c->dropped = 1;
        }
    }
    return ph;
}

int fpt_campaign_next(const fpt_job_spec *spec, const fpt_runs *runs,
                      const fpt_campaign_state *st, fpt_campaign_plan *out, fpt_err *err) {
    memset(out, 0, sizeof *out);
    const fpt_campaign_spec *K = &spec->campaign;
    if (!K->adaptive) return fpt_fail(err, "%s: not an adaptive campaign", spec->path);
    if (st->n > 0 && st->d[st->n - 1].action == FPT_ACT_STOP) {
        out->done = 1;
        return 0;
    }
    planner P = {.spec = spec, .K = K, .st = st, .out = out, .err = err, .base = -1};
    const double E = spec->base.run.epochs;
    P.budget = K->budget_runs ? (double)K->budget_runs : floor((double)K->budget_epochs / E);
    // Every issued job has finished, so the epochs used are all stored ones;
    // a new run may use all E.
    P.left = K->budget_runs ? (double)(K->budget_runs - st->runs_used)
                            : floor((double)(K->budget_epochs - st->epochs_used) / E);
    if (P.left < 0) P.left = 0;
    // A step's jobs: within what is left of the budget, and new jobs of the grid.
    size_t max_jobs = P.left < (double)spec->n_jobs ? (size_t)P.left : spec->n_jobs;
    P.runs_used = st->runs_used;
    P.n_cand = fpt_campaign_conditions(spec);
    P.c = calloc(P.n_cand, sizeof *P.c);
    out->d = calloc(4 * P.n_cand + 8, sizeof *out->d);
    out->jobs = calloc(max_jobs + 1, sizeof *out->jobs);
    if (!P.c || !out->d || !out->jobs) {
        free(P.c);
        fpt_campaign_plan_free(out);
        return fpt_fail(err, "campaign: out of memory");
    }
    size_t k = 0;
    for (int s = 0; s < spec->n_protocols; s++)
        for (int f = 0; f < spec->protocols[s].n_freqs; f++, k++) {
            cand *c = &P.c[k];
            c->cond = k;
            c->kind = spec->protocols[s].protocol.kind;
            c->protocol = fpt_protocol_name(c->kind);
            c->timing = timing_of(&spec->protocols[s]);
            c->freq = spec->protocols[s].freqs[f];
            c->issued = st->issued[k];
            c->m = c->p = INFINITY;
            if (c->kind == FPT_PROTO_NONE) P.base = (int)k;
        }
    fpt_campaign_phase ph = replay_history(&P);
    if (runs->n_runs > 0) refit(&P, runs);
    if (ph == FPT_PHASE_BASELINE) {
        if (!plan_baseline(&P)) goto done;
        cand *b = &P.c[P.base];
        fpt_decision *d = add(&P, FPT_PHASE_REFERENCE, FPT_ACT_ESTIMATE, b,
                              "baselines done: %d runs, t_rel %d epochs%s", b->issued,
                              P.have_fit ? P.fit.t_rel : 0,
                              !P.have_fit ? " (no fit: see the final report)"
                              : rel_half_width(b->m, b->m_lo, b->m_hi) > K->precision ||
                                      P.fit.t_rel == 0
                                  ? " (precision not reached within baseline_share)"
                                  : "");
        if (b->measured) set_estimate(d, FPT_BASIS_MEASURED, b->m, b->m_lo, b->m_hi);
        ph = FPT_PHASE_REFERENCE;
    }
    if (ph == FPT_PHASE_REFERENCE) {
        if (!plan_reference(&P)) goto done;
        if (!P.have_fit) {
            stop(&P, &P.c[P.base], P.fit_why[0] ? P.fit_why : "no fit");
            goto done;
        }
        plan_confirm(&P, 1);
        goto done;
    }
    if (ph == FPT_PHASE_CONFIRM) {
        if (!P.have_fit) stop(&P, &P.c[P.base], P.fit_why);
        else plan_confirm(&P, 0);
    }
done:
    if (P.have_fit) fpt_fit_free(&P.fit);
    free(P.c);
    return 0;
}

// ---- the report ------------------------------------------------------------------

void fpt_campaign_report(const fpt_job_spec *spec, const fpt_campaign_state *st, FILE *out) {
    const int64_t E = spec->base.run.epochs;
    const int64_t sweep_runs = (int64_t)spec->n_jobs, sweep_epochs = sweep_runs * E;
    fprintf(out, "== fptfarm adaptive campaign: %s ==\n", spec->name);
    int64_t by_phase[4] = {0};
    for (int i = 0; i < st->n; i++)
        if (st->d[i].action == FPT_ACT_RUN) by_phase[st->d[i].phase] += st->d[i].runs;
    fprintf(out, "Runs by phase: baseline %lld, reference %lld, confirm %lld.\n",
            (long long)by_phase[0], (long long)by_phase[1], (long long)by_phase[2]);
    for (int i = 0; i < st->n; i++) {
        const fpt_decision *d = &st->d[i];
        if (d->action == FPT_ACT_RUN) continue;
        char lbl[96] = "";
        if (d->protocol[0]) fpt_condition_label(d->protocol, d->timing, d->frequency, lbl,
                                                    sizeof lbl);
        fprintf(out, "  %3d %-9s %-9s %-28s", d->seq, fpt_campaign_phase_name(d->phase),
                fpt_campaign_action_name(d->action), lbl);
        if (d->basis != FPT_BASIS_NONE)
            fprintf(out, " %s %.2f [%.2f, %.2f]", fpt_basis_name(d->basis), d->estimate, d->lo,
                    d->hi);
        fprintf(out, "  %s\n", d->reason);
    }
    const fpt_decision *last = st->n ? &st->d[st->n - 1] : NULL;
    fprintf(out, "Cost: %lld runs, %lld epochs; a sweep of the whole grid: %lld runs, %lld epochs "
                 "(%.0f%% of its runs, %.0f%% of its epochs).\n",
            (long long)st->runs_used, (long long)st->epochs_used, (long long)sweep_runs,
            (long long)sweep_epochs, 100.0 * (double)st->runs_used / (double)sweep_runs,
            100.0 * (double)st->epochs_used / (double)sweep_epochs);
    if (!last || last->action != FPT_ACT_STOP) {
        fprintf(out, "The campaign has not stopped yet (phase %s).\n",
                last ? fpt_campaign_phase_name(last->phase) : "baseline");
        return;
    }
    fprintf(out, "Stopped: %s.\n\n", last->reason);
}
