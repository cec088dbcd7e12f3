/* report.c - the interactive report page: gather and check the inputs, write one HTML file.
 *
 * The page's code (HTML, CSS, JavaScript) is lib/draw/report_page.html, compiled in as a string
 * (mk/report.mk turns it into a C header).  It holds two markers: @@TITLE@@ (HTML-escaped
 * text) and @@DATA@@ (a JSON object, inside a <script type="application/json"> element, so
 * every '<' in it is written \u003c). */
#include "draw/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "stream/layout.h"
#include "stream/npy.h"
#include "draw/pngio.h"

#include "report_page.h"   /* static const char report_page[]: lib/draw/report_page.html */

void report_init(report *r)
{
	memset(r, 0, sizeof *r);
}

void report_table_free(report_table *t)
{
	if (t->cell)
		for (int i = 0; i < t->rows * t->cols; i++)
			free(t->cell[i]);
	free(t->cell);
	memset(t, 0, sizeof *t);
}

void report_free(report *r)
{
	free(r->pts);
	free(r->labels);
	free(r->domains);
	free(r->preds);
	free(r->images);
	free(r->snap_step);
	free(r->snap_lambda);
	free(r->snap_tacc);
	for (int i = 0; i < r->nlogs; i++)
		metrics_free(&r->logs[i]);
	if (r->has_pad)
		plot_pad_free(&r->pad);
	report_table_free(&r->results);
	free(r->commands);
	free(r->title);
	free(r->source_name);
	free(r->target_name);
	memset(r, 0, sizeof *r);
}

/* ---- inputs ----------------------------------------------------------------------------- */

/* The first index where a and b differ, or -1. */
static int64_t first_diff(const uint8_t *a, const uint8_t *b, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return i;
	return -1;
}

/* labels and domains of n points must be the frames'; `what` names the input's kind. */
static int check_same_points(const report *r, const char *name, const char *what, int64_t n,
                             const uint8_t *labels, const uint8_t *domains)
{
	if (n != r->n)
		return err_set(DN_EFORMAT, "%s: %s of %lld points, the frames have %lld", name, what,
		               (long long)n, (long long)r->n);
	int64_t i = first_diff(labels, r->labels, n);
	if (i >= 0)
		return err_set(DN_EFORMAT, "%s: the label of point %lld is %d, in the frames %d: not the "
		               "same points in the same order", name, (long long)i, labels[i], r->labels[i]);
	if (domains && (i = first_diff(domains, r->domains, n)) >= 0)
		return err_set(DN_EFORMAT, "%s: the domain of point %lld is %d, in the frames %d: not the "
		               "same points in the same order", name, (long long)i, domains[i], r->domains[i]);
	return 0;
}

int report_add_frame(report *r, FILE *f, const char *name)
{
	layout_frame fr = {0};
	int rc = layout_frame_read(f, name, &fr);
	if (rc < 0)
		return rc;
	if (r->nframes == 0) {
		if (fr.n < 1 || fr.n > REPORT_MAX_POINTS) {
			layout_frame_free(&fr);
			return err_set(DN_ERANGE, "%s: %lld points; a page takes 1 to %d", name,
			               (long long)fr.n, REPORT_MAX_POINTS);
		}
		r->n = fr.n;
		r->labels = fr.labels;
		r->domains = fr.domains;
		fr.labels = fr.domains = NULL;
	} else if ((rc = check_same_points(r, name, "a frame", fr.n, fr.labels, fr.domains)) < 0) {
		layout_frame_free(&fr);
		return rc;
	}
	if (r->nframes >= REPORT_MAX_FRAMES) {
		layout_frame_free(&fr);
		return err_set(DN_ERANGE, "%s: more than %d frames", name, REPORT_MAX_FRAMES);
	}
	size_t per = (size_t)r->n * 2;
	float *p = realloc(r->pts, sizeof(float) * per * (size_t)(r->nframes + 1));
	if (!p) {
		layout_frame_free(&fr);
		return err_set(DN_ENOMEM, "%s: out of memory", name);
	}
	r->pts = p;
	memcpy(p + per * (size_t)r->nframes, fr.pts, sizeof(float) * per);
	r->nframes++;
	layout_frame_free(&fr);
	return 0;
}

