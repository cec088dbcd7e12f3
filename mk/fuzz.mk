# fuzz.mk - libFuzzer harnesses for every parser.
#   make fuzz                 build every tests/fuzz/fuzz_*.c and fuzz each for FUZZ_SECONDS
#   make fuzz FUZZ_ONLY=npy   just one harness
#   make fuzz-regress         replay every seed + crash input once through its harness (fast;
#                             run by tests/fuzz-regress.bats inside `make check`)
# Harnesses are built with clang, libFuzzer, ASan and UBSan into build/fuzz, from their own
# copy of lib/ (instrumented for coverage), independent of SANITIZE.
# New corpus entries found while fuzzing go to build/fuzz/corpus/<name> (not the source tree);
# crash inputs land in build/fuzz/crash/<name>: copy each into tests/fuzz/regress/<name>/.
APT_PKGS += clang libclang-rt-14-dev libomp-14-dev

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_ARGS    ?=
FUZZ_ONLY    ?=
FUZZ_DIR     := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS   = -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Wno-unused-parameter -Wno-pass-failed -fopenmp \
	-Ilib $(PKG_CFLAGS) $(FUZZ_SAN)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_DIR)/%.o)
FUZZ_LIBA    := $(FUZZ_DIR)/libdann-fuzz.a
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES   := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_RUN     := $(if $(FUZZ_ONLY),$(FUZZ_ONLY),$(FUZZ_NAMES))
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%)
# Single thread: the fuzzer wants determinism and the machine is shared.
FUZZ_ENV     := OMP_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

$(FUZZ_DIR)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_LIBA): $(FUZZ_LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_LIBA)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIBA) $(PKG_LIBS) -lm

fuzz-build: $(FUZZ_BINS)

# Fuzz each harness in turn for FUZZ_SECONDS, starting from its seeds and regressions; print
# the execution count libFuzzer reports.  Stops at the first crash (the input is saved).
fuzz: fuzz-build
	@set -e; for n in $(FUZZ_RUN); do \
		mkdir -p $(FUZZ_DIR)/corpus/$$n $(FUZZ_DIR)/crash/$$n; \
		dict=; [ -f tests/fuzz/$$n.dict ] && dict=-dict=tests/fuzz/$$n.dict; \
		echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
		$(FUZZ_ENV) $(FUZZ_DIR)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-timeout=10 -rss_limit_mb=4096 -artifact_prefix=$(FUZZ_DIR)/crash/$$n/ $$dict \
			$(FUZZ_ARGS) \
			$(FUZZ_DIR)/corpus/$$n tests/fuzz/corpus/$$n tests/fuzz/regress/$$n \
			> $(FUZZ_DIR)/$$n.log 2>&1 || { tail -n 60 $(FUZZ_DIR)/$$n.log; \
			echo "fuzz: $$n FAILED; crash input in $(FUZZ_DIR)/crash/$$n/"; exit 1; }; \
		grep -E '^stat::number_of_executed_units' $(FUZZ_DIR)/$$n.log | sed "s/^/fuzz: $$n: /"; \
	done

# Every stored input, once, through its harness: a crash, leak or UB fails the target.
fuzz-regress: fuzz-build
	@set -e; for n in $(FUZZ_NAMES); do \
		files=$$(find tests/fuzz/corpus/$$n tests/fuzz/regress/$$n -type f ! -name '.*' 2>/dev/null | sort); \
		[ -n "$$files" ] || { echo "fuzz-regress: $$n: no inputs"; exit 1; }; \
		if $(FUZZ_ENV) $(FUZZ_DIR)/fuzz_$$n -timeout=10 $$files > $(FUZZ_DIR)/$$n.regress.log 2>&1; then \
			echo "fuzz-regress: $$n: $$(echo "$$files" | wc -l) inputs ok"; \
		else tail -n 60 $(FUZZ_DIR)/$$n.regress.log; echo "fuzz-regress: $$n FAILED"; exit 1; fi; \
	done

.PHONY: fuzz fuzz-build fuzz-regress
-include $(FUZZ_LIB_OBJ:.o=.d)

# --- valgrind -------------------------------------------------------------------------------
#   make valgrind   a small run of every built tool (success and a failure each) under
#                   valgrind --leak-check=full; any error or leak fails.  Tools are rebuilt
#                   without -march=native into build/vg (valgrind does not know AVX-512).
#                   VALGRIND_ONLY="tool ..." runs just those.
VG_DIR      := build/vg
VG_CFLAGS    = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -fopenmp -Ilib \
	$(PKG_CFLAGS) -O1 -g
VG_LIB_OBJ  := $(LIB_SRC:%.c=$(VG_DIR)/%.o)
VG_TOOLS    := $(TOOL_SRC:tools/%.c=$(VG_DIR)/bin/%)
.SECONDARY: $(TOOL_SRC:%.c=$(VG_DIR)/%.o)

$(VG_DIR)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(VG_CFLAGS) -MMD -MP -c -o $@ $<

$(VG_DIR)/libdann.a: $(VG_LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(VG_DIR)/bin/%: $(VG_DIR)/tools/%.o $(VG_DIR)/libdann.a
	@mkdir -p $(@D)
	$(CC) $(VG_CFLAGS) -o $@ $< $(VG_DIR)/libdann.a $(LDLIBS_ALL)

valgrind: $(VG_TOOLS)
	@command -v valgrind >/dev/null || { echo "valgrind: not installed (apt-get install valgrind)"; exit 1; }
	tests/fuzz/valgrind-tools.sh $(abspath $(VG_DIR)/bin) $(VALGRIND_ONLY)

.PHONY: valgrind
-include $(VG_LIB_OBJ:.o=.d) $(TOOL_SRC:%.c=$(VG_DIR)/%.d)
.PRECIOUS: $(VG_DIR)/tools/%.o
