/*
 * sink_int.h: the sink room's own header, shared by its files only
 * (include/roles.h is what the rest of the daemon sees).
 *
 * The role is layered; each file calls only the ones below it:
 *
 *   role_sink.c     start/stop, control commands, metrics
 *   sink_session.c  accept, CHALLENGE -> HELLO -> WELCOME, frame dispatch
 *   sink_ack.c      writers' and group commit's results: durable -> ACK
 *   sink_release.c  partial copies released by the agent or by partial_ttl
 *   sink_dataset.c  the dataset state machine: OPEN/HAVE, DATA, COMMIT
 *   sink_preauth.c  connections before WELCOME: their slots, frame limit
 *   sink_limits.c   per-agent caps; partial directories of absent agents
 *   sink_open.c     an OPEN prepared on the opener thread (no loop state)
 *   sink_conn.c     a connection's state and the frames it sends
 *
 * under them the role's engines: sink_commit.c (gcommit.h), sink_write.c
 * (swrite.h), sink_verify.c (verify.h), sink_publish.c (publish.h).  What
 * goes up (a chunk written, a batch durable, a timer) comes through the
 * callbacks that role_sink.c registers at start, never by name.
 *
 * Threads: everything here is for the loop thread.
 */
#ifndef SINK_INT_H
#define SINK_INT_H

#include <stdint.h>
#include <ev.h>

#include "config.h"
#include "gcommit.h"
#include "journal.h"
#include "net.h"
#include "stream.h"
#include "swrite.h"
#include "wire.h"
#include "workq.h"

/* Largest frame a peer may send before it is authenticated: a HELLO is
 * about 110 bytes.  Raised to a DATA frame's size at WELCOME. */
#define SINK_PREAUTH_FRAME	4096u
/* Why a pre-auth connection was closed to make room (sink_preauth.c). */
#define SINK_EVICTED	"pre-auth slots full (max_preauth), closed to make room"

enum sc_state { SC_HANDSHAKE, SC_CHALLENGED, SC_READY, SC_CLOSING };

struct sds {
	struct sds	*next;
	struct ds_rec	 rec;		/* meta not kept */
	struct file_rec	*files;
	uint32_t	 nfiles;
	uint8_t		*held;		/* bitmap, global chunk order */
	uint8_t		*made;		/* bitmap by file: its entry is durable
					 * (a chunk of it is); else a chunk
					 * creates it (publish_open_file) */
	int		 pfd;		/* partial directory, -1 when published */
	struct vds	*vd;		/* digests following the transfer, or NULL */
	int		*kfd;		/* by file, or NULL: a one-chunk small file's
					 * fd kept from its write to publication
					 * (-1: none), while vd is (sds_drop_vd) */
	uint32_t	 nwriting;	/* chunks at the writers (swrite.h) */
	uint64_t	 recv_d, dup_d, nack_d;	/* counters not yet journaled */
	uint64_t	 cost;		/* bytes it pins (sink_limits.c) */
	double		 touched;	/* wall time of the last OPEN or DATA (partial_ttl) */
};

/*
 * An OPEN on its way through the opener thread (sink_open.c): built on
 * the loop from the decoded frame (owner, namespace and name checked
 * there), prepared on the thread (manifest checks, journal with the name
 * reserved, partial tree), answered back on the loop (sds_opened).  Until
 * then it is on sk->opening and counts against its agent's caps.
 */
