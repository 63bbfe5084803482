/*
 * stream.c: framed non-blocking connections on libev.
 *
 * Input: one buffer per stream.  We read as much as fits (at least the
 * rest of the current frame, at most its end plus 64 KiB), hand every
 * complete frame to on_frame, then move the tail to the front.  For bulk
 * DATA frames the tail is small, so the memmove is cheap; the buffer grows
 * only up to the largest frame allowed (WIRE_HDR_LEN + max_frame).
 *
 * Output: a FIFO of segments, each either a private copy (small frames) or
 * a reference to the caller's buffer (DATA: the agent preads a chunk
 * straight into the buffer it then sends, no copy).  A segment's done
 * callback runs when its last byte is written or the stream dies.  With
 * TLS the conn gathers records (conn.h): when the queue runs empty the
 * stream flushes it, and on_drain runs once that is on the socket too.
 *
 * TLS may want to write while we read and the other way round, so the
 * io watcher's events follow conn_want() after every SL_EAGAIN instead of
 * assuming read means readable.
 *
 * Closing is deferred: stream_close stops the watchers and queues the
 * stream on a list that an ev_check watcher drains, calling on_close and
 * freeing there, never inside the stream's own callback (STYLE 12).
 *
 * Worker threads (stream_use_pool): once the head of a large frame is
 * in, the rest of it is read by a thread of a stream_pool, and a large
 * referenced segment (DATA) is written by one; with TLS that is where
 * the decryption and encryption happen.  Meanwhile the stream is
 * "offloaded": its io watcher is stopped and the loop touches neither its
 * conn, nor its input buffer, nor the segment being written (a thread
 * owns them until the job comes back through an ev_async).  Frames
 * queued meanwhile go out after it; input waits.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "net.h"
#include "stream.h"
#include "workq.h"

#define IN_SLACK	(64u * 1024)
/* The input buffer sits so that a frame at its head has the bytes after
 * WIRE_DATA_PREFIX on a page boundary: a DATA payload (usually the head
 * frame: we read at most IN_SLACK past the current one) then goes to an
 * O_DIRECT pwrite without a copy. */
#define IN_ALIGN	4096u
#define IN_SKEW		(IN_ALIGN - WIRE_DATA_PREFIX % IN_ALIGN)
/* A buffer for frames of megabytes is mapped on its own, 2 MiB-aligned,
 * and its whole 2 MiB blocks are offered to transparent huge pages: an
 * O_DIRECT pwrite is split into requests of at most max_segments
 * physically contiguous runs (254 on virtio-blk: about 1 MiB from 4 KiB
 * pages, 4 MiB = max_sectors_kb from huge ones).  If the kernel has no
 * huge page to give, the block is 4 KiB pages as before. */
#define IN_HUGE		((size_t)2 * 1024 * 1024)

struct seg {
	struct seg	*next;
	const uint8_t	*p;
	size_t		 len, off;
	void		(*done)(void *, int);
	void		*arg;
	uint8_t		 own[];		/* copied bytes when p points here */
};

struct stream {
	struct ev_loop		*loop;
	ev_io			 io;
	ev_timer		 idle;
	int			 state;
	int			 fd;
	struct conn		*conn;
	struct tls_ctx		*tls;
	int			 server;
	char			 peer_name[256];
	const struct stream_ops	*ops;
	void			*arg;
	uint32_t		 max_frame;
	double			 idle_timeout;
	char			 label[96];
	char			 why[256];

	uint8_t			*in_base;	/* allocation; in = in_base + IN_SKEW */
	uint8_t			*in;
	size_t			 in_len, in_alloc;
	size_t			 in_map;	/* in_base's mmap length, 0 = malloc */

	struct seg		*out_head, *out_tail;
	size_t			 out_bytes;
	int			 drain_due;	/* queue ran empty: flush, on_drain */

