/*
 * manifest.c: one line of a .sluice-manifest (manifest.h).
 *
 * Split at the first three tabs, check the two digests are exactly the
 * right number of lower-case hex digits and that a path follows, and read
 * the size.  Everything points into the caller's line; nothing is
 * allocated, so the parser can be fuzzed line by line.
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

int
manifest_parse_line(char *line, size_t len, struct manifest_ent *e)
{
	char	*f[3], *p;
	int	 i, nosha;

	if (len > 0 && line[len - 1] == '\n')
		line[--len] = '\0';
	if (line[0] == '#' || line[0] == '\0')
		return MANIFEST_SKIP;
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
	e->size = strtoull(f[0], NULL, 10);
	if (nosha)
		e->sha256[0] = '\0';
	else
		memcpy(e->sha256, f[1], sizeof(e->sha256));
	memcpy(e->xxh128, f[2], sizeof(e->xxh128));
	e->path = p;
	return 0;
}
