// coordinator.c — rank 0 of the farm, once it is set up: the coordinator.
//
// It owns the results database (no other rank opens it), records the
// experiment and its jobs, hands jobs to workers as they ask
// (self-scheduling, so fast and slow jobs balance), commits the epoch
// records they stream in batched transactions, and acknowledges each commit
// (the messages: proto.h; the workers' side: worker.c).  It draws the status
// line, counts crashes against the jobs whose worker died, and handles the
// stop: workers finish their epoch, checkpoint and stop, and one that does
// not within the grace is left.
//
// Resume: running the same spec against the same database continues: done
// and diverged jobs are skipped; jobs left 'running' by a farm that died go
// back to pending without a crash (the farm failed, not the job) and resume
// from their checkpoints.  A crash counts against a job only when its own
// worker died (proto.h: the job's lock file); a job is marked failed once it
// has crashed max_crashes times, and reopened by a run with a higher
// --max-crashes or --retry-failed.  A changed spec or data file is refused.
//
// One coordinator per database: the lease (store.h) is taken before
// anything is written and renewed with every commit.
#include "farm/coordinator.h"

#include <errno.h>
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/blas_setup.h"
#include "base/hash.h"
#include "base/memory.h"
#include "base/prof.h"
#include "farm/farm.h"
#include "campaign/step.h"
#include "train/replay.h"

#define FLUSH_RECORDS 256      // commit at least this often (records)
#define FLUSH_SECONDS 0.25     // ... or this often (seconds) while records wait
#define PROGRESS_TTY_SECONDS 1.0    // status line redrawn in place on a terminal
#define PROGRESS_LOG_SECONDS 30.0   // one line this often into a log file

// A record received from `worker`, waiting for its commit and acknowledgement.
typedef struct pending_ack { int worker; msg_epoch m; } pending_ack;

// Commits the buffered records in one transaction, then acknowledges them.
static int flush(fpt_coord *c, fpt_err *err) {
    if (c->n_buf == 0) return 0;
    if (fpt_store_begin(c->db, err)) return -1;
    // Every commit proves the lease is still ours and renews its heartbeat.
    if (fpt_store_lease_renew(c->db, err)) {
        fpt_store_rollback(c->db);
        return -1;
    }
    c->last_renew = fpt_now();
    for (int i = 0; i < c->n_buf; i++)
        if (fpt_store_add_epochs(c->db, c->buf[i].m.job_id, &c->buf[i].m.rec, 1, err)) {
            fpt_store_rollback(c->db);
            return -1;
        }
    if (fpt_store_commit(c->db, err)) return -1;
    msg_ack ack = {.stop = *c->stop ? 1 : 0};
    for (int i = 0; i < c->n_buf; i++)
        MPI_Send(&ack, sizeof ack, MPI_BYTE, c->buf[i].worker, TAG_ACK, MPI_COMM_WORLD);
    c->epochs_done += c->n_buf;
    c->n_buf = 0;
    c->lock_wait = 0;
    return 0;
}

static int finish_job(fpt_coord *c, int worker, const msg_finished *f, fpt_err *err) {
    const fpt_job_spec *s = c->spec;
    const fpt_run_config *base = &s->base.run;
    if (fpt_store_begin(c->db, err)) return -1;
    // A run that diverged in its first epoch observed nothing: no first
    // passage, reached or censored (storing one "censored at epoch 0" failed
    // and aborted the whole farm).
    for (int k = 0; k < base->n_targets && f->state.epoch >= 1; k++)
        if (fpt_store_first_passage(c->db, f->job_id, base->targets[k], f->state.fpt[k],
                                    f->state.epoch, err))
            goto fail;
    fpt_job_state final = f->outcome == FPT_RUN_DIVERGED ? FPT_JOB_DIVERGED : FPT_JOB_DONE;
    if (fpt_store_job_finish(c->db, f->job_id, final, err)) goto fail;
    if (fpt_store_commit(c->db, err)) return -1;
    msg_ack ack = {0};
    MPI_Send(&ack, sizeof ack, MPI_BYTE, worker, TAG_ACK, MPI_COMM_WORLD);
    c->jobs_done++;
    c->worker_job[worker] = -1;
    return 0;
fail:
    fpt_store_rollback(c->db);
    return -1;
}

