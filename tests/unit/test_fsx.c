// links: agent/libstore.a agent/libbase.a
/*
 * test_fsx.c: fsx wrappers.  Every confinement test runs twice: with
 * openat2 and with the component-walk fallback used on kernels without it.
 * Each test works in a fresh mkdtemp root beside a fresh "outside"
 * directory that must never be touched.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "sluice.h"
#include "fsx.h"

/* test hook in agent/store/fsx.c, not in fsx.h */
void	fsx_test_force_walk(int on);

struct fx {
	char	root[64];
	char	out[64];
	int	rootfd;
};

static int
exists_at(const char *dir, const char *name)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return lstat(p, &st) == 0;
}

static int
count_entries(const char *dir)
{
	char cmd[256];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	f = popen(cmd, "r");
	if (f == NULL)
		return -1;
	if (fscanf(f, "%d", &n) != 1)
		n = -1;
	pclose(f);
	return n;
}

static int
setup(void **state, int walk)
{
	struct fx *fx;
	char p[128];
	int fd;

	fx = calloc(1, sizeof(*fx));
	if (fx == NULL)
		return -1;
	snprintf(fx->root, sizeof(fx->root), "/tmp/sluice-test-fsx.XXXXXX");
	snprintf(fx->out, sizeof(fx->out), "/tmp/sluice-outside.XXXXXX");
	if (mkdtemp(fx->root) == NULL || mkdtemp(fx->out) == NULL)
		return -1;
	snprintf(p, sizeof(p), "%s/secret", fx->out);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, "secret", 6) != 6)
		return -1;
	close(fd);
	fx->rootfd = open(fx->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fx->rootfd < 0)
		return -1;
	fsx_test_force_walk(walk);
	*state = fx;
	return 0;
}

static int
setup_openat2(void **state)
{
	return setup(state, 0);
}

static int
setup_walk(void **state)
{
	return setup(state, 1);
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[256];
	int rc;

	fsx_test_force_walk(0);
	close(fx->rootfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", fx->root, fx->out);
	rc = system(cmd);
	free(fx);
	return rc == 0 ? 0 : -1;
}

/* The outside directory holds exactly its secret, unchanged. */
static void
assert_outside_intact(struct fx *fx)
{
	char p[128], buf[16];
	int fd;
	ssize_t n;

	assert_int_equal(count_entries(fx->out), 1);
	snprintf(p, sizeof(p), "%s/secret", fx->out);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "secret", 6);
}

static void
test_nested_create(void **state)
{
	struct fx *fx = *state;
	struct stat st;
	char p[128];
	int fd;

	assert_int_equal(fsx_mkparents_beneath(fx->rootfd, "a/b/c/file.txt"), 0);
	assert_int_equal(fsx_mkparents_beneath(fx->rootfd, "a/b/c/file.txt"), 0);
	assert_int_equal(fsx_mkparents_beneath(fx->rootfd, "./a//b/d/x"), 0);
	assert_int_equal(fsx_mkparents_beneath(fx->rootfd, "top.txt"), 0);
	fd = fsx_open_beneath(fx->rootfd, "a/b/c/file.txt",
	    O_WRONLY | O_CREAT | O_EXCL, 0640);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(write(fd, "hi", 2), 2);
	close(fd);
	snprintf(p, sizeof(p), "%s/a/b/c/file.txt", fx->root);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 2);
	snprintf(p, sizeof(p), "%s/a/b/d", fx->root);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_false(exists_at(fx->root, "top.txt"));

	fd = fsx_open_beneath(fx->rootfd, "a/b/c/file.txt", O_RDONLY, 0);
	assert_true(fd >= 0);
	close(fd);
	fd = fsx_open_beneath(fx->rootfd, "a/b", O_RDONLY | O_DIRECTORY, 0);
	assert_true(fd >= 0);
	close(fd);
	/* missing file: ENOENT, not created */
	errno = 0;
	assert_int_equal(fsx_open_beneath(fx->rootfd, "a/nope", O_RDONLY, 0), -1);
	assert_int_equal(errno, ENOENT);
	/* a file used as a directory */
	errno = 0;
	assert_int_equal(fsx_mkparents_beneath(fx->rootfd, "a/b/c/file.txt/z/w"), -1);
	assert_int_equal(errno, ENOTDIR);
}

