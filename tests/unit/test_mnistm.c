/* test_mnistm.c - the MNIST-M recipes' exact contracts, resizing, photo decoding. */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "check.h"
#include "base/err.h"
#include "data/imgload.h"
#include "data/mnistm.h"
#include "draw/pngio.h"
#include "base/rng.h"

static char tmpdir[] = "/tmp/test_mnistm.XXXXXX";

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void write_png(const char *name, int w, int h, int ch, const uint8_t *px)
{
	char p[512];
	path_in(p, sizeof p, name);
	FILE *f = fopen(p, "wb");
	CHECK(f && png_write(f, w, h, ch, px) == 0);
	if (f)
		fclose(f);
}

/* A JPEG written with libjpeg itself, so the decoder is tested without shipped files.
 * `comps` 3 (RGB), 1 (gray) or 4 (CMYK). */
static void write_jpeg_cs(const char *name, int w, int h, const uint8_t *px, int comps)
{
	char p[512];
	path_in(p, sizeof p, name);
	FILE *f = fopen(p, "wb");
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr e;
	c.err = jpeg_std_error(&e);
	jpeg_create_compress(&c);
	jpeg_stdio_dest(&c, f);
	c.image_width = (JDIMENSION)w;
	c.image_height = (JDIMENSION)h;
	c.input_components = comps;
	c.in_color_space = comps == 3 ? JCS_RGB : comps == 1 ? JCS_GRAYSCALE : JCS_CMYK;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 100, TRUE);
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < c.image_height) {
		JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * (size_t)w * (size_t)comps);
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	fclose(f);
}

static void write_jpeg(const char *name, int w, int h, const uint8_t *rgb)
{
	write_jpeg_cs(name, w, h, rgb, 3);
}

static void truncate_copy(const char *from, const char *to, long keep)
{
	char a[512], b[512];
	path_in(a, sizeof a, from);
	path_in(b, sizeof b, to);
	FILE *f = fopen(a, "rb"), *g = fopen(b, "wb");
	for (long i = 0; i < keep; i++) {
		int ch = getc(f);
		if (ch == EOF)
			break;
		putc(ch, g);
	}
	fclose(f);
	fclose(g);
}

/* noise: pixel p channel c = byte 3p+c of the little-endian rng_next() stream of
 * rng_seed(seed, offset + first + k); digit pixels 255 - v. */
static void test_noise_contract(void)
{
	enum { H = 2, W = 5, N = 4 }; /* 10 pixels: 30 bytes, not a multiple of 8 */
	uint8_t in[N * H * W], out[N * H * W * 3];
	for (int i = 0; i < N * H * W; i++)
		in[i] = (uint8_t)((i * 37) % 256);
	in[3] = 30;  /* at the threshold: background */
	in[4] = 31;  /* above: digit */
	mnistm_cfg cfg = {.recipe = MNISTM_NOISE, .threshold = 30, .seed = 99, .offset = 1000,
	                  .in_h = H, .in_w = W, .out_h = H, .out_w = W};
	mnistm_generate(&cfg, in, out, 20, N, NULL);
	int ok = 1;
	for (int k = 0; k < N; k++) {
		rng_t r;
		rng_seed(&r, 99, 1000 + 20 + (uint64_t)k);
		uint8_t bytes[32];
		for (int j = 0; j < 4; j++) {
			uint64_t x = rng_next(&r);
			for (int b = 0; b < 8; b++)
				bytes[8 * j + b] = (uint8_t)(x >> (8 * b));
		}
		for (int p = 0; p < H * W; p++) {
			int v = in[k * H * W + p];
			for (int c = 0; c < 3; c++) {
				int want = v > 30 ? 255 - v : bytes[3 * p + c];
				ok &= out[(k * H * W + p) * 3 + c] == want;
			}
		}
	}
	CHECK_MSG(ok, "noise output does not follow the documented byte stream");
	CHECK(out[4 * 3] == 255 - 31 && out[4 * 3 + 1] == 255 - 31);
}

