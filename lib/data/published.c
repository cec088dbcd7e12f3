/* published.c - MNIST-M as published, from folders or tar.gz archives (see published.h).
 *
 * PNGs are decoded with libpng's simplified API (png_image_*), archives read with libarchive:
 * both well kept, both already in Debian.  Every size a source could inflate is bounded before
 * it is allocated (PUB_* in published.h). */
#include "data/published.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "stream/idx.h"

/* SHA-256 of the decoded arrays of the published MNIST-M (Ganin et al. 2016), so that any copy
 * (a folder, the archive, a mirror) is checked against the data the paper used; the sample in
 * ../shared/data/mnist_m_sample is the first 10,000 training images of the same data. */
static const struct {
	const char *split;
	int64_t n;
	const char *images, *labels;
} published[] = {
	{"train", 59001, "3c689850ded80df111260294d02c79ee0a6e602a9fd634c4e08e1339628f8d33",
	 "3270ced1a201191cc8822212bf0969cb73d940b21842e1c8c09413d70ca57d76"},
	{"test", 9001, "47415b066fe8a39de3f0e86f65a72d4c4078f1e2557a388ca0a7cfd8dfe90b14",
	 "5584c5dac3ac6e4752351bfcdc1e040f4009fd6a566ba538de5eb6c6029a8055"},
};

int pub_mnistm_expected(const char *split, pub_expect *e)
{
	for (size_t i = 0; i < sizeof published / sizeof *published; i++) {
		if (strcmp(published[i].split, split))
			continue;
		e->n = published[i].n;
		if (sha256_parse_hex(published[i].images, e->images_sha) < 0 ||
		    sha256_parse_hex(published[i].labels, e->labels_sha) < 0)
			return err_set(DN_EARG, "internal error: bad built-in hash");
		return 0;
	}
	return err_set(DN_EARG, "MNIST-M has no split '%s' (train or test)", split);
}

void pub_mnistm_names(const char *split, char images[64], char labels[64])
{
	snprintf(images, 64, "mnist_m_%.20s_images.u8", split);
	snprintf(labels, 64, "mnist_m_%.20s_labels.u8", split);
}

void pub_mnistm_free(pub_mnistm *r)
{
	size_t ib = (size_t)r->n * PUB_MNISTM_IMAGE_BYTES;
	if (r->images)
		idx_unmap(r->images, ib, r->mapped);
	if (r->labels)
		idx_unmap(r->labels, (size_t)r->n, r->mapped);
	r->images = r->labels = NULL;
	r->n = 0;
}

int pub_pad_images(const uint8_t *src, int64_t n, int h, int w, int s, uint8_t *dst)
{
	if (h < 1 || w < 1 || s < h || s < w || n < 0)
		return err_set(DN_EARG, "cannot place %dx%d images on a %dx%d canvas", h, w, s, s);
	int top = (s - h) / 2, left = (s - w) / 2;
	size_t plane = (size_t)s * (size_t)s;
	for (int64_t i = 0; i < n; i++) {
		uint8_t *d = dst + (size_t)i * plane;
		memset(d, 0, plane);
		for (int y = 0; y < h; y++)
			memcpy(d + (size_t)(top + y) * (size_t)s + (size_t)left, src + ((size_t)i * (size_t)h + (size_t)y) * (size_t)w,
			       (size_t)w);
	}
	return 0;
}

int pub_decode_png32(const uint8_t *buf, size_t len, const char *name, uint8_t out[PUB_MNISTM_IMAGE_BYTES])
{
	png_image im;
	memset(&im, 0, sizeof im);
	im.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&im, buf, len))
		return err_set(DN_EFORMAT, "%s: not a readable PNG (%s)", name, im.message);
	/* Header first: a wrong size is refused before any pixel is decoded. */
	if (im.width != PUB_MNISTM_SIDE || im.height != PUB_MNISTM_SIDE) {
		err_set(DN_EFORMAT, "%s: image is %ux%u, expected %dx%d", name, (unsigned)im.width, (unsigned)im.height,
		        PUB_MNISTM_SIDE, PUB_MNISTM_SIDE);
		png_image_free(&im);
		return DN_EFORMAT;
	}
	if (!(im.format & PNG_FORMAT_FLAG_COLOR) || (im.format & PNG_FORMAT_FLAG_ALPHA)) {
		err_set(DN_EFORMAT, "%s: image %s, expected RGB", name,
		        im.format & PNG_FORMAT_FLAG_ALPHA ? "has an alpha channel" : "is grayscale");
		png_image_free(&im);
		return DN_EFORMAT;
	}
	im.format = PNG_FORMAT_RGB;
	if (!png_image_finish_read(&im, NULL, out, 0, NULL)) {
		err_set(DN_EFORMAT, "%s: corrupt PNG (%s)", name, im.message);
		png_image_free(&im);
		return DN_EFORMAT;
	}
	return 0;
}

/* --- the labels file ---------------------------------------------------------------------- */

typedef struct {
	char name[64];
	uint8_t label;
} entry;

