/*
 * role_sink.c: the receiving side.
 *
 * Each accepted connection is a struct sconn: TLS handshake (stream.c),
 * then CHALLENGE -> HELLO (HMAC-checked when TLS is off) -> WELCOME, then
 * OPEN / DATA / COMMIT frames from the agent.
 *
 * DATA is verified (XXH3-64 over the bytes, against the manifest's file,
 * offset and length) before it touches the disk; a mismatch is NACKed
 * and nothing is written.  A verified chunk is pwritten at its offset
 * into the partial tree and joins the current *batch*.  Once per loop
 * pass (ev_prepare, i.e. after every ready socket has been read), the
 * batch is group-committed: fdatasync (or one syncfs) of the touched
 * files, one LMDB txn recording the chunks, and only then the ACK frames
 * go out.  An ACK is a promise that the chunk survives a crash.
 *
 * COMMIT re-reads and verifies the whole dataset (sink_publish.c) and
 * renames it into place; COMMITTED tells the agent.  Every frame is
 * idempotent: OPEN of a known dataset answers HAVE from the journal, a
 * DATA for a held chunk is acked again without a write, COMMIT of a
 * published dataset answers COMMITTED.
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

#include "conn.h"
#include "digest.h"
#include "fsx.h"
#include "gcommit.h"
#include "log.h"
#include "net.h"
#include "publish.h"
#include "mreg.h"
#include "roles.h"
#include "stream.h"
#include "swrite.h"
#include "verify.h"
#include "sltime.h"

enum sc_state { SC_HANDSHAKE, SC_CHALLENGED, SC_READY, SC_CLOSING };

/* Seconds a chunk may wait for the ones before it to be hashed from
 * memory before its file is left to the re-read at COMMIT (verify.h). */
#define PARK_MAX	5.0

struct sds {
	struct sds	*next;
	struct ds_rec	 rec;		/* meta not kept */
	struct file_rec	*files;
	uint32_t	 nfiles;
	uint8_t		*held;		/* bitmap, global chunk order */
	int		 pfd;		/* partial directory, -1 when published */
	struct vds	*vd;		/* digests following the transfer, or NULL */
	uint32_t	 nwriting;	/* chunks at the writers (swrite.h) */
	uint64_t	 recv_d, dup_d, nack_d;	/* counters not yet journaled */
};

/* A chunk on its way through a writer thread (swrite.h); its stream is
 * held until it comes back. */
struct sjob {
	struct swjob	 w;		/* first: done() gets &w */
	uint64_t	 dsid, conn;	/* looked up again: either may be gone */
	struct stream	*s;		/* held, so still allocated */
};

struct pending_ack {
	uint64_t	dsid;
	uint32_t	file, chunk;
};

struct sconn {
	struct sconn		*next, **prevp;
	struct sink		*sk;
	uint64_t		 serial;	/* names it in a batch that outlives it */
	struct stream		*s;
	int			 state;
	uint8_t			 nonce[WIRE_NONCE_LEN];
	char			 agent[SL_MAX_ID + 1];
	uint32_t		 stream_idx, nstreams;	/* from HELLO */
	uint64_t		 have_wait;	/* dsid whose HAVE waits for a commit */
	char			 label[96];
	struct pending_ack	*acks;
	uint32_t		 nacks, aacks;
};

struct sink {
	struct ev_loop		*loop;
	const struct config	*cfg;
	struct journal		*j;
	struct tls_ctx		*tls;
	struct net_addr		 addr;
	int			 lfd;
	ev_io			 accept_io;
	ev_timer		 accept_pause;
	ev_prepare		 commit;
	int			 rootfd;
	int			 dio;		/* open chunk files O_DIRECT */
	struct verifier		*ver;
	struct swriter		*sw;		/* O_DIRECT writers, NULL = on the loop */
	struct stream_pool	*pool;		/* TLS bulk reads, NULL = on the loop */
	ev_timer		 expire;	/* gives up parked chunks (verify.h) */
	double			 counts_at;	/* counters last journaled, monotonic */
	uint8_t			*bounce;	/* aligned copy of an unaligned chunk */
	uint32_t		 bounce_len;
	struct sconn		*conns;
	int			 nconns;
	struct sds		*dsets;
	uint64_t		 serials;
	struct gcommit		*gc;		/* fsync + LMDB txn off the loop */
};

static const char *
sc_state_name(int s)
{
	switch (s) {
	case SC_HANDSHAKE:	return "handshake";
	case SC_CHALLENGED:	return "challenged";
	case SC_READY:		return "ready";
	case SC_CLOSING:	return "closing";
	}
	return "unknown";
}

static void
sc_enter(struct sconn *c, int state)
{
	log_debug("sink", "conn=%s state=%s->%s", c->label, sc_state_name(c->state),
	    sc_state_name(state));
	c->state = state;
}

static void
send_wbuf(struct sconn *c, struct wbuf *b)
{
	if (stream_send_wbuf(c->s, b) != SL_OK)
		stream_close(c->s, "cannot queue a frame");
}

