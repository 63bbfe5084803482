/*
 * metrics.h: the daemon's read-only HTTP listener (agent/daemon/metrics.c),
 * served by libmicrohttpd on threads of its own.
 *
 *	GET /metrics      Prometheus text (version=0.0.4) from a render
 *	                  callback the role provides, rendered on the loop
 *	GET /             the live page: one HTML document with its CSS and
 *	                  script inline, embedded in the binary (livepage.c)
 *	GET /status.json  what `sluice status --json` prints (the page polls it;
 *	                  docs/status-json.md), see metrics_set_status
 *
 * HEAD is answered like GET without the body; any other method is 405
 * (with "Allow: GET, HEAD"), any other path 404.  Nothing served changes
 * anything: the listener has no control actions.  A request head past
 * METRICS_MAX_REQUEST bytes is refused by the library (431), a client
 * silent for METRICS_IDLE_TIMEOUT seconds is dropped, and at most
 * METRICS_MAX_CLIENTS connections are open at once, each on its own thread
 * (a browser keeps one or two open between polls; past the limit a new
 * connection is closed at once, and the library logs it).
 *
 * The daemon passes mreg_render (mreg.h) as the render callback: the roles
 * register their numbers there and never call this module.
 *
 * Threads: metrics_start, metrics_set_status and metrics_stop on the thread
 * of `loop` (the one that runs it); render is only ever called there.  The
 * HTTP threads never touch loop data (metrics.c says how they get it).
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include "wire.h"

#define METRICS_MAX_REQUEST	8192		/* bytes of request head */
#define METRICS_MAX_CLIENTS	32
#define METRICS_THREAD_STACK	(512u * 1024)	/* bytes per HTTP thread */
#define METRICS_IDLE_TIMEOUT	10		/* seconds */
#define METRICS_RENDER_WAIT	5.0		/* seconds a scrape waits for the loop */
#define METRICS_MAX_REPLY	(16u * 1024 * 1024)

struct metrics;
typedef void (*metrics_render_fn)(void *arg, struct wbuf *out);

#ifdef EV_VERSION_MAJOR
/* Listen on addr ("127.0.0.1:9464", "[::1]:9464"; a name is resolved
 * once, blocking: call at start-up).  addr "" or NULL: *out = NULL and
 * SL_OK (the listener is off).  render is called once per scrape (scrapes
 * that arrive together share one), on the loop thread, and appends
 * exposition text to out.  SL_EINVAL (bad address), SL_EIO (bind/listen,
 * or the HTTP library would not start) with a sentence in err; SL_ENOMEM. */
int	metrics_start(struct metrics **out, struct ev_loop *loop, const char *addr,
	    metrics_render_fn render, void *arg, char *err, size_t errlen);
#endif
/* Where /status.json comes from: the CLI at `cli` run as
 * `cli -c config status --json` (statusjson.h).  Both are copied.  Until
 * it is called, / and /status.json answer 503.  m NULL: nothing. */
void	metrics_set_status(struct metrics *m, const char *cli, const char *config);
/* Stop the HTTP threads (a request waiting for the loop gets 503), close
 * the listener; NULL is allowed.  Never call it from inside render. */
void	metrics_stop(struct metrics *m);

#endif
