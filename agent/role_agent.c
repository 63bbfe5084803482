/*
 * role_agent.c: the sending side.
 *
 * The agent keeps one *session* with its destination: N parallel streams
 * (config streams), each through CHALLENGE / HELLO / WELCOME.  The link is
 * up only while all N are; losing any one takes the whole session down,
 * puts every in-flight chunk back to pending and reconnects after an
 * exponential backoff with jitter.  One rule, no partial sessions to
 * reason about.
 *
 * Datasets are sent one at a time, oldest first.  For the current one:
 *
 *   IDLE --OPEN--> OPENING --HAVE--> SENDING --all acked, COMMIT-->
 *   COMMITTING --COMMITTED--> (journal: transferred, next dataset)
 *
 * In SENDING, each stream owns one send buffer: a chunk is pread straight
 * into it behind a DATA prefix, hashed with XXH3-64, and queued without a
 * copy; when the socket has taken the last byte the buffer is free for
 * the next chunk.  A stream may have at most `window` chunks sent but not
 * acked.  The sink acks a chunk only once it is durable, so an ACK is
 * journaled as "acked" and the chunk is never sent again, in this session
 * or after a restart (HAVE reports the sink's view after reconnecting).
 *
 * Per-chunk state lives in memory as one byte per chunk (plus its hash);
 * the journal holds only what must survive a crash: which chunks the sink
 * confirmed, and the counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "conn.h"
#include "digest.h"
#include "log.h"
#include "net.h"
#include "pathchk.h"
#include "roles.h"
#include "stream.h"
#include "walk.h"
#include "ingest.h"
#include "retention.h"
#include "metrics.h"
#include "agent_hook.h"

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

static void	link_down(struct agent *, const char *);
static void	pump(struct agent *);
static void	start_next(struct agent *);

static const char *
link_name(int l)
{
	switch (l) {
	case LINK_DOWN:		return "down";
	case LINK_CONNECTING:	return "connecting";
	case LINK_UP:		return "up";
	case LINK_BACKOFF:	return "backoff";
	case LINK_WAIT:		return "waiting";	/* paused or maintenance */
	}
	return "unknown";
}

static const char *
phase_name(int p)
{
	switch (p) {
	case PH_IDLE:		return "idle";
	case PH_OPENING:	return "opening";
	case PH_SENDING:	return "sending";
	case PH_COMMITTING:	return "committing";
	}
	return "unknown";
}

static double
now_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
link_enter(struct agent *a, int state, const char *why)
{
	if (a->link != state)
		log_info("link", "dest=%s state=%s->%s%s%s", a->dests[a->cur_dest].text,
		    link_name(a->link), link_name(state), why ? " why=" : "",
		    why ? log_q(why) : "");
	a->link = state;
	a->link_since = now_wall();
	snprintf(a->link_why, sizeof(a->link_why), "%s", why ? why : "");
}

static void
phase_enter(struct agent *a, struct ads *d, int phase)
{
	log_debug("agent", "dataset=%016llx phase=%s->%s",
	    (unsigned long long)d->rec.id, phase_name(d->phase), phase_name(phase));
	d->phase = phase;
	(void)a;
}

/* Journal a dataset state change; the in-memory copy follows. */
static void
ds_enter(struct agent *a, struct ads *d, int state, const char *reason,
    const char *published)
{
	int rc;

	if (d->rec.state == state && reason == NULL)
		return;
	rc = journal_ds_set_state(a->j, d->rec.id, state, reason, published);
	if (rc != SL_OK)
		log_err("journal", "dataset=%016llx cannot record state %s: %s",
		    (unsigned long long)d->rec.id, ds_state_name(state), sl_strerror(rc));
	log_info("dataset", "dataset=%016llx name=%s state=%s->%s%s%s",
	    (unsigned long long)d->rec.id, log_q(d->rec.name),
	    ds_state_name(d->rec.state), ds_state_name(state),
	    reason ? " reason=" : "", reason ? log_q(reason) : "");
	d->rec.state = state;
}

/* ---- datasets in memory ------------------------------------------------ */

static void
ads_unload(struct ads *d)
{
	if (d->fd != -1)
		close(d->fd);
	d->fd = -1;
	free(d->files);
	free(d->cst);
	free(d->owner);
	free(d->hash);
	d->files = NULL;
	d->cst = NULL;
	d->owner = NULL;
	d->hash = NULL;
	d->loaded = 0;
}

static void
ads_free(struct ads *d)
{
	ads_unload(d);
	free(d);
}

struct load_ctx {
	struct ads	*d;
	int		 bad;
};

static void
load_chunk(uint32_t file, uint32_t chunk, int state, uint64_t hash, int has_hash,
    void *arg)
{
	struct load_ctx	*l = arg;
	struct ads	*d = l->d;
	uint64_t	 g;

	if (file >= d->nfiles || chunk >= d->files[file].nchunks) {
		l->bad = 1;
		return;
	}
	g = d->files[file].first_chunk + chunk;
	if (state == CHUNK_ACKED) {
		d->cst[g] = CS_ACKED;
		d->nacked++;
	}
	if (has_hash) {
		d->hash[g] = hash;
		d->cst[g] |= CS_HASHED;
	}
}

static int
ads_load(struct agent *a, struct ads *d)
{
	struct load_ctx	l = { d, 0 };
	uint64_t	n = d->rec.nchunks;
	int		rc;

	rc = journal_files_load(a->j, d->rec.id, &d->files, &d->nfiles);
	if (rc != SL_OK)
		return rc;
	d->cst = calloc(n ? n : 1, 1);
	d->owner = calloc(n ? n : 1, 1);
	d->hash = calloc(n ? n : 1, sizeof(uint64_t));
	if (d->cst == NULL || d->owner == NULL || d->hash == NULL) {
		ads_unload(d);
		return SL_ENOMEM;
	}
	d->nacked = 0;
	d->ninflight = 0;
	d->cursor = 0;
	rc = journal_chunks_foreach(a->j, d->rec.id, load_chunk, &l);
	if (rc == SL_OK && l.bad)
		rc = SL_EJOURNAL;
	if (rc != SL_OK) {
		ads_unload(d);
		return rc;
	}
	d->loaded = 1;
	return SL_OK;
}

/* Insert in created order: oldest first, or newest first with
 * priority = newest (the latest acquisition is often the one someone is
 * waiting for). */
static void
queue_add(struct agent *a, struct ads *d)
{
	struct ads **pp = &a->queue;
	int newest = a->cfg->priority == PRIO_NEWEST;

	while (*pp && (newest ? (*pp)->rec.created_ns >= d->rec.created_ns :
	    (*pp)->rec.created_ns <= d->rec.created_ns))
		pp = &(*pp)->next;
	d->next = *pp;
	*pp = d;
}

static void
queue_remove(struct agent *a, struct ads *d)
{
	struct ads **pp;

	for (pp = &a->queue; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	if (a->cur == d)
		a->cur = NULL;
}

static struct ads *
ads_new(const struct ds_rec *r)
{
	struct ads *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->rec = *r;
	d->rec.nmeta = 0;
	d->rec.meta = NULL;
	d->fd = -1;
	return d;
}

static int
queue_from_journal(const struct ds_rec *r, void *arg)
{
	struct agent	*a = arg;
	struct ads	*d;

	if (DS_PUBLISHED(r->state) || r->state == DS_FAILED)
		return 0;
	d = ads_new(r);
	if (d == NULL)
		return 1;
	queue_add(a, d);
	return 0;
}

/* Flush the counters we keep in memory between acks. */
static void
flush_counts(struct agent *a, struct ads *d)
{
	int rc;

	if (d->sent_d == 0 && d->resent_d == 0 && d->nacked_d == 0)
		return;
	rc = journal_ds_count(a->j, d->rec.id, d->sent_d, d->resent_d, d->nacked_d);
	if (rc != SL_OK) {
		log_warnx("journal", "dataset=%016llx counters: %s",
		    (unsigned long long)d->rec.id, sl_strerror(rc));
		return;
	}
	d->rec.chunks_sent += d->sent_d;
	d->rec.chunks_resent += d->resent_d;
	d->rec.chunks_nacked += d->nacked_d;
	d->sent_d = d->resent_d = d->nacked_d = 0;
}

static uint32_t chunk_file(const struct ads *, uint64_t);

/* Chunk g of d is no longer in flight on its stream (acked or to resend). */
static void
unflight(struct agent *a, struct ads *d, uint64_t g)
{
	struct astream	*as = &a->st[d->owner[g]];
	uint32_t	 f = chunk_file(d, g);
	uint32_t	 len = wire_chunk_len(d->files[f].size, d->rec.chunk_size,
			    (uint32_t)(g - d->files[f].first_chunk));

	if (as->inflight > 0)
		as->inflight--;
	as->inflight_bytes -= len < as->inflight_bytes ? len : as->inflight_bytes;
	d->ninflight--;
}

/* In-flight chunks of d go back to pending; their streams' windows open. */
static void
release_inflight(struct agent *a, struct ads *d)
{
	uint64_t g;

	for (g = 0; g < d->rec.nchunks && d->ninflight > 0; g++)
		if ((d->cst[g] & CS_STATE) == CS_INFLIGHT) {
			unflight(a, d, g);
			d->cst[g] = (uint8_t)(d->cst[g] & ~CS_STATE);
		}
	d->ninflight = 0;
	d->cursor = 0;
}

/* Tell the sink we abandon dataset d (ERROR with its id), so that it
 * discards the partial copy instead of keeping it forever.  Best effort:
 * a sink that does not hear it keeps the partial directory, never
 * publishes it. */
static void
abandon_at_sink(struct agent *a, struct ads *d, const char *reason)
{
	struct wire_error	e;
	struct wbuf		b;

	if (a->link != LINK_UP || a->st[0].s == NULL || d->phase == PH_IDLE ||
	    d->phase == PH_COMMITTING)
		return;
	e.dsid = d->rec.id;
	e.code = (uint16_t)-SL_ESTATE;
	e.message = wire_str_c(reason);
	if (e.message.len > SL_MAX_MSG)
		e.message.len = SL_MAX_MSG;
	wbuf_init(&b, 0);
	if (wire_error_encode(&b, &e) == SL_OK)
		stream_send_wbuf(a->st[0].s, &b);
	wbuf_free(&b);
}

/* Stop working on d: it failed for a reason an operator must see. */
static void
fail_dataset(struct agent *a, struct ads *d, const char *reason)
{
	abandon_at_sink(a, d, reason);
	if (d->loaded)
		release_inflight(a, d);
	flush_counts(a, d);
	ds_enter(a, d, DS_FAILED, reason, NULL);
	queue_remove(a, d);
	ads_free(d);
	start_next(a);
}

/* ---- source I/O -------------------------------------------------------- */

/* Global chunk index -> file index (binary search on first_chunk, skipping
 * empty files, which own no chunk). */
static uint32_t
chunk_file(const struct ads *d, uint64_t g)
{
	uint32_t lo = 0, hi = d->nfiles;

	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (d->files[mid].first_chunk <= g)
			lo = mid;
		else
			hi = mid;
	}
	while (d->files[lo].nchunks == 0 || g >= d->files[lo].first_chunk +
	    d->files[lo].nchunks)
		lo++;
	return lo;
}