static void
test_symlink_dir_component(void **state)
{
	struct fx *fx = *state;
	int fd;

	assert_int_equal(symlinkat(fx->out, fx->rootfd, "evil"), 0);
	assert_int_equal(mkdirat(fx->rootfd, "d", 0755), 0);
	assert_int_equal(symlinkat(fx->out, fx->rootfd, "d/link"), 0);
	assert_int_equal(symlinkat("../..", fx->rootfd, "d/up"), 0);

	errno = 0;
	fd = fsx_open_beneath(fx->rootfd, "evil/x", O_WRONLY | O_CREAT, 0644);
	assert_int_equal(fd, -1);
	assert_true(errno == ELOOP || errno == EXDEV);
	errno = 0;
	fd = fsx_open_beneath(fx->rootfd, "d/link/secret", O_RDONLY, 0);
	assert_int_equal(fd, -1);
	assert_true(errno == ELOOP || errno == EXDEV);
	errno = 0;
	fd = fsx_open_beneath(fx->rootfd, "d/up/x", O_WRONLY | O_CREAT, 0644);
	assert_int_equal(fd, -1);
	assert_true(errno == ELOOP || errno == EXDEV);

	errno = 0;
	assert_int_equal(fsx_mkparents_beneath(fx->rootfd, "evil/sub/x"), -1);
	assert_int_equal(errno, ELOOP);
	errno = 0;
	assert_int_equal(fsx_mkparents_beneath(fx->rootfd, "d/link/sub/x"), -1);
	assert_int_equal(errno, ELOOP);
	errno = 0;
	assert_int_equal(fsx_mkparents_beneath(fx->rootfd, "evil/x"), -1);
	assert_int_equal(errno, ELOOP);
	assert_outside_intact(fx);
}

static void
test_symlink_final_component(void **state)
{
	struct fx *fx = *state;
	char target[128];
	int fd;

	snprintf(target, sizeof(target), "%s/secret", fx->out);
	assert_int_equal(symlinkat(target, fx->rootfd, "fin"), 0);
	snprintf(target, sizeof(target), "%s/new", fx->out);
	assert_int_equal(symlinkat(target, fx->rootfd, "dangling"), 0);
	assert_int_equal(symlinkat(fx->out, fx->rootfd, "dirlink"), 0);

	errno = 0;
	fd = fsx_open_beneath(fx->rootfd, "fin", O_RDONLY, 0);
	assert_int_equal(fd, -1);
	assert_true(errno == ELOOP || errno == EXDEV);
	errno = 0;
	fd = fsx_open_beneath(fx->rootfd, "fin", O_WRONLY | O_TRUNC, 0);
	assert_int_equal(fd, -1);
	errno = 0;
	fd = fsx_open_beneath(fx->rootfd, "dangling", O_WRONLY | O_CREAT, 0644);
	assert_int_equal(fd, -1);
	assert_true(errno == ELOOP || errno == EXDEV || errno == EEXIST);
	errno = 0;
	fd = fsx_open_beneath(fx->rootfd, "dirlink", O_RDONLY | O_DIRECTORY, 0);
	assert_int_equal(fd, -1);
	assert_int_equal(errno, ELOOP);
	assert_outside_intact(fx);
}

/* What an escape would create beside the root (in /tmp). */
#define ESC_X	"sluice-fsx-escaped-x"
#define ESC_Y	"sluice-fsx-escaped-y"

static void
test_dotdot_refused(void **state)
{
	struct fx *fx = *state;
	char parent[128], *slash;
	int before, fd;

	snprintf(parent, sizeof(parent), "%s", fx->root);
	slash = strrchr(parent, '/');
	*slash = '\0';
	before = count_entries(parent);

	errno = 0;
	fd = fsx_open_beneath(fx->rootfd, "../" ESC_X, O_WRONLY | O_CREAT, 0644);
	assert_int_equal(fd, -1);
	assert_int_equal(errno, EXDEV);
	assert_int_equal(mkdirat(fx->rootfd, "a", 0755), 0);
	errno = 0;
	fd = fsx_open_beneath(fx->rootfd, "a/../../" ESC_X, O_WRONLY | O_CREAT, 0644);
	assert_int_equal(fd, -1);
	assert_int_equal(errno, EXDEV);
	errno = 0;
	fd = fsx_open_beneath(fx->rootfd, "/etc/hostname", O_RDONLY, 0);
	assert_int_equal(fd, -1);
	assert_int_equal(errno, EXDEV);
	errno = 0;
	assert_int_equal(fsx_mkparents_beneath(fx->rootfd, "../" ESC_Y "/z"), -1);
	assert_int_equal(errno, EXDEV);
	errno = 0;
	assert_int_equal(fsx_mkparents_beneath(fx->rootfd, "/tmp/" ESC_Y "/z"), -1);
	assert_int_equal(errno, EXDEV);
	assert_false(exists_at(parent, ESC_X));
	assert_false(exists_at(parent, ESC_Y));
	/* the count may move if other tests share /tmp; ESC_X and ESC_Y (names
	 * nothing else uses) are the check */
	(void)before;
}

