// links: agent/libhook.a agent/libstore.a agent/libbase.a
/*
 * test_hook.c: hook_expand() (variables, metadata, quoting of hostile
 * values checked by running the expansion through /bin/sh), and the exec
 * kind of hook_run_sync() and of the runner (exit status, stdout, stderr
 * tail, timeout kills the process group, stop abandons a running job).
 * The ssh kind is tested against a real sshd in t_hook_ssh.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "config.h"
#include "hook.h"
#include "log.h"
#include "sluice.h"

#define UNUSED	__attribute__((unused))

static const char *meta[][2] = {
	{ "sample", "lysozyme" },
	{ "operator", "o'brien" },
	{ "empty", "" },
};

static struct hook_vars vars = {
	.dataset = "scan_0042",
	.dataset_path = "/data/sink/scan_0042",
	.id = "7f3a",
	.bytes = 123456789012ull,
	.files = 17,
	.nmeta = 3,
	.meta = meta,
};

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* running (a zombie waiting for init to reap it does not count) */
static int
alive(int pid)
{
	char	 path[64], st[256] = "", *p;
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fgets(st, sizeof(st), f) == NULL)
		st[0] = '\0';
	fclose(f);
	p = strrchr(st, ')');
	return p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static void
exec_cfg(struct config *c, double timeout)
{
	memset(c, 0, sizeof(*c));
	c->hook_kind = HOOK_EXEC;
	c->hook_timeout = timeout;
	c->hook_connect_timeout = 1;
}

static char *
expand_ok(const char *tmpl, const struct hook_vars *v)
{
	char	*out = NULL, err[256] = "";
	int	 rc;

	rc = hook_expand(tmpl, v, &out, err, sizeof(err));
	if (rc != SL_OK)
		fail_msg("hook_expand(%s): %d %s", tmpl, rc, err);
	assert_non_null(out);
	return out;
}

static void
t_plain(void **state UNUSED)
{
	char	*s;

	s = expand_ok("sbatch --parsable run.sh {dataset} {dataset_path} {id} {bytes} {files}", &vars);
	assert_string_equal(s, "sbatch --parsable run.sh 'scan_0042' '/data/sink/scan_0042' "
	    "'7f3a' '123456789012' '17'");
	free(s);
	s = expand_ok("", &vars);
	assert_string_equal(s, "");
	free(s);
	s = expand_ok("no vars at all } here", &vars);
	assert_string_equal(s, "no vars at all } here");
	free(s);
	s = expand_ok("awk '{{print $1}' {files}", &vars);
	assert_string_equal(s, "awk '{print $1}' '17'");
	free(s);
}

static void
t_meta(void **state UNUSED)
{
	char	*s;

	s = expand_ok("x {meta.sample} {meta.operator} {meta.empty}", &vars);
	assert_string_equal(s, "x 'lysozyme' 'o'\\''brien' ''");
	free(s);
}

static void
t_null_values(void **state UNUSED)
{
	struct hook_vars	 v = { 0 };
	char			*s;

	s = expand_ok("{dataset}{dataset_path}{id}{bytes}{files}", &v);
	assert_string_equal(s, "''" "''" "''" "'0'" "'0'");
	free(s);
}

static void
t_unknown(void **state UNUSED)
{
	char	*out = (char *)1, err[256];

	assert_int_equal(hook_expand("run {datasett}", &vars, &out, err, sizeof(err)), SL_EINVAL);
	assert_null(out);
	assert_non_null(strstr(err, "unknown variable {datasett}"));
	assert_int_equal(hook_expand("run {meta.nosuch}", &vars, &out, err, sizeof(err)), SL_EINVAL);
	assert_non_null(strstr(err, "unknown metadata key \"nosuch\""));
	assert_int_equal(hook_expand("run {meta.}", &vars, &out, err, sizeof(err)), SL_EINVAL);
	assert_int_equal(hook_expand("run {}", &vars, &out, err, sizeof(err)), SL_EINVAL);
	assert_int_equal(hook_expand("run {dataset", &vars, &out, err, sizeof(err)), SL_EINVAL);
	assert_non_null(strstr(err, "unterminated"));
}

