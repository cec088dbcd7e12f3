/* model.h - the DANN network for digits (Ganin et al. 2016, MNIST architecture) and its file.
 *
 * Feature extractor (input (B,H,W,3), H = W = 28 or 32, scaled to [-1,1]):
 *   conv 5x5 32 -> BN -> ReLU -> max-pool 2 -> conv 5x5 48 -> BN -> ReLU -> Dropout2d(0.5)
 *   -> max-pool 2 -> flatten (H,W,C order) to F = 48*4*4 = 768 (28x28) or 48*5*5 = 1200 (32x32)
 * Label predictor: fc 100 -> BN -> ReLU -> fc 100 -> BN -> ReLU -> fc 10
 * Domain classifier, behind the gradient reversal layer: fc 100 -> BN -> ReLU -> fc 1 (logit)
 * MODEL_ARCH_SEED is that network; MODEL_ARCH_PAPER drops every BN and the dropout.
 *
 * Computed as conv -> BN -> max-pool -> ReLU -> Dropout2d: max-pool commutes with the
 * (monotone) ReLU and with the per-channel non-negative dropout scale, so the function and its
 * gradient are the same (up to ties) at a quarter of the cost.
 *
 * The file format (man/dann-model.5) is a tensor stream: an int64 (16,) header, then every
 * parameter (float32, in the order of the table in model.c), then the BatchNorm running
 * statistics (with two sets, the target's follow the source's); a training checkpoint adds
 * the momentum buffers and the training state (train.h). */
#ifndef DN_MODEL_H
#define DN_MODEL_H

#include <stdint.h>
#include <stdio.h>

enum { MODEL_ARCH_SEED = 0, MODEL_ARCH_PAPER = 1 };
enum { MODEL_KIND_MODEL = 0, MODEL_KIND_CHECKPOINT = 1 };
enum { MODEL_LAYER_FEATURES = 0, MODEL_LAYER_LABEL_HIDDEN, MODEL_LAYER_LOGITS,
       MODEL_LAYER_DOMAIN_HIDDEN };

#define MODEL_MAGIC 1684106862  /* the bytes "nnad" read as little-endian int32 -> "dann" */
#define MODEL_VERSION 1
#define MODEL_HDR_LEN 16
#define MODEL_MAX_TENSORS 40
#define MODEL_CLASSES 10
#define MODEL_HIDDEN 100
#define MODEL_C1 32
#define MODEL_C2 48
#define MODEL_KS 5

/* The header of the file: int64 (MODEL_HDR_LEN,), these fields in this order (dann-model(5)). */
typedef struct {
	int64_t magic, version, kind, arch;
	int64_t H, W, C, F, classes;
	int64_t nparams, nstats;     /* parameter and statistics arrays that follow */
	int64_t step, total;         /* training steps done, and of the whole run */
	int64_t stat_sets;           /* 2: running statistics per domain; 0: one set */
	int64_t zero[2];
} model_header;
_Static_assert(sizeof(model_header) == MODEL_HDR_LEN * sizeof(int64_t), "header layout");

/* Views into one parameter-shaped block (parameters, gradients or momentum). */
typedef struct {
	float *c1w, *c1b, *bn1g, *bn1b;          /* (32,5,5,3) (32) (32) (32) */
	float *c2w, *c2b, *bn2g, *bn2b;          /* (48,5,5,32) (48) (48) (48) */
	float *l1w, *l1b, *lbn1g, *lbn1b;        /* (100,F) (100) (100) (100) */
	float *l2w, *l2b, *lbn2g, *lbn2b;        /* (100,100) (100) (100) (100) */
	float *l3w, *l3b;                        /* (10,100) (10) */
	float *d1w, *d1b, *dbn1g, *dbn1b;        /* (100,F) (100) (100) (100) */
	float *d2w, *d2b;                        /* (1,100) (1) */
} model_params;

/* Views into one set of BatchNorm running statistics.  A model trained with BatchNorm
 * statistics per domain (dann-train --bn-stats per-domain) keeps two sets: the source's and
 * the target's running statistics of bn1, bn2 and domain.bn1 (the layers both halves pass
 * through with their own batch statistics); label.bn1/bn2 only ever see source rows, so both
 * sets share them. */
typedef struct {
	float *bn1m, *bn1v, *bn2m, *bn2v;        /* (32) (32) (48) (48) */
	float *lbn1m, *lbn1v, *lbn2m, *lbn2v;    /* (100) each */
	float *dbn1m, *dbn1v;                    /* (100) each */
} model_stats;

