// links: agent/libsink.a agent/libstore.a agent/libbase.a
/*
 * test_verify.c: the sink's re-read thread (verify.h) against real files:
 * chunks made durable out of order, a file whose bytes on disk differ from
 * what arrived, a chunk that never becomes durable (finish must not hang),
 * empty files, and the sums compared with digests computed here.  And
 * hashing from memory (verifier_feed): chunks out of order parked and
 * released once, resends, writers on several threads, giving up a file
 * (verifier_expire), dropping a dataset that jobs still reference.  And
 * one-chunk small files hashed on the loop as written (verifier_written):
 * from memory without a read, a buffer that changed after its arrival
 * check, files of several chunks still re-read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "sluice.h"
#include "digest.h"
#include "fsx.h"
#include "verify.h"
#include "wire.h"

#define CS	(64u * 1024)		/* chunk size */

struct fx {
	char		 dir[64];
	int		 dfd;
	struct file_rec	 files[4];
	uint8_t		*data[4];
	struct ds_rec	 d;
};

static const uint64_t sizes[4] = { 5 * CS + 123, 0, 2 * CS, 3 * CS + 1 };
static const char *names[4] = { "a.bin", "empty", "sub/b.bin", "c.bin" };

static int
setup(void **state)
{
	struct fx	*fx = calloc(1, sizeof(*fx));
	uint64_t	 first = 0, k;
	int		 i, fd;

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sluice-verify-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	fx->dfd = open(fx->dir, O_RDONLY | O_DIRECTORY);
	assert_true(fx->dfd >= 0);
	assert_int_equal(mkdirat(fx->dfd, "sub", 0755), 0);
	for (i = 0; i < 4; i++) {
		struct file_rec *f = &fx->files[i];
		f->idx = (uint32_t)i;
		f->size = sizes[i];
		f->nchunks = (uint32_t)((sizes[i] + CS - 1) / CS);
		f->first_chunk = first;
		f->path = (char *)names[i];
		first += f->nchunks;
		fx->data[i] = malloc(sizes[i] + 1);
		for (k = 0; k < sizes[i]; k++)
			fx->data[i][k] = (uint8_t)(k * 7 + (uint64_t)i * 13 + k / 977);
		fd = openat(fx->dfd, names[i], O_WRONLY | O_CREAT, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, fx->data[i], sizes[i]), (ssize_t)sizes[i]);
		close(fd);
	}
	fx->d.id = 0x1234;
	fx->d.chunk_size = CS;
	fx->d.nchunks = first;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	int i;

	for (i = 0; i < 4; i++)
		free(fx->data[i]);
	fsx_rmtree_at(AT_FDCWD, fx->dir);
	close(fx->dfd);
	free(fx);
	return 0;
}

static uint64_t
chunk_hash(struct fx *fx, int f, uint32_t c)
{
	uint32_t len = wire_chunk_len(sizes[f], CS, c);

	return XXH3_64bits(fx->data[f] + (size_t)c * CS, len);
}

/* What the sums of file f must be; sha: with VH_SHA256. */
static void
expect_sums(struct fx *fx, int f, const struct vsum *s, int sha_on)
{
	struct sha256		*sha = sha256_new();
	XXH128_canonical_t	 canon;
	XXH3_state_t		*lst = XXH3_createState();
	uint8_t			 want[SHA256_LEN], le[8];
	uint32_t		 c;

	sha256_update(sha, fx->data[f], sizes[f]);
	sha256_final(sha, want);
	assert_int_equal(s->state, VS_DONE);
	assert_int_equal(s->has_sha, sha_on);
	if (sha_on)
		assert_memory_equal(s->sha, want, SHA256_LEN);
	XXH128_canonicalFromHash(&canon, XXH3_128bits(fx->data[f], sizes[f]));
	assert_memory_equal(s->xxh, canon.digest, 16);
	XXH3_128bits_reset(lst);
	for (c = 0; c < fx->files[f].nchunks; c++) {
		wire_put_u64(le, chunk_hash(fx, f, c));
		XXH3_128bits_update(lst, le, sizeof(le));
	}
	XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(lst));
	assert_memory_equal(s->lst, canon.digest, 16);
	XXH3_freeState(lst);
}

