/* rng.h - seeded, counter-based random numbers.  No rand(), no time-based seeds.
 *
 * rng_seed(&r, seed, stream) derives an independent xoshiro256** state from (seed, stream) with
 * splitmix64, so "the random numbers of image i" are rng_seed(&r, seed, i): any slice of a job
 * can be regenerated alone and work can be split across threads without changing results. */
#ifndef DN_RNG_H
#define DN_RNG_H

#include <stdint.h>

typedef struct { uint64_t s[4]; } rng_t;

/* Stateless mix of (seed, a, b) into 64 random bits. */
uint64_t rng_hash(uint64_t seed, uint64_t a, uint64_t b);
void rng_seed(rng_t *r, uint64_t seed, uint64_t stream);
/* The xoshiro256** step, inline: hot loops (mnistm-gen's per-pixel noise) call it per word. */
static inline uint64_t rng_rotl_(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}
static inline uint64_t rng_next(rng_t *r)
{
	uint64_t *s = r->s;
	uint64_t result = rng_rotl_(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rng_rotl_(s[3], 45);
	return result;
}
uint32_t rng_below(rng_t *r, uint32_t n);  /* uniform in [0, n), unbiased; n > 0 */
double rng_uniform(rng_t *r);              /* [0, 1) with 53 bits */
float rng_uniformf(rng_t *r);              /* [0, 1) with 24 bits */
double rng_normal(rng_t *r);               /* standard normal (Box-Muller, no cached pair) */
/* Fisher-Yates shuffle of idx[0..n) */
void rng_shuffle(rng_t *r, int64_t *idx, int64_t n);
/* A seeded subset of k of the indices 0..n-1 (all n when k >= n), in increasing order, in a
 * malloc'd array of n entries; NULL when out of memory.  dann-embed --per-domain and
 * domain-distance --per-domain pick their images with it. */
int64_t *rng_subset(int64_t n, int64_t k, uint64_t seed, uint64_t stream);

#endif
