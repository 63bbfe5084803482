/*
 * wire.h: the sluice wire codec.  Pure: no I/O, no libev, no OpenSSL, no
 * LMDB.  The byte layout is specified in proto/PROTOCOL.md.  One contract
 * for every frame, since all share the framing below; the code is in
 * proto/: wire.c (integers, header, strings, wbuf), wire_session.c
 * (CHALLENGE, HELLO, WELCOME, ERROR), wire_dataset.c (OPEN .. COMMITTED
 * and the chunk arithmetic) and wire_ctl.c (CTL_REQ, CTL_REPLY).
 *
 * Every frame is an 8-byte header followed by `len` payload bytes:
 *
 *	u16 magic  0x4c53 ("SL" on the wire, little-endian)
 *	u8  type   enum wire_type
 *	u8  flags  0 in version 1; non-zero is a protocol error
 *	u32 len    payload length, <= SL_MAX_FRAME
 *
 * All integers are little-endian.  A string is u32 length + bytes (no NUL
 * on the wire; a NUL inside is rejected by the decoder).  A decoder checks
 * every length against a limit from sluice.h before using it and checks
 * that the payload is consumed exactly (SL_EPROTO otherwise).
 *
 * Decoded strings and byte arrays point INTO the caller's payload buffer
 * (zero copy): they stay valid only while that buffer does.  Arrays that
 * need an allocation (OPEN files, OPEN meta, ACK entries) are owned by the
 * decoded struct and released by its *_free function; the free functions
 * accept a zeroed struct and are idempotent.
 *
 * Thread safety: every function is reentrant; nothing has global state.
 */
#ifndef WIRE_H
#define WIRE_H

#include <stddef.h>
#include <stdint.h>
#include "sluice.h"

#define WIRE_MAGIC	0x4c53u
#define WIRE_HDR_LEN	8u
#define WIRE_NONCE_LEN	32u
#define WIRE_MAC_LEN	32u
#define WIRE_DIGEST_LEN	16u	/* XXH3-128, canonical (big-endian) bytes */

enum wire_type {
	/* session: agent <-> sink */
	WIRE_CHALLENGE = 1,	/* sink -> agent, first frame after (TLS) connect */
	WIRE_HELLO     = 2,	/* agent -> sink */
	WIRE_WELCOME   = 3,	/* sink -> agent */
	WIRE_OPEN      = 4,	/* agent -> sink: dataset manifest */
	WIRE_HAVE      = 5,	/* sink -> agent: chunks already durable */
	WIRE_DATA      = 6,	/* agent -> sink: one chunk */
	WIRE_ACK       = 7,	/* sink -> agent: batch of durable chunks */
	WIRE_NACK      = 8,	/* sink -> agent: chunk rejected, resend */
	WIRE_COMMIT    = 9,	/* agent -> sink: per-file digests, publish */
	WIRE_COMMITTED = 10,	/* sink -> agent: dataset published */
	WIRE_ERROR     = 11,	/* either way: session or dataset error */
	WIRE_RESULT    = 12,	/* pull sessions: receiver -> agent, the job's
				 * result, and the agent's answer (PROTOCOL.md 9) */
	/* control socket: sluice CLI <-> sluiced */
	WIRE_CTL_REQ   = 32,
	WIRE_CTL_REPLY = 33,
};

/* Name of a frame type for logs; "unknown" for anything else. */
const char *wire_type_name(int type);

/* A counted string or byte range pointing into a payload buffer. */
struct wire_str {
	const char	*p;
	uint32_t	 len;
};

/* ---- growable output buffer ------------------------------------------ */

/* Output buffer.  Grows with realloc up to `cap_max` bytes (0 = no cap:
 * growth stops only when realloc fails; one frame is still at most
 * SL_MAX_FRAME + WIRE_HDR_LEN because the encoders refuse larger
 * payloads with SL_EINVAL); an append that would
 * pass the cap fails with SL_ETOOBIG and leaves the buffer unchanged.  A
 * failed append never leaves a partial frame: the encoders write the whole
 * frame or nothing. */
