/* mnist-fetch - write one split of MNIST, Fashion-MNIST or the published MNIST-M as a dataset
 * stream: images (N,28,28) uint8 (or (N,S,S) with --size S; MNIST-M (N,32,32,3)), then labels
 * (N,) uint8.
 *
 * The files come from the cache, the mirrors given, then the public mirrors (lib/data/fetch.c,
 * lib/data/published.c), each verified by the SHA-256 of its decoded content before it is used or
 * cached. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cli.h"
#include "base/err.h"
#include "data/fetch.h"
#include "stream/idx.h"
#include "stream/dataset.h"
#include "data/published.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: mnist-fetch [--split train|test] [--limit N] [--offset N] [--dataset NAME] [--size S]\n"
	        "                   [--mirror URL_OR_DIR]... [--cache DIR] [--offline] [--deadline SECONDS]\n"
	        "                   [--allow-partial] [-o FILE] [-q] [--progress]\n"
	        "       mnist-fetch --dataset bsds500 [--mirror URL_OR_DIR]... [--cache DIR] [--offline] -O DIR\n"
	        "Write one split of a dataset as a dataset stream: images (N,28,28) uint8, then labels (N,) uint8.\n"
	        "  --split train|test      which split (default train: 60000 images; test: 10000)\n"
	        "  --limit N               at most N images (default all)\n"
	        "  --offset N              skip the first N images (0 .. size of the split - 1)\n"
	        "  --dataset NAME          mnist (default), fashion-mnist, or mnist-m: the published MNIST-M\n"
	        "                          (Ganin et al.), images (N,32,32,3), from a folder or mnist_m.tar.gz;\n"
	        "                          bsds500: the 200 BSDS500 training photographs, into a folder (-O)\n"
	        "  --size S                centre the 28x28 digits unscaled on an SxS canvas of zeros (S >= 28;\n"
	        "                          32 is the published MNIST-M geometry); not for mnist-m\n"
	        "  --mirror URL_OR_DIR     a folder, file:// or http(s):// URL holding the files;\n"
	        "                          repeatable, tried in order before $MNIST_MIRROR and public mirrors\n"
	        "                          ($FASHION_MNIST_MIRROR, $MNISTM_MIRROR, $BSDS500_MIRROR for those)\n"
	        "  --cache DIR             cache root (default $XDG_CACHE_HOME/dann-toolkit); files go in DIR/NAME/\n"
	        "  --offline               never touch the network: only the cache, folders and file:// URLs\n"
	        "  --deadline SECONDS      the longest one download may take (default 900)\n"
	        "  --allow-partial         mnist-m: accept a copy with fewer images than published (unverified)\n"
	        "  -o, --output FILE       write to FILE (atomically) instead of stdout\n"
	        "  -O, --output-dir DIR    bsds500: create DIR (new or empty) holding the photographs\n"
	        "  -q, --quiet             no messages but errors\n"
	        "      --progress          show download progress even when stderr is not a terminal\n"
	        "  -h, --help              this help\n"
	        "Everything is checked against the SHA-256 of its decoded content. See mnist-fetch(1).\n");
}

/* --- callbacks from lib/fetch: notices and download progress on stderr ----------------------- */

static struct {
	cli_progress p;
	const char *label;
	int active;
} prog;

static void end_progress(void)
{
	if (prog.active)
		cli_progress_end(&prog.p);
	prog.active = 0;
}

static void on_notice(void *ctx, const char *msg)
{
	(void)ctx;
	end_progress();
	cli_warn("%s", msg);
}

static void on_progress(void *ctx, const char *label, int64_t done, int64_t total, int finished)
{
	(void)ctx;
	if (!prog.active || prog.label != label) {
		end_progress();
		cli_progress_start(&prog.p, label, total);
		prog.label = label;
		prog.active = 1;
	}
	if (total > 0)
		prog.p.total = total;
	if (done > 0 || finished)
		cli_progress_update(&prog.p, done);
	if (finished)
		end_progress();
}

