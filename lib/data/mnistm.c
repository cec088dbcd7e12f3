/* mnistm.c - MNIST-M generation (see mnistm.h for the recipes and the determinism contract). */
#include "data/mnistm.h"

#include <dirent.h>
#include <errno.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/rng.h"
#include "stream/dataset.h"
#include "stream/writer.h"

/* ---- background photos ----------------------------------------------------------------- */

void mnistm_bg_free(mnistm_bg *bg)
{
	for (int i = 0; i < bg->n; i++) {
		if (bg->photo)
			img_free(&bg->photo[i]);
		if (bg->name)
			free(bg->name[i]);
	}
	free(bg->photo);
	free(bg->name);
	bg->photo = NULL;
	bg->name = NULL;
	bg->n = 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the photo files in `dir`. */
static int list_photos(const char *dir, char ***names, int *count)
{
	DIR *d = opendir(dir);
	if (!d)
		return err_set(DN_EIO, "%s: %s", dir, strerror(errno));
	char **v = NULL;
	int n = 0, cap = 0, rc = 0;
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || !img_name_is_photo(e->d_name))
			continue;
		if (n == cap) {
			int ncap = cap ? cap * 2 : 64;
			char **nv = realloc(v, sizeof *v * (size_t)ncap);
			if (!nv) {
				rc = err_set(DN_ENOMEM, "%s: out of memory listing photos", dir);
				break;
			}
			v = nv;
			cap = ncap;
		}
		if (!(v[n] = strdup(e->d_name))) {
			rc = err_set(DN_ENOMEM, "%s: out of memory listing photos", dir);
			break;
		}
		n++;
		errno = 0;
	}
	if (rc == 0 && errno)
		rc = err_set(DN_EIO, "%s: %s", dir, strerror(errno));
	closedir(d);
	if (rc == 0 && n == 0)
		rc = err_set(DN_EFORMAT, "%s: no photos (*.jpg, *.jpeg, *.png) in this folder", dir);
	if (rc < 0) {
		for (int i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return rc;
	}
	qsort(v, (size_t)n, sizeof *v, cmp_str);
	*names = v;
	*count = n;
	return 0;
}

int mnistm_bg_load(mnistm_bg *bg, const char *dir, int min_w, int min_h)
{
	bg->n = 0;
	bg->photo = NULL;
	bg->name = NULL;
	char **names;
	int n;
	int rc = list_photos(dir, &names, &n);
	if (rc < 0)
		return rc;
	bg->name = names;
	bg->n = n;
	bg->photo = calloc((size_t)n, sizeof *bg->photo);
	if (!bg->photo) {
		mnistm_bg_free(bg);
		return err_set(DN_ENOMEM, "%s: out of memory", dir);
	}
	/* Decode in parallel.  err_msg() is per thread, so the failing worker copies its message
	 * out; the lowest failing index wins, so the error does not depend on scheduling. */
	int bad = n, bad_rc = 0;
	char bad_msg[512] = "";
	size_t dlen = strlen(dir);
#pragma omp parallel for schedule(dynamic, 1)
	for (int i = 0; i < n; i++) {
		size_t len = dlen + strlen(names[i]) + 2;
		char *path = malloc(len);
		int r;
		if (!path) {
			r = err_set(DN_ENOMEM, "out of memory");
		} else {
			snprintf(path, len, "%s%s%s", dir, (dlen && dir[dlen - 1] == '/') ? "" : "/", names[i]);
			r = img_load(path, &bg->photo[i]);
			if (r == 0 && (bg->photo[i].w < min_w || bg->photo[i].h < min_h))
				r = err_set(DN_EFORMAT, "%s: photo is %dx%d, smaller than the %dx%d patch", path,
				            bg->photo[i].w, bg->photo[i].h, min_w, min_h);
		}
		free(path);
		if (r < 0) {
#pragma omp critical(mnistm_bg_err)
			if (i < bad) {
				bad = i;
				bad_rc = r;
				snprintf(bad_msg, sizeof bad_msg, "%s", err_msg());
			}
		}
	}
	if (bad < n) {
		mnistm_bg_free(bg);
		return err_set(bad_rc, "%s", bad_msg);
	}
	return 0;
}

/* ---- one image --------------------------------------------------------------------------- */

