/*
 * journal_files.c: file and chunk records (contract in include/journal.h).
 *
 * A dataset's files are records 0..nfiles-1 under (id, index), with no
 * gaps; its chunks are records under (id, file, chunk).  The agent writes
 * one chunk record per chunk when it creates the dataset (state PENDING,
 * then ACKED with the hash that was sent); the sink keeps a chunk record
 * only for a chunk it holds durable (hash + length), so "absent" means
 * "not held".  Both layouts live here so that journal_chunks_foreach
 * reads either role's journal.
 *
 * Creating a dataset writes its dataset record, its files and (agent)
 * its chunks in one txn; the checks and the writes are shared with the
 * sink's create (journal_sink.c) through jr_ds_files and jr_ds_insert.
 * Files load as one block (records, then their paths) so that a dataset
 * of 100,000 files is one allocation the caller frees at once.
 */
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "journal.h"
#include "journal_int.h"
#include "wire.h"

/* ---- codecs ------------------------------------------------------------- */

static void
file_encode(struct enc *e, const struct file_rec *f)
{
	jr_enc_u16(e, REC_FILE_V);
	jr_enc_u64(e, f->size);
	jr_enc_u64(e, (uint64_t)f->mtime_ns);
	jr_enc_u64(e, f->ino);
	jr_enc_u64(e, f->dev);
	jr_enc_u32(e, f->mode);
	jr_enc_u32(e, f->nchunks);
	jr_enc_u64(e, f->first_chunk);
	jr_enc_str(e, f->path, SL_MAX_PATH + 1);
}

static int
file_decode(const MDB_val *v, uint32_t idx, struct file_rec *f, char *pathbuf)
{
	struct dec x;

	memset(f, 0, sizeof(*f));
	f->idx = idx;
	f->path = pathbuf;	/* SL_MAX_PATH + 1 bytes, or NULL: skip the path */
	jr_dec_init(&x, v);
	if (jr_dec_u16(&x) != REC_FILE_V)
		return SL_EJOURNAL;
	f->size = jr_dec_u64(&x);
	f->mtime_ns = (int64_t)jr_dec_u64(&x);
	f->ino = jr_dec_u64(&x);
	f->dev = jr_dec_u64(&x);
	f->mode = jr_dec_u32(&x);
	f->nchunks = jr_dec_u32(&x);
	f->first_chunk = jr_dec_u64(&x);
	if (f->path != NULL)
		jr_dec_str(&x, f->path, SL_MAX_PATH + 1);
	else
		jr_dec_skip_str(&x);	/* the caller needs sizes only */
	return jr_dec_done(&x) ? SL_OK : SL_EJOURNAL;
}

/* Agent chunk record. */
static void
chunk_encode(uint8_t out[REC_CHUNK_LEN], int state, int has_hash, uint64_t hash)
{
	wire_put_u16(out, REC_CHUNK_V);
	out[2] = (uint8_t)state;
	out[3] = has_hash ? 1 : 0;
	wire_put_u64(out + 4, has_hash ? hash : 0);
}

static int
chunk_decode(const MDB_val *v, int *state, int *has_hash, uint64_t *hash)
{
	struct dec x;

	jr_dec_init(&x, v);
	if (jr_dec_u16(&x) != REC_CHUNK_V)
		return SL_EJOURNAL;
	*state = jr_dec_u8(&x);
	*has_hash = jr_dec_u8(&x);
	*hash = jr_dec_u64(&x);
	return jr_dec_done(&x) ? SL_OK : SL_EJOURNAL;
}

/* Sink chunk record. */
void
jr_schunk_encode(uint8_t out[REC_SCHUNK_LEN], uint64_t hash, uint32_t len)
{
	wire_put_u16(out, REC_SCHUNK_V);
	wire_put_u64(out + 2, hash);
	wire_put_u32(out + 10, len);
}

int
jr_schunk_decode(const MDB_val *v, uint64_t *hash, uint32_t *len)
{
	struct dec x;

	jr_dec_init(&x, v);
	if (jr_dec_u16(&x) != REC_SCHUNK_V)
		return SL_EJOURNAL;
	*hash = jr_dec_u64(&x);
	*len = jr_dec_u32(&x);
	return jr_dec_done(&x) ? SL_OK : SL_EJOURNAL;
}