static void test_resize(void)
{
	uint8_t in[2] = {0, 200}, out[4];
	mnistm_resize(in, 1, 2, out, 1, 4);
	CHECK(out[0] == 0 && out[1] == 50 && out[2] == 150 && out[3] == 200);
	uint8_t img[28 * 28], same[28 * 28];
	for (int i = 0; i < 28 * 28; i++)
		img[i] = (uint8_t)(i * 13);
	mnistm_resize(img, 28, 28, same, 28, 28);
	CHECK(memcmp(img, same, sizeof img) == 0);
	uint8_t flat[28 * 28], big[32 * 32];
	memset(flat, 77, sizeof flat);
	mnistm_resize(flat, 28, 28, big, 32, 32);
	int allc = 1;
	for (int i = 0; i < 32 * 32; i++)
		allc &= big[i] == 77;
	CHECK(allc);
}

/* bsds: photo = below(n), x0 = below(pw-w+1), y0 = below(ph-h+1); out = |patch - d|. */
static void test_bsds_contract(void)
{
	enum { PW = 9, PH = 6, S = 3, N = 200 };
	static uint8_t px0[PH * PW * 3], px1[PW * PH * 3];
	for (int i = 0; i < PH * PW * 3; i++) {
		px0[i] = (uint8_t)(i * 7 + 3);
		px1[i] = (uint8_t)(255 - i * 5);
	}
	img_rgb ph[2] = {{PW, PH, px0}, {PH, PW, px1}}; /* second photo is 6 wide, 9 high */
	mnistm_bg bg = {.n = 2, .photo = ph, .name = NULL};
	uint8_t in[N * S * S], out[N * S * S * 3], outb[N * S * S * 3];
	for (int i = 0; i < N * S * S; i++)
		in[i] = (uint8_t)(i * 29);
	mnistm_cfg cfg = {.recipe = MNISTM_BSDS, .mask = MNISTM_MASK_GRAY, .threshold = 100, .seed = 4,
	                  .in_h = S, .in_w = S, .out_h = S, .out_w = S, .bg = &bg};
	mnistm_generate(&cfg, in, out, 0, N, NULL);
	cfg.mask = MNISTM_MASK_BINARY;
	mnistm_generate(&cfg, in, outb, 0, N, NULL);
	int ok = 1, okb = 1, used[2] = {0, 0};
	for (int k = 0; k < N; k++) {
		rng_t r;
		rng_seed(&r, 4, (uint64_t)k);
		int p = (int)rng_below(&r, 2);
		const img_rgb *im = &ph[p];
		int x0 = (int)rng_below(&r, (uint32_t)(im->w - S + 1));
		int y0 = (int)rng_below(&r, (uint32_t)(im->h - S + 1));
		used[p]++;
		for (int y = 0; y < S; y++)
			for (int x = 0; x < S; x++)
				for (int c = 0; c < 3; c++) {
					int v = in[k * S * S + y * S + x];
					int q = im->rgb[((y0 + y) * im->w + x0 + x) * 3 + c];
					int o = out[((k * S + y) * S + x) * 3 + c];
					int ob = outb[((k * S + y) * S + x) * 3 + c];
					ok &= o == abs(q - v);
					okb &= ob == abs(q - (v > 100 ? 255 : 0));
				}
	}
	CHECK_MSG(ok, "bsds gray output is not |patch - digit| at the documented draw");
	CHECK_MSG(okb, "bsds binary output is not |patch - 255*(v>T)|");
	CHECK(used[0] > 60 && used[1] > 60);
}

