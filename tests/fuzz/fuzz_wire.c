/*
 * fuzz_wire.c: libFuzzer target for the wire codec (proto/wire.c).
 *
 * The first input byte picks a decoder (byte % 13: the eleven session
 * frames, CTL_REQ, CTL_REPLY); the rest is the payload.  Whatever a
 * decoder accepts must re-encode (the encoder checks what the decoder
 * checks), the new frame must carry a valid header with the right type
 * and length, its payload must be byte-for-byte the input (the encoding
 * is canonical) and must decode again to the same message.  The whole
 * input also goes through wire_hdr_decode.  Any violation aborts, which
 * libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_wire: %s:%d: %s\n", \
	__FILE__, __LINE__, #c); abort(); } } while (0)

static int
str_eq(struct wire_str a, struct wire_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* The re-encoded frame in b: header valid, type right, payload equal to
 * the original.  Returns the payload pointer. */
static const uint8_t *
check_frame(const struct wbuf *b, uint8_t type, const uint8_t *p, size_t n)
{
	struct wire_hdr	h;

	CHECK(b->len == WIRE_HDR_LEN + n);
	CHECK(wire_hdr_decode(b->p, b->len, &h, SL_MAX_FRAME) == SL_OK);
	CHECK(h.type == type && h.flags == 0 && h.len == n);
	CHECK(n == 0 || memcmp(b->p + WIRE_HDR_LEN, p, n) == 0);
	return b->p + WIRE_HDR_LEN;
}

static void
fz_challenge(const uint8_t *p, size_t n, struct wbuf *b)
{
	struct wire_challenge	m, m2;
	const uint8_t		*q;

	if (wire_challenge_decode(p, n, &m) != SL_OK)
		return;
	CHECK(wire_challenge_encode(b, &m) == SL_OK);
	q = check_frame(b, WIRE_CHALLENGE, p, n);
	CHECK(wire_challenge_decode(q, n, &m2) == SL_OK);
	CHECK(m.min_version == m2.min_version && m.max_version == m2.max_version &&
	    memcmp(m.nonce, m2.nonce, WIRE_NONCE_LEN) == 0 &&
	    str_eq(m.sink_id, m2.sink_id));
}

static void
fz_hello(const uint8_t *p, size_t n, struct wbuf *b)
{
	struct wire_hello	m, m2;
	const uint8_t		*q;

	if (wire_hello_decode(p, n, &m) != SL_OK)
		return;
	CHECK(m.maclen == 0 || m.maclen == WIRE_MAC_LEN);
	CHECK(m.stream < m.nstreams && m.nstreams <= SL_MAX_STREAMS);
	CHECK(wire_hello_encode(b, &m) == SL_OK);
	q = check_frame(b, WIRE_HELLO, p, n);
	CHECK(wire_hello_decode(q, n, &m2) == SL_OK);
	CHECK(m.version == m2.version && m.stream == m2.stream &&
	    m.nstreams == m2.nstreams && str_eq(m.agent_id, m2.agent_id) &&
	    m.maclen == m2.maclen && memcmp(m.mac, m2.mac, m.maclen) == 0);
	wbuf_reset(b);
	CHECK(wire_hello_mac_input(b, m.mac, &m) == SL_OK);
}

static void
fz_welcome(const uint8_t *p, size_t n, struct wbuf *b)
{
	struct wire_welcome	m, m2;
	const uint8_t		*q;

	if (wire_welcome_decode(p, n, &m) != SL_OK)
		return;
	CHECK(wire_welcome_encode(b, &m) == SL_OK);
	q = check_frame(b, WIRE_WELCOME, p, n);
	CHECK(wire_welcome_decode(q, n, &m2) == SL_OK);
	CHECK(m.version == m2.version && str_eq(m.sink_id, m2.sink_id));
}

