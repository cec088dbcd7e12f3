# kern.mk - per-file instruction-set flags for the kernels.
# lib/net/kern_simd.h is compiled three times into one binary; lib/net/kern.c picks the fastest the CPU
# runs (__builtin_cpu_supports), DANN_ISA=generic|avx2|avx512 forces one.  Everything else is
# built for baseline x86-64 (OPT in the Makefile has no -march=native).
KERN_AVX2_FLAGS   := -mavx2 -mfma
KERN_AVX512_FLAGS := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma
ifneq ($(filter x86_64 i%86,$(shell $(CC) -dumpmachine 2>/dev/null | cut -d- -f1)),)
$(BUILD)/lib/net/kern_avx2.o: ALL_CFLAGS += $(KERN_AVX2_FLAGS)
$(BUILD)/lib/net/kern_avx512.o: ALL_CFLAGS += $(KERN_AVX512_FLAGS)
# the valgrind build (mk/fuzz.mk): AVX2 too (valgrind runs it; it reports no AVX-512 to the
# program, so the dispatch never picks that path under it)
build/vg/lib/net/kern_avx2.o: VG_CFLAGS += $(KERN_AVX2_FLAGS)
endif
