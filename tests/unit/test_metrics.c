// links: agent/libdaemon.a agent/libnet.a agent/libstore.a agent/libbase.a
/*
 * test_metrics.c: the HTTP listener (/metrics, the page, status.json) on a
 * real loop.  The loop runs in a thread, the listener in libmicrohttpd's;
 * the test is a plain blocking client on 127.0.0.1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <ev.h>

#include "log.h"
#include "metrics.h"
#include "mreg.h"
#include "sluice.h"

struct fixture {
	struct ev_loop	*loop;
	struct metrics	*m;
	ev_async	 stop;
	pthread_t	 th;
	int		 port;
	int		 renders;
};

static void
render(void *arg, struct wbuf *b)
{
	struct fixture *f = arg;

	f->renders++;
	mreg_family(b, "sluice_bytes_sent_total", "counter", "Bytes sent.");
	mreg_sample(b, "sluice_bytes_sent_total", NULL, 123456789);
	mreg_family(b, "sluice_datasets", "gauge", "Datasets by state.");
	mreg_sample(b, "sluice_datasets", "state=\"queued\"", 3);
	mreg_sample(b, "sluice_datasets", "state=\"failed\"", 0);
	mreg_sample(b, "sluice_ratio", "", 0.25);
}

static void
stop_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)w; (void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void *
loop_main(void *arg)
{
	struct fixture *f = arg;

	ev_run(f->loop, 0);
	return NULL;
}

static int
free_port(void)
{
	struct sockaddr_in	sa;
	socklen_t		len = sizeof(sa);
	int			fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		return -1;
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));
	char		 addr[64], err[256];

	signal(SIGPIPE, SIG_IGN);
	f->loop = ev_loop_new(EVFLAG_AUTO);
	f->port = free_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
	if (metrics_start(&f->m, f->loop, addr, render, f, err, sizeof(err)) != SL_OK) {
		fprintf(stderr, "metrics_start: %s\n", err);
		return -1;
	}
	ev_async_init(&f->stop, stop_cb);
	ev_async_start(f->loop, &f->stop);
	pthread_create(&f->th, NULL, loop_main, f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	ev_async_send(f->loop, &f->stop);
	pthread_join(f->th, NULL);
	metrics_stop(f->m);
	ev_loop_destroy(f->loop);
	free(f);
	return 0;
}

static int
connect_to(int port)
{
	struct sockaddr_in	sa;
	struct timeval		tv = { 5, 0 };
	int			fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void
count_render(void *arg, struct wbuf *b)
{
	(*(int *)arg)++;
	mreg_sample(b, "x", NULL, 1);
}

/* Send req (len bytes), read the whole reply into a malloc'd string;
 * wait at most secs for each read. */