/* Read a (n,) uint8 array whose header says `what`; *out is malloc'd. */
static int read_u8_vector(FILE *f, const char *name, const char *what, uint8_t **out, int64_t *n)
{
	npy_array a = {0};
	int rc = npy_read_header(f, name, &a.h);
	if (rc == DN_EEOF)
		return err_set(DN_EFORMAT, "%s: the stream ends before the %s ((N,) uint8)", name, what);
	if (rc < 0 || (rc = npy_expect(&a.h, name, what, NPY_U8, 1)) < 0)
		return rc;
	if (!(a.data = malloc(a.h.nbytes ? a.h.nbytes : 1)))
		return err_set(DN_ENOMEM, "%s: out of memory", name);
	if ((rc = npy_read_data(f, name, &a.h, a.data, (size_t)a.h.count)) < 0) {
		npy_free(&a);
		return rc;
	}
	*out = a.data;
	*n = a.h.shape[0];
	return 0;
}

int report_add_predictions(report *r, FILE *f, const char *name)
{
	if (r->nframes == 0)
		return err_set(DN_EARG, "%s: predictions before any frame", name);
	uint8_t *pred = NULL, *lab = NULL;
	int64_t np = 0, nl = 0;
	int rc = read_u8_vector(f, name, "predictions", &pred, &np);
	if (rc < 0)
		return rc;
	if ((rc = read_u8_vector(f, name, "labels", &lab, &nl)) < 0)
		goto out;
	if (np != nl) {
		rc = err_set(DN_EFORMAT, "%s: %lld predictions but %lld labels", name, (long long)np,
		             (long long)nl);
		goto out;
	}
	if ((rc = check_same_points(r, name, "predictions", np, lab, NULL)) < 0)
		goto out;
	for (int64_t i = 0; i < np; i++)
		if (pred[i] > 9) {
			rc = err_set(DN_ERANGE, "%s: prediction %d of point %lld is not a digit 0-9", name,
			             pred[i], (long long)i);
			goto out;
		}
	if ((rc = npy_expect_end(f, name, "labels")) < 0)
		goto out;
	uint8_t *p = realloc(r->preds, (size_t)r->n * (size_t)(r->npreds + 1));
	if (!p) {
		rc = err_set(DN_ENOMEM, "%s: out of memory", name);
		goto out;
	}
	r->preds = p;
	memcpy(p + (size_t)r->n * (size_t)r->npreds, pred, (size_t)r->n);
	r->npreds++;
out:
	free(pred);
	free(lab);
	return rc;
}

