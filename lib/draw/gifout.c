/* gifout.c - palette by median cut, nearest-colour mapping, and the GIF stream (giflib). */
#include "draw/gifout.h"

#include <errno.h>
#include <gif_lib.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

#define NBINS (1 << (3 * GIF_HIST_BITS))

static inline int bin_of(const uint8_t *p)
{
	const int s = 8 - GIF_HIST_BITS;
	return ((p[0] >> s) << (2 * GIF_HIST_BITS)) | ((p[1] >> s) << GIF_HIST_BITS) | (p[2] >> s);
}

int gif_hist_init(gif_hist *h)
{
	h->count = calloc(NBINS, sizeof *h->count);
	h->sum = calloc((size_t)NBINS * 3, sizeof *h->sum);
	if (!h->count || !h->sum) {
		gif_hist_free(h);
		return err_set(DN_ENOMEM, "GIF histogram: out of memory");
	}
	return 0;
}

void gif_hist_free(gif_hist *h)
{
	free(h->count);
	free(h->sum);
	h->count = h->sum = NULL;
}

void gif_hist_add(gif_hist *h, const uint8_t *rgb, size_t npix)
{
	for (size_t i = 0; i < npix; i++, rgb += 3) {
		int b = bin_of(rgb);
		h->count[b]++;
		h->sum[3 * b] += rgb[0];
		h->sum[3 * b + 1] += rgb[1];
		h->sum[3 * b + 2] += rgb[2];
	}
}

/* ---- median cut ------------------------------------------------------------------------- */

typedef struct {
	uint8_t c[3];   /* mean colour of the bin */
	uint64_t n;     /* pixels */
	int bin;        /* for a deterministic tie order */
} cbin;

typedef struct {
	int lo, hi;     /* bins [lo,hi) of the sorted array */
	double sse;     /* sum over pixels of the squared distance to the box mean */
	int axis;       /* channel with the largest variance */
} box;

static int sort_axis;
static int cmp_bin(const void *a, const void *b)
{
	const cbin *x = a, *y = b;
	if (x->c[sort_axis] != y->c[sort_axis])
		return x->c[sort_axis] < y->c[sort_axis] ? -1 : 1;
	return x->bin < y->bin ? -1 : x->bin > y->bin;
}

static void box_stats(box *bx, const cbin *bins, double mean[3])
{
	double n = 0, s[3] = {0, 0, 0}, s2[3] = {0, 0, 0};
	for (int i = bx->lo; i < bx->hi; i++) {
		double w = (double)bins[i].n;
		n += w;
		for (int k = 0; k < 3; k++) {
			s[k] += w * bins[i].c[k];
			s2[k] += w * bins[i].c[k] * bins[i].c[k];
		}
	}
	bx->sse = 0;
	bx->axis = 0;
	double best = -1;
	for (int k = 0; k < 3; k++) {
		mean[k] = n > 0 ? s[k] / n : 0;
		double var = n > 0 ? s2[k] - s[k] * s[k] / n : 0;
		bx->sse += var;
		if (var > best) {
			best = var;
			bx->axis = k;
		}
	}
	if (bx->hi - bx->lo < 2)
		bx->sse = 0; /* a single bin cannot be split */
}

