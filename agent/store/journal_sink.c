/*
 * journal_sink.c: the sink's records (contract in include/journal.h).
 *
 * The sink journals a dataset when OPEN announces it, and from then on
 * only the chunks it holds durable: a chunk record (hash, length) is
 * written by the group commit after the bytes are fdatasync'd, so that an
 * ack is a promise and HAVE after a restart is read from here.  An OPEN
 * for an id already journaled is a replay when the manifest is the same
 * (SL_EEXIST and the record back) and refused when it is not, so a
 * reconnecting agent resumes while a clashing id cannot overwrite.
 *
 * A new dataset of many files is written in slices (jr_files_ahead), so that
 * the group commit of other datasets never waits long for the write lock.
 *
 * Names are reserved here, not in the process: "names" maps a dataset's
 * directory under the root (jr_name_key) to the id that holds it, written
 * in the txn that creates the dataset and dropped in the txn that
 * publishes it or, once its partial tree is gone, fails it
 * (journal_sink_finish).  So a partial tree belongs to one id across
 * restarts, and another id asking for the name is told whose it is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "journal.h"
#include "journal_int.h"
#include "wire.h"

/* ---- datasets ----------------------------------------------------------- */

/* Same manifest: name, chunk size, file count, every path and size. */
static int
sink_same(struct journal *j, MDB_txn *t, const struct ds_rec *old,
    const struct ds_rec *d, const struct file_rec *files, uint32_t nfiles)
{
	struct file_rec *of = NULL;
	uint32_t i;
	int rc;

	if (strcmp(old->name, d->name) != 0 || old->chunk_size != d->chunk_size ||
	    old->nfiles != nfiles)
		return SL_EINVAL;
	rc = jr_files_load(j, t, old->id, nfiles, &of);
	if (rc)
		return rc;
	for (i = 0; i < nfiles; i++) {
		if (of[i].size != files[i].size ||
		    strcmp(of[i].path, files[i].path) != 0) {
			rc = SL_EINVAL;
			break;
		}
	}
	free(of);
	return rc;
}

int
journal_sink_ds_create(struct journal *j, const struct ds_rec *d,
    const struct file_rec *files, uint32_t nfiles, struct ds_rec *existing)
{
	struct file_rec *fr = NULL;
	struct ds_rec old = { 0 };
	MDB_txn *t = NULL;
	uint64_t nchunks, bytes;
	uint32_t ahead = 0;
	int rc;

	if (j->role != JOURNAL_SINK)
		return SL_EINVAL;
	rc = jr_ds_files(d, files, nfiles, &fr, &nchunks, &bytes);
	if (rc)
		goto fail;
	rc = jr_files_ahead(j, d->id, fr, nfiles, &ahead);
	if (rc)
		goto fail;
	rc = txn_begin(j, 0, &t);
	if (rc)
		goto fail;
	rc = jr_ds_load(j, t, d->id, &old);
	if (rc == SL_OK && ahead > 0) {
		rc = SL_EINVAL;	/* journaled meanwhile: not by the one opener */
		goto fail;
	}
	if (rc == SL_OK) {
		rc = sink_same(j, t, &old, d, files, nfiles);
		if (rc == SL_OK) {
			if (existing != NULL) {
				*existing = old;	/* meta ownership passes */
				old.meta = NULL;
				old.nmeta = 0;
			}
			rc = SL_EEXIST;
		}
		goto fail;
	}
	if (rc != SL_ENOTFOUND)
		goto fail;
	rc = jr_ds_insert_from(j, t, d, fr, nfiles, ahead, nchunks, bytes);
	if (rc == SL_OK && !j->rdonly) {
		/* Reserve the name (the caller checked that no other dataset
		 * holds it; a published holder's entry is simply replaced). */
		char kb[sizeof(d->dest) + SL_MAX_NAME + 2];
		uint8_t vb[8];
		MDB_val k, v = { sizeof(vb), vb };

		k.mv_size = jr_name_key(d, kb, sizeof(kb));
		k.mv_data = kb;
		wire_put_u64(vb, d->id);
		rc = map_rc(mdb_put(t, j->names, &k, &v, 0));
	}
fail:
	rc = txn_end(t, rc);
	if (rc != SL_OK && ahead > 0)
		jr_files_drop(j, d->id);
	ds_rec_free(&old);
	free(fr);
	return rc;
}

int
journal_sink_name_holder(struct journal *j, const char *dest, const char *name,
    uint64_t *id)
{
	struct ds_rec d;
	char kb[sizeof(d.dest) + SL_MAX_NAME + 2];
	MDB_txn *t = NULL;
	MDB_val k, v;
	int rc;

	if (j->role != JOURNAL_SINK || j->rdonly)
		return SL_EINVAL;
	memset(&d, 0, sizeof(d));
	strlcpy0(d.dest, dest, sizeof(d.dest));
	strlcpy0(d.name, name, sizeof(d.name));
	k.mv_size = jr_name_key(&d, kb, sizeof(kb));
	k.mv_data = kb;
	rc = txn_begin(j, 1, &t);
	if (rc)
		return rc;
	rc = mdb_get(t, j->names, &k, &v);
	if (rc == 0 && v.mv_size != 8)
		rc = MDB_CORRUPTED;
	if (rc == 0)
		*id = wire_get_u64(v.mv_data);
	mdb_txn_abort(t);
	return map_rc(rc);
}

/* ---- chunks ------------------------------------------------------------- */

