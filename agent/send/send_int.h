/*
 * agent_int.h: what the agent's files share (agent/role_agent.c,
 * agent_source.c, agent_link.c, agent_ops.c).  Not a public contract:
 * roles.h is.  One loop thread touches all of it.
 *
 *   role_agent.c    datasets in memory, the send path, the protocol
 *   agent_source.c  reading chunks from the source, change detection
 *   agent_link.c    destinations, the session, backoff, fail-over
 *   agent_ops.c     control commands, ingest hand-off, housekeeping,
 *                   metrics
 */
#ifndef AGENT_INT_H
#define AGENT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <ev.h>
#include "config.h"
#include "journal.h"
#include "retention.h"
#include "wire.h"

struct ingest;
struct ingest_meta;
struct ahook;
struct tls_ctx;
struct stream;
struct stream_ops;
#include "net.h"
#include "sltime.h"

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
};

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
	struct dest		 dests[CFG_MAX_DESTS];
	int			 ndest;
	int			 cur_dest;	/* the session's destination */
	struct mwindow		 windows[MAX_WINDOWS];
	int			 nwindows;
	double			 paused_until;	/* sluice pause (all): 0 = not paused */
	struct ingest		*ingest;
	struct ahook		*hook;		/* NULL: no hook configured */
	struct spool_use	 spool;		/* last measured; pct -1 = no spool */
	double			 spool_warned;	/* last loud warning */
	unsigned		 ticks;
	uint64_t		 acked_bytes;	/* this process, for rates */
	uint64_t		 rate_ring[300];	/* acked_bytes at each of the last 300 ticks */
	int			 probe;		/* 1 + destination to try once, or 0 */
	ev_timer		 tick;		/* housekeeping, once a second */
	int			 link;
	double			 link_since;
	char			 link_why[256];
	double			 backoff;
	ev_timer		 retry;
	ev_timer		 connect_to;
	struct astream		 st[SL_MAX_STREAMS];
	int			 nready;
	uint16_t		 version;
	struct ads		*queue;		/* oldest first */
	struct ads		*cur;
	int			 rr;
};

/* role_agent.c */
extern const struct stream_ops agent_stream_ops;	/* each stream's callbacks */
struct ads *	ads_new(const struct ds_rec *r);
/* d failed for reason: journal it, tell the sink, drop it, start the next. */
void	fail_dataset(struct agent *a, struct ads *d, const char *reason);
void	flush_counts(struct agent *a, struct ads *d);
void	link_enter(struct agent *a, int state, const char *why);
const char *	link_name(int l);
void	phase_enter(struct agent *a, struct ads *d, int phase);
void	queue_add(struct agent *a, struct ads *d);
/* d's in-flight chunks back to pending; their streams' windows open. */
void	release_inflight(struct agent *a, struct ads *d);
/* With the link up and nothing in progress: OPEN the next eligible dataset. */
void	start_next(struct agent *a);

/* agent_source.c */
/* SL_OK if path is still the file journaled as fr, else SL_ECHANGED + why. */
int	check_unchanged(const struct file_rec *fr, const char *path, char *err, size_t errlen);
/* Global chunk index -> index of the file that holds it. */
uint32_t	chunk_file(const struct ads *d, uint64_t g);
/* pread chunk c of file f into buf (len bytes) and XXH3-64 it. */
int	read_chunk(struct ads *d, uint32_t f, uint32_t c, uint8_t *buf, uint32_t len, uint64_t *hash, char *err, size_t errlen);

/* agent_link.c */
/* Start a session (all streams) to the best destination open now. */
void	connect_all(struct agent *a);
void	connect_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents);
/* 1 when destination i is paused or in a maintenance window (why set). */
int	dest_blocked(const struct agent *a, int i, double now, const char **why);
int	dest_index(const struct agent *a, const char *text);
/* The session failed: close it, back off, count it against the destination. */
void	link_down(struct agent *a, const char *why);
/* Close a working session on purpose and reconnect at once. */
void	link_switch(struct agent *a, const char *why);
int	parse_destinations(struct agent *a, char *err, size_t errlen);
int	parse_maintenance(struct agent *a, char *err, size_t errlen);
/* ISO 8601 UTC ("2026-12-01T08:00:00Z") or epoch seconds; -1 if neither. */
double	parse_time(const char *s);
void	retry_cb(struct ev_loop *loop, ev_timer *w, int revents);
/* 1 when a better destination should be tried now (sets a->probe). */
int	want_failback(struct agent *a);

/* agent_ops.c */
/* ingest_sealed_cb: journal a sealed spool dataset like sluice submit. */
int	ingest_sealed(void *arg, const char *dir, const struct ingest_meta *meta);
/* Once a second: spool marks and retention, blocked destinations, fail-back. */
void	tick_cb(struct ev_loop *loop, ev_timer *w, int revents);
/* agent_ops.c: the Prometheus collector registered with mreg.h. */
void	agent_metrics(void *arg, struct wbuf *out);

#endif