/* An integer from the environment, range-checked like an option (a bad value is exit 2). */
static long long env_int(const char *var, long long def, long long min, long long max)
{
	const char *s = getenv(var);
	return s && *s ? cli_parse_int(var, s, min, max) : def;
}

static void add_source(const char ***v, int *n, const char *s)
{
	const char **nv = realloc(*v, (size_t)(*n + 1) * sizeof **v);
	if (!nv)
		cli_die("out of memory");
	nv[(*n)++] = s;
	*v = nv;
}

/* Split a space-separated list (MNIST_MIRROR, DANN_FETCH_PUBLIC_MIRRORS) into sources, which
 * point into the returned copy (free it after use). */
static char *add_list(const char ***v, int *n, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		cli_die("out of memory");
	for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save))
		add_source(v, n, t);
	return copy;
}

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *env_mirror = "MNIST_MIRROR";  /* FASHION_MNIST_MIRROR, MNISTM_MIRROR */

/* The expected SHA-256 of `name`: from DANN_FETCH_SHA256SUMS when set (tests, other copies),
 * else the built-in one. */
static void want_hash(const char *sums, const char *name, const char *want_hex, uint8_t want[SHA256_LEN])
{
	if (sums) {
		if (fetch_sums_lookup(sums, name, want) < 0)
			cli_die("DANN_FETCH_SHA256SUMS=%s", err_msg());
	} else if (want_hex && sha256_parse_hex(want_hex, want) < 0) {
		cli_die("internal error: %s", err_msg());
	}
}

static void die_fetch(int unreachable)
{
	if (unreachable)
		cli_die("%s (no network? give a local copy with --mirror DIR or %s)", err_msg(), env_mirror);
	cli_die("%s", err_msg());
}

static void fetch_or_die(const fetch_opts *fo, const char *sums, const char *name, const char *want_hex,
                         size_t max, fetch_result *r)
{
	uint8_t want[SHA256_LEN];
	want_hash(sums, name, want_hex, want);
	if (fetch_file(fo, name, want, max, r) < 0)
		die_fetch(r->unreachable);
}

/* The published archive of BSDS500 (as in Arbelaez et al.'s page). */
#define BSDS500_URL "http://www.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/BSR/BSR_bsds500.tgz"

/* --dataset bsds500 -O DIR: the 200 training photographs, each verified, into a new folder. */
static void fetch_bsds(const fetch_opts *fo, const char *sums, const char *outdir)
{
	pub_files f;
	if ((sums ? pub_files_from_sums(sums, &f) : pub_bsds500_list("train", &f)) < 0)
		cli_die("%s%s", sums ? "DANN_FETCH_SHA256SUMS=" : "", err_msg());
	struct stat st;
	if (lstat(outdir, &st) == 0 && !S_ISDIR(st.st_mode))
		cli_die("%s: exists and is not a folder", outdir);
	if (pub_bsds500_fetch(fo, "train", &f) < 0) {
		int u = f.unreachable;
		pub_files_free(&f);
		die_fetch(u);
	}
	/* DIR itself appears whole (written under a temporary name, then renamed), so only the
	 * folders it goes in are made here, once every photograph is verified */
	char parent[4096];
	snprintf(parent, sizeof parent, "%s", outdir);
	for (size_t l = strlen(parent); l > 1 && parent[l - 1] == '/'; l--)
		parent[l - 1] = '\0';
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		cli_make_dir(parent);
	}
	if (pub_files_write_dir(&f, outdir) < 0)
		cli_die("%s", err_msg());
	cli_info("%s: %d photographs, each verified (%d from the cache)", outdir, f.n, f.from_cache);
	pub_files_free(&f);
}

/* Every source must say something usable before anything is tried (`from`: where it came from). */
static void check_sources(const char *const *v, int from, int to, const char *what)
{
	for (int i = from; i < to; i++)
		if (fetch_check_source(v[i]) < 0)
			cli_usage_error("%s: %s", what, err_msg());
}

