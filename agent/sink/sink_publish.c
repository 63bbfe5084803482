/*
 * sink_publish.c: partial tree and atomic publication at the sink.
 *
 * OPEN makes only the partial directory.  A file is created when its
 * first chunk arrives (publish_open_file: its parents, and the file at
 * its final size when it has more than one chunk, so a chunk is one
 * pwrite at its offset), an empty file at COMMIT.  So a 100,000-file
 * OPEN costs one mkdir, not 100,000 creates and a syncfs that every other
 * dataset's group commit would wait behind (the file system's journal);
 * the creates happen as that dataset's own bytes arrive.  A created
 * entry is durable before its chunk is acknowledged: the group commit
 * syncs the whole file system for a batch holding a file's first chunk
 * (gcommit.h, newent).  Publication re-reads every byte rather than trusting the journal
 * alone: the journal says what we verified on arrival, the re-read says
 * the disk still holds it.  Only then is the manifest written and the
 * directory renamed into place (rename is the atomic step; a reader sees
 * either nothing or the whole verified dataset).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "fsx.h"
#include "manifest.h"
#include "publish.h"
#include "wire.h"

void
publish_partial_name(char *out, size_t len, const char *name)
{
	snprintf(out, len, ".%s.partial", name);
}

/* ENOSPC is worth retrying once space is freed; a symlink or a file
 * where a directory should be (planted in the root: ELOOP, EXDEV,
 * ENOTDIR, EISDIR) will not go away by itself, so it is fatal for the
 * dataset rather than an endless retry. */
static int
errno_code(int e)
{
	switch (e) {
	case ENOSPC:
	case EDQUOT:
		return SL_ENOSPC;
	case ELOOP:
	case EXDEV:
	case ENOTDIR:
	case EISDIR:
		return SL_EPATH;
	}
	return SL_EIO;
}

/* A name the sink's file system cannot hold (too long for it, bytes its
 * encoding refuses: ENAMETOOLONG, EILSEQ, EINVAL from creating it) will
 * not get better by retrying: fatal for the dataset, with the name. */
static int
name_code(int e)
{
	if (e == ENAMETOOLONG || e == EILSEQ || e == EINVAL)
		return SL_EPATH;
	return errno_code(e);
}

/* Say why a name could not be created, naming it. */
static void
name_err(char *err, size_t errlen, const char *what, const char *pname,
    const char *path, int e)
{
	snprintf(err, errlen, "%s%s%s%s: %s%s", what, pname, path && *pname ? "/" : "",
	    path ? path : "", strerror(e),
	    e == ENAMETOOLONG || e == EILSEQ || e == EINVAL ?
	    " (the sink's file system cannot hold this name; rename it at the "
	    "source and submit it again)" : "");
}

int
publish_prepare(int rootfd, const struct ds_rec *d, char *err, size_t errlen)
{
	char	pname[SL_MAX_NAME + 16];
	int	pfd, created = 0, e;

	publish_partial_name(pname, sizeof(pname), d->name);
	if (mkdirat(rootfd, pname, 0755) == 0)
		created = 1;
	else if (errno != EEXIST) {
		e = errno;
		name_err(err, errlen, "mkdir ", pname, NULL, e);
		return name_code(e);
	}
	pfd = fsx_open_beneath(rootfd, pname, O_RDONLY | O_DIRECTORY, 0);
	if (pfd == -1) {
		snprintf(err, errlen, "open %s: %s", pname, strerror(errno));
		return errno_code(errno);
	}
	/* The new directory and its entry: the name is reserved on disk as
	 * in the journal before HAVE goes out. */
	if (created && (fsx_fsync_dir(pfd) == -1 || fsx_fsync_dir(rootfd) == -1)) {
		e = errno;
		snprintf(err, errlen, "sync %s: %s", pname, strerror(e));
		close(pfd);
		return errno_code(e);
	}
	return pfd;
}

/* fsx_open_dio with a mode for O_CREAT: 0600, the sink's own until
 * publication sets file_mode. */
static int
open_dio_mode(int pfd, const char *path, int flags, int dio)
{
	int fd;

	if (dio) {
		fd = fsx_open_beneath(pfd, path, flags | O_DIRECT, 0600);
		if (fd >= 0 || errno != EINVAL)
			return fd;
	}
	return fsx_open_beneath(pfd, path, flags, 0600);
}

