/* frames.c - key frames and tweens as PNG files, an animated GIF, a contact sheet
 * (see frames.h). */
#include "draw/frames.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "draw/gifout.h"
#include "draw/pngio.h"
#include "draw/sheet.h"

#define PAD PLOT_GAP

int plot_frames_init(plot_frames *m, const plot_scatter *layout, const plot_key_frame *key,
                     int nkey, int tween, int64_t n, const int64_t *order)
{
	memset(m, 0, sizeof *m);
	if (nkey < 1 || tween < 0)
		return err_set(DN_EARG, "no frames");
	if ((int64_t)nkey - 1 > (INT32_MAX - 1) / ((int64_t)tween + 1))
		return err_set(DN_EARG, "too many frames with --tween %d", tween);
	m->layout = layout;
	m->key = key;
	m->nkey = nkey;
	m->tween = tween;
	m->total = nkey + (nkey - 1) * tween;
	m->n = n;
	m->order = order;
	return 0;
}

void plot_frames_draw(const plot_frames *m, int t, plot_canvas *c, float *scratch, int *is_key)
{
	int i = t / (m->tween + 1), j = t % (m->tween + 1);
	const plot_key_frame *k = &m->key[i];
	const float *pts = k->pts;
	const char *title = k->title;
	*is_key = j == 0;
	if (j > 0) {
		/* a tween takes the title of the nearer key frame */
		double u = (double)j / (m->tween + 1);
		title = u < 0.5 ? k->title : k[1].title;
		plot_tween(scratch, k->pts, k[1].pts, m->n, u);
		pts = scratch;
	}
	plot_scatter_draw(m->layout, c, pts, k->labels, k->domains, m->order, m->n, title);
}

/* ---- PNG files ----------------------------------------------------------------------------- */

/* What plot_frames_png holds: a canvas and a tween buffer per thread, and the encoded PNGs
 * of one batch with their errors. */
typedef struct {
	int nt, batch;
	plot_canvas *cv;   /* (nt,) */
	float **tw;        /* (nt,) each (n,2) */
	char **buf;        /* (batch,) PNG bytes, from open_memstream */
	size_t *len;       /* (batch,) */
	int *rc;           /* (batch,) 0 or the error of that frame */
	char (*msg)[512];  /* (batch,) its message */
} png_work;

static void png_work_free(png_work *w)
{
	for (int k = 0; w->cv && k < w->nt; k++)
		plot_canvas_free(&w->cv[k]);
	for (int k = 0; w->tw && k < w->nt; k++)
		free(w->tw[k]);
	for (int b = 0; w->buf && b < w->batch; b++)
		free(w->buf[b]);
	free(w->cv);
	free(w->tw);
	free(w->buf);
	free(w->len);
	free(w->rc);
	free(w->msg);
}

static int png_work_init(png_work *w, const plot_frames *m)
{
	memset(w, 0, sizeof *w);
	w->nt = omp_get_max_threads();
	w->batch = 2 * w->nt;
	w->cv = calloc((size_t)w->nt, sizeof *w->cv);
	w->tw = calloc((size_t)w->nt, sizeof *w->tw);
	w->buf = calloc((size_t)w->batch, sizeof *w->buf);
	w->len = calloc((size_t)w->batch, sizeof *w->len);
	w->rc = calloc((size_t)w->batch, sizeof *w->rc);
	w->msg = calloc((size_t)w->batch, sizeof *w->msg);
	if (!w->cv || !w->tw || !w->buf || !w->len || !w->rc || !w->msg)
		return err_set(DN_ENOMEM, "out of memory");
	for (int k = 0; k < w->nt; k++) {
		int rc = plot_canvas_init(&w->cv[k], m->layout->w, m->layout->h);
		if (rc < 0)
			return rc;
		w->tw[k] = malloc((size_t)m->n * 2 * sizeof(float));
		if (!w->tw[k])
			return err_set(DN_ENOMEM, "out of memory");
	}
	return 0;
}

int plot_frames_png(const plot_frames *m, plot_frames_put_fn put, void *ctx)
{
	png_work w;
	int rc = png_work_init(&w, m);
	for (int t0 = 0; rc == 0 && t0 < m->total; t0 += w.batch) {
		int t1 = t0 + w.batch < m->total ? t0 + w.batch : m->total;
#pragma omp parallel for schedule(dynamic, 1)
		for (int t = t0; t < t1; t++) {
			int k = omp_get_thread_num(), b = t - t0, key;
			plot_frames_draw(m, t, &w.cv[k], w.tw[k], &key);
			FILE *mf = open_memstream(&w.buf[b], &w.len[b]);
			w.rc[b] = !mf ? DN_ENOMEM : png_write(mf, w.cv[k].w, w.cv[k].h, 3, w.cv[k].px);
			if (w.rc[b] < 0)
				snprintf(w.msg[b], sizeof w.msg[b], "%s", mf ? err_msg() : "out of memory");
			if (mf && fclose(mf) != 0 && w.rc[b] == 0) {
				w.rc[b] = DN_ENOMEM;
				snprintf(w.msg[b], sizeof w.msg[b], "out of memory");
			}
		}
		for (int t = t0; rc == 0 && t < t1; t++) {
			int b = t - t0;
			if (w.rc[b] < 0)
				rc = err_set(w.rc[b], "frame %d: %s", t, w.msg[b]);
			else
				rc = put(ctx, t, w.buf[b], w.len[b]);
		}
		for (int b = 0; b < t1 - t0; b++) {
			free(w.buf[b]);
			w.buf[b] = NULL;
		}
	}
	png_work_free(&w);
	return rc;
}