int report_read_images(report *r, FILE *f, const char *name)
{
	if (r->nframes == 0)
		return err_set(DN_EARG, "%s: images before any frame", name);
	npy_header h;
	char hb[128];
	int rc = npy_read_header(f, name, &h);
	if (rc == DN_EEOF)
		return err_set(DN_EFORMAT, "%s: empty: expected images (N,H,W,3) uint8", name);
	if (rc < 0)
		return rc;
	if (h.dtype != NPY_U8 || (h.ndim != 3 && !(h.ndim == 4 && h.shape[3] == 3)))
		return err_set(DN_EFORMAT, "%s: images: expected (N,H,W,3) or (N,H,W) uint8, got %s",
		               name, npy_header_str(&h, hb, sizeof hb));
	if (h.shape[1] < 1 || h.shape[2] < 1 || h.shape[1] > REPORT_MAX_IMAGE ||
	    h.shape[2] > REPORT_MAX_IMAGE)
		return err_set(DN_ERANGE, "%s: images of %lldx%lld pixels; the page takes 1 to %d a side",
		               name, (long long)h.shape[1], (long long)h.shape[2], REPORT_MAX_IMAGE);
	if (h.shape[0] != r->n)
		return err_set(DN_EFORMAT, "%s: images of %lld points, the frames have %lld", name,
		               (long long)h.shape[0], (long long)r->n);
	int c = h.ndim == 4 ? 3 : 1;
	size_t px = (size_t)h.shape[1] * (size_t)h.shape[2];
	uint8_t *raw = malloc(h.nbytes ? h.nbytes : 1), *rgb = malloc(px * 3 * (size_t)r->n);
	uint8_t *lab = NULL, *dom = NULL;
	int64_t nl = 0, nd = 0;
	if (!raw || !rgb) {
		rc = err_set(DN_ENOMEM, "%s: out of memory", name);
		goto out;
	}
	if ((rc = npy_read_data(f, name, &h, raw, (size_t)h.count)) < 0 ||
	    (rc = read_u8_vector(f, name, "labels", &lab, &nl)) < 0 ||
	    (rc = read_u8_vector(f, name, "domains", &dom, &nd)) < 0)
		goto out;
	if (nl != r->n || nd != r->n) {
		rc = err_set(DN_EFORMAT, "%s: %lld labels and %lld domains for %lld images", name,
		             (long long)nl, (long long)nd, (long long)r->n);
		goto out;
	}
	if ((rc = check_same_points(r, name, "images", r->n, lab, dom)) < 0 ||
	    (rc = npy_expect_end(f, name, "domains")) < 0)
		goto out;
	for (size_t i = 0; i < px * (size_t)r->n; i++)
		for (int ch = 0; ch < 3; ch++)
			rgb[i * 3 + (size_t)ch] = raw[i * (size_t)c + (c == 3 ? (size_t)ch : 0)];
	free(r->images);
	r->images = rgb;
	rgb = NULL;
	r->ih = (int)h.shape[1];
	r->iw = (int)h.shape[2];
out:
	free(raw);
	free(rgb);
	free(lab);
	free(dom);
	return rc;
}

/* Split a line in place at tabs into at most max fields; returns the count. */
static int split_tabs(char *s, char **fl, int max)
{
	int n = 0;
	for (char *p = s;; p++) {
		if (n < max)
			fl[n] = p;
		n++;
		p = strchr(p, '\t');
		if (!p)
			break;
		*p = '\0';
	}
	return n;
}

/* Read one line (any length; newline and CR stripped) into *buf; 0 at the end, 1 with a
 * line, negative on an error (a NUL byte, out of memory). */
static int next_line(FILE *f, const char *name, char **buf, size_t *cap, int64_t lineno)
{
	ssize_t len = getline(buf, cap, f);
	if (len < 0)
		return ferror(f) ? err_set(DN_EIO, "%s: read error", name) : 0;
	if ((size_t)len != strlen(*buf))
		return err_set(DN_EFORMAT, "%s: line %lld: a NUL byte", name, (long long)lineno);
	while (len > 0 && ((*buf)[len - 1] == '\n' || (*buf)[len - 1] == '\r'))
		(*buf)[--len] = '\0';
	return 1;
}

/* A number or "nan"; anything else is an error. */
static int parse_number(const char *s, double *v)
{
	char *end;
	if (!*s)
		return -1;
	*v = strtod(s, &end);
	return *end ? -1 : 0;
}

