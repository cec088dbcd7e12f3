/* test_report.c - lib/draw/report.c: base64 (RFC 4648's test vectors), the JSON string escaping
 * that keeps the page's data inside its <script> element, the nearest log row, and the
 * checks that every input describes the same points as the first frame. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "base/err.h"
#include "stream/npy.h"
#include "draw/report.h"

static void test_base64(void)
{
	/* RFC 4648 section 10 */
	static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	char buf[32];
	for (int i = 0; i < 7; i++) {
		size_t n = report_base64(buf, (const uint8_t *)in[i], strlen(in[i]));
		CHECK_MSG(n == strlen(out[i]) && !strcmp(buf, out[i]), "base64(%s) = %s, expected %s",
		          in[i], buf, out[i]);
	}
	const uint8_t bin[3] = {0xfb, 0xff, 0x00};
	report_base64(buf, bin, 3);
	CHECK(!strcmp(buf, "+/8A"));
}

static void test_json_string(void)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	CHECK(report_json_string(f, "a\"b\\c\n</script>&\x01") == 0);
	fclose(f);
	CHECK_MSG(!strcmp(s, "\"a\\\"b\\\\c\\n\\u003c/script\\u003e\\u0026\\u0001\""), "got %s", s);
	free(s);
}

static void test_nearest_row(void)
{
	double steps[4] = {0, 50, 100, 150};
	metrics_log m = {0};
	m.n = 4;
	m.col[MET_STEP] = steps;
	CHECK(report_nearest_row(&m, 0) == 0);
	CHECK(report_nearest_row(&m, 74) == 1);
	CHECK(report_nearest_row(&m, 1e9) == 3);
	m.n = 0;
	CHECK(report_nearest_row(&m, 5) == -1);
}

/* A layout frame of n points in memory: points (n,2), labels, domains. */
static FILE *frame(int n, int label_shift, int domain_flip)
{
	FILE *f = tmpfile();
	float *p = malloc(sizeof(float) * 2 * (size_t)n);
	uint8_t *l = malloc((size_t)n), *d = malloc((size_t)n);
	for (int i = 0; i < n; i++) {
		p[2 * i] = (float)i;
		p[2 * i + 1] = (float)(i * i);
		l[i] = (uint8_t)((i + label_shift) % 10);
		d[i] = (uint8_t)((i % 2) ^ domain_flip);
	}
	int64_t s2[2] = {n, 2}, s1[1] = {n};
	npy_write_array(f, NPY_F32, 2, s2, p);
	npy_write_array(f, NPY_U8, 1, s1, l);
	npy_write_array(f, NPY_U8, 1, s1, d);
	rewind(f);
	free(p);
	free(l);
	free(d);
	return f;
}

/* predictions then labels */
static FILE *preds(int n, int label_shift, int pred)
{
	FILE *f = tmpfile();
	uint8_t *l = malloc((size_t)n), *p = malloc((size_t)n);
	for (int i = 0; i < n; i++) {
		l[i] = (uint8_t)((i + label_shift) % 10);
		p[i] = (uint8_t)pred;
	}
	int64_t s1[1] = {n};
	npy_write_array(f, NPY_U8, 1, s1, p);
	npy_write_array(f, NPY_U8, 1, s1, l);
	rewind(f);
	free(l);
	free(p);
	return f;
}

static FILE *text(const char *s)
{
	FILE *f = tmpfile();
	fputs(s, f);
	rewind(f);
	return f;
}

