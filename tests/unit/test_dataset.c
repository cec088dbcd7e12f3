/* test_dataset.c - the dataset stream (read, write, the label validator and the streaming
 * checks), the background chunk writer, and the evaluation pieces built on datasets: the
 * per-domain subset and the confusion matrix. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "base/err.h"
#include "base/rng.h"
#include "eval/confusion.h"
#include "eval/subset.h"
#include "stream/dataset.h"
#include "stream/writer.h"

static void test_dataset(void)
{
	char *mem = NULL;
	size_t len = 0;
	dataset d = {.n = 2, .h = 2, .w = 3, .c = 1};
	uint8_t img[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, lab[2] = {3, 9};
	d.images = img;
	d.labels = lab;
	FILE *f = open_memstream(&mem, &len);
	CHECK(dataset_write(f, &d) == 0);
	fclose(f);
	dataset e;
	FILE *r = fmemopen(mem, len, "rb");
	CHECK(dataset_read(r, "ds", &e) == 0 && e.n == 2 && e.h == 2 && e.w == 3 && e.c == 1 &&
	      !memcmp(e.images, img, 12) && e.labels[1] == 9);
	dataset_free(&e);
	fclose(r);

	/* two datasets back to back, or bytes after the labels: refused, not half-read */
	{
		char *two = malloc(2 * len + 3);
		memcpy(two, mem, len);
		memcpy(two + len, mem, len);
		r = fmemopen(two, 2 * len, "rb");
		CHECK_ERR(dataset_read(r, "ds", &e), "ds: another array follows the labels: (2,2,3) uint8");
		fclose(r);
		memcpy(two + len, "xyz", 3);
		r = fmemopen(two, len + 3, "rb");
		CHECK_ERR(dataset_read(r, "ds", &e), "ds: unexpected data after the labels");
		fclose(r);
		free(two);
	}

	/* without labels */
	size_t first = 0;
	{
		FILE *g = fmemopen(mem, len, "rb");
		npy_header h;
		CHECK(npy_read_header(g, "x", &h) == 0);
		first = (size_t)ftell(g) + h.nbytes;
		fclose(g);
	}
	r = fmemopen(mem, first, "rb");
	CHECK_ERR(dataset_read(r, "ds", &e), "stream ended after the images");
	fclose(r);

	/* label out of range */
	mem[len - 1] = 10;
	r = fmemopen(mem, len, "rb");
	CHECK_ERR(dataset_read(r, "ds", &e), "out of range 0..9");
	fclose(r);
	free(mem);

	/* labels count mismatch, and images of the wrong dtype */
	mem = NULL;
	f = open_memstream(&mem, &len);
	int64_t s3[3] = {2, 2, 3}, s1[1] = {3};
	npy_write_array(f, NPY_U8, 3, s3, img);
	npy_write_array(f, NPY_U8, 1, s1, img);
	fclose(f);
	r = fmemopen(mem, len, "rb");
	CHECK_ERR(dataset_read(r, "ds", &e), "3 labels for 2 images");
	fclose(r);
	free(mem);
	mem = NULL;
	f = open_memstream(&mem, &len);
	float fl[12] = {0};
	npy_write_array(f, NPY_F32, 3, s3, fl);
	fclose(f);
	r = fmemopen(mem, len, "rb");
	CHECK_ERR(dataset_read(r, "ds", &e), "images: expected uint8");
	fclose(r);
	free(mem);
}

/* The one label validator: the index in the whole dataset, whatever chunk is checked. */
static void test_labels(void)
{
	uint8_t ok[4] = {0, 9, 5, 1}, bad[3] = {2, 10, 3};
	CHECK(dataset_check_labels(ok, 4, 0, "x") == 0);
	CHECK(dataset_check_labels(ok, 0, 0, "x") == 0);
	CHECK_ERR(dataset_check_labels(bad, 3, 0, "x"), "x: label 10 at index 1 is out of range 0..9");
	CHECK_ERR(dataset_check_labels(bad, 3, 100, "x"), "x: label 10 at index 101 is out of range 0..9");

	/* the labels header after n images: missing, wrong dtype, wrong count */
	char *mem = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&mem, &len);
	int64_t s3[1] = {3};
	int32_t i32[3] = {0};
	npy_write_array(f, NPY_U8, 1, s3, ok);
	npy_write_array(f, NPY_I32, 1, s3, i32);
	fclose(f);
	npy_header lh;
	FILE *r = fmemopen(mem, len, "rb");
	CHECK_ERR(dataset_read_labels_header(r, "s", 4, &lh), "s: labels: expected uint8 (4,), got (3,) uint8: 3 labels for 4 images");
	uint8_t buf[3];
	CHECK(npy_read_data(r, "s", &lh, buf, 3) == 0);
	CHECK_ERR(dataset_read_labels_header(r, "s", 3, &lh), "s: labels: expected uint8 (3,), got (3,) int32");
	CHECK(npy_read_data(r, "s", &lh, i32, 3) == 0);
	CHECK_ERR(dataset_read_labels_header(r, "s", 3, &lh), "s: no labels array");
	fclose(r);
	free(mem);
}

