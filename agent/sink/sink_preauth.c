/*
 * sink_preauth.c: connections before they are authenticated.
 *
 * Until WELCOME a peer is nobody, so it gets little: a frame of at most
 * SINK_PREAUTH_FRAME bytes (a HELLO is about 110; a larger header closes
 * the connection before a byte of its payload is buffered), a hard
 * deadline from accept to WELCOME ([sink] handshake_timeout, default 10s)
 * that no amount of dripped bytes extends (the idle timer restarts on
 * every byte; this one does not), and a slot of its own: at most
 * [sink] max_preauth such connections at once, counted apart from the
 * max_connections authenticated ones.  When every pre-auth slot is taken,
 * a pre-auth connection is closed to make room for the new one rather
 * than the new one refused: the oldest of those from the address that
 * holds the most slots.  A flood from one address (or a few) then evicts
 * only itself, and a slow client holds a slot never past its deadline,
 * while a real agent from elsewhere needs one for a round trip or two.
 * Authenticated agents are never touched by any of it.
 *
 * Which limit counts a connection is its slot (enum sc_slot), moved here
 * only: SLOT_PREAUTH from accept, SLOT_AUTH from WELCOME, SLOT_NONE once
 * it is closed, evicted or superseded (its slot is free at once, while
 * the stream itself goes in the next ev_check pass).
 */
#include <stdio.h>
#include <string.h>

#include "fsx.h"
#include "log.h"
#include "sink_int.h"
#include "sltime.h"

void
preauth_release(struct sconn *c)
{
	if (c->slot == SLOT_PREAUTH)
		c->sk->npreauth--;
	else if (c->slot == SLOT_AUTH)
		c->sk->nauth--;
	c->slot = SLOT_NONE;
}

/* The host part of a connection's label ("addr:port", "[v6]:port"). */
static size_t
host_len(const struct sconn *c)
{
	const char *colon = strrchr(c->label, ':');

	return colon ? (size_t)(colon - c->label) : strlen(c->label);
}

static int
same_host(const struct sconn *a, const struct sconn *b)
{
	size_t n = host_len(a);

	return n == host_len(b) && memcmp(a->label, b->label, n) == 0;
}

/* Close the oldest pre-auth connection of the address that holds the
 * most pre-auth slots.  The list is newest first, so the oldest of an
 * address is the last of it in the list.  O(max_preauth^2), only while
 * the slots are full. */
static int
evict_oldest(struct sink *sk)
{
	struct sconn	*c, *o, *old = NULL;
	int		 n, most = 0;

	for (c = sk->conns; c; c = c->next) {
		if (c->slot != SLOT_PREAUTH)
			continue;
		for (n = 0, o = sk->conns; o; o = o->next)
			n += o->slot == SLOT_PREAUTH && same_host(o, c);
		if (n >= most) {	/* >=: the later in the list, the older */
			most = n;
			old = c;
		}
	}
	if (old == NULL)
		return 0;
	/* A flood evicts thousands a second: one line a second at most. */
	sk->nevicted++;
	if (sl_time_mono() - sk->evict_logged_at >= 1.0) {
		sk->evict_logged_at = sl_time_mono();
		log_warnx("sink", "conn=%s closed before authenticating: all %d pre-auth "
		    "slots taken (max_preauth), its address holds %d of them; %llu "
		    "closed so far", old->label, sk->cfg->max_preauth, most,
		    (unsigned long long)sk->nevicted);
	} else
		log_debug("sink", "conn=%s closed before authenticating (max_preauth)",
		    old->label);
	preauth_release(old);
	stream_close(old->s, SINK_EVICTED);
	return 1;
}

void
preauth_accept(struct sconn *c)
{
	struct sink	*sk = c->sk;
	char		 why[96];

	while (sk->npreauth >= sk->cfg->max_preauth && evict_oldest(sk))
		;
	c->slot = SLOT_PREAUTH;
	sk->npreauth++;
	snprintf(why, sizeof(why), "not authenticated within %gs (handshake_timeout)",
	    sk->cfg->handshake_timeout);
	sconn_deadline(c, sk->cfg->handshake_timeout, why);
}

int
preauth_done(struct sconn *c)
{
	struct sink *sk = c->sk;

	if (sk->nauth >= sk->cfg->max_connections)
		return SL_EAGAIN;
	preauth_release(c);
	c->slot = SLOT_AUTH;
	sk->nauth++;
	sconn_deadline(c, 0, NULL);
	stream_set_max_frame(c->s, WIRE_DATA_PREFIX + SL_MAX_CHUNK);
	if (sk->pool != NULL)	/* DATA of large files: read and decrypted there */
		stream_use_pool(c->s, sk->pool, FSX_DIO_MIN_FILE, 0);
	return SL_OK;
}
