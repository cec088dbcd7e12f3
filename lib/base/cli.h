/* cli.h - what every tool shares: messages, exit codes, number parsing, safe output, progress.
 *
 * Exit status: 0 success, 1 bad data or I/O failure, 2 usage error.  Messages go to stderr as
 * one line "tool: message"; stdout carries only data.  Only tools (never lib/) call these
 * functions that exit.
 *
 * Every tool has one shape: an options struct with its defaults, one parse_options() that
 * fills it from getopt_long and ends in cli_bad_option() on anything it does not know, checks
 * of the values and the output paths before any work, then the work.  Options that several
 * tools take are spelled the same everywhere, with the same defaults:
 *   -o, --output FILE       a file written (atomically; "-" or none: stdout where it makes sense)
 *   -O, --output-dir DIR    a folder written (created if missing)
 *       --seed N            every random choice (default 1)
 *       --threads N         threads (default: all processors; same N, same bytes)
 *   -q, --quiet             no messages but errors
 *   -v, --verbose           more messages
 *       --progress          a progress line even when stderr is not a terminal
 *   -h, --help              the help, on stdout, exit 0 */
#ifndef DN_CLI_H
#define DN_CLI_H

#include <stdint.h>
#include <stdio.h>

#define EXIT_DATA 1
#define EXIT_USAGE 2

extern const char *cli_prog;  /* basename of argv[0] */
extern int cli_verbosity;     /* 0 with -q, 1 default, 2 with -v */
extern int cli_progress_on;   /* progress lines: stderr is a tty or --progress, and not -q */

/* Set the program name; SIGPIPE gets its default action (a quiet stop when a reader goes
 * away); SIGINT/SIGTERM/SIGHUP remove any uncommitted output file, then re-raise. */
void cli_init(int argc, char **argv);
/* Call after option parsing with -q, -v and --progress (0 for those a tool does not take):
 * sets cli_verbosity (0, 1 or 2) and cli_progress_on (stderr is a terminal or --progress,
 * and not -q). */
void cli_set_messages(int quiet, int verbose, int progress);

void cli_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));   /* exit 1 */
void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn)); /* exit 2 */
/* cli_init() turns off getopt's own messages (opterr = 0), so the one line is the tool's:
 * cli_usage_error("unknown option...") right after getopt_long returned '?' names the option,
 * e.g. "tool: unknown option or missing value: '--bogus' (try 'tool --help')". */
/* The one bad-option path: call where getopt_long returned '?' or ':'.  Names the option as
 * the user wrote it: "tool: unknown option or missing value: '--bogus' (try 'tool --help')". */
void cli_bad_option(void) __attribute__((noreturn));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  /* unless -q */
void cli_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  /* unless -q */

/* The name of an input in messages: "stdin" for NULL and "-", else the path. */
const char *cli_name(const char *path);
/* Create folder `dir` and its parents (mkdir -p); failure is cli_die naming it. */
void cli_make_dir(const char *dir);
/* --seed and --threads, parsed and range-checked the same way in every tool. */
uint64_t cli_parse_seed(const char *s);
int cli_parse_threads(const char *s);

/* Full-string, range-checked parsing for option `opt`; a bad value is a usage error (exit 2). */
long long cli_parse_int(const char *opt, const char *s, long long min, long long max);
double cli_parse_double(const char *opt, const char *s, double min, double max);
/* Parse "WxH" (e.g. "800x600") with each side in [min,max]. */
void cli_parse_size(const char *opt, const char *s, int min, int max, int *w, int *h);

/* Input: NULL or "-" is stdin.  A missing file or a directory is cli_die().  A regular file
 * opened is remembered: no output may replace it (see cli_check_out). */
FILE *cli_open_in(const char *path);
void cli_close_in(FILE *f);
/* Remember `path` as an input before it is opened (so that cli_check_out, called while the
 * options are checked, refuses an output naming it); NULL, "-" and missing files are ignored. */
void cli_declare_in(const char *path);

/* Check an output path before any work: an empty name, a directory, a folder that does not
 * exist or cannot take a new file, or the same file as an input (declared or opened) is a
 * usage error (exit 2) naming `opt`'s value.  NULL and "-" (stdout) pass.  cli_open_out*
 * make the same checks; call this for outputs written only after long work. */
void cli_check_out(const char *opt, const char *path);

/* Binary output: NULL or "-" is stdout (refused if stdout is a terminal).  A named file is
 * written to a temporary name in the same folder and renamed over `path` only by
 * cli_commit_out(); on any exit before that, the temporary file is removed.  A symbolic link
 * is followed: the temporary file goes beside the link's target and replaces the target, the
 * link stays.  /dev/stdout, /dev/fd/N and /proc/self/fd/N write to that descriptor; an existing
 * device or FIFO is written in place. */
FILE *cli_open_out(const char *path);
/* Text output (e.g. a TSV or PNG written by a library): same, but a terminal is allowed. */
FILE *cli_open_out_text(const char *path);
/* Text output that continues an existing file: the temporary file starts as a copy of `path`
 * (if it exists), so the file is still replaced whole, on commit (a resumed log). */
FILE *cli_open_out_continue(const char *path);
/* Flush, check for write errors (a full disk, /dev/full, a closed stdout), close and rename.
 * Failure is cli_die("FILE: write error: ..."); EPIPE is a quiet exit 1. */
void cli_commit_out(FILE *f);
/* Call on a write to `f` that returned an error: dies with "FILE: write error: ..." (quiet on
 * EPIPE).  cli_write_failed() names the output opened last. */
void cli_write_failed_on(FILE *f) __attribute__((noreturn));
void cli_write_failed(void) __attribute__((noreturn));

/* Progress line on stderr with rate and ETA, at most ~5 updates/s; no-op unless
 * cli_progress_on. */
typedef struct {
	const char *label;
	int64_t total;
	double t0, last;
	int shown;
} cli_progress;
void cli_progress_start(cli_progress *p, const char *label, int64_t total);
void cli_progress_update(cli_progress *p, int64_t done);
void cli_progress_end(cli_progress *p);

/* Monotonic seconds. */
double cli_now(void);

#endif
