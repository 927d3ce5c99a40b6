// commands.h — the fptfarm subcommands.  Each returns an exit status >= 0
// (0 = success; documented non-zero codes for outcomes such as "stopped"),
// or -1 with err set, which main() prints as one line and exits 1.
#ifndef FPT_COMMANDS_H
#define FPT_COMMANDS_H

#include "base/error.h"

int fpt_cmd_train(int argc, char **argv, fpt_err *err);
int fpt_cmd_import(int argc, char **argv, fpt_err *err);
int fpt_cmd_status(int argc, char **argv, fpt_err *err);
int fpt_cmd_run(int argc, char **argv, fpt_err *err);
int fpt_cmd_fit(int argc, char **argv, fpt_err *err);
int fpt_cmd_plot(int argc, char **argv, fpt_err *err);
int fpt_cmd_merge(int argc, char **argv, fpt_err *err);

#endif
