/* check.h - minimal unit-test macros.  Each tests/unit/test_*.c is one program: it runs its
 * checks, prints failures as "file:line: message", and ends with the line
 * "<name>: N passed, M failed"; its exit status is 0 only when nothing failed. */
#ifndef DN_CHECK_H
#define DN_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_pass_, check_fail_;

#define CHECK(cond) do { \
	if (cond) check_pass_++; \
	else { check_fail_++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_MSG(cond, ...) do { \
	if (cond) check_pass_++; \
	else { check_fail_++; fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
	       fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } \
} while (0)

/* |a-b| <= tol*(1+|b|) */
#define CHECK_CLOSE(a, b, tol) do { \
	double a_ = (a), b_ = (b); \
	CHECK_MSG(fabs(a_ - b_) <= (tol) * (1.0 + fabs(b_)), "%s = %.9g, expected %s = %.9g (tol %g)", \
	          #a, a_, #b, b_, (double)(tol)); \
} while (0)

/* Message of err_msg() must contain `sub`. */
#define CHECK_ERR(rc, sub) do { \
	int rc_ = (rc); \
	CHECK_MSG(rc_ < 0 && strstr(err_msg(), (sub)) != NULL, "%s: rc=%d msg='%s', expected an error containing '%s'", \
	          #rc, rc_, err_msg(), (sub)); \
} while (0)

/* DANN_TEST_QUICK=1 (`make check-aarch64`: the tests run under emulation, tens of times slower):
 * a test repeats its most expensive checks less.  check_quick(name, what) says what it trims on
 * stdout and returns 1; it returns 0 when the variable is unset, empty or 0. */
static inline int check_quick(const char *name, const char *what)
{
	const char *q = getenv("DANN_TEST_QUICK");
	if (!q || !*q || !strcmp(q, "0"))
		return 0;
	printf("%s: DANN_TEST_QUICK: %s\n", name, what);
	return 1;
}

static inline int check_summary(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, check_pass_, check_fail_);
	return check_fail_ ? 1 : 0;
}

#endif
