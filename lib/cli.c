/* cli.c - the user-interface conventions every tool shares (see cli.h).
 * This is the one file in lib/ that prints and exits: tools call it, library modules never do. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *cli_prog = "dann";
static int saved_argc;
static char **saved_argv;
int cli_verbosity = 1;
int cli_progress_on = 0;

/* Outputs written under a temporary name, not yet renamed: removed on any early exit. */
#define MAX_OUTS 8
static struct {
	FILE *f;
	char *tmp, *final;
} outs[MAX_OUTS];

static void remove_uncommitted(void)
{
	for (int i = 0; i < MAX_OUTS; i++)
		if (outs[i].tmp) {
			unlink(outs[i].tmp); /* async-signal-safe */
		}
}

static void on_fatal_signal(int sig)
{
	remove_uncommitted();
	signal(sig, SIG_DFL);
	raise(sig);
}

void cli_init(int argc, char **argv)
{
	saved_argc = argc;
	saved_argv = argv;
	/* getopt's own message would be a second stderr line, named by the full argv[0]; the tool
	 * reports the bad option itself through cli_usage_error("unknown option"). */
	opterr = 0;
	if (argv && argv[0]) {
		const char *s = strrchr(argv[0], '/');
		cli_prog = s ? s + 1 : argv[0];
	}
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, on_fatal_signal);
	signal(SIGTERM, on_fatal_signal);
	signal(SIGHUP, on_fatal_signal);
	atexit(remove_uncommitted);
	cli_progress_on = isatty(2);
}

void cli_set_progress(int forced_on, int quiet)
{
	if (quiet)
		cli_verbosity = 0;
	cli_progress_on = !quiet && (forced_on || isatty(2));
}

/* Exit on a failure: remove uncommitted outputs and end now, without flushing stdio buffers
 * (a failed run should put no more on stdout) or running at-exit leak checks: the memory a tool
 * holds when it dies is not leaked, and LeakSanitizer would report every live block of every
 * error path in `make check SANITIZE=1`.  stderr is unbuffered, so the message is out. */
static void __attribute__((noreturn)) fail_exit(int status)
{
	remove_uncommitted();
	_exit(status);
}

static void vmsg(const char *fmt, va_list ap)
{
	char buf[1024];
	vsnprintf(buf, sizeof buf, fmt, ap);
	/* one line: fold any newline a message might carry */
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(stderr, "%s: %s\n", cli_prog, buf);
}

void cli_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	fail_exit(EXIT_DATA);
}

void cli_usage_error(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* After getopt_long returned '?' the tool may say just "unknown option...": name the
	 * option (long form from argv, else optopt) unless the message already does. */
	if (!strncmp(buf, "unknown option", 14) && saved_argv && optind > 0 && optind <= saved_argc) {
		const char *a = saved_argv[optind - 1];
		char opt[256] = "";
		if (a && !strncmp(a, "--", 2) && a[2])
			snprintf(opt, sizeof opt, "%.*s", (int)strcspn(a, "="), a);
		else if (optopt > 32 && optopt < 127)
			snprintf(opt, sizeof opt, "-%c", optopt);
		if (opt[0] && !strstr(buf, opt))
			snprintf(buf, sizeof buf, "unknown option or missing value: '%s'", opt);
	}
	fprintf(stderr, "%s: %s (try '%s --help')\n", cli_prog, buf, cli_prog);
	fail_exit(EXIT_USAGE);
}

void cli_warn(const char *fmt, ...)
{
	if (cli_verbosity < 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void cli_info(const char *fmt, ...)
{
	if (cli_verbosity < 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

long long cli_parse_int(const char *opt, const char *s, long long min, long long max)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || errno == ERANGE)
		cli_usage_error("%s: '%s' is not an integer", opt, s);
	if (v < min || v > max)
		cli_usage_error("%s: %lld is out of range %lld..%lld", opt, v, min, max);
	return v;
}

double cli_parse_double(const char *opt, const char *s, double min, double max)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno == ERANGE || !isfinite(v))
		cli_usage_error("%s: '%s' is not a finite number", opt, s);
	if (v < min || v > max)
		cli_usage_error("%s: %g is out of range %g..%g", opt, v, min, max);
	return v;
}

void cli_parse_size(const char *opt, const char *s, int min, int max, int *w, int *h)
{
	char buf[64];
	const char *x = strchr(s, 'x');
	if (!x || x == s || (size_t)(x - s) >= sizeof buf)
		cli_usage_error("%s: '%s' is not WxH (e.g. 800x600)", opt, s);
	memcpy(buf, s, (size_t)(x - s));
	buf[x - s] = 0;
	*w = (int)cli_parse_int(opt, buf, min, max);
	*h = (int)cli_parse_int(opt, x + 1, min, max);
}

