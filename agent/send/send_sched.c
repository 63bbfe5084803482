/*
 * send_sched.c: lanes, and who sends next.
 *
 * Two lanes.  `live` is for what someone is waiting for: a dataset given
 * that lane (sluice submit --lane live, a live spool), or one given none
 * that is younger than [agent] live_age since it was sealed.  `backlog` is
 * everything else: what piled up while the link was down, or was marked
 * bulk.  A dataset's lane is fixed when it goes on the wire.
 *
 * Up to [agent] max_in_flight datasets are on the wire at once.  A lane may
 * hold all the slots but one (with max_in_flight >= 2), so that a fresh
 * dataset never waits for a backlog dataset to finish, nor the backlog
 * for the live lane to empty.  The next dataset comes from a lane with
 * nothing in flight, else from live; within a lane, in queue order
 * (oldest first, or newest with priority = newest).  With one slot
 * (max_in_flight = 1) the lanes take turns by dataset, the one behind its
 * weighted share of bytes first, so the backlog still gets its share.
 *
 * Between the lanes the link is shared by bytes (stride scheduling, i.e.
 * weighted fair queueing): each lane keeps the bytes it sent divided by
 * its weight (live 100 - backlog_min_share, backlog backlog_min_share),
 * and the lane with the least goes next; a lane alone gets the whole
 * link, and a lane that was idle starts level with the other instead of
 * with a credit it could burst.
 *
 * Within a lane, shortest remaining first (bytes not yet sent), with a
 * guarantee: every SCHED_OLDEST_EVERY-th chunk of the lane goes to its
 * dataset in flight the longest.  Why: shortest-remaining-first finishes
 * a 1 GB dataset beside a 700 GB one in its own time (equal shares would
 * double it), and among a backlog of equal datasets it finishes them in
 * order, one after the other, as fast as alone: the oldest is not
 * delayed by the ones behind it, only by the live lane's share, and the
 * next ones' OPEN and first chunks overlap its tail, so the link has no
 * gap between datasets.  Alone it would let a large dataset wait for as
 * long as smaller ones keep arriving; the oldest's turn bounds that (it
 * gets at least 1 / SCHED_OLDEST_EVERY of its lane).  A third dataset in
 * flight in the lane, neither oldest nor shortest, waits (its OPEN done)
 * until one of those two ends; it is then one of them.  Age weighting was
 * not chosen: it needs a tuned constant to trade size against age, where
 * this needs none that matters much.
 *
 * Route job's pull sessions (send_pull_xfer.c) send the same bytes out of
 * the same machine, over connections a job's receiver dialled: a pull
 * dataset joins its lane as it starts sending, its chunks are charged to
 * the lane's account (sched_sent), and it takes its turn: it may send a
 * chunk only while its lane is not ahead of the other (sched_pull_may),
 * and the push path's pick leaves a free window empty while the lane
 * whose turn it is has only pulls sending.  The two sides wait for each
 * other through one timer: a chunk sent on either side wakes the other at
 * once.  Their pipes are not the same, though (one may be slow for its
 * own reasons: a slow receiver, a sink that lags), so a lane that has
 * sent nothing for SCHED_STALL_SECS no longer holds the other back: the
 * other is let past for one chunk per SCHED_STALL_SECS (the stalled
 * lane's account is levelled, it keeps no credit).  Within a lane pulls
 * and pushes are not ordered: each path fills its own windows.
 */
#define SCHED_OLDEST_EVERY	4
#define SCHED_STALL_SECS	0.25
#define SCHED_WAIT_PUSH		1
#define SCHED_WAIT_PULL		2
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "journal.h"
#include "log.h"
#include "mreg.h"
#include "sltime.h"
#include "wire.h"
#include "send_int.h"
#include "send_sched.h"

static int
lane_ix(int lane)
{
	return lane == LANE_BACKLOG ? 1 : 0;
}

static double
lane_weight(const struct agent *a, int ix)
{
	int share = a->cfg->backlog_min_share;

	if (share < 1 || share > 99)
		share = 20;
	return ix == 1 ? share : 100 - share;
}

int
sched_lane(const struct agent *a, const struct ads *d, double now)
{
	if (d->rec.lane == LANE_LIVE || d->rec.lane == LANE_BACKLOG)
		return (int)d->rec.lane;
	if (now - (double)d->rec.created_ns / 1e9 < a->cfg->live_age)
		return LANE_LIVE;
	return LANE_BACKLOG;
}

int
sched_active(const struct agent *a, int lane)
{
	int i, n = 0;

	for (i = 0; i < a->nact; i++)
		if (a->act[i]->lane == lane)
			n++;
	return n;
}