static void
test_rename_noreplace(void **state)
{
	struct fx *fx = *state;
	int fd;

	fd = fsx_open_beneath(fx->rootfd, "f1", O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	fd = fsx_open_beneath(fx->rootfd, "f2", O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	errno = 0;
	assert_int_equal(fsx_rename_noreplace(fx->rootfd, "f1", fx->rootfd, "f2"), -1);
	assert_int_equal(errno, EEXIST);
	assert_true(exists_at(fx->root, "f1"));
	assert_int_equal(fsx_rename_noreplace(fx->rootfd, "f1", fx->rootfd, "f3"), 0);
	assert_false(exists_at(fx->root, "f1"));
	assert_true(exists_at(fx->root, "f3"));
}

static void
test_rmtree(void **state)
{
	struct fx *fx = *state;
	char target[128];
	int fd, i;

	assert_int_equal(fsx_mkparents_beneath(fx->rootfd, "t/a/b/c/f"), 0);
	for (i = 0; i < 50; i++) {
		char name[32];

		snprintf(name, sizeof(name), "t/a/b/f%d", i);
		fd = fsx_open_beneath(fx->rootfd, name, O_WRONLY | O_CREAT, 0644);
		assert_true(fd >= 0);
		close(fd);
	}
	assert_int_equal(symlinkat(fx->out, fx->rootfd, "t/a/outdir"), 0);
	snprintf(target, sizeof(target), "%s/secret", fx->out);
	assert_int_equal(symlinkat(target, fx->rootfd, "t/a/b/outfile"), 0);
	assert_int_equal(mkdirat(fx->rootfd, "t/empty", 0755), 0);

	assert_int_equal(fsx_rmtree_at(fx->rootfd, "t"), 0);
	assert_false(exists_at(fx->root, "t"));
	assert_outside_intact(fx);

	/* a symlink given as the tree itself: only the link goes */
	assert_int_equal(symlinkat(fx->out, fx->rootfd, "tl"), 0);
	assert_int_equal(fsx_rmtree_at(fx->rootfd, "tl"), 0);
	assert_false(exists_at(fx->root, "tl"));
	assert_outside_intact(fx);

	errno = 0;
	assert_int_equal(fsx_rmtree_at(fx->rootfd, "nope"), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_sync(void **state)
{
	struct fx *fx = *state;
	int fds[20], i;

	for (i = 0; i < 20; i++) {
		char name[16];

		snprintf(name, sizeof(name), "s%d", i);
		fds[i] = fsx_open_beneath(fx->rootfd, name, O_WRONLY | O_CREAT, 0644);
		assert_true(fds[i] >= 0);
		assert_int_equal(write(fds[i], name, strlen(name)), (ssize_t)strlen(name));
	}
	assert_int_equal(fsx_sync_fds(fds, 3), 0);
	assert_int_equal(fsx_sync_fds(fds, 20), 0);
	assert_int_equal(fsx_sync_fds(fds, 0), 0);
	assert_int_equal(fsx_fsync_dir(fx->rootfd), 0);
	assert_true(fsx_free_bytes(fx->rootfd) > 0);
	for (i = 0; i < 20; i++)
		close(fds[i]);
	assert_int_equal(fsx_sync_fds(fds, 3), -1);	/* closed fds */
	assert_int_equal(fsx_free_bytes(-1), -1);
}

/*
 * Direct I/O: every shape of write the sink makes (aligned chunk, chunk in
 * an unaligned buffer with and without a bounce buffer, unaligned tail),
 * then read back O_DIRECT and through the cache, byte for byte.
 */
static void
test_dio_roundtrip(void **state)
{
	struct fx	*fx = *state;
	const size_t	 A = FSX_DIO_ALIGN, size = 3 * 65536 + 1000;
	uint8_t		*src, *bounce, *back, *odd;
	size_t		 i;
	int		 fd, fl;

	src = malloc(size);
	back = fsx_dio_alloc(size);
	bounce = fsx_dio_alloc(65536);
	odd = malloc(65536 + 1);
	assert_non_null(src);
	assert_non_null(back);
	assert_non_null(bounce);
	assert_non_null(odd);
	assert_true(((uintptr_t)back % A) == 0);
	for (i = 0; i < size; i++)
		src[i] = (uint8_t)(i * 131 + 7);
	assert_true(fsx_dio_aligned(back, 65536, 65536));
	assert_false(fsx_dio_aligned(back + 1, 65536, 0));
	assert_false(fsx_dio_aligned(back, 1000, 0));
	assert_false(fsx_dio_aligned(back, 65536, 512));

	fd = fsx_open_dio(fx->rootfd, "d", O_WRONLY | O_CREAT, 1);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	/* chunk 0 from an aligned buffer */
	memcpy(back, src, 65536);
	assert_int_equal(fsx_pwrite_all(fd, back, 65536, 0, bounce), 0);
	/* chunk 1 from an unaligned buffer, through the bounce buffer */
	memcpy(odd + 1, src + 65536, 65536);
	assert_int_equal(fsx_pwrite_all(fd, odd + 1, 65536, 65536, bounce), 0);
	/* chunk 2 unaligned, no bounce buffer: through the cache */
	memcpy(odd + 1, src + 2 * 65536, 65536);
	assert_int_equal(fsx_pwrite_all(fd, odd + 1, 65536, 2 * 65536, NULL), 0);
	/* the 1000-byte tail */
	assert_int_equal(fsx_pwrite_all(fd, src + 3 * 65536, 1000, 3 * 65536,
	    bounce), 0);
	/* O_DIRECT is back on after the cached writes (where the file
	 * system takes O_DIRECT at all: probe with a plain open) */
	fl = openat(fx->rootfd, "probe", O_WRONLY | O_CREAT | O_DIRECT, 0600);
	if (fl >= 0) {
		close(fl);
		assert_true(fcntl(fd, F_GETFL) & O_DIRECT);
	}
	assert_int_equal(fdatasync(fd), 0);
	close(fd);

	/* read back O_DIRECT, the tail with a read that runs past the end */
	fd = fsx_open_dio(fx->rootfd, "d", O_RDONLY, 1);
	assert_true(fd >= 0);
	memset(back, 0, size);
	for (i = 0; i < 4; i++) {
		size_t len = i < 3 ? 65536 : 1000;
		assert_int_equal(fsx_pread_all(fd, back + i * 65536, len,
		    (off_t)(i * 65536)), 0);
	}
	assert_memory_equal(back, src, size);
	/* past the end: -1 with errno 0 */
	errno = EINVAL;
	assert_int_equal(fsx_pread_all(fd, back, 65536, (off_t)(4 * 65536)), -1);
	assert_int_equal(errno, 0);
	close(fd);

	/* and through the cache, unaligned */
	fd = fsx_open_dio(fx->rootfd, "d", O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(fsx_pread_all(fd, odd + 1, 1000, 3 * 65536), 0);
	assert_memory_equal(odd + 1, src + 3 * 65536, 1000);
	close(fd);
	free(src);
	free(back);
	free(bounce);
	free(odd);
}

#define BOTH(t) \
	cmocka_unit_test_setup_teardown(t, setup_openat2, teardown), \
	cmocka_unit_test_setup_teardown(t, setup_walk, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_nested_create),
		BOTH(test_symlink_dir_component),
		BOTH(test_symlink_final_component),
		BOTH(test_dotdot_refused),
		cmocka_unit_test_setup_teardown(test_rename_noreplace,
		    setup_openat2, teardown),
		BOTH(test_rmtree),
		cmocka_unit_test_setup_teardown(test_sync, setup_openat2, teardown),
		cmocka_unit_test_setup_teardown(test_dio_roundtrip, setup_openat2,
		    teardown),
	};

	return cmocka_run_group_tests_name("fsx", tests, NULL, NULL);
}