typedef struct {
	const char *split, *dataset, *cache, *out, *outdir;
	long long limit, offset, size, deadline;   /* limit -1: all */
	int offline, quiet, progress, allow_partial;
	int test, mnistm, bsds;                    /* from split and dataset */
	const fetch_dataset *ds;                   /* mnist or fashion-mnist, else NULL */
	const char **sources;                      /* --mirror, in order */
	int nsources;
} options;

static void parse_options(int argc, char **argv, options *o)
{
	enum { OPT_SPLIT = 256, OPT_LIMIT, OPT_OFFSET, OPT_DATASET, OPT_MIRROR, OPT_CACHE, OPT_OFFLINE, OPT_PROGRESS,
	       OPT_SIZE, OPT_DEADLINE, OPT_PARTIAL };
	static const struct option opts[] = {
		{"split", required_argument, 0, OPT_SPLIT}, {"limit", required_argument, 0, OPT_LIMIT},
		{"offset", required_argument, 0, OPT_OFFSET}, {"dataset", required_argument, 0, OPT_DATASET},
		{"mirror", required_argument, 0, OPT_MIRROR}, {"cache", required_argument, 0, OPT_CACHE},
		{"offline", no_argument, 0, OPT_OFFLINE}, {"output", required_argument, 0, 'o'},
		{"quiet", no_argument, 0, 'q'}, {"progress", no_argument, 0, OPT_PROGRESS},
		{"size", required_argument, 0, OPT_SIZE}, {"deadline", required_argument, 0, OPT_DEADLINE},
		{"allow-partial", no_argument, 0, OPT_PARTIAL}, {"output-dir", required_argument, 0, 'O'},
		{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	*o = (options){.split = "train", .dataset = "mnist", .limit = -1, .deadline = 900};
	int c;
	while ((c = getopt_long(argc, argv, "o:O:qh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SPLIT: o->split = optarg; break;
		case OPT_LIMIT: o->limit = cli_parse_int("--limit", optarg, 1, 1LL << 40); break;
		case OPT_OFFSET: o->offset = cli_parse_int("--offset", optarg, 0, 1LL << 40); break;
		case OPT_DATASET: o->dataset = optarg; break;
		case OPT_MIRROR:
			if (!*optarg)
				cli_usage_error("--mirror: empty folder or URL");
			add_source(&o->sources, &o->nsources, optarg);
			break;
		case OPT_CACHE: o->cache = optarg; break;
		case OPT_OFFLINE: o->offline = 1; break;
		case 'o': o->out = optarg; break;
		case 'O': o->outdir = optarg; break;
		case 'q': o->quiet = 1; break;
		case OPT_PROGRESS: o->progress = 1; break;
		case OPT_SIZE: o->size = cli_parse_int("--size", optarg, 28, 1024); break;
		case OPT_DEADLINE: o->deadline = cli_parse_int("--deadline", optarg, 1, 86400); break;
		case OPT_PARTIAL: o->allow_partial = 1; break;
		case 'h': usage(stdout); exit(0);
		default: cli_bad_option();
		}
	}
	if (optind < argc)
		cli_usage_error("unexpected argument '%s'", argv[optind]);
}

static void check_options(options *o)
{
	if (!strcmp(o->split, "test"))
		o->test = 1;
	else if (strcmp(o->split, "train"))
		cli_usage_error("--split: '%s' is not train or test", o->split);
	o->mnistm = !strcmp(o->dataset, "mnist-m");
	o->bsds = !strcmp(o->dataset, "bsds500");
	o->ds = fetch_find_dataset(o->dataset);
	if (!o->ds && !o->mnistm && !o->bsds)
		cli_usage_error("--dataset: '%s' is not mnist, fashion-mnist, mnist-m or bsds500", o->dataset);
	if (o->bsds && (!o->outdir || !*o->outdir))
		cli_usage_error("--dataset bsds500 writes photographs into a folder: give -O DIR");
	if (o->bsds && (o->out || o->size || o->limit >= 0 || o->offset))
		cli_usage_error("--dataset bsds500: -o, --size, --limit and --offset do not apply (give -O DIR)");
	if (o->bsds && o->test)
		cli_usage_error("--split: BSDS500 is fetched for its train split only (200 photographs)");
	if (o->outdir && !o->bsds)
		cli_usage_error("-O: only for --dataset bsds500 (datasets are streams: use -o FILE)");
	if (o->mnistm && o->size)
		cli_usage_error("--size: mnist-m is published at 32x32 and is not resized");
	if (o->allow_partial && !o->mnistm)
		cli_usage_error("--allow-partial: only for --dataset mnist-m");
	if (o->cache && !*o->cache)
		cli_usage_error("--cache: empty folder name");
	cli_check_out("-o", o->out);
}

int main(int argc, char **argv)
{
	options opt;
	cli_init(argc, argv);
	parse_options(argc, argv, &opt);
	check_options(&opt);
	cli_set_messages(opt.quiet, 0, opt.progress);

	fetch_opts fo;
	fetch_opts_init(&fo);
	fo.offline = opt.offline;
	/* Tuning for tests and slow links; see ENVIRONMENT in mnist-fetch(1). */
	fo.connect_timeout_ms = env_int("DANN_FETCH_CONNECT_TIMEOUT_MS", fo.connect_timeout_ms, 1, 600000);
	fo.stall_timeout_s = env_int("DANN_FETCH_STALL_TIMEOUT", fo.stall_timeout_s, 1, 3600);
	fo.retries = (int)env_int("DANN_FETCH_RETRIES", fo.retries, 0, 10);
	fo.retry_delay_ms = env_int("DANN_FETCH_RETRY_DELAY_MS", fo.retry_delay_ms, 0, 60000);
	fo.deadline_s = opt.deadline;
	fo.notice = on_notice;
	fo.progress = on_progress;

	/* Sources in order: --mirror, $MNIST_MIRROR (or $FASHION_MNIST_MIRROR), the dataset's local
	 * folders (e.g. Debian's package), then the public mirrors.  The cache comes before all. */
	const char *ds_name = opt.mnistm ? "mnist-m" : opt.bsds ? "bsds500/train" : opt.ds->name;
	if (opt.mnistm)
		env_mirror = "MNISTM_MIRROR";
	else if (opt.bsds)
		env_mirror = "BSDS500_MIRROR";
	else if (strcmp(opt.ds->name, "mnist"))
		env_mirror = "FASHION_MNIST_MIRROR";
	check_sources(opt.sources, 0, opt.nsources, "--mirror");
	int k = opt.nsources;
	char *env_list = getenv(env_mirror) ? add_list(&opt.sources, &opt.nsources, getenv(env_mirror)) : NULL;
	check_sources(opt.sources, k, opt.nsources, env_mirror);
	for (int i = 0; opt.ds && opt.ds->local_dirs[i]; i++)
		if (is_dir(opt.ds->local_dirs[i]))
			add_source(&opt.sources, &opt.nsources, opt.ds->local_dirs[i]);
	const char *pub = getenv("DANN_FETCH_PUBLIC_MIRRORS");
	char *pub_list = NULL;
	k = opt.nsources;
	if (pub)
		pub_list = add_list(&opt.sources, &opt.nsources, pub);
	else if (opt.bsds)
		add_source(&opt.sources, &opt.nsources, BSDS500_URL);
	else
		for (int i = 0; opt.ds && opt.ds->public_mirrors[i]; i++)
			add_source(&opt.sources, &opt.nsources, opt.ds->public_mirrors[i]);
	check_sources(opt.sources, k, opt.nsources, "DANN_FETCH_PUBLIC_MIRRORS");
	fo.sources = opt.sources;
	fo.nsources = opt.nsources;

	char root[4096], cache_dir[4200];
	if (opt.cache) {
		snprintf(root, sizeof root, "%s", opt.cache);
	} else if (fetch_default_cache_root(root, sizeof root) < 0) {
		cli_warn("%s; not caching", err_msg());
		root[0] = '\0';
	}
	if (root[0]) {
		snprintf(cache_dir, sizeof cache_dir, "%s/%s", root, ds_name);
		fo.cache_dir = cache_dir;
	}

	const char *sums = getenv("DANN_FETCH_SHA256SUMS");
	if (sums && !*sums)
		sums = NULL;
	if (opt.bsds) {
		fetch_bsds(&fo, sums, opt.outdir);
		free(opt.sources);
		free(env_list);
		free(pub_list);
		return 0;
	}
	/* Open the output first: a terminal on stdout is refused before any download. */
	FILE *o = cli_open_out(opt.out);
	dataset d = {.c = 1};
	int64_t n;
	fetch_result ri, rl;
	pub_mnistm pm;
	uint8_t *padded = NULL;
	if (opt.mnistm) {
		pub_expect want;
		if (pub_mnistm_expected(opt.split, &want) < 0)
			cli_die("%s", err_msg());
		char ni[64], nl[64];
		pub_mnistm_names(opt.split, ni, nl);
		want_hash(sums, ni, NULL, want.images_sha);
		want_hash(sums, nl, NULL, want.labels_sha);
		want.n = env_int("DANN_FETCH_MNISTM_N", want.n, 1, 1LL << 30);
		if (pub_mnistm_fetch(&fo, opt.split, &want, opt.allow_partial, &pm) < 0)
			die_fetch(pm.unreachable);
		if (!pm.verified)
			cli_warn("%s: partial copy of the MNIST-M %s split, %lld of %lld images: not verified", pm.source, opt.split,
			         (long long)pm.n, (long long)want.n);
		n = pm.n;
		d.h = d.w = PUB_MNISTM_SIDE;
		d.c = 3;
		d.images = pm.images;
		d.labels = pm.labels;
	} else {
		int fi = opt.test ? FETCH_TEST_IMAGES : FETCH_TRAIN_IMAGES, fl = opt.test ? FETCH_TEST_LABELS : FETCH_TRAIN_LABELS;
		fetch_or_die(&fo, sums, opt.ds->files[fi], opt.ds->sha256[fi], opt.ds->size[fi], &ri);
		fetch_or_die(&fo, sums, opt.ds->files[fl], opt.ds->sha256[fl], opt.ds->size[fl], &rl);
		if (idx_check_dataset(&ri.idx, ri.source, &rl.idx, rl.source) < 0)
			cli_die("%s", err_msg());
		n = ri.idx.dims[0];
		d.h = (int)ri.idx.dims[1];
		d.w = (int)ri.idx.dims[2];
		d.images = (uint8_t *)ri.idx.data;
		d.labels = (uint8_t *)rl.idx.data;
	}

	if (opt.offset > 0 && opt.offset >= n)
		cli_usage_error("--offset: %lld is out of range for the %s split of %lld images (0..%lld)", opt.offset, opt.split,
		                (long long)n, (long long)n - 1);
	int64_t count = n - opt.offset;
	if (opt.limit >= 0 && opt.limit < count)
		count = opt.limit;
	d.images += (size_t)opt.offset * (size_t)(d.h * d.w * d.c);
	d.labels += opt.offset;
	d.n = count;
	if (opt.size && (opt.size < d.h || opt.size < d.w))
		cli_usage_error("--size: %lld is smaller than the %dx%d images", opt.size, d.h, d.w);
	if (opt.size && (opt.size != d.h || opt.size != d.w)) {
		padded = malloc((size_t)count * (size_t)opt.size * (size_t)opt.size);
		if (!padded)
			cli_die("out of memory for %lld images of %lldx%lld", (long long)count, opt.size, opt.size);
		if (pub_pad_images(d.images, count, d.h, d.w, (int)opt.size, padded) < 0)
			cli_die("%s", err_msg());
		d.images = padded;
		d.h = d.w = (int)opt.size;
	}
	if (dataset_write(o, &d) < 0)
		cli_write_failed();
	cli_commit_out(o);
	free(padded);
	if (opt.mnistm) {
		pub_mnistm_free(&pm);
	} else {
		fetch_result_free(&ri);
		fetch_result_free(&rl);
	}
	free(opt.sources);
	free(env_list);
	free(pub_list);
	return 0;
}