/* How a tensor starts (PyTorch's defaults): WEIGHT uniform in +-1/sqrt(fan_in), fan_in the
 * product of all but its first dimension; BIAS the same with its weight's fan_in; ONE, ZERO. */
enum { MODEL_INIT_WEIGHT, MODEL_INIT_BIAS, MODEL_INIT_ONE, MODEL_INIT_ZERO };

/* One tensor of the file (from the table in model.c). */
typedef struct {
	const char *name;
	int ndim;
	int64_t shape[4];
	size_t off, n;     /* offset and length in floats in its block */
	size_t view;       /* offsetof its view in model_params (parameters) or model_stats */
	int init;          /* MODEL_INIT_* */
	int set;           /* statistics: the set it belongs to (0 source, 1 target) */
} model_tensor;

typedef struct {
	int arch, bn;      /* bn: has BatchNorm and dropout (ARCH_SEED) */
	int H, W;          /* input size */
	int c1h, c1w, p1h, p1w, c2h, c2w, p2h, p2w, F;
	int nt, ns;        /* number of parameter / statistics tensors */
	int domains;       /* sets of running statistics: 1, or 2 (source, target) */
	model_tensor t[MODEL_MAX_TENSORS], st[MODEL_MAX_TENSORS];
	size_t nparams, nstats;
	float *params;     /* one contiguous block of nparams floats */
	float *stats;      /* nstats floats */
	model_params p;
	model_stats s[2];  /* the sets of domain 0 (source) and 1 (target); equal when domains = 1 */
	int64_t step, total_steps;  /* from the file header (0 for a fresh model) */
} model;

/* Activations (or, for a gradient set, their gradients) for batches up to B rows: one block. */
typedef struct {
	int B;
	float *block; size_t nzero;   /* the first nzero floats are zeroed per step (gradients) */
	float *x;                     /* (B,H,W,3) input */
	float *c1, *n1, *p1, *r1;     /* (B,c1h,c1w,32) x2, (B,p1h,p1w,32) x2 */
	float *c2, *n2, *p2, *r2;     /* (B,c2h,c2w,48) x2, (B,p2h,p2w,48) x2 */
	float *feat;                  /* (B,F) after dropout */
	float *l1, *ln1, *lr1, *l2, *ln2, *lr2, *logits, *probs;  /* (B,100) x6, (B,10) x2 */
	float *dfeat;                 /* (B,F) gradient of the domain head w.r.t. its input */
	float *d1, *dn1, *dr1, *dz;   /* (B,100) x3, (B,1) */
	float *bnm1, *bnr1, *bnm2, *bnr2;       /* (2,32) (2,32) (2,48) (2,48) saved mean/rstd */
	float *lbm1, *lbr1, *lbm2, *lbr2, *dbm1, *dbr1;  /* (2,100) each */
	float *mask;                  /* (B,48) dropout mask */
	float *cols1, *cols2;         /* (B*c1h*c1w, 75), (B*c2h*c2w, 800) im2col rows */
	uint8_t *arg1, *arg2;         /* pool argmax */
	float *ws1, *ws2;             /* the conv blocks' kernel workspaces (kern_ws_floats) */
} model_acts;

/* Set up the geometry and allocate parameters (zero) for arch and input size; H = W = 28 or
 * 32 (any H = W >= 16 whose maps stay even works); domains = 1 or 2 sets of BatchNorm running
 * statistics (2: one per domain; arch seed only).  Returns 0 or DN_E*. */
int model_init(model *m, int arch, int H, int W, int domains);
void model_free(model *m);
/* PyTorch's default initialisation, seeded: conv and linear weights and biases uniform in
 * +-1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5)); BN gamma 1, beta 0, running mean 0,
 * running var 1.  Tensor i draws from rng stream (seed, 1000 + i). */
void model_init_params(model *m, uint64_t seed);
/* Point views at a parameter-shaped block of m->nparams floats. */
void model_views(const model *m, model_params *v, float *block);

int model_acts_alloc(model_acts *a, const model *m, int B);
void model_acts_free(model_acts *a);

/* Forward passes.  The caller fills a->x (nn_input_from_u8).  `pass` is MODEL_TRAIN: BN batch
 * statistics over `groups` equal row groups (and running statistics updated: group g's domain
 * set when the model keeps two and groups = 2, else the one set once per group), dropout
 * masks from (drop_seed, step); or, in evaluation, the domain whose running statistics BN
 * uses (0 source, 1 target; the same with one set), no dropout (groups, drop_seed and step
 * unused). */
