/*
 * journal.c: the durable state of both roles, in LMDB (contract in
 * include/journal.h).
 *
 * How it works.  One LMDB environment per journal directory, opened with
 * MDB_NOTLS (a read-only CLI may hold more than one read txn in a thread)
 * and five named databases: meta, datasets, files, chunks, history.  Keys
 * are big-endian so that a cursor positioned with MDB_SET_RANGE at
 * (id, 0, ...) walks one dataset's files, chunks or history in order and
 * stops at the first key whose id prefix differs.  Values are small
 * hand-written records: a leading u16 record version, then the fields
 * little-endian through wire_put_* / wire_get_*, strings as u32 length +
 * bytes.  They are never raw structs, so the layout does not depend on
 * the compiler, and a decoder that does not consume a value exactly
 * reports SL_EJOURNAL rather than guessing.
 *
 * Why this shape.  Every public function is one short txn (STYLE 13): a
 * write function commits with LMDB's default durable sync before it
 * returns, so a successful return survives a crash, and no reader ever
 * pins old pages for long.  Batches (journal_chunks_ack,
 * journal_sink_chunks_put) let the caller group-commit once per loop
 * pass.  The meta database records the format and the role; open refuses
 * a newer format, the other role's journal, a non-empty environment
 * without meta, and a data.mdb that is empty or shorter than its last
 * page: a damaged journal is reported, never silently recreated empty
 * (an empty journal would make the agent forget every queued dataset).
 *
 * History keys carry (time_ns, seq): the time is never allowed to go
 * backwards for one dataset (a clock step reuses the last time and bumps
 * seq), so the history walks in the order the changes were made.
 *
 * The agent keeps one chunk record per chunk (state PENDING or ACKED, and
 * the hash once known); the sink keeps a chunk record only for chunks it
 * holds durable (hash + length), so "absent" means "not held".
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lmdb.h>

#include "journal.h"
#include "wire.h"

#define JOURNAL_MAPSIZE_DEFAULT	((size_t)8 << 30)
#define JOURNAL_MAXDBS		8

/* record versions (the u16 at the start of each value) */
#define REC_DS_V	1
#define REC_FILE_V	1
#define REC_CHUNK_V	1	/* agent: u8 state, u8 has_hash, u64 hash */
#define REC_SCHUNK_V	1	/* sink: u64 hash, u32 len */
#define REC_HIST_V	1

struct journal {
	MDB_env		*env;
	MDB_dbi		 meta, datasets, files, chunks, history;
	int		 role;
	int		 rdonly;
	char		*path;
};

/* ---- small helpers ------------------------------------------------------ */

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int
map_rc(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return SL_OK;
	case MDB_NOTFOUND:
		return SL_ENOTFOUND;
	case MDB_KEYEXIST:
		return SL_EEXIST;
	case MDB_MAP_FULL:
		return SL_ENOSPC;
	case ENOMEM:
		return SL_ENOMEM;
	default:
		return SL_EJOURNAL;
	}
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *
role_name(int role)
{
	return role == JOURNAL_AGENT ? "agent" : role == JOURNAL_SINK ? "sink" :
	    "unknown";
}

