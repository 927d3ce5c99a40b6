// traces_csv.h — reads the long trace table of import_csv.h run by run: the
// one parser of that format, shared by the import (import_csv.h) and the
// replay engine (replay.h).
//
//     protocol,period,seed,epoch,test_acc
//     none,0,0,1,43.54
//
// The reader validates every row (fields, numbers, ranges, protocol none <->
// period 0, a run's rows contiguous with epochs 1..n) and hands each complete
// run to a callback.  Errors read "file:LINE: problem": LINE is the offending
// row, or for an error of the callback the run's first row.
#ifndef FPT_TRACES_CSV_H
#define FPT_TRACES_CSV_H

#include "base/error.h"

#define FPT_TRACES_CSV_HEADER "protocol,period,seed,epoch,test_acc"

// One complete run, valid only during the callback.
typedef struct fpt_trace_run {
    const char *protocol;   // as written: any non-empty name
    long period;            // epochs; 0 for none, >= 1 otherwise
    long long seed;
    const double *acc;      // acc[e-1] = test accuracy after epoch e, percent in [0, 100]
    int n_epochs;           // >= 1
    long first_line;        // line number of the run's first row
} fpt_trace_run;

// Returns 0 to go on, or -1 with err set to stop the reading; the reader
// prefixes "file:FIRST_LINE: ".
typedef int (*fpt_trace_run_fn)(const fpt_trace_run *run, void *ctx, fpt_err *err);

typedef struct fpt_traces_csv fpt_traces_csv;

// Opens the file and checks its header (line 1), reading no further: a
// caller can prepare (e.g. open a transaction) knowing the file is a table.
int fpt_traces_csv_open(fpt_traces_csv **out, const char *path, fpt_err *err);
// Reads every row, calling on_run once per run in file order.
int fpt_traces_csv_read(fpt_traces_csv *t, fpt_trace_run_fn on_run, void *ctx, fpt_err *err);
void fpt_traces_csv_close(fpt_traces_csv *t);   // NULL is fine

#endif
