# DANN toolkit - one non-recursive GNU Makefile.
#   make            build every tool into bin/
#   make check      install missing packages, build, run every test
#   make experiment install missing packages, build, run the main pipeline (pipelines/)
#   make install    PREFIX=/usr/local DESTDIR=
#   make SANITIZE=1 ... build with AddressSanitizer + UBSan (objects in build/san)
#   make check-aarch64  cross-build for 64-bit ARM, run the unit tests under qemu-user (mk/aarch64.mk)
.DELETE_ON_ERROR:
.SUFFIXES:

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PYTHON  ?= /usr/bin/python3
SHARED  ?= $(abspath ../shared)
export PYTHON SHARED
# OpenMP threads that wait passively: on a busy machine, spinning threads cost the tools up to
# 4x in wall time (measured: 2-thread training 305 -> 1151 images/s at load ~10).
OMP_WAIT_POLICY ?= passive
export OMP_WAIT_POLICY

# System libraries, all found with pkg-config (see README "Dependencies" for why each).
PKGS := zlib libpng libjpeg libcurl libgif openblas libarchive fftw3f
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# No -march=native: the binary runs on any x86-64; the hot kernels are compiled per
# instruction set (mk/kern.mk) and chosen at run time (lib/net/kern.h).
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN    := -Wall -Wextra -Wno-unused-parameter
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) -fopenmp -MMD -MP -Ilib $(PKG_CFLAGS) $(CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lm -fopenmp

ifeq ($(SANITIZE),1)
BUILD   := build/san
BIN     := build/san/bin
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDLIBS_ALL += -fsanitize=address,undefined
else
BUILD   := build/rel
BIN     := bin
endif
BIN_ABS := $(abspath $(BIN))
export BIN_ABS

LIB_SRC   := $(sort $(wildcard lib/*/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIBA      := $(BUILD)/libdann.a
TOOL_SRC  := $(sort $(wildcard tools/*.c))
TOOLS     := $(TOOL_SRC:tools/%.c=$(BIN)/%)
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNITS     := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
MAN1      := $(sort $(wildcard man/*.1))
MAN5      := $(sort $(wildcard man/*.5))
BATS      := $(sort $(wildcard tests/*.bats))
# The tools' and unit tests' objects are intermediates of the link rules: keep them.  Only
# these: a target make treats as secondary is not remade when deleted, and a user who deletes
# a pipeline's model or results must see make rebuild it.
.SECONDARY: $(TOOL_SRC:%.c=$(BUILD)/%.o) $(UNIT_SRC:%.c=$(BUILD)/%.o)

all: $(TOOLS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BIN)/%: $(BUILD)/tools/%.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBA) $(LDLIBS_ALL)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBA) $(LDLIBS_ALL)

# --- system packages ---------------------------------------------------------------------
# One list for build, tests, benchmarks and pipelines.  Installed with apt-get when missing and
# root; otherwise the exact command is printed and make stops.  tests/deps.bats fails when a
# program or Python module the project uses comes from no package of the merged list.
#   build: gcc make pkg-config and the -dev libraries;  tests: bats parallel (Bats files side
#   by side) python3 python3-numpy
#   python3-pil (test images) man-db groff-base (man pages);  downloads: ca-certificates;
#   make valgrind: valgrind;  the PyTorch cross-check (a test) and
#   benchmarks: python3-torch;  bench-tsne: python3-sklearn dataset-fashion-mnist (held-out
#   sets for the 10-NN preservation);  tests/same-outputs.sh (two commits
#   side by side): git
APT_PKGS := gcc make pkg-config zlib1g-dev libpng-dev libjpeg62-turbo-dev libcurl4-openssl-dev \
	libgif-dev libopenblas-dev bats python3 python3-numpy python3-pil man-db groff-base \
	ca-certificates valgrind python3-torch python3-sklearn dataset-fashion-mnist parallel git
deps:
	@missing=$$(for p in $(APT_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "deps: missing packages:" $$missing >&2; \
	if [ "$$(id -u)" = 0 ]; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	else \
		echo "deps: run: sudo apt-get install -y $$missing" >&2; exit 1; \
	fi

# The merged list, one package a line (this Makefile's and every fragment's APT_PKGS +=):
# tests/deps.bats checks that it covers every program and Python module the project uses.
print-deps:
	@printf '%s\n' $(sort $(APT_PKGS))

# --- tests --------------------------------------------------------------------------------
# make check = every test on the normal build, then again under ASan + UBSan, less
# what the sanitizer pass would only repeat slowly: the end-to-end pipelines, the PyTorch
# cross-check and the fuzz replay (whose harnesses are ASan builds already).
SAN_SKIP := tests/pipeline-demo.bats tests/pipeline-paper.bats tests/torch-crosscheck.bats tests/fuzz-regress.bats
check: deps
	@$(MAKE) --no-print-directory test
	@$(MAKE) --no-print-directory test SANITIZE=1 BATS_SKIP="$(SAN_SKIP)"

# The tests see no trace of how make was called (-s, -n, -j, variables on the command line):
# tests that run make must behave the same under `make -s check` as under `make check`.
test: all $(UNITS)
	@env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES tests/run.sh $(UNITS) -- \
		$(filter-out $(BATS_SKIP),$(BATS))

# --- install --------------------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	$(if $(MAN1),install -m 644 $(MAN1) $(DESTDIR)$(PREFIX)/share/man/man1/)
	$(if $(MAN5),install -m 644 $(MAN5) $(DESTDIR)$(PREFIX)/share/man/man5/)

clean:
	rm -rf build bin

.PHONY: all deps print-deps check test install clean

# Fragments: mk/*.mk (bench, fuzz, ...) and pipelines/*.mk (experiment, demo, paper).
-include $(sort $(wildcard mk/*.mk))
-include $(sort $(wildcard pipelines/*.mk))
-include $(LIB_OBJ:.o=.d) $(TOOL_SRC:%.c=$(BUILD)/%.d) $(UNIT_SRC:%.c=$(BUILD)/%.d)
