// test_memory.c — work that cannot fit in memory is refused before it starts,
// with the number and the limit: the available-memory figure against
// /proc/meminfo read here independently, the user's cap, allocations, a
// checkpoint too large to read, and the command line.
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "checkpoint.h"
#include "error.h"
#include "memory.h"
#include "resnet.h"
#include "sgd.h"
#include "tmpdir.h"

static char g_dir[64];
static void make_dir(void) {
    tmpdir_make(g_dir, sizeof g_dir, "memory");
    unsetenv("FPTFARM_MEMORY_LIMIT");
}
static void remove_dir(void) {
    unsetenv("FPTFARM_MEMORY_LIMIT");
    tmpdir_remove(g_dir);
}
TestSuite(memory, .init = make_dir, .fini = remove_dir);

static const double MIB = 1024.0 * 1024.0;

Test(memory, available_is_at_most_memavailable) {
    FILE *f = fopen("/proc/meminfo", "r");
    cr_assert_not_null(f);
    char line[128];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f)) sscanf(line, "MemAvailable: %llu kB", &kb);
    fclose(f);
    cr_assert_gt(kb, 0, "no MemAvailable in /proc/meminfo");
    const char *src = NULL;
    size_t got = fpt_mem_available(&src);
    // Memory moves while we look: allow 5% or 64 MiB of drift upwards.
    double bound = (double)kb * 1024.0 * 1.05 + 64 * MIB;
    cr_expect((double)got <= bound, "%zu bytes available, /proc/meminfo says %llu kB", got, kb);
    cr_expect(got > 0);
    cr_expect_not_null(src);
}

Test(memory, user_cap_with_suffixes) {
    static const struct { const char *text; double bytes; } caps[] = {
        {"64M", 64 * MIB}, {"1G", 1024 * MIB}, {"512K", 512 * 1024.0}, {"3000000", 3e6},
        {"1.5G", 1536 * MIB},
    };
    for (size_t i = 0; i < sizeof caps / sizeof *caps; i++) {
        setenv("FPTFARM_MEMORY_LIMIT", caps[i].text, 1);
        const char *src = NULL;
        size_t got = fpt_mem_available(&src);
        cr_expect_eq((double)got, caps[i].bytes, "%s -> %zu", caps[i].text, got);
        cr_expect_str_eq(src, "FPTFARM_MEMORY_LIMIT");
    }
    // Nonsense is ignored rather than taken as 0.
    setenv("FPTFARM_MEMORY_LIMIT", "lots", 1);
    cr_expect_gt(fpt_mem_available(NULL), 64 * MIB);
}

Test(memory, allocation_beyond_the_limit_is_refused_with_numbers) {
    setenv("FPTFARM_MEMORY_LIMIT", "64M", 1);
    fpt_err err = {{0}};
    void *p = fpt_calloc(100, 1 << 20, "the test's buffer", &err);
    cr_assert_null(p);
    cr_expect_str_eq(err.msg, "the test's buffer needs 100.0 MiB, but only 64.0 MiB are "
                              "available (FPTFARM_MEMORY_LIMIT)");
    p = fpt_calloc(10, 1 << 20, "a smaller one", &err);
    cr_expect_not_null(p);
    fpt_free(p);
}

// A checkpoint larger than what is left is refused before it is read.
Test(memory, checkpoint_too_large_to_read) {
    fpt_resnet *m = NULL;
    fpt_sgd opt;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_resnet_create(&m, &(fpt_resnet_arch){.width = 8, .num_classes = 10, .in_channels = 3, .image_hw = 32, .stage_norm = 0}, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_sgd_create(&opt, m->n_params, 0.9, 0, &err), 0, "%s", err.msg);
    char path[128];
    snprintf(path, sizeof path, "%s/run.ckpt", g_dir);
    fpt_run_state st = {0};
    cr_assert_eq(fpt_checkpoint_save(path, &st, m, &opt, &err), 0, "%s", err.msg);
    // A width-8 model: about 0.7 M parameters, so params + momentum ~ 5.3 MiB.
    setenv("FPTFARM_MEMORY_LIMIT", "1M", 1);
    cr_expect_eq(fpt_checkpoint_load(path, &st, m, &opt, &err), -1);
    cr_expect(strstr(err.msg, path) == err.msg, "%s", err.msg);
    cr_expect(strstr(err.msg, "reading the checkpoint needs ") != NULL, "%s", err.msg);
    cr_expect(strstr(err.msg, "but only 1.0 MiB are available (FPTFARM_MEMORY_LIMIT)") != NULL,
              "%s", err.msg);
    unsetenv("FPTFARM_MEMORY_LIMIT");
    cr_expect_eq(fpt_checkpoint_load(path, &st, m, &opt, &err), 0, "%s", err.msg);
    fpt_sgd_free(&opt);
    fpt_resnet_free(m);
}

// The command line: one line, the number, the limit, exit 1, nothing trained.
Test(memory, training_that_cannot_fit_is_refused_before_it_starts) {
    const char *bin = getenv("FPTFARM") ? getenv("FPTFARM") : "build/fptfarm";
    char cmd[512], out[128];
    snprintf(out, sizeof out, "%s/out.txt", g_dir);
    snprintf(cmd, sizeof cmd,
             "FPTFARM_MEMORY_LIMIT=200M %s train --width 64 --batch 128 --epochs 1 "
             "--synth-train 200 --synth-test 100 > %s 2>&1",
             bin, out);
    int rc = system(cmd);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, "exit status %d", rc);
    FILE *f = fopen(out, "r");
    cr_assert_not_null(f);
    char line[512];
    int errors = 0, epochs = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "fptfarm: ", 9)) {
            errors++;
            cr_expect(strstr(line, "activations for batch 128 needs ") != NULL, "%s", line);
            cr_expect(strstr(line, "but only 200.0 MiB are available (FPTFARM_MEMORY_LIMIT)"),
                      "%s", line);
        }
        if (line[0] == ' ' && strstr(line, "%")) epochs++;
    }
    fclose(f);
    cr_expect_eq(errors, 1);
    cr_expect_eq(epochs, 0, "an epoch ran");
}
