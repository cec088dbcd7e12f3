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

#include "idx.h"
#include "sha256.h"

/* A dataset this toolkit knows: file names, hashes of the decompressed files, default sources. */
enum { FETCH_TRAIN_IMAGES, FETCH_TRAIN_LABELS, FETCH_TEST_IMAGES, FETCH_TEST_LABELS, FETCH_NFILES };
typedef struct {
	const char *name;                   /* "mnist", "fashion-mnist" (also the cache sub-folder) */
	const char *files[FETCH_NFILES];    /* decompressed file names */
	const char *sha256[FETCH_NFILES];   /* hex SHA-256 of the decompressed files */
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
	/* Optional callbacks (NULL: silent).  notice: one line, e.g. why a source was skipped.
	 * progress: a download of `label` has `done` of `total` bytes (total 0 if unknown);
	 * finished != 0 once at the end of each transfer. */
	void (*notice)(void *ctx, const char *msg);
	void (*progress)(void *ctx, const char *label, int64_t done, int64_t total, int finished);
	void *ctx;
} fetch_opts;

/* Sensible defaults: 15 s connect timeout, abort under 1000 B/s for 30 s, 2 retries, 1 s delay. */
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

/* Get file `name` with decompressed SHA-256 `want`.  0 on success; otherwise DN_EHASH,
 * DN_EFORMAT, DN_ENET, DN_EIO or DN_EARG with a message naming the file. */
int fetch_file(const fetch_opts *o, const char *name, const uint8_t want[SHA256_LEN], fetch_result *r);
void fetch_result_free(fetch_result *r);

/* 1 for http:// and https:// URLs, 0 otherwise. */
int fetch_is_http(const char *src);

#endif
