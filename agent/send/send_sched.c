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
 */
#define SCHED_OLDEST_EVERY	4
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "journal.h"
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

struct ads *
sched_pick(struct agent *a)
{
	struct ads	*shortest = NULL, *oldest = NULL;
	int		 busy[SEND_NLANES] = { 0, 0 };
	int		 i, l, ix;

	for (i = 0; i < a->nact; i++)
		if (has_pending(a->act[i]))
			busy[lane_ix(a->act[i]->lane)] = 1;
	if (!busy[0] && !busy[1])
		return NULL;
	/* a lane that was idle starts level with the busy one: no credit */
	for (l = 0; l < SEND_NLANES; l++)
		if (busy[l] && !a->lane_busy[l] && busy[1 - l] &&
		    a->lane_vt[l] < a->lane_vt[1 - l])
			a->lane_vt[l] = a->lane_vt[1 - l];
	a->lane_busy[0] = busy[0];
	a->lane_busy[1] = busy[1];
	if (busy[0] && busy[1])
		ix = a->lane_vt[0] <= a->lane_vt[1] ? 0 : 1;
	else
		ix = busy[0] ? 0 : 1;
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
