/*
 * send_session.c: the frames of the agent's session, as they come in.
 *
 * Each stream of the session (send_link.c opens them) answers the sink's
 * CHALLENGE with a HELLO (an HMAC over the nonce without TLS, the
 * certificate with it) and waits for WELCOME; then the link is told
 * (link_ready).  On a ready session the sink's frames about a dataset go
 * to send_xfer.c; an ERROR fails the dataset it names, or takes the link
 * down when it is about the session or may pass.  Anything out of order
 * takes the link down: a peer is never trusted to be right (STYLE 8).
 */
#include <stdio.h>
#include <string.h>

#include "digest.h"
#include "log.h"
#include "stream.h"
#include "send_int.h"
#include "send_link.h"
#include "send_queue.h"
#include "send_session.h"
#include "send_xfer.h"

static void
on_error(struct agent *a, const uint8_t *p, uint32_t len)
{
	struct wire_error	 e;
	struct ads		*d;
	char			 msg[SL_MAX_MSG + 64];
	int			 code;

	if (wire_error_decode(p, len, &e) != SL_OK) {
		link_down(a, "malformed ERROR");
		return;
	}
	code = -(int)e.code;
	snprintf(msg, sizeof(msg), "sink: %.*s", (int)e.message.len, e.message.p);
	d = e.dsid != 0 ? queue_active(a, e.dsid) : NULL;
	if (d == NULL || sl_err_retryable(code)) {
		log_err("agent", "dest=%s error=%s %s", a->dests[a->cur_dest].text, sl_strerror(code),
		    log_q(msg));
		link_down(a, msg);
		return;
	}
	xfer_fail(a, d, msg);
}

static void
send_hello(struct agent *a, struct astream *as, const uint8_t *p, uint32_t len)
{
	struct wire_challenge	ch;
	struct wire_hello	h;
	struct wbuf		b, mac;

	if (wire_challenge_decode(p, len, &ch) != SL_OK) {
		link_down(a, "malformed CHALLENGE");
		return;
	}
	if (ch.min_version > SL_PROTO_VERSION || ch.max_version < SL_PROTO_VERSION) {
		char why[128];
		snprintf(why, sizeof(why), "sink speaks protocol %u..%u, we speak %u",
		    (unsigned)ch.min_version, (unsigned)ch.max_version, (unsigned)SL_PROTO_VERSION);
		link_down(a, why);
		return;
	}
	memset(&h, 0, sizeof(h));
	h.version = SL_PROTO_VERSION;
	h.stream = (uint16_t)as->idx;
	h.nstreams = (uint16_t)a->cfg->streams;
	h.agent_id = wire_str_c(a->cfg->id);
	if (!a->cfg->tls) {
		wbuf_init(&mac, 0);
		if (wire_hello_mac_input(&mac, ch.nonce, &h) != SL_OK ||
		    hmac_sha256(a->cfg->secret, a->cfg->secret_len, mac.p, mac.len,
		    h.mac) != SL_OK) {
			wbuf_free(&mac);
			link_down(a, "cannot compute HELLO MAC");
			return;
		}
		wbuf_free(&mac);
		h.maclen = WIRE_MAC_LEN;
	}
	wbuf_init(&b, 0);
	if (wire_hello_encode(&b, &h) == SL_OK)
		link_send(a, as, &b);
	wbuf_free(&b);
	as->state = AS_HELLO;
}

static void
as_frame(struct stream *s, const struct wire_hdr *h, const uint8_t *p, void *arg)
{
	struct astream	*as = arg;
	struct agent	*a = as->a;

	(void)s;
	if (as->state == AS_CONNECTING && h->type == WIRE_CHALLENGE) {
		send_hello(a, as, p, h->len);
		return;
	}
	if (as->state == AS_HELLO && h->type == WIRE_WELCOME) {
		link_ready(a, as);
		return;
	}
	if (h->type == WIRE_ERROR) {
		on_error(a, p, h->len);
		return;
	}
	if (as->state != AS_READY || a->link != LINK_UP) {
		link_down(a, "frame out of order during handshake");
		return;
	}
	switch (h->type) {
	case WIRE_HAVE:		xfer_on_have(a, p, h->len); break;
	case WIRE_ACK:		xfer_on_ack(a, p, h->len); break;
	case WIRE_NACK:		xfer_on_nack(a, p, h->len); break;
	case WIRE_COMMITTED:	xfer_on_committed(a, p, h->len); break;
	default: {
		char why[64];
		snprintf(why, sizeof(why), "unexpected %s frame", wire_type_name(h->type));
		link_down(a, why);
	}
	}
}

static void
as_close(struct stream *s, const char *why, void *arg)
{
	struct astream	*as = arg;
	struct agent	*a = as->a;

	char		 msg[SL_MAX_MSG + 1];

	if (as->s != s)
		return;
	as->s = NULL;
	/* With TLS 1.3 the sink checks our certificate after our side of
	 * the handshake is done: a refusal reaches us as an alert or just a
	 * close before the CHALLENGE.  Say what it most likely was. */
	if (a->cfg->tls && as->state == AS_CONNECTING && strstr(why, "refused our "
	    "certificate")) {
		snprintf(msg, sizeof(msg), "the sink refused this agent's TLS certificate "
		    "(is [tls] cert signed by a CA the sink trusts? see the sink's log): %s",
		    why);
		link_down(a, msg);
		return;
	}
	if (a->cfg->tls && as->state == AS_CONNECTING && (strstr(why, "close_notify") ||
	    strstr(why, "reset by peer") || strstr(why, "peer closed"))) {
		snprintf(msg, sizeof(msg), "the sink hung up before its CHALLENGE: it may "
		    "have refused this agent's TLS certificate (see the sink's log): %s", why);
		link_down(a, msg);
		return;
	}
	link_down(a, why);
}

const struct stream_ops session_stream_ops = {
	.on_frame = as_frame,
	.on_close = as_close,
};
