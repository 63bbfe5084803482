/*
 * sink_verify.c: the re-read that follows the transfer (verify.h).
 *
 * Shared state, under v->mu: per dataset a bitmap of durable chunks, the
 * hash each chunk had on arrival, each file's cursor (chunks verified)
 * and a queue of files whose next chunk has become durable.  The thread
 * takes a file off a queue, notes how many chunks from its cursor are
 * durable, and re-reads and hashes that run with the lock released; only
 * the thread moves a cursor, and only the loop adds to a bitmap.
 *
 * A file's hash states (XXH3-128 of the bytes, XXH3-128 of the chunk
 * hashes, SHA-256) exist only while it is part-way: a 100,000-file
 * dataset costs its bitmaps and 64 bytes of sums per file, not 100,000
 * hash states.
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "digest.h"
#include "fsx.h"
#include "log.h"
#include "sltime.h"
#include "verify.h"
#include "wire.h"

struct vctx {
	XXH3_state_t	*x128, *lst;
	struct sha256	*sha;
};

struct vfile {
	uint32_t	 next;		/* chunks verified; thread writes, under mu */
	uint8_t		 queued;	/* in vd->ready */
	uint8_t		 mem;		/* hashed from memory (verifier_feed) */
	uint8_t		 hashing;	/* mem: a writer is inside ctx */
	uint8_t		 lost;		/* mem: gave up, re-read at COMMIT */
	uint8_t		 now;		/* hashed on the loop as written
					 * (verifier_written); never queued */
	struct vctx	*ctx;		/* while 0 < next < nchunks; thread only
					 * (mem: the writer with hashing set) */
};

/* A chunk ahead of its file's cursor, its bytes kept by the writer's
 * caller until release(tok). */
struct vpark {
	struct vpark	*next;
	struct vds	*vd;
	uint32_t	 file, chunk, len;
	uint64_t	 hash;
	const uint8_t	*p;
	void		(*release)(void *);
	void		*tok;
	double		 since;
};

struct vds {
	struct vds		*next;
	int			 pfd, dio, sha;
	uint64_t		 id;
	uint32_t		 chunk_size, nfiles;
	const struct file_rec	*files;
	uint64_t		*hashes;	/* by global chunk */
	uint8_t			*dur;		/* bitmap by global chunk */
	struct vfile		*vf;
	struct vsum		*sums;
	uint32_t		*ready;		/* ring of file indexes, nfiles slots */
	uint32_t		 rhead, rlen;
	uint32_t		 left;		/* files not yet VS_DONE / VS_BAD */
	int			 busy;		/* the thread is inside */
	int			 mbusy;		/* writers inside (verifier_feed) */
	unsigned		 refs;		/* writers' jobs not yet fed */
	int			 dropped;	/* freed by the last job's feed */
	char			 err[SL_MAX_MSG];
};

struct verifier {
	pthread_t	 th;
	pthread_mutex_t	 mu;
	pthread_cond_t	 work, progress;
	struct vds	*all;
	struct vpark	*parked;
	int		 stop;
	uint8_t		*buf;		/* thread only */
	size_t		 buflen;
};

void
vctx_free(struct vctx *c)
{
	uint8_t	junk[SHA256_LEN];

	if (c == NULL)
		return;
	XXH3_freeState(c->x128);
	XXH3_freeState(c->lst);
	if (c->sha)
		sha256_final(c->sha, junk);
	free(c);
}

struct vctx *
vctx_new(int sha)
{
	struct vctx *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->x128 = XXH3_createState();
	c->lst = XXH3_createState();
	c->sha = sha ? sha256_new() : NULL;
	if (c->x128 == NULL || c->lst == NULL || (sha && c->sha == NULL)) {
		vctx_free(c);
		return NULL;
	}
	XXH3_128bits_reset(c->x128);
	XXH3_128bits_reset(c->lst);
	return c;
}

int
vctx_chunk(struct vctx *c, const uint8_t *p, size_t len, uint64_t hash)
{
	if (XXH3_64bits(p, len) != hash)
		return SL_ECORRUPT;
	vctx_add(c, p, len, hash);
	return SL_OK;
}