int mnistm_check_images(const npy_header *hd, const char *name, int64_t *n, int *h, int *w)
{
	char s[128];
	if (hd->dtype != NPY_U8 || !(hd->ndim == 3 || (hd->ndim == 4 && hd->shape[3] == 1)))
		return err_set(DN_EFORMAT, "%s: images: expected uint8 (N,H,W) or (N,H,W,1) grayscale, got %s",
		               name, npy_header_str(hd, s, sizeof s));
	if (hd->shape[1] < 1 || hd->shape[1] > MNISTM_MAX_SIDE || hd->shape[2] < 1 ||
	    hd->shape[2] > MNISTM_MAX_SIDE)
		return err_set(DN_EFORMAT, "%s: images: sides must be 1..%d, got %s", name, MNISTM_MAX_SIDE,
		               npy_header_str(hd, s, sizeof s));
	*n = hd->shape[0];
	*h = (int)hd->shape[1];
	*w = (int)hd->shape[2];
	return 0;
}

/* Bilinear resampling in fixed point, separable: a horizontal pass gives each needed input row
 * at the output width in 1/256 units, then a vertical pass blends two such rows.  The weights
 * (1/256 units) depend only on the sizes and are computed once per call of mnistm_generate. */
typedef struct {
	int ih, iw, oh, ow;
	int xl[MNISTM_MAX_SIDE], xh[MNISTM_MAX_SIDE], xf[MNISTM_MAX_SIDE];
	int yl[MNISTM_MAX_SIDE], yh[MNISTM_MAX_SIDE], yf[MNISTM_MAX_SIDE];
} resize_plan;

/* Out pixel o samples in[lo[o]] and in[hi[o]] with weight fr[o]/256 on the second, at input
 * position (o + 0.5) * in / out - 0.5 clamped to [0, in - 1]. */
static void axis_weights(int in, int out, int *lo, int *hi, int *fr)
{
	for (int o = 0; o < out; o++) {
		double s = ((double)o + 0.5) * (double)in / (double)out - 0.5;
		if (s < 0)
			s = 0;
		if (s > in - 1)
			s = in - 1;
		int l = (int)s;
		int f = (int)((s - l) * 256.0 + 0.5);
		if (f == 256) {
			l++;
			f = 0;
		}
		lo[o] = l;
		hi[o] = l + 1 < in ? l + 1 : in - 1;
		fr[o] = f;
	}
}

static void plan_init(resize_plan *p, int ih, int iw, int oh, int ow)
{
	p->ih = ih;
	p->iw = iw;
	p->oh = oh;
	p->ow = ow;
	axis_weights(iw, ow, p->xl, p->xh, p->xf);
	axis_weights(ih, oh, p->yl, p->yh, p->yf);
}

static void hpass(const resize_plan *p, const uint8_t *row, uint16_t *h)
{
	for (int x = 0; x < p->ow; x++)
		h[x] = (uint16_t)(row[p->xl[x]] * (256 - p->xf[x]) + row[p->xh[x]] * p->xf[x]);
}

static void resize_apply(const resize_plan *p, const uint8_t *in, uint8_t *out)
{
	/* yl[] and yh[] never decrease, so the two most recent horizontal rows are kept and each
	 * input row is resampled about once. */
	uint16_t bufa[MNISTM_MAX_SIDE], bufb[MNISTM_MAX_SIDE];
	uint16_t *ra = bufa, *rb = bufb; /* horizontal rows of input rows ca, cb */
	int ca = -1, cb = -1, ow = p->ow;
	for (int y = 0; y < p->oh; y++) {
		int l = p->yl[y], h = p->yh[y];
		if (l != ca) {
			if (l == cb) { /* the lower row is the old upper one */
				uint16_t *t = ra;
				ra = rb;
				rb = t;
				ca = cb;
				cb = -1;
			} else {
				hpass(p, in + (size_t)l * (size_t)p->iw, ra);
				ca = l;
			}
		}
		if (h != l && h != cb) {
			hpass(p, in + (size_t)h * (size_t)p->iw, rb);
			cb = h;
		}
		const uint16_t *h0 = ra, *h1 = h == l ? ra : rb;
		uint32_t fy = (uint32_t)p->yf[y], gy = 256 - fy;
		uint8_t *o = out + (size_t)y * (size_t)ow;
#pragma omp simd
		for (int x = 0; x < ow; x++)
			o[x] = (uint8_t)((h0[x] * gy + h1[x] * fy + 32768u) >> 16);
	}
}

void mnistm_resize(const uint8_t *in, int ih, int iw, uint8_t *out, int oh, int ow)
{
	resize_plan p; /* 24 KB */
	plan_init(&p, ih, iw, oh, ow);
	resize_apply(&p, in, out);
}

