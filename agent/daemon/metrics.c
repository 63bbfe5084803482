/*
 * metrics.c: the daemon's read-only HTTP listener (metrics.h): /metrics,
 * the live page and its /status.json, on libmicrohttpd.
 *
 * The library runs its own threads (one that accepts, one per connection,
 * at most METRICS_MAX_CLIENTS, small stacks), so an HTTP client never costs the loop a
 * syscall.  Those threads must not touch loop data, and they never do:
 *
 *  - /metrics: the numbers live on the loop (the roles' collectors walk the
 *    journal and their own structs).  A scrape asks for a snapshot: under
 *    the mutex it bumps `asked` and wakes the loop with ev_async_send; the
 *    loop's async callback renders into `snap` under the same mutex, sets
 *    `served = asked` and broadcasts; the scrape copies the text out.  So
 *    the loop renders on request, never on a timer while nobody looks, and
 *    scrapes that arrive together share one render.  A loop that does not
 *    answer in METRICS_RENDER_WAIT seconds gets the scrape a 503 (a scrape
 *    of a wedged daemon should fail, not hang).
 *  - /status.json: not from the loop at all: the CLI's own builder, run
 *    as a child (statusjson.c says why).  One child at a time (st_mu), and
 *    its answer is kept for STATUS_TTL seconds, so N browsers cost one
 *    process a second.
 *  - /: bytes in the binary (livepage.c), with a Content-Security-Policy
 *    that allows only the page's own inline script and style, by hash.
 *
 * Stopping: metrics_stop (loop thread) sets `stopping` and broadcasts, so a
 * scrape waiting for the loop gives up, then MHD_stop_daemon joins the
 * threads; only then are the async watcher and the buffers released.
 * The HTTP threads are created with every signal blocked: signals belong
 * to the loop thread (libev's ev_signal), as in workq.c.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ev.h>
#include <jansson.h>
#include <microhttpd.h>

#include "livepage.h"
#include "log.h"
#include "metrics.h"
#include "net.h"
#include "sltime.h"
#include "sluice.h"
#include "statusjson.h"

#define STATUS_TTL	1.0		/* seconds a /status.json answer is reused */

struct metrics {
	struct ev_loop		*loop;
	struct MHD_Daemon	*d;
	metrics_render_fn	 render;
	void			*arg;
	struct net_addr		 addr;
	char			 csp[512];	/* the page's; set before the threads */

	/* /metrics snapshots: everything below under mu */
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	ev_async		 wake;
	unsigned long long	 asked, served;
	struct wbuf		 snap;
	int			 stopping;

	/* /status.json: under st_mu */
	pthread_mutex_t		 st_mu;
	char			*cli, *config;
	struct wbuf		 st;
	double			 st_when;	/* monotonic; 0 = none kept */
	int			 st_code;	/* 200, or 503 with st an error object */
};

/* Loop thread: render what the scrapes asked for. */
static void
wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct metrics *m = w->data;

	(void)loop;
	pthread_mutex_lock(&m->mu);
	if (m->served < m->asked) {
		wbuf_reset(&m->snap);
		m->render(m->arg, &m->snap);
		m->served = m->asked;
		pthread_cond_broadcast(&m->cv);
	}
	pthread_mutex_unlock(&m->mu);
}

/* csp: the page's Content-Security-Policy, or NULL (not the page). */
static enum MHD_Result
reply(struct MHD_Connection *c, unsigned code, const char *ctype, const void *body,
    size_t len, enum MHD_ResponseMemoryMode mode, const char *csp)
{
	struct MHD_Response	*r;
	enum MHD_Result		 ret;

	r = MHD_create_response_from_buffer(len, (void *)body, mode);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (csp != NULL) {
		MHD_add_response_header(r, "Content-Security-Policy", csp);
		MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	}
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
reply_text(struct MHD_Connection *c, unsigned code, const char *text)
{
	return reply(c, code, "text/plain; charset=utf-8", text, strlen(text),
	    MHD_RESPMEM_PERSISTENT, NULL);
}

static enum MHD_Result
serve_metrics(struct metrics *m, struct MHD_Connection *c)
{
	struct timespec		 until;
	double			 at = sl_time_wall() + METRICS_RENDER_WAIT;
	unsigned long long	 mine;
	enum MHD_Result		 ret;

	until.tv_sec = (time_t)at;
	until.tv_nsec = (long)((at - (double)until.tv_sec) * 1e9);
	pthread_mutex_lock(&m->mu);
	mine = ++m->asked;
	ev_async_send(m->loop, &m->wake);
	while (m->served < mine && !m->stopping)
		if (pthread_cond_timedwait(&m->cv, &m->mu, &until) == ETIMEDOUT)
			break;
	if (m->served < mine) {
		pthread_mutex_unlock(&m->mu);
		log_warnx("metrics", "scrape: the loop did not render in %.0f s",
		    METRICS_RENDER_WAIT);
		return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "Service Unavailable: the daemon's loop did not answer\n");
	}
	/* copied while we hold the lock: the next render reuses snap */
	ret = reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
	    m->snap.p, m->snap.len, MHD_RESPMEM_MUST_COPY, NULL);
	pthread_mutex_unlock(&m->mu);
	return ret;
}

