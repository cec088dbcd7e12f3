/* idx.c - IDX reader (plain or gzip) with strict size checks; see idx.h. */
#include "stream/idx.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/err.h"
#include "stream/dataset.h"

int idx_is_gzip(const uint8_t *buf, size_t len)
{
	return len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b;
}

int idx_gunzip(const uint8_t *buf, size_t len, const char *name, size_t max, uint8_t **out, size_t *outlen)
{
	*out = NULL;
	*outlen = 0;
	if (!idx_is_gzip(buf, len))
		return err_set(DN_EFORMAT, "%s: not gzip data", name);
	/* The gzip trailer holds the size mod 2^32 (RFC 1952 ISIZE): a good first guess. */
	size_t cap = 1 << 16;
	if (len >= 18) {
		const uint8_t *t = buf + len - 4;
		size_t isize = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
		/* Deflate expands at most 1032:1, so a corrupt trailer cannot ask for more than the
		 * data could hold; the buffer still grows if a trailer under-states. */
		size_t most = len <= SIZE_MAX / 1032 ? len * 1032 : SIZE_MAX;
		if (isize > most)
			isize = most;
		if (isize > cap)
			cap = isize;
	}
	/* One byte more than `max` so that output over the limit is seen as such. */
	size_t limit = max < SIZE_MAX ? max + 1 : max;
	if (cap > limit)
		cap = limit;
	uint8_t *o = malloc(cap ? cap : 1);
	if (!o)
		return err_set(DN_ENOMEM, "%s: out of memory (%zu bytes)", name, cap);

	z_stream z;
	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {  /* 16+: gzip wrapper only */
		free(o);
		return err_set(DN_ENOMEM, "%s: cannot initialise zlib", name);
	}
	size_t in_pos = 0, n = 0;
	int rc = DN_OK;
	for (;;) {
		if (z.avail_in == 0 && in_pos < len) {
			size_t chunk = len - in_pos > (1u << 30) ? (1u << 30) : len - in_pos;
			z.next_in = (Bytef *)(buf + in_pos);
			z.avail_in = (uInt)chunk;
			in_pos += chunk;
		}
		if (n == cap) {
			if (cap >= limit) {
				rc = err_set(DN_EFORMAT, "%s: decompressed data larger than %zu bytes", name, max);
				break;
			}
			size_t ncap = cap > limit / 2 ? limit : cap * 2;
			uint8_t *no = realloc(o, ncap);
			if (!no) {
				rc = err_set(DN_ENOMEM, "%s: out of memory (%zu bytes)", name, ncap);
				break;
			}
			o = no;
			cap = ncap;
		}
		size_t room = cap - n > (1u << 30) ? (1u << 30) : cap - n;
		z.next_out = o + n;
		z.avail_out = (uInt)room;
		int zr = inflate(&z, Z_NO_FLUSH);
		n += room - z.avail_out;
		if (zr == Z_STREAM_END) {
			size_t left = z.avail_in + (len - in_pos);
			if (left == 0)
				break;
			/* Another gzip member follows (RFC 1952 allows concatenation), or garbage. */
			const uint8_t *next = z.avail_in ? z.next_in : buf + in_pos;
			if (left < 2 || next[0] != 0x1f || next[1] != 0x8b) {
				rc = err_set(DN_EFORMAT, "%s: %zu bytes of trailing garbage after the gzip data", name, left);
				break;
			}
			inflateReset(&z);
			continue;
		}
		if (zr == Z_OK)
			continue;
		if (zr == Z_BUF_ERROR) {
			if (n == cap)
				continue;  /* needs more room: grown above */
			if (z.avail_in == 0 && in_pos == len) {
				rc = err_set(DN_EFORMAT, "%s: truncated gzip data (ends after %zu compressed bytes)", name, len);
				break;
			}
		}
		rc = err_set(zr == Z_MEM_ERROR ? DN_ENOMEM : DN_EFORMAT, "%s: corrupt gzip data (%s)", name,
		             z.msg ? z.msg : zError(zr));
		break;
	}
	inflateEnd(&z);
	if (rc == DN_OK && n > max)
		rc = err_set(DN_EFORMAT, "%s: decompressed data larger than %zu bytes", name, max);
	if (rc < 0) {
		free(o);
		return rc;
	}
	*out = o;
	*outlen = n;
	return 0;
}