void mnistm_pad(const uint8_t *in, int ih, int iw, uint8_t *out, int oh, int ow)
{
	int y0 = (oh - ih) / 2, x0 = (ow - iw) / 2;
	memset(out, 0, (size_t)oh * (size_t)ow);
	for (int y = 0; y < ih; y++)
		memcpy(out + (size_t)(y0 + y) * (size_t)ow + (size_t)x0, in + (size_t)y * (size_t)iw, (size_t)iw);
}

int mnistm_check_fit(const mnistm_cfg *cfg)
{
	if (cfg->fit == MNISTM_FIT_PAD && (cfg->out_h < cfg->in_h || cfg->out_w < cfg->in_w))
		return err_set(DN_ERANGE, "cannot pad %dx%d digits into %dx%d images "
		               "(the output must be at least the input's size; --fit resize scales them)", cfg->in_h, cfg->in_w, cfg->out_h, cfg->out_w);
	return 0;
}

/* xoshiro256** step, the same as rng_next() in lib/base/rng.c but inlinable: the noise recipe
 * draws 3 bytes per pixel and a function call per 8 bytes costs as much as the generator.
 * tests/unit/test_mnistm.c checks that both give the same sequence. */
/* Store 64-bit words as little-endian bytes, whatever the host order. */
static inline void store_le(uint8_t *b, const uint64_t *w, int nw)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(b, w, (size_t)nw * 8);
#else
	for (int k = 0; k < nw; k++)
		for (int j = 0; j < 8; j++)
			b[8 * k + j] = (uint8_t)(w[k] >> (8 * j));
#endif
}

#define NOISE_BLOCK 64 /* pixels; 3*64 bytes = 24 whole words */

/* noise: the random bytes of an image are the little-endian bytes of successive rng_next()
 * outputs; pixel p, channel c uses byte 3p + c (drawn for every pixel, digit or not, so each
 * pixel's colour is independent of the others' values). */
static void noise_one(const uint8_t *d, uint8_t *out, int npix, int threshold, rng_t *r)
{
	uint64_t w[3 * NOISE_BLOCK / 8];
	uint8_t rb[3 * NOISE_BLOCK], d3[3 * NOISE_BLOCK];
	uint8_t th = (uint8_t)threshold;
	for (int p0 = 0; p0 < npix; p0 += NOISE_BLOCK) {
		int m = npix - p0 < NOISE_BLOCK ? npix - p0 : NOISE_BLOCK;
		int nb = 3 * m, nw = (nb + 7) / 8;
		for (int k = 0; k < nw; k++)
			w[k] = rng_next(r);
		store_le(rb, w, nw);
		for (int j = 0; j < m; j++)
			d3[3 * j] = d3[3 * j + 1] = d3[3 * j + 2] = d[p0 + j];
		uint8_t *o = out + 3 * (size_t)p0;
		/* `omp simd`: GCC's -O2 cost model would leave these byte loops scalar. */
#pragma omp simd
		for (int q = 0; q < nb; q++)
			o[q] = d3[q] > th ? (uint8_t)(255 - d3[q]) : rb[q];
	}
}

/* Where image k's patch comes from: photo k = below(n), then x0 = below(pw - w + 1),
 * y0 = below(ph - h + 1), in that order, so the top-left corner is uniform over every position
 * where the patch fits. */
typedef struct {
	const img_rgb *ph;
	int x0, y0;
} bsds_draw;

static bsds_draw bsds_pick(const mnistm_cfg *cfg, rng_t *r)
{
	const mnistm_bg *bg = cfg->bg;
	bsds_draw b;
	b.ph = &bg->photo[rng_below(r, (uint32_t)bg->n)];
	b.x0 = (int)rng_below(r, (uint32_t)(b.ph->w - cfg->out_w + 1));
	b.y0 = (int)rng_below(r, (uint32_t)(b.ph->h - cfg->out_h + 1));
	return b;
}

static inline const uint8_t *patch_row(const bsds_draw *b, int y)
{
	return b->ph->rgb + ((size_t)(b->y0 + y) * (size_t)b->ph->w + (size_t)b->x0) * 3;
}

/* The photos are large (about 90 MB for BSDS500) and each patch lands at random, so the blend
 * waits on memory.  While blending image k we prefetch, row by row, the patch of image
 * k + PREFETCH_AHEAD.  Measured on the 2-core EPYC VM: about 2.5 us per 28x28 image with
 * the prefetch, 8-15 us without. */