/* Is the file at path still the one journaled as fr?  Size, mtime and
 * inode (a rename over it is a new inode).  SL_OK, SL_ECHANGED or SL_EIO
 * with a sentence naming the file and what changed. */
static int
check_unchanged(const struct file_rec *fr, const char *path, char *err, size_t errlen)
{
	struct stat	st;
	int64_t		mt;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT) {
			snprintf(err, errlen, "%s: vanished during transfer", path);
			return SL_ECHANGED;
		}
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return SL_EIO;
	}
	mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != fr->size ||
	    st.st_ino != fr->ino || mt != fr->mtime_ns) {
		snprintf(err, errlen, "%s: changed during transfer (size %llu -> %llu%s%s%s)",
		    path, (unsigned long long)fr->size, (unsigned long long)st.st_size,
		    (uint64_t)st.st_size > fr->size ? ", grew" :
		    (uint64_t)st.st_size < fr->size ? ", shrank" : "",
		    st.st_ino != fr->ino || !S_ISREG(st.st_mode) ? ", replaced" : "",
		    mt != fr->mtime_ns ? ", modified" : "");
		return SL_ECHANGED;
	}
	return SL_OK;
}

/* Open file f of d (cached), checking it is still what was journaled:
 * on every chunk, so that a change is caught while sending, not only at
 * COMMIT (one lstat per chunk is nothing beside its read). */
static int
source_fd(struct ads *d, uint32_t f, char *err, size_t errlen)
{
	const struct file_rec	*fr = &d->files[f];
	char			 path[2 * SL_MAX_PATH + 2];
	int			 rc;

	snprintf(path, sizeof(path), "%s/%s", d->rec.src, fr->path);
	rc = check_unchanged(fr, path, err, errlen);
	if (rc != SL_OK) {
		if (d->fd != -1)
			close(d->fd);
		d->fd = -1;
		return rc;
	}
	if (d->fd != -1 && d->fd_file == f)
		return d->fd;
	if (d->fd != -1)
		close(d->fd);
	d->fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (d->fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? SL_ECHANGED : SL_EIO;
	}
	d->fd_file = f;
	return d->fd;
}

/* pread a chunk into buf and return its XXH3-64. */
static int
read_chunk(struct ads *d, uint32_t f, uint32_t c, uint8_t *buf, uint32_t len,
    uint64_t *hash, char *err, size_t errlen)
{
	off_t	off = (off_t)c * d->rec.chunk_size;
	size_t	got = 0;
	ssize_t	n;
	int	fd;

	fd = source_fd(d, f, err, errlen);
	if (fd < 0)
		return fd;
	while (got < len) {
		n = pread(fd, buf + got, len - got, off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s/%s: read: %s", d->rec.src,
			    d->files[f].path, strerror(errno));
			return SL_EIO;
		}
		if (n == 0) {
			snprintf(err, errlen, "%s/%s: shrank during transfer",
			    d->rec.src, d->files[f].path);
			return SL_ECHANGED;
		}
		got += (size_t)n;
	}
	*hash = XXH3_64bits(buf, len);
	return SL_OK;
}

/* ---- sending ----------------------------------------------------------- */

static int
next_pending(struct ads *d, uint64_t *gp)
{
	uint64_t g;

	for (g = d->cursor; g < d->rec.nchunks; g++)
		if ((d->cst[g] & CS_STATE) == CS_PENDING) {
			d->cursor = g + 1;
			*gp = g;
			return 1;
		}
	d->cursor = d->rec.nchunks;
	return 0;
}

static void
data_done(void *arg, int sent)
{
	struct astream *as = arg;

	as->buf_busy = 0;
	if (sent)
		pump(as->a);
}

static int
send_chunk(struct agent *a, struct astream *as, struct ads *d, uint64_t g)
{
	struct wire_data	wd;
	char			err[SL_MAX_MSG];
	uint32_t		f, c, len;
	uint64_t		h;
	int			rc;

	f = chunk_file(d, g);
	c = (uint32_t)(g - d->files[f].first_chunk);
	len = wire_chunk_len(d->files[f].size, d->rec.chunk_size, c);
	if (as->buf == NULL) {
		as->buf = malloc(WIRE_DATA_PREFIX + (size_t)a->cfg->chunk_size);
		if (as->buf == NULL)
			return SL_ENOMEM;
	}
	rc = read_chunk(d, f, c, as->buf + WIRE_DATA_PREFIX, len, &h, err, sizeof(err));
	if (rc != SL_OK) {
		log_err("agent", "dataset=%016llx file=%s chunk=%u: %s",
		    (unsigned long long)d->rec.id, log_q(d->files[f].path), c, err);
		if (rc == SL_ECHANGED)
			fail_dataset(a, d, err);
		else
			link_down(a, err);	/* retry later: may be transient */
		return rc;
	}
	if ((d->cst[g] & CS_HASHED) && d->hash[g] != h) {
		snprintf(err, sizeof(err), "%s/%s: chunk %u changed since it was "
		    "last sent", d->rec.src, d->files[f].path, c);
		fail_dataset(a, d, err);
		return SL_ECHANGED;
	}
	memset(&wd, 0, sizeof(wd));
	wd.dsid = d->rec.id;
	wd.file = f;
	wd.chunk = c;
	wd.xxh3 = h;
	wd.len = len;
	wire_data_prefix(as->buf, &wd);
	as->buf_busy = 1;
	rc = stream_send_ref(as->s, as->buf, WIRE_DATA_PREFIX + (size_t)len,
	    data_done, as);
	if (rc != SL_OK) {
		as->buf_busy = 0;
		return rc;
	}
	if (d->cst[g] & CS_SENT)
		d->resent_d++;
	d->sent_d++;
	d->hash[g] = h;
	d->cst[g] = CS_INFLIGHT | CS_HASHED | CS_SENT;
	d->owner[g] = (uint8_t)as->idx;
	as->inflight++;
	as->inflight_bytes += len;
	d->ninflight++;
	return SL_OK;
}

static void send_commit(struct agent *, struct ads *);

/* A stream may have `window` chunks' worth of bytes sent and not acked.
 * Counting bytes rather than chunks lets small files pipeline deeply (a
 * 64 KiB file is not worth a whole 8 MiB slot), capped in count so that
 * one ACK batch stays small. */
#define WINDOW_MAX_CHUNKS	4096
static int
window_open(const struct agent *a, const struct astream *as)
{
	return as->inflight < WINDOW_MAX_CHUNKS &&
	    as->inflight_bytes < (uint64_t)a->cfg->window * a->cfg->chunk_size;
}

static void
pump(struct agent *a)
{
	struct ads	*d = a->cur;
	struct astream	*as;
	uint64_t	 g;
	int		 i, progress, n = a->cfg->streams;

	if (a->link != LINK_UP || d == NULL || d->phase != PH_SENDING)
		return;
	do {
		progress = 0;
		for (i = 0; i < n; i++) {
			as = &a->st[(a->rr + i) % n];
			if (as->state != AS_READY || as->buf_busy ||
			    !window_open(a, as))
				continue;
			if (!next_pending(d, &g))
				goto done;
			if (send_chunk(a, as, d, g) != SL_OK)
				return;		/* d or the link may be gone */
			progress = 1;
		}
		a->rr = (a->rr + 1) % n;
	} while (progress);
done:
	if (d->nacked == d->rec.nchunks)
		send_commit(a, d);
}

