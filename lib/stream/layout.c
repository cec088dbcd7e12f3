/* layout.c - the point, layout and frame streams of t-SNE; see layout.h. */
#include "stream/layout.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "stream/dataset.h"

/* ---- points and layouts, with their per-point arrays ------------------------------------ */

void layout_points_free(layout_points *in)
{
	free(in->x);
	for (int i = 0; i < in->nextra; i++)
		npy_free(&in->extra[i]);
	free(in->extra);
	memset(in, 0, sizeof *in);
}

int layout_points_read(layout_points *in, FILE *f, const char *name)
{
	memset(in, 0, sizeof *in);
	npy_header h;
	int rc = npy_read_header(f, name, &h);
	if (rc < 0)
		return rc;
	if ((rc = npy_expect(&h, name, "points", NPY_F32, 2)) < 0)
		return rc;
	if (h.shape[1] == 0)
		return err_set(DN_EFORMAT, "%s: points have D=0 dimensions", name);
	if (h.shape[0] == 0)
		return err_set(DN_EFORMAT, "%s: no points (N=0)", name);
	if (h.shape[0] > INT32_MAX || h.shape[1] > INT32_MAX)
		return err_set(DN_EFORMAT, "%s: points too large", name);
	in->n = h.shape[0];
	in->d = (int)h.shape[1];
	in->x = mem_alloc_big(h.nbytes);
	if (!in->x)
		return err_set(DN_ENOMEM, "%s: out of memory for (%lld,%d) points", name,
		               (long long)in->n, in->d);
	if ((rc = npy_read_data(f, name, &h, in->x, (size_t)h.count)) < 0)
		goto fail;
	for (int64_t t = 0; t < h.count; t++)
		if (!isfinite(in->x[t])) {
			rc = err_set(DN_ERANGE, "%s: points: NaN or Inf at row %lld", name,
			             (long long)(t / in->d));
			goto fail;
		}
	for (;;) {
		npy_array a;
		rc = npy_read_array(f, name, &a);
		if (rc == DN_EEOF)
			break;
		if (rc < 0)
			goto fail;
		if (a.h.ndim < 1 || a.h.shape[0] != in->n) {
			char s[160];
			rc = err_set(DN_EFORMAT, "%s: array %d %s is not per-point (first dimension %lld)",
			             name, in->nextra + 1, npy_header_str(&a.h, s, sizeof s),
			             (long long)in->n);
			npy_free(&a);
			goto fail;
		}
		npy_array *e = realloc(in->extra, (size_t)(in->nextra + 1) * sizeof *e);
		if (!e) {
			npy_free(&a);
			rc = err_set(DN_ENOMEM, "%s: out of memory", name);
			goto fail;
		}
		in->extra = e;
		in->extra[in->nextra++] = a;
	}
	return 0;
fail:
	layout_points_free(in);
	return rc;
}

int layout_write(FILE *f, const float *y, const layout_points *in)
{
	int64_t shape[2] = {in->n, 2};
	int rc = npy_write_array(f, NPY_F32, 2, shape, y);
	for (int i = 0; rc >= 0 && i < in->nextra; i++)
		rc = npy_write_array(f, in->extra[i].h.dtype, in->extra[i].h.ndim, in->extra[i].h.shape,
		                     in->extra[i].data);
	return rc;
}

int layout_read(FILE *f, const char *name, const char *what, float **y, int64_t *n)
{
	npy_header h;
	*y = NULL;
	int rc = npy_read_header(f, name, &h);
	if (rc < 0)
		return rc;
	if ((rc = npy_expect(&h, name, what, NPY_F32, 2)) < 0)
		return rc;
	if (h.shape[1] != 2) {
		char s[160];
		return err_set(DN_EFORMAT, "%s: %s: expected shape (N,2), got %s", name, what,
		               npy_header_str(&h, s, sizeof s));
	}
	float *v = malloc(h.nbytes ? h.nbytes : 1);
	if (!v)
		return err_set(DN_ENOMEM, "%s: %s: out of memory", name, what);
	if ((rc = npy_read_data(f, name, &h, v, (size_t)h.count)) < 0) {
		free(v);
		return rc;
	}
	for (int64_t i = 0; i < h.shape[0]; i++)
		if (!isfinite(v[2 * i]) || !isfinite(v[2 * i + 1])) {
			rc = err_set(DN_ERANGE, "%s: point %lld is not finite (%g, %g)", name, (long long)i,
			             v[2 * i], v[2 * i + 1]);
			free(v);
			return rc;
		}
	*y = v;
	*n = h.shape[0];
	return 0;
}