struct wbuf {
	uint8_t	*p;
	size_t	 len;
	size_t	 alloc;
	size_t	 cap_max;
};
void	wbuf_init(struct wbuf *b, size_t cap_max);
void	wbuf_free(struct wbuf *b);
void	wbuf_reset(struct wbuf *b);			/* len = 0, keeps memory */
int	wbuf_reserve(struct wbuf *b, size_t more);	/* SL_ENOMEM, SL_ETOOBIG */
/* Append n bytes / a C string (without its NUL): SL_OK, SL_ENOMEM,
 * SL_ETOOBIG (cap); nothing appended on failure. */
int	wbuf_append(struct wbuf *b, const void *p, size_t n);
int	wbuf_puts(struct wbuf *b, const char *s);
/* Drop the first n bytes (after they were written to a socket). */
void	wbuf_consume(struct wbuf *b, size_t n);

/* ---- frame header ---------------------------------------------------- */

struct wire_hdr {
	uint8_t		type;
	uint8_t		flags;
	uint32_t	len;
};

/* Decode a header from the first n bytes of buf.  Returns SL_OK,
 * SL_ETRUNC (n < WIRE_HDR_LEN), SL_EPROTO (bad magic, non-zero flags),
 * SL_ETOOBIG (len > max_len).  Does not check the type: callers reject
 * types that are not valid in their state. */
int	wire_hdr_decode(const uint8_t *buf, size_t n, struct wire_hdr *h,
	    uint32_t max_len);
void	wire_hdr_encode(uint8_t out[WIRE_HDR_LEN], uint8_t type, uint32_t len);

/* ---- messages ---------------------------------------------------------
 * For each message: wire_X_encode(struct wbuf *, const struct wire_X *)
 * appends a whole frame (header + payload) and returns SL_OK, SL_EINVAL
 * (a field past its limit: the encoder checks what the decoder checks),
 * SL_ENOMEM or SL_ETOOBIG (cap).  wire_X_decode(payload, len, &msg)
 * decodes a payload (without the header) and returns SL_OK, SL_EPROTO
 * (malformed, trailing bytes, NUL in a string, a path that fails
 * pathchk) or SL_ETOOBIG (a count or length past its limit), SL_ENOMEM. */

/* CHALLENGE: u16 min_version, u16 max_version, u8[32] nonce, str sink_id */
struct wire_challenge {
	uint16_t	min_version;
	uint16_t	max_version;
	uint8_t		nonce[WIRE_NONCE_LEN];
	struct wire_str	sink_id;		/* <= SL_MAX_ID */
};

/* HELLO: u16 version, u16 stream, u16 nstreams, str agent_id,
 *        u8 maclen (0 or 32), u8[maclen] mac
 * mac = HMAC-SHA256(secret, wire_hello_mac_input()) when tls is off. */
struct wire_hello {
	uint16_t	version;
	uint16_t	stream;			/* < nstreams */
	uint16_t	nstreams;		/* 1..SL_MAX_STREAMS */
	struct wire_str	agent_id;		/* 1..SL_MAX_ID */
	uint8_t		maclen;			/* 0 or WIRE_MAC_LEN */
	uint8_t		mac[WIRE_MAC_LEN];
};
/* The bytes the HELLO MAC covers: "sluice-hello-v1" || nonce || u16
 * version || u16 stream || u16 nstreams || str agent_id.  Appended to b
 * (not a frame).  Returns SL_OK or SL_ENOMEM. */
int	wire_hello_mac_input(struct wbuf *b, const uint8_t nonce[WIRE_NONCE_LEN],
	    const struct wire_hello *h);

/* WELCOME: u16 version, str sink_id */
struct wire_welcome {
	uint16_t	version;
	struct wire_str	sink_id;
};

/* OPEN: u64 dsid, str name, u32 chunk_size, u64 total_bytes,
 *       u32 nmeta, nmeta x (str key, str value),
 *       u32 nfiles, nfiles x (str path, u64 size, u32 mode)
 * name is one path component (pathchk_name); every path passes
 * pathchk_rel; chunk_size in [SL_MIN_CHUNK, SL_MAX_CHUNK]; nfiles <=
 * SL_MAX_FILES; nmeta <= SL_MAX_META; total_bytes equals the sum of sizes;
 * mode is the permission bits only (& 07777). */
