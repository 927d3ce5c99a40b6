// train_spec.h — the settings of a training run, as one table.
//
// Every setting has a name, a type, a default, a checked range and a line of
// help, in one table (train_spec.c).  The same table reads command-line
// options (`--epochs 30`, `--no-augment` style flags for booleans) and ini
// files (`epochs = 30` in a [train] section, parsed with inih), prints the
// help, and later the farm's job specs.  Errors name the option, the value
// and what was expected, and for files the file and line.
#ifndef FPT_TRAIN_SPEC_H
#define FPT_TRAIN_SPEC_H

#include <stdio.h>

#include "data/dataset.h"
#include "base/error.h"
#include "train/run.h"

typedef struct fpt_train_spec {
    fpt_run_config run;
    fpt_dataset_options data;
    int threads;
    int resume;
    char data_path[1024];
    char checkpoint[1024];
} fpt_train_spec;

void fpt_train_spec_defaults(fpt_train_spec *s);
// Sets one option from its text value ("epochs", "30").  Names may use '-'
// or '_'.  Booleans accept true/false/yes/no/1/0.
int fpt_train_spec_set(fpt_train_spec *s, const char *name, const char *value, fpt_err *err);
// Whether `name` is a boolean (a flag on the command line).
int fpt_train_spec_is_flag(const char *name);
// Reads the [train] section of an ini file (other sections are an error).
int fpt_train_spec_load_ini(fpt_train_spec *s, const char *path, fpt_err *err);
// Links the parsed pieces (paths, shared floors) after all options are set.
void fpt_train_spec_finish(fpt_train_spec *s);
// A short tag identifying the dataset for the run's configuration hash.
void fpt_train_spec_data_tag(const fpt_train_spec *s, char *buf, size_t len);
void fpt_train_spec_help(FILE *f);

// The table's key names, for other readers of the same settings (the job
// spec parser): the i-th canonical name ("epochs"), NULL past the end.
const char *fpt_train_spec_key(size_t i);
// The canonical name of `name` ('-' read as '_'), or NULL if it is no key.
const char *fpt_train_spec_canonical(const char *name);
// The current value of key `name` as canonical text: integers in decimal,
// numbers in the shortest %g form that reads back exactly (so equal values
// print equally and different values differently), enums by name, booleans
// true/false, targets as a comma list.  Returns -1 (with err) for an unknown key or a short buffer.
int fpt_train_spec_format(const fpt_train_spec *s, const char *name, char *buf, size_t len,
                          fpt_err *err);

#endif
