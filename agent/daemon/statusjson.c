/*
 * statusjson.c: the live page's data, `sluice status --json` run as a
 * child process (statusjson.h).
 *
 * Why a child and not a second builder in the daemon: the status document
 * joins the journal (every dataset, read-only) with the daemon's "ping"
 * answer, and its one builder is the CLI's.  Running it keeps one schema
 * by construction, keeps the journal walk (O(datasets)) off the loop
 * thread, and tells the truth about the loop: the CLI asks the loop over
 * the control socket, with its own timeout, exactly as an operator's
 * `sluice status` would.  The cost is a process per refresh, which the
 * caller bounds (metrics.c caches one answer for a second and runs one
 * child at a time).
 *
 * The child gets /dev/null on stdin, two pipes (stdout, stderr), no other
 * descriptor (closefrom), an empty signal mask and default dispositions
 * (the HTTP threads block every signal; sluiced ignores SIGPIPE).  The
 * parent polls both pipes until EOF or the deadline, then kills and reaps
 * that one pid.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metrics.h"
#include "sltime.h"
#include "sluice.h"
#include "statusjson.h"

extern char **environ;

static int
executable(const char *path)
{
	struct stat	st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int
sj_find_cli(char *out, size_t outlen, char *err, size_t errlen)
{
	char	exe[PATH_MAX], *slash;
	ssize_t	n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		snprintf(err, errlen, "readlink /proc/self/exe: %s", strerror(errno));
		return SL_EIO;
	}
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash == NULL) {
		snprintf(err, errlen, "/proc/self/exe: not a path: %s", exe);
		return SL_EIO;
	}
	*slash = '\0';
	snprintf(out, outlen, "%s/sluice", exe);
	if (executable(out))
		return SL_OK;
	snprintf(out, outlen, "%s/../bin/sluice", exe);
	if (executable(out))
		return SL_OK;
	snprintf(err, errlen, "no sluice CLI beside %s/sluiced (looked for %s/sluice "
	    "and %s/../bin/sluice)", exe, exe, exe);
	out[0] = '\0';
	return SL_ENOTFOUND;
}

static int
spawn(const char *cli, const char *config, int outfd, int errfd, pid_t *pid,
    char *err, size_t errlen)
{
	posix_spawn_file_actions_t	fa;
	posix_spawnattr_t		at;
	sigset_t			none, all;
	char				*argv[] = { (char *)cli, "-c", (char *)config,
					    "status", "--json", NULL };
	int				rc;

	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, outfd, 1);
	posix_spawn_file_actions_adddup2(&fa, errfd, 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(pid, cli, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		snprintf(err, errlen, "run %s: %s", cli, strerror(rc));
		return SL_EIO;
	}
	return SL_OK;
}

/* Read what is there from fd into b; past b's cap *over is set (when
 * over is not NULL).  1 at EOF or error. */
static int
drain(int fd, struct wbuf *b, int *over)
{
	char	buf[16384];
	ssize_t	n;

	n = read(fd, buf, sizeof(buf));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : 1;
	if (n == 0)
		return 1;
	if (wbuf_append(b, buf, (size_t)n) != SL_OK && over)
		*over = 1;	/* stderr past its cap: the rest is dropped */
	return 0;
}

int
sj_run(const char *cli, const char *config, double timeout, struct wbuf *out,
    char *err, size_t errlen)
{
	struct wbuf	 ebuf;
	struct pollfd	 pf[2];
	double		 deadline = sl_time_mono() + timeout, left;
	pid_t		 pid = -1;
	int		 po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	int		 rc = SL_EIO, st = 0, over = 0, killed = 0, open_fds, i;

	wbuf_init(&ebuf, 4096);
	if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto out;
	}
	if (spawn(cli, config, po[1], pe[1], &pid, err, errlen) != SL_OK)
		goto out;
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	pf[0].fd = po[0];
	pf[1].fd = pe[0];
	for (open_fds = 2; open_fds > 0 && !over; ) {
		left = deadline - sl_time_mono();
		if (left <= 0) {
			killed = 1;
			break;
		}
		pf[0].events = pf[1].events = POLLIN;
		if (poll(pf, 2, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			break;
		for (i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (drain(pf[i].fd, i == 0 ? out : &ebuf, i == 0 ? &over : NULL)) {
				pf[i].fd = -1;	/* poll skips it */
				open_fds--;
			}
		}
	}
	if (open_fds > 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (killed)
		snprintf(err, errlen, "%s status --json: no answer in %.0f s (killed)",
		    cli, timeout);
	else if (over)
		snprintf(err, errlen, "%s status --json: more than %u bytes", cli,
		    METRICS_MAX_REPLY);
	else if (WIFEXITED(st) && WEXITSTATUS(st) != SL_EXIT_USAGE && out->len > 0 &&
	    out->p[0] == '{')
		rc = SL_OK;	/* the exit status is the health; the document says it too */
	else {
		while (ebuf.len > 0 && (ebuf.p[ebuf.len - 1] == '\n'))
			ebuf.len--;
		snprintf(err, errlen, "%s status --json: %s %d%s%.*s", cli,
		    WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) :
		    WIFSIGNALED(st) ? WTERMSIG(st) : -1, ebuf.len ? ": " : "",
		    (int)(ebuf.len > 1000 ? 1000 : ebuf.len), (const char *)ebuf.p);
	}
out:
	for (i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	wbuf_free(&ebuf);
	return rc;
}
