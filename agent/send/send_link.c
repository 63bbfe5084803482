/*
 * send_link.c: the agent's session and its destinations.
 *
 * The agent keeps one *session* with its destination: N parallel streams
 * (config streams), each through CHALLENGE / HELLO / WELCOME.  The link is
 * up only while all N are; losing any one takes the whole session down
 * and reconnects after an exponential backoff with jitter.  One rule, no
 * partial sessions to reason about.
 *
 * Which destination: choose_dest() picks; fail-over, fail-back,
 * maintenance windows and pauses follow the policy spelled out above
 * dest_blocked() and in the README ("Destinations").
 *
 * This file knows no dataset.  It tells the role that the link came up or
 * that the session is gone through the struct link_ops registered at
 * link_init, and the role's frame handlers come in through the same
 * table; so the session's I/O sits above the link, never beside it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "digest.h"
#include "fsx.h"
#include "log.h"
#include "net.h"
#include "sltime.h"
#include "stream.h"
#include "send_int.h"
#include "send_link.h"

const char *
link_name(int l)
{
	switch (l) {
	case LINK_DOWN:		return "down";
	case LINK_CONNECTING:	return "connecting";
	case LINK_UP:		return "up";
	case LINK_BACKOFF:	return "backoff";
	case LINK_WAIT:		return "waiting";	/* paused or maintenance */
	}
	return "unknown";
}

/* A reconnect keeps the reason of the failure before it: `sluice status`
 * between two refused attempts says why the link is not up, not a bare
 * "connecting". */
static void
link_enter(struct agent *a, int state, const char *why)
{
	char	last[sizeof(a->link_why)];

	if (a->link != state)
		log_info("link", "dest=%s state=%s->%s%s%s", a->dests[a->cur_dest].text,
		    link_name(a->link), link_name(state), why ? " why=" : "",
		    why ? log_q(why) : "");
	last[0] = '\0';
	if (why == NULL && state == LINK_CONNECTING && a->link == LINK_BACKOFF &&
	    a->link_why[0] != '\0')
		snprintf(last, sizeof(last), "last attempt: %.*s",
		    (int)sizeof(last) - 16, a->link_why);
	a->link = state;
	a->link_since = sl_time_wall();
	snprintf(a->link_why, sizeof(a->link_why), "%s", why ? why : last);
}

/* "2026-12-01T08:00:00Z", "2026-12-01T08:00Z" or seconds since the
 * epoch; -1 if neither. */
double
parse_time(const char *s)
{
	struct tm	 tm;
	char		*e;
	double		 v;

	memset(&tm, 0, sizeof(tm));
	e = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (e == NULL || *e != '\0') {
		memset(&tm, 0, sizeof(tm));
		e = strptime(s, "%Y-%m-%dT%H:%MZ", &tm);
	}
	if (e != NULL && *e == '\0')
		return (double)timegm(&tm);
	v = strtod(s, &e);
	return (e != s && *e == '\0' && v >= 0) ? v : -1;
}

int
dest_index(const struct agent *a, const char *text)
{
	int i;

	for (i = 0; i < a->ndest; i++)
		if (strcmp(a->dests[i].text, text) == 0)
			return i;
	return -1;
}

/* ---- destinations ----------------------------------------------------
 *
 * Policy (README, "Destinations"): the agent keeps one session, to the
 * first destination in priority order that is neither paused nor in a
 * maintenance window and has not been down longer than failover_after.
 * While it works from a lower one it tries the better ones again at
 * dataset boundaries, at most once per probe interval, and goes back as
 * soon as one answers.  A dataset that sent COMMIT to a destination is
 * bound to it and waits for it: it can never be published twice.  The
 * agent goes there to ask once nothing is in flight, from a better
 * destination too (link_want_bound), and puts it in flight there first.  One
 * still moving may move to another destination, which gets every chunk
 * it does not hold itself (send_queue.c, queue_rebind); the old one keeps
 * its partial copy, resumed from if the dataset comes back, released once
 * the dataset is published elsewhere (send_xfer.c, release_left) or by
 * that sink's partial_ttl.  The move is in the dataset's history.
 */
