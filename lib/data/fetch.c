/* fetch.c - verified download and caching of IDX files (see fetch.h). */
#include "data/fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/path.h"

/* --- datasets ----------------------------------------------------------------------------- */

/* Hashes of the decompressed IDX files.  MNIST: as in ../shared/data/mnist/SHA256SUMS (and of
 * every faithful copy of LeCun's files).  Fashion-MNIST: computed from Debian's
 * dataset-fashion-mnist 0.0~git20200523.55506a9-1 (/usr/share/datasets/fashion-mnist). */
static const fetch_dataset datasets[] = {
	{
		"mnist",
		{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
		{"ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
		 "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
		 "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
		 "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"},
		{47040016, 60008, 7840016, 10008},
		{NULL},
		{"https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/", NULL},
	},
	{
		"fashion-mnist",
		{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
		{"c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
		 "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
		 "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
		 "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"},
		{47040016, 60008, 7840016, 10008},
		{"/usr/share/datasets/fashion-mnist", NULL},
		{"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", NULL},
	},
};

const char *const fetch_dataset_names[] = {"mnist", "fashion-mnist", NULL};

const fetch_dataset *fetch_find_dataset(const char *name)
{
	for (size_t i = 0; i < sizeof datasets / sizeof *datasets; i++)
		if (!strcmp(datasets[i].name, name))
			return &datasets[i];
	return NULL;
}

int fetch_sums_lookup(const char *sums_path, const char *name, uint8_t digest[SHA256_LEN])
{
	FILE *f = fopen(sums_path, "r");
	if (!f)
		return err_set(DN_EIO, "%s: %s", sums_path, strerror(errno));
	char line[1024];
	int rc = err_set(DN_EARG, "%s: no SHA-256 for %s", sums_path, name);
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\0')
			continue;
		char *sp = p + strcspn(p, " \t");
		if (*sp == '\0')
			continue;
		*sp++ = '\0';
		while (*sp == ' ' || *sp == '\t')
			sp++;
		if (*sp == '*')  /* sha256sum's binary-mode marker */
			sp++;
		if (strcmp(sp, name) != 0)
			continue;
		rc = sha256_parse_hex(p, digest);
		if (rc < 0)
			rc = err_set(DN_EFORMAT, "%s: bad SHA-256 for %s: '%.70s'", sums_path, name, p);
		break;
	}
	fclose(f);
	return rc;
}

int fetch_default_cache_root(char *buf, size_t len)
{
	const char *x = getenv("XDG_CACHE_HOME");
	int n;
	/* The XDG spec says a relative XDG_CACHE_HOME is invalid and is to be ignored. */
	if (x && x[0] == '/')
		n = snprintf(buf, len, "%s/dann-toolkit", x);
	else if ((x = getenv("HOME")) && x[0])
		n = snprintf(buf, len, "%s/.cache/dann-toolkit", x);
	else
		return err_set(DN_EARG, "no cache folder: neither XDG_CACHE_HOME nor HOME is set");
	if (n < 0 || (size_t)n >= len)
		return err_set(DN_EARG, "cache folder path too long");
	return 0;
}

void fetch_opts_init(fetch_opts *o)
{
	memset(o, 0, sizeof *o);
	o->connect_timeout_ms = 15000;
	o->stall_timeout_s = 30;
	o->stall_min_rate = 1000;
	o->retries = 2;
	o->retry_delay_ms = 1000;
	o->deadline_s = 900;
}

void fetch_result_free(fetch_result *r)
{
	if (r->buf)
		idx_unmap(r->buf, r->len, r->mapped);
	r->buf = NULL;
	r->len = 0;
	r->mapped = 0;
}

int fetch_is_http(const char *src)
{
	return !strncmp(src, "http://", 7) || !strncmp(src, "https://", 8);
}

/* --- one source ---------------------------------------------------------------------------- */

size_t fetch_gz_bound(size_t n)
{
	/* deflate's stored blocks: 5 bytes per 65535; gzip header (with a file name) and trailer. */
	return n + n / 65535 * 5 + 5 + 4096;
}

int fetch_check_source(const char *src)
{
	for (const char *p = src; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return err_set(DN_EARG, "'%s': a space or control character in a folder or URL", src);
	const char *colon = strstr(src, "://");
	if (!colon)
		return 0;  /* a folder (or an archive file) */
	size_t sl = (size_t)(colon - src);
	if (fetch_is_http(src)) {
		const char *h = colon + 3;
		if (*h == '\0' || *h == '/' || *h == ':' || *h == '?' || *h == '#' || *h == '@')
			return err_set(DN_EARG, "'%s': URL has no host", src);
		return 0;
	}
	if (sl == 4 && !strncmp(src, "file", 4)) {
		const char *p = colon + 3;
		if (!strncmp(p, "localhost/", 10))
			p += 9;
		if (*p != '/')
			return err_set(DN_EARG, "'%s': a file:// URL needs an absolute path (file:///DIR)", src);
		return 0;
	}
	for (size_t i = 0; i < sl; i++)
		if (!((src[i] >= 'a' && src[i] <= 'z') || (src[i] >= 'A' && src[i] <= 'Z') || (i && strchr("0123456789+.-", src[i]))))
			return 0;  /* not a scheme: a folder whose name holds "://" */
	return err_set(DN_EARG, "'%s': unsupported scheme '%.*s' (a folder, file://, http:// or https://)", src, (int)sl, src);
}

static void notice(const fetch_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notice(const fetch_opts *o, const char *fmt, ...)
{
	if (!o->notice)
		return;
	char buf[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	o->notice(o->ctx, buf);
}

/* Decompress (if gzip, to at most `max` bytes), hash and parse what a source gave.  Takes
 * ownership of `raw` (a mapping when `mapped`).  On failure returns the class and leaves the
 * message in err_msg(). */
static int verify(uint8_t *raw, size_t rawlen, int mapped, const char *label, const char *name,
                  const uint8_t want[SHA256_LEN], size_t max, fetch_result *r)
{
	uint8_t *buf = raw;
	size_t len = rawlen;
	if (idx_is_gzip(raw, rawlen)) {
		int rc = idx_gunzip(raw, rawlen, label, max, &buf, &len);
		idx_unmap(raw, rawlen, mapped);
		mapped = 0;
		if (rc < 0)
			return rc == DN_ENOMEM ? FETCH_NET : FETCH_FORMAT;
	}
	uint8_t got[SHA256_LEN];
	sha256(buf, len, got);
	if (memcmp(got, want, SHA256_LEN) != 0) {
		char hw[SHA256_HEX_LEN + 1], hg[SHA256_HEX_LEN + 1];
		err_set(DN_EHASH, "%s: SHA-256 mismatch in %s: expected %s, got %s", name, label,
		        sha256_hex(want, hw), sha256_hex(got, hg));
		idx_unmap(buf, len, mapped);
		return FETCH_HASH;
	}
	if (idx_parse(buf, len, label, &r->idx) < 0) {
		idx_unmap(buf, len, mapped);
		return FETCH_FORMAT;
	}
	r->buf = buf;
	r->len = len;
	r->mapped = mapped;
	return FETCH_OK;
}

/* lstat, not stat: whether something is there at all (a dangling link is, and fails later). */
static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Percent-decode the path of a file:// URL ("file:///a%20b" -> "/a b"). */
static int file_url_path(const char *url, char *out, size_t len)
{
	const char *p = url + 7;
	if (!strncmp(p, "localhost/", 10))
		p += 9;
	size_t n = 0;
	for (; *p; p++) {
		int c = (unsigned char)*p;
		if (c == '%' && p[1] && p[2]) {
			char hx[3] = {p[1], p[2], 0};
			char *end;
			long v = strtol(hx, &end, 16);
			if (*end == '\0' && v > 0) {
				c = (int)v;
				p += 2;
			}
		}
		if (n + 1 >= len)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

/* --- HTTP with libcurl ------------------------------------------------------------------------ */

typedef struct {
	uint8_t *buf;
	size_t n, cap, max;
	int over, stalled;
	double last_t;         /* when the last byte arrived (monotonic seconds) */
	curl_off_t last_n;
	const fetch_opts *o;
	const char *label;
} download;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Memory grows with what arrives (never more than max + one chunk), not with what a server
 * announces: a body that runs past `max` stops the transfer at once. */
static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
	download *d = ud;
	size_t k = size * nmemb;
	if (k > d->max - d->n) {
		d->over = 1;
		return 0;  /* makes curl stop with CURLE_WRITE_ERROR */
	}
	if (d->n + k > d->cap) {
		size_t ncap = d->cap ? d->cap : 1 << 16;
		while (ncap < d->n + k)
			ncap = ncap > d->max / 2 ? d->max : ncap * 2;
		uint8_t *nb = realloc(d->buf, ncap);
		if (!nb)
			return 0;
		d->buf = nb;
		d->cap = ncap;
	}
	memcpy(d->buf + d->n, p, k);
	d->n += k;
	return k;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)ultotal;
	(void)ulnow;
	download *d = ud;
	/* A stall: no byte at all for stall_timeout_s (curl's low-speed check averages over a few
	 * seconds, so a burst followed by silence takes longer to be seen). */
	double t = now_s();
	if (dlnow != d->last_n || d->last_t == 0) {
		d->last_n = dlnow;
		d->last_t = t;
	} else if (t - d->last_t > (double)d->o->stall_timeout_s) {
		d->stalled = 1;
		return 1;  /* abort: CURLE_ABORTED_BY_CALLBACK */
	}
	if (d->o->progress)
		d->o->progress(d->o->ctx, d->label, (int64_t)dlnow, (int64_t)dltotal, 0);
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Sources that could not be reached at all (no DNS answer, no connection) earlier in this
 * process: not tried again for the next file, so an unreachable mirror costs one timeout, not
 * one per file and retry.  (Process-wide state: fetch_file is not meant for threads.) */
#define MAX_DEAD 16
static const char *dead[MAX_DEAD];
static int ndead;

static int is_dead(const char *base)
{
	for (int i = 0; i < ndead; i++)
		if (!strcmp(dead[i], base))
			return 1;
	return 0;
}

int fetch_http_get(const fetch_opts *o, const char *src, const char *url, size_t max, uint8_t **buf, size_t *len)
{
	*buf = NULL;
	*len = 0;
	if (is_dead(src)) {
		err_set(DN_ENET, "%s: skipped: could not be reached for an earlier file", src);
		return FETCH_UNREACHABLE;
	}
	static int curl_ready;
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			err_set(DN_ENET, "cannot initialise libcurl");
			return FETCH_NET;
		}
		curl_ready = 1;
	}
	CURL *c = curl_easy_init();
	if (!c) {
		err_set(DN_ENET, "cannot initialise libcurl");
		return FETCH_NET;
	}
	char errbuf[CURL_ERROR_SIZE];
	download d = {.max = max, .o = o, .label = url};
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &d);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "dann-toolkit mnist-fetch");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	/* A stalled transfer: below stall_min_rate bytes/s for stall_timeout_s seconds. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, o->stall_min_rate);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o->stall_timeout_s);
	/* A trickle fast enough to pass the stall check still ends: one deadline per attempt. */
	curl_easy_setopt(c, CURLOPT_TIMEOUT, o->deadline_s);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &d);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	int cls = FETCH_NET;
	long delay = o->retry_delay_ms;
	for (int attempt = 0;; attempt++) {
		d.n = 0;
		d.over = d.stalled = 0;
		d.last_t = 0;
		d.last_n = 0;
		errbuf[0] = '\0';
		double t0 = now_s();
		CURLcode cc = curl_easy_perform(c);
		if (o->progress)
			o->progress(o->ctx, url, (int64_t)d.n, (int64_t)d.n, 1);
		if (cc == CURLE_OK) {
			cls = FETCH_OK;
			break;
		}
		long http = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
		curl_off_t connected = 0;
		curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connected);
		int transient;
		if (cc == CURLE_HTTP_RETURNED_ERROR) {
			transient = http >= 500 || http == 408 || http == 429;
			cls = http == 404 || http == 410 ? FETCH_NOTFOUND : FETCH_NET;
			err_set(DN_ENET, "%s: HTTP %ld", url, http);
		} else if (d.over || cc == CURLE_FILESIZE_EXCEEDED) {
			transient = 0;
			cls = FETCH_FORMAT;
			err_set(DN_EFORMAT, "%s: larger than %zu bytes, more than the file can be: stopped", url, max);
		} else if (d.stalled) {
			transient = 1;
			cls = FETCH_NET;
			err_set(DN_ENET, "%s: stalled: no data for %ld s after %zu bytes", url, o->stall_timeout_s, d.n);
		} else if (cc == CURLE_OPERATION_TIMEDOUT && connected > 0 && now_s() - t0 >= (double)o->deadline_s - 0.5) {
			/* Waiting would not make the next attempt faster. */
			transient = 0;
			cls = FETCH_NET;
			err_set(DN_ENET, "%s: deadline of %ld s passed after %zu bytes (--deadline)", url, o->deadline_s, d.n);
		} else {
			/* Never connected (no DNS answer, refused, connection timeout): move on at once
			 * and remember the source; a host that answers and then fails is retried.
			 * Bad URLs and TLS failures will not get better by waiting either. */
			int unreachable = cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY ||
			                  cc == CURLE_COULDNT_CONNECT || (cc == CURLE_OPERATION_TIMEDOUT && connected == 0);
			transient = !(unreachable || cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT ||
			              cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
			              cc == CURLE_OUT_OF_MEMORY || cc == CURLE_WRITE_ERROR);
			if (unreachable && ndead < MAX_DEAD)
				dead[ndead++] = src;
			cls = unreachable ? FETCH_UNREACHABLE : FETCH_NET;
			err_set(DN_ENET, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
		}
		if (!transient || attempt >= o->retries)
			break;
		notice(o, "%s; retrying in %.1f s (attempt %d of %d)", err_msg(), (double)delay / 1000,
		       attempt + 2, o->retries + 1);
		sleep_ms(delay);
		delay *= 2;
	}
	curl_easy_cleanup(c);
	if (cls != FETCH_OK) {
		free(d.buf);
		return cls;
	}
	*buf = d.buf ? d.buf : malloc(1);
	*len = d.n;
	if (!*buf) {
		err_set(DN_ENOMEM, "%s: out of memory", url);
		return FETCH_NET;
	}
	return FETCH_OK;
}

