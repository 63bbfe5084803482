/*
 * digest.c: SHA-256, HMAC-SHA256, random bytes and hex, over OpenSSL 3.0's
 * EVP interfaces (the low-level SHA256_* and HMAC() calls are deprecated
 * in 3.0 and would trip -Werror).  Random bytes come from getrandom(2),
 * which blocks only until the kernel pool is first seeded at boot.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "sluice.h"
#include "digest.h"

struct sha256 {
	EVP_MD_CTX	*ctx;
};

struct sha256 *
sha256_new(void)
{
	struct sha256 *s;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->ctx = EVP_MD_CTX_new();
	if (s->ctx == NULL)
		goto fail;
	if (EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1)
		goto fail;
	return s;
fail:
	EVP_MD_CTX_free(s->ctx);
	free(s);
	return NULL;
}

void
sha256_update(struct sha256 *s, const void *p, size_t n)
{
	if (n > 0)
		(void)EVP_DigestUpdate(s->ctx, p, n);
}

void
sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN])
{
	unsigned int len = SHA256_LEN;

	if (EVP_DigestFinal_ex(s->ctx, out, &len) != 1)
		memset(out, 0, SHA256_LEN);
	EVP_MD_CTX_free(s->ctx);
	free(s);
}

int
hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
    uint8_t out[SHA256_LEN])
{
	static const uint8_t empty[1];
	size_t outlen = 0;

	/* EVP_Q_mac rejects a NULL key; an empty key is legal HMAC. */
	if (key == NULL || keylen == 0)
		key = empty;
	if (msg == NULL)
		msg = empty;
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen,
	    msg, n, out, SHA256_LEN, &outlen) == NULL || outlen != SHA256_LEN)
		return SL_EIO;
	return SL_OK;
}

int
digest_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	volatile uint8_t acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc |= a[i] ^ b[i];
	return acc == 0;
}

int
digest_random(void *buf, size_t n)
{
	uint8_t *p = buf;
	ssize_t r;

	while (n > 0) {
		r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return SL_EIO;
		}
		p += r;
		n -= (size_t)r;
	}
	return SL_OK;
}

void
digest_hex(const uint8_t *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}