/* Send ERROR; a session error (dsid 0) also closes once it is written. */
static void
send_error(struct sconn *c, uint64_t dsid, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void
send_error(struct sconn *c, uint64_t dsid, int code, const char *fmt, ...)
{
	struct wire_error	e;
	struct wbuf		b;
	char			msg[SL_MAX_MSG];
	va_list			ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("sink", "conn=%s agent=%s dataset=%016llx error=%s msg=%s", c->label,
	    log_q(c->agent), (unsigned long long)dsid, sl_strerror(code), log_q(msg));
	e.dsid = dsid;
	e.code = (uint16_t)-code;
	e.message = wire_str_c(msg);
	wbuf_init(&b, 0);
	if (wire_error_encode(&b, &e) == SL_OK)
		send_wbuf(c, &b);
	wbuf_free(&b);
	if (dsid == 0) {
		sc_enter(c, SC_CLOSING);
		stream_set_idle(c->s, 5);	/* close after drain, or soon */
	}
}

/* ---- datasets ------------------------------------------------------------ */

/* How every dataset's digests are made (verify.h). */
static unsigned
vh_flags(const struct sink *sk)
{
	return (sk->dio ? VH_DIO : 0) | (sk->cfg->sha256 ? VH_SHA256 : 0);
}

static struct sds *
sds_find(struct sink *sk, uint64_t id)
{
	struct sds *d;

	for (d = sk->dsets; d; d = d->next)
		if (d->rec.id == id)
			return d;
	return NULL;
}

static void
sds_free(struct sds *d)
{
	if (d->pfd >= 0)
		close(d->pfd);
	ds_rec_free(&d->rec);
	free(d->files);
	free(d->held);
	free(d);
}

static void
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

static void
sds_set_state(struct sink *sk, struct sds *d, int state, const char *reason,
    const char *published)
{
	int rc = journal_ds_set_state(sk->j, d->rec.id, state, reason, published);

	if (rc != SL_OK)
		log_err("journal", "dataset=%016llx cannot record %s: %s",
		    (unsigned long long)d->rec.id, sds_state_name(state), sl_strerror(rc));
	log_info("dataset", "dataset=%016llx name=%s state=%s->%s%s%s",
	    (unsigned long long)d->rec.id, log_q(d->rec.name),
	    sds_state_name(d->rec.state), sds_state_name(state),
	    reason ? " reason=" : "", reason ? log_q(reason) : "");
	d->rec.state = state;
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
		send_wbuf(c, &b);
	else
		stream_close(c->s, "cannot encode HAVE");
	wbuf_free(&b);
	free(ones);
}

/* HAVEs that waited for chunks on their way to the disk (on_open). */
static void
have_check(struct sink *sk)
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

static int
cmp_pathp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A manifest may not name a path twice, nor use a file as a directory
 * ("a" and "a/b"): either would make two entries share bytes on disk.
 * Returns the offending path or NULL. */
static const char *
manifest_conflict(const struct file_rec *files, uint32_t n)
{
	const char	**v, *bad = NULL;
	char		 pre[SL_MAX_PATH + 1];
	uint32_t	 i;
	char		*sl;

	if (n < 2)
		return NULL;
	v = malloc(n * sizeof(*v));
	if (v == NULL)
		return "(out of memory)";
	for (i = 0; i < n; i++)
		v[i] = files[i].path;
	qsort(v, n, sizeof(*v), cmp_pathp);
	for (i = 0; i < n && bad == NULL; i++) {
		/* v[] holds files[i].path, arrays: never NULL (the analyzer
		 * loses that through qsort). */
		if (i > 0 && strcmp(v[i - 1], v[i]) == 0) { // NOLINT(clang-analyzer-core.NonNullParamChecker)
			bad = v[i];
			break;
		}
		snprintf(pre, sizeof(pre), "%s", v[i]);
		while ((sl = strrchr(pre, '/')) != NULL) {
			const char *key = pre;
			*sl = '\0';
			if (bsearch(&key, v, n, sizeof(*v), cmp_pathp)) {
				bad = v[i];
				break;
			}
		}
	}
	free(v);
	return bad;
}

static void
on_open(struct sconn *c, const uint8_t *p, uint32_t len)
{
	struct sink		*sk = c->sk;
	struct wire_open	 o;
	struct ds_rec		 rec, existing;
	struct file_rec		*files = NULL;
	struct sds		*d, *other;
	struct timespec		 ts;
	char			 err[SL_MAX_MSG];
	const char		*bad;
	char			*pp;
	size_t			 plen;
	uint64_t		 g = 0;
	uint32_t		 i;
	int			 rc, pub;

	memset(&o, 0, sizeof(o));
	memset(&rec, 0, sizeof(rec));
	rc = wire_open_decode(p, len, &o);
	if (rc != SL_OK) {
		send_error(c, 0, rc, "malformed OPEN: %s", sl_strerror(rc));
		return;
	}
	d = sds_find(sk, o.dsid);
	if (d != NULL) {
		/* A replay within this process' life: the same manifest? */
		if (d->nfiles != o.nfiles || d->rec.bytes != o.total_bytes ||
		    d->rec.chunk_size != o.chunk_size) {
			send_error(c, o.dsid, SL_EINVAL, "dataset id reused with a "
			    "different manifest");
			goto out;
		}
		/* Chunks of the agent's previous session that wait, parked,
		 * for ones lost with it would hold this HAVE until they expire:
		 * give their files up to the re-read at COMMIT now. */
		verifier_giveup(sk->ver, d->vd, UINT32_MAX, "a new session "
		    "reopened the dataset with chunks of it waiting for lost ones");
		if (sds_pending(sk, d))
			c->have_wait = d->rec.id;	/* have_check answers */
		else
			send_have(c, d);
		goto out;
	}

	rec.id = o.dsid;
	rec.state = SDS_RECEIVING;
	clock_gettime(CLOCK_REALTIME, &ts);
	rec.created_ns = rec.updated_ns = (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
	rec.chunk_size = o.chunk_size;
	rec.nfiles = o.nfiles;
	rec.bytes = o.total_bytes;
	wire_str_copy(rec.name, sizeof(rec.name), o.name);
	snprintf(rec.src, sizeof(rec.src), "%s", c->agent);
	/* One block: the records, then their paths (as journal_files_load). */
	for (i = 0, plen = 0; i < o.nfiles; i++)
		plen += (size_t)o.files[i].path.len + 1;
	files = calloc(1, (o.nfiles ? o.nfiles : 1) * sizeof(*files) + plen);
	if (files == NULL) {
		send_error(c, 0, SL_ENOMEM, "out of memory");
		goto out;
	}
	pp = (char *)(files + (o.nfiles ? o.nfiles : 1));
	for (i = 0; i < o.nfiles; i++) {
		files[i].idx = i;
		files[i].size = o.files[i].size;
		files[i].mode = o.files[i].mode & 07777;
		files[i].nchunks = wire_nchunks(o.files[i].size, o.chunk_size);
		files[i].first_chunk = g;
		g += files[i].nchunks;
		files[i].path = pp;
		memcpy(pp, o.files[i].path.p, o.files[i].path.len);
		pp[o.files[i].path.len] = '\0';
		pp += o.files[i].path.len + 1;
	}
	rec.nchunks = g;
	if ((bad = manifest_conflict(files, o.nfiles)) != NULL) {
		send_error(c, o.dsid, SL_EPATH, "manifest names \"%s\" twice or uses "
		    "a file as a directory", bad);
		goto out;
	}

	if (o.nmeta > 0) {
		rec.meta = calloc(o.nmeta, sizeof(*rec.meta));
		if (rec.meta == NULL) {
			send_error(c, 0, SL_ENOMEM, "out of memory");
			goto out;
		}
		rec.nmeta = o.nmeta;
		for (i = 0; i < o.nmeta; i++) {
			wire_str_copy(rec.meta[i][0], sizeof(rec.meta[i][0]), o.meta[i].key);
			wire_str_copy(rec.meta[i][1], sizeof(rec.meta[i][1]), o.meta[i].val);
		}
	}

	memset(&existing, 0, sizeof(existing));
	rc = journal_sink_ds_create(sk->j, &rec, files, o.nfiles, &existing);
	if (rc == SL_EEXIST) {
		rec.state = existing.state;
		rec.chunks_acked = existing.chunks_acked;
		rec.bytes_acked = existing.bytes_acked;
		rec.created_ns = existing.created_ns;
		rec.nmeta = existing.nmeta;	/* keep the journal's copy */
		rec.meta = existing.meta;
		existing.meta = NULL;
		existing.nmeta = 0;
		ds_rec_free(&existing);
	} else if (rc == SL_OK) {
		/* New: its name must be free at the sink. */
		pub = publish_is_published(sk->rootfd, &rec);
		for (other = sk->dsets; other; other = other->next)
			if (strcmp(other->rec.name, rec.name) == 0 &&
			    other->rec.state == SDS_RECEIVING)
				pub = SL_EEXIST;
		if (pub != 0) {
			journal_ds_set_state(sk->j, rec.id, SDS_FAILED,
			    "name already taken at the sink", NULL);
			send_error(c, o.dsid, SL_EEXIST, "dataset name \"%s\" already "
			    "exists at the sink", rec.name);
			goto out;
		}
	} else {
		send_error(c, o.dsid, rc, "dataset %016llx: %s",
		    (unsigned long long)o.dsid, rc == SL_EINVAL ?
		    "id reused with a different manifest" : sl_strerror(rc));
		goto out;
	}
	if (rec.state == SDS_FAILED) {
		send_error(c, o.dsid, SL_ESTATE, "dataset failed at the sink earlier; "
		    "see sluice status on the sink");
		goto out;
	}

	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		send_error(c, 0, SL_ENOMEM, "out of memory");
		goto out;
	}
	d->rec = rec;
	rec.meta = NULL;	/* d owns it now */
	rec.nmeta = 0;
	d->files = files;
	files = NULL;
	d->nfiles = o.nfiles;
	d->pfd = -1;
	d->held = calloc((size_t)((rec.nchunks + 7) / 8) + 1, 1);
	if (d->held == NULL) {
		sds_free(d);
		send_error(c, 0, SL_ENOMEM, "out of memory");
		goto out;
	}
	if (d->rec.state == SDS_RECEIVING) {
		/* Crashed between rename and journal? Then it is published. */
		pub = publish_is_published(sk->rootfd, &d->rec);
		if (pub == 1) {
			sds_set_state(sk, d, SDS_PUBLISHED, NULL, d->rec.name);
		} else {
			rc = publish_prepare(sk->rootfd, &d->rec, d->files, d->nfiles,
			    err, sizeof(err));
			if (rc < 0) {
				if (!sl_err_retryable(rc))
					sds_set_state(sk, d, SDS_FAILED, err, NULL);
				sds_free(d);
				send_error(c, o.dsid, rc, "%s", err);
				goto out;
			}
			d->pfd = rc;
			rc = journal_sink_have(sk->j, d->rec.id, d->files, d->nfiles,
			    d->held, d->rec.nchunks);
			if (rc != SL_OK) {
				sds_free(d);
				send_error(c, o.dsid, rc, "journal: %s", sl_strerror(rc));
				goto out;
			}
			/* Follow it with the re-read if we will see every
			 * chunk arrive (verify.h). */
			if (d->rec.chunks_acked == 0)
				d->vd = verifier_track(sk->ver, d->pfd, &d->rec,
				    d->files, d->nfiles, vh_flags(sk) |
				    (sk->sw != NULL && !sk->cfg->reread ? VH_MEM : 0));
		}
	}
	d->next = sk->dsets;
	sk->dsets = d;
	log_info("sink", "dataset=%016llx name=%s agent=%s state=%s files=%u bytes=%llu "
	    "held=%llu/%llu", (unsigned long long)d->rec.id, log_q(d->rec.name),
	    log_q(c->agent), sds_state_name(d->rec.state), d->nfiles,
	    (unsigned long long)d->rec.bytes, (unsigned long long)d->rec.chunks_acked,
	    (unsigned long long)d->rec.nchunks);
	send_have(c, d);
out:
	ds_rec_free(&rec);
	free(files);
	wire_open_free(&o);
}

static int
ack_push(struct sconn *c, uint64_t dsid, uint32_t file, uint32_t chunk)
{
	if (c->nacks == c->aacks) {
		uint32_t na = c->aacks ? c->aacks * 2 : 64;
		struct pending_ack *p = realloc(c->acks, na * sizeof(*p));
		if (p == NULL)
			return SL_ENOMEM;
		c->acks = p;
		c->aacks = na;
	}
	c->acks[c->nacks].dsid = dsid;
	c->acks[c->nacks].file = file;
	c->acks[c->nacks].chunk = chunk;
	c->nacks++;
	return SL_OK;
}

static int
batch_push(struct sink *sk, struct sds *d, uint32_t file, uint32_t chunk,
    uint32_t len, uint64_t hash, int fd, int owns_fd, uint64_t conn)
{
	struct gc_ent e = { d, d->rec.id, file, chunk, len, hash, fd, owns_fd, conn };

	return gcommit_push(sk->gc, &e);
}

/* Hand a verified chunk of an O_DIRECT file to a writer, without a
 * copy: the stream is held until write_done. */
static void
write_async(struct sconn *c, struct sds *d, const struct wire_data *wd)
{
	struct sink		*sk = c->sk;
	const struct file_rec	*f = &d->files[wd->file];
	struct sjob		*j;
	int			 fd;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		stream_close(c->s, "out of memory");
		return;
	}
	fd = fsx_open_dio(d->pfd, f->path, O_WRONLY, 1);
	if (fd == -1) {
		send_error(c, wd->dsid, errno == ENOSPC ? SL_ENOSPC : SL_EIO,
		    "open %s: %s", f->path, strerror(errno));
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

static struct sconn *conn_by_serial(struct sink *, uint64_t);
static void sink_metrics(void *, struct wbuf *);

/* A writer is done with a chunk: into the group commit, stream released. */
static void
write_done(struct swjob *w, void *arg)
{
	struct sink	*sk = arg;
	struct sjob	*j = (struct sjob *)w;
	struct sds	*d = sds_find(sk, j->dsid);
	struct sconn	*c = conn_by_serial(sk, j->conn);

	if (d != NULL && d->nwriting > 0)
		d->nwriting--;
	if (w->err != 0) {
		close(w->fd);
		if (c != NULL && stream_state(c->s) == ST_OPEN)
			send_error(c, j->dsid, w->err == ENOSPC || w->err == EDQUOT ?
			    SL_ENOSPC : SL_EIO, "write %s: %s", d != NULL ?
			    d->files[w->file].path : "?", strerror(w->err));
	} else if (d == NULL || d->rec.state != SDS_RECEIVING)
		close(w->fd);		/* published or abandoned meanwhile */
	else if (batch_push(sk, d, w->file, w->chunk, w->len, w->hash, w->fd, 1,
	    j->conn) != SL_OK) {
		close(w->fd);
		if (c != NULL)
			stream_close(c->s, "out of memory");
	}
	stream_release(j->s);
	free(j);
	have_check(sk);		/* a HAVE may have waited for this chunk */
}

static void
expire_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct sink *sk = t->data;

	(void)loop; (void)revents;
	/* Chunks wait for the ones before them for a few ms normally; this
	 * long only behind a resend queued after them on the same stream. */
	(void)verifier_expire(sk->ver, sl_time_mono() - PARK_MAX);
}

static void
on_data(struct sconn *c, const uint8_t *p, uint32_t len)
{
	struct sink		*sk = c->sk;
	struct wire_data	 wd;
	struct wire_nack	 nk;
	struct wbuf		 b;
	struct sds		*d;
	const struct file_rec	*f;
	uint64_t		 g;
	int			 rc, fd, newfd = 0;

	rc = wire_data_decode(p, len, &wd);
	if (rc != SL_OK) {
		send_error(c, 0, rc, "malformed DATA: %s", sl_strerror(rc));
		return;
	}
	d = sds_find(sk, wd.dsid);
	if (d != NULL && d->rec.state == SDS_FAILED) {
		/* Abandoned by the agent; these were already on the wire. */
		log_debug("sink", "dataset=%016llx DATA after abandon, dropped",
		    (unsigned long long)wd.dsid);
		return;
	}
	if (d == NULL || d->rec.state != SDS_RECEIVING) {
		send_error(c, 0, SL_EPROTO, "DATA for dataset %016llx that is not open",
		    (unsigned long long)wd.dsid);
		return;
	}
	if (wd.file >= d->nfiles || wd.chunk >= d->files[wd.file].nchunks ||
	    wd.len != wire_chunk_len(d->files[wd.file].size, d->rec.chunk_size, wd.chunk)) {
		send_error(c, 0, SL_EPROTO, "DATA file=%u chunk=%u len=%u does not match "
		    "the manifest", wd.file, wd.chunk, wd.len);
		return;
	}
	f = &d->files[wd.file];
	g = f->first_chunk + wd.chunk;
	d->recv_d++;
	if (XXH3_64bits(wd.bytes, wd.len) != wd.xxh3) {
		d->nack_d++;
		verifier_giveup(sk->ver, d->vd, wd.file, "a chunk was refused and "
		    "comes again out of order");
		log_warnx("sink", "dataset=%016llx file=%s chunk=%u checksum mismatch, "
		    "nacked", (unsigned long long)d->rec.id, log_q(f->path), wd.chunk);
		nk.dsid = wd.dsid;
		nk.file = wd.file;
		nk.chunk = wd.chunk;
		nk.code = (uint16_t)-SL_ECORRUPT;
		nk.reason = wire_str_c("checksum mismatch");
		wbuf_init(&b, 0);
		if (wire_nack_encode(&b, &nk) == SL_OK)
			send_wbuf(c, &b);
		wbuf_free(&b);
		return;
	}
	if (d->held[g / 8] & (1u << (g % 8))) {
		d->dup_d++;	/* already durable: ack again, write nothing */
		if (ack_push(c, wd.dsid, wd.file, wd.chunk) != SL_OK)
			stream_close(c->s, "out of memory");
		return;
	}
	if (FSX_DIO_FILE(sk->dio, f->size) && sk->sw != NULL) {
		write_async(c, d, &wd);
		return;
	}
	if (FSX_DIO_FILE(sk->dio, f->size) && wd.len > sk->bounce_len) {
		free(sk->bounce);
		sk->bounce_len = 0;
		if ((sk->bounce = fsx_dio_alloc(d->rec.chunk_size)) == NULL) {
			stream_close(c->s, "out of memory");
			return;
		}
		sk->bounce_len = d->rec.chunk_size;
	}
	fd = gcommit_fd(sk->gc, d, wd.file);
	if (fd == -1) {
		fd = fsx_open_dio(d->pfd, f->path, O_WRONLY,
		    FSX_DIO_FILE(sk->dio, f->size));
		if (fd == -1) {
			send_error(c, wd.dsid, errno == ENOSPC ? SL_ENOSPC : SL_EIO,
			    "open %s: %s", f->path, strerror(errno));
			return;
		}
		newfd = 1;
	}
	if (fsx_pwrite_all(fd, wd.bytes, wd.len, (off_t)wd.chunk * d->rec.chunk_size,
	    sk->dio ? sk->bounce : NULL) == -1) {
		int e = errno;
		if (newfd)
			close(fd);
		send_error(c, wd.dsid, e == ENOSPC || e == EDQUOT ? SL_ENOSPC :
		    SL_EIO, "write %s: %s", f->path, strerror(e));
		return;
	}
	/* A large file through the page cache (direct_io off): start
	 * writeback now (it does not wait), so that the group commit's
	 * fdatasync finds little left and dirty pages do not pile up until
	 * the kernel throttles us.  Small files are left to the group
	 * commit's one syncfs, which submits them together. */
	if (f->size >= FSX_DIO_MIN_FILE)
		(void)sync_file_range(fd, (off_t)wd.chunk * d->rec.chunk_size, wd.len,
		    SYNC_FILE_RANGE_WRITE);
	if (batch_push(sk, d, wd.file, wd.chunk, wd.len, wd.xxh3, fd, newfd,
	    c->serial) != SL_OK) {
		if (newfd)
			close(fd);
		stream_close(c->s, "out of memory");
	}
}

static void
on_commit(struct sconn *c, const uint8_t *p, uint32_t len)
{
	struct sink		*sk = c->sk;
	struct wire_commit	 wc;
	struct wire_committed	 cm;
	struct wbuf		 b;
	struct sds		*d;
	const struct vsum	*pre;
	char			 err[SL_MAX_MSG];
	int			 rc;

	rc = wire_commit_decode(p, len, &wc);
	if (rc != SL_OK) {
		send_error(c, 0, rc, "malformed COMMIT: %s", sl_strerror(rc));
		return;
	}
	d = sds_find(sk, wc.dsid);
	if (d == NULL) {
		send_error(c, 0, SL_EPROTO, "COMMIT for dataset %016llx that is not open",
		    (unsigned long long)wc.dsid);
		return;
	}
	if (wc.nfiles != d->nfiles) {
		send_error(c, 0, SL_EPROTO, "COMMIT has %u digests for %u files",
		    wc.nfiles, d->nfiles);
		return;
	}
	if (d->rec.state == SDS_RECEIVING) {
		sds_flush_counts(sk, d);
		if (d->rec.chunks_acked != d->rec.nchunks) {
			send_error(c, wc.dsid, SL_EPROTO, "COMMIT with %llu of %llu chunks "
			    "held", (unsigned long long)d->rec.chunks_acked,
			    (unsigned long long)d->rec.nchunks);
			return;
		}
		pre = NULL;
		if (d->vd)
			pre = verifier_finish(sk->ver, d->vd, NULL, 0);	/* logged */
		rc = publish_commit(sk->j, sk->rootfd, d->pfd, vh_flags(sk), &d->rec, d->files,
		    d->nfiles, wc.digests, pre, err, sizeof(err));
		/* Done with it either way; a COMMIT again re-reads in full. */
		verifier_drop(sk->ver, d->vd);
		d->vd = NULL;
		if (rc != SL_OK) {
			if (rc == SL_ECORRUPT || rc == SL_EEXIST) {
				sds_set_state(sk, d, SDS_FAILED, err, NULL);
				/* Fatal for the dataset: do not let the agent retry. */
				send_error(c, wc.dsid, SL_EPROTO, "publish failed: %s", err);
			} else
				send_error(c, wc.dsid, rc, "publish failed: %s", err);
			return;
		}
		close(d->pfd);
		d->pfd = -1;
		sds_set_state(sk, d, SDS_PUBLISHED, NULL, d->rec.name);
	} else if (d->rec.state != SDS_PUBLISHED) {
		send_error(c, wc.dsid, SL_EPROTO, "COMMIT for a failed dataset");
		return;
	}
	cm.dsid = wc.dsid;
	cm.path = wire_str_c(d->rec.name);
	wbuf_init(&b, 0);
	if (wire_committed_encode(&b, &cm) == SL_OK)
		send_wbuf(c, &b);
	wbuf_free(&b);
}

/*
 * A HELLO for stream i of agent X starts a new session of X: the agent
 * tears all its streams down before it reconnects, so an older connection
 * of X on stream i (or one from a session with another stream count) is
 * stale, e.g. the agent was killed and its last DATA frames are still
 * trickling in through kernel or middlebox buffers.  Close it now, so that
 * such frames are not written after the new session's OPEN got its HAVE:
 * the new session sends those chunks itself, and each would land twice
 * (counted as a duplicate).  The agent brings all N streams up before it
 * sends OPEN, so by then every stale connection is closed.
 */
static void
supersede_stale(struct sconn *c, uint32_t idx, uint32_t n)
{
	struct sconn *o;

	c->stream_idx = idx;
	c->nstreams = n;
	for (o = c->sk->conns; o; o = o->next) {
		if (o == c || o->state != SC_READY || strcmp(o->agent, c->agent) != 0 ||
		    stream_state(o->s) == ST_CLOSING)
			continue;
		if (o->stream_idx != idx && o->nstreams == n)
			continue;
		log_info("sink", "conn=%s agent=%s stream=%u/%u superseded by conn=%s "
		    "(new session of the agent): closing it", o->label, log_q(o->agent),
		    o->stream_idx, o->nstreams, c->label);
		stream_close(o->s, "superseded by a new session of the agent");
	}
}

/* ERROR from the agent: with a dataset id, the agent abandons that
 * dataset (source changed, cancelled): discard its partial copy so that
 * it neither lingers nor can ever be published.  Without one, the agent
 * ends the session. */
static void
on_agent_error(struct sconn *c, const uint8_t *p, uint32_t len)
{
	struct sink		*sk = c->sk;
	struct wire_error	 e;
	struct sds		*d;
	char			 reason[SL_MAX_MSG + 64], pname[SL_MAX_NAME + 16];

	if (wire_error_decode(p, len, &e) != SL_OK || e.dsid == 0) {
		log_warnx("sink", "conn=%s agent=%s sent ERROR, closing", c->label,
		    log_q(c->agent));
		stream_close(c->s, "peer error");
		return;
	}
	d = sds_find(sk, e.dsid);
	if (d == NULL || d->rec.state != SDS_RECEIVING)
		return;
	snprintf(reason, sizeof(reason), "abandoned by the agent: %.*s",
	    (int)e.message.len, e.message.p);
	sds_set_state(sk, d, SDS_FAILED, reason, NULL);
	verifier_drop(sk->ver, d->vd);
	d->vd = NULL;
	if (d->pfd >= 0) {
		close(d->pfd);
		d->pfd = -1;
	}
	publish_partial_name(pname, sizeof(pname), d->rec.name);
	if (fsx_rmtree_at(sk->rootfd, pname) == -1 && errno != ENOENT)
		log_warn("sink", "dataset=%016llx remove %s", (unsigned long long)d->rec.id,
		    log_q(pname));
	else
		log_info("sink", "dataset=%016llx removed %s", (unsigned long long)d->rec.id,
		    log_q(pname));
}

static void
on_hello(struct sconn *c, const uint8_t *p, uint32_t len)
{
	const struct config	*cfg = c->sk->cfg;
	struct wire_hello	 h;
	struct wire_welcome	 w;
	struct wbuf		 b, in;
	uint8_t			 mac[SHA256_LEN];
	int			 rc;

	rc = wire_hello_decode(p, len, &h);
	if (rc != SL_OK) {
		send_error(c, 0, rc, "malformed HELLO: %s", sl_strerror(rc));
		return;
	}
	if (h.version != SL_PROTO_VERSION) {
		send_error(c, 0, SL_EPROTO, "protocol version %u not supported (1..1)",
		    h.version);
		return;
	}
	wire_str_copy(c->agent, sizeof(c->agent), h.agent_id);
	if (!cfg->tls) {
		wbuf_init(&in, 0);
		rc = wire_hello_mac_input(&in, c->nonce, &h);
		if (rc == SL_OK)
			rc = hmac_sha256(cfg->secret, cfg->secret_len, in.p, in.len, mac);
		wbuf_free(&in);
		if (rc != SL_OK || h.maclen != WIRE_MAC_LEN ||
		    !digest_equal(mac, h.mac, SHA256_LEN)) {
			log_warnx("sink", "conn=%s agent=%s authentication failed: "
			    "HELLO MAC does not match the shared secret", c->label,
			    log_q(c->agent));
			send_error(c, 0, SL_EAUTH, "authentication failed");
			return;
		}
	}
	supersede_stale(c, h.stream, h.nstreams);
	memset(&w, 0, sizeof(w));
	w.version = SL_PROTO_VERSION;
	w.sink_id = wire_str_c(cfg->id);
	wbuf_init(&b, 0);
	if (wire_welcome_encode(&b, &w) == SL_OK)
		send_wbuf(c, &b);
	wbuf_free(&b);
	log_info("sink", "conn=%s agent=%s stream=%u/%u tls=%s%s%s%s%s", c->label,
	    log_q(c->agent), h.stream, h.nstreams, stream_is_tls(c->s) ? "on" : "off",
	    stream_is_tls(c->s) ? " cn=" : "", stream_is_tls(c->s) ?
	    log_q(stream_peer_cn(c->s)) : "", stream_is_tls(c->s) ? " suite=" : "",
	    stream_cipher(c->s));
	sc_enter(c, SC_READY);
	/* Authenticated: an idle agent is normal; TCP keepalive finds dead peers. */
	stream_set_idle(c->s, 0);
}

static void
sc_open(struct stream *s, void *arg)
{
	struct sconn		*c = arg;
	struct wire_challenge	 ch;
	struct wbuf		 b;

	memset(&ch, 0, sizeof(ch));
	ch.min_version = SL_PROTO_VERSION;
	ch.max_version = SL_PROTO_VERSION;
	if (digest_random(c->nonce, sizeof(c->nonce)) != SL_OK) {
		stream_close(s, "no randomness");
		return;
	}
	memcpy(ch.nonce, c->nonce, sizeof(ch.nonce));
	ch.sink_id = wire_str_c(c->sk->cfg->id);
	wbuf_init(&b, 0);
	if (wire_challenge_encode(&b, &ch) == SL_OK)
		send_wbuf(c, &b);
	wbuf_free(&b);
	sc_enter(c, SC_CHALLENGED);
}

static void
sc_frame(struct stream *s, const struct wire_hdr *h, const uint8_t *p, void *arg)
{
	struct sconn *c = arg;

	(void)s;
	if (c->state == SC_CLOSING)
		return;
	if (c->state == SC_CHALLENGED) {
		if (h->type == WIRE_HELLO)
			on_hello(c, p, h->len);
		else
			send_error(c, 0, SL_EPROTO, "expected HELLO, got %s",
			    wire_type_name(h->type));
		return;
	}
	switch (h->type) {
	case WIRE_OPEN:		on_open(c, p, h->len); break;
	case WIRE_DATA:		on_data(c, p, h->len); break;
	case WIRE_COMMIT:	on_commit(c, p, h->len); break;
	case WIRE_ERROR:
		on_agent_error(c, p, h->len);
		break;
	default:
		send_error(c, 0, SL_EPROTO, "unexpected %s frame", wire_type_name(h->type));
	}
}

static void
sc_drain(struct stream *s, void *arg)
{
	struct sconn *c = arg;

	if (c->state == SC_CLOSING)
		stream_close(s, "closed after error");
}

static void
sc_close(struct stream *s, const char *why, void *arg)
{
	struct sconn *c = arg;

	(void)s;
	log_info("sink", "conn=%s agent=%s closed why=%s", c->label, log_q(c->agent),
	    log_q(why));
	*c->prevp = c->next;
	if (c->next)
		c->next->prevp = c->prevp;
	c->sk->nconns--;
	free(c->acks);
	free(c);
}

static const struct stream_ops sc_ops = {
	.on_open = sc_open,
	.on_frame = sc_frame,
	.on_drain = sc_drain,
	.on_close = sc_close,
};

/* ---- group commit ---------------------------------------------------------- */

static void
send_acks(struct sconn *c)
{
	struct wire_ack	 k = { 0 };
	struct wbuf	 b;
	uint32_t	 i = 0, j, n;

	wbuf_init(&b, 0);
	while (i < c->nacks) {
		/* One frame per run of the same dataset, at most SL_MAX_ACKS. */
		for (j = i; j < c->nacks && j - i < SL_MAX_ACKS &&
		    c->acks[j].dsid == c->acks[i].dsid; j++)
			;
		n = j - i;
		k.dsid = c->acks[i].dsid;
		k.n = n;
		k.ents = malloc(n * sizeof(*k.ents));
		if (k.ents == NULL)
			break;
		for (j = 0; j < n; j++) {
			k.ents[j].file = c->acks[i + j].file;
			k.ents[j].chunk = c->acks[i + j].chunk;
		}
		if (wire_ack_encode(&b, &k) == SL_OK)
			send_wbuf(c, &b);
		free(k.ents);
		i += n;
	}
	wbuf_free(&b);
	c->nacks = 0;
}

static struct sconn *
conn_by_serial(struct sink *sk, uint64_t serial)
{
	struct sconn *c;

	for (c = sk->conns; c; c = c->next)
		if (c->serial == serial)
			return c;
	return NULL;
}

/* A batch is durable (or failed): record it and send the promises. */
static void
commit_done(const struct gc_ent *ents, uint32_t n, int rc, void *arg)
{
	struct sink	*sk = arg;
	struct sconn	*c = NULL;
	struct sds	*d;
	uint32_t	 i;

	for (i = 0; i < n; i++) {
		const struct gc_ent *e = &ents[i];
		struct sds *ed = e->ds;

		if (c == NULL || c->serial != e->conn)
			c = conn_by_serial(sk, e->conn);
		if (rc != SL_OK) {
			/* Not durable, so no promise: the agent resends. */
			if (c && stream_state(c->s) != ST_CLOSING)
				stream_close(c->s, "group commit failed");
			continue;
		}
		uint64_t g = ed->files[e->file].first_chunk + e->chunk;
		if (!(ed->held[g / 8] & (1u << (g % 8)))) {
			ed->held[g / 8] |= (uint8_t)(1u << (g % 8));
			ed->rec.chunks_acked++;
			ed->rec.bytes_acked += e->len;
			if (ed->vd)
				verifier_durable(sk->ver, ed->vd, e->file, e->chunk,
				    e->hash);
		}
		if (c && ack_push(c, e->dsid, e->file, e->chunk) != SL_OK)
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
			send_acks(c);
	have_check(sk);
}

/* Once per loop pass, after every ready socket was read. */
static void
commit_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct sink	*sk = w->data;
	struct sconn	*c;

	(void)loop; (void)revents;
	for (c = sk->conns; c; c = c->next)
		if (c->nacks)	/* duplicates: already durable, ack at once */
			send_acks(c);
	gcommit_flush(sk->gc);
}

/* ---- listener ---------------------------------------------------------------- */

static void
accept_resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sink *sk = w->data;

	(void)revents;
	ev_io_start(loop, &sk->accept_io);
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sink	*sk = w->data;
	struct net_addr	 peer;
	struct sconn	*c;
	int		 fd, rc, i;

	(void)revents;
	for (i = 0; i < 16; i++) {
		rc = net_accept(sk->lfd, &fd, &peer);
		if (rc == SL_EAGAIN)
			return;
		if (rc != SL_OK) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of descriptors: pause instead of spinning. */
				log_warnx("sink", "out of file descriptors, pausing accept "
				    "for 1s");
				ev_io_stop(loop, &sk->accept_io);
				ev_timer_set(&sk->accept_pause, 1.0, 0);
				ev_timer_start(loop, &sk->accept_pause);
			}
			return;
		}
		if (sk->nconns >= sk->cfg->max_connections) {
			log_warnx("sink", "refused %s: %d connections already (max_connections)",
			    peer.text, sk->nconns);
			close(fd);
			continue;
		}
		net_tune(fd, 0);
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			return;
		}
		c->sk = sk;
		c->serial = ++sk->serials;
		snprintf(c->label, sizeof(c->label), "%s", peer.text);
		c->state = SC_HANDSHAKE;
		c->s = stream_new(loop, fd, 0, sk->tls, 1, NULL, &sc_ops, c,
		    WIRE_DATA_PREFIX + SL_MAX_CHUNK, sk->cfg->idle_timeout, c->label);
		if (c->s == NULL) {
			free(c);
			return;
		}
		if (sk->pool != NULL)	/* DATA of large files: read and decrypted there */
			stream_use_pool(c->s, sk->pool, FSX_DIO_MIN_FILE, 0);
		c->next = sk->conns;
		if (c->next)
			c->next->prevp = &c->next;
		c->prevp = &sk->conns;
		sk->conns = c;
		sk->nconns++;
		log_debug("sink", "conn=%s accepted", c->label);
	}
}