int gif_palette_build(gif_palette *p, const gif_hist *h, const uint8_t (*key)[3], int nkey)
{
	memset(p, 0, sizeof *p);
	if (nkey < 0 || nkey > GIF_MAX_COLORS)
		return err_set(DN_EARG, "GIF palette: %d key colours (at most %d)", nkey, GIF_MAX_COLORS);
	for (int i = 0; i < nkey; i++)
		memcpy(p->rgb[i], key[i], 3);
	p->n = nkey;
	cbin *bins = malloc(NBINS * sizeof *bins);
	box *boxes = malloc(256 * sizeof *boxes);
	if (!bins || !boxes) {
		free(bins);
		free(boxes);
		return err_set(DN_ENOMEM, "GIF palette: out of memory");
	}
	int nb = 0;
	for (int b = 0; b < NBINS; b++) {
		uint64_t n = h->count[b];
		if (!n)
			continue;
		cbin cb = {{0, 0, 0}, n, b};
		for (int k = 0; k < 3; k++)
			cb.c[k] = (uint8_t)((h->sum[3 * b + k] + n / 2) / n);
		/* Pixels at (or next to) a key colour are served by that key colour. */
		int near_key = 0;
		for (int i = 0; i < nkey && !near_key; i++) {
			int d = 0;
			for (int k = 0; k < 3; k++)
				d += abs((int)cb.c[k] - (int)key[i][k]);
			near_key = d <= 3;
		}
		if (!near_key)
			bins[nb++] = cb;
	}
	int free_slots = GIF_MAX_COLORS - nkey;
	int nbox = 0;
	if (nb > 0 && free_slots > 0) {
		double mean[3];
		boxes[0] = (box){0, nb, 0, 0};
		box_stats(&boxes[0], bins, mean);
		nbox = 1;
		while (nbox < free_slots) {
			int best = -1;
			for (int i = 0; i < nbox; i++)
				if (boxes[i].sse > 0 && (best < 0 || boxes[i].sse > boxes[best].sse))
					best = i;
			if (best < 0)
				break;
			box *bx = &boxes[best];
			sort_axis = bx->axis;
			qsort(bins + bx->lo, (size_t)(bx->hi - bx->lo), sizeof *bins, cmp_bin);
			/* Split at the weighted median, keeping both halves non-empty. */
			uint64_t total = 0, acc = 0;
			for (int i = bx->lo; i < bx->hi; i++)
				total += bins[i].n;
			int cut = bx->lo + 1;
			for (int i = bx->lo; i < bx->hi - 1; i++) {
				acc += bins[i].n;
				cut = i + 1;
				if (acc * 2 >= total)
					break;
			}
			box nbx = {cut, bx->hi, 0, 0};
			bx->hi = cut;
			box_stats(bx, bins, mean);
			box_stats(&nbx, bins, mean);
			boxes[nbox++] = nbx;
		}
		for (int i = 0; i < nbox; i++) {
			box_stats(&boxes[i], bins, mean);
			for (int k = 0; k < 3; k++)
				p->rgb[p->n][k] = (uint8_t)(mean[k] + 0.5);
			p->n++;
		}
	}
	free(bins);
	free(boxes);
	if (p->n == 0) {
		p->n = 1; /* an empty histogram and no keys: one black entry */
	}
	return 0;
}

/* ---- writer ----------------------------------------------------------------------------- */

#define CACHE_BITS 6

struct gifout {
	GifFileType *gif;
	FILE *f;
	int w, h;
	gif_palette pal;
	int16_t *cache;   /* (2^18,) palette index per 6-6-6-bit colour cell, -1 = not yet */
	uint8_t *cur, *prev;
	uint8_t *line;    /* (w,) one row as written */
	int nframes;
	int werr;         /* errno of a failed write */
};

static int write_fn(GifFileType *gif, const GifByteType *buf, int len)
{
	gifout *g = gif->UserData;
	size_t n = fwrite(buf, 1, (size_t)len, g->f);
	if (n != (size_t)len && !g->werr)
		g->werr = errno ? errno : EIO;
	return (int)n;
}

static int gif_fail(gifout *g, int code)
{
	if (g->werr)
		return err_set(DN_EIO, "GIF write: %s", strerror(g->werr));
	return err_set(DN_EIO, "GIF write: %s", GifErrorString(code));
}

static int nearest(const gif_palette *p, int r, int gr, int b)
{
	int best = 0;
	long bd = -1;
	for (int i = 0; i < p->n; i++) {
		long dr = r - p->rgb[i][0], dg = gr - p->rgb[i][1], db = b - p->rgb[i][2];
		/* Weighted towards green, to which the eye is most sensitive. */
		long d = 2 * dr * dr + 4 * dg * dg + 3 * db * db;
		if (bd < 0 || d < bd) {
			bd = d;
			best = i;
		}
	}
	return best;
}