	int			 held;		/* stream_hold: input frozen */
	size_t			 hold_end;	/* input consumed up to the held frame's end */

	struct stream_pool	*pool;		/* stream_use_pool, or NULL */
	size_t			 rd_min;	/* frames this large are read there */
	size_t			 wr_min;	/* segments this large are written there */
	int			 offloaded;	/* JOB_READ or JOB_WRITE: a worker owns
						 * conn and input or out_head */
	size_t			 rd_target;	/* JOB_READ: until in_len reaches this */
	size_t			 wr_put;	/* JOB_WRITE: bytes it wrote */
	int			 job_rc;	/* its result: SL_OK, JOB_EOF, JOB_AGAIN,
						 * an error */
	int			 job_moved;	/* JOB_READ: it read bytes */
	atomic_int		 job_cancel;	/* closing: give up soon */
	struct wq_job		 job;		/* in the pool's queue */

	struct stream		*next_dead;
	int			 in_callback;
};

/* Streams waiting for their on_close + free, drained by one ev_check per
 * loop.  One loop per thread and one loop per process here, so a static
 * list is enough. */
static struct stream	*dead_list;
static ev_check		 reaper;
static int		 reaper_on;

/* Threads that read large frames and write large segments
 * (stream_use_pool). */
struct stream_pool {
	struct workq	*q;
};

#define JOB_EOF		1	/* job_rc: the peer closed mid-frame */
#define JOB_AGAIN	2	/* job_rc: the peer stalled, back to the loop */
enum { JOB_NONE, JOB_READ, JOB_WRITE };	/* stream.offloaded */
/*
 * How long a worker waits for a stalled peer before it gives the stream
 * back to the loop (JOB_AGAIN; the io watcher hands it out again when the
 * socket moves).  A pool has fewer threads than there are streams (2
 * against 4 by default), so a thread must never wait on one peer for
 * long: when it did, both threads of a sender could sit in writes to two
 * streams whose receiver had stopped reading them (their chunks parked,
 * verify.h, waiting for an earlier chunk), while that earlier chunk sat
 * queued on a third stream for a free thread: nothing moved on either
 * side until the receiver gave up parking after 5 s (1 pull in 4 at 75
 * MB/s instead of 400).  Also how fast a worker notices job_cancel.
 */
#define JOB_STALL_MS	10

static void	stream_io_cb(struct ev_loop *, ev_io *, int);
static void	stream_idle_cb(struct ev_loop *, ev_timer *, int);

const char *
stream_state_name(int state)
{
	switch (state) {
	case ST_CONNECTING:	return "connecting";
	case ST_HANDSHAKE:	return "handshake";
	case ST_OPEN:		return "open";
	case ST_CLOSING:	return "closing";
	}
	return "unknown";
}

static void
enter_state(struct stream *s, int state)
{
	log_debug("stream", "stream=%s state=%s->%s", s->label,
	    stream_state_name(s->state), stream_state_name(state));
	s->state = state;
}

static void in_free(uint8_t *, size_t);

static void
reaper_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	struct stream	*s;
	struct seg	*g;

	struct stream	*keep = NULL;

	(void)w; (void)revents;
	while ((s = dead_list) != NULL) {
		dead_list = s->next_dead;
		if (s->held || s->offloaded) {	/* its buffers are still in use: later */
			s->next_dead = keep;
			keep = s;
			continue;
		}
		while ((g = s->out_head) != NULL) {
			s->out_head = g->next;
			if (g->done)
				g->done(g->arg, 0);
			free(g);
		}
		if (s->ops->on_close)
			s->ops->on_close(s, s->why, s->arg);
		conn_free(s->conn);
		if (s->conn == NULL && s->fd >= 0)
			close(s->fd);
		in_free(s->in_base, s->in_map);
		free(s);
	}
	dead_list = keep;
	if (dead_list == NULL) {
		ev_check_stop(loop, &reaper);
		reaper_on = 0;
	}
}

