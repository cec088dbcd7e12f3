/* fuzz_mnistm - the published MNIST-M reader (lib/data/published.c): the bytes as mnist_m.tar.gz,
 * read with libarchive member by member (size caps, the labels file, 32x32 RGB PNGs through
 * libpng), then put in labels-file order.  A partial copy is accepted so that inputs reach the
 * end; the hashes then never match, which is checked too. */
#include "fuzz.h"
#include "data/published.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = fuzz_memfile(data, size, path, sizeof path);
	if (fd < 0)
		return 0;
	const char *src[] = {path};
	fetch_opts o;
	fetch_opts_init(&o);
	o.sources = src;
	o.nsources = 1;
	o.offline = 1;
	pub_expect want = {.n = 5};  /* all-zero hashes: a full copy is a mismatch */
	pub_mnistm r;
	int rc = pub_mnistm_fetch(&o, "train", &want, 1, &r);
	fuzz_check_rc(rc);
	if (rc == 0) {
		if (r.n < 1 || r.n >= want.n || !r.images || !r.labels || r.verified)
			__builtin_trap();
		for (int64_t i = 0; i < r.n; i++)
			if (r.labels[i] > 9)
				__builtin_trap();
		volatile uint8_t s = r.images[0] ^ r.images[(size_t)r.n * PUB_MNISTM_IMAGE_BYTES - 1];
		(void)s;
		pub_mnistm_free(&r);
	}
	close(fd);
	return 0;
}
