/* test_npy.c - the tensor stream: round trips, and every rejection named in npy.h. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "base/err.h"
#include "stream/npy.h"

/* Build a raw NPY array from a header dict text and a body. */
static size_t raw_npy(unsigned char *buf, int major, const char *dict, const void *body, size_t blen)
{
	size_t n = strlen(dict);
	memcpy(buf, "\x93NUMPY", 6);
	buf[6] = (unsigned char)major;
	buf[7] = 0;
	buf[8] = (unsigned char)(n & 0xff);
	buf[9] = (unsigned char)(n >> 8);
	memcpy(buf + 10, dict, n);
	if (blen)
		memcpy(buf + 10 + n, body, blen);
	return 10 + n + blen;
}

static int read_hdr(const unsigned char *buf, size_t len, npy_header *h)
{
	FILE *f = fmemopen((void *)buf, len, "rb");
	int rc = npy_read_header(f, "t", h);
	fclose(f);
	return rc;
}

static int read_arr(const unsigned char *buf, size_t len, npy_array *a)
{
	FILE *f = fmemopen((void *)buf, len, "rb");
	int rc = npy_read_array(f, "t", a);
	fclose(f);
	return rc;
}

static void test_roundtrip(void)
{
	char *mem = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&mem, &len);
	uint8_t u8[6] = {0, 1, 2, 253, 254, 255};
	int32_t i32[3] = {-1, 0, 2147483647};
	int64_t i64[2] = {-5, 1LL << 40};
	float f32[4] = {0.5f, -1.25f, 3e38f, -0.0f};
	int64_t s1[1] = {6}, s2[2] = {3, 1}, s3[2] = {2, 1}, s4[3] = {2, 1, 2}, s0[1] = {0};
	CHECK(npy_write_array(f, NPY_U8, 1, s1, u8) == 0);
	CHECK(npy_write_array(f, NPY_I32, 2, s2, i32) == 0);
	CHECK(npy_write_array(f, NPY_I64, 2, s3, i64) == 0);
	CHECK(npy_write_array(f, NPY_F32, 3, s4, f32) == 0);
	CHECK(npy_write_array(f, NPY_F32, 0, s0, f32) == 0); /* a scalar */
	CHECK(npy_write_array(f, NPY_U8, 1, s0, u8) == 0);   /* empty */
	fclose(f);

	FILE *r = fmemopen(mem, len, "rb");
	npy_array a;
	CHECK(npy_read_array(r, "mem", &a) == 0 && a.h.dtype == NPY_U8 && a.h.ndim == 1 && a.h.shape[0] == 6 &&
	      !memcmp(a.data, u8, 6));
	npy_free(&a);
	CHECK(npy_read_array(r, "mem", &a) == 0 && a.h.dtype == NPY_I32 && a.h.ndim == 2 && a.h.count == 3 &&
	      !memcmp(a.data, i32, 12));
	npy_free(&a);
	CHECK(npy_read_array(r, "mem", &a) == 0 && a.h.dtype == NPY_I64 && !memcmp(a.data, i64, 16));
	npy_free(&a);
	CHECK(npy_read_array(r, "mem", &a) == 0 && a.h.dtype == NPY_F32 && a.h.ndim == 3 && a.h.shape[2] == 2 &&
	      !memcmp(a.data, f32, 16));
	npy_free(&a);
	CHECK(npy_read_array(r, "mem", &a) == 0 && a.h.ndim == 0 && a.h.count == 1 && ((float *)a.data)[0] == 0.5f);
	npy_free(&a);
	CHECK(npy_read_array(r, "mem", &a) == 0 && a.h.count == 0);
	npy_free(&a);
	CHECK(npy_at_eof(r));
	CHECK(npy_read_array(r, "mem", &a) == DN_EEOF);
	fclose(r);

	/* every header is padded so that data starts on a 64-byte boundary */
	CHECK(((unsigned char)mem[8] | (unsigned char)mem[9] << 8) % 64 == 54);
	CHECK(mem[10 + ((unsigned char)mem[8] | (unsigned char)mem[9] << 8) - 1] == '\n');
	free(mem);
}