/* --- cache ----------------------------------------------------------------------------------- */

int fetch_write_all(int fd, const uint8_t *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? errno : EIO;
		off += (size_t)w;
	}
	return 0;
}

/* Write the verified content under a temporary name in the cache folder, then rename it into
 * place: a reader never sees a partial file under the final name.  (No fsync: a cached file
 * is verified again each time it is read, and a bad one is removed.) */
int fetch_cache_store(const char *cache_dir, const char *name, const uint8_t *buf, size_t len)
{
	int rc = path_mkdirs(cache_dir);
	if (rc < 0)
		return rc;
	char tmp[4096], fin[4096];
	int n1 = snprintf(tmp, sizeof tmp, "%s/.%s.tmp.XXXXXX", cache_dir, name);
	int n2 = snprintf(fin, sizeof fin, "%s/%s", cache_dir, name);
	if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof tmp || (size_t)n2 >= sizeof fin)
		return err_set(DN_EARG, "%s: path too long", cache_dir);
	int fd = mkstemp(tmp);
	if (fd < 0)
		return err_set(DN_EIO, "%s: cannot create: %s", tmp, strerror(errno));
	mode_t um = umask(0);
	umask(um);
	fchmod(fd, 0666 & ~um);
	int e = fetch_write_all(fd, buf, len);
	if (e) {
		close(fd);
		unlink(tmp);
		return err_set(DN_EIO, "%s: write error: %s", fin, strerror(e));
	}
	if (close(fd) < 0) {
		int e = errno;
		unlink(tmp);
		return err_set(DN_EIO, "%s: write error: %s", fin, strerror(e));
	}
	if (rename(tmp, fin) < 0) {
		int e = errno;
		unlink(tmp);
		return err_set(DN_EIO, "%s: cannot rename into place: %s", fin, strerror(e));
	}
	return 0;
}