/* Every chunk durable, in reverse order, in two batches. */
static void
test_out_of_order(void **state)
{
	struct fx		*fx = *state;
	struct verifier		*v;
	struct vds		*vd;
	const struct vsum	*s;
	char			 err[256];
	int			 f, c, k, dio, sha;

	for (k = 0; k < 4; k++) {
		dio = k & 1;
		sha = k >> 1;
		assert_int_equal(verifier_start(&v), SL_OK);
		vd = verifier_track(v, fx->dfd, &fx->d, fx->files, 4,
		    (dio ? VH_DIO : 0) | (sha ? VH_SHA256 : 0));
		assert_non_null(vd);
		for (f = 3; f >= 0; f--) {
			for (c = (int)fx->files[f].nchunks - 1; c >= 0; c--)
				verifier_durable(v, vd, (uint32_t)f, (uint32_t)c,
				    chunk_hash(fx, f, (uint32_t)c));
			if (f == 2)
				verifier_kick(v);
		}
		verifier_kick(v);
		err[0] = '\0';
		s = verifier_finish(v, vd, err, sizeof(err));
		assert_string_equal(err, "");
		for (f = 0; f < 4; f++)
			expect_sums(fx, f, &s[f], sha);
		verifier_drop(v, vd);
		verifier_stop(v);
	}
}

/* The bytes on disk of chunk 2 of a.bin are not what arrived. */
static void
test_mismatch(void **state)
{
	struct fx		*fx = *state;
	struct verifier		*v;
	struct vds		*vd;
	const struct vsum	*s;
	char			 err[256];
	int			 f, fd;
	uint32_t		 c;

	fd = openat(fx->dfd, "a.bin", O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 2 * CS + 5), 1);
	close(fd);
	assert_int_equal(verifier_start(&v), SL_OK);
	vd = verifier_track(v, fx->dfd, &fx->d, fx->files, 4, VH_DIO | VH_SHA256);
	assert_non_null(vd);
	for (f = 0; f < 4; f++)
		for (c = 0; c < fx->files[f].nchunks; c++)
			verifier_durable(v, vd, (uint32_t)f, c, chunk_hash(fx, f, c));
	verifier_kick(v);
	s = verifier_finish(v, vd, err, sizeof(err));
	assert_int_equal(s[0].state, VS_BAD);
	assert_non_null(strstr(err, "a.bin: chunk 2 on disk differs"));
	for (f = 1; f < 4; f++)
		expect_sums(fx, f, &s[f], 1);
	verifier_drop(v, vd);
	verifier_stop(v);
}

/* Chunk 1 of c.bin never becomes durable here: finish returns anyway,
 * with that file left for publish_commit. */
static void
test_stall(void **state)
{
	struct fx		*fx = *state;
	struct verifier		*v;
	struct vds		*vd;
	const struct vsum	*s;
	int			 f;
	uint32_t		 c;

	assert_int_equal(verifier_start(&v), SL_OK);
	vd = verifier_track(v, fx->dfd, &fx->d, fx->files, 4, VH_SHA256);
	assert_non_null(vd);
	for (f = 0; f < 4; f++)
		for (c = 0; c < fx->files[f].nchunks; c++)
			if (!(f == 3 && c == 1))
				verifier_durable(v, vd, (uint32_t)f, c,
				    chunk_hash(fx, f, c));
	verifier_kick(v);
	s = verifier_finish(v, vd, NULL, 0);
	for (f = 0; f < 3; f++)
		expect_sums(fx, f, &s[f], 1);
	assert_int_equal(s[3].state, VS_TODO);
	/* out-of-range chunks are ignored, not written past the bitmap */
	verifier_durable(v, vd, 9, 0, 0);
	verifier_durable(v, vd, 0, 999, 0);
	verifier_drop(v, vd);
	/* dropping while tracked elsewhere, then stop with one still tracked */
	vd = verifier_track(v, fx->dfd, &fx->d, fx->files, 4, VH_SHA256);
	assert_non_null(vd);
	verifier_durable(v, vd, 0, 0, chunk_hash(fx, 0, 0));
	verifier_kick(v);
	verifier_stop(v);
}

