/* fuzz_tsne_input - tsne's input stream (points (N,D) float32 then per-point arrays) and its
 * start layout (layout_points_read and layout_read in lib/stream/layout.c, then
 * tsne_layout_check as tsne --init does). */
#include <math.h>
#include <stdlib.h>

#include "fuzz.h"
#include "stream/layout.h"
#include "stream/npy.h"
#include "tsne/tsne.h"

/* Skip inputs whose arrays claim more than FUZZ_MAX_ALLOC (see fuzz.h). */
static int sizes_ok(const uint8_t *data, size_t size)
{
	FILE *f = fuzz_open(data, size);
	if (!f)
		return 0;
	int ok = 1;
	for (;;) {  /* every array: the readers allocate each before checking it */
		npy_header h;
		if (npy_read_header(f, "fuzz", &h) < 0)
			break;
		if (h.nbytes > FUZZ_MAX_ALLOC) {
			ok = 0;
			break;
		}
		if (fseek(f, (long)h.nbytes, SEEK_CUR) != 0)
			break;
	}
	fclose(f);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!sizes_ok(data, size))
		return 0;
	FILE *f = fuzz_open(data, size);
	if (!f)
		return 0;
	layout_points in;
	int rc = layout_points_read(&in, f, "fuzz.npy");
	fuzz_check_rc(rc);
	if (rc == 0) {
		if (in.n < 1 || in.d < 1)
			__builtin_trap();
		for (int64_t i = 0; i < in.n * in.d; i++)
			if (!isfinite(in.x[i]))
				__builtin_trap();
		for (int k = 0; k < in.nextra; k++)
			if (in.extra[k].h.ndim < 1 || in.extra[k].h.shape[0] != in.n)
				__builtin_trap();
		layout_points_free(&in);
	}
	fclose(f);

	f = fuzz_open(data, size);
	if (!f)
		return 0;
	float *y = NULL;
	int64_t n = 0;
	rc = layout_read(f, "fuzz.npy", "init layout", &y, &n);
	if (rc == 0 && (rc = tsne_layout_check(y, n, "fuzz.npy: init layout")) < 0)
		free(y);
	fuzz_check_rc(rc);
	if (rc == 0) {
		for (int64_t i = 0; i < 2 * n; i++)
			if (!isfinite(y[i]))
				__builtin_trap();
		free(y);
	}
	fclose(f);
	return 0;
}