/* Parse "NAME LABEL" lines (the published mnist_m_SPLIT_labels.txt).  NAME is a plain file
 * name (no '/'), LABEL one digit 0..9. */
static int parse_labels(const uint8_t *text, size_t len, const char *path, entry **out, int64_t *n)
{
	*out = NULL;
	*n = 0;
	size_t cap = 0;
	entry *v = NULL;
	int64_t line = 0;
	for (size_t i = 0; i < len;) {
		size_t e = i;
		while (e < len && text[e] != '\n')
			e++;
		size_t end = e;
		if (end > i && text[end - 1] == '\r')
			end--;
		line++;
		if (end > i) {
			char buf[160];
			size_t k = end - i < sizeof buf - 1 ? end - i : sizeof buf - 1;
			memcpy(buf, text + i, k);
			buf[k] = '\0';
			char nm[80], lab[16], extra[2];
			int f = end - i < sizeof buf - 1 ? sscanf(buf, "%79s %15s %1s", nm, lab, extra) : 0;
			if (f != 2 || memchr(buf, '\0', k) != NULL || strlen(nm) >= sizeof v->name) {
				free(v);
				return err_set(DN_EFORMAT, "%s: line %" PRId64 " is not 'FILE LABEL': '%.60s'", path, line, buf);
			}
			if (strchr(nm, '/') || !strcmp(nm, ".") || !strcmp(nm, "..")) {
				free(v);
				return err_set(DN_EFORMAT, "%s: line %" PRId64 ": '%s' is not a plain file name", path, line, nm);
			}
			if (lab[1] != '\0' || lab[0] < '0' || lab[0] > '9') {
				free(v);
				return err_set(DN_ERANGE, "%s: line %" PRId64 ": label '%s' is not in 0..9", path, line, lab);
			}
			if ((size_t)*n == cap) {
				cap = cap ? cap * 2 : 1024;
				entry *nv = realloc(v, cap * sizeof *v);
				if (!nv) {
					free(v);
					return err_set(DN_ENOMEM, "%s: out of memory", path);
				}
				v = nv;
			}
			snprintf(v[*n].name, sizeof v->name, "%s", nm);
			v[*n].label = (uint8_t)(lab[0] - '0');
			(*n)++;
		}
		i = e + 1;
	}
	if (*n == 0) {
		free(v);
		return err_set(DN_EFORMAT, "%s: no images listed", path);
	}
	*out = v;
	return 0;
}

/* --- verification and caching --------------------------------------------------------------- */

typedef struct {
	const char *split;
	const pub_expect *want;
	int allow_partial;
	pub_mnistm *r;
	const char *cache_dir;
} job;

/* Decoded arrays of n images (owned): check against the expected count and hashes; on success
 * they move into j->r.  Returns FETCH_OK or a failure class. */
static int accept(job *j, const char *where, uint8_t *images, uint8_t *labels, int64_t n)
{
	const pub_expect *w = j->want;
	if (n < w->n && !j->allow_partial) {
		free(images);
		free(labels);
		err_set(DN_EFORMAT, "%s: partial copy of the MNIST-M %s split: %" PRId64 " of %" PRId64
		        " images (--allow-partial uses it unverified)", where, j->split, n, w->n);
		return FETCH_FORMAT;
	}
	if (n >= w->n) {
		uint8_t gi[SHA256_LEN], gl[SHA256_LEN];
		sha256(images, (size_t)n * PUB_MNISTM_IMAGE_BYTES, gi);
		sha256(labels, (size_t)n, gl);
		int bad_i = memcmp(gi, w->images_sha, SHA256_LEN) != 0, bad_l = memcmp(gl, w->labels_sha, SHA256_LEN) != 0;
		if (n > w->n || bad_i || bad_l) {
			char hw[SHA256_HEX_LEN + 1], hg[SHA256_HEX_LEN + 1];
			if (n > w->n)
				err_set(DN_EHASH, "%s: the %s split has %" PRId64 " images, the published one %" PRId64, where,
				        j->split, n, w->n);
			else
				err_set(DN_EHASH, "%s: SHA-256 mismatch in the decoded %s %s: expected %s, got %s", where, j->split,
				        bad_i ? "images" : "labels", sha256_hex(bad_i ? w->images_sha : w->labels_sha, hw),
				        sha256_hex(bad_i ? gi : gl, hg));
			free(images);
			free(labels);
			return FETCH_HASH;
		}
		j->r->verified = 1;
	}
	j->r->n = n;
	j->r->images = images;
	j->r->labels = labels;
	snprintf(j->r->source, sizeof j->r->source, "%s", where);
	return FETCH_OK;
}

