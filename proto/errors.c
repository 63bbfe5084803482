/*
 * errors.c: text and retry class of the error codes in sluice.h (STYLE 5).
 *
 * One table indexed by the negated code.  A code is retryable when the
 * same operation may succeed later without anyone changing the input:
 * I/O failures, memory pressure, a chunk that arrived corrupt (resend),
 * a would-block, a full disk at the sink.  Everything else is fatal for
 * the object it concerns.
 */
#include "sluice.h"

static const struct {
	const char	*text;
	int		 retryable;
} errtab[] = {
	[0]              = { "success", 0 },
	[-SL_EINVAL]     = { "invalid argument", 0 },
	[-SL_EPROTO]     = { "protocol error", 0 },
	[-SL_ETOOBIG]    = { "length or count past limit", 0 },
	[-SL_ETRUNC]     = { "truncated input", 0 },
	[-SL_EIO]        = { "I/O error", 1 },
	[-SL_ENOMEM]     = { "out of memory", 1 },
	[-SL_EAUTH]      = { "authentication failed", 0 },
	[-SL_ENOTFOUND]  = { "not found", 0 },
	[-SL_EEXIST]     = { "already exists", 0 },
	[-SL_ECORRUPT]   = { "checksum mismatch", 1 },
	[-SL_ECHANGED]   = { "source changed during transfer", 0 },
	[-SL_EAGAIN]     = { "try again", 1 },
	[-SL_ENOSPC]     = { "no space left at the sink", 1 },
	[-SL_EJOURNAL]   = { "journal unusable", 0 },
	[-SL_EPATH]      = { "unsafe path", 0 },
	[-SL_ESTATE]     = { "operation not valid in this state", 0 },
};

#define NERR	((int)(sizeof(errtab) / sizeof(errtab[0])))

const char *
sl_strerror(int err)
{
	if (err > 0 || err <= -NERR || errtab[-err].text == NULL)
		return "unknown error";
	return errtab[-err].text;
}

int
sl_err_retryable(int err)
{
	if (err > 0 || err <= -NERR)
		return 0;
	return errtab[-err].retryable;
}