static char *
http_wait(int port, const char *req, size_t len, int secs)
{
	char		*buf = malloc(1 << 20);
	size_t		 n = 0;
	ssize_t		 r;
	int		 fd = connect_to(port);
	struct timeval	 tv = { secs, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	while (len > 0) {
		r = send(fd, req, len, MSG_NOSIGNAL);
		if (r <= 0)
			break;		/* the server may stop reading */
		req += r;
		len -= (size_t)r;
	}
	while (n < (1 << 20) - 1 && (r = read(fd, buf + n, (1 << 20) - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(fd);
	return buf;
}

static char *
http(int port, const char *req, size_t len)
{
	return http_wait(port, req, len, 5);
}

static int
status_of(const char *reply)
{
	int code = -1;

	if (sscanf(reply, "HTTP/1.%*d %d", &code) != 1)
		return -1;
	return code;
}

static void
test_scrape(void **state)
{
	struct fixture	*f = *state;
	const char	*req = "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n";
	char		*rep = http(f->port, req, strlen(req)), *body, *line, *save;
	char		 name[128], value[64];
	int		 samples = 0, helps = 0, types = 0;
	size_t		 clen = 0;
	const char	*cl;

	assert_int_equal(status_of(rep), 200);
	assert_non_null(strstr(rep, "Content-Type: text/plain; version=0.0.4"));
	cl = strstr(rep, "Content-Length: ");
	assert_non_null(cl);
	clen = strtoul(cl + 16, NULL, 10);
	body = strstr(rep, "\r\n\r\n");
	assert_non_null(body);
	body += 4;
	assert_int_equal(strlen(body), clen);
	/* every line is a comment (# HELP / # TYPE) or "name[{labels}] value" */
	for (line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			helps++;
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			types++;
			continue;
		}
		assert_int_equal(sscanf(line, "%127[a-zA-Z0-9_:{}=\",] %63s", name, value), 2);
		assert_true(strtod(value, NULL) >= 0);
		samples++;
		if (strcmp(name, "sluice_bytes_sent_total") == 0)
			assert_string_equal(value, "123456789");
		if (strcmp(name, "sluice_datasets{state=\"queued\"}") == 0)
			assert_string_equal(value, "3");
		if (strcmp(name, "sluice_ratio") == 0)
			assert_string_equal(value, "0.25");
	}
	assert_int_equal(samples, 4);
	assert_int_equal(helps, 2);
	assert_int_equal(types, 2);
	free(rep);
	/* a second scrape renders again; the query string is ignored */
	req = "GET /metrics?x=1 HTTP/1.1\nHost: x\n\n";
	rep = http(f->port, req, strlen(req));
	assert_int_equal(status_of(rep), 200);
	free(rep);
	assert_int_equal(f->renders, 2);
}

static void
test_not_found(void **state)
{
	struct fixture	*f = *state;
	const char	*req = "GET /other HTTP/1.0\r\n\r\n";
	char		*rep = http(f->port, req, strlen(req));

	assert_int_equal(status_of(rep), 404);
	free(rep);
	req = "POST /metrics HTTP/1.0\r\n\r\n";
	rep = http(f->port, req, strlen(req));
	assert_int_equal(status_of(rep), 405);
	assert_non_null(strstr(rep, "Allow: GET, HEAD"));
	free(rep);
	req = "DELETE /status.json HTTP/1.1\r\nHost: x\r\n\r\n";
	rep = http(f->port, req, strlen(req));
	assert_int_equal(status_of(rep), 405);
	free(rep);
	req = "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
	rep = http(f->port, req, strlen(req));
	assert_int_equal(status_of(rep), 405);
	free(rep);
	/* a head that is not HTTP: 400, or closed without a reply */
	req = "garbage\r\n\r\n";
	rep = http(f->port, req, strlen(req));
	assert_true(status_of(rep) == 400 || rep[0] == '\0');
	free(rep);
	assert_int_equal(f->renders, 0);
	/* and the listener still serves */
	rep = http(f->port, "GET /metrics HTTP/1.0\r\n\r\n", 25);
	assert_int_equal(status_of(rep), 200);
	free(rep);
}

/* HEAD: the headers of GET, no body.  The page is served from the binary;
 * status.json without metrics_set_status is a 503 with a JSON reason. */
static void
test_head_page(void **state)
{
	struct fixture	*f = *state;
	const char	*req = "HEAD /metrics HTTP/1.0\r\n\r\n";
	char		*rep = http(f->port, req, strlen(req)), *body;

	assert_int_equal(status_of(rep), 200);
	body = strstr(rep, "\r\n\r\n");
	assert_non_null(body);
	assert_string_equal(body + 4, "");
	free(rep);
	req = "GET / HTTP/1.0\r\n\r\n";
	rep = http(f->port, req, strlen(req));
	assert_int_equal(status_of(rep), 200);
	assert_non_null(strstr(rep, "Content-Type: text/html"));
	assert_non_null(strstr(rep, "Content-Security-Policy: default-src 'none'; "
	    "script-src 'sha256-"));
	assert_null(strstr(rep, "unsafe-inline"));
	assert_non_null(strstr(rep, "<!DOCTYPE html>"));
	assert_non_null(strstr(rep, "status.json"));
	assert_non_null(strstr(rep, "</html>"));
	free(rep);
	req = "GET /status.json HTTP/1.0\r\n\r\n";
	rep = http(f->port, req, strlen(req));
	assert_int_equal(status_of(rep), 503);
	assert_non_null(strstr(rep, "{\"error\":"));
	free(rep);
}

/* Scrapes from several threads at once: each gets a whole reply, and
 * they never cause more renders than scrapes. */
static void *
scraper(void *arg)
{
	struct fixture	*f = arg;
	char		*rep = http(f->port, "GET /metrics HTTP/1.0\r\n\r\n", 25);
	intptr_t	 ok = status_of(rep) == 200 && strstr(rep, "sluice_ratio 0.25\n");

	free(rep);
	return (void *)ok;
}

static void
test_concurrent(void **state)
{
	struct fixture	*f = *state;
	pthread_t	 th[6];
	void		*ok;
	int		 i;

	for (i = 0; i < 6; i++)
		pthread_create(&th[i], NULL, scraper, f);
	for (i = 0; i < 6; i++) {
		pthread_join(th[i], &ok);
		assert_true(ok != NULL);
	}
	assert_true(f->renders >= 1 && f->renders <= 6);
}

/* A loop that never runs (a wedged daemon): the scrape gets 503 after
 * METRICS_RENDER_WAIT, never hangs, and stopping is clean. */
static void
test_loop_stuck(void **state)
{
	struct metrics	*m = NULL;
	struct ev_loop	*loop = ev_loop_new(EVFLAG_AUTO);
	char		 addr[64], err[256], *rep;
	int		 port = free_port(), renders = 0;
	double		 t0;
	struct timeval	 tv;

	(void)state;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	assert_int_equal(metrics_start(&m, loop, addr, count_render, &renders, err,
	    sizeof(err)), SL_OK);
	gettimeofday(&tv, NULL);
	t0 = (double)tv.tv_sec + tv.tv_usec / 1e6;
	rep = http_wait(port, "GET /metrics HTTP/1.0\r\n\r\n", 25, 20);
	gettimeofday(&tv, NULL);
	assert_int_equal(status_of(rep), 503);
	assert_true((double)tv.tv_sec + tv.tv_usec / 1e6 - t0 >= METRICS_RENDER_WAIT - 0.5);
	free(rep);
	assert_int_equal(renders, 0);
	metrics_stop(m);
	ev_loop_destroy(loop);
}

static void
test_oversized(void **state)
{
	struct fixture	*f = *state;
	size_t		 len = 3 * METRICS_MAX_REQUEST;
	char		*req = malloc(len), *rep;

	memset(req, 'a', len);
	memcpy(req, "GET /metrics HTTP/1.0\r\nX-Pad: ", 30);
	rep = http(f->port, req, len);
	assert_int_equal(status_of(rep), 431);
	free(rep);
	free(req);
	assert_int_equal(f->renders, 0);
	/* the server is still there */
	rep = http(f->port, "GET /metrics HTTP/1.0\r\n\r\n", 25);
	assert_int_equal(status_of(rep), 200);
	free(rep);
}

/* More clients than slots, all idle: nobody blocks the loop, and once
 * they hang up their slots are free again.  A connection that arrives
 * while every slot is taken is closed at once (libmicrohttpd's limit),
 * and the threads notice their clients' hang-ups in their own time, so
 * the scrape is retried for a while rather than expected at once. */
static void
test_many_clients(void **state)
{
	struct fixture	*f = *state;
	int		 fds[METRICS_MAX_CLIENTS + 2], i, code = -1;
	char		*rep;

	for (i = 0; i < METRICS_MAX_CLIENTS + 2; i++)
		fds[i] = connect_to(f->port);
	for (i = 0; i < METRICS_MAX_CLIENTS + 2; i++)
		close(fds[i]);
	for (i = 0; i < 200 && code != 200; i++) {
		if (i > 0)
			usleep(50 * 1000);
		rep = http(f->port, "GET /metrics HTTP/1.0\r\n\r\n", 25);
		code = status_of(rep);
		free(rep);
	}
	assert_int_equal(code, 200);
}

static void
test_helpers(void **state)
{
	struct wbuf	b;

	(void)state;
	wbuf_init(&b, 0);
	mreg_sample(&b, "a", NULL, 1.5);
	mreg_sample(&b, "b", "x=\"y\"", -2);
	mreg_sample(&b, "c", NULL, 1e20);
	mreg_family(&b, "d", "gauge", "Help text.");
	assert_int_equal(b.len, strlen("a 1.5\nb{x=\"y\"} -2\nc 1e+20\n"
	    "# HELP d Help text.\n# TYPE d gauge\n"));
	assert_memory_equal(b.p, "a 1.5\nb{x=\"y\"} -2\nc 1e+20\n# HELP d Help text.\n"
	    "# TYPE d gauge\n", b.len);
	wbuf_free(&b);
}

static void
test_off(void **state)
{
	struct metrics	*m = (struct metrics *)1;
	struct ev_loop	*loop = ev_loop_new(EVFLAG_AUTO);
	char		 err[128];

	(void)state;
	assert_int_equal(metrics_start(&m, loop, "", render, NULL, err, sizeof(err)), SL_OK);
	assert_null(m);
	assert_int_not_equal(metrics_start(&m, loop, "not an address", render, NULL,
	    err, sizeof(err)), SL_OK);
	ev_loop_destroy(loop);
}

/* The registry: collectors render in registration order, a pair is
 * registered once, the table is bounded, unregister removes only its pair. */
static void
coll_a(void *arg, struct wbuf *b)
{
	mreg_sample(b, "a", NULL, (double)(intptr_t)arg);
}

static void
coll_b(void *arg, struct wbuf *b)
{
	mreg_sample(b, "b", NULL, (double)(intptr_t)arg);
}

static void
test_registry(void **state)
{
	struct wbuf	b;
	intptr_t	i;

	(void)state;
	wbuf_init(&b, 4096);
	assert_int_equal(mreg_register(coll_a, (void *)1), SL_OK);
	assert_int_equal(mreg_register(coll_b, (void *)2), SL_OK);
	assert_int_equal(mreg_register(coll_a, (void *)1), SL_EEXIST);
	assert_int_equal(mreg_register(coll_a, (void *)3), SL_OK);
	mreg_render(NULL, &b);
	assert_int_equal(b.len, strlen("a 1\nb 2\na 3\n"));
	assert_memory_equal(b.p, "a 1\nb 2\na 3\n", b.len);
	mreg_unregister(coll_a, (void *)1);
	mreg_unregister(coll_b, (void *)99);	/* unknown: ignored */
	wbuf_reset(&b);
	mreg_render(NULL, &b);
	assert_memory_equal(b.p, "b 2\na 3\n", b.len);
	for (i = 10; i < 10 + MREG_MAX - 2; i++)
		assert_int_equal(mreg_register(coll_b, (void *)i), SL_OK);
	assert_int_equal(mreg_register(coll_b, (void *)1000), SL_ETOOBIG);
	mreg_unregister(coll_b, (void *)2);
	mreg_unregister(coll_a, (void *)3);
	for (i = 10; i < 10 + MREG_MAX - 2; i++)
		mreg_unregister(coll_b, (void *)i);
	wbuf_reset(&b);
	mreg_render(NULL, &b);
	assert_int_equal(b.len, 0);
	wbuf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scrape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
		cmocka_unit_test(test_loop_stuck),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_off),
	};

	log_init(LOG_ERR, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
