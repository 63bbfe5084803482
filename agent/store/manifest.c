/*
 * manifest.c: one line of a .sluice-manifest (manifest.h), read and
 * written.
 *
 * Reading: an optional leading backslash says the path is escaped; split
 * at the first three tabs, check the two digests are exactly the right
 * number of lower-case hex digits and that a path follows, read the size,
 * and undo the path's escapes in place.  Everything points into the
 * caller's line; nothing is allocated, so the parser can be fuzzed line by
 * line.
 *
 * The escape is the one of coreutils' sha256sum and of xxhsum (0.8.2 and
 * later): a path holding a newline, a carriage return or a backslash is
 * written with "\n", "\r" and "\\" and its line starts with a backslash;
 * every other byte (tab, control bytes, bytes that are not UTF-8) is
 * written as it is.  So a line stays one line, and the checksum tools
 * read the same path back.
 */
#include <stdlib.h>
#include <string.h>

#include "sluice.h"
#include "manifest.h"

/* s is n lower-case hex digits and then the end of the field. */
static int
is_hex(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[n] == '\0';
}

/* Undo the escapes of p in place.  0, or SL_EPROTO for a backslash that
 * starts no known escape (or ends the path). */
static int
unescape(char *p)
{
	char	*o = p;

	for (; *p != '\0'; p++) {
		if (*p != '\\') {
			*o++ = *p;
			continue;
		}
		switch (*++p) {
		case 'n':	*o++ = '\n'; break;
		case 'r':	*o++ = '\r'; break;
		case '\\':	*o++ = '\\'; break;
		default:	return SL_EPROTO;	/* also '\0': a trailing '\' */
		}
	}
	*o = '\0';
	return 0;
}

int
manifest_parse_line(char *line, size_t len, struct manifest_ent *e)
{
	char	*f[3], *p;
	int	 i, nosha, esc = 0;

	if (len > 0 && line[len - 1] == '\n')
		line[--len] = '\0';
	if (line[0] == '#' || line[0] == '\0')
		return MANIFEST_SKIP;
	if (line[0] == '\\') {
		esc = 1;
		line++;
	}
	p = line;
	for (i = 0; i < 3; i++) {
		f[i] = p;
		p = strchr(p, '\t');
		if (p == NULL)
			return SL_EPROTO;
		*p++ = '\0';
	}
	nosha = strcmp(f[1], "-") == 0;	/* not computed */
	if (p[0] == '\0' || !is_hex(f[2], MANIFEST_XXH_HEX) ||
	    (!nosha && !is_hex(f[1], MANIFEST_SHA_HEX)))
		return SL_EPROTO;
	if (esc && unescape(p) != 0)
		return SL_EPROTO;
	e->size = strtoull(f[0], NULL, 10);
	if (nosha)
		e->sha256[0] = '\0';
	else
		memcpy(e->sha256, f[1], sizeof(e->sha256));
	memcpy(e->xxh128, f[2], sizeof(e->xxh128));
	e->path = p;
	return 0;
}

int
manifest_needs_escape(const char *path)
{
	return strpbrk(path, "\n\r\\") != NULL;
}

size_t
manifest_escape(const char *path, char *out, size_t outlen)
{
	const char	*s;
	size_t		 n = 0;
	char		 c2;

	for (s = path; *s != '\0'; s++) {
		switch (*s) {
		case '\n':	c2 = 'n'; break;
		case '\r':	c2 = 'r'; break;
		case '\\':	c2 = '\\'; break;
		default:	c2 = 0;
		}
		if (c2 != 0) {
			if (n + 1 < outlen)
				out[n] = '\\';
			n++;
			if (n + 1 < outlen)
				out[n] = c2;
		} else if (n + 1 < outlen)
			out[n] = *s;
		n++;
	}
	if (outlen > 0)
		out[n < outlen ? n : outlen - 1] = '\0';
	return n;
}