// A status line on stderr: jobs by state, epochs per second this session,
// and the time left at that rate (epochs still to train: pending jobs in
// full, running jobs from where they are).  On a terminal it is redrawn in
// place every second; into a file (a batch job's log) a line every 30 s.
static void progress(fpt_coord *c, int force) {
    double now = fpt_now();
    const int tty = isatty(STDERR_FILENO);
    if (!force && now - c->last_progress < (tty ? PROGRESS_TTY_SECONDS : PROGRESS_LOG_SECONDS))
        return;
    c->last_progress = now;
    double el = now - c->t_start, rate = el > 0 ? c->epochs_done / el : 0;
    size_t running = 0, pending = c->n_queue - c->next;
    long epochs = c->spec->base.run.epochs, left = (long)pending * epochs;
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (int w = 1; w < size; w++)
        if (c->worker_job[w] >= 0) {
            running++;
            left += epochs - c->worker_epoch[w];
        }
    char eta[48] = "";
    if (rate > 0 && left > 0) {
        long sec = (long)(left / rate);
        snprintf(eta, sizeof eta, "; ETA %ldh%02ldm%02lds", sec / 3600, sec / 60 % 60, sec % 60);
    }
    char phase[64] = "";
    if (c->adaptive)
        snprintf(phase, sizeof phase, "adaptive, %s: ",
                 c->campaign_done ? "done" : c->phase[0] ? c->phase : "starting");
    char failed[48] = "";
    if (c->jobs_failed > 0) snprintf(failed, sizeof failed, " (%ld failed)", c->jobs_failed);
    char wait[96] = "";
    if (c->lock_wait > 0)
        snprintf(wait, sizeof wait, "; waiting %.0f s for a lock another process holds on the "
                                    "database", c->lock_wait);
    fprintf(stderr, "%sfptfarm: %s%ld/%ld jobs done%s, %zu running, %zu pending; %ld epochs "
                    "stored this session (%.2f/s)%s%s%s%s",
            tty ? "\r" : "", phase, c->jobs_done, c->jobs_total, failed, running, pending,
            c->epochs_done, rate,
            *c->stop || c->lock_wait > 0 ? "" : eta, *c->stop ? "; stopping" : "",
            wait, tty && !force ? "\033[K" : "\n");
}

// FNV-1a 64 of a file's bytes and its size.
static int hash_file(const char *path, int64_t *bytes, uint64_t *h, fpt_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return fpt_fail(err, "%s: cannot read: %s", path, strerror(errno));
    unsigned char buf[1 << 16];
    size_t n;
    *h = FPT_FNV1A_INIT;
    *bytes = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        *h = fpt_fnv1a(*h, buf, n);
        *bytes += (int64_t)n;
    }
    int bad = ferror(f);
    fclose(f);
    return bad ? fpt_fail(err, "%s: read error", path) : 0;
}

// The data the experiment's runs depend on, by content (store.h,
// experiment_files): a replay table, or a dataset's images and labels as
// loaded (whatever files they come from).  A resume with changed data is
// refused, naming it.  Synthetic data comes from the spec alone.
static int record_files(fpt_coord *c, fpt_err *err) {
    const fpt_job_spec *s = c->spec;
    fpt_store_file f = {0};
    if (c->noop) return 0;
    if (s->engine == FPT_ENGINE_REPLAY) {
        f.role = "replay table";
        f.path = s->replay_path;
        if (hash_file(f.path, &f.bytes, &f.hash, err)) return -1;
    } else if (s->engine == FPT_ENGINE_TRAIN && s->base.data.kind != FPT_DATA_SYNTHETIC) {
        const fpt_dataset *d = &c->data;
        f.role = "dataset";
        f.path = s->base.data_path[0] ? s->base.data_path : "(default)";
        f.hash = FPT_FNV1A_INIT;
        const fpt_split *sp[2] = {&d->train, &d->test};
        for (int k = 0; k < 2; k++) {
            f.hash = fpt_fnv1a(f.hash, sp[k]->pixels, (size_t)sp[k]->n * d->image_bytes);
            f.hash = fpt_fnv1a(f.hash, sp[k]->labels, (size_t)sp[k]->n * sizeof(int32_t));
            f.bytes += (int64_t)sp[k]->n * (int64_t)(d->image_bytes + sizeof(int32_t));
        }
    } else {
        return 0;
    }
    if (fpt_store_experiment_file(c->db, c->exp_id, &f, err))
        return fpt_err_prefix(err, "%s: ", s->path);
    return 0;
}