/* ---- file records ------------------------------------------------------- */

static int
file_load(struct journal *j, MDB_txn *t, uint64_t id, uint32_t idx,
    struct file_rec *f)
{
	uint8_t kb[KEY_FILE_LEN];
	MDB_val k = key_file(kb, id, idx), v;
	int rc;

	rc = mdb_get(t, j->files, &k, &v);
	if (rc)
		return map_rc(rc);
	return file_decode(&v, idx, f, NULL);
}

static int
file_store(struct journal *j, MDB_txn *t, uint64_t id, const struct file_rec *f)
{
	uint8_t kb[KEY_FILE_LEN];
	MDB_val k = key_file(kb, id, f->idx);
	struct enc e = { 0 };

	file_encode(&e, f);
	return jr_put(t, j->files, &k, &e, 0);
}

int
jr_file_at(struct journal *j, MDB_txn *t, const struct ds_rec *d,
    uint32_t idx, struct file_rec *f, int *have)
{
	int rc;

	if (*have && f->idx == idx)
		return SL_OK;
	if (idx >= d->nfiles)
		return SL_EINVAL;
	rc = file_load(j, t, d->id, idx, f);
	if (rc == SL_ENOTFOUND)
		rc = SL_EJOURNAL;	/* the dataset says it exists */
	if (rc == SL_OK)
		*have = 1;
	return rc;
}

/* jr_files_load's walk: records into f[], their paths into one string
 * area (as offsets; the pointers are fixed up once it is final). */
struct files_walk {
	struct file_rec	*f;
	uint32_t	 n, nfiles;
	char		*strs;
	size_t		 slen, salloc;
	char		 pbuf[SL_MAX_PATH + 1];
};

static int
files_cb(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct files_walk *w = arg;
	size_t plen;
	char *np;
	int rc;

	/* files are stored 0..nfiles-1 with no gaps */
	if (w->n >= w->nfiles || key_get32(k, 8) != w->n)
		return SL_EJOURNAL;
	rc = file_decode(v, w->n, &w->f[w->n], w->pbuf);
	if (rc)
		return rc;
	plen = strlen(w->pbuf) + 1;
	if (w->slen + plen > w->salloc) {
		w->salloc = (w->slen + plen) * 2 + 4096;
		np = realloc(w->strs, w->salloc);
		if (np == NULL)
			return SL_ENOMEM;
		w->strs = np;
	}
	memcpy(w->strs + w->slen, w->pbuf, plen);
	w->f[w->n].path = (char *)(uintptr_t)w->slen;
	w->slen += plen;
	w->n++;
	return SL_OK;
}

int
jr_files_load(struct journal *j, MDB_txn *t, uint64_t id, uint32_t nfiles,
    struct file_rec **out)
{
	struct files_walk w = { .nfiles = nfiles };
	struct file_rec *blk;
	uint8_t kb[KEY_FILE_LEN];
	MDB_val k = key_file(kb, id, 0);
	size_t off;
	uint32_t i;
	int rc;

	*out = NULL;
	if (nfiles == 0)
		return SL_OK;
	w.f = calloc(nfiles, sizeof(*w.f));
	if (w.f == NULL)
		return SL_ENOMEM;
	rc = jr_walk(j, t, j->files, &k, KEY_FILE_LEN, id, files_cb, &w);
	if (rc == SL_OK && w.n != nfiles)
		rc = SL_EJOURNAL;
	if (rc)
		goto fail;
	blk = malloc(nfiles * sizeof(*w.f) + w.slen);
	if (blk == NULL) {
		rc = SL_ENOMEM;
		goto fail;
	}
	memcpy(blk, w.f, nfiles * sizeof(*w.f));
	if (w.slen > 0)
		memcpy((char *)(blk + nfiles), w.strs, w.slen);
	for (i = 0; i < nfiles; i++) {
		off = (size_t)(uintptr_t)blk[i].path;
		blk[i].path = (char *)(blk + nfiles) + off;
	}
	*out = blk;
fail:
	free(w.f);
	free(w.strs);
	return rc;
}

