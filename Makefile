# ZetaLm — GNU Makefile (the only build system).
#   make                 libzeta.a, libzeta.so (soname libzeta.so.0), the zeta CLI, in $(BUILD)/
#   make test            builds and runs the whole test suite; last line "N passed, N failed"
#   make sanitize-test   the same under ASan+UBSan, in build-san/
#   make test-arm64      cross-builds for AArch64 into build-arm64/ and runs the C tests under qemu-user
#                        (ARM64_FULL=1: the golden scripts too; needs gcc-aarch64-linux-gnu,
#                        libc6-dev-arm64-cross, qemu-user)
#   make install PREFIX=/usr/local   library, include/zeta.h, zeta.pc, the CLI
#   make clean
# The default build targets the machine's baseline ISA; AVX2 / AVX-VNNI / AVX-512 / AVX-512 VNNI
# kernels are compiled in their own files with their own flags and chosen at run time (never
# -march=native).

# make CUDA=1 builds into build-cuda/ (see the CUDA section below)
ifeq ($(CUDA),1)
BUILD   ?= build-cuda
endif
BUILD   ?= build
PREFIX  ?= /usr/local
CC      ?= cc
OPT     ?= -O2
SAN     ?=
VERSION := 0.1.0
SOMAJOR := 0

ARCH := $(shell $(CC) -dumpmachine 2>/dev/null)
CPPFLAGS += -Iinclude -Isrc -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
CFLAGS   ?=
CFLAGS   += -std=c11 $(OPT) -g -Wall -Wextra -Wno-unused-parameter -fPIC -fvisibility=hidden -pthread
ifeq ($(SAN),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif
ifeq ($(SAN),thread)
CFLAGS   += -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=thread
endif
ifeq ($(SAN),fuzz)
CFLAGS   += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif
LDLIBS   += -lm -lpthread

# every src/cpu/kernels_<isa>*.c file is one ISA, compiled with FLAGS_<isa>; only the ISAs of the
# target architecture are built.
LIB_SRC := $(wildcard src/*.c) $(filter-out src/cpu/kernels_%.c,$(wildcard src/cpu/*.c)) $(wildcard src/cpu/kernels_scalar*.c)
ifneq (,$(findstring x86_64,$(ARCH)))
LIB_SRC += $(wildcard src/cpu/kernels_avx2*.c src/cpu/kernels_avxvnni*.c src/cpu/kernels_avx512*.c)
CPPFLAGS += -DZETA_HAVE_X86=1
endif
ifneq (,$(findstring aarch64,$(ARCH))$(findstring arm64,$(ARCH)))
LIB_SRC += $(wildcard src/cpu/kernels_neon*.c)
CPPFLAGS += -DZETA_HAVE_NEON=1
# GCC 12.2 for aarch64 dies (internal compiler error in vect_transform_reduction) vectorizing loops
# that combine an fmaxf reduction with an integer sum, which some tests have; tests need no vectorizer.
$(BUILD)/tests/%.o: CFLAGS += -fno-tree-vectorize
endif
LIB_SRC := $(sort $(LIB_SRC))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)

# ---------------------------------------------------------------- CUDA backend (make CUDA=1)
# src/cuda/*.cu compiled by nvcc for sm_90 plus compute_90 PTX (other GPUs: CUDA_ARCH=...); the
# library, CLI and tests then link cudart and cuBLAS. Without CUDA=1, src/cuda/cuda_stub.c stands
# in and nothing needs CUDA.
CUDA ?= 0
ifeq ($(CUDA),1)
NVCC      ?= nvcc
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(shell command -v $(NVCC) 2>/dev/null))
CUDA_ARCH ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
NVCCFLAGS ?= -O2
NVCCFLAGS += -std=c++17 $(CUDA_ARCH) -Xcompiler -fPIC,-fvisibility=hidden,-Wall,-Wextra,-Wno-unused-parameter
CU_SRC    := $(wildcard src/cuda/*.cu)
LIB_OBJ   += $(CU_SRC:%.cu=$(BUILD)/%.o)
CPPFLAGS  += -DZETA_HAVE_CUDA=1
LDLIBS    += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lstdc++
$(BUILD)/src/cuda/%.o: src/cuda/%.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(CPPFLAGS) $(NVCCFLAGS) -MMD -MP -c $< -o $@
else
LIB_OBJ   += $(BUILD)/src/cuda/cuda_stub.o
endif

FLAGS_avx2   := -mavx2 -mfma -mf16c
FLAGS_avx512 := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c
FLAGS_avxvnni := $(FLAGS_avx2) -mavxvnni

# Test data kept gzip-compressed in git (tokenizer vocabularies, logits goldens); `make data`
# unpacks each next to its .gz (the unpacked files are git-ignored).
DATA_GZ  := $(shell find tests/data -name '*.gz' 2>/dev/null)
DATA     := $(DATA_GZ:.gz=)

# `zeta serve` needs libmicrohttpd and jansson (Debian/Ubuntu: libmicrohttpd-dev libjansson-dev). They
# are looked up with pkg-config for native builds; without them (or with SERVER=0, or in a cross
# build) the CLI is built without the server and `zeta serve` says how to get it.
SERVER ?= auto
ifeq ($(SERVER),auto)
ifneq (,$(findstring $(shell uname -m),$(ARCH)))
SERVER := $(shell pkg-config --exists libmicrohttpd jansson 2>/dev/null && echo 1 || echo 0)
else
SERVER := 0
endif
endif
SERVE_SRC := $(wildcard tools/server/*.c)
TOOL_SRC  := $(wildcard tools/*.c)
TOOL_OBJ   = $(TOOL_SRC:%.c=$(BUILD)/%.o)
ifeq ($(SERVER),1)
TOOL_SRC  += $(SERVE_SRC)
TOOL_OBJ  += $(BUILD)/tools/serve_page_gen.o
SERVE_LIBS := $(shell pkg-config --libs libmicrohttpd jansson)
$(BUILD)/tools/%.o: CPPFLAGS += -DZETA_HAVE_SERVER=1 -Itools $(shell pkg-config --cflags libmicrohttpd jansson)
endif
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all lib data test sanitize-test tsan-test test-arm64 install clean fuzz fuzz-bins
.SECONDARY:
all: lib $(BUILD)/zeta $(TEST_BIN) data
# the tools' objects are compiled with or without the server: a file holding SERVER, rewritten (when
# the makefile is read) only when that changes, makes them rebuild then (say after installing
# libmicrohttpd-dev) instead of linking stale objects
SERVER_FLAG := $(BUILD)/tools/server.flag
_server_flag := $(shell mkdir -p $(BUILD)/tools && { [ "$$(cat $(SERVER_FLAG) 2>/dev/null)" = "$(SERVER)" ] || echo "$(SERVER)" > $(SERVER_FLAG); })
$(TOOL_OBJ): $(SERVER_FLAG)

data: $(DATA)
$(DATA): %: %.gz
	gzip -dc $< > $@.tmp && mv $@.tmp $@
lib: $(BUILD)/libzeta.a $(BUILD)/libzeta.so

FLAGS_neon   := -march=armv8-a
FLAGS_neondot := -march=armv8.2-a+dotprod
$(BUILD)/src/cpu/kernels_avx2%: CFLAGS += $(FLAGS_avx2)
$(BUILD)/src/cpu/kernels_avx512%: CFLAGS += $(FLAGS_avx512)
$(BUILD)/src/cpu/kernels_avxvnni%: CFLAGS += $(FLAGS_avxvnni)
# kernels_avx512vnni* match both kernels_avx512% and kernels_avx512vnni%: GNU make applies every
# matching pattern-specific variable, the shorter (more specific) stem last, so these files get
# FLAGS_avx512 followed by -mavx512vnni (kernels_neondot* likewise get FLAGS_neon, then FLAGS_neondot).
$(BUILD)/src/cpu/kernels_avx512vnni%: CFLAGS += -mavx512vnni
$(BUILD)/src/cpu/kernels_neon%: CFLAGS += $(FLAGS_neon)
$(BUILD)/src/cpu/kernels_neondot%: CFLAGS += $(FLAGS_neondot)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libzeta.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/libzeta.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libzeta.so.$(SOMAJOR) $(LDFLAGS) -o $(BUILD)/libzeta.so.$(VERSION) $^ $(LDLIBS)
	ln -sf libzeta.so.$(VERSION) $(BUILD)/libzeta.so.$(SOMAJOR)
	ln -sf libzeta.so.$(VERSION) $@

$(BUILD)/zeta: $(TOOL_OBJ) $(BUILD)/libzeta.a
	$(CC) $(LDFLAGS) -o $@ $(TOOL_OBJ) $(BUILD)/libzeta.a $(SERVE_LIBS) $(LDLIBS)

# the chat page, compiled into the binary as a byte array
$(BUILD)/tools/serve_page_gen.c: tools/serve_page.html
	@mkdir -p $(dir $@)
	{ echo '/* generated from tools/serve_page.html by the Makefile */'; echo 'const char serve_page_html[] = {'; \
	  od -An -v -tx1 $< | sed -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; echo '0};'; \
	  echo 'const unsigned long serve_page_len = sizeof serve_page_html - 1;'; } > $@.tmp && mv $@.tmp $@
$(BUILD)/tools/serve_page_gen.o: $(BUILD)/tools/serve_page_gen.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libzeta.a
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libzeta.a $(LDLIBS)

test: all
	@BUILD=$(BUILD) sh tests/run.sh

sanitize-test:
	$(MAKE) BUILD=build-san SAN=1 OPT=-O1 test

# ThreadSanitizer on what runs threads: the thread pool (every test that evaluates with 2 threads;
# test_sparse_q: the sparse products split over threads; test_sparse: the sparse layout built on 1
# and 3 threads), the sessions used from several threads (examples/embed_in_app via test_sdk) and the server.
TSAN_TESTS := test_e2e test_kv test_sparse_q test_sparse
tsan-test:
	$(MAKE) BUILD=build-tsan SAN=thread OPT=-O1 all
	@BUILD=build-tsan TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ZETA_TEST_TIMEOUT_SCALE=5 ZETA_TESTS="$(TSAN_TESTS) test_server.sh test_server_node.sh test_sdk.sh" \
		sh tests/run.sh

# AArch64 under emulation (correctness, not speed): the kernel tests first on a CPU model without the
# dot-product extension (the baseline NEON table is selected), then the C test binaries on qemu's
# "max" CPU (dotprod: both NEON tables are tested against the scalar one). The golden scripts take
# many minutes under qemu, so they run only with ARM64_FULL=1.
ARM64_CC   ?= aarch64-linux-gnu-gcc
ARM64_EXEC ?= qemu-aarch64 -L /usr/aarch64-linux-gnu
ARM64_FULL ?= 0
test-arm64:
	$(MAKE) BUILD=build-arm64 CC=$(ARM64_CC) all
	@echo "== test_kernels (qemu -cpu cortex-a53: no dotprod)"
	@$(ARM64_EXEC) -cpu cortex-a53 build-arm64/tests/test_kernels
	@BUILD=build-arm64 ZETA_EXEC="$(ARM64_EXEC) -cpu max" ZETA_SKIP_SCRIPTS=$(if $(filter 1,$(ARM64_FULL)),0,1) \
		sh tests/run.sh

install: lib $(BUILD)/zeta
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(BUILD)/libzeta.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libzeta.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libzeta.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libzeta.so.$(SOMAJOR)
	ln -sf libzeta.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libzeta.so
	install -m 644 include/zeta.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(BUILD)/zeta $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' zeta.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/zeta.pc

clean:
	rm -rf build build-san build-arm64 build-fuzz build-tsan

# Fuzzing. tests/fuzz/fuzz_<target>.c each define LLVMFuzzerTestOneInput. Every build links them
# with tests/fuzz/replay_main.c into $(BUILD)/fuzz/replay_<target>, and the test suite replays each
# corpus file of tests/fuzz/corpus/<target>/ through them (tests/test_fuzz_replay.sh), so any
# compiler catches regressions. `make fuzz` builds them with clang's libFuzzer + ASan/UBSan in
# build-fuzz/ and runs each for FUZZ_SECONDS (new inputs go to build-fuzz/corpus/<target>/).
FUZZ_TARGETS := gguf tokenizer sparsity $(if $(wildcard src/chat.c),chat) $(if $(filter 1,$(SERVER)),request)
FUZZ_REPLAY  := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/replay_%)
FUZZ_SECONDS ?= 60
all: $(FUZZ_REPLAY)
$(BUILD)/tests/fuzz/fuzz_request.o: CPPFLAGS += -Itools/server $(shell pkg-config --cflags jansson 2>/dev/null)
$(BUILD)/fuzz/replay_request $(BUILD)/fuzz/fuzz_request: $(BUILD)/tools/server/serve_req.o
FUZZ_LIBS_request = $(BUILD)/tools/server/serve_req.o $(shell pkg-config --libs jansson 2>/dev/null)
$(BUILD)/fuzz/replay_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/replay_main.o $(BUILD)/libzeta.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/tests/fuzz/replay_main.o $(FUZZ_LIBS_$*) $(BUILD)/libzeta.a $(LDLIBS)
$(BUILD)/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/libzeta.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIBS_$*) $(BUILD)/libzeta.a $(LDLIBS)
fuzz-bins: data $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang SAN=fuzz OPT=-O1 fuzz-bins
	@for t in $(FUZZ_TARGETS); do mkdir -p build-fuzz/corpus/$$t build-fuzz/crashes/$$t; \
	  echo "== fuzz_$$t: $(FUZZ_SECONDS) s"; \
	  build-fuzz/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
	    -artifact_prefix=build-fuzz/crashes/$$t/ build-fuzz/corpus/$$t tests/fuzz/corpus/$$t || exit 1; done

-include $(LIB_OBJ:.o=.d) $(TOOL_SRC:%.c=$(BUILD)/%.d) $(TEST_SRC:tests/%.c=$(BUILD)/tests/%.d) $(wildcard $(BUILD)/tests/fuzz/*.d)

# Benchmarks (never run by the tests): kernel GB/s per type and ISA, memory read bandwidth, and
# the side-by-side suite against llama.cpp (LLAMA_BENCH=/path/to/llama-bench make bench).
.PHONY: bench-kernels bench-membw bench
bench-kernels: $(BUILD)/libzeta.a
	NO_MAKE=1 BUILD=$(BUILD) CC="$(CC)" sh bench/build.sh kernel_bench
	$(BUILD)/kernel_bench $(BENCH_ARGS)
bench-membw:
	BUILD=$(BUILD) CC="$(CC)" sh bench/build.sh membw
	$(BUILD)/membw $(BENCH_ARGS)
bench: all
	sh bench/run_all.sh
