/* confusion.c - accuracy and confusion matrix (see confusion.h). */
#include "eval/confusion.h"

#include <errno.h>
#include <string.h>

#include "base/err.h"

void confusion_count(confusion *c, const uint8_t *truth, const uint8_t *pred, int64_t n)
{
	memset(c, 0, sizeof *c);
	for (int64_t i = 0; i < n; i++) {
		c->m[truth[i]][pred[i]]++;
		c->correct += truth[i] == pred[i];
	}
	c->n = n;
}

int confusion_write(FILE *f, const confusion *c)
{
	if (fprintf(f, "accuracy: %.4f (%lld/%lld)\n", c->n ? (double)c->correct / (double)c->n : 0.0,
	            (long long)c->correct, (long long)c->n) < 0)
		goto fail;
	for (int a = 0; a < DATASET_CLASSES; a++)
		for (int b = 0; b < DATASET_CLASSES; b++)
			if (fprintf(f, "%lld%c", (long long)c->m[a][b], b == DATASET_CLASSES - 1 ? '\n' : ' ') < 0)
				goto fail;
	return 0;
fail:;
	int e = errno; /* for the caller's write-error message */
	err_set(DN_EIO, "write error: %s", strerror(e));
	errno = e;
	return DN_EIO;
}
