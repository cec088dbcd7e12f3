/* frames.h - the alignment frames of plot-frames: key frames (one tsne layout each) and the
 * tweens between them, drawn with scatter.h on one layout so nothing jumps, written as PNG
 * files, an animated GIF, or a contact sheet of the key frames.
 *
 * Output t counts key frames and tweens: key frame i is t = i (tween + 1), and the tween
 * frames between key frames i and i+1 follow it.  The same frames and seed give the same
 * bytes, whatever the number of threads. */
#ifndef DN_FRAMES_H
#define DN_FRAMES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "draw/raster.h"
#include "draw/scatter.h"

typedef struct {
	float *pts;        /* (n,2) */
	uint8_t *labels;   /* (n,) digit classes 0..9 */
	uint8_t *domains;  /* (n,) 0 source, 1 target */
	char *title;
} plot_key_frame;

typedef struct {
	const plot_scatter *layout;   /* axes and look of every frame (plot_scatter_prepare) */
	const plot_key_frame *key;
	int nkey;
	int tween;                    /* frames between two key frames */
	int total;                    /* all frames: nkey + (nkey - 1) tween */
	int64_t n;                    /* points per frame */
	const int64_t *order;         /* drawing order, (n,) (plot_draw_order) */
} plot_frames;

/* Fill m (which points at, and does not copy, layout, key and order).  DN_EARG if the frames
 * would be more than INT32_MAX. */
int plot_frames_init(plot_frames *m, const plot_scatter *layout, const plot_key_frame *key,
                     int nkey, int tween, int64_t n, const int64_t *order);
/* Draw output frame t into c (layout->w x layout->h); scratch (n,2) holds a tween's points.
 * *is_key tells whether t is a key frame. */
void plot_frames_draw(const plot_frames *m, int t, plot_canvas *c, float *scratch, int *is_key);

/* PNG files: every frame is drawn and PNG-encoded in memory by all threads (encoding is most
 * of the time per frame), a batch at a time, then handed to put(ctx, t, png, len) in the
 * order t = 0, 1, ... from the calling thread.  A negative return from put stops the work
 * and is returned. */
typedef int (*plot_frames_put_fn)(void *ctx, int t, const void *png, size_t len);
int plot_frames_png(const plot_frames *m, plot_frames_put_fn put, void *ctx);

/* The animated GIF on f (opened and committed by the caller).  Its palette holds the key
 * colours exactly and the rest by median cut over the key frames.  Delays in hundredths of
 * a second; progress(ctx, frames done) after each frame if not NULL. */
typedef struct {
	int delay;         /* a tween frame, or every frame without tweens */
	int key_delay;     /* a key frame */
	int last_delay;    /* the last frame, before the loop starts again */
	int loop;          /* 0 loops forever, N plays N+1 times */
} plot_frames_gif_opts;
int plot_frames_gif(const plot_frames *m, FILE *f, const plot_frames_gif_opts *g,
                    void (*progress)(void *ctx, int done), void *ctx);

/* The contact sheet of the key frames: thumbnails tw x th (the same look, no legend or tick
 * labels) in `cols` columns (<= 0: a sheet about 1.3 times as wide as tall) under a header
 * band with the title (if not NULL) and the legend in one row.  *out is a new canvas (free
 * with plot_canvas_free). */
int plot_frames_sheet(const plot_frames *m, int tw, int th, int cols, const char *title,
                      plot_canvas *out);

#endif
