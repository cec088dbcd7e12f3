/* plot-curves - training curves of dann-train metrics logs, as one PNG.
 *
 *   plot-curves [options] -o curves.png METRICS.tsv...
 *
 * Several logs are overlaid; with --pad a fourth panel shows the proxy A-distance of each
 * log's snapshots.  The drawing is lib/draw/curves.h. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/err.h"
#include "draw/curves.h"
#include "draw/pngio.h"
#include "stream/metrics.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: %s [options] [-o FILE.png] METRICS.tsv...\n"
	        "Draw the training curves of dann-train metrics logs (METRICS.tsv, '-' for stdin) as one\n"
	        "PNG: losses, schedules and accuracies over the steps, several logs overlaid.\n"
	        "\n"
	        "  -o, --output FILE      the PNG (default: stdout, unless it is a terminal)\n"
	        "      --names A,B,...    legend names of the logs (default: the file names)\n"
	        "      --pad FILE         a fourth panel, the proxy A-distance of the rows of FILE\n"
	        "                         (TSV: model step pad; model = a log's name, step '-' for\n"
	        "                         the reference) and the domain accuracy\n"
	        "      --title TEXT       title (default \"Training curves: NAME\" for one log)\n"
	        "      --size WxH         image size (default 800x900; with --pad 800x1150)\n"
	        "  -q, --quiet            no messages\n"
	        "  -h, --help             this help\n",
	        cli_prog);
}

typedef struct {
	const char *out, *names, *pad, *title;
	int w, h, size_set;
	int quiet;
	char **files;      /* the METRICS.tsv operands */
	int nfiles;
} options;

enum { OPT_NAMES = 256, OPT_PAD, OPT_TITLE, OPT_SIZE };

static void parse_options(int argc, char **argv, options *o)
{
	*o = (options){.w = 800, .h = 900};
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'},   {"names", required_argument, 0, OPT_NAMES},
		{"pad", required_argument, 0, OPT_PAD},  {"title", required_argument, 0, OPT_TITLE},
		{"size", required_argument, 0, OPT_SIZE}, {"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o': o->out = optarg; break;
		case OPT_NAMES: o->names = optarg; break;
		case OPT_PAD: o->pad = optarg; break;
		case OPT_TITLE: o->title = optarg; break;
		case OPT_SIZE:
			cli_parse_size("--size", optarg, 300, 8192, &o->w, &o->h);  /* room for the panels */
			o->size_set = 1;
			break;
		case 'q': o->quiet = 1; break;
		case 'h': usage(stdout); exit(0);
		default: cli_bad_option();
		}
	}
	o->files = argv + optind;
	o->nfiles = argc - optind;
	cli_set_messages(o->quiet, 0, 0);
	if (o->nfiles < 1)
		cli_usage_error("no METRICS.tsv operand");
	if (!o->size_set && o->pad)
		o->h = 1150;  /* room for the fourth panel */
	for (int k = 0; k < o->nfiles; k++)
		cli_declare_in(o->files[k]);
	cli_declare_in(o->pad);
	cli_check_out("-o", o->out);
}

/* plot_file_name, or out of memory. */
static char *base_name(const char *path, const char *ext)
{
	char *b = plot_file_name(path, ext);
	if (!b)
		cli_die("out of memory");
	return b;
}

/* --names a,b,... (one per log) or the file names without ".tsv". */
static char **log_names(const options *o)
{
	char **names = calloc((size_t)o->nfiles, sizeof *names);
	if (!names)
		cli_die("out of memory");
	if (!o->names) {
		for (int i = 0; i < o->nfiles; i++)
			names[i] = base_name(o->files[i], ".tsv");
		return names;
	}
	char *dup = strdup(o->names), *save = NULL;
	if (!dup)
		cli_die("out of memory");
	int k = 0;
	for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (k < o->nfiles && !(names[k] = strdup(t)))
			cli_die("out of memory");
		k++;
	}
	free(dup);
	if (k != o->nfiles)
		cli_usage_error("--names: %d names for %d logs", k, o->nfiles);
	return names;
}

int main(int argc, char **argv)
{
	cli_init(argc, argv);
	options o;
	parse_options(argc, argv, &o);
	char **names = log_names(&o);
	metrics_log *logs = calloc((size_t)o.nfiles, sizeof *logs);
	if (!logs)
		cli_die("out of memory");
	for (int i = 0; i < o.nfiles; i++) {
		FILE *f = cli_open_in(o.files[i]);
		if (metrics_read(f, cli_name(o.files[i]), &logs[i]) < 0)
			cli_die("%s", err_msg());
		cli_close_in(f);
	}
	plot_pad_table pad;
	if (o.pad) {
		FILE *f = cli_open_in(o.pad);
		if (plot_pad_read(f, cli_name(o.pad), (const char *const *)names, o.nfiles, &pad) < 0)
			cli_die("%s", err_msg());
		cli_close_in(f);
	}
	char deftitle[512];
	const char *title = o.title;
	if (!title) {
		if (o.nfiles == 1)
			snprintf(deftitle, sizeof deftitle, "Training curves: %s", names[0]);
		else
			snprintf(deftitle, sizeof deftitle, "Training curves");
		title = deftitle;
	}
	plot_canvas c;
	if (plot_canvas_init(&c, o.w, o.h) < 0 ||
	    plot_curves(&c, logs, (const char *const *)names, o.nfiles, title, o.pad ? &pad : NULL) < 0)
		cli_die("%s", err_msg());
	FILE *f = cli_open_out(o.out);
	if (png_write(f, c.w, c.h, 3, c.px) < 0) {
		if (ferror(f))
			cli_write_failed_on(f);  /* a full disk or a closed pipe, said as every tool says it */
		cli_die("%s: %s", o.out ? o.out : "stdout", err_msg());
	}
	cli_commit_out(f);
	if (o.pad)
		plot_pad_free(&pad);
	plot_canvas_free(&c);
	for (int i = 0; i < o.nfiles; i++) {
		metrics_free(&logs[i]);
		free(names[i]);
	}
	free(logs);
	free(names);
	return 0;
}
