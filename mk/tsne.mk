# tsne: benchmark against scikit-learn (needs python3-sklearn; minutes, not part of check).
#   make bench-tsne [BENCH_TSNE_DIR=/tmp/x]
BENCH_TSNE_DIR ?= build/bench-tsne
bench-tsne: all
	bench/tsne-bench.sh $(BENCH_TSNE_DIR)
.PHONY: bench-tsne
