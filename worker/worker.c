// worker.c — the loop of MPI ranks > 0: ask for a job, train it with
// fpt_run (resuming from its checkpoint if one exists), stream every epoch
// record to the coordinator and wait for its commit before checkpointing.
#include "worker.h"

#include <errno.h>
#include <mpi.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "blas_setup.h"
#include "checkpoint.h"
#include "farm_proto.h"
#include "first_passage.h"
#include "engine.h"

typedef struct epoch_ctx {
    int64_t job_id;
} epoch_ctx;

static int send_epoch(const fpt_epoch_record *rec, const fpt_run_state *st, void *ctx) {
    (void)st;
    const epoch_ctx *c = ctx;
    msg_epoch m = {.job_id = c->job_id, .rec = *rec};
    msg_ack ack;
    MPI_Send(&m, sizeof m, MPI_BYTE, 0, TAG_EPOCH, MPI_COMM_WORLD);
    MPI_Recv(&ack, sizeof ack, MPI_BYTE, 0, TAG_ACK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    return ack.stop;
}

// A job without training: its epoch records are made up front.  An engine's
// are sent in one message and committed in one transaction; --noop's one by
// one, as a training run's, since --noop measures that path
// (bench/farm_throughput.sh).  Nothing is checkpointed: a job stopped or lost
// is made again, identically.
static void send_per_epoch(const fpt_epoch_record *recs, int n, int64_t job_id,
                           msg_finished *fin) {
    epoch_ctx ctx = {job_id};
    for (int e = 1; e <= n; e++)
        if (send_epoch(&recs[e - 1], &fin->state, &ctx)) {
            fin->outcome = FPT_RUN_STOPPED;
            return;
        }
    fin->outcome = FPT_RUN_COMPLETED;
}

// The final state of a job whose records are made: its first passages.
static void final_state(const fpt_run_config *cfg, const fpt_epoch_record *recs, int n,
                        msg_finished *fin) {
    fin->state.n_targets = cfg->n_targets;
    for (int e = 1; e <= n; e++)
        for (int k = 0; k < cfg->n_targets; k++)
            fpt_first_passage_step(&fin->state.fpt[k], e, recs[e - 1].test_acc, cfg->targets[k]);
    fin->state.epoch = n;
}

// The engine's records, in msg after its msg_records head (records_of).
static void send_records(char *msg, int n, int64_t job_id, msg_finished *fin) {
    const msg_records head = {.job_id = job_id, .n = n};
    memcpy(msg, &head, sizeof head);
    const size_t len = sizeof head + (size_t)n * sizeof(fpt_epoch_record);
    MPI_Send(msg, (int)len, MPI_BYTE, 0, TAG_RECORDS, MPI_COMM_WORLD);
    msg_ack ack;
    MPI_Recv(&ack, sizeof ack, MPI_BYTE, 0, TAG_ACK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    // Every record is stored: the job is complete even if a stop was asked.
    fin->outcome = FPT_RUN_COMPLETED;
}

// The records of a TAG_RECORDS message sit right after its head.
_Static_assert(sizeof(msg_records) % _Alignof(fpt_epoch_record) == 0,
               "records after the head are aligned");
static fpt_epoch_record *records_of(char *msg) {
    return (fpt_epoch_record *)(msg + sizeof(msg_records));
}

// The records of a job that is not trained: --noop (test accuracy rising by
// 1% per epoch, so target T is reached at epoch ceil(T)), or the engine's.
static int make_records(const fpt_job_spec *spec, const fpt_run_config *cfg,
                        const fpt_replay *replay, int noop, fpt_epoch_record *recs, int *n,
                        fpt_err *err) {
    if (!noop) return fpt_engine_records(spec, cfg, replay, recs, n, err);
    *n = cfg->epochs;
    for (int e = 1; e <= cfg->epochs; e++)
        recs[e - 1] = (fpt_epoch_record){.epoch = e, .test_acc = (double)e, .lr = cfg->lr.base};
    return 0;
}

int fpt_worker_main(const fpt_job_spec *spec, const char *ckpt_dir, int noop, fpt_err *err) {
    // Stop signals are the coordinator's to handle (mpirun forwards SIGUSR1
    // to every rank): it turns them into an orderly stop through the ACKs.
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    fpt_set_threads(spec->base.threads);
    // The coordinator made the checkpoint directory on its node; a worker on
    // another node with node-local storage needs its own.
    if (mkdir(ckpt_dir, 0755) != 0 && errno != EEXIST)
        return fpt_fail(err, "%s: cannot create the checkpoint directory: %s", ckpt_dir,
                        strerror(errno));
    fpt_dataset data = {0};
    fpt_replay *replay = NULL;
    const int trained = !noop && spec->engine == FPT_ENGINE_TRAIN;
    if (trained && fpt_dataset_load(&data, &spec->base.data, err)) return -1;
    if (!noop && spec->engine == FPT_ENGINE_REPLAY &&
        fpt_replay_load(&replay, spec->replay_path, err))
        return -1;
    // An untrained job's message: its head, then room for every epoch's record.
    char *msg = NULL;
    if (!trained &&
        !(msg = malloc(sizeof(msg_records) +
                       (size_t)spec->base.run.epochs * sizeof(fpt_epoch_record)))) {
        fpt_replay_free(replay);
        return fpt_fail(err, "out of memory for %d epoch records", spec->base.run.epochs);
    }
    char tag[256];
    fpt_train_spec_data_tag(&spec->base, tag, sizeof tag);

    msg_request req = {{0}, {0}};
    gethostname(req.host, sizeof req.host - 1);
    if (trained)   // what trains this worker's jobs, stored with each (jobs.compute)
        snprintf(req.compute, sizeof req.compute, "%s",
                 fpt_backend_describe(spec->base.run.backend, spec->base.run.precision));
    int rc = 0;
    for (;;) {
        MPI_Send(&req, sizeof req, MPI_BYTE, 0, TAG_REQUEST, MPI_COMM_WORLD);
        msg_job job;
        MPI_Status status;
        MPI_Recv(&job, sizeof job, MPI_BYTE, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &status);
        if (status.MPI_TAG == TAG_NO_MORE) break;

        fpt_run_config cfg;
        if (fpt_job_spec_run_config(spec, (size_t)job.job_index, &cfg, err)) {
            rc = -1;
            break;
        }
        if (cfg.num_classes == 0) cfg.num_classes = trained ? data.num_classes : 10;
        char path[1400];
        snprintf(path, sizeof path, "%s/job-%lld.ckpt", ckpt_dir, (long long)job.job_id);
        cfg.checkpoint_path = path;
        cfg.checkpoint_every = 1;
        // Every earlier worker is gone (the campaign was restarted): what
        // they were saving for this job is now this worker's to clear.
        fpt_checkpoint_remove_temporaries(path);

        epoch_ctx ctx = {job.job_id};
        msg_finished fin = {.job_id = job.job_id};
        fpt_run_outcome outcome;
        if (!trained) {
            int n;
            if (make_records(spec, &cfg, replay, noop, records_of(msg), &n, err)) {
                fpt_err_prefix(err, "job %lld: ", (long long)job.job_id);
                rc = -1;
                break;
            }
            final_state(&cfg, records_of(msg), n, &fin);
            if (noop) send_per_epoch(records_of(msg), n, job.job_id, &fin);
            else send_records(msg, n, job.job_id, &fin);
            outcome = (fpt_run_outcome)fin.outcome;
        } else if (fpt_run(&cfg, &data, tag, 1, send_epoch, &ctx, &fin.state, &outcome, err)) {
            fpt_err_prefix(err, "job %lld: ", (long long)job.job_id);
            rc = -1;
            break;
        }
        fin.outcome = (int32_t)outcome;
        if (outcome == FPT_RUN_STOPPED) {
            MPI_Send(&fin, sizeof fin, MPI_BYTE, 0, TAG_STOPPED, MPI_COMM_WORLD);
            break;
        }
        msg_ack ack;
        MPI_Send(&fin, sizeof fin, MPI_BYTE, 0, TAG_FINISHED, MPI_COMM_WORLD);
        MPI_Recv(&ack, sizeof ack, MPI_BYTE, 0, TAG_ACK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        unlink(path);   // the job is recorded as finished: its checkpoint is spent
    }
    fpt_dataset_free(&data);
    fpt_replay_free(replay);
    free(msg);
    return rc;
}
