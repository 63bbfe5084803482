/*
 * journal_ds.c: dataset records (contract in include/journal.h).
 *
 * One record per dataset under its u64 id, the same layout for both
 * roles (the sink keeps the agent id in src).  The hook fields were
 * appended after the first release: a record that ends before them
 * decodes with defaults (hook_status -1), which is why ds_decode reads
 * them only when bytes are left.  This file holds the codec, the
 * txn-level load and store every other file goes through, and the read
 * side: get, find (by name or hex id) and foreach, each in one short read
 * txn so that a CLI never pins old pages.
 */
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "journal.h"
#include "journal_int.h"

/* ---- names ------------------------------------------------------------------ */

const char *
ds_state_name(int state)
{
	switch (state) {
	case DS_QUEUED:		return "queued";
	case DS_TRANSFERRING:	return "transferring";
	case DS_COMMITTING:	return "committing";
	case DS_TRANSFERRED:	return "transferred";
	case DS_FAILED:		return "failed";
	case DS_HOOK_PENDING:	return "hook_pending";
	case DS_HOOK_RUNNING:	return "hook_running";
	case DS_DONE:		return "done";
	case DS_HOOK_FAILED:	return "hook_failed";
	case DS_JOB_SUBMITTING:	return "job_submitting";
	case DS_JOB_SUBMITTED:	return "job_submitted";
	case DS_PULLING:	return "pulling";
	case DS_PULLED:		return "pulled";
	case DS_REDUCING:	return "reducing";
	default:		return "unknown";
	}
}

const char *
ds_lane_name(int lane)
{
	switch (lane) {
	case LANE_LIVE:		return "live";
	case LANE_BACKLOG:	return "backlog";
	default:		return "auto";
	}
}

const char *
sds_state_name(int state)
{
	switch (state) {
	case SDS_RECEIVING:	return "receiving";
	case SDS_PUBLISHED:	return "published";
	case SDS_FAILED:	return "failed";
	default:		return "unknown";
	}
}

void
ds_rec_free(struct ds_rec *d)
{
	if (d == NULL)
		return;
	free(d->meta);
	d->meta = NULL;
	d->nmeta = 0;
}

/* ---- codec -------------------------------------------------------------- */

static void
ds_encode(struct enc *e, const struct ds_rec *d)
{
	uint32_t i;

	jr_enc_u16(e, REC_DS_V);
	jr_enc_u32(e, (uint32_t)d->state);
	jr_enc_u64(e, d->created_ns);
	jr_enc_u64(e, d->updated_ns);
	jr_enc_u64(e, d->completed_ns);
	jr_enc_u32(e, d->chunk_size);
	jr_enc_u32(e, d->nfiles);
	jr_enc_u64(e, d->nchunks);
	jr_enc_u64(e, d->bytes);
	jr_enc_u64(e, d->chunks_acked);
	jr_enc_u64(e, d->bytes_acked);
	jr_enc_u64(e, d->chunks_sent);
	jr_enc_u64(e, d->chunks_resent);
	jr_enc_u64(e, d->chunks_nacked);
	jr_enc_str(e, d->name, sizeof(d->name));
	jr_enc_str(e, d->src, sizeof(d->src));
	jr_enc_str(e, d->dest, sizeof(d->dest));
	jr_enc_str(e, d->published, sizeof(d->published));
	jr_enc_str(e, d->error, sizeof(d->error));
	jr_enc_u32(e, d->nmeta);
	for (i = 0; i < d->nmeta; i++) {
		jr_enc_str(e, d->meta[i][0], SL_MAX_META_KEY + 1);
		jr_enc_str(e, d->meta[i][1], SL_MAX_META_VAL + 1);
	}
	/* Appended later: a record without them decodes with defaults. */
	jr_enc_u32(e, d->hook_attempts);
	jr_enc_u32(e, (uint32_t)d->hook_status);
	jr_enc_u64(e, d->hook_next_ns);
	jr_enc_str(e, d->hook_out, sizeof(d->hook_out));
	jr_enc_str(e, d->hook_err, sizeof(d->hook_err));
	jr_enc_u32(e, d->lane);		/* appended with lanes */
}

/* Decode a dataset record; d->meta is allocated (caller ds_rec_free). */
static int
ds_decode(const MDB_val *v, uint64_t id, struct ds_rec *d)
{
	struct dec x;
	uint32_t i;

	memset(d, 0, sizeof(*d));
	d->id = id;
	jr_dec_init(&x, v);
	if (jr_dec_u16(&x) != REC_DS_V)
		return SL_EJOURNAL;
	d->state = (int)jr_dec_u32(&x);
	d->created_ns = jr_dec_u64(&x);
	d->updated_ns = jr_dec_u64(&x);
	d->completed_ns = jr_dec_u64(&x);
	d->chunk_size = jr_dec_u32(&x);
	d->nfiles = jr_dec_u32(&x);
	d->nchunks = jr_dec_u64(&x);
	d->bytes = jr_dec_u64(&x);
	d->chunks_acked = jr_dec_u64(&x);
	d->bytes_acked = jr_dec_u64(&x);
	d->chunks_sent = jr_dec_u64(&x);
	d->chunks_resent = jr_dec_u64(&x);
	d->chunks_nacked = jr_dec_u64(&x);
	jr_dec_str(&x, d->name, sizeof(d->name));
	jr_dec_str(&x, d->src, sizeof(d->src));
	jr_dec_str(&x, d->dest, sizeof(d->dest));
	jr_dec_str(&x, d->published, sizeof(d->published));
	jr_dec_str(&x, d->error, sizeof(d->error));
	d->nmeta = jr_dec_u32(&x);
	if (x.bad || d->nmeta > SL_MAX_META) {
		d->nmeta = 0;
		return SL_EJOURNAL;
	}
	if (d->nmeta > 0) {
		d->meta = calloc(d->nmeta, sizeof(*d->meta));
		if (d->meta == NULL) {
			d->nmeta = 0;
			return SL_ENOMEM;
		}
	}
	for (i = 0; i < d->nmeta; i++) {
		jr_dec_str(&x, d->meta[i][0], SL_MAX_META_KEY + 1);
		jr_dec_str(&x, d->meta[i][1], SL_MAX_META_VAL + 1);
	}
	d->hook_status = -1;
	if (!x.bad && x.off < x.len) {
		d->hook_attempts = jr_dec_u32(&x);
		d->hook_status = (int32_t)jr_dec_u32(&x);
		d->hook_next_ns = jr_dec_u64(&x);
		jr_dec_str(&x, d->hook_out, sizeof(d->hook_out));
		jr_dec_str(&x, d->hook_err, sizeof(d->hook_err));
	}
	if (!x.bad && x.off < x.len)
		d->lane = jr_dec_u32(&x);
	if (d->lane > LANE_MAX)
		d->lane = LANE_AUTO;	/* a later version's lane: decide by age */
	if (!jr_dec_done(&x)) {
		ds_rec_free(d);
		return SL_EJOURNAL;
	}
	return SL_OK;
}

