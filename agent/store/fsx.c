/*
 * fsx.c: Linux file-system specifics behind small wrappers (STYLE 19).
 *
 * Opening beneath a directory: openat2(2) with RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS makes the kernel refuse any
 * ".." escape, absolute path or symlink anywhere on the path (EXDEV or
 * ELOOP).  On kernels before 5.6 openat2 is ENOSYS; we remember that once
 * and walk the path ourselves one component at a time with
 * openat(O_NOFOLLOW | O_DIRECTORY), refusing "..", which gives the same
 * guarantee for paths that pathchk already accepted.
 *
 * Directory creation and tree removal use the same walk: every directory
 * is entered through an fd opened with O_NOFOLLOW, so a symlink planted
 * where a directory is expected fails with ELOOP or ENOTDIR and nothing
 * outside the starting directory is created, opened or removed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

#include "sluice.h"
#include "fsx.h"

#define DIR_FLAGS	(O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* 0: not tried yet, 1: openat2 works, -1: ENOSYS, use the walk.  Atomic:
 * the sink's loop, writer and verifier threads all open files (TSan). */
static _Atomic int have_openat2;

/* Test hook, not part of fsx.h: force the component-walk fallback. */
void	fsx_test_force_walk(int on);

void
fsx_test_force_walk(int on)
{
	have_openat2 = on ? -1 : 0;
}

/*
 * Copy the next component of *pp into comp (NUL-terminated), skipping
 * empty and "." components.  Returns 1 with a component, 0 at the end,
 * -1 with errno (ENAMETOOLONG, or EXDEV for "..").
 */
static int
next_component(const char **pp, char comp[SL_MAX_COMPONENT + 1])
{
	const char *p = *pp, *e;
	size_t n;

	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0') {
			*pp = p;
			return 0;
		}
		e = strchrnul(p, '/');
		n = (size_t)(e - p);
		if (n == 1 && p[0] == '.') {
			p = e;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			errno = EXDEV;
			return -1;
		}
		if (n > SL_MAX_COMPONENT) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		*pp = e;
		return 1;
	}
}

/* 1 if only "/" and "." components follow p. */
static int
is_last(const char *p)
{
	const char *dummy = p;
	char comp[SL_MAX_COMPONENT + 1];
	int r, saved = errno;

	r = next_component(&dummy, comp);
	errno = saved;
	return r == 0;
}

static void
close_keep_errno(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
}

/* Open the directory comp in cur without following a symlink.  Linux
 * reports ENOTDIR for a symlink opened O_DIRECTORY | O_NOFOLLOW; say ELOOP
 * as openat2 does, so callers see one errno for "symlink refused". */
static int
open_dir_nofollow(int cur, const char *comp)
{
	struct stat st;
	int fd;

	fd = openat(cur, comp, DIR_FLAGS);
	if (fd < 0 && errno == ENOTDIR &&
	    fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		errno = ELOOP;
	return fd;
}

static int
open_walk(int dirfd, const char *rel, int flags, mode_t mode)
{
	char comp[SL_MAX_COMPONENT + 1];
	const char *p = rel;
	struct stat st;
	int cur = dirfd, fd, r;

	if (rel[0] == '/') {
		errno = EXDEV;
		return -1;
	}
	for (;;) {
		r = next_component(&p, comp);
		if (r < 0)
			goto fail;
		if (r == 0) {
			/* rel was "" or only "."s: the start directory. */
			if (rel[0] == '\0') {
				errno = ENOENT;
				goto fail;
			}
			fd = openat(cur, ".", flags | O_CLOEXEC, mode);
			break;
		}
		if (is_last(p)) {
			fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
			if (fd < 0 && errno == ENOTDIR && (flags & O_DIRECTORY) &&
			    fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode))
				errno = ELOOP;
			break;
		}
		fd = open_dir_nofollow(cur, comp);
		if (fd < 0)
			goto fail;
		if (cur != dirfd)
			close(cur);
		cur = fd;
	}
	if (cur != dirfd)
		close_keep_errno(cur);
	return fd;
fail:
	if (cur != dirfd)
		close_keep_errno(cur);
	return -1;
}