/* Copy a C string into a fixed buffer, truncating. */
static void
strlcpy0(char *dst, const char *src, size_t dstlen)
{
	size_t n = strnlen(src, dstlen - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- big-endian keys ---------------------------------------------------- */

static void
be_put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static void
be_put64(uint8_t *p, uint64_t v)
{
	be_put32(p, (uint32_t)(v >> 32));
	be_put32(p + 4, (uint32_t)v);
}

static uint32_t
be_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
be_get64(const uint8_t *p)
{
	return (uint64_t)be_get32(p) << 32 | be_get32(p + 4);
}

#define KEY_DS_LEN	8
#define KEY_FILE_LEN	12
#define KEY_CHUNK_LEN	16
#define KEY_HIST_LEN	20

static MDB_val
key_ds(uint8_t k[KEY_DS_LEN], uint64_t id)
{
	be_put64(k, id);
	return (MDB_val){ KEY_DS_LEN, k };
}

static MDB_val
key_file(uint8_t k[KEY_FILE_LEN], uint64_t id, uint32_t file)
{
	be_put64(k, id);
	be_put32(k + 8, file);
	return (MDB_val){ KEY_FILE_LEN, k };
}

static MDB_val
key_chunk(uint8_t k[KEY_CHUNK_LEN], uint64_t id, uint32_t file, uint32_t chunk)
{
	be_put64(k, id);
	be_put32(k + 8, file);
	be_put32(k + 12, chunk);
	return (MDB_val){ KEY_CHUNK_LEN, k };
}

static MDB_val
key_hist(uint8_t k[KEY_HIST_LEN], uint64_t id, uint64_t t, uint32_t seq)
{
	be_put64(k, id);
	be_put64(k + 8, t);
	be_put32(k + 16, seq);
	return (MDB_val){ KEY_HIST_LEN, k };
}

/* A cursor key belongs to dataset id (and has the expected length). */
static int
key_is(const MDB_val *k, size_t len, uint64_t id)
{
	return k->mv_size == len && be_get64(k->mv_data) == id;
}

/* ---- value encoder / decoder -------------------------------------------- */

struct enc {
	uint8_t	*p;
	size_t	 len, alloc;
	int	 err;
};

static uint8_t *
enc_room(struct enc *e, size_t n)
{
	uint8_t *np;
	size_t na;

	if (e->err)
		return NULL;
	if (e->len + n > e->alloc) {
		na = e->alloc ? e->alloc : 256;
		while (na < e->len + n)
			na *= 2;
		np = realloc(e->p, na);
		if (np == NULL) {
			e->err = SL_ENOMEM;
			return NULL;
		}
		e->p = np;
		e->alloc = na;
	}
	np = e->p + e->len;
	e->len += n;
	return np;
}

static void
enc_u16(struct enc *e, uint16_t v)
{
	uint8_t *p = enc_room(e, 2);

	if (p)
		wire_put_u16(p, v);
}

static void
enc_u32(struct enc *e, uint32_t v)
{
	uint8_t *p = enc_room(e, 4);

	if (p)
		wire_put_u32(p, v);
}

static void
enc_u64(struct enc *e, uint64_t v)
{
	uint8_t *p = enc_room(e, 8);

	if (p)
		wire_put_u64(p, v);
}

/* A string from a fixed char array of size `size` (NUL within it). */
static void
enc_str(struct enc *e, const char *s, size_t size)
{
	size_t n = strnlen(s, size - 1);
	uint8_t *p;

	enc_u32(e, (uint32_t)n);
	p = enc_room(e, n);
	if (p)
		memcpy(p, s, n);
}

struct dec {
	const uint8_t	*p;
	size_t		 len, off;
	int		 bad;
};

static void
dec_init(struct dec *d, const MDB_val *v)
{
	d->p = v->mv_data;
	d->len = v->mv_size;
	d->off = 0;
	d->bad = 0;
}

static const uint8_t *
dec_take(struct dec *d, size_t n)
{
	const uint8_t *p;

	if (d->bad || d->len - d->off < n) {
		d->bad = 1;
		return NULL;
	}
	p = d->p + d->off;
	d->off += n;
	return p;
}

static uint8_t
dec_u8(struct dec *d)
{
	const uint8_t *p = dec_take(d, 1);

	return p ? *p : 0;
}

static uint16_t
dec_u16(struct dec *d)
{
	const uint8_t *p = dec_take(d, 2);

	return p ? wire_get_u16(p) : 0;
}

static uint32_t
dec_u32(struct dec *d)
{
	const uint8_t *p = dec_take(d, 4);

	return p ? wire_get_u32(p) : 0;
}

static uint64_t
dec_u64(struct dec *d)
{
	const uint8_t *p = dec_take(d, 8);

	return p ? wire_get_u64(p) : 0;
}

/* Copy a string into dst[size]; too long or containing NUL is bad. */
static void
dec_str(struct dec *d, char *dst, size_t size)
{
	uint32_t n = dec_u32(d);
	const uint8_t *p;

	dst[0] = '\0';
	if (d->bad)
		return;
	if (n > size - 1) {
		d->bad = 1;
		return;
	}
	p = dec_take(d, n);
	if (p == NULL)
		return;
	if (memchr(p, '\0', n) != NULL) {
		d->bad = 1;
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

static void
dec_skip_str(struct dec *d)
{
	uint32_t n = dec_u32(d);

	if (!d->bad && n > SL_MAX_PATH)
		d->bad = 1;
	if (!d->bad)
		(void)dec_take(d, n);
}

static int
dec_done(const struct dec *d)
{
	return !d->bad && d->off == d->len;
}

/* ---- record codecs ------------------------------------------------------- */

static int
ds_encode(struct enc *e, const struct ds_rec *d)
{
	uint32_t i;

	enc_u16(e, REC_DS_V);
	enc_u32(e, (uint32_t)d->state);
	enc_u64(e, d->created_ns);
	enc_u64(e, d->updated_ns);
	enc_u64(e, d->completed_ns);
	enc_u32(e, d->chunk_size);
	enc_u32(e, d->nfiles);
	enc_u64(e, d->nchunks);
	enc_u64(e, d->bytes);
	enc_u64(e, d->chunks_acked);
	enc_u64(e, d->bytes_acked);
	enc_u64(e, d->chunks_sent);
	enc_u64(e, d->chunks_resent);
	enc_u64(e, d->chunks_nacked);
	enc_str(e, d->name, sizeof(d->name));
	enc_str(e, d->src, sizeof(d->src));
	enc_str(e, d->dest, sizeof(d->dest));
	enc_str(e, d->published, sizeof(d->published));
	enc_str(e, d->error, sizeof(d->error));
	enc_u32(e, d->nmeta);
	for (i = 0; i < d->nmeta; i++) {
		enc_str(e, d->meta[i][0], SL_MAX_META_KEY + 1);
		enc_str(e, d->meta[i][1], SL_MAX_META_VAL + 1);
	}
	/* Appended later: a record without them decodes with defaults. */
	enc_u32(e, d->hook_attempts);
	enc_u32(e, (uint32_t)d->hook_status);
	enc_u64(e, d->hook_next_ns);
	enc_str(e, d->hook_out, sizeof(d->hook_out));
	enc_str(e, d->hook_err, sizeof(d->hook_err));
	return e->err;
}

/* Decode a dataset record; d->meta is allocated (caller ds_rec_free). */
static int
ds_decode(const MDB_val *v, uint64_t id, struct ds_rec *d)
{
	struct dec x;
	uint32_t i;

	memset(d, 0, sizeof(*d));
	d->id = id;
	dec_init(&x, v);
	if (dec_u16(&x) != REC_DS_V)
		return SL_EJOURNAL;
	d->state = (int)dec_u32(&x);
	d->created_ns = dec_u64(&x);
	d->updated_ns = dec_u64(&x);
	d->completed_ns = dec_u64(&x);
	d->chunk_size = dec_u32(&x);
	d->nfiles = dec_u32(&x);
	d->nchunks = dec_u64(&x);
	d->bytes = dec_u64(&x);
	d->chunks_acked = dec_u64(&x);
	d->bytes_acked = dec_u64(&x);
	d->chunks_sent = dec_u64(&x);
	d->chunks_resent = dec_u64(&x);
	d->chunks_nacked = dec_u64(&x);
	dec_str(&x, d->name, sizeof(d->name));
	dec_str(&x, d->src, sizeof(d->src));
	dec_str(&x, d->dest, sizeof(d->dest));
	dec_str(&x, d->published, sizeof(d->published));
	dec_str(&x, d->error, sizeof(d->error));
	d->nmeta = dec_u32(&x);
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
		dec_str(&x, d->meta[i][0], SL_MAX_META_KEY + 1);
		dec_str(&x, d->meta[i][1], SL_MAX_META_VAL + 1);
	}
	d->hook_status = -1;
	if (!x.bad && x.off < x.len) {
		d->hook_attempts = dec_u32(&x);
		d->hook_status = (int32_t)dec_u32(&x);
		d->hook_next_ns = dec_u64(&x);
		dec_str(&x, d->hook_out, sizeof(d->hook_out));
		dec_str(&x, d->hook_err, sizeof(d->hook_err));
	}
	if (!dec_done(&x)) {
		ds_rec_free(d);
		return SL_EJOURNAL;
	}
	return SL_OK;
}

static int
file_encode(struct enc *e, const struct file_rec *f)
{
	enc_u16(e, REC_FILE_V);
	enc_u64(e, f->size);
	enc_u64(e, (uint64_t)f->mtime_ns);
	enc_u64(e, f->ino);
	enc_u64(e, f->dev);
	enc_u32(e, f->mode);
	enc_u32(e, f->nchunks);
	enc_u64(e, f->first_chunk);
	enc_str(e, f->path, SL_MAX_PATH + 1);
	return e->err;
}

static int
file_decode(const MDB_val *v, uint32_t idx, struct file_rec *f, char *pathbuf)
{
	struct dec x;

	memset(f, 0, sizeof(*f));
	f->idx = idx;
	f->path = pathbuf;	/* SL_MAX_PATH + 1 bytes, or NULL: skip the path */
	dec_init(&x, v);
	if (dec_u16(&x) != REC_FILE_V)
		return SL_EJOURNAL;
	f->size = dec_u64(&x);
	f->mtime_ns = (int64_t)dec_u64(&x);
	f->ino = dec_u64(&x);
	f->dev = dec_u64(&x);
	f->mode = dec_u32(&x);
	f->nchunks = dec_u32(&x);
	f->first_chunk = dec_u64(&x);
	if (f->path != NULL)
		dec_str(&x, f->path, SL_MAX_PATH + 1);
	else
		dec_skip_str(&x);	/* the caller needs sizes only */
	return dec_done(&x) ? SL_OK : SL_EJOURNAL;
}

/* Agent chunk record. */
static void
chunk_encode(uint8_t out[12], int state, int has_hash, uint64_t hash)
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

	dec_init(&x, v);
	if (dec_u16(&x) != REC_CHUNK_V)
		return SL_EJOURNAL;
	*state = dec_u8(&x);
	*has_hash = dec_u8(&x);
	*hash = dec_u64(&x);
	return dec_done(&x) ? SL_OK : SL_EJOURNAL;
}

/* Sink chunk record. */
static void
schunk_encode(uint8_t out[14], uint64_t hash, uint32_t len)
{
	wire_put_u16(out, REC_SCHUNK_V);
	wire_put_u64(out + 2, hash);
	wire_put_u32(out + 10, len);
}

static int
schunk_decode(const MDB_val *v, uint64_t *hash, uint32_t *len)
{
	struct dec x;

	dec_init(&x, v);
	if (dec_u16(&x) != REC_SCHUNK_V)
		return SL_EJOURNAL;
	*hash = dec_u64(&x);
	*len = dec_u32(&x);
	return dec_done(&x) ? SL_OK : SL_EJOURNAL;
}

/* ---- txn-level record access -------------------------------------------- */

static int
txn_begin(struct journal *j, int rdonly, MDB_txn **t)
{
	*t = NULL;
	return map_rc(mdb_txn_begin(j->env, NULL, rdonly ? MDB_RDONLY : 0, t));
}

static int
commit(MDB_txn *t)
{
	return map_rc(mdb_txn_commit(t));
}

static int
ds_load(struct journal *j, MDB_txn *t, uint64_t id, struct ds_rec *d)
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

static int
ds_store(struct journal *j, MDB_txn *t, const struct ds_rec *d, unsigned flags)
{
	uint8_t kb[KEY_DS_LEN];
	MDB_val k = key_ds(kb, d->id), v;
	struct enc e = { 0 };
	int rc;

	rc = ds_encode(&e, d);
	if (rc == SL_OK) {
		v.mv_size = e.len;
		v.mv_data = e.p;
		rc = map_rc(mdb_put(t, j->datasets, &k, &v, flags));
	}
	free(e.p);
	return rc;
}

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
	MDB_val k = key_file(kb, id, f->idx), v;
	struct enc e = { 0 };
	int rc;

	rc = file_encode(&e, f);
	if (rc == SL_OK) {
		v.mv_size = e.len;
		v.mv_data = e.p;
		rc = map_rc(mdb_put(t, j->files, &k, &v, 0));
	}
	free(e.p);
	return rc;
}

/* Load the nfiles file records of id, in index order. */
static int
files_load_txn(struct journal *j, MDB_txn *t, uint64_t id, uint32_t nfiles,
    struct file_rec **out)
{
	struct file_rec *f = NULL, *blk;
	MDB_cursor *c = NULL;
	uint8_t kb[KEY_FILE_LEN];
	MDB_val k = key_file(kb, id, 0), v;
	char pbuf[SL_MAX_PATH + 1], *strs = NULL, *np;
	size_t slen = 0, salloc = 0, plen, off;
	uint32_t n = 0, i;
	int rc, op;

	*out = NULL;
	if (nfiles == 0)
		return SL_OK;
	f = calloc(nfiles, sizeof(*f));
	if (f == NULL)
		return SL_ENOMEM;
	rc = map_rc(mdb_cursor_open(t, j->files, &c));
	if (rc)
		goto fail;
	for (op = MDB_SET_RANGE;; op = MDB_NEXT) {
		rc = mdb_cursor_get(c, &k, &v, op);
		if (rc == MDB_NOTFOUND || (rc == 0 && !key_is(&k, KEY_FILE_LEN, id)))
			break;
		if (rc) {
			rc = map_rc(rc);
			goto fail;
		}
		/* files are stored 0..nfiles-1 with no gaps */
		if (n >= nfiles || be_get32((uint8_t *)k.mv_data + 8) != n) {
			rc = SL_EJOURNAL;
			goto fail;
		}
		rc = file_decode(&v, n, &f[n], pbuf);
		if (rc)
			goto fail;
		/* paths go to one string area; pointers are fixed up below */
		plen = strlen(pbuf) + 1;
		if (slen + plen > salloc) {
			salloc = (slen + plen) * 2 + 4096;
			np = realloc(strs, salloc);
			if (np == NULL) {
				rc = SL_ENOMEM;
				goto fail;
			}
			strs = np;
		}
		memcpy(strs + slen, pbuf, plen);
		f[n].path = (char *)(uintptr_t)slen;
		slen += plen;
		n++;
	}
	if (n != nfiles) {
		rc = SL_EJOURNAL;
		goto fail;
	}
	mdb_cursor_close(c);
	c = NULL;
	blk = malloc(nfiles * sizeof(*f) + slen);
	if (blk == NULL) {
		rc = SL_ENOMEM;
		goto fail;
	}
	memcpy(blk, f, nfiles * sizeof(*f));
	memcpy((char *)(blk + nfiles), strs, slen);
	for (i = 0; i < nfiles; i++) {
		off = (size_t)(uintptr_t)blk[i].path;
		blk[i].path = (char *)(blk + nfiles) + off;
	}
	free(f);
	free(strs);
	*out = blk;
	return SL_OK;
fail:
	if (c)
		mdb_cursor_close(c);
	free(f);
	free(strs);
	return rc;
}

/* ---- open / close --------------------------------------------------------- */

static int
open_dbs(struct journal *j, MDB_txn *t, char *err, size_t errlen)
{
	static const char *names[] = { "datasets", "files", "chunks", "history" };
	MDB_dbi *dbis[] = { &j->datasets, &j->files, &j->chunks, &j->history };
	unsigned flags = j->rdonly ? 0 : MDB_CREATE;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		rc = mdb_dbi_open(t, names[i], flags, dbis[i]);
		if (rc) {
			seterr(err, errlen, "journal %s: open database \"%s\": %s",
			    j->path, names[i], mdb_strerror(rc));
			return SL_EJOURNAL;
		}
	}
	return SL_OK;
}