static void test_same_points(void)
{
	report r;
	report_init(&r);
	FILE *f = frame(12, 0, 0);
	CHECK(report_add_frame(&r, f, "a") == 0);
	CHECK(report_add_frame(&r, f, "a") == DN_EEOF);
	fclose(f);
	f = frame(12, 0, 0);
	CHECK(report_add_frame(&r, f, "b") == 0);
	fclose(f);
	CHECK(r.nframes == 2 && r.n == 12 && r.pts[2 * 12 + 2 * 5 + 1] == 25.0f);
	f = frame(11, 0, 0);
	CHECK_ERR(report_add_frame(&r, f, "c"), "c: a frame of 11 points, the frames have 12");
	fclose(f);
	f = frame(12, 1, 0);
	CHECK_ERR(report_add_frame(&r, f, "d"), "d: the label of point 0 is 1, in the frames 0");
	fclose(f);
	f = frame(12, 0, 1);
	CHECK_ERR(report_add_frame(&r, f, "e"), "e: the domain of point 0 is 1, in the frames 0");
	fclose(f);
	CHECK(r.nframes == 2);

	f = preds(12, 0, 7);
	CHECK(report_add_predictions(&r, f, "p") == 0);
	fclose(f);
	f = preds(12, 3, 7);
	CHECK_ERR(report_add_predictions(&r, f, "q"), "q: the label of point 0 is 3, in the frames 0");
	fclose(f);
	f = preds(12, 0, 10);
	CHECK_ERR(report_add_predictions(&r, f, "r"), "r: prediction 10 of point 0 is not a digit");
	fclose(f);
	CHECK(r.npreds == 1 && r.preds[11] == 7);
	/* a page needs predictions for every frame */
	FILE *o = tmpfile();
	CHECK_ERR(report_write(o, &r), "predictions for 1 frames, but 2 frames");
	f = preds(12, 0, 2);
	CHECK(report_add_predictions(&r, f, "p") == 0);
	fclose(f);

	f = text("index\tstep\tepoch\tlambda\ttarget_acc\n0\t0\t0\t0\tnan\n");
	CHECK_ERR(report_read_snapshots(&r, f, "s"), "s: 1 snapshots for 2 frames");
	fclose(f);
	f = text("index\tstep\tlambda\n0\t0\t0\n");
	CHECK_ERR(report_read_snapshots(&r, f, "s"), "s: no column 'target_acc'");
	fclose(f);
	f = text("index\tstep\tepoch\tlambda\ttarget_acc\n0\t0\t0\t0\tnan\n1\t20\t1\tx\t0.5\n");
	CHECK_ERR(report_read_snapshots(&r, f, "s"), "s: line 3: lambda 'x' is not a number");
	fclose(f);
	f = text("index\tstep\tepoch\tlambda\ttarget_acc\n0\t0\t0\t0\tnan\n1\t20\t1\t0.5\t0.75\n");
	CHECK(report_read_snapshots(&r, f, "s") == 0);
	fclose(f);
	CHECK(r.nsnaps == 2 && r.snap_step[1] == 20 && r.snap_lambda[1] == 0.5 && isnan(r.snap_tacc[0]));

	CHECK(report_write(o, &r) == 0);
	CHECK(ftell(o) > 10000);
	fclose(o);

	/* a long metrics log is thinned to every k-th row and the last */
	f = tmpfile();
	fputs("step\tepoch\tlr\tlambda\tlabel_loss\tdomain_loss\tdomain_acc\tsource_acc\ttarget_acc\n", f);
	for (int i = 0; i < 4500; i++)
		fprintf(f, "%d\t0\t0.01\t0.5\t1\t1\t0.5\t0.9\tnan\n", i);
	rewind(f);
	CHECK(report_add_log(&r, f, "log", "DANN") == 0);
	fclose(f);
	char *page = NULL;
	size_t len = 0;
	o = open_memstream(&page, &len);
	CHECK(report_write(o, &r) == 0);
	fclose(o);
	const char *st = strstr(page, "\"name\":\"DANN\",\"step\":[0,3,6,");
	CHECK_MSG(st != NULL, "no thinned step array in the page");
	if (st) {
		const char *end = strchr(st, ']');
		int commas = 0;
		for (const char *c = st; c < end; c++)
			commas += *c == ',';
		/* 1500 rows (0, 3, ..., 4497) and the last, 4499: 1500 commas, and one after the name */
		CHECK_MSG(commas == 1501 && !strncmp(end - 9, "4497,4499]", 10), "%d commas", commas);
	}
	free(page);
	report_free(&r);
}

static void test_table(void)
{
	report_table t;
	FILE *f = text("a\tb\n1\t2\n\n3\t4\n");
	CHECK(report_read_table(f, "t", &t) == 0);
	fclose(f);
	CHECK(t.rows == 3 && t.cols == 2 && !strcmp(t.cell[5], "4"));
	report_table_free(&t);
	f = text("a\tb\n1\n");
	CHECK_ERR(report_read_table(f, "t", &t), "t: line 2: 1 fields, the header has 2");
	fclose(f);
	f = text("");
	CHECK_ERR(report_read_table(f, "t", &t), "t: empty");
	fclose(f);
}

int main(void)
{
	test_base64();
	test_json_string();
	test_nearest_row();
	test_same_points();
	test_table();
	return check_summary("test_report");
}
