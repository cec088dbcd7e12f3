/* dann-train - train the DANN digits network (or its source-only baseline) on dataset streams.
 *
 * Options, file handling and messages live here; the network and the training step live in
 * lib/net/model.c and lib/net/train.c. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "base/cli.h"
#include "base/err.h"
#include "net/kern_cli.h"
#include "net/model.h"
#include "net/train.h"
#include "stream/dataset.h"
#include "stream/metrics.h"
#include "stream/npy.h"

static volatile sig_atomic_t stop_signal = 0;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: dann-train --source FILE [--target FILE] [--target-test FILE] -o MODEL [options]\n"
	        "Train the DANN digits network (Ganin et al. 2016) on dataset streams.\n"
	        "  --source FILE        labelled source dataset stream (images, labels); '-' is stdin\n"
	        "  --target FILE        target dataset stream; its labels are never read (DANN mode)\n"
	        "  --target-test FILE   labelled target stream, only to monitor target accuracy\n"
	        "  -o, --output MODEL   write the trained model here (see dann-model(5))\n"
	        "  --mode M             dann (default) or source-only\n"
	        "  --arch A             seed (default: BatchNorm + Dropout2d) or paper (neither)\n"
	        "  --bn-stats S         per-domain (default): separate BatchNorm statistics for the\n"
	        "                       source and target halves, and a set of running statistics\n"
	        "                       per domain (dann-embed --domain); joint: over both together\n"
	        "  --epochs N           passes over the source (default 15)\n"
	        "  --steps N            total SGD steps instead of epochs x steps per epoch\n"
	        "  --batch N            images per domain per step (default 64)\n"
	        "  --seed N             seed of initialisation, shuffling and dropout (default 1)\n"
	        "  --threads N          threads (default: all processors); fixed N gives fixed bytes\n"
	        "  --lr X --alpha X --beta X   lr_p = lr / (1 + alpha p)^beta (0.01, 10, 0.75)\n"
	        "  --gamma X            lambda_p = 2 / (1 + exp(-gamma p)) - 1 (default 10)\n"
	        "  --lambda-const X     lambda = X at every step instead of the gamma schedule\n"
	        "  --momentum X         SGD momentum (default 0.9)\n"
	        "  --log FILE           metrics log (TSV, see dann-metrics(5))\n"
	        "  --log-every K        one metrics row per K steps (default 100)\n"
	        "  --eval-limit N       target-test images evaluated per row (default 1000, 0 all)\n"
	        "  --snapshots K        write K+1 evenly spaced snapshots, step 0 included\n"
	        "  --snapshot-dir DIR   where snapshots go (default: snapshots)\n"
	        "  --checkpoint FILE    checkpoint written on SIGINT/SIGTERM (default MODEL.ckpt)\n"
	        "  --resume FILE        continue from a checkpoint (same options and data)\n"
	        "  -q, --quiet          no progress or summary      --progress  force progress\n"
	        "  -v, --verbose        say which kernels run (instruction set; DANN_ISA forces one)\n"
	        "  -h, --help           this help\n");
}

/* The options, with their defaults in parse_options. */
typedef struct {
	train_opts train;
	const char *source, *target, *target_test, *output;
	const char *log, *snapshot_dir, *checkpoint, *resume;
	int64_t log_every, eval_limit;
	int snapshots, threads, quiet, verbose, progress;
} options;

