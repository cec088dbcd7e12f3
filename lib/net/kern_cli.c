/* kern_cli.c - see kern_cli.h. */
#include "net/kern_cli.h"

#include <stdio.h>

#include "base/cli.h"
#include "base/err.h"
#include "net/kern.h"
#include "net/nn.h"

void kern_cli_setup(int threads, int verbose)
{
	nn_set_threads(threads);
	if (kern_isa_init() < 0)
		cli_usage_error("%s", err_msg());
	if (verbose) {
		char isa[128];
		fprintf(stderr, "%s: %s\n", cli_prog, kern_isa_describe(isa, sizeof isa));
	}
}
