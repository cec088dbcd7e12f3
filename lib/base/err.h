/* err.h - error reporting from the library (zstd style: the library never prints or exits).
 *
 * Library functions return 0 (or a non-negative count) on success and a negative DN_E* code on
 * failure, after recording a one-line message with err_set().  The tool reports it:
 *     if (npy_read_header(f, &h) < 0) cli_die("%s", err_msg());
 * The message buffer is thread-local, so OpenMP workers may fail independently. */
#ifndef DN_ERR_H
#define DN_ERR_H

enum {
	DN_OK = 0,
	DN_EIO = -1,     /* read/write failure, errno-based */
	DN_EFORMAT = -2, /* bad magic, corrupt header, truncated body, wrong dtype/shape */
	DN_ENOMEM = -3,  /* allocation failed or size overflows */
	DN_ERANGE = -4,  /* a value out of its valid range (label >= 10, NaN, ...) */
	DN_EEOF = -5,    /* clean end of stream where an array could have started */
	DN_ENET = -6,    /* network failure */
	DN_EHASH = -7,   /* checksum mismatch */
	DN_EARG = -8     /* invalid argument passed by the caller */
};

/* Record a message (printf-style) and return `code`, so callers can write
 *     return err_set(DN_EFORMAT, "%s: bad magic", name); */
int err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The last message recorded in this thread ("" if none). */
const char *err_msg(void);

#endif
