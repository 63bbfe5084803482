/*
 * sink_dataset.c: the sink's dataset state machine (states in journal.h:
 * receiving -> published, or failed), one struct sds per dataset.
 *
 * OPEN creates or finds the dataset (its name reserved in the journal),
 * prepares the partial tree and answers HAVE with the chunks already
 * durable; a new one is checked against its agent's caps (sink_limits.c)
 * and the heavy part runs on the opener thread (sink_open.c), so that a
 * 100,000-file OPEN does not stall the other agents.  HAVE waits while a
 * writer or a batch not yet durable holds chunks of it.  A file of the
 * partial tree that turns out to be a symlink fails the dataset.  DATA
 * is verified (XXH3-64 over the bytes, against the manifest's file,
 * offset and length) before it touches the disk; a
 * mismatch is NACKed and nothing is written.  A verified chunk is
 * pwritten at its offset, here or by a writer thread (swrite.h), and
 * joins the group commit (gcommit.h); sink_ack.c acknowledges it once
 * it is durable.  COMMIT re-reads and verifies the whole dataset
 * (publish.h) and renames it into place; COMMITTED tells the agent.
 * Every frame is idempotent: OPEN of a known dataset answers HAVE, a DATA
 * for a held chunk is acked again without a write, COMMIT of a published
 * dataset answers COMMITTED.
 *
 * It answers through its connection (sink_conn.c) and never calls the
 * session or the ACK batching above it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "fsx.h"
#include "log.h"
#include "pathchk.h"
#include "publish.h"
#include "sink_int.h"
#include "sltime.h"
#include "verify.h"


/* How every dataset's digests are made (verify.h). */
static unsigned
vh_flags(const struct sink *sk)
{
	return (sk->dio ? VH_DIO : 0) | (sk->cfg->sha256 ? VH_SHA256 : 0);
}

struct sds *
sds_find(struct sink *sk, uint64_t id)
{
	struct sds *d;

	for (d = sk->dsets; d; d = d->next)
		if (d->rec.id == id)
			return d;
	return NULL;
}

void
sds_free(struct sds *d)
{
	uint32_t i;

	if (d->pfd >= 0)
		close(d->pfd);
	for (i = 0; d->kfd != NULL && i < d->nfiles; i++)
		if (d->kfd[i] >= 0)
			close(d->kfd[i]);	/* stopping: sds_drop_vd counts them */
	free(d->kfd);
	ds_rec_free(&d->rec);
	free(d->files);
	free(d->held);
	free(d->made);
	free(d);
}

/* Is the directory entry of file i of d durable (sink_int.h made)? */
static int
sds_made(const struct sds *d, uint32_t i)
{
	return (d->made[i / 8] >> (i % 8)) & 1;
}

/* The files of d that hold a durable chunk exist durably: d->made. */
static int
sds_made_init(struct sds *d)
{
	uint32_t	i;
	uint64_t	g;

	d->made = calloc(d->nfiles / 8 + 1, 1);
	if (d->made == NULL)
		return SL_ENOMEM;
	if (d->rec.chunks_acked == 0)
		return SL_OK;
	for (i = 0; i < d->nfiles; i++)
		for (g = d->files[i].first_chunk; g < d->files[i].first_chunk +
		    d->files[i].nchunks; g++)
			if (d->held[g / 8] & (1u << (g % 8))) {
				d->made[i / 8] |= (uint8_t)(1u << (i % 8));
				break;
			}
	return SL_OK;
}

void
sds_flush_counts(struct sink *sk, struct sds *d)
{
	if (d->recv_d || d->dup_d || d->nack_d) {
		journal_ds_count(sk->j, d->rec.id, d->recv_d, d->dup_d, d->nack_d);
		d->rec.chunks_sent += d->recv_d;
		d->rec.chunks_resent += d->dup_d;
		d->rec.chunks_nacked += d->nack_d;
		d->recv_d = d->dup_d = d->nack_d = 0;
	}
}

/* release: drop the name reservation in the same txn (journal.h
 * journal_sink_finish): always once published; once failed only when
 * its partial tree is gone. */
static void
sds_state_to(struct sink *sk, struct sds *d, int state, const char *reason,
    const char *published, int release)
{
	int rc = release ? journal_sink_finish(sk->j, d->rec.id, state, reason,
	    published) : journal_ds_set_state(sk->j, d->rec.id, state, reason, published);

	if (rc != SL_OK)
		log_err("journal", "dataset=%016llx cannot record %s: %s",
		    (unsigned long long)d->rec.id, sds_state_name(state), sl_strerror(rc));
	log_info("dataset", "dataset=%016llx name=%s state=%s->%s%s%s",
	    (unsigned long long)d->rec.id, log_q(d->rec.name),
	    sds_state_name(d->rec.state), sds_state_name(state),
	    reason ? " reason=" : "", reason ? log_q(reason) : "");
	d->rec.state = state;
	if (reason != NULL)
		snprintf(d->rec.error, sizeof(d->rec.error), "%s", reason);
}