int report_read_snapshots(report *r, FILE *f, const char *name)
{
	enum { C_STEP, C_LAMBDA, C_TACC, NC };
	static const char *const want[NC] = {"step", "lambda", "target_acc"};
	int col[NC] = {-1, -1, -1}, rc = 0, nf = 0;
	char *line = NULL, *fl[64];
	size_t cap = 0;
	int64_t lineno = 0;
	double *v[NC] = {NULL};
	int rows = 0;
	if (r->nframes == 0)
		return err_set(DN_EARG, "%s: the snapshots' table before any frame", name);
	for (int k = 0; k < NC; k++)
		if (!(v[k] = malloc(sizeof(double) * (size_t)r->nframes))) {
			rc = err_set(DN_ENOMEM, "%s: out of memory", name);
			goto out;
		}
	while ((rc = next_line(f, name, &line, &cap, ++lineno)) > 0) {
		int n = split_tabs(line, fl, 64);
		if (lineno == 1) {
			nf = n;
			for (int j = 0; j < n && j < 64; j++)
				for (int k = 0; k < NC; k++)
					if (!strcmp(fl[j], want[k]))
						col[k] = j;
			for (int k = 0; k < NC; k++)
				if (col[k] < 0) {
					rc = err_set(DN_EFORMAT, "%s: no column '%s' in the header line", name, want[k]);
					goto out;
				}
			continue;
		}
		if (n != nf) {
			rc = err_set(DN_EFORMAT, "%s: line %lld: %d fields, the header has %d", name,
			             (long long)lineno, n, nf);
			goto out;
		}
		if (rows >= r->nframes) {
			rc = err_set(DN_EFORMAT, "%s: more snapshots than the %d frames", name, r->nframes);
			goto out;
		}
		for (int k = 0; k < NC; k++)
			if (parse_number(fl[col[k]], &v[k][rows]) < 0 ||
			    (k == C_STEP && !isfinite(v[k][rows]))) {
				rc = err_set(DN_EFORMAT, "%s: line %lld: %s '%s' is not a number", name,
				             (long long)lineno, want[k], fl[col[k]]);
				goto out;
			}
		rows++;
	}
	if (rc < 0)
		goto out;
	if (lineno <= 1 && nf == 0) {
		rc = err_set(DN_EFORMAT, "%s: empty: expected a header line", name);
		goto out;
	}
	if (rows != r->nframes) {
		rc = err_set(DN_EFORMAT, "%s: %d snapshots for %d frames", name, rows, r->nframes);
		goto out;
	}
	free(r->snap_step);
	free(r->snap_lambda);
	free(r->snap_tacc);
	r->snap_step = v[C_STEP];
	r->snap_lambda = v[C_LAMBDA];
	r->snap_tacc = v[C_TACC];
	r->nsnaps = rows;
	v[0] = v[1] = v[2] = NULL;
	rc = 0;
out:
	for (int k = 0; k < NC; k++)
		free(v[k]);
	free(line);
	return rc;
}

int report_add_log(report *r, FILE *f, const char *name, const char *label)
{
	if (r->nlogs >= REPORT_MAX_LOGS)
		return err_set(DN_EARG, "%s: more than %d metrics logs", name, REPORT_MAX_LOGS);
	if (!*label || strlen(label) >= sizeof r->log_name[0])
		return err_set(DN_EARG, "%s: a log's name has 1 to %zu characters", name,
		               sizeof r->log_name[0] - 1);
	int rc = metrics_read(f, name, &r->logs[r->nlogs]);
	if (rc < 0)
		return rc;
	strcpy(r->log_name[r->nlogs], label);
	r->nlogs++;
	return 0;
}

int report_read_pad(report *r, FILE *f, const char *name)
{
	const char *names[REPORT_MAX_LOGS];
	for (int i = 0; i < r->nlogs; i++)
		names[i] = r->log_name[i];
	if (r->nlogs == 0)
		return err_set(DN_EARG, "%s: a PAD table needs the metrics logs it belongs to", name);
	if (r->has_pad)
		plot_pad_free(&r->pad);
	r->has_pad = 0;
	int rc = plot_pad_read(f, name, names, r->nlogs, &r->pad);
	if (rc < 0)
		return rc;
	r->has_pad = 1;
	return 0;
}