int
dest_blocked(const struct agent *a, int i, double now, const char **why)
{
	int w;

	if (a->paused_until > now) {
		*why = "paused";
		return 1;
	}
	if (a->dests[i].paused_until > now) {
		*why = "paused";
		return 1;
	}
	for (w = 0; w < a->nwindows; w++)
		if (a->windows[w].dest == i && a->windows[w].start <= now &&
		    now < a->windows[w].end) {
			*why = "maintenance";
			return 1;
		}
	return 0;
}

/* The destination to work with now, or -1 when all are blocked. */
static int
choose_dest(struct agent *a, double now)
{
	const char	*why;
	int		 i, fallback = -1;

	for (i = 0; i < a->ndest; i++) {
		if (dest_blocked(a, i, now, &why))
			continue;
		if (a->dests[i].down_since == 0 ||
		    now - a->dests[i].down_since < a->cfg->failover_after)
			return i;
		if (fallback == -1)
			fallback = i;
	}
	/* Every open one is down past the threshold: keep trying the best. */
	return fallback;
}

/* Seconds until the blocking of every destination may change. */
static double
next_unblock(const struct agent *a, double now)
{
	double	t = 3600;
	int	i, w;

	if (a->paused_until > now)
		t = fmin(t, a->paused_until - now);
	for (i = 0; i < a->ndest; i++)
		if (a->dests[i].paused_until > now)
			t = fmin(t, a->dests[i].paused_until - now);
	for (w = 0; w < a->nwindows; w++) {
		if (a->windows[w].start > now)
			t = fmin(t, a->windows[w].start - now);
		if (a->windows[w].end > now)
			t = fmin(t, a->windows[w].end - now);
	}
	return fmax(t, 0.05);
}

void
link_start(struct agent *a)
{
	struct dest	*dd;
	char		 err[256];
	double		 now = sl_time_wall();
	int		 i, fd, rc, next;

	next = choose_dest(a, now);
	if (a->probe > 0) {
		/* link_want_failback asked for one attempt at a better destination,
		 * even if it is past its failover threshold. */
		next = a->probe - 1;
		a->probe = 0;
	}
	if (next < 0) {
		double t = next_unblock(a, now);
		link_enter(a, LINK_WAIT, a->paused_until > now ? "paused" :
		    "every destination paused or in maintenance");
		log_info("link", "no destination open, checking again in %.0fs", t);
		ev_timer_set(&a->retry, t, 0);
		ev_timer_start(a->loop, &a->retry);
		return;
	}
	if (next != a->cur_dest)
		log_warnx("link", "dest=%s -> dest=%s (%s)", a->dests[a->cur_dest].text,
		    a->dests[next].text, next > a->cur_dest ? "failing over" :
		    "back to a preferred destination");
	a->cur_dest = next;
	dd = &a->dests[next];
	dd->last_try = now;
	link_enter(a, LINK_CONNECTING, NULL);
	a->nready = 0;
	for (i = 0; i < a->cfg->streams; i++) {
		struct astream *as = &a->st[i];

		rc = net_connect(&dd->addr, &fd, err, sizeof(err));
		if (rc != SL_OK) {
			link_down(a, err);
			return;
		}
		net_tune(fd, a->cfg->sndbuf);
		net_user_timeout(fd, a->cfg->stall_timeout);	/* silent outages */
		snprintf(as->label, sizeof(as->label), "%s#%d", a->dests[a->cur_dest].text, i);
		as->state = AS_CONNECTING;
		as->inflight = 0;
		as->inflight_bytes = 0;
		as->s = stream_new(a->loop, fd, 1, a->tls, 0, dd->peer, a->lops->stream, as,
		    SL_MAX_FRAME, 0, as->label);
		if (as->s == NULL) {
			as->state = AS_NONE;
			link_down(a, "out of memory");
			return;
		}
		if (a->pool != NULL)	/* DATA of large files: encrypted there */
			stream_use_pool(as->s, a->pool, 0, FSX_DIO_MIN_FILE);
	}
	ev_timer_set(&a->connect_to, 15.0, 0);
	ev_timer_start(a->loop, &a->connect_to);
}

static void
retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop; (void)revents;
	link_start(w->data);
}

static void
connect_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop; (void)revents;
	link_down(w->data, "session setup timed out");
}

/* Tear the session down and schedule a reconnect: exponential backoff
 * from reconnect_min to reconnect_max, times a random factor in
 * [0.5, 1.0) so that many agents do not reconnect in lockstep. */