static void
sds_set_state(struct sink *sk, struct sds *d, int state, const char *reason,
    const char *published)
{
	sds_state_to(sk, d, state, reason, published, state == SDS_PUBLISHED);
}

/*
 * Every dataset belongs to the identity that opened it (rec.src, in the
 * journal): another agent's OPEN, DATA, COMMIT or ERROR for it is
 * refused, and the dataset is left as it was.  1 when c's agent owns d.
 */
static int
sds_owned(struct sconn *c, const struct ds_rec *r, const char *what)
{
	if (strcmp(r->src, c->agent) == 0)
		return 1;
	log_warnx("sink", "dataset=%016llx conn=%s agent=%s %s refused: the dataset "
	    "belongs to agent %s", (unsigned long long)r->id, c->label,
	    log_q(c->agent), what, log_q(r->src));
	return 0;
}

/* The directory of dataset r's namespace (rec.dest) beneath the root:
 * the root itself (flat) or <root>/<agent>, made when create is set.
 * An fd the caller closes with ns_close, or -1 with errno. */
int
ns_open(struct sink *sk, const struct ds_rec *r, int create)
{
	if (r->dest[0] == '\0')
		return sk->rootfd;
	if (create && mkdirat(sk->rootfd, r->dest, 0755) == 0)
		(void)fsx_fsync_dir(sk->rootfd);
	return fsx_open_beneath(sk->rootfd, r->dest, O_RDONLY | O_DIRECTORY, 0);
}

void
ns_close(struct sink *sk, int fd)
{
	if (fd >= 0 && fd != sk->rootfd)
		close(fd);
}

/* Where r is (or will be) published, relative to the root. */
static void
sds_path(const struct ds_rec *r, char *out, size_t len)
{
	if (r->dest[0] != '\0')
		snprintf(out, len, "%s/%s", r->dest, r->name);
	else
		snprintf(out, len, "%s", r->name);
}

/*
 * A new dataset r asks for its name.  The name is free unless the
 * journal says another dataset holds it and that one's partial tree is
 * still there (a dataset being received, or failed with its tree kept),
 * a directory of that name exists (published, or made by someone else),
 * or a partial tree no dataset holds is in the way (never reused).  A
 * holder whose partial tree was removed at the sink lets the name go:
 * that is the operator's way to release a name whose owner is gone for
 * good.  SL_OK, or SL_EEXIST with ERROR sent to c.
 */
static int
name_free(struct sconn *c, const struct ds_rec *r, int nsfd)
{
	struct sink	*sk = c->sk;
	struct ds_rec	 h;
	struct sds	*hd;
	struct stat	 st;
	char		 pname[SL_MAX_NAME + 16], path[2 * SL_MAX_NAME + 2];
	uint64_t	 holder = 0;
	int		 partial, pub;

	sds_path(r, path, sizeof(path));
	publish_partial_name(pname, sizeof(pname), r->name);
	partial = fstatat(nsfd, pname, &st, AT_SYMLINK_NOFOLLOW) == 0;
	memset(&h, 0, sizeof(h));
	if (journal_sink_name_holder(sk->j, r->dest, r->name, &holder) == SL_OK &&
	    holder != r->id && journal_ds_get(sk->j, holder, &h) == SL_OK &&
	    h.state != SDS_PUBLISHED) {
		if (partial) {
			sconn_error(c, r->id, SL_EEXIST, "name \"%s\" taken at sink by "
			    "dataset %016llx (%s%s): choose another name (sluice retry "
			    "DATASET --name NEW)", path, (unsigned long long)holder,
			    h.state == SDS_FAILED ? "failed, its partial tree kept at "
			    "the sink" : "being received", strcmp(h.src, c->agent) == 0 ?
			    ", yours" : "");
			ds_rec_free(&h);
			return SL_EEXIST;
		}
		/* Its partial tree was removed at the sink: it is gone. */
		log_info("sink", "dataset=%016llx name=%s partial tree removed at the "
		    "sink: name released to dataset %016llx", (unsigned long long)holder,
		    log_q(path), (unsigned long long)r->id);
		if (h.state == SDS_RECEIVING)
			journal_sink_finish(sk->j, holder, SDS_FAILED, "partial tree "
			    "removed at the sink", NULL);
		if ((hd = sds_find(sk, holder)) != NULL && hd->rec.state == SDS_RECEIVING) {
			sds_drop_vd(sk, hd);
			if (hd->pfd >= 0)
				close(hd->pfd);
			hd->pfd = -1;
			hd->rec.state = SDS_FAILED;
		}
	}
	ds_rec_free(&h);
	pub = publish_is_published(nsfd, r);
	if (pub != 0) {
		sconn_error(c, r->id, SL_EEXIST, "name \"%s\" taken at sink: a "
		    "directory of that name exists%s: choose another name (sluice "
		    "retry DATASET --name NEW)", path, pub == 1 ? " (this dataset, "
		    "published)" : "");
		return SL_EEXIST;
	}
	if (partial) {
		sconn_error(c, r->id, SL_EEXIST, "name \"%s\" taken at sink: a "
		    "partial tree %s is in the way with no reservation in the "
		    "sink's journal (left by an older sluiced, or made by hand); it "
		    "is never reused: choose another name (sluice retry DATASET "
		    "--name NEW)", path, pname);
		return SL_EEXIST;
	}
	return SL_OK;
}