static inline void prefetch(const char *p)
{
#if defined(__GNUC__) && defined(__x86_64__)
	/* GCC 12 at -O2 deletes __builtin_prefetch here (its mod/ref analysis counts the address
	 * loads as dead; -fno-ipa-modref keeps them); a volatile asm cannot be dropped. */
	__asm__ volatile("prefetcht0 %0" : : "m"(*p));
#else
	__builtin_prefetch(p);
#endif
}

static inline void prefetch_row(const bsds_draw *b, int y, int w)
{
	const char *p = (const char *)patch_row(b, y);
	for (int x = 0; x < 3 * w; x += 64)
		prefetch(p + x);
	prefetch(p + 3 * w - 1);
}

static void bsds_one(const mnistm_cfg *cfg, const bsds_draw *b, const bsds_draw *next,
                     const uint8_t *d, uint8_t *out)
{
	int w = cfg->out_w, h = cfg->out_h;
	int binary = cfg->mask == MNISTM_MASK_BINARY;
	uint8_t th = (uint8_t)cfg->threshold;
	uint8_t d3[3 * MNISTM_MAX_SIDE];
	for (int y = 0; y < h; y++) {
		if (next)
			prefetch_row(next, y, w);
		const uint8_t *pr = patch_row(b, y);
		const uint8_t *dr = d + (size_t)y * (size_t)w;
		uint8_t *orow = out + (size_t)y * (size_t)w * 3;
		for (int x = 0; x < w; x++) {
			uint8_t v = dr[x];
			if (binary)
				v = v > th ? 255 : 0;
			d3[3 * x] = d3[3 * x + 1] = d3[3 * x + 2] = v;
		}
#pragma omp simd
		for (int q = 0; q < 3 * w; q++) /* |patch - digit| */
			orow[q] = pr[q] > d3[q] ? (uint8_t)(pr[q] - d3[q]) : (uint8_t)(d3[q] - pr[q]);
	}
}

#ifndef PREFETCH_AHEAD
#define PREFETCH_AHEAD 4
#endif

static bsds_draw bsds_draw_for(const mnistm_cfg *cfg, int64_t index)
{
	rng_t r;
	rng_seed(&r, cfg->seed, (uint64_t)index);
	return bsds_pick(cfg, &r);
}

void mnistm_generate(const mnistm_cfg *cfg, const uint8_t *in, uint8_t *out, int64_t first,
                     int64_t count, uint8_t *scratch)
{
	size_t in_px = (size_t)cfg->in_h * (size_t)cfg->in_w;
	size_t out_px = (size_t)cfg->out_h * (size_t)cfg->out_w;
	int resize = cfg->in_h != cfg->out_h || cfg->in_w != cfg->out_w;
	int bsds = cfg->recipe == MNISTM_BSDS;
	int64_t base = cfg->offset + first; /* dataset index of in[0] */
	int pad = resize && cfg->fit == MNISTM_FIT_PAD;
	resize_plan plan;
	if (resize && !pad)
		plan_init(&plan, cfg->in_h, cfg->in_w, cfg->out_h, cfg->out_w);
#pragma omp parallel
	{
		/* Each thread takes one contiguous run [lo, hi) of the chunk.  Image k's random
		 * numbers come from rng_seed(seed, base + k) alone, so the split cannot change them. */
		int nt = omp_get_num_threads(), t = omp_get_thread_num();
		int64_t lo = count * t / nt, hi = count * (t + 1) / nt;
		bsds_draw ring[PREFETCH_AHEAD]; /* draws of images k .. k+AHEAD-1, slot k % AHEAD */
		if (bsds)
			for (int64_t k = lo; k < hi && k < lo + PREFETCH_AHEAD; k++)
				ring[k % PREFETCH_AHEAD] = bsds_draw_for(cfg, base + k);
		for (int64_t k = lo; k < hi; k++) {
			const uint8_t *d = in + (size_t)k * in_px;
			if (resize) {
				uint8_t *s = scratch + (size_t)k * out_px;
				if (pad)
					mnistm_pad(d, cfg->in_h, cfg->in_w, s, cfg->out_h, cfg->out_w);
				else
					resize_apply(&plan, d, s);
				d = s;
			}
			uint8_t *o = out + (size_t)k * out_px * 3;
			if (!bsds) {
				rng_t r;
				rng_seed(&r, cfg->seed, (uint64_t)(base + k));
				noise_one(d, o, (int)out_px, cfg->threshold, &r);
				continue;
			}
			bsds_draw b = ring[k % PREFETCH_AHEAD], *next = NULL;
			if (k + PREFETCH_AHEAD < hi) {
				next = &ring[k % PREFETCH_AHEAD];
				*next = bsds_draw_for(cfg, base + k + PREFETCH_AHEAD);
			}
			bsds_one(cfg, &b, next, d, o);
		}
	}
}