void
vctx_add(struct vctx *c, const uint8_t *p, size_t len, uint64_t hash)
{
	uint8_t	le[8];

	XXH3_128bits_update(c->x128, p, len);
	if (c->sha != NULL)
		sha256_update(c->sha, p, len);
	wire_put_u64(le, hash);
	XXH3_128bits_update(c->lst, le, sizeof(le));
}

void
vctx_finish(struct vctx *c, struct vsum *s)
{
	XXH128_canonical_t	canon;

	XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(c->x128));
	memcpy(s->xxh, canon.digest, sizeof(s->xxh));
	XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(c->lst));
	memcpy(s->lst, canon.digest, sizeof(s->lst));
	s->has_sha = c->sha != NULL;
	if (c->sha != NULL)
		sha256_final(c->sha, s->sha);
	c->sha = NULL;
	s->state = VS_DONE;
	vctx_free(c);
}

static struct vpark *unpark(struct verifier *, struct vds *, uint32_t, double);
static void	release_all(struct vpark *);

static int
is_durable(const struct vds *vd, uint32_t file, uint32_t chunk)
{
	uint64_t g = vd->files[file].first_chunk + chunk;

	return (vd->dur[g / 8] >> (g % 8)) & 1;
}

/* Re-read chunks [from, to) of one file; the lock is not held.  Returns
 * SL_OK or an error with vd->err set (the thread owns vd->err while busy). */
static int
verify_run(struct verifier *v, struct vds *vd, uint32_t file, uint32_t from,
    uint32_t to)
{
	const struct file_rec	*f = &vd->files[file];
	struct vfile		*vf = &vd->vf[file];
	uint32_t		 c, len;
	int			 fd;

	if (v->buflen < vd->chunk_size) {
		free(v->buf);
		v->buflen = 0;
		if ((v->buf = fsx_dio_alloc(vd->chunk_size)) == NULL)
			goto nomem;
		v->buflen = vd->chunk_size;
	}
	if (vf->ctx == NULL && (vf->ctx = vctx_new(vd->sha)) == NULL)
		goto nomem;
	fd = fsx_open_dio(vd->pfd, f->path, O_RDONLY,
	    FSX_DIO_FILE(vd->dio, f->size));
	if (fd == -1) {
		snprintf(vd->err, sizeof(vd->err), "%s: %s", f->path, strerror(errno));
		return SL_EIO;
	}
	for (c = from; c < to; c++) {
		len = wire_chunk_len(f->size, vd->chunk_size, c);
		if (fsx_pread_all(fd, v->buf, len, (off_t)c * vd->chunk_size) == -1) {
			snprintf(vd->err, sizeof(vd->err), "%s: read: %s", f->path,
			    errno == 0 ? "unexpected end of file" : strerror(errno));
			close(fd);
			return SL_EIO;
		}
		if (vctx_chunk(vf->ctx, v->buf, len, vd->hashes[f->first_chunk + c]) !=
		    SL_OK) {
			snprintf(vd->err, sizeof(vd->err), "%s: chunk %u on disk differs "
			    "from the chunk verified on arrival", f->path, c);
			close(fd);
			return SL_ECORRUPT;
		}
	}
	close(fd);
	if (to == f->nchunks) {
		vctx_finish(vf->ctx, &vd->sums[file]);
		vf->ctx = NULL;
	}
	return SL_OK;
nomem:
	snprintf(vd->err, sizeof(vd->err), "%s: out of memory", f->path);
	return SL_ENOMEM;
}

static void
ready_push(struct vds *vd, uint32_t file)
{
	vd->ready[(vd->rhead + vd->rlen) % vd->nfiles] = file;
	vd->rlen++;
	vd->vf[file].queued = 1;
}