int
journal_files_load(struct journal *j, uint64_t id, struct file_rec **files,
    uint32_t *nfiles)
{
	struct ds_rec d;
	MDB_txn *t;
	int rc;

	*files = NULL;
	*nfiles = 0;
	rc = txn_begin(j, 1, &t);
	if (rc)
		return rc;
	rc = jr_ds_load(j, t, id, &d);
	if (rc == SL_OK)
		rc = jr_files_load(j, t, id, d.nfiles, files);
	if (rc == SL_OK)
		*nfiles = d.nfiles;
	ds_rec_free(&d);
	mdb_txn_abort(t);
	return rc;
}

/* ---- creating a dataset ------------------------------------------------- */

int
jr_ds_files(const struct ds_rec *d, const struct file_rec *files,
    uint32_t nfiles, struct file_rec **fr, uint64_t *nchunks, uint64_t *bytes)
{
	struct file_rec *out;
	uint64_t nc = 0, nb = 0;
	uint32_t i;

	*fr = NULL;
	if (d->chunk_size == 0 || nfiles > SL_MAX_FILES ||
	    d->nmeta > SL_MAX_META || (d->nmeta > 0 && d->meta == NULL) ||
	    (nfiles > 0 && files == NULL))
		return SL_EINVAL;
	out = calloc(nfiles ? nfiles : 1, sizeof(*out));
	if (out == NULL)
		return SL_ENOMEM;
	for (i = 0; i < nfiles; i++) {
		out[i] = files[i];
		out[i].idx = i;
		out[i].nchunks = wire_nchunks(files[i].size, d->chunk_size);
		out[i].first_chunk = nc;
		nc += out[i].nchunks;
		nb += files[i].size;
	}
	*fr = out;
	*nchunks = nc;
	*bytes = nb;
	return SL_OK;
}

int
jr_ds_insert(struct journal *j, MDB_txn *t, const struct ds_rec *d,
    const struct file_rec *fr, uint32_t nfiles, uint64_t nchunks,
    uint64_t bytes)
{
	return jr_ds_insert_from(j, t, d, fr, nfiles, 0, nchunks, bytes);
}

int
jr_ds_insert_from(struct journal *j, MDB_txn *t, const struct ds_rec *d,
    const struct file_rec *fr, uint32_t nfiles, uint32_t from, uint64_t nchunks,
    uint64_t bytes)
{
	struct ds_rec rec = *d;
	int rc;

	rec.nfiles = nfiles;
	rec.nchunks = nchunks;
	rec.bytes = bytes;
	if (rec.state == 0)
		rec.state = j->role == JOURNAL_AGENT ? DS_QUEUED : SDS_RECEIVING;
	if (rec.created_ns == 0)
		rec.created_ns = now_ns();
	if (rec.updated_ns == 0)
		rec.updated_ns = rec.created_ns;
	rec.chunks_acked = 0;		/* agent: every chunk starts pending; */
	rec.bytes_acked = 0;		/* sink: no chunk held yet */
	rc = jr_ds_store(j, t, &rec, MDB_NOOVERWRITE);
	if (rc == SL_OK)
		rc = jr_src_put(j, t, &rec);
	if (rc)
		return rc;
	if (from > nfiles)
		return SL_EINVAL;
	return jr_files_insert(j, t, d->id, fr + from, nfiles - from);
}

int
jr_files_insert(struct journal *j, MDB_txn *t, uint64_t id,
    const struct file_rec *fr, uint32_t nfiles)
{
	uint8_t kb[KEY_CHUNK_LEN], vb[REC_CHUNK_LEN];
	MDB_val k, v = { sizeof(vb), vb };
	uint32_t i, c;
	int rc;

	chunk_encode(vb, CHUNK_PENDING, 0, 0);
	for (i = 0; i < nfiles; i++) {
		rc = file_store(j, t, id, &fr[i]);
		if (rc)
			return rc;
		if (j->role != JOURNAL_AGENT)
			continue;
		for (c = 0; c < fr[i].nchunks; c++) {
			k = key_chunk(kb, id, fr[i].idx, c);
			rc = map_rc(mdb_put(t, j->chunks, &k, &v, 0));
			if (rc)
				return rc;
		}
	}
	return SL_OK;
}

