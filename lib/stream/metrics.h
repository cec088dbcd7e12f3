/* metrics.h - dann-train's metrics log (TSV, dann-metrics(5)): its writer and its reader.
 *
 * The format (fixed by the project): a header line, then one line per logged step, fields
 * separated by tabs, the columns of MET_* in that order (names in metrics_col_names):
 *     step  epoch  lr  lambda  label_loss  domain_loss  domain_acc  source_acc  target_acc
 * A value that was not measured is written "nan".  The reader finds the columns by their
 * header names (so extra columns or another order are accepted), checks every field, and
 * returns an error with the line number on anything else. */
#ifndef DN_METRICS_H
#define DN_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
	MET_STEP, MET_EPOCH, MET_LR, MET_LAMBDA, MET_LABEL_LOSS, MET_DOMAIN_LOSS, MET_DOMAIN_ACC,
	MET_SOURCE_ACC, MET_TARGET_ACC, MET_NCOL
};

/* The header names, indexed by MET_*. */
extern const char *const metrics_col_names[MET_NCOL];

/* Writing.  The header line, then one row per call: row[MET_*], step an integer, the rest
 * as metrics_format writes them.  0, or DN_EIO on a write error (errno set by stdio). */
int metrics_write_header(FILE *f);
int metrics_write_row(FILE *f, const double row[MET_NCOL]);
/* A value as a log writes it: %.9g, as many digits as a float32 (what the network computes)
 * needs to read back as itself (a loss of 1e-7 or 1e30 stays itself); "nan" where nothing
 * was measured. */
void metrics_format(char *b, size_t n, double v);

typedef struct {
	int64_t n;               /* data rows */
	double *col[MET_NCOL];   /* (n,) each; NaN where not measured, +-inf where a loss
	                          * diverged; step is always finite */
} metrics_log;

/* Read a whole log.  Errors (DN_EFORMAT, DN_EIO, DN_ENOMEM) name `name` and the line:
 * a missing header or column, a duplicate column, a row with the wrong number of fields,
 * a field that is not a number ("nan" and "inf" are numbers, but not for step), a NUL byte,
 * or no data rows.  Blank lines and lines starting with '#' are skipped. */
int metrics_read(FILE *f, const char *name, metrics_log *m);
void metrics_free(metrics_log *m);
/* Number of finite values in column `col` (what a plot can draw). */
int64_t metrics_count(const metrics_log *m, int col);

#endif
