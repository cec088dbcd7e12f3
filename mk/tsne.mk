# tsne: FFTW for --method fft (the repulsive forces by FFT convolution on a grid).
APT_PKGS += libfftw3-dev
# Benchmark against scikit-learn (python3-sklearn; minutes, not part of check).
#   make bench-tsne [BENCH_TSNE_DIR=/tmp/x]
APT_PKGS += python3-sklearn
BENCH_TSNE_DIR ?= build/bench-tsne
bench-tsne: all $(BUILD)/bench/tsne_repulsion $(BUILD)/bench/tsne_knn
	bench/tsne-bench.sh $(BENCH_TSNE_DIR)
.PHONY: bench-tsne
# One repulsion evaluation, bh against fft (the measurement behind TSNE_FFT_BOXES2_PER_POINT).
$(BUILD)/bench/tsne_repulsion: bench/tsne_repulsion.c $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBA) $(LDLIBS_ALL)
# Approximate against exact k-NN: time and recall (the measurement behind TSNE_ANN_MIN_N).
$(BUILD)/bench/tsne_knn: bench/tsne_knn.c $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBA) $(LDLIBS_ALL)
