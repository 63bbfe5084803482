/*
 * send_sched.h: the lanes (send_sched.c): which lane the next dataset put
 * on the wire comes from, and whose chunk goes into a stream's free
 * window, and what the lanes hold for status and metrics.  Decisions over
 * struct agent and struct ads: no I/O, no journal, and no call into the
 * other files of agent/send.  Loop thread only.
 */
#ifndef SEND_SCHED_H
#define SEND_SCHED_H

#include <stdint.h>

struct agent;
struct ads;
struct wbuf;

/* The lane d goes in now (LANE_LIVE or LANE_BACKLOG): the one it was given
 * (sluice submit --lane, its spool's), else live while younger than
 * [agent] live_age (since it was sealed), backlog after. */
int	sched_lane(const struct agent *a, const struct ads *d, double now);
/* The lane to put the next dataset on the wire from, given how many wait
 * in each (index lane - LANE_LIVE), or -1 when none may go now
 * (max_in_flight reached, or the lanes that wait are at their cap). */
int	sched_admit_lane(struct agent *a, const int waiting[2]);
/* d (in flight) starts sending with left bytes the sink does not hold. */
void	sched_join(struct agent *a, struct ads *d, uint64_t left);
/* The dataset whose chunk goes into a free window now: the lane with
 * the least bytes sent for its weight, and in it the dataset with the
 * fewest bytes left to send, or every few picks the one in flight the
 * longest; only datasets sending with a chunk not yet sent count.  NULL
 * when none has one, or when the lane whose turn it is has only pull
 * sessions sending (then a->wake_push runs once they have sent). */
struct ads *	sched_pick(struct agent *a);
/* len bytes of d's were put on the wire (by the push or a pull session):
 * charged to d's lane; whoever waits for its turn is woken. */
void	sched_sent(struct agent *a, struct ads *d, uint32_t len);
/* Route job: pull dataset d (send_pull_xfer.c) sends in its lane beside
 * the push path: join when it starts sending (its lane and admission
 * fixed then, left bytes to send), leave when it stops (published: 1 when
 * it was pulled, counted as published in its lane).  Leave is a no-op for
 * a d not joined.  At most SEND_MAX_IN_FLIGHT pull datasets share the
 * lanes; more send ungoverned (logged). */
void	sched_pull_join(struct agent *a, struct ads *d, uint64_t left);
void	sched_pull_leave(struct agent *a, struct ads *d, int published);
/* May pull dataset d put a chunk on the wire now?  1; or 0 when d's lane
 * is ahead of the other lane and that one has data and is sending: then
 * a->wake_pull runs when it has sent (or stalled for SCHED_STALL_SECS). */
int	sched_pull_may(struct agent *a, struct ads *d);
/* Start and stop the wake-up timer (agent start, stop). */
void	sched_init(struct agent *a);
void	sched_stop(struct agent *a);
/* Datasets in flight in lane (LANE_LIVE or LANE_BACKLOG). */
int	sched_active(const struct agent *a, int lane);
/* The lanes for `sluice status` (cli_lanes.c reads them): one line per
 * lane (share, in flight, waiting, waiting bytes, oldest waiting, bytes
 * sent and datasets published by this process) and one per dataset in
 * flight, appended to the ping reply out. */
void	sched_ping(struct agent *a, struct wbuf *out);
/* The sluice_lane_* families, for the agent's metrics collector. */
void	sched_metrics(struct agent *a, struct wbuf *out);

#endif