/* Open (create: O_CREAT) file f of the partial tree, making its parent
 * directories when they are missing.  fd or -1 with errno. */
static int
open_making_parents(int pfd, const struct file_rec *f, int flags, int dio)
{
	int fd = open_dio_mode(pfd, f->path, flags, dio);

	if (fd == -1 && errno == ENOENT && (flags & O_CREAT) && strchr(f->path, '/')) {
		if (fsx_mkparents_beneath(pfd, f->path) == -1)
			return -1;
		fd = open_dio_mode(pfd, f->path, flags, dio);
	}
	return fd;
}

int
publish_open_file(int pfd, const struct file_rec *f, int dio, int create,
    int *rc, char *err, size_t errlen)
{
	struct stat	st;
	int		fd, e;

	fd = open_making_parents(pfd, f, O_WRONLY | (create ? O_CREAT : 0), dio);
	if (fd == -1) {
		e = errno;
		name_err(err, errlen, "open ", "", f->path, e);
		*rc = name_code(e);
		errno = e;
		return -1;
	}
	/* At its final size, so that the chunks land inside it in any order
	 * (a one-chunk file gets its size from that chunk).  Never loses a
	 * byte: no chunk lies beyond the size.  Only when the size is not
	 * right yet: truncate waits for the O_DIRECT writes in flight to the
	 * file, which a later chunk's open would then wait for on the loop. */
	if (create && f->nchunks > 1 && (fstat(fd, &st) == -1 ||
	    (uint64_t)st.st_size != f->size) && ftruncate(fd, (off_t)f->size) == -1) {
		e = errno;
		snprintf(err, errlen, "%s: size %llu: %s", f->path,
		    (unsigned long long)f->size, strerror(e));
		close(fd);
		*rc = errno_code(e);
		errno = e;
		return -1;
	}
	return fd;
}

/* The files no chunk creates (empty ones) are made here, at COMMIT.
 * *made: set when one was.  SL_OK or an sl_err with err. */
static int
make_empty_files(int pfd, const struct file_rec *files, uint32_t nfiles, int *made,
    char *err, size_t errlen)
{
	uint32_t	i;
	int		fd, e;

	for (i = 0; i < nfiles; i++) {
		if (files[i].size != 0)
			continue;
		fd = open_making_parents(pfd, &files[i], O_WRONLY | O_CREAT | O_EXCL, 0);
		if (fd == -1 && errno == EEXIST)
			continue;
		if (fd == -1) {
			e = errno;
			name_err(err, errlen, "create ", "", files[i].path, e);
			return name_code(e);
		}
		close(fd);
		*made = 1;
	}
	return SL_OK;
}