int
sched_admit_lane(struct agent *a, const int waiting[2])
{
	int	max = a->cfg->max_in_flight, cap, live, back;
	int	can_live, can_back, l;

	if (max > SEND_MAX_IN_FLIGHT)
		max = SEND_MAX_IN_FLIGHT;
	if (max < 1)
		max = 1;
	if (a->nact >= max)
		return -1;
	cap = max >= 2 ? max - 1 : 1;
	live = sched_active(a, LANE_LIVE);
	back = sched_active(a, LANE_BACKLOG);
	can_live = waiting[0] > 0 && live < cap;
	can_back = waiting[1] > 0 && back < cap;
	/* a lane with nothing to send keeps no credit for later */
	for (l = 0; l < SEND_NLANES; l++)
		if (waiting[l] == 0 && (l == 0 ? live : back) == 0 &&
		    a->lane_vt[l] < a->lane_vt[1 - l])
			a->lane_vt[l] = a->lane_vt[1 - l];
	/* one slot: the lanes take turns by dataset, by their weighted bytes */
	if (max == 1 && can_live && can_back)
		return a->lane_vt[0] <= a->lane_vt[1] ? LANE_LIVE : LANE_BACKLOG;
	if (can_back && back == 0 && !(can_live && live == 0))
		return LANE_BACKLOG;	/* the backlog always has one going */
	if (can_live)
		return LANE_LIVE;
	return can_back ? LANE_BACKLOG : -1;
}

/* d has a chunk never sent, or to send again. */
static int
has_pending(const struct ads *d)
{
	return d->phase == PH_SENDING && d->nacked + d->ninflight < d->rec.nchunks;
}

void
sched_join(struct agent *a, struct ads *d, uint64_t left)
{
	(void)a;
	d->left = left;
}

/* Which lanes have a chunk to send (busy), and which of those on the push
 * path (pushing); a lane that was idle starts level with the busy one. */
static void
lanes_busy(struct agent *a, int busy[SEND_NLANES], int pushing[SEND_NLANES])
{
	int i, l;

	busy[0] = busy[1] = pushing[0] = pushing[1] = 0;
	for (i = 0; i < a->nact; i++)
		if (has_pending(a->act[i]))
			busy[lane_ix(a->act[i]->lane)] = pushing[lane_ix(a->act[i]->lane)] = 1;
	for (i = 0; i < a->npulls; i++)
		if (has_pending(a->pulls[i]))
			busy[lane_ix(a->pulls[i]->lane)] = 1;
	/* a lane that was idle starts level with the busy one: no credit */
	for (l = 0; l < SEND_NLANES; l++)
		if (busy[l] && !a->lane_busy[l] && busy[1 - l] &&
		    a->lane_vt[l] < a->lane_vt[1 - l])
			a->lane_vt[l] = a->lane_vt[1 - l];
	a->lane_busy[0] = busy[0];
	a->lane_busy[1] = busy[1];
}

/* Lane ix is busy but has sent nothing for SCHED_STALL_SECS (nor let the
 * other past in that time): the other may go, once, and ix keeps no
 * credit for the time it stood still. */
static int
stalled_let_past(struct agent *a, int ix)
{
	double now = sl_time_mono();

	if (now - a->lane_last[ix] < SCHED_STALL_SECS ||
	    now - a->lane_grant[ix] < SCHED_STALL_SECS)
		return 0;
	a->lane_grant[ix] = now;
	if (a->lane_vt[ix] < a->lane_vt[1 - ix])
		a->lane_vt[ix] = a->lane_vt[1 - ix];
	return 1;
}

static void
wake_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct agent	*a = w->data;
	int		 who = a->sched_wait;

	(void)loop; (void)revents;
	a->sched_wait = 0;
	a->sched_kick = 0;
	if ((who & SCHED_WAIT_PUSH) && a->wake_push != NULL)
		a->wake_push(a);
	if ((who & SCHED_WAIT_PULL) && a->wake_pull != NULL)
		a->wake_pull(a);
}

/* who waits for its turn: woken by the other side's next chunk, or after
 * a stall. */
static void
wait_turn(struct agent *a, int who)
{
	a->sched_wait |= who;
	if (!ev_is_active(&a->sched_wake)) {
		ev_timer_set(&a->sched_wake, SCHED_STALL_SECS + 0.001, 0);
		ev_timer_start(a->loop, &a->sched_wake);
	}
}