static void parse_options(int argc, char **argv, options *o)
{
	enum { O_SOURCE = 256, O_TARGET, O_TTEST, O_MODE, O_ARCH, O_EPOCHS, O_STEPS, O_BATCH,
	       O_SEED, O_THREADS, O_LR, O_ALPHA, O_BETA, O_GAMMA, O_LAMBDA, O_MOM, O_LOG, O_LOGEVERY,
	       O_EVALLIM, O_SNAPS, O_SNAPDIR, O_CKPT, O_RESUME, O_PROGRESS, O_BNSTATS };
	static const struct option opts[] = {
		{"source", required_argument, 0, O_SOURCE}, {"target", required_argument, 0, O_TARGET},
		{"target-test", required_argument, 0, O_TTEST}, {"mode", required_argument, 0, O_MODE},
		{"arch", required_argument, 0, O_ARCH}, {"epochs", required_argument, 0, O_EPOCHS},
		{"steps", required_argument, 0, O_STEPS}, {"batch", required_argument, 0, O_BATCH},
		{"seed", required_argument, 0, O_SEED}, {"threads", required_argument, 0, O_THREADS},
		{"lr", required_argument, 0, O_LR}, {"alpha", required_argument, 0, O_ALPHA},
		{"beta", required_argument, 0, O_BETA}, {"gamma", required_argument, 0, O_GAMMA},
		{"lambda-const", required_argument, 0, O_LAMBDA},
		{"momentum", required_argument, 0, O_MOM}, {"log", required_argument, 0, O_LOG},
		{"log-every", required_argument, 0, O_LOGEVERY},
		{"eval-limit", required_argument, 0, O_EVALLIM},
		{"snapshots", required_argument, 0, O_SNAPS},
		{"snapshot-dir", required_argument, 0, O_SNAPDIR},
		{"bn-stats", required_argument, 0, O_BNSTATS},
		{"checkpoint", required_argument, 0, O_CKPT}, {"resume", required_argument, 0, O_RESUME},
		{"output", required_argument, 0, 'o'}, {"quiet", no_argument, 0, 'q'},
		{"verbose", no_argument, 0, 'v'}, {"progress", no_argument, 0, O_PROGRESS},
		{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	memset(o, 0, sizeof *o);
	train_opts_default(&o->train);
	o->snapshot_dir = "snapshots";
	o->log_every = 100;
	o->eval_limit = 1000;
	o->threads = omp_get_num_procs();
	train_opts *t = &o->train;
	int c;
	while ((c = getopt_long(argc, argv, "o:qvh", opts, NULL)) != -1) {
		switch (c) {
		case O_SOURCE: o->source = optarg; break;
		case O_TARGET: o->target = optarg; break;
		case O_TTEST: o->target_test = optarg; break;
		case O_MODE:
			if (!strcmp(optarg, "dann")) t->mode = TRAIN_DANN;
			else if (!strcmp(optarg, "source-only")) t->mode = TRAIN_SOURCE_ONLY;
			else cli_usage_error("--mode: expected dann or source-only, got '%s'", optarg);
			break;
		case O_ARCH:
			if (!strcmp(optarg, "seed")) t->arch = MODEL_ARCH_SEED;
			else if (!strcmp(optarg, "paper")) t->arch = MODEL_ARCH_PAPER;
			else cli_usage_error("--arch: expected seed or paper, got '%s'", optarg);
			break;
		case O_BNSTATS:
			if (!strcmp(optarg, "joint")) t->bn_split = 0;
			else if (!strcmp(optarg, "per-domain")) t->bn_split = 1;
			else cli_usage_error("--bn-stats: expected joint or per-domain, got '%s'", optarg);
			break;
		case O_EPOCHS: t->epochs = (int)cli_parse_int("--epochs", optarg, 1, 100000); break;
		case O_STEPS: t->steps = cli_parse_int("--steps", optarg, 1, INT64_C(1) << 40); break;
		case O_BATCH: t->batch = (int)cli_parse_int("--batch", optarg, 2, 4096); break;
		case O_SEED: t->seed = cli_parse_seed(optarg); break;
		case O_THREADS: o->threads = cli_parse_threads(optarg); break;
		case O_LR: t->lr = cli_parse_double("--lr", optarg, 0, 100); break;
		case O_ALPHA: t->alpha = cli_parse_double("--alpha", optarg, 0, 1e6); break;
		case O_BETA: t->beta = cli_parse_double("--beta", optarg, 0, 100); break;
		case O_GAMMA: t->gamma = cli_parse_double("--gamma", optarg, 0, 1e6); break;
		case O_LAMBDA: t->lambda_const = cli_parse_double("--lambda-const", optarg, 0, 100); break;
		case O_MOM: t->momentum = cli_parse_double("--momentum", optarg, 0, 0.999999); break;
		case O_LOG: o->log = optarg; break;
		case O_LOGEVERY: o->log_every = cli_parse_int("--log-every", optarg, 1, INT64_C(1) << 40); break;
		case O_EVALLIM: o->eval_limit = cli_parse_int("--eval-limit", optarg, 0, INT64_C(1) << 40); break;
		case O_SNAPS: o->snapshots = (int)cli_parse_int("--snapshots", optarg, 0, 9999); break;
		case O_SNAPDIR: o->snapshot_dir = optarg; break;
		case O_CKPT: o->checkpoint = optarg; break;
		case O_RESUME: o->resume = optarg; break;
		case O_PROGRESS: o->progress = 1; break;
		case 'o': o->output = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'v': o->verbose = 1; break;
		case 'h': usage(stdout); exit(0);
		default: cli_bad_option();
		}
	}
	if (optind < argc)
		cli_usage_error("unexpected operand '%s'", argv[optind]);
}

static dataset load(const char *path, const char *what)
{
	dataset d;
	FILE *f = cli_open_in(path);
	if (dataset_read(f, cli_name(path), &d) < 0)
		cli_die("%s: %s", what, err_msg());
	cli_close_in(f);
	return d;
}

/* dann-train's own section of a checkpoint, after the trainer's state: int64 (2,), the
 * options its log and snapshots follow, which a resumed run must repeat for them to continue
 * as one run's (dann-model(5)). */
typedef struct {
	int64_t log_every, snapshots;
} resume_section;
#define RESUME_SECTION_LEN ((int)(sizeof(resume_section) / sizeof(int64_t)))

static void write_checkpoint(const char *path, const trainer *t, const resume_section *sec)
{
	int64_t shape[1] = {RESUME_SECTION_LEN};
	FILE *f = cli_open_out(path);
	if (train_save_checkpoint(f, t) < 0 || npy_write_array(f, NPY_I64, 1, shape, sec) < 0)
		cli_write_failed_on(f);
	cli_commit_out(f);
}

/* Continue from checkpoint `path` (read whole: the checkpoint this run writes may replace
 * it); in_place: it is that file, opened without being declared an input. */
static void resume_from(const char *path, int in_place, trainer *t, const resume_section *want)
{
	FILE *f = in_place ? fopen(path, "rb") : cli_open_in(path);
	if (!f)
		cli_die("%s: %s", path, strerror(errno));
	if (train_load_checkpoint(f, cli_name(path), t) < 0)
		cli_die("%s", err_msg());
	npy_header h;
	resume_section got;
	if (npy_read_header(f, cli_name(path), &h) < 0 || h.dtype != NPY_I64 || h.ndim != 1 ||
	    h.shape[0] != RESUME_SECTION_LEN ||
	    npy_read_data(f, cli_name(path), &h, &got, RESUME_SECTION_LEN) < 0)
		cli_die("%s: truncated checkpoint: expected dann-train's int64 (%d,) section after the "
		        "training state", cli_name(path), RESUME_SECTION_LEN);
	if (got.log_every != want->log_every || got.snapshots != want->snapshots)
		cli_die("%s: checkpoint was made with other logging/snapshot options (its own: "
		        "--log-every %lld, --snapshots %lld)", cli_name(path), (long long)got.log_every,
		        (long long)got.snapshots);
	if (in_place)
		fclose(f);
	else
		cli_close_in(f);
	/* a checkpoint the model refuses (non-finite) was refused above; one that loads is
	 * finite: the loader checks every tensor */
}

/* The snapshot folder, before any work: an existing folder that can take snapshots.tsv, or a
 * new one in a folder that can take it (made once the data is read). */
static void check_snap_dir(const char *dir, const char *tsv)
{
	struct stat st;
	if (!*dir)
		cli_usage_error("--snapshot-dir: empty folder name");
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			cli_usage_error("--snapshot-dir: %s: %s", dir, strerror(ENOTDIR));
		cli_check_out("--snapshot-dir", tsv);
	} else {
		cli_check_out("--snapshot-dir", dir);
	}
}

/* The metrics log and snapshots.tsv: written under a temporary name like every output and
 * renamed at the end (or when the run stops for a checkpoint or diverges: they then hold the
 * rows up to that step, which a --resume run continues). */
static FILE *log_out, *snap_out;

static void commit_logs(void)
{
	if (log_out)
		cli_commit_out(log_out);
	if (snap_out)
		cli_commit_out(snap_out);
	log_out = snap_out = NULL;
}

/* Training diverged (a loss or a parameter is not finite): keep the logs, which show how, and
 * stop with exit 1; no model is written. */
static void check_finite(int rc, const trainer *t)
{
	if (rc == 0 && (rc = train_check_finite(t)) == 0)
		return;
	char msg[1024];
	snprintf(msg, sizeof msg, "%s", err_msg());
	commit_logs();
	cli_die("%s", msg);
}

static void write_model_file(const char *path, const trainer *t)
{
	check_finite(0, t);
	FILE *f = cli_open_out(path);
	if (model_write(f, &t->m, MODEL_KIND_MODEL, t->step, t->total) < 0)
		cli_write_failed_on(f);
	cli_commit_out(f);
}

int main(int argc, char **argv)
{
	options o;
	cli_init(argc, argv);
	parse_options(argc, argv, &o);
	const train_opts *to = &o.train;
	if (!o.source)
		cli_usage_error("--source FILE is required");
	if (!o.output || !strcmp(o.output, "-"))
		cli_usage_error("-o MODEL (a file) is required");
	char *ckpt_default = NULL;
	if (!o.checkpoint) {
		size_t n = strlen(o.output) + 6;
		ckpt_default = malloc(n);
		if (!ckpt_default)
			cli_die("out of memory");
		snprintf(ckpt_default, n, "%s.ckpt", o.output);
		o.checkpoint = ckpt_default;
	}
	if (to->mode == TRAIN_DANN && !o.target)
		cli_usage_error("--target FILE is required in dann mode");
	/* Every file this run writes can be written, and none is an input: checked before the
	 * data is read and the first step is taken. */
	cli_declare_in(o.source);
	cli_declare_in(o.target);
	cli_declare_in(o.target_test);
	/* The checkpoint a run resumes from may be replaced by the one it writes when stopped
	 * again (resume, stop, resume again, under the default name MODEL.ckpt): it is read whole
	 * before the first step.  Any other input is declared, so no output may replace it. */
	int ckpt_is_resume = 0;
	if (o.resume && strcmp(o.resume, "-")) {
		struct stat a, b;
		ckpt_is_resume = stat(o.resume, &a) == 0 && stat(o.checkpoint, &b) == 0 &&
		                 a.st_dev == b.st_dev && a.st_ino == b.st_ino && S_ISREG(a.st_mode);
		if (!ckpt_is_resume)
			cli_declare_in(o.resume);
	}
	cli_check_out("-o", o.output);
	cli_check_out("--log", o.log);
	cli_check_out("--checkpoint", o.checkpoint);
	char snap_tsv[4096];
	snprintf(snap_tsv, sizeof snap_tsv, "%s/snapshots.tsv", o.snapshot_dir);
	if (o.snapshots > 0)
		check_snap_dir(o.snapshot_dir, snap_tsv);
	cli_set_messages(o.quiet, o.verbose, o.progress);
	kern_cli_setup(o.threads, o.verbose);

	dataset src = load(o.source, "source"), tgt = {0}, test = {0};
	if (to->mode == TRAIN_DANN)
		tgt = load(o.target, "target");
	if (o.target_test) {
		test = load(o.target_test, "target-test");
		if (test.n == 0)
			cli_die("target-test: %s holds no images: nothing to measure the target accuracy on",
			        cli_name(o.target_test));
		if (test.h != src.h || test.w != src.w)
			cli_die("image sizes differ: source %dx%d, target-test %dx%d", src.h, src.w, test.h,
			        test.w);
	}
	trainer t;
	if (train_init(&t, to, &src, to->mode == TRAIN_DANN ? &tgt : NULL) < 0)
		cli_die("%s", err_msg());
	resume_section sec = {.log_every = o.log_every, .snapshots = o.snapshots};
	if (o.resume)
		resume_from(o.resume, ckpt_is_resume, &t, &sec);

	/* On resume the logs continue the rows up to the checkpoint: the temporary file starts
	 * as a copy of the log so far. */
	if (o.log) {
		log_out = o.resume ? cli_open_out_continue(o.log) : cli_open_out_text(o.log);
		if (!o.resume && metrics_write_header(log_out) < 0)
			cli_write_failed_on(log_out);
	}
	int64_t *snap_step = NULL;
	int snaps = o.snapshots, snap_next = 0;
	if (snaps > 0) {
		cli_make_dir(o.snapshot_dir);
		snap_out = o.resume ? cli_open_out_continue(snap_tsv) : cli_open_out_text(snap_tsv);
		if (!o.resume && fprintf(snap_out, "index\tstep\tepoch\tlambda\ttarget_acc\n") < 0)
			cli_write_failed_on(snap_out);
		snap_step = malloc(sizeof(int64_t) * (size_t)(snaps + 1));
		if (!snap_step)
			cli_die("out of memory");
		for (int i = 0; i <= snaps; i++)
			snap_step[i] = (int64_t)llround((double)i * (double)t.total / snaps);
		while (snap_next <= snaps && snap_step[snap_next] < t.step)
			snap_next++;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	int64_t start_step = t.step;
	double t0 = cli_now();
	cli_progress prog;
	cli_progress_start(&prog, "train", t.total - start_step);
	for (;;) {
		/* a stop request is honoured between steps, before this step's snapshots, so that a
		 * resumed run writes them */
		if (stop_signal && t.step < t.total)
			break;
		while (snap_out && snap_next <= snaps && snap_step[snap_next] == t.step) {
			char p[4096], ta[32], lam[32], ep[32];
			snprintf(p, sizeof p, "%s/snap-%04d.model", o.snapshot_dir, snap_next);
			write_model_file(p, &t);
			double acc = NAN;
			if (o.target_test) {
				int64_t n, ok = train_eval(&t, &test, 1, o.eval_limit, &n);
				acc = (double)ok / (double)n;
			}
			metrics_format(ta, sizeof ta, acc);
			metrics_format(lam, sizeof lam,
			               to->mode == TRAIN_DANN ? train_lambda_at(&t, t.step) : NAN);
			metrics_format(ep, sizeof ep, (double)t.step / (double)t.steps_per_epoch);
			if (fprintf(snap_out, "%d\t%lld\t%s\t%s\t%s\n", snap_next, (long long)t.step, ep, lam,
			            ta) < 0 || fflush(snap_out) != 0)
				cli_write_failed_on(snap_out);
			snap_next++;
		}
		if (t.step >= t.total)
			break;
		/* the losses and every parameter, each step: a loss can stay finite for a while over
		 * NaN weights (a ReLU makes NaN 0); one pass over the ~0.2M parameters costs under 0.1%
		 * of a step (docs/RELIABILITY.md) */
		check_finite(train_step(&t), &t);
		if (log_out && (t.step % o.log_every == 0 || t.step == t.total)) {
			double row[MET_NCOL];
			train_take_row(&t, row);
			if (o.target_test) {
				int64_t n, ok = train_eval(&t, &test, 1, o.eval_limit, &n);
				row[MET_TARGET_ACC] = (double)ok / (double)n;
			}
			if (metrics_write_row(log_out, row) < 0 || fflush(log_out) != 0)
				cli_write_failed_on(log_out);
		}
		cli_progress_update(&prog, t.step - start_step);
	}
	cli_progress_end(&prog);
	double el = cli_now() - t0;
	int64_t done = t.step - start_step;
	double ips = el > 0 ? (double)done * t.B / el : 0;

	if (stop_signal && t.step < t.total) {
		check_finite(0, &t);
		write_checkpoint(o.checkpoint, &t, &sec);
		commit_logs();
		cli_info("interrupted at step %lld of %lld; checkpoint written to %s (continue with "
		         "--resume %s)", (long long)t.step, (long long)t.total, o.checkpoint,
		         o.checkpoint);
		/* An interrupted run ends like an error exit: _exit, so LeakSanitizer does not count
		 * the buffers still held and the status stays 130/143. */
		fflush(stderr);
		_exit(stop_signal == SIGINT ? 130 : 143);
	}
	write_model_file(o.output, &t);
	commit_logs();
	if (!o.quiet) {
		char tacc[96] = "";
		if (o.target_test) {
			int64_t n, ok = train_eval(&t, &test, 1, 0, &n);
			snprintf(tacc, sizeof tacc, ", target-test accuracy %.4f (%lld/%lld)", (double)ok / n,
			         (long long)ok, (long long)n);
		}
		int64_t n, ok = train_eval(&t, &src, 0, 10000, &n);
		cli_info("%.2f epochs (%lld steps) in %.1f s, %.0f images/s; source accuracy %.4f "
		         "(first %lld)%s", (double)t.step / t.steps_per_epoch, (long long)t.step, el, ips,
		         (double)ok / n, (long long)n, tacc);
	}
	train_free(&t);
	dataset_free(&src);
	if (to->mode == TRAIN_DANN)
		dataset_free(&tgt);
	if (o.target_test)
		dataset_free(&test);
	free(snap_step);
	free(ckpt_default);
	return 0;
}
