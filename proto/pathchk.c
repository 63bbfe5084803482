/*
 * pathchk.c: checks on relative paths and dataset names that come from
 * the wire or a source tree (pathchk.h).
 *
 * One pass over the bytes: split at '/', check each component's length
 * and that it is not "." or "..", and reject NUL.  Every other byte is a
 * legal POSIX name byte and is accepted: tab, newline, other control
 * bytes, backslash, quotes and bytes that are not UTF-8 all appear in
 * real trees (tar, rsync and Globus ship them), so refusing them here
 * would leave a dataset behind.  Whoever prints a name escapes it
 * (log_q, the CLI, the manifest); whether the sink's file system can
 * hold it is the sink's business (it fails the dataset naming the file).
 * Pure string work: whether the path is safe to open beneath a root is
 * fsx.h's business, but nothing that passes here can name a parent or an
 * absolute location.
 */
#include <stddef.h>
#include <stdint.h>

#include "sluice.h"
#include "pathchk.h"

size_t
pathchk_utf8_len(const unsigned char *p, size_t n)
{
	unsigned char	c;
	size_t		need, i;
	uint32_t	cp, min;

	if (n == 0)
		return 0;
	c = p[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2; cp = c & 0x1f; min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3; cp = c & 0x0f; min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4; cp = c & 0x07; min = 0x10000;
	} else
		return 0;	/* continuation byte, C0/C1, F5..FF */
	if (n < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

static int
fail(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return SL_EPATH;
}

int
pathchk_rel(const char *p, size_t len, const char **why)
{
	const unsigned char	*s = (const unsigned char *)p;
	size_t			 i, comp, n;

	if (p == NULL || len == 0)
		return fail(why, "empty path");
	if (len > SL_MAX_PATH)
		return fail(why, "path too long");
	if (s[0] == '/')
		return fail(why, "absolute path");
	if (s[len - 1] == '/')
		return fail(why, "trailing slash");

	comp = 0;	/* start of the current component */
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] == 0)
			return fail(why, "NUL byte");
		if (i < len && s[i] != '/')
			continue;
		n = i - comp;
		if (n == 0)
			return fail(why, "empty component");
		if (n > SL_MAX_COMPONENT)
			return fail(why, "component too long");
		if (s[comp] == '.' && (n == 1 || (n == 2 && s[comp + 1] == '.')))
			return fail(why, "dot component");
		comp = i + 1;
	}
	return 0;
}

int
pathchk_name(const char *p, size_t len, const char **why)
{
	size_t	i;

	if (p == NULL || len == 0)
		return fail(why, "empty name");
	if (len > SL_MAX_NAME)
		return fail(why, "name too long");
	for (i = 0; i < len; i++)
		if (p[i] == '/')
			return fail(why, "name contains '/'");
	if (p[0] == '.')
		return fail(why, "name starts with '.'");
	return pathchk_rel(p, len, why);
}
