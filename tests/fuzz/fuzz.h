/* fuzz.h - shared by the libFuzzer harnesses in tests/fuzz/ (see mk/fuzz.mk).
 *
 * Each harness feeds the fuzzer's bytes to one parser through the same FILE* interface the
 * tools use (fmemopen: no seeking, the parser sees only what it reads), and frees everything it
 * was given, so LeakSanitizer sees any leak on an error path.  A harness never checks *which*
 * error a parser returns, only that it returns (no crash, no UB, no leak, no hang). */
#ifndef DN_FUZZ_H
#define DN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"

/* Larger claimed sizes are left to the OS in the tools (malloc fails -> "out of memory", or
 * succeeds lazily and the body read fails as truncated); under ASan a lying header would only
 * make the fuzzer report an allocation limit, so harnesses skip allocations above this. */
#define FUZZ_MAX_ALLOC ((size_t)64 << 20)

static inline FILE *fuzz_open(const uint8_t *data, size_t size)
{
	/* fmemopen never writes in "r" mode; the cast only drops const */
	return fmemopen((void *)data, size, "r");
}

/* An error must be one of the DN_E* codes and come with a message: the tools print it as-is.
 * A violation aborts, so the fuzzer records the input. */
static inline void fuzz_check_rc(int rc)
{
	if (rc >= 0)
		return;
	if (rc < DN_EARG || !err_msg()[0])
		__builtin_trap();
}


#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* For parsers that take a path: the bytes in an anonymous memory file, named through
 * /proc/self/fd.  Writes the path into `path` and returns the fd (close it after), or -1. */
static inline int fuzz_memfile(const uint8_t *data, size_t size, char *path, size_t len)
{
	int fd = memfd_create("fuzz", 0);
	if (fd < 0)
		return -1;
	size_t off = 0;
	while (off < size) {
		ssize_t w = write(fd, data + off, size - off);
		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
