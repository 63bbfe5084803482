/*
 * pathchk.h: checks on names that come from the wire or a source tree
 * (proto/pathchk.c).  Pure string checks; opening beneath a root is
 * fsx.h's job.
 */
#ifndef PATHCHK_H
#define PATHCHK_H

#include <stddef.h>

/* Check a relative file path of len bytes (not NUL-terminated on input).
 * Accepts every name POSIX allows: 1..SL_MAX_PATH bytes, components
 * separated by single '/', each component 1..SL_MAX_COMPONENT bytes of
 * anything but '/' and NUL (tab, newline, control bytes, backslash and
 * bytes that are not UTF-8 included: printing them is the printer's job).
 * Rejects: empty, leading '/', trailing '/', "//", a "." or ".."
 * component, NUL, longer than the limits.  Returns 0 or SL_EPATH; on
 * SL_EPATH, if why is not NULL, *why points to a static reason
 * ("absolute path", ...). */
int	pathchk_rel(const char *p, size_t len, const char **why);

/* Check a dataset name: exactly one component under the rules above, and
 * not starting with '.' (the sink keeps ".<name>.partial" for itself). */
int	pathchk_name(const char *p, size_t len, const char **why);

/* Length of the well-formed UTF-8 sequence at p (at most n bytes): 1 for
 * ASCII, 2..4 for a valid multi-byte sequence (shortest form, no
 * surrogates, <= U+10FFFF), 0 when the byte at p starts no valid sequence
 * or n is 0.  For printers that escape what is not UTF-8 (log_q). */
size_t	pathchk_utf8_len(const unsigned char *p, size_t n);

#endif