static int
meta_get_u32(MDB_txn *t, MDB_dbi dbi, const char *key, uint32_t *val)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	int rc;

	rc = mdb_get(t, dbi, &k, &v);
	if (rc)
		return rc;
	if (v.mv_size != 4)
		return MDB_CORRUPTED;
	*val = wire_get_u32(v.mv_data);
	return 0;
}

static int
meta_put_u32(MDB_txn *t, MDB_dbi dbi, const char *key, uint32_t val)
{
	uint8_t b[4];
	MDB_val k = { strlen(key), (void *)key }, v = { 4, b };

	wire_put_u32(b, val);
	return mdb_put(t, dbi, &k, &v, 0);
}

/* Check (or, in a fresh environment, write) meta, then open the dbs. */
static int
open_meta(struct journal *j, char *err, size_t errlen)
{
	MDB_txn *t = NULL;
	MDB_stat st;
	MDB_dbi maindbi;
	uint32_t format, role;
	int rc, fresh = 0;

	rc = mdb_txn_begin(j->env, NULL, j->rdonly ? MDB_RDONLY : 0, &t);
	if (rc) {
		seterr(err, errlen, "journal %s: begin txn: %s", j->path,
		    mdb_strerror(rc));
		return map_rc(rc) == SL_ENOMEM ? SL_ENOMEM : SL_EJOURNAL;
	}
	rc = mdb_dbi_open(t, "meta", 0, &j->meta);
	if (rc == MDB_NOTFOUND) {
		rc = mdb_dbi_open(t, NULL, 0, &maindbi);
		if (rc == 0)
			rc = mdb_stat(t, maindbi, &st);
		if (rc)
			goto lmdb_fail;
		if (st.ms_entries != 0) {
			seterr(err, errlen, "journal %s: has no meta record "
			    "(not a sluice journal?)", j->path);
			rc = SL_EJOURNAL;
			goto fail;
		}
		if (j->rdonly) {
			/* created but never initialised by a writer */
			seterr(err, errlen, "journal %s: empty, not initialised "
			    "yet", j->path);
			rc = SL_ENOTFOUND;
			goto fail;
		}
		fresh = 1;
		rc = mdb_dbi_open(t, "meta", MDB_CREATE, &j->meta);
		if (rc)
			goto lmdb_fail;
		rc = meta_put_u32(t, j->meta, "format", JOURNAL_FORMAT);
		if (rc == 0)
			rc = meta_put_u32(t, j->meta, "role", (uint32_t)j->role);
		if (rc)
			goto lmdb_fail;
	} else if (rc) {
		goto lmdb_fail;
	}
	if (!fresh) {
		rc = meta_get_u32(t, j->meta, "format", &format);
		if (rc == 0)
			rc = meta_get_u32(t, j->meta, "role", &role);
		if (rc) {
			seterr(err, errlen, "journal %s: meta record: %s",
			    j->path, mdb_strerror(rc));
			rc = SL_EJOURNAL;
			goto fail;
		}
		if (format > JOURNAL_FORMAT || format == 0) {
			seterr(err, errlen, "journal %s: written by format %u, "
			    "this sluiced reads <= %d", j->path, format,
			    JOURNAL_FORMAT);
			rc = SL_EJOURNAL;
			goto fail;
		}
		if (role != (uint32_t)j->role) {
			seterr(err, errlen, "journal %s: is a %s journal, "
			    "this sluiced runs as %s", j->path,
			    role_name((int)role), role_name(j->role));
			rc = SL_EJOURNAL;
			goto fail;
		}
	}
	rc = open_dbs(j, t, err, errlen);
	if (rc)
		goto fail;
	/* commit also for a read txn: it makes the dbi handles shared */
	rc = mdb_txn_commit(t);
	t = NULL;
	if (rc)
		goto lmdb_fail;
	return SL_OK;
lmdb_fail:
	seterr(err, errlen, "journal %s: %s", j->path, mdb_strerror(rc));
	rc = map_rc(rc);
	if (rc != SL_ENOSPC && rc != SL_ENOMEM)
		rc = SL_EJOURNAL;
fail:
	if (t)
		mdb_txn_abort(t);
	return rc;
}

