// links: agent/libdaemon.a agent/libbase.a
/*
 * test_statusjson.c: the runner behind /status.json (statusjson.h) with
 * stand-in CLIs written as shell scripts: a good answer (any health exit
 * status), a usage error with its stderr, a CLI that hangs (killed at the
 * deadline), one that prints too much, one that is not there, one that
 * looks at its descriptors and signal mask.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "metrics.h"
#include "sluice.h"
#include "statusjson.h"

static char	dir[] = "/tmp/test_statusjson.XXXXXX";

static const char *
script(const char *name, const char *body)
{
	static char	path[256];
	FILE		*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	chmod(path, 0755);
	return path;
}

static double
now(void)
{
	struct timeval	tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static void
test_ok(void **state)
{
	struct wbuf	out;
	char		err[512];
	const char	*cli;

	(void)state;
	/* it gets exactly: -c CONFIG status --json */
	cli = script("ok", "[ \"$1 $2 $3 $4\" = \"-c /x.conf status --json\" ] || exit 9\n"
	    "echo '{\"schema\": 1, \"health\": \"degraded\"}'; exit 1");
	wbuf_init(&out, METRICS_MAX_REPLY);
	assert_int_equal(sj_run(cli, "/x.conf", 5, &out, err, sizeof(err)), SL_OK);
	assert_true(out.len > 0);
	assert_memory_equal(out.p, "{\"schema\": 1", 12);
	wbuf_reset(&out);
	cli = script("down", "echo '{\"health\": \"down\"}'; exit 3");
	assert_int_equal(sj_run(cli, "/x.conf", 5, &out, err, sizeof(err)), SL_OK);
	wbuf_free(&out);
}

static void
test_errors(void **state)
{
	struct wbuf	out;
	char		err[512], absent[256];
	const char	*cli;
	double		t0;

	(void)state;
	wbuf_init(&out, METRICS_MAX_REPLY);
	cli = script("usage", "echo '/x.conf:3: [daemon] role: missing' >&2; exit 2");
	assert_int_equal(sj_run(cli, "/x.conf", 5, &out, err, sizeof(err)), SL_EIO);
	assert_non_null(strstr(err, "exit 2: /x.conf:3: [daemon] role: missing"));
	wbuf_reset(&out);
	cli = script("notjson", "echo 'sluice agent x: healthy'; exit 0");
	assert_int_equal(sj_run(cli, "/x.conf", 5, &out, err, sizeof(err)), SL_EIO);
	wbuf_reset(&out);
	cli = script("killed", "kill -9 $$");
	assert_int_equal(sj_run(cli, "/x.conf", 5, &out, err, sizeof(err)), SL_EIO);
	assert_non_null(strstr(err, "signal 9"));
	wbuf_reset(&out);
	/* hangs holding stdout open: killed at the deadline, not waited for */
	cli = script("hang", "echo '{'; exec sleep 60");
	t0 = now();
	assert_int_equal(sj_run(cli, "/x.conf", 1, &out, err, sizeof(err)), SL_EIO);
	assert_true(now() - t0 < 5);
	assert_non_null(strstr(err, "no answer in 1 s (killed)"));
	wbuf_free(&out);
	/* more than the cap */
	wbuf_init(&out, 1000);
	cli = script("big", "printf '{'; head -c 100000 /dev/zero | tr '\\\\0' x");
	assert_int_equal(sj_run(cli, "/x.conf", 5, &out, err, sizeof(err)), SL_EIO);
	assert_non_null(strstr(err, "more than"));
	wbuf_free(&out);
	wbuf_init(&out, 1000);
	snprintf(absent, sizeof(absent), "%s/absent", dir);
	assert_int_equal(sj_run(absent, "/x.conf", 5, &out, err, sizeof(err)), SL_EIO);
	assert_non_null(strstr(err, "absent"));
	wbuf_free(&out);
}

/* The child inherits no descriptor beyond 0-2 and no blocked signal. */
static void
test_clean_child(void **state)
{
	struct wbuf	out;
	char		err[512];
	const char	*cli;
	sigset_t	all, old;
	int		fd;

	(void)state;
	fd = dup(2);		/* not CLOEXEC: must still not leak */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	/* ls sees its inherited descriptors and the one it reads the
	 * directory with (3); SigBlk is the shell's blocked mask */
	cli = script("fds", "printf '{\"fds\": \"'; ls /proc/self/fd | tr '\\n' ' '; "
	    "printf '\", \"blk\": \"%s\"}' "
	    "\"$(sed -n 's/^SigBlk:[[:space:]]*//p' /proc/$$/status)\"");
	wbuf_init(&out, 4096);
	assert_int_equal(sj_run(cli, "/x.conf", 5, &out, err, sizeof(err)), SL_OK);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(fd);
	(void)wbuf_append(&out, "", 1);
	assert_non_null(strstr((char *)out.p, "\"fds\": \"0 1 2 3 \","));
	assert_non_null(strstr((char *)out.p, "\"blk\": \"0000000000000000\""));
	wbuf_free(&out);
}

static void
test_find_cli(void **state)
{
	char	path[4096], err[8192];

	(void)state;
	/* tests/unit/ has no sluice beside this binary, nor ../bin/sluice */
	assert_int_equal(sj_find_cli(path, sizeof(path), err, sizeof(err)), SL_ENOTFOUND);
	assert_non_null(strstr(err, "no sluice CLI beside"));
	assert_string_equal(path, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_clean_child),
		cmocka_unit_test(test_find_cli),
	};
	char	cmd[128];
	int	rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
