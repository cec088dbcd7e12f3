/* fuzz_padtable - the PAD table reader (lib/draw/curves.c plot_pad_read), as plot-curves
 * --pad reads it, then the curves drawn with it. */
#include <math.h>

#include "fuzz.h"
#include "draw/curves.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fuzz_open(data, size);
	if (!f)
		return 0;
	static const char *const names[2] = {"DANN", "source-only"};
	plot_pad_table t;
	int rc = plot_pad_read(f, "fuzz.tsv", names, 2, &t);
	fuzz_check_rc(rc);
	if (rc == 0) {
		if (t.nlayers < 0 || t.nlayers > PLOT_PAD_LAYERS || (t.has_ref && !isfinite(t.ref)))
			__builtin_trap();
		for (int s = 0; s < 2 * PLOT_PAD_LAYERS; s++)
			for (int64_t i = 0; i < t.n[s]; i++)
				if (!isfinite(t.step[s][i]) || !isfinite(t.pad[s][i]))
					__builtin_trap();
		plot_pad_free(&t);
	}
	fclose(f);
	return 0;
}
