# mnistm-gen: benchmark target; /usr/bin/time (Debian package `time`) reports its peak RSS.
APT_PKGS += time
bench-mnistm: all
	bash bench/mnistm-bench.sh $(RUNS)
.PHONY: bench-mnistm
