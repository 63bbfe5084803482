/*
 * journal_srcs.c: the agent's index from a dataset's source directory to
 * its id (contract in include/journal.h: journal_src_find).
 *
 * Ingest hands over every sealed directory it finds, again after each
 * restart, and the agent must not journal one twice.  It used to look
 * for the source by walking every dataset record, once per sealed
 * directory: a spool of N sealed datasets at start cost N x N record
 * decodes, and an agent starting on 10,000 of them did not answer
 * `status` for more than 10 s.  Now one cursor seek per lookup.
 *
 * Database "srcs", agent journals opened read-write: key XXH3-128 of the
 * source path (16 bytes, canonical) then the id (u64 BE), no value.  The
 * hash keeps keys short (LMDB's limit is 511 bytes; a path may be 4,095)
 * and a lookup checks the dataset's own src, so a collision costs a
 * record load, never a wrong answer.  Written in the txn that creates
 * the dataset (jr_src_put); a journal from before the index is indexed
 * once, by the first lookup that finds the index empty and datasets
 * journaled.  (An older sluiced writing to the journal afterwards would
 * not keep the index: run one version per journal.)
 */
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>
#include <xxhash.h>

#include "journal.h"
#include "journal_int.h"

#define KEY_SRC_HASH	16
#define KEY_SRC_LEN	(KEY_SRC_HASH + 8)

static MDB_val
key_src(uint8_t k[KEY_SRC_LEN], const char *src, uint64_t id)
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, XXH3_128bits(src, strlen(src)));
	memcpy(k, c.digest, KEY_SRC_HASH);
	be_put64(k + KEY_SRC_HASH, id);
	return (MDB_val){ KEY_SRC_LEN, k };
}

int
jr_src_put(struct journal *j, MDB_txn *t, const struct ds_rec *d)
{
	uint8_t kb[KEY_SRC_LEN];
	MDB_val k, v = { 0, NULL };

	if (j->role != JOURNAL_AGENT || !j->has_srcs)
		return SL_OK;
	k = key_src(kb, d->src, d->id);
	return map_rc(mdb_put(t, j->srcs, &k, &v, 0));
}

/* ---- indexing a journal from before the index ------------------------- */

struct build {
	struct journal	*j;
	MDB_txn		*t;
};

static int
build_cb(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct build	*b = arg;
	struct ds_rec	*d;
	int		 rc;

	(void)v;
	d = malloc(sizeof(*d));		/* large: not on the stack */
	if (d == NULL)
		return SL_ENOMEM;
	rc = jr_ds_load(b->j, b->t, be_get64(k->mv_data), d);
	if (rc == SL_OK)
		rc = jr_src_put(b->j, b->t, d);
	ds_rec_free(d);
	free(d);
	return rc;
}

/* Index every dataset if the index is empty and datasets exist. */
static int
build_if_empty(struct journal *j)
{
	struct build	 b = { j, NULL };
	MDB_stat	 ss, ds;
	int		 rc;

	rc = txn_begin(j, 0, &b.t);
	if (rc)
		return rc;
	rc = map_rc(mdb_stat(b.t, j->srcs, &ss));
	if (rc == SL_OK)
		rc = map_rc(mdb_stat(b.t, j->datasets, &ds));
	if (rc == SL_OK && ss.ms_entries == 0 && ds.ms_entries > 0)
		rc = jr_walk(j, b.t, j->datasets, NULL, KEY_DS_LEN, 0, build_cb, &b);
	return txn_end(b.t, rc);
}

/* ---- lookup ----------------------------------------------------------------- */

int
journal_src_find(struct journal *j, const char *src, uint64_t *id)
{
	uint8_t		 kb[KEY_SRC_LEN];
	struct ds_rec	*d;
	MDB_cursor	*c = NULL;
	MDB_txn		*t = NULL;
	MDB_val		 k, v;
	int		 rc, op;

	if (j->role != JOURNAL_AGENT || !j->has_srcs)
		return SL_EINVAL;
	if (!j->srcs_checked) {
		rc = build_if_empty(j);
		if (rc)
			return rc;
		j->srcs_checked = 1;
	}
	d = malloc(sizeof(*d));
	if (d == NULL)
		return SL_ENOMEM;
	k = key_src(kb, src, 0);	/* the first key of src's hash */
	rc = txn_begin(j, 1, &t);
	if (rc == SL_OK)
		rc = map_rc(mdb_cursor_open(t, j->srcs, &c));
	for (op = MDB_SET_RANGE; rc == SL_OK; op = MDB_NEXT) {
		rc = mdb_cursor_get(c, &k, &v, op);
		if (rc == MDB_NOTFOUND || (rc == 0 && (k.mv_size != KEY_SRC_LEN ||
		    memcmp(k.mv_data, kb, KEY_SRC_HASH) != 0))) {
			rc = SL_ENOTFOUND;
			break;
		}
		rc = map_rc(rc);
		if (rc)
			break;
		*id = be_get64((const uint8_t *)k.mv_data + KEY_SRC_HASH);
		rc = jr_ds_load(j, t, *id, d);
		if (rc == SL_ENOTFOUND)
			rc = SL_OK;	/* not (or no longer) a dataset: next */
		else if (rc == SL_OK) {
			int same = strcmp(d->src, src) == 0;

			ds_rec_free(d);
			if (same)
				break;
		}
	}
	if (c)
		mdb_cursor_close(c);
	if (t)
		mdb_txn_abort(t);
	free(d);
	return rc;
}
