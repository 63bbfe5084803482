// links: agent/libhook.a agent/libstore.a agent/libbase.a
/*
 * test_hook.c: hook_expand() (variables, metadata, quoting of hostile
 * values checked by running the expansion through /bin/sh), and the exec
 * kind of hook_run_sync() and of the runner (exit status, stdout, stderr
 * tail, timeout kills the process group, stop abandons a running job).
 * The ssh kind is tested against a real sshd in t_hook_ssh.sh.
 * The fence (fence.h): marker names, the parsing of every answer, and the
 * wrapper itself run through /bin/sh in a temp directory: exactly one run
 * per marker, hostile values taken literally, and every probe answer
 * (ran, running, dead, none, error) from real marker states.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "config.h"
#include "fence.h"
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

/* ---- the fence ---- */

static void
t_fence_key(void **state UNUSED)
{
	char	 k[FENCE_KEY_MAX];

	assert_int_equal(fence_key(k, sizeof(k), "beam-1.a_b", 0x3e8, 0, 1), SL_OK);
	assert_string_equal(k, "beam-1.a_b-00000000000003e8-0.1");
	assert_int_equal(fence_key(k, sizeof(k), "x", UINT64_MAX, 7, 12), SL_OK);
	assert_string_equal(k, "x-ffffffffffffffff-7.12");
	assert_int_equal(fence_key(k, sizeof(k), "", 1, 0, 1), SL_EINVAL);
	assert_int_equal(fence_key(k, sizeof(k), "a/b", 1, 0, 1), SL_EINVAL);
	assert_int_equal(fence_key(k, sizeof(k), "a b", 1, 0, 1), SL_EINVAL);
	assert_int_equal(fence_key(k, sizeof(k), "..'", 1, 0, 1), SL_EINVAL);
	assert_int_equal(fence_key(k, 10, "agent", 1, 0, 1), SL_EINVAL);
}

static void
t_fence_parse(void **state UNUSED)
{
	struct fence_answer	 a;

	assert_int_equal(fence_parse("sluice-fence 1 none\n", &a), FENCE_NONE);
	assert_int_equal(fence_parse("sluice-fence 1 none", &a), FENCE_NONE);
	assert_int_equal(fence_parse("sluice-fence 1 running 1764858000 4242\n", &a),
	    FENCE_RUNNING);
	assert_true(a.started == 1764858000 && a.pid == 4242);
	assert_int_equal(fence_parse("sluice-fence 1 ran 3 100 105\njob-7\nmore\n", &a),
	    FENCE_RAN);
	assert_true(a.status == 3 && a.started == 100 && a.ended == 105);
	assert_string_equal(a.out, "job-7\nmore\n");
	assert_int_equal(fence_parse("sluice-fence 1 ran 0 1 2", &a), FENCE_RAN);
	assert_string_equal(a.out, "");
	assert_int_equal(fence_parse("sluice-fence 1 ran 0 1 2\r\n12345\n", &a), FENCE_RAN);
	assert_string_equal(a.out, "12345\n");
	assert_int_equal(fence_parse("sluice-fence 1 dead 100 77 reboot\n", &a), FENCE_DEAD);
	assert_true(a.started == 100 && a.pid == 77);
	assert_string_equal(a.why, "reboot");
	assert_int_equal(fence_parse("sluice-fence 1 error mkdir: cannot create "
	    "directory 'x': Permission denied\n", &a), FENCE_ERROR);
	assert_string_equal(a.why, "mkdir: cannot create directory 'x': Permission denied");
	/* a chatty login script before the header is skipped */
	assert_int_equal(fence_parse("Welcome to perlmutter\nsluice-fence 1 ran 0 1 2\n99\n",
	    &a), FENCE_RAN);
	assert_string_equal(a.out, "99\n");
	/* the first header counts, not one the command printed */
	assert_int_equal(fence_parse("sluice-fence 1 ran 1 1 2\nsluice-fence 1 ran 0 1 2\n",
	    &a), FENCE_RAN);
	assert_int_equal(a.status, 1);

	/* no answer: nothing, garbage, other versions, malformed fields */
	static const char *bad[] = {
		"", "\n", "12345\n", "sluice-fence 2 none\n", "sluice-fence 1\n",
		"sluice-fence 1 \n", "sluice-fence 1 nonex\n", "sluice-fence 1 none x\n",
		"sluice-fence 1 running\n", "sluice-fence 1 running 1\n",
		"sluice-fence 1 running x 1\n", "sluice-fence 1 running 1 2 3\n",
		"sluice-fence 1 ran 0 1\n", "sluice-fence 1 ran 256 1 2\n",
		"sluice-fence 1 ran -1 1 2\n", "sluice-fence 1 ran 1x 1 2\n",
		"sluice-fence 1 ran 99999999999999999999999 1 2\n",
		"sluice-fence 1 dead 1 2\n", "sluice-fence 1 dead 1 2 \n",
		" sluice-fence 1 none\n", "xsluice-fence 1 none\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (fence_parse(bad[i], &a) != FENCE_NOANSWER)
			fail_msg("parsed [%s] as %s", bad[i], fence_state_name(a.state));
		assert_int_equal(a.status, -1);
		assert_string_equal(a.out, "");
	}
	assert_int_equal(fence_parse(NULL, &a), FENCE_NOANSWER);
	/* an overlong header line */
	{
		char long_line[1024];
		snprintf(long_line, sizeof(long_line), "sluice-fence 1 error %0900d\n", 0);
		assert_int_equal(fence_parse(long_line, &a), FENCE_NOANSWER);
	}
}

