/* fuzz_metrics - dann-train's metrics TSV reader (lib/stream/metrics.c), as plot-curves
 * reads it. */
#include <math.h>

#include "fuzz.h"
#include "stream/metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fuzz_open(data, size);
	if (!f)
		return 0;
	metrics_log m;
	int rc = metrics_read(f, "fuzz.tsv", &m);
	fuzz_check_rc(rc);
	if (rc == 0) {
		if (m.n < 1)
			__builtin_trap();
		for (int64_t i = 0; i < m.n; i++) {
			if (!isfinite(m.col[MET_STEP][i]))
				__builtin_trap();
			for (int c = 0; c < MET_NCOL; c++)
				if (isinf(m.col[c][i]))
					__builtin_trap();
		}
		for (int c = 0; c < MET_NCOL; c++)
			metrics_count(&m, c);
		metrics_free(&m);
	}
	fclose(f);
	return 0;
}
