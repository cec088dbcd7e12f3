/* test_sheet.c - contact sheets (lib/draw/sheet.h): the grid, the sheet of zoomed images of
 * mnistm-gen --sheet, and the sheet of key frames of plot-frames --sheet. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "base/err.h"
#include "draw/frames.h"
#include "draw/sheet.h"

static void test_layout(void)
{
	plot_sheet sh;
	/* 5 cells: the smallest square grid is 3x3, of which 2 rows are used */
	CHECK(plot_sheet_layout(&sh, 5, 0, 10, 8, 2, 0) == 0);
	CHECK(sh.cols == 3 && sh.rows == 2);
	CHECK(sh.w == 2 + 3 * 12 && sh.h == 2 + 2 * 10);
	int x, y;
	plot_sheet_cell(&sh, 4, &x, &y);
	CHECK(x == 14 && y == 12);
	/* a header band moves the grid down; never more columns than cells */
	CHECK(plot_sheet_layout(&sh, 2, 5, 10, 8, 3, 20) == 0);
	CHECK(sh.cols == 2 && sh.rows == 1 && sh.h == 20 + 3 + 11);
	plot_sheet_cell(&sh, 0, &x, &y);
	CHECK(x == 3 && y == 23);
	CHECK_ERR(plot_sheet_layout(&sh, 0, 0, 10, 8, 2, 0), "no images");
	CHECK_ERR(plot_sheet_layout(&sh, 10000, 0, 2048, 2048, 2, 0), "too large");
}

static void test_images(void)
{
	uint8_t imgs[3 * 2 * 2 * 3];
	for (int i = 0; i < 3; i++)
		memset(imgs + i * 12, 10 * (i + 1), 12);
	plot_sheet sh;
	plot_canvas c;
	CHECK(plot_sheet_images_layout(&sh, 3, 2, 2, 0, 2) == 0);
	CHECK(plot_sheet_images(&sh, imgs, 2, &c) == 0);
	CHECK(c.w == 14 && c.h == 14); /* 2 columns of 4-pixel tiles, 2-pixel gutters */
	if (c.w == 14 && c.h == 14) {
		const uint8_t *s = c.px;
		CHECK(s[(2 * 14 + 2) * 3] == 10);   /* image 0 at (2,2) */
		CHECK(s[(2 * 14 + 8) * 3] == 20);   /* image 1 at (8,2) */
		CHECK(s[(11 * 14 + 5) * 3] == 30);  /* image 2 at (2..5, 8..11) */
		CHECK(s[(0 * 14 + 0) * 3] == 96);   /* gutter */
		CHECK(s[(11 * 14 + 11) * 3] == 96); /* empty cell */
	}
	plot_canvas_free(&c);
	CHECK_ERR(plot_sheet_images_layout(&sh, 0, 2, 2, 0, 1), "no images");
}

/* The frames' sheet: one thumbnail per key frame under the header band, white around. */
static void test_frames_sheet(void)
{
	float pts[2][4] = {{0, 0, 1, 1}, {1, 0, 0, 1}};
	uint8_t lab[2] = {1, 2}, dom[2] = {0, 1};
	char t0[] = "a", t1[] = "b";
	plot_key_frame key[2] = {{pts[0], lab, dom, t0}, {pts[1], lab, dom, t1}};
	plot_scatter_opts so = {PLOT_COLOR_DOMAIN, "S", "T", 0, 0, 2, 1, 1, 0};
	double lim[4];
	plot_limits_init(lim);
	CHECK(plot_limits_add(lim, pts[0], 2, "a") == 0 && plot_limits_add(lim, pts[1], 2, "b") == 0);
	plot_scatter ps;
	CHECK(plot_scatter_prepare(&ps, &so, 320, 240, lim) == 0);
	int64_t order[2] = {0, 1};
	plot_frames m;
	CHECK(plot_frames_init(&m, &ps, key, 2, 3, 2, order) == 0);
	CHECK(m.total == 2 + 3);
	plot_canvas c;
	CHECK(plot_frames_sheet(&m, 100, 80, 0, "sheet", &c) == 0);
	CHECK(c.w == 10 + 2 * (100 + 10)); /* 2 frames side by side: wider than tall */
	int header = 10 + font_title.h + 10 + font_body.h + 4;
	CHECK(c.h == header + 10 + 80 + 10);
	CHECK(c.px[0] == 255 && c.px[((size_t)(c.h - 1) * c.w + c.w - 1) * 3] == 255);
	plot_canvas_free(&c);
	CHECK_ERR(plot_frames_init(&m, &ps, key, 4, 1000000000, 2, order), "too many frames");
}

int main(void)
{
	test_layout();
	test_images();
	test_frames_sheet();
	return check_summary("test_sheet");
}