int
journal_open(struct journal **jp, const char *path, enum journal_role role,
    int flags, size_t map_size, char *err, size_t errlen)
{
	struct journal *j = NULL;
	struct stat st;
	MDB_envinfo info;
	MDB_stat mst;
	char *data = NULL;
	int rc;

	*jp = NULL;
	if (role != JOURNAL_AGENT && role != JOURNAL_SINK) {
		seterr(err, errlen, "journal %s: bad role %d", path, (int)role);
		return SL_EINVAL;
	}
	j = calloc(1, sizeof(*j));
	if (j != NULL)
		j->path = strdup(path);
	if (j != NULL && j->path != NULL &&
	    asprintf(&data, "%s/data.mdb", path) < 0)
		data = NULL;
	if (data == NULL) {
		seterr(err, errlen, "journal %s: out of memory", path);
		rc = SL_ENOMEM;
		goto fail;
	}
	j->role = role;
	j->rdonly = (flags & JOURNAL_RDONLY) != 0;

	if (stat(path, &st) == -1) {
		if (errno != ENOENT) {
			seterr(err, errlen, "journal %s: %s", path, strerror(errno));
			rc = SL_EJOURNAL;
			goto fail;
		}
		if (j->rdonly) {
			seterr(err, errlen, "journal %s: no such journal", path);
			rc = SL_ENOTFOUND;
			goto fail;
		}
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			seterr(err, errlen, "mkdir %s: %s", path, strerror(errno));
			rc = SL_EIO;
			goto fail;
		}
	} else if (!S_ISDIR(st.st_mode)) {
		seterr(err, errlen, "journal %s: not a directory", path);
		rc = SL_EJOURNAL;
		goto fail;
	}

	/* LMDB treats an empty data.mdb as a new environment: refuse it,
	 * a journal that lost its contents must not be recreated empty. */
	if (stat(data, &st) == -1) {
		if (errno != ENOENT) {
			seterr(err, errlen, "journal %s: %s", data, strerror(errno));
			rc = SL_EJOURNAL;
			goto fail;
		}
		if (j->rdonly) {
			seterr(err, errlen, "journal %s: no such journal", path);
			rc = SL_ENOTFOUND;
			goto fail;
		}
	} else if (st.st_size == 0) {
		seterr(err, errlen, "journal %s: data.mdb is empty (truncated?); "
		    "move the directory away to start a new journal", path);
		rc = SL_EJOURNAL;
		goto fail;
	}

	rc = mdb_env_create(&j->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(j->env, JOURNAL_MAXDBS);
	if (rc == 0)
		rc = mdb_env_set_mapsize(j->env,
		    map_size ? map_size : JOURNAL_MAPSIZE_DEFAULT);
	if (rc == 0)
		rc = mdb_env_open(j->env, path,
		    MDB_NOTLS | (j->rdonly ? MDB_RDONLY : 0), 0600);
	if (rc) {
		seterr(err, errlen, "journal %s: %s", path, mdb_strerror(rc));
		rc = SL_EJOURNAL;
		goto fail;
	}

	/* A data.mdb cut short past its meta pages opens fine but would
	 * fault on the first read of a missing page: check its length. */
	if (mdb_env_info(j->env, &info) == 0 && mdb_env_stat(j->env, &mst) == 0 &&
	    stat(data, &st) == 0 &&
	    (uint64_t)st.st_size < ((uint64_t)info.me_last_pgno + 1) * mst.ms_psize) {
		seterr(err, errlen, "journal %s: data.mdb is %lld bytes but its "
		    "pages need %llu: truncated", path,
		    (long long)st.st_size,
		    (unsigned long long)(info.me_last_pgno + 1) * mst.ms_psize);
		rc = SL_EJOURNAL;
		goto fail;
	}

	rc = open_meta(j, err, errlen);
	if (rc)
		goto fail;
	free(data);
	*jp = j;
	return SL_OK;
fail:
	free(data);
	journal_close(j);
	return rc;
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	if (j->env)
		mdb_env_close(j->env);
	free(j->path);
	free(j);
}