int
jr_files_ahead(struct journal *j, uint64_t id, const struct file_rec *fr,
    uint32_t nfiles, uint32_t *done)
{
	struct ds_rec old = { 0 };
	MDB_txn *t = NULL;
	int rc;

	*done = 0;
	if (nfiles <= JR_FILES_PER_TXN)
		return SL_OK;
	rc = txn_begin(j, 1, &t);
	if (rc)
		return rc;
	rc = jr_ds_load(j, t, id, &old);
	mdb_txn_abort(t);
	ds_rec_free(&old);
	if (rc != SL_ENOTFOUND)
		return rc == SL_OK ? SL_OK : rc;	/* known: the caller decides */
	while (nfiles - *done > JR_FILES_PER_TXN) {
		rc = txn_begin(j, 0, &t);
		if (rc)
			return rc;
		rc = jr_files_insert(j, t, id, fr + *done, JR_FILES_PER_TXN);
		rc = txn_end(t, rc);
		if (rc)
			return rc;
		*done += JR_FILES_PER_TXN;
	}
	return SL_OK;
}

void
jr_files_drop(struct journal *j, uint64_t id)
{
	uint8_t kb[KEY_CHUNK_LEN];
	MDB_txn *t = NULL;
	MDB_val k;
	int rc;

	if (txn_begin(j, 0, &t) != SL_OK)
		return;
	k = key_file(kb, id, 0);
	rc = jr_del_prefix(t, j->files, &k, KEY_FILE_LEN, id);
	if (rc == SL_OK && j->role == JOURNAL_AGENT) {
		k = key_chunk(kb, id, 0, 0);
		rc = jr_del_prefix(t, j->chunks, &k, KEY_CHUNK_LEN, id);
	}
	(void)txn_end(t, rc);
}

int
jr_del_prefix(MDB_txn *t, MDB_dbi dbi, const MDB_val *from, size_t keylen,
    uint64_t id)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int rc;

	rc = map_rc(mdb_cursor_open(t, dbi, &c));
	if (rc)
		return rc;
	for (;;) {
		k = *from;	/* from the start each time: plain, whatever the
				 * cursor does after a delete */
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND || (rc == 0 && !key_is(&k, keylen, id))) {
			rc = SL_OK;
			break;
		}
		if (rc == 0)
			rc = mdb_cursor_del(c, 0);
		if (rc) {
			rc = map_rc(rc);
			break;
		}
	}
	mdb_cursor_close(c);
	return rc;
}

int
journal_ds_create(struct journal *j, const struct ds_rec *d,
    const struct file_rec *files, uint32_t nfiles)
{
	struct file_rec *fr = NULL;
	MDB_txn *t = NULL;
	uint64_t nchunks, bytes;
	uint32_t ahead = 0;
	int rc;

	if (j->role != JOURNAL_AGENT)
		return SL_EINVAL;
	rc = jr_ds_files(d, files, nfiles, &fr, &nchunks, &bytes);
	if (rc == SL_OK && (nchunks != d->nchunks || bytes != d->bytes))
		rc = SL_EINVAL;
	if (rc)
		goto fail;
	rc = jr_files_ahead(j, d->id, fr, nfiles, &ahead);
	if (rc)
		goto fail;
	rc = txn_begin(j, 0, &t);
	if (rc)
		goto fail;
	rc = jr_ds_insert_from(j, t, d, fr, nfiles, ahead, nchunks, bytes);
fail:
	rc = txn_end(t, rc);
	if (rc != SL_OK && ahead > 0)
		jr_files_drop(j, d->id);
	free(fr);
	return rc;
}

/* ---- agent chunks ------------------------------------------------------- */

