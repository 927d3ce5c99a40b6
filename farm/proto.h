// farm_proto.h — the messages between the coordinator (rank 0) and the
// workers (ranks > 0).  All ranks run the same binary, so messages are
// plain structs sent as MPI_BYTE.
//
//   worker -> coordinator   TAG_REQUEST   msg_request   "give me a job"
//   coordinator -> worker   TAG_JOB       msg_job       a job to run
//                           TAG_NO_MORE   (empty)       no job: exit
//   worker -> coordinator   TAG_EPOCH     msg_epoch     one epoch record
//   coordinator -> worker   TAG_ACK       msg_ack       committed (stop = 1:
//                                                       checkpoint and stop)
//   worker -> coordinator   TAG_FINISHED  msg_finished  run ended (completed,
//                                                       reached, diverged)
//   worker -> coordinator   TAG_STOPPED   msg_finished  checkpointed on request
//   worker -> coordinator   TAG_RECORDS   msg_records + n fpt_epoch_record
//                                                       a whole untrained job's
//                                                       records ([synthetic],
//                                                       [replay]): one commit,
//                                                       one ACK
//   worker -> coordinator   TAG_ERROR     msg_error     the worker cannot go on
//                                                       (its setup, or an I/O
//                                                       error in a job): the
//                                                       farm ends, no job is
//                                                       blamed
//
// Before the first request every rank checks its setup (workers: checkpoint
// directory, data, one training step's memory) and they agree on it in one
// reduction: a setup error ends the farm before any job starts.
//
// While a worker runs job J it holds an flock(2) on <checkpoint dir>/
// job-J.lock.  The kernel releases it when the worker dies, so on a stop
// signal (mpirun sends SIGTERM to every rank when one dies) the coordinator
// finds which running jobs lost their worker, and counts a crash against
// those jobs only; jobs left running when the coordinator itself dies are
// not counted (the farm failed, not the job).
//
// The worker waits for the ACK of each epoch record before it writes that
// epoch's checkpoint, so a checkpoint is never ahead of the database: after
// any crash, resuming re-sends at most records the database already has
// (stored again as the same rows).
#ifndef FPT_FARM_PROTO_H
#define FPT_FARM_PROTO_H

#include <stdint.h>

#include "train/checkpoint.h"
#include "train/run.h"

enum {
    TAG_REQUEST = 1, TAG_JOB, TAG_NO_MORE, TAG_EPOCH, TAG_ACK, TAG_FINISHED, TAG_STOPPED,
    TAG_RECORDS, TAG_ERROR,
};

// host: gethostname(); compute: fpt_backend_describe() of the spec's
// backend and precision on that worker (both NUL-terminated).
typedef struct msg_request { char host[64]; char compute[96]; } msg_request;
// stored_epochs: the epochs the database holds for the job; a checkpoint
// ahead of it is not resumed.
typedef struct msg_job { int64_t job_id; int64_t job_index; int32_t stored_epochs, pad; } msg_job;
typedef struct msg_epoch { int64_t job_id; fpt_epoch_record rec; } msg_epoch;
typedef struct msg_ack { int32_t stop; } msg_ack;
typedef struct msg_records { int64_t job_id; int32_t n, pad; } msg_records;   // + n records
typedef struct msg_error { int64_t job_id; char msg[1024]; } msg_error;   // job_id 0: setup
typedef struct msg_finished {
    int64_t job_id;
    int32_t outcome;          // fpt_run_outcome
    fpt_run_state state;
} msg_finished;

#endif