int idx_parse(const uint8_t *buf, size_t len, const char *name, idx_array *a)
{
	memset(a, 0, sizeof *a);
	if (len < 4)
		return err_set(DN_EFORMAT, "%s: truncated IDX header (%zu bytes)", name, len);
	uint32_t magic = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
	if (buf[0] != 0 || buf[1] != 0)
		return err_set(DN_EFORMAT, "%s: bad magic number 0x%08" PRIx32 " (not an IDX file)", name, magic);
	if (buf[2] != 0x08)
		return err_set(DN_EFORMAT, "%s: unsupported IDX data type 0x%02x in magic number 0x%08" PRIx32
		               " (only unsigned byte, 0x08, is supported)", name, buf[2], magic);
	int ndim = buf[3];
	if (ndim < 1 || ndim > IDX_MAXDIM)
		return err_set(DN_EFORMAT, "%s: unsupported IDX rank %d in magic number 0x%08" PRIx32 " (1..%d)",
		               name, ndim, magic, IDX_MAXDIM);
	size_t hdr = 4 + 4 * (size_t)ndim;
	if (len < hdr)
		return err_set(DN_EFORMAT, "%s: truncated IDX header (%zu of %zu bytes)", name, len, hdr);
	uint64_t count = 1;
	int too_big = 0;
	for (int i = 0; i < ndim; i++) {
		const uint8_t *p = buf + 4 + 4 * i;
		uint32_t d = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		a->dims[i] = d;
		/* Each factor is < 2^32 and count stays <= IDX_MAX_BYTES < 2^32, so this never wraps. */
		if (!too_big) {
			count *= d;
			if (count > IDX_MAX_BYTES)
				too_big = 1;
		}
	}
	for (int i = 0; i < ndim; i++)
		if (a->dims[i] == 0)
			too_big = 0, count = 0;  /* a zero dimension makes the array empty, whatever the rest */
	if (too_big)
		return err_set(DN_EFORMAT, "%s: IDX dimensions give a size over %zu bytes", name, (size_t)IDX_MAX_BYTES);
	size_t body = len - hdr;
	if (body < count)
		return err_set(DN_EFORMAT, "%s: truncated IDX data: the dimensions need %" PRIu64 " bytes, the file has %zu",
		               name, count, body);
	if (body > count)
		return err_set(DN_EFORMAT, "%s: IDX data does not match the dimensions: %zu bytes after the %" PRIu64 " expected",
		               name, body - (size_t)count, count);
	a->ndim = ndim;
	a->count = (int64_t)count;
	a->data = buf + hdr;
	return 0;
}

int idx_slurp(const char *path, size_t max, uint8_t **out, size_t *outlen)
{
	*out = NULL;
	*outlen = 0;
	/* O_NONBLOCK: opening a FIFO with no writer must not block; only regular files are read. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return err_set(DN_EIO, "%s: %s", path, strerror(errno));
	struct stat st;
	int e = fstat(fd, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
	if (e) {
		close(fd);
		return err_set(DN_EIO, "%s: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(DN_EIO, "%s: not a regular file (a FIFO, device or socket is not read)", path);
	}
	size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 1 << 16;
	if (cap > max + 1)
		cap = max + 1;
	uint8_t *b = malloc(cap);
	if (!b) {
		close(fd);
		return err_set(DN_ENOMEM, "%s: out of memory (%zu bytes)", path, cap);
	}
	size_t n = 0;
	for (;;) {
		if (n == cap) {
			if (cap > max) {
				free(b);
				close(fd);
				return err_set(DN_EFORMAT, "%s: file larger than %zu bytes", path, max);
			}
			size_t ncap = cap > (max + 1) / 2 ? max + 1 : cap * 2;
			uint8_t *nb = realloc(b, ncap);
			if (!nb) {
				free(b);
				close(fd);
				return err_set(DN_ENOMEM, "%s: out of memory (%zu bytes)", path, ncap);
			}
			b = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(b);
			close(fd);
			return err_set(DN_EIO, "%s: read error: %s", path, strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > max) {
		free(b);
		return err_set(DN_EFORMAT, "%s: file larger than %zu bytes", path, max);
	}
	*out = b;
	*outlen = n;
	return 0;
}

int idx_map(const char *path, size_t max, uint8_t **out, size_t *outlen, int *mapped)
{
	*out = NULL;
	*outlen = 0;
	*mapped = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return err_set(DN_EIO, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		close(fd);
		return idx_slurp(path, max, out, outlen);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return err_set(DN_EFORMAT, "%s: file larger than %zu bytes", path, max);
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return idx_slurp(path, max, out, outlen);
	*out = p;
	*outlen = (size_t)st.st_size;
	*mapped = 1;
	return 0;
}

void idx_unmap(uint8_t *buf, size_t len, int mapped)
{
	if (mapped)
		munmap(buf, len);
	else
		free(buf);
}

int idx_load(const char *path, uint8_t **out, size_t *outlen)
{
	uint8_t *raw;
	size_t n;
	int rc = idx_slurp(path, IDX_MAX_BYTES, &raw, &n);
	if (rc < 0)
		return rc;
	if (!idx_is_gzip(raw, n)) {
		*out = raw;
		*outlen = n;
		return 0;
	}
	rc = idx_gunzip(raw, n, path, IDX_MAX_BYTES, out, outlen);
	free(raw);
	return rc;
}

int idx_check_dataset(const idx_array *images, const char *iname, const idx_array *labels, const char *lname)
{
	if (images->ndim != 3)
		return err_set(DN_EFORMAT, "%s: expected images of rank 3 (N,H,W), got rank %d", iname, images->ndim);
	if (images->dims[1] == 0 || images->dims[2] == 0)
		return err_set(DN_EFORMAT, "%s: empty images (%" PRId64 "x%" PRId64 ")", iname, images->dims[1], images->dims[2]);
	if (images->dims[1] > IDX_MAX_SIDE || images->dims[2] > IDX_MAX_SIDE)
		return err_set(DN_EFORMAT, "%s: images of %" PRId64 "x%" PRId64 " are larger than %dx%d", iname,
		               images->dims[1], images->dims[2], IDX_MAX_SIDE, IDX_MAX_SIDE);
	if (labels->ndim != 1)
		return err_set(DN_EFORMAT, "%s: expected labels of rank 1 (N,), got rank %d", lname, labels->ndim);
	if (images->dims[0] != labels->dims[0])
		return err_set(DN_EFORMAT, "%s has %" PRId64 " images but %s has %" PRId64 " labels",
		               iname, images->dims[0], lname, labels->dims[0]);
	return dataset_check_labels(labels->data, labels->count, 0, lname);
}
