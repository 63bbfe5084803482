/*
 * cli_verify.c: `sluice verify DATASET`, re-hash and report every
 * difference.
 *
 * At a sink the reference is the dataset's .sluice-manifest (written by
 * sink_publish.c: "SIZE\tSHA256\tXXH3-128\tPATH" lines, '#' comments):
 * each listed file is re-read beneath <root>/<name> (never following a
 * symlink out of it) and its size, XXH3-128 and SHA-256 (when listed,
 * i.e. not "-") compared; then
 * the tree is walked for files the manifest does not list.
 *
 * At an agent the reference is the journal: the XXH3-64 of each chunk as
 * it was acknowledged by the sink.  The chunk hashes are copied out in one
 * short read txn and the journal closed before any file is read; each
 * source file is then re-read chunk by chunk.
 *
 * Every difference is one line "KIND PATH: detail" on stdout; the summary
 * line comes last.  Exit 0 when nothing differs, 1 otherwise.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "cli.h"
#include "digest.h"
#include "fsx.h"
#include "manifest.h"
#include "sluice.h"

#define MANIFEST_NAME	".sluice-manifest"
#define READ_BUF	(1u << 20)

struct mentry {
	uint64_t	size;
	char		sha[2 * SHA256_LEN + 1];
	char		xxh[33];
	char		*path;
	int		seen;
};

struct vctx {
	struct mentry	*e;
	size_t		 n, cap;
	unsigned	 diffs;
	size_t		 nosha;		/* files checked without a SHA-256 ("-") */
	uint64_t	 bytes;
};

static void
diff(struct vctx *v, const char *kind, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void
diff(struct vctx *v, const char *kind, const char *path, const char *fmt, ...)
{
	va_list	ap;

	v->diffs++;
	printf("%-8s %s", kind, cli_esc(path));
	if (fmt != NULL) {
		printf(": ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	putchar('\n');
}

static int
ment_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mentry *)a)->path, ((const struct mentry *)b)->path);
}

/* Parse the manifest into v->e (sorted by path).  0, or -1 with a line
 * printed. */
