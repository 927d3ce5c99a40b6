// main.c — the fptfarm command line.
//
//   fptfarm train [--config FILE.ini] [--option value ...]
//   fptfarm demo [train options]
//   fptfarm import DB CSV --name NAME [--target LIST]
//   fptfarm status DB
//   fptfarm fit DB [options]        (cmd_fit.c)
//   fptfarm plot DB [--out DIR] [--target PCT] [--format png,svg,pdf] [--size WxH] [--no-title]
//                                   (cmd_plot.c)
//   fptfarm merge OUT.db IN.db [IN.db ...]   (cmd_merge.c)
//   fptfarm version
//
// Errors print one line, "fptfarm: <what went wrong>", and exit 1; bad usage
// exits 2.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/blas_setup.h"
#include "cli/commands.h"
#include "base/error.h"
#include "base/memory.h"

#define FPTFARM_VERSION "0.1.0"

static void usage(FILE *f) {
    fprintf(f,
            "usage: fptfarm <command> [options]\n"
            "commands:\n"
            "  run       the farm: mpirun -n N fptfarm run SPEC.ini [--db FILE] [--max-crashes K]\n"
            "  train     one training run on this machine (fptfarm train --help)\n"
            "  import    load per-epoch traces from CSV into a results database:\n"
            "            fptfarm import DB CSV --name NAME [--target 72[,60]]\n"
            "  status    jobs and epochs per experiment in a results database: fptfarm status DB\n"
            "  fit       survival analysis and response model, stored in the database and\n"
            "            reported: fptfarm fit DB [--target 72] [--reference 20] (fit --help)\n"
            "  plot      figures of the stored fits (gnuplot; PNG and SVG, PDF on request),\n"
            "            each with its gnuplot script: fptfarm plot DB [--experiment NAME]\n"
            "            [--out DIR] [--target PCT] [--format png,svg,pdf] [--size WxH]\n"
            "            [--no-title] (plot --help)\n"
            "  merge     combine results databases: fptfarm merge OUT.db IN.db [IN.db ...]\n"
            "  demo      a small example run: fptfarm train with a preset (width 8,\n"
            "            synthetic data, shrink_perturb every 2 epochs); train options override it\n"
            "  version   print the version\n");
}


// This process's rank when a launcher started it (mpirun, srun), else 0,
// from the environment envp (NULL: getenv's): an error every rank finds
// before MPI is up is printed by rank 0 alone.
static int launcher_rank(char *const *envp) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const size_t len = strlen(vars[i]);
        const char *v = envp ? NULL : getenv(vars[i]);
        for (char *const *e = envp; e && *e && !v; e++)
            if (!strncmp(*e, vars[i], len) && (*e)[len] == '=') v = *e + len + 1;
        if (v && *v) return atoi(v);
    }
    return 0;
}

// Runs before every shared library's initialiser (the executable's
// .preinit_array comes first): OpenBLAS's initialiser, under a ulimit -v too
// small for the buffers it reserves, spins forever before main() is reached
// (measured: every command, `fptfarm version` included, up to 343 MiB with 2
// threads).  So the limit is checked here (memory.c has the figures), and a
// limit that is too small ends the process with one line.  Only libc's
// plain functions are usable here: not even getenv() (libc's own
// initialiser sets environ), hence envp.
static void check_address_space(int argc, char **argv, char **envp) {
    const int mpi = argc > 1 && !strcmp(argv[1], "run");
    char msg[512];
    if (fpt_mem_startup_check(envp, mpi, msg, sizeof msg) == 0) return;
    if (launcher_rank(envp) == 0) fpt_print_error(stderr, "%s", msg);
    _exit(1);
}
__attribute__((section(".preinit_array"), used))
static void (*const preinit_check)(int, char **, char **) = check_address_space;

// `fptfarm demo`: a preset of `fptfarm train` (any train option given after
// it overrides the preset): a width-8 ResNet-18 on the built-in synthetic
// data, shrink-and-perturb every 2 epochs, two first-passage targets.
static int cmd_demo(int argc, char **argv, fpt_err *err) {
    static const char *const preset[] = {
        "--width", "8", "--epochs", "6", "--batch", "64", "--synth-train", "2000",
        "--synth-test", "500", "--protocol", "shrink_perturb", "--period", "2",
        "--target", "50,70",
    };
    enum { NP = sizeof preset / sizeof preset[0] };
    char *args[NP + 64];
    if (argc > 64) return fpt_fail(err, "demo: too many options");
    for (int i = 0; i < NP; i++) args[i] = (char *)preset[i];
    for (int i = 0; i < argc; i++) args[NP + i] = argv[i];
    return fpt_cmd_train(NP + argc, args, err);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    fpt_err err = {{0}};
    int rc;
    if (!strcmp(argv[1], "version")) {
        printf("fptfarm %s\n", FPTFARM_VERSION);
        return 0;
    }
    // Settings from the environment are checked before any command writes
    // anything (a database, a checkpoint): a typo is never "no limit".
    if (fpt_mem_limit_check(&err)) {
        if (launcher_rank(NULL) == 0) fpt_print_error(stderr, "%s", err.msg);
        return 1;
    }
    if (!strcmp(argv[1], "train")) {
        fpt_blas_fix_coretype(argv);
        rc = fpt_cmd_train(argc - 2, argv + 2, &err);
    } else if (!strcmp(argv[1], "run")) {
        fpt_blas_fix_coretype(argv);
        rc = fpt_cmd_run(argc - 2, argv + 2, &err);
    } else if (!strcmp(argv[1], "import")) {
        rc = fpt_cmd_import(argc - 2, argv + 2, &err);
    } else if (!strcmp(argv[1], "status")) {
        rc = fpt_cmd_status(argc - 2, argv + 2, &err);
    } else if (!strcmp(argv[1], "fit")) {
        rc = fpt_cmd_fit(argc - 2, argv + 2, &err);
    } else if (!strcmp(argv[1], "plot")) {
        rc = fpt_cmd_plot(argc - 2, argv + 2, &err);
    } else if (!strcmp(argv[1], "merge")) {
        rc = fpt_cmd_merge(argc - 2, argv + 2, &err);
    } else if (!strcmp(argv[1], "demo")) {
        fpt_blas_fix_coretype(argv);
        rc = cmd_demo(argc - 2, argv + 2, &err);
    } else {
        fpt_print_error(stderr, "unknown command '%s' (expected: run, train, demo, import, "
                                "status, fit, plot, merge, version)",
                        argv[1]);
        return 2;
    }
    if (rc < 0) {
        fpt_print_error(stderr, "%s", err.msg);
        return 1;
    }
    return rc;
}
