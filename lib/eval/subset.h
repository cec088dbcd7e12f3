/* subset.h - which images of a source and a target dataset an evaluation uses: `per` of each
 * (all of them when per <= 0), a seeded random choice kept in stream order.
 *
 * dann-embed --per-domain and domain-distance --per-domain both pick with subset_pick, so for
 * the same seed the embedding of a model and the raw pixels are measured on the same images.
 * The images of domain d come from rng_subset(n, per, seed, SUBSET_STREAM + d): changing that
 * changes every --per-domain embedding made so far. */
#ifndef DN_SUBSET_H
#define DN_SUBSET_H

#include <stdint.h>

#include "stream/dataset.h"

#define SUBSET_STREAM 0x7000000

typedef struct {
	int64_t k[2];     /* images of domain 0 (source) and 1 (target) */
	int64_t *idx[2];  /* their indices in the dataset, increasing */
} subset;

/* DN_ERANGE "target: 101 images asked for, it has 100" if `per` exceeds a dataset, DN_ENOMEM. */
int subset_pick(subset *s, const dataset *source, const dataset *target, int64_t per, uint64_t seed);
int64_t subset_total(const subset *s);  /* k[0] + k[1] */
void subset_free(subset *s);

#endif
