// links: tests/unit/wire_fixtures.o
/*
 * test_wire_reject.c: every way a hostile peer could bend a frame: bad
 * header fields, limits, NUL in strings, inconsistent counts and unsafe
 * paths (the round trips are in test_wire.c).
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nul_in_strings),
		cmocka_unit_test(test_oversize_strings),
		cmocka_unit_test(test_open_hostile_paths),
		cmocka_unit_test(test_open_counts),
		cmocka_unit_test(test_have_bitmap),
		cmocka_unit_test(test_hello_rejects),
		cmocka_unit_test(test_ack_commit_ctl_counts),
		cmocka_unit_test(test_encoder_limits),
	};

	fill_statics();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
