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
#include "sluice.h"
#include "pull.h"
#include "wire.h"

struct agent;
struct ads;
struct stream;
struct tls_ctx;

/* One connection: its own handshake, then a stream of a pull session
 * (JOINED) or a report (REPORT). */
enum ps_state { PS_PREAMBLE, PS_HANDSHAKE, PS_HELLO, PS_JOINED, PS_REPORT, PS_CLOSING };
/* One pull session of a dataset: the n streams with one session number. */
enum pg_state { PG_GATHERING, PG_OPENING, PG_SENDING, PG_COMMITTING, PG_PULLED,
	PG_CLOSING };

struct pbuf {
	struct psess	*ps;
	uint8_t		*p;
	int		 busy;
};

struct psess {
	struct psess	*next, **prevp;
	struct pull	*p;
	int		 state;		/* enum ps_state */
	int		 mode;		/* PULL_MODE_* */
	uint64_t	 dsid;
	uint32_t	 session, idx, n;	/* from the preamble */
	int		 fd;		/* until the stream has it */
	ev_io		 pre_io;
	ev_timer	 pre_to;
	char		 pre[PULL_PREAMBLE_LEN];
	size_t		 npre;
	struct stream	*s;
	char		 label[96];
	/* a stream of a pull session: its window and its send buffers */
	struct pgen	*g;
	uint64_t	 inflight_bytes;
	uint64_t	 chunks;	/* DATA frames queued on it (for its log line) */
	struct pbuf	*bufs;
	int		 nbufs;
};

struct pgen {
	struct pgen	*next, **prevp;
	struct pull	*p;
	int		 state;		/* enum pg_state */
	uint64_t	 dsid;
	uint32_t	 session, n;
	uint32_t	 njoined, nlive;	/* streams joined; not yet closed */
	struct psess	*st[SL_MAX_STREAMS];	/* by index; NULL once closed */
	ev_timer	 gather_to;	/* all n must join in time */
	uint32_t	 rr;		/* the stream pump() fills first */
	char		 label[48];
	/* the dataset and its chunk states (CS_* of send_int.h) */
	struct ads	*d;
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
	struct pgen	*gens;
	uint64_t	 nsessions;
};

/* ---- send_pull_xfer.c: one dataset on a pull session ---- */

const char *px_state_name(int state);		/* enum ps_state */
const char *pg_state_name(int state);		/* enum pg_state */
/* Log and set a connection's, a session's state. */
void	px_enter(struct psess *ps, int state);
void	pg_enter(struct pgen *g, int state);
/* Journal a state change of the session's dataset (reason, published may
 * be NULL) and keep the in-memory copy. */
void	pg_ds_to(struct pgen *g, int state, const char *reason, const char *published);
/* Journal the acks and counters kept in memory. */
void	pg_flush(struct pgen *g);
/* The lanes' wake-up (send_sched.c): every session that is sending fills
 * its windows, as far as its lane's turn allows. */
void	pg_pump_all(struct pull *p);
/* Close a connection (why in the log); its on_close frees it later. */
void	px_close(struct psess *ps, const char *why);
/* Close every stream of g (a session is all its streams or none). */
void	pg_close(struct pgen *g, const char *why);
/* Stream ps of its session closed: flush, close the others, free the
 * session with the last one.  Then free ps's buffers. */
void	px_leave(struct psess *ps, const char *why);
/* The receiver's frames, in order: CHALLENGE (the CN is checked, HELLO
 * sent for stream idx of n), WELCOME (the dataset checked, the stream
 * joins its session; with the n-th, the dataset is loaded and OPEN sent
 * on stream 0), HAVE, ACK, NACK (on the stream that carried the chunk),
 * COMMITTED.  Anything malformed or out of order closes the session. */
void	px_hello(struct psess *ps, const uint8_t *p, uint32_t len);
void	px_join(struct psess *ps);
void	px_have(struct psess *ps, const uint8_t *p, uint32_t len);
void	px_ack(struct psess *ps, const uint8_t *p, uint32_t len);
void	px_nack(struct psess *ps, const uint8_t *p, uint32_t len);
void	px_committed(struct psess *ps, const uint8_t *p, uint32_t len);

#endif