int report_read_table(FILE *f, const char *name, report_table *t)
{
	char *line = NULL, *fl[256];
	size_t cap = 0;
	int64_t lineno = 0;
	int rc;
	memset(t, 0, sizeof *t);
	while ((rc = next_line(f, name, &line, &cap, ++lineno)) > 0) {
		if (!*line)
			continue;
		int n = split_tabs(line, fl, 256);
		if (t->rows == 0) {
			if (n > 256) {
				rc = err_set(DN_EFORMAT, "%s: more than 256 columns", name);
				break;
			}
			t->cols = n;
		} else if (n != t->cols) {
			rc = err_set(DN_EFORMAT, "%s: line %lld: %d fields, the header has %d", name,
			             (long long)lineno, n, t->cols);
			break;
		}
		if (t->rows >= 10000) {
			rc = err_set(DN_EFORMAT, "%s: more than 10000 rows", name);
			break;
		}
		char **c = realloc(t->cell, sizeof(char *) * (size_t)(t->rows + 1) * (size_t)t->cols);
		if (!c) {
			rc = err_set(DN_ENOMEM, "%s: out of memory", name);
			break;
		}
		t->cell = c;
		for (int j = 0; j < n; j++)
			c[t->rows * t->cols + j] = NULL;
		t->rows++;
		for (int j = 0; j < n; j++)
			if (!(c[(t->rows - 1) * t->cols + j] = strdup(fl[j]))) {
				rc = err_set(DN_ENOMEM, "%s: out of memory", name);
				break;
			}
		if (rc < 0)
			break;
	}
	free(line);
	if (rc == 0 && t->rows == 0)
		rc = err_set(DN_EFORMAT, "%s: empty: expected a header line", name);
	if (rc < 0) {
		report_table_free(t);
		return rc;
	}
	return 0;
}

int report_read_text(FILE *f, const char *name, char **text)
{
	size_t cap = 4096, n = 0;
	char *s = malloc(cap);
	if (!s)
		return err_set(DN_ENOMEM, "%s: out of memory", name);
	for (;;) {
		if (n + 4096 + 1 > cap) {
			char *t = realloc(s, cap *= 2);
			if (!t) {
				free(s);
				return err_set(DN_ENOMEM, "%s: out of memory", name);
			}
			s = t;
		}
		size_t got = fread(s + n, 1, 4096, f);
		n += got;
		if (n > REPORT_MAX_TEXT) {
			free(s);
			return err_set(DN_ERANGE, "%s: longer than %d bytes", name, REPORT_MAX_TEXT);
		}
		if (got < 4096)
			break;
	}
	if (ferror(f)) {
		free(s);
		return err_set(DN_EIO, "%s: read error", name);
	}
	if (memchr(s, '\0', n)) {
		free(s);
		return err_set(DN_EFORMAT, "%s: a NUL byte: not a text file", name);
	}
	s[n] = '\0';
	*text = s;
	return 0;
}

/* ---- output ----------------------------------------------------------------------------- */

size_t report_base64(char *out, const uint8_t *in, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0, i = 0;
	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		out[o++] = a[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

int report_json_string(FILE *f, const char *s)
{
	int bad = fputc('"', f) == EOF;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': bad |= fputs("\\\"", f) < 0; break;
		case '\\': bad |= fputs("\\\\", f) < 0; break;
		case '\n': bad |= fputs("\\n", f) < 0; break;
		case '\t': bad |= fputs("\\t", f) < 0; break;
		case '\r': bad |= fputs("\\r", f) < 0; break;
		case '<': bad |= fputs("\\u003c", f) < 0; break;   /* no </script> inside the data */
		case '>': bad |= fputs("\\u003e", f) < 0; break;
		case '&': bad |= fputs("\\u0026", f) < 0; break;
		default:
			if (*p < 0x20)
				bad |= fprintf(f, "\\u%04x", *p) < 0;
			else
				bad |= fputc(*p, f) == EOF;
		}
	}
	bad |= fputc('"', f) == EOF;
	return bad ? err_set(DN_EIO, "write error") : 0;
}

/* A number for JSON: null when not finite, else at most 7 significant digits (steps up to
 * 10 million exact). */
static void json_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.7g", v);
	else
		fputs("null", f);
}

