/*
 * walk.c: scan a dataset directory into file records.
 *
 * A recursive walk with openat(O_NOFOLLOW | O_DIRECTORY) and fstatat
 * (AT_SYMLINK_NOFOLLOW), so that the tree we record is the tree beneath
 * dir, never something a symlink points to.  Each regular file is opened
 * once (and closed) so that an unreadable one is refused at submit.  Records go into a growing
 * array that is sorted once at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pathchk.h"
#include "walk.h"
#include "wire.h"

struct walk {
	struct file_rec	*files;
	uint32_t	 n, alloc;
	char		*strs;		/* paths, NUL-separated; files[].path holds offsets */
	size_t		 slen, salloc;
	char		*err;
	size_t		 errlen;
	const char	*root;
	const char	*skip;		/* top-level name to leave out, or NULL */
};

static int
add_file(struct walk *w, const char *rel, const struct stat *st)
{
	struct file_rec	*f;
	const char	*why;
	size_t		 len;

	if (pathchk_rel(rel, strlen(rel), &why) != SL_OK) {
		snprintf(w->err, w->errlen, "%s/%s: unsafe name: %s", w->root, rel, why);
		return SL_EPATH;
	}
	/* The sender opens a file by its whole path (source directory, '/',
	 * relative path): one the kernel cannot open so would fail at every
	 * try.  Refused now, named. */
	len = strlen(rel);
	if (strlen(w->root) + 1 + len >= PATH_MAX) {
		/* the end of the path names the file; the whole would not fit */
		snprintf(w->err, w->errlen, "%s/%s%s: path longer than %d bytes, which "
		    "the agent cannot open", w->root, len > 300 ? "..." : "",
		    len > 300 ? rel + len - 300 : rel, PATH_MAX - 1);
		return SL_EPATH;
	}
	if (w->n == SL_MAX_FILES) {
		snprintf(w->err, w->errlen, "%s: more than %u files", w->root,
		    (unsigned)SL_MAX_FILES);
		return SL_ETOOBIG;
	}
	if (w->n == w->alloc) {
		uint32_t na = w->alloc ? w->alloc * 2 : 256;
		f = realloc(w->files, (size_t)na * sizeof(*f));
		if (f == NULL) {
			snprintf(w->err, w->errlen, "%s: out of memory", w->root);
			return SL_ENOMEM;
		}
		w->files = f;
		w->alloc = na;
	}
	len = strlen(rel) + 1;
	if (w->slen + len > w->salloc) {
		size_t na = (w->slen + len) * 2 + 4096;
		char *p = realloc(w->strs, na);
		if (p == NULL) {
			snprintf(w->err, w->errlen, "%s: out of memory", w->root);
			return SL_ENOMEM;
		}
		w->strs = p;
		w->salloc = na;
	}
	memcpy(w->strs + w->slen, rel, len);
	f = &w->files[w->n++];
	memset(f, 0, sizeof(*f));
	f->path = (char *)(uintptr_t)w->slen;	/* an offset until the end */
	w->slen += len;
	f->size = (uint64_t)st->st_size;
	f->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	f->ino = st->st_ino;
	f->dev = st->st_dev;
	f->mode = st->st_mode & 07777;
	return SL_OK;
}

