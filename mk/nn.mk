# nn.mk - benchmarks of the network code (not part of `make check`).
#   make bench-nn        training and inference images/s (bench/train-bench.sh)
#   make accuracy-nn     source-only and DANN on noise MNIST-M (long; EPOCHS=15 SEEDS="1 2 3")
bench-nn: all
	bench/train-bench.sh $(THREADS)

accuracy-nn: all
	bench/nn-accuracy.sh

.PHONY: bench-nn accuracy-nn