/* --- all sources ------------------------------------------------------------------------------ */

int fetch_sources(const fetch_opts *o, const char *name, fetch_try_fn try, void *ctx, int *unreachable)
{
	char best[512] = "";
	int best_cls = -1, best_code = DN_ENET, skipped = 0, nunreachable = 0, nfailed = 0;
	char tried[512] = "";
	size_t tn = 0;
	*unreachable = 0;
	for (int i = 0; i < o->nsources; i++) {
		const char *src = o->sources[i];
		int cls;
		if (fetch_is_http(src)) {
			if (o->offline) {
				skipped++;
				continue;
			}
			cls = try(ctx, o, src, NULL);
		} else if (!strncmp(src, "file://", 7)) {
			char dir[4096];
			if (file_url_path(src, dir, sizeof dir) < 0) {
				err_set(DN_EARG, "%s: path too long", src);
				cls = FETCH_NET;
			} else {
				cls = try(ctx, o, src, dir);
			}
		} else {
			cls = try(ctx, o, src, src);
		}
		if (cls == FETCH_OK)
			return 0;
		nfailed++;
		if (cls == FETCH_UNREACHABLE) {
			nunreachable++;
			cls = FETCH_NET;
		}
		int k = snprintf(tried + tn, sizeof tried - tn, "%s%s", tn ? ", " : "", src);
		if (k > 0)
			tn = tn + (size_t)k < sizeof tried ? tn + (size_t)k : sizeof tried - 1;
		if (cls > best_cls) {
			best_cls = cls;
			snprintf(best, sizeof best, "%s", err_msg());
			best_code = cls == FETCH_HASH ? DN_EHASH : cls == FETCH_FORMAT ? DN_EFORMAT : DN_ENET;
		}
		/* Tell what went wrong here when another source is still to come. */
		int more = 0;
		for (int j = i + 1; j < o->nsources; j++)
			if (!o->offline || !fetch_is_http(o->sources[j]))
				more = 1;
		if (more)
			notice(o, "%s; trying the next source", err_msg());
	}
	*unreachable = nfailed > 0 && nunreachable == nfailed;
	char off[96] = "";
	if (skipped)
		snprintf(off, sizeof off, " (--offline: %d http(s) source%s not tried)", skipped, skipped > 1 ? "s" : "");
	if (best_cls < 0)
		return err_set(DN_EARG, "%s: no source to fetch it from%s%s", name, o->cache_dir ? " but the cache" : "", off);
	if (best_cls == FETCH_NOTFOUND)
		return err_set(DN_ENET, "%s: not found in %s%s%s", name, o->cache_dir ? "the cache, " : "", tried, off);
	if (best_cls == FETCH_HASH || best_cls == FETCH_FORMAT)
		return err_set(best_code, "%s", best);
	return err_set(best_code, "%s: %s%s", name, best, off);
}

