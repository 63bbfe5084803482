/*
 * sink_release.c: when a partial copy goes away without being published.
 *
 * Two rules (README, "Destinations"; sluice.conf(5), partial_ttl):
 *
 * 1. The agent says so: ERROR with a dataset id (PROTOCOL.md), handled by
 *    sds_abandon (sink_dataset.c).  It sends
 *    one when it abandons the dataset it is sending (source changed,
 *    cancelled), and when a session to this sink comes up while the
 *    journal says that a dataset this sink holds a partial copy of was
 *    published at another destination since ("released: ...").  The
 *    dataset need not be open in this session, nor in this process's
 *    life: the journal has it.  Only the agent that owns it (the identity
 *    that OPENed it) may release it.  The dataset is marked failed with
 *    the reason and its partial directory removed; its name is free.
 *
 * 2. Nobody comes: a partial copy that no agent has OPENed or written to
 *    for partial_ttl seconds while this sink runs (the time the sink was
 *    down does not count) is removed and the dataset forgotten in the
 *    journal (journal_sink_ds_forget), so that an agent that does come
 *    back later starts it afresh rather than being refused.
 *
 * A copy with chunks still at a writer or the committer, or a HAVE
 * waiting, is never expired: it is in use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsx.h"
#include "log.h"
#include "publish.h"
#include "sink_int.h"
#include "sltime.h"
#include "verify.h"

/* Remove the partial tree of dataset r (in its namespace). */
static void
remove_partial(struct sink *sk, const struct ds_rec *r)
{
	char	pname[SL_MAX_NAME + 16];
	int	nsfd, rc;

	publish_partial_name(pname, sizeof(pname), r->name);
	nsfd = ns_open(sk, r, 0);
	rc = nsfd == -1 ? -1 : fsx_rmtree_at(nsfd, pname);
	if (rc == -1 && errno != ENOENT)
		log_warn("sink", "dataset=%016llx remove %s", (unsigned long long)r->id,
		    log_q(pname));
	else
		log_info("sink", "dataset=%016llx removed %s", (unsigned long long)r->id,
		    log_q(pname));
	ns_close(sk, nsfd);
}

/* ---- partial_ttl --------------------------------------------------------- */

struct stale {
	uint64_t	*ids;
	size_t		 n, alloc;
	uint64_t	 before_ns;	/* untouched in the journal since */
	int		 nomem;
};

static int
stale_cb(const struct ds_rec *r, void *arg)
{
	struct stale	*s = arg;
	uint64_t	*p;

	if (r->state != SDS_RECEIVING || r->updated_ns >= s->before_ns)
		return 0;
	if (s->n == s->alloc) {
		p = realloc(s->ids, (s->alloc * 2 + 16) * sizeof(*p));
		if (p == NULL) {
			s->nomem = 1;
			return 1;
		}
		s->ids = p;
		s->alloc = s->alloc * 2 + 16;
	}
	s->ids[s->n++] = r->id;
	return 0;
}

/* Is d in use: chunks on their way to the disk, or a HAVE waiting? */
static int
busy(struct sink *sk, struct sds *d)
{
	struct sconn *c;

	if (d->nwriting > 0 || gcommit_holds(sk->gc, d))
		return 1;
	for (c = sk->conns; c; c = c->next)
		if (c->have_wait == d->rec.id)
			return 1;
	return 0;
}

/* Is dataset id on its way through the opener (an OPEN after a restart)? */
static int
at_opener(struct sink *sk, uint64_t id)
{
	struct sopen *op;

	for (op = sk->opening; op; op = op->next)
		if (op->rec.id == id)
			return 1;
	return 0;
}

/* Forget d, open in this process, so that a later OPEN starts afresh. */
static void
drop_open(struct sink *sk, struct sds *d)
{
	struct sds **pp;

	for (pp = &sk->dsets; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	verifier_drop(sk->ver, d->vd);
	d->vd = NULL;
	sds_free(d);
}

void
srel_expire_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct sink	*sk = t->data;
	struct stale	 s = { NULL, 0, 0, 0, 0 };
	struct sds	*d;
	struct ds_rec	 r;
	double		 now = sl_time_wall(), ttl = sk->cfg->partial_ttl;
	char		 note[SL_MAX_MSG];
	size_t		 i;
	int		 rc;

	(void)loop; (void)revents;
	if (ttl <= 0 || now - sk->started < ttl)
		return;		/* the sink's downtime does not count */
	s.before_ns = (uint64_t)((now - ttl) * 1e9);
	rc = journal_ds_foreach(sk->j, stale_cb, &s);
	if (rc != SL_OK || s.nomem)
		log_err("journal", "partial_ttl: %s", s.nomem ? "out of memory" :
		    sl_strerror(rc));
	for (i = 0; i < s.n; i++) {
		if (at_opener(sk, s.ids[i]))
			continue;
		d = sds_find(sk, s.ids[i]);
		if (d != NULL && (d->rec.state != SDS_RECEIVING ||
		    now - d->touched < ttl || busy(sk, d)))
			continue;
		memset(&r, 0, sizeof(r));
		if (journal_ds_get(sk->j, s.ids[i], &r) != SL_OK) {
			ds_rec_free(&r);
			continue;
		}
		snprintf(note, sizeof(note), "partial copy expired: no OPEN or chunk "
		    "for %.0fs (partial_ttl); removed, the dataset is forgotten", ttl);
		if (d != NULL)
			drop_open(sk, d);
		rc = journal_sink_ds_forget(sk->j, r.id, note);
		if (rc != SL_OK)
			log_err("journal", "dataset=%016llx forget: %s",
			    (unsigned long long)r.id, sl_strerror(rc));
		else {
			log_warnx("sink", "dataset=%016llx name=%s agent=%s held=%llu/%llu "
			    "%s", (unsigned long long)r.id, log_q(r.name), log_q(r.src),
			    (unsigned long long)r.chunks_acked,
			    (unsigned long long)r.nchunks, note);
			remove_partial(sk, &r);
		}
		ds_rec_free(&r);
	}
	free(s.ids);
}
