/* published.h - published image datasets that are not IDX files: MNIST-M as Ganin et al.
 * distribute it (a folder of PNGs per split and a labels file, or the archive mnist_m.tar.gz
 * holding them), and the geometry of its digits.
 *
 * Sources are tried as in fetch.h (cache, then folders, file:// and http(s):// URLs in order);
 * what a source holds is decoded and then verified by the SHA-256 of the decoded arrays, not of
 * any container: the images as C-order uint8 bytes (N,32,32,3) in labels-file order, the labels
 * as uint8 bytes.  Only a verified result is cached (cache_dir/mnist_m_SPLIT_images.u8 and
 * _labels.u8, the raw array bytes), and it is verified again on every use.
 * Every function returns 0 or a negative DN_E* code with err_msg() set. */
#ifndef DN_PUBLISHED_H
#define DN_PUBLISHED_H

#include <stddef.h>
#include <stdint.h>

#include "data/fetch.h"
#include "base/sha256.h"

#define PUB_MNISTM_SIDE 32
#define PUB_MNISTM_IMAGE_BYTES (PUB_MNISTM_SIDE * PUB_MNISTM_SIDE * 3)
/* Bounds against a hostile or broken source (docs/RELIABILITY.md): one PNG file, the labels
 * file, the downloaded archive, and all the bytes its decompression may produce. */
#define PUB_PNG_MAX ((size_t)1 << 20)
#define PUB_LABELS_MAX ((size_t)16 << 20)
#define PUB_ARCHIVE_MAX ((size_t)512 << 20)
#define PUB_UNPACKED_MAX ((size_t)1 << 30)

/* What a split must be: its image count and the SHA-256 of its decoded arrays. */
typedef struct {
	int64_t n;
	uint8_t images_sha[SHA256_LEN], labels_sha[SHA256_LEN];
} pub_expect;

/* The published figures for split "train" or "test" (DN_EARG for another name). */
int pub_mnistm_expected(const char *split, pub_expect *e);
/* Names of the decoded arrays of a split, used in the cache and in a sha256sum-style file
 * that overrides the expected hashes: "mnist_m_train_images.u8", "mnist_m_train_labels.u8". */
void pub_mnistm_names(const char *split, char images[64], char labels[64]);

typedef struct {
	int64_t n;
	uint8_t *images;     /* (n,32,32,3) */
	uint8_t *labels;     /* (n,) */
	int mapped;          /* images/labels are read-only mappings of cached files */
	int verified;        /* 0: a partial copy accepted with allow_partial (not verified) */
	int from_cache, cached;
	int unreachable;     /* on failure: every source tried was a host that could not be reached */
	char source[4200];   /* where it came from */
} pub_mnistm;

/* Get split `split` of MNIST-M.  A source is a folder holding mnist_m_SPLIT/ and
 * mnist_m_SPLIT_labels.txt, or its parent holding mnist_m/, or a folder holding
 * mnist_m.tar.gz, or that archive itself (a path, or an http(s) URL ending in .tar.gz or .tgz;
 * any other http(s) URL is a folder holding it).  A copy with fewer images than `want->n` is
 * refused as partial ("10000 of 59001 images") unless allow_partial, when it is returned
 * unverified (r->verified 0, not cached).  o->cache_dir: the cache folder (NULL: none). */
int pub_mnistm_fetch(const fetch_opts *o, const char *split, const pub_expect *want, int allow_partial,
                     pub_mnistm *r);
void pub_mnistm_free(pub_mnistm *r);

/* --- files known by name and SHA-256: the BSDS500 photographs ------------------------------- */

#define PUB_PHOTO_MAX ((size_t)4 << 20)          /* one photograph */
#define PUB_BSDS_ARCHIVE_MAX ((size_t)256 << 20) /* BSR_bsds500.tgz (70 MB as published) */

typedef struct {
	int n;
	char (*name)[64];
	uint8_t (*sha)[SHA256_LEN];
	uint8_t **data;      /* verified bytes of each file, NULL while missing */
	size_t *len;
	int from_cache;      /* how many came from the cache */
	int unreachable;     /* on failure: every source tried was a host that could not be reached */
} pub_files;

/* The built-in list of split "train" of BSDS500: 200 photographs. */
int pub_bsds500_list(const char *split, pub_files *f);
/* A list from a file in sha256sum(1) format (every "HEX  NAME" line; for tests). */
int pub_files_from_sums(const char *path, pub_files *f);
/* Get every listed photograph of `split`: from o->cache_dir (one file per photograph), then
 * the sources in order until none is missing: a folder holding the photographs, or holding
 * BSR/BSDS500/data/images/SPLIT/, or holding BSR_bsds500.tgz, or that archive itself (a path
 * or an http(s) URL ending in .tgz or .tar.gz; any other URL is a folder holding it).  Each
 * file is verified by its SHA-256; what a source gives is kept, the next source fills in the
 * rest.  Verified files are cached. */
int pub_bsds500_fetch(const fetch_opts *o, const char *split, pub_files *f);
/* Write every file into a new folder `dir` (none or an empty one): written into a temporary
 * folder beside it, then renamed into place. */
int pub_files_write_dir(const pub_files *f, const char *dir);
void pub_files_free(pub_files *f);

/* Decode a PNG held in memory that must be 32x32 colour (no alpha) into (32,32,3) RGB. */
int pub_decode_png32(const uint8_t *buf, size_t len, const char *name, uint8_t out[PUB_MNISTM_IMAGE_BYTES]);

/* Place each (h,w) image of `src` unscaled in the centre of an (s,s) canvas of zeros: top and
 * left margins (s-h)/2 and (s-w)/2, the rest at the bottom and right.  This is how the
 * published MNIST-M made 32x32 images of the 28x28 digits (see mnist-fetch(1)).  s >= h, w. */
int pub_pad_images(const uint8_t *src, int64_t n, int h, int w, int s, uint8_t *dst);

#endif
