/*
 * sink_dataset.c: the sink's dataset state machine (states in journal.h:
 * receiving -> published, or failed), one struct sds per dataset.
 *
 * OPEN creates or finds the dataset (its name reserved in the journal),
 * prepares the partial tree and answers HAVE with the chunks already
 * durable; HAVE waits while a writer or a batch not yet durable holds
 * chunks of it.  DATA is verified (XXH3-64 over the bytes, against the
 * manifest's file, offset and length) before it touches the disk; a
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
	if (d->pfd >= 0)
		close(d->pfd);
	ds_rec_free(&d->rec);
	free(d->files);
	free(d->held);
	free(d);
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
			verifier_drop(sk->ver, hd->vd);
			hd->vd = NULL;
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

void
sds_open(struct sconn *c, const struct wire_open *o)
{
	struct sink		*sk = c->sk;
	struct ds_rec		 rec, existing;
	struct file_rec		*files = NULL;
	struct sds		*d;
	struct timespec		 ts;
	char			 err[SL_MAX_MSG], path[SL_MAX_PATH + 1];
	const char		*bad;
	char			*pp;
	size_t			 plen;
	uint64_t		 g = 0;
	uint32_t		 i;
	int			 rc, pub, nsfd = -1;

	memset(&rec, 0, sizeof(rec));
	d = sds_find(sk, o->dsid);
	if (d != NULL && !sds_owned(c, &d->rec, "OPEN")) {
		sconn_error(c, o->dsid, SL_EAUTH, "dataset %016llx is not agent %s's",
		    (unsigned long long)o->dsid, c->agent);
		goto out;
	}
	if (d != NULL && d->rec.state == SDS_FAILED) {
		sconn_error(c, o->dsid, SL_ESTATE, "dataset failed at the sink (its "
		    "name was released or it was abandoned); see sluice status on "
		    "the sink");
		goto out;
	}
	if (d != NULL) {
		/* A replay within this process' life: the same manifest? */
		if (d->nfiles != o->nfiles || d->rec.bytes != o->total_bytes ||
		    d->rec.chunk_size != o->chunk_size) {
			sconn_error(c, o->dsid, SL_EINVAL, "dataset id reused with a "
			    "different manifest");
			goto out;
		}
		d->touched = sl_time_wall();	/* partial_ttl */
		/* Chunks of the agent's previous session that wait, parked,
		 * for ones lost with it would hold this HAVE until they expire:
		 * give their files up to the re-read at COMMIT now. */
		verifier_giveup(sk->ver, d->vd, UINT32_MAX, "a new session "
		    "reopened the dataset with chunks of it waiting for lost ones");
		if (sds_pending(sk, d))
			c->have_wait = d->rec.id;	/* sds_have_check answers */
		else
			send_have(c, d);
		goto out;
	}

	rec.id = o->dsid;
	rec.state = SDS_RECEIVING;
	clock_gettime(CLOCK_REALTIME, &ts);
	rec.created_ns = rec.updated_ns = (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
	rec.chunk_size = o->chunk_size;
	rec.nfiles = o->nfiles;
	rec.bytes = o->total_bytes;
	wire_str_copy(rec.name, sizeof(rec.name), o->name);
	snprintf(rec.src, sizeof(rec.src), "%s", c->agent);
	/* One block: the records, then their paths (as journal_files_load). */
	for (i = 0, plen = 0; i < o->nfiles; i++)
		plen += (size_t)o->files[i].path.len + 1;
	files = calloc(1, (o->nfiles ? o->nfiles : 1) * sizeof(*files) + plen);
	if (files == NULL) {
		sconn_error(c, 0, SL_ENOMEM, "out of memory");
		goto out;
	}
	pp = (char *)(files + (o->nfiles ? o->nfiles : 1));
	for (i = 0; i < o->nfiles; i++) {
		files[i].idx = i;
		files[i].size = o->files[i].size;
		files[i].mode = o->files[i].mode & 07777;
		files[i].nchunks = wire_nchunks(o->files[i].size, o->chunk_size);
		files[i].first_chunk = g;
		g += files[i].nchunks;
		files[i].path = pp;
		memcpy(pp, o->files[i].path.p, o->files[i].path.len);
		pp[o->files[i].path.len] = '\0';
		pp += o->files[i].path.len + 1;
	}
	rec.nchunks = g;
	if ((bad = manifest_conflict(files, o->nfiles)) != NULL) {
		sconn_error(c, o->dsid, SL_EPATH, "manifest names \"%s\" twice or uses "
		    "a file as a directory", bad);
		goto out;
	}

	if (o->nmeta > 0) {
		rec.meta = calloc(o->nmeta, sizeof(*rec.meta));
		if (rec.meta == NULL) {
			sconn_error(c, 0, SL_ENOMEM, "out of memory");
			goto out;
		}
		rec.nmeta = o->nmeta;
		for (i = 0; i < o->nmeta; i++) {
			wire_str_copy(rec.meta[i][0], sizeof(rec.meta[i][0]), o->meta[i].key);
			wire_str_copy(rec.meta[i][1], sizeof(rec.meta[i][1]), o->meta[i].val);
		}
	}

	/* Known to the journal (a restart since): its owner, its namespace.
	 * New: the namespace of the layout, and the name must be free. */
	memset(&existing, 0, sizeof(existing));
	rc = journal_ds_get(sk->j, o->dsid, &existing);
	if (rc == SL_OK) {
		if (!sds_owned(c, &existing, "OPEN")) {
			sconn_error(c, o->dsid, SL_EAUTH, "dataset %016llx is not agent "
			    "%s's", (unsigned long long)o->dsid, c->agent);
			ds_rec_free(&existing);
			goto out;
		}
		snprintf(rec.dest, sizeof(rec.dest), "%s", existing.dest);
	} else if (rc == SL_ENOTFOUND) {
		if (sk->cfg->layout == LAYOUT_PER_AGENT) {
			if (pathchk_name(c->agent, strlen(c->agent), &bad) != SL_OK) {
				sconn_error(c, o->dsid, SL_EPATH, "agent id \"%s\" cannot "
				    "name a directory at the sink: %s", c->agent, bad);
				goto out;
			}
			snprintf(rec.dest, sizeof(rec.dest), "%s", c->agent);
		}
		nsfd = ns_open(sk, &rec, 1);
		if (nsfd == -1) {
			sconn_io_error(c, o->dsid, "open", rec.dest, errno);
			goto out;
		}
		rc = name_free(c, &rec, nsfd);
		ns_close(sk, nsfd);
		if (rc != SL_OK)
			goto out;
	} else {
		sconn_error(c, o->dsid, rc, "journal: %s", sl_strerror(rc));
		goto out;
	}
	ds_rec_free(&existing);
	memset(&existing, 0, sizeof(existing));
	rc = journal_sink_ds_create(sk->j, &rec, files, o->nfiles, &existing);
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
	} else if (rc != SL_OK) {
		sconn_error(c, o->dsid, rc, "dataset %016llx: %s",
		    (unsigned long long)o->dsid, rc == SL_EINVAL ?
		    "id reused with a different manifest" : sl_strerror(rc));
		goto out;
	}
	if (rec.state == SDS_FAILED) {
		sconn_error(c, o->dsid, SL_ESTATE, "dataset failed at the sink earlier; "
		    "see sluice status on the sink");
		goto out;
	}

	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		sconn_error(c, 0, SL_ENOMEM, "out of memory");
		goto out;
	}
	d->rec = rec;
	rec.meta = NULL;	/* d owns it now */
	rec.nmeta = 0;
	d->files = files;
	files = NULL;
	d->nfiles = o->nfiles;
	d->pfd = -1;
	d->touched = sl_time_wall();
	d->held = calloc((size_t)((rec.nchunks + 7) / 8) + 1, 1);
	if (d->held == NULL) {
		sds_free(d);
		sconn_error(c, 0, SL_ENOMEM, "out of memory");
		goto out;
	}
	if (d->rec.state == SDS_RECEIVING) {
		nsfd = ns_open(sk, &d->rec, 1);
		if (nsfd == -1) {
			int e = errno;
			sds_free(d);
			sconn_io_error(c, o->dsid, "open", rec.dest, e);
			goto out;
		}
		/* Crashed between rename and journal? Then it is published. */
		pub = publish_is_published(nsfd, &d->rec);
		if (pub == 1) {
			sds_path(&d->rec, path, sizeof(path));
			sds_set_state(sk, d, SDS_PUBLISHED, NULL, path);
		} else {
			rc = publish_prepare(nsfd, &d->rec, d->files, d->nfiles,
			    err, sizeof(err));
			ns_close(sk, nsfd);
			nsfd = -1;
			if (rc < 0) {
				if (!sl_err_retryable(rc))
					sds_set_state(sk, d, SDS_FAILED, err, NULL);
				sds_free(d);
				sconn_error(c, o->dsid, rc, "%s", err);
				goto out;
			}
			d->pfd = rc;
			rc = journal_sink_have(sk->j, d->rec.id, d->files, d->nfiles,
			    d->held, d->rec.nchunks);
			if (rc != SL_OK) {
				sds_free(d);
				sconn_error(c, o->dsid, rc, "journal: %s", sl_strerror(rc));
				goto out;
			}
			/* Follow it with the re-read if we will see every
			 * chunk arrive (verify.h). */
			if (d->rec.chunks_acked == 0)
				d->vd = verifier_track(sk->ver, d->pfd, &d->rec,
				    d->files, d->nfiles, vh_flags(sk) |
				    (sk->sw != NULL && !sk->cfg->reread ? VH_MEM : 0));
		}
		ns_close(sk, nsfd);	/* -1 once prepared: a no-op */
	}
	d->next = sk->dsets;
	sk->dsets = d;
	log_info("sink", "dataset=%016llx name=%s dir=%s agent=%s state=%s files=%u "
	    "bytes=%llu held=%llu/%llu", (unsigned long long)d->rec.id, log_q(d->rec.name),
	    log_q(d->rec.dest[0] ? d->rec.dest : "."),
	    log_q(c->agent), sds_state_name(d->rec.state), d->nfiles,
	    (unsigned long long)d->rec.bytes, (unsigned long long)d->rec.chunks_acked,
	    (unsigned long long)d->rec.nchunks);
	send_have(c, d);