void
stream_close(struct stream *s, const char *why)
{
	if (s->state == ST_CLOSING)
		return;
	snprintf(s->why, sizeof(s->why), "%s", why ? why : "closed");
	log_debug("stream", "stream=%s closing why=%s", s->label, log_q(s->why));
	enter_state(s, ST_CLOSING);
	if (s->offloaded)
		atomic_store(&s->job_cancel, 1);
	ev_io_stop(s->loop, &s->io);
	ev_timer_stop(s->loop, &s->idle);
	s->next_dead = dead_list;
	dead_list = s;
	if (!reaper_on) {
		ev_check_init(&reaper, reaper_cb);
		ev_check_start(s->loop, &reaper);
		reaper_on = 1;
	}
	/* Make sure the loop wakes up to run the check watcher. */
	ev_feed_event(s->loop, &reaper, EV_CUSTOM);
}

struct stream *
stream_new(struct ev_loop *loop, int fd, int connecting, struct tls_ctx *tls,
    int server, const char *peer_name, const struct stream_ops *ops, void *arg,
    uint32_t max_frame, double idle_timeout, const char *label)
{
	struct stream	*s;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		close(fd);
		return NULL;
	}
	s->loop = loop;
	s->fd = fd;
	s->tls = tls;
	s->server = server;
	if (peer_name)
		snprintf(s->peer_name, sizeof(s->peer_name), "%s", peer_name);
	s->ops = ops;
	s->arg = arg;
	s->max_frame = max_frame;
	s->idle_timeout = idle_timeout;
	snprintf(s->label, sizeof(s->label), "%s", label);
	s->state = connecting ? ST_CONNECTING : ST_HANDSHAKE;

	ev_io_init(&s->io, stream_io_cb, fd, connecting ? EV_WRITE : EV_READ | EV_WRITE);
	s->io.data = s;
	ev_init(&s->idle, stream_idle_cb);
	s->idle.repeat = idle_timeout;
	s->idle.data = s;
	ev_io_start(loop, &s->io);
	if (idle_timeout > 0)
		ev_timer_again(loop, &s->idle);
	return s;
}

static void
set_events(struct stream *s, int events)
{
	if (s->state == ST_CLOSING)
		return;
	if (s->held)		/* no reading until stream_release */
		events &= ~EV_READ;
	if (s->offloaded)	/* a worker thread owns the conn */
		events = 0;
	if ((s->io.events & (EV_READ | EV_WRITE)) == events &&
	    ev_is_active(&s->io) == (events != 0))
		return;
	ev_io_stop(s->loop, &s->io);
	ev_io_set(&s->io, s->fd, events);
	if (events != 0)
		ev_io_start(s->loop, &s->io);
}

/* Is there output: queued, gathered by TLS, or an on_drain owed? */
static int
has_output(const struct stream *s)
{
	if (s->offloaded)	/* a worker owns the conn: not a look at it */
		return s->out_head != NULL;
	return s->out_head != NULL || s->drain_due ||
	    (s->conn != NULL && conn_unflushed(s->conn) > 0);
}

/* Events wanted when nothing blocks: read (unless held), write while
 * there is output. */
static void
rearm(struct stream *s)
{
	set_events(s, EV_READ | (has_output(s) ? EV_WRITE : 0));
}

static void
want_to_events(struct stream *s)
{
	int w, ev = 0;

	if (s->offloaded)
		return;
	w = conn_want(s->conn);
	if (w & CONN_WANT_READ)
		ev |= EV_READ;
	if (w & CONN_WANT_WRITE)
		ev |= EV_WRITE;
	if (has_output(s))
		ev |= EV_WRITE;
	set_events(s, ev | EV_READ);
}

static int
do_connect(struct stream *s)
{
	char	err[256];
	int	rc;

	rc = net_connect_result(s->fd, err, sizeof(err));
	if (rc != SL_OK) {
		stream_close(s, err);
		return rc;
	}
	enter_state(s, ST_HANDSHAKE);
	return SL_OK;
}