enum { MODEL_TRAIN = -1 };
void model_features_forward(model *m, model_acts *a, int B, int groups, int pass,
                            uint64_t drop_seed, uint64_t step);
/* model_features_forward in training, in two parts: the two conv blocks (a->r2 for the seed
 * arch, a->feat without dropout), then the Dropout2d (arch seed; nothing without it) of rows
 * [b0,b1) (any split: each mask value and output is its own) */
void model_blocks_forward(model *m, model_acts *a, int B, int groups);
void model_dropout_forward(const model *m, model_acts *a, int b0, int b1, uint64_t drop_seed,
                           uint64_t step);
void model_label_forward(model *m, model_acts *a, int B, int groups, int pass);
void model_domain_forward(model *m, model_acts *a, int B, int groups, int pass);
/* Backward passes, adding into the gradient views g and the activation gradients ga.
 * model_domain_backward applies the gradient reversal: ga->feat += -lambda * d(domain)/d(feat). */
void model_label_backward(const model *m, model_params *g, model_acts *ga, const model_acts *a,
                          int B, int groups);
void model_domain_backward(const model *m, model_params *g, model_acts *ga, const model_acts *a,
                           int B, int groups, float lambda);
/* model_label_backward in two parts, the same bytes as the one call: everything but the input
 * gradient (ga->feat untouched), then that gradient alone, of rows [b0,b1), added into
 * ga->feat (any split of the rows gives the same bytes where model_heads_rows_free; elsewhere
 * nn.c's OpenBLAS product rounds by the rows done together: rows [0,B) in one call).  The
 * training step runs the first beside the domain head (on another thread) and the second after
 * it, so that ga->feat receives its two terms in the same order as before. */
void model_label_backward_params(const model *m, model_params *g, model_acts *ga,
                                 const model_acts *a, int B, int groups);
void model_label_backward_input(const model *m, model_acts *ga, int b0, int b1);
/* model_domain_backward in two parts, where model_heads_rows_free (the heads' 768- or
 * 1200-input layers' input gradients are their own sums per row on this kernel path): all but
 * the input gradient, then that gradient and the gradient reversal of rows [b0,b1) (any split
 * gives the same bytes as the one call).  Elsewhere (nn.c's OpenBLAS products) the one call
 * only. */
int model_heads_rows_free(const model *m);
void model_domain_backward_params(const model *m, model_params *g, model_acts *ga,
                                  const model_acts *a, int B, int groups);
void model_domain_backward_input(const model *m, model_acts *ga, int b0, int b1, float lambda);
void model_features_backward(const model *m, model_params *g, model_acts *ga,
                             const model_acts *a, int B, int groups);
/* model_features_backward in two parts: the Dropout2d's backward (arch seed; nothing without
 * it), of rows [b0,b1) (any split: each value is its own), then the two conv blocks' (then,
 * unless NULL, then(arg) by every thread of a parallel region once the gradients are complete:
 * kern_blocks_backward, kern.h). */
void model_dropout_backward(const model *m, model_acts *ga, const model_acts *a, int b0, int b1);
void model_blocks_backward(const model *m, model_params *g, model_acts *ga, const model_acts *a,
                           int B, int groups, void (*then)(void *), void *arg);

/* Evaluation-mode forward of B uint8 images (B,H,W,C), C = 1 or 3, of `domain` (0 source,
 * 1 target: which running statistics a per-domain model uses), up to `layer`; returns the
 * (B,D) rows inside `a` and sets *D. */
const float *model_infer(model *m, model_acts *a, const uint8_t *img, int B, int C, int domain,
                         int layer, int *D);
int model_layer_dim(const model *m, int layer);
/* "features" / "label-hidden" / "logits" / "domain-hidden" -> MODEL_LAYER_*, or -1. */
int model_layer_parse(const char *s);

/* Write header (kind, step, total), parameters and statistics. */
int model_write(FILE *f, const model *m, int kind, int64_t step, int64_t total);
/* Read header, parameters and statistics (a model, snapshot or checkpoint; for a checkpoint
 * the stream is left at the momentum buffers).  *kind may be NULL. */
int model_read(FILE *f, const char *name, model *m, int *kind);
/* Read / write a parameter-shaped block (the momentum buffers of a checkpoint). */
int model_write_block(FILE *f, const model *m, const float *block);
int model_read_block(FILE *f, const char *name, const model *m, float *block);

#endif
