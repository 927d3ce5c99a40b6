# fptfarm — build, test and benchmark.
#
#   make              build build/fptfarm and the library
#   make test         build and run the Criterion test suite
#   make test-asan    the same under AddressSanitizer + UBSan (in build-asan/)
#   make test-portable  the blas-only build (DNN=none, in build-portable/):
#                     the network and command-line tests
#   make bench        performance tables: training against PyTorch (needs
#                     python3-torch), the farm, the analysis
#   make validate     C training vs PyTorch, statistically (needs python3-torch;
#                     not run by CI; under an hour on 2 cores)
#   make demo         the quick-start demo
#
# Dependencies come from pkg-config (deploy/install-deps.sh installs them).
# Knobs (on the command line or in the environment; deploy/README.md has
# recipes for module-based cluster builds):
#   CC=gcc|icx|clang      the C compiler (C11 with OpenMP)
#   MPICC=mpicc           an MPI compiler wrapper: used as CC, and MPI's flags
#                         come from it instead of pkg-config
#   MPI_PKG=ompi-c        the pkg-config name of MPI otherwise (mpich, ...)
#   BLAS=openblas|mkl|blis  the CBLAS library (default openblas); BLAS_CFLAGS
#                         and BLAS_LIBS given explicitly override pkg-config
#   DNN=onednn|none       the oneDNN compute backend (default: onednn when
#                         <oneapi/dnnl/dnnl.h> is found, else none); DNN_CFLAGS
#                         and DNN_LIBS override where it is (oneDNN 2.x)
#   PREFIX=/usr/local, DESTDIR   for `make install`
#   BUILD=build           the build directory: use one per configuration
#   OPT, SAN, PKG_CONFIG  optimisation, sanitizers, pkg-config binary

CC         ?= cc
MPICC      ?=
ifneq ($(strip $(MPICC)),)
CC         := $(MPICC)
endif
comma      := ,
PKG_CONFIG ?= pkg-config
BUILD      ?= build
OPT        ?= -O3
SAN        ?=
PREFIX     ?= /usr/local
BLAS       ?= openblas
MPI_PKG    ?= ompi-c

# Asks pkg-config for $(2) of package $(1), or stops with what to install.
pkgconf = $(or $(shell $(PKG_CONFIG) $(2) $(1) 2>/dev/null),$(if $(shell $(PKG_CONFIG) --exists $(1) && echo y),,$(error pkg-config has no '$(1)': install it (deploy/install-deps.sh) or set PKG_CONFIG_PATH; see deploy/README.md)))

