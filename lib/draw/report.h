/* report.h - the interactive report page (dann-report): one self-contained HTML file with the
 * t-SNE frames of every snapshot, the plotted digits' images and predictions, the training
 * curves, the results table and the commands that made them.
 *
 * The page is a template (lib/draw/report_page.html, compiled in) with the data embedded as one JSON
 * object and the digits as one PNG sprite sheet in a data: URI, so it opens from file:// and
 * needs no network.  Gather the inputs with the report_read_* / report_add_* functions (each
 * checks its input against what was read before: the same points in the same order), then
 * report_write.  Functions return 0 or a negative DN_E* code with err_msg() set. */
#ifndef DN_REPORT_H
#define DN_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "stream/metrics.h"
#include "draw/curves.h"
#include "draw/scatter.h"

#define REPORT_MAX_LOGS 4
#define REPORT_MAX_FRAMES 1000
#define REPORT_MAX_IMAGE 64        /* largest image side the sprite sheet takes */
#define REPORT_MAX_POINTS 100000   /* points per frame */
#define REPORT_MAX_TEXT (1 << 20)  /* a results table or a commands file */
#define REPORT_MAX_ROWS 2000       /* rows of a metrics log drawn (a longer log is thinned) */

typedef struct {
	char **cell;   /* (rows, cols) strings, row 0 the header */
	int rows, cols;
} report_table;

typedef struct {
	/* the layout frames (tsne's layout stream), one per snapshot */
	int nframes;
	int64_t n;                  /* points per frame */
	float *pts;                 /* (nframes, n, 2) */
	uint8_t *labels, *domains;  /* (n,) of the first frame; every frame has the same */
	/* the predictions of the plotted points, one (n,) array per frame (dann-embed --predictions) */
	int npreds;
	uint8_t *preds;             /* (npreds, n) */
	/* the images of the plotted points (dann-embed --images), RGB */
	int ih, iw;
	uint8_t *images;            /* (n, ih, iw, 3) or NULL */
	/* the snapshots' table (dann-train's snapshots.tsv): one row per frame */
	int nsnaps;
	double *snap_step, *snap_lambda, *snap_tacc;   /* (nsnaps,) NaN where not measured */
	/* metrics logs, the last one the model of the frames */
	int nlogs;
	metrics_log logs[REPORT_MAX_LOGS];
	char log_name[REPORT_MAX_LOGS][64];
	/* the proxy A-distance table (as plot-frames --pad), read once the logs are named */
	int has_pad;
	plot_pad_table pad;
	report_table results;       /* rows = 0 when none */
	char *commands;             /* NULL when none */
	char *title;                /* NULL: a default */
	char *source_name, *target_name;
} report;

void report_init(report *r);
void report_free(report *r);

/* The next layout frame of a stream (layout_frame_read's checks); every frame after the first
 * must have the same points: count, labels and domains (DN_EFORMAT naming the first that
 * differs).  Returns DN_EEOF at a clean end of the stream. */
int report_add_frame(report *r, FILE *f, const char *name);
/* One frame's predictions: predicted labels (n,) uint8, then true labels (n,) uint8 (the
 * dann-embed --predict stream), which must equal the frames' labels; the stream ends there. */
int report_add_predictions(report *r, FILE *f, const char *name);
/* The images of the points: (n,H,W,3) or (n,H,W) uint8, then labels (n,) and domains (n,)
 * uint8 equal to the frames'; H and W at most REPORT_MAX_IMAGE. */
int report_read_images(report *r, FILE *f, const char *name);
/* dann-train's snapshots.tsv: columns found by header name (step, lambda, target_acc; others
 * ignored), one row per snapshot.  Call after the frames: the row count must equal them. */
int report_read_snapshots(report *r, FILE *f, const char *name);
/* A metrics log (lib/stream/metrics.h) named `label`. */
int report_add_log(report *r, FILE *f, const char *name, const char *label);
/* A PAD table (plot_pad_read), its models matched with the logs' names: after the logs. */
int report_read_pad(report *r, FILE *f, const char *name);
/* A TSV table (header row first; every row the same number of fields). */
int report_read_table(FILE *f, const char *name, report_table *t);
void report_table_free(report_table *t);
/* A whole text file (at most REPORT_MAX_TEXT bytes, no NUL) into a malloc'd string. */
int report_read_text(FILE *f, const char *name, char **text);

/* Write the page.  Needs at least one frame; predictions, when given, for every frame; the
 * snapshots' table, when given, with a row per frame. */
int report_write(FILE *f, const report *r);

/* Helpers, exposed for the unit test. */
/* Base64 (RFC 4648, with padding) of n bytes into out, which holds 4*((n+2)/3) + 1 bytes;
 * returns the length written (without the NUL). */
size_t report_base64(char *out, const uint8_t *in, size_t n);
/* Write s as a JSON string literal, safe inside an HTML <script> element ('<' as \u003c). */
int report_json_string(FILE *f, const char *s);
/* The step of a metrics log nearest to `step` (its row index; -1 if the log is empty). */
int64_t report_nearest_row(const metrics_log *m, double step);

#endif
