/* imgload.c - JPEG and PNG decoding into RGB8 (see imgload.h).
 *
 * Both libraries report fatal errors through a callback that must not return; we record the
 * message with err_set() and longjmp back to the decoder's entry, where everything allocated so
 * far is released.  Buffers touched after setjmp are volatile so they survive the longjmp. */
#include "data/imgload.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "base/err.h"

void img_free(img_rgb *img)
{
	free(img->rgb);
	img->rgb = NULL;
	img->w = img->h = 0;
}

int img_name_is_photo(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot || dot == name)
		return 0;
	return !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png");
}

static int check_size(const char *path, const char *kind, unsigned long w, unsigned long h)
{
	if (w == 0 || h == 0 || w > IMG_MAX_SIDE || h > IMG_MAX_SIDE)
		return err_set(DN_EFORMAT, "%s: %s of %lux%lu pixels: sides must be 1..%d", path, kind, w,
		               h, IMG_MAX_SIDE);
	if ((unsigned long long)w * h > (unsigned long long)IMG_MAX_PIXELS)
		return err_set(DN_EFORMAT, "%s: %s of %lux%lu pixels is over the budget of %ld pixels: not decoded",
		               path, kind, w, h, (long)IMG_MAX_PIXELS);
	return 0;
}

/* ---- JPEG ------------------------------------------------------------------------------ */

typedef struct {
	struct jpeg_error_mgr pub; /* first, so a j_common_ptr's err casts to this */
	jmp_buf jb;
	const char *path;
} jpeg_err;

static void jpeg_fail(j_common_ptr c)
{
	jpeg_err *e = (jpeg_err *)c->err;
	char msg[JMSG_LENGTH_MAX];
	(*c->err->format_message)(c, msg);
	err_set(DN_EFORMAT, "%s: corrupt JPEG: %s", e->path, msg);
	longjmp(e->jb, 1);
}

/* libjpeg only warns about damaged data (e.g. "Premature end of JPEG file") and goes on with
 * grey filler; a photo with a grey band would silently bias MNIST-M, so warnings are fatal.
 * Trace messages (level >= 1) are ignored. */
static void jpeg_message(j_common_ptr c, int level)
{
	if (level < 0)
		jpeg_fail(c);
}

