/* test_tsne_opt.c - the optimiser's compact stream of P (lib/tsne/optimize.c's own static
 * functions, reached by including that file: this program links it in place of the library's
 * copy).  Packed from P, then renumbered from itself twice (a scattering order, then a local
 * one), the stream must hold every nonzero of P once, at its renumbered column, with its value
 * to binary16 precision, near columns as offsets and far ones in the far list; and where the
 * CPU has AVX-512, the attraction read from it must match one summed here in double. */
#include "../../lib/tsne/optimize.c"

#include <stdio.h>

#include "base/rng.h"
#include "check.h"

enum { N = 40000, DEG = 7 };

/* P: row i has columns i +- 1, i +- 5, i + 20000 (mod N: far from its row in index order),
 * and two drawn at random; values in (0, 1] of a per-row magnitude spanning 2^-20..2^0, one a
 * row tiny enough (2^-40 of the row's largest) to be held as 0. */
static void make_p(tsne_sparse *P)
{
	P->n = N;
	P->row = malloc((N + 1) * sizeof *P->row);
	P->col = malloc((size_t)N * DEG * sizeof *P->col);
	P->val = malloc((size_t)N * DEG * sizeof *P->val);
	rng_t r;
	rng_seed(&r, 11, 0);
	for (int64_t i = 0; i < N; i++) {
		P->row[i] = i * DEG;
		int64_t js[DEG] = {i + 1, i + N - 1, i + 5, i + N - 5, i + 20000,
		                   (int64_t)(rng_uniform(&r) * N), (int64_t)(rng_uniform(&r) * N)};
		double mag = ldexp(1, -(int)(i % 21));
		for (int k = 0; k < DEG; k++) {
			P->col[i * DEG + k] = (int32_t)(js[k] % N);
			P->val[i * DEG + k] = k == 6 ? mag * 0x1p-40 : mag * (0.05 + 0.95 * rng_uniform(&r));
		}
	}
	P->row[N] = (int64_t)N * DEG;
}

/* Row t of the stream s must hold P's row perm[t] (columns through inv); counts the
 * entries checked and the far ones into *nchk, *nfar; returns the number of mismatches. */
static int check_row(const att_stream *s, const tsne_sparse *P, const int32_t *perm,
                     const int32_t *inv, int64_t t, int64_t *nchk, int64_t *nfar)
{
	int32_t col[4 * DEG];
	double val[4 * DEG];
	int m = 0, bad = 0;
	for (int64_t v = 0; v < s->row[t + 1] - s->row[t]; v++) {
		const uint16_t *c = s->ch + s->row[t] * 2 + att_at(v);
		if (c[ATT_PAD] && m < 4 * DEG)
			col[m] = (int32_t)(t + (int16_t)c[0]), val[m++] = att_float(c[ATT_PAD]) * s->scale[t];
	}
	for (int64_t u = s->frow[t]; u < s->frow[t + 1] && m < 4 * DEG; u++) {
		col[m] = s->fcol[u], val[m++] = s->fval[u];
		bad += att_near(s->fcol[u], t); /* a near column belongs in the chunks */
		(*nfar)++;
	}
	int64_t o = perm[t];
	double mx = 0;
	for (int64_t u = P->row[o]; u < P->row[o + 1]; u++)
		mx = fmax(mx, P->val[u]);
	int found = 0;
	for (int64_t u = P->row[o]; u < P->row[o + 1]; u++) {
		if (P->val[u] < 0x1p-27 * mx)
			continue; /* may be held as 0 */
		int hit = 0;
		for (int k = 0; k < m; k++)
			if (col[k] == inv[P->col[u]] && fabs(val[k] - P->val[u]) <= 0x1p-11 * P->val[u])
				hit++;
		bad += hit != 1;
		found++;
	}
	int nz = 0; /* stored nonzeros: those checked, and tiny ones */
	for (int k = 0; k < m; k++)
		nz += val[k] >= 0x1p-27 * mx;
	bad += nz != found;
	*nchk += found;
	return bad;
}