/* ---- protocol ------------------------------------------------------------ */

static void
send_frame(struct agent *a, struct astream *as, struct wbuf *b)
{
	if (stream_send_wbuf(as->s, b) != SL_OK)
		link_down(a, "cannot queue a frame");
}

static void
send_open(struct agent *a, struct ads *d)
{
	struct wire_open	 o;
	struct ds_rec		 full;
	struct wbuf		 b;
	uint32_t		 i;
	int			 rc;

	memset(&full, 0, sizeof(full));
	rc = journal_ds_get(a->j, d->rec.id, &full);
	if (rc != SL_OK) {
		log_err("journal", "dataset=%016llx: %s", (unsigned long long)d->rec.id,
		    sl_strerror(rc));
		return;
	}
	memset(&o, 0, sizeof(o));
	o.dsid = d->rec.id;
	o.name = wire_str_c(d->rec.name);
	o.chunk_size = d->rec.chunk_size;
	o.total_bytes = d->rec.bytes;
	o.nfiles = d->nfiles;
	o.files = calloc(d->nfiles ? d->nfiles : 1, sizeof(*o.files));
	o.nmeta = full.nmeta;
	o.meta = calloc(full.nmeta ? full.nmeta : 1, sizeof(*o.meta));
	if (o.files == NULL || o.meta == NULL) {
		rc = SL_ENOMEM;
		goto out;
	}
	for (i = 0; i < d->nfiles; i++) {
		o.files[i].path = wire_str_c(d->files[i].path);
		o.files[i].size = d->files[i].size;
		o.files[i].mode = d->files[i].mode;
	}
	for (i = 0; i < full.nmeta; i++) {
		o.meta[i].key = wire_str_c(full.meta[i][0]);
		o.meta[i].val = wire_str_c(full.meta[i][1]);
	}
	wbuf_init(&b, 0);
	rc = wire_open_encode(&b, &o);
	if (rc == SL_OK) {
		send_frame(a, &a->st[0], &b);
		phase_enter(a, d, PH_OPENING);
	}
	wbuf_free(&b);
out:
	free(o.files);
	free(o.meta);
	ds_rec_free(&full);
	if (rc != SL_OK) {
		char why[128];
		snprintf(why, sizeof(why), "cannot encode OPEN: %s", sl_strerror(rc));
		fail_dataset(a, d, why);
	}
}

static int	want_failback(struct agent *);
static void	link_switch(struct agent *, const char *);

/* Pick the oldest dataset this destination may take and OPEN it. */
static void
start_next(struct agent *a)
{
	struct ads	*d, *next;
	const char	*here;
	char		 note[600];
	int		 rc;

	if (a->link != LINK_UP || a->cur != NULL)
		return;
	if (want_failback(a)) {
		link_switch(a, "trying a preferred destination again");
		return;
	}
	here = a->dests[a->cur_dest].text;
	for (d = a->queue; d != NULL; d = next) {
		next = d->next;
		/* COMMIT went to another destination: only it may answer. */
		if (d->rec.state == DS_COMMITTING && d->rec.dest[0] &&
		    strcmp(d->rec.dest, here) != 0)
			continue;
		if (!d->loaded) {
			rc = ads_load(a, d);
			if (rc != SL_OK) {
				char why[128];
				snprintf(why, sizeof(why), "cannot load from journal: %s",
				    sl_strerror(rc));
				ds_enter(a, d, DS_FAILED, why, NULL);
				queue_remove(a, d);
				ads_free(d);
				continue;
			}
		}
		if (strcmp(d->rec.dest, here) != 0) {
			if (d->rec.dest[0]) {
				snprintf(note, sizeof(note), "moved from %s to %s (%s "
				    "unavailable); resent from the start there; the "
				    "partial copy at %s is never committed", d->rec.dest,
				    here, d->rec.dest, d->rec.dest);
				log_warnx("dataset", "dataset=%016llx name=%s %s",
				    (unsigned long long)d->rec.id, log_q(d->rec.name), note);
			}
			rc = journal_ds_note(a->j, d->rec.id, d->rec.dest[0] ? note : NULL,
			    here);
			if (rc != SL_OK)
				log_err("journal", "dataset=%016llx bind: %s",
				    (unsigned long long)d->rec.id, sl_strerror(rc));
			snprintf(d->rec.dest, sizeof(d->rec.dest), "%s", here);
		}
		a->cur = d;
		if (d->rec.state == DS_QUEUED)
			ds_enter(a, d, DS_TRANSFERRING, NULL, NULL);
		d->t_start = now_wall();
		d->bytes_at_start = d->rec.bytes_acked;
		send_open(a, d);
		return;
	}
}

/* Per-file digest: XXH3-128 over the chunk hashes as u64 LE. */
static void
file_digest(const struct ads *d, uint32_t f, uint8_t out[WIRE_DIGEST_LEN])
{
	XXH3_state_t	*st = XXH3_createState();
	XXH128_canonical_t canon;
	uint8_t		 le[8];
	uint64_t	 g;

	XXH3_128bits_reset(st);
	for (g = d->files[f].first_chunk;
	    g < d->files[f].first_chunk + d->files[f].nchunks; g++) {
		wire_put_u64(le, d->hash[g]);
		XXH3_128bits_update(st, le, sizeof(le));
	}
	XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(st));
	memcpy(out, canon.digest, WIRE_DIGEST_LEN);
	XXH3_freeState(st);
}

static void
send_commit(struct agent *a, struct ads *d)
{
	struct wire_commit	 wc;
	struct wbuf		 b;
	uint8_t			*dig, *tmp = NULL;
	char			 err[SL_MAX_MSG], path[2 * SL_MAX_PATH + 2];
	uint32_t		 f, c;
	uint64_t		 g, h;
	int			 rc;

	if (d->phase == PH_COMMITTING)
		return;
	flush_counts(a, d);
	/* The source must still be what we sent (STYLE: detect, say why). */
	for (f = 0; f < d->nfiles; f++) {
		snprintf(path, sizeof(path), "%s/%s", d->rec.src, d->files[f].path);
		if (check_unchanged(&d->files[f], path, err, sizeof(err)) != SL_OK) {
			fail_dataset(a, d, err);
			return;
		}
	}
	/* Chunks acked in an earlier life (HAVE) may have no known hash. */
	for (g = 0; g < d->rec.nchunks; g++) {
		if (d->cst[g] & CS_HASHED)
			continue;
		if (tmp == NULL && (tmp = malloc(d->rec.chunk_size)) == NULL) {
			link_down(a, "out of memory");
			return;
		}
		f = chunk_file(d, g);
		c = (uint32_t)(g - d->files[f].first_chunk);
		rc = read_chunk(d, f, c, tmp, wire_chunk_len(d->files[f].size,
		    d->rec.chunk_size, c), &h, err, sizeof(err));
		if (rc != SL_OK) {
			free(tmp);
			fail_dataset(a, d, err);
			return;
		}
		d->hash[g] = h;
		d->cst[g] |= CS_HASHED;
	}
	free(tmp);
	dig = malloc((size_t)d->nfiles * WIRE_DIGEST_LEN + 1);
	if (dig == NULL) {
		link_down(a, "out of memory");
		return;
	}
	for (f = 0; f < d->nfiles; f++)
		file_digest(d, f, dig + (size_t)f * WIRE_DIGEST_LEN);
	wc.dsid = d->rec.id;
	wc.nfiles = d->nfiles;
	wc.digests = dig;
	wbuf_init(&b, 0);
	rc = wire_commit_encode(&b, &wc);
	free(dig);
	if (rc != SL_OK) {
		wbuf_free(&b);
		fail_dataset(a, d, "cannot encode COMMIT");
		return;
	}
	phase_enter(a, d, PH_COMMITTING);
	ds_enter(a, d, DS_COMMITTING, NULL, NULL);
	send_frame(a, &a->st[0], &b);
	wbuf_free(&b);
}

/* The sink published d: journal it (hook_pending when a hook is
 * configured, so that a crash right here still runs the hook), hand it to
 * the hook schedule, and move on to the next dataset. */
static void
published(struct agent *a, struct ads *d, const char *path)
{
	uint64_t id = d->rec.id;

	a->backoff = 0;		/* progress */
	ds_enter(a, d, a->hook ? DS_HOOK_PENDING : DS_TRANSFERRED, NULL, path);
	queue_remove(a, d);
	ads_free(d);
	if (a->hook)
		ahook_published(a->hook, id);
	start_next(a);
}

