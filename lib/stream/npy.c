/* npy.c - NPY v1.0 stream reader/writer (format: numpy/lib/format.py; man/dann-tensor.5).
 *
 * Layout of one array: "\x93NUMPY", major 1, minor 0, uint16 LE header length HLEN, then HLEN
 * bytes of a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and ending in '\n' so that 10 + HLEN is a multiple of 64, then the data.
 * The parser accepts the dict keys in any order and any amount of white space, as numpy does. */
#include "stream/npy.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

static const size_t dtype_sizes[] = {1, 4, 8, 4};
static const char *dtype_names[] = {"uint8", "int32", "int64", "float32"};
static const char *dtype_descr[] = {"|u1", "<i4", "<i8", "<f4"};

size_t npy_dtype_size(npy_dtype t) { return dtype_sizes[t]; }
const char *npy_dtype_name(npy_dtype t) { return dtype_names[t]; }

char *npy_header_str(const npy_header *h, char *buf, size_t len)
{
	size_t o = 0;
	o += (size_t)snprintf(buf + o, len - o, "(");
	for (int i = 0; i < h->ndim && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "," : "", (long long)h->shape[i]);
	if (o < len)
		snprintf(buf + o, len - o, "%s) %s", h->ndim == 1 ? "," : "", npy_dtype_name(h->dtype));
	return buf;
}

int npy_header_init(npy_header *h, npy_dtype t, int ndim, const int64_t *shape)
{
	if (ndim < 0 || ndim > NPY_MAXDIM)
		return err_set(DN_EFORMAT, "rank %d not supported (at most %d)", ndim, NPY_MAXDIM);
	h->dtype = t;
	h->ndim = ndim;
	uint64_t count = 1;
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 0)
			return err_set(DN_EFORMAT, "negative dimension in shape");
		h->shape[i] = shape[i];
		if (shape[i] != 0 && count > (uint64_t)INT64_MAX / (uint64_t)shape[i])
			return err_set(DN_ENOMEM, "shape too large: element count overflows");
		count *= (uint64_t)shape[i];
	}
	for (int i = ndim; i < NPY_MAXDIM; i++)
		h->shape[i] = 0;
	size_t es = dtype_sizes[t];
	if (count > (uint64_t)(SIZE_MAX / 2) / es)
		return err_set(DN_ENOMEM, "shape too large: byte size overflows");
	h->count = (int64_t)count;
	h->nbytes = (size_t)count * es;
	return 0;
}

/* --- header parsing ---------------------------------------------------------------------- */

typedef struct {
	const char *p, *end;
} cursor;

static void skip_ws(cursor *c)
{
	while (c->p < c->end && isspace((unsigned char)*c->p))
		c->p++;
}

static int eat(cursor *c, char ch)
{
	skip_ws(c);
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return 1;
	}
	return 0;
}

/* A quoted Python string ('...' or "..."), no escapes needed for the keys and descrs we accept. */
static int parse_str(cursor *c, char *out, size_t len)
{
	skip_ws(c);
	if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
		return -1;
	char q = *c->p++;
	size_t n = 0;
	while (c->p < c->end && *c->p != q) {
		if (n + 1 >= len)
			return -1;
		out[n++] = *c->p++;
	}
	if (c->p >= c->end)
		return -1;
	c->p++;
	out[n] = 0;
	return 0;
}

