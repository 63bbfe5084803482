// links:
/*
 * test_wire.c: the wire codec.  Round trip of every message, then every
 * way a hostile peer could bend a frame: each strict prefix of a valid
 * payload, trailing bytes, bad header fields, limits, NUL in strings,
 * inconsistent counts and unsafe paths.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sluice.h"
#include "wire.h"

/* ---- helpers --------------------------------------------------------- */

/* A hand-built payload, for frames an honest encoder would refuse. */
struct pb {
	uint8_t	b[8192];
	size_t	n;
};

static void
pb_u8(struct pb *p, uint8_t v)
{
	p->b[p->n++] = v;
}

static void
pb_u16(struct pb *p, uint16_t v)
{
	wire_put_u16(p->b + p->n, v);
	p->n += 2;
}

static void
pb_u32(struct pb *p, uint32_t v)
{
	wire_put_u32(p->b + p->n, v);
	p->n += 4;
}

static void
pb_u64(struct pb *p, uint64_t v)
{
	wire_put_u64(p->b + p->n, v);
	p->n += 8;
}

static void
pb_mem(struct pb *p, const void *s, size_t n)
{
	memcpy(p->b + p->n, s, n);
	p->n += n;
}

static void
pb_str(struct pb *p, const char *s, size_t n)
{
	pb_u32(p, (uint32_t)n);
	pb_mem(p, s, n);
}

/* Check the header of the single frame in b and return its payload. */
static const uint8_t *
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

static int
streq(struct wire_str s, const char *c)
{
	return s.len == strlen(c) && memcmp(s.p, c, s.len) == 0;
}

/* ---- valid messages, shared by round trip and mutation tests --------- */

static uint8_t	bitmap10[2] = { 0xff, 0x02 };
static uint8_t	digests3[3 * WIRE_DIGEST_LEN];
static uint8_t	chunkbytes[100];
static struct wire_meta meta2[2];
static struct wire_file files3[3];
static struct wire_ack_ent acks3[3] = { { 0, 0 }, { 0, 1 }, { 2, 7 } };
static struct wire_str ctlargs3[3];

static void
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

static void
mk_challenge(struct wire_challenge *m)
{
	memset(m, 0, sizeof(*m));
	m->min_version = 1;
	m->max_version = 3;
	memset(m->nonce, 0xab, sizeof(m->nonce));
	m->nonce[0] = 1;
	m->sink_id = wire_str_c("sink-a");
}

static void
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

static void
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
static int
enc_challenge(struct wbuf *b)
{
	struct wire_challenge m;

	mk_challenge(&m);
	return wire_challenge_encode(b, &m);
}

static int
enc_hello(struct wbuf *b)
{
	struct wire_hello m;

	mk_hello(&m);
	return wire_hello_encode(b, &m);
}

static int
enc_hello_nomac(struct wbuf *b)
{
	struct wire_hello m;

	mk_hello(&m);
	m.maclen = 0;
	return wire_hello_encode(b, &m);
}

static int
enc_welcome(struct wbuf *b)
{
	struct wire_welcome m = { 1, { "sink-a", 6 } };

	return wire_welcome_encode(b, &m);
}

static int
enc_open(struct wbuf *b)
{
	struct wire_open o;

	mk_open(&o);
	return wire_open_encode(b, &o);
}

static int
enc_have(struct wbuf *b)
{
	struct wire_have m = { 42, WIRE_HAVE_RECEIVING, 10, bitmap10 };

	return wire_have_encode(b, &m);
}

static int
enc_data(struct wbuf *b)
{
	struct wire_data d = { 42, 2, 3, 0x1122334455667788ull,
	    sizeof(chunkbytes), chunkbytes };

	return wire_data_encode(b, &d);
}

static int
enc_ack(struct wbuf *b)
{
	struct wire_ack a = { 42, 3, acks3 };

	return wire_ack_encode(b, &a);
}

static int
enc_nack(struct wbuf *b)
{
	struct wire_nack m = { 42, 1, 9, (uint16_t)-SL_ECORRUPT,
	    { "xxh3 mismatch", 13 } };

	return wire_nack_encode(b, &m);
}

static int
enc_commit(struct wbuf *b)
{
	struct wire_commit m = { 42, 3, digests3 };

	return wire_commit_encode(b, &m);
}

static int
enc_committed(struct wbuf *b)
{
	struct wire_committed m = { 42, { "run-1", 5 } };

	return wire_committed_encode(b, &m);
}

static int
enc_error(struct wbuf *b)
{
	struct wire_error m = { 0, (uint16_t)-SL_EAUTH, { "bad mac", 7 } };

	return wire_error_encode(b, &m);
}

static int
enc_ctl_req(struct wbuf *b)
{
	struct wire_ctl_req q = { { "submit", 6 }, 3, ctlargs3 };

	return wire_ctl_req_encode(b, &q);
}

static int
enc_ctl_reply(struct wbuf *b)
{
	struct wire_ctl_reply m = { SL_ENOTFOUND, { "no such dataset", 15 } };

	return wire_ctl_reply_encode(b, &m);
}

/* Decoders for the generic tests: decode, free, return the code. */
#define DEC_PLAIN(name)							\
static int								\
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

static int
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

static int
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

static int
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