static char fdir[256];

/* Run the wrapper in mode for key with command, locally (kind exec,
 * detached as the agent runs it); parse the answer into *a. */
static int
fence_do(int mode, const char *sdir, const char *key, const char *command,
    struct hook_result *r, struct fence_answer *a)
{
	struct config	 c;
	char		*cmd = NULL, err[256] = "";

	exec_cfg(&c, 10);
	if (fence_command(mode, sdir, key, "/bin/sh", command, &cmd, err, sizeof(err)) != SL_OK)
		fail_msg("fence_command: %s", err);
	assert_int_equal(hook_run_flags(&c, cmd, HOOK_DETACH, r), SL_OK);
	free(cmd);
	return fence_parse(r->out, a);
}

static int
lines(const char *path)
{
	FILE	*f = fopen(path, "r");
	int	 n = 0, ch;

	if (f == NULL)
		return 0;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

static void
t_fence_run(void **state UNUSED)
{
	struct hook_result	 r;
	struct fence_answer	 a;
	char			 sdir[512], log[512], cmd[1024], path[1024];

	snprintf(fdir, sizeof(fdir), "/tmp/sluice-fence-unit.XXXXXX");
	assert_non_null(mkdtemp(fdir));
	snprintf(sdir, sizeof(sdir), "%s/state", fdir);
	snprintf(log, sizeof(log), "%s/log", fdir);
	snprintf(cmd, sizeof(cmd), "echo run >> %s; echo job-42; echo warn >&2; exit 3", log);

	/* never started */
	assert_int_equal(fence_do(FENCE_PROBE, sdir, "a-1-0.1", NULL, &r, &a), FENCE_NONE);
	/* the first run runs it and answers with the real status and output */
	assert_int_equal(fence_do(FENCE_RUN, sdir, "a-1-0.1", cmd, &r, &a), FENCE_RAN);
	assert_int_equal(a.status, 3);
	assert_string_equal(a.out, "job-42\n");
	assert_string_equal(r.err_tail, "warn\n");
	assert_true(a.started > 1700000000 && a.ended >= a.started);
	assert_int_equal(lines(log), 1);
	/* a second run of the same marker never runs it again */
	assert_int_equal(fence_do(FENCE_RUN, sdir, "a-1-0.1", cmd, &r, &a), FENCE_RAN);
	assert_int_equal(a.status, 3);
	assert_string_equal(a.out, "job-42\n");
	assert_int_equal(lines(log), 1);
	assert_int_equal(fence_do(FENCE_PROBE, sdir, "a-1-0.1", NULL, &r, &a), FENCE_RAN);
	assert_int_equal(a.status, 3);
	assert_string_equal(r.err_tail, "warn\n");
	assert_int_equal(lines(log), 1);
	/* another marker runs it once more */
	assert_int_equal(fence_do(FENCE_RUN, sdir, "a-1-0.2", cmd, &r, &a), FENCE_RAN);
	assert_int_equal(lines(log), 2);
	/* the marker is private, the command's own files are not */
	snprintf(path, sizeof(path), "%s/a-1-0.1/status", sdir);
	assert_int_equal(access(path, R_OK), 0);
	snprintf(cmd, sizeof(cmd), "umask");
	assert_int_equal(fence_do(FENCE_RUN, sdir, "umask", cmd, &r, &a), FENCE_RAN);
	{
		mode_t u = umask(0);
		char want[16];
		umask(u);
		snprintf(want, sizeof(want), "%04o\n", (unsigned)u);
		assert_string_equal(a.out, want);
	}
}

/* Hostile values in the state directory, the key's neighbours and the
 * command are taken literally: the quoting is hook_expand's. */
static void
t_fence_hostile(void **state UNUSED)
{
	static const char *dirs[] = {
		"x'; touch /tmp/pwned-fence; '",
		"$(touch /tmp/pwned-fence)",
		"`touch /tmp/pwned-fence`",
		"sp ace/and \"dq\" * ? ~ ; & | < > ( ) { } !",
	};
	struct hook_result	 r;
	struct fence_answer	 a;
	char			 sdir[1024], path[2048];
	size_t			 i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(sdir, sizeof(sdir), "%s/%s", fdir, dirs[i]);
		assert_int_equal(fence_do(FENCE_RUN, sdir, "k-1-0.1",
		    "printf %s \"it's $((6*7))\"", &r, &a), FENCE_RAN);
		assert_int_equal(a.status, 0);
		assert_string_equal(a.out, "it's 42");
		snprintf(path, sizeof(path), "%s/k-1-0.1/status", sdir);
		assert_int_equal(access(path, F_OK), 0);
	}
	/* a command full of quotes runs as written */
	snprintf(sdir, sizeof(sdir), "%s/q", fdir);
	assert_int_equal(fence_do(FENCE_RUN, sdir, "q-1-0.1",
	    "echo 'a'\\''b' \"c'd\" '$(id)'; exit 5", &r, &a), FENCE_RAN);
	assert_int_equal(a.status, 5);
	assert_string_equal(a.out, "a'b c'd $(id)\n");
	assert_int_equal(access("/tmp/pwned-fence", F_OK), -1);
}