static void test_numpy_variants(void)
{
	unsigned char buf[512];
	npy_header h;
	/* '<u1' as well as '|u1', keys in another order, no trailing comma, extra spaces */
	size_t n = raw_npy(buf, 1, "{'shape': (2, 3), 'fortran_order': False, 'descr': '<u1'}   \n", NULL, 0);
	CHECK(read_hdr(buf, n, &h) == 0 && h.dtype == NPY_U8 && h.ndim == 2 && h.shape[1] == 3 && h.nbytes == 6);
	n = raw_npy(buf, 1, "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (7,), }\n", NULL, 0);
	CHECK(read_hdr(buf, n, &h) == 0 && h.dtype == NPY_F32 && h.ndim == 1 && h.shape[0] == 7);
	n = raw_npy(buf, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (1,2,3,4,5,6,7,8), }\n", NULL, 0);
	CHECK(read_hdr(buf, n, &h) == 0 && h.ndim == 8 && h.count == 40320);
}

static void test_rejections(void)
{
	unsigned char buf[512];
	npy_header h;
	npy_array a;
	size_t n;

	n = raw_npy(buf, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }\n", "ab", 2);
	buf[1] = 'X';
	CHECK_ERR(read_hdr(buf, n, &h), "bad magic");
	CHECK_ERR(read_hdr((const unsigned char *)"PK\x03\x04", 4, &h), "bad magic");
	CHECK_ERR(read_hdr((const unsigned char *)"\x93NUM", 4, &h), "truncated NPY header");
	CHECK(read_hdr(buf, 0, &h) == DN_EEOF);

	n = raw_npy(buf, 2, "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }\n", "ab", 2);
	CHECK_ERR(read_hdr(buf, n, &h), "unsupported NPY version");
	n = raw_npy(buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n", NULL, 0);
	CHECK_ERR(read_hdr(buf, n, &h), "unsupported dtype '<f8'");
	n = raw_npy(buf, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", NULL, 0);
	CHECK_ERR(read_hdr(buf, n, &h), "unsupported dtype");
	n = raw_npy(buf, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }\n", NULL, 0);
	CHECK_ERR(read_hdr(buf, n, &h), "fortran_order");
	n = raw_npy(buf, 1, "not a dict at all\n", NULL, 0);
	CHECK_ERR(read_hdr(buf, n, &h), "not a valid dict");
	n = raw_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,) \n", NULL, 0);
	CHECK_ERR(read_hdr(buf, n, &h), "not a valid dict");
	n = raw_npy(buf, 1, "{'descr': '<f4', 'shape': (2,), }\n", NULL, 0);
	CHECK_ERR(read_hdr(buf, n, &h), "lacks 'fortran_order'");
	n = raw_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,-1), }\n", NULL, 0);
	CHECK_ERR(read_hdr(buf, n, &h), "bad shape");
	n = raw_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }\n", NULL, 0);
	CHECK_ERR(read_hdr(buf, n, &h), "rank above 8");
	n = raw_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n", NULL, 0);
	CHECK_ERR(read_hdr(buf, n, &h), "overflows");
	n = raw_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }\n", NULL, 0);
	CHECK_ERR(read_hdr(buf, n, &h), "overflows");
	n = raw_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3037000500, 3037000500), }\n", NULL, 0);
	CHECK_ERR(read_hdr(buf, n, &h), "overflows");
	/* header length says more than there is */
	n = raw_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", NULL, 0);
	CHECK_ERR(read_hdr(buf, n - 5, &h), "truncated NPY header");
	/* truncated body */
	n = raw_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", "abcdefg", 7);
	CHECK_ERR(read_arr(buf, n, &a), "truncated body");
	CHECK(a.data == NULL);
	/* an array other than the one expected at that place */
	n = raw_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", NULL, 0);
	CHECK(read_hdr(buf, n, &h) == 0);
	CHECK_ERR(npy_expect(&h, "t", "labels", NPY_U8, 1), "labels: expected uint8 of rank 1, got (2,) float32");
	CHECK(npy_expect(&h, "t", "points", NPY_F32, 1) == 0);
}

int main(void)
{
	test_roundtrip();
	test_numpy_variants();
	test_rejections();
	return check_summary("test_npy");
}