static int load_jpeg(FILE *f, const char *path, img_rgb *img)
{
	struct jpeg_decompress_struct cinfo;
	jpeg_err jerr;
	uint8_t *volatile buf = NULL;

	cinfo.err = jpeg_std_error(&jerr.pub);
	jerr.pub.error_exit = jpeg_fail;
	jerr.pub.emit_message = jpeg_message;
	jerr.path = path;
	if (setjmp(jerr.jb)) {
		jpeg_destroy_decompress(&cinfo);
		free(buf);
		return DN_EFORMAT;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_stdio_src(&cinfo, f);
	jpeg_read_header(&cinfo, TRUE);
	int rc = check_size(path, "JPEG", cinfo.image_width, cinfo.image_height);
	if (rc < 0) {
		jpeg_destroy_decompress(&cinfo);
		return rc;
	}
	if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
		jpeg_destroy_decompress(&cinfo);
		return err_set(DN_EFORMAT, "%s: CMYK JPEG is not supported: convert it to RGB", path);
	}
	cinfo.out_color_space = JCS_RGB; /* gray and YCbCr convert to RGB */
	jpeg_start_decompress(&cinfo);
	if (cinfo.output_components != 3) {
		jpeg_destroy_decompress(&cinfo);
		return err_set(DN_EFORMAT, "%s: JPEG decodes to %d channels, expected RGB", path,
		               cinfo.output_components);
	}
	size_t w = cinfo.output_width, h = cinfo.output_height, stride = w * 3;
	buf = malloc(stride * h);
	if (!buf) {
		jpeg_destroy_decompress(&cinfo);
		return err_set(DN_ENOMEM, "%s: out of memory for a %zux%zu photo", path, w, h);
	}
	while (cinfo.output_scanline < cinfo.output_height) {
		JSAMPROW row = buf + (size_t)cinfo.output_scanline * stride;
		jpeg_read_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_decompress(&cinfo);
	jpeg_destroy_decompress(&cinfo);
	img->w = (int)w;
	img->h = (int)h;
	img->rgb = buf;
	return 0;
}

/* ---- PNG ------------------------------------------------------------------------------- */

static void png_fail(png_structp p, png_const_charp msg)
{
	const char *path = png_get_error_ptr(p);
	err_set(DN_EFORMAT, "%s: corrupt PNG: %s", path, msg);
	png_longjmp(p, 1);
}

/* Warnings concern ancillary data (colour profiles, text chunks) and do not change pixels. */
static void png_note(png_structp p, png_const_charp msg)
{
	(void)p;
	(void)msg;
}

static int load_png(FILE *f, const char *path, img_rgb *img)
{
	png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, (png_voidp)path, png_fail, png_note);
	if (!p)
		return err_set(DN_ENOMEM, "%s: out of memory", path);
	png_infop info = png_create_info_struct(p);
	if (!info) {
		png_destroy_read_struct(&p, NULL, NULL);
		return err_set(DN_ENOMEM, "%s: out of memory", path);
	}
	uint8_t *volatile buf = NULL;
	png_bytep *volatile rows = NULL;
	if (setjmp(png_jmpbuf(p))) {
		png_destroy_read_struct(&p, &info, NULL);
		free(buf);
		free(rows);
		return DN_EFORMAT;
	}
	png_init_io(p, f);
	png_set_user_limits(p, IMG_MAX_SIDE, IMG_MAX_SIDE);
	png_read_info(p, info);
	png_uint_32 w, h;
	int depth, type;
	png_get_IHDR(p, info, &w, &h, &depth, &type, NULL, NULL, NULL);
	if (check_size(path, "PNG", w, h) < 0) {
		png_destroy_read_struct(&p, &info, NULL);
		return DN_EFORMAT;
	}
	/* Everything to 8-bit RGB: palette -> RGB, low-bit gray -> 8 bits, 16 -> 8, drop alpha,
	 * gray -> RGB. */
	if (type == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(p);
	if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(p);
	if (depth == 16)
		png_set_strip_16(p);
	if (type & PNG_COLOR_MASK_ALPHA)
		png_set_strip_alpha(p);
	if (type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA)
		png_set_gray_to_rgb(p);
	png_set_interlace_handling(p);
	png_read_update_info(p, info);
	size_t stride = (size_t)w * 3;
	if (png_get_rowbytes(p, info) != stride)
		png_error(p, "unexpected row size after conversion to RGB8");
	buf = malloc(stride * h);
	rows = malloc(sizeof(png_bytep) * h);
	if (!buf || !rows) {
		png_destroy_read_struct(&p, &info, NULL);
		free(buf);
		free(rows);
		return err_set(DN_ENOMEM, "%s: out of memory for a %ux%u photo", path, (unsigned)w,
		               (unsigned)h);
	}
	for (png_uint_32 y = 0; y < h; y++)
		rows[y] = buf + (size_t)y * stride;
	png_read_image(p, rows);
	png_read_end(p, NULL); /* reads through IEND: a file cut after the pixels is caught too */
	png_destroy_read_struct(&p, &info, NULL);
	free(rows);
	img->w = (int)w;
	img->h = (int)h;
	img->rgb = buf;
	return 0;
}

int img_load(const char *path, img_rgb *img)
{
	img->w = img->h = 0;
	img->rgb = NULL;
	/* O_NONBLOCK and fstat first: a FIFO among the photos must not block the tool forever. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return err_set(DN_EIO, "%s: %s", path, strerror(errno));
	struct stat st = {0};
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = errno;
		close(fd);
		return err_set(DN_EIO, "%s: %s", path, S_ISDIR(st.st_mode) ? strerror(EISDIR) :
		               S_ISREG(st.st_mode) ? strerror(e) : "not a regular file (a FIFO, device or socket is not read)");
	}
	FILE *f = fdopen(fd, "rb");
	if (!f) {
		int e = errno;
		close(fd);
		return err_set(DN_EIO, "%s: %s", path, strerror(e));
	}
	unsigned char magic[8];
	size_t got = fread(magic, 1, sizeof magic, f);
	int rc;
	if (got >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF) {
		rewind(f);
		rc = load_jpeg(f, path, img);
	} else if (got == 8 && !png_sig_cmp(magic, 0, 8)) {
		rewind(f);
		rc = load_png(f, path, img);
	} else if (ferror(f)) {
		rc = err_set(DN_EIO, "%s: %s", path, strerror(errno));
	} else {
		rc = err_set(DN_EFORMAT, "%s: not a JPEG or PNG file", path);
	}
	fclose(f);
	return rc;
}
