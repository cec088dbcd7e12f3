/* confusion.h - accuracy and the confusion matrix of digit predictions (dann-embed --accuracy). */
#ifndef DN_CONFUSION_H
#define DN_CONFUSION_H

#include <stdint.h>
#include <stdio.h>

#include "stream/dataset.h"

typedef struct {
	int64_t m[DATASET_CLASSES][DATASET_CLASSES];  /* m[true label][predicted label] */
	int64_t n, correct;
} confusion;

/* Count n predictions against the true labels (both digits 0..9, as dataset_check_labels
 * makes sure of for the labels and the network's argmax for the predictions). */
void confusion_count(confusion *c, const uint8_t *truth, const uint8_t *pred, int64_t n);
/* "accuracy: 0.9812 (9812/10000)", then the matrix, one row per true label, columns the
 * predicted labels separated by spaces.  DN_EIO on a write error (errno set). */
int confusion_write(FILE *f, const confusion *c);

#endif
