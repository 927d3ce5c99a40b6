// farm.c — the farm's start and end on every rank: MPI, the roles (rank 0
// the coordinator, coordinator.c; ranks > 0 workers, worker.c), the stop
// signals, what rank 0 tells the others before any job (go or not, the
// spec, the checkpoint directory, the database's identity), the setup
// agreement, and when the campaign is complete, its fit.
//
// A stop (SIGTERM/SIGINT to the coordinator, SIGUSR1 to mpirun, or the
// --stop-signal): workers finish their epoch, checkpoint and stop; their jobs
// go back to pending (no crash); exit code 3.  A worker that does not stop
// within the grace time (stalled) is left: its job goes back to pending and
// the farm ends with exit code 3.
#include "farm/farm.h"

#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/fit.h"
#include "campaign/campaign.h"
#include "campaign/fit_db.h"
#include "campaign/job_spec.h"
#include "farm/coordinator.h"
#include "farm/proto.h"
#include "farm/worker.h"
#include "nn/backend.h"
#include "campaign/step.h"

// Set by a stop signal on rank 0; the coordinator reads it (fpt_coord.stop).
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

// Rank 0 notes sig as a stop; workers ignore it (the coordinator tells them).
static void stop_on(int rank, int sig) {
    struct sigaction sa = {0};
    sa.sa_handler = rank == 0 ? on_signal : SIG_IGN;
    sigaction(sig, &sa, NULL);
}

int fpt_farm_start(void) {
    int provided, rank;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    // Stop signals: SIGTERM or SIGINT sent to this process, or SIGUSR1 sent
    // to mpirun, which forwards SIGUSR1/2 to every rank (mpirun itself answers
    // SIGTERM and SIGINT by killing the job).  Workers ignore all three.
    stop_on(rank, SIGINT);
    stop_on(rank, SIGTERM);
    stop_on(rank, SIGUSR1);
    return rank;
}

void fpt_farm_stop_signal(int sig) {
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    stop_on(rank, sig);
}

void fpt_farm_end(void) {
    MPI_Finalize();
}