int layout_joinable(const layout_points *a, const layout_points *b, const char *aname,
                    const char *bname)
{
	if (a->nextra != b->nextra)
		return err_set(DN_EFORMAT, "%s has %d per-point arrays after the layout, %s %d: cannot join",
		               aname, a->nextra, bname, b->nextra);
	for (int i = 0; i < a->nextra; i++) {
		const npy_header *x = &a->extra[i].h, *y = &b->extra[i].h;
		int same = x->dtype == y->dtype && x->ndim == y->ndim;
		for (int t = 1; same && t < x->ndim; t++)
			same = x->shape[t] == y->shape[t];
		if (!same) {
			char s1[160], s2[160];
			return err_set(DN_EFORMAT, "per-point array %d is %s in %s but %s in %s: cannot join",
			               i + 1, npy_header_str(x, s1, sizeof s1), aname,
			               npy_header_str(y, s2, sizeof s2), bname);
		}
	}
	return 0;
}

int layout_write_joined(FILE *f, const float *ya, const layout_points *a, const float *yb,
                        const layout_points *b)
{
	npy_header h;
	int64_t shape[NPY_MAXDIM] = {a->n + b->n, 2};
	int rc = npy_header_init(&h, NPY_F32, 2, shape);
	if (rc >= 0)
		rc = npy_write_header(f, &h);
	if (rc >= 0)
		rc = npy_write_data(f, ya, (size_t)a->n * 2, NPY_F32);
	if (rc >= 0)
		rc = npy_write_data(f, yb, (size_t)b->n * 2, NPY_F32);
	for (int i = 0; rc >= 0 && i < a->nextra; i++) {
		const npy_array *x = &a->extra[i], *y = &b->extra[i];
		memcpy(shape, x->h.shape, sizeof shape);
		shape[0] = a->n + b->n;
		if ((rc = npy_header_init(&h, x->h.dtype, x->h.ndim, shape)) < 0 ||
		    (rc = npy_write_header(f, &h)) < 0 ||
		    (rc = npy_write_data(f, x->data, (size_t)x->h.count, x->h.dtype)) < 0)
			break;
		rc = npy_write_data(f, y->data, (size_t)y->h.count, y->h.dtype);
	}
	return rc;
}

/* ---- frames ----------------------------------------------------------------------------- */

/* The (n,) uint8 array `what` of a frame: header checked before a byte of its body is read. */
static int read_u8(FILE *f, const char *name, const char *what, int64_t n, npy_array *a)
{
	char hb[128];
	int rc = npy_read_header(f, name, &a->h);
	if (rc == DN_EEOF)
		return err_set(DN_EFORMAT, "%s: stream ends before the %s array ((N,) uint8)", name, what);
	if (rc < 0)
		return rc;
	if ((rc = npy_expect(&a->h, name, what, NPY_U8, 1)) < 0)
		return rc;
	if (a->h.shape[0] != n)
		return err_set(DN_EFORMAT, "%s: %lld %s for %lld points", name,
		               (long long)a->h.shape[0], what, (long long)n);
	a->data = malloc(a->h.nbytes ? a->h.nbytes : 1);
	if (!a->data)
		return err_set(DN_ENOMEM, "%s: %s %s: out of memory", name, what,
		               npy_header_str(&a->h, hb, sizeof hb));
	return npy_read_data(f, name, &a->h, a->data, (size_t)a->h.count);
}

int layout_frame_read(FILE *f, const char *name, layout_frame *fr)
{
	memset(fr, 0, sizeof *fr);
	npy_array l = {0}, d = {0};
	float *pts = NULL;
	int64_t N = 0;
	int rc = layout_read(f, name, "points", &pts, &N);
	if (rc < 0)
		return rc;
	if ((rc = read_u8(f, name, "labels", N, &l)) < 0 ||
	    (rc = read_u8(f, name, "domains", N, &d)) < 0)
		goto fail;
	if ((rc = dataset_check_labels(l.data, N, 0, name)) < 0)
		goto fail;
	const uint8_t *dom = d.data;
	for (int64_t i = 0; i < N; i++) {
		if (dom[i] > 1) {
			rc = err_set(DN_ERANGE, "%s: domain %d of point %lld is not 0 (source) or 1 (target)",
			             name, dom[i], (long long)i);
			goto fail;
		}
	}
	fr->pts = pts;
	fr->labels = l.data;
	fr->domains = d.data;
	fr->n = N;
	return 0;
fail:
	free(pts);
	npy_free(&l);
	npy_free(&d);
	return rc;
}

void layout_frame_free(layout_frame *fr)
{
	free(fr->pts);
	free(fr->labels);
	free(fr->domains);
	memset(fr, 0, sizeof *fr);
}
