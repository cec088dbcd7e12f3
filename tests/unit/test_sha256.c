/* test_sha256.c - SHA-256 against the FIPS 180-2 / NIST example vectors, plus incremental
 * updates split at every offset, and the hex helpers. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "base/err.h"
#include "base/sha256.h"

static void check_digest(const void *data, size_t len, const char *want)
{
	uint8_t d[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];
	sha256(data, len, d);
	CHECK_MSG(strcmp(sha256_hex(d, hex), want) == 0, "len %zu: got %s, want %s", len, hex, want);
}

static void vectors(void)
{
	/* NIST example vectors (FIPS 180-2 appendix B and the CSRC examples). */
	check_digest("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_digest("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	check_digest(m448, strlen(m448), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
	                   "klmnopqrlmnopqrsmnopqrstnopqrstu";
	check_digest(m896, strlen(m896), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
	/* One million 'a' (the long message vector). */
	char *mil = malloc(1000000);
	memset(mil, 'a', 1000000);
	check_digest(mil, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	/* The same in pieces of 1, 63, 64, 65 and 4097 bytes through the incremental interface. */
	size_t pieces[] = {1, 63, 64, 65, 4097};
	for (size_t k = 0; k < sizeof pieces / sizeof *pieces; k++) {
		sha256_ctx c;
		uint8_t d[SHA256_LEN];
		char hex[SHA256_HEX_LEN + 1];
		sha256_init(&c);
		for (size_t off = 0; off < 1000000; off += pieces[k])
			sha256_update(&c, mil + off, 1000000 - off < pieces[k] ? 1000000 - off : pieces[k]);
		sha256_final(&c, d);
		CHECK_MSG(strcmp(sha256_hex(d, hex), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0,
		          "pieces of %zu: %s", pieces[k], hex);
	}
	free(mil);

	/* Padding boundaries: every length 0..200 split at every point equals the one-shot digest. */
	uint8_t msg[200];
	for (int i = 0; i < 200; i++)
		msg[i] = (uint8_t)(i * 7 + 3);
	int split_ok = 1;
	for (size_t len = 0; len <= 200; len++) {
		uint8_t one[SHA256_LEN];
		sha256(msg, len, one);
		for (size_t cut = 0; cut <= len; cut++) {
			sha256_ctx c;
			uint8_t two[SHA256_LEN];
			sha256_init(&c);
			sha256_update(&c, msg, cut);
			sha256_update(&c, msg + cut, len - cut);
			sha256_final(&c, two);
			if (memcmp(one, two, SHA256_LEN) != 0)
				split_ok = 0;
		}
	}
	CHECK(split_ok);
	/* Lengths 55, 56, 63, 64 cross the one/two padding block boundary; known values. */
	char a64[65];
	memset(a64, 'a', 64);
	check_digest(a64, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
	check_digest(a64, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
	check_digest(a64, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

int main(void)
{
	/* Every vector with the portable code, then with the SHA-NI code when the CPU has it. */
	CHECK(sha256_accel(0) == 0);
	vectors();
	if (sha256_accel(1)) {
		printf("test_sha256: checking the SHA-NI code too\n");
		vectors();
	} else {
		printf("test_sha256: no SHA-NI on this CPU; portable code only\n");
	}
	/* Both give the same digest on 1 MB of varied bytes. */
	static uint8_t big[1 << 20];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 2654435761u >> 13);
	uint8_t d1[SHA256_LEN], d2[SHA256_LEN];
	sha256_accel(0);
	sha256(big, sizeof big, d1);
	sha256_accel(1);
	sha256(big, sizeof big, d2);
	CHECK(memcmp(d1, d2, SHA256_LEN) == 0);

	/* Hex parsing. */
	uint8_t d[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];
	CHECK(sha256_parse_hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", d) == 0);
	CHECK(strcmp(sha256_hex(d, hex), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
	CHECK_ERR(sha256_parse_hex("ba7816bf", d), "not a SHA-256");
	CHECK_ERR(sha256_parse_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015aX", d), "not a SHA-256");
	CHECK_ERR(sha256_parse_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0", d), "more than 64");
	return check_summary("test_sha256");
}
