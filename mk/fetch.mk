# mnist-fetch: extra package and benchmark.
# Fashion-MNIST for `mnist-fetch --dataset fashion-mnist` (a default local source) and its test.
APT_PKGS += dataset-fashion-mnist
# The published MNIST-M comes as mnist_m.tar.gz (read with libarchive, lib/data/published.c); the
# fixtures of its tests are written with PIL (tests/fetch-fixture.py).
APT_PKGS += libarchive-dev python3-pil

# Decode the full train split from a warm cache and write it to a file, five times.
# The first run fills a scratch cache from the local mirror $(SHARED)/data/mnist.
bench-fetch: $(BIN)/mnist-fetch
	@d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && \
	MNIST_MIRROR=$(SHARED)/data/mnist $(BIN)/mnist-fetch -q --offline --cache "$$d/c" --split train -o "$$d/warmup.npy" && \
	for i in 1 2 3 4 5; do \
		/usr/bin/time -f "bench-fetch: train split (60000x28x28) from warm cache to file: %e s wall, %U s user, %S s sys, %M KB max RSS" \
			$(BIN)/mnist-fetch --offline --cache "$$d/c" --split train -o "$$d/train.npy" || exit 1; \
	done; ls -l "$$d/train.npy"

.PHONY: bench-fetch