static inline int cell_of(const uint8_t *c)
{
	const int s = 8 - CACHE_BITS;
	return ((c[0] >> s) << (2 * CACHE_BITS)) | ((c[1] >> s) << CACHE_BITS) | (c[2] >> s);
}

int gifout_open(gifout **out, FILE *f, int w, int h, const gif_palette *p, int loop)
{
	*out = NULL;
	if (w <= 0 || h <= 0 || w > 65535 || h > 65535)
		return err_set(DN_EARG, "GIF: size %dx%d out of range", w, h);
	if (p->n > GIF_MAX_COLORS)
		return err_set(DN_EARG, "GIF: %d palette colours (at most %d)", p->n, GIF_MAX_COLORS);
	if (loop < 0 || loop > 65535)
		return err_set(DN_EARG, "GIF: loop count %d out of range", loop);
	gifout *g = calloc(1, sizeof *g);
	if (!g)
		return err_set(DN_ENOMEM, "GIF: out of memory");
	g->f = f;
	g->w = w;
	g->h = h;
	g->pal = *p;
	size_t npix = (size_t)w * (size_t)h;
	g->cache = malloc(sizeof(int16_t) << (3 * CACHE_BITS));
	g->cur = malloc(npix);
	g->prev = malloc(npix);
	g->line = malloc((size_t)w);
	if (!g->cache || !g->cur || !g->prev || !g->line) {
		free(g->cache);
		free(g->cur);
		free(g->prev);
		free(g->line);
		free(g);
		return err_set(DN_ENOMEM, "GIF: out of memory");
	}
	memset(g->cache, 0xff, sizeof(int16_t) << (3 * CACHE_BITS));
	/* A palette colour owns its cell, so it maps to itself exactly; key colours come first
	 * in the palette and so win a shared cell. */
	for (int i = 0; i < p->n; i++) {
		int c = cell_of(p->rgb[i]);
		if (g->cache[c] < 0)
			g->cache[c] = (int16_t)i;
	}
	int err = 0;
	g->gif = EGifOpen(g, write_fn, &err);
	if (!g->gif) {
		free(g->cache);
		free(g->cur);
		free(g->prev);
		free(g->line);
		free(g);
		return err_set(DN_EIO, "GIF: %s", GifErrorString(err));
	}
	GifColorType colors[256];
	memset(colors, 0, sizeof colors);
	for (int i = 0; i < p->n; i++) {
		colors[i].Red = p->rgb[i][0];
		colors[i].Green = p->rgb[i][1];
		colors[i].Blue = p->rgb[i][2];
	}
	ColorMapObject *cmap = GifMakeMapObject(256, colors);
	int rc = 0;
	if (!cmap) {
		rc = err_set(DN_ENOMEM, "GIF: out of memory");
		goto fail;
	}
	EGifSetGifVersion(g->gif, true);
	int grc = EGifPutScreenDesc(g->gif, w, h, 8, 0, cmap);
	GifFreeMapObject(cmap);
	/* NETSCAPE2.0 application extension: sub-block 1 holds the loop count (0 = forever). */
	unsigned char loopblk[3] = {1, (unsigned char)(loop & 0xff), (unsigned char)(loop >> 8)};
	if (grc != GIF_OK || EGifPutExtensionLeader(g->gif, APPLICATION_EXT_FUNC_CODE) != GIF_OK ||
	    EGifPutExtensionBlock(g->gif, 11, "NETSCAPE2.0") != GIF_OK ||
	    EGifPutExtensionBlock(g->gif, 3, loopblk) != GIF_OK ||
	    EGifPutExtensionTrailer(g->gif) != GIF_OK) {
		rc = gif_fail(g, g->gif->Error);
		goto fail;
	}
	*out = g;
	return 0;
fail:;
	char msg[512];
	snprintf(msg, sizeof msg, "%s", err_msg());
	gifout_close(g); /* frees g; its own error is secondary */
	return err_set(rc, "%s", msg);
}