/*
 * Does a writer, or a batch not yet durable (being filled, or at the
 * committer), hold chunks of d?  Then HAVE must wait for it: answered now, it would leave
 * those chunks out, the agent would send them again, and they would land
 * twice (a late DATA of the agent's previous session, say, written just
 * before the new session's OPEN).
 */
static int
sds_pending(struct sink *sk, struct sds *d)
{
	return d->nwriting > 0 || gcommit_holds(sk->gc, d);
}

static void
send_have(struct sconn *c, struct sds *d)
{
	struct wire_have	 h;
	struct wbuf		 b;
	uint8_t			*ones = NULL;
	size_t			 nb = (size_t)((d->rec.nchunks + 7) / 8);

	h.dsid = d->rec.id;
	h.nchunks = d->rec.nchunks;
	if (d->rec.state == SDS_PUBLISHED) {
		h.status = WIRE_HAVE_PUBLISHED;
		ones = malloc(nb ? nb : 1);
		if (ones == NULL) {
			stream_close(c->s, "out of memory");
			return;
		}
		memset(ones, 0xff, nb);
		if (d->rec.nchunks % 8)
			ones[nb - 1] = (uint8_t)((1u << (d->rec.nchunks % 8)) - 1);
		h.bitmap = ones;
	} else {
		h.status = WIRE_HAVE_RECEIVING;
		h.bitmap = d->held;
	}
	wbuf_init(&b, 0);
	if (wire_have_encode(&b, &h) == SL_OK)
		sconn_send(c, &b);
	else
		stream_close(c->s, "cannot encode HAVE");
	wbuf_free(&b);
	free(ones);
}

/* HAVEs that waited for chunks on their way to the disk (sds_open). */
void
sds_have_check(struct sink *sk)
{
	struct sconn	*c;
	struct sds	*d;

	/* The open batch may hold newer chunks of the same dataset: wait
	 * for that one too.  (commit_done runs once its batch is no longer
	 * counted.) */
	for (c = sk->conns; c; c = c->next) {
		if (c->have_wait == 0 || stream_state(c->s) == ST_CLOSING)
			continue;
		d = sds_find(sk, c->have_wait);
		if (d == NULL)
			c->have_wait = 0;
		else if (!sds_pending(sk, d)) {
			c->have_wait = 0;
			send_have(c, d);
		}
	}
}

/* d failed for a reason that will not get better by retrying: journal
 * it and let go of its partial directory (the tree stays for an operator
 * to look at). */
static void
sds_fail(struct sink *sk, struct sds *d, const char *reason)
{
	sds_set_state(sk, d, SDS_FAILED, reason, NULL);
	sds_drop_vd(sk, d);
	if (d->pfd >= 0) {
		close(d->pfd);
		d->pfd = -1;
	}
}

/* ERROR for a failed open of a file of d.  A symlink or a non-directory
 * planted in the partial tree (ELOOP, EXDEV, ENOTDIR, EISDIR) is there
 * for good: the dataset fails with the reason instead of the agent
 * retrying forever. */
static void
sds_io_error(struct sconn *c, struct sds *d, const char *op, const char *path, int e)
{
	char reason[SL_MAX_MSG];

	if (e == ELOOP || e == EXDEV || e == ENOTDIR || e == EISDIR) {
		snprintf(reason, sizeof(reason), "%s %s: %s (a symlink or a non-directory "
		    "in the partial tree: retrying will not help)", op, path, strerror(e));
		sds_fail(c->sk, d, reason);
		sconn_error(c, d->rec.id, SL_EPATH, "%s", reason);
		return;
	}
	sconn_io_error(c, d->rec.id, op, path, e);
}

/* publish_open_file failed for a chunk of d (rc, err, errno e): a
 * symlink or a name the file system cannot hold fails the dataset. */
static void
sds_open_error(struct sconn *c, struct sds *d, const char *path, int rc,
    const char *err, int e)
{
	if (e == ELOOP || e == EXDEV || e == ENOTDIR || e == EISDIR)
		sds_io_error(c, d, "open", path, e);
	else {
		if (!sl_err_retryable(rc))
			sds_fail(c->sk, d, err);
		sconn_error(c, d->rec.id, rc, "%s", err);
	}
}

/* Open file i of d for a chunk, creating it if no chunk of it is durable
 * yet.  fd, or -1 with the ERROR sent. */
static int
sds_open_file(struct sconn *c, struct sds *d, uint32_t i, int dio)
{
	char	err[SL_MAX_MSG];
	int	fd, rc = SL_OK;

	fd = publish_open_file(d->pfd, &d->files[i], dio, !sds_made(d, i), &rc, err,
	    sizeof(err));
	if (fd == -1)
		sds_open_error(c, d, d->files[i].path, rc, err, errno);
	return fd;
}