static void
t_toobig(void **state UNUSED)
{
	struct hook_vars	 v = vars;
	char			*big, *out, err[256];

	big = malloc(HOOK_MAX_COMMAND);
	assert_non_null(big);
	memset(big, '\'', HOOK_MAX_COMMAND - 1);	/* each ' becomes 4 bytes */
	big[HOOK_MAX_COMMAND - 1] = '\0';
	v.dataset = big;
	assert_int_equal(hook_expand("{dataset}", &v, &out, err, sizeof(err)), SL_ETOOBIG);
	assert_null(out);
	free(big);
}

/* The expansion, run by /bin/sh -c "printf %s EXPANSION", prints the
 * original value byte for byte, and runs nothing else. */
static void
t_hostile(void **state UNUSED)
{
	static const char *hostile[] = {
		"x'; rm -rf / #",
		"$(reboot)",
		"`id`",
		"a\nb\n",
		"back\\slash\\",
		"'",
		"''",
		"\\'",
		"a'; touch /tmp/pwned-unit; '",
		"${HOME} $HOME %s %% \"dq\" * ? [a] ~ ; & | < > ( ) { } !",
		"-n",
		" leading and trailing ",
		"\t\r\x01\x7f\xc3\xa9",
	};
	const char		*m[1][2] = { { "k", NULL } };
	struct hook_vars	 v = { 0 };
	struct hook_result	 r;
	struct config		 c;
	char			*cmd;
	size_t			 i;

	exec_cfg(&c, 5);
	v.nmeta = 1;
	v.meta = m;
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		v.dataset = hostile[i];
		cmd = expand_ok("printf %s {dataset}", &v);
		assert_int_equal(hook_run_sync(&c, cmd, &r), SL_OK);
		assert_int_equal(r.status, 0);
		assert_string_equal(r.out, hostile[i]);
		free(cmd);

		m[0][1] = hostile[i];
		cmd = expand_ok("printf %s {meta.k}", &v);
		assert_int_equal(hook_run_sync(&c, cmd, &r), SL_OK);
		assert_string_equal(r.out, hostile[i]);
		free(cmd);
	}
	assert_int_equal(access("/tmp/pwned-unit", F_OK), -1);
}

static void
t_exec_status(void **state UNUSED)
{
	struct hook_result	 r;
	struct config		 c;

	exec_cfg(&c, 5);
	assert_int_equal(hook_run_sync(&c, "echo 4242; echo oops >&2; exit 3", &r), SL_OK);
	assert_int_equal(r.rc, SL_OK);
	assert_int_equal(r.status, 3);
	assert_string_equal(r.out, "4242\n");
	assert_string_equal(r.err_tail, "oops\n");
	assert_non_null(strstr(r.msg, "exit status 3"));

	assert_int_equal(hook_run_sync(&c, "true", &r), SL_OK);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "");

	assert_int_equal(hook_run_sync(&c, "kill -TERM $$", &r), SL_OK);
	assert_int_equal(r.status, 128 + 15);

	assert_int_equal(hook_run_sync(&c, "/nonexistent/cmd", &r), SL_OK);
	assert_int_equal(r.status, 127);
	assert_non_null(strstr(r.err_tail, "nonexistent"));

	/* stdin is /dev/null, not the test's */
	assert_int_equal(hook_run_sync(&c, "cat; echo done", &r), SL_OK);
	assert_string_equal(r.out, "done\n");
}

static void
t_exec_bounded(void **state UNUSED)
{
	struct hook_result	 r;
	struct config		 c;

	exec_cfg(&c, 10);
	/* 1 MB on each: stdout keeps the head, stderr the tail, no deadlock */
	assert_int_equal(hook_run_sync(&c, "head -c 1000000 /dev/zero | tr '\\0' a; "
	    "(head -c 1000000 /dev/zero | tr '\\0' b; printf END) >&2", &r), SL_OK);
	assert_int_equal(r.status, 0);
	assert_int_equal(strlen(r.out), HOOK_OUT_MAX - 1);
	assert_int_equal(r.out[0], 'a');
	assert_int_equal(strlen(r.err_tail), HOOK_ERR_TAIL - 1);
	assert_string_equal(r.err_tail + HOOK_ERR_TAIL - 4, "END");
}