int gifout_frame(gifout *g, const uint8_t *rgb, int delay_cs)
{
	if (delay_cs < 0 || delay_cs > 65535)
		return err_set(DN_EARG, "GIF: delay %d out of range", delay_cs);
	size_t npix = (size_t)g->w * (size_t)g->h;
	const uint8_t *last = NULL;
	int lastidx = 0;
	for (size_t i = 0; i < npix; i++, rgb += 3) {
		if (last && rgb[0] == last[0] && rgb[1] == last[1] && rgb[2] == last[2]) {
			g->cur[i] = (uint8_t)lastidx;
			continue;
		}
		int c = cell_of(rgb);
		int idx = g->cache[c];
		if (idx < 0) {
			/* Nearest to the centre of the cell, so the result never depends on which pixel
			 * of the cell came first. */
			const int s = 8 - CACHE_BITS;
			int r = ((rgb[0] >> s) << s) | (1 << (s - 1));
			int gg = ((rgb[1] >> s) << s) | (1 << (s - 1));
			int b = ((rgb[2] >> s) << s) | (1 << (s - 1));
			idx = nearest(&g->pal, r, gg, b);
			g->cache[c] = (int16_t)idx;
		}
		g->cur[i] = (uint8_t)idx;
		last = rgb;
		lastidx = idx;
	}
	/* Store only the rectangle that differs from the previous frame (disposal "leave"), and
	 * inside it mark unchanged pixels transparent: long runs of one index compress well. */
	int x0 = 0, y0 = 0, x1 = g->w, y1 = g->h;
	if (g->nframes > 0) {
		x0 = g->w;
		y0 = g->h;
		x1 = -1;
		y1 = -1;
		for (int y = 0; y < g->h; y++) {
			const uint8_t *a = g->cur + (size_t)y * (size_t)g->w;
			const uint8_t *b = g->prev + (size_t)y * (size_t)g->w;
			if (memcmp(a, b, (size_t)g->w) == 0)
				continue;
			int l = 0, r = g->w - 1;
			while (a[l] == b[l])
				l++;
			while (a[r] == b[r])
				r--;
			if (l < x0)
				x0 = l;
			if (r > x1)
				x1 = r;
			if (y < y0)
				y0 = y;
			y1 = y;
		}
		if (x1 < 0) { /* identical frame: one unchanged pixel carries the delay */
			x0 = y0 = 0;
			x1 = y1 = 0;
		}
		x1++;
		y1++;
	}
	int transp = g->nframes > 0;
	unsigned char gcb[4] = {(unsigned char)(1 << 2 | transp), (unsigned char)(delay_cs & 0xff),
	                        (unsigned char)(delay_cs >> 8), GIF_TRANSPARENT};
	if (EGifPutExtension(g->gif, GRAPHICS_EXT_FUNC_CODE, 4, gcb) != GIF_OK)
		return gif_fail(g, g->gif->Error);
	if (EGifPutImageDesc(g->gif, x0, y0, x1 - x0, y1 - y0, false, NULL) != GIF_OK)
		return gif_fail(g, g->gif->Error);
	for (int y = y0; y < y1; y++) {
		const uint8_t *a = g->cur + (size_t)y * (size_t)g->w + (size_t)x0;
		const uint8_t *b = g->prev + (size_t)y * (size_t)g->w + (size_t)x0;
		for (int x = 0; x < x1 - x0; x++)
			g->line[x] = transp && a[x] == b[x] ? GIF_TRANSPARENT : a[x];
		if (EGifPutLine(g->gif, g->line, x1 - x0) != GIF_OK)
			return gif_fail(g, g->gif->Error);
	}
	uint8_t *t = g->prev;
	g->prev = g->cur;
	g->cur = t;
	g->nframes++;
	return 0;
}

int gifout_close(gifout *g)
{
	if (!g)
		return 0;
	int err = 0, rc = 0;
	if (EGifCloseFile(g->gif, &err) != GIF_OK)
		rc = gif_fail(g, err);
	else if (g->werr)
		rc = gif_fail(g, 0);
	free(g->cache);
	free(g->cur);
	free(g->prev);
	free(g->line);
	free(g);
	return rc;
}