int
publish_is_published(int rootfd, const struct ds_rec *d)
{
	/* the header holds the name escaped: up to 2 * SL_MAX_NAME bytes */
	char	path[SL_MAX_NAME + 32], buf[2 * SL_MAX_NAME + 512], want[64];
	ssize_t	n;
	int	fd;

	snprintf(path, sizeof(path), "%s/%s", d->name, MANIFEST_NAME);
	fd = fsx_open_beneath(rootfd, path, O_RDONLY, 0);
	if (fd == -1) {
		struct stat st;
		if (fstatat(rootfd, d->name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			return SL_EEXIST;
		return 0;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return SL_EEXIST;
	buf[n] = '\0';
	snprintf(want, sizeof(want), " id=%016llx ", (unsigned long long)d->id);
	return strstr(buf, want) ? 1 : SL_EEXIST;
}

/* Open a file of the partial tree and check its size. fd, or -1 with *rc
 * and err set.  dio: read it with O_DIRECT when it is large (after
 * O_DIRECT writes the cache holds nothing of it anyway). */
static int
open_sized(int pfd, const struct file_rec *f, int dio, int *rc, char *err,
    size_t errlen)
{
	struct stat	st;
	int		fd;

	fd = fsx_open_dio(pfd, f->path, O_RDONLY, FSX_DIO_FILE(dio, f->size));
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", f->path, strerror(errno));
		*rc = errno_code(errno);
		return -1;
	}
	if (fstat(fd, &st) == -1 || (uint64_t)st.st_size != f->size) {
		snprintf(err, errlen, "%s: size is %llu, manifest says %llu", f->path,
		    (unsigned long long)st.st_size, (unsigned long long)f->size);
		close(fd);
		*rc = SL_ECORRUPT;
		return -1;
	}
	return fd;
}

/* The mode a published file gets: the sink's file_mode, whatever the
 * agent sent, except that a file the agent marked executable (owner x)
 * gets x wherever file_mode grants r (0644 -> 0755), as `chmod a+X`. */
static mode_t
file_mode_of(const struct file_rec *f, unsigned file_mode)
{
	mode_t m = file_mode & 0777;

	if (f->mode & S_IXUSR)
		m |= (m & 0444) >> 2;
	return m;
}

/* The re-read's digest of the chunk list against the agent's; then the
 * file gets its mode. */
static int
finish_file(int fd, const struct file_rec *f, const uint8_t *agent_digest,
    const struct vsum *v, unsigned file_mode, char *err, size_t errlen)
{
	if (memcmp(v->lst, agent_digest, WIRE_DIGEST_LEN) != 0) {
		snprintf(err, errlen, "%s: digest differs from the agent's", f->path);
		return SL_ECORRUPT;
	}
	if (fchmod(fd, file_mode_of(f, file_mode)) == -1) {
		snprintf(err, errlen, "%s: chmod: %s", f->path, strerror(errno));
		return SL_EIO;
	}
	return SL_OK;
}

/* Re-read one file and check it against the journal and the agent. */
static int
verify_file(struct journal *j, int pfd, unsigned how, const struct ds_rec *d,
    const struct file_rec *f, const uint8_t *agent_digest, uint8_t *buf,
    uint64_t *hashes, struct vsum *out, unsigned file_mode, char *err, size_t errlen)
{
	struct vctx	*ctx = NULL;
	uint32_t	 c, len;
	int		 fd, rc = SL_OK;

	if ((fd = open_sized(pfd, f, (how & VH_DIO) != 0, &rc, err, errlen)) == -1)
		return rc;
	if (f->nchunks > 0) {
		rc = journal_sink_hashes(j, d->id, f->idx, hashes, f->nchunks);
		if (rc != SL_OK) {
			snprintf(err, errlen, "%s: journal lacks chunk hashes: %s",
			    f->path, sl_strerror(rc));
			close(fd);
			return rc == SL_ENOTFOUND ? SL_ECORRUPT : rc;
		}
	}
	if ((ctx = vctx_new((how & VH_SHA256) != 0)) == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = SL_ENOMEM;
		goto out;
	}
	for (c = 0; c < f->nchunks; c++) {
		len = wire_chunk_len(f->size, d->chunk_size, c);
		if (fsx_pread_all(fd, buf, len, (off_t)c * d->chunk_size) == -1) {
			snprintf(err, errlen, "%s: read: %s", f->path,
			    errno == 0 ? "unexpected end of file" : strerror(errno));
			rc = SL_EIO;
			goto out;
		}
		if (vctx_chunk(ctx, buf, len, hashes[c]) != SL_OK) {
			snprintf(err, errlen, "%s: chunk %u on disk differs from the "
			    "chunk verified on arrival", f->path, c);
			rc = SL_ECORRUPT;
			goto out;
		}
	}
	vctx_finish(ctx, out);
	ctx = NULL;
	rc = finish_file(fd, f, agent_digest, out, file_mode, err, errlen);
out:
	vctx_free(ctx);
	close(fd);
	return rc;
}

/* A file the verifier hashed while the transfer ran: what is left is
 * its size, the agent's digest and its mode; through kept (the caller's
 * fd on it, still open since its write) when not -1. */
static int
check_verified(int pfd, const struct file_rec *f, int kept,
    const uint8_t *agent_digest, const struct vsum *v, struct vsum *out,
    unsigned file_mode, char *err, size_t errlen)
{
	struct stat	st;
	int		fd, rc = SL_OK;

	if (kept >= 0) {
		if (fstat(kept, &st) == -1 || (uint64_t)st.st_size != f->size) {
			snprintf(err, errlen, "%s: size is %llu, manifest says %llu",
			    f->path, (unsigned long long)st.st_size,
			    (unsigned long long)f->size);
			return SL_ECORRUPT;
		}
		*out = *v;
		return finish_file(kept, f, agent_digest, v, file_mode, err, errlen);
	}
	if ((fd = open_sized(pfd, f, 0, &rc, err, errlen)) == -1)
		return rc;
	*out = *v;
	rc = finish_file(fd, f, agent_digest, v, file_mode, err, errlen);
	close(fd);
	return rc;
}

/* Write s with \\, tab, newline and '=' escaped, so that one metadata
 * pair stays one line and the first '=' splits key from value. */
static void
put_escaped(FILE *fp, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '\\':	fputs("\\\\", fp); break;
		case '\t':	fputs("\\t", fp); break;
		case '\n':	fputs("\\n", fp); break;
		case '\r':	fputs("\\r", fp); break;
		case '=':	fputs("\\=", fp); break;
		default:	fputc(*s, fp);
		}
	}
}

