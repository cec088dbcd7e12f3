/* pad.c - the proxy A-distance with liblinear's linear SVMs; see pad.h. */
#include "eval/pad.h"

#include <linear.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "eval/subset.h"

/* liblinear prints its solver's progress to stdout unless told otherwise: stdout is data. */
static void quiet(const char *s)
{
	(void)s;
}

void pad_opts_default(pad_opts *o)
{
	memset(o, 0, sizeof *o);
	o->protocol = PAD_PAPER;
	o->scale = 1;
	/* The L2-loss (squared hinge) linear SVM in the primal (liblinear -s 2, trust-region Newton):
	 * warm-started along C it is 3-4x cheaper than the hinge loss of the authors' SVC, whose
	 * dual solver starts every C from zero (measured; --solver hinge in the tool). */
	o->solver = L2R_L2LOSS_SVC;
	o->tol = 0.01; /* liblinear's default for -s 2 */
	o->nc = 10;
	for (int i = 0; i < 10; i++)
		o->C[i] = pow(10.0, i - 5); /* 1e-5 .. 1e4, np.logspace(-5, 4, 10) */
	o->seed = 1;
}

/* Which part each row belongs to: 0 train, 1 validation, 2 test.  Each domain's rows are taken
 * in stream order: the first half (rounded down, as int(n/2) in the authors' code) trains; the
 * rest tests, or (held-out) its first half validates and the remainder tests. */
static void split(const uint8_t *dom, int64_t n, int held_out, const int64_t cnt[2],
                  uint8_t *part, pad_result *r)
{
	int64_t seen[2] = {0, 0};
	for (int k = 0; k < 2; k++) {
		r->n_train[k] = cnt[k] / 2;
		r->n_val[k] = held_out ? (cnt[k] - r->n_train[k]) / 2 : 0;
		r->n_test[k] = cnt[k] - r->n_train[k] - r->n_val[k];
	}
	for (int64_t i = 0; i < n; i++) {
		int k = dom[i];
		int64_t s = seen[k]++;
		part[i] = s < r->n_train[k] ? 0 : s < r->n_train[k] + r->n_val[k] ? 1 : 2;
	}
}

/* Error of `m` on the rows of part `p` (counting both domains together, as the authors do). */
static double error_on(const struct model *m, struct feature_node **rows, const uint8_t *dom,
                       const uint8_t *part, int64_t n, int p)
{
	int64_t wrong = 0, tot = 0;
	for (int64_t i = 0; i < n; i++) {
		if (part[i] != p)
			continue;
		tot++;
		wrong += (int)predict(m, rows[i]) != dom[i];
	}
	return tot ? (double)wrong / (double)tot : 0.0;
}