/* ---- GIF ----------------------------------------------------------------------------------- */

/* The palette: the colours of the look exactly, the rest by median cut over the key frames
 * (the tweens hold the same colours). */
static int gif_palette_of(const plot_frames *m, plot_canvas *c, gif_palette *pal)
{
	gif_hist hist;
	int rc = gif_hist_init(&hist);
	if (rc < 0)
		return rc;
	for (int i = 0; i < m->nkey; i++) {
		const plot_key_frame *k = &m->key[i];
		plot_scatter_draw(m->layout, c, k->pts, k->labels, k->domains, m->order, m->n, k->title);
		gif_hist_add(&hist, c->px, (size_t)c->w * (size_t)c->h);
	}
	plot_rgb keys[32];
	uint8_t key3[32][3];
	int nk = plot_key_colors(&m->layout->o, keys, 32);
	for (int i = 0; i < nk; i++) {
		key3[i][0] = keys[i].r;
		key3[i][1] = keys[i].g;
		key3[i][2] = keys[i].b;
	}
	rc = gif_palette_build(pal, &hist, (const uint8_t(*)[3])key3, nk);
	gif_hist_free(&hist);
	return rc;
}

int plot_frames_gif(const plot_frames *m, FILE *f, const plot_frames_gif_opts *g,
                    void (*progress)(void *ctx, int done), void *ctx)
{
	plot_canvas c;
	float *tw = malloc((size_t)m->n * 2 * sizeof(float));
	int rc = plot_canvas_init(&c, m->layout->w, m->layout->h);
	if (rc < 0) {
		free(tw);
		return rc;
	}
	gif_palette pal;
	gifout *out = NULL;
	if (!tw)
		rc = err_set(DN_ENOMEM, "out of memory");
	if (rc == 0)
		rc = gif_palette_of(m, &c, &pal);
	if (rc == 0)
		rc = gifout_open(&out, f, c.w, c.h, &pal, g->loop);
	for (int t = 0; rc == 0 && t < m->total; t++) {
		int key;
		plot_frames_draw(m, t, &c, tw, &key);
		int delay = t == m->total - 1 ? g->last_delay : key ? g->key_delay : g->delay;
		rc = gifout_frame(out, c.px, delay);
		if (rc == 0 && progress)
			progress(ctx, t + 1);
	}
	if (out) {
		/* gifout_close frees the writer also after an error; keep the first message */
		char msg[512];
		snprintf(msg, sizeof msg, "%s", err_msg());
		int rc2 = gifout_close(out);
		if (rc < 0)
			err_set(rc, "%s", msg);
		else
			rc = rc2;
	}
	plot_canvas_free(&c);
	free(tw);
	return rc;
}

/* ---- contact sheet ------------------------------------------------------------------------- */

int plot_frames_sheet(const plot_frames *m, int tw, int th, int cols, const char *title,
                      plot_canvas *out)
{
	memset(out, 0, sizeof *out);
	const plot_scatter *big = m->layout;
	/* A sheet a little wider than tall, as a page or a screen. */
	if (cols <= 0)
		cols = (int)ceil(sqrt((double)m->nkey * th / tw * 1.3));
	/* the band above the grid: a margin, the title, the legend row */
	int header = PAD + (title ? font_title.h + PAD : 0) + font_body.h + 4;
	plot_sheet sh;
	int rc = plot_sheet_layout(&sh, m->nkey, cols, tw, th, PAD, header);
	if (rc < 0)
		return rc;
	/* Thumbnails: the frames' look without legend and tick labels, markers scaled with the
	 * height, the axes fitted to the key frames. */
	plot_scatter_opts so = big->o;
	so.legend = 0;
	so.ticks = 0;
	so.radius = big->o.radius > 0 ? big->o.radius * th / big->h : 0;
	double lim[4];
	plot_limits_init(lim);
	for (int i = 0; i < m->nkey; i++)
		if ((rc = plot_limits_add(lim, m->key[i].pts, m->n, "frame")) < 0)
			return rc;
	plot_scatter ps;
	if ((rc = plot_scatter_prepare(&ps, &so, tw, th, lim)) < 0)
		return rc;
	plot_canvas thumb;
	if ((rc = plot_canvas_init(out, sh.w, sh.h)) < 0 ||
	    (rc = plot_canvas_init(&thumb, tw, th)) < 0) {
		plot_canvas_free(out);
		return rc;
	}
	plot_clear(out, plot_white);
	int y = PAD;
	if (title && *title) {
		plot_title(out, &font_title, 1, y, PAD, sh.w - PAD, title);
		y += font_title.h + PAD;
	}
	plot_scatter_legend_row(out, &big->o, y, sh.w);
	for (int i = 0; i < m->nkey; i++) {
		const plot_key_frame *k = &m->key[i];
		plot_scatter_draw(&ps, &thumb, k->pts, k->labels, k->domains, m->order, m->n, k->title);
		int x, yy;
		plot_sheet_cell(&sh, i, &x, &yy);
		plot_blit(out, &thumb, x, yy);
	}
	plot_canvas_free(&thumb);
	return 0;
}
