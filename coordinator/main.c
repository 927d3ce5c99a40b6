// main.c — the fptfarm command line.
//
//   fptfarm train [--config FILE.ini] [--option value ...]
//   fptfarm demo [train options]
//   fptfarm import DB CSV --name NAME [--target LIST]
//   fptfarm status DB
//   fptfarm fit DB [options]        (cmd_fit.c)
//   fptfarm plot DB [--out DIR]
//   fptfarm merge OUT.db IN.db [IN.db ...]   (cmd_merge.c)
//   fptfarm version
//
// Errors print one line, "fptfarm: <what went wrong>", and exit 1; bad usage
// exits 2.
#include <stdio.h>
#include <string.h>

#include "blas_setup.h"
#include "commands.h"
#include "error.h"

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
            "  plot      figures of the stored fits (gnuplot, PNG and SVG):\n"
            "            fptfarm plot DB [--out DIR]\n"
            "  merge     combine results databases: fptfarm merge OUT.db IN.db [IN.db ...]\n"
            "  demo      a small example run: fptfarm train with a preset (width 8,\n"
            "            synthetic data, shrink_perturb every 2 epochs); train options override it\n"
            "  version   print the version\n");
}


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
    } else if (!strcmp(argv[1], "train")) {
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
        fprintf(stderr, "fptfarm: unknown command '%s' (expected: run, train, demo, import, "
                        "status, fit, plot, merge, version)\n",
                argv[1]);
        return 2;
    }
    if (rc < 0) {
        fprintf(stderr, "fptfarm: %s\n", err.msg);
        return 1;
    }
    return rc;
}
