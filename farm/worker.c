// worker.c — the loop of MPI ranks > 0: ask for a job, train it with
// fpt_run (resuming from its checkpoint if one exists), stream every epoch
// record to the coordinator and wait for its commit before checkpointing.
#include "farm/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <mpi.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nn/backend.h"
#include "base/blas_setup.h"
#include "train/checkpoint.h"
#include "farm/proto.h"
#include "analysis/first_passage.h"
#include "base/memory.h"
#include "campaign/engine.h"

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

int fpt_farm_setup_agree(int failed) {
    int total = 0;
    MPI_Request rq;
    MPI_Iallreduce(&failed, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &rq);
    for (int done = 0;;) {
        MPI_Test(&rq, &done, MPI_STATUS_IGNORE);
        if (done) return total;
        struct timespec ts = {0, 2000000};   // 2 ms
        nanosleep(&ts, NULL);
    }
}

// The checkpoint directory exists (made here if missing: a worker on another
// node with node-local storage needs its own), is a directory, and takes a
// file: checked by writing, syncing and removing one.
static int check_checkpoint_dir(const char *dir, fpt_err *err) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return fpt_fail(err, "%s: cannot create the checkpoint directory: %s", dir,
                        strerror(errno));
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return fpt_fail(err, "%s: the checkpoint directory is not a directory (--checkpoint-dir)",
                        dir);
    char probe[1400], host[64] = "";
    gethostname(host, sizeof host - 1);
    snprintf(probe, sizeof probe, "%s/.probe-%s-%ld", dir, host, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return fpt_fail(err, "%s: cannot write in the checkpoint directory: %s", dir,
                        strerror(errno));
    int bad = write(fd, "fptfarm\n", 8) != 8 || fsync(fd) != 0;
    const int e = errno;
    bad |= close(fd) != 0;
    unlink(probe);
    if (bad)
        return fpt_fail(err, "%s: cannot write in the checkpoint directory: %s", dir,
                        strerror(e ? e : EIO));
    return 0;
}

// Everything a job needs, before the first one: the checkpoint directory,
// the data, and (training) one training step's memory with the spec's
// largest settings, so a setup error never reaches a job.
static int setup(const fpt_job_spec *spec, const char *ckpt_dir, int noop, fpt_dataset *data,
                 fpt_replay **replay, char **msg, fpt_err *err) {
    const int trained = !noop && spec->engine == FPT_ENGINE_TRAIN;
    // Only trained jobs write checkpoints (the others are remade, never saved).
    if (trained && check_checkpoint_dir(ckpt_dir, err)) return -1;
    if (trained && fpt_dataset_load(data, &spec->base.data, err)) return -1;
    if (!noop && spec->engine == FPT_ENGINE_REPLAY &&
        fpt_replay_load(replay, spec->replay_path, err))
        return -1;
    // An untrained job's message: its head, then room for every epoch's record.
    if (!trained &&
        !(*msg = malloc(sizeof(msg_records) +
                        (size_t)spec->base.run.epochs * sizeof(fpt_epoch_record))))
        return fpt_fail(err, "out of memory for %d epoch records", spec->base.run.epochs);
    if (trained && spec->n_jobs > 0) {
        fpt_run_config cfg;
        if (fpt_job_spec_run_config(spec, 0, &cfg, err)) return -1;
        if (cfg.num_classes == 0) cfg.num_classes = data->num_classes;
        if (fpt_run_check_setup(&cfg, data, err)) return -1;
    }
    return 0;
}

// Holds <ckpt>/job-J.lock while the job runs (proto.h): the descriptor,
// or -1 if the file cannot be made (the coordinator then cannot tell this
// worker's death apart, and blames nobody).  -2: another live process holds
// it, which only another campaign sharing this checkpoint directory can
// (job ids are per database): its checkpoints must not be touched.
//
// The name never points at an unlocked file of ours: the coordinator, on a
// stop, reads a free lock as this worker's death (blame_lost_workers).  So
// the file is made and locked under a private name first, then linked into
// place (or renamed over a stale one from a dead worker, which we lock
// first); a plain open(O_CREAT) + flock left a window in which a stop
// signal counted a crash against a live worker's job (seen with 64 ranks on
// 2 cores).
static int lock_job(const char *lock_path) {
    char tmp[1500];
    snprintf(tmp, sizeof tmp, "%s.%ld", lock_path, (long)getpid());
    unlink(tmp);   // a leftover of a process with our pid, long dead
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {   // a new file: only an odd filesystem fails
        close(fd), unlink(tmp);
        return -1;
    }
    if (link(tmp, lock_path) == 0) {
        unlink(tmp);
        return fd;
    }
    if (errno != EEXIST) {
        close(fd), unlink(tmp);
        return -1;
    }
    // A file is there: a live holder's (refuse), or a dead worker's (take
    // its place while holding its lock, so the name stays locked throughout).
    int old = open(lock_path, O_RDWR | O_CLOEXEC);
    if (old >= 0 && flock(old, LOCK_EX | LOCK_NB) != 0) {
        const int busy = errno == EWOULDBLOCK;
        close(old), close(fd), unlink(tmp);
        return busy ? -2 : -1;
    }
    const int moved = rename(tmp, lock_path) == 0;
    if (old >= 0) close(old);
    if (!moved) {
        close(fd), unlink(tmp);
        return -1;
    }
    return fd;
}