int
fsx_open_beneath(int dirfd, const char *rel, int flags, mode_t mode)
{
	struct open_how how;
	long fd;

	if (rel == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (have_openat2 >= 0) {
		memset(&how, 0, sizeof(how));
		how.flags = (unsigned)(flags | O_CLOEXEC);
		/* openat2 rejects a mode without O_CREAT / O_TMPFILE. */
		if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
			how.mode = mode;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		    RESOLVE_NO_MAGICLINKS;
		fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
		if (fd >= 0 || errno != ENOSYS) {
			have_openat2 = 1;
			return (int)fd;
		}
		have_openat2 = -1;
	}
	return open_walk(dirfd, rel, flags, mode);
}

int
fsx_mkparents_beneath(int dirfd, const char *rel)
{
	char comp[SL_MAX_COMPONENT + 1];
	const char *p = rel;
	int cur = dirfd, fd, r;

	if (rel == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (rel[0] == '/') {
		errno = EXDEV;
		return -1;
	}
	for (;;) {
		r = next_component(&p, comp);
		if (r < 0)
			goto fail;
		if (r == 0 || is_last(p))
			break;		/* comp is the final name: not created */
		if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST)
			goto fail;
		/* EEXIST may be a symlink: O_NOFOLLOW refuses it (ELOOP). */
		fd = open_dir_nofollow(cur, comp);
		if (fd < 0)
			goto fail;
		if (cur != dirfd)
			close(cur);
		cur = fd;
	}
	if (cur != dirfd)
		close(cur);
	return 0;
fail:
	if (cur != dirfd)
		close_keep_errno(cur);
	return -1;
}

/* Remove every entry of the open directory dfd (consumed). */
static int
rmtree_contents(int dfd)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	int isdir, rc = 0, pass;

	d = fdopendir(dfd);
	if (d == NULL) {
		close_keep_errno(dfd);
		return -1;
	}
	/* Entries removed while reading may shift the directory stream;
	 * a second pass catches anything readdir skipped. */
	for (pass = 0; pass < 3; pass++) {
		int removed = 0, seen = 0;

		rewinddir(d);
		for (;;) {
			errno = 0;
			de = readdir(d);
			if (de == NULL) {
				if (errno != 0)
					rc = -1;
				break;
			}
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			seen++;
			isdir = de->d_type == DT_DIR;
			if (de->d_type == DT_UNKNOWN) {
				if (fstatat(dirfd(d), de->d_name, &st,
				    AT_SYMLINK_NOFOLLOW) < 0) {
					if (errno == ENOENT)
						continue;
					rc = -1;
					goto out;
				}
				isdir = S_ISDIR(st.st_mode);
			}
			if (isdir)
				rc = fsx_rmtree_at(dirfd(d), de->d_name);
			else if (unlinkat(dirfd(d), de->d_name, 0) < 0 &&
			    errno != ENOENT)
				rc = -1;
			if (rc < 0)
				goto out;
			removed++;
		}
		if (rc < 0 || seen == 0 || removed == 0)
			break;
	}
out:
	{
		int saved = errno;

		closedir(d);
		errno = saved;
	}
	return rc;
}

int
fsx_rmtree_at(int dirfd, const char *name)
{
	int fd;

	fd = openat(dirfd, name, DIR_FLAGS);
	if (fd < 0) {
		if (errno == ENOTDIR || errno == ELOOP)
			return unlinkat(dirfd, name, 0);	/* file or symlink */
		return -1;
	}
	if (rmtree_contents(fd) < 0)
		return -1;
	return unlinkat(dirfd, name, AT_REMOVEDIR);
}

int
fsx_sync_fds(const int *fds, size_t n)
{
	size_t i;
	int rc = 0;

	if (n == 0)
		return 0;
	if (n > 16)
		return syncfs(fds[0]);
	for (i = 0; i < n; i++) {
		if (fdatasync(fds[i]) < 0)
			rc = -1;
	}
	return rc;
}

int
fsx_fsync_dir(int dirfd)
{
	return fsync(dirfd);
}

int
fsx_rename_noreplace(int fromdir, const char *from, int todir, const char *to)
{
	return renameat2(fromdir, from, todir, to, RENAME_NOREPLACE);
}

