/*
 * livepage.c: agent/daemon/livepage.html, embedded (livepage.h).
 *
 * The assembler's .incbin copies the file into .rodata at build time (the
 * Makefile makes livepage.o depend on the .html), so the page is edited as
 * HTML, not as a C string, and the daemon needs no file at run time.
 * The path is relative to the directory make runs in, the top of the tree.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "digest.h"
#include "livepage.h"
#include "sluice.h"

__asm__(
"	.section .rodata\n"
"	.global livepage_html\n"
"	.type livepage_html, @object\n"
"	.balign 16\n"
"livepage_html:\n"
"	.incbin \"agent/daemon/livepage.html\"\n"
"livepage_html_end:\n"
"	.byte 0\n"
"	.size livepage_html, . - livepage_html\n"
"	.global livepage_html_size\n"
"	.balign 8\n"
"livepage_html_size:\n"
"	.quad livepage_html_end - livepage_html\n"
"	.previous\n");

extern const size_t	livepage_html_size;


size_t
livepage_len(void)
{
	return livepage_html_size;
}

/* The bytes between open and close in the page (the first such element). */
static int
element(const char *open, const char *close, const char **p, size_t *n)
{
	const char	*b = memmem(livepage_html, livepage_html_size, open, strlen(open)), *e;

	if (b == NULL)
		return SL_EINVAL;
	b += strlen(open);
	e = memmem(b, livepage_html_size - (size_t)(b - livepage_html), close, strlen(close));
	if (e == NULL)
		return SL_EINVAL;
	*p = b;
	*n = (size_t)(e - b);
	return SL_OK;
}

/* 'sha256-BASE64' of n bytes at p into out (at least 60 bytes). */
static int
hash_source(const char *p, size_t n, char *out)
{
	static const char	 b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct sha256		*s = sha256_new();
	uint8_t			 d[SHA256_LEN + 1] = { 0 };
	char			*o = out;
	int			 i;

	if (s == NULL)
		return SL_ENOMEM;
	sha256_update(s, p, n);
	sha256_final(s, d);
	o += sprintf(o, "'sha256-");
	for (i = 0; i < SHA256_LEN; i += 3) {	/* 32 bytes: 10 groups of 3 and 2 */
		uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 |
		    (i + 2 < SHA256_LEN ? d[i + 2] : 0);
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = b64[v >> 6 & 63];
		*o++ = i + 2 < SHA256_LEN ? b64[v & 63] : '=';
	}
	*o++ = '\'';
	*o = '\0';
	return SL_OK;
}

int
livepage_csp(char *out, size_t outlen)
{
	const char	*p;
	char		 script[64], style[64];
	size_t		 n;
	int		 rc, w;

	rc = element("<script>", "</script>", &p, &n);
	if (rc == SL_OK)
		rc = hash_source(p, n, script);
	if (rc == SL_OK)
		rc = element("<style>", "</style>", &p, &n);
	if (rc == SL_OK)
		rc = hash_source(p, n, style);
	if (rc != SL_OK)
		return rc;
	w = snprintf(out, outlen, "default-src 'none'; script-src %s; style-src %s; "
	    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
	    "frame-ancestors 'none'", script, style);
	return w < 0 || (size_t)w >= outlen ? SL_ETOOBIG : SL_OK;
}
