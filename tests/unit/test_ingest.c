// links: agent/libsend.a agent/libbase.a
/*
 * test_ingest.c: the ingest module against real directories in a mkdtemp
 * spool, on a real libev loop: marker and quiet sealing, start-up scan,
 * hidden directories, nested directories, sidecar parsing, retry.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <fcntl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "config.h"
#include "ingest.h"
#include "log.h"
#include "sluice.h"

static char		 spool[64];
static struct config	 cfg;
static struct ev_loop	*loop;

/* what the callback saw */
static int		 calls;
static int		 refuse;		/* refuse this many calls */
static double		 call_at;
static char		 got_dir[4096];
static uint32_t		 got_n;
static char		 got_kv[16][2][256];
static char		 got_err[256];
static unsigned		 cb_sleep_us;

static int
sealed_cb(void *arg, const char *dir, const struct ingest_meta *m)
{
	uint32_t i;

	calls++;
	call_at = ev_time();
	if (cb_sleep_us > 0)
		usleep(cb_sleep_us);	/* the agent's journal sync */
	snprintf(got_dir, sizeof(got_dir), "%s", dir);
	assert_non_null(m);
	got_n = m->n;
	for (i = 0; i < m->n && i < 16; i++) {
		snprintf(got_kv[i][0], sizeof(got_kv[i][0]), "%s", m->kv[i][0]);
		snprintf(got_kv[i][1], sizeof(got_kv[i][1]), "%s", m->kv[i][1]);
	}
	snprintf(got_err, sizeof(got_err), "%s", m->error);
	if (refuse > 0) {
		refuse--;
		return 1;
	}
	return 0;
}

static const char *
meta_get(const char *k)
{
	uint32_t i;

	for (i = 0; i < got_n && i < 16; i++)
		if (strcmp(got_kv[i][0], k) == 0)
			return got_kv[i][1];
	return NULL;
}

static void
tick_cb(struct ev_loop *l, ev_timer *t, int revents)
{
	(void)l; (void)t; (void)revents;
}

/* Run the loop for secs, or until calls reaches want (want < 0: never). */
static void
run_for(double secs, int want)
{
	ev_timer	tick;
	double		end;

	ev_timer_init(&tick, tick_cb, 0.01, 0.01);
	ev_timer_start(loop, &tick);
	ev_now_update(loop);
	end = ev_now(loop) + secs;
	while (ev_now(loop) < end && (want < 0 || calls < want))
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &tick);
}

static void
path(char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s/%s", spool, rel);
}