static int
do_handshake(struct stream *s)
{
	int	rc;

	if (s->conn == NULL) {
		rc = conn_new(&s->conn, s->fd, s->tls, s->server,
		    s->peer_name[0] ? s->peer_name : NULL);
		if (rc != SL_OK) {
			s->fd = -1;	/* conn_new closed it */
			stream_close(s, "out of memory");
			return rc;
		}
	}
	rc = conn_handshake(s->conn);
	if (rc == SL_EAGAIN) {
		want_to_events(s);
		return rc;
	}
	if (rc != SL_OK) {
		/* a refused certificate is an attempt to get in, or a setup
		 * mistake: warn, like a wrong secret at HELLO */
		if (rc == SL_EAUTH)
			log_warnx("tls", "refused: %s", conn_error(s->conn));
		stream_close(s, conn_error(s->conn));
		return rc;
	}
	enter_state(s, ST_OPEN);
	rearm(s);
	if (s->ops->on_open)
		s->ops->on_open(s, s->arg);
	return SL_OK;
}

/* Hand every complete frame in the input buffer to on_frame. */
static void
dispatch(struct stream *s)
{
	struct wire_hdr	h;
	size_t		off = 0;
	int		rc;

	while (s->state == ST_OPEN) {
		rc = wire_hdr_decode(s->in + off, s->in_len - off, &h, s->max_frame);
		if (rc == SL_ETRUNC)
			break;
		if (rc == SL_ETOOBIG) {
			log_warnx("stream", "stream=%s frame of %u bytes is over the "
			    "limit of %u bytes, closing", s->label, h.len, s->max_frame);
			stream_close(s, "frame over the size limit");
			return;
		}
		if (rc != SL_OK) {
			log_warnx("stream", "stream=%s bad frame header: %s",
			    s->label, sl_strerror(rc));
			stream_close(s, "bad frame header");
			return;
		}
		if (s->in_len - off < WIRE_HDR_LEN + (size_t)h.len)
			break;
		s->ops->on_frame(s, &h, s->in + off + WIRE_HDR_LEN, s->arg);
		off += WIRE_HDR_LEN + h.len;
		if (s->held) {		/* the frame stays put: no memmove */
			s->hold_end = off;
			return;
		}
	}
	if (off > 0) {
		memmove(s->in, s->in + off, s->in_len - off);
		s->in_len -= off;
	}
}

/* len bytes for an input buffer; *map is the mapping's length to give
 * in_free, or 0 when it came from malloc (small, or mmap failed). */
static uint8_t *
in_alloc(size_t len, size_t *map)
{
	uint8_t		*m, *a;
	uintptr_t	 u;
	size_t		 ml, head;
	void		*p;

	*map = 0;
	if (len >= IN_HUGE) {
		len = (len + IN_ALIGN - 1) & ~(size_t)(IN_ALIGN - 1);
		ml = len + IN_HUGE;
		m = mmap(NULL, ml, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		    MAP_ANONYMOUS, -1, 0);
		if (m != MAP_FAILED) {
			u = ((uintptr_t)m + IN_HUGE - 1) & ~(uintptr_t)(IN_HUGE - 1);
			a = (uint8_t *)u;
			head = (size_t)(a - m);
			if (head > 0)
				(void)munmap(m, head);
			if (ml - head - len > 0)
				(void)munmap(a + len, ml - head - len);
			(void)madvise(a, len & ~(IN_HUGE - 1), MADV_HUGEPAGE);
			*map = len;
			return a;
		}
	}
	if (posix_memalign(&p, IN_ALIGN, len) != 0)
		return NULL;
	return p;
}

static void
in_free(uint8_t *p, size_t map)
{
	if (map > 0)
		(void)munmap(p, map);
	else
		free(p);
}

