/* rng.c - splitmix64 seeding + xoshiro256** (Blackman & Vigna 2018); see rng.h. */
#include "base/rng.h"

#include <math.h>
#include <stdlib.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t rng_hash(uint64_t seed, uint64_t a, uint64_t b)
{
	uint64_t x = seed;
	uint64_t h = splitmix64(&x);
	x = h ^ (a * 0xd1b54a32d192ed03ULL);
	h = splitmix64(&x);
	x = h ^ (b * 0x8cb92ba72f3d8dd7ULL);
	return splitmix64(&x);
}

void rng_seed(rng_t *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = rng_hash(seed, stream, 0x5eed);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

uint32_t rng_below(rng_t *r, uint32_t n)
{
	/* Lemire's multiply-shift with rejection: unbiased. */
	uint64_t m = (uint64_t)(uint32_t)(rng_next(r) >> 32) * n;
	uint32_t lo = (uint32_t)m;
	if (lo < n) {
		uint32_t t = (uint32_t)(-n) % n;
		while (lo < t) {
			m = (uint64_t)(uint32_t)(rng_next(r) >> 32) * n;
			lo = (uint32_t)m;
		}
	}
	return (uint32_t)(m >> 32);
}

double rng_uniform(rng_t *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

float rng_uniformf(rng_t *r)
{
	return (float)(rng_next(r) >> 40) * 0x1.0p-24f;
}

double rng_normal(rng_t *r)
{
	double u1 = 1.0 - rng_uniform(r); /* (0, 1] so log is finite */
	double u2 = rng_uniform(r);
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void rng_shuffle(rng_t *r, int64_t *idx, int64_t n)
{
	for (int64_t i = n - 1; i > 0; i--) {
		int64_t j = (int64_t)(rng_uniform(r) * (double)(i + 1));
		if (j > i)
			j = i;
		int64_t t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
	}
}

int64_t *rng_subset(int64_t n, int64_t k, uint64_t seed, uint64_t stream)
{
	int64_t *idx = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
	if (!idx)
		return NULL;
	for (int64_t i = 0; i < n; i++)
		idx[i] = i;
	if (k < n) {
		rng_t r;
		rng_seed(&r, seed, stream);
		rng_shuffle(&r, idx, n);
		/* sort the first k */
		char *mark = calloc((size_t)n, 1);
		if (!mark) {
			free(idx);
			return NULL;
		}
		for (int64_t i = 0; i < k; i++)
			mark[idx[i]] = 1;
		int64_t w = 0;
		for (int64_t i = 0; i < n; i++)
			if (mark[i])
				idx[w++] = i;
		free(mark);
	}
	return idx;
}
