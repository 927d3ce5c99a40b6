// tmpdir.h — the per-test scratch directory of the tests' fixtures.
#ifndef FPT_TEST_TMPDIR_H
#define FPT_TEST_TMPDIR_H

#include <stddef.h>

// Creates a fresh directory /tmp/fpt_<name>_XXXXXX and writes its path into
// dir (cap bytes); fails the calling test if it cannot.
void tmpdir_make(char *dir, size_t cap, const char *name);
// Removes dir and everything below it (made writable first, so tests may
// leave read-only files or directories behind).
void tmpdir_remove(const char *dir);

#endif