/* ---- control ------------------------------------------------------------------ */

int
sink_control(void *arg, const struct wire_ctl_req *req, struct wbuf *out)
{
	struct sink	*sk = arg;
	struct sds	*d;
	struct sconn	*c, *o;
	char		 line[512];
	int		 receiving = 0, n;

	if (req->command.len != 4 || memcmp(req->command.p, "ping", 4) != 0) {
		wbuf_puts(out, "unknown command");
		return SL_EINVAL;
	}
	for (d = sk->dsets; d; d = d->next)
		receiving += d->rec.state == SDS_RECEIVING;
	snprintf(line, sizeof(line), "role=sink listen=%s connections=%d receiving=%d "
	    "free_bytes=%lld\n", sk->addr.text, sk->nconns, receiving,
	    fsx_free_bytes(sk->rootfd));
	wbuf_puts(out, line);
	/* One line per connected agent (first connection of each id). */
	for (c = sk->conns; c; c = c->next) {
		if (c->state != SC_READY)
			continue;
		for (o = sk->conns; o != c; o = o->next)
			if (o->state == SC_READY && strcmp(o->agent, c->agent) == 0)
				break;
		if (o != c)
			continue;
		n = 0;
		for (o = c; o; o = o->next)
			n += o->state == SC_READY && strcmp(o->agent, c->agent) == 0;
		snprintf(line, sizeof(line), "agent=%s streams=%d from=%s tls=%s\n",
		    c->agent, n, c->label, stream_is_tls(c->s) ? "on" : "off");
		wbuf_puts(out, line);
	}
	return SL_OK;
}