static int from_cache(job *j)
{
	char ni[64], nl[64], pi[4200], pl[4200];
	pub_mnistm_names(j->split, ni, nl);
	snprintf(pi, sizeof pi, "%s/%s", j->cache_dir, ni);
	snprintf(pl, sizeof pl, "%s/%s", j->cache_dir, nl);
	struct stat st;
	if (lstat(pi, &st) < 0 || lstat(pl, &st) < 0)
		return 0;
	uint8_t *bi = NULL, *bl = NULL;
	size_t li = 0, ll = 0;
	int mi = 0, ml = 0, ok = 0;
	size_t want_i = (size_t)j->want->n * PUB_MNISTM_IMAGE_BYTES;
	if (idx_map(pi, want_i, &bi, &li, &mi) == 0 && idx_map(pl, (size_t)j->want->n, &bl, &ll, &ml) == 0 &&
	    li == want_i && ll == (size_t)j->want->n) {
		uint8_t gi[SHA256_LEN], gl[SHA256_LEN];
		sha256(bi, li, gi);
		sha256(bl, ll, gl);
		ok = !memcmp(gi, j->want->images_sha, SHA256_LEN) && !memcmp(gl, j->want->labels_sha, SHA256_LEN);
		if (!ok)
			err_set(DN_EHASH, "%s: SHA-256 mismatch", pi);
	} else if (!err_msg()[0]) {
		err_set(DN_EFORMAT, "%s: wrong size", pi);
	}
	if (!ok || mi != ml) {
		if (bi)
			idx_unmap(bi, li, mi);
		if (bl)
			idx_unmap(bl, ll, ml);
		if (ok)  /* one mapped, one read: copy both to plain memory would do; simply refetch */
			err_set(DN_EIO, "%s: cannot be mapped", pi);
		return -1;
	}
	j->r->n = j->want->n;
	j->r->images = bi;
	j->r->labels = bl;
	j->r->mapped = mi;
	j->r->verified = 1;
	j->r->from_cache = 1;
	snprintf(j->r->source, sizeof j->r->source, "cache %s", j->cache_dir);
	return 1;
}

/* --- a folder as distributed ------------------------------------------------------------------ */

static int join(char *out, size_t len, const char *a, const char *b)
{
	int n = snprintf(out, len, "%s%s%s", a, a[0] && a[strlen(a) - 1] == '/' ? "" : "/", b);
	return n < 0 || (size_t)n >= len ? err_set(DN_EARG, "%s: path too long", a) : 0;
}

static void progress(const fetch_opts *o, const char *label, int64_t done, int64_t total, int fin)
{
	if (o->progress)
		o->progress(o->ctx, label, done, total, fin);
}

/* root holds mnist_m_SPLIT/ and labels_path. */
static int from_folder(job *j, const fetch_opts *o, const char *root, const char *labels_path)
{
	uint8_t *text;
	size_t tlen;
	if (idx_slurp(labels_path, PUB_LABELS_MAX, &text, &tlen) < 0)
		return FETCH_FORMAT;
	entry *ent;
	int64_t n;
	int rc = parse_labels(text, tlen, labels_path, &ent, &n);
	free(text);
	if (rc < 0)
		return FETCH_FORMAT;
	if (n < j->want->n && !j->allow_partial)  /* refused before any image is decoded */
		return free(ent), accept(j, root, NULL, NULL, n);
	char sub[64], dir[4200], path[4400];
	snprintf(sub, sizeof sub, "mnist_m_%s", j->split);
	if (join(dir, sizeof dir, root, sub) < 0) {
		free(ent);
		return FETCH_NET;
	}
	uint8_t *images = malloc((size_t)n * PUB_MNISTM_IMAGE_BYTES), *labels = malloc((size_t)n);
	if (!images || !labels) {
		err_set(DN_ENOMEM, "%s: out of memory for %" PRId64 " images", labels_path, n);
		free(images);
		free(labels);
		free(ent);
		return FETCH_NET;
	}
	for (int64_t i = 0; i < n; i++) {
		uint8_t *buf;
		size_t len;
		if (join(path, sizeof path, dir, ent[i].name) < 0 || idx_slurp(path, PUB_PNG_MAX, &buf, &len) < 0 ||
		    (rc = pub_decode_png32(buf, len, path, images + (size_t)i * PUB_MNISTM_IMAGE_BYTES), free(buf), rc < 0)) {
			err_set(DN_EFORMAT, "%s (listed on line %" PRId64 " of %s)", err_msg(), i + 1, labels_path);
			free(images);
			free(labels);
			free(ent);
			return FETCH_FORMAT;
		}
		labels[i] = ent[i].label;
		if ((i + 1) % 2000 == 0 || i + 1 == n)
			progress(o, dir, i + 1, n, i + 1 == n);
	}
	free(ent);
	return accept(j, root, images, labels, n);
}

/* --- archives ------------------------------------------------------------------------------------- */

/* Which members of an archive to read, and what to do with each. */
typedef struct {
	/* The most bytes member `rel` may have, or 0 to skip it. */
	size_t (*want)(void *ctx, const char *rel);
	/* Take a member's bytes: FETCH_OK, or a failure class (message set) that stops the walk. */
	int (*take)(void *ctx, const char *rel, const uint8_t *buf, size_t len);
	void *ctx;
	const fetch_opts *o;
	int64_t ntaken;
} walker;

/* The member path without leading "./". */
static const char *member_path(const char *p)
{
	while (p && !strncmp(p, "./", 2))
		p += 2;
	return p ? p : "";
}