/* OPEN of a dataset this process holds already: the agent's new session
 * (or a duplicate).  The same manifest gets HAVE, its partial directory
 * reopened if its agent had gone (sink_limits.c). */
static void
open_again(struct sconn *c, struct sds *d, uint32_t nfiles, uint64_t bytes,
    uint32_t chunk_size)
{
	struct sink	*sk = c->sk;
	char		 err[SL_MAX_MSG];
	int		 rc;

	if (d->nfiles != nfiles || d->rec.bytes != bytes || d->rec.chunk_size != chunk_size) {
		sconn_error(c, d->rec.id, SL_EINVAL, "dataset id reused with a different "
		    "manifest");
		return;
	}
	if (d->rec.state == SDS_FAILED) {	/* as after a restart (sink_open.c) */
		sconn_error(c, d->rec.id, SL_ESTATE, "dataset failed at the sink earlier: %s",
		    d->rec.error);
		return;
	}
	d->touched = sl_time_wall();	/* partial_ttl */
	if (d->rec.state == SDS_RECEIVING && d->pfd < 0) {
		rc = slim_attach(sk, d, err, sizeof(err));
		if (rc != SL_OK) {
			if (!sl_err_retryable(rc))
				sds_fail(sk, d, err);
			sconn_error(c, d->rec.id, rc, "%s", err);
			return;
		}
	}
	/* Chunks of the agent's previous session that wait, parked, for ones
	 * lost with it would hold this HAVE until they expire: give their
	 * files up to the re-read at COMMIT now. */
	verifier_giveup(sk->ver, d->vd, UINT32_MAX, "a new session "
	    "reopened the dataset with chunks of it waiting for lost ones");
	if (sds_pending(sk, d))
		c->have_wait = d->rec.id;	/* sds_have_check answers */
	else
		send_have(c, d);
}

/*
 * OPEN: a dataset held already is answered here; a new one (or one known
 * only to the journal) is checked against its agent's caps
 * (sink_limits.c) and handed to the opener thread (sink_open.c), which
 * does the heavy part; sds_opened answers when it comes back.
 */
void
sds_open(struct sconn *c, const struct wire_open *o)
{
	struct sink	*sk = c->sk;
	struct sopen	*op, *p;
	struct sds	*d;
	struct ds_rec	 existing;
	const char	*bad;
	char		 msg[SL_MAX_MSG];
	int		 rc, known, busy = 0;

	d = sds_find(sk, o->dsid);
	if (d != NULL && !sds_owned(c, &d->rec, "OPEN")) {
		sconn_error(c, o->dsid, SL_EAUTH, "dataset %016llx is not agent %s's",
		    (unsigned long long)o->dsid, c->agent);
		return;
	}
	if (d != NULL) {
		open_again(c, d, o->nfiles, o->total_bytes, o->chunk_size);
		return;
	}
	/* Still at the opener: only its owner may OPEN it again (the reply
	 * comes when it is back, as a replay). */
	for (p = sk->opening; p; p = p->next)
		if (p->rec.id == o->dsid && strcmp(p->rec.src, c->agent) != 0) {
			sds_owned(c, &p->rec, "OPEN");
			sconn_error(c, o->dsid, SL_EAUTH, "dataset %016llx is not agent "
			    "%s's", (unsigned long long)o->dsid, c->agent);
			return;
		}
	op = sopen_new(sk, c, o);
	if (op == NULL) {
		sconn_error(c, 0, SL_ENOMEM, "out of memory");
		return;
	}
	/* Known to the journal (a restart since): its owner, its namespace.
	 * New: the namespace of the layout, and the name must be free.  One
	 * short read (and at most a stat or two): cheap enough for the loop. */
	memset(&existing, 0, sizeof(existing));
	rc = journal_ds_get(sk->j, o->dsid, &existing);
	if (rc == SL_OK) {
		if (!sds_owned(c, &existing, "OPEN")) {
			sconn_error(c, o->dsid, SL_EAUTH, "dataset %016llx is not agent "
			    "%s's", (unsigned long long)o->dsid, c->agent);
			goto fail;
		}
		snprintf(op->rec.dest, sizeof(op->rec.dest), "%s", existing.dest);
	} else if (rc == SL_ENOTFOUND) {
		if (sk->cfg->layout == LAYOUT_PER_AGENT) {
			if (pathchk_name(c->agent, strlen(c->agent), &bad) != SL_OK) {
				sconn_error(c, o->dsid, SL_EPATH, "agent id \"%s\" cannot "
				    "name a directory at the sink: %s", c->agent, bad);
				goto fail;
			}
			snprintf(op->rec.dest, sizeof(op->rec.dest), "%s", c->agent);
		}
	} else {
		sconn_error(c, o->dsid, rc, "journal: %s", sl_strerror(rc));
		goto fail;
	}
	op->nsfd = ns_open(sk, &op->rec, 1);
	if (op->nsfd == -1) {
		sconn_io_error(c, o->dsid, "open", op->rec.dest[0] ? op->rec.dest : ".",
		    errno);
		goto fail;
	}
	known = rc == SL_OK;
	/* A new dataset's name must be free of those on their way through
	 * the opener too: the journal reserves a name only once the opener
	 * has created its dataset (and name_free, seeing a reservation whose
	 * partial tree is not made yet, would release it).  Those received
	 * here hold theirs in the journal (name_free). */
	for (p = sk->opening; p && !busy; p = p->next)
		busy = p->rec.id != op->rec.id && strcmp(p->rec.name, op->rec.name) == 0 &&
		    strcmp(p->rec.dest, op->rec.dest) == 0;
	if (busy && known == 0) {
		sconn_error(c, o->dsid, SL_EEXIST, "name \"%s%s%s\" taken at sink by "
		    "a dataset being opened: choose another name (sluice retry "
		    "DATASET --name NEW)", op->rec.dest, op->rec.dest[0] ? "/" : "",
		    op->rec.name);
		goto fail;
	}
	if (!known && name_free(c, &op->rec, op->nsfd) != SL_OK)
		goto fail;
	ds_rec_free(&existing);
	rc = slim_check_open(sk, c->agent, op->nfiles, op->cost, msg, sizeof(msg));
	if (rc != SL_OK) {
		sopen_free(op);
		sconn_error(c, o->dsid, rc, "%s", msg);
		return;
	}
	op->next = sk->opening;
	sk->opening = op;
	log_debug("sink", "dataset=%016llx name=%s files=%u to the opener",
	    (unsigned long long)op->rec.id, log_q(op->rec.name), op->nfiles);
	workq_push(sk->opener, &op->job);
	return;
fail:
	ds_rec_free(&existing);
	sopen_free(op);
}

