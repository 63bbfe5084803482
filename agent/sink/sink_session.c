/*
 * sink_session.c: the sink's sessions.  Each accepted connection is a
 * struct sconn on a stream (stream.c: TLS handshake, framing, bounded
 * buffers): CHALLENGE with a fresh nonce -> HELLO (HMAC-checked when TLS
 * is off) -> WELCOME, then the agent's OPEN / DATA / COMMIT / ERROR
 * frames, which it hands to the dataset state machine (sink_dataset.c).
 *
 * Before authentication a connection may send one small HELLO within a
 * hard deadline, in a slot of its own (sink_preauth.c); its agent_id must
 * be the identity that authenticated it (check_identity).  A HELLO starts
 * a new session of its agent, which supersedes that agent's older
 * connections.  Authenticated connections are capped by max_connections;
 * the listener pauses on EMFILE instead of spinning.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digest.h"
#include "fsx.h"
#include "config.h"
#include "log.h"
#include "sink_int.h"


/*
 * A HELLO for stream i of agent X starts a new session of X: the agent
 * tears all its streams down before it reconnects, so an older connection
 * of X on stream i (or one from a session with another stream count) is
 * stale, e.g. the agent was killed and its last DATA frames are still
 * trickling in through kernel or middlebox buffers.  Close it now, so that
 * such frames are not written after the new session's OPEN got its HAVE:
 * the new session sends those chunks itself, and each would land twice
 * (counted as a duplicate).  The agent brings all N streams up before it
 * sends OPEN, so by then every stale connection is closed.
 */
static void
supersede_stale(struct sconn *c, uint32_t idx, uint32_t n)
{
	struct sconn *o;

	c->stream_idx = idx;
	c->nstreams = n;
	for (o = c->sk->conns; o; o = o->next) {
		if (o == c || o->state != SC_READY || strcmp(o->agent, c->agent) != 0 ||
		    stream_state(o->s) == ST_CLOSING)
			continue;
		if (o->stream_idx != idx && o->nstreams == n)
			continue;
		log_info("sink", "conn=%s agent=%s stream=%u/%u superseded by conn=%s "
		    "(new session of the agent): closing it", o->label, log_q(o->agent),
		    o->stream_idx, o->nstreams, c->label);
		preauth_release(o);	/* its slot is the new one's */
		stream_close(o->s, "superseded by a new session of the agent");
	}
}

/* ERROR from the agent: with a dataset id, the agent abandons that
 * dataset (source changed, cancelled) or releases the partial copy a move
 * left here (sink_release.c).  Without one, the agent ends the session. */
static void
on_agent_error(struct sconn *c, const uint8_t *p, uint32_t len)
{
	struct wire_error	 e;

	if (wire_error_decode(p, len, &e) != SL_OK || e.dsid == 0) {
		log_warnx("sink", "conn=%s agent=%s sent ERROR, closing", c->label,
		    log_q(c->agent));
		stream_close(c->s, "peer error");
		return;
	}
	sds_abandon(c, e.dsid, &e.message);
}

/* The codec stays here: the dataset state machine gets messages, and a
 * frame that does not decode ends the session. */
static void
on_dataset_frame(struct sconn *c, int type, const uint8_t *p, uint32_t len)
{
	union {
		struct wire_open	o;
		struct wire_data	d;
		struct wire_commit	c;
	}	m;
	int	rc;

	memset(&m, 0, sizeof(m));
	if (type == WIRE_OPEN)
		rc = wire_open_decode(p, len, &m.o);
	else if (type == WIRE_DATA)
		rc = wire_data_decode(p, len, &m.d);
	else
		rc = wire_commit_decode(p, len, &m.c);
	if (rc != SL_OK) {
		sconn_error(c, 0, rc, "malformed %s: %s", wire_type_name(type),
		    sl_strerror(rc));
		return;
	}
	if (type == WIRE_OPEN) {
		sds_open(c, &m.o);
		wire_open_free(&m.o);
	} else if (type == WIRE_DATA)
		sds_data(c, &m.d);
	else
		sds_commit(c, &m.c);
}

/*
 * Is the agent who its HELLO says?  The identity is what authenticated
 * the connection, never the HELLO alone: with TLS the certificate's
 * subject CN (the handshake verified the certificate against the CA);
 * without TLS the secret the MAC was made with, which is the agent's own
 * (agent_secrets/<id>) or, in the old shared-secret mode, the one secret
 * of every agent (then the id is as good as the secret's holders).  A
 * HELLO whose agent_id is not that identity is refused: ERROR to the
 * agent, a warning here.  SL_OK, or SL_EAUTH with the ERROR sent.
 */