struct sopen {
	struct wq_job	 job;		/* first */
	struct sopen	*next;		/* sk->opening */
	int		 rootfd;	/* the sink's, borrowed */
	struct journal	*j;		/* the sink's, borrowed */
	uint64_t	 conn;		/* serial of the connection to answer */
	char		 agent[SL_MAX_ID + 1];
	struct ds_rec	 rec;		/* from OPEN; then the journal's view */
	struct file_rec	*files;		/* one block, as journal_files_load */
	uint32_t	 nfiles;
	uint64_t	 cost;		/* bytes it will pin (sink_limits.c) */
	int		 nsfd;		/* its namespace (ns_open, on the loop), or -1 */
	char		*abandon;	/* the agent abandoned it meanwhile: why */
	/* results, written by the opener thread */
	int		 ran;		/* 0: never started (stopping) */
	int		 rc;		/* SL_OK, or the error for the agent */
	uint64_t	 err_dsid;	/* 0: a session error */
	int		 pfd;		/* the partial directory, or -1 */
	uint8_t		*held;		/* bitmap of chunks held durable */
	int		 published_now;	/* found published: journaled so */
	char		 err[SL_MAX_MSG];
};

/* A chunk on its way through a writer thread (swrite.h); its stream is
 * held until it comes back. */
struct sjob {
	struct swjob	 w;		/* first: done() gets &w */
	uint64_t	 dsid, conn;	/* looked up again: either may be gone */
	struct stream	*s;		/* held, so still allocated */
};

struct pending_ack {
	uint64_t	dsid;
	uint32_t	file, chunk;
};

struct sconn {
	struct sconn		*next, **prevp;
	struct sink		*sk;
	uint64_t		 serial;	/* names it in a batch that outlives it */
	struct stream		*s;
	int			 state;
	uint8_t			 nonce[WIRE_NONCE_LEN];
	char			 agent[SL_MAX_ID + 1];
	uint32_t		 stream_idx, nstreams;	/* from HELLO */
	uint64_t		 have_wait;	/* dsid whose HAVE waits for a commit */
	char			 label[96];
	struct pending_ack	*acks;
	uint32_t		 nacks, aacks;
	int			 slot;		/* enum sc_slot: which limit counts it */
	ev_timer		 deadline;	/* handshake, or closing: hard */
	char			 why_deadline[96];
};

/* The limit a connection counts against: max_preauth until WELCOME,
 * max_connections after (sink_preauth.c). */
enum sc_slot { SLOT_NONE, SLOT_PREAUTH, SLOT_AUTH };

struct sink {
	struct ev_loop		*loop;
	const struct config	*cfg;
	struct journal		*j;
	struct tls_ctx		*tls;
	struct net_addr		 addr;
	int			 lfd;
	ev_io			 accept_io;
	ev_timer		 accept_pause;
	ev_prepare		 commit;
	int			 rootfd;
	int			 dio;		/* open chunk files O_DIRECT */
	struct verifier		*ver;
	struct swriter		*sw;		/* O_DIRECT writers, NULL = on the loop */
	struct stream_pool	*pool;		/* TLS bulk reads, NULL = on the loop */
	ev_timer		 expire;	/* gives up parked chunks (verify.h) */
	ev_timer		 ttl;		/* partial_ttl (sink_release.c) */
	double			 started;	/* wall time the role started */
	double			 counts_at;	/* counters last journaled, monotonic */
	uint8_t			*bounce;	/* aligned copy of an unaligned chunk */
	uint32_t		 nkept, kept_max;	/* fds in sds.kfd, and how many
							 * may be (RLIMIT_NOFILE) */
	uint32_t		 bounce_len;
	struct sconn		*conns;
	int			 nconns;
	int			 npreauth, nauth;	/* by slot (sink_preauth.c) */
	uint64_t		 nevicted;	/* pre-auth connections closed for room */
	double			 evict_logged_at;	/* monotonic */
	struct workq		*opener;	/* prepares OPENs (sink_open.c) */
	struct sopen		*opening;	/* OPENs at the opener */
	struct sds		*dsets;
	uint64_t		 serials;
	struct gcommit		*gc;		/* fsync + LMDB txn off the loop */
};

/* ---- sink_conn.c: a connection's state and output ---- */

/* Move c to state (enum sc_state), logging the transition. */
void	sconn_enter(struct sconn *c, int state);
/* Queue frame b on c; a failure closes c.  b stays the caller's. */
void	sconn_send(struct sconn *c, struct wbuf *b);
/* Log and send ERROR; a session error (dsid 0) also closes c once it is
 * written. */
