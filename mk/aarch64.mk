# aarch64.mk - the portable path on 64-bit ARM: the library and the C unit tests cross-built with
# Debian's aarch64 compiler and run under qemu-user.  Not part of `make check`: on the 2-core
# machine it was measured on, busy, the build took 1 minute and the emulated tests 4 (2 of CPU),
# the first install 2 more, and it adds a foreign architecture to dpkg.
#   make deps-aarch64   install the cross compiler, qemu-user and the arm64 -dev libraries
#                       (Debian multiarch: adds the arm64 architecture to dpkg; root)
#   make check-aarch64  cross-build into build/aarch64, run every unit test under qemu-aarch64,
#                       end with "tests: N passed, M failed"
# The x86 kernels compile out there (mk/kern.mk adds their -m flags only for an x86 $(CC); the
# dispatch in lib/net/kern.c then has only the generic path, which GCC vectorises with NEON at
# -O2 as it does with SSE2 on x86-64).  Emulated, the tests run tens of times slower (the time is
# floating-point work: test_nn's whole-network gradient checks, test_nn_isa's training runs), so
# they run with DANN_TEST_QUICK=1: those two check fewer points and steps and say so in their
# output.  OpenMP threads wait passively (OMP_WAIT_POLICY, exported by the Makefile): a spinning
# emulated thread takes a core from the one doing the work.
AARCH64_TRIPLET := aarch64-linux-gnu
AARCH64_CC      := $(AARCH64_TRIPLET)-gcc
AARCH64_QEMU    := qemu-aarch64
AARCH64_BUILD   := build/aarch64
# The libraries the library links (the Makefile's PKGS, pad.mk's liblinear) as their -dev packages
# of the merged deps list, less the fuzzers' clang runtime; libgomp1: -fopenmp's, at run time.
# Expanded when used: the fragments after this one add to APT_PKGS.
AARCH64_NOT_DEV  := libclang-rt-14-dev libomp-14-dev
AARCH64_LIB_PKGS  = $(filter-out $(AARCH64_NOT_DEV),$(filter %-dev,$(APT_PKGS))) libgomp1
AARCH64_APT_PKGS  = gcc-$(AARCH64_TRIPLET) qemu-user $(AARCH64_LIB_PKGS:%=%:arm64)
AARCH64_PKG_CONFIG_LIBDIR := /usr/lib/$(AARCH64_TRIPLET)/pkgconfig:/usr/share/pkgconfig

# dpkg must know the arm64 architecture before apt-get can install its packages; the rest is
# `make deps` with this list.
deps-aarch64:
	@dpkg --print-foreign-architectures | grep -qx arm64 || \
	if [ "$$(id -u)" = 0 ]; then dpkg --add-architecture arm64; \
	else echo "deps-aarch64: run: sudo dpkg --add-architecture arm64" >&2; exit 1; fi
	@$(MAKE) --no-print-directory deps APT_PKGS="$(AARCH64_APT_PKGS)"

# The list, one package a line (tests/deps.bats checks mk/aarch64.mk against it).
print-deps-aarch64:
	@printf '%s\n' $(sort $(AARCH64_APT_PKGS))

# The same Makefile rules with the cross compiler, pkg-config reading the arm64 .pc files.
AARCH64_MAKE = env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
	PKG_CONFIG_LIBDIR=$(AARCH64_PKG_CONFIG_LIBDIR) $(MAKE) --no-print-directory \
	CC=$(AARCH64_CC) BUILD=$(AARCH64_BUILD) BIN=$(AARCH64_BUILD)/bin

build-aarch64: deps-aarch64
	@$(AARCH64_MAKE) -j2 $(UNIT_SRC:tests/unit/%.c=$(AARCH64_BUILD)/tests/%)

check-aarch64: build-aarch64
	@DANN_TEST_QUICK=1 TEST_RUNNER=$(AARCH64_QEMU) tests/run.sh \
		$(UNIT_SRC:tests/unit/%.c=$(AARCH64_BUILD)/tests/%) --

.PHONY: deps-aarch64 print-deps-aarch64 build-aarch64 check-aarch64
