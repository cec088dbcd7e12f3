/* sha256.h - SHA-256 (FIPS 180-4), used to verify downloaded and cached data files.
 *
 * Incremental:  sha256_init(&c); sha256_update(&c, p, n) ...; sha256_final(&c, digest).
 * The hex helpers use lowercase, as sha256sum(1) prints. */
#ifndef DN_SHA256_H
#define DN_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32
#define SHA256_HEX_LEN 64

typedef struct {
	uint32_t h[8];
	uint64_t nbytes;     /* total bytes hashed so far */
	uint8_t buf[64];     /* partial block */
	size_t nbuf;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
void sha256_final(sha256_ctx *c, uint8_t digest[SHA256_LEN]);
/* One call: digest of `len` bytes at `data`. */
void sha256(const void *data, size_t len, uint8_t digest[SHA256_LEN]);

/* Use the CPU's SHA instructions (x86 SHA-NI) when `want` and the CPU has them, else the
 * portable code; returns 1 if the accelerated code is now in use.  The default (without a call)
 * is sha256_accel(1).  Tests call it with 0 and 1 to check both.  Not thread-safe. */
int sha256_accel(int want);

/* 64 lowercase hex digits and a NUL into `hex` (65 bytes). Returns hex. */
char *sha256_hex(const uint8_t digest[SHA256_LEN], char hex[SHA256_HEX_LEN + 1]);
/* Parse exactly 64 hex digits (either case); 0 on success, DN_EFORMAT if not. */
int sha256_parse_hex(const char *hex, uint8_t digest[SHA256_LEN]);

#endif