static void json_key(FILE *f, const char *k)
{
	fprintf(f, "\"%s\":", k);
}

int64_t report_nearest_row(const metrics_log *m, double step)
{
	int64_t best = -1;
	double bd = INFINITY;
	for (int64_t i = 0; i < m->n; i++) {
		double d = fabs(m->col[MET_STEP][i] - step);
		if (d < bd) {
			bd = d;
			best = i;
		}
	}
	return best;
}

/* The PAD of snapshot step `step` on the first layer of log l's series, or NaN. */
static double pad_at(const report *r, int l, double step)
{
	if (!r->has_pad || r->pad.nlayers == 0)
		return NAN;
	int s = l * PLOT_PAD_LAYERS;
	for (int64_t i = 0; i < r->pad.n[s]; i++)
		if (r->pad.step[s][i] == step)
			return r->pad.pad[s][i];
	return NAN;
}

/* The sprite sheet: every point's image in a grid, cols wide, as a PNG in memory. */
static int sprite_png(const report *r, int cols, char **png, size_t *len)
{
	int rows = (int)((r->n + cols - 1) / cols);
	int w = cols * r->iw, h = rows * r->ih;
	size_t row = (size_t)w * 3;
	uint8_t *px = calloc((size_t)h, row);
	if (!px)
		return err_set(DN_ENOMEM, "sprite sheet: out of memory");
	for (int64_t i = 0; i < r->n; i++) {
		int cx = (int)(i % cols) * r->iw, cy = (int)(i / cols) * r->ih;
		for (int y = 0; y < r->ih; y++)
			memcpy(px + (size_t)(cy + y) * row + (size_t)cx * 3,
			       r->images + (((size_t)i * (size_t)r->ih + (size_t)y) * (size_t)r->iw) * 3,
			       (size_t)r->iw * 3);
	}
	FILE *m = open_memstream(png, len);
	if (!m) {
		free(px);
		return err_set(DN_ENOMEM, "sprite sheet: out of memory");
	}
	int rc = png_write(m, w, h, 3, px);
	if (fclose(m) != 0 && rc == 0)
		rc = err_set(DN_ENOMEM, "sprite sheet: out of memory");
	free(px);
	if (rc < 0) {
		free(*png);
		*png = NULL;
	}
	return rc;
}

static void write_log(FILE *f, const report *r, int l)
{
	static const char *const keys[MET_NCOL] = {"step", "epoch", "lr", "lambda", "label_loss",
	                                          "domain_loss", "domain_acc", "source_acc",
	                                          "target_acc"};
	const metrics_log *m = &r->logs[l];
	/* at most about REPORT_MAX_ROWS rows a curve: every k-th, and the last */
	int64_t k = (m->n + REPORT_MAX_ROWS - 1) / REPORT_MAX_ROWS;
	fputs("{\"name\":", f);
	report_json_string(f, r->log_name[l]);
	for (int c = 0; c < MET_NCOL; c++) {
		if (c == MET_EPOCH)
			continue;
		fprintf(f, ",\"%s\":[", keys[c]);
		for (int64_t i = 0; i < m->n; i++) {
			if (i % k && i != m->n - 1)
				continue;
			if (i)
				fputc(',', f);
			json_num(f, m->col[c][i]);
		}
		fputc(']', f);
	}
	if (r->has_pad) {
		fputs(",\"pad\":[", f);
		for (int j = 0; j < r->pad.nlayers; j++) {
			int s = l * PLOT_PAD_LAYERS + j;
			fprintf(f, "%s{\"layer\":", j ? "," : "");
			report_json_string(f, r->pad.layer[j]);
			fputs(",\"step\":[", f);
			for (int64_t i = 0; i < r->pad.n[s]; i++) {
				if (i)
					fputc(',', f);
				json_num(f, r->pad.step[s][i]);
			}
			fputs("],\"pad\":[", f);
			for (int64_t i = 0; i < r->pad.n[s]; i++) {
				if (i)
					fputc(',', f);
				json_num(f, r->pad.pad[s][i]);
			}
			fputs("]}", f);
		}
		fputc(']', f);
	}
	fputc('}', f);
}

