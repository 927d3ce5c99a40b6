// test_cli.c — `fptfarm train` end to end, as a user runs it: the real
// binary (build/fptfarm, or $FPTFARM) on CIFAR-10 files in the official
// format written here, checkpoint + resume through the command line, and
// one clear error line (exit 1) for bad options and bad ini files.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nn/backend.h"

static char dir[] = "/tmp/fpt_cli_XXXXXX";
static char bin[512];

static void setup(void) {
    cr_assert_not_null(mkdtemp(dir));
    const char *b = getenv("FPTFARM");
    snprintf(bin, sizeof bin, "%s", b ? b : "build/fptfarm");
    cr_assert_eq(access(bin, X_OK), 0, "%s not built (run from the project root)", bin);
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 120);

// Runs `bin args` with stdout and stderr captured into files; returns the
// exit status.
static int run(const char *args, char *out, size_t out_len, char *errs, size_t err_len) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s >%s/out.txt 2>%s/err.txt", bin, args, dir, dir);
    int st = system(cmd);
    cr_assert(WIFEXITED(st), "%s did not exit normally", cmd);
    char path[256];
    const char *names[2] = {"out.txt", "err.txt"};
    char *bufs[2] = {out, errs};
    size_t lens[2] = {out_len, err_len};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(bufs[k], 1, lens[k] - 1, f) : 0;
        bufs[k][n] = 0;
        if (f) fclose(f);
    }
    return WEXITSTATUS(st);
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

// CIFAR-10 binary format: records of 1 label byte + 3072 pixel bytes.
static void write_cifar10(const char *d, int per_file) {
    const char *files[6] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                            "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};
    unsigned seed = 5;
    for (int f = 0; f < 6; f++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", d, files[f]);
        FILE *fp = fopen(path, "wb");
        cr_assert_not_null(fp);
        for (int r = 0; r < per_file; r++) {
            unsigned char rec[3073];
            rec[0] = (unsigned char)(r % 10);
            // a class-dependent brightness, so there is something to learn
            for (int i = 1; i < 3073; i++)
                rec[i] = (unsigned char)(20 * rec[0] + (rand_r(&seed) % 40));
            cr_assert_eq(fwrite(rec, 1, sizeof rec, fp), sizeof rec);
        }
        fclose(fp);
    }
}

Test(cli, trains_on_cifar10_files_and_resumes) {
    char out[8192], errs[4096], args[1024];
    write_cifar10(dir, 40);   // 200 training and 40 test images
    snprintf(args, sizeof args,
             "train --dataset cifar10 --data-path %s --width 2 --epochs 3 --batch 50 "
             "--protocol reset --period 2 --target 15 --threads 1",
             dir);
    int rc = run(args, out, sizeof out, errs, sizeof errs);
    cr_assert_eq(rc, 0, "exit %d\nstdout:\n%s\nstderr:\n%s", rc, out, errs);
    cr_expect(strstr(out, "200 train / 40 test images"), "%s", out);
    cr_expect(strstr(out, "first passage: target 15.00%"), "%s", out);
    cr_expect(strstr(out, "run completed after 3 epochs"), "%s", out);
    cr_expect_eq(errs[0], 0, "nothing on stderr: %s", errs);
    char whole[8192];
    snprintf(whole, sizeof whole, "%s", out);

    // The same run in two pieces through a checkpoint: epochs 1-2, then 3.
    snprintf(args, sizeof args,
             "train --dataset cifar10 --data-path %s --width 2 --epochs 2 --batch 50 "
             "--protocol reset --period 2 --target 15 --threads 1 --checkpoint %s/run.ckpt "
             "--checkpoint-every 1 --resume",
             dir, dir);
    cr_assert_eq(run(args, out, sizeof out, errs, sizeof errs), 0, "%s", errs);
    char *epochs_args = strstr(args, "--epochs 2");
    epochs_args[9] = '3';
    cr_assert_eq(run(args, out, sizeof out, errs, sizeof errs), 0, "%s", errs);
    // The resumed invocation prints only epoch 3, identical (but for the
    // seconds column) to the uninterrupted run's epoch 3.
    const char *e3 = strstr(whole, "\n    3 "), *r3 = strstr(out, "\n    3 ");
    cr_assert(e3 && r3, "epoch 3 missing:\n%s\n---\n%s", whole, out);
    cr_expect_null(strstr(out, "\n    1 "), "resumed run repeated epoch 1:\n%s", out);
    cr_expect_eq(strncmp(e3, r3, 58), 0, "epoch 3 differs:\n%.70s\n%.70s", e3, r3);
}

