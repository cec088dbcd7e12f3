/* tensor-cat - concatenate, check and list tensor streams (NPY v1.0 arrays back to back).
 *
 * Reads every array of every operand (or stdin) with the toolkit's own reader and writes it
 * again with its own writer, so it both validates a stream and normalises its headers. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/err.h"
#include "stream/npy.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tensor-cat [-l] [-o FILE] [-q] [FILE...]\n"
	        "Concatenate tensor streams (NPY v1.0 arrays back to back) to stdout or FILE,\n"
	        "checking every array; '-' or no FILE reads stdin.\n"
	        "  -l, --list     list each array as 'FILE[i]: (shape) dtype' on stdout; write no stream\n"
	        "  -o, --output FILE  write to FILE (atomically) instead of stdout\n"
	        "  -q, --quiet    no messages but errors\n"
	        "  -h, --help     this help\n");
}

typedef struct {
	const char *out;
	char **inputs;   /* the FILE operands; none: stdin */
	int ninputs, list, quiet;
} options;

static void parse_options(int argc, char **argv, options *o)
{
	static const struct option opts[] = {
		{"list", no_argument, 0, 'l'}, {"output", required_argument, 0, 'o'},
		{"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	*o = (options){0};
	int c;
	while ((c = getopt_long(argc, argv, "lo:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'l': o->list = 1; break;
		case 'o': o->out = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'h': usage(stdout); exit(0);
		default: cli_bad_option();
		}
	}
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
}

static void check_options(const options *o)
{
	if (o->list && o->out)
		cli_usage_error("-l and -o do not go together");
	for (int k = 0; k < o->ninputs; k++)
		cli_declare_in(o->inputs[k]);
	cli_check_out("-o", o->out);
}

/* Copy (or list) every array of one input. */
static void cat_one(const options *o, FILE *out, const char *path)
{
	const char *name = cli_name(path);
	FILE *f = cli_open_in(path);
	for (int i = 0;; i++) {
		npy_header h;
		int rc = npy_read_header(f, name, &h);
		if (rc == DN_EEOF && i > 0)
			break;
		if (rc < 0)
			cli_die("%s", err_msg());
		if (o->list) {
			char s[160];
			if (printf("%s[%d]: %s\n", name, i, npy_header_str(&h, s, sizeof s)) < 0)
				cli_write_failed();
		}
		/* Read the whole body before writing any of it, so that a truncated input puts
		 * nothing of that array on stdout. */
		void *buf = malloc(h.nbytes ? h.nbytes : 1);
		if (!buf)
			cli_die("%s: out of memory for %s", name, npy_header_str(&h, (char[160]){0}, 160));
		if (npy_read_data(f, name, &h, buf, (size_t)h.count) < 0)
			cli_die("%s", err_msg());
		if (!o->list && (npy_write_header(out, &h) < 0 ||
		                 npy_write_data(out, buf, (size_t)h.count, h.dtype) < 0))
			cli_write_failed();
		free(buf);
	}
	cli_close_in(f);
}

int main(int argc, char **argv)
{
	options o;
	cli_init(argc, argv);
	parse_options(argc, argv, &o);
	check_options(&o);
	cli_set_messages(o.quiet, 0, 0);

	FILE *out = o.list ? stdout : cli_open_out(o.out);
	if (!o.ninputs)
		cat_one(&o, out, "-");
	for (int k = 0; k < o.ninputs; k++)
		cat_one(&o, out, o.inputs[k]);
	cli_commit_out(out);
	return 0;
}