static void	abandon(struct sink *, struct sds *, const char *);

/* The opener thread is done with op: the dataset joins sk->dsets and its
 * connection, if still there, gets HAVE (or the error). */
void
sds_opened(struct wq_job *j, void *arg)
{
	struct sink	*sk = arg;
	struct sopen	*op = (struct sopen *)j, **pp;
	struct sconn	*c;
	struct sds	*d;

	for (pp = &sk->opening; *pp != NULL; pp = &(*pp)->next)
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	if (!op->ran) {		/* stopping: never started */
		sopen_free(op);
		return;
	}
	c = sconn_find(sk, op->conn);
	if (c != NULL && (c->state != SC_READY || stream_state(c->s) == ST_CLOSING))
		c = NULL;
	d = sds_find(sk, op->rec.id);
	if (d != NULL) {
		/* Another OPEN of it came back first: this one is a replay. */
		if (op->pfd >= 0)
			close(op->pfd);
		if (c != NULL)
			open_again(c, d, op->nfiles, op->rec.bytes, op->rec.chunk_size);
		sopen_free(op);
		return;
	}
	if (op->rc != SL_OK) {
		if (op->rec.state == SDS_FAILED)
			log_info("dataset", "dataset=%016llx name=%s state=receiving->failed "
			    "reason=%s", (unsigned long long)op->rec.id, log_q(op->rec.name),
			    log_q(op->err));
		if (c != NULL)
			sconn_error(c, op->err_dsid, op->rc, "%s", op->err);
		else
			log_warnx("sink", "dataset=%016llx agent=%s OPEN failed, its "
			    "connection is gone: %s", (unsigned long long)op->rec.id,
			    log_q(op->agent), log_q(op->err));
		if (op->pfd >= 0)
			close(op->pfd);
		sopen_free(op);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		if (op->pfd >= 0)
			close(op->pfd);
		if (c != NULL)
			sconn_error(c, 0, SL_ENOMEM, "out of memory");
		sopen_free(op);
		return;
	}
	d->rec = op->rec;
	op->rec.meta = NULL;	/* d owns them now */
	op->rec.nmeta = 0;
	d->files = op->files;
	op->files = NULL;
	d->nfiles = op->nfiles;
	d->held = op->held;
	op->held = NULL;
	d->pfd = op->pfd;
	if (sds_made_init(d) != SL_OK) {
		if (c != NULL)
			sconn_error(c, 0, SL_ENOMEM, "out of memory");
		sds_free(d);	/* and what it took from op, pfd too */
		sopen_free(op);
		return;
	}
	d->cost = op->cost;
	d->touched = sl_time_wall();	/* partial_ttl */
	if (op->published_now) {
		log_info("dataset", "dataset=%016llx name=%s state=receiving->published",
		    (unsigned long long)d->rec.id, log_q(d->rec.name));
		d->rec.state = SDS_PUBLISHED;
	}
	/* Follow it with the re-read if we will see every chunk arrive
	 * (verify.h). */
	if (d->rec.state == SDS_RECEIVING && d->rec.chunks_acked == 0)
		d->vd = verifier_track(sk->ver, d->pfd, &d->rec, d->files, d->nfiles,
		    vh_flags(sk) | (sk->sw != NULL && !sk->cfg->reread ? VH_MEM : 0) |
		    (!sk->cfg->reread ? VH_LOOP : 0));
	d->next = sk->dsets;
	sk->dsets = d;
	log_info("sink", "dataset=%016llx name=%s dir=%s agent=%s state=%s files=%u "
	    "bytes=%llu held=%llu/%llu", (unsigned long long)d->rec.id, log_q(d->rec.name),
	    log_q(d->rec.dest[0] ? d->rec.dest : "."),
	    log_q(op->agent), sds_state_name(d->rec.state), d->nfiles,
	    (unsigned long long)d->rec.bytes, (unsigned long long)d->rec.chunks_acked,
	    (unsigned long long)d->rec.nchunks);
	if (op->abandon != NULL)
		abandon(sk, d, op->abandon);
	else if (c != NULL)
		send_have(c, d);
	else
		slim_agent_gone(sk, d->rec.src, NULL);	/* nobody to write it */
	sopen_free(op);
}

