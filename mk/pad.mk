# pad.mk - domain-distance: the proxy A-distance.
# liblinear: the linear SVMs (Debian ships no pkg-config file for it, hence -llinear here);
# liblinear-tools: its train/predict programs, the independent check of tests/domain-distance.bats.
APT_PKGS += liblinear-dev liblinear-tools
LDLIBS_ALL += -llinear

# make bench-pad: domain-distance on 2,000 x 768 (bench/pad-bench.sh; PAD_BENCH_INPUTS=files).
bench-pad: all
	bench/pad-bench.sh 5 $(PAD_BENCH_INPUTS)
.PHONY: bench-pad