static void
mkd(const char *rel)
{
	char p[256];

	path(p, sizeof(p), rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static void
put(const char *rel, const char *text)
{
	char	 p[256];
	FILE	*f;

	path(p, sizeof(p), rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(spool, sizeof(spool), "/tmp/sluice-ingest-XXXXXX");
	assert_non_null(mkdtemp(spool));
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.spool, sizeof(cfg.spool), "%s", spool);
	snprintf(cfg.seal_marker, sizeof(cfg.seal_marker), ".sealed");
	snprintf(cfg.sidecar, sizeof(cfg.sidecar), "metadata.json");
	cfg.quiet = 0;
	calls = 0;
	refuse = 0;
	got_n = 0;
	got_dir[0] = got_err[0] = '\0';
	loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(loop);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	ev_loop_destroy(loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", spool);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static struct ingest *
start(void)
{
	struct ingest	*ing = NULL;
	char		 err[512] = "";

	assert_int_equal(ingest_start(&ing, loop, &cfg, sealed_cb, NULL, err,
	    sizeof(err)), SL_OK);
	assert_non_null(ing);
	return ing;
}

static void
test_marker(void **state)
{
	struct ingest	*ing = start();
	char		 want[256];

	(void)state;
	mkd("ds1");
	put("ds1/a.dat", "hello");
	run_for(0.3, 1);
	assert_int_equal(calls, 0);
	assert_int_equal(ingest_pending(ing), 1);
	put("ds1/.sealed", "");
	run_for(3, 1);
	assert_int_equal(calls, 1);
	path(want, sizeof(want), "ds1");
	assert_string_equal(got_dir, want);
	assert_int_equal(got_n, 0);
	assert_string_equal(got_err, "");
	assert_int_equal(ingest_pending(ing), 0);
	/* accepted: not handed over again */
	put("ds1/b.dat", "more");
	put("ds1/.sealed", "x");
	run_for(0.3, 2);
	assert_int_equal(calls, 1);
	ingest_stop(ing);
}

static void
test_quiet(void **state)
{
	struct ingest	*ing;
	double		 last;

	(void)state;
	cfg.quiet = 0.3;
	ing = start();
	mkd("ds");
	put("ds/a", "1");
	run_for(0.2, 1);
	put("ds/a", "12");
	ev_now_update(loop);
	last = ev_now(loop);
	run_for(0.2, 1);
	assert_int_equal(calls, 0);
	run_for(3, 1);
	assert_int_equal(calls, 1);
	assert_true(call_at - last >= 0.28);
	assert_true(call_at - last < 1.5);
	ingest_stop(ing);
}

static void
test_existing(void **state)
{
	struct ingest *ing;

	(void)state;
	mkd("old");
	put("old/f", "x");
	put("old/.sealed", "");
	mkd("open");
	put("open/f", "x");
	ing = start();
	assert_int_equal(calls, 0);		/* handed over from the loop */
	run_for(1, 1);
	assert_int_equal(calls, 1);
	assert_non_null(strstr(got_dir, "/old"));
	assert_int_equal(ingest_pending(ing), 1);	/* "open" is watched */
	put("open/.sealed", "");
	run_for(3, 2);
	assert_int_equal(calls, 2);
	assert_non_null(strstr(got_dir, "/open"));
	ingest_stop(ing);
}

static void
test_existing_quiet(void **state)
{
	struct ingest	*ing;
	struct timespec	 ts[2] = { { 1000000, 0 }, { 1000000, 0 } };
	char		 p[256];

	(void)state;
	cfg.quiet = 5;
	mkd("stale");
	put("stale/f", "x");
	path(p, sizeof(p), "stale/f");
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	path(p, sizeof(p), "stale");
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	ing = start();
	run_for(1, 1);		/* sealed at start, handed over from the loop */
	assert_int_equal(calls, 1);
	ingest_stop(ing);
}

/* Many sealed at start, each hand-over slow (a journal sync): handed over
 * a slice per loop pass, so the loop serves other watchers meanwhile,
 * and every one exactly once, oldest first. */
static void
test_existing_many(void **state)
{
	struct ingest	*ing;
	char		 rel[64];
	int		 i, first;

	(void)state;
	for (i = 0; i < 300; i++) {
		snprintf(rel, sizeof(rel), "m%03d", i);
		mkd(rel);
		snprintf(rel, sizeof(rel), "m%03d/.sealed", i);
		put(rel, "");
	}
	cb_sleep_us = 1000;
	ing = start();
	assert_int_equal(calls, 0);
	ev_run(loop, EVRUN_ONCE);		/* one pass: one slice */
	first = calls;
	assert_true(first >= 1);
	assert_true(first < 150);		/* 50 ms of 1 ms hand-overs */
	run_for(10, 300);
	cb_sleep_us = 0;
	assert_int_equal(calls, 300);
	assert_int_equal(ingest_pending(ing), 0);
	run_for(0.2, -1);
	assert_int_equal(calls, 300);		/* none twice */
	ingest_stop(ing);
}

static void
test_hidden(void **state)
{
	struct ingest	*ing = start();
	char		 a[256], b[256];

	(void)state;
	mkd(".tmp-ds");
	put(".tmp-ds/f", "x");
	put(".tmp-ds/.sealed", "");
	run_for(0.3, 1);
	assert_int_equal(calls, 0);
	assert_int_equal(ingest_pending(ing), 0);
	/* renamed into view, marker already inside: sealed */
	path(a, sizeof(a), ".tmp-ds");
	path(b, sizeof(b), "ds");
	assert_int_equal(rename(a, b), 0);
	run_for(3, 1);
	assert_int_equal(calls, 1);
	assert_string_equal(got_dir, b);
	ingest_stop(ing);
}

static void
test_nested(void **state)
{
	struct ingest	*ing;
	double		 last;

	(void)state;
	cfg.quiet = 0.3;
	ing = start();
	mkd("ds");
	run_for(0.05, 1);
	mkd("ds/sub");
	run_for(0.2, 1);
	put("ds/sub/f", "x");		/* only the new subdir's watch sees it */
	run_for(0.2, 1);
	mkd("ds/sub/deep");
	run_for(0.2, 1);
	put("ds/sub/deep/g", "y");
	ev_now_update(loop);
	last = ev_now(loop);
	run_for(0.2, 1);
	assert_int_equal(calls, 0);
	run_for(3, 1);
	assert_int_equal(calls, 1);
	assert_true(call_at - last >= 0.28);
	ingest_stop(ing);
}

static void
test_sidecar(void **state)
{
	struct ingest *ing = start();

	(void)state;
	mkd("ds");
	put("ds/metadata.json", "{\"sample\": \"lysozyme 3\", \"n\": 42, "
	    "\"ok\": true, \"geo\": {\"a\": [1, 2], \"b\": null}, "
	    "\"bad key\": 1, \"x.y_z-1\": -7, \"pi\": 0.1, \"two\": 2.0}");
	put("ds/.sealed", "");
	run_for(3, 1);
	assert_int_equal(calls, 1);
	assert_string_equal(got_err, "");
	assert_int_equal(got_n, 7);
	assert_string_equal(meta_get("sample"), "lysozyme 3");
	assert_string_equal(meta_get("n"), "42");
	assert_string_equal(meta_get("ok"), "true");
	assert_string_equal(meta_get("geo"), "{\"a\":[1,2],\"b\":null}");
	assert_string_equal(meta_get("x.y_z-1"), "-7");
	assert_string_equal(meta_get("pi"), "0.1");
	assert_string_equal(meta_get("two"), "2.0");
	assert_null(meta_get("bad key"));

	/* not JSON: handed over anyway, with the reason */
	mkd("bad");
	put("bad/metadata.json", "{\"a\": ");
	put("bad/.sealed", "");
	run_for(3, 2);
	assert_int_equal(calls, 2);
	assert_int_equal(got_n, 0);
	assert_non_null(strstr(got_err, "metadata.json"));

	/* JSON but not an object */
	mkd("arr");
	put("arr/metadata.json", "[1, 2]");
	put("arr/.sealed", "");
	run_for(3, 3);
	assert_int_equal(calls, 3);
	assert_int_equal(got_n, 0);
	assert_non_null(strstr(got_err, "not a JSON object"));
	ingest_stop(ing);
}

static void
test_retry(void **state)
{
	struct ingest	*ing = start();
	double		 first;

	(void)state;
	refuse = 1;
	mkd("ds");
	put("ds/.sealed", "");
	run_for(3, 1);
	assert_int_equal(calls, 1);
	first = call_at;
	assert_int_equal(ingest_pending(ing), 1);
	run_for(INGEST_RETRY_SEC + 2, 2);
	assert_int_equal(calls, 2);
	assert_true(call_at - first >= INGEST_RETRY_SEC - 0.1);
	assert_int_equal(ingest_pending(ing), 0);
	ingest_stop(ing);
}

static void
test_bad_spool(void **state)
{
	struct ingest	*ing = (struct ingest *)&ing;
	char		 err[512] = "";

	(void)state;
	snprintf(cfg.spool, sizeof(cfg.spool), "%s, %s/nope", spool, spool);
	assert_int_equal(ingest_start(&ing, loop, &cfg, sealed_cb, NULL, err,
	    sizeof(err)), SL_EINVAL);
	assert_null(ing);
	assert_non_null(strstr(err, "/nope"));
	assert_non_null(strstr(err, "No such file"));

	/* off */
	cfg.spool[0] = '\0';
	assert_int_equal(ingest_start(&ing, loop, &cfg, sealed_cb, NULL, err,
	    sizeof(err)), SL_OK);
	assert_null(ing);
	ingest_stop(ing);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_marker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quiet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_existing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_existing_quiet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_existing_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hidden, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sidecar, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_spool, setup, teardown),
	};

	log_init(LOG_WARN, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