static void
link_close(struct agent *a, const char *why, int failed)
{
	uint32_t	 r;
	double		 delay;
	int		 i;

	if (a->link == LINK_BACKOFF || a->link == LINK_DOWN || a->link == LINK_WAIT)
		return;
	if (failed && a->dests[a->cur_dest].down_since == 0)
		a->dests[a->cur_dest].down_since = sl_time_wall();
	ev_timer_stop(a->loop, &a->connect_to);
	for (i = 0; i < a->cfg->streams; i++) {
		struct stream *s = a->st[i].s;

		a->st[i].s = NULL;
		a->st[i].state = AS_NONE;
		a->st[i].inflight = 0;
		a->st[i].inflight_bytes = 0;
		if (s)
			stream_close(s, why);
	}
	a->nready = 0;
	a->lops->closed(a);	/* what was in flight goes back to pending */
	if (failed) {
		a->backoff = a->backoff == 0 ? a->cfg->reconnect_min :
		    fmin(a->backoff * 2, a->cfg->reconnect_max);
		digest_random(&r, sizeof(r));
		delay = a->backoff * (0.5 + 0.5 * (r / 4294967296.0));
	} else
		delay = 0.01;	/* a deliberate switch: go now */
	link_enter(a, LINK_BACKOFF, why);
	log_info("link", "dest=%s retry_in=%.2fs", a->dests[a->cur_dest].text, delay);
	ev_timer_set(&a->retry, delay, 0);
	ev_timer_start(a->loop, &a->retry);
}

/* The session failed: back off, and count the outage against the
 * destination (failover_after). */
void
link_down(struct agent *a, const char *why)
{
	link_close(a, why, 1);
}

/* Close a working session on purpose (pause, failing back). */
void
link_switch(struct agent *a, const char *why)
{
	link_close(a, why, 0);
}

void
link_resume(struct agent *a)
{
	if (a->link != LINK_WAIT)
		return;
	ev_timer_stop(a->loop, &a->retry);
	link_start(a);
}

void
link_progress(struct agent *a)
{
	a->backoff = 0;
}

void
link_ready(struct agent *a, struct astream *as)
{
	struct dest *dd = &a->dests[a->cur_dest];

	as->state = AS_READY;
	if (++a->nready != a->cfg->streams)
		return;
	/* The backoff is not reset here: a sink that accepts and then refuses
	 * (disk full) would be hammered.  Progress resets it (link_progress:
	 * an ACK, a publication, or a session that stays up). */
	ev_timer_stop(a->loop, &a->connect_to);
	if (dd->down_since != 0)
		log_info("link", "dest=%s back after %.0fs down", dd->text,
		    sl_time_wall() - dd->down_since);
	dd->down_since = 0;
	link_enter(a, LINK_UP, NULL);
	a->lops->up(a);
}

void
link_send(struct agent *a, struct astream *as, struct wbuf *b)
{
	if (stream_send_wbuf(as->s, b) != SL_OK)
		link_down(a, "cannot queue a frame");
}

/* May destination i be tried now (neither paused nor in maintenance, and
 * it never failed or was last tried a probe interval ago)?  If so it is
 * remembered for the next link_start. */
static int
probe_dest(struct agent *a, int i, double now)
{
	const char *why;

	if (dest_blocked(a, i, now, &why))
		return 0;
	if (a->dests[i].down_since != 0 &&
	    now - a->dests[i].last_try < fmax(a->cfg->reconnect_max, 1.0))
		return 0;
	a->probe = i + 1;
	return 1;
}

/* Working from a lower destination, and a better one may be back: it
 * never failed (a maintenance window ended), or we have not tried it for
 * a probe interval. */
int
link_want_failback(struct agent *a)
{
	double	now = sl_time_wall();
	int	i;

	for (i = 0; i < a->cur_dest; i++)
		if (probe_dest(a, i, now))
			return 1;
	return 0;
}

/* A dataset whose COMMIT went to another destination waits for that one
 * alone (it may have published it).  Go there once nothing is in flight:
 * at once if it never failed, else once per probe interval; a paused one
 * or one in maintenance waits. */