int
journal_sink_chunks_put(struct journal *j, const struct sink_chunk *c,
    uint32_t n)
{
	struct ds_rec d = { 0 };
	struct file_rec f;
	MDB_txn *t = NULL;
	uint8_t kb[KEY_CHUNK_LEN], vb[REC_SCHUNK_LEN];
	MDB_val k, v;
	uint32_t i;
	int rc, have_ds = 0, have_file = 0, held;

	if (j->role != JOURNAL_SINK || (n > 0 && c == NULL))
		return SL_EINVAL;
	rc = txn_begin(j, 0, &t);
	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		if (!have_ds || d.id != c[i].dsid) {
			if (have_ds) {
				/* the txn sees its own write on a reload */
				rc = jr_ds_store(j, t, &d, 0);
				ds_rec_free(&d);
				have_ds = 0;	// NOLINT(clang-analyzer-deadcode.DeadStores): kept true to its name
				if (rc)
					goto fail;
			}
			rc = jr_ds_load(j, t, c[i].dsid, &d);
			if (rc)
				goto fail;
			have_ds = 1;
			have_file = 0;
		}
		rc = jr_file_at(j, t, &d, c[i].file, &f, &have_file);
		if (rc)
			goto fail;
		if (c[i].chunk >= f.nchunks ||
		    c[i].len != wire_chunk_len(f.size, d.chunk_size, c[i].chunk)) {
			rc = SL_EINVAL;
			goto fail;
		}
		k = key_chunk(kb, d.id, c[i].file, c[i].chunk);
		rc = mdb_get(t, j->chunks, &k, &v);
		if (rc != 0 && rc != MDB_NOTFOUND) {
			rc = map_rc(rc);
			goto fail;
		}
		held = rc == 0;
		jr_schunk_encode(vb, c[i].hash, c[i].len);
		if (held && v.mv_size == sizeof(vb) && memcmp(v.mv_data, vb,
		    sizeof(vb)) == 0)
			continue;
		v.mv_size = sizeof(vb);
		v.mv_data = vb;
		rc = map_rc(mdb_put(t, j->chunks, &k, &v, 0));
		if (rc)
			goto fail;
		d.updated_ns = now_ns();	/* partial_ttl counts from here */
		if (!held) {
			d.chunks_acked++;
			d.bytes_acked += c[i].len;
		}
	}
	if (have_ds)
		rc = jr_ds_store(j, t, &d, 0);
fail:
	rc = txn_end(t, rc);
	ds_rec_free(&d);
	return rc;
}

struct have_walk {
	const struct file_rec	*files;
	uint32_t		 nfiles;
	uint8_t			*bitmap;
	uint64_t		 nchunks;
};

static int
have_cb(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct have_walk *w = arg;
	uint32_t file = key_get32(k, 8), chunk = key_get32(k, 12);
	uint64_t g;

	if (file >= w->nfiles || chunk >= w->files[file].nchunks)
		return SL_EINVAL;	/* files do not match the journal */
	g = w->files[file].first_chunk + chunk;
	if (g >= w->nchunks)
		return SL_EINVAL;
	w->bitmap[g / 8] |= (uint8_t)(1u << (g % 8));
	return SL_OK;
}

int
journal_sink_have(struct journal *j, uint64_t id, const struct file_rec *files,
    uint32_t nfiles, uint8_t *bitmap, uint64_t nchunks)
{
	struct have_walk w = { files, nfiles, bitmap, nchunks };
	uint8_t kb[KEY_CHUNK_LEN];
	MDB_val k = key_chunk(kb, id, 0, 0);

	if (j->role != JOURNAL_SINK)
		return SL_EINVAL;
	return jr_walk(j, NULL, j->chunks, &k, KEY_CHUNK_LEN, id, have_cb, &w);
}

int
journal_sink_hashes(struct journal *j, uint64_t id, uint32_t file,
    uint64_t *hashes, uint32_t n)
{
	MDB_txn *t = NULL;
	uint8_t kb[KEY_CHUNK_LEN];
	MDB_val k, v;
	uint32_t i, len;
	int rc = SL_OK;

	if (j->role != JOURNAL_SINK)
		return SL_EINVAL;
	rc = txn_begin(j, 1, &t);
	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		k = key_chunk(kb, id, file, i);
		rc = mdb_get(t, j->chunks, &k, &v);
		if (rc) {
			rc = map_rc(rc);
			break;
		}
		rc = jr_schunk_decode(&v, &hashes[i], &len);
		if (rc)
			break;
	}
	mdb_txn_abort(t);
	return rc;
}

/* ---- forgetting --------------------------------------------------------- */

int
journal_sink_ds_forget(struct journal *j, uint64_t id, const char *note)
{
	struct ds_rec d = { 0 };
	MDB_txn *t = NULL;
	uint8_t kb[KEY_CHUNK_LEN];
	MDB_val k;
	uint64_t when;
	int rc;

	if (j->role != JOURNAL_SINK)
		return SL_EINVAL;
	rc = txn_begin(j, 0, &t);
	if (rc)
		return rc;
	rc = jr_ds_load(j, t, id, &d);
	if (rc)
		goto fail;
	rc = jr_hist_append(j, t, id, d.state, SDS_FAILED, note, &when);
	if (rc)
		goto fail;
	rc = jr_name_release(j, t, &d);	/* its name is free again */
	if (rc)
		goto fail;
	k = key_chunk(kb, id, 0, 0);
	rc = jr_del_prefix(t, j->chunks, &k, KEY_CHUNK_LEN, id);
	if (rc)
		goto fail;
	k = key_file(kb, id, 0);
	rc = jr_del_prefix(t, j->files, &k, KEY_FILE_LEN, id);
	if (rc)
		goto fail;
	k = key_ds(kb, id);
	rc = map_rc(mdb_del(t, j->datasets, &k, NULL));
fail:
	rc = txn_end(t, rc);
	ds_rec_free(&d);
	return rc;
}
