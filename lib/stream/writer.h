/* writer.h - a background chunk writer for an output stream.
 *
 * A stream filter (mnistm-gen) computes chunk i while this thread writes chunk i-1: copying into
 * the page cache or a pipe can cost about as much as making the data.  One write is in flight
 * at a time, so the caller alternates two buffers: a buffer given to writer_submit() must stay
 * untouched until the next writer_wait() returns.  Between writer_wait() and the next
 * writer_submit() the thread does not touch the FILE, so the caller may write small things
 * (headers, labels) to it directly, and report a failure of such a write with writer_fail().
 * After a failed write nothing more is written. */
#ifndef DN_WRITER_H
#define DN_WRITER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	FILE *out;
	const void *buf;
	size_t len;
	int busy, quit;
	int failed;  /* a write to `out` failed: the output's fault (a full disk), not the input's */
	int err;     /* errno of that write */
} writer;

/* Items per chunk for items of `item_bytes` (all the buffers one item needs), at most n (and
 * at least 1): big enough to amortise a parallel region and the I/O calls, small enough that
 * memory does not grow with n. */
int64_t writer_chunk(size_t item_bytes, int64_t n);

/* Start the thread; DN_ENOMEM (message set) if it cannot be started. */
int writer_start(writer *w, FILE *out);
/* Wait until the write in flight is done: 0, or DN_EIO with errno set to the failed write's
 * errno (err_msg() "write error: ...") if any write failed. */
int writer_wait(writer *w);
/* Hand `len` bytes at `buf` to the thread (call after writer_wait). */
void writer_submit(writer *w, const void *buf, size_t len);
/* Record that a write the caller made to the stream itself failed (errno says why); returns
 * DN_EIO with errno and err_msg() those of the first failed write. */
int writer_fail(writer *w);
/* Stop the thread after the write in flight (errno is kept, for the caller's message). */
void writer_stop(writer *w);

#endif
