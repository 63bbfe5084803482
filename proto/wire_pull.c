/*
 * wire_pull.c: the preamble of a pull connection (pull.h), plain text
 * before TLS.  Pure: no I/O.
 */
#include <stdio.h>
#include <string.h>

#include "pull.h"
#include "sluice.h"

void
pull_preamble(char out[PULL_PREAMBLE_LEN + 1], const struct pull_pre *pp)
{
	snprintf(out, PULL_PREAMBLE_LEN + 1, "%s%c %016llx %08x %02x/%02x\n",
	    PULL_MAGIC, pp->mode, (unsigned long long)pp->id,
	    (unsigned)pp->session, (unsigned)(pp->stream & 0xff),
	    (unsigned)(pp->nstreams & 0xff));
}

/* n lowercase hex digits at p into *v.  SL_OK or SL_EPROTO. */
static int
hex(const char *p, size_t n, uint64_t *v)
{
	size_t	i;
	int	c;

	*v = 0;
	for (i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		if (c >= '0' && c <= '9')
			*v = *v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v = *v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return SL_EPROTO;
	}
	return SL_OK;
}

int
pull_preamble_parse(const char *p, struct pull_pre *out)
{
	uint64_t	id, ses, i, n;
	size_t		m = sizeof(PULL_MAGIC) - 1;

	/* MAGIC M ' ' ID(16) ' ' SESSION(8) ' ' II '/' NN '\n' */
	if (memcmp(p, PULL_MAGIC, m) != 0)
		return SL_EPROTO;
	if ((p[m] != PULL_MODE_PULL && p[m] != PULL_MODE_REPORT) || p[m + 1] != ' ' ||
	    p[m + 18] != ' ' || p[m + 27] != ' ' || p[m + 30] != '/' ||
	    p[PULL_PREAMBLE_LEN - 1] != '\n')
		return SL_EPROTO;
	if (hex(p + m + 2, 16, &id) != SL_OK || hex(p + m + 19, 8, &ses) != SL_OK ||
	    hex(p + m + 28, 2, &i) != SL_OK || hex(p + m + 31, 2, &n) != SL_OK)
		return SL_EPROTO;
	if (id == 0 || n == 0 || n > SL_MAX_STREAMS || i >= n)
		return SL_EPROTO;
	if (p[m] == PULL_MODE_REPORT && n != 1)
		return SL_EPROTO;
	out->mode = (unsigned char)p[m];
	out->id = id;
	out->session = (uint32_t)ses;
	out->stream = (uint32_t)i;
	out->nstreams = (uint32_t)n;
	return SL_OK;
}
