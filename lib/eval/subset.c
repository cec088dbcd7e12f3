/* subset.c - the seeded per-domain subset (see subset.h). */
#include "eval/subset.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/rng.h"

int subset_pick(subset *s, const dataset *source, const dataset *target, int64_t per, uint64_t seed)
{
	memset(s, 0, sizeof *s);
	const dataset *ds[2] = {source, target};
	for (int d = 0; d < 2; d++)
		if (per > ds[d]->n)
			return err_set(DN_ERANGE, "%s: %lld images asked for, it has %lld",
			               d ? "target" : "source", (long long)per, (long long)ds[d]->n);
	for (int d = 0; d < 2; d++) {
		s->k[d] = per > 0 ? per : ds[d]->n;
		s->idx[d] = rng_subset(ds[d]->n, s->k[d], seed, SUBSET_STREAM + (uint64_t)d);
		if (!s->idx[d]) {
			subset_free(s);
			return err_set(DN_ENOMEM, "out of memory for a subset of %lld images", (long long)ds[d]->n);
		}
	}
	return 0;
}

int64_t subset_total(const subset *s)
{
	return s->k[0] + s->k[1];
}

void subset_free(subset *s)
{
	free(s->idx[0]);
	free(s->idx[1]);
	memset(s, 0, sizeof *s);
}
