/* test_idx.c - the IDX reader: good files (plain, gzip, multi-member gzip) and every rejection:
 * truncated header, bad magic, unsupported type, unsupported rank, overflowing dimensions,
 * truncated data, extra data, truncated/corrupt gzip, trailing garbage, oversize output,
 * unreadable files, and the dataset pair checks (rank, count mismatch, label >= 10). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "base/err.h"
#include "stream/idx.h"

/* Build an IDX u8 file: header for dims, then data bytes i*31+7. */
static size_t make_idx(uint8_t *buf, int ndim, const uint32_t *dims)
{
	size_t n = 4;
	buf[0] = 0; buf[1] = 0; buf[2] = 0x08; buf[3] = (uint8_t)ndim;
	uint64_t count = 1;
	for (int i = 0; i < ndim; i++) {
		buf[n++] = (uint8_t)(dims[i] >> 24); buf[n++] = (uint8_t)(dims[i] >> 16);
		buf[n++] = (uint8_t)(dims[i] >> 8);  buf[n++] = (uint8_t)dims[i];
		count *= dims[i];
	}
	for (uint64_t i = 0; i < count; i++)
		buf[n++] = (uint8_t)(i * 31 + 7);
	return n;
}

/* gzip-compress with zlib (windowBits 16+15 = gzip wrapper). Returns the compressed size. */
static size_t gz(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return 0;
	z.next_in = (Bytef *)in; z.avail_in = (uInt)n;
	z.next_out = out; z.avail_out = (uInt)cap;
	int rc = deflate(&z, Z_FINISH);
	size_t m = cap - z.avail_out;
	deflateEnd(&z);
	return rc == Z_STREAM_END ? m : 0;
}

static void test_parse(void)
{
	static uint8_t buf[1 << 16];
	idx_array a;
	uint32_t d3[3] = {5, 4, 3};
	size_t n = make_idx(buf, 3, d3);
	CHECK(idx_parse(buf, n, "x", &a) == 0);
	CHECK(a.ndim == 3 && a.dims[0] == 5 && a.dims[1] == 4 && a.dims[2] == 3 && a.count == 60);
	CHECK(a.data == buf + 16 && a.data[0] == 7 && a.data[59] == (uint8_t)(59 * 31 + 7));

	uint32_t d1[1] = {10};
	n = make_idx(buf, 1, d1);
	CHECK(idx_parse(buf, n, "y", &a) == 0 && a.ndim == 1 && a.count == 10);

	/* A zero dimension: an empty array, even beside a huge one. */
	uint32_t dz[3] = {0xffffffffu, 0xffffffffu, 0};
	n = make_idx(buf, 3, dz);
	CHECK(idx_parse(buf, n, "z", &a) == 0 && a.count == 0);

	/* Truncated header: under 4 bytes, and inside the dimensions. */
	n = make_idx(buf, 3, d3);
	CHECK_ERR(idx_parse(buf, 0, "t0", &a), "t0: truncated IDX header");
	CHECK_ERR(idx_parse(buf, 3, "t3", &a), "truncated IDX header");
	CHECK_ERR(idx_parse(buf, 15, "t15", &a), "truncated IDX header (15 of 16 bytes)");
	/* Truncated data: one byte short, and header only. */
	CHECK_ERR(idx_parse(buf, n - 1, "td", &a), "td: truncated IDX data: the dimensions need 60 bytes, the file has 59");
	CHECK_ERR(idx_parse(buf, 16, "th", &a), "truncated IDX data");
	/* Extra bytes after the data (dimensions do not match the file). */
	buf[n] = 0;
	CHECK_ERR(idx_parse(buf, n + 1, "xx", &a), "xx: IDX data does not match the dimensions: 1 bytes after");

	/* Wrong magic: non-zero leading bytes (e.g. a gzip file not decompressed, an NPY file). */
	uint8_t save0 = buf[0];
	buf[0] = 0x1f;
	CHECK_ERR(idx_parse(buf, n, "m", &a), "m: bad magic number 0x1f000803");
	buf[0] = save0;
	buf[1] = 1;
	CHECK_ERR(idx_parse(buf, n, "m", &a), "bad magic number");
	buf[1] = 0;
	/* Unsupported element types: signed byte, int, float, double, and garbage. */
	uint8_t types[] = {0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x00, 0xff};
	for (size_t i = 0; i < sizeof types; i++) {
		buf[2] = types[i];
		CHECK_ERR(idx_parse(buf, n, "ty", &a), "unsupported IDX data type");
	}
	buf[2] = 0x08;
	/* Unsupported rank: 0 and 9. */
	buf[3] = 0;
	CHECK_ERR(idx_parse(buf, n, "r", &a), "unsupported IDX rank 0");
	buf[3] = 9;
	CHECK_ERR(idx_parse(buf, n, "r", &a), "unsupported IDX rank 9");
	buf[3] = 3;
	/* Dimensions whose product overflows 64 bits, and ones merely over the size limit. */
	buf[3] = 4;  /* 4 dimensions of 2^32-1 each, written by hand */
	for (int i = 0; i < 4; i++) {
		buf[4 + 4 * i] = 0xff; buf[5 + 4 * i] = 0xff; buf[6 + 4 * i] = 0xff; buf[7 + 4 * i] = 0xff;
	}
	CHECK_ERR(idx_parse(buf, 20, "big", &a), "big: IDX dimensions give a size over");
	buf[3] = 2;
	buf[4] = 0x00; buf[5] = 0x01; buf[6] = 0x00; buf[7] = 0x00;        /* 65536 */
	buf[8] = 0x00; buf[9] = 0x01; buf[10] = 0x00; buf[11] = 0x00;      /* x 65536 = 4 GiB */
	CHECK_ERR(idx_parse(buf, 12, "big2", &a), "size over");
}

