/*
 * wire.c: the framing under every sluice frame (wire.h, PROTOCOL.md
 * section 2): little-endian integers, the 8-byte frame header, counted
 * strings, frame type names and the growable output buffer.  The frame
 * codecs sit on top, one file per conversation: wire_session.c (the
 * handshake and ERROR), wire_dataset.c (OPEN .. COMMITTED, one dataset's
 * transfer) and wire_ctl.c (the control socket); the cursors they share
 * are in wire_int.h.
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

/* ---- names and strings ---------------------------------------------- */

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
	case WIRE_RESULT:	return "RESULT";
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