/* Read the open archive `a` (described by `where`) member by member.  A member larger than
 * what `want` allows, or members adding up past PUB_UNPACKED_MAX (a tar bomb), stop the walk
 * before they are unpacked. */
static int walk(struct archive *a, const char *where, walker *w)
{
	uint8_t *buf = NULL;
	size_t cap = 0;
	int cls = FETCH_OK;
	struct archive_entry *e;
	for (;;) {
		int ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			err_set(DN_EFORMAT, "%s: corrupt archive: %s", where, archive_error_string(a));
			cls = FETCH_FORMAT;
			break;
		}
		int64_t size = archive_entry_size(e);
		int64_t pos = archive_filter_bytes(a, 0);
		if (size < 0 || pos < 0 || (uint64_t)pos + (uint64_t)size > PUB_UNPACKED_MAX) {
			err_set(DN_EFORMAT, "%s: unpacks to more than %zu bytes: stopped", where, (size_t)PUB_UNPACKED_MAX);
			cls = FETCH_FORMAT;
			break;
		}
		const char *rel = member_path(archive_entry_pathname(e));
		size_t max = archive_entry_filetype(e) == AE_IFREG ? w->want(w->ctx, rel) : 0;
		if (max == 0) {
			archive_read_data_skip(a);
			continue;
		}
		if ((uint64_t)size > max) {
			err_set(DN_EFORMAT, "%s: %s: member of %" PRId64 " bytes, more than %zu", where, rel, size, max);
			cls = FETCH_FORMAT;
			break;
		}
		if ((size_t)size > cap) {
			uint8_t *nb = realloc(buf, (size_t)size);
			if (!nb) {
				err_set(DN_ENOMEM, "%s: out of memory", where);
				cls = FETCH_NET;
				break;
			}
			buf = nb;
			cap = (size_t)size;
		}
		la_ssize_t got = size ? archive_read_data(a, buf, (size_t)size) : 0;
		if (got != (la_ssize_t)size) {
			err_set(DN_EFORMAT, "%s: %s: %s", where, rel, got < 0 ? archive_error_string(a) : "truncated member");
			cls = FETCH_FORMAT;
			break;
		}
		cls = w->take(w->ctx, rel, buf, (size_t)size);
		if (cls != FETCH_OK)
			break;
		if (++w->ntaken % 2000 == 0)
			progress(w->o, where, w->ntaken, 0, 0);
	}
	progress(w->o, where, w->ntaken, w->ntaken, 1);
	free(buf);
	return cls;
}

static struct archive *archive_new(void)
{
	struct archive *a = archive_read_new();
	if (a) {
		archive_read_support_filter_gzip(a);
		archive_read_support_filter_none(a);
		archive_read_support_format_tar(a);
	}
	return a;
}

/* Walk the archive at a local path: a regular file (opened without blocking) of at most `max`
 * bytes. */
static int walk_file(const char *path, size_t max, walker *w)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		err_set(DN_EIO, "%s: %s", path, strerror(errno));
		return FETCH_NOTFOUND;
	}
	struct stat st = {0};
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		close(fd);
		if (S_ISREG(st.st_mode))
			err_set(DN_EFORMAT, "%s: archive larger than %zu bytes", path, max);
		else
			err_set(DN_EIO, "%s: not a regular file (a FIFO, device or socket is not read)", path);
		return FETCH_FORMAT;
	}
	struct archive *a = archive_new();
	if (!a || archive_read_open_fd(a, fd, 1 << 16) != ARCHIVE_OK) {
		err_set(DN_EFORMAT, "%s: not a tar or tar.gz archive: %s", path, a ? archive_error_string(a) : "out of memory");
		if (a)
			archive_read_free(a);
		close(fd);
		return FETCH_FORMAT;
	}
	int cls = walk(a, path, w);
	archive_read_free(a);
	close(fd);
	return cls;
}

/* Download the archive at `url` (at most `max` bytes) and walk it. */
static int walk_url(const char *src, const char *url, size_t max, walker *w)
{
	uint8_t *buf;
	size_t len;
	int cls = fetch_http_get(w->o, src, url, max, &buf, &len);
	if (cls != FETCH_OK)
		return cls;
	struct archive *a = archive_new();
	if (!a || archive_read_open_memory(a, buf, len) != ARCHIVE_OK) {
		err_set(DN_EFORMAT, "%s: not a tar or tar.gz archive: %s", url, a ? archive_error_string(a) : "out of memory");
		if (a)
			archive_read_free(a);
		free(buf);
		return FETCH_FORMAT;
	}
	cls = walk(a, url, w);
	archive_read_free(a);
	free(buf);
	return cls;
}

/* --- MNIST-M from mnist_m.tar.gz -------------------------------------------------------------- */

typedef struct {
	char name[64];
	uint8_t px[PUB_MNISTM_IMAGE_BYTES];
} decoded;

static int cmp_decoded(const void *a, const void *b)
{
	return strcmp(((const decoded *)a)->name, ((const decoded *)b)->name);
}