/* ---- start / stop ----------------------------------------------------------------- */

int
sink_start(struct sink **out, struct ev_loop *loop, const struct config *cfg,
    struct journal *j, char *err, size_t errlen)
{
	struct sink	*sk;
	int		 rc;

	sk = calloc(1, sizeof(*sk));
	if (sk == NULL)
		return SL_ENOMEM;
	sk->loop = loop;
	sk->cfg = cfg;
	sk->j = j;
	sk->lfd = -1;
	sk->dio = cfg->direct_io;
	sk->rootfd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sk->rootfd == -1) {
		snprintf(err, errlen, "root %s: %s", cfg->root, strerror(errno));
		rc = SL_EIO;
		goto fail;
	}
	rc = net_resolve(cfg->listen, &sk->addr, err, errlen);
	if (rc != SL_OK)
		goto fail;
	if (cfg->tls) {
		rc = tls_ctx_new(&sk->tls, 1, cfg->ca, cfg->cert, cfg->key, err, errlen);
		if (rc != SL_OK)
			goto fail;
		if (cfg->ciphersuites[0] != '\0') {
			rc = tls_ctx_set_suites(sk->tls, cfg->ciphersuites, err, errlen);
			if (rc != SL_OK)
				goto fail;
		}
	}
	rc = net_listen(&sk->addr, 128, &sk->lfd, err, errlen);
	if (rc != SL_OK)
		goto fail;
	ev_io_init(&sk->accept_io, accept_cb, sk->lfd, EV_READ);
	sk->accept_io.data = sk;
	ev_io_start(loop, &sk->accept_io);
	ev_init(&sk->accept_pause, accept_resume_cb);
	sk->accept_pause.data = sk;
	ev_prepare_init(&sk->commit, commit_cb);
	sk->commit.data = sk;
	ev_prepare_start(loop, &sk->commit);
	rc = verifier_start(&sk->ver);
	if (rc != SL_OK) {
		snprintf(err, errlen, "cannot start the verifier thread");
		goto fail;
	}
	if (sk->dio && cfg->writers > 0) {
		rc = swrite_start(&sk->sw, loop, cfg->writers, sk->ver, write_done, sk);
		if (rc != SL_OK) {
			snprintf(err, errlen, "cannot start the writer threads");
			goto fail;
		}
		ev_timer_init(&sk->expire, expire_cb, 1.0, 1.0);
		sk->expire.data = sk;
		ev_timer_start(loop, &sk->expire);
	}
	if (cfg->tls && cfg->tls_threads > 0 &&
	    stream_pool_start(&sk->pool, loop, cfg->tls_threads) != SL_OK) {
		snprintf(err, errlen, "cannot start the TLS threads");
		rc = SL_EIO;
		goto fail;
	}
	rc = gcommit_start(&sk->gc, loop, j, commit_done, sk);
	if (rc != SL_OK) {
		snprintf(err, errlen, "cannot start the committer thread");
		goto fail;
	}
	log_info("sink", "id=%s listen=%s root=%s tls=%s", log_q(cfg->id), sk->addr.text,
	    log_q(cfg->root), cfg->tls ? "on" : "off");
	(void)mreg_register(sink_metrics, sk);	/* one role, one collector: fits */
	*out = sk;
	return SL_OK;
