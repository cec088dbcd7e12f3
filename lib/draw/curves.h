/* curves.h - the training curves of plot-curves: a metrics log of dann-train (or several,
 * overlaid) as panels of losses, schedules and accuracies over the training steps, and with a
 * PAD table a fourth panel: how far apart the domains' features are.  Drawn on the raster of
 * raster.h. */
#ifndef DN_CURVES_H
#define DN_CURVES_H

#include <stdint.h>
#include <stdio.h>

#include "draw/raster.h"
#include "stream/metrics.h"



/* Proxy A-distance over training, for the curves' alignment panel: for each metrics log
 * (matched by name) one series per layer of the network (up to PLOT_PAD_LAYERS, in the order
 * they first appear), and at most one reference value drawn as a level line (raw pixels). */
#define PLOT_PAD_LAYERS 3
typedef struct {
	int nlogs, nlayers;
	char layer[PLOT_PAD_LAYERS][32];
	int64_t *n;             /* (nlogs * PLOT_PAD_LAYERS,) points of series (log l, layer j) */
	double **step, **pad;   /* (nlogs * PLOT_PAD_LAYERS,) arrays, index l * PLOT_PAD_LAYERS + j */
	int has_ref;
	double ref;
	char ref_name[64];
} plot_pad_table;

/* Read a PAD table (TSV with a header naming at least the columns model, step and pad, and
 * optionally layer, as the pipelines' pad.tsv): a row whose model is names[l] adds (step, pad)
 * to log l's series of its layer; a row whose step is "-" is the reference (one at most).
 * Errors (DN_EFORMAT with the line, DN_ENOMEM): a missing column, a row with another number
 * of fields, a model that is none of the names, a step or PAD that is not a finite number, a
 * second reference, more than PLOT_PAD_LAYERS layers.  Free with plot_pad_free. */
int plot_pad_read(FILE *f, const char *name, const char *const *names, int nlogs,
                  plot_pad_table *t);
void plot_pad_free(plot_pad_table *t);

/* Three panels stacked on a shared step axis: label and domain loss; lambda (left axis) and
 * learning rate (right axis); source and target accuracy; with `pad` (or NULL) a fourth: the
 * PAD of each log's snapshots (left axis; the first layer solid, the others dotted and
 * dash-dotted) and the domain classifier's accuracy (right axis, dashed), the reference as a
 * grey dotted level.  Several logs are overlaid, each in its own colour, named
 * in the legend by names[i].  NaN values are skipped (the line joins the values around them).
 * Clears the canvas.  DN_EARG if there is nothing to draw. */
int plot_curves(plot_canvas *c, const metrics_log *logs, const char *const *names, int nlogs,
                const char *title, const plot_pad_table *pad);

#endif