const char *
journal_path(const struct journal *j)
{
	return j->path;
}

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
	default:		return "unknown";
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

/* ---- datasets ------------------------------------------------------------ */

/* Validate a new dataset against its files, and compute each file's
 * nchunks / first_chunk into out[] (same order, idx = position). */
static int
ds_check_files(const struct ds_rec *d, const struct file_rec *files,
    uint32_t nfiles, struct file_rec *out, uint64_t *nchunks, uint64_t *bytes)
{
	uint64_t nc = 0, nb = 0;
	uint32_t i;

	if (d->chunk_size == 0 || nfiles > SL_MAX_FILES ||
	    d->nmeta > SL_MAX_META || (d->nmeta > 0 && d->meta == NULL) ||
	    (nfiles > 0 && files == NULL))
		return SL_EINVAL;
	for (i = 0; i < nfiles; i++) {
		out[i] = files[i];
		out[i].idx = i;
		out[i].nchunks = wire_nchunks(files[i].size, d->chunk_size);
		out[i].first_chunk = nc;
		nc += out[i].nchunks;
		nb += files[i].size;
	}
	*nchunks = nc;
	*bytes = nb;
	return SL_OK;
}

int
journal_ds_create(struct journal *j, const struct ds_rec *d,
    const struct file_rec *files, uint32_t nfiles)
{
	struct file_rec *fr = NULL;
	struct ds_rec rec;
	MDB_txn *t = NULL;
	uint8_t kb[KEY_CHUNK_LEN], vb[12];
	MDB_val k, v = { sizeof(vb), vb };
	uint64_t nchunks, bytes;
	uint32_t i, c;
	int rc;

	if (j->role != JOURNAL_AGENT)
		return SL_EINVAL;
	if (nfiles > SL_MAX_FILES)
		return SL_EINVAL;
	fr = calloc(nfiles ? nfiles : 1, sizeof(*fr));
	if (fr == NULL)
		return SL_ENOMEM;
	rc = ds_check_files(d, files, nfiles, fr, &nchunks, &bytes);
	if (rc == SL_OK && (nchunks != d->nchunks || bytes != d->bytes))
		rc = SL_EINVAL;
	if (rc)
		goto fail;

	rec = *d;
	rec.nfiles = nfiles;
	if (rec.state == 0)
		rec.state = DS_QUEUED;
	if (rec.created_ns == 0)
		rec.created_ns = now_ns();
	if (rec.updated_ns == 0)
		rec.updated_ns = rec.created_ns;
	rec.chunks_acked = 0;		/* every chunk record starts pending */
	rec.bytes_acked = 0;

	rc = txn_begin(j, 0, &t);
	if (rc)
		goto fail;
	rc = ds_store(j, t, &rec, MDB_NOOVERWRITE);
	if (rc)
		goto fail;
	chunk_encode(vb, CHUNK_PENDING, 0, 0);
	for (i = 0; i < nfiles; i++) {
		rc = file_store(j, t, d->id, &fr[i]);
		if (rc)
			goto fail;
		for (c = 0; c < fr[i].nchunks; c++) {
			k = key_chunk(kb, d->id, i, c);
			rc = map_rc(mdb_put(t, j->chunks, &k, &v, 0));
			if (rc)
				goto fail;
		}
	}
	rc = commit(t);
	t = NULL;
fail:
	if (t)
		mdb_txn_abort(t);
	free(fr);
	return rc;
}

