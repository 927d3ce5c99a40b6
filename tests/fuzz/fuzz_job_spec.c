// fuzz_job_spec.c — libFuzzer harness for the experiment-spec parser,
// fpt_job_spec_parse (common/campaign/job_spec.c, inih underneath), on the raw bytes.
//
// Contract checked (besides ASan/UBSan/LeakSanitizer):
//   rejected: -1, one non-empty line starting with the file name
//     ("fuzz.ini:LINE: ..." or "fuzz.ini: ..."), and nothing left to free
//     (seeds, jobs, text and canonical all NULL);
//   accepted: 0, a non-empty name, 1..5 protocol sections, 1..FPT_JOB_MAX_JOBS
//     jobs each pointing at a section and at one of its frequencies, the
//     seeds listed, the canonical form present and `hash` its FNV-1a 64, and
//     every job's run configuration available (first and last checked), an
//     index past the end refused by the same contract.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "base/hash.h"
#include "campaign/job_spec.h"

#define PATH "fuzz.ini"

static void check_accepted(const fpt_job_spec *s) {
    if (!s->name[0]) fuzz_die("accepted spec has an empty name");
    if (s->n_protocols < 1 || s->n_protocols > 5)
        fuzz_die("accepted spec has %d protocol sections", s->n_protocols);
    if (s->n_jobs < 1 || s->n_jobs > FPT_JOB_MAX_JOBS || !s->jobs)
        fuzz_die("accepted spec has %zu jobs (jobs %p)", s->n_jobs, (void *)s->jobs);
    if (s->n_seeds < 1 || !s->seeds) fuzz_die("accepted spec has %zu seeds", s->n_seeds);
    if (!s->text || !s->canonical) fuzz_die("accepted spec without text or canonical form");
    if (s->hash != fpt_fnv1a(FPT_FNV1A_INIT, s->canonical, strlen(s->canonical)))
        fuzz_die("hash is not the FNV-1a of the canonical form");
    if (strncmp(s->canonical, "fptfarm-job-spec v1\n", 20) != 0)
        fuzz_die("canonical form does not start with its version line");
    size_t expect = 0;
    for (int p = 0; p < s->n_protocols; p++) {
        const fpt_job_protocol *jp = &s->protocols[p];
        if (jp->n_freqs < 1 || jp->n_freqs > FPT_JOB_MAX_FREQS)
            fuzz_die("section %d has %d frequencies", p, jp->n_freqs);
        expect += (size_t)jp->n_freqs * s->n_seeds;
    }
    if (expect != s->n_jobs) fuzz_die("%zu jobs, expected %zu", s->n_jobs, expect);
    // Up to 1e6 jobs: look at ~4096 of them, evenly spread, and the last.
    const size_t step = s->n_jobs / 4096 + 1;
    for (size_t j = 0; j < s->n_jobs; j = (j + step < s->n_jobs || j == s->n_jobs - 1)
                                             ? j + step : s->n_jobs - 1) {
        const fpt_job *job = &s->jobs[j];
        if (job->section < 0 || job->section >= s->n_protocols)
            fuzz_die("job %zu points at section %d", j, job->section);
        const fpt_job_protocol *jp = &s->protocols[job->section];
        if (job->protocol != jp->protocol.kind) fuzz_die("job %zu: protocol mismatch", j);
        int found = 0;
        for (int f = 0; f < jp->n_freqs && !found; f++) found = jp->freqs[f] == job->frequency;
        if (!found) fuzz_die("job %zu: frequency %g is not one of its section's", j,
                             job->frequency);
    }
    fpt_err err;
    fpt_run_config rc;
    const size_t probe[2] = {0, s->n_jobs - 1};
    for (int i = 0; i < 2; i++) {
        fuzz_err_reset(&err);
        int r = fpt_job_spec_run_config(s, probe[i], &rc, &err);
        if (r != 0) fuzz_die("run config of job %zu refused: %s", probe[i], err.msg);
        if (rc.seed != s->jobs[probe[i]].seed) fuzz_die("run config of job %zu: seed", probe[i]);
    }
    fuzz_err_reset(&err);
    int r = fpt_job_spec_run_config(s, s->n_jobs, &rc, &err);
    if (r != -1) fuzz_die("run config past the last job accepted");
    fuzz_check_result("fpt_job_spec_run_config", r, &err, PATH);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // A private copy with nothing after it, so a read past `size` is caught
    // by ASan (libFuzzer's own buffer is already exact, but be explicit).
    char *text = malloc(size ? size : 1);
    if (!text) return 0;
    if (size) memcpy(text, data, size);
    fpt_job_spec *s = malloc(sizeof *s);   // large (struct of arrays): heap, not stack
    if (!s) {
        free(text);
        return 0;
    }
    fpt_err err;
    fuzz_err_reset(&err);
    int rc = fpt_job_spec_parse(s, text, size, PATH, &err);
    fuzz_check_result("fpt_job_spec_parse", rc, &err, PATH);
    if (rc == 0) {
        check_accepted(s);
    } else if (s->seeds || s->jobs || s->text || s->canonical) {
        fuzz_die("rejected spec left memory behind (seeds %p, jobs %p, text %p, canonical %p)",
                 (void *)s->seeds, (void *)s->jobs, (void *)s->text, (void *)s->canonical);
    }
    fpt_job_spec_free(s);
    free(s);
    free(text);
    return 0;
}
