/* test_published.c - lib/data/published.c without files: the digit padding of --size (margins,
 * odd sizes, several images, refusals), the 32x32 RGB PNG decoder (good, wrong size, grayscale,
 * alpha, corrupt) and the built-in expected figures. */
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "check.h"
#include "base/err.h"
#include "data/published.h"

/* Every pixel of image i at (y,x) of an (s,s) canvas, checked against the rule: zero outside
 * the (h,w) block at (top,left), the source pixel inside. */
static int padded_ok(const uint8_t *src, const uint8_t *dst, int n, int h, int w, int s, int top, int left)
{
	for (int i = 0; i < n; i++)
		for (int y = 0; y < s; y++)
			for (int x = 0; x < s; x++) {
				int in = y >= top && y < top + h && x >= left && x < left + w;
				uint8_t want = in ? src[(i * h + (y - top)) * w + (x - left)] : 0;
				if (dst[(i * s + y) * s + x] != want)
					return 0;
			}
	return 1;
}

static void test_pad(void)
{
	enum { N = 3, H = 28, W = 28 };
	uint8_t *src = malloc(N * H * W), *dst = malloc(N * 33 * 33);
	for (int i = 0; i < N * H * W; i++)
		src[i] = (uint8_t)(1 + i % 251);  /* never 0: a misplaced zero would show */
	/* 32: 2 pixels on every side (the published MNIST-M geometry) */
	memset(dst, 0xAA, N * 33 * 33);
	CHECK(pub_pad_images(src, N, H, W, 32, dst) == 0);
	CHECK(padded_ok(src, dst, N, H, W, 32, 2, 2));
	CHECK(dst[0] == 0 && dst[2 * 32 + 2] == src[0] && dst[29 * 32 + 29] == src[H * W - 1] && dst[30 * 32 + 30] == 0);
	/* 33 (odd): 2 on top/left, 3 on bottom/right */
	memset(dst, 0xAA, N * 33 * 33);
	CHECK(pub_pad_images(src, N, H, W, 33, dst) == 0);
	CHECK(padded_ok(src, dst, N, H, W, 33, 2, 2));
	/* 28: a plain copy */
	CHECK(pub_pad_images(src, N, H, W, 28, dst) == 0);
	CHECK(memcmp(src, dst, N * H * W) == 0);
	/* a non-square source and a canvas too small */
	CHECK(pub_pad_images(src, 2, 4, 7, 10, dst) == 0);
	CHECK(padded_ok(src, dst, 2, 4, 7, 10, 3, 1));
	CHECK_ERR(pub_pad_images(src, N, H, W, 27, dst), "cannot place 28x28 images on a 27x27 canvas");
	free(src);
	free(dst);
}

/* A PNG in memory from libpng's simplified writer. */
static size_t make_png(int w, int h, int format, const uint8_t *px, void *buf, size_t cap)
{
	png_image im;
	memset(&im, 0, sizeof im);
	im.version = PNG_IMAGE_VERSION;
	im.width = (png_uint_32)w;
	im.height = (png_uint_32)h;
	im.format = (png_uint_32)format;
	png_alloc_size_t n = cap;
	return png_image_write_to_memory(&im, buf, &n, 0, px, 0, NULL) ? (size_t)n : 0;
}

static void test_png(void)
{
	static uint8_t px[64 * 64 * 4], out[PUB_MNISTM_IMAGE_BYTES], buf[65536];
	for (size_t i = 0; i < sizeof px; i++)
		px[i] = (uint8_t)(i * 7 + 3);
	size_t n = make_png(32, 32, PNG_FORMAT_RGB, px, buf, sizeof buf);
	CHECK(n > 0);
	CHECK(pub_decode_png32(buf, n, "a.png", out) == 0 && memcmp(out, px, sizeof out) == 0);
	n = make_png(28, 32, PNG_FORMAT_RGB, px, buf, sizeof buf);
	CHECK_ERR(pub_decode_png32(buf, n, "b.png", out), "b.png: image is 28x32, expected 32x32");
	n = make_png(32, 32, PNG_FORMAT_GRAY, px, buf, sizeof buf);
	CHECK_ERR(pub_decode_png32(buf, n, "c.png", out), "c.png: image is grayscale, expected RGB");
	n = make_png(32, 32, PNG_FORMAT_RGBA, px, buf, sizeof buf);
	CHECK_ERR(pub_decode_png32(buf, n, "d.png", out), "d.png: image has an alpha channel, expected RGB");
	n = make_png(32, 32, PNG_FORMAT_RGB, px, buf, sizeof buf);
	CHECK_ERR(pub_decode_png32(buf, n / 2, "e.png", out), "e.png: corrupt PNG");
	CHECK_ERR(pub_decode_png32((const uint8_t *)"GIF89a", 6, "f.png", out), "f.png: not a readable PNG");
}

static void test_expected(void)
{
	pub_expect e;
	CHECK(pub_mnistm_expected("train", &e) == 0 && e.n == 59001 && e.images_sha[0] == 0x3c && e.labels_sha[0] == 0x32);
	CHECK(pub_mnistm_expected("test", &e) == 0 && e.n == 9001 && e.images_sha[0] == 0x47 && e.labels_sha[0] == 0x55);
	CHECK_ERR(pub_mnistm_expected("valid", &e), "no split 'valid'");
	char a[64], b[64];
	pub_mnistm_names("test", a, b);
	CHECK(!strcmp(a, "mnist_m_test_images.u8") && !strcmp(b, "mnist_m_test_labels.u8"));
}

int main(void)
{
	test_pad();
	test_png();
	test_expected();
	return check_summary("test_published");
}