int
journal_ds_get(struct journal *j, uint64_t id, struct ds_rec *d)
{
	MDB_txn *t;
	int rc;

	memset(d, 0, sizeof(*d));
	rc = txn_begin(j, 1, &t);
	if (rc)
		return rc;
	rc = ds_load(j, t, id, d);
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

int
journal_ds_find(struct journal *j, const char *name_or_id, struct ds_rec *d)
{
	MDB_txn *t = NULL;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	uint64_t id;
	int rc, op;

	memset(d, 0, sizeof(*d));
	rc = txn_begin(j, 1, &t);
	if (rc)
		return rc;
	if (parse_hex_id(name_or_id, &id) == 0) {
		rc = ds_load(j, t, id, d);
		if (rc != SL_ENOTFOUND)
			goto out;	/* found, or an error */
		/* else a name that happens to look like an id */
	}
	rc = map_rc(mdb_cursor_open(t, j->datasets, &c));
	if (rc)
		goto out;
	for (op = MDB_FIRST;; op = MDB_NEXT) {
		rc = mdb_cursor_get(c, &k, &v, op);
		if (rc) {
			rc = map_rc(rc);
			break;
		}
		if (k.mv_size != KEY_DS_LEN) {
			rc = SL_EJOURNAL;
			break;
		}
		rc = ds_decode(&v, be_get64(k.mv_data), d);
		if (rc)
			break;
		if (strcmp(d->name, name_or_id) == 0)
			break;
		ds_rec_free(d);
	}
out:
	if (rc)
		ds_rec_free(d);
	if (c)
		mdb_cursor_close(c);
	mdb_txn_abort(t);
	return rc;
}

int
journal_ds_foreach(struct journal *j,
    int (*fn)(const struct ds_rec *d, void *arg), void *arg)
{
	struct ds_rec *d;
	MDB_txn *t = NULL;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int rc, op, stop;

	d = malloc(sizeof(*d));
	if (d == NULL)
		return SL_ENOMEM;
	rc = txn_begin(j, 1, &t);
	if (rc)
		goto out;
	rc = map_rc(mdb_cursor_open(t, j->datasets, &c));
	if (rc)
		goto out;
	for (op = MDB_FIRST;; op = MDB_NEXT) {
		rc = mdb_cursor_get(c, &k, &v, op);
		if (rc == MDB_NOTFOUND) {
			rc = SL_OK;
			break;
		}
		if (rc) {
			rc = map_rc(rc);
			break;
		}
		if (k.mv_size != KEY_DS_LEN) {
			rc = SL_EJOURNAL;
			break;
		}
		rc = ds_decode(&v, be_get64(k.mv_data), d);
		if (rc)
			break;
		stop = fn(d, arg);
		ds_rec_free(d);
		if (stop)
			break;
	}
out:
	if (c)
		mdb_cursor_close(c);
	if (t)
		mdb_txn_abort(t);
	free(d);
	return rc;
}

/* Append a history record for id, keeping time monotonic per dataset.
 * Returns the time used in *when. */
static int
hist_append(struct journal *j, MDB_txn *t, uint64_t id, int from, int to,
    const char *reason, uint64_t *when)
{
	MDB_cursor *c = NULL;
	uint8_t kb[KEY_HIST_LEN];
	MDB_val k, v;
	struct enc e = { 0 };
	uint64_t tm = now_ns(), lt;
	uint32_t seq = 0, ls;
	int rc;

	rc = map_rc(mdb_cursor_open(t, j->history, &c));
	if (rc)
		return rc;
	/* the last history key of id: just before (id + 1, 0, 0) */
	if (id != UINT64_MAX) {
		k = key_hist(kb, id + 1, 0, 0);
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == 0)
			rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
		else if (rc == MDB_NOTFOUND)
			rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	} else {
		rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	}
	if (rc == 0 && key_is(&k, KEY_HIST_LEN, id)) {
		lt = be_get64((uint8_t *)k.mv_data + 8);
		ls = be_get32((uint8_t *)k.mv_data + 16);
		if (lt >= tm) {
			tm = lt;
			seq = ls + 1;
			if (seq == 0)	/* wrapped: step the time instead */
				tm++;
		}
	} else if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_cursor_close(c);
		return map_rc(rc);
	}
	mdb_cursor_close(c);

	enc_u16(&e, REC_HIST_V);
	enc_u32(&e, (uint32_t)from);
	enc_u32(&e, (uint32_t)to);
	enc_str(&e, reason ? reason : "", SL_MAX_MSG + 1);
	rc = e.err;
	if (rc == SL_OK) {
		k = key_hist(kb, id, tm, seq);
		v.mv_size = e.len;
		v.mv_data = e.p;
		rc = map_rc(mdb_put(t, j->history, &k, &v, 0));
	}
	free(e.p);
	*when = tm;
	return rc;
}

/*
 * The dataset updates below share one shape: in a write txn, load the
 * record, let a small function change it (and append history), store it,
 * commit.  ds_update does the txn; each public function is its change.
 */
struct ds_change {
	int		 state;		/* -1: keep */
	const char	*reason;	/* history text; NULL: no history entry */
	int		 history;	/* append a history entry (reason may be NULL) */
	const char	*published;
	const char	*dest;
	uint64_t	 sent, resent, nacked;
	int		 hook;		/* set the hook fields below */
	uint32_t	 attempts;
	int32_t		 status;
	uint64_t	 next_ns;
	const char	*out, *err;
};

static int
ds_update(struct journal *j, uint64_t id, const struct ds_change *c)
{
	struct ds_rec	 d = { 0 };
	MDB_txn		*t = NULL;
	uint64_t	 when = 0;
	int		 rc, to, done;

	rc = txn_begin(j, 0, &t);
	if (rc)
		return rc;
	rc = ds_load(j, t, id, &d);
	if (rc)
		goto fail;
	to = c->state >= 0 ? c->state : d.state;
	if (c->history) {
		rc = hist_append(j, t, id, d.state, to, c->reason, &when);
		if (rc)
			goto fail;
		d.updated_ns = when;
	}
	done = j->role == JOURNAL_AGENT ? DS_TRANSFERRED : SDS_PUBLISHED;
	if (c->state >= 0) {
		d.state = to;
		if (c->reason != NULL && !c->hook)
			strlcpy0(d.error, c->reason, sizeof(d.error));
		else if (to == done || to == DS_DONE ||
		    (j->role == JOURNAL_AGENT && to == DS_HOOK_PENDING && !c->hook))
			d.error[0] = '\0';	/* published: old retry errors are history */
		/* Published: TRANSFERRED, or straight to HOOK_PENDING with a hook. */
		if ((to == done || (j->role == JOURNAL_AGENT && to == DS_HOOK_PENDING)) &&
		    d.completed_ns == 0)
			d.completed_ns = when;
		if (c->hook && to == DS_HOOK_FAILED && c->reason != NULL)
			strlcpy0(d.error, c->reason, sizeof(d.error));
	}
	if (c->published != NULL)
		strlcpy0(d.published, c->published, sizeof(d.published));
	if (c->dest != NULL)
		strlcpy0(d.dest, c->dest, sizeof(d.dest));
	d.chunks_sent += c->sent;
	d.chunks_resent += c->resent;
	d.chunks_nacked += c->nacked;
	if (c->hook) {
		d.hook_attempts = c->attempts;
		d.hook_status = c->status;
		d.hook_next_ns = c->next_ns;
		if (c->out != NULL)
			strlcpy0(d.hook_out, c->out, sizeof(d.hook_out));
		if (c->err != NULL)
			strlcpy0(d.hook_err, c->err, sizeof(d.hook_err));
	}
	rc = ds_store(j, t, &d, 0);
	if (rc)
		goto fail;
	rc = commit(t);
	t = NULL;
fail:
	if (t)
		mdb_txn_abort(t);
	ds_rec_free(&d);
	return rc;
}

