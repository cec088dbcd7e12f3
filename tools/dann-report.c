/* dann-report - one self-contained HTML page to explore a DANN run in a browser: the t-SNE
 * frames of every snapshot (play, slider, colour by domain or class), the digits behind the
 * points with their predictions, the training curves, the results and the commands.
 *
 *   dann-report [options] -o report.html FRAME.npy...
 *
 * The logic is lib/draw/report.c; the page's code lib/draw/report_page.html. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/err.h"
#include "draw/report.h"

/* A page above this loads slowly in a browser and is awkward to mail or attach: warn. */
#define BUDGET (5 * 1000 * 1000)

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: %s [options] -o FILE.html FRAME.npy...\n"
	        "Write one self-contained HTML page (no network needed) to explore a DANN run: the\n"
	        "t-SNE layout frames of its snapshots (points (N,2) float32, labels, domains, as tsne\n"
	        "writes them), the digits behind the points, the curves, the results, the commands.\n"
	        "\n"
	        "  -o, --output FILE      the page (default stdout)\n"
	        "      --predictions FILE the predictions of the points at one frame's snapshot, as\n"
	        "                         dann-embed --predictions writes them; once per frame, in order\n"
	        "      --images FILE      the points' images, as dann-embed --images writes them\n"
	        "      --snapshots FILE   dann-train's snapshots.tsv: step, lambda, target accuracy of\n"
	        "                         each frame\n"
	        "      --log NAME=FILE    a metrics log (dann-train --log) for the curves; repeat for\n"
	        "                         more (at most %d); the last is the frames' model\n"
	        "      --pad FILE         proxy A-distance table (pad.tsv; models named as the logs)\n"
	        "      --results FILE     a results table (TSV, header first)\n"
	        "      --commands FILE    the commands that made the files (text)\n"
	        "      --title TEXT       the page's title\n"
	        "      --source-name S    name of domain 0 (default \"Source (MNIST)\")\n"
	        "      --target-name S    name of domain 1 (default \"Target (MNIST-M)\")\n"
	        "  -q, --quiet            no messages\n"
	        "  -h, --help             this help\n",
	        cli_prog, REPORT_MAX_LOGS);
}

/* Open, apply, close: each input is read by one lib function. */
typedef int (*reader)(report *r, FILE *f, const char *name, const void *arg);

static void read_input(report *r, const char *path, reader fn, const void *arg)
{
	FILE *f = cli_open_in(path);
	if (fn(r, f, cli_name(path), arg) < 0)
		cli_die("%s", err_msg());
	cli_close_in(f);
}

static int rd_preds(report *r, FILE *f, const char *n, const void *a) { (void)a; return report_add_predictions(r, f, n); }
static int rd_images(report *r, FILE *f, const char *n, const void *a) { (void)a; return report_read_images(r, f, n); }
static int rd_snaps(report *r, FILE *f, const char *n, const void *a) { (void)a; return report_read_snapshots(r, f, n); }
static int rd_log(report *r, FILE *f, const char *n, const void *a) { return report_add_log(r, f, n, a); }
static int rd_pad(report *r, FILE *f, const char *n, const void *a) { (void)a; return report_read_pad(r, f, n); }
static int rd_results(report *r, FILE *f, const char *n, const void *a) { (void)a; return report_read_table(f, n, &r->results); }
static int rd_commands(report *r, FILE *f, const char *n, const void *a) { (void)a; return report_read_text(f, n, &r->commands); }

static int rd_frames(report *r, FILE *f, const char *n, const void *a)
{
	(void)a;
	int rc, k = 0;
	while ((rc = report_add_frame(r, f, n)) == 0)
		k++;
	if (rc == DN_EEOF && k == 0)
		return err_set(DN_EFORMAT, "%s: empty: expected a layout frame (points (N,2) float32, "
		               "labels, domains)", n);
	return rc == DN_EEOF ? 0 : rc;
}

static void set_text(char **dst, const char *s)
{
	free(*dst);
	if (!(*dst = strdup(s)))
		cli_die("out of memory");
}

typedef struct {
	const char *out, *images, *snaps, *pad, *results, *commands;
	const char **preds;            /* --predictions, in order */
	char *logs[REPORT_MAX_LOGS];   /* --log NAME=FILE */
	int npreds, nlogs, quiet;
	char **frames;                 /* the FRAME.npy operands */
	int nframes;
} options;

