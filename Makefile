# The Transformer, built step by step in C.
#
#   make            build every chapter program into build/bin/chNN
#   make tour       build, run every chapter's demo, write the figures under out/
#   make test       run the Check test suites
#   make help       everything else
#
# One static library, build/libbook.a, holds common/ and the concept code of
# every chapter (every chapters/*/*.c except main.c); each chapter program is
# its main.c linked against it. A chapter folder builds alone too:
# make -C chapters/01-dot-product-attention.

.DEFAULT_GOAL := all

BUILD    ?= build
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
WARN     := -std=c11 -Wall -Wextra -Wpedantic -Werror
LDLIBS   := -lz -lm
PYTHON   ?= python3

# Switches (see common/gemm.h). OMP=0 builds without OpenMP, which is on
# whenever the compiler has it. BLAS=openblas makes mat_mul call OpenBLAS's
# cblas_sgemm (Debian: libopenblas-dev), for comparison.
OMP      ?= 1
ifeq ($(OMP),1)
OMP_FLAGS := $(shell printf 'int main(void){return 0;}\n' | $(CC) -fopenmp -x c - -o /dev/null 2>/dev/null && echo -fopenmp)
endif
ifeq ($(BLAS),openblas)
BLAS_CFLAGS := -DUSE_OPENBLAS $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS   := $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
endif
LDLIBS   += $(OMP_FLAGS) $(BLAS_LIBS)