int
jr_ds_load(struct journal *j, MDB_txn *t, uint64_t id, struct ds_rec *d)
{
	uint8_t kb[KEY_DS_LEN];
	MDB_val k = key_ds(kb, id), v;
	int rc;

	memset(d, 0, sizeof(*d));
	rc = mdb_get(t, j->datasets, &k, &v);
	if (rc)
		return map_rc(rc);
	return ds_decode(&v, id, d);
}

int
jr_ds_store(struct journal *j, MDB_txn *t, const struct ds_rec *d, unsigned flags)
{
	uint8_t kb[KEY_DS_LEN];
	MDB_val k = key_ds(kb, d->id);
	struct enc e = { 0 };

	ds_encode(&e, d);
	return jr_put(t, j->datasets, &k, &e, flags);
}

/* ---- reading ------------------------------------------------------------ */

int
journal_ds_get(struct journal *j, uint64_t id, struct ds_rec *d)
{
	MDB_txn *t;
	int rc;

	memset(d, 0, sizeof(*d));
	rc = txn_begin(j, 1, &t);
	if (rc)
		return rc;
	rc = jr_ds_load(j, t, id, d);
	mdb_txn_abort(t);
	return rc;
}

/* 16 hex digits -> id. */
static int
parse_hex_id(const char *s, uint64_t *id)
{
	uint64_t v = 0;
	int i, c;

	for (i = 0; i < 16; i++) {
		c = (unsigned char)s[i];
		if (c >= '0' && c <= '9')
			c -= '0';
		else if (c >= 'a' && c <= 'f')
			c -= 'a' - 10;
		else if (c >= 'A' && c <= 'F')
			c -= 'A' - 10;
		else
			return -1;
		v = v << 4 | (uint64_t)c;
	}
	if (s[16] != '\0')
		return -1;
	*id = v;
	return 0;
}

/* The walk over all datasets that find and foreach share: decode each
 * into d, then call the caller's test. */
struct ds_walk {
	struct ds_rec	*d;
	int		(*fn)(const struct ds_rec *d, void *arg);
	void		*arg;
	const char	*name;		/* find: the name looked for */
	int		 found;
};

static int
find_cb(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct ds_walk *w = arg;
	int rc;

	rc = ds_decode(v, be_get64(k->mv_data), w->d);
	if (rc)
		return rc;
	if (strcmp(w->d->name, w->name) == 0) {
		w->found = 1;
		return JR_STOP;		/* the caller owns d now */
	}
	ds_rec_free(w->d);
	return SL_OK;
}

int
journal_ds_find(struct journal *j, const char *name_or_id, struct ds_rec *d)
{
	struct ds_walk w = { .d = d, .name = name_or_id };
	MDB_txn *t = NULL;
	uint64_t id;
	int rc;

	memset(d, 0, sizeof(*d));
	rc = txn_begin(j, 1, &t);
	if (rc)
		return rc;
	if (parse_hex_id(name_or_id, &id) == 0) {
		rc = jr_ds_load(j, t, id, d);
		if (rc != SL_ENOTFOUND)
			goto out;	/* found, or an error */
		/* else a name that happens to look like an id */
	}
	rc = jr_walk(j, t, j->datasets, NULL, KEY_DS_LEN, 0, find_cb, &w);
	if (rc == SL_OK && !w.found)
		rc = SL_ENOTFOUND;
out:
	if (rc)
		ds_rec_free(d);
	mdb_txn_abort(t);
	return rc;
}

static int
foreach_cb(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct ds_walk *w = arg;
	int rc, stop;

	rc = ds_decode(v, be_get64(k->mv_data), w->d);
	if (rc)
		return rc;
	stop = w->fn(w->d, w->arg);
	ds_rec_free(w->d);
	return stop ? JR_STOP : SL_OK;
}

int
journal_ds_foreach(struct journal *j,
    int (*fn)(const struct ds_rec *d, void *arg), void *arg)
{
	struct ds_walk w = { .fn = fn, .arg = arg };
	int rc;

	w.d = malloc(sizeof(*w.d));	/* large: not on a caller's stack */
	if (w.d == NULL)
		return SL_ENOMEM;
	rc = jr_walk(j, NULL, j->datasets, NULL, KEY_DS_LEN, 0, foreach_cb, &w);
	free(w.d);
	return rc;
}
