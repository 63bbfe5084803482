/*
 * sink_release.c: when a partial copy goes away without being published.
 *
 * Three rules (README, "Destinations"; sluice.conf(5), partial_ttl):
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
 *    back later starts it afresh rather than being refused.  The same for
 *    the copy of a dataset that failed here (at COMMIT: a file that no
 *    longer matches; a symlink planted in it) and kept its partial tree
 *    and its name for an operator to look at: partial_ttl after it failed.
 *
 * 3. The operator says so: `sluice release DATASET` at the sink
 *    (srel_release), for a failed dataset or one whose agent is not
 *    connected, does at once what partial_ttl would do later.  Once
 *    forgotten, the agent's `sluice retry` sends the dataset afresh.
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

	if ((r->state != SDS_RECEIVING && r->state != SDS_FAILED) ||
	    r->updated_ns >= s->before_ns)
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

/* Does failed dataset r still hold its name (its partial tree kept at
 * the sink)?  Released ones (abandoned, removed) are left alone. */
static int
holds_name(struct sink *sk, const struct ds_rec *r)
{
	uint64_t holder = 0;

	return journal_sink_name_holder(sk->j, r->dest, r->name, &holder) == SL_OK &&
	    holder == r->id;
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
	sds_drop_vd(sk, d);
	sds_free(d);
}

/* Forget dataset r (d: its state in this process, or NULL): journal
 * the note, release its name, drop its records, then remove its
 * partial tree.  SL_OK or the journal's error (nothing changed). */
static int
forget(struct sink *sk, struct sds *d, const struct ds_rec *r, const char *note)
{
	int rc;

	rc = journal_sink_ds_forget(sk->j, r->id, note);
	if (rc != SL_OK) {
		log_err("journal", "dataset=%016llx forget: %s",
		    (unsigned long long)r->id, sl_strerror(rc));
		return rc;
	}
	if (d != NULL)
		drop_open(sk, d);
	log_warnx("sink", "dataset=%016llx name=%s agent=%s state=%s held=%llu/%llu "
	    "%s", (unsigned long long)r->id, log_q(r->name), log_q(r->src),
	    sds_state_name(r->state), (unsigned long long)r->chunks_acked,
	    (unsigned long long)r->nchunks, note);
	remove_partial(sk, r);
	return SL_OK;
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
		if (d != NULL && (busy(sk, d) || (d->rec.state == SDS_RECEIVING &&
		    now - d->touched < ttl)))
			continue;
		memset(&r, 0, sizeof(r));
		if (journal_ds_get(sk->j, s.ids[i], &r) != SL_OK ||
		    (d != NULL && d->rec.state != r.state) ||
		    (r.state == SDS_FAILED && !holds_name(sk, &r))) {
			ds_rec_free(&r);
			continue;
		}
		if (r.state == SDS_FAILED)
			snprintf(note, sizeof(note), "failed dataset's partial copy kept "
			    "%.0fs (partial_ttl); removed, the dataset is forgotten", ttl);
		else
			snprintf(note, sizeof(note), "partial copy expired: no OPEN or "
			    "chunk for %.0fs (partial_ttl); removed, the dataset is "
			    "forgotten", ttl);
		(void)forget(sk, d, &r, note);
		ds_rec_free(&r);
	}
	free(s.ids);
}

/* ---- sluice release -------------------------------------------------------- */

struct rfind {
	const char	*key, *agent;
	uint64_t	 id;		/* key as an id, or 0 */
	struct ds_rec	 hit[8];	/* matches not published (meta not kept) */
	int		 nhit, more, published;
	char		 where[SL_MAX_PATH + 1];	/* a published match's path */
};

static int
rfind_cb(const struct ds_rec *r, void *arg)
{
	struct rfind *f = arg;

	if ((f->id == 0 || r->id != f->id) && strcmp(r->name, f->key) != 0)
		return 0;
	if (f->agent != NULL && strcmp(r->src, f->agent) != 0)
		return 0;
	if (r->state == SDS_PUBLISHED) {
		f->published++;
		snprintf(f->where, sizeof(f->where), "%s", r->published);
		return 0;
	}
	if (f->nhit == (int)(sizeof(f->hit) / sizeof(f->hit[0]))) {
		f->more = 1;
		return 1;
	}
	f->hit[f->nhit] = *r;
	f->hit[f->nhit].meta = NULL;
	f->hit[f->nhit].nmeta = 0;
	f->nhit++;
	return 0;
}