/* Options into o; --title and the domain names straight into the report. */
static void parse_options(int argc, char **argv, options *o, report *r)
{
	enum { O_PRED = 256, O_IMAGES, O_SNAPS, O_LOG, O_PAD, O_RESULTS, O_COMMANDS, O_TITLE,
	       O_SOURCE, O_TARGET };
	static const struct option opts[] = {
		{"output", required_argument, 0, 'o'},      {"predictions", required_argument, 0, O_PRED},
		{"images", required_argument, 0, O_IMAGES}, {"snapshots", required_argument, 0, O_SNAPS},
		{"log", required_argument, 0, O_LOG},       {"pad", required_argument, 0, O_PAD},
		{"results", required_argument, 0, O_RESULTS}, {"commands", required_argument, 0, O_COMMANDS},
		{"title", required_argument, 0, O_TITLE},   {"source-name", required_argument, 0, O_SOURCE},
		{"target-name", required_argument, 0, O_TARGET}, {"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
	*o = (options){.preds = calloc((size_t)argc, sizeof *o->preds)};
	if (!o->preds)
		cli_die("out of memory");
	int c;
	while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': o->out = optarg; break;
		case O_PRED: o->preds[o->npreds++] = optarg; break;
		case O_IMAGES: o->images = optarg; break;
		case O_SNAPS: o->snaps = optarg; break;
		case O_LOG:
			if (o->nlogs >= REPORT_MAX_LOGS)
				cli_usage_error("--log: at most %d logs", REPORT_MAX_LOGS);
			if (!strchr(optarg, '=') || optarg[0] == '=' || !strchr(optarg, '=')[1])
				cli_usage_error("--log: expected NAME=FILE, got '%s'", optarg);
			if (strchr(optarg, '=') - optarg >= 64)
				cli_usage_error("--log: the name in '%s' is longer than 63 characters", optarg);
			o->logs[o->nlogs++] = optarg;
			break;
		case O_PAD: o->pad = optarg; break;
		case O_RESULTS: o->results = optarg; break;
		case O_COMMANDS: o->commands = optarg; break;
		case O_TITLE: set_text(&r->title, optarg); break;
		case O_SOURCE: set_text(&r->source_name, optarg); break;
		case O_TARGET: set_text(&r->target_name, optarg); break;
		case 'q': o->quiet = 1; break;
		case 'h':
			usage(stdout);
			free(o->preds);
			report_free(r);
			exit(0);
		default: cli_bad_option();
		}
	}
	o->frames = argv + optind;
	o->nframes = argc - optind;
}

/* Every input can be read (stdin once) and the page can be written: before any reading. */
static void check_options(const options *o)
{
	if (!o->nframes)
		cli_usage_error("no FRAME.npy operand (the layout frames of tsne --sequence)");
	if (o->pad && !o->nlogs)
		cli_usage_error("--pad needs the metrics logs it refers to (--log NAME=FILE)");
	const char *single[] = {o->images, o->snaps, o->pad, o->results, o->commands};
	int nsingle = (int)(sizeof single / sizeof *single), stdin_uses = 0;
	for (int i = 0; i < o->nframes; i++)
		stdin_uses += !strcmp(o->frames[i], "-");
	for (int i = 0; i < o->npreds; i++)
		stdin_uses += !strcmp(o->preds[i], "-");
	for (int i = 0; i < o->nlogs; i++)
		stdin_uses += !strcmp(strchr(o->logs[i], '=') + 1, "-");
	for (int i = 0; i < nsingle; i++)
		stdin_uses += single[i] && !strcmp(single[i], "-");
	if (stdin_uses > 1)
		cli_usage_error("stdin ('-') can be read only once");
	for (int i = 0; i < o->nframes; i++)
		cli_declare_in(o->frames[i]);
	for (int i = 0; i < o->npreds; i++)
		cli_declare_in(o->preds[i]);
	for (int i = 0; i < o->nlogs; i++)
		cli_declare_in(strchr(o->logs[i], '=') + 1);
	for (int i = 0; i < nsingle; i++)
		cli_declare_in(single[i]);
	cli_check_out("-o", o->out);
}

int main(int argc, char **argv)
{
	options o;
	report r;
	cli_init(argc, argv);
	report_init(&r);
	parse_options(argc, argv, &o, &r);
	check_options(&o);
	cli_set_messages(o.quiet, 0, 0);

	for (int i = 0; i < o.nframes; i++)
		read_input(&r, o.frames[i], rd_frames, NULL);
	if (o.npreds && o.npreds != r.nframes)
		cli_usage_error("%d --predictions for %d frames: give one per frame, in order", o.npreds,
		                r.nframes);
	for (int i = 0; i < o.npreds; i++)
		read_input(&r, o.preds[i], rd_preds, NULL);
	if (o.images)
		read_input(&r, o.images, rd_images, NULL);
	if (o.snaps)
		read_input(&r, o.snaps, rd_snaps, NULL);
	for (int i = 0; i < o.nlogs; i++) {
		char name[64], *eq = strchr(o.logs[i], '=');
		snprintf(name, sizeof name, "%.*s", (int)(eq - o.logs[i]), o.logs[i]);
		read_input(&r, eq + 1, rd_log, name);
	}
	if (o.pad)
		read_input(&r, o.pad, rd_pad, NULL);
	if (o.results)
		read_input(&r, o.results, rd_results, NULL);
	if (o.commands)
		read_input(&r, o.commands, rd_commands, NULL);

	FILE *out = cli_open_out_text(o.out);
	if (report_write(out, &r) < 0)
		cli_die("%s", err_msg());
	long size = ftell(out);
	cli_commit_out(out);
	if (size > BUDGET)
		cli_warn("the page is %.1f MB, more than the %.0f MB budget (fewer points: dann-embed "
		         "--per-domain)", size / 1e6, BUDGET / 1e6);
	if (o.out && strcmp(o.out, "-"))
		cli_info("%s: %d frames of %lld points, %.2f MB", o.out, r.nframes, (long long)r.n,
		         size / 1e6);
	report_free(&r);
	free(o.preds);
	return 0;
}
