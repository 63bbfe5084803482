/*
 * wire_fixtures.c: the codec tests' shared fixtures (wire_fixtures.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "wire_fixtures.h"

/* ---- helpers --------------------------------------------------------- */


void
pb_u8(struct pb *p, uint8_t v)
{
	p->b[p->n++] = v;
}

void
pb_u16(struct pb *p, uint16_t v)
{
	wire_put_u16(p->b + p->n, v);
	p->n += 2;
}

void
pb_u32(struct pb *p, uint32_t v)
{
	wire_put_u32(p->b + p->n, v);
	p->n += 4;
}

void
pb_u64(struct pb *p, uint64_t v)
{
	wire_put_u64(p->b + p->n, v);
	p->n += 8;
}

void
pb_mem(struct pb *p, const void *s, size_t n)
{
	memcpy(p->b + p->n, s, n);
	p->n += n;
}

void
pb_str(struct pb *p, const char *s, size_t n)
{
	pb_u32(p, (uint32_t)n);
	pb_mem(p, s, n);
}

/* Check the header of the single frame in b and return its payload. */
const uint8_t *
frame_payload(const struct wbuf *b, uint8_t type, size_t *len)
{
	struct wire_hdr	h;

	assert_true(b->len >= WIRE_HDR_LEN);
	assert_int_equal(b->p[0], 'S');
	assert_int_equal(b->p[1], 'L');
	assert_int_equal(wire_hdr_decode(b->p, b->len, &h, SL_MAX_FRAME), SL_OK);
	assert_int_equal(h.type, type);
	assert_int_equal(h.flags, 0);
	assert_int_equal((size_t)h.len, b->len - WIRE_HDR_LEN);
	*len = h.len;
	return b->p + WIRE_HDR_LEN;
}

int
streq(struct wire_str s, const char *c)
{
	return s.len == strlen(c) && memcmp(s.p, c, s.len) == 0;
}

/* ---- valid messages, shared by round trip and mutation tests --------- */

uint8_t	bitmap10[2] = { 0xff, 0x02 };
uint8_t	digests3[3 * WIRE_DIGEST_LEN];
uint8_t	chunkbytes[100];
struct wire_meta meta2[2];
struct wire_file files3[3];
struct wire_ack_ent acks3[3] = { { 0, 0 }, { 0, 1 }, { 2, 7 } };
struct wire_str ctlargs3[3];

void
fill_statics(void)
{
	size_t	i;

	for (i = 0; i < sizeof(digests3); i++)
		digests3[i] = (uint8_t)(i * 7);
	for (i = 0; i < sizeof(chunkbytes); i++)
		chunkbytes[i] = (uint8_t)(i ^ 0x5a);
	meta2[0].key = wire_str_c("project");
	meta2[0].val = wire_str_c("beamline-7");
	meta2[1].key = wire_str_c("empty");
	meta2[1].val = wire_str_c("");
	files3[0].path = wire_str_c("raw/run1.h5");
	files3[0].size = 3 * SL_MIN_CHUNK + 5;
	files3[0].mode = 0644;
	files3[1].path = wire_str_c("empty");
	files3[1].size = 0;
	files3[1].mode = 0600;
	files3[2].path = wire_str_c("donn\303\251es/\xe6\x97\xa5\xe6\x9c\xac.h5");
	files3[2].size = 12345;
	files3[2].mode = 0755;
	ctlargs3[0] = wire_str_c("/data/run1");
	ctlargs3[1] = wire_str_c("run1");
	ctlargs3[2] = wire_str_c("");
}

void
mk_challenge(struct wire_challenge *m)
{
	memset(m, 0, sizeof(*m));
	m->min_version = 1;
	m->max_version = 3;
	memset(m->nonce, 0xab, sizeof(m->nonce));
	m->nonce[0] = 1;
	m->sink_id = wire_str_c("sink-a");
}

void
mk_hello(struct wire_hello *m)
{
	memset(m, 0, sizeof(*m));
	m->version = 1;
	m->stream = 2;
	m->nstreams = 4;
	m->agent_id = wire_str_c("agent-7");
	m->maclen = WIRE_MAC_LEN;
	memset(m->mac, 0xcd, sizeof(m->mac));
	m->mac[31] = 9;
}

void
mk_open(struct wire_open *o)
{
	memset(o, 0, sizeof(*o));
	o->dsid = 0x0102030405060708ull;
	o->name = wire_str_c("run-1");
	o->chunk_size = SL_MIN_CHUNK;
	o->nmeta = 2;
	o->meta = meta2;
	o->nfiles = 3;
	o->files = files3;
	o->total_bytes = files3[0].size + files3[1].size + files3[2].size;
}

/* Encoders for the generic tests: each appends one valid frame. */
int
enc_challenge(struct wbuf *b)
{
	struct wire_challenge m;

	mk_challenge(&m);
	return wire_challenge_encode(b, &m);
}

int
enc_hello(struct wbuf *b)
{
	struct wire_hello m;

	mk_hello(&m);
	return wire_hello_encode(b, &m);
}

