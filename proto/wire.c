/*
 * wire.c: the sluice wire codec (wire.h, PROTOCOL.md).
 *
 * Decoding goes through a small reader (struct rd): a pointer, the bytes
 * left and a sticky error.  Each rd_* call returns a zero value once the
 * reader has failed, so a decoder reads its fields straight through and
 * checks the error once at the end (rd_end, which also insists that the
 * payload was consumed exactly).  Every length and count is checked
 * against its limit from sluice.h (SL_ETOOBIG) and against the bytes that
 * remain (SL_EPROTO) before anything is allocated or touched, so a hostile
 * count can never make us allocate more than the payload could describe.
 * A payload that ends early is SL_EPROTO, not SL_ETRUNC: the caller hands
 * us a complete frame, so missing bytes mean a malformed frame.
 *
 * Encoding first validates the message with the same rules (SL_EINVAL
 * for anything the decoder would refuse), computes the exact payload
 * size, reserves header + payload in the wbuf in one go, and only then
 * writes.  Nothing after the reservation can fail, so an encoder appends
 * a whole frame or leaves the buffer untouched.
 *
 * wbuf cap: cap_max bounds the buffer's total length; cap_max 0 means no
 * cap at all (growth stops only when realloc fails).  A single frame is
 * still bounded by SL_MAX_FRAME + WIRE_HDR_LEN because the encoders
 * refuse larger payloads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"
#include "wire.h"
#include "pathchk.h"

#define WIRE_MAX_CMD		64	/* CTL_REQ command bytes */
#define WIRE_MAX_NCHUNKS	((uint64_t)SL_MAX_FILES << 16)
#define WIRE_FILE_MIN		(4 + 1 + 8 + 4)	/* OPEN file entry, 1-byte path */
#define WIRE_META_MIN		(4 + 1 + 4)	/* OPEN meta entry, 1-byte key */

static const char hello_tag[] = "sluice-hello-v1";

/* ---- little-endian primitives ---------------------------------------- */

void
wire_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void
wire_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

void
wire_put_u64(uint8_t *p, uint64_t v)
{
	wire_put_u32(p, (uint32_t)v);
	wire_put_u32(p + 4, (uint32_t)(v >> 32));
}

uint16_t
wire_get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t
wire_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 |
	    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t
wire_get_u64(const uint8_t *p)
{
	return (uint64_t)wire_get_u32(p) | (uint64_t)wire_get_u32(p + 4) << 32;
}

/* ---- names and small helpers ----------------------------------------- */

const char *
wire_type_name(int type)
{
	switch (type) {
	case WIRE_CHALLENGE:	return "CHALLENGE";
	case WIRE_HELLO:	return "HELLO";
	case WIRE_WELCOME:	return "WELCOME";
	case WIRE_OPEN:		return "OPEN";
	case WIRE_HAVE:		return "HAVE";
	case WIRE_DATA:		return "DATA";
	case WIRE_ACK:		return "ACK";
	case WIRE_NACK:		return "NACK";
	case WIRE_COMMIT:	return "COMMIT";
	case WIRE_COMMITTED:	return "COMMITTED";
	case WIRE_ERROR:	return "ERROR";
	case WIRE_CTL_REQ:	return "CTL_REQ";
	case WIRE_CTL_REPLY:	return "CTL_REPLY";
	default:		return "unknown";
	}
}

struct wire_str
wire_str_c(const char *s)
{
	struct wire_str	ws;

	ws.p = s;
	ws.len = s != NULL ? (uint32_t)strlen(s) : 0;
	return ws;
}

int
wire_str_copy(char *dst, size_t dstlen, struct wire_str s)
{
	if (dstlen == 0 || (size_t)s.len >= dstlen)
		return SL_ETOOBIG;
	if (s.len > 0)
		memcpy(dst, s.p, s.len);
	dst[s.len] = '\0';
	return SL_OK;
}

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

/* ---- wbuf ------------------------------------------------------------ */

void
wbuf_init(struct wbuf *b, size_t cap_max)
{
	b->p = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap_max = cap_max;
}

void
wbuf_free(struct wbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->alloc = 0;
}

void
wbuf_reset(struct wbuf *b)
{
	b->len = 0;
}

int
wbuf_reserve(struct wbuf *b, size_t more)
{
	size_t	 need, na;
	uint8_t	*np;

	if (more > SIZE_MAX - b->len)
		return SL_ETOOBIG;
	need = b->len + more;
	if (b->cap_max != 0 && need > b->cap_max)
		return SL_ETOOBIG;
	if (need <= b->alloc)
		return SL_OK;
	na = b->alloc != 0 ? b->alloc : 256;
	while (na < need)
		na = na > SIZE_MAX / 2 ? need : na * 2;
	if (b->cap_max != 0 && na > b->cap_max)
		na = b->cap_max;
	np = realloc(b->p, na);
	if (np == NULL)
		return SL_ENOMEM;
	b->p = np;
	b->alloc = na;
	return SL_OK;
}