typedef struct {
	job *j;
	const char *where;
	char labels_name[64], dir[64];
	uint8_t *text;
	size_t tlen;
	decoded *dec;
	size_t nd, cap;
} mnistm_walk;

/* A member name relative to an optional leading "mnist_m/". */
static const char *in_mnistm(const char *rel)
{
	return !strncmp(rel, "mnist_m/", 8) ? rel + 8 : rel;
}

static size_t mnistm_want(void *ctx, const char *rel)
{
	mnistm_walk *m = ctx;
	rel = in_mnistm(rel);
	size_t dl = strlen(m->dir);
	if (!strcmp(rel, m->labels_name))
		return PUB_LABELS_MAX;
	if (!strncmp(rel, m->dir, dl) && rel[dl] && !strchr(rel + dl, '/') && strlen(rel + dl) < sizeof m->dec->name)
		return PUB_PNG_MAX;
	return 0;
}

static int mnistm_take(void *ctx, const char *rel, const uint8_t *buf, size_t len)
{
	mnistm_walk *m = ctx;
	rel = in_mnistm(rel);
	if (!strcmp(rel, m->labels_name)) {
		free(m->text);
		m->text = malloc(len + 1);
		if (!m->text)
			return err_set(DN_ENOMEM, "%s: out of memory", m->where), FETCH_NET;
		memcpy(m->text, buf, len);
		m->tlen = len;
		return FETCH_OK;
	}
	if (m->nd == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 4096;
		decoded *nv = realloc(m->dec, ncap * sizeof *nv);
		if (!nv)
			return err_set(DN_ENOMEM, "%s: out of memory", m->where), FETCH_NET;
		m->dec = nv;
		m->cap = ncap;
	}
	decoded *d = &m->dec[m->nd];
	snprintf(d->name, sizeof d->name, "%s", rel + strlen(m->dir));
	char label[300];
	snprintf(label, sizeof label, "%s: %s", m->where, rel);
	if (pub_decode_png32(buf, len, label, d->px) < 0)
		return FETCH_FORMAT;
	m->nd++;
	return FETCH_OK;
}

/* After the walk: the images in labels-file order. */
static int mnistm_finish(mnistm_walk *m)
{
	if (!m->text) {
		err_set(DN_EIO, "%s: no %s in the archive", m->where, m->labels_name);
		return FETCH_NOTFOUND;
	}
	entry *ent;
	int64_t n;
	char lname[300];
	snprintf(lname, sizeof lname, "%s: %s", m->where, m->labels_name);
	if (parse_labels(m->text, m->tlen, lname, &ent, &n) < 0)
		return FETCH_FORMAT;
	if (m->nd)  /* qsort(NULL, 0, ...) is undefined (found by tests/fuzz/fuzz_mnistm.c) */
		qsort(m->dec, m->nd, sizeof *m->dec, cmp_decoded);
	for (size_t i = 1; i < m->nd; i++)
		if (!strcmp(m->dec[i - 1].name, m->dec[i].name)) {
			free(ent);
			err_set(DN_EFORMAT, "%s: %s%s appears twice", m->where, m->dir, m->dec[i].name);
			return FETCH_FORMAT;
		}
	uint8_t *images = malloc((size_t)n * PUB_MNISTM_IMAGE_BYTES), *labels = malloc((size_t)n);
	if (!images || !labels) {
		free(images);
		free(labels);
		free(ent);
		err_set(DN_ENOMEM, "%s: out of memory for %" PRId64 " images", m->where, n);
		return FETCH_NET;
	}
	for (int64_t i = 0; i < n; i++) {
		decoded key;
		snprintf(key.name, sizeof key.name, "%s", ent[i].name);
		decoded *d = m->dec ? bsearch(&key, m->dec, m->nd, sizeof *m->dec, cmp_decoded) : NULL;
		if (!d) {
			err_set(DN_EFORMAT, "%s: %s%s is listed on line %" PRId64 " of %s but not in the archive", m->where,
			        m->dir, ent[i].name, i + 1, m->labels_name);
			free(images);
			free(labels);
			free(ent);
			return FETCH_FORMAT;
		}
		memcpy(images + (size_t)i * PUB_MNISTM_IMAGE_BYTES, d->px, PUB_MNISTM_IMAGE_BYTES);
		labels[i] = ent[i].label;
	}
	free(ent);
	return accept(m->j, m->where, images, labels, n);
}