struct wire_file {
	struct wire_str	path;
	uint64_t	size;
	uint32_t	mode;
};
struct wire_meta {
	struct wire_str	key;			/* 1..SL_MAX_META_KEY */
	struct wire_str	val;			/* 0..SL_MAX_META_VAL */
};
struct wire_open {
	uint64_t	 dsid;
	struct wire_str	 name;
	uint32_t	 chunk_size;
	uint64_t	 total_bytes;
	uint32_t	 nmeta;
	struct wire_meta *meta;			/* owned */
	uint32_t	 nfiles;
	struct wire_file *files;		/* owned */
};
void	wire_open_free(struct wire_open *o);

/* Chunks of a file of `size` bytes: ceil(size / chunk_size), 0 for an
 * empty file.  Chunk i covers [i*chunk_size, min(size, (i+1)*chunk_size)).
 * The dataset's global chunk order is file order, then chunk order. */
uint32_t wire_nchunks(uint64_t size, uint32_t chunk_size);
uint32_t wire_chunk_len(uint64_t size, uint32_t chunk_size, uint32_t idx);

/* HAVE: u64 dsid, u8 status, u64 nchunks, u8[ceil(nchunks/8)] bitmap
 * Bit g (byte g/8, bit g%8, LSB first) is set when the sink holds global
 * chunk g durable.  status: WIRE_HAVE_RECEIVING or WIRE_HAVE_PUBLISHED
 * (bitmap then all ones and nothing more needs to be sent). */
#define WIRE_HAVE_RECEIVING	0
#define WIRE_HAVE_PUBLISHED	1
struct wire_have {
	uint64_t	 dsid;
	uint8_t		 status;
	uint64_t	 nchunks;		/* <= SL_MAX_FILES * 2^16 */
	const uint8_t	*bitmap;		/* points into payload */
};

/* DATA: u64 dsid, u32 file, u32 chunk, u64 xxh3, u32 len, u8[len] bytes
 * len <= SL_MAX_CHUNK.  The sink checks file/chunk/len against the
 * manifest and xxh3 (XXH3_64bits of the bytes) before writing. */
#define WIRE_DATA_PREFIX (WIRE_HDR_LEN + 8 + 4 + 4 + 8 + 4)
struct wire_data {
	uint64_t	 dsid;
	uint32_t	 file;
	uint32_t	 chunk;
	uint64_t	 xxh3;
	uint32_t	 len;
	const uint8_t	*bytes;			/* points into payload */
};
/* Write the header and fixed fields of a DATA frame carrying d->len bytes
 * to out[0..WIRE_DATA_PREFIX); the caller puts the bytes right after.
 * Lets the agent pread a chunk straight into its send buffer. */
void	wire_data_prefix(uint8_t out[WIRE_DATA_PREFIX], const struct wire_data *d);

/* ACK: u64 dsid, u32 n, n x (u32 file, u32 chunk); n <= SL_MAX_ACKS */
struct wire_ack_ent {
	uint32_t	file;
	uint32_t	chunk;
};
struct wire_ack {
	uint64_t	 dsid;
	uint32_t	 n;
	struct wire_ack_ent *ents;		/* owned */
};
void	wire_ack_free(struct wire_ack *a);

/* NACK: u64 dsid, u32 file, u32 chunk, u16 code (enum sl_err, negated),
 *       str reason (<= SL_MAX_MSG) */
struct wire_nack {
	uint64_t	dsid;
	uint32_t	file;
	uint32_t	chunk;
	uint16_t	code;
	struct wire_str	reason;
};

/* COMMIT: u64 dsid, u32 nfiles, nfiles x u8[16] digest
 * digest of file i = XXH3-128 (canonical bytes) over the concatenation of
 * its chunk hashes, each as u64 little-endian, in chunk order (for an
 * empty file: XXH3-128 of zero bytes).  nfiles <= SL_MAX_FILES. */
struct wire_commit {
	uint64_t	 dsid;
	uint32_t	 nfiles;
	const uint8_t	*digests;		/* nfiles * 16, points into payload */
};

/* COMMITTED: u64 dsid, str path (published path relative to sink root) */
struct wire_committed {
	uint64_t	dsid;
	struct wire_str	path;
};