// Records the experiment and its jobs (of this shard); queues every job that
// is not finished.  Jobs the last farm left running go back to pending
// without a crash (its coordinator died: the farm failed, not the job; a
// worker's own death was counted when it happened).  Failed jobs are
// reopened if max_crashes was raised above their crashes, or all of them
// with retry_failed.
static int prepare(fpt_coord *c, int max_crashes, int retry_failed, fpt_err *err) {
    const fpt_job_spec *s = c->spec;
    char hash[32];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)s->hash);
    int64_t exp_id, reopened = 0;
    long released = 0;
    if (fpt_store_begin(c->db, err)) return -1;
    if (fpt_store_experiment(c->db, s->name, s->canonical, hash, "farm", &exp_id, NULL, err))
        goto fail;
    c->exp_id = exp_id;
    if (record_files(c, err)) goto fail;
    if (fpt_store_jobs_reopen(c->db, exp_id, max_crashes, retry_failed, &reopened, err))
        goto fail;
    c->jobs_total = 0;
    for (size_t i = 0; i < s->n_jobs; i++) {
        const fpt_job *j = &s->jobs[i];
        fpt_job_state st;
        if ((long)(i % (size_t)c->shards) != c->shard) continue;
        // A sweep records every job; an adaptive campaign only those its
        // planning steps created (campaign/step.c).
        const char *timing = fpt_condition_timing(j->protocol, j->timing);
        if (c->adaptive) {
            if (fpt_store_job_find(c->db, exp_id, fpt_protocol_name(j->protocol), timing,
                                   j->frequency, (int64_t)j->seed, &c->job_ids[i], err))
                goto fail;
            if (!c->job_ids[i]) continue;
        } else if (fpt_store_job(c->db, exp_id, fpt_protocol_name(j->protocol), timing,
                                 j->frequency, (int64_t)j->seed, &c->job_ids[i], NULL, err)) {
            goto fail;
        }
        c->jobs_total++;
        if (fpt_store_job_state(c->db, c->job_ids[i], &st, err)) goto fail;
        if (st == FPT_JOB_RUNNING) {   // the last farm died with it running
            if (fpt_store_job_release(c->db, c->job_ids[i], err)) goto fail;
            st = FPT_JOB_PENDING;
            released++;
        }
        if (st == FPT_JOB_PENDING) c->queue[c->n_queue++] = i;
        else c->jobs_done++, c->jobs_failed += st == FPT_JOB_FAILED;
    }
    if (fpt_store_commit(c->db, err)) return -1;
    if (released)
        fprintf(stderr, "fptfarm: %ld jobs the last farm left running resume from their "
                        "checkpoints (not counted as crashes: the farm stopped, not the jobs)\n",
                released);
    if (reopened)
        fprintf(stderr, "fptfarm: %lld failed jobs reopened (%s)\n", (long long)reopened,
                retry_failed ? "--retry-failed" : "--max-crashes is above their crashes");
    return 0;
fail:
    fpt_store_rollback(c->db);
    return -1;
}

// One planning step of an adaptive campaign: its new jobs join the queue.
static int campaign_step(fpt_coord *c, fpt_err *err) {
    if (flush(c, err)) return -1;
    fpt_campaign_plan plan;
    int64_t *ids;
    if (fpt_campaign_step(c->db, c->spec, c->exp_id, &plan, &ids, err))
        return fpt_err_prefix(err, "adaptive campaign: ");
    for (size_t i = 0; i < plan.n_jobs; i++) {
        size_t idx = plan.jobs[i];
        c->job_ids[idx] = ids[i];
        c->queue[c->n_queue++] = idx;
        c->jobs_total++;
    }
    for (int i = 0; i < plan.n; i++)
        if (plan.d[i].action == FPT_ACT_RUN || plan.d[i].action == FPT_ACT_STOP)
            snprintf(c->phase, sizeof c->phase, "%s", fpt_campaign_phase_name(plan.d[i].phase));
    if (plan.done) c->campaign_done = 1;
    fpt_campaign_plan_free(&plan);
    free(ids);
    return 0;
}

