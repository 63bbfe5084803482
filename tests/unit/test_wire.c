// links: tests/unit/wire_fixtures.o
/*
 * test_wire.c: the wire codec.  Round trip of every message, each strict
 * prefix of a valid payload and trailing bytes refused, the header, and
 * the small helpers.  What a hostile peer could bend is in
 * test_wire_reject.c; the valid messages both use are in wire_fixtures.c.
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
#include "wire_fixtures.h"

/* ---- generic tests --------------------------------------------------- */

static void
test_every_prefix_rejected(void **state)
{
	struct wbuf	 b;
	const uint8_t	*pl;
	uint8_t		*copy;
	size_t		 i, k, len;

	(void)state;
	for (i = 0; i < ncases; i++) {
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
	for (i = 0; i < ncases; i++) {
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
	for (i = 0; i < ncases; i++)
		assert_int_equal(cases[i].enc(&b), SL_OK);
	for (i = 0; i < ncases; i++) {
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
	for (i = 0; i < ncases; i++) {
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
		cmocka_unit_test(test_chunks),
		cmocka_unit_test(test_le_and_strings),
		cmocka_unit_test(test_wbuf),
		cmocka_unit_test(test_errors),
	};

	fill_statics();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