CHAPTER_DIRS := $(sort $(wildcard chapters/[0-9][0-9]-*))
# Chapters whose program exists: those with a main.c.
PROGRAM_DIRS := $(sort $(patsubst %/main.c,%,$(wildcard chapters/[0-9][0-9]-*/main.c)))
COMMON_SRC   := $(wildcard common/*.c)
CONCEPT_SRC  := $(filter-out %/main.c,$(wildcard $(addsuffix /*.c,$(CHAPTER_DIRS))))
TEST_SRC     := $(filter-out tests/bench_%,$(wildcard tests/*.c))
# Chapter 12 needs MPI and is built apart (see build/bin/ch12 below): its
# code is neither in the library nor a plain program.
MPI_DIR      := chapters/12-data-parallel
CONCEPT_SRC  := $(filter-out $(MPI_DIR)/%,$(CONCEPT_SRC))
PROGRAM_DIRS := $(filter-out $(MPI_DIR),$(PROGRAM_DIRS))

CPPFLAGS := -D_POSIX_C_SOURCE=200809L -Icommon $(addprefix -I,$(CHAPTER_DIRS))
CPPFLAGS += $(OMP_FLAGS) $(BLAS_CFLAGS)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)

obj       = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
chnum     = ch$(firstword $(subst -, ,$(notdir $(1))))
LIB       := $(BUILD)/libbook.a
PROGRAMS  := $(foreach d,$(PROGRAM_DIRS),$(BUILD)/bin/$(call chnum,$(d)))
TEST_BIN  := $(BUILD)/bin/run_tests

all: $(PROGRAMS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(CHECK_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(call obj,$(COMMON_SRC) $(CONCEPT_SRC))
	@rm -f $@
	$(AR) rcs $@ $^

# build/bin/chNN <- chapters/NN-slug/main.c + the library
define chapter_program
$(BUILD)/bin/$(call chnum,$(1)): $(call obj,$(1)/main.c) $(LIB)
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach d,$(PROGRAM_DIRS),$(eval $(call chapter_program,$(d))))

# build/bin/ch12 <- chapters/12-data-parallel/*.c + the library + MPI, when
# mpicc is there (Debian: openmpi-bin and libopenmpi-dev); without it, make
# skips chapter 12 with a note. MPI's headers count as system headers, so
# -Werror judges the book's code only.
MPICC      ?= mpicc
MPI_CFLAGS := $(patsubst -I%,-isystem %,$(filter -I%,$(shell $(MPICC) --showme:compile 2>/dev/null)))
MPI_LIBS   := $(shell $(MPICC) --showme:link 2>/dev/null)
MPI_SRC    := $(wildcard $(MPI_DIR)/*.c)
CH12       := $(BUILD)/bin/ch12
ifneq ($(MPI_LIBS),)
ifneq ($(wildcard $(MPI_DIR)/main.c),)
PROGRAMS   += $(CH12)
all: $(CH12)
$(call obj,$(MPI_SRC)): CPPFLAGS += $(MPI_CFLAGS)
$(call obj,$(MPI_SRC)): $(BUILD)/switches
$(CH12): $(call obj,$(MPI_SRC)) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(MPI_LIBS) $(LDLIBS)
endif
else
$(info chapter 12 skipped: no MPI (Debian: apt-get install openmpi-bin libopenmpi-dev))
endif

$(TEST_BIN): $(call obj,$(TEST_SRC)) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

# Every object is rebuilt when the switches change (make OMP=0, BLAS=...).
SWITCHES := $(BUILD)/switches
$(SWITCHES): FORCE
	@mkdir -p $(@D)
	@echo '$(OMP_FLAGS) $(BLAS_CFLAGS) $(BLAS_LIBS)' | cmp -s - $@ || \
	    echo '$(OMP_FLAGS) $(BLAS_CFLAGS) $(BLAS_LIBS)' > $@
$(call obj,$(COMMON_SRC) $(CONCEPT_SRC) $(TEST_SRC) tests/bench_main.c \
    $(addsuffix /main.c,$(PROGRAM_DIRS))): $(SWITCHES)
FORCE:

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ------------------------------------------------------------------ targets

deps:                       ## install what is missing (compiler, Check, gnuplot, zlib, ...)
	@sh .ci/install-deps

tour:                       ## the main job: build, run every demo, write figures under out/
	@sh .ci/install-deps build
	@$(MAKE) --no-print-directory all
	@for p in $(PROGRAMS); do \
	    echo; echo "=================== $$p"; \
	    $$p || { echo "$$p failed" >&2; exit 1; }; \
	done
	@echo; echo "Figures written (each with its .dat and .gp beside it):"
	@find out -name '*.png' -o -name '*.svg' 2>/dev/null | sort | sed 's/^/  /'

# Chapter 11's shipped model: the full recipe with seed 1, resumed if a
# run was stopped (Ctrl-C writes a checkpoint), then the best model copied.
G2P_RUN := $(BUILD)/g2p-full
g2p-model:                  ## chapter 11: remake data/ch11_g2p.npz (full recipe, seed 1; about 70 minutes on 2 cores)
	@$(MAKE) --no-print-directory $(BUILD)/bin/ch11
	@if [ -f $(G2P_RUN)/g2p.npz ]; then \
	    $(BUILD)/bin/ch11 train --resume --checkpoint $(G2P_RUN)/g2p.npz --out $(G2P_RUN); \
	else \
	    $(BUILD)/bin/ch11 train --recipe full --seed 1 --out $(G2P_RUN); \
	fi
	cp $(G2P_RUN)/g2p_best.npz data/ch11_g2p.npz
	$(BUILD)/bin/ch11 eval --model data/ch11_g2p.npz

test: deps                  ## run every test suite (Check), non-zero exit on failure
	@$(MAKE) --no-print-directory $(TEST_BIN) $(PROGRAMS)
	BIN_DIR=$(BUILD)/bin $(TEST_BIN)

SAN := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
sanitize: deps              ## the tests under AddressSanitizer and UndefinedBehaviorSanitizer
	@$(MAKE) --no-print-directory BUILD=build/sanitize CFLAGS="$(SAN)" LDFLAGS="$(SAN)" all build/sanitize/bin/run_tests
	BIN_DIR=build/sanitize/bin ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build/sanitize/bin/run_tests

fixtures:                   ## regenerate tests/fixtures (python3-numpy, python3-torch; PYTHON=...)
	cd tests/fixtures && for s in make_*.py; do $(PYTHON) $$s || exit 1; done

# ------------------------------------------------------------------ hostile input
# libFuzzer targets for the readers of untrusted files and for option
# parsing (tests/fuzz/fuzz_*.c), built with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer into build/fuzz/. Each runs FUZZ_SECONDS from
# its committed seeds (tests/fuzz/corpus/NAME), keeping what it discovers in
# build/fuzz/corpus/NAME; a crash fails, leaving build/fuzz/NAME-crash-*.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := npy npz model checkpoint cli lexicon
FUZZ_DIR     := build/fuzz
FUZZ_CFLAGS  := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
                -fno-sanitize-recover=all -fsanitize=fuzzer-no-link

# (inside the sub-make below: BUILD=build/fuzz, CC=clang, CFLAGS=FUZZ_CFLAGS)
$(BUILD)/fuzz_cli: tests/fuzz/fuzz_cli.c common/cli.c $(LIB)   # cli.c with exit() jumping back
	$(CC) $(WARN) $(CFLAGS) -fsanitize=fuzzer $(CPPFLAGS) -Dexit=fuzz_exit -o $@ $^ $(LDLIBS)
$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_file.h $(LIB)
	$(CC) $(WARN) $(CFLAGS) -fsanitize=fuzzer $(CPPFLAGS) -Itests/fuzz -o $@ $< $(LIB) $(LDLIBS)
$(BUILD)/make_seeds: tests/fuzz/make_seeds.c tests/fuzz/fuzz_file.h $(LIB)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -Itests/fuzz -o $@ $< $(LIB) $(LDLIBS)

fuzz:                       ## libFuzzer on the .npy, .npz, model, checkpoint and dictionary readers and the options (FUZZ_SECONDS=30 each)
	@command -v clang >/dev/null || { echo "make fuzz: needs clang (Debian: apt-get install clang)" >&2; exit 1; }
	@$(MAKE) --no-print-directory CC=clang OMP=0 BUILD=$(FUZZ_DIR) CFLAGS="$(FUZZ_CFLAGS)" \
	    $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_TARGETS)) $(FUZZ_DIR)/make_seeds
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_DIR)/corpus/$$t; \
	    $(FUZZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ_DIR)/$$t- $(FUZZ_DIR)/corpus/$$t tests/fuzz/corpus/$$t \
	        > $(FUZZ_DIR)/$$t.log 2>&1 || { tail -60 $(FUZZ_DIR)/$$t.log; echo "fuzz_$$t: failed" >&2; exit 1; }; \
	    printf 'fuzz_%-11s %9s inputs run in %s s, %s kept in %s, no crash\n' $$t \
	        $$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_DIR)/$$t.log) $(FUZZ_SECONDS) \
	        $$(ls $(FUZZ_DIR)/corpus/$$t | wc -l) $(FUZZ_DIR)/corpus/$$t; \
	done

# Every chapter's demo under valgrind's memcheck: an error, or a byte
# definitely lost, fails. Chapter 10's demo takes 20 s natively and far
# longer here (valgrind emulates the matrix multiply's FMA instructions in
# software), so it is replaced by what covers the same code in seconds: a
# small training run with its figures, its --resume, and the file mode.
# Chapter 11's training under valgrind: ten words (a step of the real
# dictionary's 128 pairs takes minutes there).
VG_DICT  := tests/fixtures/g2p_tiny.txt
VALGRIND := valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
            --show-leak-kinds=definite
VG_OUT   := $(BUILD)/valgrind
VG_CH10  := --task copy --d-model 16 --d-ff 32 --layers 1 --batch 4 --test 10 --out $(VG_OUT)/ch10
VG_FILES := --params tests/fixtures/ch10_post_model.npz --src tests/fixtures/ch10_post_src.npy \
            --tgt tests/fixtures/ch10_post_tgt.npy --tgt-out tests/fixtures/ch10_post_tgt_out.npy
valgrind:                   ## every demo under valgrind memcheck: 0 errors, 0 bytes definitely lost
	@command -v valgrind >/dev/null || { echo "make valgrind: needs valgrind (Debian: apt-get install valgrind)" >&2; exit 1; }
	@$(MAKE) --no-print-directory $(PROGRAMS)
	@rm -rf $(VG_OUT) && mkdir -p $(VG_OUT)
	@export OMP_NUM_THREADS=1; \
	for p in $(filter-out %/ch10 %/ch11 %/ch12,$(PROGRAMS)); do \
	    n=$$(basename $$p); echo "valgrind $$n (demo)"; \
	    $(VALGRIND) $$p --out $(VG_OUT)/$$n > $(VG_OUT)/$$n.log || { echo "$$n: memcheck failed" >&2; exit 1; }; \
	done; \
	echo "valgrind ch10 (a short run, --resume, file mode)"; \
	$(VALGRIND) $(BUILD)/bin/ch10 $(VG_CH10) --steps 10 --eval-every 5 > $(VG_OUT)/ch10.log && \
	$(VALGRIND) $(BUILD)/bin/ch10 --resume --checkpoint $(VG_OUT)/ch10/copy.npz --steps 14 \
	    --test 10 --plot none --out $(VG_OUT)/ch10 >> $(VG_OUT)/ch10.log && \
	$(VALGRIND) $(BUILD)/bin/ch10 $(VG_FILES) --steps 3 --lr 0.01 --grads $(VG_OUT)/ch10/g.npz \
	    --params-out $(VG_OUT)/ch10/p.npz --plot png --out $(VG_OUT)/ch10 >> $(VG_OUT)/ch10.log || \
	    { echo "ch10: memcheck failed" >&2; exit 1; }
	@export OMP_NUM_THREADS=1; echo "valgrind ch11 (predict, show, eval on 10 words; 3 training steps on ten words, --resume)"; \
	$(VALGRIND) $(BUILD)/bin/ch11 predict KNIGHT PHOTOGRAPH > $(VG_OUT)/ch11.log && \
	$(VALGRIND) $(BUILD)/bin/ch11 show --beam 3 --out $(VG_OUT)/ch11 TAXI >> $(VG_OUT)/ch11.log && \
	$(VALGRIND) $(BUILD)/bin/ch11 eval --words 10 --beam 2 >> $(VG_OUT)/ch11.log && \
	$(VALGRIND) $(BUILD)/bin/ch11 train --dict $(VG_DICT) --steps 2 --eval-every 2 --plot none \
	    --out $(VG_OUT)/ch11 >> $(VG_OUT)/ch11.log && \
	$(VALGRIND) $(BUILD)/bin/ch11 train --resume --checkpoint $(VG_OUT)/ch11/g2p.npz --dict $(VG_DICT) \
	    --steps 3 --plot none --out $(VG_OUT)/ch11 >> $(VG_OUT)/ch11.log || \
	    { echo "ch11: memcheck failed" >&2; exit 1; }
	@echo "valgrind: no memory errors, nothing definitely lost"

# build/bin/bench <- tests/bench_main.c + the library, and OpenBLAS for its
# columns when pkg-config finds it; tests/bench_torch.py is its PyTorch twin.
BENCH_BIN  := $(BUILD)/bin/bench
BENCH_BLAS  = $(shell pkg-config --exists openblas 2>/dev/null && echo yes)
$(call obj,tests/bench_main.c): CPPFLAGS += $(if $(BENCH_BLAS),-DBENCH_OPENBLAS $(shell pkg-config --cflags openblas))
$(BENCH_BIN): $(call obj,tests/bench_main.c) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(if $(BENCH_BLAS),$(shell pkg-config --libs openblas)) $(LDLIBS)

bench:                      ## matmul GFLOP/s, training-step speed; OpenBLAS, PyTorch beside
	@$(MAKE) --no-print-directory $(BENCH_BIN)
	@py=$$(for p in $(PYTHON) /usr/bin/python3; do $$p -c 'import torch' 2>/dev/null && { echo $$p; break; }; done); \
	$(BENCH_BIN) $${py:+--torch "$$py tests/bench_torch.py"}

bench-mpi:                  ## chapter 12: tokens/s on 1 and 2 MPI ranks, and the scaling efficiency
	@test -n "$(MPI_LIBS)" || { echo "bench-mpi: needs MPI (Debian: apt-get install openmpi-bin libopenmpi-dev)" >&2; exit 1; }
	@$(MAKE) --no-print-directory $(CH12)
	@sh $(MPI_DIR)/bench.sh $(CH12)

# ------------------------------------------------------------------ the book
# A chapter is in the book once its header opens its Doxygen group
# (\defgroup api_chNN): its page, its figures and its API then go in.
# docs/bookpage.c turns the pages into Doxygen input (formulas, \snippet,
# figures, links); docs/Doxyfile fails on any warning.
DOCS      := $(BUILD)/docs
BOOK_DIRS  = $(sort $(patsubst %/,%,$(dir $(shell grep -l 'defgroup api_ch' chapters/*/*.h))))
MATHJAX   ?= /usr/share/javascript/mathjax