int
sds_push(struct sink *sk, struct sds *d, uint32_t file, uint32_t chunk,
    uint32_t len, uint64_t hash, int fd, int owns_fd, int cached, int keep,
    uint64_t conn)
{
	struct gc_ent e = { d, d->rec.id, file, chunk, len, hash, fd, owns_fd, conn,
	    !sds_made(d, file), cached, keep };

	return gcommit_push(sk->gc, &e);
}

void
sds_durable(struct sink *sk, struct sds *d, uint32_t file, uint32_t chunk,
    uint32_t len, uint64_t hash)
{
	uint64_t g = d->files[file].first_chunk + chunk;

	if (!(d->held[g / 8] & (1u << (g % 8)))) {
		d->held[g / 8] |= (uint8_t)(1u << (g % 8));
		d->rec.chunks_acked++;
		d->rec.bytes_acked += len;
		d->made[file / 8] |= (uint8_t)(1u << (file % 8));
		if (d->vd)
			verifier_durable(sk->ver, d->vd, file, chunk, hash);
	}
}

/* Hand a verified chunk of an O_DIRECT file to a writer, without a
 * copy: the stream is held until sack_write_done. */
static void
write_async(struct sconn *c, struct sds *d, const struct wire_data *wd)
{
	struct sink		*sk = c->sk;
	struct sjob		*j;
	int			 fd;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		stream_close(c->s, "out of memory");
		return;
	}
	fd = sds_open_file(c, d, wd->file, 1);
	if (fd == -1) {
		free(j);
		return;
	}
	j->w.fd = fd;
	j->w.p = wd->bytes;
	j->w.len = wd->len;
	j->w.off = (off_t)wd->chunk * d->rec.chunk_size;
	j->w.vd = d->vd;
	j->w.file = wd->file;
	j->w.chunk = wd->chunk;
	j->w.hash = wd->xxh3;
	j->dsid = wd->dsid;
	j->conn = c->serial;
	j->s = c->s;
	d->nwriting++;
	stream_hold(c->s);
	swrite_queue(sk->sw, &j->w);
}