// The command, with Debian's Fashion-MNIST at its default path
// (shorter: 1 epoch of 256 images at width 2): the geometry and the tag come
// from the data set.
Test(cli, trains_on_fashion_mnist_at_the_default_path) {
    char out[8192], errs[4096];
    int rc = run("train --dataset fashion-mnist --train-subset 256 --test-subset 200 --width 2 "
                 "--epochs 1 --batch 64 --threads 1 --protocol shrink_perturb --variant study "
                 "--period 1",
                 out, sizeof out, errs, sizeof errs);
    cr_assert_eq(rc, 0, "exit %d\nstdout:\n%s\nstderr:\n%s", rc, out, errs);
    cr_expect(strstr(out, "fashion-mnist:256:200: 256 train / 200 test images"), "%s", out);
    cr_expect(strstr(out, "run completed after 1 epochs"), "%s", out);
}

static void expect_one_error(const char *args, const char *want) {
    char out[8192], errs[4096];
    int rc = run(args, out, sizeof out, errs, sizeof errs);
    cr_expect_eq(rc, 1, "'%s': exit %d", args, rc);
    cr_expect_eq(count_lines(errs), 1, "'%s': expected one error line, got:\n%s", args, errs);
    cr_expect(strncmp(errs, "fptfarm: ", 9) == 0, "'%s': %s", args, errs);
    cr_expect(strstr(errs, want), "'%s': expected '%s' in: %s", args, want, errs);
}

Test(cli, bad_options_give_one_clear_line) {
    expect_one_error("train --protocol shrnk", "unknown protocol 'shrnk' (expected: none, reset");
    expect_one_error("train --epochs 0", "epochs: '0' is not an integer in 1..100000");
    expect_one_error("train --fraction 1.5", "fraction: '1.5' is not a number in");
    expect_one_error("train --target 72,abc", "target: 'abc' is not an accuracy");
    expect_one_error("train --bogus 1", "unknown option 'bogus'");
    expect_one_error("train --epochs", "option --epochs needs a value");
    char args[512];
    snprintf(args, sizeof args, "train --dataset cifar10 --data-path %s/nowhere", dir);
    expect_one_error(args, "nowhere");
    expect_one_error("train --protocol warm_restart --timing geometric", "periodic");
    expect_one_error("train --dataset mnist", "MNIST: no data path given");
    expect_one_error("train --variant paper", "unknown variant 'paper' (expected: clean, study)");
}

// The compute backend and precision: unknown names; a backend this build
// lacks; bf16 where oneDNN sees no AVX512_BF16 (DNNL_MAX_CPU_ISA caps what
// oneDNN uses, as on a CPU without it).  A checkpoint path is given: nothing
// may be written.
Test(cli, bad_backend_or_precision_one_line_nothing_written) {
    char args[512], ck[300];
    snprintf(ck, sizeof ck, "%s/never.ckpt", dir);
    snprintf(args, sizeof args, "train --backend cudnn --checkpoint %s --checkpoint-every 1", ck);
    expect_one_error(args, "unknown backend 'cudnn' (expected: default, blas, onednn)");
    snprintf(args, sizeof args, "train --precision fp16 --checkpoint %s --checkpoint-every 1", ck);
    expect_one_error(args, "unknown precision 'fp16' (expected: fp32, bf16)");
    snprintf(args, sizeof args, "train --backend blas --precision bf16 --checkpoint %s", ck);
    expect_one_error(args, "precision bf16 needs the onednn backend");
    if (!fpt_backend_built(FPT_BACKEND_ONEDNN)) {
        snprintf(args, sizeof args, "train --backend onednn --checkpoint %s", ck);
        expect_one_error(args, "backend 'onednn' is not in this build of fptfarm");
    } else {
        snprintf(args, sizeof args,
                 "train --precision bf16 --epochs 1 --checkpoint %s --checkpoint-every 1", ck);
        char saved[sizeof bin];
        snprintf(saved, sizeof saved, "%s", bin);
        snprintf(bin, sizeof bin, "env DNNL_MAX_CPU_ISA=AVX512_CORE %.400s", saved);
        expect_one_error(args, "precision bf16 needs a CPU with AVX512_BF16 or AMX (oneDNN sees "
                               "avx512_core, limited by DNNL_MAX_CPU_ISA)");
        snprintf(bin, sizeof bin, "%s", saved);
    }
    cr_expect_neq(access(ck, F_OK), 0, "%s was written", ck);
}