$(DOCS)/bookpage: docs/bookpage.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -D_POSIX_C_SOURCE=200809L -o $@ $<

docs:                       ## the book and its API (Doxygen) in build/docs/html; a warning fails
	@sh .ci/install-deps docs
	@for h in common/*.h $(addsuffix /*.h,$(BOOK_DIRS)); do grep -q '\\file' $$h || \
	    { echo "$$h: no Doxygen file comment, so Doxygen would skip it without a warning" >&2; exit 1; }; done
	@$(MAKE) --no-print-directory $(DOCS)/bookpage $(foreach d,$(BOOK_DIRS),$(BUILD)/bin/$(call chnum,$(d)))
	@rm -rf $(DOCS)/pages $(DOCS)/figures $(DOCS)/html && mkdir -p $(DOCS)/pages/images $(DOCS)/figures
	@for d in $(BOOK_DIRS); do n=ch$$(basename $$d | cut -c1-2); \
	    $(BUILD)/bin/$$n --plot png --out $(DOCS)/figures/$$n > $(DOCS)/figures/$$n.log || exit 1; \
	done
	$(DOCS)/bookpage $(DOCS)/pages $(DOCS)/figures README.md $(addsuffix /README.md,$(BOOK_DIRS))
	DOCS_OUT=$(DOCS) BOOK_DIRS="$(BOOK_DIRS)" doxygen docs/Doxyfile
	@mkdir -p $(DOCS)/html/mathjax
	@cp -RL $(addprefix $(MATHJAX)/,MathJax.js config extensions fonts jax localization) $(DOCS)/html/mathjax/
	@echo "The book: $(DOCS)/html/index.html"

# ------------------------------------------------------------------ the notebooks
# notebooks-c/NN-name.c: C programs written in cells (notebooks-c/notebook.h).
# Each is built twice: as written (it must compile on its own), and with a
# marker at every cell for docs/nbrender.c, which splits the run's output
# by cell and renders NN-name.ipynb, NN-name.md and NN-name_files/.
NOTEBOOKS := $(notdir $(basename $(wildcard notebooks-c/[0-9][0-9]-*.c)))
NBB       := $(BUILD)/notebooks
NB_OBJ    := $(call obj,notebooks-c/notebook.c)

$(DOCS)/nbrender: docs/nbrender.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -D_POSIX_C_SOURCE=200809L -o $@ $<

$(NBB)/%/plain: notebooks-c/%.c $(NB_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -Inotebooks-c -o $@ $^ $(LDLIBS)

$(NBB)/%/cells.c: notebooks-c/%.c $(DOCS)/nbrender
	@mkdir -p $(@D)
	$(DOCS)/nbrender instrument $< $@

$(NBB)/%/cells: $(NBB)/%/cells.c $(NB_OBJ) $(LIB)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -Inotebooks-c -o $@ $^ $(LDLIBS)

.SECONDARY: $(NB_OBJ) $(foreach n,$(NOTEBOOKS),$(NBB)/$(n)/cells.c)

# Runs every notebook and renders it into build/notebooks/render/.
notebooks-render:
	@sh .ci/install-deps build
	@$(MAKE) --no-print-directory $(DOCS)/nbrender $(foreach n,$(NOTEBOOKS),$(NBB)/$(n)/plain $(NBB)/$(n)/cells)
	@rm -rf $(NBB)/render && mkdir -p $(NBB)/render
	@for n in $(NOTEBOOKS); do \
	    echo "notebook $$n"; \
	    rm -rf $(NBB)/$$n/figures && mkdir -p $(NBB)/render/$${n}_files; \
	    NB_OUT=$(NBB)/$$n/figures $(NBB)/$$n/cells > $(NBB)/$$n/output.txt || exit 1; \
	    $(DOCS)/nbrender render notebooks-c/$$n.c $(NBB)/$$n/output.txt $(NBB)/$$n/figures $(NBB)/render || exit 1; \
	    rmdir $(NBB)/render/$${n}_files 2>/dev/null || true; \
	done

notebooks: notebooks-render ## run notebooks-c/*.c, write each one's .ipynb, .md and figures beside it
	@for n in $(NOTEBOOKS); do rm -rf notebooks-c/$${n}_files; done
	cp -R $(NBB)/render/. notebooks-c/

notebooks-check: notebooks-render ## fail if the committed notebooks differ from what make notebooks writes
	@diff -r -x '*.c' -x '*.h' $(NBB)/render notebooks-c > $(NBB)/check.diff || \
	    { cat $(NBB)/check.diff | head -20; echo "notebooks-c/ is not up to date: run make notebooks" >&2; exit 1; }
	@echo "notebooks-c/: $(words $(NOTEBOOKS)) notebooks, up to date"

clean:                      ## remove build/ (figures in out/ stay)
	rm -rf $(BUILD)

distclean: clean            ## remove build/ and out/
	rm -rf out

help:                       ## this list
	@echo "Targets:"
	@grep -E '^[a-z0-9-]+:.*## ' Makefile | sed 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-16s %s\n", $$1, $$2}'
	@echo "Chapter programs (run with --help for options):"
	@for d in $(PROGRAM_DIRS); do echo "  $(BUILD)/bin/ch$$(basename $$d | cut -c1-2)   $$d"; done
	@echo "Variables: CC=gcc|clang  OPT=-O2  OMP=0 (no OpenMP)  BLAS=openblas (mat_mul calls OpenBLAS)"

.PHONY: all deps tour g2p-model test sanitize fixtures fuzz valgrind bench bench-mpi docs notebooks notebooks-render notebooks-check clean distclean help FORCE