// Answers the workers waiting for a job: a job from the queue, or no more
// (stopping, or the campaign is over).  An adaptive campaign with an empty
// queue plans its next step once no job is running; until then they wait.
static int serve_parked(fpt_coord *c, int size, int *active, fpt_err *err) {
    for (int w = 1; w < size; w++) {
        if (!c->parked[w]) continue;
        if (!*c->stop && c->next == c->n_queue && c->adaptive && !c->campaign_done) {
            int running = 0;
            for (int v = 1; v < size; v++) running |= c->worker_job[v] >= 0;
            if (running) return 0;   // decide when every issued job has finished
            if (campaign_step(c, err)) return -1;
        }
        c->parked[w] = 0;
        if (*c->stop || c->next == c->n_queue) {
            MPI_Send(NULL, 0, MPI_BYTE, w, TAG_NO_MORE, MPI_COMM_WORLD);
            (*active)--;
            continue;
        }
        size_t idx = c->queue[c->next++];
        msg_job job = {.job_id = c->job_ids[idx], .job_index = (int64_t)idx};
        if (fpt_store_job_last_epoch(c->db, job.job_id, &job.stored_epochs, err)) return -1;
        if (fpt_store_job_start(c->db, job.job_id, w, c->hosts[w].host,
                                c->hosts[w].compute[0] ? c->hosts[w].compute : NULL, err))
            return -1;
        c->worker_job[w] = (int64_t)idx;
        c->worker_epoch[w] = 0;
        MPI_Send(&job, sizeof job, MPI_BYTE, w, TAG_JOB, MPI_COMM_WORLD);
    }
    return 0;
}

static int blame_lost_workers(fpt_coord *c, int size, int *active, fpt_err *err);

// The stop's grace: how long workers get to finish their epoch and
// checkpoint: --stop-grace, or three of the longest epochs seen if longer.
static double stop_grace(const fpt_coord *c) {
    const double g = 3.0 * c->longest_epoch;
    return g > c->stop_grace ? g : c->stop_grace;
}

// Workers that have not stopped within the grace (stalled: a hung file
// system, a stopped process): their jobs go back to pending (not a crash:
// nothing says the job is at fault) and the farm ends with the stop's exit
// code, without them.
static void abandon_stalled(fpt_coord *c, int size) {
    fpt_err e = {{0}};
    if (flush(c, &e)) fpt_print_error(stderr, "%s", e.msg);
    for (int w = 1; w < size; w++) {
        if (c->worker_job[w] < 0) continue;
        const int64_t id = c->job_ids[c->worker_job[w]];
        fprintf(stderr, "\nfptfarm: rank %d did not stop within %.0f s of the stop (stalled?); "
                        "job %lld goes back to pending\n", w, stop_grace(c), (long long)id);
        if (fpt_store_job_release(c->db, id, &e)) fpt_print_error(stderr, "%s", e.msg);
    }
    fprintf(stderr, "fptfarm: stopped by signal; run the same command again to resume\n");
    fpt_store_close(c->db);   // releases the lease
    c->db = NULL;
    MPI_Abort(MPI_COMM_WORLD, FPT_FARM_EXIT_STOPPED);
}

