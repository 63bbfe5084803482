/*
 * digest.h: standard digests that need OpenSSL's libcrypto
 * (agent/store/digest.c): SHA-256 for manifests, HMAC-SHA256 for the plaintext
 * HELLO.  XXH3 is used directly from xxhash.h by its callers.
 */
#ifndef DIGEST_H
#define DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

struct sha256;		/* opaque */
struct sha256 *sha256_new(void);		/* NULL on ENOMEM */
void	sha256_update(struct sha256 *s, const void *p, size_t n);
void	sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN]); /* also frees */
/* HMAC-SHA256; returns 0 or SL_EIO. */
int	hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
	    uint8_t out[SHA256_LEN]);
/* Constant-time compare; 1 if equal. */
int	digest_equal(const uint8_t *a, const uint8_t *b, size_t n);
/* Fill buf with n random bytes (getrandom / RAND_bytes); 0 or SL_EIO. */
int	digest_random(void *buf, size_t n);
/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void	digest_hex(const uint8_t *p, size_t n, char *out);

#endif