/* ---- from memory --------------------------------------------------------- */

/* Two files on the O_DIRECT path (>= FSX_DIO_MIN_FILE) and one small
 * file that stays with the re-read. */
#define MCS	(256u * 1024)
#define MNF	3
static const uint64_t msizes[MNF] = { 6 * MCS + 77, 5 * MCS, 1000 };

struct mfx {
	struct file_rec	 files[MNF];
	uint8_t		*data[MNF];
	struct ds_rec	 d;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 released[64];	/* by global chunk */
};

static struct mfx *
mfx_new(void)
{
	struct mfx	*m = calloc(1, sizeof(*m));
	uint64_t	 first = 0, k;
	int		 i;

	assert_non_null(m);
	for (i = 0; i < MNF; i++) {
		m->files[i].idx = (uint32_t)i;
		m->files[i].size = msizes[i];
		m->files[i].nchunks = (uint32_t)((msizes[i] + MCS - 1) / MCS);
		m->files[i].first_chunk = first;
		m->files[i].path = (char *)"m.bin";
		first += m->files[i].nchunks;
		m->data[i] = malloc(msizes[i]);
		for (k = 0; k < msizes[i]; k++)
			m->data[i][k] = (uint8_t)(k * 31 + (uint64_t)i + k / 1009);
	}
	assert_true(first <= 64);
	m->d.id = 0x77;
	m->d.chunk_size = MCS;
	m->d.nchunks = first;
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	return m;
}

static void
mfx_free(struct mfx *m)
{
	int i;

	for (i = 0; i < MNF; i++)
		free(m->data[i]);
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv);
	free(m);
}

struct tok {
	struct mfx	*m;
	uint64_t	 g;
};
static struct tok toks[64];

static void
on_release(void *arg)
{
	struct tok *t = arg;

	pthread_mutex_lock(&t->m->mu);
	t->m->released[t->g]++;
	pthread_cond_broadcast(&t->m->cv);
	pthread_mutex_unlock(&t->m->mu);
}

static uint64_t
mhash(struct mfx *m, int f, uint32_t c)
{
	return XXH3_64bits(m->data[f] + (size_t)c * MCS,
	    wire_chunk_len(msizes[f], MCS, c));
}

/* Feed chunk c of file f as a writer would; 1 = done at once. */
static int
feed(struct verifier *v, struct vds *vd, struct mfx *m, int f, uint32_t c)
{
	uint64_t g = m->files[f].first_chunk + c;

	toks[g] = (struct tok){ m, g };
	verifier_ref(v, vd);
	return verifier_feed(v, vd, (uint32_t)f, c, m->data[f] + (size_t)c * MCS,
	    wire_chunk_len(msizes[f], MCS, c), mhash(m, f, c), on_release, &toks[g]);
}

/* The sums of the in-memory file f of m. */
static void
expect_msums(struct mfx *m, int f, const struct vsum *s, int sha_on)
{
	struct sha256		*sha = sha256_new();
	XXH128_canonical_t	 canon;
	uint8_t			 want[SHA256_LEN];

	sha256_update(sha, m->data[f], msizes[f]);
	sha256_final(sha, want);
	assert_int_equal(s->state, VS_DONE);
	assert_int_equal(s->has_sha, sha_on);
	if (sha_on)
		assert_memory_equal(s->sha, want, SHA256_LEN);
	XXH128_canonicalFromHash(&canon, XXH3_128bits(m->data[f], msizes[f]));
	assert_memory_equal(s->xxh, canon.digest, 16);
}

/* One thread, file 0 fed 3 1 2 0 5 4 plus resends: parked chunks are
 * released exactly once, when the cursor reaches them. */