static void *
verifier_main(void *arg)
{
	struct verifier	*v = arg;
	struct vds	*vd;
	uint32_t	 file, from, to;
	int		 rc;

	pthread_mutex_lock(&v->mu);
	while (!v->stop) {
		for (vd = v->all; vd != NULL && vd->rlen == 0; vd = vd->next)
			;
		if (vd == NULL) {
			pthread_cond_wait(&v->work, &v->mu);
			continue;
		}
		file = vd->ready[vd->rhead];
		vd->rhead = (vd->rhead + 1) % vd->nfiles;
		vd->rlen--;
		vd->vf[file].queued = 0;
		from = vd->vf[file].next;
		for (to = from; to < vd->files[file].nchunks && is_durable(vd, file, to);
		    to++)
			;
		if (to == from || vd->sums[file].state != VS_TODO)
			continue;
		vd->busy = 1;
		pthread_mutex_unlock(&v->mu);
		rc = verify_run(v, vd, file, from, to);
		pthread_mutex_lock(&v->mu);
		vd->busy = 0;
		if (rc != SL_OK) {
			/* publish_commit re-reads this file itself and decides. */
			log_warnx("sink", "dataset=%016llx re-read error=%s; verifying it "
			    "again at commit", (unsigned long long)vd->id, log_q(vd->err));
			vd->sums[file].state = VS_BAD;
			vctx_free(vd->vf[file].ctx);
			vd->vf[file].ctx = NULL;
			vd->left--;
		} else {
			vd->vf[file].next = to;
			if (to == vd->files[file].nchunks)
				vd->left--;
			else if (is_durable(vd, file, to) && !vd->vf[file].queued)
				ready_push(vd, file);
		}
		pthread_cond_broadcast(&v->progress);
	}
	pthread_mutex_unlock(&v->mu);
	return NULL;
}

int
verifier_start(struct verifier **out)
{
	struct verifier *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return SL_ENOMEM;
	pthread_mutex_init(&v->mu, NULL);
	pthread_cond_init(&v->work, NULL);
	pthread_cond_init(&v->progress, NULL);
	if (pthread_create(&v->th, NULL, verifier_main, v) != 0) {
		pthread_mutex_destroy(&v->mu);
		pthread_cond_destroy(&v->work);
		pthread_cond_destroy(&v->progress);
		free(v);
		return SL_EIO;
	}
	*out = v;
	return SL_OK;
}

void
verifier_stop(struct verifier *v)
{
	if (v == NULL)
		return;
	pthread_mutex_lock(&v->mu);
	v->stop = 1;
	pthread_cond_broadcast(&v->work);
	pthread_mutex_unlock(&v->mu);
	pthread_join(v->th, NULL);
	while (v->all != NULL)
		verifier_drop(v, v->all);
	pthread_mutex_destroy(&v->mu);
	pthread_cond_destroy(&v->work);
	pthread_cond_destroy(&v->progress);
	free(v->buf);
	free(v);
}

static void
vds_free(struct vds *vd)
{
	uint32_t i;

	if (vd->vf != NULL)
		for (i = 0; i < vd->nfiles; i++)
			vctx_free(vd->vf[i].ctx);
	free(vd->hashes);
	free(vd->dur);
	free(vd->vf);
	free(vd->sums);
	free(vd->ready);
	free(vd);
}

struct vds *
verifier_track(struct verifier *v, int pfd, const struct ds_rec *d,
    const struct file_rec *files, uint32_t nfiles, unsigned how)
{
	struct vds	*vd;
	struct vctx	*c;
	uint32_t	 i;

	vd = calloc(1, sizeof(*vd));
	if (vd == NULL)
		return NULL;
	vd->pfd = pfd;
	vd->dio = (how & VH_DIO) != 0;
	vd->sha = (how & VH_SHA256) != 0;
	vd->id = d->id;
	vd->chunk_size = d->chunk_size;
	vd->nfiles = nfiles;
	vd->files = files;
	vd->hashes = calloc(d->nchunks ? d->nchunks : 1, sizeof(*vd->hashes));
	vd->dur = calloc((size_t)(d->nchunks / 8) + 1, 1);
	vd->vf = calloc(nfiles ? nfiles : 1, sizeof(*vd->vf));
	vd->sums = calloc(nfiles ? nfiles : 1, sizeof(*vd->sums));
	vd->ready = calloc(nfiles ? nfiles : 1, sizeof(*vd->ready));
	if (vd->hashes == NULL || vd->dur == NULL || vd->vf == NULL ||
	    vd->sums == NULL || vd->ready == NULL) {
		vds_free(vd);
		return NULL;
	}
	vd->left = nfiles;
	/* Empty files have no chunk to wait for: their sums are those of
	 * nothing. */
	for (i = 0; i < nfiles; i++) {
		vd->vf[i].mem = (how & VH_MEM) && FSX_DIO_FILE(vd->dio, files[i].size);
		vd->vf[i].now = (how & VH_LOOP) && files[i].nchunks == 1 &&
		    files[i].size < FSX_DIO_MIN_FILE;
		if (files[i].nchunks > 0)
			continue;
		if ((c = vctx_new(vd->sha)) == NULL) {
			vds_free(vd);
			return NULL;
		}
		vctx_finish(c, &vd->sums[i]);
		vd->left--;
	}
	pthread_mutex_lock(&v->mu);
	vd->next = v->all;
	v->all = vd;
	pthread_mutex_unlock(&v->mu);
	return vd;
}