static void
fz_open(const uint8_t *p, size_t n, struct wbuf *b)
{
	struct wire_open	m, m2;
	const uint8_t		*q;
	uint64_t		 sum = 0;
	uint32_t		 i;

	if (wire_open_decode(p, n, &m) != SL_OK) {
		CHECK(m.meta == NULL && m.files == NULL);
		return;
	}
	for (i = 0; i < m.nfiles; i++) {
		CHECK(m.files[i].path.len > 0 && m.files[i].path.p[0] != '/');
		CHECK((m.files[i].mode & ~07777u) == 0);
		sum += m.files[i].size;
	}
	CHECK(sum == m.total_bytes);
	CHECK(wire_open_encode(b, &m) == SL_OK);
	q = check_frame(b, WIRE_OPEN, p, n);
	CHECK(wire_open_decode(q, n, &m2) == SL_OK);
	CHECK(m.dsid == m2.dsid && str_eq(m.name, m2.name) &&
	    m.chunk_size == m2.chunk_size && m.total_bytes == m2.total_bytes &&
	    m.nmeta == m2.nmeta && m.nfiles == m2.nfiles);
	for (i = 0; i < m.nmeta; i++)
		CHECK(str_eq(m.meta[i].key, m2.meta[i].key) &&
		    str_eq(m.meta[i].val, m2.meta[i].val));
	for (i = 0; i < m.nfiles; i++)
		CHECK(str_eq(m.files[i].path, m2.files[i].path) &&
		    m.files[i].size == m2.files[i].size &&
		    m.files[i].mode == m2.files[i].mode);
	wire_open_free(&m);
	wire_open_free(&m2);
	wire_open_free(&m2);		/* idempotent */
}

static void
fz_have(const uint8_t *p, size_t n, struct wbuf *b)
{
	struct wire_have	m, m2;
	const uint8_t		*q;

	if (wire_have_decode(p, n, &m) != SL_OK)
		return;
	CHECK(wire_have_encode(b, &m) == SL_OK);
	q = check_frame(b, WIRE_HAVE, p, n);
	CHECK(wire_have_decode(q, n, &m2) == SL_OK);
	CHECK(m.dsid == m2.dsid && m.status == m2.status &&
	    m.nchunks == m2.nchunks);
}

static void
fz_data(const uint8_t *p, size_t n, struct wbuf *b)
{
	struct wire_data	m, m2;
	const uint8_t		*q;
	uint8_t			 pre[WIRE_DATA_PREFIX];

	if (wire_data_decode(p, n, &m) != SL_OK)
		return;
	CHECK(wire_data_encode(b, &m) == SL_OK);
	q = check_frame(b, WIRE_DATA, p, n);
	wire_data_prefix(pre, &m);
	CHECK(memcmp(pre, b->p, WIRE_DATA_PREFIX) == 0);
	CHECK(wire_data_decode(q, n, &m2) == SL_OK);
	CHECK(m.dsid == m2.dsid && m.file == m2.file && m.chunk == m2.chunk &&
	    m.xxh3 == m2.xxh3 && m.len == m2.len);
}

static void
fz_ack(const uint8_t *p, size_t n, struct wbuf *b)
{
	struct wire_ack	m, m2;
	const uint8_t	*q;

	if (wire_ack_decode(p, n, &m) != SL_OK) {
		CHECK(m.ents == NULL);
		return;
	}
	CHECK(wire_ack_encode(b, &m) == SL_OK);
	q = check_frame(b, WIRE_ACK, p, n);
	CHECK(wire_ack_decode(q, n, &m2) == SL_OK);
	CHECK(m.dsid == m2.dsid && m.n == m2.n &&
	    (m.n == 0 || memcmp(m.ents, m2.ents, m.n * sizeof(*m.ents)) == 0));
	wire_ack_free(&m);
	wire_ack_free(&m2);
}

static void
fz_nack(const uint8_t *p, size_t n, struct wbuf *b)
{
	struct wire_nack	m, m2;
	const uint8_t		*q;

	if (wire_nack_decode(p, n, &m) != SL_OK)
		return;
	CHECK(wire_nack_encode(b, &m) == SL_OK);
	q = check_frame(b, WIRE_NACK, p, n);
	CHECK(wire_nack_decode(q, n, &m2) == SL_OK);
	CHECK(m.dsid == m2.dsid && m.file == m2.file && m.chunk == m2.chunk &&
	    m.code == m2.code && str_eq(m.reason, m2.reason));
}