static void
t_exec_timeout(void **state UNUSED)
{
	struct hook_result	 r;
	struct config		 c;
	double			 t0;
	char			 pidfile[] = "/tmp/test_hook.XXXXXX", buf[32] = "";
	char			 cmd[256];
	FILE			*f;
	int			 fd;

	exec_cfg(&c, 0.5);
	t0 = now();
	assert_int_equal(hook_run_sync(&c, "sleep 10", &r), SL_EIO);
	assert_true(now() - t0 < 2.0);
	assert_int_equal(r.status, -1);
	assert_non_null(strstr(r.msg, "timed out"));

	/* the whole process group dies, not only sh */
	fd = mkstemp(pidfile);
	assert_true(fd != -1);
	close(fd);
	snprintf(cmd, sizeof(cmd), "sleep 10 & echo $! > %s; wait", pidfile);
	t0 = now();
	assert_int_equal(hook_run_sync(&c, cmd, &r), SL_EIO);
	assert_true(now() - t0 < 2.0);
	f = fopen(pidfile, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	unlink(pidfile);
	usleep(100 * 1000);
	assert_false(alive(atoi(buf)));
}

static void
t_no_kind(void **state UNUSED)
{
	struct hook_result	 r;
	struct config		 c;

	exec_cfg(&c, 1);
	c.hook_kind = HOOK_NONE;
	assert_int_equal(hook_run_sync(&c, "true", &r), SL_EINVAL);
}

/* ---- runner ---- */

struct seen {
	int		 n;
	uint64_t	 ids[8];
	int		 status[8];
	char		 out[8][64];
};

static void
on_done(void *arg, const struct hook_result *r)
{
	struct seen	*s = arg;

	assert_true(s->n < 8);
	s->ids[s->n] = r->id;
	s->status[s->n] = r->rc == SL_OK ? r->status : r->rc;
	snprintf(s->out[s->n], sizeof(s->out[0]), "%s", r->out);
	s->n++;
}

static void
t_runner(void **state UNUSED)
{
	struct ev_loop		*loop = ev_loop_new(EVFLAG_AUTO);
	struct hook_runner	*hr;
	struct seen		 s = { 0 };
	struct config		 c;

	exec_cfg(&c, 0.5);
	assert_int_equal(hook_runner_start(&hr, loop, &c, on_done, &s), SL_OK);
	ev_run(loop, 0);		/* nothing outstanding: returns at once */
	assert_int_equal(s.n, 0);
	assert_int_equal(hook_runner_submit(hr, 11, "echo one"), SL_OK);
	assert_int_equal(hook_runner_submit(hr, 12, "exit 7"), SL_OK);
	assert_int_equal(hook_runner_submit(hr, 13, "sleep 5"), SL_OK);
	assert_int_equal(hook_runner_pending(hr), 3);
	ev_run(loop, 0);		/* returns when all three are delivered */
	assert_int_equal(s.n, 3);
	assert_int_equal(hook_runner_pending(hr), 0);
	assert_true(s.ids[0] == 11 && s.ids[1] == 12 && s.ids[2] == 13);
	assert_string_equal(s.out[0], "one\n");
	assert_int_equal(s.status[1], 7);
	assert_int_equal(s.status[2], SL_EIO);
	hook_runner_stop(hr);
	ev_loop_destroy(loop);
}

static void
t_runner_stop(void **state UNUSED)
{
	struct ev_loop		*loop = ev_loop_new(EVFLAG_AUTO);
	struct hook_runner	*hr;
	struct seen		 s = { 0 };
	struct config		 c;
	double			 t0;

	exec_cfg(&c, 60);
	assert_int_equal(hook_runner_start(&hr, loop, &c, on_done, &s), SL_OK);
	assert_int_equal(hook_runner_submit(hr, 1, "sleep 30"), SL_OK);
	assert_int_equal(hook_runner_submit(hr, 2, "sleep 30"), SL_OK);
	usleep(200 * 1000);
	t0 = now();
	hook_runner_stop(hr);
	assert_true(now() - t0 < 1.0);
	assert_int_equal(s.n, 0);
	ev_run(loop, EVRUN_NOWAIT);
	ev_loop_destroy(loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_plain),
		cmocka_unit_test(t_meta),
		cmocka_unit_test(t_null_values),
		cmocka_unit_test(t_unknown),
		cmocka_unit_test(t_toobig),
		cmocka_unit_test(t_hostile),
		cmocka_unit_test(t_exec_status),
		cmocka_unit_test(t_exec_bounded),
		cmocka_unit_test(t_exec_timeout),
		cmocka_unit_test(t_no_kind),
		cmocka_unit_test(t_runner),
		cmocka_unit_test(t_runner_stop),
	};

	log_init(LOG_WARN, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
