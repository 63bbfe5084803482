/*
 * journal_move.c: a dataset's moves between destinations (contract in
 * include/journal.h).
 *
 * A dataset is bound to one destination at a time (ds_rec.dest).  Its
 * chunk records say "acked" only for what *that* destination holds: a
 * move (journal_ds_rebind) sets every acked chunk back to pending, in the
 * same txn as the new binding, so that the new destination's HAVE is the
 * whole truth there and "the sink no longer holds a chunk it acked" can
 * only mean real loss at the bound sink.
 *
 * The partial copy a move leaves at the old destination is remembered in
 * the "left" database, key (id BE, destination text), value (u16 version,
 * u64 time_ns): the dataset may come back and resume from it, and once the
 * dataset is published elsewhere or failed the agent tells that sink to
 * release it (send_xfer.c).  Coming back to a destination removes its
 * entry in the same txn as the rebinding.
 */
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "journal.h"
#include "journal_int.h"
#include "wire.h"

#define REC_LEFT_V	1
#define DEST_MAX	(sizeof(((struct ds_rec *)0)->dest) - 1)

static MDB_val
key_left(uint8_t kb[8 + DEST_MAX], uint64_t id, const char *dest)
{
	size_t i, n = strlen(dest);

	be_put64(kb, id);
	for (i = 0; i < n; i++)		/* bytes, no NUL: the key's length ends it */
		kb[8 + i] = (uint8_t)dest[i];
	return (MDB_val){ 8 + n, kb };
}

static int
left_put(struct journal *j, MDB_txn *t, uint64_t id, const char *dest)
{
	uint8_t kb[8 + DEST_MAX];
	MDB_val k = key_left(kb, id, dest);
	struct enc e = { 0 };

	jr_enc_u16(&e, REC_LEFT_V);
	jr_enc_u64(&e, now_ns());
	return jr_put(t, j->left, &k, &e, 0);
}

static int
left_del(struct journal *j, MDB_txn *t, uint64_t id, const char *dest)
{
	uint8_t kb[8 + DEST_MAX];
	MDB_val k = key_left(kb, id, dest);
	int rc = mdb_del(t, j->left, &k, NULL);

	return rc == MDB_NOTFOUND ? SL_OK : map_rc(rc);
}

int
journal_ds_rebind(struct journal *j, uint64_t id, const char *note,
    const char *dest)
{
	struct ds_rec	 d = { 0 };
	MDB_txn		*t = NULL;
	uint64_t	 when;
	int		 rc;

	if (j->role != JOURNAL_AGENT || !j->has_left || dest == NULL ||
	    dest[0] == '\0' || strlen(dest) > DEST_MAX)
		return SL_EINVAL;
	rc = txn_begin(j, 0, &t);
	if (rc)
		return rc;
	rc = jr_ds_load(j, t, id, &d);
	if (rc)
		goto fail;
	rc = left_del(j, t, id, dest);	/* back here (or never left) */
	if (rc || strcmp(d.dest, dest) == 0)
		goto fail;		/* already bound there: no move */
	if (d.dest[0] != '\0') {
		/* A move: the old one keeps a partial copy; what it acked is
		 * not held here. */
		rc = left_put(j, t, id, d.dest);
		if (rc == SL_OK)
			rc = jr_chunks_unack(j, t, id);
		if (rc)
			goto fail;
		d.chunks_acked = 0;
		d.bytes_acked = 0;
	}
	if (note != NULL) {
		rc = jr_hist_append(j, t, id, d.state, d.state, note, &when);
		d.updated_ns = when;
	}
	if (rc)
		goto fail;
	strlcpy0(d.dest, dest, sizeof(d.dest));
	rc = jr_ds_store(j, t, &d, 0);
fail:
	rc = txn_end(t, rc);
	ds_rec_free(&d);
	return rc;
}

int
journal_left_foreach(struct journal *j,
    int (*fn)(uint64_t id, const char *dest, void *arg), void *arg)
{
	MDB_txn		*t = NULL;
	MDB_cursor	*c = NULL;
	MDB_val		 k, v;
	char		 dest[DEST_MAX + 1];
	int		 rc, op;

	if (!j->has_left)
		return SL_OK;		/* read-only: none visible */
	rc = txn_begin(j, 1, &t);
	if (rc)
		return rc;
	rc = map_rc(mdb_cursor_open(t, j->left, &c));
	for (op = MDB_FIRST; rc == SL_OK; op = MDB_NEXT) {
		rc = mdb_cursor_get(c, &k, &v, op);
		if (rc == MDB_NOTFOUND) {
			rc = SL_OK;
			break;
		}
		if (rc) {
			rc = map_rc(rc);
			break;
		}
		if (k.mv_size <= 8 || k.mv_size > 8 + DEST_MAX ||
		    memchr((const uint8_t *)k.mv_data + 8, '\0', k.mv_size - 8)) {
			rc = SL_EJOURNAL;
			break;
		}
		memcpy(dest, (const uint8_t *)k.mv_data + 8, k.mv_size - 8);
		dest[k.mv_size - 8] = '\0';
		if (fn(be_get64(k.mv_data), dest, arg) != 0)
			break;
	}
	if (c)
		mdb_cursor_close(c);
	mdb_txn_abort(t);
	return rc;
}

int
journal_left_del(struct journal *j, uint64_t id, const char *dest)
{
	MDB_txn	*t = NULL;
	int	 rc;

	if (!j->has_left || dest == NULL || strlen(dest) > DEST_MAX)
		return SL_EINVAL;
	rc = txn_begin(j, 0, &t);
	if (rc)
		return rc;
	rc = left_del(j, t, id, dest);
	return txn_end(t, rc);
}