static int parse_header_dict(const char *txt, size_t len, const char *name, npy_header *h)
{
	cursor c = {txt, txt + len};
	int have_descr = 0, have_fortran = 0, have_shape = 0;
	npy_dtype dtype = NPY_U8;
	int ndim = 0;
	int64_t shape[NPY_MAXDIM];
	char key[32], val[32];

	if (!eat(&c, '{'))
		return err_set(DN_EFORMAT, "%s: NPY header is not a valid dict", name);
	for (;;) {
		if (eat(&c, '}'))
			break;
		if (parse_str(&c, key, sizeof key) < 0 || !eat(&c, ':'))
			return err_set(DN_EFORMAT, "%s: NPY header is not a valid dict", name);
		if (!strcmp(key, "descr")) {
			if (parse_str(&c, val, sizeof val) < 0)
				return err_set(DN_EFORMAT, "%s: NPY header: descr is not a string", name);
			if (!strcmp(val, "|u1") || !strcmp(val, "<u1") || !strcmp(val, "u1"))
				dtype = NPY_U8;
			else if (!strcmp(val, "<i4"))
				dtype = NPY_I32;
			else if (!strcmp(val, "<i8"))
				dtype = NPY_I64;
			else if (!strcmp(val, "<f4"))
				dtype = NPY_F32;
			else
				return err_set(DN_EFORMAT, "%s: unsupported dtype '%s' (supported: uint8, <i4, <i8, <f4)",
				               name, val);
			have_descr = 1;
		} else if (!strcmp(key, "fortran_order")) {
			skip_ws(&c);
			if (c.end - c.p >= 5 && !strncmp(c.p, "False", 5))
				c.p += 5;
			else if (c.end - c.p >= 4 && !strncmp(c.p, "True", 4))
				return err_set(DN_EFORMAT, "%s: fortran_order arrays are not supported", name);
			else
				return err_set(DN_EFORMAT, "%s: NPY header: bad fortran_order value", name);
			have_fortran = 1;
		} else if (!strcmp(key, "shape")) {
			if (!eat(&c, '('))
				return err_set(DN_EFORMAT, "%s: NPY header: shape is not a tuple", name);
			ndim = 0;
			for (;;) {
				if (eat(&c, ')'))
					break;
				skip_ws(&c);
				if (c.p >= c.end || !isdigit((unsigned char)*c.p))
					return err_set(DN_EFORMAT, "%s: NPY header: bad shape", name);
				if (ndim == NPY_MAXDIM)
					return err_set(DN_EFORMAT, "%s: rank above %d not supported", name, NPY_MAXDIM);
				uint64_t v = 0;
				while (c.p < c.end && isdigit((unsigned char)*c.p)) {
					if (v > ((uint64_t)INT64_MAX - 9) / 10)
						return err_set(DN_ENOMEM, "%s: shape too large: a dimension overflows", name);
					v = v * 10 + (uint64_t)(*c.p++ - '0');
				}
				shape[ndim++] = (int64_t)v;
				if (eat(&c, ','))
					continue;
				if (eat(&c, ')'))
					break;
				return err_set(DN_EFORMAT, "%s: NPY header: bad shape", name);
			}
			have_shape = 1;
		} else {
			return err_set(DN_EFORMAT, "%s: NPY header: unexpected key '%s'", name, key);
		}
		if (eat(&c, ','))
			continue;
		if (eat(&c, '}'))
			break;
		return err_set(DN_EFORMAT, "%s: NPY header is not a valid dict", name);
	}
	skip_ws(&c);
	if (c.p != c.end)
		return err_set(DN_EFORMAT, "%s: NPY header: trailing bytes after the dict", name);
	if (!have_descr || !have_fortran || !have_shape)
		return err_set(DN_EFORMAT, "%s: NPY header lacks %s", name,
		               !have_descr ? "'descr'" : !have_fortran ? "'fortran_order'" : "'shape'");
	int rc = npy_header_init(h, dtype, ndim, shape);
	if (rc < 0)
		return err_set(rc, "%s: %s", name, err_msg());
	return 0;
}

static int read_exact(FILE *f, void *buf, size_t n, size_t *got)
{
	*got = fread(buf, 1, n, f);
	if (*got == n)
		return 0;
	return ferror(f) ? DN_EIO : DN_EFORMAT;
}

int npy_read_header(FILE *f, const char *name, npy_header *h)
{
	unsigned char pre[10];
	size_t got;
	int rc = read_exact(f, pre, sizeof pre, &got);
	if (rc == DN_EIO)
		return err_set(DN_EIO, "%s: read error: %s", name, strerror(errno));
	if (rc < 0 && got == 0)
		return err_set(DN_EEOF, "%s: stream ended where an array was expected", name);
	if (got >= 6 || rc == 0) {
		if (memcmp(pre, "\x93NUMPY", got < 6 ? got : 6))
			return err_set(DN_EFORMAT, "%s: not an NPY array (bad magic string)", name);
	} else if (memcmp(pre, "\x93NUMPY", got)) {
		return err_set(DN_EFORMAT, "%s: not an NPY array (bad magic string)", name);
	}
	if (rc < 0)
		return err_set(DN_EFORMAT, "%s: truncated NPY header", name);
	if (pre[6] != 1)
		return err_set(DN_EFORMAT, "%s: unsupported NPY version %d.%d (only 1.0 is written and read)",
		               name, pre[6], pre[7]);
	size_t hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
	char txt[65536];
	rc = read_exact(f, txt, hlen, &got);
	if (rc == DN_EIO)
		return err_set(DN_EIO, "%s: read error: %s", name, strerror(errno));
	if (rc < 0)
		return err_set(DN_EFORMAT, "%s: truncated NPY header", name);
	return parse_header_dict(txt, hlen, name, h);
}

