/* fuzz_imgload - the background photo loaders (img_load in lib/data/imgload.c: JPEG through
 * libjpeg-turbo, PNG through libpng, chosen by the first bytes), as mnistm-gen --recipe bsds
 * reads a photo folder.  img_load takes a path, so the bytes go through a memory file. */
#include "fuzz.h"
#include "data/imgload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = fuzz_memfile(data, size, path, sizeof path);
	if (fd < 0)
		return 0;
	img_rgb img;
	int rc = img_load(path, &img);
	fuzz_check_rc(rc);
	if (rc == 0) {
		if (img.w < 1 || img.h < 1 || img.w > IMG_MAX_SIDE || img.h > IMG_MAX_SIDE || !img.rgb)
			__builtin_trap();
		volatile uint8_t s = img.rgb[0] ^ img.rgb[(size_t)img.w * img.h * 3 - 1];
		(void)s;
		img_free(&img);
	} else if (img.rgb) {
		__builtin_trap();
	}
	close(fd);
	return 0;
}