FILE *cli_open_in(const char *path)
{
	if (!path || !strcmp(path, "-"))
		return stdin;
	FILE *f = fopen(path, "rb");
	if (!f)
		cli_die("%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode))
		cli_die("%s: is a directory, expected a file", path);
	return f;
}

void cli_close_in(FILE *f)
{
	if (f && f != stdin)
		fclose(f);
}

static FILE *open_out(const char *path, int binary)
{
	if (!path || !strcmp(path, "-")) {
		if (binary && isatty(1))
			cli_usage_error("refusing to write binary data to a terminal; use -o FILE or a pipe");
		return stdout;
	}
	/* An existing device or FIFO (/dev/full, /dev/null, a named pipe) is written in place:
	 * only regular files get the temporary name and the rename. */
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode))
			cli_die("%s: is a directory", path);
		FILE *f = fopen(path, "wb");
		if (!f)
			cli_die("%s: %s", path, strerror(errno));
		return f;
	}
	int slot = -1;
	for (int i = 0; i < MAX_OUTS; i++)
		if (!outs[i].f) {
			slot = i;
			break;
		}
	if (slot < 0)
		cli_die("too many open outputs");
	size_t n = strlen(path);
	char *tmp = malloc(n + 16), *fin = strdup(path);
	if (!tmp || !fin)
		cli_die("out of memory");
	snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0)
		cli_die("%s: cannot create: %s", path, strerror(errno));
	mode_t um = umask(0);
	umask(um);
	fchmod(fd, 0666 & ~um); /* mkstemp makes 0600; outputs are ordinary files */
	FILE *f = fdopen(fd, "wb");
	if (!f)
		cli_die("%s: %s", path, strerror(errno));
	outs[slot].f = f;
	outs[slot].tmp = tmp;
	outs[slot].final = fin;
	return f;
}

FILE *cli_open_out(const char *path) { return open_out(path, 1); }
FILE *cli_open_out_text(const char *path) { return open_out(path, 0); }

void cli_write_failed(void)
{
	if (errno == EPIPE)
		fail_exit(EXIT_DATA); /* the reader went away: a quiet stop */
	cli_die("write error: %s", errno ? strerror(errno) : "unknown error");
}

void cli_commit_out(FILE *f)
{
	if (f == stdout) {
		errno = 0;
		if (fflush(stdout) != 0 || ferror(stdout))
			cli_write_failed();
		/* A full disk may only show at close; fclose(stdout) is then checked here. */
		if (fclose(stdout) != 0)
			cli_write_failed();
		return;
	}
	for (int i = 0; i < MAX_OUTS; i++) {
		if (outs[i].f != f)
			continue;
		errno = 0;
		if (fflush(f) != 0 || ferror(f)) {
			int e = errno;
			fclose(f);
			errno = e;
			cli_die("%s: write error: %s", outs[i].final, errno ? strerror(errno) : "unknown error");
		}
		/* On the disk before it gets its name: a power loss after the rename must not leave a
		 * short file under the final name, and delayed-allocation ENOSPC shows up here. */
		if (fsync(fileno(f)) != 0 && errno != EINVAL && errno != EROFS) {
			int e = errno;
			fclose(f);
			errno = e;
			cli_die("%s: write error: %s", outs[i].final, strerror(errno));
		}
		if (fclose(f) != 0)
			cli_die("%s: write error: %s", outs[i].final, strerror(errno));
		outs[i].f = NULL;
		if (rename(outs[i].tmp, outs[i].final) != 0)
			cli_die("%s: cannot rename into place: %s", outs[i].final, strerror(errno));
		free(outs[i].tmp);
		free(outs[i].final);
		outs[i].tmp = outs[i].final = NULL;
		return;
	}
	/* a device or FIFO opened in place */
	errno = 0;
	if (fflush(f) != 0 || ferror(f)) {
		int e = errno;
		fclose(f);
		errno = e;
		cli_write_failed();
	}
	if (fclose(f) != 0)
		cli_write_failed();
}

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fmt_dur(char *buf, size_t len, double s)
{
	if (!isfinite(s) || s < 0)
		s = 0;
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

void cli_progress_start(cli_progress *p, const char *label, int64_t total)
{
	p->label = label;
	p->total = total;
	p->t0 = p->last = cli_now();
	p->shown = 0;
}

void cli_progress_update(cli_progress *p, int64_t done)
{
	if (!cli_progress_on)
		return;
	double now = cli_now();
	if (p->shown && now - p->last < 0.2 && done < p->total)
		return;
	p->last = now;
	p->shown = 1;
	double el = now - p->t0;
	char e[32], eta[32];
	fmt_dur(e, sizeof e, el);
	if (p->total > 0) {
		double frac = (double)done / (double)p->total;
		fmt_dur(eta, sizeof eta, done > 0 ? el * (1.0 / frac - 1.0) : 0);
		fprintf(stderr, "\r%s: %s: %lld/%lld (%.0f%%) %s elapsed, ETA %s   ", cli_prog, p->label,
		        (long long)done, (long long)p->total, 100.0 * frac, e, done > 0 ? eta : "?");
	} else {
		fprintf(stderr, "\r%s: %s: %lld %s elapsed   ", cli_prog, p->label, (long long)done, e);
	}
	fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
	if (cli_progress_on && p->shown)
		fputc('\n', stderr);
	p->shown = 0;
}
