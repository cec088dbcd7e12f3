/* fuzz_titles - the frame titles file of plot-frames --titles (plot_read_lines in lib/draw/raster.c),
 * and the UTF-8 measuring the titles then go through. */
#include <stdlib.h>

#include "draw/font.h"
#include "fuzz.h"
#include "draw/raster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fuzz_open(data, size);
	if (!f)
		return 0;
	char **lines;
	int n;
	int rc = plot_read_lines(f, "fuzz.txt", &lines, &n);
	fuzz_check_rc(rc);
	if (rc == 0) {
		for (int i = 0; i < n; i++) {
			if (strchr(lines[i], '\n'))
				__builtin_trap();
			font_utf8_len(lines[i]);
			plot_text_width(&font_title, 1, lines[i]);
		}
		plot_free_lines(lines, n);
	}
	fclose(f);
	return 0;
}
