// fuzz_checkpoint.c — libFuzzer harness for the checkpoint loader,
// fpt_checkpoint_load (common/train/checkpoint.c), on a file written from the input.
//
// The model is the smallest ResNet-18 (FUZZ_CKPT_* in fuzz_common.h: width
// 1, 2 classes, 8x8 images), so a matching checkpoint is ~23 KB; the seed
// corpus holds valid ones written by fpt_checkpoint_save (make_seeds.c).
// Each input is loaded as it is and, when its trailing FNV-1a hash is wrong,
// a second time with the hash recomputed, so that the fuzzer also reaches
// the checks behind the checksum (shape, run state) instead of stopping at
// the checksum almost always.
//
// Contract checked (besides ASan/UBSan/LeakSanitizer):
//   rejected: -1, one non-empty line starting with the file's path, and the
//     model, optimizer and run state untouched (checkpoint.h: "any mismatch
//     ... leaves m and opt untouched");
//   accepted: 0, a run state that a run can reach (epoch >= 0, ..., as
//     checkpoint.h lists), the model's params, buffers and momentum equal to
//     the file's arrays, and saving what was loaded gives back the same bytes.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "train/checkpoint.h"
#include "fuzz_common.h"
#include "base/hash.h"
#include "nn/resnet.h"
#include "nn/sgd.h"

#define PREFIX_V1 104   // magic, version, header size, the 88-byte header
#define PREFIX 128      // version 2: the 112-byte header (owner_db, owner_job added)
#define TAIL 8          // the FNV-1a hash

static fpt_resnet *model;
static fpt_sgd opt;
static char path[600], resaved[600];
static uint8_t *fixed;   // the input with its hash recomputed
static size_t fixed_cap;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fpt_err err;
    if (fpt_resnet_create(&model, &(fpt_resnet_arch){.width = FUZZ_CKPT_WIDTH, .num_classes = FUZZ_CKPT_CLASSES, .in_channels = 3, .image_hw = FUZZ_CKPT_HW, .stage_norm = 0}, &err) ||
        fpt_sgd_create(&opt, model->n_params, 0.9, 0.0, &err)) {
        fprintf(stderr, "fuzz: cannot make the model: %s\n", err.msg);
        exit(2);
    }
    const char *dir = fuzz_dir_make("checkpoint");
    snprintf(path, sizeof path, "%s/in.ckpt", dir);
    snprintf(resaved, sizeof resaved, "%s/resaved.ckpt", dir);
    return 0;
}

static const fpt_run_state SENTINEL_STATE = {
    .config_hash = 0xA5A5A5A5A5A5A5A5ull, .epoch = -7, .perturb_events = -7,
    .last_restart = -7, .diverged = -7, .n_targets = -7,
    .fpt = {-7, -7, -7, -7, -7, -7, -7, -7},
    .owner_db = {0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5,
                 0xA5, 0xA5, 0xA5},
    .owner_job = -7};

// Fills the destination with a pattern no checkpoint of the seed corpus has.
static void poison(fpt_run_state *st) {
    *st = SENTINEL_STATE;
    memset(model->params, 0xA5, sizeof(float) * model->n_params);
    memset(model->buffers, 0xA5, sizeof(float) * model->n_buffers);
    memset(opt.velocity, 0xA5, sizeof(float) * opt.n);
}

static int all_bytes(const void *p, size_t n, unsigned char b) {
    const unsigned char *q = p;
    for (size_t i = 0; i < n; i++)
        if (q[i] != b) return 0;
    return 1;
}

