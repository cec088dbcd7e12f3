/* fuzz_idx - the MNIST IDX reader (lib/stream/idx.c): gzip detection and decompression (bounded),
 * the IDX parser, and the images/labels pairing check.  The input is split in two at an
 * offset taken from its first two bytes: images and labels files. */
#include <stdlib.h>

#include "fuzz.h"
#include "stream/idx.h"

/* One file as mnist-fetch reads it: gunzip if gzip, then parse.  *buf is what to free. */
static int load(const uint8_t *data, size_t size, uint8_t **buf, idx_array *a)
{
	*buf = NULL;
	const uint8_t *raw = data;
	size_t len = size;
	if (idx_is_gzip(data, size)) {
		int rc = idx_gunzip(data, size, "fuzz.gz", (size_t)1 << 18, buf, &len);
		fuzz_check_rc(rc);
		if (rc < 0) {
			if (*buf)
				__builtin_trap(); /* nothing to free after a failure */
			return rc;
		}
		raw = *buf;
	}
	int rc = idx_parse(raw, len, "fuzz", a);
	fuzz_check_rc(rc);
	if (rc == 0) {
		/* count is the product of dims (a zero dim may follow dims whose product overflows) */
		int64_t c = 1;
		int zero = 0, ovf = 0;
		for (int i = 0; i < a->ndim; i++) {
			zero |= a->dims[i] == 0;
			ovf |= __builtin_mul_overflow(c, a->dims[i], &c);
		}
		if (zero ? a->count != 0 : (ovf || c != a->count))
			__builtin_trap();
		if (a->count && (a->data < raw || a->data + a->count > raw + len))
			__builtin_trap();
		volatile uint8_t s = 0;
		for (int64_t i = 0; i < a->count; i++)  /* every byte it claims is readable */
			s ^= a->data[i];
		(void)s;
	}
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *b1, *b2;
	idx_array a, l;
	/* the whole input as one file */
	load(data, size, &b1, &a);
	free(b1);
	if (size < 2)
		return 0;
	size_t cut = 2 + ((size_t)data[0] | (size_t)data[1] << 8) % (size - 1);
	int r1 = load(data + 2, cut - 2, &b1, &a);
	int r2 = load(data + cut, size - cut, &b2, &l);
	if (r1 == 0 && r2 == 0) {
		int rc = idx_check_dataset(&a, "images", &l, "labels");
		fuzz_check_rc(rc);
	}
	free(b1);
	free(b2);
	return 0;
}
