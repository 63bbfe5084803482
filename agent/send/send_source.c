/*
 * send_source.c: reading a dataset's chunks at the agent.
 *
 * A chunk is pread straight into the caller's buffer (behind the DATA
 * prefix) and hashed with XXH3-64.  Before every chunk the file is checked
 * against what was journaled at submit (size, mtime, inode; lstat by path,
 * so a rename over it is seen): a source that changes while it is being
 * sent fails the dataset with the change named, never ships a mix.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "sluice.h"
#include "send_int.h"
#include "send_source.h"

/* ---- source I/O -------------------------------------------------------- */

/* Global chunk index -> file index (binary search on first_chunk, skipping
 * empty files, which own no chunk). */
uint32_t
chunk_file(const struct ads *d, uint64_t g)
{
	uint32_t lo = 0, hi = d->nfiles;

	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (d->files[mid].first_chunk <= g)
			lo = mid;
		else
			hi = mid;
	}
	while (d->files[lo].nchunks == 0 || g >= d->files[lo].first_chunk +
	    d->files[lo].nchunks)
		lo++;
	return lo;
}

/* Is the file at path still the one journaled as fr?  Size, mtime and
 * inode (a rename over it is a new inode).  SL_OK, SL_ECHANGED or SL_EIO
 * with a sentence naming the file and what changed. */
int
check_unchanged(const struct file_rec *fr, const char *path, char *err, size_t errlen)
{
	struct stat	st;
	int64_t		mt;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT) {
			snprintf(err, errlen, "%s: vanished during transfer", path);
			return SL_ECHANGED;
		}
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return SL_EIO;
	}
	mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != fr->size ||
	    st.st_ino != fr->ino || mt != fr->mtime_ns) {
		snprintf(err, errlen, "%s: changed during transfer (size %llu -> %llu%s%s%s)",
		    path, (unsigned long long)fr->size, (unsigned long long)st.st_size,
		    (uint64_t)st.st_size > fr->size ? ", grew" :
		    (uint64_t)st.st_size < fr->size ? ", shrank" : "",
		    st.st_ino != fr->ino || !S_ISREG(st.st_mode) ? ", replaced" : "",
		    mt != fr->mtime_ns ? ", modified" : "");
		return SL_ECHANGED;
	}
	return SL_OK;
}

/* Open file f of d (cached), checking it is still what was journaled:
 * on every chunk, so that a change is caught while sending, not only at
 * COMMIT (one lstat per chunk is nothing beside its read). */
static int
source_fd(struct ads *d, uint32_t f, char *err, size_t errlen)
{
	const struct file_rec	*fr = &d->files[f];
	char			 path[2 * SL_MAX_PATH + 2];
	int			 rc;

	snprintf(path, sizeof(path), "%s/%s", d->rec.src, fr->path);
	rc = check_unchanged(fr, path, err, errlen);
	if (rc != SL_OK) {
		if (d->fd != -1)
			close(d->fd);
		d->fd = -1;
		return rc;
	}
	if (d->fd != -1 && d->fd_file == f)
		return d->fd;
	if (d->fd != -1)
		close(d->fd);
	d->fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (d->fd == -1) {
		int e = errno;
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(e));
		/* Permissions or a symlink do not fix themselves: fail the
		 * dataset (named) rather than retry it forever and hold up the
		 * queue behind it. */
		return (e == ENOENT || e == EACCES || e == EPERM || e == ELOOP) ?
		    SL_ECHANGED : SL_EIO;
	}
	d->fd_file = f;
	return d->fd;
}

/* pread a chunk into buf and return its XXH3-64. */
int
read_chunk(struct ads *d, uint32_t f, uint32_t c, uint8_t *buf, uint32_t len,
    uint64_t *hash, char *err, size_t errlen)
{
	off_t	off = (off_t)c * d->rec.chunk_size;
	size_t	got = 0;
	ssize_t	n;
	int	fd;

	fd = source_fd(d, f, err, errlen);
	if (fd < 0)
		return fd;
	while (got < len) {
		n = pread(fd, buf + got, len - got, off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s/%s: read: %s", d->rec.src,
			    d->files[f].path, strerror(errno));
			return SL_EIO;
		}
		if (n == 0) {
			snprintf(err, errlen, "%s/%s: shrank during transfer",
			    d->rec.src, d->files[f].path);
			return SL_ECHANGED;
		}
		got += (size_t)n;
	}
	*hash = XXH3_64bits(buf, len);
	return SL_OK;
}