/* Threads and chunking do not change bytes. */
static void test_split_independence(void)
{
	enum { N = 1000, H = 28, S = 32 };
	uint8_t *in = malloc(N * H * H), *a = malloc(N * S * S * 3), *b = malloc(N * S * S * 3);
	uint8_t *sc = malloc(N * S * S);
	for (int i = 0; i < N * H * H; i++)
		in[i] = (uint8_t)((i * 2654435761u) >> 24);
	static uint8_t px[40 * 50 * 3];
	for (int i = 0; i < 40 * 50 * 3; i++)
		px[i] = (uint8_t)(i * 11);
	img_rgb ph = {50, 40, px};
	mnistm_bg bg = {.n = 1, .photo = &ph};
	for (int rec = 0; rec < 2; rec++) {
		mnistm_cfg cfg = {.recipe = rec ? MNISTM_BSDS : MNISTM_NOISE, .threshold = 30, .seed = 8,
		                  .in_h = H, .in_w = H, .out_h = S, .out_w = S, .bg = &bg};
		omp_set_num_threads(1);
		mnistm_generate(&cfg, in, a, 0, N, sc);
		omp_set_num_threads(2);
		mnistm_generate(&cfg, in, b, 0, 300, sc);
		mnistm_generate(&cfg, in + 300 * H * H, b + 300 * S * S * 3, 300, 700, sc);
		CHECK_MSG(memcmp(a, b, (size_t)N * S * S * 3) == 0, "recipe %d: threads/chunks change output", rec);
		/* the same slice through --offset */
		cfg.offset = 300;
		mnistm_generate(&cfg, in + 300 * H * H, b, 0, 700, sc);
		CHECK(memcmp(a + 300 * S * S * 3, b, (size_t)700 * S * S * 3) == 0);
	}
	free(in);
	free(a);
	free(b);
	free(sc);
}

/* PNG variants png_write() does not make: palette, 16-bit RGB, gray+alpha, interlaced. */
static void write_png_raw(const char *name, int w, int h, int type, int depth, int interlace,
                          const uint8_t *rows_data, size_t stride, png_colorp pal, int npal)
{
	char p[512];
	path_in(p, sizeof p, name);
	FILE *f = fopen(p, "wb");
	png_structp ps = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(ps);
	if (setjmp(png_jmpbuf(ps))) {
		CHECK_MSG(0, "libpng failed writing %s", name);
		png_destroy_write_struct(&ps, &info);
		fclose(f);
		return;
	}
	png_init_io(ps, f);
	png_set_IHDR(ps, info, (png_uint_32)w, (png_uint_32)h, depth, type,
	             interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
	             PNG_FILTER_TYPE_DEFAULT);
	if (pal)
		png_set_PLTE(ps, info, pal, npal);
	png_write_info(ps, info);
	png_bytep rows[64];
	for (int y = 0; y < h; y++)
		rows[y] = (png_bytep)(rows_data + (size_t)y * stride);
	png_write_image(ps, rows);
	png_write_end(ps, info);
	png_destroy_write_struct(&ps, &info);
	fclose(f);
}

static void test_png_variants(void)
{
	char p[512];
	img_rgb im;
	enum { W = 6, H = 5 };
	/* palette: index i -> colour (10i, 20i, 30i) */
	png_color pal[8];
	for (int i = 0; i < 8; i++) {
		pal[i].red = (png_byte)(10 * i);
		pal[i].green = (png_byte)(20 * i);
		pal[i].blue = (png_byte)(30 * i);
	}
	uint8_t idx[H * W];
	for (int i = 0; i < H * W; i++)
		idx[i] = (uint8_t)(i % 8);
	write_png_raw("pal.png", W, H, PNG_COLOR_TYPE_PALETTE, 8, 0, idx, W, pal, 8);
	path_in(p, sizeof p, "pal.png");
	int ok = img_load(p, &im) == 0 && im.w == W && im.h == H;
	for (int i = 0; ok && i < H * W; i++)
		ok &= im.rgb[3 * i] == 10 * (i % 8) && im.rgb[3 * i + 1] == 20 * (i % 8) &&
		      im.rgb[3 * i + 2] == 30 * (i % 8);
	CHECK_MSG(ok, "palette PNG not expanded to RGB");
	img_free(&im);

	/* 16-bit RGB, interlaced: high bytes kept */
	uint8_t rgb16[H * W * 6];
	for (int i = 0; i < H * W * 3; i++) {
		rgb16[2 * i] = (uint8_t)(i * 3);  /* big-endian high byte */
		rgb16[2 * i + 1] = 0x11;
	}
	write_png_raw("rgb16.png", W, H, PNG_COLOR_TYPE_RGB, 16, 1, rgb16, W * 6, NULL, 0);
	path_in(p, sizeof p, "rgb16.png");
	ok = img_load(p, &im) == 0 && im.w == W && im.h == H;
	for (int i = 0; ok && i < H * W * 3; i++)
		ok &= im.rgb[i] == (uint8_t)(i * 3);
	CHECK_MSG(ok, "16-bit interlaced PNG not reduced to 8 bits");
	img_free(&im);

	/* gray + alpha: alpha dropped, gray replicated */
	uint8_t ga[H * W * 2];
	for (int i = 0; i < H * W; i++) {
		ga[2 * i] = (uint8_t)(i * 7);
		ga[2 * i + 1] = (uint8_t)(255 - i);
	}
	write_png_raw("ga.png", W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, ga, W * 2, NULL, 0);
	path_in(p, sizeof p, "ga.png");
	ok = img_load(p, &im) == 0 && im.w == W && im.h == H;
	for (int i = 0; ok && i < H * W; i++)
		ok &= im.rgb[3 * i] == (uint8_t)(i * 7) && im.rgb[3 * i + 1] == (uint8_t)(i * 7) &&
		      im.rgb[3 * i + 2] == (uint8_t)(i * 7);
	CHECK_MSG(ok, "gray+alpha PNG not converted to RGB");
	img_free(&im);

	/* RGBA through the toolkit's writer */
	uint8_t rgba[H * W * 4];
	for (int i = 0; i < H * W * 4; i++)
		rgba[i] = (uint8_t)(i * 5);
	write_png("rgba.png", W, H, 4, rgba);
	path_in(p, sizeof p, "rgba.png");
	ok = img_load(p, &im) == 0;
	for (int i = 0; ok && i < H * W; i++)
		ok &= im.rgb[3 * i] == rgba[4 * i] && im.rgb[3 * i + 1] == rgba[4 * i + 1] &&
		      im.rgb[3 * i + 2] == rgba[4 * i + 2];
	CHECK_MSG(ok, "RGBA PNG: alpha not stripped");
	img_free(&im);
}