/* --- IDX files -------------------------------------------------------------------------------- */

typedef struct {
	const char *name;
	const uint8_t *want;
	size_t max;
	fetch_result *r;
} idx_job;

/* A folder source: DIR/NAME.gz, else DIR/NAME; an http(s) source: BASE/NAME.gz. */
static int try_idx(void *ctx, const fetch_opts *o, const char *src, const char *dir)
{
	idx_job *j = ctx;
	char path[4096];
	uint8_t *raw;
	size_t rawlen;
	if (!dir) {
		int un = snprintf(path, sizeof path, "%s%s%s.gz", src, src[strlen(src) - 1] == '/' ? "" : "/", j->name);
		if (un < 0 || (size_t)un >= sizeof path) {
			err_set(DN_EARG, "%s: URL too long", src);
			return FETCH_NET;
		}
		int cls = fetch_http_get(o, src, path, fetch_gz_bound(j->max), &raw, &rawlen);
		if (cls != FETCH_OK)
			return cls;
		snprintf(j->r->source, sizeof j->r->source, "%s", path);
		return verify(raw, rawlen, 0, path, j->name, j->want, j->max, j->r);
	}
	for (int gz = 1; gz >= 0; gz--) {
		int n = snprintf(path, sizeof path, "%s%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/",
		                 j->name, gz ? ".gz" : "");
		if (n < 0 || (size_t)n >= sizeof path) {
			err_set(DN_EARG, "%s: path too long", dir);
			return FETCH_NET;
		}
		if (!exists(path))
			continue;
		if (idx_slurp(path, gz ? fetch_gz_bound(j->max) : j->max, &raw, &rawlen) < 0)
			return FETCH_FORMAT;
		snprintf(j->r->source, sizeof j->r->source, "%s", path);
		return verify(raw, rawlen, 0, path, j->name, j->want, j->max, j->r);
	}
	err_set(DN_EIO, "%s: no %s.gz or %s", dir, j->name, j->name);
	return FETCH_NOTFOUND;
}