static void
on_have(struct agent *a, struct astream *as, const uint8_t *p, uint32_t len)
{
	struct ads		*d = a->cur;
	struct wire_have	 h;
	struct chunk_ref	*refs;
	uint64_t		 g, nheld = 0, nlost = 0;
	uint32_t		 n = 0, f;
	int			 rc;

	rc = wire_have_decode(p, len, &h);
	if (rc != SL_OK || d == NULL || h.dsid != d->rec.id || d->phase != PH_OPENING) {
		link_down(a, rc != SL_OK ? "malformed HAVE" : "unexpected HAVE");
		return;
	}
	(void)as;
	if (h.status == WIRE_HAVE_PUBLISHED) {
		/* Published in an earlier session whose COMMITTED we missed. */
		char path[SL_MAX_PATH + 1];
		snprintf(path, sizeof(path), "%s", d->rec.name);
		published(a, d, path);
		return;
	}
	if (h.nchunks != d->rec.nchunks) {
		link_down(a, "HAVE chunk count does not match the manifest");
		return;
	}
	refs = calloc(d->rec.nchunks ? d->rec.nchunks : 1, sizeof(*refs));
	if (refs == NULL) {
		link_down(a, "out of memory");
		return;
	}
	for (g = 0; g < d->rec.nchunks; g++) {
		int held = (h.bitmap[g / 8] >> (g % 8)) & 1;
		int st = d->cst[g] & CS_STATE;

		if (held) {
			nheld++;
			if (st != CS_ACKED) {
				f = chunk_file(d, g);
				refs[n].file = f;
				refs[n].chunk = (uint32_t)(g - d->files[f].first_chunk);
				refs[n].hash = d->hash[g];
				refs[n].has_hash = !!(d->cst[g] & CS_HASHED);
				n++;
				d->cst[g] = (uint8_t)((d->cst[g] & ~CS_STATE) | CS_ACKED);
				d->nacked++;
			}
		} else if (st == CS_ACKED) {
			/* The sink lost what it once confirmed (its journal was
			 * reset?): send it again rather than publish a hole. */
			nlost++;
			d->cst[g] = (uint8_t)(d->cst[g] & ~CS_STATE);
			d->nacked--;
		}
	}
	if (n > 0 && (rc = journal_chunks_ack(a->j, d->rec.id, refs, n)) != SL_OK)
		log_err("journal", "dataset=%016llx ack: %s",
		    (unsigned long long)d->rec.id, sl_strerror(rc));
	free(refs);
	if (nlost)
		log_warnx("agent", "dataset=%016llx sink no longer holds %llu chunks "
		    "it acked; resending them", (unsigned long long)d->rec.id,
		    (unsigned long long)nlost);
	log_info("agent", "dataset=%016llx name=%s sink_holds=%llu/%llu chunks",
	    (unsigned long long)d->rec.id, log_q(d->rec.name),
	    (unsigned long long)nheld, (unsigned long long)d->rec.nchunks);
	d->cursor = 0;
	phase_enter(a, d, PH_SENDING);
	pump(a);
}

static void
on_ack(struct agent *a, struct astream *as, const uint8_t *p, uint32_t len)
{
	struct ads		*d = a->cur;
	struct wire_ack		 k;
	struct chunk_ref	*refs;
	uint32_t		 i, n = 0;
	uint64_t		 g;
	int			 rc;

	memset(&k, 0, sizeof(k));
	rc = wire_ack_decode(p, len, &k);
	if (rc != SL_OK) {
		link_down(a, "malformed ACK");
		return;
	}
	if (d == NULL || k.dsid != d->rec.id) {
		/* Late ack for a dataset we already finished or dropped. */
		wire_ack_free(&k);
		return;
	}
	refs = calloc(k.n ? k.n : 1, sizeof(*refs));
	if (refs == NULL) {
		wire_ack_free(&k);
		link_down(a, "out of memory");
		return;
	}
	for (i = 0; i < k.n; i++) {
		uint32_t f = k.ents[i].file, c = k.ents[i].chunk;

		if (f >= d->nfiles || c >= d->files[f].nchunks) {
			free(refs);
			wire_ack_free(&k);
			link_down(a, "ACK for a chunk outside the manifest");
			return;
		}
		g = d->files[f].first_chunk + c;
		if ((d->cst[g] & CS_STATE) == CS_ACKED)
			continue;
		if ((d->cst[g] & CS_STATE) == CS_INFLIGHT)
			unflight(a, d, g);
		d->cst[g] = (uint8_t)((d->cst[g] & ~CS_STATE) | CS_ACKED);
		d->nacked++;
		a->acked_bytes += wire_chunk_len(d->files[f].size, d->rec.chunk_size, c);
		refs[n].file = f;
		refs[n].chunk = c;
		refs[n].hash = d->hash[g];
		refs[n].has_hash = !!(d->cst[g] & CS_HASHED);
		n++;
	}
	wire_ack_free(&k);
	if (n > 0)
		a->backoff = 0;		/* progress */
	if (n > 0 && (rc = journal_chunks_ack(a->j, d->rec.id, refs, n)) != SL_OK)
		log_err("journal", "dataset=%016llx ack: %s",
		    (unsigned long long)d->rec.id, sl_strerror(rc));
	free(refs);
	flush_counts(a, d);
	(void)as;
	pump(a);
}

static void
on_nack(struct agent *a, const uint8_t *p, uint32_t len)
{
	struct ads		*d = a->cur;
	struct wire_nack	 k;
	uint64_t		 g;

	if (wire_nack_decode(p, len, &k) != SL_OK) {
		link_down(a, "malformed NACK");
		return;
	}
	if (d == NULL || k.dsid != d->rec.id)
		return;
	if (k.file >= d->nfiles || k.chunk >= d->files[k.file].nchunks) {
		link_down(a, "NACK for a chunk outside the manifest");
		return;
	}
	g = d->files[k.file].first_chunk + k.chunk;
	log_warnx("agent", "dataset=%016llx file=%s chunk=%u nacked=%.*s, resending",
	    (unsigned long long)d->rec.id, log_q(d->files[k.file].path), k.chunk,
	    (int)k.reason.len, k.reason.p);
	if ((d->cst[g] & CS_STATE) == CS_INFLIGHT) {
		unflight(a, d, g);
		d->cst[g] = (uint8_t)(d->cst[g] & ~CS_STATE);
		if (g < d->cursor)
			d->cursor = g;
		d->nacked_d++;
	}
	pump(a);
}

static void
on_committed(struct agent *a, const uint8_t *p, uint32_t len)
{
	struct ads		*d = a->cur;
	struct wire_committed	 c;
	char			 path[SL_MAX_PATH + 1];
	double			 dt;

	if (wire_committed_decode(p, len, &c) != SL_OK) {
		link_down(a, "malformed COMMITTED");
		return;
	}
	if (d == NULL || c.dsid != d->rec.id || d->phase != PH_COMMITTING)
		return;
	if (wire_str_copy(path, sizeof(path), c.path) != SL_OK)
		snprintf(path, sizeof(path), "%s", d->rec.name);
	dt = now_wall() - d->t_start;
	log_info("dataset", "dataset=%016llx name=%s published=%s bytes=%llu "
	    "seconds=%.3f mb_per_s=%.1f resent=%llu", (unsigned long long)d->rec.id,
	    log_q(d->rec.name), log_q(path), (unsigned long long)d->rec.bytes, dt,
	    dt > 0 ? (double)(d->rec.bytes - d->bytes_at_start) / dt / 1e6 : 0.0,
	    (unsigned long long)d->rec.chunks_resent);
	published(a, d, path);
}

static void
on_error(struct agent *a, const uint8_t *p, uint32_t len)
{
	struct wire_error	 e;
	struct ads		*d = a->cur;
	char			 msg[SL_MAX_MSG + 64];
	int			 code;

	if (wire_error_decode(p, len, &e) != SL_OK) {
		link_down(a, "malformed ERROR");
		return;
	}
	code = -(int)e.code;
	snprintf(msg, sizeof(msg), "sink: %.*s", (int)e.message.len, e.message.p);
	if (e.dsid == 0 || d == NULL || e.dsid != d->rec.id || sl_err_retryable(code)) {
		log_err("agent", "dest=%s error=%s %s", a->dests[a->cur_dest].text, sl_strerror(code),
		    log_q(msg));
		link_down(a, msg);
		return;
	}
	fail_dataset(a, d, msg);
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
		    ch.min_version, ch.max_version, SL_PROTO_VERSION);
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
		send_frame(a, as, &b);
	wbuf_free(&b);
	as->state = AS_HELLO;
}

static void
link_up(struct agent *a)
{
	struct dest *dd = &a->dests[a->cur_dest];

	/* The backoff is not reset here: a sink that accepts and then refuses
	 * (disk full) would be hammered.  Progress resets it (on_ack,
	 * published), or a session that stays up (tick_cb). */
	ev_timer_stop(a->loop, &a->connect_to);
	if (dd->down_since != 0)
		log_info("link", "dest=%s back after %.0fs down", dd->text,
		    now_wall() - dd->down_since);
	dd->down_since = 0;
	link_enter(a, LINK_UP, NULL);
	start_next(a);
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
		as->state = AS_READY;
		if (++a->nready == a->cfg->streams)
			link_up(a);
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
	case WIRE_HAVE:		on_have(a, as, p, h->len); break;
	case WIRE_ACK:		on_ack(a, as, p, h->len); break;
	case WIRE_NACK:		on_nack(a, p, h->len); break;
	case WIRE_COMMITTED:	on_committed(a, p, h->len); break;
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

	if (as->s == s) {
		as->s = NULL;
		link_down(a, why);
	}
}

static const struct stream_ops as_ops = {
	.on_frame = as_frame,
	.on_close = as_close,
};