static void check_untouched(const fpt_run_state *st) {
    if (memcmp(st, &SENTINEL_STATE, sizeof *st) != 0) fuzz_die("rejected load wrote the run state");
    if (!all_bytes(model->params, sizeof(float) * model->n_params, 0xA5) ||
        !all_bytes(model->buffers, sizeof(float) * model->n_buffers, 0xA5) ||
        !all_bytes(opt.velocity, sizeof(float) * opt.n, 0xA5))
        fuzz_die("rejected load wrote into the model or optimizer");
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void check_accepted(const fpt_run_state *st, const uint8_t *data, size_t size) {
    // A version-1 file (accepted as it is still read) has no owner: its
    // arrays start earlier, and saving it again writes version 2.
    const int v1 = get_u32(data + 8) == 1;
    const size_t prefix = v1 ? PREFIX_V1 : PREFIX;
    if (st->epoch < 0 || st->perturb_events < 0 || st->last_restart < 0 ||
        st->last_restart > st->epoch || (st->diverged != 0 && st->diverged != 1) ||
        st->n_targets < 0 || st->n_targets > FPT_MAX_TARGETS)
        fuzz_die("accepted an impossible run state (epoch %d, events %d, restart %d, "
                 "diverged %d, targets %d)", st->epoch, st->perturb_events, st->last_restart,
                 st->diverged, st->n_targets);
    for (int k = 0; k < FPT_MAX_TARGETS; k++)
        if (st->fpt[k] < 0 || st->fpt[k] > st->epoch)
            fuzz_die("accepted fpt[%d] = %d with epoch %d", k, st->fpt[k], st->epoch);
    const size_t pb = sizeof(float) * model->n_params, bb = sizeof(float) * model->n_buffers;
    if (size != prefix + 2 * pb + bb + TAIL)
        fuzz_die("accepted a file of %zu bytes for a model of %zu + %zu values", size,
                 model->n_params, model->n_buffers);
    if (memcmp(model->params, data + prefix, pb) || memcmp(model->buffers, data + prefix + pb, bb) ||
        memcmp(opt.velocity, data + prefix + pb + bb, pb))
        fuzz_die("loaded arrays differ from the file's");
    if (v1) {
        static const uint8_t zero[16];
        if (memcmp(st->owner_db, zero, 16) || st->owner_job != 0)
            fuzz_die("a version-1 checkpoint loaded with an owner");
    }
    // Round trip: the format has one encoding per state, so saving what was
    // loaded must reproduce the file byte for byte (a version-1 file: its
    // version-2 encoding, the zero owner inserted after its header).
    uint8_t *want = (uint8_t *)data;
    if (v1) {
        const size_t n2 = size + (PREFIX - PREFIX_V1);
        want = calloc(1, n2);
        if (!want) return;
        memcpy(want, data, PREFIX_V1);
        memcpy(want + PREFIX, data + PREFIX_V1, size - PREFIX_V1 - TAIL);
        const uint32_t two = 2, hb = PREFIX - 16;
        for (int i = 0; i < 4; i++) want[8 + i] = (uint8_t)(two >> (8 * i));
        for (int i = 0; i < 4; i++) want[12 + i] = (uint8_t)(hb >> (8 * i));
        const uint64_t h = fpt_fnv1a(FPT_FNV1A_INIT, want, n2 - TAIL);
        for (int i = 0; i < 8; i++) want[n2 - TAIL + (size_t)i] = (uint8_t)(h >> (8 * i));
        size = n2;
    }
    fpt_err err;
    fuzz_err_reset(&err);
    if (fpt_checkpoint_save(resaved, st, model, &opt, &err))
        fuzz_die("cannot save an accepted checkpoint again: %s", err.msg);
    FILE *f = fopen(resaved, "rb");
    uint8_t *back = malloc(size + 1);
    size_t got = (f && back) ? fread(back, 1, size + 1, f) : 0;
    if (f) fclose(f);
    if (got != size || memcmp(back, want, size) != 0)
        fuzz_die("load then save does not give back the same %zu bytes (got %zu)", size, got);
    free(back);
    if (want != data) free(want);
}

static void load_one(const uint8_t *data, size_t size) {
    fuzz_write_file(path, data, size);
    fpt_run_state st;
    poison(&st);
    fpt_err err;
    fuzz_err_reset(&err);
    const int rc = fpt_checkpoint_load(path, &st, model, &opt, &err);
    fuzz_check_result("fpt_checkpoint_load", rc, &err, path);
    if (rc == 0) check_accepted(&st, data, size);
    else check_untouched(&st);
}

static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    load_one(data, size);
    if (size < PREFIX_V1 + TAIL) return 0;
    const uint64_t h = fpt_fnv1a(FPT_FNV1A_INIT, data, size - TAIL);
    if (get_u64(data + size - TAIL) == h) return 0;   // already right: done above
    if (fixed_cap < size) {
        free(fixed);
        fixed = malloc(size);
        fixed_cap = fixed ? size : 0;
        if (!fixed) return 0;
    }
    memcpy(fixed, data, size - TAIL);
    for (int i = 0; i < 8; i++) fixed[size - TAIL + (size_t)i] = (uint8_t)(h >> (8 * i));
    load_one(fixed, size);
    return 0;
}
