/*
 * fsx.h: Linux file-system specifics behind small wrappers (agent/fsx.c),
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
/* fsync a directory by path or fd.  0 / -1. */
int	fsx_fsync_dir(int dirfd);
/* Atomic rename that fails if `to` exists (renameat2 RENAME_NOREPLACE). */
int	fsx_rename_noreplace(int fromdir, const char *from, int todir, const char *to);
/* Free bytes on the file system of fd, or -1. */
long long fsx_free_bytes(int fd);

#endif