/* Check every row of s; report what was checked under the label. */
static void check_stream(const char *what, const att_stream *s, const tsne_sparse *P,
                         const int32_t *perm, const int32_t *inv)
{
	int64_t nchk = 0, nfar = 0, bad = 0;
	for (int64_t t = 0; t < N; t++)
		bad += check_row(s, P, perm, inv, t, &nchk, &nfar);
	printf("  %s: %lld nonzeros checked, %lld far, %lld mismatches\n", what, (long long)nchk,
	       (long long)nfar, (long long)bad);
	CHECK_MSG(bad == 0, "%s: %lld mismatches", what, (long long)bad);
	CHECK(nfar > 0 && nchk > (int64_t)N * (DEG - 1) * 9 / 10);
}

/* Renumber s into d by order (new t = old order[t]), perm and inv following. */
static void renumber_stream(att_stream *d, att_stream *s, const int32_t *order, int32_t *perm,
                            int32_t *inv)
{
	int32_t *p2 = malloc(N * sizeof *p2);
	for (int64_t t = 0; t < N; t++)
		s->oinv[order[t]] = (int32_t)t, p2[t] = perm[order[t]];
	CHECK(att_repack(d, s, order, s->oinv, N) == 0);
	memcpy(perm, p2, N * sizeof *perm);
	for (int64_t t = 0; t < N; t++)
		inv[perm[t]] = (int32_t)t;
	att_stream a = *s;
	*s = *d, *d = a;
	free(p2);
}

static void test_compact_stream(void)
{
	tsne_sparse P;
	make_p(&P);
	att_stream s, d;
	CHECK(att_new(&s, &P, 1) == 0 && att_new(&d, &P, 1) == 0);
	int32_t *perm = malloc(N * sizeof *perm), *inv = malloc(N * sizeof *inv);
	int32_t *order = malloc(N * sizeof *order);
	for (int64_t t = 0; t < N; t++)
		perm[t] = inv[t] = (int32_t)t;
	CHECK(att_pack(&s, &P, perm, inv) == 0);
	check_stream("packed from P", &s, &P, perm, inv);
	for (int64_t t = 0; t < N; t++) /* scattering: near columns go far and far ones near */
		order[t] = (int32_t)((t * 7919 + 13) % N);
	renumber_stream(&d, &s, order, perm, inv);
	check_stream("renumbered, scattered", &s, &P, perm, inv);
	for (int64_t t = 0; t < N; t++) /* local: neighbours in pairs swapped */
		order[t] = (int32_t)(t ^ 1) < N ? (int32_t)(t ^ 1) : (int32_t)t;
	renumber_stream(&d, &s, order, perm, inv);
	check_stream("renumbered again, locally", &s, &P, perm, inv);
#ifdef ATT_AVX512
	if (tsne_use_avx512()) {
		rng_t r;
		rng_seed(&r, 12, 0);
		uint64_t *yp = malloc(N * sizeof *yp);
		float *att = malloc(N * 2 * sizeof *att);
		for (int64_t t = 0; t < N; t++) {
			float xy[2] = {(float)rng_normal(&r), (float)rng_normal(&r)};
			memcpy(yp + t, xy, sizeof xy);
		}
		attract(att, yp, &s, 0, N, 1);
		double num = 0, den = 0;
		for (int64_t t = 0; t < N; t++) {
			float pi[2], q[2];
			memcpy(pi, yp + t, sizeof pi);
			double ax = 0, ay = 0;
			for (int64_t u = P.row[perm[t]]; u < P.row[perm[t] + 1]; u++) {
				memcpy(q, yp + inv[P.col[u]], sizeof q);
				double dx = (double)pi[0] - q[0], dy = (double)pi[1] - q[1];
				double w = P.val[u] / (1 + dx * dx + dy * dy);
				ax += w * dx, ay += w * dy;
			}
			num += (ax - att[2 * t]) * (ax - att[2 * t]) + (ay - att[2 * t + 1]) * (ay - att[2 * t + 1]);
			den += ax * ax + ay * ay;
		}
		printf("  attraction from the renumbered stream: relative error %.3g\n", sqrt(num / den));
		CHECK(sqrt(num / den) < 1e-3);
		free(yp), free(att);
	} else {
		printf("  (no AVX-512: the compact stream's attraction not run)\n");
	}
#endif
	att_free(&s), att_free(&d);
	free(perm), free(inv), free(order);
	free(P.row), free(P.col), free(P.val);
}

int main(void)
{
	test_compact_stream();
	return check_summary("test_tsne_opt");
}