static void
test_mem_order(void **state)
{
	struct mfx		*m = mfx_new();
	struct verifier		*v;
	struct vds		*vd;
	const struct vsum	*s;
	uint32_t		 c;

	(void)state;
	assert_int_equal(verifier_start(&v), SL_OK);
	vd = verifier_track(v, -1, &m->d, m->files, MNF, VH_DIO | VH_MEM | VH_SHA256);
	assert_non_null(vd);
	assert_int_equal(feed(v, vd, m, 0, 3), 0);
	assert_int_equal(feed(v, vd, m, 0, 1), 0);
	assert_int_equal(feed(v, vd, m, 0, 2), 0);
	assert_int_equal(m->released[1] + m->released[2] + m->released[3], 0);
	assert_int_equal(feed(v, vd, m, 0, 0), 1);	/* hashes 0..3 */
	assert_int_equal(m->released[1], 1);
	assert_int_equal(m->released[2], 1);
	assert_int_equal(m->released[3], 1);
	assert_int_equal(m->released[0], 0);	/* the caller's own: not called */
	assert_int_equal(feed(v, vd, m, 0, 2), 1);	/* a resend: not hashed again */
	assert_int_equal(feed(v, vd, m, 0, 5), 0);
	assert_int_equal(feed(v, vd, m, 0, 6), 0);
	assert_int_equal(feed(v, vd, m, 0, 6), 0);	/* resend of a parked one */
	assert_int_equal(feed(v, vd, m, 0, 4), 1);
	assert_int_equal(m->released[5], 1);
	assert_int_equal(m->released[6], 2);	/* both copies, once each */
	for (c = 0; c < m->files[1].nchunks; c++)
		assert_int_equal(feed(v, vd, m, 1, c), 1);
	/* the small file is not hashed from memory */
	assert_int_equal(feed(v, vd, m, 2, 0), 1);
	s = verifier_finish(v, vd, NULL, 0);
	expect_msums(m, 0, &s[0], 1);
	expect_msums(m, 1, &s[1], 1);
	assert_int_equal(s[2].state, VS_TODO);
	verifier_drop(v, vd);
	verifier_stop(v);
	mfx_free(m);
}

/* Four "streams" on four threads, each feeding an increasing subsequence
 * of both files (chunk i goes to stream i % 4) and waiting, like a held
 * stream, until its chunk is released before it takes the next. */
struct wctx {
	struct verifier	*v;
	struct vds	*vd;
	struct mfx	*m;
	int		 k;
};

static void *
stream_thread(void *arg)
{
	struct wctx	*w = arg;
	uint64_t	 g;
	int		 f;
	uint32_t	 c;

	for (f = 0; f < 2; f++)
		for (c = (uint32_t)w->k; c < w->m->files[f].nchunks; c += 4) {
			g = w->m->files[f].first_chunk + c;
			if (feed(w->v, w->vd, w->m, f, c))
				continue;
			pthread_mutex_lock(&w->m->mu);
			while (w->m->released[g] == 0)
				pthread_cond_wait(&w->m->cv, &w->m->mu);
			pthread_mutex_unlock(&w->m->mu);
		}
	return NULL;
}