void	sconn_error(struct sconn *c, uint64_t dsid, int code, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
/* ERROR for a failed open or write of path: errno e says which code. */
void	sconn_io_error(struct sconn *c, uint64_t dsid, const char *op,
	    const char *path, int e);
/* Queue an ACK for the next batch of c.  SL_OK or SL_ENOMEM. */
int	sconn_ack(struct sconn *c, uint64_t dsid, uint32_t file, uint32_t chunk);
/* Send the queued ACKs of c, one frame per run of a dataset. */
void	sconn_send_acks(struct sconn *c);
/* The connection with that serial, or NULL when it is gone. */
struct sconn *sconn_find(struct sink *sk, uint64_t serial);
/* Close c after secs at the latest, whatever it sends meanwhile (the
 * idle timer restarts on every byte; this one does not).  0: cancel. */
void	sconn_deadline(struct sconn *c, double secs, const char *why);

/* ---- sink_preauth.c: connections before WELCOME ---- */

/* A connection is accepted: make room for it among the max_preauth
 * slots (the oldest pre-auth connection is closed when all are taken),
 * count it and start its handshake deadline. */
void	preauth_accept(struct sconn *c);
/* c authenticated: SL_OK, it now counts against max_connections, may
 * send a DATA frame's worth and has no deadline; SL_EAGAIN (c still
 * pre-auth) when max_connections authenticated connections are there. */
int	preauth_done(struct sconn *c);
/* c goes away (closed, superseded): its slot is free at once. */
void	preauth_release(struct sconn *c);

/* ---- sink_limits.c: per-agent caps, absent agents ---- */

/* Bytes a dataset of nfiles files (plen path bytes), nchunks chunks and
 * nmeta metadata pairs pins while it is held. */
uint64_t slim_cost(uint32_t nfiles, size_t plen, uint64_t nchunks, uint32_t nmeta);
/* May agent hold one more dataset of nfiles files costing cost?  SL_OK,
 * or SL_ETOOBIG with msg naming the limit and its value. */
int	slim_check_open(struct sink *sk, const char *agent, uint32_t nfiles,
	    uint64_t cost, char *msg, size_t msglen);
/* If no connection of agent is left (skip: the one going away), release
 * the partial directory descriptors of its receiving datasets (reopened
 * by slim_attach when it comes back). */
void	slim_agent_gone(struct sink *sk, const char *agent, const struct sconn *skip);
/* Reopen the partial directory of d.  SL_OK, else an sl_err (SL_EPATH:
 * a symlink or a file where it should be; SL_ENOTFOUND: gone; SL_EIO)
 * with msg. */
int	slim_attach(struct sink *sk, struct sds *d, char *msg, size_t msglen);

/* ---- sink_open.c: the opener thread's side of OPEN ---- */

/* Build the job for OPEN o from connection c (loop).  NULL on ENOMEM. */
struct sopen *sopen_new(struct sink *sk, const struct sconn *c,
	    const struct wire_open *o);
void	sopen_free(struct sopen *op);
/* workq run(): check the manifest, journal the dataset, prepare its
 * partial tree and read which chunks are held (opener thread). */
wq_run_fn sopen_run;

/* ---- sink_dataset.c: the dataset state machine ---- */

struct sds *sds_find(struct sink *sk, uint64_t id);
void	sds_free(struct sds *d);
/* Journal the counters of d not yet journaled. */
void	sds_flush_counts(struct sink *sk, struct sds *d);
/* The agent's frames, decoded, from a ready connection c: each is
 * answered on c (HAVE, NACK, COMMITTED, ERROR) or later by sink_ack.c
 * (ACK, a HAVE that waits).  The message is the caller's. */
void	sds_open(struct sconn *c, const struct wire_open *o);
void	sds_data(struct sconn *c, const struct wire_data *wd);
void	sds_commit(struct sconn *c, const struct wire_commit *wc);
/* The agent of c abandons its dataset dsid, for reason msg. */
void	sds_abandon(struct sconn *c, uint64_t dsid, const struct wire_str *msg);
/* The directory of r's namespace beneath the root (the root itself when
 * flat), made when create is set: an fd for ns_close, or -1 with errno. */
int	ns_open(struct sink *sk, const struct ds_rec *r, int create);
void	ns_close(struct sink *sk, int fd);
/* Put a written chunk of d in the group commit; acknowledged to the
 * connection of serial conn once durable.  cached: fd was opened without
 * O_DIRECT; keep: it is not closed after the sync (sds_keep_fd; one of
 * sk->kept_max, counted in sk->nkept by the caller).  SL_OK or SL_ENOMEM (fd is
 * still the caller's). */
int	sds_push(struct sink *sk, struct sds *d, uint32_t file, uint32_t chunk,
	    uint32_t len, uint64_t hash, int fd, int owns_fd, int cached, int keep,
	    uint64_t conn);
/* A batch kept fd of file (gc_ent.keep): into d->kfd for publication, or
 * closed (the batch failed: ok 0; d no longer hashed as it arrives). */
void	sds_keep_fd(struct sink *sk, struct sds *d, uint32_t file, int fd, int ok);
/* Forget d's digests in flight (verifier_drop) and the fds kept for them. */
void	sds_drop_vd(struct sink *sk, struct sds *d);
/* The group commit made a chunk of d durable. */
void	sds_durable(struct sink *sk, struct sds *d, uint32_t file, uint32_t chunk,
	    uint32_t len, uint64_t hash);
/* Answer the HAVEs that waited for chunks on their way to the disk. */
void	sds_have_check(struct sink *sk);
/* workq done(): an OPEN the opener thread prepared (sink_open.c). */
wq_done_fn sds_opened;

/* ---- sink_release.c: partial copies released, or expired by partial_ttl ---- */

/* The agent of c releases (abandons) dataset dsid for reason msg, open in
 * this session or known only from the journal; another agent's dataset
 * is refused with a log line. */
/* The partial_ttl timer: removes partial copies untouched that long, and
 * those of datasets failed that long ago. */
void	srel_expire_cb(struct ev_loop *loop, ev_timer *t, int revents);
/* `sluice release KEY [--agent AGENT]` (control "release" KEY [AGENT]):
 * dataset KEY (a name, or 16 hex digits of an id; AGENT: only that
 * agent's), failed or received from an agent not connected now, is
 * forgotten: its partial tree removed, its name free, a later OPEN of it
 * starts afresh.  SL_OK with msg saying what was done, else msg says why
 * not: SL_ENOTFOUND, SL_ESTATE (published; receiving from a connected
 * agent), SL_EEXIST (the name is ambiguous: msg lists the ids), SL_EAGAIN
 * (chunks of it on their way to the disk), SL_EIO (the journal),
 * SL_ENOMEM. */
int	srel_release(struct sink *sk, const char *key, const char *agent, char *msg,
	    size_t msglen);

/* ---- sink_ack.c: from written to durable to acknowledged ---- */

void	sack_write_done(struct swjob *w, void *arg);	/* swrite.h done() */
gc_done_fn sack_commit_done;				/* gcommit.h done() */
void	sack_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents);
void	sack_expire_cb(struct ev_loop *loop, ev_timer *t, int revents);

/* ---- sink_session.c: accept and handshake ---- */

void	sess_accept_cb(struct ev_loop *loop, ev_io *w, int revents);
void	sess_resume_cb(struct ev_loop *loop, ev_timer *w, int revents);
/* Make the connected socket fd (ownership passes, closed on failure) a
 * session as if accepted; label names it in logs.  SL_OK, SL_ENOMEM. */
int	sess_adopt(struct sink *sk, int fd, const char *label);

#endif