void
verifier_durable(struct verifier *v, struct vds *vd, uint32_t file,
    uint32_t chunk, uint64_t hash)
{
	uint64_t g;

	if (vd == NULL || file >= vd->nfiles || chunk >= vd->files[file].nchunks)
		return;
	g = vd->files[file].first_chunk + chunk;
	pthread_mutex_lock(&v->mu);
	vd->hashes[g] = hash;
	vd->dur[g / 8] |= (uint8_t)(1u << (g % 8));
	if (chunk == vd->vf[file].next && !vd->vf[file].queued &&
	    !vd->vf[file].mem && !vd->vf[file].now && vd->sums[file].state == VS_TODO)
		ready_push(vd, file);
	pthread_mutex_unlock(&v->mu);
}

void
verifier_kick(struct verifier *v)
{
	pthread_mutex_lock(&v->mu);
	pthread_cond_signal(&v->work);
	pthread_mutex_unlock(&v->mu);
}

const struct vsum *
verifier_finish(struct verifier *v, struct vds *vd, char *err, size_t errlen)
{
	pthread_mutex_lock(&v->mu);
	pthread_cond_signal(&v->work);
	/* Until done, or stalled: nothing queued and the thread not inside
	 * (a chunk that never became durable here); publish_commit re-reads
	 * whatever is not VS_DONE. */
	while (vd->left > 0 && (vd->rlen > 0 || vd->busy || vd->mbusy) && !v->stop)
		pthread_cond_wait(&v->progress, &v->mu);
	if (err != NULL)
		snprintf(err, errlen, "%s", vd->err);
	pthread_mutex_unlock(&v->mu);
	return vd->sums;
}

void
verifier_drop(struct verifier *v, struct vds *vd)
{
	struct vds	**pp;
	struct vpark	*out;
	uint32_t	 i;
	int		 now;

	if (vd == NULL)
		return;
	pthread_mutex_lock(&v->mu);
	while (vd->busy || vd->mbusy)
		pthread_cond_wait(&v->progress, &v->mu);
	for (pp = &v->all; *pp != NULL; pp = &(*pp)->next)
		if (*pp == vd) {
			*pp = vd->next;
			break;
		}
	/* Writers' jobs still on their way (a resend after the last ack,
	 * chunks of an abandoned dataset) free it with their feed. */
	vd->dropped = 1;
	for (i = 0; i < vd->nfiles; i++)
		vd->vf[i].lost = 1;
	out = unpark(v, vd, UINT32_MAX, 0);
	now = vd->refs == 0;
	pthread_mutex_unlock(&v->mu);
	release_all(out);
	if (now)
		vds_free(vd);
}

void
verifier_ref(struct verifier *v, struct vds *vd)
{
	if (vd == NULL)
		return;
	pthread_mutex_lock(&v->mu);
	vd->refs++;
	pthread_mutex_unlock(&v->mu);
}

/* A job's reference is spent (under mu); 1 when vd must be freed now. */
static int
unref(struct vds *vd)
{
	return --vd->refs == 0 && vd->dropped;
}

void
verifier_unref(struct verifier *v, struct vds *vd)
{
	int gone;

	if (vd == NULL)
		return;
	pthread_mutex_lock(&v->mu);
	gone = unref(vd);
	pthread_mutex_unlock(&v->mu);
	if (gone)
		vds_free(vd);
}

/* ---- hashing from memory ------------------------------------------------ */

/* A file hashed on the loop goes bad (under mu): publish_commit re-reads
 * it from the disk and decides. */
static void
written_bad(struct vds *vd, uint32_t file)
{
	log_warnx("sink", "dataset=%016llx file=%s: its bytes changed between the "
	    "arrival check and the write; it is re-read at commit",
	    (unsigned long long)vd->id, log_q(vd->files[file].path));
	if (vd->sums[file].state == VS_TODO)
		vd->left--;
	vd->sums[file].state = VS_BAD;
}