static void unlock_job(const char *lock_path, int fd) {
    if (fd < 0) return;
    unlink(lock_path);   // before the unlock: nobody mistakes the free file for a death
    close(fd);
}

// A checkpoint the job must not resume, with why (a line on stderr), is
// removed: another database's or job's, one an older fptfarm wrote without
// an owner, a damaged one, or one ahead of what the database holds.  The job
// then starts from its beginning, the last state that agrees with the
// database; the epochs it sends again are stored as the same rows.
static void vet_checkpoint(const char *path, const uint8_t owner[16], int64_t job_id,
                           int stored_epochs, int rank) {
    struct stat sb;
    if (stat(path, &sb) != 0) return;
    fpt_run_state st;
    fpt_err e = {{0}};
    char why[1800] = "";
    static const uint8_t zero[16];
    if (fpt_checkpoint_peek(path, &st, &e))
        snprintf(why, sizeof why, "%s", e.msg);
    else if (!memcmp(st.owner_db, zero, 16))
        snprintf(why, sizeof why, "%s: written without an owner (fptfarm train, or an fptfarm "
                                  "before checkpoints named their database)", path);
    else if (memcmp(st.owner_db, owner, 16) || st.owner_job != job_id)
        snprintf(why, sizeof why, "%s: belongs to another database or job (a checkpoint "
                                  "directory left from an earlier campaign?)", path);
    else if (st.epoch > stored_epochs)
        snprintf(why, sizeof why, "%s: at epoch %d, ahead of the %d epochs the database holds "
                                  "for the job", path, (int)st.epoch, stored_epochs);
    if (!why[0]) return;
    fpt_print_error(stderr, "rank %d: job %lld: checkpoint discarded: %s; the job starts over "
                            "from epoch 0", rank, (long long)job_id, why);
    unlink(path);
}

