/* idx.h - the IDX format of the MNIST files (LeCun et al.), plain or gzip-compressed.
 *
 * An IDX file is: two zero bytes, a type byte (0x08 = unsigned byte), a rank byte, then one
 * big-endian uint32 per dimension, then the data in C order.  Only unsigned bytes are read
 * here (all of MNIST and Fashion-MNIST).  Every function returns 0 or a negative DN_E* code
 * with err_msg() set; messages start with the `name` given (usually the file name). */
#ifndef DN_IDX_H
#define DN_IDX_H

#include <stddef.h>
#include <stdint.h>

#define IDX_MAXDIM 8
/* Largest decompressed file accepted (a bound against corrupt sizes and gzip bombs). */
#define IDX_MAX_BYTES ((size_t)1 << 31)

typedef struct {
	int ndim;
	int64_t dims[IDX_MAXDIM];
	int64_t count;        /* product of dims */
	const uint8_t *data;  /* count bytes; points into the buffer given to idx_parse */
} idx_array;

/* 1 if the buffer starts with the gzip magic (1f 8b). */
int idx_is_gzip(const uint8_t *buf, size_t len);
/* Decompress gzip data (one or more members) into a new malloc'd buffer of at most `max`
 * bytes.  Rejects truncated or corrupt data, trailing garbage and output over `max`. */
int idx_gunzip(const uint8_t *buf, size_t len, const char *name, size_t max, uint8_t **out, size_t *outlen);
/* Parse a whole (decompressed) IDX file held in memory.  Rejects a wrong magic number, an
 * unsupported type or rank, a size that overflows, and a data length that does not match the
 * dimensions (truncated, or extra bytes after the data).  `a->data` points into `buf`. */
int idx_parse(const uint8_t *buf, size_t len, const char *name, idx_array *a);

/* Read a whole regular file into memory (malloc'd; at most `max` bytes, else DN_EFORMAT).
 * A FIFO, device or socket is refused (DN_EIO) without blocking: it is opened O_NONBLOCK. */
int idx_slurp(const char *path, size_t max, uint8_t **out, size_t *outlen);
/* Map a regular file read-only into memory (pre-faulted): faster than idx_slurp for the large
 * cached files, as nothing is copied.  Release with idx_unmap.  Falls back to idx_slurp for
 * empty files (and so refuses non-regular ones); *mapped says which was done. */
int idx_map(const char *path, size_t max, uint8_t **out, size_t *outlen, int *mapped);
/* Release a buffer from idx_map (or any malloc'd buffer when mapped is 0). */
void idx_unmap(uint8_t *buf, size_t len, int mapped);
/* Read a file and, if it is gzip, decompress it: the raw IDX bytes (malloc'd). */
int idx_load(const char *path, uint8_t **out, size_t *outlen);

#define IDX_MAX_SIDE 65535
/* Check an images/labels pair as a labelled dataset: images rank 3 (N,H,W), 0 < H,W <= 65535,
 * labels rank 1 (N,) with the same N, every label a digit (dataset_check_labels). */
int idx_check_dataset(const idx_array *images, const char *iname,
                      const idx_array *labels, const char *lname);

#endif