/* MNIST-M from the archive at a local path (url NULL) or a URL. */
static int mnistm_archive(job *j, const fetch_opts *o, const char *src, const char *path, const char *url)
{
	mnistm_walk m = {.j = j, .where = url ? url : path};
	snprintf(m.labels_name, sizeof m.labels_name, "mnist_m_%s_labels.txt", j->split);
	snprintf(m.dir, sizeof m.dir, "mnist_m_%s/", j->split);
	walker w = {mnistm_want, mnistm_take, &m, o, 0};
	int cls = url ? walk_url(src, url, PUB_ARCHIVE_MAX, &w) : walk_file(path, PUB_ARCHIVE_MAX, &w);
	if (cls == FETCH_OK)
		cls = mnistm_finish(&m);
	free(m.dec);
	free(m.text);
	return cls;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

static int try_source(void *ctx, const fetch_opts *o, const char *src, const char *path)
{
	job *j = ctx;
	char p[4200], q[4200], labels[64];
	snprintf(labels, sizeof labels, "mnist_m_%s_labels.txt", j->split);
	if (!path) {
		if (ends_with(src, ".tar.gz") || ends_with(src, ".tgz"))
			return mnistm_archive(j, o, src, NULL, src);
		if (join(p, sizeof p, src, "mnist_m.tar.gz") < 0)
			return FETCH_NET;
		return mnistm_archive(j, o, src, NULL, p);
	}
	struct stat st;
	if (stat(path, &st) < 0) {
		err_set(DN_EIO, "%s: %s", path, strerror(errno));
		return FETCH_NOTFOUND;
	}
	if (!S_ISDIR(st.st_mode))
		return mnistm_archive(j, o, src, path, NULL);
	/* DIR as distributed, then its parent holding mnist_m/, then a mirror holding the archive. */
	if (join(p, sizeof p, path, labels) < 0)
		return FETCH_NET;
	if (lstat(p, &st) == 0)
		return from_folder(j, o, path, p);
	if (join(q, sizeof q, path, "mnist_m") < 0 || join(p, sizeof p, q, labels) < 0)
		return FETCH_NET;
	if (lstat(p, &st) == 0)
		return from_folder(j, o, q, p);
	if (join(p, sizeof p, path, "mnist_m.tar.gz") < 0)
		return FETCH_NET;
	if (lstat(p, &st) == 0)
		return mnistm_archive(j, o, src, p, NULL);
	err_set(DN_EIO, "%s: no %s, mnist_m/ or mnist_m.tar.gz", path, labels);
	return FETCH_NOTFOUND;
}

int pub_mnistm_fetch(const fetch_opts *o, const char *split, const pub_expect *want, int allow_partial,
                     pub_mnistm *r)
{
	memset(r, 0, sizeof *r);
	job j = {split, want, allow_partial, r, o->cache_dir};
	if (o->cache_dir) {
		err_set(0, "%s", "");
		int c = from_cache(&j);
		if (c > 0)
			return 0;
		if (c < 0 && o->notice) {
			char msg[600];
			snprintf(msg, sizeof msg, "cached copy is bad, fetching it again: %s", err_msg());
			o->notice(o->ctx, msg);
		}
	}
	char name[64];
	snprintf(name, sizeof name, "MNIST-M %s", split);
	int rc = fetch_sources(o, name, try_source, &j, &r->unreachable);
	if (rc < 0)
		return rc;
	if (r->verified && o->cache_dir) {
		char ni[64], nl[64];
		pub_mnistm_names(split, ni, nl);
		if (fetch_cache_store(o->cache_dir, ni, r->images, (size_t)r->n * PUB_MNISTM_IMAGE_BYTES) < 0 ||
		    fetch_cache_store(o->cache_dir, nl, r->labels, (size_t)r->n) < 0) {
			if (o->notice) {
				char msg[600];
				snprintf(msg, sizeof msg, "not cached: %s", err_msg());
				o->notice(o->ctx, msg);
			}
		} else {
			r->cached = 1;
		}
	}
	return 0;
}

/* --- BSDS500: files known by name and SHA-256 ------------------------------------------------- */

#include "data/bsds500_sums.h"

void pub_files_free(pub_files *f)
{
	for (int i = 0; f->data && i < f->n; i++)
		free(f->data[i]);
	free(f->data);
	free(f->len);
	free(f->name);
	free(f->sha);
	memset(f, 0, sizeof *f);
}

static int files_alloc(pub_files *f, int n)
{
	memset(f, 0, sizeof *f);
	f->name = calloc((size_t)n, sizeof *f->name);
	f->sha = calloc((size_t)n, sizeof *f->sha);
	f->data = calloc((size_t)n, sizeof *f->data);
	f->len = calloc((size_t)n, sizeof *f->len);
	if (!f->name || !f->sha || !f->data || !f->len) {
		pub_files_free(f);
		return err_set(DN_ENOMEM, "out of memory");
	}
	f->n = n;
	return 0;
}

int pub_bsds500_list(const char *split, pub_files *f)
{
	if (strcmp(split, "train"))
		return err_set(DN_EARG, "BSDS500: only the train split (200 photographs) is known, not '%s'", split);
	int n = (int)(sizeof bsds500_train / sizeof *bsds500_train);
	if (files_alloc(f, n) < 0)
		return DN_ENOMEM;
	for (int i = 0; i < n; i++) {
		snprintf(f->name[i], sizeof f->name[i], "%s", bsds500_train[i][0]);
		if (sha256_parse_hex(bsds500_train[i][1], f->sha[i]) < 0) {
			pub_files_free(f);
			return err_set(DN_EARG, "internal error: bad built-in hash");
		}
	}
	return 0;
}

int pub_files_from_sums(const char *path, pub_files *f)
{
	uint8_t *text;
	size_t len;
	if (idx_slurp(path, PUB_LABELS_MAX, &text, &len) < 0)
		return DN_EIO;
	int n = 0;
	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	int rc = files_alloc(f, n + 1);
	int k = 0;
	for (size_t i = 0; rc == 0 && i < len;) {
		size_t e = i;
		while (e < len && text[e] != '\n')
			e++;
		char line[256], hex[80], name[80];
		size_t l = e - i < sizeof line - 1 ? e - i : sizeof line - 1;
		memcpy(line, text + i, l);
		line[l] = '\0';
		i = e + 1;
		if (line[0] == '#' || sscanf(line, "%79s %79s", hex, name) != 2)
			continue;
		const char *nm = name[0] == '*' ? name + 1 : name;
		if (strlen(nm) >= sizeof f->name[k] || strchr(nm, '/') || sha256_parse_hex(hex, f->sha[k]) < 0)
			rc = err_set(DN_EFORMAT, "%s: bad line '%.60s'", path, line);
		else
			snprintf(f->name[k++], sizeof f->name[k], "%s", nm);
	}
	free(text);
	if (rc == 0 && k == 0)
		rc = err_set(DN_EFORMAT, "%s: no files listed", path);
	if (rc < 0) {
		pub_files_free(f);
		return rc;
	}
	f->n = k;
	return 0;
}

typedef struct {
	pub_files *f;
	const char *split;
	int nbad;             /* files a source gave with the wrong hash */
	char bad_msg[400];
} files_job;

static int find_file(const pub_files *f, const char *name)
{
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->name[i], name))
			return i;
	return -1;
}