/* ---- destinations ----------------------------------------------------
 *
 * Policy (README, "Destinations"): the agent keeps one session, to the
 * first destination in priority order that is neither paused nor in a
 * maintenance window and has not been down longer than failover_after.
 * While it works from a lower one it tries the better ones again at
 * dataset boundaries, at most once per probe interval, and goes back as
 * soon as one answers.  A dataset that sent COMMIT to a destination is
 * bound to it and waits for it: it can never be published twice.  One
 * still moving may be resent from the start to another destination; the
 * old partial copy is never committed, and the move is in its history.
 */
static int
dest_blocked(const struct agent *a, int i, double now, const char **why)
{
	int w;

	if (a->paused_until > now) {
		*why = "paused";
		return 1;
	}
	if (a->dests[i].paused_until > now) {
		*why = "paused";
		return 1;
	}
	for (w = 0; w < a->nwindows; w++)
		if (a->windows[w].dest == i && a->windows[w].start <= now &&
		    now < a->windows[w].end) {
			*why = "maintenance";
			return 1;
		}
	return 0;
}

/* The destination to work with now, or -1 when all are blocked. */
static int
choose_dest(struct agent *a, double now)
{
	const char	*why;
	int		 i, fallback = -1;

	for (i = 0; i < a->ndest; i++) {
		if (dest_blocked(a, i, now, &why))
			continue;
		if (a->dests[i].down_since == 0 ||
		    now - a->dests[i].down_since < a->cfg->failover_after)
			return i;
		if (fallback == -1)
			fallback = i;
	}
	/* Every open one is down past the threshold: keep trying the best. */
	return fallback;
}

/* Seconds until the blocking of every destination may change. */
static double
next_unblock(const struct agent *a, double now)
{
	double	t = 3600;
	int	i, w;

	if (a->paused_until > now)
		t = fmin(t, a->paused_until - now);
	for (i = 0; i < a->ndest; i++)
		if (a->dests[i].paused_until > now)
			t = fmin(t, a->dests[i].paused_until - now);
	for (w = 0; w < a->nwindows; w++) {
		if (a->windows[w].start > now)
			t = fmin(t, a->windows[w].start - now);
		if (a->windows[w].end > now)
			t = fmin(t, a->windows[w].end - now);
	}
	return fmax(t, 0.05);
}

static void
connect_all(struct agent *a)
{
	struct dest	*dd;
	char		 err[256];
	double		 now = now_wall();
	int		 i, fd, rc, next;

	next = choose_dest(a, now);
	if (a->probe > 0) {
		/* want_failback asked for one attempt at a better destination,
		 * even if it is past its failover threshold. */
		next = a->probe - 1;
		a->probe = 0;
	}
	if (next < 0) {
		double t = next_unblock(a, now);
		link_enter(a, LINK_WAIT, a->paused_until > now ? "paused" :
		    "every destination paused or in maintenance");
		log_info("link", "no destination open, checking again in %.0fs", t);
		ev_timer_set(&a->retry, t, 0);
		ev_timer_start(a->loop, &a->retry);
		return;
	}
	if (next != a->cur_dest)
		log_warnx("link", "dest=%s -> dest=%s (%s)", a->dests[a->cur_dest].text,
		    a->dests[next].text, next > a->cur_dest ? "failing over" :
		    "back to a preferred destination");
	a->cur_dest = next;
	dd = &a->dests[next];
	dd->last_try = now;
	link_enter(a, LINK_CONNECTING, NULL);
	a->nready = 0;
	for (i = 0; i < a->cfg->streams; i++) {
		struct astream *as = &a->st[i];

		rc = net_connect(&dd->addr, &fd, err, sizeof(err));
		if (rc != SL_OK) {
			link_down(a, err);
			return;
		}
		net_tune(fd, a->cfg->sndbuf);
		snprintf(as->label, sizeof(as->label), "%s#%d", a->dests[a->cur_dest].text, i);
		as->state = AS_CONNECTING;
		as->inflight = 0;
		as->inflight_bytes = 0;
		as->s = stream_new(a->loop, fd, 1, a->tls, 0, dd->peer, &as_ops, as,
		    SL_MAX_FRAME, 0, as->label);
		if (as->s == NULL) {
			as->state = AS_NONE;
			link_down(a, "out of memory");
			return;
		}
	}
	ev_timer_set(&a->connect_to, 15.0, 0);
	ev_timer_start(a->loop, &a->connect_to);
}

static void
retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop; (void)revents;
	connect_all(w->data);
}

static void
connect_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop; (void)revents;
	link_down(w->data, "session setup timed out");
}

/* Tear the session down and schedule a reconnect: exponential backoff
 * from reconnect_min to reconnect_max, times a random factor in
 * [0.5, 1.0) so that many agents do not reconnect in lockstep. */
static void
link_close(struct agent *a, const char *why, int failed)
{
	struct ads	*d = a->cur;
	uint32_t	 r;
	double		 delay;
	int		 i;

	if (a->link == LINK_BACKOFF || a->link == LINK_DOWN || a->link == LINK_WAIT)
		return;
	if (failed && a->dests[a->cur_dest].down_since == 0)
		a->dests[a->cur_dest].down_since = now_wall();
	ev_timer_stop(a->loop, &a->connect_to);
	for (i = 0; i < a->cfg->streams; i++) {
		struct stream *s = a->st[i].s;

		a->st[i].s = NULL;
		a->st[i].state = AS_NONE;
		a->st[i].inflight = 0;
		a->st[i].inflight_bytes = 0;
		if (s)
			stream_close(s, why);
	}
	a->nready = 0;
	if (d) {
		release_inflight(a, d);
		flush_counts(a, d);
		phase_enter(a, d, PH_IDLE);
		a->cur = NULL;	/* start_next picks it again: oldest first */
	}
	if (failed) {
		a->backoff = a->backoff == 0 ? a->cfg->reconnect_min :
		    fmin(a->backoff * 2, a->cfg->reconnect_max);
		digest_random(&r, sizeof(r));
		delay = a->backoff * (0.5 + 0.5 * (r / 4294967296.0));
	} else
		delay = 0.01;	/* a deliberate switch: go now */
	link_enter(a, LINK_BACKOFF, why);
	log_info("link", "dest=%s retry_in=%.2fs", a->dests[a->cur_dest].text, delay);
	ev_timer_set(&a->retry, delay, 0);
	ev_timer_start(a->loop, &a->retry);
}

/* The session failed: back off, and count the outage against the
 * destination (failover_after). */
static void
link_down(struct agent *a, const char *why)
{
	link_close(a, why, 1);
}

/* Close a working session on purpose (pause, failing back). */
static void
link_switch(struct agent *a, const char *why)
{
	link_close(a, why, 0);
}

/* Working from a lower destination, and a better one may be back: it
 * never failed (a maintenance window ended), or we have not tried it for
 * a probe interval. */
static int
want_failback(struct agent *a)
{
	double		 now = now_wall(), probe = fmax(a->cfg->reconnect_max, 1.0);
	const char	*why;
	int		 i;

	for (i = 0; i < a->cur_dest; i++) {
		if (dest_blocked(a, i, now, &why))
			continue;
		if (a->dests[i].down_since == 0 || now - a->dests[i].last_try >= probe) {
			a->probe = i + 1;
			return 1;
		}
	}
	return 0;
}

/* ---- control ------------------------------------------------------------ */

static int
name_taken(const struct ds_rec *r, void *arg)
{
	const char **name = arg;

	if (r->state != DS_FAILED && strcmp(r->name, *name) == 0) {
		*name = NULL;
		return 1;
	}
	return 0;
}


/* Journal the dataset in directory dir (absolute) under name ("" = the
 * directory's base name) with metadata d->meta, and queue it.  msg gets
 * the answer for the operator.  d is the caller's (meta owned by it). */
static int
submit_dataset(struct agent *a, const char *dir, const char *name_in,
    struct ds_rec *d, char *msg, size_t msglen)
{
	struct file_rec	*files = NULL;
	struct ads	*ad;
	char		 name[SL_MAX_NAME + 1], err[SL_MAX_MSG];
	const char	*why, *np;
	uint32_t	 nfiles;
	uint64_t	 total, nchunks;
	struct timespec	 ts;
	int		 rc;

