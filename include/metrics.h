/*
 * metrics.h: a minimal HTTP/1.0 server for Prometheus scrapes
 * (agent/daemon/metrics.c), on the daemon's libev loop.
 *
 * GET /metrics answers 200 with text/plain; version=0.0.4 produced by a
 * render callback the role provides; any other path is 404, any other
 * method 405, a request head past METRICS_MAX_REQUEST bytes 431, and a
 * client silent for METRICS_IDLE_TIMEOUT seconds is dropped.  At most
 * METRICS_MAX_CLIENTS connections at once: more wait in the kernel's
 * backlog (the listener is stopped until one closes).  Nothing blocks the
 * loop: sockets are non-blocking and the reply is written as the socket
 * takes it.
 *
 * The daemon passes mreg_render (mreg.h) as the render callback: the roles
 * register their numbers there and never call this module.
 *
 * Threads: everything runs on the thread of `loop`.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include "wire.h"

#define METRICS_MAX_REQUEST	8192		/* bytes of request head */
#define METRICS_MAX_CLIENTS	4
#define METRICS_IDLE_TIMEOUT	10.0		/* seconds */
#define METRICS_MAX_REPLY	(16u * 1024 * 1024)

struct metrics;
typedef void (*metrics_render_fn)(void *arg, struct wbuf *out);

#ifdef EV_VERSION_MAJOR
/* Listen on addr ("127.0.0.1:9464", "[::1]:9464"; a name is resolved
 * once, blocking: call at start-up).  addr "" or NULL: *out = NULL and
 * SL_OK (metrics off).  render is called once per scrape, on the loop
 * thread, and appends exposition text to out.  SL_EINVAL (bad address)
 * or SL_EIO (bind/listen) with a sentence in err; SL_ENOMEM. */
int	metrics_start(struct metrics **out, struct ev_loop *loop, const char *addr,
	    metrics_render_fn render, void *arg, char *err, size_t errlen);
#endif
/* Close the listener and every client; NULL is allowed.  Never call it
 * from inside render. */
void	metrics_stop(struct metrics *m);

#endif