static void
write_file(const char *path, const char *text)
{
	FILE	*f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
t_fence_states(void **state UNUSED)
{
	struct hook_result	 r;
	struct fence_answer	 a;
	struct config		 c;
	char			 sdir[512], m[1024], line[256], boot[128] = "-", *cmd;
	char			 err[256];
	FILE			*f;
	double			 t0;
	pid_t			 pid;

	snprintf(sdir, sizeof(sdir), "%s/states", fdir);
	f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (f != NULL) {
		if (fgets(boot, sizeof(boot), f) != NULL)
			boot[strcspn(boot, "\n")] = '\0';
		fclose(f);
	}

	/* running: a run that is still going, detached after a short wait */
	exec_cfg(&c, 0.5);
	assert_int_equal(fence_command(FENCE_RUN, sdir, "slow", "/bin/sh",
	    "sleep 2; echo late", &cmd, err, sizeof(err)), SL_OK);
	t0 = now();
	assert_int_equal(hook_run_flags(&c, cmd, HOOK_DETACH, &r), SL_EIO);
	free(cmd);
	assert_true(now() - t0 < 1.5);
	assert_int_equal(r.started, 1);
	assert_non_null(strstr(r.msg, "goes on"));
	assert_int_equal(fence_do(FENCE_PROBE, sdir, "slow", NULL, &r, &a), FENCE_RUNNING);
	assert_true(a.pid > 1 && alive((int)a.pid));
	/* a second run while it runs does not start it: it says running */
	assert_int_equal(fence_do(FENCE_RUN, sdir, "slow", "echo twice", &r, &a), FENCE_RUNNING);
	/* it was not killed: it finishes and the probe has its output */
	usleep(2200 * 1000);
	assert_int_equal(fence_do(FENCE_PROBE, sdir, "slow", NULL, &r, &a), FENCE_RAN);
	assert_int_equal(a.status, 0);
	assert_string_equal(a.out, "late\n");

	/* dead: a start whose wrapper is gone */
	pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	snprintf(m, sizeof(m), "%s/gone", sdir);
	assert_int_equal(mkdir(m, 0700), 0);
	snprintf(m, sizeof(m), "%s/gone/start", sdir);
	snprintf(line, sizeof(line), "1700000000 %d %s\n", (int)pid, boot);
	write_file(m, line);
	assert_int_equal(fence_do(FENCE_PROBE, sdir, "gone", NULL, &r, &a), FENCE_DEAD);
	assert_string_equal(a.why, "gone");
	assert_true(a.started == 1700000000 && a.pid == pid);
	/* and a run of it does not run it either */
	assert_int_equal(fence_do(FENCE_RUN, sdir, "gone", "echo no", &r, &a), FENCE_DEAD);

	/* a pid alive but not a wrapper: reused */
	snprintf(m, sizeof(m), "%s/reused", sdir);
	assert_int_equal(mkdir(m, 0700), 0);
	snprintf(m, sizeof(m), "%s/reused/start", sdir);
	snprintf(line, sizeof(line), "1700000000 %d %s\n", (int)getpid(), boot);
	write_file(m, line);
	assert_int_equal(fence_do(FENCE_PROBE, sdir, "reused", NULL, &r, &a), FENCE_DEAD);
	assert_string_equal(a.why, "reused");

	/* another boot: dead whatever the pid says */
	snprintf(m, sizeof(m), "%s/reboot", sdir);
	assert_int_equal(mkdir(m, 0700), 0);
	snprintf(m, sizeof(m), "%s/reboot/start", sdir);
	snprintf(line, sizeof(line), "1700000000 1 not-this-boot\n");
	write_file(m, line);
	assert_int_equal(fence_do(FENCE_PROBE, sdir, "reboot", NULL, &r, &a), FENCE_DEAD);
	assert_string_equal(a.why, "reboot");

	/* a marker without a start (its wrapper died at once) */
	snprintf(m, sizeof(m), "%s/nostart", sdir);
	assert_int_equal(mkdir(m, 0700), 0);
	assert_int_equal(fence_do(FENCE_PROBE, sdir, "nostart", NULL, &r, &a), FENCE_DEAD);
	assert_string_equal(a.why, "nostart");

	/* no marker can be made: error, nothing ran */
	assert_int_equal(fence_do(FENCE_RUN, "/dev/null/x", "k", "touch /tmp/pwned-fence",
	    &r, &a), FENCE_ERROR);
	assert_non_null(strstr(a.why, "/dev/null/x"));
	assert_int_equal(access("/tmp/pwned-fence", F_OK), -1);

	/* bad arguments */
	assert_int_equal(fence_command(FENCE_RUN, "", "k", "", "x", &cmd, err, sizeof(err)),
	    SL_EINVAL);
	assert_null(cmd);
	assert_int_equal(fence_command(FENCE_RUN, "a\nb", "k", "", "x", &cmd, err,
	    sizeof(err)), SL_EINVAL);
	assert_int_equal(fence_command(FENCE_RUN, "d", "a/b", "", "x", &cmd, err,
	    sizeof(err)), SL_EINVAL);
	assert_int_equal(fence_command(9, "d", "k", "", "x", &cmd, err, sizeof(err)),
	    SL_EINVAL);
	{
		char *big = malloc(FENCE_MAX_COMMAND);
		assert_non_null(big);
		memset(big, '\'', FENCE_MAX_COMMAND / 2);
		big[FENCE_MAX_COMMAND / 2] = '\0';
		assert_int_equal(fence_command(FENCE_RUN, "d", "k", "", big, &cmd, err,
		    sizeof(err)), SL_ETOOBIG);
		assert_null(cmd);
		free(big);
	}
	snprintf(m, sizeof(m), "rm -rf '%s'", fdir);
	assert_int_equal(system(m), 0);
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
		cmocka_unit_test(t_fence_key),
		cmocka_unit_test(t_fence_parse),
		cmocka_unit_test(t_fence_run),
		cmocka_unit_test(t_fence_hostile),
		cmocka_unit_test(t_fence_states),
	};

	log_init(LOG_WARN, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