int
enc_hello_nomac(struct wbuf *b)
{
	struct wire_hello m;

	mk_hello(&m);
	m.maclen = 0;
	return wire_hello_encode(b, &m);
}

int
enc_welcome(struct wbuf *b)
{
	struct wire_welcome m = { 1, { "sink-a", 6 } };

	return wire_welcome_encode(b, &m);
}

int
enc_open(struct wbuf *b)
{
	struct wire_open o;

	mk_open(&o);
	return wire_open_encode(b, &o);
}

int
enc_have(struct wbuf *b)
{
	struct wire_have m = { 42, WIRE_HAVE_RECEIVING, 10, bitmap10 };

	return wire_have_encode(b, &m);
}

int
enc_data(struct wbuf *b)
{
	struct wire_data d = { 42, 2, 3, 0x1122334455667788ull,
	    sizeof(chunkbytes), chunkbytes };

	return wire_data_encode(b, &d);
}

int
enc_ack(struct wbuf *b)
{
	struct wire_ack a = { 42, 3, acks3 };

	return wire_ack_encode(b, &a);
}

int
enc_nack(struct wbuf *b)
{
	struct wire_nack m = { 42, 1, 9, (uint16_t)-SL_ECORRUPT,
	    { "xxh3 mismatch", 13 } };

	return wire_nack_encode(b, &m);
}

int
enc_commit(struct wbuf *b)
{
	struct wire_commit m = { 42, 3, digests3 };

	return wire_commit_encode(b, &m);
}

int
enc_committed(struct wbuf *b)
{
	struct wire_committed m = { 42, { "run-1", 5 } };

	return wire_committed_encode(b, &m);
}

int
enc_error(struct wbuf *b)
{
	struct wire_error m = { 0, (uint16_t)-SL_EAUTH, { "bad mac", 7 } };

	return wire_error_encode(b, &m);
}

int
enc_ctl_req(struct wbuf *b)
{
	struct wire_ctl_req q = { { "submit", 6 }, 3, ctlargs3 };

	return wire_ctl_req_encode(b, &q);
}

int
enc_ctl_reply(struct wbuf *b)
{
	struct wire_ctl_reply m = { SL_ENOTFOUND, { "no such dataset", 15 } };

	return wire_ctl_reply_encode(b, &m);
}

/* Decoders for the generic tests: decode, free, return the code. */
#define DEC_PLAIN(name)							\
int								\
dec_##name(const uint8_t *p, size_t n)					\
{									\
	struct wire_##name m;						\
									\
	return wire_##name##_decode(p, n, &m);				\
}
DEC_PLAIN(challenge)
DEC_PLAIN(hello)
DEC_PLAIN(welcome)
DEC_PLAIN(have)
DEC_PLAIN(data)
DEC_PLAIN(nack)
DEC_PLAIN(commit)
DEC_PLAIN(committed)
DEC_PLAIN(error)
DEC_PLAIN(ctl_reply)

int
dec_open(const uint8_t *p, size_t n)
{
	struct wire_open m;
	int		 rc;

	rc = wire_open_decode(p, n, &m);
	if (rc != SL_OK) {
		assert_null(m.files);
		assert_null(m.meta);
	}
	wire_open_free(&m);
	return rc;
}

int
dec_ack(const uint8_t *p, size_t n)
{
	struct wire_ack	m;
	int		rc;

	rc = wire_ack_decode(p, n, &m);
	if (rc != SL_OK)
		assert_null(m.ents);
	wire_ack_free(&m);
	return rc;
}

int
dec_ctl_req(const uint8_t *p, size_t n)
{
	struct wire_ctl_req m;
	int		 rc;

	rc = wire_ctl_req_decode(p, n, &m);
	if (rc != SL_OK)
		assert_null(m.argv);
	wire_ctl_req_free(&m);
	return rc;
}

const struct msgcase cases[] = {
	{ "challenge", WIRE_CHALLENGE, enc_challenge, dec_challenge },
	{ "hello", WIRE_HELLO, enc_hello, dec_hello },
	{ "hello-nomac", WIRE_HELLO, enc_hello_nomac, dec_hello },
	{ "welcome", WIRE_WELCOME, enc_welcome, dec_welcome },
	{ "open", WIRE_OPEN, enc_open, dec_open },
	{ "have", WIRE_HAVE, enc_have, dec_have },
	{ "data", WIRE_DATA, enc_data, dec_data },
	{ "ack", WIRE_ACK, enc_ack, dec_ack },
	{ "nack", WIRE_NACK, enc_nack, dec_nack },
	{ "commit", WIRE_COMMIT, enc_commit, dec_commit },
	{ "committed", WIRE_COMMITTED, enc_committed, dec_committed },
	{ "error", WIRE_ERROR, enc_error, dec_error },
	{ "ctl_req", WIRE_CTL_REQ, enc_ctl_req, dec_ctl_req },
	{ "ctl_reply", WIRE_CTL_REPLY, enc_ctl_reply, dec_ctl_reply },
};
const size_t ncases = sizeof(cases) / sizeof(cases[0]);