int pad_compute(const float *x, const uint8_t *dom, int64_t n, int64_t d, const pad_opts *o,
                pad_result *r)
{
	memset(r, 0, sizeof *r);
	if (o->nc < 1 || o->nc > PAD_MAX_C || d < 1 || d >= INT32_MAX - 1 || n >= INT32_MAX)
		return err_set(DN_EARG, "pad: bad options or sizes (%d values of C, %lld x %lld)", o->nc,
		               (long long)n, (long long)d);
	int64_t cnt[2] = {0, 0};
	for (int64_t i = 0; i < n; i++) {
		if (dom[i] > 1)
			return err_set(DN_ERANGE, "domains: value %d at index %lld is neither 0 (source) nor 1 (target)",
			               dom[i], (long long)i);
		cnt[dom[i]]++;
	}
	int64_t need = o->protocol == PAD_HELD_OUT ? 2 * PAD_MIN_ROWS : PAD_MIN_ROWS;
	for (int k = 0; k < 2; k++)
		if (cnt[k] < need)
			return err_set(DN_ERANGE, "%s domain has %lld rows; the %s protocol needs at least %lld",
			               k ? "target" : "source", (long long)cnt[k],
			               o->protocol == PAD_HELD_OUT ? "held-out" : "paper's", (long long)need);
	for (int64_t i = 0; i < n * d; i++)
		if (!isfinite(x[i]))
			return err_set(DN_ERANGE, "features: non-finite value %g at row %lld, column %lld",
			               (double)x[i], (long long)(i / d), (long long)(i % d));

	int rc = DN_ENOMEM;
	uint8_t *part = malloc((size_t)n);
	double *mean = calloc((size_t)d, sizeof *mean), *sd = calloc((size_t)d, sizeof *sd);
	double *y = malloc(sizeof *y * (size_t)n);
	struct feature_node **rows = malloc(sizeof *rows * (size_t)n);
	/* dense rows: d features, the bias node, the terminator */
	struct feature_node *nodes = malloc(sizeof *nodes * (size_t)n * (size_t)(d + 2));
	struct feature_node **trows = malloc(sizeof *trows * (size_t)n);
	if (!part || !mean || !sd || !y || !rows || !nodes || !trows)
		goto out;
	split(dom, n, o->protocol == PAD_HELD_OUT, cnt, part, r);

	/* standardisation with the training rows only (the test rows stay unseen) */
	int64_t ntr = r->n_train[0] + r->n_train[1];
	for (int64_t j = 0; j < d; j++)
		sd[j] = 1.0;
	if (o->scale) {
		for (int64_t i = 0; i < n; i++)
			if (part[i] == 0)
				for (int64_t j = 0; j < d; j++)
					mean[j] += x[i * d + j];
		for (int64_t j = 0; j < d; j++)
			mean[j] /= (double)ntr;
		for (int64_t j = 0; j < d; j++)
			sd[j] = 0.0;
		for (int64_t i = 0; i < n; i++)
			if (part[i] == 0)
				for (int64_t j = 0; j < d; j++) {
					double v = x[i * d + j] - mean[j];
					sd[j] += v * v;
				}
		for (int64_t j = 0; j < d; j++) {
			sd[j] = sqrt(sd[j] / (double)ntr);
			if (!(sd[j] > 1e-12)) /* a constant feature: centred, not scaled */
				sd[j] = 1.0;
		}
	}
	int64_t t = 0;
	for (int64_t i = 0; i < n; i++) {
		struct feature_node *row = nodes + (size_t)i * (size_t)(d + 2);
		for (int64_t j = 0; j < d; j++) {
			row[j].index = (int)j + 1;
			row[j].value = (x[i * d + j] - mean[j]) / sd[j];
		}
		row[d].index = (int)d + 1; /* liblinear's bias feature (train -B 1) */
		row[d].value = 1.0;
		row[d + 1].index = -1;
		rows[i] = row;
		if (part[i] == 0) {
			trows[t] = row;
			y[t++] = dom[i];
		}
	}
	struct problem prob = {.l = (int)ntr, .n = (int)d + 1, .y = y, .x = trows, .bias = 1.0};
	set_print_string_function(quiet);

	/* The primal solvers (squared hinge, logistic) start each C from the solution of the next
	 * smaller one, as liblinear's own C search does; C values are split into two chains of
	 * neighbours run in parallel, so the result does not depend on the number of threads.
	 * The dual solvers shuffle with rand(): one chain, one thread, srand(seed) before each. */
	int warm = o->solver == L2R_L2LOSS_SVC || o->solver == L2R_LR;
	int nchain = warm && o->nc > 1 ? 2 : 1, failed = 0;
	{
		struct parameter par = {.solver_type = o->solver, .eps = o->tol, .C = o->C[0]};
		const char *bad = check_parameter(&prob, &par);
		if (bad) {
			rc = err_set(DN_EARG, "liblinear: %s", bad);
			goto out;
		}
	}
#pragma omp parallel for schedule(static, 1) num_threads(nchain) reduction(| : failed)
	for (int ch = 0; ch < nchain; ch++) {
		int c0 = o->nc * ch / nchain, c1 = o->nc * (ch + 1) / nchain;
		double *w0 = NULL;
		for (int c = c0; c < c1 && !failed; c++) {
			struct parameter par = {.solver_type = o->solver, .eps = o->tol, .C = o->C[c],
			                        .init_sol = w0};
			if (!warm)
				srand(o->seed); /* the dual coordinate-descent solvers shuffle with rand() */
			struct model *m = train(&prob, &par);
			if (!m) {
				failed = 1;
				break;
			}
			r->test_err[c] = error_on(m, rows, dom, part, n, 2);
			if (o->protocol == PAD_HELD_OUT)
				r->val_err[c] = error_on(m, rows, dom, part, n, 1);
			if (warm) {
				free(w0);
				w0 = malloc(sizeof *w0 * (size_t)(d + 1));
				if (!w0)
					failed = 1;
				else
					memcpy(w0, m->w, sizeof *w0 * (size_t)(d + 1));
			}
			free_and_destroy_model(&m);
		}
		free(w0);
	}
	if (failed)
		goto out;
	/* choose on the test error (paper) or the validation error (held-out), an error above 0.5
	 * standing for the inverted classifier's 1 - error */
	double best = INFINITY;
	for (int c = 0; c < o->nc; c++) {
		double e = o->protocol == PAD_HELD_OUT ? r->val_err[c] : r->test_err[c];
		int flip = e > 0.5;
		if (flip)
			e = 1.0 - e;
		if (e < best) {
			best = e;
			r->C = o->C[c];
			r->flipped = flip;
			r->eps = flip ? 1.0 - r->test_err[c] : r->test_err[c];
		}
	}
	r->pad = 2.0 * (1.0 - 2.0 * r->eps);
	rc = 0;
out:
	if (rc == DN_ENOMEM)
		err_set(DN_ENOMEM, "pad: out of memory (%lld x %lld features)", (long long)n, (long long)d);
	free(part);
	free(mean);
	free(sd);
	free(y);
	free(rows);
	free(nodes);
	free(trows);
	return rc;
}

