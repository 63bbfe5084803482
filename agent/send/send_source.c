/*
 * send_source.c: reading a dataset's chunks at the agent.
 *
 * A chunk is pread straight into the caller's buffer (behind the DATA
 * prefix) and hashed with XXH3-64.  Before every chunk the file is checked
 * against what was journaled at submit (size, mtime, inode; lstat by path,
 * so a rename over it is seen): a source that changes while it is being
 * sent fails the dataset with the change named, never ships a mix.
 *
 * The pread runs on the loop thread, so a cold source would stall every
 * stream for the disk's latency once per chunk.  After each read the
 * chunks the loop will want next are asked for with POSIX_FADV_WILLNEED,
 * which submits their reads and returns: the next pread finds them in
 * the page cache.  Reading chunk c of a large file asks for the chunk
 * RA_BYTES further on (the whole window when the file is entered, and the
 * next file's start when the window reaches the end); reading a small
 * file asks for the files up to RA_FILES further on, once a read of the
 * dataset has missed the cache (each costs an open, a warm source should
 * not pay it).  The first read of each chunk tries the cache alone
 * (RWF_NOWAIT), which is how a miss is seen.  Reads out of order
 * (resends) only ask for a little more.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <xxhash.h>

#define RA_BYTES	(32u << 20)	/* read a large file this far ahead */
#define RA_FILES	16		/* small files: this many files ahead */

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

/* ---- read-ahead -------------------------------------------------------- */

/* Ask the kernel for the first bytes of file f (not the open one): open,
 * check it is still the journaled regular file, WILLNEED, close.  Any
 * failure is ignored: the real read will see it and say what it is. */
static void
advise_file(const struct ads *d, uint32_t f)
{
	const struct file_rec	*fr = &d->files[f];
	char			 path[2 * SL_MAX_PATH + 2];
	struct stat		 st;
	int			 fd;

	snprintf(path, sizeof(path), "%s/%s", d->rec.src, fr->path);
	/* O_NONBLOCK | O_NOCTTY: whatever was put there must not stall
	 * or change us; only a regular file is read. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_ino == fr->ino)
		(void)posix_fadvise(fd, 0, (off_t)(fr->size < RA_BYTES ? fr->size :
		    RA_BYTES), POSIX_FADV_WILLNEED);
	close(fd);
}

/* The next file after f that has chunks (d->nfiles if none). */
static uint32_t
next_read(const struct ads *d, uint32_t f)
{
	while (++f < d->nfiles && d->files[f].nchunks == 0)
		;
	return f;
}

/* Small files ahead: how far the advice has got in the dataset being
 * read (loop thread only; another dataset starts afresh). */
static struct {
	const struct ads	*d;
	uint64_t		 id;
	uint32_t		 next;	/* first file not asked for yet */
	int			 cold;	/* a read of it missed the cache */
} ra;

/* Chunk c of file f was just read from fd; prev is the file read before
 * (UINT32_MAX: none); missed: the read had to wait for the disk.  Start
 * the reads of what comes next. */
static void
read_ahead(const struct ads *d, int fd, uint32_t f, uint32_t c, uint32_t prev,
    int missed)
{
	const struct file_rec	*fr = &d->files[f];
	uint64_t		 cs = d->rec.chunk_size;
	uint32_t		 depth, k, nx;

	if (fr->nchunks > 1) {
		depth = (uint32_t)(RA_BYTES / cs);
		if (depth == 0)
			depth = 1;
		if (prev != f && c + 1 < fr->nchunks)	/* the whole window */
			(void)posix_fadvise(fd, (off_t)((c + 1) * cs),
			    (off_t)(depth * cs), POSIX_FADV_WILLNEED);
		else if (c + depth < fr->nchunks)
			(void)posix_fadvise(fd, (off_t)((c + depth) * cs),
			    (off_t)cs, POSIX_FADV_WILLNEED);
		/* The window reaches the end: the next file's start, once. */
		if (prev != f ? c + depth >= fr->nchunks : c + depth == fr->nchunks) {
			nx = next_read(d, f);
			if (nx < d->nfiles)
				advise_file(d, nx);
		}
		return;
	}
	/* A small file: the RA_FILES files after it, each opened for the
	 * advice, once the dataset's reads have missed the cache (a warm
	 * source pays nothing).  ra says how far the advice has got. */
	if (ra.d != d || ra.id != d->rec.id) {
		ra.d = d;
		ra.id = d->rec.id;
		ra.next = 0;
		ra.cold = 0;
	}
	if (missed)
		ra.cold = 1;
	if (!ra.cold)
		return;
	for (k = ra.next > f ? ra.next : f + 1; k <= f + RA_FILES && k < d->nfiles; k++)
		if (d->files[k].nchunks != 0)
			advise_file(d, k);
	if (k > ra.next)
		ra.next = k;
}

/* pread a chunk into buf and return its XXH3-64. */
int
read_chunk(struct ads *d, uint32_t f, uint32_t c, uint8_t *buf, uint32_t len,
    uint64_t *hash, char *err, size_t errlen)
{
	off_t	off = (off_t)c * d->rec.chunk_size;
	size_t	got = 0;
	ssize_t	n;
	uint32_t prev;
	int	fd, nowait = 1, missed = 0;

	prev = d->fd == -1 ? UINT32_MAX : d->fd_file;
	fd = source_fd(d, f, err, errlen);
	if (fd < 0)
		return fd;
	while (got < len) {
		if (nowait) {
			/* From the page cache only: what the read-ahead
			 * needs to know is whether the source is cold. */
			struct iovec iov = { buf, len };

			nowait = 0;
			n = preadv2(fd, &iov, 1, off, RWF_NOWAIT);
			if (n < 0 || (size_t)n < len)
				missed = 1;
			if (n <= 0)
				continue;	/* pread says what it is */
		} else
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
	read_ahead(d, fd, f, c, prev, missed);
	*hash = XXH3_64bits(buf, len);
	return SL_OK;
}