void
sds_data(struct sconn *c, const struct wire_data *wd)
{
	struct sink		*sk = c->sk;
	struct wire_nack	 nk;
	struct wbuf		 b;
	struct sds		*d;
	const struct file_rec	*f;
	uint64_t		 g;
	int			 fd, newfd = 0, cached, keep;

	d = sds_find(sk, wd->dsid);
	if (d != NULL && !sds_owned(c, &d->rec, "DATA")) {
		sconn_error(c, 0, SL_EAUTH, "DATA for dataset %016llx, which is not "
		    "agent %s's", (unsigned long long)wd->dsid, c->agent);
		return;
	}
	if (d != NULL && d->rec.state == SDS_FAILED) {
		/* Abandoned by the agent; these were already on the wire. */
		log_debug("sink", "dataset=%016llx DATA after abandon, dropped",
		    (unsigned long long)wd->dsid);
		return;
	}
	if (d == NULL || d->rec.state != SDS_RECEIVING || d->pfd < 0) {
		sconn_error(c, 0, SL_EPROTO, "DATA for dataset %016llx that is not open",
		    (unsigned long long)wd->dsid);
		return;
	}
	if (wd->file >= d->nfiles || wd->chunk >= d->files[wd->file].nchunks ||
	    wd->len != wire_chunk_len(d->files[wd->file].size, d->rec.chunk_size, wd->chunk)) {
		sconn_error(c, 0, SL_EPROTO, "DATA file=%u chunk=%u len=%u does not match "
		    "the manifest", wd->file, wd->chunk, wd->len);
		return;
	}
	f = &d->files[wd->file];
	g = f->first_chunk + wd->chunk;
	d->recv_d++;
	d->touched = sl_time_wall();
	if (XXH3_64bits(wd->bytes, wd->len) != wd->xxh3) {
		d->nack_d++;
		verifier_giveup(sk->ver, d->vd, wd->file, "a chunk was refused and "
		    "comes again out of order");
		log_warnx("sink", "dataset=%016llx file=%s chunk=%u checksum mismatch, "
		    "nacked", (unsigned long long)d->rec.id, log_q(f->path), wd->chunk);
		nk.dsid = wd->dsid;
		nk.file = wd->file;
		nk.chunk = wd->chunk;
		nk.code = (uint16_t)-SL_ECORRUPT;
		nk.reason = wire_str_c("checksum mismatch");
		wbuf_init(&b, 0);
		if (wire_nack_encode(&b, &nk) == SL_OK)
			sconn_send(c, &b);
		wbuf_free(&b);
		return;
	}
	if (d->held[g / 8] & (1u << (g % 8))) {
		d->dup_d++;	/* already durable: ack again, write nothing */
		if (sconn_ack(c, wd->dsid, wd->file, wd->chunk) != SL_OK)
			stream_close(c->s, "out of memory");
		return;
	}
	if (FSX_DIO_FILE(sk->dio, f->size) && sk->sw != NULL) {
		write_async(c, d, wd);
		return;
	}
	if (FSX_DIO_FILE(sk->dio, f->size) && wd->len > sk->bounce_len) {
		free(sk->bounce);
		sk->bounce_len = 0;
		if ((sk->bounce = fsx_dio_alloc(d->rec.chunk_size)) == NULL) {
			stream_close(c->s, "out of memory");
			return;
		}
		sk->bounce_len = d->rec.chunk_size;
	}
	fd = gcommit_fd(sk->gc, d, wd->file);
	if (fd == -1) {
		fd = sds_open_file(c, d, wd->file, FSX_DIO_FILE(sk->dio, f->size));
		if (fd == -1)
			return;
		newfd = 1;
	}
	cached = !FSX_DIO_FILE(sk->dio, f->size);	/* opened without O_DIRECT */
	if ((cached ? fsx_pwrite_cached(fd, wd->bytes, wd->len,
	    (off_t)wd->chunk * d->rec.chunk_size) : fsx_pwrite_all(fd, wd->bytes,
	    wd->len, (off_t)wd->chunk * d->rec.chunk_size,
	    sk->dio ? sk->bounce : NULL)) == -1) {
		int e = errno;
		if (newfd)
			close(fd);
		sconn_io_error(c, wd->dsid, "write", f->path, e);
		return;
	}
	/* A large file through the page cache (direct_io off): start
	 * writeback now (it does not wait), so that the group commit's
	 * fdatasync finds little left and dirty pages do not pile up until
	 * the kernel throttles us.  Small files are left to the group
	 * commit's one syncfs, which submits them together. */
	if (f->size >= FSX_DIO_MIN_FILE)
		(void)sync_file_range(fd, (off_t)wd->chunk * d->rec.chunk_size, wd->len,
		    SYNC_FILE_RANGE_WRITE);
	/* A small file is hashed from the bytes just written (verify.h),
	 * and its fd kept to publication (sds_keep_fd). */
	verifier_written(sk->ver, d->vd, wd->file, wd->chunk, wd->bytes, wd->len,
	    wd->xxh3);
	keep = newfd && cached && f->nchunks == 1 && d->vd != NULL &&
	    sk->nkept < sk->kept_max;
	sk->nkept += (uint32_t)keep;
	if (sds_push(sk, d, wd->file, wd->chunk, wd->len, wd->xxh3, fd, newfd, cached,
	    keep, c->serial) != SL_OK) {
		if (newfd)
			close(fd);
		sk->nkept -= (uint32_t)keep;
		stream_close(c->s, "out of memory");
	}
}

