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

CHAPTER_DIRS := $(sort $(wildcard chapters/[0-9][0-9]-*))
# Chapters whose program exists: those with a main.c.
PROGRAM_DIRS := $(sort $(patsubst %/main.c,%,$(wildcard chapters/[0-9][0-9]-*/main.c)))
COMMON_SRC   := $(wildcard common/*.c)
CONCEPT_SRC  := $(filter-out %/main.c,$(wildcard $(addsuffix /*.c,$(CHAPTER_DIRS))))
TEST_SRC     := $(wildcard tests/*.c)

CPPFLAGS := -D_POSIX_C_SOURCE=200809L -Icommon $(addprefix -I,$(CHAPTER_DIRS))
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

$(TEST_BIN): $(call obj,$(TEST_SRC)) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

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

test: deps                  ## run every test suite (Check), non-zero exit on failure
	@$(MAKE) --no-print-directory $(TEST_BIN) $(PROGRAMS)
	BIN_DIR=$(BUILD)/bin $(TEST_BIN)

SAN := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
sanitize: deps              ## the tests under AddressSanitizer and UndefinedBehaviorSanitizer
	@$(MAKE) --no-print-directory BUILD=build/sanitize CFLAGS="$(SAN)" LDFLAGS="$(SAN)" all build/sanitize/bin/run_tests
	BIN_DIR=build/sanitize/bin ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build/sanitize/bin/run_tests

fixtures:                   ## regenerate tests/fixtures (python3-numpy, python3-torch; PYTHON=...)
	cd tests/fixtures && for s in make_*.py; do $(PYTHON) $$s || exit 1; done

clean:                      ## remove build/ (figures in out/ stay)
	rm -rf $(BUILD)

distclean: clean            ## remove build/ and out/
	rm -rf out

help:                       ## this list
	@echo "Targets:"
	@grep -E '^[a-z]+:.*## ' Makefile | sed 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-11s %s\n", $$1, $$2}'
	@echo "Chapter programs (run with --help for options):"
	@for d in $(PROGRAM_DIRS); do echo "  $(BUILD)/bin/ch$$(basename $$d | cut -c1-2)   $$d"; done
	@echo "Variables: CC=gcc|clang  OPT=-O2"

.PHONY: all deps tour test sanitize fixtures clean distclean help
