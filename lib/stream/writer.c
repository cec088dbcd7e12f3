/* writer.c - the background chunk writer (see writer.h). */
#include "stream/writer.h"

#include <errno.h>
#include <string.h>

#include "base/err.h"

/* Bytes of buffers per chunk and a cap on items per chunk (see writer_chunk). */
#define CHUNK_BYTES (16u << 20)
#define CHUNK_MAX 4096

int64_t writer_chunk(size_t item_bytes, int64_t n)
{
	int64_t chunk = (int64_t)(CHUNK_BYTES / (item_bytes ? item_bytes : 1));
	if (chunk > CHUNK_MAX)
		chunk = CHUNK_MAX;
	if (chunk < 1)
		chunk = 1;
	if (chunk > n)
		chunk = n > 0 ? n : 1;
	return chunk;
}

static void *writer_main(void *arg)
{
	writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->busy && !w->quit)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->busy)
			break; /* quit, and nothing left to write */
		const void *b = w->buf;
		size_t n = w->len;
		int skip = w->failed;
		pthread_mutex_unlock(&w->mu);
		errno = 0;
		int bad = !skip && fwrite(b, 1, n, w->out) != n;
		int e = errno;
		pthread_mutex_lock(&w->mu);
		if (bad) {
			w->failed = 1;
			w->err = e;
		}
		w->busy = 0;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int writer_start(writer *w, FILE *out)
{
	memset(w, 0, sizeof *w);
	w->out = out;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->th, NULL, writer_main, w) != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		return err_set(DN_ENOMEM, "cannot start the writer thread");
	}
	return 0;
}

int writer_wait(writer *w)
{
	pthread_mutex_lock(&w->mu);
	while (w->busy)
		pthread_cond_wait(&w->cv, &w->mu);
	int failed = w->failed, e = w->err;
	pthread_mutex_unlock(&w->mu);
	if (failed) {
		err_set(DN_EIO, "write error: %s", e ? strerror(e) : "unknown error");
		errno = e;
		return DN_EIO;
	}
	return 0;
}

void writer_submit(writer *w, const void *buf, size_t len)
{
	pthread_mutex_lock(&w->mu);
	w->buf = buf;
	w->len = len;
	w->busy = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int writer_fail(writer *w)
{
	int e = errno;
	pthread_mutex_lock(&w->mu);
	if (!w->failed) {
		w->failed = 1;
		w->err = e;
	}
	e = w->err;
	pthread_mutex_unlock(&w->mu);
	err_set(DN_EIO, "write error: %s", e ? strerror(e) : "unknown error");
	errno = e;
	return DN_EIO;
}

void writer_stop(writer *w)
{
	int e = errno;
	pthread_mutex_lock(&w->mu);
	w->quit = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	errno = e;
}
