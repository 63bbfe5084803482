/*
 * sink_ack.c: from written to durable to acknowledged, the loop's side of
 * the writer threads (swrite.h) and of the group commit (gcommit.h).
 *
 * A chunk a writer has written joins the open batch here.  Once per loop
 * pass (ev_prepare, i.e. after every ready socket has been read), the
 * batch goes to the committer: fdatasync (or one syncfs) of the touched
 * files, one LMDB txn recording the chunks, and only then, back on the
 * loop, the ACK frames go out.  An ACK is a promise that the chunk
 * survives a crash.  ACKs of chunks already durable (duplicates) go out
 * at the same pass, without waiting for a batch.
 *
 * Everything here runs through callbacks that role_sink.c registers at
 * start; it calls the dataset state machine and the connections below.
 */
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "sink_int.h"
#include "sltime.h"
#include "verify.h"

/* Seconds a chunk may wait for the ones before it to be hashed from
 * memory before its file is left to the re-read at COMMIT (verify.h). */
#define PARK_MAX	5.0

/* A writer is done with a chunk: into the group commit, stream released. */
void
sack_write_done(struct swjob *w, void *arg)
{
	struct sink	*sk = arg;
	struct sjob	*j = (struct sjob *)w;
	struct sds	*d = sds_find(sk, j->dsid);
	struct sconn	*c = sconn_find(sk, j->conn);

	if (d != NULL && d->nwriting > 0)
		d->nwriting--;
	if (w->err != 0) {
		close(w->fd);
		if (c != NULL && stream_state(c->s) == ST_OPEN)
			sconn_io_error(c, j->dsid, "write", d != NULL ?
			    d->files[w->file].path : "?", w->err);
	} else if (d == NULL || d->rec.state != SDS_RECEIVING)
		close(w->fd);		/* published or abandoned meanwhile */
	else if (sds_push(sk, d, w->file, w->chunk, w->len, w->hash, w->fd, 1, 0, 0,
	    j->conn) != SL_OK) {
		close(w->fd);
		if (c != NULL)
			stream_close(c->s, "out of memory");
	}
	stream_release(j->s);
	free(j);
	sds_have_check(sk);	/* a HAVE may have waited for this chunk */
}

void
sack_expire_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct sink *sk = t->data;

	(void)loop; (void)revents;
	/* Chunks wait for the ones before them for a few ms normally; this
	 * long only behind a resend queued after them on the same stream. */
	(void)verifier_expire(sk->ver, sl_time_mono() - PARK_MAX);
}

/* A batch is durable (or failed): record it and send the promises. */
void
sack_commit_done(const struct gc_ent *ents, uint32_t n, int rc, void *arg)
{
	struct sink	*sk = arg;
	struct sconn	*c = NULL;
	struct sds	*d;
	uint32_t	 i;

	for (i = 0; i < n; i++) {
		const struct gc_ent *e = &ents[i];

		if (c == NULL || c->serial != e->conn)
			c = sconn_find(sk, e->conn);
		if (e->keep)
			sds_keep_fd(sk, e->ds, e->file, e->fd, rc == SL_OK);
		if (rc != SL_OK) {
			/* Not durable, so no promise: the agent resends. */
			if (c && stream_state(c->s) != ST_CLOSING)
				stream_close(c->s, "group commit failed");
			continue;
		}
		sds_durable(sk, e->ds, e->file, e->chunk, e->len, e->hash);
		if (c && sconn_ack(c, e->dsid, e->file, e->chunk) != SL_OK)
			stream_close(c->s, "out of memory");
	}
	if (rc == SL_OK)
		verifier_kick(sk->ver);
	/* Counters are for people: journal them once a second, not with an
	 * fsync per batch on the loop thread (COMMIT and stop flush too). */
	if (sl_time_mono() - sk->counts_at >= 1.0) {
		sk->counts_at = sl_time_mono();
		for (d = sk->dsets; d; d = d->next)
			sds_flush_counts(sk, d);
	}
	for (c = sk->conns; c; c = c->next)
		if (c->nacks && stream_state(c->s) != ST_CLOSING)
			sconn_send_acks(c);
	sds_have_check(sk);
}

/* Once per loop pass, after every ready socket was read. */
void
sack_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct sink	*sk = w->data;
	struct sconn	*c;

	(void)loop; (void)revents;
	for (c = sk->conns; c; c = c->next)
		if (c->nacks)	/* duplicates: already durable, ack at once */
			sconn_send_acks(c);
	gcommit_flush(sk->gc);
}
