// store_campaign.h — an adaptive campaign's state in the results database
// (campaign.h; tables campaign_decisions and campaign_summary).
#ifndef FPT_STORE_CAMPAIGN_H
#define FPT_STORE_CAMPAIGN_H

#include <stdint.h>

#include "campaign/campaign.h"
#include "store/store.h"

// The decisions so far, the runs issued per condition and the cost so far of
// experiment exp_id (which must run `spec`).
int fpt_store_campaign_load(fpt_store *s, const fpt_job_spec *spec, int64_t exp_id,
                            fpt_campaign_state *out, fpt_err *err);

// One planning step (call it when every issued job has finished): plans
// from the finished runs and the history, then stores the new decisions, the
// jobs they create (pending; their ids in *job_ids, parallel to plan->jobs)
// and the summary, in one transaction.  plan->done says the campaign has
// stopped (then plan->n_jobs is 0).  Free with fpt_campaign_plan_free and free().
int fpt_store_campaign_step(fpt_store *s, const fpt_job_spec *spec, int64_t exp_id,
                            fpt_campaign_plan *plan, int64_t **job_ids, fpt_err *err);

#endif