void
verifier_written(struct verifier *v, struct vds *vd, uint32_t file, uint32_t chunk,
    const uint8_t *p, uint32_t len, uint64_t hash)
{
	struct vctx	*c;
	struct vsum	 sum = { .state = VS_TODO };
	int		 rc, first;

	if (vd == NULL || file >= vd->nfiles || !vd->vf[file].now || chunk != 0)
		return;
	/* vf->now: the thread never enters this file (verifier_durable does
	 * not queue it) and only the loop changes its sums: read them
	 * without the lock, hash, then publish the result under it. */
	first = vd->sums[file].state == VS_TODO;
	if (first) {
		if ((c = vctx_new(vd->sha)) == NULL) {
			pthread_mutex_lock(&v->mu);	/* to the thread, at durable */
			vd->vf[file].now = 0;
			pthread_mutex_unlock(&v->mu);
			return;
		}
		if ((rc = vctx_chunk(c, p, len, hash)) == SL_OK)
			vctx_finish(c, &sum);
		else
			vctx_free(c);
	} else	/* a resend: what it wrote must be what was checked too */
		rc = vd->sums[file].state == VS_BAD || XXH3_64bits(p, len) == hash ?
		    SL_OK : SL_ECORRUPT;
	pthread_mutex_lock(&v->mu);
	if (rc != SL_OK)
		written_bad(vd, file);
	else if (first) {
		vd->sums[file] = sum;
		vd->left--;
	}
	pthread_cond_broadcast(&v->progress);
	pthread_mutex_unlock(&v->mu);
}

/* Take the parked chunks of vd (file, or every file when UINT32_MAX)
 * parked before `before` (0: all) off the list.  Under mu. */
static struct vpark *
unpark(struct verifier *v, struct vds *vd, uint32_t file, double before)
{
	struct vpark **pp = &v->parked, *k, *out = NULL;

	while ((k = *pp) != NULL) {
		if (k->vd == vd && (file == UINT32_MAX || k->file == file) &&
		    (before == 0 || k->since < before)) {
			*pp = k->next;
			k->next = out;
			out = k;
		} else
			pp = &k->next;
	}
	return out;
}

static void
release_all(struct vpark *k)
{
	struct vpark *n;

	for (; k != NULL; k = n) {
		n = k->next;
		k->release(k->tok);
		free(k);
	}
}

/* Prepend the list src to *dst. */
static void
park_splice(struct vpark **dst, struct vpark *src)
{
	struct vpark *n;

	for (; src != NULL; src = n) {
		n = src->next;
		src->next = *dst;
		*dst = src;
	}
}

/* Give up hashing file from memory (under mu): its sums stay VS_TODO
 * and publish_commit re-reads it; its parked chunks are returned. */
static struct vpark *
lose(struct verifier *v, struct vds *vd, uint32_t file, const char *why)
{
	struct vfile *vf = &vd->vf[file];

	if (!vf->lost)
		log_info("sink", "dataset=%016llx file=%s: %s; it is re-read at "
		    "commit", (unsigned long long)vd->id, log_q(vd->files[file].path),
		    why);
	vf->lost = 1;
	if (!vf->hashing) {
		vctx_free(vf->ctx);
		vf->ctx = NULL;
	}
	return unpark(v, vd, file, 0);
}

/* The parked chunk that is next for file, or NULL; parked copies of
 * chunks already hashed (a resend) are moved to *stale. */
static struct vpark *
next_parked(struct verifier *v, struct vds *vd, uint32_t file,
    struct vpark **stale)
{
	struct vpark **pp = &v->parked, *k;
	uint32_t want = vd->vf[file].next;

	while ((k = *pp) != NULL) {
		if (k->vd != vd || k->file != file || k->chunk > want) {
			pp = &k->next;
			continue;
		}
		*pp = k->next;
		if (k->chunk == want)
			return k;
		k->next = *stale;
		*stale = k;
	}
	return NULL;
}

