/* test_err.c - err_set() may quote err_msg() in its own message (context prefixes). */
#include <string.h>

#include "check.h"
#include "base/err.h"
#include "stream/npy.h"

int main(void)
{
	CHECK(err_set(DN_EFORMAT, "inner %s", "problem") == DN_EFORMAT);
	CHECK(err_set(DN_EIO, "outer: %s", err_msg()) == DN_EIO);
	CHECK(!strcmp(err_msg(), "outer: inner problem"));
	CHECK(err_set(DN_EIO, "%s: %s", "a", err_msg()) == DN_EIO);
	CHECK(!strcmp(err_msg(), "a: outer: inner problem"));

	/* the path that showed it: an overflowing shape read from a stream */
	static const char hdr[] = "\x93NUMPY\x01\x00\x76\x00"
		"{'descr': '|u1', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }";
	char buf[128];
	memset(buf, ' ', sizeof buf);
	memcpy(buf, hdr, sizeof hdr - 1);
	buf[127] = '\n';
	FILE *f = fmemopen(buf, sizeof buf, "r");
	npy_header h;
	CHECK_ERR(npy_read_header(f, "x.npy", &h), "x.npy: shape too large: element count overflows");
	fclose(f);
	return check_summary("test_err");
}
