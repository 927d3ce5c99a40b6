// step.h — one step of an adaptive campaign (campaign.h) against the
// results database: load the finished runs and the history (the store's
// rows, store/store_campaign.h), plan (fpt_campaign_next), save the new
// decisions with the jobs they create and the summary.
//
// The step sits above both the store, which only loads and saves rows, and
// the planner, which knows nothing of SQLite; it owns the translation
// between the two and the transaction that makes a campaign resumable.
#ifndef FPT_CAMPAIGN_STEP_H
#define FPT_CAMPAIGN_STEP_H

#include <stdint.h>

#include "base/error.h"
#include "campaign/campaign.h"
#include "campaign/job_spec.h"
#include "store/store.h"

// The decisions so far, the runs issued per condition and the cost so far of
// experiment exp_id (which must run `spec`), into *out (free with
// fpt_campaign_state_free; on failure *out is empty).  Fails when the
// database holds jobs at a condition the spec does not list, or a decision
// this fptfarm did not write (an unknown phase or action, or seq not 1, 2, ...).
int fpt_campaign_load(fpt_store *s, const fpt_job_spec *spec, int64_t exp_id,
                      fpt_campaign_state *out, fpt_err *err);

// One planning step (call it when every issued job has finished): plans
// from the finished runs and the history, then stores the new decisions, the
// jobs they create (pending; their ids in *job_ids, parallel to plan->jobs)
// and the summary, in one transaction, so that a kill leaves either the
// whole step or none of it.  plan->done says the campaign has stopped (then
// plan->n_jobs is 0).  Free with fpt_campaign_plan_free and free(); on
// failure the plan is empty and *job_ids NULL.
int fpt_campaign_step(fpt_store *s, const fpt_job_spec *spec, int64_t exp_id,
                      fpt_campaign_plan *plan, int64_t **job_ids, fpt_err *err);

#endif