void
sds_commit(struct sconn *c, const struct wire_commit *wc)
{
	struct sink		*sk = c->sk;
	struct wire_committed	 cm;
	struct wbuf		 b;
	struct sds		*d;
	const struct vsum	*pre;
	char			 err[SL_MAX_MSG], path[SL_MAX_PATH + 1];
	int			 rc, nsfd;

	d = sds_find(sk, wc->dsid);
	if (d == NULL) {
		sconn_error(c, 0, SL_EPROTO, "COMMIT for dataset %016llx that is not open",
		    (unsigned long long)wc->dsid);
		return;
	}
	sds_path(&d->rec, path, sizeof(path));
	if (!sds_owned(c, &d->rec, "COMMIT")) {
		sconn_error(c, wc->dsid, SL_EAUTH, "dataset %016llx is not agent %s's",
		    (unsigned long long)wc->dsid, c->agent);
		return;
	}
	if (wc->nfiles != d->nfiles) {
		sconn_error(c, 0, SL_EPROTO, "COMMIT has %u digests for %u files",
		    wc->nfiles, d->nfiles);
		return;
	}
	if (d->rec.state == SDS_RECEIVING && d->pfd < 0) {
		sconn_error(c, 0, SL_EPROTO, "COMMIT for dataset %016llx before its OPEN "
		    "in this session", (unsigned long long)wc->dsid);
		return;
	}
	if (d->rec.state == SDS_RECEIVING) {
		sds_flush_counts(sk, d);
		if (d->rec.chunks_acked != d->rec.nchunks) {
			sconn_error(c, wc->dsid, SL_EPROTO, "COMMIT with %llu of %llu chunks "
			    "held", (unsigned long long)d->rec.chunks_acked,
			    (unsigned long long)d->rec.nchunks);
			return;
		}
		pre = NULL;
		if (d->vd)
			pre = verifier_finish(sk->ver, d->vd, NULL, 0);	/* logged */
		nsfd = ns_open(sk, &d->rec, 0);
		if (nsfd == -1) {
			snprintf(err, sizeof(err), "open %s: %s", d->rec.dest, strerror(errno));
			rc = SL_EIO;
		} else
			rc = publish_commit(sk->j, nsfd, d->pfd, vh_flags(sk), &d->rec,
			    d->files, d->nfiles, wc->digests, pre, d->kfd,
			    (unsigned)sk->cfg->file_mode, (unsigned)sk->cfg->dir_mode,
			    err, sizeof(err));
		ns_close(sk, nsfd);
		/* Done with it either way; a COMMIT again re-reads in full. */
		sds_drop_vd(sk, d);
		if (rc != SL_OK) {
			if (rc == SL_ECORRUPT || rc == SL_EEXIST || rc == SL_EPATH) {
				sds_fail(sk, d, err);
				/* Fatal for the dataset: do not let the agent retry. */
				sconn_error(c, wc->dsid, SL_EPROTO, "publish failed: %s", err);
			} else
				sconn_error(c, wc->dsid, rc, "publish failed: %s", err);
			return;
		}
		close(d->pfd);
		d->pfd = -1;
		sds_set_state(sk, d, SDS_PUBLISHED, NULL, path);
	} else if (d->rec.state != SDS_PUBLISHED) {
		sconn_error(c, wc->dsid, SL_EPROTO, "COMMIT for a failed dataset");
		return;
	}
	cm.dsid = wc->dsid;
	cm.path = wire_str_c(path);
	wbuf_init(&b, 0);
	if (wire_committed_encode(&b, &cm) == SL_OK)
		sconn_send(c, &b);
	wbuf_free(&b);
}

/* The agent abandons the dataset (source changed, cancelled): discard
 * its partial copy so that it neither lingers nor can ever be published,
 * and release its name.  Only its owner may; a dataset not opened since
 * a restart is found in the journal. */
void
sds_abandon(struct sconn *c, uint64_t dsid, const struct wire_str *msg)
{
	struct sink	*sk = c->sk;
	struct sds	*d, tmp;
	struct sopen	*op;
	char		 reason[SL_MAX_MSG + 64];

	snprintf(reason, sizeof(reason), "abandoned by the agent: %.*s",
	    (int)msg->len, msg->p);
	d = sds_find(sk, dsid);
	if (d == NULL) {
		/* Still at the opener?  Then once it is back. */
		for (op = sk->opening; op; op = op->next)
			if (op->rec.id == dsid) {
				if (!sds_owned(c, &op->rec, "ERROR (abandon)")) {
					sconn_error(c, dsid, SL_EAUTH, "dataset %016llx is "
					    "not agent %s's", (unsigned long long)dsid,
					    c->agent);
					return;
				}
				if (op->abandon == NULL)
					op->abandon = strdup(reason);
				return;
			}
		memset(&tmp, 0, sizeof(tmp));
		tmp.pfd = -1;
		if (journal_ds_get(sk->j, dsid, &tmp.rec) != SL_OK)
			return;
		d = &tmp;
	}
	if (!sds_owned(c, &d->rec, "ERROR (abandon)"))
		sconn_error(c, dsid, SL_EAUTH, "dataset %016llx is not agent %s's",
		    (unsigned long long)dsid, c->agent);
	else
		abandon(sk, d, reason);
	if (d == &tmp)
		ds_rec_free(&tmp.rec);
}

/* Discard d's partial copy and release its name (kept if the copy
 * cannot be removed). */
static void
abandon(struct sink *sk, struct sds *d, const char *reason)
{
	char	pname[SL_MAX_NAME + 16];
	int	nsfd, rc;

	if (d->rec.state != SDS_RECEIVING)
		return;
	sds_drop_vd(sk, d);
	if (d->pfd >= 0) {
		close(d->pfd);
		d->pfd = -1;
	}
	publish_partial_name(pname, sizeof(pname), d->rec.name);
	nsfd = ns_open(sk, &d->rec, 0);
	rc = nsfd == -1 ? -1 : fsx_rmtree_at(nsfd, pname);
	if (rc == -1 && errno != ENOENT) {
		log_warn("sink", "dataset=%016llx remove %s", (unsigned long long)d->rec.id,
		    log_q(pname));
		sds_state_to(sk, d, SDS_FAILED, reason, NULL, 0);	/* name kept */
	} else {
		log_info("sink", "dataset=%016llx removed %s", (unsigned long long)d->rec.id,
		    log_q(pname));
		sds_state_to(sk, d, SDS_FAILED, reason, NULL, 1);
	}
	ns_close(sk, nsfd);
}
