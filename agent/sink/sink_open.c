/*
 * sink_open.c: the heavy half of an OPEN, on the opener thread.
 *
 * An OPEN of 100,000 files costs a tenth of a second or so: sorting and
 * checking the paths, journaling the dataset and its files in one txn,
 * making the partial directory and reading back which chunks are held.
 * On the loop that would stall every other agent for as long; here it
 * runs on a worker thread of its own (workq.h, one thread, jobs in
 * order) and the loop answers HAVE when the job comes back
 * (sink_dataset.c sds_opened).  The files themselves are created as
 * their first chunks arrive (publish.h publish_open_file): creating
 * 100,000 of them here, with the syncfs that made them durable, took
 * seconds of the file system's journal that every other dataset's group
 * commit waited behind (scripts/bench --open-storm).
 *
 * The job (struct sopen) owns copies of everything it needs and borrows
 * only what is fixed for the sink's life (the root's fd, the journal,
 * which is safe from two threads: journal.h).  It never touches loop
 * state: what the loop decided when it pushed the job (the owner, the
 * namespace rec.dest and its directory nsfd, the name free) travels in
 * the job.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "publish.h"
#include "sink_int.h"
#include "sltime.h"

struct sopen *
sopen_new(struct sink *sk, const struct sconn *c, const struct wire_open *o)
{
	struct sopen	*op;
	struct timespec	 ts;
	char		*pp;
	size_t		 plen;
	uint64_t	 g = 0;
	uint32_t	 i, nb = o->nfiles ? o->nfiles : 1;

	op = calloc(1, sizeof(*op));
	if (op == NULL)
		return NULL;
	op->rootfd = sk->rootfd;
	op->j = sk->j;
	op->conn = c->serial;
	op->pfd = -1;
	op->nsfd = -1;
	snprintf(op->agent, sizeof(op->agent), "%s", c->agent);
	op->rec.id = o->dsid;
	op->rec.state = SDS_RECEIVING;
	clock_gettime(CLOCK_REALTIME, &ts);
	op->rec.created_ns = op->rec.updated_ns = (uint64_t)ts.tv_sec * 1000000000u +
	    (uint64_t)ts.tv_nsec;
	op->rec.chunk_size = o->chunk_size;
	op->rec.nfiles = o->nfiles;
	op->rec.bytes = o->total_bytes;
	wire_str_copy(op->rec.name, sizeof(op->rec.name), o->name);
	snprintf(op->rec.src, sizeof(op->rec.src), "%s", c->agent);
	/* One block: the records, then their paths (as journal_files_load). */
	for (i = 0, plen = 0; i < o->nfiles; i++)
		plen += (size_t)o->files[i].path.len + 1;
	op->files = calloc(1, nb * sizeof(*op->files) + plen);
	if (op->files == NULL)
		goto fail;
	pp = (char *)(op->files + nb);
	for (i = 0; i < o->nfiles; i++) {
		struct file_rec *f = &op->files[i];

		f->idx = i;
		f->size = o->files[i].size;
		f->mode = o->files[i].mode & 07777;
		f->nchunks = wire_nchunks(o->files[i].size, o->chunk_size);
		f->first_chunk = g;
		g += f->nchunks;
		f->path = pp;
		memcpy(pp, o->files[i].path.p, o->files[i].path.len);
		pp[o->files[i].path.len] = '\0';
		pp += o->files[i].path.len + 1;
	}
	op->nfiles = o->nfiles;
	op->rec.nchunks = g;
	if (o->nmeta > 0) {
		op->rec.meta = calloc(o->nmeta, sizeof(*op->rec.meta));
		if (op->rec.meta == NULL)
			goto fail;
		op->rec.nmeta = o->nmeta;
		for (i = 0; i < o->nmeta; i++) {
			wire_str_copy(op->rec.meta[i][0], sizeof(op->rec.meta[i][0]),
			    o->meta[i].key);
			wire_str_copy(op->rec.meta[i][1], sizeof(op->rec.meta[i][1]),
			    o->meta[i].val);
		}
	}
	op->cost = slim_cost(o->nfiles, plen, g, o->nmeta);
	return op;
fail:
	sopen_free(op);
	return NULL;
}

void
sopen_free(struct sopen *op)
{
	if (op == NULL)
		return;
	if (op->nsfd >= 0 && op->nsfd != op->rootfd)
		close(op->nsfd);
	ds_rec_free(&op->rec);
	free(op->files);
	free(op->held);
	free(op->abandon);
	free(op);
}

static int
cmp_pathp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A manifest may not name a path twice, nor use a file as a directory
 * ("a" and "a/b"): either would make two entries share bytes on disk.
 * Returns the offending path or NULL. */
static const char *
manifest_conflict(const struct file_rec *files, uint32_t n)
{
	const char	**v, *bad = NULL;
	char		 pre[SL_MAX_PATH + 1];
	uint32_t	 i;
	char		*sl;

	if (n < 2)
		return NULL;
	v = malloc(n * sizeof(*v));
	if (v == NULL)
		return "(out of memory)";
	for (i = 0; i < n; i++)
		v[i] = files[i].path;
	qsort(v, n, sizeof(*v), cmp_pathp);
	for (i = 0; i < n && bad == NULL; i++) {
		/* v[] holds files[i].path, arrays: never NULL (the analyzer
		 * loses that through qsort). */
		if (i > 0 && strcmp(v[i - 1], v[i]) == 0) { // NOLINT(clang-analyzer-core.NonNullParamChecker)
			bad = v[i];
			break;
		}
		snprintf(pre, sizeof(pre), "%s", v[i]);
		while ((sl = strrchr(pre, '/')) != NULL) {
			const char *key = pre;
			*sl = '\0';
			if (bsearch(&key, v, n, sizeof(*v), cmp_pathp)) {
				bad = v[i];
				break;
			}
		}
	}
	free(v);
	return bad;
}