int
journal_ds_set_state(struct journal *j, uint64_t id, int state,
    const char *reason, const char *published)
{
	struct ds_change c = { .state = state, .reason = reason, .history = 1,
	    .published = published };
	int maxstate = j->role == JOURNAL_AGENT ? DS_STATE_MAX : SDS_FAILED;

	if (state < 1 || state > maxstate)
		return SL_EINVAL;
	if (published != NULL && strlen(published) > SL_MAX_PATH)
		return SL_EINVAL;
	return ds_update(j, id, &c);
}

int
journal_ds_note(struct journal *j, uint64_t id, const char *note, const char *dest)
{
	struct ds_change c = { .state = -1, .reason = note, .history = note != NULL,
	    .dest = dest };

	if (dest != NULL && strlen(dest) >= sizeof(((struct ds_rec *)0)->dest))
		return SL_EINVAL;
	return ds_update(j, id, &c);
}

int
journal_ds_hook(struct journal *j, uint64_t id, int state, uint32_t attempts,
    int32_t status, uint64_t next_ns, const char *out, const char *err,
    const char *reason)
{
	struct ds_change c = { .state = state, .reason = reason, .history = 1,
	    .hook = 1, .attempts = attempts, .status = status, .next_ns = next_ns,
	    .out = out, .err = err };

	if (j->role != JOURNAL_AGENT || state < DS_HOOK_PENDING || state > DS_STATE_MAX)
		return SL_EINVAL;
	return ds_update(j, id, &c);
}

int
journal_ds_count(struct journal *j, uint64_t id, uint64_t sent,
    uint64_t resent, uint64_t nacked)
{
	struct ds_change c = { .state = -1, .sent = sent, .resent = resent,
	    .nacked = nacked };

	return ds_update(j, id, &c);
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
	rc = ds_load(j, t, id, &d);
	if (rc == SL_OK)
		rc = files_load_txn(j, t, id, d.nfiles, files);
	if (rc == SL_OK)
		*nfiles = d.nfiles;
	ds_rec_free(&d);
	mdb_txn_abort(t);
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
	uint8_t kb[KEY_CHUNK_LEN], vb[12];
	MDB_val k, v;
	uint32_t i;
	int rc, state, has_hash, have_file = 0;
	uint64_t hash;

	if (j->role != JOURNAL_AGENT || (n > 0 && refs == NULL))
		return SL_EINVAL;
	rc = txn_begin(j, 0, &t);
	if (rc)
		return rc;
	rc = ds_load(j, t, id, &d);
	if (rc)
		goto fail;
	for (i = 0; i < n; i++) {
		if (!have_file || f.idx != refs[i].file) {
			if (refs[i].file >= d.nfiles) {
				rc = SL_EINVAL;
				goto fail;
			}
			rc = file_load(j, t, id, refs[i].file, &f);
			if (rc == SL_ENOTFOUND)
				rc = SL_EJOURNAL;	/* ds says it exists */
			if (rc)
				goto fail;
			have_file = 1;
		}
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
	rc = ds_store(j, t, &d, 0);
	if (rc)
		goto fail;
	rc = commit(t);
	t = NULL;
fail:
	if (t)
		mdb_txn_abort(t);
	ds_rec_free(&d);
	return rc;
}

int
journal_chunks_foreach(struct journal *j, uint64_t id,
    void (*fn)(uint32_t file, uint32_t chunk, int state, uint64_t hash,
    int has_hash, void *arg), void *arg)
{
	MDB_txn *t = NULL;
	MDB_cursor *c = NULL;
	uint8_t kb[KEY_CHUNK_LEN];
	MDB_val k, v;
	uint64_t hash;
	uint32_t len;
	int rc, op, state, has_hash;

	rc = txn_begin(j, 1, &t);
	if (rc)
		return rc;
	rc = map_rc(mdb_cursor_open(t, j->chunks, &c));
	if (rc)
		goto out;
	k = key_chunk(kb, id, 0, 0);
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
		if (j->role == JOURNAL_AGENT) {
			rc = chunk_decode(&v, &state, &has_hash, &hash);
		} else {
			rc = schunk_decode(&v, &hash, &len);
			state = CHUNK_ACKED;
			has_hash = 1;
		}
		if (rc)
			break;
		fn(be_get32((uint8_t *)k.mv_data + 8),
		    be_get32((uint8_t *)k.mv_data + 12), state, hash, has_hash, arg);
	}
out:
	if (c)
		mdb_cursor_close(c);
	mdb_txn_abort(t);
	return rc;
}

