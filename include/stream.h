/*
 * stream.h: a framed, non-blocking connection on the libev loop
 * (agent/net/stream.c), used by both roles.
 *
 * A stream owns a struct conn (plain or TLS), reads whole frames and hands
 * each to ops->on_frame, and writes a queue of outgoing frames in order.
 * It knows nothing of what frames mean: the roles do.
 *
 * States: CONNECTING (agent: TCP connect in progress) -> HANDSHAKE (TLS)
 * -> OPEN -> CLOSING.  stream_close() may be called anywhere, also inside
 * a callback of the same stream: it stops I/O at once, and ops->on_close
 * runs later from an ev_check pass, after which the stream is freed
 * (STYLE 12).  After on_close the pointer is invalid.
 *
 * Back-pressure: stream_queued() tells how many bytes wait to be written;
 * ops->on_drain runs whenever the queue becomes empty.  Input is capped at
 * WIRE_HDR_LEN + max_frame bytes; a larger frame closes the stream.
 *
 * Threads: loop thread only (but see stream_use_pool).
 */
#ifndef STREAM_H
#define STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <ev.h>
#include "wire.h"

struct stream;
struct tls_ctx;

enum stream_state { ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_CLOSING };
const char *stream_state_name(int state);

struct stream_ops {
	/* TLS handshake done (or plain socket connected): frames may flow. */
	void	(*on_open)(struct stream *s, void *arg);
	/* One complete frame.  payload is valid during the call only. */
	void	(*on_frame)(struct stream *s, const struct wire_hdr *h,
		    const uint8_t *payload, void *arg);
	/* The output queue just became empty.  May be NULL. */
	void	(*on_drain)(struct stream *s, void *arg);
	/* The stream is gone; why says so ("peer closed", "idle timeout",
	 * a TLS error...).  Drop every reference to s. */
	void	(*on_close)(struct stream *s, const char *why, void *arg);
};

/* Create a stream over fd (ownership passes, closed on failure too).
 * connecting: 1 when fd is a connect() in progress.  tls NULL = plain.
 * server: TLS role.  peer_name: name a client checks in the server's
 * certificate (NULL = none).  idle_timeout: seconds without any input
 * before the stream closes itself (0 = never).  label names it in logs.
 * Returns NULL on ENOMEM (fd closed). */
struct stream *stream_new(struct ev_loop *loop, int fd, int connecting,
	    struct tls_ctx *tls, int server, const char *peer_name,
	    const struct stream_ops *ops, void *arg, uint32_t max_frame,
	    double idle_timeout, const char *label);

/* Queue a copy of len bytes (one or more whole frames).  SL_OK, SL_ENOMEM,
 * SL_ESTATE when closing. */
int	stream_send(struct stream *s, const void *p, size_t len);
/* Queue the frames in b (copied) and reset b. */
int	stream_send_wbuf(struct stream *s, struct wbuf *b);
/* Queue len bytes without copying; done(arg, sent) runs once, when the
 * bytes are all written (sent = 1) or the stream dies first (sent = 0).
 * The caller keeps p alive until then. */
int	stream_send_ref(struct stream *s, const uint8_t *p, size_t len,
	    void (*done)(void *arg, int sent), void *arg);
size_t	stream_queued(const struct stream *s);
int	stream_state(const struct stream *s);
const char *stream_label(const struct stream *s);
const char *stream_peer_cn(const struct stream *s);
const char *stream_cipher(const struct stream *s);	/* "" when plain */
int	stream_is_tls(const struct stream *s);
void	*stream_arg(const struct stream *s);

/* Change the largest frame payload accepted from now on (the sink
 * raises it once a peer has authenticated). */
void	stream_set_max_frame(struct stream *s, uint32_t max_frame);
/* Change the idle timeout (0 = never), restarting the timer. */
void	stream_set_idle(struct stream *s, double seconds);

/*
 * Zero-copy hand-off of a frame's payload.  stream_hold, called inside
 * on_frame, keeps the payload where it is after on_frame returns: the
 * stream reads nothing more (it still writes) until stream_release.  A
 * held stream that closes meanwhile stays allocated, its on_close
 * deferred, until released.  Release runs on the loop thread, outside the
 * stream's own callbacks; it dispatches frames already read behind the
 * held one (which may hold again).
 */
void	stream_hold(struct stream *s);
void	stream_release(struct stream *s);
int	stream_is_held(const struct stream *s);

/*
 * Worker threads: with TLS, decrypting and encrypting bulk frames is most
 * of what a loop does, and one loop thread is one core.  A stream given a
 * stream_pool hands to a pool thread the rest of every incoming frame of
 * at least min_read bytes once its header is in, and every queued segment
 * of at least min_write bytes (0: never); on_frame and the done callbacks
 * still run on the loop.  While a thread has it, the stream neither reads
 * nor writes anything else (acks wait one frame's time).
 * stream_pool_stop: after every stream using the pool has been closed; it
 * lets their last jobs go (run the loop once more for the reaper).
 */
struct stream_pool;
int	stream_pool_start(struct stream_pool **out, struct ev_loop *loop,
	    int nthreads);			/* SL_OK, SL_ENOMEM, SL_EIO */
void	stream_pool_stop(struct stream_pool *r);	/* NULL is fine */
void	stream_use_pool(struct stream *s, struct stream_pool *r,
	    size_t min_read, size_t min_write);

/* Start closing (idempotent).  why is copied into the log line. */
void	stream_close(struct stream *s, const char *why);

#endif
