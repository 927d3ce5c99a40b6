// campaign.h — adaptive campaigns: the response model chooses which runs to
// make ([campaign] mode = adaptive in a job spec; docs/SCIENCE.md s4).
//
// A sweep runs every (protocol, frequency, seed) of the spec's grid.  An
// adaptive campaign treats the grid as the candidates and spends a budget
// (runs or epochs) in three phases:
//   1. baseline:  unperturbed runs until the restricted mean FPT is known to
//                 the stated precision (half-width of its 95% bootstrap
//                 interval relative to the mean) and t_rel is found, or
//                 baseline_share of the budget is spent;
//   2. reference: per perturbing protocol, runs at tau0 = the shortest listed
//                 period >= t_rel (geometric: the largest p with 1/p >= t_rel)
//                 until <T_p> is known to the same precision, or
//                 reference_share of the budget is spent ([reset] needs
//                 none: the restart prediction comes from the baselines);
//   3. confirm:   the mean FPT predicted at every candidate ranks them; the
//                 best `confirm` are run and measured; a candidate whose
//                 interval lies wholly above the best one's is dropped and
//                 the next best prediction takes its place; it stops when
//                 the best is settled (no rival, measured or predicted, can
//                 be more than `tolerance` faster: every rival's interval
//                 starts above (1 - tolerance) x the best's upper end), or
//                 when the budget or the candidates' seed lists run out.
// Predictions below t_rel are outside the model (docs/SCIENCE.md s4): they only
// rank where to look; what is recommended is always measured.
//
// Decisions are made only when every run issued so far has finished (at
// "batch boundaries"), from the finished runs alone.  So a campaign is a
// pure function of the spec and the runs' results: the same on any number
// of workers, and, since every decision is stored in the same transaction
// as the jobs it creates (step.c), the same after a kill and a
// resume.  A condition's k-th run uses the k-th seed of the spec's list.
#ifndef FPT_CAMPAIGN_H
#define FPT_CAMPAIGN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "campaign/job_spec.h"
#include "analysis/runs.h"

typedef enum fpt_campaign_phase {
    FPT_PHASE_BASELINE, FPT_PHASE_REFERENCE, FPT_PHASE_CONFIRM, FPT_PHASE_DONE
} fpt_campaign_phase;

typedef enum fpt_campaign_action {
    FPT_ACT_RUN,         // add `runs` jobs at the condition
    FPT_ACT_ESTIMATE,    // what a phase ended with
    FPT_ACT_CANDIDATE,   // chosen for confirmation on its prediction
    FPT_ACT_DROP,        // measured and clearly worse than the best
    FPT_ACT_STOP,        // the end: the condition is the recommendation
} fpt_campaign_action;

typedef enum fpt_basis { FPT_BASIS_NONE, FPT_BASIS_MEASURED, FPT_BASIS_PREDICTED } fpt_basis;

const char *fpt_campaign_phase_name(fpt_campaign_phase p);     // "baseline", ...
const char *fpt_campaign_action_name(fpt_campaign_action a);   // "run", ...
const char *fpt_basis_name(fpt_basis b);                       // NULL, "measured", "predicted"
int fpt_campaign_phase_parse(const char *s, fpt_campaign_phase *p);
int fpt_campaign_action_parse(const char *s, fpt_campaign_action *a);

// One row of campaign_decisions (results/schema.sql, version 3).
typedef struct fpt_decision {
    int seq;                         // 1, 2, ...
    fpt_campaign_phase phase;
    fpt_campaign_action action;
    char protocol[32], timing[32];   // "" when the decision has no condition
    double frequency;
    int runs;                        // jobs added (FPT_ACT_RUN)
    fpt_basis basis;
    double estimate, lo, hi;         // mean FPT, epochs, and its 95% interval
    int64_t runs_used, epochs_used;  // the campaign's cost before the decision
    char reason[300];
} fpt_decision;

// What the planner needs besides the finished runs: the decisions so far and
// the cost so far.
typedef struct fpt_campaign_state {
    int n;
    fpt_decision *d;                 // the history, in order
    int64_t runs_used;               // jobs issued, in any state
    int64_t epochs_used;             // epochs stored
    int *issued;                     // (fpt_campaign_conditions(spec)) jobs issued per
                                     // condition, in spec order
} fpt_campaign_state;

// The decisions of one planning step and the jobs they create.
typedef struct fpt_campaign_plan {
    int n;
    fpt_decision *d;                 // to append, seq continuing the history
    size_t n_jobs;
    size_t *jobs;                    // spec job indices (fpt_job_spec.jobs) to run
    int done;                        // a stop decision was made
} fpt_campaign_plan;

// Conditions of the grid (protocol section x frequency), in spec order; the
// condition of job i is i / spec->n_seeds.
size_t fpt_campaign_conditions(const fpt_job_spec *spec);

// Plans the next step.  Call it only when every issued job has finished
// (runs: the experiment's finished runs, fpt_store_load_runs).  A campaign
// whose history ends with a stop gets an empty plan with done = 1.
int fpt_campaign_next(const fpt_job_spec *spec, const fpt_runs *runs,
                      const fpt_campaign_state *st, fpt_campaign_plan *out, fpt_err *err);
void fpt_campaign_plan_free(fpt_campaign_plan *p);
void fpt_campaign_state_free(fpt_campaign_state *s);

// The campaign's summary for people: decisions by phase, the recommendation,
// its cost against the sweep of the whole grid.
void fpt_campaign_report(const fpt_job_spec *spec, const fpt_campaign_state *st, FILE *out);

#endif