	if (dir[0] != '/') {
		snprintf(msg, msglen, "%s: source directory must be an absolute path", dir);
		return SL_EINVAL;
	}
	snprintf(name, sizeof(name), "%s", name_in);
	if (name[0] == '\0') {
		const char *base = strrchr(dir, '/');
		snprintf(name, sizeof(name), "%s", base[1] ? base + 1 : "dataset");
	}
	if (pathchk_name(name, strlen(name), &why) != SL_OK) {
		snprintf(msg, msglen, "dataset name \"%s\": %s", name, why);
		return SL_EINVAL;
	}
	np = name;
	journal_ds_foreach(a->j, name_taken, &np);
	if (np == NULL) {
		snprintf(msg, msglen, "dataset name \"%s\" is already in the journal "
		    "(names are unique at the sink); use --name", name);
		return SL_EEXIST;
	}
	rc = walk_dataset(dir, a->cfg->chunk_size, &files, &nfiles, &total, &nchunks,
	    err, sizeof(err));
	if (rc != SL_OK) {
		snprintf(msg, msglen, "%s", err);
		return rc;
	}
	do {
		rc = digest_random(&d->id, sizeof(d->id));
	} while (rc == SL_OK && d->id == 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	d->state = DS_QUEUED;
	d->created_ns = d->updated_ns = (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
	d->chunk_size = a->cfg->chunk_size;
	d->nfiles = nfiles;
	d->nchunks = nchunks;
	d->bytes = total;
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->src, sizeof(d->src), "%s", dir);
	d->dest[0] = '\0';	/* bound when first opened at a destination */
	rc = journal_ds_create(a->j, d, files, nfiles);
	free(files);
	if (rc != SL_OK) {
		snprintf(msg, msglen, "journal: %s", sl_strerror(rc));
		return rc;
	}
	ad = ads_new(d);
	if (ad == NULL) {
		snprintf(msg, msglen, "out of memory (dataset is journaled and will be "
		    "sent after a restart)");
		return SL_ENOMEM;
	}
	queue_add(a, ad);
	log_info("dataset", "dataset=%016llx name=%s state=queued src=%s files=%u "
	    "bytes=%llu chunks=%llu", (unsigned long long)d->id, log_q(name), log_q(dir),
	    nfiles, (unsigned long long)total, (unsigned long long)nchunks);
	snprintf(msg, msglen, "%016llx %s files=%u bytes=%llu chunks=%llu",
	    (unsigned long long)d->id, name, nfiles, (unsigned long long)total,
	    (unsigned long long)nchunks);
	start_next(a);
	return SL_OK;
}

static int
cmd_submit(struct agent *a, const struct wire_ctl_req *req, struct wbuf *out)
{
	struct ds_rec	 d;
	char		 dir[SL_MAX_PATH + 1], name[SL_MAX_NAME + 1];
	char		 msg[SL_MAX_MSG + 128];
	uint32_t	 i;
	int		 rc;

	memset(&d, 0, sizeof(d));
	if (req->argc < 2 || wire_str_copy(dir, sizeof(dir), req->argv[0]) != SL_OK ||
	    wire_str_copy(name, sizeof(name), req->argv[1]) != SL_OK) {
		snprintf(msg, sizeof(msg), "usage: submit DIR NAME [KEY=VALUE...]");
		rc = SL_EINVAL;
		goto reply;
	}
	if (req->argc - 2 > SL_MAX_META) {
		snprintf(msg, sizeof(msg), "more than %d metadata pairs", SL_MAX_META);
		rc = SL_ETOOBIG;
		goto reply;
	}
	d.nmeta = req->argc - 2;
	if (d.nmeta) {
		d.meta = calloc(d.nmeta, sizeof(*d.meta));
		if (d.meta == NULL) {
			rc = SL_ENOMEM;
			snprintf(msg, sizeof(msg), "out of memory");
			goto reply;
		}
	}
	for (i = 0; i < d.nmeta; i++) {
		struct wire_str kv = req->argv[2 + i];
		const char *eq = memchr(kv.p, '=', kv.len);
		size_t klen = eq ? (size_t)(eq - kv.p) : 0;

		if (eq == NULL || klen == 0 || klen > SL_MAX_META_KEY ||
		    kv.len - klen - 1 > SL_MAX_META_VAL ||
		    strspn(kv.p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789._-") < klen) {
			snprintf(msg, sizeof(msg), "metadata \"%.*s\": want KEY=VALUE "
			    "(key 1..%d of A-Z a-z 0-9 . _ -, value up to %d bytes)",
			    (int)(kv.len > 64 ? 64 : kv.len), kv.p, SL_MAX_META_KEY,
			    SL_MAX_META_VAL);
			rc = SL_EINVAL;
			goto reply;
		}
		memcpy(d.meta[i][0], kv.p, klen);
		memcpy(d.meta[i][1], eq + 1, kv.len - klen - 1);
	}
	rc = submit_dataset(a, dir, name, &d, msg, sizeof(msg));
reply:
	ds_rec_free(&d);
	wbuf_puts(out, msg);
	return rc;
}

/* Is a dataset from source directory dir already journaled (and not
 * failed)?  Ingest may offer the same directory again after a restart. */
struct src_find {
	const char	*src;
	int		 found;
};

static int
src_taken(const struct ds_rec *r, void *arg)
{
	struct src_find *f = arg;

	if (r->state != DS_FAILED && strcmp(r->src, f->src) == 0) {
		f->found = 1;
		return 1;
	}
	return 0;
}

/* Ingest found a sealed dataset: journal it like `sluice submit`. */
static int
ingest_sealed(void *arg, const char *dir, const struct ingest_meta *meta)
{
	struct agent	*a = arg;
	struct src_find	 f = { dir, 0 };
	struct ds_rec	 d;
	char		 msg[SL_MAX_MSG + 128];
	int		 rc;

	if (journal_ds_foreach(a->j, src_taken, &f) != SL_OK)
		return 1;	/* try again later */
	if (f.found)
		return 0;
	memset(&d, 0, sizeof(d));
	if (meta->error[0])
		log_warnx("ingest", "dir=%s metadata not used: %s (the file is shipped "
		    "as it is)", log_q(dir), log_q(meta->error));
	if (meta->n > 0) {
		d.meta = calloc(meta->n, sizeof(*d.meta));
		if (d.meta == NULL)
			return 1;
		memcpy(d.meta, meta->kv, meta->n * sizeof(*d.meta));
		d.nmeta = meta->n;
	}
	rc = submit_dataset(a, dir, "", &d, msg, sizeof(msg));
	ds_rec_free(&d);
	if (rc == SL_OK)
		return 0;
	log_err("ingest", "dir=%s cannot journal: %s", log_q(dir), log_q(msg));
	/* A bad dataset (unsafe name, a symlink inside, name taken) will not
	 * get better by itself: say so once and move on. */
	return sl_err_retryable(rc) ? 1 : 0;
}

/* Bytes per second acked over the last n ticks (seconds). */
static double
rate(const struct agent *a, unsigned n)
{
	unsigned have = a->ticks < n ? a->ticks : n;

	if (have == 0)
		return 0;
	return (double)(a->acked_bytes - a->rate_ring[(a->ticks - have) % 300]) / have;
}

/* "ping": liveness plus the link state, for `sluice status`. */
static int
cmd_ping(struct agent *a, struct wbuf *out)
{
	char	line[512];

	double	now = now_wall();
	int	i;

	snprintf(line, sizeof(line), "role=agent dest=%s link=%s since=%.0f why=%s "
	    "current=%016llx streams=%d spool_pct=%d spool_level=%s "
	    "rate_5s=%.0f rate_5m=%.0f\n",
	    a->dests[a->cur_dest].text, link_name(a->link),
	    a->link_since, a->link_why[0] ? log_q(a->link_why) : "-",
	    a->cur ? (unsigned long long)a->cur->rec.id : 0ULL, a->cfg->streams,
	    a->spool.pct, a->spool.pct < 0 ? "none" : a->spool.level == SPOOL_HIGH ?
	    "high" : a->spool.level == SPOOL_WARN ? "warn" : "ok", rate(a, 5),
	    rate(a, 300));
	wbuf_puts(out, line);
	/* One line per destination: state as this agent sees it. */
	for (i = 0; i < a->ndest; i++) {
		const struct dest	*dd = &a->dests[i];
		const char		*why = "", *st;
		int			 w;

		if (dest_blocked(a, i, now, &why))
			st = why;
		else if (i == a->cur_dest && a->link == LINK_UP)
			st = "up";
		else if (dd->down_since)
			st = "down";
		else
			st = "standby";
		snprintf(line, sizeof(line), "dest=%s state=%s down_since=%.0f "
		    "paused_until=%.0f current=%d", dd->text, st, dd->down_since,
		    dd->paused_until > now ? dd->paused_until : 0, i == a->cur_dest);
		wbuf_puts(out, line);
		for (w = 0; w < a->nwindows; w++)
			if (a->windows[w].dest == i && a->windows[w].end > now) {
				snprintf(line, sizeof(line), " maintenance=%.0f-%.0f",
				    a->windows[w].start, a->windows[w].end);
				wbuf_puts(out, line);
			}
		wbuf_puts(out, "\n");
	}
	return SL_OK;
}

/* "2026-12-01T08:00:00Z", "2026-12-01T08:00Z" or seconds since the
 * epoch; -1 if neither. */
static double
parse_time(const char *s)
{
	struct tm	 tm;
	char		*e;
	double		 v;

	memset(&tm, 0, sizeof(tm));
	e = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (e == NULL || *e != '\0') {
		memset(&tm, 0, sizeof(tm));
		e = strptime(s, "%Y-%m-%dT%H:%MZ", &tm);
	}
	if (e != NULL && *e == '\0')
		return (double)timegm(&tm);
	v = strtod(s, &e);
	return (e != s && *e == '\0' && v >= 0) ? v : -1;
}

static int
dest_index(const struct agent *a, const char *text)
{
	int i;

	for (i = 0; i < a->ndest; i++)
		if (strcmp(a->dests[i].text, text) == 0)
			return i;
	return -1;
}

/* "pause [DEST] [UNTIL]", "resume [DEST]". */
static int
cmd_pause(struct agent *a, const struct wire_ctl_req *req, struct wbuf *out, int pause)
{
	char		 dest[256] = "", until[64] = "", msg[512];
	double		 t = 1e18, now = now_wall();
	int		 i = -1;

	if (req->argc > 0)
		wire_str_copy(dest, sizeof(dest), req->argv[0]);
	if (req->argc > 1)
		wire_str_copy(until, sizeof(until), req->argv[1]);
	if (dest[0] && strcmp(dest, "all") != 0 && (i = dest_index(a, dest)) < 0) {
		snprintf(msg, sizeof(msg), "no destination \"%s\" (have: %s)", dest,
		    a->cfg->destination);
		wbuf_puts(out, msg);
		return SL_ENOTFOUND;
	}
	if (pause && until[0] && (t = parse_time(until)) < 0) {
		snprintf(msg, sizeof(msg), "bad time \"%s\": use 2026-12-01T08:00:00Z "
		    "or seconds since the epoch", until);
		wbuf_puts(out, msg);
		return SL_EINVAL;
	}
	if (i < 0)
		a->paused_until = pause ? t : 0;
	else
		a->dests[i].paused_until = pause ? t : 0;
	snprintf(msg, sizeof(msg), "%s %s%s%s\n", pause ? "paused" : "resumed",
	    i < 0 ? "all destinations" : a->dests[i].text, pause && until[0] ?
	    " until " : "", pause && until[0] ? until : "");
	log_info("agent", "operator %s", msg);
	wbuf_puts(out, msg);
	if (pause && (i < 0 || i == a->cur_dest) && a->link != LINK_WAIT)
		link_switch(a, i < 0 ? "paused by operator" : "destination paused");
	else if (!pause && (a->link == LINK_WAIT || (i >= 0 && i < a->cur_dest))) {
		if (a->link == LINK_WAIT) {
			ev_timer_stop(a->loop, &a->retry);
			connect_all(a);
		}
	}
	(void)now;
	return SL_OK;
}

/* "retry DATASET": a failed dataset goes back to the queue. */
static int
cmd_retry(struct agent *a, const struct wire_ctl_req *req, struct wbuf *out)
{
	struct ds_rec	 d;
	struct ads	*ad;
	char		 key[64], msg[512];
	int		 rc;

	memset(&d, 0, sizeof(d));
	if (req->argc != 1 || wire_str_copy(key, sizeof(key), req->argv[0]) != SL_OK) {
		wbuf_puts(out, "usage: retry DATASET");
		return SL_EINVAL;
	}
	rc = journal_ds_find(a->j, key, &d);
	if (rc != SL_OK) {
		snprintf(msg, sizeof(msg), "%s: no such dataset", key);
		wbuf_puts(out, msg);
		return rc;
	}
	if (d.state != DS_FAILED) {
		snprintf(msg, sizeof(msg), "%s is %s, not failed: nothing to retry",
		    d.name, ds_state_name(d.state));
		ds_rec_free(&d);
		wbuf_puts(out, msg);
		return SL_ESTATE;
	}
	rc = journal_ds_set_state(a->j, d.id, DS_QUEUED, "retried by operator", NULL);
	if (rc == SL_OK && (ad = ads_new(&d)) != NULL) {
		ad->rec.state = DS_QUEUED;
		queue_add(a, ad);
		start_next(a);
	}
	snprintf(msg, sizeof(msg), "%s queued again\n", d.name);
	ds_rec_free(&d);
	wbuf_puts(out, rc == SL_OK ? msg : sl_strerror(rc));
	return rc;
}

/* "cancel DATASET": stop sending it (the source is kept). */
static int
cmd_cancel(struct agent *a, const struct wire_ctl_req *req, struct wbuf *out)
{
	struct ads	*d;
	struct ds_rec	 r;
	char		 key[64], msg[512];

	memset(&r, 0, sizeof(r));
	if (req->argc != 1 || wire_str_copy(key, sizeof(key), req->argv[0]) != SL_OK) {
		wbuf_puts(out, "usage: cancel DATASET");
		return SL_EINVAL;
	}
	if (journal_ds_find(a->j, key, &r) != SL_OK) {
		snprintf(msg, sizeof(msg), "%s: no such dataset", key);
		wbuf_puts(out, msg);
		return SL_ENOTFOUND;
	}
	for (d = a->queue; d && d->rec.id != r.id; d = d->next)
		;
	if (d == NULL || d->rec.state == DS_COMMITTING) {
		snprintf(msg, sizeof(msg), "%s is %s: %s", r.name, ds_state_name(r.state),
		    d ? "already committing, it cannot be taken back" : "not queued");
		ds_rec_free(&r);
		wbuf_puts(out, msg);
		return SL_ESTATE;
	}
	ds_rec_free(&r);
	snprintf(msg, sizeof(msg), "%s cancelled (source kept)\n", d->rec.name);
	fail_dataset(a, d, "cancelled by operator");
	wbuf_puts(out, msg);
	return SL_OK;
}

/* "retry-hook DATASET": a hook_failed dataset runs its hook again. */
static int
cmd_retry_hook(struct agent *a, const struct wire_ctl_req *req, struct wbuf *out)
{
	struct ds_rec	 d;
	char		 key[64], msg[512];
	int		 rc;

	memset(&d, 0, sizeof(d));
	if (req->argc != 1 || wire_str_copy(key, sizeof(key), req->argv[0]) != SL_OK) {
		wbuf_puts(out, "usage: retry-hook DATASET");
		return SL_EINVAL;
	}
	if (journal_ds_find(a->j, key, &d) != SL_OK) {
		snprintf(msg, sizeof(msg), "%s: no such dataset", key);
		wbuf_puts(out, msg);
		return SL_ENOTFOUND;
	}
	rc = ahook_retry(a->hook, d.id, msg, sizeof(msg));
	ds_rec_free(&d);
	wbuf_puts(out, msg);
	return rc;
}

int
agent_control(void *arg, const struct wire_ctl_req *req, struct wbuf *out)
{
	struct agent	*a = arg;
	char		 cmd[32];

	if (wire_str_copy(cmd, sizeof(cmd), req->command) != SL_OK)
		cmd[0] = '\0';
	if (strcmp(cmd, "submit") == 0)
		return cmd_submit(a, req, out);
	if (strcmp(cmd, "ping") == 0)
		return cmd_ping(a, out);
	if (strcmp(cmd, "pause") == 0)
		return cmd_pause(a, req, out, 1);
	if (strcmp(cmd, "resume") == 0)
		return cmd_pause(a, req, out, 0);
	if (strcmp(cmd, "retry") == 0)
		return cmd_retry(a, req, out);
	if (strcmp(cmd, "cancel") == 0)
		return cmd_cancel(a, req, out);
	if (strcmp(cmd, "retry-hook") == 0)
		return cmd_retry_hook(a, req, out);
	wbuf_puts(out, "unknown command");
	return SL_EINVAL;
}

/* Spool use against its marks, and the retention policy (every
 * RETENTION_TICKS seconds: it walks the journal). */
#define RETENTION_TICKS	5
static void
spool_check(struct agent *a, double now)
{
	int rc;

	if (retention_spool_use(a->cfg, &a->spool) != SL_OK) {
		a->spool.pct = -1;
		return;
	}
	if (a->spool.level != SPOOL_OK && now - a->spool_warned >= 60) {
		log_warnx("spool", "SPOOL %s: %s is %d%% full (warn at %d%%, high at "
		    "%d%%)%s", a->spool.level == SPOOL_HIGH ? "HIGH" : "WARNING",
		    log_q(a->spool.dir), a->spool.pct, a->cfg->spool_warn,
		    a->cfg->spool_high, a->cfg->retention == RET_KEEP ?
		    "; retention = keep, nothing will be removed" : "");
		a->spool_warned = now;
	}
	rc = retention_pass(a->cfg, a->j, now, &a->spool);
	if (rc > 0)
		retention_spool_use(a->cfg, &a->spool);
}

/* Housekeeping once a second: a destination that became blocked (pause,
 * maintenance) is left; an idle session checks for a better destination. */
static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct agent	*a = w->data;
	const char	*why;
	double		 now = now_wall();

	(void)loop; (void)revents;
	a->rate_ring[a->ticks % 300] = a->acked_bytes;
	if (a->ticks++ % RETENTION_TICKS == 0)
		spool_check(a, now);
	if (a->link == LINK_UP || a->link == LINK_CONNECTING) {
		if (dest_blocked(a, a->cur_dest, now, &why)) {
			/* COMMIT in flight: let it finish, it is short. */
			if (a->cur == NULL || a->cur->phase != PH_COMMITTING)
				link_switch(a, why);
			return;
		}
		if (a->link == LINK_UP && a->cur == NULL)
			start_next(a);
		if (a->link == LINK_UP && now - a->link_since > 10)
			a->backoff = 0;	/* a session that stays up is healthy */
	}
}

static int
parse_destinations(struct agent *a, char *err, size_t errlen)
{
	char	list[sizeof(a->cfg->destination)], *tok, *save = NULL, *colon;
	int	rc, explicit_name;

	snprintf(list, sizeof(list), "%s", a->cfg->destination);
	for (tok = strtok_r(list, ",", &save); tok && a->ndest < CFG_MAX_DESTS;
	    tok = strtok_r(NULL, ",", &save)) {
		struct dest *dd = &a->dests[a->ndest];

		while (*tok == ' ' || *tok == '\t')
			tok++;
		tok[strcspn(tok, " \t")] = '\0';
		snprintf(dd->text, sizeof(dd->text), "%s", tok);
		rc = net_resolve(tok, &dd->addr, err, errlen);
		if (rc != SL_OK)
			return rc;
		/* Certificate name: the host part, unless server_name was set. */
		snprintf(dd->peer, sizeof(dd->peer), "%s", tok[0] == '[' ? tok + 1 : tok);
		colon = strrchr(dd->peer, tok[0] == '[' ? ']' : ':');
		if (colon)
			*colon = '\0';
		a->ndest++;
	}
	explicit_name = strcmp(a->cfg->server_name, a->dests[0].peer) != 0;
	if (explicit_name)
		for (rc = 0; rc < a->ndest; rc++)
			snprintf(a->dests[rc].peer, sizeof(a->dests[rc].peer), "%s",
			    a->cfg->server_name);
	return SL_OK;
}

/* maintenance = DEST START END[; DEST START END ...] */
static int
parse_maintenance(struct agent *a, char *err, size_t errlen)
{
	char	list[sizeof(a->cfg->maintenance)], *ent, *save = NULL;
	char	dest[256], start[64], end[64];

	snprintf(list, sizeof(list), "%s", a->cfg->maintenance);
	for (ent = strtok_r(list, ";", &save); ent; ent = strtok_r(NULL, ";", &save)) {
		struct mwindow *w = &a->windows[a->nwindows];

		if (strspn(ent, " \t") == strlen(ent))
			continue;
		if (a->nwindows == MAX_WINDOWS) {
			snprintf(err, errlen, "%s: [agent] maintenance: more than %d windows",
			    a->cfg->path, MAX_WINDOWS);
			return SL_EINVAL;
		}
		if (sscanf(ent, " %255s %63s %63s", dest, start, end) != 3 ||
		    (w->dest = dest_index(a, dest)) < 0 ||
		    (w->start = parse_time(start)) < 0 || (w->end = parse_time(end)) < 0 ||
		    w->end <= w->start) {
			snprintf(err, errlen, "%s: [agent] maintenance: \"%s\": want DEST "
			    "START END with DEST one of the destinations and times like "
			    "2026-12-01T08:00:00Z, END after START", a->cfg->path, ent);
			return SL_EINVAL;
		}
		a->nwindows++;
	}
	return SL_OK;
}

/* ---- start / stop --------------------------------------------------------- */

int
agent_start(struct agent **out, struct ev_loop *loop, const struct config *cfg,
    struct journal *j, char *err, size_t errlen)
{
	struct agent	*a;
	int		 rc, i;

	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return SL_ENOMEM;
	a->loop = loop;
	a->cfg = cfg;
	a->j = j;
	rc = parse_destinations(a, err, errlen);
	if (rc == SL_OK)
		rc = parse_maintenance(a, err, errlen);
	if (rc != SL_OK)
		goto fail;
	if (cfg->tls) {
		rc = tls_ctx_new(&a->tls, 0, cfg->ca, cfg->cert, cfg->key, err, errlen);
		if (rc != SL_OK)
			goto fail;
	}
	for (i = 0; i < SL_MAX_STREAMS; i++) {
		a->st[i].a = a;
		a->st[i].idx = i;
	}
	rc = journal_ds_foreach(j, queue_from_journal, a);
	if (rc != SL_OK) {
		snprintf(err, errlen, "journal %s: %s", journal_path(j), sl_strerror(rc));
		goto fail;
	}
	ev_init(&a->retry, retry_cb);
	a->retry.data = a;
	ev_init(&a->connect_to, connect_timeout_cb);
	a->connect_to.data = a;
	a->spool.pct = -1;
	ev_timer_init(&a->tick, tick_cb, 1.0, 1.0);
	a->tick.data = a;
	ev_timer_start(loop, &a->tick);
	a->link = LINK_DOWN;
	log_info("agent", "id=%s dest=%s streams=%d chunk_size=%u window=%d tls=%s "
	    "maintenance_windows=%d", log_q(cfg->id), log_q(cfg->destination),
	    cfg->streams, cfg->chunk_size, cfg->window, cfg->tls ? "on" : "off",
	    a->nwindows);
	connect_all(a);
	rc = ahook_start(&a->hook, loop, cfg, j, err, errlen);
	if (rc == SL_OK)
		rc = ingest_start(&a->ingest, loop, cfg, ingest_sealed, a, err, errlen);
	if (rc != SL_OK) {
		agent_stop(a);
		return rc;
	}
	*out = a;
	return SL_OK;
fail:
	tls_ctx_free(a->tls);
	free(a);
	return rc;
}

void
agent_stop(struct agent *a)
{
	struct ads	*d;
	int		 i;

	if (a == NULL)
		return;
	ev_timer_stop(a->loop, &a->retry);
	ev_timer_stop(a->loop, &a->connect_to);
	ev_timer_stop(a->loop, &a->tick);
	ingest_stop(a->ingest);
	ahook_stop(a->hook);
	if (a->cur)
		flush_counts(a, a->cur);
	for (i = 0; i < a->cfg->streams; i++)
		if (a->st[i].s) {
			stream_close(a->st[i].s, "shutting down");
			a->st[i].s = NULL;
		}
	/* Streams are freed by the reaper on the next loop pass; their send
	 * buffers must outlive them, so run one pass before freeing. */
	ev_run(a->loop, EVRUN_NOWAIT);
	for (i = 0; i < SL_MAX_STREAMS; i++)
		free(a->st[i].buf);
	while ((d = a->queue) != NULL) {
		a->queue = d->next;
		ads_free(d);
	}
	tls_ctx_free(a->tls);
	free(a);
}

/* ---- metrics -------------------------------------------------------------- */

struct msum {
	uint64_t	by_state[DS_STATE_MAX + 1];
	uint64_t	sent, resent, nacked, bytes_acked, queue_bytes;
};

static int
msum_fn(const struct ds_rec *d, void *arg)
{
	struct msum *m = arg;

	if (d->state >= 1 && d->state <= DS_STATE_MAX)
		m->by_state[d->state]++;
	m->sent += d->chunks_sent;
	m->resent += d->chunks_resent;
	m->nacked += d->chunks_nacked;
	m->bytes_acked += d->bytes_acked;
	if (!DS_PUBLISHED(d->state) && d->state != DS_FAILED)
		m->queue_bytes += d->bytes - d->bytes_acked;
	return 0;
}

void
agent_metrics(void *arg, struct wbuf *out)
{
	struct agent	*a = arg;
	struct msum	 m;
	char		 lab[320];
	double		 now = now_wall();
	const char	*why;
	int		 i;

	memset(&m, 0, sizeof(m));
	journal_ds_foreach(a->j, msum_fn, &m);
	metrics_help(out, "sluice_bytes_acked_total", "counter",
	    "Bytes the sink confirmed durable, all datasets in the journal.");
	metrics_line(out, "sluice_bytes_acked_total", NULL, (double)m.bytes_acked);
	metrics_help(out, "sluice_chunks_sent_total", "counter", "DATA frames sent.");
	metrics_line(out, "sluice_chunks_sent_total", NULL, (double)m.sent);
	metrics_help(out, "sluice_chunks_resent_total", "counter",
	    "Chunks sent again after a NACK or a lost session.");
	metrics_line(out, "sluice_chunks_resent_total", NULL, (double)m.resent);
	metrics_help(out, "sluice_chunks_nacked_total", "counter",
	    "Chunks the sink rejected (checksum mismatch).");
	metrics_line(out, "sluice_chunks_nacked_total", NULL, (double)m.nacked);
	metrics_help(out, "sluice_datasets", "gauge", "Datasets in the journal by state.");
	for (i = DS_QUEUED; i <= DS_STATE_MAX; i++) {
		snprintf(lab, sizeof(lab), "state=\"%s\"", ds_state_name(i));
		metrics_line(out, "sluice_datasets", lab, (double)m.by_state[i]);
	}
	metrics_help(out, "sluice_queue_bytes", "gauge",
	    "Bytes journaled and not yet confirmed by a sink.");
	metrics_line(out, "sluice_queue_bytes", NULL, (double)m.queue_bytes);
	metrics_help(out, "sluice_throughput_bytes_per_second", "gauge",
	    "Bytes confirmed per second, over the last 5 s.");
	metrics_line(out, "sluice_throughput_bytes_per_second", NULL, rate(a, 5));
	metrics_help(out, "sluice_link_up", "gauge",
	    "1 while the session to this destination is up.");
	metrics_help(out, "sluice_destination_blocked", "gauge",
	    "1 while a destination is paused or in a maintenance window.");
	for (i = 0; i < a->ndest; i++) {
		snprintf(lab, sizeof(lab), "dest=\"%s\"", a->dests[i].text);
		metrics_line(out, "sluice_link_up", lab,
		    i == a->cur_dest && a->link == LINK_UP);
		metrics_line(out, "sluice_destination_blocked", lab,
		    dest_blocked(a, i, now, &why));
	}
	if (a->spool.pct >= 0) {
		metrics_help(out, "sluice_spool_used_ratio", "gauge",
		    "Fullest spool file system, fraction used.");
		metrics_line(out, "sluice_spool_used_ratio", NULL, a->spool.pct / 100.0);
	}
}