out:
	ds_rec_free(&rec);
	free(files);
}

int
sds_push(struct sink *sk, struct sds *d, uint32_t file, uint32_t chunk,
    uint32_t len, uint64_t hash, int fd, int owns_fd, uint64_t conn)
{
	struct gc_ent e = { d, d->rec.id, file, chunk, len, hash, fd, owns_fd, conn };

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
	const struct file_rec	*f = &d->files[wd->file];
	struct sjob		*j;
	int			 fd;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		stream_close(c->s, "out of memory");
		return;
	}
	fd = fsx_open_dio(d->pfd, f->path, O_WRONLY, 1);
	if (fd == -1) {
		sconn_io_error(c, wd->dsid, "open", f->path, errno);
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
	int			 fd, newfd = 0;

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
	if (d == NULL || d->rec.state != SDS_RECEIVING) {
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
		fd = fsx_open_dio(d->pfd, f->path, O_WRONLY,
		    FSX_DIO_FILE(sk->dio, f->size));
		if (fd == -1) {
			sconn_io_error(c, wd->dsid, "open", f->path, errno);
			return;
		}
		newfd = 1;
	}
	if (fsx_pwrite_all(fd, wd->bytes, wd->len, (off_t)wd->chunk * d->rec.chunk_size,
	    sk->dio ? sk->bounce : NULL) == -1) {
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
	if (sds_push(sk, d, wd->file, wd->chunk, wd->len, wd->xxh3, fd, newfd,
	    c->serial) != SL_OK) {
		if (newfd)
			close(fd);
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
			    d->files, d->nfiles, wc->digests, pre, err, sizeof(err));
		ns_close(sk, nsfd);
		/* Done with it either way; a COMMIT again re-reads in full. */
		verifier_drop(sk->ver, d->vd);
		d->vd = NULL;
		if (rc != SL_OK) {
			if (rc == SL_ECORRUPT || rc == SL_EEXIST) {
				sds_set_state(sk, d, SDS_FAILED, err, NULL);
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
	char		 reason[SL_MAX_MSG + 64], pname[SL_MAX_NAME + 16];
	int		 nsfd, rc;

	d = sds_find(sk, dsid);
	if (d == NULL) {
		memset(&tmp, 0, sizeof(tmp));
		tmp.pfd = -1;
		if (journal_ds_get(sk->j, dsid, &tmp.rec) != SL_OK)
			return;
		d = &tmp;
	}
	if (!sds_owned(c, &d->rec, "ERROR (abandon)")) {
		sconn_error(c, dsid, SL_EAUTH, "dataset %016llx is not agent %s's",
		    (unsigned long long)dsid, c->agent);
		goto out;
	}
	if (d->rec.state != SDS_RECEIVING)
		goto out;
	snprintf(reason, sizeof(reason), "abandoned by the agent: %.*s",
	    (int)msg->len, msg->p);
	verifier_drop(sk->ver, d->vd);
	d->vd = NULL;
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
out:
	if (d == &tmp)
		ds_rec_free(&tmp.rec);
}
