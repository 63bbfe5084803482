/*
 * journal_rejected.c: datasets the agent could not journal (contract in
 * include/journal.h).
 *
 * A directory that appears in a spool is either shipped or visibly
 * failed: when its tree cannot be journaled (an unreadable file, a
 * symlink, a path longer than the agent can open, too many files) it
 * still gets a dataset record, with no files, in DS_FAILED with the reason
 * naming the offending file, and one history entry.  The record is what
 * `ls`, `status` and the metrics count, and what ingest finds after a
 * restart so that the directory is not walked and logged again.  When the
 * operator has fixed the source, `sluice retry` walks it again and
 * journal_ds_refill gives the record its files and queues it, in one txn,
 * under the same id (no sink has ever seen it: it was never bound to a
 * destination).
 */
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "journal.h"
#include "journal_int.h"

int
journal_ds_create_failed(struct journal *j, const struct ds_rec *d,
    const char *reason)
{
	struct ds_rec	 rec = *d;
	MDB_txn		*t = NULL;
	uint64_t	 when = 0;
	int		 rc;

	if (j->role != JOURNAL_AGENT || reason == NULL || d->chunk_size == 0 ||
	    d->nmeta > SL_MAX_META || (d->nmeta > 0 && d->meta == NULL))
		return SL_EINVAL;
	rec.state = DS_FAILED;
	rec.nfiles = 0;
	rec.nchunks = 0;
	rec.bytes = 0;
	rec.dest[0] = '\0';
	strlcpy0(rec.error, reason, sizeof(rec.error));
	rc = txn_begin(j, 0, &t);
	if (rc)
		return rc;
	rc = jr_ds_insert(j, t, &rec, NULL, 0, 0, 0);
	if (rc == SL_OK)
		rc = jr_hist_append(j, t, rec.id, 0, DS_FAILED, reason, &when);
	return txn_end(t, rc);
}

int
journal_ds_refill(struct journal *j, uint64_t id, const struct file_rec *files,
    uint32_t nfiles, const char *reason)
{
	struct ds_rec	 d = { 0 };
	struct file_rec	*fr = NULL;
	MDB_txn		*t = NULL;
	uint64_t	 nchunks, bytes, when = 0;
	int		 rc;

	if (j->role != JOURNAL_AGENT)
		return SL_EINVAL;
	rc = txn_begin(j, 0, &t);
	if (rc)
		return rc;
	rc = jr_ds_load(j, t, id, &d);
	if (rc)
		goto fail;
	if (!journal_ds_rewalkable(&d)) {
		rc = SL_ESTATE;
		goto fail;
	}
	rc = jr_ds_files(&d, files, nfiles, &fr, &nchunks, &bytes);
	if (rc)
		goto fail;
	rc = jr_files_insert(j, t, id, fr, nfiles);
	if (rc)
		goto fail;
	rc = jr_hist_append(j, t, id, d.state, DS_QUEUED, reason, &when);
	if (rc)
		goto fail;
	d.state = DS_QUEUED;
	d.nfiles = nfiles;
	d.nchunks = nchunks;
	d.bytes = bytes;
	d.chunks_acked = 0;
	d.bytes_acked = 0;
	d.error[0] = '\0';
	d.updated_ns = when;
	rc = jr_ds_store(j, t, &d, 0);
fail:
	rc = txn_end(t, rc);
	free(fr);
	ds_rec_free(&d);
	return rc;
}

int
journal_ds_rewalkable(const struct ds_rec *d)
{
	return d->state == DS_FAILED && d->nfiles == 0 && d->dest[0] == '\0' &&
	    d->chunks_sent == 0;
}
