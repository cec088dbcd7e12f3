/* err.c - thread-local last error message (see err.h). */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_buf[512];

int err_set(int code, const char *fmt, ...)
{
	/* Format into a copy first: callers prefix context with err_set(rc, "%s: %s", name,
	 * err_msg()), and vsnprintf into the buffer it reads from is undefined (it garbled
	 * "x.npy: shape too large: ..." into "x.npy: x.npy: overflows"). */
	char tmp[sizeof err_buf];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	memcpy(err_buf, tmp, sizeof err_buf);
	return code;
}

const char *err_msg(void)
{
	return err_buf;
}
