/*
 * wire_session.c: the session's own frames (PROTOCOL.md 4.1-4.3, 4.11,
 * 6.1): the sink's CHALLENGE, the agent's HELLO and the bytes its MAC
 * covers, the sink's WELCOME, and ERROR, which either side sends about
 * the session or one dataset.  Small frames of fixed fields and one
 * string; each encoder refuses (SL_EINVAL) what its decoder refuses, and
 * the two sit side by side so they can be read against the spec.
 */
#include <stdint.h>
#include <string.h>

#include "sluice.h"
#include "wire.h"
#include "wire_int.h"

static const char hello_tag[] = "sluice-hello-v1";

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

/* ---- ERROR ----------------------------------------------------------- */

static int
error_body_encode(struct wbuf *b, uint8_t type, const struct wire_error *m)
{
	struct wr	w;
	size_t		plen;
	int		rc;

	if (!str_ok(m->message, 0, SL_MAX_MSG))
		return SL_EINVAL;
	plen = 8 + 2 + 4 + m->message.len;
	rc = frame_begin(b, type, plen, &w);
	if (rc != SL_OK)
		return rc;
	wr_u64(&w, m->dsid);
	wr_u16(&w, m->code);
	wr_str(&w, m->message);
	frame_end(b, plen);
	return SL_OK;
}

int
wire_error_encode(struct wbuf *b, const struct wire_error *m)
{
	return error_body_encode(b, WIRE_ERROR, m);
}

int
wire_result_encode(struct wbuf *b, const struct wire_error *m)
{
	return error_body_encode(b, WIRE_RESULT, m);
}

int
wire_result_decode(const uint8_t *buf, size_t n, struct wire_error *m)
{
	return wire_error_decode(buf, n, m);
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
