/* fuzz_sums - the SHA256SUMS file of a mirror (fetch_sums_lookup in lib/data/fetch.c), as
 * mnist-fetch reads it, for each name it looks up. */
#include "data/fetch.h"
#include "fuzz.h"
#include "base/sha256.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = fuzz_memfile(data, size, path, sizeof path);
	if (fd < 0)
		return 0;
	static const char *names[] = {"train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte", "x"};
	for (int i = 0; i < 3; i++) {
		uint8_t d[SHA256_LEN];
		fuzz_check_rc(fetch_sums_lookup(path, names[i], d));
	}
	close(fd);
	return 0;
}