int fpt_farm_run(const fpt_farm_options *o, fpt_err *err) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *spec_path = o->spec_path, *db_path = o->db_path;
    int noop = o->noop;
    // Rank 0 reads and checks everything, then tells the others whether to go.
    fpt_job_spec spec = {0};
    fpt_coord c = {0};
    int ok = 1;
    char db_default[1100], ckpt_dir[1300] = "";
    long len = 0;
    if (rank == 0) {
        if (size < 2) {
            fpt_fail(err, "run needs at least 2 MPI ranks (a coordinator and a worker): "
                          "mpirun -n 3 fptfarm run %s", spec_path);
            ok = 0;
        } else if (fpt_job_spec_load(&spec, spec_path, err)) {
            ok = 0;
        } else if (fpt_backend_check(spec.base.run.backend, spec.base.run.precision, err)) {
            fpt_err_prefix(err, "%s: ", spec_path);   // before any file is written
            ok = 0;
        } else {
            len = (long)spec.text_len;
            if (!db_path) {
                snprintf(db_default, sizeof db_default, "results/%s.db", spec.name);
                db_path = db_default;
            }
            c.stop = &stop_requested;
            c.noop = noop;
            c.shard = o->shard, c.shards = o->shards;
            c.max_crashes = (int)o->max_crashes;
            c.stop_grace = o->stop_grace;
            if (o->ckpt_dir) snprintf(ckpt_dir, sizeof ckpt_dir, "%.1200s", o->ckpt_dir);
            else snprintf(ckpt_dir, sizeof ckpt_dir, "%.1200s.ckpt", db_path);
            ok = fpt_coord_setup(&c, &spec, db_path, ckpt_dir, size, (int)o->max_crashes,
                                 o->retry_failed, o->journal, err) == 0;
        }
    }
    // One go/no-go for all ranks: a bad spec or database ends every rank
    // cleanly with the coordinator's one error line.
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Bcast(&noop, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!ok) {
        if (rank == 0) {
            fpt_store_close(c.db);
            fpt_coord_free(&c);
            fpt_job_spec_free(&spec);
        }
        MPI_Finalize();
        return rank == 0 ? -1 : 0;   // workers did nothing wrong
    }
    // The spec's text goes to every worker, which parses it the same way.
    MPI_Bcast(&len, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    char *text = rank == 0 ? spec.text : malloc((size_t)len + 1);
    MPI_Bcast(text, (int)len, MPI_CHAR, 0, MPI_COMM_WORLD);
    char path_buf[1024];
    if (rank == 0) snprintf(path_buf, sizeof path_buf, "%s", spec_path);
    MPI_Bcast(path_buf, sizeof path_buf, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (rank != 0) {
        text[len] = 0;
        if (fpt_job_spec_parse(&spec, text, (size_t)len, path_buf, err)) ok = 0;
        free(text);
    }
    MPI_Bcast(ckpt_dir, sizeof ckpt_dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    char database_id[33] = "";
    if (rank == 0) snprintf(database_id, sizeof database_id, "%s", fpt_store_database_id(c.db));
    MPI_Bcast(database_id, sizeof database_id, MPI_CHAR, 0, MPI_COMM_WORLD);

    int rc = 0;
    if (rank != 0) {
        rc = ok ? fpt_worker_main(&spec, ckpt_dir, database_id, noop, err) : -1;
        if (rc) {   // one line, then the whole job ends (MPI aborts every rank)
            fpt_print_error(stderr, "rank %d: %s", rank, err->msg);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        fpt_job_spec_free(&spec);
        MPI_Finalize();
        return 0;
    }

    // Every worker checks its setup before any job starts; the first error
    // found is this command's one line, and no job was touched.
    const int n_failed = fpt_farm_setup_agree(0);
    if (n_failed) {
        msg_error first = {0};
        for (int k = 0; k < n_failed; k++) {
            msg_error m;
            MPI_Recv(&m, sizeof m, MPI_BYTE, MPI_ANY_SOURCE, TAG_ERROR, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
            if (k == 0) first = m;
        }
        first.msg[sizeof first.msg - 1] = 0;
        fpt_fail(err, "%s%s; no job was started", first.msg,
                 n_failed > 1 ? " (and on other workers)" : "");
        fpt_store_close(c.db);
        fpt_coord_free(&c);
        fpt_job_spec_free(&spec);
        MPI_Finalize();
        return -1;
    }

    if (fpt_coord_run(&c, size, db_path, err)) {
        fpt_print_error(stderr, "%s", err->msg);
        fpt_store_close(c.db);   // rolls back anything uncommitted
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    // The campaign is complete: fit it (docs/SCIENCE.md), report on stdout, store
    // the fit tables.  A fit that cannot be made (too few runs, no baseline)
    // says why; the campaign itself still succeeded.
    if (!stop_requested && c.shards > 1) {
        fprintf(stderr, "fptfarm: shard %ld/%ld complete; when every shard is, combine them: "
                        "fptfarm merge ALL.db SHARD.db... && fptfarm fit ALL.db\n",
                c.shard, c.shards);
    } else if (!stop_requested && !c.noop) {
        fpt_err ferr = {{0}};
        printf("\n");
        if (c.adaptive) {
            fpt_campaign_state cs;
            if (fpt_campaign_load(c.db, &spec, c.exp_id, &cs, &ferr) == 0) {
                fpt_campaign_report(&spec, &cs, stdout);
                fpt_campaign_state_free(&cs);
            } else {
                fpt_print_error(stderr, "%s", ferr.msg);
            }
        }
        fflush(stdout);
        if (fpt_fit_database(c.db, spec.name, NULL, 0, &fpt_fit_options_default, stdout, &ferr))
            fpt_print_error(stderr, "no analysis yet: %s", ferr.msg);
        else
            fprintf(stderr, "fptfarm: analysis stored in %s (fptfarm plot %s draws it)\n",
                    db_path, db_path);
    }
    const long failed_jobs = c.jobs_failed;
    fpt_store_close(c.db);
    fpt_coord_free(&c);
    fpt_job_spec_free(&spec);
    MPI_Finalize();
    if (stop_requested) {
        fprintf(stderr, "fptfarm: stopped by signal; run the same command again to resume\n");
        return FPT_FARM_EXIT_STOPPED;
    }
    if (failed_jobs > 0) {   // the rest is complete; these need a person
        fprintf(stderr, "fptfarm: %ld jobs are marked failed (their workers died --max-crashes "
                        "times); fptfarm status %s shows them; run again with --retry-failed "
                        "(or a higher --max-crashes) to try them again\n",
                failed_jobs, db_path);
        return FPT_FARM_EXIT_FAILED_JOBS;
    }
    return 0;
}
