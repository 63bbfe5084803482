// links: agent/libnet.a agent/libbase.a
/*
 * test_stream.c: stream.c's worker pool (stream_use_pool) over socketpairs.
 *
 * A pool has fewer threads than there are streams.  A thread writing to a
 * peer that has stopped reading must not keep the others' segments
 * waiting: here the pool has one thread, stream A's peer never reads,
 * and stream B's 4 MiB segment must still go out, then A's once its
 * peer reads.  (Before: the thread sat in A's write until the peer moved,
 * and B waited with it; with two processes each waiting for the other,
 * a 4-stream pull stalled 5 s.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <ev.h>

#include "sluice.h"
#include "stream.h"

#define SEG	(4u << 20)

struct side {
	int	 done;		/* the segment's done(sent) ran: 1 + sent */
	size_t	 drained;	/* bytes the test read from the peer end */
	int	 peer;		/* the socketpair's other end */
	int	 reading;	/* the test reads the peer end (w started) */
	ev_io	 w;
};

static void
seg_done(void *arg, int sent)
{
	struct side *sd = arg;

	sd->done = 1 + sent;
}

static void
on_open(struct stream *s, void *arg)
{
	(void)s; (void)arg;
}

static void
on_frame(struct stream *s, const struct wire_hdr *h, const uint8_t *p, void *arg)
{
	(void)s; (void)h; (void)p; (void)arg;
}

static void
on_close(struct stream *s, const char *why, void *arg)
{
	(void)s; (void)why; (void)arg;
}

static const struct stream_ops ops = { on_open, on_frame, NULL, on_close };

static void
peer_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct side	*sd = w->data;
	char		 buf[65536];
	ssize_t		 n;

	(void)loop; (void)revents;
	while ((n = read(sd->peer, buf, sizeof(buf))) > 0)
		sd->drained += (size_t)n;
}

static void
stop_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)t; (void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* Run the loop until cond holds or secs pass. */
static void
run_until(struct ev_loop *loop, int (*cond)(void *), void *arg, double secs)
{
	ev_timer	t;
	double		end = ev_time() + secs;

	ev_timer_init(&t, stop_cb, 0.01, 0.01);
	ev_timer_start(loop, &t);
	while (!cond(arg) && ev_time() < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &t);
}

static int
done_of(void *arg)
{
	return ((struct side *)arg)->done != 0;
}

static int
drained_of(void *arg)
{
	return ((struct side *)arg)->drained == SEG;
}

static int
never(void *arg)
{
	(void)arg;
	return 0;
}

/* From now on the test reads what the stream sends to sd's peer end. */
static void
side_read(struct ev_loop *loop, struct side *sd)
{
	sd->reading = 1;
	ev_io_start(loop, &sd->w);
}

static struct stream *
side_new(struct ev_loop *loop, struct side *sd, const char *label)
{
	struct stream	*s;
	int		 sv[2], small = 64 * 1024;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	sd->peer = sv[1];
	ev_io_init(&sd->w, peer_cb, sv[1], EV_READ);
	sd->w.data = sd;
	s = stream_new(loop, sv[0], 0, NULL, 0, NULL, &ops, sd, 1024, 0, label);
	assert_non_null(s);
	return s;
}

static void
test_stalled_peer_frees_the_thread(void **state)
{
	struct ev_loop		*loop = ev_loop_new(EVFLAG_AUTO);
	struct stream_pool	*pool = NULL;
	struct stream		*a, *b;
	struct side		 sa, sb;
	uint8_t			*pa, *pb;

	(void)state;
	memset(&sa, 0, sizeof(sa));
	memset(&sb, 0, sizeof(sb));
	pa = calloc(1, SEG);
	pb = calloc(1, SEG);
	assert_non_null(pa);
	assert_non_null(pb);
	assert_int_equal(stream_pool_start(&pool, loop, 1), SL_OK);
	a = side_new(loop, &sa, "A");
	b = side_new(loop, &sb, "B");
	stream_use_pool(a, pool, 0, 65536);
	stream_use_pool(b, pool, 0, 65536);
	run_until(loop, never, NULL, 0.1);	/* both open */

	/* A first: its peer reads nothing, so its write stalls on the one
	 * thread; then B, whose peer reads. */
	assert_int_equal(stream_send_ref(a, pa, SEG, seg_done, &sa), SL_OK);
	run_until(loop, never, NULL, 0.2);
	side_read(loop, &sb);
	assert_int_equal(stream_send_ref(b, pb, SEG, seg_done, &sb), SL_OK);
	run_until(loop, done_of, &sb, 5.0);
	assert_int_equal(sb.done, 2);		/* B went out, A still stalled */
	run_until(loop, drained_of, &sb, 2.0);
	assert_int_equal(sb.drained, SEG);
	assert_int_equal(sa.done, 0);

	/* A's peer reads now: the loop sees A writable and hands the rest
	 * of its segment to the thread again. */
	side_read(loop, &sa);
	run_until(loop, done_of, &sa, 5.0);
	assert_int_equal(sa.done, 2);
	run_until(loop, drained_of, &sa, 2.0);
	assert_int_equal(sa.drained, SEG);

	stream_close(a, "test over");
	stream_close(b, "test over");
	ev_run(loop, EVRUN_NOWAIT);
	ev_io_stop(loop, &sa.w);
	ev_io_stop(loop, &sb.w);
	stream_pool_stop(pool);
	close(sa.peer);
	close(sb.peer);
	ev_loop_destroy(loop);
	free(pa);
	free(pb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stalled_peer_frees_the_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