int
wbuf_append(struct wbuf *b, const void *p, size_t n)
{
	int rc = wbuf_reserve(b, n);

	if (rc != SL_OK)
		return rc;
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return SL_OK;
}

int
wbuf_puts(struct wbuf *b, const char *s)
{
	return wbuf_append(b, s, strlen(s));
}

void
wbuf_consume(struct wbuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

/* ---- frame header ---------------------------------------------------- */

int
wire_hdr_decode(const uint8_t *buf, size_t n, struct wire_hdr *h,
    uint32_t max_len)
{
	if (n < WIRE_HDR_LEN)
		return SL_ETRUNC;
	if (wire_get_u16(buf) != WIRE_MAGIC)
		return SL_EPROTO;
	h->type = buf[2];
	h->flags = buf[3];
	h->len = wire_get_u32(buf + 4);
	if (h->flags != 0)
		return SL_EPROTO;
	if (h->len > max_len)
		return SL_ETOOBIG;
	return SL_OK;
}

void
wire_hdr_encode(uint8_t out[WIRE_HDR_LEN], uint8_t type, uint32_t len)
{
	wire_put_u16(out, WIRE_MAGIC);
	out[2] = type;
	out[3] = 0;
	wire_put_u32(out + 4, len);
}

/* ---- reader ---------------------------------------------------------- */

struct rd {
	const uint8_t	*p;
	size_t		 left;
	int		 err;
};

static void
rd_init(struct rd *r, const uint8_t *p, size_t n)
{
	r->p = p;
	r->left = p != NULL ? n : 0;
	r->err = (p == NULL && n != 0) ? SL_EPROTO : SL_OK;
}

/* Record the first error only. */
static void
rd_fail(struct rd *r, int err)
{
	if (r->err == SL_OK)
		r->err = err;
}

static const uint8_t *
rd_bytes(struct rd *r, size_t n)
{
	const uint8_t	*p;

	if (r->err != SL_OK)
		return NULL;
	if (n > r->left) {
		rd_fail(r, SL_EPROTO);
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

static uint8_t
rd_u8(struct rd *r)
{
	const uint8_t	*p = rd_bytes(r, 1);

	return p != NULL ? p[0] : 0;
}

static uint16_t
rd_u16(struct rd *r)
{
	const uint8_t	*p = rd_bytes(r, 2);

	return p != NULL ? wire_get_u16(p) : 0;
}

static uint32_t
rd_u32(struct rd *r)
{
	const uint8_t	*p = rd_bytes(r, 4);

	return p != NULL ? wire_get_u32(p) : 0;
}

static uint64_t
rd_u64(struct rd *r)
{
	const uint8_t	*p = rd_bytes(r, 8);

	return p != NULL ? wire_get_u64(p) : 0;
}

/* A string of minlen..maxlen bytes without NUL.  Past maxlen is
 * SL_ETOOBIG; short of minlen, past the payload or a NUL is SL_EPROTO. */
static struct wire_str
rd_str(struct rd *r, uint32_t minlen, uint32_t maxlen)
{
	struct wire_str	 s = { NULL, 0 };
	const uint8_t	*p;
	uint32_t	 len;

	len = rd_u32(r);
	if (r->err != SL_OK)
		return s;
	if (len > maxlen) {
		rd_fail(r, SL_ETOOBIG);
		return s;
	}
	if (len < minlen) {
		rd_fail(r, SL_EPROTO);
		return s;
	}
	p = rd_bytes(r, len);
	if (p == NULL)
		return s;
	if (memchr(p, '\0', len) != NULL) {
		rd_fail(r, SL_EPROTO);
		return s;
	}
	s.p = (const char *)p;
	s.len = len;
	return s;
}

/* The final verdict: the sticky error, or SL_EPROTO for trailing bytes. */
static int
rd_end(struct rd *r)
{
	if (r->err == SL_OK && r->left != 0)
		r->err = SL_EPROTO;
	return r->err;
}

/* ---- writer ---------------------------------------------------------- */

/* Encoder side of rd_str: SL_EINVAL for what the decoder would refuse. */
static int
str_ok(struct wire_str s, uint32_t minlen, uint32_t maxlen)
{
	if (s.len < minlen || s.len > maxlen)
		return 0;
	if (s.len > 0 && s.p == NULL)
		return 0;
	if (s.len > 0 && memchr(s.p, '\0', s.len) != NULL)
		return 0;
	return 1;
}

struct wr {
	uint8_t	*p;
};

/* Reserve a whole frame of plen payload bytes and write its header.  The
 * frame is committed (b->len advanced) by frame_end, so a caller that
 * bails out in between leaves no trace. */
static int
frame_begin(struct wbuf *b, uint8_t type, size_t plen, struct wr *w)
{
	int	rc;

	if (plen > SL_MAX_FRAME)
		return SL_EINVAL;
	rc = wbuf_reserve(b, WIRE_HDR_LEN + plen);
	if (rc != SL_OK)
		return rc;
	wire_hdr_encode(b->p + b->len, type, (uint32_t)plen);
	w->p = b->p + b->len + WIRE_HDR_LEN;
	return SL_OK;
}

static void
frame_end(struct wbuf *b, size_t plen)
{
	b->len += WIRE_HDR_LEN + plen;
}

static void
wr_u8(struct wr *w, uint8_t v)
{
	*w->p++ = v;
}

static void
wr_u16(struct wr *w, uint16_t v)
{
	wire_put_u16(w->p, v);
	w->p += 2;
}

static void
wr_u32(struct wr *w, uint32_t v)
{
	wire_put_u32(w->p, v);
	w->p += 4;
}

static void
wr_u64(struct wr *w, uint64_t v)
{
	wire_put_u64(w->p, v);
	w->p += 8;
}

static void
wr_bytes(struct wr *w, const void *p, size_t n)
{
	if (n > 0)
		memcpy(w->p, p, n);
	w->p += n;
}

static void
wr_str(struct wr *w, struct wire_str s)
{
	wr_u32(w, s.len);
	wr_bytes(w, s.p, s.len);
}

/* ---- CHALLENGE ------------------------------------------------------- */

int
wire_challenge_encode(struct wbuf *b, const struct wire_challenge *m)
{
	struct wr	w;
	size_t		plen;
	int		rc;

	if (m->min_version == 0 || m->min_version > m->max_version ||
	    !str_ok(m->sink_id, 0, SL_MAX_ID))
		return SL_EINVAL;
	plen = 2 + 2 + WIRE_NONCE_LEN + 4 + m->sink_id.len;
	rc = frame_begin(b, WIRE_CHALLENGE, plen, &w);
	if (rc != SL_OK)
		return rc;
	wr_u16(&w, m->min_version);
	wr_u16(&w, m->max_version);
	wr_bytes(&w, m->nonce, WIRE_NONCE_LEN);
	wr_str(&w, m->sink_id);
	frame_end(b, plen);
	return SL_OK;
}

int
wire_challenge_decode(const uint8_t *buf, size_t n, struct wire_challenge *m)
{
	struct rd	 r;
	const uint8_t	*nonce;

	memset(m, 0, sizeof(*m));
	rd_init(&r, buf, n);
	m->min_version = rd_u16(&r);
	m->max_version = rd_u16(&r);
	nonce = rd_bytes(&r, WIRE_NONCE_LEN);
	if (nonce != NULL)
		memcpy(m->nonce, nonce, WIRE_NONCE_LEN);
	m->sink_id = rd_str(&r, 0, SL_MAX_ID);
	if (rd_end(&r) == SL_OK &&
	    (m->min_version == 0 || m->min_version > m->max_version))
		r.err = SL_EPROTO;
	return r.err;
}

/* ---- HELLO ----------------------------------------------------------- */

static int
hello_ok(const struct wire_hello *m)
{
	return m->version != 0 && m->nstreams >= 1 &&
	    m->nstreams <= SL_MAX_STREAMS && m->stream < m->nstreams &&
	    str_ok(m->agent_id, 1, SL_MAX_ID) &&
	    (m->maclen == 0 || m->maclen == WIRE_MAC_LEN);
}

int
wire_hello_encode(struct wbuf *b, const struct wire_hello *m)
{
	struct wr	w;
	size_t		plen;
	int		rc;

	if (!hello_ok(m))
		return SL_EINVAL;
	plen = 2 + 2 + 2 + 4 + m->agent_id.len + 1 + m->maclen;
	rc = frame_begin(b, WIRE_HELLO, plen, &w);
	if (rc != SL_OK)
		return rc;
	wr_u16(&w, m->version);
	wr_u16(&w, m->stream);
	wr_u16(&w, m->nstreams);
	wr_str(&w, m->agent_id);
	wr_u8(&w, m->maclen);
	wr_bytes(&w, m->mac, m->maclen);
	frame_end(b, plen);
	return SL_OK;
}

int
wire_hello_decode(const uint8_t *buf, size_t n, struct wire_hello *m)
{
	struct rd	 r;
	const uint8_t	*mac;

	memset(m, 0, sizeof(*m));
	rd_init(&r, buf, n);
	m->version = rd_u16(&r);
	m->stream = rd_u16(&r);
	m->nstreams = rd_u16(&r);
	m->agent_id = rd_str(&r, 1, SL_MAX_ID);
	m->maclen = rd_u8(&r);
	if (r.err == SL_OK && m->maclen != 0 && m->maclen != WIRE_MAC_LEN)
		return SL_EPROTO;
	mac = rd_bytes(&r, m->maclen);
	if (mac != NULL)
		memcpy(m->mac, mac, m->maclen);
	if (rd_end(&r) != SL_OK)
		return r.err;
	if (m->nstreams > SL_MAX_STREAMS)
		return SL_ETOOBIG;
	if (!hello_ok(m))
		return SL_EPROTO;
	return SL_OK;
}

int
wire_hello_mac_input(struct wbuf *b, const uint8_t nonce[WIRE_NONCE_LEN],
    const struct wire_hello *h)
{
	struct wr	w;
	size_t		n;
	int		rc;

	n = sizeof(hello_tag) - 1 + WIRE_NONCE_LEN + 2 + 2 + 2 + 4 +
	    (size_t)h->agent_id.len;
	rc = wbuf_reserve(b, n);
	if (rc != SL_OK)
		return rc;
	w.p = b->p + b->len;
	wr_bytes(&w, hello_tag, sizeof(hello_tag) - 1);
	wr_bytes(&w, nonce, WIRE_NONCE_LEN);
	wr_u16(&w, h->version);
	wr_u16(&w, h->stream);
	wr_u16(&w, h->nstreams);
	wr_str(&w, h->agent_id);
	b->len += n;
	return SL_OK;
}

/* ---- WELCOME --------------------------------------------------------- */

int
wire_welcome_encode(struct wbuf *b, const struct wire_welcome *m)
{
	struct wr	w;
	size_t		plen;
	int		rc;

	if (m->version == 0 || !str_ok(m->sink_id, 0, SL_MAX_ID))
		return SL_EINVAL;
	plen = 2 + 4 + m->sink_id.len;
	rc = frame_begin(b, WIRE_WELCOME, plen, &w);
	if (rc != SL_OK)
		return rc;
	wr_u16(&w, m->version);
	wr_str(&w, m->sink_id);
	frame_end(b, plen);
	return SL_OK;
}

int
wire_welcome_decode(const uint8_t *buf, size_t n, struct wire_welcome *m)
{
	struct rd	r;

	memset(m, 0, sizeof(*m));
	rd_init(&r, buf, n);
	m->version = rd_u16(&r);
	m->sink_id = rd_str(&r, 0, SL_MAX_ID);
	if (rd_end(&r) == SL_OK && m->version == 0)
		r.err = SL_EPROTO;
	return r.err;
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

	o->nmeta = rd_u32(&r);
	if (r.err == SL_OK && o->nmeta > SL_MAX_META)
		rd_fail(&r, SL_ETOOBIG);
	if (r.err == SL_OK && o->nmeta > r.left / WIRE_META_MIN)
		rd_fail(&r, SL_EPROTO);
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

	o->nfiles = rd_u32(&r);
	if (r.err == SL_OK && o->nfiles > SL_MAX_FILES)
		rd_fail(&r, SL_ETOOBIG);
	if (r.err == SL_OK && o->nfiles > r.left / WIRE_FILE_MIN)
		rd_fail(&r, SL_EPROTO);
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
	a->n = rd_u32(&r);
	if (r.err == SL_OK && a->n > SL_MAX_ACKS)
		rd_fail(&r, SL_ETOOBIG);
	if (r.err == SL_OK && (size_t)a->n * 8 != r.left)
		rd_fail(&r, SL_EPROTO);
	if (r.err != SL_OK) {
		a->n = 0;
		return r.err;
	}
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
	m->nfiles = rd_u32(&r);
	if (r.err == SL_OK && m->nfiles > SL_MAX_FILES)
		rd_fail(&r, SL_ETOOBIG);
	if (r.err == SL_OK && (size_t)m->nfiles * WIRE_DIGEST_LEN != r.left)
		rd_fail(&r, SL_EPROTO);
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

/* ---- ERROR ----------------------------------------------------------- */

int
wire_error_encode(struct wbuf *b, const struct wire_error *m)
{
	struct wr	w;
	size_t		plen;
	int		rc;

	if (!str_ok(m->message, 0, SL_MAX_MSG))
		return SL_EINVAL;
	plen = 8 + 2 + 4 + m->message.len;
	rc = frame_begin(b, WIRE_ERROR, plen, &w);
	if (rc != SL_OK)
		return rc;
	wr_u64(&w, m->dsid);
	wr_u16(&w, m->code);
	wr_str(&w, m->message);
	frame_end(b, plen);
	return SL_OK;
}

int
wire_error_decode(const uint8_t *buf, size_t n, struct wire_error *m)
{
	struct rd	r;

	memset(m, 0, sizeof(*m));
	rd_init(&r, buf, n);
	m->dsid = rd_u64(&r);
	m->code = rd_u16(&r);
	m->message = rd_str(&r, 0, SL_MAX_MSG);
	return rd_end(&r);
}

/* ---- CTL_REQ --------------------------------------------------------- */

void
wire_ctl_req_free(struct wire_ctl_req *q)
{
	free(q->argv);
	q->argv = NULL;
	q->argc = 0;
}

int
wire_ctl_req_encode(struct wbuf *b, const struct wire_ctl_req *q)
{
	struct wr	w;
	size_t		plen;
	uint32_t	i;
	int		rc;

	if (!str_ok(q->command, 1, WIRE_MAX_CMD) ||
	    q->argc > SL_MAX_CTL_ARGS || (q->argc > 0 && q->argv == NULL))
		return SL_EINVAL;
	plen = 4 + q->command.len + 4;
	for (i = 0; i < q->argc; i++) {
		if (!str_ok(q->argv[i], 0, SL_MAX_PATH))
			return SL_EINVAL;
		plen += 4 + q->argv[i].len;
	}
	rc = frame_begin(b, WIRE_CTL_REQ, plen, &w);
	if (rc != SL_OK)
		return rc;
	wr_str(&w, q->command);
	wr_u32(&w, q->argc);
	for (i = 0; i < q->argc; i++)
		wr_str(&w, q->argv[i]);
	frame_end(b, plen);
	return SL_OK;
}

int
wire_ctl_req_decode(const uint8_t *buf, size_t n, struct wire_ctl_req *q)
{
	struct rd	r;
	uint32_t	i;

	memset(q, 0, sizeof(*q));
	rd_init(&r, buf, n);
	q->command = rd_str(&r, 1, WIRE_MAX_CMD);
	q->argc = rd_u32(&r);
	if (r.err == SL_OK && q->argc > SL_MAX_CTL_ARGS)
		rd_fail(&r, SL_ETOOBIG);
	if (r.err == SL_OK && q->argc > r.left / 4)
		rd_fail(&r, SL_EPROTO);
	if (r.err != SL_OK) {
		q->argc = 0;
		return r.err;
	}
	if (q->argc > 0) {
		q->argv = calloc(q->argc, sizeof(*q->argv));
		if (q->argv == NULL) {
			q->argc = 0;
			return SL_ENOMEM;
		}
	}
	for (i = 0; i < q->argc && r.err == SL_OK; i++)
		q->argv[i] = rd_str(&r, 0, SL_MAX_PATH);
	if (rd_end(&r) != SL_OK) {
		wire_ctl_req_free(q);
		q->command.p = NULL;
		q->command.len = 0;
		return r.err;
	}
	return SL_OK;
}

/* ---- CTL_REPLY ------------------------------------------------------- */

int
wire_ctl_reply_encode(struct wbuf *b, const struct wire_ctl_reply *m)
{
	struct wr	w;
	size_t		plen;
	int		rc;

	if (m->status > 0 || !str_ok(m->text, 0, SL_MAX_FRAME))
		return SL_EINVAL;
	plen = 4 + 4 + (size_t)m->text.len;
	rc = frame_begin(b, WIRE_CTL_REPLY, plen, &w);	/* EINVAL past a frame */
	if (rc != SL_OK)
		return rc;
	wr_u32(&w, (uint32_t)m->status);
	wr_str(&w, m->text);
	frame_end(b, plen);
	return SL_OK;
}

int
wire_ctl_reply_decode(const uint8_t *buf, size_t n, struct wire_ctl_reply *m)
{
	struct rd	r;

	memset(m, 0, sizeof(*m));
	rd_init(&r, buf, n);
	m->status = (int32_t)rd_u32(&r);
	m->text = rd_str(&r, 0, SL_MAX_FRAME);
	if (rd_end(&r) == SL_OK && m->status > 0)
		r.err = SL_EPROTO;
	return r.err;
}