/* ERROR: u64 dsid (0: the session), u16 code (enum sl_err, negated),
 *        str message (<= SL_MAX_MSG) */
struct wire_error {
	uint64_t	dsid;
	uint16_t	code;
	struct wire_str	message;
};

/* CTL_REQ: str command, u32 argc, argc x str arg (each <= SL_MAX_PATH,
 * argc <= SL_MAX_CTL_ARGS).  Strings here may be any bytes but NUL. */
struct wire_ctl_req {
	struct wire_str	 command;		/* 1..64 */
	uint32_t	 argc;
	struct wire_str	*argv;			/* owned */
};
void	wire_ctl_req_free(struct wire_ctl_req *r);

/* CTL_REPLY: i32 status (SL_OK or enum sl_err), str text (<= SL_MAX_FRAME) */
struct wire_ctl_reply {
	int32_t		status;
	struct wire_str	text;
};

/* session frames (wire_session.c) */
int	wire_challenge_encode(struct wbuf *, const struct wire_challenge *);
int	wire_challenge_decode(const uint8_t *, size_t, struct wire_challenge *);
int	wire_hello_encode(struct wbuf *, const struct wire_hello *);
int	wire_hello_decode(const uint8_t *, size_t, struct wire_hello *);
int	wire_welcome_encode(struct wbuf *, const struct wire_welcome *);
int	wire_welcome_decode(const uint8_t *, size_t, struct wire_welcome *);
int	wire_error_encode(struct wbuf *, const struct wire_error *);
int	wire_error_decode(const uint8_t *, size_t, struct wire_error *);
/* RESULT has ERROR's body: dsid, code (0 = the result is in place, else
 * the sl_err of the failure), message (the result's path and digest, or
 * why it failed).  The agent answers with the same frame, code 0 once
 * the outcome is journaled. */
int	wire_result_encode(struct wbuf *, const struct wire_error *);
int	wire_result_decode(const uint8_t *, size_t, struct wire_error *);
/* one dataset's frames (wire_dataset.c) */
int	wire_open_encode(struct wbuf *, const struct wire_open *);
int	wire_open_decode(const uint8_t *, size_t, struct wire_open *);
int	wire_have_encode(struct wbuf *, const struct wire_have *);
int	wire_have_decode(const uint8_t *, size_t, struct wire_have *);
int	wire_data_encode(struct wbuf *, const struct wire_data *);
int	wire_data_decode(const uint8_t *, size_t, struct wire_data *);
int	wire_ack_encode(struct wbuf *, const struct wire_ack *);
int	wire_ack_decode(const uint8_t *, size_t, struct wire_ack *);
int	wire_nack_encode(struct wbuf *, const struct wire_nack *);
int	wire_nack_decode(const uint8_t *, size_t, struct wire_nack *);
int	wire_commit_encode(struct wbuf *, const struct wire_commit *);
int	wire_commit_decode(const uint8_t *, size_t, struct wire_commit *);
int	wire_committed_encode(struct wbuf *, const struct wire_committed *);
int	wire_committed_decode(const uint8_t *, size_t, struct wire_committed *);
/* control socket frames (wire_ctl.c) */
int	wire_ctl_req_encode(struct wbuf *, const struct wire_ctl_req *);
int	wire_ctl_req_decode(const uint8_t *, size_t, struct wire_ctl_req *);
int	wire_ctl_reply_encode(struct wbuf *, const struct wire_ctl_reply *);
int	wire_ctl_reply_decode(const uint8_t *, size_t, struct wire_ctl_reply *);

/* Build a wire_str from a C string (no copy). */
struct wire_str wire_str_c(const char *s);
/* Copy s into dst (size dstlen) with a NUL; SL_ETOOBIG if it does not fit. */
int	wire_str_copy(char *dst, size_t dstlen, struct wire_str s);

/* ---- little-endian primitives, used by the journal record codecs ------ */
void	 wire_put_u16(uint8_t *p, uint16_t v);
void	 wire_put_u32(uint8_t *p, uint32_t v);
void	 wire_put_u64(uint8_t *p, uint64_t v);
uint16_t wire_get_u16(const uint8_t *p);
uint32_t wire_get_u32(const uint8_t *p);
uint64_t wire_get_u64(const uint8_t *p);

#endif
