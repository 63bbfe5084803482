/*
 * errbuf.h: the caller's error buffer (agent/base/errbuf.c).
 *
 * Functions that can fail in ways a person must read take (char *err,
 * size_t errlen) and write one line there saying what is wrong; err may
 * be NULL when the caller only wants the return code.
 */
#ifndef SLUICE_ERRBUF_H
#define SLUICE_ERRBUF_H

#include <stddef.h>

/* Format into err (at most errlen bytes, NUL-terminated); nothing when err
 * is NULL or errlen is 0. */
void	seterr(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif
