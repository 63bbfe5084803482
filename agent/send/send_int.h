/*
 * send_int.h: the agent role's data, shared by the files of agent/send.
 * Not a public contract (roles.h is); each module's functions are in its
 * own header.  One loop thread touches all of it.  The room's files call
 * one way only, top to bottom:
 *
 *   role_agent.c    start and stop: wires the modules together
 *   send_ops.c      control commands, ingest hand-off, the tick, metrics
 *   send_session.c  the streams' frames: handshake, dispatch, sink errors
 *   send_xfer.c     datasets on the wire: OPEN, HAVE, DATA, ACK, NACK,
 *                   COMMIT, COMMITTED, for each of those in flight
 *   send_sched.c    lanes: which dataset goes on the wire next, and
 *                   whose chunk goes into a stream's free window
 *   send_queue.c    datasets in memory: queue, phases, chunk states,
 *                   journal state and counters
 *   send_link.c     destinations and the session's state machine:
 *                   connect, backoff, fail-over, pauses; tells the role
 *                   about the link through struct link_ops
 *   send_source.c   reading chunks from the source, change detection
 *   send_pull.c     route job: the pull listener, preambles, reports
 *   send_pull_xfer.c  route job: one dataset sent over a connection the
 *                   job's receiver dialled
 */
#ifndef SEND_INT_H
#define SEND_INT_H

#include <stddef.h>
#include <stdint.h>
#include <ev.h>
#include "config.h"
#include "journal.h"
#include "net.h"
#include "retention.h"
#include "wire.h"

struct ingest;
struct ahook;
struct ajob;
struct pull;
struct tls_ctx;
struct stream;
struct stream_pool;
struct link_ops;

enum link_state { LINK_DOWN, LINK_CONNECTING, LINK_UP, LINK_BACKOFF, LINK_WAIT };
enum as_state { AS_NONE, AS_CONNECTING, AS_HELLO, AS_READY };
enum phase { PH_IDLE, PH_OPENING, PH_SENDING, PH_COMMITTING };

/* Per-chunk byte: state in the low bits, flags above. */
#define CS_PENDING	0
#define CS_INFLIGHT	1
#define CS_ACKED	2
#define CS_STATE	0x03
#define CS_HASHED	0x10	/* hash[g] is known */
#define CS_SENT		0x20	/* sent at least once by this process */

struct astream {
	struct agent	*a;
	int		 idx;
	int		 state;
	struct stream	*s;
	uint8_t		*buf;
	int		 buf_busy;
	uint32_t	 inflight;	/* chunks sent, not yet acked */
	uint64_t	 inflight_bytes;
	char		 label[48];
};

struct ads {
	struct ads	*next;
	struct ds_rec	 rec;		/* meta not loaded: nmeta = 0 */
	int		 loaded;
	struct file_rec	*files;
	uint32_t	 nfiles;
	uint8_t		*cst;
	uint8_t		*owner;
	uint64_t	*hash;
	uint64_t	 cursor;	/* no pending chunk below this index */
	uint64_t	 nacked, ninflight;
	int		 phase;
	int		 fd;		/* cached source file */
	uint32_t	 fd_file;
	uint64_t	 sent_d, resent_d, nacked_d;	/* counters not yet journaled */
	/* Acks not yet journaled (flush_counts): the sink's HAVE is what
	 * counts after a crash, so these need not cost an fsync each. */
	struct chunk_ref *pend;
	uint32_t	 npend, apend;
	double		 flushed_at;	/* monotonic */
	double		 t_start;
	uint64_t	 bytes_at_start;
	/* send_sched.c: while in flight */
	int		 lane;		/* LANE_LIVE or LANE_BACKLOG, fixed at admission */
	int		 open_stream;	/* the stream its OPEN went on */
	uint64_t	 left;		/* bytes not yet sent (from HAVE on), shortest first */
	uint64_t	 admitted;	/* admission order: the oldest in flight is guaranteed a share */
};