static void test_image(void)
{
	uint8_t g[2 * 2 * 2] = {1, 2, 3, 4, 5, 6, 7, 8}, out[12];
	dataset d = {.n = 2, .h = 2, .w = 2, .c = 1, .images = g};
	dataset_image(&d, 1, 1, out);
	CHECK(!memcmp(out, g + 4, 4));
	dataset_image(&d, 1, 3, out);
	CHECK(out[0] == 5 && out[1] == 5 && out[2] == 5 && out[9] == 8 && out[11] == 8);
}

static void test_subset(void)
{
	dataset s = {.n = 50}, t = {.n = 7};
	subset a, b;
	CHECK(subset_pick(&a, &s, &t, 5, 3) == 0 && a.k[0] == 5 && a.k[1] == 5 && subset_total(&a) == 10);
	/* the same images for the same seed, in increasing order, and as rng_subset picks them */
	CHECK(subset_pick(&b, &s, &t, 5, 3) == 0 && !memcmp(a.idx[0], b.idx[0], 5 * sizeof(int64_t)));
	int64_t *ref = rng_subset(50, 5, 3, SUBSET_STREAM);
	CHECK(ref && !memcmp(a.idx[0], ref, 5 * sizeof(int64_t)));
	free(ref);
	for (int i = 1; i < 5; i++)
		CHECK(a.idx[1][i - 1] < a.idx[1][i] && a.idx[1][i] < 7);
	subset_free(&a);
	subset_free(&b);
	CHECK(subset_pick(&a, &s, &t, 0, 3) == 0 && a.k[0] == 50 && a.k[1] == 7 && a.idx[1][6] == 6);
	subset_free(&a);
	CHECK_ERR(subset_pick(&a, &s, &t, 8, 3), "target: 8 images asked for, it has 7");
	CHECK(a.idx[0] == NULL && a.idx[1] == NULL);
}

static void test_confusion(void)
{
	uint8_t truth[5] = {1, 1, 2, 9, 0}, pred[5] = {1, 2, 2, 9, 9};
	confusion c;
	confusion_count(&c, truth, pred, 5);
	CHECK(c.n == 5 && c.correct == 3 && c.m[1][2] == 1 && c.m[0][9] == 1 && c.m[9][9] == 1);
	char *mem = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&mem, &len);
	CHECK(confusion_write(f, &c) == 0);
	fclose(f);
	CHECK(!strncmp(mem, "accuracy: 0.6000 (3/5)\n0 0 0 0 0 0 0 0 0 1\n0 1 1 0 0 0 0 0 0 0\n", 63));
	free(mem);
	f = fopen("/dev/full", "w");
	if (f) {
		setvbuf(f, NULL, _IONBF, 0);
		CHECK_ERR(confusion_write(f, &c), "write error");
		fclose(f);
	}
}

/* Chunks written in the background arrive whole and in order; a failed write is reported
 * (with its errno) by the next wait, and nothing more is written after it. */
static void test_writer(void)
{
	CHECK(writer_chunk(1000, 1000000) == 4096);
	CHECK(writer_chunk(16u << 20, 10) == 1);
	CHECK(writer_chunk(100u << 20, 10) == 1);
	CHECK(writer_chunk(10, 3) == 3);
	CHECK(writer_chunk(10, 0) == 1);

	char *mem = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&mem, &len);
	writer w;
	CHECK(writer_start(&w, f) == 0);
	static uint8_t bufs[2][1000];
	for (int i = 0; i < 10; i++) {
		uint8_t *b = bufs[i & 1];
		CHECK(writer_wait(&w) == 0);
		memset(b, i, sizeof bufs[0]);
		writer_submit(&w, b, sizeof bufs[0]);
	}
	CHECK(writer_wait(&w) == 0);
	CHECK(fputs("end", f) >= 0);  /* the caller's own write between chunks */
	writer_stop(&w);
	fclose(f);
	CHECK(len == 10003 && mem[0] == 0 && mem[9999] == 9 && !memcmp(mem + 10000, "end", 3));
	free(mem);

	f = fopen("/dev/full", "w");
	if (f) {
		setvbuf(f, NULL, _IONBF, 0);
		CHECK(writer_start(&w, f) == 0);
		writer_submit(&w, bufs[0], sizeof bufs[0]);
		errno = 0;
		CHECK_ERR(writer_wait(&w), "write error");
		CHECK(errno == ENOSPC && w.failed);
		/* a later failure of the caller's own write: the first cause is the one reported */
		errno = EBADF;
		CHECK(writer_fail(&w) == DN_EIO && errno == ENOSPC && w.err == ENOSPC);
		writer_stop(&w);
		CHECK(errno == ENOSPC);
		fclose(f);
	}
}

int main(void)
{
	test_dataset();
	test_labels();
	test_image();
	test_subset();
	test_confusion();
	test_writer();
	return check_summary("test_dataset");
}
