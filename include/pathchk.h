/*
 * pathchk.h: checks on names that come from the wire or a source tree
 * (proto/pathchk.c).  Pure string checks; opening beneath a root is
 * fsx.h's job.
 */
#ifndef PATHCHK_H
#define PATHCHK_H

#include <stddef.h>

/* Check a relative file path of len bytes (not NUL-terminated on input).
 * Accepts: 1..SL_MAX_PATH bytes, valid UTF-8, components separated by
 * single '/', each component 1..SL_MAX_COMPONENT bytes.
 * Rejects: empty, leading '/', trailing '/', "//", a "." or ".."
 * component, NUL, invalid UTF-8 (overlongs, surrogates, > U+10FFFF), any
 * control byte < 0x20 or 0x7f.  Returns 0 or SL_EPATH; on SL_EPATH, if why
 * is not NULL, *why points to a static reason ("absolute path", ...). */
int	pathchk_rel(const char *p, size_t len, const char **why);

/* Check a dataset name: exactly one component under the rules above, and
 * not starting with '.' (the sink keeps ".<name>.partial" for itself). */
int	pathchk_name(const char *p, size_t len, const char **why);

#endif
