# nn.mk - benchmarks of the network code (not part of `make check`).
#   make bench-nn        training and inference images/s (bench/train-bench.sh)
#   make accuracy-nn     dann-train accuracy over seeds (long; RECIPE, MODES, BN, SEEDS, EPOCHS, TORCH=1:
#                        see bench/nn-accuracy.sh)
bench-nn: all
	bench/train-bench.sh $(THREADS)

accuracy-nn: all
	bench/nn-accuracy.sh

.PHONY: bench-nn accuracy-nn