static int
walk_dir(struct walk *w, int dfd, const char *prefix)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		 rel[SL_MAX_PATH + 2];
	int		 rc = SL_OK, cfd;

	d = fdopendir(dfd);
	if (d == NULL) {
		snprintf(w->err, w->errlen, "%s/%s: %s", w->root, prefix, strerror(errno));
		close(dfd);
		return SL_EIO;
	}
	while (rc == SL_OK) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno) {
				snprintf(w->err, w->errlen, "%s/%s: %s", w->root,
				    prefix, strerror(errno));
				rc = SL_EIO;
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (*prefix == '\0' && w->skip && strcmp(de->d_name, w->skip) == 0)
			continue;
		if (*prefix == '\0' && strcmp(de->d_name, SL_MANIFEST_NAME) == 0) {
			snprintf(w->err, w->errlen, "%s/%s: the name is reserved for the "
			    "manifest the sink writes into every dataset; rename or "
			    "remove the file", w->root, de->d_name);
			rc = SL_EPATH;
			break;
		}
		if ((size_t)snprintf(rel, sizeof(rel), "%s%s%s", prefix,
		    *prefix ? "/" : "", de->d_name) >= sizeof(rel) - 1) {
			snprintf(w->err, w->errlen, "%s/%s/%s: path longer than %d bytes",
			    w->root, prefix, de->d_name, SL_MAX_PATH);
			rc = SL_EPATH;
			break;
		}
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			snprintf(w->err, w->errlen, "%s/%s: %s", w->root, rel, strerror(errno));
			rc = SL_EIO;
		} else if (S_ISREG(st.st_mode)) {
			/* Refuse an unreadable file now, with its name, rather
			 * than journal a dataset that can never be sent. */
			cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW |
			    O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
			if (cfd == -1) {
				snprintf(w->err, w->errlen, "%s/%s: cannot read: %s",
				    w->root, rel, strerror(errno));
				rc = SL_EIO;
			} else {
				close(cfd);
				rc = add_file(w, rel, &st);
			}
		} else if (S_ISDIR(st.st_mode)) {
			cfd = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd == -1) {
				snprintf(w->err, w->errlen, "%s/%s: %s", w->root, rel,
				    strerror(errno));
				rc = SL_EIO;
			} else
				rc = walk_dir(w, cfd, rel);
		} else {
			snprintf(w->err, w->errlen, "%s/%s: not a regular file or directory "
			    "(%s): sluice ships regular files only", w->root, rel,
			    S_ISLNK(st.st_mode) ? "symlink" : S_ISCHR(st.st_mode) ||
			    S_ISBLK(st.st_mode) ? "device" : S_ISFIFO(st.st_mode) ? "fifo" :
			    "socket");
			rc = SL_EPATH;
		}
	}
	closedir(d);
	return rc;
}

static int
cmp_path(const void *a, const void *b)
{
	return strcmp(((const struct file_rec *)a)->path,
	    ((const struct file_rec *)b)->path);
}

int
walk_dataset(const char *dir, const char *skip, uint32_t chunk_size,
    struct file_rec **files, uint32_t *nfiles, uint64_t *total, uint64_t *nchunks,
    char *err, size_t errlen)
{
	struct walk	 w = { .err = err, .errlen = errlen, .root = dir, .skip = skip };
	struct file_rec	*blk;
	uint64_t	 sum = 0, g = 0;
	uint32_t	i;
	int		fd, rc;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return SL_EIO;
	}
	rc = walk_dir(&w, fd, "");
	if (rc != SL_OK) {
		free(w.files);
		free(w.strs);
		return rc;
	}
	/* One block: the records, then their paths (one free() for both). */
	blk = malloc((size_t)w.n * sizeof(*blk) + w.slen + 1);
	if (blk == NULL) {
		snprintf(err, errlen, "%s: out of memory", dir);
		free(w.files);
		free(w.strs);
		return SL_ENOMEM;
	}
	if (w.n > 0)
		memcpy(blk, w.files, (size_t)w.n * sizeof(*blk));
	if (w.slen > 0)
		memcpy((char *)(blk + w.n), w.strs, w.slen);
	for (i = 0; i < w.n; i++)
		blk[i].path = (char *)(blk + w.n) + (size_t)(uintptr_t)blk[i].path;
	free(w.files);
	free(w.strs);
	w.files = blk;
	if (w.n > 1)
		qsort(w.files, w.n, sizeof(*w.files), cmp_path);
	for (i = 0; i < w.n; i++) {
		w.files[i].idx = i;
		w.files[i].nchunks = wire_nchunks(w.files[i].size, chunk_size);
		w.files[i].first_chunk = g;
		g += w.files[i].nchunks;
		sum += w.files[i].size;
	}
	*files = w.files;
	*nfiles = w.n;
	*total = sum;
	*nchunks = g;
	return SL_OK;
}
