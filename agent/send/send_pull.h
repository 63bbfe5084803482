/*
 * send_pull.h: the agent's pull listener for route job (send_pull.c):
 * accepts the Slurm jobs' receivers, serves each its dataset over the
 * accepted connection as the sender, and takes their RESULT reports.
 * Loop thread only.
 */
#ifndef SEND_PULL_H
#define SEND_PULL_H

#include <stddef.h>

struct agent;
struct pull;

/* Listen on [job] pull_listen with the [job] TLS credentials (cfg has no
 * pull_listen: *out = NULL, SL_OK).  SL_EINVAL / SL_EIO with err. */
int	pull_start(struct pull **out, struct agent *a, char *err, size_t errlen);
/* Stop accepting and close every session (their on_close runs on the
 * next loop passes; the journal stays consistent: acks are flushed). */
void	pull_stop(struct pull *p);
/* Free what is left, after the agent's streams are reaped and its TLS
 * pool stopped.  NULL is fine. */
void	pull_free(struct pull *p);

#endif