static int
check_identity(struct sconn *c, const struct wire_hello *h)
{
	const struct config	*cfg = c->sk->cfg;
	struct wbuf		 in;
	uint8_t			 mac[SHA256_LEN], own[256];
	const uint8_t		*secret = cfg->secret;
	size_t			 slen = cfg->secret_len;
	const char		*cn;
	char			 why[4096 + 256];
	int			 rc;

	if (cfg->tls) {
		cn = stream_peer_cn(c->s);
		if (cn != NULL && strcmp(cn, c->agent) == 0)
			return SL_OK;
		sconn_error(c, 0, SL_EAUTH, "agent id \"%s\" is not the identity of "
		    "this certificate (CN \"%s\"): the sink takes the identity from "
		    "the certificate; set [daemon] id = %s at the agent or give it a "
		    "certificate with CN=%s", c->agent, cn ? cn : "", cn ? cn : "",
		    c->agent);
		return SL_EAUTH;
	}
	if (cfg->agent_secrets[0] != '\0') {
		rc = config_agent_secret(cfg, c->agent, own, sizeof(own), &slen, why,
		    sizeof(why));
		if (rc != SL_OK) {
			log_warnx("sink", "conn=%s agent=%s authentication failed: %s",
			    c->label, log_q(c->agent), why);
			sconn_error(c, 0, SL_EAUTH, "authentication failed: agent id "
			    "\"%s\" has no secret at the sink, or not this one", c->agent);
			return SL_EAUTH;
		}
		secret = own;
	}
	wbuf_init(&in, 0);
	rc = wire_hello_mac_input(&in, c->nonce, h);
	if (rc == SL_OK)
		rc = hmac_sha256(secret, slen, in.p, in.len, mac);
	wbuf_free(&in);
	explicit_bzero(own, sizeof(own));
	if (rc != SL_OK || h->maclen != WIRE_MAC_LEN ||
	    !digest_equal(mac, h->mac, SHA256_LEN)) {
		log_warnx("sink", "conn=%s agent=%s authentication failed: HELLO MAC "
		    "does not match %s", c->label, log_q(c->agent),
		    secret == own ? "the agent's secret (agent_secrets)" :
		    "the shared secret");
		sconn_error(c, 0, SL_EAUTH, "authentication failed: wrong secret (%s)",
		    secret == own ? "not the sink's secret for this agent id" :
		    "not the sink's shared secret_file");
		return SL_EAUTH;
	}
	return SL_OK;
}

static void
on_hello(struct sconn *c, const uint8_t *p, uint32_t len)
{
	const struct config	*cfg = c->sk->cfg;
	struct wire_hello	 h;
	struct wire_welcome	 w;
	struct wbuf		 b;
	int			 rc;

	rc = wire_hello_decode(p, len, &h);
	if (rc != SL_OK) {
		sconn_error(c, 0, rc, "malformed HELLO: %s", sl_strerror(rc));
		return;
	}
	if (h.version != SL_PROTO_VERSION) {
		sconn_error(c, 0, SL_EPROTO, "protocol version %u not supported (1..1)",
		    h.version);
		return;
	}
	wire_str_copy(c->agent, sizeof(c->agent), h.agent_id);
	rc = check_identity(c, &h);
	if (rc != SL_OK)
		return;
	supersede_stale(c, h.stream, h.nstreams);
	if (preauth_done(c) != SL_OK) {
		sconn_error(c, 0, SL_EAGAIN, "the sink has max_connections = %d "
		    "authenticated connections; try again later",
		    c->sk->cfg->max_connections);
		return;
	}
	memset(&w, 0, sizeof(w));
	w.version = SL_PROTO_VERSION;
	w.sink_id = wire_str_c(cfg->id);
	wbuf_init(&b, 0);
	if (wire_welcome_encode(&b, &w) == SL_OK)
		sconn_send(c, &b);
	wbuf_free(&b);
	log_info("sink", "conn=%s agent=%s stream=%u/%u tls=%s%s%s%s%s", c->label,
	    log_q(c->agent), h.stream, h.nstreams, stream_is_tls(c->s) ? "on" : "off",
	    stream_is_tls(c->s) ? " cn=" : "", stream_is_tls(c->s) ?
	    log_q(stream_peer_cn(c->s)) : "", stream_is_tls(c->s) ? " suite=" : "",
	    stream_cipher(c->s));
	sconn_enter(c, SC_READY);
	/* Authenticated: an idle agent is normal; TCP keepalive finds dead peers. */
	stream_set_idle(c->s, 0);
}