static void
fz_commit(const uint8_t *p, size_t n, struct wbuf *b)
{
	struct wire_commit	m, m2;
	const uint8_t		*q;

	if (wire_commit_decode(p, n, &m) != SL_OK)
		return;
	CHECK(wire_commit_encode(b, &m) == SL_OK);
	q = check_frame(b, WIRE_COMMIT, p, n);
	CHECK(wire_commit_decode(q, n, &m2) == SL_OK);
	CHECK(m.dsid == m2.dsid && m.nfiles == m2.nfiles);
}

static void
fz_committed(const uint8_t *p, size_t n, struct wbuf *b)
{
	struct wire_committed	m, m2;
	const uint8_t		*q;

	if (wire_committed_decode(p, n, &m) != SL_OK)
		return;
	CHECK(wire_committed_encode(b, &m) == SL_OK);
	q = check_frame(b, WIRE_COMMITTED, p, n);
	CHECK(wire_committed_decode(q, n, &m2) == SL_OK);
	CHECK(m.dsid == m2.dsid && str_eq(m.path, m2.path));
}

static void
fz_error(const uint8_t *p, size_t n, struct wbuf *b)
{
	struct wire_error	m, m2;
	const uint8_t		*q;

	if (wire_error_decode(p, n, &m) != SL_OK)
		return;
	CHECK(wire_error_encode(b, &m) == SL_OK);
	q = check_frame(b, WIRE_ERROR, p, n);
	CHECK(wire_error_decode(q, n, &m2) == SL_OK);
	CHECK(m.dsid == m2.dsid && m.code == m2.code &&
	    str_eq(m.message, m2.message));
}

static void
fz_ctl_req(const uint8_t *p, size_t n, struct wbuf *b)
{
	struct wire_ctl_req	m, m2;
	const uint8_t		*q;
	uint32_t		 i;

	if (wire_ctl_req_decode(p, n, &m) != SL_OK) {
		CHECK(m.argv == NULL && m.argc == 0);
		return;
	}
	CHECK(wire_ctl_req_encode(b, &m) == SL_OK);
	q = check_frame(b, WIRE_CTL_REQ, p, n);
	CHECK(wire_ctl_req_decode(q, n, &m2) == SL_OK);
	CHECK(str_eq(m.command, m2.command) && m.argc == m2.argc);
	for (i = 0; i < m.argc; i++)
		CHECK(str_eq(m.argv[i], m2.argv[i]));
	wire_ctl_req_free(&m);
	wire_ctl_req_free(&m2);
}

static void
fz_ctl_reply(const uint8_t *p, size_t n, struct wbuf *b)
{
	struct wire_ctl_reply	m, m2;
	const uint8_t		*q;

	if (wire_ctl_reply_decode(p, n, &m) != SL_OK)
		return;
	CHECK(wire_ctl_reply_encode(b, &m) == SL_OK);
	q = check_frame(b, WIRE_CTL_REPLY, p, n);
	CHECK(wire_ctl_reply_decode(q, n, &m2) == SL_OK);
	CHECK(m.status == m2.status && str_eq(m.text, m2.text));
}

typedef void (*fz_fn)(const uint8_t *, size_t, struct wbuf *);

static const fz_fn fns[] = {
	fz_challenge, fz_hello, fz_welcome, fz_open, fz_have, fz_data, fz_ack,
	fz_nack, fz_commit, fz_committed, fz_error, fz_ctl_req, fz_ctl_reply,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_hdr	 h;
	struct wbuf	 b;
	uint8_t		*copy;
	size_t		 n;
	int		 rc;

	rc = wire_hdr_decode(data, size, &h, SL_MAX_FRAME);
	CHECK(rc == SL_OK || rc == SL_ETRUNC || rc == SL_EPROTO || rc == SL_ETOOBIG);
	if (rc == SL_OK)
		CHECK(h.flags == 0 && h.len <= SL_MAX_FRAME);
	if (size == 0)
		return 0;
	/* An exact-size heap copy, so ASan sees any read past the payload. */
	n = size - 1;
	copy = malloc(n ? n : 1);
	CHECK(copy != NULL);
	memcpy(copy, data + 1, n);
	wbuf_init(&b, 0);
	fns[data[0] % (sizeof(fns) / sizeof(fns[0]))](n ? copy : NULL, n, &b);
	wbuf_free(&b);
	free(copy);
	return 0;
}
