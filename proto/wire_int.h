/*
 * wire_int.h: the cursors the wire codec files share (proto/wire_*.c).
 * Not a contract: wire.h is.  Static inline, so they add no symbols to
 * libsluiceproto.a and each decoder compiles exactly as one file did.
 *
 * Decoding goes through a small reader (struct rd): a pointer, the bytes
 * left and a sticky error.  Each rd_* call returns a zero value once the
 * reader has failed, so a decoder reads its fields straight through and
 * checks the error once at the end (rd_end, which also insists that the
 * payload was consumed exactly).  Every length and count is checked
 * against its limit from sluice.h (SL_ETOOBIG) and against the bytes that
 * remain (SL_EPROTO) before anything is allocated or touched, so a hostile
 * count can never make us allocate more than the payload could describe
 * (rd_str for strings, rd_count and rd_count_rest for arrays).  A payload
 * that ends early is SL_EPROTO, not SL_ETRUNC: the caller hands us a
 * complete frame, so missing bytes mean a malformed frame.
 *
 * Encoding first validates the message with the same rules (str_ok and
 * each frame's own checks: SL_EINVAL for anything the decoder would
 * refuse), computes the exact payload size, reserves header + payload in
 * the wbuf in one go (frame_begin), and only then writes (wr_*).  Nothing
 * after the reservation can fail, so an encoder appends a whole frame or
 * leaves the buffer untouched (frame_end commits it).
 */
#ifndef WIRE_INT_H
#define WIRE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sluice.h"
#include "wire.h"

/* ---- reader ---------------------------------------------------------- */

struct rd {
	const uint8_t	*p;
	size_t		 left;
	int		 err;
};

static inline void
rd_init(struct rd *r, const uint8_t *p, size_t n)
{
	r->p = p;
	r->left = p != NULL ? n : 0;
	r->err = (p == NULL && n != 0) ? SL_EPROTO : SL_OK;
}

/* Record the first error only. */
static inline void
rd_fail(struct rd *r, int err)
{
	if (r->err == SL_OK)
		r->err = err;
}

static inline const uint8_t *
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

static inline uint8_t
rd_u8(struct rd *r)
{
	const uint8_t	*p = rd_bytes(r, 1);

	return p != NULL ? p[0] : 0;
}

static inline uint16_t
rd_u16(struct rd *r)
{
	const uint8_t	*p = rd_bytes(r, 2);

	return p != NULL ? wire_get_u16(p) : 0;
}

static inline uint32_t
rd_u32(struct rd *r)
{
	const uint8_t	*p = rd_bytes(r, 4);

	return p != NULL ? wire_get_u32(p) : 0;
}

static inline uint64_t
rd_u64(struct rd *r)
{
	const uint8_t	*p = rd_bytes(r, 8);

	return p != NULL ? wire_get_u64(p) : 0;
}

/* A string of minlen..maxlen bytes without NUL.  Past maxlen is
 * SL_ETOOBIG; short of minlen, past the payload or a NUL is SL_EPROTO. */
static inline struct wire_str
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

/* A u32 count of entries that take at least minent bytes each, read
 * before the caller allocates them: past max (its named limit) is
 * SL_ETOOBIG; more entries than the bytes left could hold is SL_EPROTO. */
static inline uint32_t
rd_count(struct rd *r, uint32_t max, size_t minent)
{
	uint32_t	n = rd_u32(r);

	if (r->err == SL_OK && n > max)
		rd_fail(r, SL_ETOOBIG);
	if (r->err == SL_OK && n > r->left / minent)
		rd_fail(r, SL_EPROTO);
	return r->err == SL_OK ? n : 0;
}

/* A u32 count of entries of exactly entsize bytes that fill the rest of
 * the payload: past max is SL_ETOOBIG, any other byte count SL_EPROTO. */
static inline uint32_t
rd_count_rest(struct rd *r, uint32_t max, size_t entsize)
{
	uint32_t	n = rd_u32(r);

	if (r->err == SL_OK && n > max)
		rd_fail(r, SL_ETOOBIG);
	if (r->err == SL_OK && (size_t)n * entsize != r->left)
		rd_fail(r, SL_EPROTO);
	return r->err == SL_OK ? n : 0;
}

/* The final verdict: the sticky error, or SL_EPROTO for trailing bytes. */
static inline int
rd_end(struct rd *r)
{
	if (r->err == SL_OK && r->left != 0)
		r->err = SL_EPROTO;
	return r->err;
}

/* ---- writer ---------------------------------------------------------- */

/* Encoder side of rd_str: SL_EINVAL for what the decoder would refuse. */
static inline int
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
static inline int
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

static inline void
frame_end(struct wbuf *b, size_t plen)
{
	b->len += WIRE_HDR_LEN + plen;
}

static inline void
wr_u8(struct wr *w, uint8_t v)
{
	*w->p++ = v;
}

static inline void
wr_u16(struct wr *w, uint16_t v)
{
	wire_put_u16(w->p, v);
	w->p += 2;
}

static inline void
wr_u32(struct wr *w, uint32_t v)
{
	wire_put_u32(w->p, v);
	w->p += 4;
}

static inline void
wr_u64(struct wr *w, uint64_t v)
{
	wire_put_u64(w->p, v);
	w->p += 8;
}

static inline void
wr_bytes(struct wr *w, const void *p, size_t n)
{
	if (n > 0)
		memcpy(w->p, p, n);
	w->p += n;
}

static inline void
wr_str(struct wr *w, struct wire_str s)
{
	wr_u32(w, s.len);
	wr_bytes(w, s.p, s.len);
}
#endif
