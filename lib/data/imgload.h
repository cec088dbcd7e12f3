/* imgload.h - decode a JPEG (libjpeg-turbo) or PNG (libpng) file into 8-bit RGB.
 *
 * The format is taken from the file's first bytes, not its name.  Grayscale, palette, 16-bit
 * and alpha images are converted to plain RGB8 (alpha is dropped).  A corrupt or truncated
 * file is an error (DN_EFORMAT, message "FILE: corrupt JPEG: ..."), including the damage that
 * libjpeg only warns about (a truncated JPEG would otherwise decode with a grey bottom).
 * Every function returns 0 or a negative DN_E* code with err_msg() set; thread-safe. */
#ifndef DN_IMGLOAD_H
#define DN_IMGLOAD_H

#include <stdint.h>

/* Largest side accepted, so a corrupt header cannot request gigabytes. */
#define IMG_MAX_SIDE 16384
/* Pixel budget: a photo whose header announces more pixels than this (a small file can claim a
 * gigapixel image) is refused before anything is decoded or allocated.  40 megapixels (120 MB
 * of RGB) is 260 times a BSDS500 photograph (481x321); rebuild with -DIMG_MAX_PIXELS=N to
 * change it. */
#ifndef IMG_MAX_PIXELS
#define IMG_MAX_PIXELS 40000000L
#endif

typedef struct {
	int w, h;
	uint8_t *rgb; /* (h,w,3), rows top to bottom; malloc'd, free with img_free() */
} img_rgb;

/* Decode `path` into `img`.  On failure `img` is left empty (rgb NULL).  Only a regular file is
 * read: a FIFO, device or socket is refused (DN_EIO) without blocking. */
int img_load(const char *path, img_rgb *img);
void img_free(img_rgb *img);

/* 1 if the name ends in .jpg, .jpeg or .png (any case): the files a photo folder is read for. */
int img_name_is_photo(const char *name);

#endif