static int
load_manifest(int dfd, const char *dir, struct vctx *v)
{
	struct manifest_ent me;
	FILE	*fp;
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 len;
	int	 fd, lineno = 0, rc;

	fd = fsx_open_beneath(dfd, MANIFEST_NAME, O_RDONLY, 0);
	if (fd == -1 || (fp = fdopen(fd, "r")) == NULL) {
		fprintf(stderr, "sluice: verify: %s/%s: %s\n", cli_esc(dir), MANIFEST_NAME,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	while ((len = getline(&line, &cap, fp)) != -1) {
		lineno++;
		rc = manifest_parse_line(line, (size_t)len, &me);
		if (rc == MANIFEST_SKIP)
			continue;
		if (rc != 0) {
			fprintf(stderr, "sluice: verify: %s/%s:%d: malformed line\n", cli_esc(dir),
			    MANIFEST_NAME, lineno);
			free(line);
			fclose(fp);
			return -1;
		}
		if (v->n == v->cap) {
			size_t nc = v->cap ? v->cap * 2 : 64;
			struct mentry *ne = realloc(v->e, nc * sizeof(*ne));
			if (ne == NULL) {
				fprintf(stderr, "sluice: verify: out of memory\n");
				free(line);
				fclose(fp);
				return -1;
			}
			v->e = ne;
			v->cap = nc;
		}
		struct mentry *e = &v->e[v->n];
		memset(e, 0, sizeof(*e));
		e->size = me.size;
		memcpy(e->sha, me.sha256, sizeof(e->sha));
		memcpy(e->xxh, me.xxh128, sizeof(e->xxh));
		e->path = strdup(me.path);
		if (e->path == NULL)
			continue;
		v->n++;
	}
	free(line);
	fclose(fp);
	if (v->n > 0)		/* qsort's base is nonnull in glibc, even for 0 */
		qsort(v->e, v->n, sizeof(*v->e), ment_cmp);
	return 0;
}

static void
check_entry(int dfd, struct vctx *v, struct mentry *e, uint8_t *buf)
{
	struct stat	 st;
	struct sha256	*sh;
	XXH3_state_t	*x;
	XXH128_canonical_t canon;
	uint8_t		 sha[SHA256_LEN];
	char		 shahex[2 * SHA256_LEN + 1], xxhex[33];
	ssize_t		 n;
	uint64_t	 total = 0;
	int		 fd, want_sha, sha_bad = 0, xxh_bad;

	e->seen = 1;
	fd = fsx_open_beneath(dfd, e->path, O_RDONLY | O_NOFOLLOW, 0);
	if (fd == -1) {
		if (errno == ENOENT)
			diff(v, "missing", e->path, NULL);
		else
			diff(v, "unreadable", e->path, "%s", strerror(errno));
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		diff(v, "type", e->path, "not a regular file");
		close(fd);
		return;
	}
	if ((uint64_t)st.st_size != e->size) {
		diff(v, "size", e->path, "manifest %llu bytes, disk %llu",
		    (unsigned long long)e->size, (unsigned long long)st.st_size);
		close(fd);
		return;
	}
	want_sha = e->sha[0] != '\0';		/* "-": not in the manifest */
	sh = want_sha ? sha256_new() : NULL;
	x = XXH3_createState();
	if ((want_sha && sh == NULL) || x == NULL) {
		fprintf(stderr, "sluice: verify: out of memory\n");
		exit(SL_EXIT_FAIL);
	}
	XXH3_128bits_reset(x);
	while ((n = read(fd, buf, READ_BUF)) > 0) {
		if (sh != NULL)
			sha256_update(sh, buf, (size_t)n);
		XXH3_128bits_update(x, buf, (size_t)n);
		total += (uint64_t)n;
	}
	if (want_sha)
		sha256_final(sh, sha);		/* frees sh */
	else
		v->nosha++;
	XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(x));
	XXH3_freeState(x);
	if (n < 0) {
		diff(v, "unreadable", e->path, "%s", strerror(errno));
		close(fd);
		return;
	}
	close(fd);
	v->bytes += total;
	if (want_sha) {
		digest_hex(sha, SHA256_LEN, shahex);
		sha_bad = strcmp(shahex, e->sha) != 0;
	}
	digest_hex(canon.digest, 16, xxhex);
	xxh_bad = strcmp(xxhex, e->xxh) != 0;
	if (sha_bad || xxh_bad)
		diff(v, "digest", e->path, "%s%s%s differs", sha_bad ? "sha256" : "",
		    sha_bad && xxh_bad ? " and " : "", xxh_bad ? "xxh3-128" : "");
}

/* Report every regular file or symlink under dfd/rel not in the manifest. */
static void
find_extra(int dfd, const char *rel, struct vctx *v, int depth)
{
	DIR		*d;
	struct dirent	*de;
	struct mentry	 key, *hit;
	char		 path[SL_MAX_PATH + 1];
	int		 fd;

	if (depth > 256)
		return;
	fd = rel[0] ? fsx_open_beneath(dfd, rel, O_RDONLY | O_DIRECTORY, 0) :
	    dup(dfd);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		diff(v, "unreadable", rel[0] ? rel : ".", "%s", strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (rel[0] == '\0' && strcmp(de->d_name, MANIFEST_NAME) == 0)
			continue;
		snprintf(path, sizeof(path), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
		if (de->d_type == DT_DIR) {
			find_extra(dfd, path, v, depth + 1);
			continue;
		}
		key.path = path;
		hit = v->n > 0 ? bsearch(&key, v->e, v->n, sizeof(*v->e), ment_cmp) :
		    NULL;
		if (hit == NULL)
			diff(v, "extra", path, "not in the manifest");
	}
	closedir(d);
}

static int
verify_sink(const char *arg)
{
	struct ds_rec	 d;
	struct vctx	 v;
	char		 dir[SL_MAX_PATH * 2], flat[SL_MAX_PATH * 2], alt[SL_MAX_PATH * 2];
	const char	*name = arg, *first, *second;
	int		 per;
	uint8_t		*buf;
	size_t		 i;
	int		 dfd, rc;

	memset(&v, 0, sizeof(v));
	rc = cli_ds_lookup(arg, &d);
	if (rc == SL_OK) {
		name = d.name;
		if (d.state != SDS_PUBLISHED)
			fprintf(stderr, "sluice: verify: %s is %s, not published\n", cli_esc(d.name),
			    cli_state_name(d.state));
	}
	if (strchr(name, '/') != NULL || strcmp(name, "..") == 0 || name[0] == '.') {
		fprintf(stderr, "sluice: verify: %s: not a dataset name\n", cli_esc(name));
		ds_rec_free(&d);
		return SL_EXIT_USAGE;
	}
	/* [sink] layout = per-agent publishes <root>/<agent>/<name>; the
	 * layout applies to new datasets, so a journaled one may be in either
	 * place: the configured layout's first, then the other */
	per = rc == SL_OK && d.src[0] && strchr(d.src, '/') == NULL && d.src[0] != '.';
	snprintf(flat, sizeof(flat), "%s/%s", cli_cfg.root, name);
	if (per)
		snprintf(alt, sizeof(alt), "%s/%s/%s", cli_cfg.root, d.src, name);
	first = per && cli_cfg.layout == LAYOUT_PER_AGENT ? alt : flat;
	second = !per ? NULL : first == alt ? flat : alt;
	snprintf(dir, sizeof(dir), "%s", first);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd == -1 && second != NULL) {
		int e = errno;

		dfd = open(second, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (dfd != -1)
			snprintf(dir, sizeof(dir), "%s", second);
		else
			errno = e;
	}
	if (dfd == -1) {
		fprintf(stderr, "sluice: verify: %s: %s\n", cli_esc(dir), strerror(errno));
		ds_rec_free(&d);
		return SL_EXIT_FAIL;
	}
	if (load_manifest(dfd, dir, &v) != 0) {
		for (i = 0; i < v.n; i++)
			free(v.e[i].path);
		free(v.e);
		close(dfd);
		ds_rec_free(&d);
		return SL_EXIT_FAIL;
	}
	buf = malloc(READ_BUF);
	if (buf == NULL) {
		fprintf(stderr, "sluice: verify: out of memory\n");
		exit(SL_EXIT_FAIL);
	}
	for (i = 0; i < v.n; i++)
		check_entry(dfd, &v, &v.e[i], buf);
	find_extra(dfd, "", &v, 0);
	free(buf);
	close(dfd);
	if (v.diffs == 0)
		printf("OK %s: %zu files, %llu bytes match %s (%s)\n", cli_esc(dir),
		    v.n, (unsigned long long)v.bytes, MANIFEST_NAME,
		    v.n == 0 ? "no files, no digest to check" : v.nosha == 0 ?
		    "sha256, xxh3-128" : v.nosha == v.n ? "xxh3-128" :
		    "xxh3-128; sha256 where listed");
	else
		printf("FAILED %s: %u difference%s in %zu files\n", cli_esc(dir), v.diffs,
		    v.diffs == 1 ? "" : "s", v.n);
	for (i = 0; i < v.n; i++)
		free(v.e[i].path);
	free(v.e);
	ds_rec_free(&d);
	return v.diffs ? SL_EXIT_FAIL : SL_EXIT_OK;
}

/* ---- agent --------------------------------------------------------------- */

struct chunkmap {
	const struct file_rec	*files;
	uint32_t		 nfiles;
	uint64_t		*hash;		/* by global chunk index */
	uint8_t			*has;
	uint64_t		 nchunks;
};

static void
chunk_fn(uint32_t file, uint32_t chunk, int state, uint64_t hash, int has_hash,
    void *arg)
{
	struct chunkmap	*m = arg;
	uint64_t	 g;

	if (file >= m->nfiles || chunk >= m->files[file].nchunks)
		return;
	g = m->files[file].first_chunk + chunk;
	if (g >= m->nchunks)
		return;
	m->hash[g] = hash;
	m->has[g] = state == CHUNK_ACKED && has_hash;
}

static int
verify_agent(const char *arg)
{
	struct journal	*j;
	struct ds_rec	 d;
	struct file_rec	*files = NULL;
	struct chunkmap	 m;
	struct vctx	 v;
	struct stat	 st;
	uint32_t	 nf = 0, i, c;
	uint64_t	 checked = 0, unknown = 0, g, off;
	uint8_t		*buf = NULL;
	ssize_t		 n;
	int		 sfd = -1, fd, rc, bad, meta;

	memset(&v, 0, sizeof(v));
	memset(&m, 0, sizeof(m));
	memset(&d, 0, sizeof(d));
	j = cli_open_journal(0);
	rc = journal_ds_find(j, arg, &d);
	if (rc != SL_OK) {
		journal_close(j);
		fprintf(stderr, "sluice: verify: %s: no such dataset\n", arg);
		return SL_EXIT_FAIL;
	}
	rc = journal_files_load(j, d.id, &files, &nf);
	if (rc == SL_OK) {
		m.files = files;
		m.nfiles = nf;
		m.nchunks = d.nchunks;
		m.hash = calloc(d.nchunks ? d.nchunks : 1, sizeof(*m.hash));
		m.has = calloc(d.nchunks ? d.nchunks : 1, 1);
		if (m.hash == NULL || m.has == NULL)
			rc = SL_ENOMEM;
		else
			rc = journal_chunks_foreach(j, d.id, chunk_fn, &m);
	}
	journal_close(j);		/* before reading any file: short txns only */
	if (rc != SL_OK) {
		fprintf(stderr, "sluice: verify: %s: journal: %s\n", d.name, sl_strerror(rc));
		goto out;
	}
	sfd = open(d.src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	buf = malloc(d.chunk_size ? d.chunk_size : 1);
	if (sfd == -1 || buf == NULL) {
		fprintf(stderr, "sluice: verify: %s: %s\n", cli_esc(d.src), strerror(errno));
		rc = SL_EIO;
		goto out;
	}
	for (i = 0; i < nf; i++) {
		const struct file_rec *f = &files[i];

		fd = fsx_open_beneath(sfd, f->path, O_RDONLY | O_NOFOLLOW, 0);
		if (fd == -1) {
			if (errno == ENOENT)
				diff(&v, "missing", f->path, "gone from %s", cli_esc(d.src));
			else
				diff(&v, "unreadable", f->path, "%s", strerror(errno));
			continue;
		}
		if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != f->size) {
			diff(&v, "size", f->path, "journaled %llu bytes, now %llu",
			    (unsigned long long)f->size, (unsigned long long)st.st_size);
			close(fd);
			continue;
		}
		meta = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec !=
		    f->mtime_ns;
		bad = 0;
		for (c = 0; c < f->nchunks; c++) {
			size_t len;

			off = (uint64_t)c * d.chunk_size;
			len = f->size - off < d.chunk_size ? (size_t)(f->size - off) :
			    d.chunk_size;
			g = f->first_chunk + c;
			if (g >= m.nchunks || !m.has[g]) {
				unknown++;
				continue;
			}
			n = pread(fd, buf, len, (off_t)off);
			if (n != (ssize_t)len) {
				diff(&v, "unreadable", f->path, "chunk %u: %s", c,
				    n < 0 ? strerror(errno) : "short read");
				bad = -1;
				break;
			}
			checked++;
			v.bytes += len;
			if (XXH3_64bits(buf, len) != m.hash[g]) {
				if (bad++ == 0)
					diff(&v, "changed", f->path, "chunk %u (offset %llu) "
					    "differs from what was sent", c,
					    (unsigned long long)off);
			}
		}
		if (bad > 1)
			printf("         %s: %d chunks differ in all\n", cli_esc(f->path), bad);
		if (bad == 0 && meta)
			printf("note     %s: modification time changed, content the same\n",
			    cli_esc(f->path));
		close(fd);
	}
	if (v.diffs == 0)
		printf("OK %s: %u files, %llu chunks (%llu bytes) match the hashes the "
		    "sink acknowledged%s\n", cli_esc(d.name), nf, (unsigned long long)checked,
		    (unsigned long long)v.bytes, unknown ? "" : "");
	else
		printf("FAILED %s: %u file%s changed since transfer\n", cli_esc(d.name), v.diffs,
		    v.diffs == 1 ? "" : "s");
	if (unknown)
		printf("note: %llu chunks not yet acknowledged were not checked\n",
		    (unsigned long long)unknown);
out:
	if (sfd != -1)
		close(sfd);
	free(buf);
	free(m.hash);
	free(m.has);
	free(files);
	ds_rec_free(&d);
	if (rc != SL_OK)
		return SL_EXIT_FAIL;
	return v.diffs ? SL_EXIT_FAIL : SL_EXIT_OK;
}

int
cmd_verify(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-')
		return CLI_USAGE;
	return cli_cfg.role == ROLE_SINK ? verify_sink(argv[1]) : verify_agent(argv[1]);
}