/* Keep `buf` (copied) as file i if its hash is right. */
static void offer(files_job *fj, int i, const uint8_t *buf, size_t len, const char *where)
{
	pub_files *f = fj->f;
	if (i < 0 || f->data[i])
		return;
	uint8_t got[SHA256_LEN];
	sha256(buf, len, got);
	if (memcmp(got, f->sha[i], SHA256_LEN) != 0) {
		char hw[SHA256_HEX_LEN + 1], hg[SHA256_HEX_LEN + 1];
		if (!fj->nbad++)
			snprintf(fj->bad_msg, sizeof fj->bad_msg, "%s: SHA-256 mismatch: expected %s, got %s", where,
			         sha256_hex(f->sha[i], hw), sha256_hex(got, hg));
		return;
	}
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return;  /* counted as missing */
	memcpy(copy, buf, len);
	f->data[i] = copy;
	f->len[i] = len;
}

static int missing(const pub_files *f, int *first)
{
	int m = 0;
	*first = -1;
	for (int i = 0; i < f->n; i++)
		if (!f->data[i]) {
			if (*first < 0)
				*first = i;
			m++;
		}
	return m;
}

/* What a source left: FETCH_OK when nothing is missing, else a class and a message. */
static int files_outcome(files_job *fj, const char *where)
{
	int first, m = missing(fj->f, &first);
	if (m == 0)
		return FETCH_OK;
	if (fj->nbad) {
		err_set(DN_EHASH, "%s%s", fj->bad_msg, fj->nbad > 1 ? " (and more)" : "");
		return FETCH_HASH;
	}
	err_set(DN_EIO, "%s: %d of %d photographs missing (%s first)", where, m, fj->f->n, fj->f->name[first]);
	return FETCH_NOTFOUND;
}

static size_t bsds_want(void *ctx, const char *rel)
{
	files_job *fj = ctx;
	char pre[128];
	int n = snprintf(pre, sizeof pre, "BSR/BSDS500/data/images/%s/", fj->split);
	if (strncmp(rel, pre, (size_t)n) || find_file(fj->f, rel + n) < 0)
		return 0;
	return PUB_PHOTO_MAX;
}

static int bsds_take(void *ctx, const char *rel, const uint8_t *buf, size_t len)
{
	files_job *fj = ctx;
	const char *name = strrchr(rel, '/') + 1;
	offer(fj, find_file(fj->f, name), buf, len, rel);
	return FETCH_OK;
}

/* The photographs straight from folder `dir`: a file of another kind or size is refused. */
static void bsds_from_folder(files_job *fj, const char *dir)
{
	pub_files *f = fj->f;
	for (int i = 0; i < f->n; i++) {
		char path[4200];
		uint8_t *buf;
		size_t len;
		if (f->data[i] || join(path, sizeof path, dir, f->name[i]) < 0)
			continue;
		struct stat st;
		if (lstat(path, &st) < 0)
			continue;
		if (idx_slurp(path, PUB_PHOTO_MAX, &buf, &len) < 0) {
			if (!fj->nbad++)
				snprintf(fj->bad_msg, sizeof fj->bad_msg, "%s", err_msg());
			continue;
		}
		offer(fj, i, buf, len, path);
		free(buf);
	}
}

