// tmpdir.c — see tmpdir.h.
#define _XOPEN_SOURCE 700   // nftw(3), mkdtemp(3)
#include "tmpdir.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void tmpdir_make(char *dir, size_t cap, const char *name) {
    snprintf(dir, cap, "/tmp/fpt_%s_XXXXXX", name);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
}

static int remove_entry(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    chmod(p, 0700);
    return remove(p);
}

void tmpdir_remove(const char *dir) {
    if (!dir[0]) return;
    chmod(dir, 0700);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