// Tells the coordinator this worker cannot go on (it ends the farm), then
// waits to be ended with it.
static void report_error(int64_t job_id, const fpt_err *err) {
    msg_error m = {.job_id = job_id};
    snprintf(m.msg, sizeof m.msg, "%s", err->msg);
    MPI_Send(&m, sizeof m, MPI_BYTE, 0, TAG_ERROR, MPI_COMM_WORLD);
    msg_ack ack;
    MPI_Recv(&ack, sizeof ack, MPI_BYTE, 0, TAG_ACK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
}

int fpt_worker_main(const fpt_job_spec *spec, const char *ckpt_dir, const char *database_id,
                    int noop, fpt_err *err) {
    // Stop signals are the coordinator's to handle (mpirun forwards SIGUSR1
    // to every rank): it turns them into an orderly stop through the ACKs.
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    uint8_t owner[16];
    if (fpt_checkpoint_owner_parse(database_id, owner))
        return fpt_fail(err, "internal: database identity '%s'", database_id);
    fpt_dataset data = {0};
    fpt_replay *replay = NULL;
    char *msg = NULL;
    const int trained = !noop && spec->engine == FPT_ENGINE_TRAIN;
    // The training threads' address space first (OpenBLAS would spin, not
    // fail, without it: memory.h), then the rest of the setup.
    int failed = fpt_mem_threads_check(spec->base.threads, err) != 0;
    if (!failed) {
        fpt_set_threads(spec->base.threads);
        failed = setup(spec, ckpt_dir, noop, &data, &replay, &msg, err) != 0;
    }
    if (failed) fpt_err_prefix(err, "rank %d: setup: ", rank);
    const int n_failed = fpt_farm_setup_agree(failed);
    if (failed) {
        msg_error m = {.job_id = 0};
        snprintf(m.msg, sizeof m.msg, "%s", err->msg);
        MPI_Send(&m, sizeof m, MPI_BYTE, 0, TAG_ERROR, MPI_COMM_WORLD);
    }
    if (n_failed) {   // the coordinator reports it; every rank ends cleanly
        fpt_dataset_free(&data);
        fpt_replay_free(replay);
        free(msg);
        return 0;
    }
    char tag[256];
    fpt_train_spec_data_tag(&spec->base, tag, sizeof tag);

    msg_request req = {{0}, {0}};
    gethostname(req.host, sizeof req.host - 1);
    if (trained)   // what trains this worker's jobs, stored with each (jobs.compute)
        snprintf(req.compute, sizeof req.compute, "%s",
                 fpt_backend_describe(spec->base.run.backend, spec->base.run.precision));
    for (;;) {
        MPI_Send(&req, sizeof req, MPI_BYTE, 0, TAG_REQUEST, MPI_COMM_WORLD);
        msg_job job;
        MPI_Status status;
        MPI_Recv(&job, sizeof job, MPI_BYTE, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &status);
        if (status.MPI_TAG == TAG_NO_MORE) break;

        fpt_run_config cfg;
        if (fpt_job_spec_run_config(spec, (size_t)job.job_index, &cfg, err)) {
            report_error(job.job_id, err);
            break;
        }
        if (cfg.num_classes == 0) cfg.num_classes = trained ? data.num_classes : 10;
        char path[1400], lock_path[1400];
        snprintf(path, sizeof path, "%s/job-%lld.ckpt", ckpt_dir, (long long)job.job_id);
        snprintf(lock_path, sizeof lock_path, "%s/job-%lld.lock", ckpt_dir,
                 (long long)job.job_id);
        const int lock = lock_job(lock_path);
        if (lock == -2) {
            fpt_fail(err, "rank %d: %s is held by another process: another campaign uses the "
                          "checkpoint directory %s (job ids are per database); give each its "
                          "own --checkpoint-dir", rank, lock_path, ckpt_dir);
            report_error(job.job_id, err);
            break;
        }
        cfg.checkpoint_path = path;
        cfg.checkpoint_every = 1;
        memcpy(cfg.owner_db, owner, sizeof owner);
        cfg.owner_job = job.job_id;
        // Every earlier worker is gone (the campaign was restarted): what
        // they were saving for this job is now this worker's to clear.
        fpt_checkpoint_remove_temporaries(path);
        if (trained) vet_checkpoint(path, owner, job.job_id, job.stored_epochs, rank);

        epoch_ctx ctx = {job.job_id};
        msg_finished fin = {.job_id = job.job_id};
        fpt_run_outcome outcome;
        if (!trained) {
            int n;
            if (make_records(spec, &cfg, replay, noop, records_of(msg), &n, err)) {
                fpt_err_prefix(err, "rank %d: job %lld: ", rank, (long long)job.job_id);
                report_error(job.job_id, err);
                break;
            }
            final_state(&cfg, records_of(msg), n, &fin);
            if (noop) send_per_epoch(records_of(msg), n, job.job_id, &fin);
            else send_records(msg, n, job.job_id, &fin);
            outcome = (fpt_run_outcome)fin.outcome;
        } else if (fpt_run(&cfg, &data, tag, 1, send_epoch, &ctx, &fin.state, &outcome, err)) {
            fpt_err_prefix(err, "rank %d: job %lld: ", rank, (long long)job.job_id);
            report_error(job.job_id, err);
            break;
        }
        fin.outcome = (int32_t)outcome;
        if (outcome == FPT_RUN_STOPPED) {
            unlock_job(lock_path, lock);
            MPI_Send(&fin, sizeof fin, MPI_BYTE, 0, TAG_STOPPED, MPI_COMM_WORLD);
            break;
        }
        msg_ack ack;
        MPI_Send(&fin, sizeof fin, MPI_BYTE, 0, TAG_FINISHED, MPI_COMM_WORLD);
        MPI_Recv(&ack, sizeof ack, MPI_BYTE, 0, TAG_ACK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        unlink(path);   // the job is recorded as finished: its checkpoint is spent
        unlock_job(lock_path, lock);
    }
    fpt_dataset_free(&data);
    fpt_replay_free(replay);
    free(msg);
    return 0;
}