/* Bytes we want in the buffer before dispatching: the current frame's
 * end, plus slack for the frames behind it. */
static size_t
in_target(struct stream *s)
{
	struct wire_hdr	h;
	size_t		need = WIRE_HDR_LEN;

	if (wire_hdr_decode(s->in, s->in_len, &h, s->max_frame) == SL_OK)
		need = WIRE_HDR_LEN + (size_t)h.len;
	if (need < s->in_len)
		need = s->in_len;
	return need + IN_SLACK;
}

static int
grow_in(struct stream *s, size_t want)
{
	uint8_t	*p;
	size_t	 map;

	if ((p = in_alloc(IN_SKEW + want, &map)) == NULL)
		return SL_ENOMEM;
	if (s->in_len > 0)
		memcpy(p + IN_SKEW, s->in, s->in_len);
	in_free(s->in_base, s->in_map);
	s->in_base = p;
	s->in_map = map;
	s->in = s->in_base + IN_SKEW;
	s->in_alloc = want;
	return SL_OK;
}

static int offload(struct stream *, size_t);

static int
do_read(struct stream *s)
{
	ssize_t	n;
	size_t	want;
	int	rounds = 0;

	while (s->state == ST_OPEN && !s->held && rounds++ < 64) {
		want = in_target(s);
		if (want > s->in_alloc && grow_in(s, want) != SL_OK) {
			stream_close(s, "out of memory");
			return SL_ENOMEM;
		}
		if (offload(s, want - IN_SLACK))
			return SL_OK;
		n = conn_read(s->conn, s->in + s->in_len, s->in_alloc - s->in_len);
		if (n == SL_EAGAIN)
			return SL_EAGAIN;
		if (n == 0) {
			stream_close(s, "peer closed the connection");
			return SL_EIO;
		}
		if (n < 0) {
			stream_close(s, conn_error(s->conn));
			return (int)n;
		}
		s->in_len += (size_t)n;
		if (s->idle_timeout > 0)
			ev_timer_again(s->loop, &s->idle);
		dispatch(s);
	}
	return SL_OK;
}

static int offload_write(struct stream *);

/* The head segment is all written: off the queue, its owner told. */
static void
seg_sent(struct stream *s)
{
	struct seg *g = s->out_head;

	s->out_head = g->next;
	if (s->out_head == NULL) {
		s->out_tail = NULL;
		s->drain_due = 1;
	}
	if (g->done)
		g->done(g->arg, 1);
	free(g);
}

/* The queue is empty: what TLS gathered goes to the socket, then the
 * owner hears of it (on_drain may queue more, or close the stream). */
static int
drain(struct stream *s)
{
	int rc;

	if (!s->drain_due && conn_unflushed(s->conn) == 0)
		return SL_OK;
	rc = conn_flush(s->conn);
	if (rc == SL_EAGAIN)
		return rc;
	if (rc != SL_OK) {
		stream_close(s, conn_error(s->conn));
		return rc;
	}
	s->drain_due = 0;
	if (s->ops->on_drain)
		s->ops->on_drain(s, s->arg);
	return SL_OK;
}

static int
do_write(struct stream *s)
{
	struct seg	*g;
	ssize_t		 n;
	int		 rc;

	while (s->state == ST_OPEN) {
		if ((g = s->out_head) == NULL) {
			rc = drain(s);
			if (rc != SL_OK || s->out_head == NULL)
				return rc;
			continue;	/* on_drain queued more */
		}
		if (offload_write(s))
			return SL_OK;
		n = conn_write(s->conn, g->p + g->off, g->len - g->off);
		if (n == SL_EAGAIN)
			return SL_EAGAIN;
		if (n < 0) {
			stream_close(s, conn_error(s->conn));
			return (int)n;
		}
		g->off += (size_t)n;
		s->out_bytes -= (size_t)n;
		if (g->off < g->len)
			continue;
		seg_sent(s);
	}
	return SL_OK;
}