int npy_read_data(FILE *f, const char *name, const npy_header *h, void *buf, size_t count)
{
	size_t es = dtype_sizes[h->dtype];
	size_t got = fread(buf, es, count, f);
	if (got != count) {
		if (ferror(f))
			return err_set(DN_EIO, "%s: read error: %s", name, strerror(errno));
		char s[128];
		return err_set(DN_EFORMAT, "%s: truncated body of array %s", name, npy_header_str(h, s, sizeof s));
	}
	return 0;
}

int npy_read_array(FILE *f, const char *name, npy_array *a)
{
	a->data = NULL;
	int rc = npy_read_header(f, name, &a->h);
	if (rc < 0)
		return rc;
	a->data = malloc(a->h.nbytes ? a->h.nbytes : 1);
	if (!a->data) {
		char s[128];
		return err_set(DN_ENOMEM, "%s: out of memory for array %s", name, npy_header_str(&a->h, s, sizeof s));
	}
	rc = npy_read_data(f, name, &a->h, a->data, (size_t)a->h.count);
	if (rc < 0) {
		free(a->data);
		a->data = NULL;
	}
	return rc;
}

void npy_free(npy_array *a)
{
	free(a->data);
	a->data = NULL;
}

int npy_at_eof(FILE *f)
{
	int c = getc(f);
	if (c == EOF)
		return 1;
	ungetc(c, f);
	return 0;
}

int npy_expect_end(FILE *f, const char *name, const char *after)
{
	if (npy_at_eof(f))
		return 0;
	if (ferror(f))
		return err_set(DN_EIO, "%s: read error: %s", name, strerror(errno));
	npy_header h;
	int c = getc(f);
	ungetc(c, f);
	if (c == 0x93 && npy_read_header(f, name, &h) == 0) {
		char s[128];
		return err_set(DN_EFORMAT, "%s: another array follows the %s: %s (a dataset stream is one "
		               "images and one labels array; two streams concatenated? tensor-cat -l "
		               "lists them)", name, after, npy_header_str(&h, s, sizeof s));
	}
	return err_set(DN_EFORMAT, "%s: unexpected data after the %s (the stream should end there)",
	               name, after);
}

int npy_expect(const npy_header *h, const char *name, const char *what, npy_dtype t, int ndim)
{
	if (h->dtype == t && (ndim < 0 || h->ndim == ndim))
		return 0;
	char s[128];
	if (ndim < 0)
		return err_set(DN_EFORMAT, "%s: %s: expected %s, got %s", name, what, npy_dtype_name(t),
		               npy_header_str(h, s, sizeof s));
	return err_set(DN_EFORMAT, "%s: %s: expected %s of rank %d, got %s", name, what, npy_dtype_name(t), ndim,
	               npy_header_str(h, s, sizeof s));
}

/* --- writing ----------------------------------------------------------------------------- */

int npy_write_header(FILE *f, const npy_header *h)
{
	char dict[512];
	int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
	                 dtype_descr[h->dtype]);
	for (int i = 0; i < h->ndim; i++)
		n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld,%s", (long long)h->shape[i],
		              i + 1 < h->ndim ? " " : "");
	if (h->ndim > 1)
		n--; /* numpy writes (3,) for rank 1 but (2, 3) for rank 2 */
	n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
	size_t total = 10 + (size_t)n + 1;
	size_t pad = (64 - total % 64) % 64;
	size_t hlen = (size_t)n + pad + 1;
	unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
	                         (unsigned char)(hlen >> 8)};
	memset(dict + n, ' ', pad);
	dict[n + (int)pad] = '\n';
	if (fwrite(pre, 1, 10, f) != 10 || fwrite(dict, 1, hlen, f) != hlen)
		return err_set(DN_EIO, "write error: %s", strerror(errno));
	return 0;
}

int npy_write_data(FILE *f, const void *buf, size_t count, npy_dtype t)
{
	if (count && fwrite(buf, dtype_sizes[t], count, f) != count)
		return err_set(DN_EIO, "write error: %s", strerror(errno));
	return 0;
}

int npy_write_array(FILE *f, npy_dtype t, int ndim, const int64_t *shape, const void *data)
{
	npy_header h;
	int rc = npy_header_init(&h, t, ndim, shape);
	if (rc < 0)
		return rc;
	if ((rc = npy_write_header(f, &h)) < 0)
		return rc;
	return npy_write_data(f, data, (size_t)h.count, t);
}
