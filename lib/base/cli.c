/* cli.c - the user-interface conventions every tool shares (see cli.h).
 * This is the one file in lib/ that prints and exits: tools call it, library modules never do. */
#include "base/cli.h"
#include "base/err.h"
#include "base/path.h"

#include <errno.h>
#include <fcntl.h>
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

/* Every output opened: stdout, a device or FIFO written in place (tmp NULL), or a file written
 * under a temporary name and renamed on commit.  Uncommitted temporaries are removed on any
 * early exit. */
#define MAX_OUTS 16
static struct {
	FILE *f;
	char *tmp, *final;   /* temporary and rename target (the symlinks of the path followed) */
	char *name;          /* the name the user gave, for messages */
} outs[MAX_OUTS];
static int last_out = -1;

/* Regular files read (declared or opened), so that no output replaces one of them. */
#define MAX_INS 64
static struct {
	dev_t dev;
	ino_t ino;
	const char *name;
} ins[MAX_INS];
static int nins;

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

void cli_set_messages(int quiet, int verbose, int progress)
{
	cli_verbosity = quiet ? 0 : verbose ? 2 : 1;
	cli_progress_on = !quiet && (progress || isatty(2));
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

void cli_bad_option(void)
{
	cli_usage_error("unknown option");  /* cli_usage_error names it from argv */
}

const char *cli_name(const char *path)
{
	return !path || !strcmp(path, "-") ? "stdin" : path;
}

void cli_make_dir(const char *dir)
{
	if (path_mkdirs(dir) < 0)
		cli_die("%s", err_msg());
}

uint64_t cli_parse_seed(const char *s)
{
	return (uint64_t)cli_parse_int("--seed", s, 0, INT64_MAX);
}

int cli_parse_threads(const char *s)
{
	return (int)cli_parse_int("--threads", s, 1, 1024);
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

static void note_input(const struct stat *st, const char *path)
{
	if (!S_ISREG(st->st_mode) || nins == MAX_INS)
		return;
	for (int i = 0; i < nins; i++)
		if (ins[i].dev == st->st_dev && ins[i].ino == st->st_ino)
			return;
	ins[nins].dev = st->st_dev;
	ins[nins].ino = st->st_ino;
	ins[nins].name = path;
	nins++;
}

void cli_declare_in(const char *path)
{
	struct stat st;
	if (path && strcmp(path, "-") && stat(path, &st) == 0)
		note_input(&st, path);
}

FILE *cli_open_in(const char *path)
{
	if (!path || !strcmp(path, "-"))
		return stdin;
	FILE *f = fopen(path, "rb");
	if (!f)
		cli_die("%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fileno(f), &st) == 0) {
		if (S_ISDIR(st.st_mode))
			cli_die("%s: is a directory, expected a file", path);
		/* an output opened already that is this very file would replace it */
		for (int i = 0; i < MAX_OUTS; i++) {
			struct stat so;
			if (outs[i].f && outs[i].tmp && S_ISREG(st.st_mode) && stat(outs[i].final, &so) == 0 &&
			    so.st_dev == st.st_dev && so.st_ino == st.st_ino)
				cli_usage_error("%s: is both an input and the output %s; refusing to overwrite an "
				                "input", path, outs[i].name);
		}
		note_input(&st, path);
	}
	return f;
}

void cli_close_in(FILE *f)
{
	if (f && f != stdin)
		fclose(f);
}

/* Where an output really goes: the symlinks of the last component followed (so that -o LINK
 * writes through to the link's target rather than replacing the link), or, for /dev/stdout,
 * /dev/fd/N and /proc/self/fd/N, the file descriptor N (*fd >= 0, return NULL).  The result
 * is malloc'd. */
static char *resolve_out(const char *path, int *fd)
{
	*fd = -1;
	char *cur = strdup(path);
	if (!cur)
		cli_die("out of memory");
	for (int depth = 0; depth < 40; depth++) {
		int n, pos = -1;
		if ((sscanf(cur, "/proc/self/fd/%d%n", &n, &pos) == 1 && pos == (int)strlen(cur)) ||
		    (sscanf(cur, "/dev/fd/%d%n", &n, &pos) == 1 && pos == (int)strlen(cur))) {
			free(cur);
			*fd = n;
			return NULL;
		}
		struct stat st;
		if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode))
			return cur;
		char buf[PATH_MAX];
		ssize_t len = readlink(cur, buf, sizeof buf - 1);
		if (len < 0)
			return cur;
		buf[len] = '\0';
		const char *slash = strrchr(cur, '/');
		size_t dl = buf[0] == '/' || !slash ? 0 : (size_t)(slash - cur) + 1;
		char *next = malloc(dl + (size_t)len + 1);
		if (!next)
			cli_die("out of memory");
		memcpy(next, cur, dl);
		memcpy(next + dl, buf, (size_t)len + 1);
		free(cur);
		cur = next;
	}
	free(cur);
	cli_usage_error("%s: too many levels of symbolic links", path);
}