int
journal_history_foreach(struct journal *j, uint64_t id,
    void (*fn)(const struct hist_rec *h, void *arg), void *arg)
{
	struct hist_rec h;
	struct dec x;
	MDB_txn *t = NULL;
	MDB_cursor *c = NULL;
	uint8_t kb[KEY_HIST_LEN];
	MDB_val k, v;
	int rc, op;

	rc = txn_begin(j, 1, &t);
	if (rc)
		return rc;
	rc = map_rc(mdb_cursor_open(t, j->history, &c));
	if (rc)
		goto out;
	k = key_hist(kb, id, 0, 0);
	for (op = MDB_SET_RANGE;; op = MDB_NEXT) {
		rc = mdb_cursor_get(c, &k, &v, op);
		if (rc == MDB_NOTFOUND || (rc == 0 && !key_is(&k, KEY_HIST_LEN, id))) {
			rc = SL_OK;
			break;
		}
		if (rc) {
			rc = map_rc(rc);
			break;
		}
		memset(&h, 0, sizeof(h));
		h.time_ns = be_get64((uint8_t *)k.mv_data + 8);
		dec_init(&x, &v);
		if (dec_u16(&x) != REC_HIST_V) {
			rc = SL_EJOURNAL;
			break;
		}
		h.from = (int)dec_u32(&x);
		h.to = (int)dec_u32(&x);
		dec_str(&x, h.reason, sizeof(h.reason));
		if (!dec_done(&x)) {
			rc = SL_EJOURNAL;
			break;
		}
		fn(&h, arg);
	}
out:
	if (c)
		mdb_cursor_close(c);
	mdb_txn_abort(t);
	return rc;
}

/* ---- sink ------------------------------------------------------------------ */

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
	rc = files_load_txn(j, t, old->id, nfiles, &of);
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
	struct ds_rec rec, old = { 0 };
	MDB_txn *t = NULL;
	uint64_t nchunks, bytes;
	uint32_t i;
	int rc;

	if (j->role != JOURNAL_SINK || nfiles > SL_MAX_FILES)
		return SL_EINVAL;
	fr = calloc(nfiles ? nfiles : 1, sizeof(*fr));
	if (fr == NULL)
		return SL_ENOMEM;
	rc = ds_check_files(d, files, nfiles, fr, &nchunks, &bytes);
	if (rc)
		goto fail;
	rc = txn_begin(j, 0, &t);
	if (rc)
		goto fail;
	rc = ds_load(j, t, d->id, &old);
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

	rec = *d;
	rec.nfiles = nfiles;
	rec.nchunks = nchunks;
	rec.bytes = bytes;
	if (rec.state == 0)
		rec.state = SDS_RECEIVING;
	if (rec.created_ns == 0)
		rec.created_ns = now_ns();
	if (rec.updated_ns == 0)
		rec.updated_ns = rec.created_ns;
	rec.chunks_acked = 0;		/* no chunk held yet */
	rec.bytes_acked = 0;
	rc = ds_store(j, t, &rec, MDB_NOOVERWRITE);
	if (rc)
		goto fail;
	for (i = 0; i < nfiles; i++) {
		rc = file_store(j, t, d->id, &fr[i]);
		if (rc)
			goto fail;
	}
	rc = commit(t);
	t = NULL;
fail:
	if (t)
		mdb_txn_abort(t);
	ds_rec_free(&old);
	free(fr);
	return rc;
}

int
journal_sink_chunks_put(struct journal *j, const struct sink_chunk *c,
    uint32_t n)
{
	struct ds_rec d = { 0 };
	struct file_rec f;
	MDB_txn *t = NULL;
	uint8_t kb[KEY_CHUNK_LEN], vb[14];
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
				rc = ds_store(j, t, &d, 0);
				ds_rec_free(&d);
				have_ds = 0;	// NOLINT(clang-analyzer-deadcode.DeadStores): kept true to its name
				if (rc)
					goto fail;
			}
			rc = ds_load(j, t, c[i].dsid, &d);
			if (rc)
				goto fail;
			have_ds = 1;
			have_file = 0;
		}
		if (!have_file || f.idx != c[i].file) {
			if (c[i].file >= d.nfiles) {
				rc = SL_EINVAL;
				goto fail;
			}
			rc = file_load(j, t, d.id, c[i].file, &f);
			if (rc == SL_ENOTFOUND)
				rc = SL_EJOURNAL;
			if (rc)
				goto fail;
			have_file = 1;
		}
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
		schunk_encode(vb, c[i].hash, c[i].len);
		if (held && v.mv_size == sizeof(vb) && memcmp(v.mv_data, vb,
		    sizeof(vb)) == 0)
			continue;
		v.mv_size = sizeof(vb);
		v.mv_data = vb;
		rc = map_rc(mdb_put(t, j->chunks, &k, &v, 0));
		if (rc)
			goto fail;
		if (!held) {
			d.chunks_acked++;
			d.bytes_acked += c[i].len;
		}
	}
	if (have_ds) {
		rc = ds_store(j, t, &d, 0);
		if (rc)
			goto fail;
	}
	rc = commit(t);
	t = NULL;
fail:
	if (t)
		mdb_txn_abort(t);
	ds_rec_free(&d);
	return rc;
}

int
journal_sink_have(struct journal *j, uint64_t id, const struct file_rec *files,
    uint32_t nfiles, uint8_t *bitmap, uint64_t nchunks)
{
	MDB_txn *t = NULL;
	MDB_cursor *cur = NULL;
	uint8_t kb[KEY_CHUNK_LEN];
	MDB_val k, v;
	uint32_t file, chunk;
	uint64_t g;
	int rc, op;

	if (j->role != JOURNAL_SINK)
		return SL_EINVAL;
	rc = txn_begin(j, 1, &t);
	if (rc)
		return rc;
	rc = map_rc(mdb_cursor_open(t, j->chunks, &cur));
	if (rc)
		goto out;
	k = key_chunk(kb, id, 0, 0);
	for (op = MDB_SET_RANGE;; op = MDB_NEXT) {
		rc = mdb_cursor_get(cur, &k, &v, op);
		if (rc == MDB_NOTFOUND || (rc == 0 && !key_is(&k, KEY_CHUNK_LEN, id))) {
			rc = SL_OK;
			break;
		}
		if (rc) {
			rc = map_rc(rc);
			break;
		}
		file = be_get32((uint8_t *)k.mv_data + 8);
		chunk = be_get32((uint8_t *)k.mv_data + 12);
		if (file >= nfiles || chunk >= files[file].nchunks) {
			rc = SL_EINVAL;		/* files do not match the journal */
			break;
		}
		g = files[file].first_chunk + chunk;
		if (g >= nchunks) {
			rc = SL_EINVAL;
			break;
		}
		bitmap[g / 8] |= (uint8_t)(1u << (g % 8));
	}
out:
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(t);
	return rc;
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
		rc = schunk_decode(&v, &hashes[i], &len);
		if (rc)
			break;
	}
	mdb_txn_abort(t);
	return rc;
}