/* The manifest (manifest.h): a path holding '\n', '\r' or '\\' is
 * escaped the way sha256sum and xxhsum do it, its line led by a
 * backslash, so that every line stays one line and the checksum tools
 * read the path back. */
static int
write_manifest(int pfd, const struct ds_rec *d, const struct file_rec *files,
    uint32_t nfiles, const struct vsum *sums, unsigned file_mode, char *err,
    size_t errlen)
{
	char	 sha[2 * SHA256_LEN + 1], xxh[33], esc[2 * SL_MAX_PATH + 1];
	FILE	*fp;
	uint32_t i;
	int	 fd;

	fd = fsx_open_beneath(pfd, MANIFEST_NAME, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || fchmod(fd, file_mode & 0666) == -1 ||
	    (fp = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", MANIFEST_NAME, strerror(errno));
		if (fd != -1)
			close(fd);
		return errno_code(errno);
	}
	/* the name escaped like metadata: a newline in it must not end
	 * the comment */
	fputs("# sluice manifest v1\n# dataset=", fp);
	put_escaped(fp, d->name);
	fprintf(fp, " id=%016llx files=%u bytes=%llu chunk_size=%u\n"
	    "# size\tsha256\txxh3-128\tpath\n", (unsigned long long)d->id, nfiles,
	    (unsigned long long)d->bytes, d->chunk_size);
	/* Metadata, one "# meta KEY=VALUE" line each. */
	for (i = 0; i < d->nmeta; i++) {
		fputs("# meta ", fp);
		put_escaped(fp, d->meta[i][0]);
		fputc('=', fp);
		put_escaped(fp, d->meta[i][1]);
		fputc('\n', fp);
	}
	for (i = 0; i < nfiles; i++) {
		/* "-": not computed ([sink] sha256 = off) */
		if (sums[i].has_sha)
			digest_hex(sums[i].sha, SHA256_LEN, sha);
		else
			strcpy(sha, "-");
		digest_hex(sums[i].xxh, 16, xxh);
		if (manifest_needs_escape(files[i].path)) {
			manifest_escape(files[i].path, esc, sizeof(esc));
			fprintf(fp, "\\%llu\t%s\t%s\t%s\n",
			    (unsigned long long)files[i].size, sha, xxh, esc);
		} else
			fprintf(fp, "%llu\t%s\t%s\t%s\n", (unsigned long long)files[i].size,
			    sha, xxh, files[i].path);
	}
	if (fflush(fp) != 0 || fsync(fd) == -1) {
		snprintf(err, errlen, "%s: %s", MANIFEST_NAME, strerror(errno));
		fclose(fp);
		return errno_code(errno);
	}
	fclose(fp);
	return SL_OK;
}

/* Every directory of the tree, the top one included, gets dir_mode.  A
 * directory is opened beneath pfd without following a symlink (chmod by
 * name would follow one).  Paths come sorted from an agent, so a
 * directory shared with the previous file is skipped; unsorted ones cost
 * a few chmods more, never a wrong one. */
static int
set_dir_modes(int pfd, const struct file_rec *files, uint32_t nfiles,
    unsigned dir_mode, char *err, size_t errlen)
{
	char		 dir[SL_MAX_PATH + 1], prev[SL_MAX_PATH + 1] = "";
	uint32_t	 i;
	char		*sl;
	size_t		 n;
	int		 fd;

	if (fchmod(pfd, dir_mode & 0777) == -1) {
		snprintf(err, errlen, "chmod of the dataset directory: %s", strerror(errno));
		return errno_code(errno);
	}
	for (i = 0; i < nfiles; i++) {
		snprintf(dir, sizeof(dir), "%s", files[i].path);
		if ((sl = strrchr(dir, '/')) == NULL)
			continue;
		*sl = '\0';
		if (strcmp(dir, prev) == 0)
			continue;
		snprintf(prev, sizeof(prev), "%s", dir);
		/* dir, then its parents up to one the previous file is in */
		for (;;) {
			fd = fsx_open_beneath(pfd, dir, O_RDONLY | O_DIRECTORY, 0);
			if (fd == -1 || fchmod(fd, dir_mode & 0777) == -1) {
				int e = errno;

				snprintf(err, errlen, "%s: chmod: %s", dir, strerror(e));
				if (fd != -1)
					close(fd);
				return errno_code(e);
			}
			close(fd);
			if ((sl = strrchr(dir, '/')) == NULL)
				break;
			*sl = '\0';
			n = strlen(dir);
			/* a parent of the previous file's directory is done */
			if (i > 0 && strncmp(files[i - 1].path, dir, n) == 0 &&
			    files[i - 1].path[n] == '/')
				break;
		}
	}
	return SL_OK;
}

int
publish_commit(struct journal *j, int rootfd, int pfd, unsigned how, const struct ds_rec *d,
    const struct file_rec *files, uint32_t nfiles, const uint8_t *digests,
    const struct vsum *pre, const int *kfd, unsigned file_mode, unsigned dir_mode,
    char *err, size_t errlen)
{
	struct vsum	*sums;
	uint64_t	*hashes = NULL;
	uint8_t		*buf;
	uint32_t	 i, maxc = 0;
	char		 pname[SL_MAX_NAME + 16];
	int		 rc = SL_OK, made = 0;

	for (i = 0; i < nfiles; i++)
		if (files[i].nchunks > maxc)
			maxc = files[i].nchunks;
	sums = calloc(nfiles ? nfiles : 1, sizeof(*sums));
	buf = fsx_dio_alloc(d->chunk_size);
	hashes = calloc(maxc ? maxc : 1, sizeof(*hashes));
	if (sums == NULL || buf == NULL || hashes == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = SL_ENOMEM;
		goto out;
	}
	rc = make_empty_files(pfd, files, nfiles, &made, err, errlen);
	if (rc != SL_OK)
		goto out;
	for (i = 0; i < nfiles && rc == SL_OK; i++) {
		const uint8_t *dg = digests + (size_t)i * WIRE_DIGEST_LEN;
		if (pre != NULL && pre[i].state == VS_DONE)
			rc = check_verified(pfd, &files[i], kfd ? kfd[i] : -1, dg,
			    &pre[i], &sums[i], file_mode, err, errlen);
		else
			rc = verify_file(j, pfd, how, d, &files[i], dg, buf, hashes,
			    &sums[i], file_mode, err, errlen);
	}
	if (rc != SL_OK)
		goto out;
	rc = write_manifest(pfd, d, files, nfiles, sums, file_mode, err, errlen);
	if (rc != SL_OK)
		goto out;
	rc = set_dir_modes(pfd, files, nfiles, dir_mode, err, errlen);
	if (rc != SL_OK)
		goto out;
	/* Files made just now may sit in subdirectories: then one syncfs
	 * makes every new entry durable before the rename publishes them. */
	if ((made ? syncfs(pfd) : fsx_fsync_dir(pfd)) == -1) {
		snprintf(err, errlen, "%s: %s", made ? "syncfs" : "fsync", strerror(errno));
		rc = SL_EIO;
		goto out;
	}
	publish_partial_name(pname, sizeof(pname), d->name);
	if (fsx_rename_noreplace(rootfd, pname, rootfd, d->name) == -1) {
		snprintf(err, errlen, "rename %s -> %s: %s", pname, d->name, strerror(errno));
		rc = errno == EEXIST || errno == ENOTEMPTY ? SL_EEXIST : SL_EIO;
		goto out;
	}
	if (fsx_fsync_dir(rootfd) == -1) {
		snprintf(err, errlen, "fsync root: %s", strerror(errno));
		rc = SL_EIO;
	}
out:
	free(sums);
	free(buf);
	free(hashes);
	return rc;
}