int pad_read_embedding(FILE *f, const char *name, pad_input *in)
{
	memset(in, 0, sizeof *in);
	npy_array a[3];
	static const char *what[3] = {"features", "labels", "domains"};
	int rc = 0, got = 0;
	for (; got < 3; got++) {
		if ((rc = npy_read_array(f, name, &a[got])) < 0) {
			if (rc == DN_EEOF)
				rc = err_set(DN_EFORMAT, "%s: %s: stream ended after %d array%s (features, labels, domains expected)",
				             name, what[got], got, got == 1 ? "" : "s");
			goto fail;
		}
		if ((rc = npy_expect(&a[got].h, name, what[got], got ? NPY_U8 : NPY_F32, got ? 1 : 2)) < 0) {
			got++;
			goto fail;
		}
	}
	int64_t n = a[0].h.shape[0];
	for (int k = 1; k < 3; k++)
		if (a[k].h.shape[0] != n) {
			rc = err_set(DN_EFORMAT, "%s: %s: %lld rows, but the features have %lld", name, what[k],
			             (long long)a[k].h.shape[0], (long long)n);
			goto fail;
		}
	if (a[0].h.shape[1] < 1) {
		rc = err_set(DN_EFORMAT, "%s: features: no columns", name);
		goto fail;
	}
	in->n = n;
	in->d = a[0].h.shape[1];
	in->x = a[0].data;
	in->dom = a[2].data;
	npy_free(&a[1]);
	return 0;
fail:
	for (int k = 0; k < got; k++)
		npy_free(&a[k]);
	return rc;
}

int pad_from_datasets(const dataset *source, const dataset *target, int64_t per,
                      uint64_t seed, pad_input *in)
{
	memset(in, 0, sizeof *in);
	const dataset *ds[2] = {source, target};
	if (source->h != target->h || source->w != target->w)
		return err_set(DN_EFORMAT, "source images are %dx%d, target images %dx%d: not comparable",
		               source->w, source->h, target->w, target->h);
	int c = source->c > target->c ? source->c : target->c;
	size_t px = (size_t)source->h * (size_t)source->w, len = px * (size_t)c;
	subset sub;
	int rc = subset_pick(&sub, source, target, per, seed);
	if (rc < 0)
		return rc;
	int64_t n = subset_total(&sub);
	in->x = malloc(sizeof *in->x * (size_t)(n ? n : 1) * len);
	in->dom = malloc((size_t)(n ? n : 1));
	uint8_t *img = malloc(len);
	if (!in->x || !in->dom || !img) {
		free(img);
		subset_free(&sub);
		pad_input_free(in);
		return err_set(DN_ENOMEM, "pad: out of memory (%lld images of %zu pixels)", (long long)n, px);
	}
	int64_t w = 0;
	for (int s = 0; s < 2; s++)
		for (int64_t i = 0; i < sub.k[s]; i++, w++) {
			/* grey as RGB when the other domain is RGB, scaled to [-1,1] as the network sees it */
			dataset_image(ds[s], sub.idx[s][i], c, img);
			float *o = in->x + (size_t)w * len;
			for (size_t p = 0; p < len; p++)
				o[p] = (float)img[p] / 127.5f - 1.0f;
			in->dom[w] = (uint8_t)s;
		}
	free(img);
	subset_free(&sub);
	in->n = n;
	in->d = (int64_t)len;
	return 0;
}

void pad_input_free(pad_input *in)
{
	free(in->x);
	free(in->dom);
	memset(in, 0, sizeof *in);
}
