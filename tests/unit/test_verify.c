// links: agent/sink_verify.o agent/fsx.o agent/digest.o agent/log.o
/*
 * test_verify.c: the sink's re-read thread (verify.h) against real files:
 * chunks made durable out of order, a file whose bytes on disk differ from
 * what arrived, a chunk that never becomes durable (finish must not hang),
 * empty files, and the sums compared with digests computed here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
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

/* What the sums of file f must be. */
static void
expect_sums(struct fx *fx, int f, const struct vsum *s)
{
	struct sha256		*sha = sha256_new();
	XXH128_canonical_t	 canon;
	XXH3_state_t		*lst = XXH3_createState();
	uint8_t			 want[SHA256_LEN], le[8];
	uint32_t		 c;

	sha256_update(sha, fx->data[f], sizes[f]);
	sha256_final(sha, want);
	assert_int_equal(s->state, VS_DONE);
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
	int			 f, c, dio;

	for (dio = 0; dio < 2; dio++) {
		assert_int_equal(verifier_start(&v), SL_OK);
		vd = verifier_track(v, fx->dfd, &fx->d, fx->files, 4, dio);
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
			expect_sums(fx, f, &s[f]);
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
	vd = verifier_track(v, fx->dfd, &fx->d, fx->files, 4, 1);
	assert_non_null(vd);
	for (f = 0; f < 4; f++)
		for (c = 0; c < fx->files[f].nchunks; c++)
			verifier_durable(v, vd, (uint32_t)f, c, chunk_hash(fx, f, c));
	verifier_kick(v);
	s = verifier_finish(v, vd, err, sizeof(err));
	assert_int_equal(s[0].state, VS_BAD);
	assert_non_null(strstr(err, "a.bin: chunk 2 on disk differs"));
	for (f = 1; f < 4; f++)
		expect_sums(fx, f, &s[f]);
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
	vd = verifier_track(v, fx->dfd, &fx->d, fx->files, 4, 0);
	assert_non_null(vd);
	for (f = 0; f < 4; f++)
		for (c = 0; c < fx->files[f].nchunks; c++)
			if (!(f == 3 && c == 1))
				verifier_durable(v, vd, (uint32_t)f, c,
				    chunk_hash(fx, f, c));
	verifier_kick(v);
	s = verifier_finish(v, vd, NULL, 0);
	for (f = 0; f < 3; f++)
		expect_sums(fx, f, &s[f]);
	assert_int_equal(s[3].state, VS_TODO);
	/* out-of-range chunks are ignored, not written past the bitmap */
	verifier_durable(v, vd, 9, 0, 0);
	verifier_durable(v, vd, 0, 999, 0);
	verifier_drop(v, vd);
	/* dropping while tracked elsewhere, then stop with one still tracked */
	vd = verifier_track(v, fx->dfd, &fx->d, fx->files, 4, 0);
	assert_non_null(vd);
	verifier_durable(v, vd, 0, 0, chunk_hash(fx, 0, 0));
	verifier_kick(v);
	verifier_stop(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_out_of_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stall, setup, teardown),
	};

	return cmocka_run_group_tests_name("verify", tests, NULL, NULL);
}