static void test_imgload(void)
{
	char p[512];
	uint8_t rgb[5 * 4 * 3], gray[5 * 4];
	for (int i = 0; i < 60; i++)
		rgb[i] = (uint8_t)(i * 4);
	for (int i = 0; i < 20; i++)
		gray[i] = (uint8_t)(i * 12);
	write_png("rgb.png", 5, 4, 3, rgb);
	write_png("gray.png", 5, 4, 1, gray);
	img_rgb im;
	path_in(p, sizeof p, "rgb.png");
	CHECK(img_load(p, &im) == 0 && im.w == 5 && im.h == 4 && memcmp(im.rgb, rgb, 60) == 0);
	img_free(&im);
	path_in(p, sizeof p, "gray.png");
	CHECK(img_load(p, &im) == 0 && im.w == 5 && im.h == 4);
	int g = im.rgb != NULL;
	for (int i = 0; g && i < 20; i++)
		g &= im.rgb[3 * i] == gray[i] && im.rgb[3 * i + 1] == gray[i] && im.rgb[3 * i + 2] == gray[i];
	CHECK(g);
	img_free(&im);

	/* a JPEG of a flat colour decodes to that colour (within JPEG rounding) */
	static uint8_t flat[16 * 24 * 3];
	for (int i = 0; i < 16 * 24; i++) {
		flat[3 * i] = 200;
		flat[3 * i + 1] = 40;
		flat[3 * i + 2] = 90;
	}
	write_jpeg("flat.jpg", 24, 16, flat);
	path_in(p, sizeof p, "flat.jpg");
	CHECK(img_load(p, &im) == 0 && im.w == 24 && im.h == 16);
	int close = im.rgb != NULL;
	for (int i = 0; close && i < 16 * 24 * 3; i++)
		close &= abs(im.rgb[i] - flat[i]) <= 3;
	CHECK(close);
	img_free(&im);

	/* grayscale JPEG -> gray replicated on R, G, B; CMYK is refused with a clear message */
	static uint8_t g8[16 * 24], cmyk[16 * 24 * 4];
	memset(g8, 123, sizeof g8);
	memset(cmyk, 50, sizeof cmyk);
	write_jpeg_cs("gray.jpg", 24, 16, g8, 1);
	path_in(p, sizeof p, "gray.jpg");
	CHECK(img_load(p, &im) == 0 && im.w == 24 && im.h == 16);
	int gok = im.rgb != NULL;
	for (int i = 0; gok && i < 16 * 24 * 3; i++)
		gok &= abs(im.rgb[i] - 123) <= 1;
	CHECK(gok);
	img_free(&im);
	write_jpeg_cs("cmyk.jpg", 24, 16, cmyk, 4);
	path_in(p, sizeof p, "cmyk.jpg");
	CHECK_ERR(img_load(p, &im), "CMYK JPEG is not supported");

	truncate_copy("flat.jpg", "cut.jpg", 200);
	path_in(p, sizeof p, "cut.jpg");
	CHECK_ERR(img_load(p, &im), "corrupt JPEG");
	CHECK(im.rgb == NULL);
	truncate_copy("rgb.png", "cut.png", 45);
	path_in(p, sizeof p, "cut.png");
	CHECK_ERR(img_load(p, &im), "corrupt PNG");
	path_in(p, sizeof p, "nothing.png");
	CHECK_ERR(img_load(p, &im), "No such file");
	path_in(p, sizeof p, "text.jpg");
	FILE *f = fopen(p, "w");
	fputs("not an image", f);
	fclose(f);
	CHECK_ERR(img_load(p, &im), "not a JPEG or PNG");

	CHECK(img_name_is_photo("a.JPG") && img_name_is_photo("b.jpeg") && img_name_is_photo("c.png"));
	CHECK(!img_name_is_photo("d.txt") && !img_name_is_photo(".png") && !img_name_is_photo("png"));
}