/* Datasets in flight at once: the ceiling of [agent] max_in_flight. */
#define SEND_MAX_IN_FLIGHT	64
#define SEND_NLANES		2	/* index: lane - LANE_LIVE */

/* A destination: one sink, in the configured priority order. */
struct dest {
	char			 text[256];	/* as configured, "host:port" */
	char			 peer[256];	/* name its certificate must carry */
	struct net_addr		 addr;
	double			 down_since;	/* first failure of this outage, 0 = not down */
	double			 last_try;
	double			 paused_until;	/* sluice pause DEST; 0 = not paused */
};

#define MAX_WINDOWS	32
struct mwindow {
	int			 dest;
	double			 start, end;
};

struct agent {
	struct ev_loop		*loop;
	const struct config	*cfg;
	struct journal		*j;
	struct tls_ctx		*tls;
	struct stream_pool	*pool;		/* DATA encrypted and sent there, or NULL */
	struct ingest		*ingest;
	struct ahook		*hook;		/* NULL: no hook configured */
	struct ajob		*job;		/* route job's submissions (job.h), or NULL */
	struct pull		*pull;		/* route job's listener (send_pull.c), or NULL */
	/* send_ops.c: housekeeping and rates */
	struct spool_use	 spool;		/* last measured; pct -1 = no spool */
	double			 spool_warned;	/* last loud warning */
	unsigned		 ticks;
	uint64_t		 acked_bytes;	/* this process, for rates */
	uint64_t		 rate_ring[300];	/* acked_bytes at each of the last 300 ticks */
	ev_timer		 tick;		/* housekeeping, once a second */
	/* send_link.c: destinations and the session */
	const struct link_ops	*lops;		/* the role's side of the link */
	struct dest		 dests[CFG_MAX_DESTS];
	int			 ndest;
	int			 cur_dest;	/* the session's destination */
	struct mwindow		 windows[MAX_WINDOWS];
	int			 nwindows;
	double			 paused_until;	/* sluice pause (all): 0 = not paused */
	int			 probe;		/* 1 + destination to try once, or 0 */
	int			 link;		/* enum link_state */
	double			 link_since;
	char			 link_why[256];
	double			 backoff;
	ev_timer		 retry;
	ev_timer		 connect_to;
	struct astream		 st[SL_MAX_STREAMS];
	int			 nready;
	/* send_queue.c, send_xfer.c: datasets */
	struct ads		*queue;		/* every dataset not yet published, queue order */
	struct ads		*act[SEND_MAX_IN_FLIGHT];	/* in flight (phase not idle) */
	int			 nact;
	int			 in_next;	/* inside xfer_next (no re-entry) */
	int			 rr;		/* stream the next DATA round starts at */
	/* send_sched.c: the lanes' shares of the link */
	double			 lane_vt[SEND_NLANES];	/* bytes sent / weight */
	int			 lane_busy[SEND_NLANES];	/* had data to send at the last pick */
	uint64_t		 lane_sent[SEND_NLANES];	/* bytes of DATA sent, this process */
	uint64_t		 lane_done[SEND_NLANES];	/* datasets published, this process */
	uint64_t		 lane_picks[SEND_NLANES];	/* chunks picked, for the oldest's turn */
	uint64_t		 admit_seq;
	/* send_sched.c: route job's pull sessions share the lanes */
	struct ads		*pulls[SEND_MAX_IN_FLIGHT];	/* pull datasets sending */
	int			 npulls;
	double			 lane_last[SEND_NLANES];	/* its last chunk (monotonic) */
	double			 lane_grant[SEND_NLANES];	/* last let past the other, stalled */
	int			 sched_wait;	/* SCHED_WAIT_*: who waits for its turn */
	int			 sched_kick;	/* sched_wake set to fire at once */
	ev_timer		 sched_wake;	/* wakes them (at once, or after a stall) */
	void		       (*wake_push)(struct agent *);	/* send_xfer.c's pump */
	void		       (*wake_pull)(struct agent *);	/* the pull sessions' pumps */
};

#endif