static void
stream_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct stream	*s = w->data;
	int		 rr, wr;

	(void)loop;
	if (s->offloaded)	/* fed before a worker took it */
		return;
	if (s->state == ST_CONNECTING) {
		if (do_connect(s) != SL_OK)
			return;
	}
	if (s->state == ST_HANDSHAKE) {
		if (do_handshake(s) != SL_OK)
			return;
	}
	/* Read first so that acks flow even while we are writing bulk, then
	 * write; TLS may need either for either, so just try both. */
	rr = SL_OK;
	wr = SL_OK;
	if (s->state == ST_OPEN && (revents & EV_READ || conn_pending(s->conn) ||
	    conn_is_tls(s->conn)))
		rr = do_read(s);
	if (s->offloaded)	/* the rest of a frame is being read */
		return;
	if (s->state == ST_OPEN && has_output(s))
		wr = do_write(s);
	if (s->offloaded)	/* a segment is being written */
		return;
	if (s->state != ST_OPEN)
		return;
	if (rr == SL_EAGAIN || wr == SL_EAGAIN)
		want_to_events(s);
	else
		rearm(s);
	/* Stopped reading early with bytes still inside TLS: the socket will
	 * not wake us for them. */
	if (rr == SL_OK && !s->held && conn_pending(s->conn))
		ev_feed_event(s->loop, &s->io, EV_READ);
}

void
stream_hold(struct stream *s)
{
	s->held = 1;
}

void
stream_release(struct stream *s)
{
	if (!s->held)
		return;
	s->held = 0;
	if (s->state != ST_OPEN) {
		if (s->state == ST_CLOSING)	/* the reaper may free it now */
			ev_feed_event(s->loop, &reaper, EV_CUSTOM);
		return;
	}
	memmove(s->in, s->in + s->hold_end, s->in_len - s->hold_end);
	s->in_len -= s->hold_end;
	s->hold_end = 0;
	dispatch(s);			/* frames read behind the held one */
	if (s->state != ST_OPEN || s->held)
		return;
	rearm(s);
	/* Bytes may be waiting in the socket or inside TLS. */
	ev_feed_event(s->loop, &s->io, EV_READ);
}

int	stream_is_held(const struct stream *s) { return s->held; }

static void
stream_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct stream *s = w->data;

	(void)loop; (void)revents;
	log_info("stream", "stream=%s idle for %.0fs, closing", s->label,
	    s->idle_timeout);
	stream_close(s, "idle timeout");
}

static int
enqueue(struct stream *s, struct seg *g)
{
	g->next = NULL;
	if (s->out_tail)
		s->out_tail->next = g;
	else
		s->out_head = g;
	s->out_tail = g;
	s->out_bytes += g->len;
	if (s->state == ST_OPEN)
		set_events(s, (s->io.events & (EV_READ | EV_WRITE)) | EV_WRITE);
	return SL_OK;
}

int
stream_send(struct stream *s, const void *p, size_t len)
{
	struct seg *g;

	if (s->state == ST_CLOSING)
		return SL_ESTATE;
	g = malloc(sizeof(*g) + len);
	if (g == NULL)
		return SL_ENOMEM;
	memcpy(g->own, p, len);
	g->p = g->own;
	g->len = len;
	g->off = 0;
	g->done = NULL;
	g->arg = NULL;
	return enqueue(s, g);
}

int
stream_send_wbuf(struct stream *s, struct wbuf *b)
{
	int rc;

	if (b->len == 0)
		return SL_OK;
	rc = stream_send(s, b->p, b->len);
	wbuf_reset(b);
	return rc;
}