/* ---- the stream -------------------------------------------------------------------------- */

int mnistm_stream(const mnistm_cfg *cfg, const npy_header *hd, mnistm_io *io)
{
	if (mnistm_check_fit(cfg) < 0)
		return DN_ERANGE;
	int64_t n = hd->shape[0];
	size_t in_px = (size_t)cfg->in_h * (size_t)cfg->in_w;
	size_t out_px = (size_t)cfg->out_h * (size_t)cfg->out_w;
	int resize = cfg->in_h != cfg->out_h || cfg->in_w != cfg->out_w;
	int64_t chunk = writer_chunk(in_px + 3 * out_px + (resize ? out_px : 0), n);
	io->write_failed = 0;

	uint8_t *ibuf = malloc((size_t)chunk * in_px);
	uint8_t *obufs[2] = {malloc((size_t)chunk * out_px * 3), malloc((size_t)chunk * out_px * 3)};
	uint8_t *sbuf = resize ? malloc((size_t)chunk * out_px) : NULL;
	int rc = 0, writing = 0;
	writer wr;
	if (!ibuf || !obufs[0] || !obufs[1] || (resize && !sbuf)) {
		rc = err_set(DN_ENOMEM, "out of memory for a chunk of %lld images", (long long)chunk);
		goto done;
	}
	npy_header oh;
	int64_t oshape[4] = {n, cfg->out_h, cfg->out_w, 3};
	if ((rc = npy_header_init(&oh, NPY_U8, 4, oshape)) < 0)
		goto done;
	if ((rc = writer_start(&wr, io->out)) < 0)
		goto done;
	writing = 1;
	if (npy_write_header(io->out, &oh) < 0)
		goto write_failed;
	for (int64_t done = 0, i = 0; done < n; i++) {
		int64_t m = n - done < chunk ? n - done : chunk;
		uint8_t *obuf = obufs[i & 1]; /* the writer may still be writing the other one */
		if ((rc = npy_read_data(io->in, io->in_name, hd, ibuf, (size_t)m * in_px)) < 0)
			goto done;
		mnistm_generate(cfg, ibuf, obuf, done, m, sbuf);
		if (io->sheet && done < io->sheet_count) {
			int64_t k = io->sheet_count - done < m ? io->sheet_count - done : m;
			memcpy(io->sheet + (size_t)done * out_px * 3, obuf, (size_t)k * out_px * 3);
		}
		if (writer_wait(&wr) < 0)
			goto write_failed;
		writer_submit(&wr, obuf, (size_t)m * out_px * 3);
		done += m;
		if (io->progress)
			io->progress(io->progress_ctx, done);
	}
	if (writer_wait(&wr) < 0)
		goto write_failed;

	/* Labels: checked and copied through in chunks (the writer is idle from here on). */
	npy_header lh;
	if ((rc = dataset_read_labels_header(io->in, io->in_name, n, &lh)) < 0)
		goto done;
	if (npy_write_header(io->out, &lh) < 0)
		goto write_failed;
	size_t lchunk = (size_t)chunk * in_px; /* reuse ibuf */
	for (int64_t done = 0; done < n;) {
		size_t m = (size_t)(n - done) < lchunk ? (size_t)(n - done) : lchunk;
		if ((rc = dataset_read_labels(io->in, io->in_name, &lh, ibuf, (int64_t)m, done)) < 0)
			goto done;
		if (npy_write_data(io->out, ibuf, m, NPY_U8) < 0)
			goto write_failed;
		done += (int64_t)m;
	}
	rc = dataset_expect_end(io->in, io->in_name);
	goto done;
write_failed:
	/* the output's fault, not the input's: the caller says so with errno */
	io->write_failed = 1;
	rc = writer_fail(&wr);
done:
	if (writing)
		writer_stop(&wr); /* keeps errno */
	free(ibuf);
	free(obufs[0]);
	free(obufs[1]);
	free(sbuf);
	return rc;
}
