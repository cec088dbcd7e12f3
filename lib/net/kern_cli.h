/* kern_cli.h - the tools' start of the compute layers (kern.h, nn.h): the thread count, the
 * kernels' instruction-set path (DANN_ISA) and the -v line.  Like cli.h it prints and exits, so
 * only tools call it. */
#ifndef DN_KERN_CLI_H
#define DN_KERN_CLI_H

/* nn_set_threads(threads); kern_isa_init(), a bad DANN_ISA being a usage error (exit 2); with
 * verbose, "tool: kernels: ..." (kern_isa_describe) on stderr. */
void kern_cli_setup(int threads, int verbose);

#endif
