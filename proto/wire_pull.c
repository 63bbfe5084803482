/*
 * wire_pull.c: the preamble of a pull connection (pull.h), plain text
 * before TLS.  Pure: no I/O.
 */
#include <stdio.h>
#include <string.h>

#include "pull.h"
#include "sluice.h"

void
pull_preamble(char out[PULL_PREAMBLE_LEN + 1], int mode, uint64_t id)
{
	snprintf(out, PULL_PREAMBLE_LEN + 1, "%s%c %016llx\n", PULL_MAGIC, mode,
	    (unsigned long long)id);
}

int
pull_preamble_parse(const char *p, int *mode, uint64_t *id)
{
	uint64_t	v = 0;
	size_t		i, m = sizeof(PULL_MAGIC) - 1;
	int		c;

	if (memcmp(p, PULL_MAGIC, m) != 0)
		return SL_EPROTO;
	if ((p[m] != PULL_MODE_PULL && p[m] != PULL_MODE_REPORT) || p[m + 1] != ' ' ||
	    p[PULL_PREAMBLE_LEN - 1] != '\n')
		return SL_EPROTO;
	for (i = m + 2; i < PULL_PREAMBLE_LEN - 1; i++) {
		c = (unsigned char)p[i];
		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return SL_EPROTO;
	}
	if (v == 0)
		return SL_EPROTO;
	*mode = (unsigned char)p[m];
	*id = v;
	return SL_OK;
}