fail:
	if (sk->lfd != -1) {
		ev_io_stop(loop, &sk->accept_io);
		ev_prepare_stop(loop, &sk->commit);
		close(sk->lfd);
	}
	if (sk->rootfd != -1)
		close(sk->rootfd);
	if (sk->sw != NULL) {
		ev_timer_stop(loop, &sk->expire);
		swrite_stop(sk->sw);
	}
	stream_pool_stop(sk->pool);
	verifier_stop(sk->ver);
	tls_ctx_free(sk->tls);
	free(sk);
	return rc;
}

void
sink_stop(struct sink *sk)
{
	struct sconn	*c;
	struct sds	*d;

	if (sk == NULL)
		return;
	mreg_unregister(sink_metrics, sk);
	ev_io_stop(sk->loop, &sk->accept_io);
	ev_timer_stop(sk->loop, &sk->accept_pause);
	/* Let the writers finish, commit what was written so far, then close
	 * everything. */
	if (sk->sw != NULL) {
		ev_timer_stop(sk->loop, &sk->expire);
		swrite_stop(sk->sw);
		sk->sw = NULL;
	}
	ev_prepare_stop(sk->loop, &sk->commit);
	gcommit_stop(sk->gc);		/* commits what was written so far */
	sk->gc = NULL;
	for (c = sk->conns; c; c = c->next)
		stream_close(c->s, "shutting down");
	ev_run(sk->loop, EVRUN_NOWAIT);
	stream_pool_stop(sk->pool);	/* lets the last offloaded streams go */
	sk->pool = NULL;
	ev_run(sk->loop, EVRUN_NOWAIT);
	verifier_stop(sk->ver);		/* drops every vds */
	while ((d = sk->dsets) != NULL) {
		sk->dsets = d->next;
		sds_flush_counts(sk, d);
		sds_free(d);
	}
	close(sk->lfd);
	close(sk->rootfd);
	tls_ctx_free(sk->tls);
	free(sk->bounce);
	free(sk);
}

/* ---- metrics -------------------------------------------------------------- */

struct ssum {
	uint64_t	by_state[SDS_FAILED + 1];
	uint64_t	received, dups, nacked, bytes;
};

static int
ssum_fn(const struct ds_rec *d, void *arg)
{
	struct ssum *m = arg;

	if (d->state >= 1 && d->state <= SDS_FAILED)
		m->by_state[d->state]++;
	m->received += d->chunks_sent;
	m->dups += d->chunks_resent;
	m->nacked += d->chunks_nacked;
	m->bytes += d->bytes_acked;
	return 0;
}

static void
sink_metrics(void *arg, struct wbuf *out)
{
	struct sink	*sk = arg;
	struct ssum	 m;
	char		 lab[64];
	int		 i;

	memset(&m, 0, sizeof(m));
	journal_ds_foreach(sk->j, ssum_fn, &m);
	mreg_family(out, "sluice_sink_bytes_durable_total", "counter",
	    "Bytes written, fsynced and journaled.");
	mreg_sample(out, "sluice_sink_bytes_durable_total", NULL, (double)m.bytes);
	mreg_family(out, "sluice_sink_chunks_received_total", "counter",
	    "DATA frames received.");
	mreg_sample(out, "sluice_sink_chunks_received_total", NULL, (double)m.received);
	mreg_family(out, "sluice_sink_chunks_duplicate_total", "counter",
	    "DATA frames for chunks already held (acked again, not rewritten).");
	mreg_sample(out, "sluice_sink_chunks_duplicate_total", NULL, (double)m.dups);
	mreg_family(out, "sluice_sink_chunks_nacked_total", "counter",
	    "Chunks rejected for a checksum mismatch.");
	mreg_sample(out, "sluice_sink_chunks_nacked_total", NULL, (double)m.nacked);
	mreg_family(out, "sluice_sink_datasets", "gauge", "Datasets by state.");
	for (i = SDS_RECEIVING; i <= SDS_FAILED; i++) {
		snprintf(lab, sizeof(lab), "state=\"%s\"", sds_state_name(i));
		mreg_sample(out, "sluice_sink_datasets", lab, (double)m.by_state[i]);
	}
	mreg_family(out, "sluice_sink_connections", "gauge", "Open agent connections.");
	mreg_sample(out, "sluice_sink_connections", NULL, sk->nconns);
	mreg_family(out, "sluice_sink_root_free_bytes", "gauge",
	    "Free bytes on the file system of the root.");
	mreg_sample(out, "sluice_sink_root_free_bytes", NULL,
	    (double)fsx_free_bytes(sk->rootfd));
}
