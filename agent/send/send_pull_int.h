/*
 * send_pull_int.h: the pull listener's data (send_pull.c, the sessions
 * and the listener; send_pull_xfer.c, one dataset on a pull session).
 * Private to agent/send.  Loop thread only.
 */
#ifndef SEND_PULL_INT_H
#define SEND_PULL_INT_H

#include <stddef.h>
#include <stdint.h>
#include <ev.h>
#include "net.h"
#include "pull.h"
#include "wire.h"

struct agent;
struct ads;
struct stream;
struct tls_ctx;

enum ps_state { PS_PREAMBLE, PS_HANDSHAKE, PS_HELLO, PS_OPENING, PS_SENDING,
	PS_COMMITTING, PS_PULLED, PS_REPORT, PS_CLOSING };

struct pbuf {
	struct psess	*ps;
	uint8_t		*p;
	int		 busy;
};

struct psess {
	struct psess	*next, **prevp;
	struct pull	*p;
	int		 state;
	int		 mode;		/* PULL_MODE_* */
	uint64_t	 dsid;
	int		 fd;		/* until the stream has it */
	ev_io		 pre_io;
	ev_timer	 pre_to;
	char		 pre[PULL_PREAMBLE_LEN];
	size_t		 npre;
	struct stream	*s;
	char		 label[96];
	/* a pull: the dataset, its chunk states (CS_* of send_int.h) */
	struct ads	*d;
	uint64_t	 inflight_bytes;
	struct pbuf	*bufs;
	int		 nbufs;
	uint64_t	 sent, resent;	/* not yet journaled */
	double		 t_start;
};

struct pull {
	struct agent	*a;
	struct tls_ctx	*tls;
	struct net_addr	 addr;
	int		 lfd;
	ev_io		 accept_io;
	struct psess	*list;
	uint64_t	 nsessions;
};

/* ---- send_pull_xfer.c: one dataset on a pull session ---- */

const char *px_state_name(int state);		/* enum ps_state */
/* Log and set the session's state. */
void	px_enter(struct psess *ps, int state);
/* Journal a state change of the session's dataset (reason, published may
 * be NULL) and keep the in-memory copy. */
void	px_ds_to(struct psess *ps, int state, const char *reason, const char *published);
/* Journal the acks and counters kept in memory. */
void	px_flush(struct psess *ps);
/* Close the session (why in the log); its on_close frees it later. */
void	px_close(struct psess *ps, const char *why);
/* Free the dataset and the buffers of ps. */
void	px_unload(struct psess *ps);
/* The receiver's frames, in order: CHALLENGE (the CN is checked, HELLO
 * sent), WELCOME (the dataset checked, loaded, OPEN sent), HAVE, ACK,
 * NACK, COMMITTED.  Anything malformed or out of order closes ps. */
void	px_hello(struct psess *ps, const uint8_t *p, uint32_t len);
void	px_open(struct psess *ps);
void	px_have(struct psess *ps, const uint8_t *p, uint32_t len);
void	px_ack(struct psess *ps, const uint8_t *p, uint32_t len);
void	px_nack(struct psess *ps, const uint8_t *p, uint32_t len);
void	px_committed(struct psess *ps, const uint8_t *p, uint32_t len);

#endif
