// test_error.c — error lines are one printable line whatever the input they
// quote: valid UTF-8 unchanged, control characters and bytes that are not
// UTF-8 as \xNN.  The expected strings are written out by hand from the
// UTF-8 definition (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF), and the real binary is run on a path and a CSV cell with such
// bytes.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "tmpdir.h"

static char g_dir[64];
static void make_dir(void) { tmpdir_make(g_dir, sizeof g_dir, "error"); }
static void remove_dir(void) { tmpdir_remove(g_dir); }
TestSuite(error, .init = make_dir, .fini = remove_dir);

Test(error, escapes_exactly_what_is_not_printable_utf8) {
    static const struct { const char *in, *want; } cases[] = {
        {"plain ASCII: a-z 0-9 ~", "plain ASCII: a-z 0-9 ~"},
        {"caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x90\x8d \xf4\x8f\xbf\xbf",      // é ☃ 🐍 U+10FFFF
         "caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x90\x8d \xf4\x8f\xbf\xbf"},
        {"tab\there\nnl\rcr\x1b[31mred\x7f", "tab\\x09here\\x0anl\\x0dcr\\x1b[31mred\\x7f"},
        {"c1 \xc2\x9b" "31m and nbsp \xc2\xa0", "c1 \\xc2\\x9b31m and nbsp \xc2\xa0"},   // CSI
        {"latin-1 caf\xe9!", "latin-1 caf\\xe9!"},                       // a lone lead byte
        {"stray \x80\xbf", "stray \\x80\\xbf"},                          // continuation bytes
        {"overlong \xc0\xaf \xc1\xbf \xe0\x80\xaf \xf0\x80\x80\xaf",
         "overlong \\xc0\\xaf \\xc1\\xbf \\xe0\\x80\\xaf \\xf0\\x80\\x80\\xaf"},
        {"surrogate \xed\xa0\x80", "surrogate \\xed\\xa0\\x80"},
        {"too big \xf4\x90\x80\x80 \xf5\x80", "too big \\xf4\\x90\\x80\\x80 \\xf5\\x80"},
        {"cut \xe2\x98", "cut \\xe2\\x98"},                              // at the end
        {"cut \xe2\x98 then", "cut \\xe2\\x98 then"},
        {"\xff\xfe", "\\xff\\xfe"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[256];
        size_t n = fpt_text_escape(out, sizeof out, cases[i].in);
        cr_expect_str_eq(out, cases[i].want, "case %zu", i);
        cr_expect_eq(n, strlen(cases[i].want), "case %zu", i);
        // Escaping is idempotent: its output is printable UTF-8.
        char again[256];
        fpt_text_escape(again, sizeof again, out);
        cr_expect_str_eq(again, out, "case %zu escaped twice", i);
    }
    // A short buffer cuts between characters and escapes, never inside.
    char small[8];
    cr_expect_eq(fpt_text_escape(small, sizeof small, "ab\xff\xc3\xa9"), 6);
    cr_expect_str_eq(small, "ab\\xff");
    cr_expect_eq(fpt_text_escape(small, 4, "a\xc3\xa9\xc3\xa9"), 3);
    cr_expect_str_eq(small, "a\xc3\xa9");
}

// Messages are escaped when they are made, and again (a no-op) when printed.
Test(error, messages_and_error_lines) {
    fpt_err err = {{0}};
    fpt_fail(&err, "%s: cannot open", "d\xff/caf\xc3\xa9\n.csv");
    cr_expect_str_eq(err.msg, "d\\xff/caf\xc3\xa9\\x0a.csv: cannot open");
    fpt_err_prefix(&err, "%s: ", "\x1b]0;title\x07");
    cr_expect_str_eq(err.msg, "\\x1b]0;title\\x07: d\\xff/caf\xc3\xa9\\x0a.csv: cannot open");
    char path[128], line[512] = "";
    snprintf(path, sizeof path, "%s/line.txt", g_dir);
    FILE *f = fopen(path, "w+");
    cr_assert_not_null(f);
    fpt_print_error(f, "rank %d: %s", 2, "bad \xc3 byte\ttab");
    rewind(f);
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    cr_expect_str_eq(line, "fptfarm: rank 2: bad \\xc3 byte\\x09tab\n");
}

// Runs fptfarm (cwd g_dir) with args, its stderr into g_dir/err.txt, read
// back into got; the exit status.  Arguments go through execv as bytes,
// never through a shell.
static int run_fptfarm(const char *const *args, char *got, size_t cap) {
    const char *bin = getenv("FPTFARM") ? getenv("FPTFARM") : "build/fptfarm";
    char abs[4096], err_path[128];
    cr_assert_not_null(realpath(bin, abs), "%s", bin);
    snprintf(err_path, sizeof err_path, "%s/err.txt", g_dir);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        char *argv[16] = {abs};
        for (int i = 0; args[i] && i < 14; i++) argv[i + 1] = (char *)args[i];
        if (chdir(g_dir) != 0 || !freopen(err_path, "w", stderr) ||
            !freopen("/dev/null", "w", stdout))
            _exit(125);
        execv(abs, argv);
        _exit(127);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    FILE *f = fopen(err_path, "r");
    cr_assert_not_null(f);
    got[fread(got, 1, cap - 1, f)] = '\0';
    fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// The program's one error line, for a path and for a CSV cell.
Test(error, the_program_prints_invalid_bytes_escaped) {
    char got[1024], want[1024];
    // A CSV path with a Latin-1 byte and an escape sequence (no such file).
    const char *const open_args[] = {"import", "r.db", "caf\xe9\x1b[2J.csv", "--name", "x", NULL};
    cr_expect_eq(run_fptfarm(open_args, got, sizeof got), 1);
    cr_expect_str_eq(got,
                     "fptfarm: caf\\xe9\\x1b[2J.csv: cannot open: No such file or directory\n");

    // A protocol cell of Latin-1 bytes, quoted in the refusal.
    char csv[128];
    snprintf(csv, sizeof csv, "%s/t.csv", g_dir);
    FILE *f = fopen(csv, "w");
    cr_assert_not_null(f);
    fputs("protocol,period,seed,epoch,test_acc\nnone,0,1,1,50\nr\xe9set,2,1,1,50\n", f);
    fclose(f);
    const char *const cell_args[] = {"import", "r.db", "t.csv", "--name", "x", NULL};
    cr_expect_eq(run_fptfarm(cell_args, got, sizeof got), 1);
    snprintf(want, sizeof want, "fptfarm: t.csv:3: unknown protocol 'r\\xe9set' (expected: none, "
             "reset, partial_reset, shrink_perturb, warm_restart)\n");
    cr_expect_str_eq(got, want);
}
