/*
 * wire_dataset.c: the frames of one dataset's transfer (PROTOCOL.md
 * 4.4-4.10, 6.2): OPEN (the manifest), HAVE (what the sink holds), DATA
 * (one chunk), ACK and NACK, COMMIT (per-file digests) and COMMITTED,
 * plus the chunk arithmetic both roles share.  OPEN is the one large
 * decoder: up to SL_MAX_FILES paths, each through pathchk_rel, with the
 * byte and chunk totals accounted as it goes so that a manifest whose
 * chunks would not fit a HAVE bitmap is refused before anyone acts on it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"
#include "wire.h"
#include "wire_int.h"
#include "pathchk.h"

#define WIRE_MAX_NCHUNKS	((uint64_t)SL_MAX_FILES << 16)
#define WIRE_FILE_MIN		(4 + 1 + 8 + 4)	/* OPEN file entry, 1-byte path */
#define WIRE_META_MIN		(4 + 1 + 4)	/* OPEN meta entry, 1-byte key */

/* ---- chunks ---------------------------------------------------------- */

uint32_t
wire_nchunks(uint64_t size, uint32_t chunk_size)
{
	uint64_t	n;

	if (size == 0 || chunk_size == 0)
		return 0;
	n = size / chunk_size + (size % chunk_size != 0);
	/* Saturates; OPEN rejects files with more than UINT32_MAX chunks. */
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

uint32_t
wire_chunk_len(uint64_t size, uint32_t chunk_size, uint32_t idx)
{
	uint64_t	off;

	if (chunk_size == 0)
		return 0;
	off = (uint64_t)idx * chunk_size;
	if (off >= size)
		return 0;
	return size - off < chunk_size ? (uint32_t)(size - off) : chunk_size;
}

/* ---- OPEN ------------------------------------------------------------ */

void
wire_open_free(struct wire_open *o)
{
	free(o->meta);
	free(o->files);
	o->meta = NULL;
	o->files = NULL;
	o->nmeta = 0;
	o->nfiles = 0;
}

/* Add one file to the running byte and chunk totals; SL_EPROTO on byte
 * overflow, SL_ETOOBIG past the chunk limits. */
static int
open_account(uint64_t *bytes, uint64_t *chunks, uint64_t size,
    uint32_t chunk_size)
{
	uint64_t	nc;

	if (size > UINT64_MAX - *bytes)
		return SL_EPROTO;
	*bytes += size;
	nc = size / chunk_size + (size % chunk_size != 0);
	if (nc > UINT32_MAX)
		return SL_ETOOBIG;
	*chunks += nc;
	if (*chunks > WIRE_MAX_NCHUNKS)
		return SL_ETOOBIG;
	return SL_OK;
}

int
wire_open_encode(struct wbuf *b, const struct wire_open *o)
{
	struct wr	w;
	uint64_t	bytes = 0, chunks = 0;
	size_t		plen;
	uint32_t	i;
	int		rc;

	if (!str_ok(o->name, 1, SL_MAX_NAME) ||
	    pathchk_name(o->name.p, o->name.len, NULL) != 0 ||
	    o->chunk_size < SL_MIN_CHUNK || o->chunk_size > SL_MAX_CHUNK ||
	    o->nmeta > SL_MAX_META || o->nfiles > SL_MAX_FILES ||
	    (o->nmeta > 0 && o->meta == NULL) ||
	    (o->nfiles > 0 && o->files == NULL))
		return SL_EINVAL;
	plen = 8 + 4 + o->name.len + 4 + 8 + 4 + 4;
	for (i = 0; i < o->nmeta; i++) {
		if (!str_ok(o->meta[i].key, 1, SL_MAX_META_KEY) ||
		    !str_ok(o->meta[i].val, 0, SL_MAX_META_VAL))
			return SL_EINVAL;
		plen += 4 + o->meta[i].key.len + 4 + o->meta[i].val.len;
	}
	for (i = 0; i < o->nfiles; i++) {
		const struct wire_file *f = &o->files[i];

		if (!str_ok(f->path, 1, SL_MAX_PATH) ||
		    pathchk_rel(f->path.p, f->path.len, NULL) != 0 ||
		    (f->mode & ~07777u) != 0 ||
		    open_account(&bytes, &chunks, f->size, o->chunk_size) != 0)
			return SL_EINVAL;
		plen += 4 + f->path.len + 8 + 4;
		if (plen > SL_MAX_FRAME)
			return SL_EINVAL;
	}
	if (bytes != o->total_bytes)
		return SL_EINVAL;

	rc = frame_begin(b, WIRE_OPEN, plen, &w);
	if (rc != SL_OK)
		return rc;
	wr_u64(&w, o->dsid);
	wr_str(&w, o->name);
	wr_u32(&w, o->chunk_size);
	wr_u64(&w, o->total_bytes);
	wr_u32(&w, o->nmeta);
	for (i = 0; i < o->nmeta; i++) {
		wr_str(&w, o->meta[i].key);
		wr_str(&w, o->meta[i].val);
	}
	wr_u32(&w, o->nfiles);
	for (i = 0; i < o->nfiles; i++) {
		wr_str(&w, o->files[i].path);
		wr_u64(&w, o->files[i].size);
		wr_u32(&w, o->files[i].mode);
	}
	frame_end(b, plen);
	return SL_OK;
}

int
wire_open_decode(const uint8_t *buf, size_t n, struct wire_open *o)
{
	struct rd	r;
	uint64_t	bytes = 0, chunks = 0;
	uint32_t	i;
	int		rc;

	memset(o, 0, sizeof(*o));
	rd_init(&r, buf, n);
	o->dsid = rd_u64(&r);
	o->name = rd_str(&r, 1, SL_MAX_NAME);
	if (r.err == SL_OK && pathchk_name(o->name.p, o->name.len, NULL) != 0)
		rd_fail(&r, SL_EPROTO);
	o->chunk_size = rd_u32(&r);
	if (r.err == SL_OK &&
	    (o->chunk_size < SL_MIN_CHUNK || o->chunk_size > SL_MAX_CHUNK))
		rd_fail(&r, SL_EPROTO);
	o->total_bytes = rd_u64(&r);

	o->nmeta = rd_count(&r, SL_MAX_META, WIRE_META_MIN);
	if (r.err != SL_OK)
		goto fail;
	if (o->nmeta > 0) {
		o->meta = calloc(o->nmeta, sizeof(*o->meta));
		if (o->meta == NULL) {
			rc = SL_ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < o->nmeta && r.err == SL_OK; i++) {
		o->meta[i].key = rd_str(&r, 1, SL_MAX_META_KEY);
		o->meta[i].val = rd_str(&r, 0, SL_MAX_META_VAL);
	}

	o->nfiles = rd_count(&r, SL_MAX_FILES, WIRE_FILE_MIN);
	if (r.err != SL_OK)
		goto fail;
	if (o->nfiles > 0) {
		o->files = calloc(o->nfiles, sizeof(*o->files));
		if (o->files == NULL) {
			rc = SL_ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < o->nfiles && r.err == SL_OK; i++) {
		struct wire_file *f = &o->files[i];

		f->path = rd_str(&r, 1, SL_MAX_PATH);
		f->size = rd_u64(&r);
		f->mode = rd_u32(&r);
		if (r.err != SL_OK)
			break;
		if (pathchk_rel(f->path.p, f->path.len, NULL) != 0 ||
		    (f->mode & ~07777u) != 0) {
			rd_fail(&r, SL_EPROTO);
			break;
		}
		rc = open_account(&bytes, &chunks, f->size, o->chunk_size);
		if (rc != SL_OK)
			rd_fail(&r, rc);
	}
	if (rd_end(&r) != SL_OK)
		goto fail;
	if (bytes != o->total_bytes)
		rd_fail(&r, SL_EPROTO);
fail:
	rc = r.err;
out:
	if (rc != SL_OK) {
		wire_open_free(o);
		memset(o, 0, sizeof(*o));
	}
	return rc;
}

/* ---- HAVE ------------------------------------------------------------ */

int
wire_have_encode(struct wbuf *b, const struct wire_have *m)
{
	struct wr	w;
	size_t		plen, blen;
	int		rc;

	if ((m->status != WIRE_HAVE_RECEIVING &&
	    m->status != WIRE_HAVE_PUBLISHED) ||
	    m->nchunks > WIRE_MAX_NCHUNKS)
		return SL_EINVAL;
	blen = (size_t)((m->nchunks + 7) / 8);
	if (blen > 0 && m->bitmap == NULL)
		return SL_EINVAL;
	plen = 8 + 1 + 8 + blen;
	rc = frame_begin(b, WIRE_HAVE, plen, &w);	/* EINVAL past a frame */
	if (rc != SL_OK)
		return rc;
	wr_u64(&w, m->dsid);
	wr_u8(&w, m->status);
	wr_u64(&w, m->nchunks);
	wr_bytes(&w, m->bitmap, blen);
	frame_end(b, plen);
	return SL_OK;
}

int
wire_have_decode(const uint8_t *buf, size_t n, struct wire_have *m)
{
	struct rd	r;

	memset(m, 0, sizeof(*m));
	rd_init(&r, buf, n);
	m->dsid = rd_u64(&r);
	m->status = rd_u8(&r);
	if (r.err == SL_OK && m->status != WIRE_HAVE_RECEIVING &&
	    m->status != WIRE_HAVE_PUBLISHED)
		rd_fail(&r, SL_EPROTO);
	m->nchunks = rd_u64(&r);
	if (r.err == SL_OK && m->nchunks > WIRE_MAX_NCHUNKS)
		rd_fail(&r, SL_ETOOBIG);
	/* The bitmap is exactly the rest of the payload: no more, no less. */
	if (r.err == SL_OK && (m->nchunks + 7) / 8 != r.left)
		rd_fail(&r, SL_EPROTO);
	if (r.err == SL_OK)
		m->bitmap = rd_bytes(&r, r.left);
	return rd_end(&r);
}

/* ---- DATA ------------------------------------------------------------ */

void
wire_data_prefix(uint8_t out[WIRE_DATA_PREFIX], const struct wire_data *d)
{
	uint8_t	*p = out;

	wire_hdr_encode(p, WIRE_DATA, WIRE_DATA_PREFIX - WIRE_HDR_LEN + d->len);
	p += WIRE_HDR_LEN;
	wire_put_u64(p, d->dsid);
	wire_put_u32(p + 8, d->file);
	wire_put_u32(p + 12, d->chunk);
	wire_put_u64(p + 16, d->xxh3);
	wire_put_u32(p + 24, d->len);
}

int
wire_data_encode(struct wbuf *b, const struct wire_data *d)
{
	size_t	plen;
	int	rc;

	if (d->len > SL_MAX_CHUNK || (d->len > 0 && d->bytes == NULL))
		return SL_EINVAL;
	plen = WIRE_DATA_PREFIX - WIRE_HDR_LEN + (size_t)d->len;
	rc = wbuf_reserve(b, WIRE_HDR_LEN + plen);
	if (rc != SL_OK)
		return rc;
	wire_data_prefix(b->p + b->len, d);
	if (d->len > 0)
		memcpy(b->p + b->len + WIRE_DATA_PREFIX, d->bytes, d->len);
	frame_end(b, plen);
	return SL_OK;
}

int
wire_data_decode(const uint8_t *buf, size_t n, struct wire_data *d)
{
	struct rd	r;

	memset(d, 0, sizeof(*d));
	rd_init(&r, buf, n);
	d->dsid = rd_u64(&r);
	d->file = rd_u32(&r);
	d->chunk = rd_u32(&r);
	d->xxh3 = rd_u64(&r);
	d->len = rd_u32(&r);
	if (r.err == SL_OK && d->len > SL_MAX_CHUNK)
		rd_fail(&r, SL_ETOOBIG);
	d->bytes = rd_bytes(&r, d->len);
	return rd_end(&r);
}

/* ---- ACK ------------------------------------------------------------- */

void
wire_ack_free(struct wire_ack *a)
{
	free(a->ents);
	a->ents = NULL;
	a->n = 0;
}

int
wire_ack_encode(struct wbuf *b, const struct wire_ack *a)
{
	struct wr	w;
	size_t		plen;
	uint32_t	i;
	int		rc;

	if (a->n > SL_MAX_ACKS || (a->n > 0 && a->ents == NULL))
		return SL_EINVAL;
	plen = 8 + 4 + (size_t)a->n * 8;
	rc = frame_begin(b, WIRE_ACK, plen, &w);
	if (rc != SL_OK)
		return rc;
	wr_u64(&w, a->dsid);
	wr_u32(&w, a->n);
	for (i = 0; i < a->n; i++) {
		wr_u32(&w, a->ents[i].file);
		wr_u32(&w, a->ents[i].chunk);
	}
	frame_end(b, plen);
	return SL_OK;
}

int
wire_ack_decode(const uint8_t *buf, size_t n, struct wire_ack *a)
{
	struct rd	r;
	uint32_t	i;

	memset(a, 0, sizeof(*a));
	rd_init(&r, buf, n);
	a->dsid = rd_u64(&r);
	/* entries of u32 file, u32 chunk */
	a->n = rd_count_rest(&r, SL_MAX_ACKS, 4 + 4);
	if (r.err != SL_OK)
		return r.err;
	if (a->n > 0) {
		a->ents = calloc(a->n, sizeof(*a->ents));
		if (a->ents == NULL) {
			a->n = 0;
			return SL_ENOMEM;
		}
	}
	for (i = 0; i < a->n; i++) {
		a->ents[i].file = rd_u32(&r);
		a->ents[i].chunk = rd_u32(&r);
	}
	if (rd_end(&r) != SL_OK) {
		wire_ack_free(a);
		return r.err;
	}
	return SL_OK;
}

/* ---- NACK ------------------------------------------------------------ */

int
wire_nack_encode(struct wbuf *b, const struct wire_nack *m)
{
	struct wr	w;
	size_t		plen;
	int		rc;

	if (!str_ok(m->reason, 0, SL_MAX_MSG))
		return SL_EINVAL;
	plen = 8 + 4 + 4 + 2 + 4 + m->reason.len;
	rc = frame_begin(b, WIRE_NACK, plen, &w);
	if (rc != SL_OK)
		return rc;
	wr_u64(&w, m->dsid);
	wr_u32(&w, m->file);
	wr_u32(&w, m->chunk);
	wr_u16(&w, m->code);
	wr_str(&w, m->reason);
	frame_end(b, plen);
	return SL_OK;
}

int
wire_nack_decode(const uint8_t *buf, size_t n, struct wire_nack *m)
{
	struct rd	r;

	memset(m, 0, sizeof(*m));
	rd_init(&r, buf, n);
	m->dsid = rd_u64(&r);
	m->file = rd_u32(&r);
	m->chunk = rd_u32(&r);
	m->code = rd_u16(&r);
	m->reason = rd_str(&r, 0, SL_MAX_MSG);
	return rd_end(&r);
}

/* ---- COMMIT ---------------------------------------------------------- */

int
wire_commit_encode(struct wbuf *b, const struct wire_commit *m)
{
	struct wr	w;
	size_t		plen, dlen;
	int		rc;

	if (m->nfiles > SL_MAX_FILES || (m->nfiles > 0 && m->digests == NULL))
		return SL_EINVAL;
	dlen = (size_t)m->nfiles * WIRE_DIGEST_LEN;
	plen = 8 + 4 + dlen;
	rc = frame_begin(b, WIRE_COMMIT, plen, &w);
	if (rc != SL_OK)
		return rc;
	wr_u64(&w, m->dsid);
	wr_u32(&w, m->nfiles);
	wr_bytes(&w, m->digests, dlen);
	frame_end(b, plen);
	return SL_OK;
}

int
wire_commit_decode(const uint8_t *buf, size_t n, struct wire_commit *m)
{
	struct rd	r;

	memset(m, 0, sizeof(*m));
	rd_init(&r, buf, n);
	m->dsid = rd_u64(&r);
	m->nfiles = rd_count_rest(&r, SL_MAX_FILES, WIRE_DIGEST_LEN);
	if (r.err == SL_OK)
		m->digests = rd_bytes(&r, r.left);
	return rd_end(&r);
}

/* ---- COMMITTED ------------------------------------------------------- */

int
wire_committed_encode(struct wbuf *b, const struct wire_committed *m)
{
	struct wr	w;
	size_t		plen;
	int		rc;

	if (!str_ok(m->path, 1, SL_MAX_PATH) ||
	    pathchk_rel(m->path.p, m->path.len, NULL) != 0)
		return SL_EINVAL;
	plen = 8 + 4 + m->path.len;
	rc = frame_begin(b, WIRE_COMMITTED, plen, &w);
	if (rc != SL_OK)
		return rc;
	wr_u64(&w, m->dsid);
	wr_str(&w, m->path);
	frame_end(b, plen);
	return SL_OK;
}

int
wire_committed_decode(const uint8_t *buf, size_t n, struct wire_committed *m)
{
	struct rd	r;

	memset(m, 0, sizeof(*m));
	rd_init(&r, buf, n);
	m->dsid = rd_u64(&r);
	m->path = rd_str(&r, 1, SL_MAX_PATH);
	if (r.err == SL_OK && pathchk_rel(m->path.p, m->path.len, NULL) != 0)
		rd_fail(&r, SL_EPROTO);
	return rd_end(&r);
}