Test(cli, bad_ini_files_name_file_and_line) {
    char path[256], args[512];
    snprintf(path, sizeof path, "%s/bad.ini", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "; a run\n[train]\nwidth = 4\nprotocol = shrnk\n");
    fclose(f);
    snprintf(args, sizeof args, "train --config %s", path);
    char want[300];
    snprintf(want, sizeof want, "%s:4: unknown protocol 'shrnk'", path);
    expect_one_error(args, want);

    f = fopen(path, "w");
    fprintf(f, "[train]\nwidth = 4\n\nepochz = 3\n");
    fclose(f);
    snprintf(want, sizeof want, "%s:4: unknown option 'epochz'", path);
    expect_one_error(args, want);

    f = fopen(path, "w");
    fprintf(f, "[experiment]\nwidth = 4\n");
    fclose(f);
    snprintf(want, sizeof want, "%s:2: unknown section [experiment]", path);
    expect_one_error(args, want);
}

Test(cli, import_and_status) {
    char csv[256], db[256], args[1024], out[8192], errs[4096];
    snprintf(csv, sizeof csv, "%s/runs.csv", dir);
    snprintf(db, sizeof db, "%s/results.db", dir);
    FILE *f = fopen(csv, "w");
    // two baseline runs (one reaches 60 at epoch 2, one never) and one perturbed
    fprintf(f, "protocol,period,seed,epoch,test_acc\n"
               "none,0,0,1,40\nnone,0,0,2,61\nnone,0,0,3,55\n"
               "none,0,1,1,30\nnone,0,1,2,50\nnone,0,1,3,59.99\n"
               "shrink_perturb,2,0,1,62\nshrink_perturb,2,0,2,70\nshrink_perturb,2,0,3,71\n");
    fclose(f);
    snprintf(args, sizeof args, "import %s %s --name tiny --target 60", db, csv);
    int rc = run(args, out, sizeof out, errs, sizeof errs);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, errs);
    cr_expect(strstr(out, "tiny: 3 jobs: 3 done, 0 running, 0 pending, 0 failed, 0 diverged; "
                          "9 epochs stored"), "%s", out);
    snprintf(args, sizeof args, "status %s", db);
    cr_assert_eq(run(args, out, sizeof out, errs, sizeof errs), 0, "%s", errs);
    cr_expect(strstr(out, "tiny: 3 jobs: 3 done"), "%s", out);
    // The same name again is refused and the database keeps its one experiment.
    snprintf(args, sizeof args, "import %s %s --name tiny --target 70", db, csv);
    expect_one_error(args, "experiment 'tiny' exists");
    // A malformed line names the file and the line.
    f = fopen(csv, "a");
    fprintf(f, "none,0,2,1\n");
    fclose(f);
    snprintf(args, sizeof args, "import %s %s --name other", db, csv);
    char want[300];
    snprintf(want, sizeof want, "%s:11:", csv);
    expect_one_error(args, want);
    snprintf(args, sizeof args, "status %s", db);
    cr_assert_eq(run(args, out, sizeof out, errs, sizeof errs), 0, "%s", errs);
    cr_expect_null(strstr(out, "other"), "a failed import must leave nothing: %s", out);
    expect_one_error("status /nonexistent/x.db", "/nonexistent/x.db");
}
