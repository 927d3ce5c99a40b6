// test_env.h — fixtures shared by the test files.
#ifndef FPT_TEST_ENV_H
#define FPT_TEST_ENV_H

// The environment for running `mpirun ... fptfarm` from a test: Open MPI as
// root, shared memory only, its temporary files under dir (so a killed run
// leaves nothing elsewhere), one thread per rank, and no LeakSanitizer
// reports of Open MPI's own allocations under `make test-asan`.
void test_mpi_env(const char *dir);

// A results database at schema version 1, made from results/schema.sql's
// version-1 section by sqlite3 itself (not by fptfarm), holding experiment
// 'old' with one done job (none, seed 7), epochs 1 (41.5%) and 2 (60.25%),
// and its first passage to 50% at epoch 2.
void test_make_v1_database(const char *path);

#endif
