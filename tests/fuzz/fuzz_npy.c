/* fuzz_npy - the tensor stream reader (lib/stream/npy.c): headers, bodies read in chunks, whole arrays
 * one after another, and a dataset stream (images then labels). */
#include <stdlib.h>

#include "fuzz.h"
#include "stream/dataset.h"

/* A stream of arrays as tensor-cat reads it: header, then the body in chunks of 7 elements. */
static void stream(const uint8_t *data, size_t size)
{
	FILE *f = fuzz_open(data, size);
	if (!f)
		return;
	for (int i = 0; i < 64; i++) {
		npy_header h;
		int rc = npy_read_header(f, "fuzz", &h);
		fuzz_check_rc(rc);
		if (rc < 0)
			break;
		char s[160];
		npy_header_str(&h, s, sizeof s);
		if (h.count < 0 || h.nbytes != (size_t)h.count * npy_dtype_size(h.dtype))
			__builtin_trap();
		if (h.nbytes > FUZZ_MAX_ALLOC)
			break;
		unsigned char buf[7 * 8];
		size_t left = (size_t)h.count;
		while (left > 0 && rc == 0) {
			size_t k = left < 7 ? left : 7;
			rc = npy_read_data(f, "fuzz", &h, buf, k);
			fuzz_check_rc(rc);
			left -= k;
		}
		if (rc < 0)
			break;
		npy_at_eof(f);
	}
	fclose(f);
}

/* The first header's claimed size, to skip inputs that would only test the allocator. */
static size_t first_nbytes(const uint8_t *data, size_t size)
{
	FILE *f = fuzz_open(data, size);
	if (!f)
		return 0;
	npy_header h;
	size_t n = npy_read_header(f, "fuzz", &h) == 0 ? h.nbytes : 0;
	fclose(f);
	return n;
}

static void arrays(const uint8_t *data, size_t size)
{
	FILE *f = fuzz_open(data, size);
	if (!f)
		return;
	for (int i = 0; i < 64; i++) {
		/* peek the next header's size on a second handle at the same offset */
		long off = ftell(f);
		if (off < 0 || first_nbytes(data + off, size - (size_t)off) > FUZZ_MAX_ALLOC)
			break;
		npy_array a;
		int rc = npy_read_array(f, "fuzz", &a);
		fuzz_check_rc(rc);
		if (rc < 0) {
			if (a.data)
				__builtin_trap(); /* the contract: nothing to free after a failure */
			break;
		}
		npy_free(&a);
	}
	fclose(f);
}

static void read_dataset(const uint8_t *data, size_t size)
{
	if (first_nbytes(data, size) > FUZZ_MAX_ALLOC)
		return;
	FILE *f = fuzz_open(data, size);
	if (!f)
		return;
	dataset d;
	int rc = dataset_read(f, "fuzz", &d);
	fuzz_check_rc(rc);
	if (rc == 0) {
		if (d.n < 0 || d.h < 1 || d.w < 1 || (d.c != 1 && d.c != 3))
			__builtin_trap();
		for (int64_t i = 0; i < d.n; i++)
			if (d.labels[i] > 9)
				__builtin_trap();
		dataset_free(&d);
	} else if (d.images || d.labels) {
		__builtin_trap();
	}
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	stream(data, size);
	arrays(data, size);
	read_dataset(data, size);
	return 0;
}