/* Is a connection of agent up? */
static int
agent_connected(struct sink *sk, const char *agent)
{
	struct sconn *c;

	for (c = sk->conns; c; c = c->next)
		if (c->state == SC_READY && strcmp(c->agent, agent) == 0 &&
		    stream_state(c->s) != ST_CLOSING)
			return 1;
	return 0;
}

int
srel_release(struct sink *sk, const char *key, const char *agent, char *msg,
    size_t msglen)
{
	struct rfind	*f;
	struct ds_rec	*r;
	struct sds	*d;
	char		 note[SL_MAX_MSG], *end;
	size_t		 off;
	int		 i, rc;

	if ((f = calloc(1, sizeof(*f))) == NULL) {
		snprintf(msg, msglen, "out of memory");
		return SL_ENOMEM;
	}
	f->key = key;
	f->agent = agent != NULL && agent[0] != '\0' ? agent : NULL;
	if (strlen(key) == 16) {
		errno = 0;
		f->id = strtoull(key, &end, 16);
		if (errno != 0 || *end != '\0')
			f->id = 0;
	}
	if (journal_ds_foreach(sk->j, rfind_cb, f) != SL_OK) {
		snprintf(msg, msglen, "cannot read the journal");
		rc = SL_EIO;
		goto out;
	}
	if (f->nhit == 0) {
		if (f->published > 0)
			snprintf(msg, msglen, "%s is published (%s): nothing to release",
			    key, f->where);
		else
			snprintf(msg, msglen, "%s: no such dataset%s%s at this sink", key,
			    f->agent ? " of agent " : "", f->agent ? f->agent : "");
		rc = f->published > 0 ? SL_ESTATE : SL_ENOTFOUND;
		goto out;
	}
	if (f->nhit > 1) {
		off = (size_t)snprintf(msg, msglen, "%s names %s%d datasets; give its id "
		    "or --agent:", key, f->more ? "more than " : "", f->nhit);
		for (i = 0; i < f->nhit && off < msglen; i++)
			off += (size_t)snprintf(msg + off, msglen - off, " %016llx (agent "
			    "%s, %s)", (unsigned long long)f->hit[i].id, f->hit[i].src,
			    sds_state_name(f->hit[i].state));
		rc = SL_EEXIST;
		goto out;
	}
	r = &f->hit[0];
	d = sds_find(sk, r->id);
	if (at_opener(sk, r->id) || (d != NULL && busy(sk, d))) {
		snprintf(msg, msglen, "%s (%016llx) is in use: chunks of it are on their "
		    "way to the disk; try again", r->name, (unsigned long long)r->id);
		rc = SL_EAGAIN;
		goto out;
	}
	if (r->state == SDS_RECEIVING && agent_connected(sk, r->src)) {
		snprintf(msg, msglen, "%s (%016llx) is being received and agent %s is "
		    "connected: cancel it at the agent (sluice cancel), which releases "
		    "it here", r->name, (unsigned long long)r->id, r->src);
		rc = SL_ESTATE;
		goto out;
	}
	snprintf(note, sizeof(note), "released by the operator (was %s%s%s); "
	    "partial copy removed, the dataset is forgotten",
	    sds_state_name(r->state), r->error[0] ? ": " : "", r->error);
	rc = forget(sk, d, r, note);
	if (rc != SL_OK)
		snprintf(msg, msglen, "%s (%016llx): cannot record the release in the "
		    "journal: %s", r->name, (unsigned long long)r->id, sl_strerror(rc));
	else
		snprintf(msg, msglen, "released %s (%016llx) of agent %s: partial copy "
		    "removed, name free; the agent's sluice retry sends it afresh\n",
		    r->name, (unsigned long long)r->id, r->src);
out:
	free(f);
	return rc;
}