int fetch_file(const fetch_opts *o, const char *name, const uint8_t want[SHA256_LEN], size_t max, fetch_result *r)
{
	memset(r, 0, sizeof *r);
	char path[4096];
	if (o->cache_dir) {
		int n = snprintf(path, sizeof path, "%s/%s", o->cache_dir, name);
		if (n > 0 && (size_t)n < sizeof path && exists(path)) {
			uint8_t *raw;
			size_t rawlen;
			int mapped;
			int cls = idx_map(path, max, &raw, &rawlen, &mapped) < 0 ? FETCH_NET
			          : verify(raw, rawlen, mapped, path, name, want, max, r);
			if (cls == FETCH_OK) {
				snprintf(r->source, sizeof r->source, "cache %s", path);
				r->from_cache = 1;
				return 0;
			}
			/* Our own cache is bad (disk trouble, tampering, a FIFO put in its place, or other
			 * expected hashes given with DANN_FETCH_SHA256SUMS): ignore it; a good copy
			 * fetched below replaces it. */
			notice(o, "cached copy is bad, fetching it again: %s", err_msg());
		}
	}
	idx_job j = {name, want, max, r};
	int rc = fetch_sources(o, name, try_idx, &j, &r->unreachable);
	if (rc < 0)
		return rc;
	if (o->cache_dir) {
		if (fetch_cache_store(o->cache_dir, name, r->buf, r->len) < 0)
			notice(o, "not cached: %s", err_msg());
		else
			r->cached = 1;
	}
	return 0;
}