int
link_want_bound(struct agent *a)
{
	double		 now = sl_time_wall();
	struct ads	*d;
	int		 i;

	for (d = a->queue; d != NULL; d = d->next) {
		if (d->phase != PH_IDLE || d->rec.state != DS_COMMITTING)
			continue;
		i = dest_index(a, d->rec.dest);
		if (i >= 0 && i != a->cur_dest && probe_dest(a, i, now))
			return 1;
	}
	return 0;
}

static int
parse_destinations(struct agent *a, char *err, size_t errlen)
{
	char	list[sizeof(a->cfg->destination)], *tok, *save = NULL, *colon;
	int	rc, explicit_name;

	snprintf(list, sizeof(list), "%s", a->cfg->destination);
	for (tok = strtok_r(list, ",", &save); tok && a->ndest < CFG_MAX_DESTS;
	    tok = strtok_r(NULL, ",", &save)) {
		struct dest *dd = &a->dests[a->ndest];

		while (*tok == ' ' || *tok == '\t')
			tok++;
		tok[strcspn(tok, " \t")] = '\0';
		snprintf(dd->text, sizeof(dd->text), "%s", tok);
		rc = net_resolve(tok, &dd->addr, err, errlen);
		if (rc != SL_OK)
			return rc;
		/* Certificate name: the host part, unless server_name was set. */
		snprintf(dd->peer, sizeof(dd->peer), "%s", tok[0] == '[' ? tok + 1 : tok);
		colon = strrchr(dd->peer, tok[0] == '[' ? ']' : ':');
		if (colon)
			*colon = '\0';
		a->ndest++;
	}
	explicit_name = strcmp(a->cfg->server_name, a->dests[0].peer) != 0;
	if (explicit_name)
		for (rc = 0; rc < a->ndest; rc++)
			snprintf(a->dests[rc].peer, sizeof(a->dests[rc].peer), "%s",
			    a->cfg->server_name);
	return SL_OK;
}

/* maintenance = DEST START END[; DEST START END ...] */
static int
parse_maintenance(struct agent *a, char *err, size_t errlen)
{
	char	list[sizeof(a->cfg->maintenance)], *ent, *save = NULL;
	char	dest[256], start[64], end[64];

	snprintf(list, sizeof(list), "%s", a->cfg->maintenance);
	for (ent = strtok_r(list, ";", &save); ent; ent = strtok_r(NULL, ";", &save)) {
		struct mwindow *w = &a->windows[a->nwindows];

		if (strspn(ent, " \t") == strlen(ent))
			continue;
		if (a->nwindows == MAX_WINDOWS) {
			snprintf(err, errlen, "%s: [agent] maintenance: more than %d windows",
			    a->cfg->path, MAX_WINDOWS);
			return SL_EINVAL;
		}
		if (sscanf(ent, " %255s %63s %63s", dest, start, end) != 3 ||
		    (w->dest = dest_index(a, dest)) < 0 ||
		    (w->start = parse_time(start)) < 0 || (w->end = parse_time(end)) < 0 ||
		    w->end <= w->start) {
			snprintf(err, errlen, "%s: [agent] maintenance: \"%s\": want DEST "
			    "START END with DEST one of the destinations and times like "
			    "2026-12-01T08:00:00Z, END after START", a->cfg->path, ent);
			return SL_EINVAL;
		}
		a->nwindows++;
	}
	return SL_OK;
}

int
link_init(struct agent *a, const struct link_ops *ops, char *err, size_t errlen)
{
	int rc, i;

	a->lops = ops;
	rc = parse_destinations(a, err, errlen);
	if (rc == SL_OK)
		rc = parse_maintenance(a, err, errlen);
	if (rc != SL_OK)
		return rc;
	for (i = 0; i < SL_MAX_STREAMS; i++) {
		a->st[i].a = a;
		a->st[i].idx = i;
	}
	ev_init(&a->retry, retry_cb);
	a->retry.data = a;
	ev_init(&a->connect_to, connect_timeout_cb);
	a->connect_to.data = a;
	a->link = LINK_DOWN;
	return SL_OK;
}

void
link_stop(struct agent *a, const char *why)
{
	int i;

	ev_timer_stop(a->loop, &a->retry);
	ev_timer_stop(a->loop, &a->connect_to);
	for (i = 0; i < a->cfg->streams; i++)
		if (a->st[i].s) {
			stream_close(a->st[i].s, why);
			a->st[i].s = NULL;
		}
}