long long
fsx_free_bytes(int fd)
{
	struct statvfs sv;

	if (fstatvfs(fd, &sv) < 0)
		return -1;
	return (long long)sv.f_bavail * (long long)sv.f_frsize;
}

int
fsx_dio_aligned(const void *p, size_t len, off_t off)
{
	return ((uintptr_t)p % FSX_DIO_ALIGN) == 0 && len % FSX_DIO_ALIGN == 0 &&
	    off % FSX_DIO_ALIGN == 0;
}

void *
fsx_dio_alloc(size_t len)
{
	void	*p;

	len = (len + FSX_DIO_ALIGN - 1) / FSX_DIO_ALIGN * FSX_DIO_ALIGN;
	if (posix_memalign(&p, FSX_DIO_ALIGN, len ? len : FSX_DIO_ALIGN) != 0) {
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

int
fsx_open_dio(int dirfd, const char *rel, int flags, int dio)
{
	int	fd;

	if (dio) {
		fd = fsx_open_beneath(dirfd, rel, flags | O_DIRECT, 0);
		if (fd >= 0 || errno != EINVAL)
			return fd;
	}
	return fsx_open_beneath(dirfd, rel, flags, 0);
}

/* Set or clear O_DIRECT on fd; returns the previous flags or -1. */
static int
set_direct(int fd, int on)
{
	int	fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	if (((fl & O_DIRECT) != 0) != (on != 0) &&
	    fcntl(fd, F_SETFL, on ? fl | O_DIRECT : fl & ~O_DIRECT) < 0)
		return -1;
	return fl;
}

static int
pwrite_loop(int fd, const uint8_t *p, size_t len, off_t off)
{
	size_t	done;
	ssize_t	n;

	for (done = 0; done < len; done += (size_t)n) {
		n = pwrite(fd, p + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
	}
	return 0;
}

int
fsx_pwrite_cached(int fd, const void *p, size_t len, off_t off)
{
	return pwrite_loop(fd, p, len, off);
}

int
fsx_pwrite_all(int fd, const void *p, size_t len, off_t off, void *bounce)
{
	const uint8_t	*src = p;
	int		 fl, rc;

	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -1;
	if (!(fl & O_DIRECT))
		return pwrite_loop(fd, src, len, off);
	if (fsx_dio_aligned(NULL, len, off) && !fsx_dio_aligned(src, len, off) &&
	    bounce != NULL) {
		memcpy(bounce, src, len);
		src = bounce;
	}
	if (fsx_dio_aligned(src, len, off)) {
		rc = pwrite_loop(fd, src, len, off);
		if (rc == 0 || errno != EINVAL)
			return rc;
		/* The file system opened O_DIRECT but will not do it. */
		if (set_direct(fd, 0) < 0)
			return -1;
		return pwrite_loop(fd, src, len, off);
	}
	/* A tail or an odd chunk size: through the cache, this once. */
	if (set_direct(fd, 0) < 0)
		return -1;
	rc = pwrite_loop(fd, src, len, off);
	if (set_direct(fd, 1) < 0)
		rc = -1;
	return rc;
}

int
fsx_pread_all(int fd, void *p, size_t len, off_t off)
{
	uint8_t	*dst = p;
	size_t	 got, want;
	ssize_t	 n;
	int	 fl, direct;

	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -1;
	direct = (fl & O_DIRECT) != 0;
	if (direct && !fsx_dio_aligned(dst, 0, off)) {
		if (set_direct(fd, 0) < 0)
			return -1;
		direct = 0;
	}
	for (got = 0; got < len; got += (size_t)n) {
		want = len - got;
		if (direct)	/* may read past the end: the file's end stops it */
			want = (want + FSX_DIO_ALIGN - 1) / FSX_DIO_ALIGN * FSX_DIO_ALIGN;
		n = pread(fd, dst + got, want, off + (off_t)got);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n < 0 && errno == EINVAL && direct) {
			if (set_direct(fd, 0) < 0)
				return -1;
			direct = 0;
			n = 0;
			continue;
		}
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = 0;
			return -1;
		}
		if (direct && (size_t)n % FSX_DIO_ALIGN != 0 && got + (size_t)n < len) {
			/* Short, unaligned: go on through the cache. */
			if (set_direct(fd, 0) < 0)
				return -1;
			direct = 0;
		}
	}
	return 0;
}