static void test_gzip(void)
{
	static uint8_t raw[1 << 16], z[1 << 17], z2[1 << 18];
	uint32_t d3[3] = {20, 28, 28};
	size_t n = make_idx(raw, 3, d3);
	size_t zn = gz(raw, n, z, sizeof z);
	CHECK(zn > 20);
	CHECK(idx_is_gzip(z, zn) && !idx_is_gzip(raw, n) && !idx_is_gzip(z, 1));

	uint8_t *out;
	size_t on;
	CHECK(idx_gunzip(z, zn, "g", IDX_MAX_BYTES, &out, &on) == 0);
	CHECK(on == n && memcmp(out, raw, n) == 0);
	free(out);

	/* Two concatenated members decompress to both contents (as gzip -d does). */
	memcpy(z2, z, zn);
	memcpy(z2 + zn, z, zn);
	CHECK(idx_gunzip(z2, 2 * zn, "g2", IDX_MAX_BYTES, &out, &on) == 0);
	CHECK(on == 2 * n && memcmp(out, raw, n) == 0 && memcmp(out + n, raw, n) == 0);
	free(out);

	/* Truncation at every length from 2 bytes to one short of the end. */
	int all_trunc = 1;
	for (size_t cut = 2; cut < zn; cut++) {
		int rc = idx_gunzip(z, cut, "cut", IDX_MAX_BYTES, &out, &on);
		if (rc >= 0 || !strstr(err_msg(), "truncated gzip data") || out != NULL) {
			all_trunc = 0;
			fprintf(stderr, "cut %zu: rc %d msg %s\n", cut, rc, err_msg());
			break;
		}
	}
	CHECK(all_trunc);
	CHECK_ERR(idx_gunzip(z, zn - 1, "tg", IDX_MAX_BYTES, &out, &on), "tg: truncated gzip data");

	/* Corruption: a flipped byte in the deflate data or in the CRC trailer. */
	memcpy(z2, z, zn);
	z2[zn / 2] ^= 0x55;
	CHECK_ERR(idx_gunzip(z2, zn, "cg", IDX_MAX_BYTES, &out, &on), "cg: corrupt gzip data");
	memcpy(z2, z, zn);
	z2[zn - 6] ^= 0x01;  /* CRC-32 */
	CHECK_ERR(idx_gunzip(z2, zn, "crc", IDX_MAX_BYTES, &out, &on), "corrupt gzip data (incorrect data check)");
	memcpy(z2, z, zn);
	z2[zn - 2] ^= 0x01;  /* ISIZE */
	CHECK_ERR(idx_gunzip(z2, zn, "isz", IDX_MAX_BYTES, &out, &on), "corrupt gzip data");

	/* Trailing garbage after the member. */
	memcpy(z2, z, zn);
	memcpy(z2 + zn, "junk", 4);
	CHECK_ERR(idx_gunzip(z2, zn + 4, "tr", IDX_MAX_BYTES, &out, &on), "tr: 4 bytes of trailing garbage");
	/* Not gzip at all. */
	CHECK_ERR(idx_gunzip(raw, n, "ng", IDX_MAX_BYTES, &out, &on), "ng: not gzip data");
	/* Output over the limit (a gzip bomb guard): exactly n is fine, n-1 is not. */
	CHECK(idx_gunzip(z, zn, "lim", n, &out, &on) == 0 && on == n);
	free(out);
	CHECK_ERR(idx_gunzip(z, zn, "lim", n - 1, &out, &on), "lim: decompressed data larger than");
	CHECK(out == NULL);
}

