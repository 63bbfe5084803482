/*
 * send_link.h: the agent's destinations and its one session to the
 * current one (send_link.c): connecting N streams, backoff, fail-over,
 * fail-back, maintenance windows and pauses.  The link knows nothing of
 * datasets: it tells the role what happens through the link_ops the role
 * registers at link_init.  Loop thread only.
 */
#ifndef SEND_LINK_H
#define SEND_LINK_H

#include <stddef.h>

struct agent;
struct astream;
struct stream_ops;
struct wbuf;

/* The role's side of the link, registered once; must outlive the agent. */
struct link_ops {
	/* Each stream's frame and close callbacks; their arg is the stream's
	 * struct astream. */
	const struct stream_ops	*stream;
	/* Every stream finished its handshake: the link is up. */
	void	(*up)(struct agent *a);
	/* The session was torn down (streams closed, the link about to back
	 * off): whatever was in flight on it never will be acked. */
	void	(*closed)(struct agent *a);
};

/* Parse the destinations and maintenance windows from a->cfg, set the
 * link down and its timers ready.  SL_EINVAL or a resolver error with the
 * sentence in err.  Starts nothing. */
int	link_init(struct agent *a, const struct link_ops *ops, char *err,
	    size_t errlen);
/* Start a session (all streams) to the best destination open now, or
 * wait (LINK_WAIT) until one opens. */
void	link_start(struct agent *a);
/* Stop the timers and close the streams (why in their logs), at stop. */
void	link_stop(struct agent *a, const char *why);
/* The session failed: close it, back off, count it against the
 * destination (failover_after). */
void	link_down(struct agent *a, const char *why);
/* Close a working session on purpose (pause, failing back), reconnect at
 * once. */
void	link_switch(struct agent *a, const char *why);
/* An operator resumed something: when waiting for a destination to
 * open, look again now. */
void	link_resume(struct agent *a);
/* Stream as finished its handshake; the last one brings the link up. */
void	link_ready(struct agent *a, struct astream *as);
/* Queue frame b on stream as; the link goes down when it cannot. */
void	link_send(struct agent *a, struct astream *as, struct wbuf *b);
/* The session made progress (or stayed up): the next failure backs off
 * from the start. */
void	link_progress(struct agent *a);
/* 1 when a better destination should be tried now (remembers which for
 * the next link_start). */
int	link_want_failback(struct agent *a);
/* 1 when a dataset whose COMMIT went to another destination should go
 * there now to hear its answer (remembers which for the next link_start). */
int	link_want_bound(struct agent *a);
/* The name of link state l (enum link_state), for logs and status. */
const char *	link_name(int l);

/* 1 when destination i is paused or in a maintenance window at now (why
 * set to "paused" or "maintenance"). */
int	dest_blocked(const struct agent *a, int i, double now, const char **why);
/* Index of the destination configured as text, or -1. */
int	dest_index(const struct agent *a, const char *text);
/* ISO 8601 UTC ("2026-12-01T08:00:00Z", "2026-12-01T08:00Z") or epoch
 * seconds; -1 if neither. */
double	parse_time(const char *s);

#endif