static const struct msgcase {
	const char	*name;
	uint8_t		 type;
	int		(*enc)(struct wbuf *);
	int		(*dec)(const uint8_t *, size_t);
} cases[] = {
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
#define NCASES	(sizeof(cases) / sizeof(cases[0]))

/* ---- generic tests --------------------------------------------------- */

static void
test_every_prefix_rejected(void **state)
{
	struct wbuf	 b;
	const uint8_t	*pl;
	uint8_t		*copy;
	size_t		 i, k, len;

	(void)state;
	for (i = 0; i < NCASES; i++) {
		wbuf_init(&b, 0);
		assert_int_equal(cases[i].enc(&b), SL_OK);
		pl = frame_payload(&b, cases[i].type, &len);
		assert_int_equal(cases[i].dec(pl, len), SL_OK);
		for (k = 0; k < len; k++) {
			/* a fresh heap copy of exactly k bytes, so ASan sees
			 * any read past the prefix */
			copy = malloc(k ? k : 1);
			assert_non_null(copy);
			memcpy(copy, pl, k);
			if (cases[i].dec(copy, k) == SL_OK)
				fail_msg("%s: prefix %zu/%zu accepted",
				    cases[i].name, k, len);
			free(copy);
		}
		wbuf_free(&b);
	}
}

static void
test_trailing_rejected(void **state)
{
	struct wbuf	 b;
	const uint8_t	*pl;
	uint8_t		*copy;
	size_t		 i, len;

	(void)state;
	for (i = 0; i < NCASES; i++) {
		wbuf_init(&b, 0);
		assert_int_equal(cases[i].enc(&b), SL_OK);
		pl = frame_payload(&b, cases[i].type, &len);
		copy = malloc(len + 1);
		assert_non_null(copy);
		memcpy(copy, pl, len);
		copy[len] = 0;
		if (cases[i].dec(copy, len + 1) != SL_EPROTO)
			fail_msg("%s: trailing byte not SL_EPROTO",
			    cases[i].name);
		free(copy);
		wbuf_free(&b);
	}
}

static void
test_frames_append(void **state)
{
	struct wbuf	b;
	struct wire_hdr	h;
	size_t		i, off = 0;

	(void)state;
	wbuf_init(&b, 0);
	for (i = 0; i < NCASES; i++)
		assert_int_equal(cases[i].enc(&b), SL_OK);
	for (i = 0; i < NCASES; i++) {
		assert_int_equal(wire_hdr_decode(b.p + off, b.len - off, &h,
		    SL_MAX_FRAME), SL_OK);
		assert_int_equal(h.type, cases[i].type);
		assert_int_equal(cases[i].dec(b.p + off + WIRE_HDR_LEN, h.len),
		    SL_OK);
		off += WIRE_HDR_LEN + h.len;
	}
	assert_int_equal(off, b.len);
	wbuf_free(&b);
}

static void
test_cap_whole_or_nothing(void **state)
{
	struct wbuf	b, probe;
	size_t		i, flen;

	(void)state;
	for (i = 0; i < NCASES; i++) {
		wbuf_init(&probe, 0);
		assert_int_equal(cases[i].enc(&probe), SL_OK);
		flen = probe.len;
		wbuf_free(&probe);

		/* room for one frame but not two */
		wbuf_init(&b, flen + flen / 2);
		assert_int_equal(cases[i].enc(&b), SL_OK);
		assert_int_equal(b.len, flen);
		assert_int_equal(cases[i].enc(&b), SL_ETOOBIG);
		assert_int_equal(b.len, flen);
		wbuf_consume(&b, flen);
		assert_int_equal(b.len, 0);
		assert_int_equal(cases[i].enc(&b), SL_OK);
		wbuf_free(&b);
	}
}

/* ---- round trips ----------------------------------------------------- */

static void
test_rt_challenge(void **state)
{
	struct wbuf		 b;
	struct wire_challenge	 in, out;
	const uint8_t		*pl;
	size_t			 len;

	(void)state;
	mk_challenge(&in);
	wbuf_init(&b, 0);
	assert_int_equal(wire_challenge_encode(&b, &in), SL_OK);
	pl = frame_payload(&b, WIRE_CHALLENGE, &len);
	assert_int_equal(wire_challenge_decode(pl, len, &out), SL_OK);
	assert_int_equal(out.min_version, 1);
	assert_int_equal(out.max_version, 3);
	assert_memory_equal(out.nonce, in.nonce, WIRE_NONCE_LEN);
	assert_true(streq(out.sink_id, "sink-a"));
	wbuf_free(&b);
}

static void
test_rt_hello(void **state)
{
	struct wbuf	 b;
	struct wire_hello in, out;
	const uint8_t	*pl;
	size_t		 len;

	(void)state;
	mk_hello(&in);
	wbuf_init(&b, 0);
	assert_int_equal(wire_hello_encode(&b, &in), SL_OK);
	pl = frame_payload(&b, WIRE_HELLO, &len);
	assert_int_equal(len, 2 + 2 + 2 + 4 + 7 + 1 + 32);
	assert_int_equal(wire_hello_decode(pl, len, &out), SL_OK);
	assert_int_equal(out.version, 1);
	assert_int_equal(out.stream, 2);
	assert_int_equal(out.nstreams, 4);
	assert_true(streq(out.agent_id, "agent-7"));
	assert_int_equal(out.maclen, 32);
	assert_memory_equal(out.mac, in.mac, 32);
	wbuf_free(&b);
}

static void
test_hello_mac_input(void **state)
{
	struct wbuf	 b;
	struct wire_hello h;
	uint8_t		 nonce[WIRE_NONCE_LEN];
	const uint8_t	*p;

	(void)state;
	mk_hello(&h);
	memset(nonce, 0x77, sizeof(nonce));
	wbuf_init(&b, 0);
	assert_int_equal(wire_hello_mac_input(&b, nonce, &h), SL_OK);
	assert_int_equal(b.len, 15 + 32 + 6 + 4 + 7);
	p = b.p;
	assert_memory_equal(p, "sluice-hello-v1", 15);
	assert_memory_equal(p + 15, nonce, 32);
	assert_int_equal(wire_get_u16(p + 47), 1);
	assert_int_equal(wire_get_u16(p + 49), 2);
	assert_int_equal(wire_get_u16(p + 51), 4);
	assert_int_equal(wire_get_u32(p + 53), 7);
	assert_memory_equal(p + 57, "agent-7", 7);
	/* the MAC itself is not covered */
	h.mac[0] ^= 1;
	wbuf_reset(&b);
	assert_int_equal(wire_hello_mac_input(&b, nonce, &h), SL_OK);
	assert_int_equal(b.len, 15 + 32 + 6 + 4 + 7);
	wbuf_free(&b);
}

static void
test_rt_welcome(void **state)
{
	struct wbuf	 b;
	struct wire_welcome out;
	const uint8_t	*pl;
	size_t		 len;

	(void)state;
	wbuf_init(&b, 0);
	assert_int_equal(enc_welcome(&b), SL_OK);
	pl = frame_payload(&b, WIRE_WELCOME, &len);
	assert_int_equal(wire_welcome_decode(pl, len, &out), SL_OK);
	assert_int_equal(out.version, 1);
	assert_true(streq(out.sink_id, "sink-a"));
	wbuf_free(&b);
}

static void
test_rt_open(void **state)
{
	struct wbuf	 b;
	struct wire_open in, out;
	const uint8_t	*pl;
	size_t		 len;
	uint32_t	 i;

	(void)state;
	mk_open(&in);
	wbuf_init(&b, 0);
	assert_int_equal(wire_open_encode(&b, &in), SL_OK);
	pl = frame_payload(&b, WIRE_OPEN, &len);
	assert_int_equal(wire_open_decode(pl, len, &out), SL_OK);
	assert_int_equal(out.dsid, in.dsid);
	assert_true(streq(out.name, "run-1"));
	assert_int_equal(out.chunk_size, SL_MIN_CHUNK);
	assert_int_equal(out.total_bytes, in.total_bytes);
	assert_int_equal(out.nmeta, 2);
	for (i = 0; i < 2; i++) {
		assert_int_equal(out.meta[i].key.len, meta2[i].key.len);
		assert_memory_equal(out.meta[i].key.p, meta2[i].key.p,
		    meta2[i].key.len);
		assert_int_equal(out.meta[i].val.len, meta2[i].val.len);
		if (meta2[i].val.len)
			assert_memory_equal(out.meta[i].val.p, meta2[i].val.p,
			    meta2[i].val.len);
	}
	assert_int_equal(out.nfiles, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(out.files[i].path.len, files3[i].path.len);
		assert_memory_equal(out.files[i].path.p, files3[i].path.p,
		    files3[i].path.len);
		assert_int_equal(out.files[i].size, files3[i].size);
		assert_int_equal(out.files[i].mode, files3[i].mode);
	}
	/* zero copy: strings point into the payload */
	assert_true((const uint8_t *)out.name.p >= pl &&
	    (const uint8_t *)out.name.p < pl + len);
	wire_open_free(&out);
	wire_open_free(&out);		/* idempotent */
	assert_null(out.files);
	wbuf_free(&b);
}

static void
test_rt_open_empty(void **state)
{
	struct wbuf	 b;
	struct wire_open in, out;
	const uint8_t	*pl;
	size_t		 len;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.dsid = 1;
	in.name = wire_str_c("nothing");
	in.chunk_size = SL_MAX_CHUNK;
	wbuf_init(&b, 0);
	assert_int_equal(wire_open_encode(&b, &in), SL_OK);
	pl = frame_payload(&b, WIRE_OPEN, &len);
	assert_int_equal(wire_open_decode(pl, len, &out), SL_OK);
	assert_int_equal(out.nfiles, 0);
	assert_int_equal(out.nmeta, 0);
	assert_null(out.files);
	assert_null(out.meta);
	wire_open_free(&out);
	wbuf_free(&b);
}

static void
test_rt_have(void **state)
{
	struct wbuf	 b;
	struct wire_have in = { 7, WIRE_HAVE_PUBLISHED, 0, NULL }, out;
	const uint8_t	*pl;
	size_t		 len;

	(void)state;
	wbuf_init(&b, 0);
	assert_int_equal(enc_have(&b), SL_OK);
	pl = frame_payload(&b, WIRE_HAVE, &len);
	assert_int_equal(len, 8 + 1 + 8 + 2);
	assert_int_equal(wire_have_decode(pl, len, &out), SL_OK);
	assert_int_equal(out.dsid, 42);
	assert_int_equal(out.status, WIRE_HAVE_RECEIVING);
	assert_int_equal(out.nchunks, 10);
	assert_memory_equal(out.bitmap, bitmap10, 2);

	wbuf_reset(&b);
	assert_int_equal(wire_have_encode(&b, &in), SL_OK);
	pl = frame_payload(&b, WIRE_HAVE, &len);
	assert_int_equal(wire_have_decode(pl, len, &out), SL_OK);
	assert_int_equal(out.status, WIRE_HAVE_PUBLISHED);
	assert_int_equal(out.nchunks, 0);
	wbuf_free(&b);
}

static void
test_rt_data(void **state)
{
	struct wbuf	 b;
	struct wire_data d = { 42, 2, 3, 0x1122334455667788ull,
	    sizeof(chunkbytes), chunkbytes }, out;
	uint8_t		 prefix[WIRE_DATA_PREFIX];
	const uint8_t	*pl;
	size_t		 len;

	(void)state;
	wbuf_init(&b, 0);
	assert_int_equal(wire_data_encode(&b, &d), SL_OK);
	assert_int_equal(b.len, WIRE_DATA_PREFIX + sizeof(chunkbytes));
	wire_data_prefix(prefix, &d);
	assert_memory_equal(b.p, prefix, WIRE_DATA_PREFIX);
	pl = frame_payload(&b, WIRE_DATA, &len);
	assert_int_equal(wire_data_decode(pl, len, &out), SL_OK);
	assert_int_equal(out.dsid, 42);
	assert_int_equal(out.file, 2);
	assert_int_equal(out.chunk, 3);
	assert_int_equal(out.xxh3, 0x1122334455667788ull);
	assert_int_equal(out.len, sizeof(chunkbytes));
	assert_ptr_equal(out.bytes, pl + WIRE_DATA_PREFIX - WIRE_HDR_LEN);
	assert_memory_equal(out.bytes, chunkbytes, sizeof(chunkbytes));
	wbuf_free(&b);
}

static void
test_rt_ack(void **state)
{
	struct wbuf	 b;
	struct wire_ack	 out;
	const uint8_t	*pl;
	size_t		 len;

	(void)state;
	wbuf_init(&b, 0);
	assert_int_equal(enc_ack(&b), SL_OK);
	pl = frame_payload(&b, WIRE_ACK, &len);
	assert_int_equal(wire_ack_decode(pl, len, &out), SL_OK);
	assert_int_equal(out.dsid, 42);
	assert_int_equal(out.n, 3);
	assert_memory_equal(out.ents, acks3, sizeof(acks3));
	wire_ack_free(&out);
	wire_ack_free(&out);
	wbuf_free(&b);
}

static void
test_rt_nack(void **state)
{
	struct wbuf	 b;
	struct wire_nack out;
	const uint8_t	*pl;
	size_t		 len;

	(void)state;
	wbuf_init(&b, 0);
	assert_int_equal(enc_nack(&b), SL_OK);
	pl = frame_payload(&b, WIRE_NACK, &len);
	assert_int_equal(wire_nack_decode(pl, len, &out), SL_OK);
	assert_int_equal(out.dsid, 42);
	assert_int_equal(out.file, 1);
	assert_int_equal(out.chunk, 9);
	assert_int_equal(-(int)out.code, SL_ECORRUPT);
	assert_true(streq(out.reason, "xxh3 mismatch"));
	wbuf_free(&b);
}

static void
test_rt_commit(void **state)
{
	struct wbuf	 b;
	struct wire_commit out;
	const uint8_t	*pl;
	size_t		 len;

	(void)state;
	wbuf_init(&b, 0);
	assert_int_equal(enc_commit(&b), SL_OK);
	pl = frame_payload(&b, WIRE_COMMIT, &len);
	assert_int_equal(wire_commit_decode(pl, len, &out), SL_OK);
	assert_int_equal(out.dsid, 42);
	assert_int_equal(out.nfiles, 3);
	assert_memory_equal(out.digests, digests3, sizeof(digests3));
	wbuf_free(&b);
}

static void
test_rt_committed_error(void **state)
{
	struct wbuf	 b;
	struct wire_committed c;
	struct wire_error e;
	const uint8_t	*pl;
	size_t		 len;

	(void)state;
	wbuf_init(&b, 0);
	assert_int_equal(enc_committed(&b), SL_OK);
	pl = frame_payload(&b, WIRE_COMMITTED, &len);
	assert_int_equal(wire_committed_decode(pl, len, &c), SL_OK);
	assert_int_equal(c.dsid, 42);
	assert_true(streq(c.path, "run-1"));

	wbuf_reset(&b);
	assert_int_equal(enc_error(&b), SL_OK);
	pl = frame_payload(&b, WIRE_ERROR, &len);
	assert_int_equal(wire_error_decode(pl, len, &e), SL_OK);
	assert_int_equal(e.dsid, 0);
	assert_int_equal(-(int)e.code, SL_EAUTH);
	assert_true(streq(e.message, "bad mac"));
	wbuf_free(&b);
}

static void
test_rt_ctl(void **state)
{
	struct wbuf	 b;
	struct wire_ctl_req q;
	struct wire_ctl_reply r;
	struct wire_ctl_req noargs = { { "status", 6 }, 0, NULL };
	const uint8_t	*pl;
	size_t		 len;

	(void)state;
	wbuf_init(&b, 0);
	assert_int_equal(enc_ctl_req(&b), SL_OK);
	pl = frame_payload(&b, WIRE_CTL_REQ, &len);
	assert_int_equal(wire_ctl_req_decode(pl, len, &q), SL_OK);
	assert_true(streq(q.command, "submit"));
	assert_int_equal(q.argc, 3);
	assert_true(streq(q.argv[0], "/data/run1"));
	assert_true(streq(q.argv[1], "run1"));
	assert_int_equal(q.argv[2].len, 0);
	wire_ctl_req_free(&q);

	wbuf_reset(&b);
	assert_int_equal(wire_ctl_req_encode(&b, &noargs), SL_OK);
	pl = frame_payload(&b, WIRE_CTL_REQ, &len);
	assert_int_equal(wire_ctl_req_decode(pl, len, &q), SL_OK);
	assert_int_equal(q.argc, 0);
	assert_null(q.argv);
	wire_ctl_req_free(&q);

	wbuf_reset(&b);
	assert_int_equal(enc_ctl_reply(&b), SL_OK);
	pl = frame_payload(&b, WIRE_CTL_REPLY, &len);
	assert_int_equal(wire_ctl_reply_decode(pl, len, &r), SL_OK);
	assert_int_equal(r.status, SL_ENOTFOUND);
	assert_true(streq(r.text, "no such dataset"));
	wbuf_free(&b);
}

/* ---- header ---------------------------------------------------------- */

static void
test_hdr(void **state)
{
	uint8_t		h8[WIRE_HDR_LEN];
	struct wire_hdr	h;

	(void)state;
	wire_hdr_encode(h8, WIRE_ACK, 1234);
	assert_int_equal(h8[0], 'S');
	assert_int_equal(h8[1], 'L');
	assert_int_equal(h8[2], WIRE_ACK);
	assert_int_equal(h8[3], 0);
	assert_int_equal(wire_hdr_decode(h8, 8, &h, 5000), SL_OK);
	assert_int_equal(h.type, WIRE_ACK);
	assert_int_equal(h.len, 1234);
	assert_int_equal(wire_hdr_decode(h8, 7, &h, 5000), SL_ETRUNC);
	assert_int_equal(wire_hdr_decode(h8, 0, &h, 5000), SL_ETRUNC);
	assert_int_equal(wire_hdr_decode(h8, 8, &h, 1233), SL_ETOOBIG);
	assert_int_equal(wire_hdr_decode(h8, 8, &h, 1234), SL_OK);

	h8[3] = 1;			/* flags */
	assert_int_equal(wire_hdr_decode(h8, 8, &h, 5000), SL_EPROTO);
	h8[3] = 0;
	h8[0] = 'L';			/* byte-swapped magic */
	h8[1] = 'S';
	assert_int_equal(wire_hdr_decode(h8, 8, &h, 5000), SL_EPROTO);

	wire_hdr_encode(h8, 200, 0);	/* type not checked here */
	assert_int_equal(wire_hdr_decode(h8, 8, &h, 0), SL_OK);
	assert_int_equal(h.type, 200);
	wire_put_u32(h8 + 4, SL_MAX_FRAME + 1);
	assert_int_equal(wire_hdr_decode(h8, 8, &h, SL_MAX_FRAME), SL_ETOOBIG);
}

/* ---- rejections ------------------------------------------------------ */

static void
test_nul_in_strings(void **state)
{
	struct wbuf	 b;
	struct pb	 p;
	struct wire_error e = { 1, 2, { "a\0b", 3 } };
	struct wire_str	 arg = { "x\0", 2 };
	struct wire_ctl_req q = { { "submit", 6 }, 1, &arg };
	struct wire_open o;
	struct wire_file f = { { "a\0b", 3 }, 0, 0644 };
	struct wire_meta m = { { "k\0", 2 }, { "v", 1 } };

	(void)state;
	wbuf_init(&b, 0);
	assert_int_equal(wire_error_encode(&b, &e), SL_EINVAL);
	assert_int_equal(wire_ctl_req_encode(&b, &q), SL_EINVAL);
	mk_open(&o);
	o.nfiles = 1;
	o.files = &f;
	o.total_bytes = 0;
	assert_int_equal(wire_open_encode(&b, &o), SL_EINVAL);
	mk_open(&o);
	o.nmeta = 1;
	o.meta = &m;
	assert_int_equal(wire_open_encode(&b, &o), SL_EINVAL);
	assert_int_equal(b.len, 0);
	wbuf_free(&b);

	memset(&p, 0, sizeof(p));
	pb_u64(&p, 1);
	pb_u16(&p, 2);
	pb_str(&p, "a\0b", 3);
	assert_int_equal(dec_error(p.b, p.n), SL_EPROTO);

	memset(&p, 0, sizeof(p));
	pb_str(&p, "sub\0mit", 7);
	pb_u32(&p, 0);
	assert_int_equal(dec_ctl_req(p.b, p.n), SL_EPROTO);

	memset(&p, 0, sizeof(p));
	pb_u32(&p, 0);
	pb_str(&p, "ok\0", 3);
	assert_int_equal(dec_ctl_reply(p.b, p.n), SL_EPROTO);

	memset(&p, 0, sizeof(p));
	pb_u16(&p, 1);
	pb_u16(&p, 0);
	pb_u16(&p, 1);
	pb_str(&p, "ag\0", 3);
	pb_u8(&p, 0);
	assert_int_equal(dec_hello(p.b, p.n), SL_EPROTO);
}

static void
test_oversize_strings(void **state)
{
	static char	 big[SL_MAX_MSG + 2];
	struct wbuf	 b;
	struct pb	*p;
	struct wire_error e;
	struct wire_nack nk;
	struct wire_hello h;
	struct wire_challenge c;

	(void)state;
	memset(big, 'm', sizeof(big));
	wbuf_init(&b, 0);
	e.dsid = 0;
	e.code = 1;
	e.message.p = big;
	e.message.len = SL_MAX_MSG + 1;
	assert_int_equal(wire_error_encode(&b, &e), SL_EINVAL);
	memset(&nk, 0, sizeof(nk));
	nk.reason = e.message;
	assert_int_equal(wire_nack_encode(&b, &nk), SL_EINVAL);
	mk_hello(&h);
	h.agent_id.p = big;
	h.agent_id.len = SL_MAX_ID + 1;
	assert_int_equal(wire_hello_encode(&b, &h), SL_EINVAL);
	h.agent_id.len = 0;
	assert_int_equal(wire_hello_encode(&b, &h), SL_EINVAL);
	mk_challenge(&c);
	c.sink_id.p = big;
	c.sink_id.len = SL_MAX_ID + 1;
	assert_int_equal(wire_challenge_encode(&b, &c), SL_EINVAL);
	c.sink_id.len = SL_MAX_ID;
	assert_int_equal(wire_challenge_encode(&b, &c), SL_OK);
	wbuf_free(&b);

	p = calloc(1, sizeof(*p));
	assert_non_null(p);
	pb_u64(p, 0);
	pb_u16(p, 1);
	pb_str(p, big, SL_MAX_MSG + 1);
	assert_int_equal(dec_error(p->b, p->n), SL_ETOOBIG);

	/* a huge length with few bytes behind it */
	memset(p, 0, sizeof(*p));
	pb_u64(p, 0);
	pb_u16(p, 1);
	pb_u32(p, 0xffffffffu);
	assert_int_equal(dec_error(p->b, p->n), SL_ETOOBIG);
	memset(p, 0, sizeof(*p));
	pb_u32(p, 0);
	pb_u32(p, 100);			/* text claims 100, has 3 */
	pb_mem(p, "abc", 3);
	assert_int_equal(dec_ctl_reply(p->b, p->n), SL_EPROTO);

	/* CTL_REQ command past 64 bytes */
	memset(p, 0, sizeof(*p));
	pb_str(p, big, 65);
	pb_u32(p, 0);
	assert_int_equal(dec_ctl_req(p->b, p->n), SL_ETOOBIG);
	free(p);
}

/* An OPEN payload with one file, built by hand. */
static void
pb_open1(struct pb *p, const char *name, uint32_t chunk, uint64_t total,
    const char *path, size_t pathlen, uint64_t size, uint32_t mode)
{
	memset(p, 0, sizeof(*p));
	pb_u64(p, 9);
	pb_str(p, name, strlen(name));
	pb_u32(p, chunk);
	pb_u64(p, total);
	pb_u32(p, 0);
	pb_u32(p, 1);
	pb_str(p, path, pathlen);
	pb_u64(p, size);
	pb_u32(p, mode);
}

static void
test_open_hostile_paths(void **state)
{
	static const char *bad[] = {
		"..", "../etc/passwd", "a/../../b", "/etc/passwd", "a//b",
		"a/", "", ".", "a/./b", "a\n/../b", "\xc0\xaf//x",
	};
	struct pb	*p;
	struct wbuf	 b;
	struct wire_open o;
	struct wire_file f;
	size_t		 i;

	(void)state;
	p = calloc(1, sizeof(*p));
	assert_non_null(p);
	pb_open1(p, "ds", SL_MIN_CHUNK, 10, "ok/file", 7, 10, 0644);
	assert_int_equal(dec_open(p->b, p->n), SL_OK);
	wbuf_init(&b, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pb_open1(p, "ds", SL_MIN_CHUNK, 10, bad[i], strlen(bad[i]),
		    10, 0644);
		if (dec_open(p->b, p->n) == SL_OK)
			fail_msg("OPEN path #%zu accepted", i);
		mk_open(&o);
		f.path = wire_str_c(bad[i]);
		f.size = 10;
		f.mode = 0644;
		o.nfiles = 1;
		o.files = &f;
		o.total_bytes = 10;
		assert_int_equal(wire_open_encode(&b, &o), SL_EINVAL);
	}
	pb_open1(p, "ds", SL_MIN_CHUNK, 10, "a\0b", 3, 10, 0644);
	assert_int_equal(dec_open(p->b, p->n), SL_EPROTO);
	/* every other byte is a name byte POSIX allows: newline, tab,
	 * control bytes, bytes that are not UTF-8 */
	pb_open1(p, "ds", SL_MIN_CHUNK, 10, "a\nb\tc\x01\xff\xc0\xaf", 9, 10, 0644);
	assert_int_equal(dec_open(p->b, p->n), SL_OK);
	pb_open1(p, "d\ns\xff", SL_MIN_CHUNK, 10, "f", 1, 10, 0644);
	assert_int_equal(dec_open(p->b, p->n), SL_OK);

	/* bad dataset names */
	pb_open1(p, ".ds", SL_MIN_CHUNK, 10, "f", 1, 10, 0644);
	assert_int_equal(dec_open(p->b, p->n), SL_EPROTO);
	pb_open1(p, "a/b", SL_MIN_CHUNK, 10, "f", 1, 10, 0644);
	assert_int_equal(dec_open(p->b, p->n), SL_EPROTO);
	pb_open1(p, "", SL_MIN_CHUNK, 10, "f", 1, 10, 0644);
	assert_int_equal(dec_open(p->b, p->n), SL_EPROTO);
	pb_open1(p, "..", SL_MIN_CHUNK, 10, "f", 1, 10, 0644);
	assert_int_equal(dec_open(p->b, p->n), SL_EPROTO);

	/* mode beyond permission bits, chunk size out of range */
	pb_open1(p, "ds", SL_MIN_CHUNK, 10, "f", 1, 10, 0100644);
	assert_int_equal(dec_open(p->b, p->n), SL_EPROTO);
	pb_open1(p, "ds", SL_MIN_CHUNK - 1, 10, "f", 1, 10, 0644);
	assert_int_equal(dec_open(p->b, p->n), SL_EPROTO);
	pb_open1(p, "ds", SL_MAX_CHUNK + 1, 10, "f", 1, 10, 0644);
	assert_int_equal(dec_open(p->b, p->n), SL_EPROTO);
	pb_open1(p, "ds", 0, 10, "f", 1, 10, 0644);
	assert_int_equal(dec_open(p->b, p->n), SL_EPROTO);
	assert_int_equal(b.len, 0);
	wbuf_free(&b);
	free(p);
}

static void
test_open_counts(void **state)
{
	struct pb	*p;
	struct wbuf	 b;
	struct wire_open o;
	uint32_t	 i;

	(void)state;
	p = calloc(1, sizeof(*p));
	assert_non_null(p);

	/* total_bytes mismatch */
	pb_open1(p, "ds", SL_MIN_CHUNK, 11, "f", 1, 10, 0644);
	assert_int_equal(dec_open(p->b, p->n), SL_EPROTO);
	pb_open1(p, "ds", SL_MIN_CHUNK, 9, "f", 1, 10, 0644);
	assert_int_equal(dec_open(p->b, p->n), SL_EPROTO);
	wbuf_init(&b, 0);
	mk_open(&o);
	o.total_bytes++;
	assert_int_equal(wire_open_encode(&b, &o), SL_EINVAL);
	assert_int_equal(b.len, 0);

	/* nfiles past SL_MAX_FILES, and past the bytes left */
	memset(p, 0, sizeof(*p));
	pb_u64(p, 9);
	pb_str(p, "ds", 2);
	pb_u32(p, SL_MIN_CHUNK);
	pb_u64(p, 0);
	pb_u32(p, 0);
	pb_u32(p, SL_MAX_FILES + 1);
	assert_int_equal(dec_open(p->b, p->n), SL_ETOOBIG);
	p->n -= 4;
	pb_u32(p, SL_MAX_FILES);
	assert_int_equal(dec_open(p->b, p->n), SL_EPROTO);
	p->n -= 4;
	pb_u32(p, 2);			/* two claimed, one present */
	pb_str(p, "f", 1);
	pb_u64(p, 0);
	pb_u32(p, 0644);
	assert_int_equal(dec_open(p->b, p->n), SL_EPROTO);

	/* nmeta past SL_MAX_META, and past the bytes left */
	memset(p, 0, sizeof(*p));
	pb_u64(p, 9);
	pb_str(p, "ds", 2);
	pb_u32(p, SL_MIN_CHUNK);
	pb_u64(p, 0);
	pb_u32(p, SL_MAX_META + 1);
	for (i = 0; i < SL_MAX_META + 1; i++) {
		pb_str(p, "k", 1);
		pb_str(p, "", 0);
	}
	pb_u32(p, 0);
	assert_int_equal(dec_open(p->b, p->n), SL_ETOOBIG);
	memset(p, 0, sizeof(*p));
	pb_u64(p, 9);
	pb_str(p, "ds", 2);
	pb_u32(p, SL_MIN_CHUNK);
	pb_u64(p, 0);
	pb_u32(p, 200);
	pb_u32(p, 0);
	assert_int_equal(dec_open(p->b, p->n), SL_EPROTO);

	/* empty meta key, oversize meta value */
	memset(p, 0, sizeof(*p));
	pb_u64(p, 9);
	pb_str(p, "ds", 2);
	pb_u32(p, SL_MIN_CHUNK);
	pb_u64(p, 0);
	pb_u32(p, 1);
	pb_str(p, "", 0);
	pb_str(p, "v", 1);
	pb_u32(p, 0);
	assert_int_equal(dec_open(p->b, p->n), SL_EPROTO);
	memset(p, 0, sizeof(*p));
	pb_u64(p, 9);
	pb_str(p, "ds", 2);
	pb_u32(p, SL_MIN_CHUNK);
	pb_u64(p, 0);
	pb_u32(p, 1);
	pb_str(p, "k", 1);
	pb_u32(p, SL_MAX_META_VAL + 1);
	p->n += SL_MAX_META_VAL + 1;
	pb_u32(p, 0);
	assert_int_equal(dec_open(p->b, p->n), SL_ETOOBIG);

	/* sizes whose sum overflows u64 */
	memset(p, 0, sizeof(*p));
	pb_u64(p, 9);
	pb_str(p, "ds", 2);
	pb_u32(p, SL_MAX_CHUNK);
	pb_u64(p, 1);
	pb_u32(p, 0);
	pb_u32(p, 2);
	pb_str(p, "a", 1);
	pb_u64(p, UINT64_MAX);
	pb_u32(p, 0644);
	pb_str(p, "b", 1);
	pb_u64(p, 2);
	pb_u32(p, 0644);
	assert_int_not_equal(dec_open(p->b, p->n), SL_OK);
	wbuf_free(&b);
	free(p);
}

static void
test_have_bitmap(void **state)
{
	struct wbuf	 b;
	struct pb	 p;
	struct wire_have h;
	const uint8_t	*pl;
	size_t		 len;

	(void)state;
	wbuf_init(&b, 0);
	assert_int_equal(enc_have(&b), SL_OK);
	pl = frame_payload(&b, WIRE_HAVE, &len);
	memcpy(p.b, pl, len);
	p.n = len;
	wire_put_u64(p.b + 9, 17);	/* needs 3 bytes, has 2 */
	assert_int_equal(wire_have_decode(p.b, p.n, &h), SL_EPROTO);
	wire_put_u64(p.b + 9, 8);	/* needs 1 byte, has 2 */
	assert_int_equal(wire_have_decode(p.b, p.n, &h), SL_EPROTO);
	wire_put_u64(p.b + 9, 16);	/* exactly 2 */
	assert_int_equal(wire_have_decode(p.b, p.n, &h), SL_OK);
	wire_put_u64(p.b + 9, UINT64_MAX);
	assert_int_equal(wire_have_decode(p.b, p.n, &h), SL_ETOOBIG);
	wire_put_u64(p.b + 9, 10);
	p.b[8] = 2;			/* bad status */
	assert_int_equal(wire_have_decode(p.b, p.n, &h), SL_EPROTO);

	h.dsid = 1;
	h.status = 5;
	h.nchunks = 10;
	h.bitmap = bitmap10;
	wbuf_reset(&b);
	assert_int_equal(wire_have_encode(&b, &h), SL_EINVAL);
	h.status = 0;
	h.bitmap = NULL;
	assert_int_equal(wire_have_encode(&b, &h), SL_EINVAL);
	assert_int_equal(b.len, 0);
	wbuf_free(&b);
}

static void
test_hello_rejects(void **state)
{
	struct pb	 p;
	struct wbuf	 b;
	struct wire_hello h;
	uint8_t		 mac[3] = { 1, 2, 3 };

	(void)state;
	/* maclen 3 */
	memset(&p, 0, sizeof(p));
	pb_u16(&p, 1);
	pb_u16(&p, 0);
	pb_u16(&p, 1);
	pb_str(&p, "ag", 2);
	pb_u8(&p, 3);
	pb_mem(&p, mac, 3);
	assert_int_equal(wire_hello_decode(p.b, p.n, &h), SL_EPROTO);

	/* stream >= nstreams */
	memset(&p, 0, sizeof(p));
	pb_u16(&p, 1);
	pb_u16(&p, 4);
	pb_u16(&p, 4);
	pb_str(&p, "ag", 2);
	pb_u8(&p, 0);
	assert_int_equal(wire_hello_decode(p.b, p.n, &h), SL_EPROTO);
	wire_put_u16(p.b + 2, 3);
	assert_int_equal(wire_hello_decode(p.b, p.n, &h), SL_OK);
	wire_put_u16(p.b + 4, 0);	/* nstreams 0 */
	wire_put_u16(p.b + 2, 0);
	assert_int_equal(wire_hello_decode(p.b, p.n, &h), SL_EPROTO);
	wire_put_u16(p.b + 4, SL_MAX_STREAMS + 1);
	assert_int_equal(wire_hello_decode(p.b, p.n, &h), SL_ETOOBIG);
	wire_put_u16(p.b + 4, SL_MAX_STREAMS);
	assert_int_equal(wire_hello_decode(p.b, p.n, &h), SL_OK);
	wire_put_u16(p.b, 0);		/* version 0 */
	assert_int_equal(wire_hello_decode(p.b, p.n, &h), SL_EPROTO);

	wbuf_init(&b, 0);
	mk_hello(&h);
	h.maclen = 3;
	assert_int_equal(wire_hello_encode(&b, &h), SL_EINVAL);
	mk_hello(&h);
	h.stream = h.nstreams;
	assert_int_equal(wire_hello_encode(&b, &h), SL_EINVAL);
	mk_hello(&h);
	h.nstreams = SL_MAX_STREAMS + 1;
	assert_int_equal(wire_hello_encode(&b, &h), SL_EINVAL);
	assert_int_equal(b.len, 0);
	wbuf_free(&b);

	/* CHALLENGE with min > max */
	memset(&p, 0, sizeof(p));
	pb_u16(&p, 2);
	pb_u16(&p, 1);
	p.n += WIRE_NONCE_LEN;
	pb_str(&p, "s", 1);
	{
		struct wire_challenge c;

		assert_int_equal(wire_challenge_decode(p.b, p.n, &c), SL_EPROTO);
	}
}

static void
test_ack_commit_ctl_counts(void **state)
{
	struct pb	*p;
	uint32_t	 i;

	(void)state;
	p = calloc(1, sizeof(*p));
	assert_non_null(p);

	pb_u64(p, 1);
	pb_u32(p, SL_MAX_ACKS + 1);
	assert_int_equal(dec_ack(p->b, p->n), SL_ETOOBIG);
	p->n -= 4;
	pb_u32(p, 1000);		/* count past the bytes */
	pb_u64(p, 0);
	assert_int_equal(dec_ack(p->b, p->n), SL_EPROTO);

	memset(p, 0, sizeof(*p));
	pb_u64(p, 1);
	pb_u32(p, SL_MAX_FILES + 1);
	assert_int_equal(dec_commit(p->b, p->n), SL_ETOOBIG);
	memset(p, 0, sizeof(*p));
	pb_u64(p, 1);
	pb_u32(p, 2);
	p->n += 2 * WIRE_DIGEST_LEN - 1;	/* one byte short */
	assert_int_equal(dec_commit(p->b, p->n), SL_EPROTO);
	p->n += 2;				/* one byte over */
	assert_int_equal(dec_commit(p->b, p->n), SL_EPROTO);
	p->n -= 1;
	assert_int_equal(dec_commit(p->b, p->n), SL_OK);

	memset(p, 0, sizeof(*p));
	pb_str(p, "x", 1);
	pb_u32(p, SL_MAX_CTL_ARGS + 1);
	assert_int_equal(dec_ctl_req(p->b, p->n), SL_ETOOBIG);
	p->n -= 4;
	pb_u32(p, SL_MAX_CTL_ARGS);
	for (i = 0; i < 10; i++)
		pb_str(p, "a", 1);
	assert_int_equal(dec_ctl_req(p->b, p->n), SL_EPROTO);

	/* DATA len past SL_MAX_CHUNK, and len != bytes present */
	memset(p, 0, sizeof(*p));
	pb_u64(p, 1);
	pb_u32(p, 0);
	pb_u32(p, 0);
	pb_u64(p, 0);
	pb_u32(p, SL_MAX_CHUNK + 1);
	assert_int_equal(dec_data(p->b, p->n), SL_ETOOBIG);
	p->n -= 4;
	pb_u32(p, 5);
	pb_mem(p, "abcd", 4);
	assert_int_equal(dec_data(p->b, p->n), SL_EPROTO);

	/* COMMITTED with an unsafe path */
	memset(p, 0, sizeof(*p));
	pb_u64(p, 1);
	pb_str(p, "../x", 4);
	assert_int_equal(dec_committed(p->b, p->n), SL_EPROTO);
	free(p);
}

static void
test_encoder_limits(void **state)
{
	struct wbuf	 b;
	struct wire_data d = { 1, 0, 0, 0, SL_MAX_CHUNK + 1, chunkbytes };
	struct wire_ack	 a = { 1, SL_MAX_ACKS + 1, acks3 };
	struct wire_commit c = { 1, SL_MAX_FILES + 1, digests3 };
	struct wire_ctl_req q = { { "", 0 }, 0, NULL };
	struct wire_ctl_reply r = { 1, { "x", 1 } };
	struct wire_committed cm = { 1, { "/abs", 4 } };
	struct wire_open o;

	(void)state;
	wbuf_init(&b, 0);
	assert_int_equal(wire_data_encode(&b, &d), SL_EINVAL);
	assert_int_equal(wire_ack_encode(&b, &a), SL_EINVAL);
	assert_int_equal(wire_commit_encode(&b, &c), SL_EINVAL);
	assert_int_equal(wire_ctl_req_encode(&b, &q), SL_EINVAL);
	assert_int_equal(wire_ctl_reply_encode(&b, &r), SL_EINVAL);
	assert_int_equal(wire_committed_encode(&b, &cm), SL_EINVAL);
	mk_open(&o);
	o.chunk_size = SL_MIN_CHUNK - 1;
	assert_int_equal(wire_open_encode(&b, &o), SL_EINVAL);
	mk_open(&o);
	o.name = wire_str_c(".hidden");
	assert_int_equal(wire_open_encode(&b, &o), SL_EINVAL);
	mk_open(&o);
	o.nfiles = SL_MAX_FILES + 1;
	assert_int_equal(wire_open_encode(&b, &o), SL_EINVAL);
	assert_int_equal(b.len, 0);
	wbuf_free(&b);
}

/* ---- small helpers --------------------------------------------------- */

static void
test_chunks(void **state)
{
	(void)state;
	assert_int_equal(wire_nchunks(0, SL_MIN_CHUNK), 0);
	assert_int_equal(wire_nchunks(1, SL_MIN_CHUNK), 1);
	assert_int_equal(wire_nchunks(SL_MIN_CHUNK, SL_MIN_CHUNK), 1);
	assert_int_equal(wire_nchunks(SL_MIN_CHUNK + 1, SL_MIN_CHUNK), 2);
	assert_int_equal(wire_nchunks(10, 0), 0);
	assert_int_equal(wire_chunk_len(SL_MIN_CHUNK + 1, SL_MIN_CHUNK, 0),
	    SL_MIN_CHUNK);
	assert_int_equal(wire_chunk_len(SL_MIN_CHUNK + 1, SL_MIN_CHUNK, 1), 1);
	assert_int_equal(wire_chunk_len(SL_MIN_CHUNK + 1, SL_MIN_CHUNK, 2), 0);
	assert_int_equal(wire_chunk_len(0, SL_MIN_CHUNK, 0), 0);
	assert_int_equal(wire_chunk_len((uint64_t)5 << 32, SL_MAX_CHUNK,
	    (uint32_t)(((uint64_t)5 << 32) / SL_MAX_CHUNK) - 1), SL_MAX_CHUNK);
}

static void
test_le_and_strings(void **state)
{
	uint8_t		b[8];
	char		dst[4];
	struct wire_str	s;

	(void)state;
	wire_put_u16(b, 0x1234);
	assert_int_equal(b[0], 0x34);
	assert_int_equal(wire_get_u16(b), 0x1234);
	wire_put_u32(b, 0xdeadbeef);
	assert_int_equal(b[0], 0xef);
	assert_int_equal(b[3], 0xde);
	assert_int_equal(wire_get_u32(b), 0xdeadbeef);
	wire_put_u64(b, 0x0102030405060708ull);
	assert_int_equal(b[0], 8);
	assert_int_equal(b[7], 1);
	assert_int_equal(wire_get_u64(b), 0x0102030405060708ull);

	s = wire_str_c("abc");
	assert_int_equal(s.len, 3);
	assert_int_equal(wire_str_copy(dst, sizeof(dst), s), SL_OK);
	assert_string_equal(dst, "abc");
	s = wire_str_c("abcd");
	assert_int_equal(wire_str_copy(dst, sizeof(dst), s), SL_ETOOBIG);
	assert_int_equal(wire_str_copy(dst, 0, s), SL_ETOOBIG);
	s = wire_str_c(NULL);
	assert_int_equal(s.len, 0);
	assert_int_equal(wire_str_copy(dst, sizeof(dst), s), SL_OK);
	assert_string_equal(dst, "");

	assert_string_equal(wire_type_name(WIRE_HELLO), "HELLO");
	assert_string_equal(wire_type_name(WIRE_CTL_REPLY), "CTL_REPLY");
	assert_string_equal(wire_type_name(0), "unknown");
	assert_string_equal(wire_type_name(99), "unknown");
}

static void
test_wbuf(void **state)
{
	struct wbuf	b;

	(void)state;
	wbuf_init(&b, 100);
	assert_int_equal(wbuf_reserve(&b, 100), SL_OK);
	assert_true(b.alloc >= 100 && b.alloc <= 100);
	assert_int_equal(wbuf_reserve(&b, 101), SL_ETOOBIG);
	memcpy(b.p, "0123456789", 10);
	b.len = 10;
	wbuf_consume(&b, 3);
	assert_int_equal(b.len, 7);
	assert_memory_equal(b.p, "3456789", 7);
	wbuf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	b.len = 50;
	assert_int_equal(wbuf_reserve(&b, 51), SL_ETOOBIG);
	wbuf_reset(&b);
	assert_int_equal(b.len, 0);
	wbuf_free(&b);
	wbuf_free(&b);
	assert_null(b.p);

	wbuf_init(&b, 0);
	assert_int_equal(wbuf_reserve(&b, 16), SL_OK);
	b.len = 1;
	assert_int_equal(wbuf_reserve(&b, SIZE_MAX), SL_ETOOBIG);	/* overflow */
	b.len = 0;
	assert_int_equal(wbuf_reserve(&b, 1 << 20), SL_OK);
	assert_true(b.alloc >= 1 << 20);
	wbuf_free(&b);
}

static void
test_errors(void **state)
{
	int	e;

	(void)state;
	for (e = SL_ESTATE; e <= SL_OK; e++) {
		assert_non_null(sl_strerror(e));
		assert_string_not_equal(sl_strerror(e), "unknown error");
	}
	assert_string_equal(sl_strerror(-999), "unknown error");
	assert_string_equal(sl_strerror(5), "unknown error");
	assert_true(sl_err_retryable(SL_EIO));
	assert_true(sl_err_retryable(SL_ENOMEM));
	assert_true(sl_err_retryable(SL_ECORRUPT));
	assert_true(sl_err_retryable(SL_EAGAIN));
	assert_true(sl_err_retryable(SL_ENOSPC));
	assert_false(sl_err_retryable(SL_OK));
	assert_false(sl_err_retryable(SL_EPROTO));
	assert_false(sl_err_retryable(SL_EAUTH));
	assert_false(sl_err_retryable(SL_EPATH));
	assert_false(sl_err_retryable(-999));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rt_challenge),
		cmocka_unit_test(test_rt_hello),
		cmocka_unit_test(test_hello_mac_input),
		cmocka_unit_test(test_rt_welcome),
		cmocka_unit_test(test_rt_open),
		cmocka_unit_test(test_rt_open_empty),
		cmocka_unit_test(test_rt_have),
		cmocka_unit_test(test_rt_data),
		cmocka_unit_test(test_rt_ack),
		cmocka_unit_test(test_rt_nack),
		cmocka_unit_test(test_rt_commit),
		cmocka_unit_test(test_rt_committed_error),
		cmocka_unit_test(test_rt_ctl),
		cmocka_unit_test(test_every_prefix_rejected),
		cmocka_unit_test(test_trailing_rejected),
		cmocka_unit_test(test_frames_append),
		cmocka_unit_test(test_cap_whole_or_nothing),
		cmocka_unit_test(test_hdr),
		cmocka_unit_test(test_nul_in_strings),
		cmocka_unit_test(test_oversize_strings),
		cmocka_unit_test(test_open_hostile_paths),
		cmocka_unit_test(test_open_counts),
		cmocka_unit_test(test_have_bitmap),
		cmocka_unit_test(test_hello_rejects),
		cmocka_unit_test(test_ack_commit_ctl_counts),
		cmocka_unit_test(test_encoder_limits),
		cmocka_unit_test(test_chunks),
		cmocka_unit_test(test_le_and_strings),
		cmocka_unit_test(test_wbuf),
		cmocka_unit_test(test_errors),
	};

	fill_statics();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
