/* npy.h - the tensor stream: NPY v1.0 arrays written back to back (see man/dann-tensor.5).
 *
 * Supported dtypes: uint8 ('|u1' or '<u1'), int32 ('<i4'), int64 ('<i8'), float32 ('<f4'),
 * C order, rank 0..NPY_MAXDIM.  Readers never seek, so streams work through pipes.
 * Every function returns 0 on success or a negative DN_E* code with err_msg() set. */
#ifndef DN_NPY_H
#define DN_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NPY_MAXDIM 8

typedef enum { NPY_U8 = 0, NPY_I32, NPY_I64, NPY_F32 } npy_dtype;

typedef struct {
	npy_dtype dtype;
	int ndim;
	int64_t shape[NPY_MAXDIM];
	int64_t count;  /* product of shape (1 for rank 0) */
	size_t nbytes;  /* count * element size; overflow is rejected when parsing */
} npy_header;

/* A whole array in memory.  `data` is malloc'd; free with npy_free(). */
typedef struct {
	npy_header h;
	void *data;
} npy_array;

size_t npy_dtype_size(npy_dtype t);
const char *npy_dtype_name(npy_dtype t); /* "uint8", "int32", "int64", "float32" */
/* "(60000,28,28) uint8" into buf; returns buf. */
char *npy_header_str(const npy_header *h, char *buf, size_t len);
/* Fill count/nbytes from dtype/ndim/shape; DN_ENOMEM if the byte size overflows. */
int npy_header_init(npy_header *h, npy_dtype t, int ndim, const int64_t *shape);

/* Read the next header of a stream.  `name` labels messages (e.g. the file name).
 * Returns DN_EEOF (message set, e.g. "x.npy: stream ended, expected an array") if the stream
 * ends cleanly before a header; any other negative code is a corrupt or truncated header. */
int npy_read_header(FILE *f, const char *name, npy_header *h);
/* Read `count` elements of the array whose header was read; a short read is DN_EFORMAT
 * ("truncated body").  May be called repeatedly to stream the body in chunks. */
int npy_read_data(FILE *f, const char *name, const npy_header *h, void *buf, size_t count);
/* Header + whole body. */
int npy_read_array(FILE *f, const char *name, npy_array *a);
void npy_free(npy_array *a);
/* 1 if the stream is at its end (peeks one byte and pushes it back), 0 if not. */
int npy_at_eof(FILE *f);

/* The stream must end here (after the last array a reader wants): more arrays or trailing
 * bytes are DN_EFORMAT, "NAME: another array follows the labels: (40,28,28) uint8 ..." or
 * "NAME: N bytes of garbage after the labels" (`after` names what came last).  Reads
 * what follows (a pipe to its end), never more than one header. */
int npy_expect_end(FILE *f, const char *name, const char *after);

/* Check that a header has the given dtype and rank; ndim < 0 skips the rank check.
 * `what` names the array in the message: "images: expected uint8 rank 3 or 4, got ...". */
int npy_expect(const npy_header *h, const char *name, const char *what, npy_dtype t, int ndim);

/* Write a v1.0 header (padded to a multiple of 64 bytes) and then the data. */
int npy_write_header(FILE *f, const npy_header *h);
int npy_write_data(FILE *f, const void *buf, size_t count, npy_dtype t);
int npy_write_array(FILE *f, npy_dtype t, int ndim, const int64_t *shape, const void *data);

#endif
