/*
 * manifest.h: the line parser for a published dataset's .sluice-manifest
 * (agent/store/manifest.c), as read by `sluice verify` at a sink, and the
 * escape its writer (sink_publish.c) uses for paths.  Pure string work: no
 * I/O, no allocation.
 *
 * A manifest is text, one line per file:
 *
 *	SIZE '\t' SHA256 '\t' XXH3-128 '\t' PATH
 *	'\' SIZE '\t' SHA256 '\t' XXH3-128 '\t' ESCAPED-PATH
 *
 * The second form is for a path holding a newline, a carriage return or a
 * backslash: ESCAPED-PATH has them as "\n", "\r" and "\\", and the line
 * starts with a backslash, as coreutils' sha256sum and xxhsum (0.8.2 and
 * later) write and read them, so that converting a line to
 * "[\]XXH3-128  PATH" gives what `xxh128sum -c` checks.  Every other byte
 * of a path (tab, control bytes, bytes that are not UTF-8) is written as
 * it is.
 *
 * SHA256 is 64 lower-case hex digits, or "-" when the sink did not
 * compute it (`[sink] sha256 = off`, the default); XXH3-128 is 32
 * lower-case hex digits (`xxhsum -H2` prints the same); PATH is everything
 * after the third tab (non-empty; it may contain further tabs).  Empty
 * lines and lines starting with '#' are comments.  SIZE is read with
 * strtoull and not otherwise checked (a bad size shows up as a size
 * difference when the file is compared).  PATH is not checked here: the
 * caller opens it with fsx_open_beneath, which refuses to leave the root.
 */
#ifndef MANIFEST_H
#define MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define MANIFEST_SHA_HEX	64
#define MANIFEST_XXH_HEX	32

struct manifest_ent {
	uint64_t	 size;
	char		 sha256[MANIFEST_SHA_HEX + 1];	/* NUL-terminated hex, "" for "-" */
	char		 xxh128[MANIFEST_XXH_HEX + 1];	/* NUL-terminated hex */
	const char	*path;		/* points into the caller's line */
};

#define MANIFEST_SKIP	1	/* a comment or an empty line */

/* Parse one line.  line must be NUL-terminated at line[len]; one trailing
 * '\n' is dropped.  The line is modified in place (the tabs become NULs,
 * an escaped path is unescaped) and e->path points into it, so it stays
 * valid only as long as line.  Returns 0 with *e filled, MANIFEST_SKIP for
 * a comment or empty line, or SL_EPROTO for a malformed line (also an
 * escaped path with a backslash that starts no "\n", "\r" or "\\"; e is
 * then unspecified).  Reentrant. */
int	manifest_parse_line(char *line, size_t len, struct manifest_ent *e);

/* 1 if path must be written in the escaped form (it holds '\n', '\r' or
 * '\\'), else 0. */
int	manifest_needs_escape(const char *path);

/* Write path escaped ('\n' -> "\n", '\r' -> "\r", '\\' -> "\\\\", every
 * other byte as it is) into out, NUL-terminated, cut to outlen - 1 bytes.
 * Returns the length of the whole escaped text (as snprintf: compare with
 * outlen to see a cut); 2 * strlen(path) + 1 bytes always suffice. */
size_t	manifest_escape(const char *path, char *out, size_t outlen);

#endif