static void
sc_open(struct stream *s, void *arg)
{
	struct sconn		*c = arg;
	struct wire_challenge	 ch;
	struct wbuf		 b;

	memset(&ch, 0, sizeof(ch));
	ch.min_version = SL_PROTO_VERSION;
	ch.max_version = SL_PROTO_VERSION;
	if (digest_random(c->nonce, sizeof(c->nonce)) != SL_OK) {
		stream_close(s, "no randomness");
		return;
	}
	memcpy(ch.nonce, c->nonce, sizeof(ch.nonce));
	ch.sink_id = wire_str_c(c->sk->cfg->id);
	wbuf_init(&b, 0);
	if (wire_challenge_encode(&b, &ch) == SL_OK)
		sconn_send(c, &b);
	wbuf_free(&b);
	sconn_enter(c, SC_CHALLENGED);
}

static void
sc_frame(struct stream *s, const struct wire_hdr *h, const uint8_t *p, void *arg)
{
	struct sconn *c = arg;

	(void)s;
	if (c->state == SC_CLOSING)
		return;
	if (c->state == SC_CHALLENGED) {
		if (h->type == WIRE_HELLO)
			on_hello(c, p, h->len);
		else
			sconn_error(c, 0, SL_EPROTO, "expected HELLO, got %s",
			    wire_type_name(h->type));
		return;
	}
	switch (h->type) {
	case WIRE_OPEN:
	case WIRE_DATA:
	case WIRE_COMMIT:
		on_dataset_frame(c, h->type, p, h->len);
		break;
	case WIRE_ERROR:
		on_agent_error(c, p, h->len);
		break;
	default:
		sconn_error(c, 0, SL_EPROTO, "unexpected %s frame", wire_type_name(h->type));
	}
}

static void
sc_drain(struct stream *s, void *arg)
{
	struct sconn *c = arg;

	if (c->state == SC_CLOSING)
		stream_close(s, "closed after error");
}

static void
sc_close(struct stream *s, const char *why, void *arg)
{
	struct sconn *c = arg;

	(void)s;
	if (strcmp(why, SINK_EVICTED) != 0)
		log_info("sink", "conn=%s agent=%s closed why=%s", c->label,
		    log_q(c->agent), log_q(why));
	else	/* a flood must not flood the log (sink_preauth.c) */
		log_debug("sink", "conn=%s closed why=%s", c->label, log_q(why));
	sconn_deadline(c, 0, NULL);
	if (c->slot == SLOT_AUTH)	/* its agent may have no connection left */
		slim_agent_gone(c->sk, c->agent, c);
	preauth_release(c);
	*c->prevp = c->next;
	if (c->next)
		c->next->prevp = c->prevp;
	c->sk->nconns--;
	free(c->acks);
	free(c);
}

static const struct stream_ops sc_ops = {
	.on_open = sc_open,
	.on_frame = sc_frame,
	.on_drain = sc_drain,
	.on_close = sc_close,
};

void
sess_resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sink *sk = w->data;

	(void)revents;
	ev_io_start(loop, &sk->accept_io);
}

void
sess_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sink	*sk = w->data;
	struct net_addr	 peer;
	int		 fd, rc, i;

	(void)revents;
	for (i = 0; i < 16; i++) {
		rc = net_accept(sk->lfd, &fd, &peer);
		if (rc == SL_EAGAIN)
			return;
		if (rc != SL_OK) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of descriptors: pause instead of spinning. */
				log_warnx("sink", "out of file descriptors, pausing accept "
				    "for 1s");
				ev_io_stop(loop, &sk->accept_io);
				ev_timer_set(&sk->accept_pause, 1.0, 0);
				ev_timer_start(loop, &sk->accept_pause);
			}
			return;
		}
		if (sess_adopt(sk, fd, peer.text) != SL_OK)
			return;
	}
}

/* A connected socket becomes a session as if it had been accepted: the
 * listener's, or one the pull receiver dialled out (sink_pull.c).  The
 * sink stays the TLS server and speaks first (CHALLENGE) either way. */
int
sess_adopt(struct sink *sk, int fd, const char *label)
{
	struct sconn	*c;

	net_tune(fd, 0);
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return SL_ENOMEM;
	}
	c->sk = sk;
	c->serial = ++sk->serials;
	snprintf(c->label, sizeof(c->label), "%s", label);
	c->state = SC_HANDSHAKE;
	/* Until WELCOME: a HELLO's worth of frame (sink_preauth.c). */
	c->s = stream_new(sk->loop, fd, 0, sk->tls, 1, NULL, &sc_ops, c,
	    SINK_PREAUTH_FRAME, sk->cfg->idle_timeout, c->label);
	if (c->s == NULL) {
		free(c);
		return SL_ENOMEM;
	}
	c->next = sk->conns;
	if (c->next)
		c->next->prevp = &c->next;
	c->prevp = &sk->conns;
	sk->conns = c;
	sk->nconns++;
	preauth_accept(c);
	log_debug("sink", "conn=%s accepted", c->label);
	return SL_OK;
}