static void test_files(void)
{
	static uint8_t raw[4096], z[8192];
	char dir[] = "/tmp/test_idx_XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char plain[64], gzp[64], missing[64];
	snprintf(plain, sizeof plain, "%s/a-idx1-ubyte", dir);
	snprintf(gzp, sizeof gzp, "%s/a-idx1-ubyte.gz", dir);
	snprintf(missing, sizeof missing, "%s/none", dir);
	uint32_t d1[1] = {1000};
	size_t n = make_idx(raw, 1, d1);
	size_t zn = gz(raw, n, z, sizeof z);
	FILE *f = fopen(plain, "wb");
	fwrite(raw, 1, n, f);
	fclose(f);
	f = fopen(gzp, "wb");
	fwrite(z, 1, zn, f);
	fclose(f);

	uint8_t *b;
	size_t bn;
	CHECK(idx_load(plain, &b, &bn) == 0 && bn == n && memcmp(b, raw, n) == 0);
	free(b);
	CHECK(idx_load(gzp, &b, &bn) == 0 && bn == n && memcmp(b, raw, n) == 0);
	free(b);
	CHECK_ERR(idx_load(missing, &b, &bn), "none: No such file or directory");
	CHECK_ERR(idx_load(dir, &b, &bn), "Is a directory");
	CHECK(idx_slurp(plain, n, &b, &bn) == 0 && bn == n);
	free(b);
	CHECK_ERR(idx_slurp(plain, n - 1, &b, &bn), "file larger than");
	/* idx_map: the same bytes, mapped; an empty file falls back to a (malloc'd) read. */
	int mapped;
	CHECK(idx_map(plain, IDX_MAX_BYTES, &b, &bn, &mapped) == 0 && mapped == 1 && bn == n && memcmp(b, raw, n) == 0);
	idx_unmap(b, bn, mapped);
	CHECK_ERR(idx_map(plain, n - 1, &b, &bn, &mapped), "file larger than");
	CHECK_ERR(idx_map(missing, IDX_MAX_BYTES, &b, &bn, &mapped), "No such file");
	char empty[64];
	snprintf(empty, sizeof empty, "%s/empty", dir);
	fclose(fopen(empty, "wb"));
	CHECK(idx_map(empty, IDX_MAX_BYTES, &b, &bn, &mapped) == 0 && mapped == 0 && bn == 0);
	idx_unmap(b, bn, mapped);
	unlink(empty);
	/* A truncated .gz file on disk. */
	f = fopen(gzp, "wb");
	fwrite(z, 1, zn - 3, f);
	fclose(f);
	CHECK_ERR(idx_load(gzp, &b, &bn), "truncated gzip data");
	unlink(plain);
	unlink(gzp);
	rmdir(dir);
}

static void test_dataset(void)
{
	static uint8_t ib[4096], lb[64];
	idx_array im, lab;
	uint32_t di[3] = {6, 2, 3}, dl[1] = {6};
	size_t ni = make_idx(ib, 3, di);
	size_t nl = make_idx(lb, 1, dl);
	for (int i = 0; i < 6; i++)
		lb[8 + i] = (uint8_t)(i + 4);  /* 4..9 */
	CHECK(idx_parse(ib, ni, "img", &im) == 0 && idx_parse(lb, nl, "lab", &lab) == 0);
	CHECK(idx_check_dataset(&im, "img", &lab, "lab") == 0);
	lb[8 + 5] = 10;
	CHECK_ERR(idx_check_dataset(&im, "img", &lab, "lab"), "lab: label 10 at index 5 is out of range 0..9");
	lb[8 + 5] = 9;
	/* Count mismatch. */
	uint32_t dl5[1] = {5};
	nl = make_idx(lb, 1, dl5);
	CHECK(idx_parse(lb, nl, "lab", &lab) == 0);
	for (int i = 0; i < 5; i++)
		lb[8 + i] = 1;
	CHECK_ERR(idx_check_dataset(&im, "img", &lab, "lab"), "img has 6 images but lab has 5 labels");
	/* Wrong ranks: labels given as images and the other way round. */
	CHECK_ERR(idx_check_dataset(&lab, "lab", &lab, "lab"), "expected images of rank 3");
	CHECK_ERR(idx_check_dataset(&im, "img", &im, "img"), "expected labels of rank 1");
	/* Empty images (H = 0). */
	uint32_t d0[3] = {5, 0, 3};
	ni = make_idx(ib, 3, d0);
	CHECK(idx_parse(ib, ni, "img0", &im) == 0);
	CHECK_ERR(idx_check_dataset(&im, "img0", &lab, "lab"), "img0: empty images");
	/* Absurd image sides (they would not fit the stream's int sizes). */
	uint32_t dw[3] = {5, 1, 70000};
	ni = make_idx(ib, 3, (uint32_t[3]){5, 1, 1});
	CHECK(idx_parse(ib, ni, "imgw", &im) == 0);
	im.dims[2] = dw[2];  /* a header-only change: the data is not read by the check */
	CHECK_ERR(idx_check_dataset(&im, "imgw", &lab, "lab"), "imgw: images of 1x70000 are larger than 65535x65535");
}

int main(void)
{
	test_parse();
	test_gzip();
	test_files();
	test_dataset();
	return check_summary("test_idx");
}
