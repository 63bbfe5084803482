/*
 * fsx.h: Linux file-system specifics behind small wrappers (agent/store/fsx.c),
 * so that the roles read as plain POSIX (STYLE 19).
 *
 * Names given here are already checked by pathchk; these functions still
 * refuse to leave the directory they start from: no symlink is followed
 * (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
 * or, where openat2 is missing, a component walk with O_NOFOLLOW).
 */
#ifndef FSX_H
#define FSX_H

#include <stddef.h>
#include <sys/types.h>

/* Open rel beneath the directory dirfd with flags (O_CLOEXEC added) and
 * mode.  Returns fd >= 0, or -1 with errno (ELOOP/EXDEV for an escape). */
int	fsx_open_beneath(int dirfd, const char *rel, int flags, mode_t mode);
/* Create every directory on the way to rel's parent beneath dirfd
 * (mode 0755), refusing symlinks.  0 or -1 with errno. */
int	fsx_mkparents_beneath(int dirfd, const char *rel);
/* Remove a directory tree beneath dirfd (no symlink followed). 0 / -1. */
int	fsx_rmtree_at(int dirfd, const char *name);
/* Flush: fdatasync each fd, or syncfs(fds[0]) once when n is large
 * (one syscall for a group commit touching many small files). 0 / -1. */
int	fsx_sync_fds(const int *fds, size_t n);
/*
 * Direct I/O.  A file opened with O_DIRECT bypasses the page cache: no
 * copy into freshly allocated cache pages (the sink's largest cost), no
 * dirty pages for fsync to flush.  The kernel wants the buffer, offset and
 * length aligned; FSX_DIO_ALIGN (4096) covers 512- and 4096-byte sectors.
 * These calls work on any fd: when fd has O_DIRECT and the range is not
 * aligned (a file's tail) O_DIRECT is cleared for that call; an unaligned
 * buffer is copied to bounce first (NULL: written through the cache).  A
 * file system that refuses O_DIRECT at write time (EINVAL) gets the call
 * through the cache and the flag cleared on fd.
 */
#define FSX_DIO_ALIGN	4096u
/* Files smaller than this go through the page cache even where direct
 * I/O is on: an O_DIRECT write waits for the device, and for a small file
 * that wait costs more than the copy it saves (the sink's group commit
 * flushes many small files with one syncfs instead). */
#define FSX_DIO_MIN_FILE	(1024u * 1024)
/* 1 when a file of `size` bytes goes through O_DIRECT where direct I/O
 * is on (dio): the sink's write, verify and publish paths agree on it. */
#define FSX_DIO_FILE(dio, size)	((dio) && (size) >= FSX_DIO_MIN_FILE)
/* 1 when p, len and off suit O_DIRECT. */
int	fsx_dio_aligned(const void *p, size_t len, off_t off);
/* Write all len bytes of p at off.  bounce: NULL, or FSX_DIO_ALIGN-aligned
 * with room for len.  0, or -1 with errno (never a short write). */
int	fsx_pwrite_all(int fd, const void *p, size_t len, off_t off, void *bounce);
/* The same for an fd known to be opened without O_DIRECT: no fcntl to ask
 * (one syscall less per small file at the sink). */
int	fsx_pwrite_cached(int fd, const void *p, size_t len, off_t off);
/* Read exactly len bytes at off into p, which must be FSX_DIO_ALIGN-aligned
 * with room for len rounded up to FSX_DIO_ALIGN when fd has O_DIRECT.
 * 0; -1 with errno; -1 with errno 0 when the file ends first. */
int	fsx_pread_all(int fd, void *p, size_t len, off_t off);
/* Open rel beneath dirfd like fsx_open_beneath, with O_DIRECT when dio is
 * set and the file system takes it (else without). */
int	fsx_open_dio(int dirfd, const char *rel, int flags, int dio);
/* Allocate len bytes (rounded up) aligned to FSX_DIO_ALIGN; free(). */
void	*fsx_dio_alloc(size_t len);

/* fsync a directory by path or fd.  0 / -1. */
int	fsx_fsync_dir(int dirfd);
/* Atomic rename that fails if `to` exists (renameat2 RENAME_NOREPLACE). */
int	fsx_rename_noreplace(int fromdir, const char *from, int todir, const char *to);
/* Free bytes on the file system of fd, or -1. */
long long fsx_free_bytes(int fd);

#endif