void
sched_init(struct agent *a)
{
	ev_timer_init(&a->sched_wake, wake_cb, SCHED_STALL_SECS, 0);
	a->sched_wake.data = a;
}

void
sched_stop(struct agent *a)
{
	ev_timer_stop(a->loop, &a->sched_wake);
	a->sched_wait = 0;
	a->sched_kick = 0;
}

struct ads *
sched_pick(struct agent *a)
{
	struct ads	*shortest = NULL, *oldest = NULL;
	int		 busy[SEND_NLANES], pushing[SEND_NLANES];
	int		 i, ix;

	lanes_busy(a, busy, pushing);
	if (!pushing[0] && !pushing[1])
		return NULL;
	if (busy[0] && busy[1])
		ix = a->lane_vt[0] <= a->lane_vt[1] ? 0 : 1;
	else
		ix = busy[0] ? 0 : 1;
	if (!pushing[ix]) {
		/* its turn, but only pulls send in it */
		if (!stalled_let_past(a, ix)) {
			wait_turn(a, SCHED_WAIT_PUSH);
			return NULL;
		}
		ix = 1 - ix;
	}
	for (i = 0; i < a->nact; i++) {
		struct ads *d = a->act[i];

		if (lane_ix(d->lane) != ix || !has_pending(d))
			continue;
		if (oldest == NULL || d->admitted < oldest->admitted)
			oldest = d;
		if (shortest == NULL || d->left < shortest->left ||
		    (d->left == shortest->left && d->admitted < shortest->admitted))
			shortest = d;
	}
	return ++a->lane_picks[ix] % SCHED_OLDEST_EVERY == 0 ? oldest : shortest;
}

void
sched_sent(struct agent *a, struct ads *d, uint32_t len)
{
	int ix = lane_ix(d->lane);

	d->left -= len < d->left ? len : d->left;
	a->lane_vt[ix] += (double)len / lane_weight(a, ix);
	a->lane_sent[ix] += len;
	a->lane_last[ix] = sl_time_mono();
	if (a->sched_wait && !a->sched_kick) {
		/* the other side may have its turn now: wake it after this
		 * callback (not from inside its own pump) */
		ev_timer_stop(a->loop, &a->sched_wake);
		ev_timer_set(&a->sched_wake, 0, 0);
		ev_timer_start(a->loop, &a->sched_wake);
		a->sched_kick = 1;
	}
}

void
sched_pull_join(struct agent *a, struct ads *d, uint64_t left)
{
	int i;

	for (i = 0; i < a->npulls; i++)
		if (a->pulls[i] == d)
			return;
	d->lane = sched_lane(a, d, sl_time_wall());
	d->admitted = ++a->admit_seq;
	d->left = left;
	if (a->npulls == SEND_MAX_IN_FLIGHT) {
		log_warnx("sched", "dataset=%016llx more than %d pull sessions sending: "
		    "this one is not governed by the lanes", (unsigned long long)d->rec.id,
		    SEND_MAX_IN_FLIGHT);
		return;
	}
	a->pulls[a->npulls++] = d;
}

void
sched_pull_leave(struct agent *a, struct ads *d, int published)
{
	int i;

	for (i = 0; i < a->npulls; i++)
		if (a->pulls[i] == d) {
			a->pulls[i] = a->pulls[--a->npulls];
			if (published)
				a->lane_done[lane_ix(d->lane)]++;
			return;
		}
}

int
sched_pull_may(struct agent *a, struct ads *d)
{
	int	busy[SEND_NLANES], pushing[SEND_NLANES];
	int	ix = lane_ix(d->lane);

	lanes_busy(a, busy, pushing);
	if (!busy[1 - ix] || a->lane_vt[ix] <= a->lane_vt[1 - ix] ||
	    stalled_let_past(a, 1 - ix))
		return 1;
	wait_turn(a, SCHED_WAIT_PULL);
	return 0;
}

/* ---- lanes, for status and metrics ------------------------------------------ */

struct lane_view {
	int		in_flight;
	uint64_t	waiting, waiting_bytes;
	uint64_t	oldest_ns;	/* created_ns of the oldest waiting, 0 none */
};

/* What each lane holds now (index lane - LANE_LIVE). */
static void
lanes_view(struct agent *a, struct lane_view v[SEND_NLANES])
{
	struct ads	*d;
	double		 now = sl_time_wall();
	int		 ix;

	memset(v, 0, SEND_NLANES * sizeof(*v));
	for (ix = 0; ix < a->npulls; ix++)
		v[a->pulls[ix]->lane == LANE_BACKLOG].in_flight++;
	for (d = a->queue; d != NULL; d = d->next) {
		if (d->phase != PH_IDLE) {
			v[d->lane == LANE_BACKLOG].in_flight++;
			continue;
		}
		ix = sched_lane(a, d, now) == LANE_BACKLOG;
		v[ix].waiting++;
		v[ix].waiting_bytes += d->rec.bytes - d->rec.bytes_acked;
		if (v[ix].oldest_ns == 0 || d->rec.created_ns < v[ix].oldest_ns)
			v[ix].oldest_ns = d->rec.created_ns;
	}
}

