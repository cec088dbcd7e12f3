/* metrics.h - read dann-train's metrics log (TSV).
 *
 * The format (fixed by the project): a header line, then one line per logged step, fields
 * separated by tabs, columns
 *     step  epoch  lr  lambda  label_loss  domain_loss  domain_acc  source_acc  target_acc
 * A value that was not measured is written "nan".  The reader finds the columns by their
 * header names (so extra columns or another order are accepted), checks every field, and
 * returns an error with the line number on anything else. */
#ifndef DN_METRICS_H
#define DN_METRICS_H

#include <stdint.h>
#include <stdio.h>

enum {
	MET_STEP, MET_EPOCH, MET_LR, MET_LAMBDA, MET_LABEL_LOSS, MET_DOMAIN_LOSS, MET_DOMAIN_ACC,
	MET_SOURCE_ACC, MET_TARGET_ACC, MET_NCOL
};

/* The header names, indexed by MET_*. */
extern const char *const metrics_col_names[MET_NCOL];

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