int
journal_chunks_ack(struct journal *j, uint64_t id,
    const struct chunk_ref *refs, uint32_t n)
{
	struct ds_rec d = { 0 };
	struct file_rec f;
	MDB_txn *t = NULL;
	uint8_t kb[KEY_CHUNK_LEN], vb[REC_CHUNK_LEN];
	MDB_val k, v;
	uint32_t i;
	int rc, state, has_hash, have_file = 0;
	uint64_t hash;

	if (j->role != JOURNAL_AGENT || (n > 0 && refs == NULL))
		return SL_EINVAL;
	rc = txn_begin(j, 0, &t);
	if (rc)
		return rc;
	rc = jr_ds_load(j, t, id, &d);
	if (rc)
		goto fail;
	for (i = 0; i < n; i++) {
		rc = jr_file_at(j, t, &d, refs[i].file, &f, &have_file);
		if (rc)
			goto fail;
		if (refs[i].chunk >= f.nchunks) {
			rc = SL_EINVAL;
			goto fail;
		}
		k = key_chunk(kb, id, refs[i].file, refs[i].chunk);
		rc = mdb_get(t, j->chunks, &k, &v);
		if (rc == MDB_NOTFOUND) {
			rc = SL_EINVAL;
			goto fail;
		}
		if (rc) {
			rc = map_rc(rc);
			goto fail;
		}
		rc = chunk_decode(&v, &state, &has_hash, &hash);
		if (rc)
			goto fail;
		if (state == CHUNK_ACKED && (!refs[i].has_hash ||
		    (has_hash && hash == refs[i].hash)))
			continue;	/* nothing new */
		if (state != CHUNK_ACKED) {
			d.chunks_acked++;
			d.bytes_acked += wire_chunk_len(f.size, d.chunk_size,
			    refs[i].chunk);
			d.updated_ns = now_ns();	/* status: progress is news */
		}
		if (refs[i].has_hash) {
			has_hash = 1;
			hash = refs[i].hash;
		}
		chunk_encode(vb, CHUNK_ACKED, has_hash, hash);
		v.mv_size = sizeof(vb);
		v.mv_data = vb;
		rc = map_rc(mdb_put(t, j->chunks, &k, &v, 0));
		if (rc)
			goto fail;
	}
	rc = jr_ds_store(j, t, &d, 0);
fail:
	rc = txn_end(t, rc);
	ds_rec_free(&d);
	return rc;
}

/* A move (journal_ds_rebind): what the old destination acked is not held
 * by the new one, so it is pending again; the hash stays, to catch a
 * source that changed in between. */
int
jr_chunks_unack(struct journal *j, MDB_txn *t, uint64_t id)
{
	MDB_cursor *c = NULL;
	uint8_t kb[KEY_CHUNK_LEN], vb[REC_CHUNK_LEN];
	MDB_val k = key_chunk(kb, id, 0, 0), v;
	uint64_t hash;
	int rc, op, state, has_hash;

	rc = map_rc(mdb_cursor_open(t, j->chunks, &c));
	if (rc)
		return rc;
	for (op = MDB_SET_RANGE;; op = MDB_NEXT) {
		rc = mdb_cursor_get(c, &k, &v, op);
		if (rc == MDB_NOTFOUND || (rc == 0 && !key_is(&k, KEY_CHUNK_LEN, id))) {
			rc = SL_OK;
			break;
		}
		if (rc) {
			rc = map_rc(rc);
			break;
		}
		rc = chunk_decode(&v, &state, &has_hash, &hash);
		if (rc)
			break;
		if (state != CHUNK_ACKED)
			continue;
		chunk_encode(vb, CHUNK_PENDING, has_hash, hash);
		v.mv_size = sizeof(vb);
		v.mv_data = vb;
		rc = map_rc(mdb_cursor_put(c, &k, &v, MDB_CURRENT));
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	return rc;
}

struct chunk_walk {
	void	(*fn)(uint32_t file, uint32_t chunk, int state, uint64_t hash,
		    int has_hash, void *arg);
	void	*arg;
	int	 role;
};

static int
chunks_cb(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct chunk_walk *w = arg;
	uint64_t hash;
	uint32_t len;
	int rc, state, has_hash;

	if (w->role == JOURNAL_AGENT) {
		rc = chunk_decode(v, &state, &has_hash, &hash);
	} else {
		rc = jr_schunk_decode(v, &hash, &len);
		state = CHUNK_ACKED;	/* the sink records held chunks only */
		has_hash = 1;
	}
	if (rc == SL_OK)
		w->fn(key_get32(k, 8), key_get32(k, 12), state, hash, has_hash,
		    w->arg);
	return rc;
}

int
journal_chunks_foreach(struct journal *j, uint64_t id,
    void (*fn)(uint32_t file, uint32_t chunk, int state, uint64_t hash,
    int has_hash, void *arg), void *arg)
{
	struct chunk_walk w = { fn, arg, j->role };
	uint8_t kb[KEY_CHUNK_LEN];
	MDB_val k = key_chunk(kb, id, 0, 0);

	return jr_walk(j, NULL, j->chunks, &k, KEY_CHUNK_LEN, id, chunks_cb, &w);
}
