/* dataset.h - the dataset stream the tools exchange (man/dann-tensor.5): images (N,H,W) or
 * (N,H,W,C) uint8, then labels (N,) uint8 with values 0..9, and nothing after.  MNIST is stored
 * as (N,28,28): grayscale has no channel axis; RGB is (N,H,W,3).
 *
 * The whole-stream reader and writer live here, and so do the checks a streaming reader
 * (dann-embed, mnistm-gen) makes array by array, so that every tool accepts and refuses the
 * same streams with the same messages.  dataset_check_labels() is the one label validator:
 * the IDX reader (idx_check_dataset) calls it too.  The NPY array format itself is npy.h.
 * Every function returns 0 or a negative DN_E* code with err_msg() set; nothing prints. */
#ifndef DN_DATASET_H
#define DN_DATASET_H

#include <stdint.h>
#include <stdio.h>

#include "stream/npy.h"

#define DATASET_CLASSES 10  /* labels are digits 0..9 */
#define DATASET_MAX_SIDE 4096

typedef struct {
	int64_t n;
	int h, w, c;        /* c = 1 for (N,H,W) */
	uint8_t *images;    /* n*h*w*c, HWC order per image */
	uint8_t *labels;    /* n */
} dataset;

/* Check an images header: uint8, rank 3 or rank 4 with C in {1,3}, sides 1..DATASET_MAX_SIDE;
 * sets n/h/w/c of `d`. */
int dataset_check_images(const npy_header *h, const char *name, dataset *d);

/* The label validator: every one of `count` labels is a digit, < DATASET_CLASSES.  labels[0]
 * is label number `first` of the dataset (a reader checking chunk by chunk), so the message
 * names the index in the whole dataset: "NAME: label 10 at index 3 is out of range 0..9". */
int dataset_check_labels(const uint8_t *labels, int64_t count, int64_t first, const char *name);

/* Read the header of the labels that follow `n` images: the stream must not end there
 * ("no labels array"), and the labels must be (n,) uint8. */
int dataset_read_labels_header(FILE *f, const char *name, int64_t n, npy_header *lh);
/* Read the next `count` labels of the array whose header was read, label number `first` first,
 * and check them (dataset_check_labels). */
int dataset_read_labels(FILE *f, const char *name, const npy_header *lh, uint8_t *buf,
                        int64_t count, int64_t first);
/* The stream must end after the labels: a second dataset concatenated is refused, not
 * half-read (npy_expect_end). */
int dataset_expect_end(FILE *f, const char *name);

/* Read images then labels entirely into memory, with the checks above. */
int dataset_read(FILE *f, const char *name, dataset *d);
int dataset_write(FILE *f, const dataset *d);
void dataset_free(dataset *d);

/* Image i of `d` with `c` channels into out (h*w*c bytes): a copy when c is d's own channel
 * count, else (a grey image, c = 3) the one channel repeated, as the network sees it. */
void dataset_image(const dataset *d, int64_t i, int c, uint8_t *out);

#endif