static void
test_mem_threads(void **state)
{
	struct mfx		*m;
	struct verifier		*v;
	struct vds		*vd;
	const struct vsum	*s;
	struct wctx		 w[4];
	pthread_t		 th[4];
	int			 i, round;

	(void)state;
	for (round = 0; round < 20; round++) {
		m = mfx_new();
		assert_int_equal(verifier_start(&v), SL_OK);
		/* odd rounds without SHA-256, the default */
		vd = verifier_track(v, -1, &m->d, m->files, MNF, VH_DIO | VH_MEM |
		    (round & 1 ? 0 : VH_SHA256));
		assert_non_null(vd);
		for (i = 0; i < 4; i++) {
			w[i] = (struct wctx){ v, vd, m, i };
			assert_int_equal(pthread_create(&th[i], NULL, stream_thread,
			    &w[i]), 0);
		}
		for (i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
		s = verifier_finish(v, vd, NULL, 0);
		expect_msums(m, 0, &s[0], !(round & 1));
		expect_msums(m, 1, &s[1], !(round & 1));
		assert_int_equal(verifier_expire(v, 1e300), 0);	/* none parked */
		verifier_drop(v, vd);
		verifier_stop(v);
		mfx_free(m);
	}
}

/* Chunks 2 and 3 wait for a chunk 1 that does not come: expire gives the
 * file up, releases them, and later chunks of it are not hashed. */
static void
test_mem_expire(void **state)
{
	struct mfx		*m = mfx_new();
	struct verifier		*v;
	struct vds		*vd;
	const struct vsum	*s;

	(void)state;
	assert_int_equal(verifier_start(&v), SL_OK);
	vd = verifier_track(v, -1, &m->d, m->files, MNF, VH_DIO | VH_MEM | VH_SHA256);
	assert_non_null(vd);
	assert_int_equal(feed(v, vd, m, 0, 0), 1);
	assert_int_equal(feed(v, vd, m, 0, 2), 0);
	assert_int_equal(feed(v, vd, m, 0, 3), 0);
	assert_int_equal(feed(v, vd, m, 1, 1), 0);	/* file 1: fresh park */
	assert_int_equal(verifier_expire(v, 0), 3);	/* nothing old enough */
	assert_int_equal(m->released[2] + m->released[3], 0);
	/* everything parked before now + 1 s, i.e. all of it */
	assert_int_equal(verifier_expire(v, 1e300), 0);
	assert_int_equal(m->released[2], 1);
	assert_int_equal(m->released[3], 1);
	assert_int_equal(m->released[m->files[1].first_chunk + 1], 1);
	assert_int_equal(feed(v, vd, m, 0, 1), 1);
	assert_int_equal(feed(v, vd, m, 0, 4), 1);	/* not parked: given up */
	s = verifier_finish(v, vd, NULL, 0);
	assert_int_equal(s[0].state, VS_TODO);		/* re-read at COMMIT */
	assert_int_equal(s[1].state, VS_TODO);
	verifier_drop(v, vd);
	verifier_stop(v);
	mfx_free(m);
}

/* A dataset dropped (published or abandoned) while a parked chunk and
 * jobs on their way still refer to it: the parked one is released, and
 * the last job's feed or unref frees it (ASan / valgrind check the rest). */
static void
test_mem_drop(void **state)
{
	struct mfx	*m = mfx_new();
	struct verifier	*v;
	struct vds	*vd;

	(void)state;
	assert_int_equal(verifier_start(&v), SL_OK);
	vd = verifier_track(v, -1, &m->d, m->files, MNF, VH_DIO | VH_MEM | VH_SHA256);
	assert_non_null(vd);
	assert_int_equal(feed(v, vd, m, 0, 1), 0);
	verifier_ref(v, vd);		/* a job still writing */
	verifier_ref(v, vd);		/* one whose write will fail */
	verifier_drop(v, vd);
	assert_int_equal(m->released[1], 1);
	toks[0] = (struct tok){ m, 0 };
	assert_int_equal(verifier_feed(v, vd, 0, 0, m->data[0], MCS,
	    mhash(m, 0, 0), on_release, &toks[0]), 1);
	verifier_unref(v, vd);		/* frees it */
	verifier_stop(v);
	mfx_free(m);
}

/* Write file f's one chunk (test_written) from a copy of its bytes
 * (bad: one byte changed after the arrival check, as a buffer reused too
 * early). */
static void
written(struct verifier *v, struct vds *vd, struct fx *fx, int f, uint32_t chunk,
    int bad)
{
	uint64_t	 off = (uint64_t)chunk * CS;
	uint32_t	 len = fx->files[f].nchunks == 1 ? (uint32_t)sizes[f] :
			    wire_chunk_len(sizes[f], CS, chunk);
	uint8_t		*p = malloc(len);

	assert_non_null(p);
	memcpy(p, fx->data[f] + off, len);
	if (bad)
		p[len / 2] ^= 0x40;
	verifier_written(v, vd, (uint32_t)f, chunk, p, len,
	    XXH3_64bits(fx->data[f] + off, len));
	free(p);	/* not kept */
}

/* The sums of file f as one chunk. */
static void
expect_one(struct fx *fx, int f, const struct vsum *s)
{
	struct sha256		*sha = sha256_new();
	XXH128_canonical_t	 canon;
	uint8_t			 want[SHA256_LEN], le[8];

	sha256_update(sha, fx->data[f], sizes[f]);
	sha256_final(sha, want);
	assert_int_equal(s->state, VS_DONE);
	assert_memory_equal(s->sha, want, SHA256_LEN);
	XXH128_canonicalFromHash(&canon, XXH3_128bits(fx->data[f], sizes[f]));
	assert_memory_equal(s->xxh, canon.digest, 16);
	wire_put_u64(le, XXH3_64bits(fx->data[f], sizes[f]));
	XXH128_canonicalFromHash(&canon, XXH3_128bits(le, sizeof(le)));
	assert_memory_equal(s->lst, canon.digest, 16);
}

/* Files of one chunk hashed as written (VH_LOOP): no read, a buffer
 * changed after the arrival check makes the file VS_BAD, a resend too. */
static void
test_written(void **state)
{
	struct fx		*fx = *state;
	struct verifier		*v;
	struct vds		*vd;
	const struct vsum	*s;
	int			 f, fd;

	/* chunk_size 1 MiB: every file is one chunk (or none) */
	fx->d.chunk_size = 1u << 20;
	fx->d.nchunks = 0;
	for (f = 0; f < 4; f++) {
		fx->files[f].nchunks = sizes[f] ? 1 : 0;
		fx->files[f].first_chunk = fx->d.nchunks;
		fx->d.nchunks += fx->files[f].nchunks;
	}
	assert_int_equal(verifier_start(&v), SL_OK);
	vd = verifier_track(v, fx->dfd, &fx->d, fx->files, 4, VH_DIO | VH_LOOP |
	    VH_SHA256);
	assert_non_null(vd);
	written(v, vd, fx, 0, 0, 0);
	written(v, vd, fx, 2, 0, 1);
	written(v, vd, fx, 3, 0, 0);
	written(v, vd, fx, 3, 0, 1);		/* a resend, changed */
	/* a.bin on disk is then spoiled: nobody reads it any more */
	fd = openat(fx->dfd, names[0], O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	close(fd);
	for (f = 0; f < 4; f++)
		if (fx->files[f].nchunks)
			verifier_durable(v, vd, (uint32_t)f, 0,
			    XXH3_64bits(fx->data[f], sizes[f]));
	verifier_kick(v);
	s = verifier_finish(v, vd, NULL, 0);
	expect_one(fx, 0, &s[0]);
	expect_sums(fx, 1, &s[1], 1);	/* empty */
	assert_int_equal(s[2].state, VS_BAD);
	assert_int_equal(s[3].state, VS_BAD);
	verifier_drop(v, vd);
	verifier_stop(v);
}

/* Files of several chunks, and every file without VH_LOOP, are re-read
 * whatever verifier_written is told. */
static void
test_written_reread(void **state)
{
	struct fx		*fx = *state;
	struct verifier		*v;
	struct vds		*vd;
	const struct vsum	*s;
	char			 err[256];
	uint32_t		 c;
	int			 k, f;

	for (k = 0; k < 2; k++) {
		assert_int_equal(verifier_start(&v), SL_OK);
		vd = verifier_track(v, fx->dfd, &fx->d, fx->files, 4, k ? VH_LOOP : 0);
		assert_non_null(vd);
		for (f = 0; f < 4; f++)
			for (c = 0; c < fx->files[f].nchunks; c++)
				written(v, vd, fx, f, c, c == 1);	/* ignored */
		for (f = 0; f < 4; f++)
			for (c = 0; c < fx->files[f].nchunks; c++)
				verifier_durable(v, vd, (uint32_t)f, c,
				    chunk_hash(fx, f, c));
		verifier_kick(v);
		err[0] = '\0';
		s = verifier_finish(v, vd, err, sizeof(err));
		assert_string_equal(err, "");
		for (f = 0; f < 4; f++)
			expect_sums(fx, f, &s[f], 0);	/* re-read from the disk */
		verifier_drop(v, vd);
		verifier_stop(v);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_out_of_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stall, setup, teardown),
		cmocka_unit_test(test_mem_order),
		cmocka_unit_test(test_mem_threads),
		cmocka_unit_test(test_mem_expire),
		cmocka_unit_test(test_mem_drop),
		cmocka_unit_test_setup_teardown(test_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_written_reread, setup, teardown),
	};

	return cmocka_run_group_tests_name("verify", tests, NULL, NULL);
}