/* st_mu held: run the CLI into m->st, or an error object with 503. */
static void
status_refresh(struct metrics *m)
{
	char	 err[1400];
	json_t	*o;
	char	*s;

	wbuf_reset(&m->st);
	m->st_code = MHD_HTTP_OK;
	if (m->cli == NULL)
		snprintf(err, sizeof(err), "status is not set up in this daemon");
	else if (sj_run(m->cli, m->config, SJ_TIMEOUT, &m->st, err, sizeof(err)) == SL_OK) {
		m->st_when = sl_time_mono();
		return;
	}
	log_warnx("metrics", "status.json: %s", err);
	wbuf_reset(&m->st);
	m->st_code = MHD_HTTP_SERVICE_UNAVAILABLE;
	o = json_pack("{s:s}", "error", err);
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	/* an error that is not UTF-8 (a CLI's stderr) cannot be a JSON string */
	(void)wbuf_puts(&m->st, s ? s : "{\"error\":\"status unavailable: see the daemon's log\"}");
	free(s);
	json_decref(o);
	m->st_when = sl_time_mono();
}

static enum MHD_Result
serve_status(struct metrics *m, struct MHD_Connection *c)
{
	enum MHD_Result	ret;

	pthread_mutex_lock(&m->st_mu);
	if (m->st_when == 0 || sl_time_mono() - m->st_when >= STATUS_TTL)
		status_refresh(m);
	ret = reply(c, (unsigned)m->st_code, "application/json", m->st.p, m->st.len,
	    MHD_RESPMEM_MUST_COPY, NULL);
	pthread_mutex_unlock(&m->st_mu);
	return ret;
}

/* An HTTP thread: one request, answered at once (no request bodies). */
static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_len, void **ctx)
{
	struct metrics	*m = cls;
	const char	*peer = "?";
	char		 pbuf[NI_MAXHOST];
	const union MHD_ConnectionInfo *ci;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)ctx;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr && getnameinfo(ci->client_addr,
	    ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in), pbuf, sizeof(pbuf), NULL, 0,
	    NI_NUMERICHOST) == 0)
		peer = pbuf;
	log_debug("metrics", "peer=%s method=%s path=%s", peer, log_q(method), log_q(url));
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "Method Not Allowed: this listener is read-only (GET, HEAD)\n");
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(m, c);
	if (strcmp(url, "/status.json") == 0)
		return serve_status(m, c);
	if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", livepage_html,
		    livepage_len(), MHD_RESPMEM_PERSISTENT, m->csp);
	return reply_text(c, MHD_HTTP_NOT_FOUND,
	    "Not Found (this listener serves /, /status.json and /metrics)\n");
}

/* The library's own complaints (a bad request head, out of threads). */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char	line[512];
	size_t	n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_warnx("metrics", "http: %s", log_q(line));
}

int
metrics_start(struct metrics **out, struct ev_loop *loop, const char *addr,
    metrics_render_fn render, void *arg, char *err, size_t errlen)
{
	struct metrics	*m;
	sigset_t	 all, old;
	int		 rc, lfd = -1;

	*out = NULL;
	if (addr == NULL || addr[0] == '\0')
		return SL_OK;
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		return SL_ENOMEM;
	}
	m->loop = loop;
	m->render = render;
	m->arg = arg;
	wbuf_init(&m->snap, METRICS_MAX_REPLY);
	wbuf_init(&m->st, METRICS_MAX_REPLY);
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	pthread_mutex_init(&m->st_mu, NULL);
	ev_async_init(&m->wake, wake_cb);
	m->wake.data = m;
	rc = livepage_csp(m->csp, sizeof(m->csp));
	if (rc != SL_OK) {
		snprintf(err, errlen, "metrics: the built-in page has no <script> or <style>: %s",
		    sl_strerror(rc));
		goto fail;
	}
	rc = net_resolve(addr, &m->addr, err, errlen);
	if (rc == SL_OK)
		rc = net_listen(&m->addr, 16, &lfd, err, errlen);
	if (rc != SL_OK)
		goto fail;
	ev_async_start(loop, &m->wake);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);	/* inherited by MHD's threads */
	m->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    handler, m,
	    MHD_OPTION_LISTEN_SOCKET, lfd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_MAX_CLIENTS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_IDLE_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_MAX_REQUEST * 2,
	    MHD_OPTION_THREAD_STACK_SIZE, (size_t)METRICS_THREAD_STACK,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (m->d == NULL) {
		snprintf(err, errlen, "metrics: listen %s: libmicrohttpd would not start",
		    m->addr.text);
		ev_async_stop(loop, &m->wake);
		close(lfd);
		rc = SL_EIO;
		goto fail;
	}
	log_info("metrics", "listen=%s paths=/metrics,/,/status.json", m->addr.text);
	*out = m;
	return SL_OK;
fail:
	wbuf_free(&m->snap);
	wbuf_free(&m->st);
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->st_mu);
	free(m);
	return rc;
}

void
metrics_set_status(struct metrics *m, const char *cli, const char *config)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->st_mu);
	free(m->cli);
	free(m->config);
	m->cli = strdup(cli);
	m->config = strdup(config);
	if (m->cli == NULL || m->config == NULL) {
		free(m->cli);
		free(m->config);
		m->cli = m->config = NULL;	/* status.json says it is not set up */
	}
	m->st_when = 0;
	pthread_mutex_unlock(&m->st_mu);
}

void
metrics_stop(struct metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	m->stopping = 1;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
	MHD_stop_daemon(m->d);		/* joins every HTTP thread; closes the listener */
	ev_async_stop(m->loop, &m->wake);
	wbuf_free(&m->snap);
	wbuf_free(&m->st);
	free(m->cli);
	free(m->config);
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->st_mu);
	free(m);
}
