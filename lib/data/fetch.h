/* fetch.h - get a verified IDX file of a dataset from a cache, local folders or HTTP mirrors.
 *
 * A file is named by its decompressed name ("train-images-idx3-ubyte") and known by the SHA-256
 * of its decompressed content.  Sources are tried in the order given: a source is a folder,
 * a file:// URL (both looked up as NAME.gz, then NAME) or an http(s):// URL (NAME.gz).
 * Whatever arrives is decompressed if it is gzip, hashed, and parsed as IDX; only content that
 * passes both is used, and only then is it written to the cache (decompressed, under a temporary
 * name renamed into place).  A cached copy is verified the same way on every use; a bad one is
 * ignored (and replaced once a good copy is found).  Any failure of one source moves on to the next; the error kept
 * for the caller is the most telling one (a hash mismatch before bad data before a network
 * failure before "not found").  The library never prints: `notice` and `progress` callbacks
 * let the tool tell the user what happens. */
#ifndef DN_FETCH_H
#define DN_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "stream/idx.h"
#include "base/sha256.h"

/* A dataset this toolkit knows: file names, hashes of the decompressed files, default sources. */
enum { FETCH_TRAIN_IMAGES, FETCH_TRAIN_LABELS, FETCH_TEST_IMAGES, FETCH_TEST_LABELS, FETCH_NFILES };
typedef struct {
	const char *name;                   /* "mnist", "fashion-mnist" (also the cache sub-folder) */
	const char *files[FETCH_NFILES];    /* decompressed file names */
	const char *sha256[FETCH_NFILES];   /* hex SHA-256 of the decompressed files */
	size_t size[FETCH_NFILES];          /* their sizes: a download or its decompression stops there */
	const char *local_dirs[3];          /* folders tried after the user's mirrors (NULL-ended) */
	const char *public_mirrors[4];      /* URLs tried last (NULL-ended) */
} fetch_dataset;

/* The dataset called `name`, or NULL. */
const fetch_dataset *fetch_find_dataset(const char *name);
/* Known names, NULL-ended (for usage messages). */
extern const char *const fetch_dataset_names[];

/* Look `name` up in a file in sha256sum(1) format ("HEX  NAME" or "HEX *NAME" per line,
 * '#' comments).  DN_EIO if the file cannot be read, DN_EARG if it has no line for `name`,
 * DN_EFORMAT for a malformed hash on that line. */
int fetch_sums_lookup(const char *sums_path, const char *name, uint8_t digest[SHA256_LEN]);

/* The cache root: $XDG_CACHE_HOME/dann-toolkit, else $HOME/.cache/dann-toolkit, into buf.
 * DN_EARG if neither variable is set (or the path does not fit). */
int fetch_default_cache_root(char *buf, size_t len);

typedef struct {
	const char *cache_dir;      /* folder of cached files for this dataset, NULL for none */
	const char *const *sources; /* folders, file:// and http(s):// URLs, in order */
	int nsources;
	int offline;                /* skip http(s) sources: never touch the network */
	long connect_timeout_ms;    /* per connection attempt */
	long stall_timeout_s;       /* abort a transfer slower than stall_min_rate for this long */
	long stall_min_rate;        /* bytes/s */
	int retries;                /* extra attempts at one http(s) source after a transient failure */
	long retry_delay_ms;        /* before the first retry; doubled each time */
	long deadline_s;            /* the longest one download (one attempt) may take, all included */
	/* Optional callbacks (NULL: silent).  notice: one line, e.g. why a source was skipped.
	 * progress: a download of `label` has `done` of `total` bytes (total 0 if unknown);
	 * finished != 0 once at the end of each transfer. */
	void (*notice)(void *ctx, const char *msg);
	void (*progress)(void *ctx, const char *label, int64_t done, int64_t total, int finished);
	void *ctx;
} fetch_opts;

/* Sensible defaults: 15 s connect timeout, abort under 1000 B/s for 30 s, 2 retries, 1 s delay,
 * a 900 s deadline per download. */
void fetch_opts_init(fetch_opts *o);

typedef struct {
	uint8_t *buf;        /* the decompressed file (release with fetch_result_free) */
	size_t len;
	int mapped;          /* buf is a read-only mapping of the cached file */
	idx_array idx;       /* parsed view into buf */
	char source[4200];   /* where it came from: a path or URL, or "cache PATH" */
	int from_cache;
	int cached;          /* 1 if it was written to the cache on this call */
	int unreachable;     /* on failure: every source tried was a host that could not be reached */
} fetch_result;

/* Get file `name` with decompressed SHA-256 `want` and (at most) `max` decompressed bytes: a
 * download stops once it exceeds what `max` bytes can take gzip-compressed
 * (fetch_gz_bound), its decompression once it exceeds `max`.  0 on success; otherwise
 * DN_EHASH, DN_EFORMAT, DN_ENET, DN_EIO or DN_EARG with a message naming the file. */
int fetch_file(const fetch_opts *o, const char *name, const uint8_t want[SHA256_LEN], size_t max, fetch_result *r);
void fetch_result_free(fetch_result *r);

/* 1 for http:// and https:// URLs, 0 otherwise. */
int fetch_is_http(const char *src);

/* Check what a source string says before anything is tried: DN_EARG with the reason ("URL has
 * no host", "unsupported scheme 'ftp'", "file:// URL needs an absolute path", a control
 * character or space) for a string that cannot name a source; 0 otherwise. */
int fetch_check_source(const char *src);

/* The most bytes that `n` bytes of data can take gzip-compressed (stored blocks, headers). */
size_t fetch_gz_bound(size_t n);

/* --- building blocks for other kinds of data (lib/data/published.c) --------------------------- */

/* What one source gave: FETCH_OK, or a failure class; higher classes tell more and are kept
 * for the final message.  FETCH_UNREACHABLE: the host could not be reached (ranks as NET). */
enum { FETCH_OK = -1, FETCH_NOTFOUND = 0, FETCH_NET, FETCH_FORMAT, FETCH_HASH, FETCH_UNREACHABLE = 10 };

/* Try one source.  `src` as the user gave it; `path` is the local path of a folder or
 * file:// source, NULL for an http(s) source.  Returns FETCH_OK or a class with err_msg(). */
typedef int (*fetch_try_fn)(void *ctx, const fetch_opts *o, const char *src, const char *path);

/* Try o->sources in order (http(s) ones skipped when offline) until `try` succeeds: 0, else
 * the most telling failure as a DN_E* code with a message naming `name`.  *unreachable is set
 * when every source tried was a host that could not be reached. */
int fetch_sources(const fetch_opts *o, const char *name, fetch_try_fn try, void *ctx, int *unreachable);

/* Download `url` into memory (malloc'd *buf) with o's timeouts, deadline and retries; a body
 * over `max` bytes stops the transfer.  `src` names the source (a host that cannot be reached
 * is not tried again in this process).  FETCH_OK or a class with err_msg(). */
int fetch_http_get(const fetch_opts *o, const char *src, const char *url, size_t max, uint8_t **buf, size_t *len);

/* Write all `len` bytes to fd (retrying short writes and EINTR): 0, or the errno. */
int fetch_write_all(int fd, const uint8_t *buf, size_t len);

/* Store `len` bytes as cache_dir/name (created), under a temporary name renamed into place. */
int fetch_cache_store(const char *cache_dir, const char *name, const uint8_t *buf, size_t len);

#endif