int
verifier_feed(struct verifier *v, struct vds *vd, uint32_t file, uint32_t chunk,
    const uint8_t *p, uint32_t len, uint64_t hash, void (*release)(void *),
    void *tok)
{
	struct vfile	*vf;
	struct vpark	*k, *cur = NULL, *stale = NULL, *out = NULL;

	int		 gone;

	if (vd == NULL)
		return 1;
	pthread_mutex_lock(&v->mu);
	vf = file < vd->nfiles ? &vd->vf[file] : NULL;
	if (vd->dropped || vf == NULL || !vf->mem || vf->lost ||
	    vd->sums[file].state != VS_TODO || chunk < vf->next ||
	    chunk >= vd->files[file].nchunks) {
		gone = unref(vd);	/* not ours, given up, or a resend */
		pthread_mutex_unlock(&v->mu);
		if (gone)
			vds_free(vd);
		return 1;
	}
	vd->refs--;		/* not dropped: mbusy or the parked entry keeps it */
	if (chunk > vf->next || vf->hashing) {
		/* Ahead of the cursor: wait for the chunks before it.  The
		 * writer that hashes those goes on with this one. */
		if ((k = malloc(sizeof(*k))) == NULL) {
			out = lose(v, vd, file, "out of memory");
			pthread_mutex_unlock(&v->mu);
			release_all(out);
			return 1;
		}
		*k = (struct vpark){ v->parked, vd, file, chunk, len, hash, p,
		    release, tok, sl_time_mono() };
		v->parked = k;
		pthread_mutex_unlock(&v->mu);
		return 0;
	}
	vf->hashing = 1;
	vd->mbusy++;
	if (vf->ctx == NULL && (vf->ctx = vctx_new(vd->sha)) == NULL)
		out = lose(v, vd, file, "out of memory");
	while (!vf->lost) {
		pthread_mutex_unlock(&v->mu);
		vctx_add(vf->ctx, p, len, hash);	/* checked on arrival */
		if (cur != NULL) {
			cur->release(cur->tok);
			free(cur);
			cur = NULL;
		}
		pthread_mutex_lock(&v->mu);
		if (++vf->next == vd->files[file].nchunks) {
			vctx_finish(vf->ctx, &vd->sums[file]);
			vf->ctx = NULL;
			vd->left--;
			park_splice(&stale, unpark(v, vd, file, 0));	/* resends */
			break;
		}
		if ((cur = next_parked(v, vd, file, &stale)) == NULL)
			break;
		p = cur->p;
		len = cur->len;
		hash = cur->hash;
	}
	if (vf->lost) {		/* expired while we hashed */
		vctx_free(vf->ctx);
		vf->ctx = NULL;
		if (cur != NULL) {
			cur->next = out;
			out = cur;
		}
	}
	vf->hashing = 0;
	vd->mbusy--;
	pthread_cond_broadcast(&v->progress);
	pthread_mutex_unlock(&v->mu);
	release_all(stale);
	release_all(out);
	return 1;
}

/* Give up every file (of vd, or of any dataset when vd is NULL) with a
 * chunk parked since before `before`; their chunks go to *out.  Under mu.
 * Returns the number of chunks still parked. */
static unsigned
lose_parked(struct verifier *v, struct vds *vd, double before, const char *why,
    struct vpark **out)
{
	struct vpark	*k;
	unsigned	 n;

	for (;;) {
		n = 0;
		for (k = v->parked; k != NULL; k = k->next, n++)
			if ((vd == NULL || k->vd == vd) && k->since < before)
				break;
		if (k == NULL)
			return n;
		park_splice(out, lose(v, k->vd, k->file, why));
	}
}

void
verifier_giveup(struct verifier *v, struct vds *vd, uint32_t file,
    const char *why)
{
	struct vpark *out = NULL;

	if (vd == NULL || (file != UINT32_MAX && file >= vd->nfiles))
		return;
	pthread_mutex_lock(&v->mu);
	if (file == UINT32_MAX)
		(void)lose_parked(v, vd, DBL_MAX, why, &out);
	else if (vd->vf[file].mem && vd->sums[file].state == VS_TODO)
		out = lose(v, vd, file, why);
	pthread_mutex_unlock(&v->mu);
	release_all(out);
}

unsigned
verifier_expire(struct verifier *v, double before)
{
	struct vpark	*out = NULL;
	unsigned	 n;

	pthread_mutex_lock(&v->mu);
	n = lose_parked(v, NULL, before, "its chunks came out of order for too "
	    "long to hash them from memory", &out);
	pthread_mutex_unlock(&v->mu);
	release_all(out);
	return n;
}