# BLAS.  OpenBLAS: Debian ships pthread, OpenMP and serial builds; the
# OpenMP build shares one thread pool with fptfarm's own OpenMP loops.  With
# the pthread build the two pools spin against each other: on 2 cores a
# width-8 training step ran 2.7x SLOWER with 2 threads than with 1.  So use
# the OpenMP build's openblas.pc when it is installed, and record its
# directory as the run path (the system-wide libopenblas.so.0 is whichever
# build `update-alternatives` prefers).  MKL: the GNU-OpenMP threading layer
# (mkl-dynamic-lp64-gomp.pc, shipped by oneAPI and by Debian's libmkl-dev),
# for the same reason.  BLIS: its OpenMP build (Debian: libblis-openmp-dev).
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
ifeq ($(BLAS),openblas)
OPENBLAS_PC_DIR ?= $(firstword $(wildcard /usr/lib/$(MULTIARCH)/openblas-openmp/pkgconfig))
BLAS_PKG        := PKG_CONFIG_PATH=$(OPENBLAS_PC_DIR)$${PKG_CONFIG_PATH:+:$$PKG_CONFIG_PATH} $(PKG_CONFIG)
BLAS_LIBDIR     := $(shell $(BLAS_PKG) --variable=libdir openblas 2>/dev/null)
BLAS_CFLAGS     ?= $(shell $(BLAS_PKG) --cflags openblas)
BLAS_LIBS       ?= $(or $(shell $(BLAS_PKG) --libs openblas),-lopenblas) $(if $(BLAS_LIBDIR),-Wl$(comma)-rpath$(comma)$(BLAS_LIBDIR))
else ifeq ($(BLAS),mkl)
MKL_PKG         ?= mkl-dynamic-lp64-gomp
BLAS_CFLAGS     ?= $(call pkgconf,$(MKL_PKG),--cflags) -DFPT_BLAS_MKL
BLAS_LIBS       ?= $(call pkgconf,$(MKL_PKG),--libs)
else ifeq ($(BLAS),blis)
# pkg-config's blis.pc when there is one (BLIS's own install), else the
# directories of Debian's libblis-openmp-dev, which ships no .pc file.
ifneq ($(shell $(PKG_CONFIG) --exists blis 2>/dev/null && echo y),)
BLAS_LIBDIR     := $(shell $(PKG_CONFIG) --variable=libdir blis)
BLAS_CFLAGS     ?= $(shell $(PKG_CONFIG) --cflags blis) -DFPT_BLAS_BLIS
BLAS_LIBS       ?= $(shell $(PKG_CONFIG) --libs blis) -Wl$(comma)-rpath$(comma)$(BLAS_LIBDIR)
else
BLIS_INCDIR     ?= /usr/include/$(MULTIARCH)/blis-openmp
BLAS_LIBDIR     ?= /usr/lib/$(MULTIARCH)/blis-openmp
BLAS_CFLAGS     ?= -I$(BLIS_INCDIR) -DFPT_BLAS_BLIS
BLAS_LIBS       ?= -L$(BLAS_LIBDIR) -lblis -Wl$(comma)-rpath$(comma)$(BLAS_LIBDIR)
endif
else
$(error BLAS=$(BLAS): expected openblas, mkl or blis)
endif
# oneDNN (common/nn/backend/onednn.c).  Debian's libdnnl-dev ships no pkg-config file:
# the default flags find it in the standard paths; a module or a source
# build gives DNN_CFLAGS=-I$$DNNLROOT/include DNN_LIBS="-L.. -ldnnl -Wl,-rpath,..".
DNN_CFLAGS ?=
DNN_LIBS   ?= -ldnnl
DNN        ?= $(if $(shell echo '\#include <oneapi/dnnl/dnnl.h>' | $(CC) $(DNN_CFLAGS) -E -x c - >/dev/null 2>&1 && echo y),onednn,none)
ifeq ($(DNN),onednn)
DNN_CPPFLAGS := -DFPT_HAVE_ONEDNN $(patsubst -I%,-isystem %,$(DNN_CFLAGS))
DNN_SRC      := common/nn/backend/onednn.c
else ifeq ($(DNN),none)
DNN_CPPFLAGS :=
DNN_LIBS     :=
DNN_SRC      :=
else
$(error DNN=$(DNN): expected onednn or none)
endif

# -isystem: warnings inside a BLAS's own headers (BLIS has some) are not ours.
BLAS_CFLAGS := $(patsubst -I%,-isystem %,$(BLAS_CFLAGS))
BLAS_LIBS   := $(BLAS_LIBS)
ifeq ($(strip $(MPICC)),)
MPI_CFLAGS  := $(call pkgconf,$(MPI_PKG),--cflags)
MPI_LIBS    := $(call pkgconf,$(MPI_PKG),--libs)
endif
INIH_CFLAGS := $(call pkgconf,inih,--cflags)
INIH_LIBS   := $(call pkgconf,inih,--libs)
SQLITE_CFLAGS := $(call pkgconf,sqlite3,--cflags)
SQLITE_LIBS := $(call pkgconf,sqlite3,--libs)
# zlib reads the MNIST-format IDX files, gzipped or not (common/data/idx.c).
ZLIB_CFLAGS := $(call pkgconf,zlib,--cflags)
ZLIB_LIBS   := $(call pkgconf,zlib,--libs)
# Criterion is needed by the tests only.
CRIT_CFLAGS = $(call pkgconf,criterion,--cflags)
CRIT_LIBS   = $(call pkgconf,criterion,--libs)

WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unknown-pragmas
# Headers are included by their path under common/ ("nn/resnet.h") or from
# the root ("farm/proto.h").  -MMD -MP: every object records the headers it
# read (build/**/*.d), so a changed header rebuilds exactly what includes it.
CPPFLAGS = -D_DEFAULT_SOURCE -Icommon -I. $(BLAS_CFLAGS) $(INIH_CFLAGS) $(MPI_CFLAGS) $(SQLITE_CFLAGS) \
           $(ZLIB_CFLAGS) $(DNN_CPPFLAGS)
DEPFLAGS = -MMD -MP
CFLAGS   = -std=c11 $(OPT) -g -fopenmp $(WARN) $(SAN)
LDLIBS   = $(DNN_LIBS) $(BLAS_LIBS) $(INIH_LIBS) $(MPI_LIBS) $(SQLITE_LIBS) $(ZLIB_LIBS) -lm
LDFLAGS  = -fopenmp $(SAN)

# The library, by layer (common/README.md): base/ and nn/ are the network
# library (BLAS and oneDNN only: $(NN_LIB) links neither SQLite, inih, MPI
# nor zlib, which bench_train proves by linking against it alone); data/,
# train/, analysis/, store/ and campaign/ sit above it.
NN_SRC   := $(wildcard common/base/*.c common/nn/*.c) common/nn/backend/blas.c $(DNN_SRC)
NN_OBJ   := $(NN_SRC:%.c=$(BUILD)/%.o)
NN_LIB   := $(BUILD)/libfptnn.a
NN_LIBS  := $(DNN_LIBS) $(BLAS_LIBS) -lm
LIB_SRC  := $(NN_SRC) $(wildcard common/data/*.c common/train/*.c common/train/protocols/*.c \
                                   common/analysis/*.c \
                                   common/store/*.c common/campaign/*.c)
LIB_OBJ  := $(filter-out $(NN_OBJ),$(LIB_SRC:%.c=$(BUILD)/%.o)) $(BUILD)/gen/schema_sql.o
LIB      := $(BUILD)/libfptfarm.a
APP_SRC  := $(wildcard cli/*.c) $(wildcard farm/*.c)
APP_OBJ  := $(APP_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all test test-asan test-portable bench demo demo-adaptive clean install uninstall
all: $(BUILD)/fptfarm $(BENCH_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(DEPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(DEPFLAGS) $(CRIT_CFLAGS) $(CFLAGS) -c $< -o $@

# results/schema.sql is the one copy of the schema: compiled in as a C string.
$(BUILD)/gen/schema_sql.c: results/schema.sql
	@mkdir -p $(dir $@)
	{ echo '// Generated from results/schema.sql by the Makefile: do not edit.'; \
	  echo 'const char fpt_store_schema_sql[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$$/\\n"/' $<; \
	  echo '    ;'; } > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/schema_sql.o: $(BUILD)/gen/schema_sql.c
	$(CC) $(CFLAGS) -c $< -o $@

$(NN_LIB): $(NN_OBJ)
	$(AR) rcs $@ $^

$(LIB): $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/fptfarm: $(APP_OBJ) $(LIB) $(NN_LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/test_fptfarm: $(TEST_OBJ) $(LIB) $(NN_LIB)
	$(CC) $(LDFLAGS) $^ $(CRIT_LIBS) $(LDLIBS) -o $@

# The network library alone, with only its own libraries: a build error here
# means nn/ or base/ reached for something above them.
$(BUILD)/bench/bench_train: bench/bench_train.c $(NN_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(DEPFLAGS) $(CFLAGS) $< $(NN_LIB) $(LDFLAGS) $(NN_LIBS) -o $@

$(BUILD)/bench/%: bench/%.c $(LIB) $(NN_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(DEPFLAGS) $(CFLAGS) $< $(LIB) $(NN_LIB) $(LDFLAGS) $(LDLIBS) -o $@

# Tests run from the project root (they read tests/ref/*.bin).  Two threads
# so the threaded paths are exercised; results must not depend on it.
# Passive OpenMP waiting: the tests train many tiny models, whose parallel
# regions are short; on a busy machine spinning threads made them 20x slower.
test: $(BUILD)/test_fptfarm $(BUILD)/fptfarm
	bash tests/check_layers.sh
	FPTFARM=$(BUILD)/fptfarm OMP_WAIT_POLICY=passive OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 \
	  $(BUILD)/test_fptfarm --jobs 1

test-asan:
	$(MAKE) BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

# The portable build (DNN=none: the blas backend only), in build-portable/:
# what a cluster without oneDNN gets.  The PyTorch-dump tests, determinism,
# the run loop and the command line (which must refuse --backend onednn in
# one line).  CI runs it after `make test`.
test-portable:
	bash tests/check_layers.sh
	$(MAKE) BUILD=build-portable DNN=none build-portable/test_fptfarm build-portable/fptfarm
	FPTFARM=build-portable/fptfarm OMP_WAIT_POLICY=passive OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 \
	  build-portable/test_fptfarm --jobs 1 --filter '@(resnet_ref|determinism|batch|run|cli)/*'

bench: $(BENCH_BIN) $(BUILD)/fptfarm
	bash bench/run.sh $(BUILD)
	bash bench/farm_throughput.sh $(BUILD)
	bash bench/analysis.sh $(BUILD)

# Are fptfarm's first-passage and accuracy distributions those of PyTorch?
# bench/validate.sh has the details; VALIDATE_ARGS go to bench/validate.py.
.PHONY: validate
validate: $(BUILD)/fptfarm
	bash bench/validate.sh $(BUILD) $(VALIDATE_ARGS)

# The demo, end to end.  (1) A small campaign: 1 coordinator + 2 workers on
# jobs/demo.ini (a few minutes on 2 cores), its progress, and its analysis,
# which explains what 8 runs are too few for.  (2) The analysis on real data:
# the study's 2992 published runs (tests/data) imported, fitted at 72% with
# the reference period 20, reported, and drawn into results/meir2025-figures/.
# (3) demo-adaptive, below.
MPIRUN ?= mpirun
MPIRUN_ROOT := $(if $(filter 0,$(shell id -u)),--allow-run-as-root)
demo: $(BUILD)/fptfarm
	@mkdir -p results
	OMPI_MCA_btl=self,vader $(MPIRUN) $(MPIRUN_ROOT) --oversubscribe -n 3 \
	  $(BUILD)/fptfarm run jobs/demo.ini --db results/demo-fmnist.db
	$(BUILD)/fptfarm status results/demo-fmnist.db
	sqlite3 -header -column results/demo-fmnist.db \
	  "SELECT protocol, frequency, target, runs, reached, censored, \
	          round(mean_fpt_reached_only, 2) AS mean_fpt_reached_only FROM v_mfpt"
	xz -dc tests/data/meir2025-cifar10_traces.csv.xz > results/meir2025-cifar10_traces.csv
	rm -f results/meir2025.db
	$(BUILD)/fptfarm import results/meir2025.db results/meir2025-cifar10_traces.csv \
	  --name meir2025 --target 72
	$(BUILD)/fptfarm fit results/meir2025.db --reference 20
	$(BUILD)/fptfarm plot results/meir2025.db
	$(MAKE) --no-print-directory demo-adaptive

# (3) An adaptive campaign on the study's data (jobs/demo-adaptive.ini): jobs
# replay recorded runs instead of training; the response model chooses them.
demo-adaptive: $(BUILD)/fptfarm
	@mkdir -p results
	test -f results/meir2025-cifar10_traces.csv || \
	  xz -dc tests/data/meir2025-cifar10_traces.csv.xz > results/meir2025-cifar10_traces.csv
	rm -rf results/demo-adaptive.db results/demo-adaptive.db.ckpt
	OMPI_MCA_btl=self,vader $(MPIRUN) $(MPIRUN_ROOT) --oversubscribe -n 3 \
	  $(BUILD)/fptfarm run jobs/demo-adaptive.ini --db results/demo-adaptive.db
	sqlite3 -header -column results/demo-adaptive.db \
	  "SELECT phase, stopped, protocol, frequency, round(estimate, 2) AS mean_fpt, \
	          runs_used, sweep_runs FROM campaign_summary"

# make install [PREFIX=/usr/local] [DESTDIR=]: the program, and in
# share/fptfarm the schema, example queries, example specs and the Slurm
# scripts users copy.
SHARE := $(DESTDIR)$(PREFIX)/share/fptfarm
install: $(BUILD)/fptfarm
	install -d $(DESTDIR)$(PREFIX)/bin $(SHARE)/jobs $(SHARE)/slurm
	install -m 755 $(BUILD)/fptfarm $(DESTDIR)$(PREFIX)/bin/fptfarm
	install -m 644 results/schema.sql results/queries.sql $(SHARE)
	install -m 644 jobs/*.ini $(SHARE)/jobs
	$(if $(wildcard deploy/slurm/*),install -m 755 $(wildcard deploy/slurm/*) $(SHARE)/slurm)
	install -m 644 deploy/README.md $(SHARE)/README-deploy.md

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/fptfarm
	rm -rf $(SHARE)

clean:
	rm -rf build build-asan build-portable

# Header dependencies recorded by -MMD (absent before the first build).
-include $(shell find $(BUILD) $(FUZZ_BUILD) -name '*.d' 2>/dev/null)

# ---- fuzzing (tests/fuzz/README.md) --------------------------------------------
#   make fuzz [FUZZ_SECONDS=600]   each fuzzer for that long: the long campaigns,
#                                  outside CI
#   make fuzz-smoke                every regression input once, then each fuzzer
#                                  for FUZZ_SMOKE_SECONDS (40): the CI stage;
#                                  fails on any crash or broken contract
#   make fuzz-seeds                rewrites the binary seeds in tests/fuzz/corpus/
# libFuzzer harnesses (tests/fuzz/fuzz_*.c) under ASan and UBSan, linked with
# the library compiled by clang in $(FUZZ_BUILD)/ with the same sanitizers
# and coverage instrumentation.  Without -fopenmp: one thread, deterministic
# runs, and no second OpenMP runtime next to the BLAS's libgomp.  Needs Debian's
# clang-14 and libclang-rt-14-dev.  New corpus entries and crash artifacts go
# to $(FUZZ_OUT), never into tests/.  FUZZ_WARN (default: WARN, with -Werror)
# relaxes warnings for this build only.
FUZZ_CC            ?= clang-14
FUZZ_BUILD         ?= build-fuzz
FUZZ_OUT           ?= $(FUZZ_BUILD)/out
FUZZ_SECONDS       ?= 600
FUZZ_SMOKE_SECONDS ?= 40
FUZZ_TARGETS       := job_spec cifar idx checkpoint import_csv
FUZZ_WARN          ?= $(WARN)
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS   = -std=c11 -O1 -g $(FUZZ_WARN) $(FUZZ_SAN)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o) $(FUZZ_BUILD)/gen/schema_sql.o
FUZZ_LIB     := $(FUZZ_BUILD)/libfptfarm.a
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_RUN      = FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_OUT=$(FUZZ_OUT) bash tests/fuzz/run.sh

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-seeds fuzz-clean
fuzz-build: $(FUZZ_BINS)

$(FUZZ_BUILD)/common/%.o: common/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(DEPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/gen/schema_sql.o: $(BUILD)/gen/schema_sql.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	$(AR) rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FUZZ_LIB)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB) $(LDLIBS) -o $@

# Writes the binary seeds (valid checkpoints, tiny CIFAR and IDX files) with the
# library itself; the result is committed in tests/fuzz/corpus/.
$(FUZZ_BUILD)/make_seeds: tests/fuzz/make_seeds.c tests/fuzz/fuzz_common.h $(FUZZ_LIB)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) $< $(FUZZ_LIB) $(LDLIBS) -o $@

fuzz-seeds: $(FUZZ_BUILD)/make_seeds
	$(FUZZ_BUILD)/make_seeds tests/fuzz/corpus

fuzz: $(FUZZ_BINS)
	$(FUZZ_RUN) campaign $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: $(FUZZ_BINS)
	$(FUZZ_RUN) smoke $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

fuzz-clean:
	rm -rf $(FUZZ_BUILD)
