// cmd_merge.c — `fptfarm merge OUT.db IN.db [IN.db ...]`: combines results
// databases of the same experiment (Slurm array shards, several clusters)
// into OUT.db, created if missing.  The rules are in common/store/store_merge.c.
//
// Prints one line per merged experiment on stdout.  On any error OUT.db is
// as it was (a database this command created is removed again) and the error
// is one line, "fptfarm: merge: ..."; bad usage exits 2.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "store/store.h"

static const char merge_usage[] = "usage: fptfarm merge OUT.db IN.db [IN.db ...]";

static int count_experiment(const fpt_progress_row *r, void *ctx) {
    (void)r;
    (*(int *)ctx)++;
    return 0;
}

// "38 done, 2 pending": the non-zero states, most advanced first.
static void format_states(const fpt_merge_summary *s, char *buf, size_t cap) {
    static const fpt_job_state order[] = {FPT_JOB_DONE, FPT_JOB_DIVERGED, FPT_JOB_FAILED,
                                          FPT_JOB_PENDING, FPT_JOB_RUNNING};
    size_t n = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < sizeof order / sizeof *order && n < cap; k++)
        if (s->by_state[order[k]])
            n += (size_t)snprintf(buf + n, cap - n, "%s%lld %s", n ? ", " : "",
                                  (long long)s->by_state[order[k]], fpt_job_state_name(order[k]));
}

int fpt_cmd_merge(int argc, char **argv, fpt_err *err) {
    if (argc == 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        printf("%s\n"
               "Merges results databases of the same experiment (the shards of a Slurm job array,\n"
               "or campaigns run on several clusters) into OUT.db, created if missing.  Inputs\n"
               "are only read.  Each job keeps its most advanced state (done > diverged > failed\n"
               "> pending) with that run's whole trace; attempts and crashes are summed; the\n"
               "same run finished with different traces in two inputs is a conflict (the first\n"
               "input's is kept).  Fits of the merged experiments are deleted: run fptfarm fit.\n",
               merge_usage);
        return 0;
    }
    for (int i = 0; i < argc; i++)
        if (argv[i][0] == '-') {
            fpt_print_error(stderr, "merge: unknown option '%s' (%s)", argv[i], merge_usage);
            return 2;
        }
    if (argc < 2) {
        fpt_print_error(stderr, "merge: expected OUT.db and at least one IN.db (%s)", merge_usage);
        return 2;
    }
    const char *out = argv[0];
    int existed = access(out, F_OK) == 0;
    fpt_store *s = NULL;
    fpt_merge_summary *sum = NULL;
    int n = 0, experiments = 0;
    // The lease: no merge into a database a campaign is writing (store.h).
    if (fpt_store_open(&s, out, 1, NULL, err) ||
        fpt_store_lease_check(s, err) ||
        fpt_store_merge(s, (const char *const *)(argv + 1), argc - 1, &sum, &n, err)) {
        fpt_store_close(s);
        if (!existed) unlink(out);   // a failed merge leaves no new file behind
        return fpt_err_prefix(err, "merge: ");
    }
    // Committed.  With several experiments in OUT, fit needs --experiment.
    int rc = fpt_store_progress(s, count_experiment, &experiments, err);
    fpt_store_close(s);
    if (rc) {
        free(sum);
        return fpt_err_prefix(err, "merge: %s was merged, but then: ", out);
    }
    if (n == 0) printf("merge: the inputs hold no experiments; nothing merged into %s\n", out);
    for (int k = 0; k < n; k++) {
        const fpt_merge_summary *m = &sum[k];
        char states[160];
        format_states(m, states, sizeof states);
        printf("merge: %s: %d input%s, %lld job%s%s%s%s, %lld epoch%s; %lld conflict%s; "
               "refit with: fptfarm fit %s%s%s\n",
               m->experiment, m->inputs, m->inputs == 1 ? "" : "s", (long long)m->jobs,
               m->jobs == 1 ? "" : "s", states[0] ? " (" : "", states, states[0] ? ")" : "",
               (long long)m->epochs, m->epochs == 1 ? "" : "s", (long long)m->conflicts,
               m->conflicts == 1 ? "" : "s", out,
               experiments > 1 ? " --experiment " : "", experiments > 1 ? m->experiment : "");
    }
    free(sum);
    return 0;
}