static int bsds_try(void *ctx, const fetch_opts *o, const char *src, const char *path)
{
	files_job *fj = ctx;
	fj->nbad = 0;
	walker w = {bsds_want, bsds_take, fj, o, 0};
	char p[4200], q[4200];
	if (!path) {
		if (ends_with(src, ".tgz") || ends_with(src, ".tar.gz")) {
			snprintf(p, sizeof p, "%s", src);
		} else if (join(p, sizeof p, src, "BSR_bsds500.tgz") < 0) {
			return FETCH_NET;
		}
		int cls = walk_url(src, p, PUB_BSDS_ARCHIVE_MAX, &w);
		return cls != FETCH_OK ? cls : files_outcome(fj, p);
	}
	struct stat st;
	if (stat(path, &st) < 0) {
		err_set(DN_EIO, "%s: %s", path, strerror(errno));
		return FETCH_NOTFOUND;
	}
	if (!S_ISDIR(st.st_mode)) {
		int cls = walk_file(path, PUB_BSDS_ARCHIVE_MAX, &w);
		return cls != FETCH_OK ? cls : files_outcome(fj, path);
	}
	/* the photographs themselves, the unpacked archive, then the archive */
	bsds_from_folder(fj, path);
	snprintf(q, sizeof q, "BSR/BSDS500/data/images/%s", fj->split);
	if (join(p, sizeof p, path, q) == 0)
		bsds_from_folder(fj, p);
	int first;
	if (missing(fj->f, &first) && join(p, sizeof p, path, "BSR_bsds500.tgz") == 0 && lstat(p, &st) == 0) {
		int cls = walk_file(p, PUB_BSDS_ARCHIVE_MAX, &w);
		if (cls != FETCH_OK)
			return cls;
	}
	return files_outcome(fj, path);
}

int pub_bsds500_fetch(const fetch_opts *o, const char *split, pub_files *f)
{
	files_job fj = {f, split, 0, ""};
	if (o->cache_dir) {
		bsds_from_folder(&fj, o->cache_dir);
		int first;
		f->from_cache = f->n - missing(f, &first);
		if (fj.nbad && o->notice) {
			char msg[600];
			snprintf(msg, sizeof msg, "cached copy is bad, fetching it again: %s", fj.bad_msg);
			o->notice(o->ctx, msg);
		}
		if (f->from_cache == f->n)
			return 0;
	}
	char name[64];
	snprintf(name, sizeof name, "BSDS500 %s", split);
	int rc = fetch_sources(o, name, bsds_try, &fj, &f->unreachable);
	if (rc < 0)
		return rc;
	if (o->cache_dir) {
		for (int i = 0; i < f->n; i++)
			if (fetch_cache_store(o->cache_dir, f->name[i], f->data[i], f->len[i]) < 0) {
				if (o->notice) {
					char msg[600];
					snprintf(msg, sizeof msg, "not cached: %s", err_msg());
					o->notice(o->ctx, msg);
				}
				break;
			}
	}
	return 0;
}

static int write_all(const char *path, const uint8_t *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		return err_set(DN_EIO, "%s: cannot create: %s", path, strerror(errno));
	int e = fetch_write_all(fd, buf, len);
	if (e) {
		close(fd);
		return err_set(DN_EIO, "%s: write error: %s", path, strerror(e));
	}
	if (fsync(fd) < 0 || close(fd) < 0)
		return err_set(DN_EIO, "%s: write error: %s", path, strerror(errno));
	return 0;
}

static void remove_tmp_dir(const pub_files *f, const char *tmp)
{
	char p[4200];
	for (int i = 0; i < f->n; i++)
		if (join(p, sizeof p, tmp, f->name[i]) == 0)
			unlink(p);
	rmdir(tmp);
}

int pub_files_write_dir(const pub_files *f, const char *dir)
{
	struct stat st;
	if (lstat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
		return err_set(DN_EIO, "%s: exists and is not a folder", dir);
	char tmp[4200], p[4200];
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	int n = snprintf(tmp, sizeof tmp, "%.*s.tmp.XXXXXX", (int)dl, dir);
	if (n < 0 || (size_t)n >= sizeof tmp)
		return err_set(DN_EARG, "%s: path too long", dir);
	if (!mkdtemp(tmp))
		return err_set(DN_EIO, "%s: cannot create: %s", tmp, strerror(errno));
	mode_t um = umask(0);
	umask(um);
	chmod(tmp, 0777 & ~um);
	for (int i = 0; i < f->n; i++) {
		if (join(p, sizeof p, tmp, f->name[i]) < 0 || write_all(p, f->data[i], f->len[i]) < 0) {
			char msg[600];
			snprintf(msg, sizeof msg, "%s", err_msg());
			remove_tmp_dir(f, tmp);
			return err_set(DN_EIO, "%s", msg);
		}
	}
	if (rename(tmp, dir) < 0) {
		int e = errno;
		remove_tmp_dir(f, tmp);
		if (e == ENOTEMPTY || e == EEXIST)
			return err_set(DN_EIO, "%s: exists and is not empty: not overwritten", dir);
		return err_set(DN_EIO, "%s: cannot rename into place: %s", dir, strerror(e));
	}
	return 0;
}