static int coordinate(fpt_coord *c, int size, fpt_err *err) {
    int active = size - 1;
    while (active > 0) {
        if (*c->stop && c->stop_since == 0) {
            c->stop_since = fpt_now();
            if (blame_lost_workers(c, size, &active, err)) return -1;
            progress(c, 1);
            if (active == 0) break;
        }
        int flag;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
        if (!flag) {
            // Nothing waiting: commit what is buffered, then wait politely
            // (a blocked MPI_Recv would spin a core away from the workers).
            if (c->n_buf > 0) {
                double t0 = fpt_now();
                if (flush(c, err)) return -1;
                c->busy += fpt_now() - t0;
            } else if (fpt_now() - c->last_renew > FPT_LEASE_HEARTBEAT_S) {
                if (fpt_store_lease_renew(c->db, err)) return -1;
                c->last_renew = fpt_now();
            }
            if (*c->stop && serve_parked(c, size, &active, err)) return -1;
            if (c->stop_since > 0 && fpt_now() - c->stop_since > stop_grace(c))
                abandon_stalled(c, size);
            struct timespec ts = {0, 1000000};   // 1 ms
            nanosleep(&ts, NULL);
            progress(c, 0);
            continue;
        }
        const int w = st.MPI_SOURCE;
        const double t_msg = fpt_now();
        switch (st.MPI_TAG) {
        case TAG_ERROR: {   // the worker cannot go on: the farm ends, no job blamed
            msg_error m;
            MPI_Recv(&m, sizeof m, MPI_BYTE, w, TAG_ERROR, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            m.msg[sizeof m.msg - 1] = 0;
            flush(c, NULL);
            return fpt_fail(err, "%s", m.msg);
        }
        case TAG_REQUEST: {
            MPI_Recv(&c->hosts[w], sizeof c->hosts[w], MPI_BYTE, w, TAG_REQUEST, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
            c->hosts[w].host[sizeof c->hosts[w].host - 1] = 0;
            c->hosts[w].compute[sizeof c->hosts[w].compute - 1] = 0;
            c->parked[w] = 1;
            if (serve_parked(c, size, &active, err)) return -1;
            break;
        }
        case TAG_EPOCH: {
            pending_ack *p = &c->buf[c->n_buf++];
            p->worker = w;
            MPI_Recv(&p->m, sizeof p->m, MPI_BYTE, w, TAG_EPOCH, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
            if (c->n_buf == 1) c->first_buffered = fpt_now();
            c->worker_epoch[w] = p->m.rec.epoch;
            if (p->m.rec.seconds > c->longest_epoch) c->longest_epoch = p->m.rec.seconds;
            if ((c->n_buf >= FLUSH_RECORDS || fpt_now() - c->first_buffered > FLUSH_SECONDS) &&
                flush(c, err))
                return -1;
            break;
        }
        case TAG_RECORDS: {   // an untrained job's records, all at once
            int bytes;
            MPI_Get_count(&st, MPI_BYTE, &bytes);
            char *m = malloc(bytes > 0 ? (size_t)bytes : 1);
            if (!m) return fpt_fail(err, "out of memory for %d bytes of records", bytes);
            MPI_Recv(m, bytes, MPI_BYTE, w, TAG_RECORDS, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            msg_records h;
            memcpy(&h, m, sizeof h);
            if (bytes < (int)sizeof h || h.n < 0 ||
                (size_t)bytes != sizeof h + (size_t)h.n * sizeof(fpt_epoch_record)) {
                free(m);
                return fpt_fail(err, "internal: malformed records message from rank %d", w);
            }
            fpt_epoch_record *recs = (fpt_epoch_record *)(m + sizeof h);   // malloc-aligned + 16
            int rc = flush(c, err) || fpt_store_add_epochs(c->db, h.job_id, recs, h.n, err);
            free(m);
            if (rc) return -1;
            msg_ack ack = {.stop = *c->stop ? 1 : 0};
            MPI_Send(&ack, sizeof ack, MPI_BYTE, w, TAG_ACK, MPI_COMM_WORLD);
            c->epochs_done += h.n;
            c->worker_epoch[w] = h.n;
            break;
        }
        case TAG_FINISHED:
        case TAG_STOPPED: {
            msg_finished f;
            MPI_Recv(&f, sizeof f, MPI_BYTE, w, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            if (flush(c, err)) return -1;
            if (st.MPI_TAG == TAG_FINISHED) {
                if (finish_job(c, w, &f, err)) return -1;
                if (serve_parked(c, size, &active, err)) return -1;
            } else {
                if (fpt_store_job_release(c->db, f.job_id, err)) return -1;
                c->worker_job[w] = -1;
                active--;
            }
            progress(c, 0);
            break;
        }
        default:
            return fpt_fail(err, "internal: unexpected message tag %d from rank %d", st.MPI_TAG, w);
        }
        // Workers cannot each hold more than one unacknowledged record.
        if (c->n_buf >= size && flush(c, err)) return -1;
        c->busy += fpt_now() - t_msg;
    }
    return flush(c, err);
}

void fpt_coord_free(fpt_coord *c) {
    free(c->job_ids), free(c->queue), free(c->worker_job), free(c->worker_epoch), free(c->buf);
    free(c->parked), free(c->hosts);
    fpt_dataset_free(&c->data);
}

// Every condition of a replay spec must have recorded runs (the error lists
// the ones the file holds).
static int check_replay(const fpt_job_spec *spec, fpt_err *err) {
    fpt_replay *r;
    if (fpt_replay_load(&r, spec->replay_path, err)) return -1;
    int rc = 0;
    for (int p = 0; p < spec->n_protocols && !rc; p++) {
        const fpt_job_protocol *jp = &spec->protocols[p];
        for (int f = 0; f < jp->n_freqs && !rc; f++) {
            const double *acc;
            int n;
            if (fpt_replay_trace(r, fpt_protocol_name(jp->protocol.kind), jp->freqs[f], 1, &acc,
                                 &n, err))
                rc = fpt_err_prefix(err, "%s:%d: [replay] ", spec->path, jp->line);
        }
    }
    fpt_replay_free(r);
    return rc;
}

// The database tells about a statement waiting for another process's lock:
// shown on the status line; the coordinator waits as long as it takes.
static int on_db_wait(void *ctx, double waited) {
    fpt_coord *c = ctx;
    const int first = c->lock_wait == 0;
    c->lock_wait = waited;
    progress(c, first);   // the first second of a wait always gets its line
    return 0;
}

// Rank 0 before any worker starts (coordinator.h): the data, the checkpoint
// directory, the database (its lease, its identity), the experiment and its
// jobs.
int fpt_coord_setup(fpt_coord *c, const fpt_job_spec *spec, const char *db_path,
                    const char *ckpt_dir, int size, int max_crashes, int retry_failed,
                    fpt_journal journal, fpt_err *err) {
    c->spec = spec;
    c->ckpt_dir = ckpt_dir;
    c->job_ids = calloc(spec->n_jobs, sizeof *c->job_ids);
    c->queue = calloc(spec->n_jobs, sizeof *c->queue);
    c->worker_job = calloc((size_t)size, sizeof *c->worker_job);
    c->worker_epoch = calloc((size_t)size, sizeof *c->worker_epoch);
    c->buf = calloc((size_t)size + FLUSH_RECORDS, sizeof *c->buf);
    c->parked = calloc((size_t)size, 1);
    c->hosts = calloc((size_t)size, sizeof *c->hosts);
    c->adaptive = spec->campaign.adaptive;
    if (!c->job_ids || !c->queue || !c->worker_job || !c->worker_epoch || !c->buf || !c->parked ||
        !c->hosts)
        return fpt_fail(err, "out of memory for %zu jobs", spec->n_jobs);
    for (int w = 0; w < size; w++) c->worker_job[w] = -1;
    // Check the data before touching the database: a missing or broken
    // dataset must leave an existing database as it was.
    if (c->adaptive && c->shards > 1)
        return fpt_fail(err, "%s: --shard splits a sweep; an adaptive campaign decides its runs "
                             "as results arrive, so it runs as one job", spec->path);
    if (!c->noop && spec->engine == FPT_ENGINE_TRAIN) {
        if (fpt_dataset_load(&c->data, &spec->base.data, err)) return -1;
        // One training step here too: a memory limit too small for the spec
        // is refused before the database exists (workers check again, each
        // on its own node, before any job starts).
        fpt_run_config cfg;
        if (spec->n_jobs > 0 && fpt_job_spec_run_config(spec, 0, &cfg, err) == 0) {
            if (cfg.num_classes == 0) cfg.num_classes = c->data.num_classes;
            if (fpt_mem_threads_check(spec->base.threads, err))
                return fpt_err_prefix(err, "%s: ", spec->path);
            fpt_set_threads(spec->base.threads);
            if (fpt_run_check_setup(&cfg, &c->data, err))
                return fpt_err_prefix(err, "%s: ", spec->path);
        } else if (spec->n_jobs > 0) {
            return -1;
        }
    }
    if (!c->noop && spec->engine == FPT_ENGINE_REPLAY && check_replay(spec, err)) return -1;
    if (mkdir(ckpt_dir, 0755) != 0 && errno != EEXIST)
        return fpt_fail(err, "%s: cannot create the checkpoint directory: %s", ckpt_dir,
                        strerror(errno));
    struct stat sb;
    if (stat(ckpt_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return fpt_fail(err, "%s: the checkpoint directory is not a directory (--checkpoint-dir)",
                        ckpt_dir);
    const fpt_store_options o = {.busy_timeout_ms = -1, .journal = journal,
                                 .on_wait = on_db_wait, .wait_ctx = c};
    if (fpt_store_open(&c->db, db_path, 1, &o, err)) return -1;
    char before[600];
    if (fpt_store_lease_take(c->db, "run", before, sizeof before, err)) return -1;
    if (before[0]) fpt_print_error(stderr, "%s: taken over from %s", db_path, before);
    c->last_renew = fpt_now();
    int rc = prepare(c, max_crashes, retry_failed, err);
    fpt_dataset_free(&c->data);
    return rc;
}

// Called once when a stop is first seen (a signal: the user's, Slurm's, or
// mpirun's after a rank died).  A running job whose lock file is free lost
// its worker (farm_proto.h): one crash is counted against that job, now,
// while the coordinator lives to tell; the other jobs are not blamed.
static int blame_lost_workers(fpt_coord *c, int size, int *active, fpt_err *err) {
    for (int w = 1; w < size; w++) {
        if (c->worker_job[w] < 0) continue;
        const int64_t id = c->job_ids[c->worker_job[w]];
        char path[1400];
        snprintf(path, sizeof path, "%s/job-%lld.lock", c->ckpt_dir, (long long)id);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) continue;   // not made yet, or already done: nothing to tell
        const int gone = flock(fd, LOCK_EX | LOCK_NB) == 0;
        close(fd);
        if (!gone) continue;
        int failed = 0;
        if (flush(c, err) || fpt_store_job_crash(c->db, id, c->max_crashes, &failed, err))
            return -1;
        fprintf(stderr, "\nfptfarm: rank %d died running job %lld: a crash counted against "
                        "the job%s\n", w, (long long)id,
                failed ? "; it reached --max-crashes and is marked failed" : "");
        c->jobs_failed += failed;
        c->worker_job[w] = -1;
        (*active)--;
    }
    return 0;
}

// The farm from rank 0, once every worker's setup agreed (coordinator.h):
// the opening line, the loop until every worker has ended, the closing
// status line and the coordinator's own cost.
int fpt_coord_run(fpt_coord *c, int size, const char *db_path, fpt_err *err) {
    const fpt_job_spec *spec = c->spec;
    char shard_text[64] = "";
    if (c->shards > 1)
        snprintf(shard_text, sizeof shard_text, " (shard %ld/%ld of %zu)", c->shard, c->shards,
                 spec->n_jobs);
    fprintf(stderr, "fptfarm: experiment '%s': %ld jobs%s, %ld already finished, %zu to run on "
                    "%d workers; database %s\n",
            spec->name, c->jobs_total, shard_text, c->jobs_done, c->n_queue, size - 1, db_path);
    c->t_start = c->last_progress = fpt_now();
    if (coordinate(c, size, err)) return -1;
    progress(c, 1);
    if (c->epochs_done > 0)   // the farm's own cost, next to the training it serves
        fprintf(stderr, "fptfarm: coordinator busy %.3f s in all, %.3f ms per epoch record "
                        "(receive, commit, acknowledge)\n",
                c->busy, 1e3 * c->busy / c->epochs_done);
    return 0;
}
