/*
 * wire_fixtures.h: valid messages and hand-built payloads shared by the
 * codec's unit tests (test_wire.c: round trips; test_wire_reject.c: what a
 * hostile peer could send).  wire_fixtures.c holds them.
 */
#ifndef WIRE_FIXTURES_H
#define WIRE_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "sluice.h"
#include "wire.h"

/* A hand-built payload, for frames an honest encoder would refuse. */
struct pb {
	uint8_t	b[8192];
	size_t	n;
};

void pb_u8(struct pb *p, uint8_t v);
void pb_u16(struct pb *p, uint16_t v);
void pb_u32(struct pb *p, uint32_t v);
void pb_u64(struct pb *p, uint64_t v);
void pb_mem(struct pb *p, const void *s, size_t n);
void pb_str(struct pb *p, const char *s, size_t n);
const uint8_t *frame_payload(const struct wbuf *b, uint8_t type, size_t *len);
int streq(struct wire_str s, const char *c);
void fill_statics(void);
void mk_challenge(struct wire_challenge *m);
void mk_hello(struct wire_hello *m);
void mk_open(struct wire_open *o);
int enc_challenge(struct wbuf *b);
int enc_hello(struct wbuf *b);
int enc_hello_nomac(struct wbuf *b);
int enc_welcome(struct wbuf *b);
int enc_open(struct wbuf *b);
int enc_have(struct wbuf *b);
int enc_data(struct wbuf *b);
int enc_ack(struct wbuf *b);
int enc_nack(struct wbuf *b);
int enc_commit(struct wbuf *b);
int enc_committed(struct wbuf *b);
int enc_error(struct wbuf *b);
int enc_ctl_req(struct wbuf *b);
int enc_ctl_reply(struct wbuf *b);
int dec_open(const uint8_t *p, size_t n);
int dec_ack(const uint8_t *p, size_t n);
int dec_ctl_req(const uint8_t *p, size_t n);
int dec_challenge(const uint8_t *p, size_t n);
int dec_hello(const uint8_t *p, size_t n);
int dec_welcome(const uint8_t *p, size_t n);
int dec_have(const uint8_t *p, size_t n);
int dec_data(const uint8_t *p, size_t n);
int dec_nack(const uint8_t *p, size_t n);
int dec_commit(const uint8_t *p, size_t n);
int dec_committed(const uint8_t *p, size_t n);
int dec_error(const uint8_t *p, size_t n);
int dec_ctl_reply(const uint8_t *p, size_t n);

extern uint8_t bitmap10[2];
extern uint8_t digests3[3 * WIRE_DIGEST_LEN];
extern uint8_t chunkbytes[100];
extern struct wire_meta meta2[2];
extern struct wire_file files3[3];
extern struct wire_ack_ent acks3[3];
extern struct wire_str ctlargs3[3];

/* Every message: its type, an encoder of a valid one and a decoder. */
struct msgcase {
	const char	*name;
	uint8_t		 type;
	int		(*enc)(struct wbuf *);
	int		(*dec)(const uint8_t *, size_t);
};
extern const struct msgcase cases[];
extern const size_t ncases;

#endif