static void write_rgb(FILE *f, plot_rgb c)
{
	fprintf(f, "\"#%02x%02x%02x\"", c.r, c.g, c.b);
}

/* The data object the page reads. */
static int write_data(FILE *f, const report *r)
{
	/* points: each coordinate as an integer 0..Q over the limits of all frames (the page
	 * scales them back): 4 digits a number instead of 9, no visible loss */
	const int Q = 9999;
	double lim[4];
	plot_limits_init(lim);
	int rc = plot_limits_add(lim, r->pts, r->n * r->nframes, "frames");
	if (rc < 0)
		return rc;
	double sx = lim[1] > lim[0] ? Q / (lim[1] - lim[0]) : 0, sy = lim[3] > lim[2] ? Q / (lim[3] - lim[2]) : 0;
	fputc('{', f);
	json_key(f, "title");
	report_json_string(f, r->title ? r->title : "DANN: source and target features during training");
	fputs(",\"names\":[", f);
	report_json_string(f, r->source_name ? r->source_name : "Source (MNIST)");
	fputc(',', f);
	report_json_string(f, r->target_name ? r->target_name : "Target (MNIST-M)");
	fprintf(f, "],\"n\":%lld,\"frames\":%d,\"q\":%d,\"aspect\":", (long long)r->n, r->nframes, Q);
	json_num(f, lim[1] > lim[0] && lim[3] > lim[2] ? (lim[3] - lim[2]) / (lim[1] - lim[0]) : 1);
	fputs(",\"pts\":[", f);
	for (int k = 0; k < r->nframes; k++) {
		const float *p = r->pts + (size_t)k * (size_t)r->n * 2;
		fputs(k ? ",[" : "[", f);
		for (int64_t i = 0; i < r->n; i++)
			fprintf(f, "%s%ld,%ld", i ? "," : "", lround((p[2 * i] - lim[0]) * sx),
			        lround((p[2 * i + 1] - lim[2]) * sy));
		fputc(']', f);
	}
	/* labels, domains and predictions as strings of digits */
	fputs("],\"labels\":\"", f);
	for (int64_t i = 0; i < r->n; i++)
		fputc('0' + r->labels[i], f);
	fputs("\",\"domains\":\"", f);
	for (int64_t i = 0; i < r->n; i++)
		fputc('0' + r->domains[i], f);
	fputs("\",\"preds\":", f);
	if (r->npreds) {
		fputc('[', f);
		for (int k = 0; k < r->npreds; k++) {
			fputs(k ? ",\"" : "\"", f);
			for (int64_t i = 0; i < r->n; i++)
				fputc('0' + r->preds[(size_t)k * (size_t)r->n + (size_t)i], f);
			fputc('"', f);
		}
		fputc(']', f);
	} else {
		fputs("null", f);
	}
	/* the snapshots: step, lambda, learning rate (from the frames' log), target accuracy, PAD */
	fputs(",\"snaps\":", f);
	if (r->nsnaps) {
		int l = r->nlogs - 1;
		fputc('[', f);
		for (int k = 0; k < r->nsnaps; k++) {
			double lr = NAN;
			if (l >= 0) {
				int64_t row = report_nearest_row(&r->logs[l], r->snap_step[k]);
				if (row >= 0)
					lr = r->logs[l].col[MET_LR][row];
			}
			fputs(k ? ",{\"step\":" : "{\"step\":", f);
			json_num(f, r->snap_step[k]);
			fputs(",\"lambda\":", f);
			json_num(f, r->snap_lambda[k]);
			fputs(",\"lr\":", f);
			json_num(f, lr);
			fputs(",\"tacc\":", f);
			json_num(f, r->snap_tacc[k]);
			fputs(",\"pad\":", f);
			json_num(f, l >= 0 ? pad_at(r, l, r->snap_step[k]) : NAN);
			fputc('}', f);
		}
		fputc(']', f);
	} else {
		fputs("null", f);
	}
	fputs(",\"logs\":[", f);
	for (int l = 0; l < r->nlogs; l++) {
		if (l)
			fputc(',', f);
		write_log(f, r, l);
	}
	fputs("],\"padLayers\":[", f);
	for (int j = 0; r->has_pad && j < r->pad.nlayers; j++) {
		if (j)
			fputc(',', f);
		report_json_string(f, r->pad.layer[j]);
	}
	fputs("],\"padRef\":", f);
	if (r->has_pad && r->pad.has_ref) {
		fputs("{\"name\":", f);
		report_json_string(f, r->pad.ref_name);
		fputs(",\"pad\":", f);
		json_num(f, r->pad.ref);
		fputc('}', f);
	} else {
		fputs("null", f);
	}
	fputs(",\"results\":[", f);
	for (int i = 0; i < r->results.rows; i++) {
		fputs(i ? ",[" : "[", f);
		for (int j = 0; j < r->results.cols; j++) {
			if (j)
				fputc(',', f);
			report_json_string(f, r->results.cell[i * r->results.cols + j]);
		}
		fputc(']', f);
	}
	fputs("],\"commands\":", f);
	if (r->commands)
		report_json_string(f, r->commands);
	else
		fputs("null", f);
	/* the palette of the PNGs (lib/draw/raster.c) */
	fputs(",\"palette\":{\"source\":", f);
	write_rgb(f, plot_source_rgb);
	fputs(",\"target\":", f);
	write_rgb(f, plot_target_rgb);
	fputs(",\"classes\":[", f);
	for (int k = 0; k < 10; k++) {
		if (k)
			fputc(',', f);
		write_rgb(f, plot_class_rgb[k]);
	}
	fputs("]},\"sprite\":", f);
	if (r->images) {
		int cols = 1;
		while ((int64_t)cols * cols < r->n)
			cols++;
		char *png = NULL, *b64;
		size_t len = 0;
		if ((rc = sprite_png(r, cols, &png, &len)) < 0)
			return rc;
		if (!(b64 = malloc(4 * ((len + 2) / 3) + 1))) {
			free(png);
			return err_set(DN_ENOMEM, "sprite sheet: out of memory");
		}
		report_base64(b64, (const uint8_t *)png, len);
		fprintf(f, "{\"w\":%d,\"h\":%d,\"cols\":%d,\"src\":\"data:image/png;base64,%s\"}", r->iw,
		        r->ih, cols, b64);
		free(b64);
		free(png);
	} else {
		fputs("null", f);
	}
	fputc('}', f);
	return 0;
}

/* Text for HTML element content. */
static void html_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

int report_write(FILE *f, const report *r)
{
	if (r->nframes == 0)
		return err_set(DN_EARG, "no frames");
	if (r->npreds && r->npreds != r->nframes)
		return err_set(DN_EARG, "predictions for %d frames, but %d frames", r->npreds, r->nframes);
	if (r->nsnaps && r->nsnaps != r->nframes)
		return err_set(DN_EARG, "%d snapshots for %d frames", r->nsnaps, r->nframes);
	const char *p = report_page;
	const char *t = strstr(p, "@@TITLE@@"), *d = t ? strstr(t, "@@DATA@@") : NULL;
	if (!t || !d)
		return err_set(DN_EARG, "the page template has no @@TITLE@@ and @@DATA@@ markers");
	fwrite(p, 1, (size_t)(t - p), f);
	html_text(f, r->title ? r->title : "DANN: source and target features during training");
	p = t + strlen("@@TITLE@@");
	fwrite(p, 1, (size_t)(d - p), f);
	int rc = write_data(f, r);
	if (rc < 0)
		return rc;
	p = d + strlen("@@DATA@@");
	fputs(p, f);
	return ferror(f) ? err_set(DN_EIO, "write error") : 0;
}