/* An error for the agent: about the dataset (dsid) or the session (0). */
static void
op_fail(struct sopen *op, uint64_t dsid, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
op_fail(struct sopen *op, uint64_t dsid, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(op->err, sizeof(op->err), fmt, ap);
	va_end(ap);
	op->rc = rc;
	op->err_dsid = dsid;
}

/* The manifest names a path the sink writes itself. */
static const char *
reserved_name(const struct file_rec *files, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (strcmp(files[i].path, SL_MANIFEST_NAME) == 0)
			return files[i].path;
	return NULL;
}

void
sopen_run(struct wq_job *j, int worker, void *arg)
{
	struct sopen	*op = (struct sopen *)j;
	struct sink	*sk = arg;	/* only its opener: fixed while jobs run */
	struct ds_rec	 existing;
	const char	*bad;
	char		 path[SL_MAX_PATH + 1];
	double		 t0 = sl_time_mono(), t1 = 0, t2 = 0;
	int		 rc;

	(void)worker;
	op->ran = 1;
	op->rc = SL_OK;
	if ((bad = manifest_conflict(op->files, op->nfiles)) != NULL) {
		op_fail(op, op->rec.id, SL_EPATH, "manifest names \"%s\" twice or uses "
		    "a file as a directory", bad);
		goto out;
	}
	if ((bad = reserved_name(op->files, op->nfiles)) != NULL) {
		op_fail(op, op->rec.id, SL_EPATH, "file name \"%s\" is reserved for the "
		    "manifest the sink writes into every dataset; rename the file", bad);
		goto out;
	}
	memset(&existing, 0, sizeof(existing));
	t1 = sl_time_mono();
	rc = journal_sink_ds_create(op->j, &op->rec, op->files, op->nfiles, &existing);
	t2 = sl_time_mono();
	if (rc == SL_EEXIST) {
		op->rec.state = existing.state;
		op->rec.chunks_acked = existing.chunks_acked;
		op->rec.bytes_acked = existing.bytes_acked;
		op->rec.created_ns = existing.created_ns;
		ds_rec_free(&op->rec);		/* keep the journal's metadata */
		op->rec.nmeta = existing.nmeta;
		op->rec.meta = existing.meta;
		existing.meta = NULL;
		existing.nmeta = 0;
		ds_rec_free(&existing);
	} else if (rc != SL_OK) {	/* SL_OK: new, its name reserved (checked free on the loop) */
		op_fail(op, op->rec.id, rc, "dataset %016llx: %s",
		    (unsigned long long)op->rec.id, rc == SL_EINVAL ?
		    "id reused with a different manifest" : sl_strerror(rc));
		goto out;
	}
	if (op->rec.state == SDS_FAILED) {
		op_fail(op, op->rec.id, SL_ESTATE, "dataset failed at the sink earlier; "
		    "see sluice status on the sink");
		goto out;
	}
	op->held = calloc((size_t)((op->rec.nchunks + 7) / 8) + 1, 1);
	if (op->held == NULL) {
		op_fail(op, 0, SL_ENOMEM, "out of memory");
		goto out;
	}
	if (op->rec.state != SDS_RECEIVING)
		goto out;
	/* Crashed between rename and journal?  Then it is published. */
	if (publish_is_published(op->nsfd, &op->rec) == 1) {
		if (op->rec.dest[0] != '\0')
			snprintf(path, sizeof(path), "%s/%s", op->rec.dest, op->rec.name);
		else
			snprintf(path, sizeof(path), "%s", op->rec.name);
		rc = journal_sink_finish(op->j, op->rec.id, SDS_PUBLISHED, NULL, path);
		if (rc != SL_OK)
			log_err("journal", "dataset=%016llx cannot record published: %s",
			    (unsigned long long)op->rec.id, sl_strerror(rc));
		op->published_now = 1;
		goto out;
	}
	rc = publish_prepare(op->nsfd, &op->rec, op->err, sizeof(op->err));
	if (rc < 0) {
		if (!sl_err_retryable(rc))
			journal_ds_set_state(op->j, op->rec.id, SDS_FAILED, op->err, NULL);
		op->rc = rc;
		op->err_dsid = op->rec.id;
		op->rec.state = sl_err_retryable(rc) ? op->rec.state : SDS_FAILED;
		goto out;
	}
	op->pfd = rc;
	rc = journal_sink_have(op->j, op->rec.id, op->files, op->nfiles, op->held,
	    op->rec.nchunks);
	if (rc != SL_OK)
		op_fail(op, op->rec.id, rc, "journal: %s", sl_strerror(rc));
	log_info("sink", "dataset=%016llx files=%u prepared in %.2fs (checks %.2fs, "
	    "journal %.2fs, partial directory and held chunks %.2fs)",
	    (unsigned long long)op->rec.id, op->nfiles, sl_time_mono() - t0, t1 - t0,
	    t2 - t1, sl_time_mono() - t2);
out:
	workq_finish(sk->opener, j);
}