static void test_bg_load(void)
{
	char d[512];
	path_in(d, sizeof d, "bg");
	mkdir(d, 0755);
	uint8_t px[10 * 12 * 3];
	memset(px, 5, sizeof px);
	write_png("bg/b.png", 12, 10, 3, px);
	write_png("bg/a.png", 12, 10, 3, px);
	mnistm_bg bg;
	CHECK(mnistm_bg_load(&bg, d, 12, 10) == 0 && bg.n == 2);
	if (bg.n == 2)
		CHECK(!strcmp(bg.name[0], "a.png") && !strcmp(bg.name[1], "b.png"));
	mnistm_bg_free(&bg);
	CHECK_ERR(mnistm_bg_load(&bg, d, 13, 10), "smaller than the 13x10 patch");
	char e[512];
	path_in(e, sizeof e, "emptybg");
	mkdir(e, 0755);
	CHECK_ERR(mnistm_bg_load(&bg, e, 1, 1), "no photos");
	path_in(e, sizeof e, "nosuchdir");
	CHECK_ERR(mnistm_bg_load(&bg, e, 1, 1), "No such file");
}

static void test_check_images(void)
{
	npy_header h;
	int64_t n;
	int hh, ww;
	CHECK(npy_header_init(&h, NPY_U8, 3, (int64_t[]){5, 28, 28}) == 0);
	CHECK(mnistm_check_images(&h, "x", &n, &hh, &ww) == 0 && n == 5 && hh == 28 && ww == 28);
	CHECK(npy_header_init(&h, NPY_U8, 4, (int64_t[]){5, 28, 20, 1}) == 0);
	CHECK(mnistm_check_images(&h, "x", &n, &hh, &ww) == 0 && ww == 20);
	CHECK(npy_header_init(&h, NPY_U8, 4, (int64_t[]){5, 28, 28, 3}) == 0);
	CHECK_ERR(mnistm_check_images(&h, "x", &n, &hh, &ww), "grayscale");
	CHECK(npy_header_init(&h, NPY_F32, 3, (int64_t[]){5, 28, 28}) == 0);
	CHECK_ERR(mnistm_check_images(&h, "x", &n, &hh, &ww), "expected uint8");
	CHECK(npy_header_init(&h, NPY_U8, 3, (int64_t[]){5, 0, 28}) == 0);
	CHECK_ERR(mnistm_check_images(&h, "x", &n, &hh, &ww), "sides");
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_noise_contract();
	test_resize();
	test_bsds_contract();
	test_split_independence();
	test_imgload();
	test_png_variants();
	test_bg_load();
	test_check_images();
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return check_summary("test_mnistm");
}