/* One ping line per lane, and one per dataset in flight. */
void
sched_ping(struct agent *a, struct wbuf *out)
{
	struct lane_view	 v[SEND_NLANES];
	char			 line[256];
	int			 ix, i;

	lanes_view(a, v);
	for (ix = 0; ix < SEND_NLANES; ix++) {
		snprintf(line, sizeof(line), "lane=%s share=%d in_flight=%d waiting=%llu "
		    "waiting_bytes=%llu oldest_waiting=%.0f sent_bytes=%llu published=%llu "
		    "max_in_flight=%d\n", ix ? "backlog" : "live",
		    ix ? a->cfg->backlog_min_share : 100 - a->cfg->backlog_min_share,
		    v[ix].in_flight, (unsigned long long)v[ix].waiting,
		    (unsigned long long)v[ix].waiting_bytes, (double)v[ix].oldest_ns / 1e9,
		    (unsigned long long)a->lane_sent[ix], (unsigned long long)a->lane_done[ix],
		    a->cfg->max_in_flight);
		wbuf_puts(out, line);
	}
	for (i = 0; i < a->nact; i++) {
		snprintf(line, sizeof(line), "flight=%016llx lane=%s\n",
		    (unsigned long long)a->act[i]->rec.id, ds_lane_name(a->act[i]->lane));
		wbuf_puts(out, line);
	}
	for (i = 0; i < a->npulls; i++) {	/* route job: pulled by a job */
		snprintf(line, sizeof(line), "flight=%016llx lane=%s\n",
		    (unsigned long long)a->pulls[i]->rec.id, ds_lane_name(a->pulls[i]->lane));
		wbuf_puts(out, line);
	}
}

/* Per lane: in flight, waiting, oldest waiting, bytes sent, published. */
void
sched_metrics(struct agent *a, struct wbuf *out)
{
	struct lane_view	 v[SEND_NLANES];
	double			 now = sl_time_wall();
	const char		*lab[SEND_NLANES] = { "lane=\"live\"", "lane=\"backlog\"" };
	int			 ix;

	lanes_view(a, v);
	mreg_family(out, "sluice_lane_in_flight", "gauge",
	    "Datasets of the lane on the wire now.");
	for (ix = 0; ix < SEND_NLANES; ix++)
		mreg_sample(out, "sluice_lane_in_flight", lab[ix], v[ix].in_flight);
	mreg_family(out, "sluice_lane_waiting_datasets", "gauge",
	    "Datasets of the lane waiting to go on the wire.");
	for (ix = 0; ix < SEND_NLANES; ix++)
		mreg_sample(out, "sluice_lane_waiting_datasets", lab[ix], (double)v[ix].waiting);
	mreg_family(out, "sluice_lane_waiting_bytes", "gauge",
	    "Bytes of the lane's waiting datasets not yet confirmed.");
	for (ix = 0; ix < SEND_NLANES; ix++)
		mreg_sample(out, "sluice_lane_waiting_bytes", lab[ix],
		    (double)v[ix].waiting_bytes);
	mreg_family(out, "sluice_lane_oldest_waiting_seconds", "gauge",
	    "Age of the lane's oldest waiting dataset (0: none waits).");
	for (ix = 0; ix < SEND_NLANES; ix++)
		mreg_sample(out, "sluice_lane_oldest_waiting_seconds", lab[ix],
		    v[ix].oldest_ns ? now - (double)v[ix].oldest_ns / 1e9 : 0);
	mreg_family(out, "sluice_lane_sent_bytes_total", "counter",
	    "DATA bytes of the lane put on the wire by this process.");
	for (ix = 0; ix < SEND_NLANES; ix++)
		mreg_sample(out, "sluice_lane_sent_bytes_total", lab[ix],
		    (double)a->lane_sent[ix]);
	mreg_family(out, "sluice_lane_published_total", "counter",
	    "Datasets of the lane published since this process started.");
	for (ix = 0; ix < SEND_NLANES; ix++)
		mreg_sample(out, "sluice_lane_published_total", lab[ix],
		    (double)a->lane_done[ix]);
}
