/* metrics.c - the metrics TSV writer and reader (see metrics.h). */
#include "stream/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

const char *const metrics_col_names[MET_NCOL] = {
	"step", "epoch", "lr", "lambda", "label_loss", "domain_loss", "domain_acc", "source_acc",
	"target_acc"};

void metrics_format(char *b, size_t n, double v)
{
	if (isnan(v))
		snprintf(b, n, "nan");
	else
		snprintf(b, n, "%.9g", v);
}

int metrics_write_header(FILE *f)
{
	for (int c = 0; c < MET_NCOL; c++)
		if (fprintf(f, "%s%c", metrics_col_names[c], c + 1 < MET_NCOL ? '\t' : '\n') < 0)
			return err_set(DN_EIO, "write error: %s", strerror(errno));
	return 0;
}

int metrics_write_row(FILE *f, const double row[MET_NCOL])
{
	for (int c = 0; c < MET_NCOL; c++) {
		char v[32];
		if (c == MET_STEP)
			snprintf(v, sizeof v, "%lld", (long long)row[c]);
		else
			metrics_format(v, sizeof v, row[c]);
		if (fprintf(f, "%s%c", v, c + 1 < MET_NCOL ? '\t' : '\n') < 0)
			return err_set(DN_EIO, "write error: %s", strerror(errno));
	}
	return 0;
}

void metrics_free(metrics_log *m)
{
	for (int c = 0; c < MET_NCOL; c++) {
		free(m->col[c]);
		m->col[c] = NULL;
	}
	m->n = 0;
}

int64_t metrics_count(const metrics_log *m, int col)
{
	int64_t k = 0;
	for (int64_t i = 0; i < m->n; i++)
		k += isfinite(m->col[col][i]) != 0;
	return k;
}

/* Split `line` (length len, no newline) at tabs in place; returns the field count, at most
 * `max` pointers stored (the count goes on past max so a long row is still detected). */
static int split_tabs(char *line, size_t len, char **fields, int max)
{
	int n = 0;
	char *start = line;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || line[i] == '\t') {
			line[i] = '\0';
			if (n < max)
				fields[n] = start;
			n++;
			start = line + i + 1;
		}
	}
	return n;
}

/* A field as a double: the whole field must be a number, nan or inf (a diverged loss). */
static int parse_field(const char *s, double *v)
{
	while (*s == ' ')
		s++;
	if (!*s)
		return -1;
	char *end;
	errno = 0;
	double x = strtod(s, &end);
	while (*end == ' ')
		end++;
	if (*end || end == s)
		return -1;
	if (errno == ERANGE && isfinite(x) && fabs(x) > 1.0)
		return -1; /* overflow of a written-out number: not what a log holds */
	*v = isnan(x) ? NAN : x;
	return 0;
}

#define MAX_FIELDS 256

int metrics_read(FILE *f, const char *name, metrics_log *m)
{
	memset(m, 0, sizeof *m);
	char *line = NULL;
	size_t cap = 0;
	char **fields = malloc(MAX_FIELDS * sizeof *fields);
	int idx[MET_NCOL];
	int nfields = 0;
	int have_header = 0;
	int64_t lineno = 0, alloc = 0;
	int rc = 0;
	if (!fields)
		return err_set(DN_ENOMEM, "%s: out of memory", name);
	for (;;) {
		errno = 0;
		ssize_t len = getline(&line, &cap, f);
		if (len < 0) {
			if (ferror(f)) {
				rc = err_set(DN_EIO, "%s: read error: %s", name, strerror(errno ? errno : EIO));
				goto out;
			}
			break;
		}
		lineno++;
		if (memchr(line, '\0', (size_t)len)) {
			rc = err_set(DN_EFORMAT, "%s: line %lld: binary data (NUL byte), not a TSV", name,
			             (long long)lineno);
			goto out;
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		int nf = split_tabs(line, (size_t)len, fields, MAX_FIELDS);
		if (!have_header) {
			if (nf > MAX_FIELDS) {
				rc = err_set(DN_EFORMAT, "%s: line %lld: header has %d columns (at most %d)", name,
				             (long long)lineno, nf, MAX_FIELDS);
				goto out;
			}
			for (int c = 0; c < MET_NCOL; c++) {
				idx[c] = -1;
				for (int k = 0; k < nf; k++) {
					if (strcmp(fields[k], metrics_col_names[c]) != 0)
						continue;
					if (idx[c] >= 0) {
						rc = err_set(DN_EFORMAT, "%s: line %lld: column '%s' appears twice", name,
						             (long long)lineno, metrics_col_names[c]);
						goto out;
					}
					idx[c] = k;
				}
				if (idx[c] < 0) {
					rc = err_set(DN_EFORMAT,
					             "%s: line %lld: header has no '%s' column (not a dann-train metrics log?)",
					             name, (long long)lineno, metrics_col_names[c]);
					goto out;
				}
			}
			nfields = nf;
			have_header = 1;
			continue;
		}
		if (nf != nfields) {
			rc = err_set(DN_EFORMAT, "%s: line %lld: %d fields, the header has %d", name,
			             (long long)lineno, nf, nfields);
			goto out;
		}
		if (m->n == alloc) {
			int64_t na = alloc ? alloc * 2 : 256;
			if ((uint64_t)na > SIZE_MAX / sizeof(double)) {
				rc = err_set(DN_ENOMEM, "%s: too many rows", name);
				goto out;
			}
			for (int c = 0; c < MET_NCOL; c++) {
				double *p = realloc(m->col[c], (size_t)na * sizeof(double));
				if (!p) {
					rc = err_set(DN_ENOMEM, "%s: out of memory at line %lld", name, (long long)lineno);
					goto out;
				}
				m->col[c] = p;
			}
			alloc = na;
		}
		for (int c = 0; c < MET_NCOL; c++) {
			double v;
			if (parse_field(fields[idx[c]], &v) < 0) {
				rc = err_set(DN_EFORMAT, "%s: line %lld: %s '%.40s' is not a number", name,
				             (long long)lineno, metrics_col_names[c], fields[idx[c]]);
				goto out;
			}
			if (c == MET_STEP && !isfinite(v)) {
				rc = err_set(DN_EFORMAT, "%s: line %lld: step is %s", name, (long long)lineno,
				             fields[idx[c]]);
				goto out;
			}
			m->col[c][m->n] = v;
		}
		m->n++;
	}
	if (!have_header)
		rc = err_set(DN_EFORMAT, "%s: empty file, expected a metrics TSV header", name);
	else if (m->n == 0)
		rc = err_set(DN_EFORMAT, "%s: no data rows after the header", name);
out:
	free(line);
	free(fields);
	if (rc < 0)
		metrics_free(m);
	return rc;
}