int
stream_send_ref(struct stream *s, const uint8_t *p, size_t len,
    void (*done)(void *, int), void *arg)
{
	struct seg *g;

	if (s->state == ST_CLOSING)
		return SL_ESTATE;
	g = malloc(sizeof(*g));
	if (g == NULL)
		return SL_ENOMEM;
	g->p = p;
	g->len = len;
	g->off = 0;
	g->done = done;
	g->arg = arg;
	return enqueue(s, g);
}

size_t		stream_queued(const struct stream *s) { return s->out_bytes; }
int		stream_state(const struct stream *s) { return s->state; }
const char	*stream_label(const struct stream *s) { return s->label; }
void		*stream_arg(const struct stream *s) { return s->arg; }
int		stream_is_tls(const struct stream *s) { return s->tls != NULL; }

const char *
stream_peer_cn(const struct stream *s)
{
	return s->conn ? conn_peer_cn(s->conn) : "";
}

const char *
stream_cipher(const struct stream *s)
{
	return s->conn ? conn_cipher(s->conn) : "";
}

void
stream_set_max_frame(struct stream *s, uint32_t max_frame)
{
	s->max_frame = max_frame;
}

void
stream_set_idle(struct stream *s, double seconds)
{
	s->idle_timeout = seconds;
	s->idle.repeat = seconds;
	if (s->state == ST_CLOSING)
		return;
	if (seconds > 0)
		ev_timer_again(s->loop, &s->idle);
	else
		ev_timer_stop(s->loop, &s->idle);
}

/* ---- worker threads --------------------------------------------------- */

/* The stream's conn and buffers go to the pool until job_done. */
static void
queue_job(struct stream *s, int kind)
{
	s->job_rc = SL_OK;
	s->job_moved = 0;
	atomic_store(&s->job_cancel, 0);
	s->offloaded = kind;
	set_events(s, 0);
	workq_push(s->pool->q, &s->job);
}

/*
 * Hand the rest of the frame at the head of the input to a worker, if it
 * is large and the stream has a pool.  The buffer already has room for
 * it (do_read grew it).  Returns 1 when offloaded.
 */
static int
offload(struct stream *s, size_t frame_end)
{
	struct stream_pool	*r = s->pool;
	struct wire_hdr		 h;

	if (r == NULL || s->rd_min == 0 || s->held || s->state != ST_OPEN ||
	    wire_hdr_decode(s->in, s->in_len, &h, s->max_frame) != SL_OK ||
	    h.len < s->rd_min || s->in_len >= frame_end)
		return 0;
	s->rd_target = frame_end;
	queue_job(s, JOB_READ);
	return 1;
}

/* Hand the segment at the head of the output to a worker, if it is large
 * (a DATA chunk the caller keeps alive) and the stream has a pool. */
static int
offload_write(struct stream *s)
{
	struct seg *g = s->out_head;

	if (s->pool == NULL || s->wr_min == 0 || s->state != ST_OPEN ||
	    g == NULL || g->len - g->off < s->wr_min)
		return 0;
	s->wr_put = 0;
	queue_job(s, JOB_WRITE);
	return 1;
}

/* On a worker: the conn said SL_EAGAIN; wait a little for the readiness
 * it wants (exactly one of the two after SL_EAGAIN).  0: it did not come
 * within JOB_STALL_MS. */
static int
job_wait(struct stream *s)
{
	struct pollfd pfd;

	pfd.fd = s->fd;
	pfd.events = conn_want(s->conn) & CONN_WANT_WRITE ? POLLOUT : POLLIN;
	return poll(&pfd, 1, JOB_STALL_MS) != 0;
}

/* On a worker thread: read until the frame is in (or the stream is
 * closing).  Only this thread touches s->conn and s->in meanwhile. */
static int
read_frame(struct stream *s)
{
	ssize_t n;

	while (s->in_len < s->rd_target) {
		if (atomic_load(&s->job_cancel))
			return SL_ESTATE;
		n = conn_read(s->conn, s->in + s->in_len, s->in_alloc - s->in_len);
		if (n > 0) {
			s->in_len += (size_t)n;
			s->job_moved = 1;
			continue;
		}
		if (n == 0)
			return JOB_EOF;
		if (n != SL_EAGAIN)
			return (int)n;
		if (!job_wait(s))
			return JOB_AGAIN;
	}
	return SL_OK;
}

