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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"list", no_argument, 0, 'l'}, {"output", required_argument, 0, 'o'},
		{"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	int list = 0, quiet = 0, c;
	const char *out = NULL;
	cli_init(argc, argv);
	while ((c = getopt_long(argc, argv, "lo:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'l': list = 1; break;
		case 'o': out = optarg; break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return 0;
		default: cli_usage_error("unknown option");
		}
	}
	cli_set_progress(0, quiet);
	if (list && out)
		cli_usage_error("-l and -o do not go together");

	for (int k = optind; k < argc; k++)
		cli_declare_in(argv[k]);
	cli_check_out("-o", out);
	FILE *o = list ? stdout : cli_open_out(out);
	int nin = argc - optind;
	const char *stdin_only[] = {"-"};
	char **ins = nin ? argv + optind : (char **)stdin_only;
	if (!nin)
		nin = 1;
	for (int k = 0; k < nin; k++) {
		const char *name = strcmp(ins[k], "-") ? ins[k] : "stdin";
		FILE *f = cli_open_in(ins[k]);
		for (int i = 0;; i++) {
			npy_header h;
			int rc = npy_read_header(f, name, &h);
			if (rc == DN_EEOF && i > 0)
				break;
			if (rc < 0)
				cli_die("%s", err_msg());
			if (list) {
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
			if (!list && (npy_write_header(o, &h) < 0 || npy_write_data(o, buf, (size_t)h.count, h.dtype) < 0))
				cli_write_failed();
			free(buf);
		}
		cli_close_in(f);
	}
	cli_commit_out(o);
	return 0;
}