/* The folder a file `target` would be created in ("." for a bare name); malloc'd. */
static char *folder_of(const char *target)
{
	const char *slash = strrchr(target, '/');
	char *d = slash ? strndup(target, slash == target ? 1 : (size_t)(slash - target)) : strdup(".");
	if (!d)
		cli_die("out of memory");
	return d;
}

/* Usage errors for an output path that cannot be used; returns the resolved target (or NULL
 * with *fd set for a file descriptor). */
static char *check_out(const char *opt, const char *path, int *fd)
{
	if (!*path)
		cli_usage_error("%s: empty file name", opt ? opt : "output");
	char *target = resolve_out(path, fd);
	if (!target) {
		if (fcntl(*fd, F_GETFL) < 0)
			cli_usage_error("%s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (stat(target, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			cli_usage_error("%s: is a directory", path);
		for (int i = 0; i < nins; i++)
			if (S_ISREG(st.st_mode) && ins[i].dev == st.st_dev && ins[i].ino == st.st_ino)
				cli_usage_error("%s: is also the input %s; refusing to overwrite an input", path,
				                ins[i].name);
		if (!S_ISREG(st.st_mode))
			return target; /* a device or FIFO: written in place */
	} else if (errno != ENOENT) {
		cli_usage_error("%s: cannot create: %s", path, strerror(errno));
	}
	/* a new file or a replaced one: its folder must take a new file */
	char *dir = folder_of(target);
	struct stat ds;
	if (stat(dir, &ds) != 0)
		cli_usage_error("%s: cannot create: %s", path, strerror(errno));
	if (!S_ISDIR(ds.st_mode))
		cli_usage_error("%s: cannot create: %s", path, strerror(ENOTDIR));
	if (access(dir, W_OK | X_OK) != 0)
		cli_usage_error("%s: cannot create a file in %s: %s", path, dir, strerror(errno));
	free(dir);
	return target;
}

void cli_check_out(const char *opt, const char *path)
{
	if (!path || !strcmp(path, "-"))
		return;
	int fd;
	free(check_out(opt, path, &fd));
}

static int new_slot(void)
{
	for (int i = 0; i < MAX_OUTS; i++)
		if (!outs[i].f)
			return i;
	cli_die("too many open outputs");
}

static FILE *register_out(FILE *f, char *tmp, char *final, const char *name)
{
	int slot = new_slot();
	outs[slot].f = f;
	outs[slot].tmp = tmp;
	outs[slot].final = final;
	outs[slot].name = strdup(name);
	if (!outs[slot].name)
		cli_die("out of memory");
	last_out = slot;
	return f;
}

static FILE *open_stdout(int binary)
{
	if (binary && isatty(1))
		cli_usage_error("refusing to write binary data to a terminal; use -o FILE or a pipe");
	return register_out(stdout, NULL, NULL, "stdout");
}

/* `keep`: the temporary file starts as a copy of the existing file (cli_open_out_continue). */
static FILE *open_out(const char *path, int binary, int keep)
{
	if (!path || !strcmp(path, "-"))
		return open_stdout(binary);
	int fd;
	char *target = check_out(NULL, path, &fd);
	if (!target) {
		/* /dev/stdout, /dev/fd/N: the descriptor itself, never a file put in its place */
		if (fd == 1)
			return open_stdout(binary);
		int d = dup(fd);
		FILE *f = d >= 0 ? fdopen(d, "wb") : NULL;
		if (!f)
			cli_die("%s: %s", path, strerror(errno));
		return register_out(f, NULL, NULL, path);
	}
	/* An existing device or FIFO (/dev/full, /dev/null, a named pipe) is written in place:
	 * only regular files get the temporary name and the rename. */
	struct stat st;
	if (stat(target, &st) == 0 && !S_ISREG(st.st_mode)) {
		FILE *f = fopen(target, "wb");
		if (!f)
			cli_die("%s: %s", path, strerror(errno));
		free(target);
		return register_out(f, NULL, NULL, path);
	}
	size_t n = strlen(target);
	char *tmp = malloc(n + 16);
	if (!tmp)
		cli_die("out of memory");
	snprintf(tmp, n + 16, "%s.tmp.XXXXXX", target);
	int tfd = mkstemp(tmp);
	if (tfd < 0)
		cli_die("%s: cannot create: %s", path, strerror(errno));
	mode_t um = umask(0);
	umask(um);
	fchmod(tfd, 0666 & ~um); /* mkstemp makes 0600; outputs are ordinary files */
	FILE *f = fdopen(tfd, "wb");
	if (!f)
		cli_die("%s: %s", path, strerror(errno));
	register_out(f, tmp, target, path);
	if (keep) {
		FILE *old = fopen(target, "rb");
		if (old) {
			char buf[65536];
			size_t k;
			while ((k = fread(buf, 1, sizeof buf, old)) > 0)
				if (fwrite(buf, 1, k, f) != k)
					cli_write_failed_on(f);
			int bad = ferror(old);
			fclose(old);
			if (bad)
				cli_die("%s: read error", path);
		}
	}
	return f;
}

FILE *cli_open_out(const char *path) { return open_out(path, 1, 0); }
FILE *cli_open_out_text(const char *path) { return open_out(path, 0, 0); }
FILE *cli_open_out_continue(const char *path) { return open_out(path, 0, 1); }

static int find_out(FILE *f)
{
	for (int i = 0; i < MAX_OUTS; i++)
		if (outs[i].f && outs[i].f == f)
			return i;
	return -1;
}

void cli_write_failed_on(FILE *f)
{
	if (errno == EPIPE)
		fail_exit(EXIT_DATA); /* the reader went away: a quiet stop */
	int i = f ? find_out(f) : -1;
	const char *name = i >= 0 ? outs[i].name : "stdout";
	cli_die("%s: write error: %s", name, errno ? strerror(errno) : "unknown error");
}

void cli_write_failed(void)
{
	cli_write_failed_on(last_out >= 0 && outs[last_out].f ? outs[last_out].f : stdout);
}

static void forget_out(int i)
{
	free(outs[i].tmp);
	free(outs[i].final);
	free(outs[i].name);
	outs[i].f = NULL;
	outs[i].tmp = outs[i].final = outs[i].name = NULL;
}

void cli_commit_out(FILE *f)
{
	int i = find_out(f);
	if (i < 0 && f != stdout)
		cli_die("internal error: commit of an output never opened");
	if (i < 0)
		i = find_out(register_out(stdout, NULL, NULL, "stdout"));
	errno = 0;
	if (fflush(f) != 0 || ferror(f)) {
		int e = errno;
		if (!outs[i].tmp)
			cli_write_failed_on(f);
		fclose(f);
		errno = e;
		cli_die("%s: write error: %s", outs[i].name, errno ? strerror(errno) : "unknown error");
	}
	if (!outs[i].tmp) {
		/* stdout, a device or a FIFO: a full disk may only show at close */
		if (fclose(f) != 0)
			cli_write_failed_on(f);
		forget_out(i);
		return;
	}
	/* On the disk before it gets its name: a power loss after the rename must not leave a
	 * short file under the final name, and delayed-allocation ENOSPC shows up here. */
	if (fsync(fileno(f)) != 0 && errno != EINVAL && errno != EROFS) {
		int e = errno;
		fclose(f);
		errno = e;
		cli_die("%s: write error: %s", outs[i].name, strerror(errno));
	}
	if (fclose(f) != 0)
		cli_die("%s: write error: %s", outs[i].name, strerror(errno));
	outs[i].f = NULL;
	if (rename(outs[i].tmp, outs[i].final) != 0)
		cli_die("%s: cannot rename into place: %s", outs[i].name, strerror(errno));
	forget_out(i);
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