/* On a worker: write the head segment out (or until closing).  Only this
 * thread touches s->conn and the segment's offset meanwhile. */
static int
write_seg(struct stream *s)
{
	struct seg	*g = s->out_head;
	ssize_t		 n;

	while (g->off < g->len) {
		if (atomic_load(&s->job_cancel))
			return SL_ESTATE;
		n = conn_write(s->conn, g->p + g->off, g->len - g->off);
		if (n > 0) {
			g->off += (size_t)n;
			s->wr_put += (size_t)n;
			continue;
		}
		if (n != SL_EAGAIN)
			return (int)n;
		if (!job_wait(s))
			return JOB_AGAIN;
	}
	return SL_OK;
}

static void
job_run(struct wq_job *j, int worker, void *arg)
{
	struct stream *s = WQ_CONTAINER(j, struct stream, job);

	(void)worker; (void)arg;
	s->job_rc = s->offloaded == JOB_READ ? read_frame(s) : write_seg(s);
	workq_finish(s->pool->q, j);
}

/* Back on the loop: the frame is in (or the segment out), or it failed. */
static void
job_done(struct wq_job *j, void *arg)
{
	struct stream	*s = WQ_CONTAINER(j, struct stream, job);
	int		 kind = s->offloaded;

	(void)arg;
	s->offloaded = JOB_NONE;
	if (kind == JOB_WRITE)
		s->out_bytes -= s->wr_put;
	if (s->state != ST_OPEN) {	/* closed meanwhile: the reaper's turn */
		ev_feed_event(s->loop, &reaper, EV_CUSTOM);
		return;
	}
	if (s->job_rc == JOB_AGAIN) {
		/* The peer stalled: the loop watches the socket (and reads
		 * what else comes, ACKs) and offloads the rest again when it
		 * moves (do_read: offload; do_write: offload_write). */
		if (kind == JOB_READ && s->job_moved && s->idle_timeout > 0)
			ev_timer_again(s->loop, &s->idle);
		want_to_events(s);
		return;
	}
	if (s->job_rc != SL_OK) {
		stream_close(s, s->job_rc == JOB_EOF ? "peer closed the connection" :
		    conn_error(s->conn));
		return;
	}
	if (kind == JOB_WRITE) {
		seg_sent(s);	/* on_drain after the flush: do_write, fed below */
	} else {
		if (s->idle_timeout > 0)
			ev_timer_again(s->loop, &s->idle);
		dispatch(s);
	}
	if (s->state != ST_OPEN)
		return;
	rearm(s);
	/* Writes queued meanwhile, and input inside TLS or the socket. */
	ev_feed_event(s->loop, &s->io, EV_READ | EV_WRITE);
}

int
stream_pool_start(struct stream_pool **out, struct ev_loop *loop, int n)
{
	struct stream_pool	*r;
	int			 rc;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return SL_ENOMEM;
	/* the name: top -H, and t_tls_bulk finds them by it */
	rc = workq_start(&r->q, loop, n, "sluice-tls", job_run, job_done, NULL);
	if (rc != SL_OK) {
		free(r);
		return rc;
	}
	*out = r;
	return SL_OK;
}

/* Jobs never started, and the finished ones, go to job_done: their
 * streams are closing (the caller closed them), so it only lets them go. */
void
stream_pool_stop(struct stream_pool *r)
{
	if (r == NULL)
		return;
	workq_stop(r->q);
	free(r);
}

void
stream_use_pool(struct stream *s, struct stream_pool *r, size_t min_read,
    size_t min_write)
{
	s->pool = r;
	s->rd_min = min_read;
	s->wr_min = min_write;
}
