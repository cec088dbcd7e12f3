/* dataset.c - the dataset stream: reader, writer, and the checks of its images and labels
 * (see dataset.h). */
#include "stream/dataset.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"

int dataset_check_images(const npy_header *h, const char *name, dataset *d)
{
	char s[128];
	if (h->dtype != NPY_U8 || (h->ndim != 3 && h->ndim != 4) ||
	    (h->ndim == 4 && h->shape[3] != 1 && h->shape[3] != 3))
		return err_set(DN_EFORMAT, "%s: images: expected uint8 (N,H,W) or (N,H,W,C) with C 1 or 3, got %s",
		               name, npy_header_str(h, s, sizeof s));
	if (h->shape[1] < 1 || h->shape[2] < 1 || h->shape[1] > DATASET_MAX_SIDE ||
	    h->shape[2] > DATASET_MAX_SIDE)
		return err_set(DN_EFORMAT, "%s: images: bad image size %lldx%lld", name, (long long)h->shape[1],
		               (long long)h->shape[2]);
	d->n = h->shape[0];
	d->h = (int)h->shape[1];
	d->w = (int)h->shape[2];
	d->c = h->ndim == 4 ? (int)h->shape[3] : 1;
	return 0;
}

int dataset_check_labels(const uint8_t *labels, int64_t count, int64_t first, const char *name)
{
	for (int64_t i = 0; i < count; i++)
		if (labels[i] >= DATASET_CLASSES)
			return err_set(DN_ERANGE, "%s: label %d at index %lld is out of range 0..%d", name,
			               labels[i], (long long)(first + i), DATASET_CLASSES - 1);
	return 0;
}

int dataset_read_labels_header(FILE *f, const char *name, int64_t n, npy_header *lh)
{
	int rc = npy_read_header(f, name, lh);
	if (rc == DN_EEOF)
		return err_set(DN_EFORMAT, "%s: no labels array: the stream ended after the images "
		               "(labels (N,) uint8 expected)", name);
	if (rc < 0)
		return rc;
	char s[128];
	if (lh->dtype != NPY_U8 || lh->ndim != 1)
		return err_set(DN_EFORMAT, "%s: labels: expected uint8 (%lld,), got %s", name, (long long)n,
		               npy_header_str(lh, s, sizeof s));
	if (lh->shape[0] != n)
		return err_set(DN_EFORMAT, "%s: labels: expected uint8 (%lld,), got %s: %lld labels for "
		               "%lld images", name, (long long)n, npy_header_str(lh, s, sizeof s),
		               (long long)lh->shape[0], (long long)n);
	return 0;
}

int dataset_read_labels(FILE *f, const char *name, const npy_header *lh, uint8_t *buf,
                        int64_t count, int64_t first)
{
	int rc = npy_read_data(f, name, lh, buf, (size_t)count);
	if (rc < 0)
		return rc;
	return dataset_check_labels(buf, count, first, name);
}

int dataset_expect_end(FILE *f, const char *name)
{
	return npy_expect_end(f, name, "labels");
}

int dataset_read(FILE *f, const char *name, dataset *d)
{
	npy_header h, lh;
	memset(d, 0, sizeof *d);
	int rc = npy_read_header(f, name, &h);
	if (rc < 0)
		return rc;
	if ((rc = dataset_check_images(&h, name, d)) < 0)
		return rc;
	d->images = malloc(h.nbytes ? h.nbytes : 1);
	if (!d->images)
		return err_set(DN_ENOMEM, "%s: out of memory for %lld images", name, (long long)d->n);
	if ((rc = npy_read_data(f, name, &h, d->images, (size_t)h.count)) < 0)
		goto fail;
	if ((rc = dataset_read_labels_header(f, name, d->n, &lh)) < 0)
		goto fail;
	d->labels = malloc(d->n ? (size_t)d->n : 1);
	if (!d->labels) {
		rc = err_set(DN_ENOMEM, "%s: out of memory", name);
		goto fail;
	}
	if ((rc = dataset_read_labels(f, name, &lh, d->labels, d->n, 0)) < 0)
		goto fail;
	if ((rc = dataset_expect_end(f, name)) < 0)
		goto fail;
	return 0;
fail:
	dataset_free(d);
	return rc;
}

int dataset_write(FILE *f, const dataset *d)
{
	int64_t shape[4] = {d->n, d->h, d->w, d->c};
	int rc = npy_write_array(f, NPY_U8, d->c == 1 ? 3 : 4, shape, d->images);
	if (rc < 0)
		return rc;
	return npy_write_array(f, NPY_U8, 1, shape, d->labels);
}

void dataset_free(dataset *d)
{
	free(d->images);
	free(d->labels);
	d->images = d->labels = NULL;
}

void dataset_image(const dataset *d, int64_t i, int c, uint8_t *out)
{
	size_t px = (size_t)d->h * (size_t)d->w, dc = (size_t)d->c;
	const uint8_t *im = d->images + (size_t)i * px * dc;
	if ((size_t)c == dc) {
		memcpy(out, im, px * dc);
		return;
	}
	for (size_t p = 0; p < px; p++)
		for (int ch = 0; ch < c; ch++)
			out[p * (size_t)c + (size_t)ch] = im[p * dc];
}
