/*
 * hook.c: the completion hook.  See hook.h for the contract.
 *
 * Expansion quotes every value with single quotes, the one shell quoting
 * in which nothing is special but the closing quote itself; a ' inside a
 * value is written '\'' (close, escaped quote, reopen).
 *
 * Running: kind exec forks /bin/sh -c COMMAND in its own process group
 * with stdout and stderr on pipes, polls them against a deadline and kills
 * the whole group on timeout.  Kind ssh uses libssh2 in non-blocking mode
 * on a socket connected with a non-blocking connect(2), and waits in
 * poll(2) on the directions libssh2 asks for, so every phase has a hard
 * deadline and the runner can abandon a job within one poll tick: TCP
 * connect (connect_timeout), handshake + host key + auth (connect_timeout
 * again), command (timeout).  The host key preference is narrowed to the
 * key types known_hosts lists for the host, so libssh2 1.10 (which would
 * otherwise pick ecdsa over ed25519) negotiates a key we can check; an
 * unknown or changed key is refused, never learnt.
 *
 * The runner is a worker pool of [hook] concurrency threads (workq.h, the
 * libev THREADS pattern): each thread runs hook_run_sync for one job at a
 * time, so a command whose host hangs holds one thread, not the others;
 * the loop gets each result back through the pool's ev_async.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <libssh2.h>

#include "sluice.h"
#include "config.h"
#include "log.h"
#include "hook.h"
#include "sltime.h"
#include "workq.h"

#define TICK_MS	100	/* how often long waits look at the cancel flag */

/* ---- expansion ---------------------------------------------------- */

struct sbuf {
	char	*p;
	size_t	 len, cap;
	int	 rc;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	char	*np;
	size_t	 ncap;

	if (b->rc)
		return;
	if (b->len + n + 1 > HOOK_MAX_COMMAND) {
		b->rc = SL_ETOOBIG;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		np = realloc(b->p, ncap);
		if (np == NULL) {
			b->rc = SL_ENOMEM;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_quoted(struct sbuf *b, const char *s)
{
	const char	*q;

	sb_add(b, "'", 1);
	if (s != NULL) {
		while ((q = strchr(s, '\'')) != NULL) {
			sb_add(b, s, (size_t)(q - s));
			sb_add(b, "'\\''", 4);
			s = q + 1;
		}
		sb_add(b, s, strlen(s));
	}
	sb_add(b, "'", 1);
}

int
hook_expand(const char *tmpl, const struct hook_vars *v, char **out,
    char *err, size_t errlen)
{
	struct sbuf	 b = { 0 };
	const char	*p = tmpl, *end, *name, *val;
	char		 num[32];
	size_t		 n;
	uint32_t	 i;

	*out = NULL;
	sb_add(&b, "", 0);
	while (*p != '\0' && b.rc == 0) {
		if (*p != '{') {
			n = strcspn(p, "{");
			sb_add(&b, p, n);
			p += n;
			continue;
		}
		if (p[1] == '{') {
			sb_add(&b, "{", 1);
			p += 2;
			continue;
		}
		end = strchr(p, '}');
		if (end == NULL) {
			snprintf(err, errlen, "hook template: unterminated \"{\" at offset %zu",
			    (size_t)(p - tmpl));
			b.rc = SL_EINVAL;
			break;
		}
		name = p + 1;
		n = (size_t)(end - name);
		val = NULL;
#define IS(s)	(n == sizeof(s) - 1 && memcmp(name, s, n) == 0)
		if (IS("dataset"))
			sb_quoted(&b, v->dataset);
		else if (IS("dataset_path"))
			sb_quoted(&b, v->dataset_path);
		else if (IS("id"))
			sb_quoted(&b, v->id);
		else if (IS("bytes")) {
			snprintf(num, sizeof(num), "%" PRIu64, v->bytes);
			sb_quoted(&b, num);
		} else if (IS("files")) {
			snprintf(num, sizeof(num), "%" PRIu32, v->files);
			sb_quoted(&b, num);
		} else if (n > 5 && memcmp(name, "meta.", 5) == 0) {
			for (i = 0; i < v->nmeta; i++) {
				if (strlen(v->meta[i][0]) == n - 5 &&
				    memcmp(v->meta[i][0], name + 5, n - 5) == 0) {
					val = v->meta[i][1] ? v->meta[i][1] : "";
					break;
				}
			}
			if (val == NULL) {
				snprintf(err, errlen, "hook template: unknown metadata key "
				    "\"%.*s\" in {%.*s}", (int)(n - 5), name + 5,
				    (int)(n > 200 ? 200 : n), name);
				b.rc = SL_EINVAL;
				break;
			}
			sb_quoted(&b, val);
		} else {
			snprintf(err, errlen, "hook template: unknown variable {%.*s}",
			    (int)(n > 200 ? 200 : n), name);
			b.rc = SL_EINVAL;
			break;
		}
#undef IS
		p = end + 1;
	}
	if (b.rc == SL_ETOOBIG)
		snprintf(err, errlen, "hook template: expanded command longer than %u bytes",
		    HOOK_MAX_COMMAND);
	else if (b.rc == SL_ENOMEM)
		snprintf(err, errlen, "hook template: out of memory");
	if (b.rc) {
		free(b.p);
		return b.rc;
	}
	*out = b.p;
	return SL_OK;
}

/* ---- shared helpers ------------------------------------------------ */

/* ms left until deadline, capped to one tick; 0 when past. */
static int
tick_ms(double deadline)
{
	double	 left = deadline - sl_time_mono();

	if (left <= 0)
		return 0;
	if (left * 1000 > TICK_MS)
		return TICK_MS;
	return (int)(left * 1000) + 1;
}

/* Output collectors: the first bytes of stdout, the last of stderr. */
static void
keep_head(char *dst, size_t cap, size_t *len, const char *s, size_t n)
{
	if (*len + 1 >= cap)
		return;
	if (n > cap - 1 - *len)
		n = cap - 1 - *len;
	memcpy(dst + *len, s, n);
	*len += n;
	dst[*len] = '\0';
}

static void
keep_tail(char *dst, size_t cap, size_t *len, const char *s, size_t n)
{
	size_t	 keep;

	if (n >= cap - 1) {
		memcpy(dst, s + n - (cap - 1), cap - 1);
		*len = cap - 1;
	} else {
		keep = *len + n > cap - 1 ? cap - 1 - n : *len;
		memmove(dst, dst + *len - keep, keep);
		memcpy(dst + keep, s, n);
		*len = keep + n;
	}
	dst[*len] = '\0';
}

static int
set_rc(struct hook_result *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
set_rc(struct hook_result *r, int rc, const char *fmt, ...)
{
	va_list	 ap;

	r->rc = rc;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- kind exec ------------------------------------------------------ */

static int
run_exec(const struct config *cfg, const char *command, int flags,
    struct hook_result *r, const atomic_int *cancel)
{
	int		 detach = flags & HOOK_DETACH;
	int		 po[2] = { -1, -1 }, pe[2] = { -1, -1 }, devnull = -1;
	int		 status = 0, reaped = 0, rc, i, timedout = 0;
	size_t		 olen = 0, elen = 0;
	struct pollfd	 pfd[2];
	char		 buf[4096];
	double		 deadline = sl_time_mono() + cfg->hook_timeout;
	sigset_t	 all;
	ssize_t		 n;
	pid_t		 pid;

	if (pipe2(po, O_CLOEXEC) == -1 || pipe2(pe, O_CLOEXEC) == -1) {
		rc = set_rc(r, SL_EIO, "hook exec: pipe: %s", strerror(errno));
		goto out;
	}
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull == -1) {
		rc = set_rc(r, SL_EIO, "hook exec: open /dev/null: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid == -1) {
		rc = set_rc(r, SL_EIO, "hook exec: fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		/* async-signal-safe calls only: the parent has threads */
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		if (dup2(devnull, 0) == -1 || dup2(po[1], 1) == -1 || dup2(pe[1], 2) == -1)
			_exit(127);
		/* detached: the command runs in a grandchild that we never wait
		 * for nor kill; it goes on (reparented) if we stop or die */
		if (detach) {
			pid = fork();
			if (pid == -1)
				_exit(127);
			if (pid > 0)
				_exit(0);
		}
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);	/* both sides: whichever runs first */
	r->started = 1;
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;

	for (;;) {
		if (atomic_load(cancel)) {
			if (!detach)
				kill(-pid, SIGKILL);
			rc = set_rc(r, SL_EIO, detach ? "hook exec: abandoned (runner "
			    "stopping), the command goes on" : "hook exec: abandoned (runner stopping)");
			if (!reaped)
				waitpid(pid, &status, 0);
			goto out;
		}
		if (!reaped) {
			pid_t w = waitpid(pid, &status, WNOHANG);
			/* ECHILD: someone else reaped it (a SIGCHLD handler that
			 * waits for every child): its status is lost, say so
			 * rather than wait for the timeout. */
			if (w == pid)
				reaped = 1;
			else if (w == -1 && errno == ECHILD) {
				reaped = 1;
				status = -1;
			}
		}
		pfd[0] = (struct pollfd){ .fd = po[0], .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = pe[0], .events = POLLIN };
		if (po[0] == -1 && pe[0] == -1) {
			if (reaped)
				break;
		}
		if (sl_time_mono() >= deadline) {
			timedout = 1;
			break;
		}
		/* after sh exited, take what is buffered, do not wait for
		 * grandchildren that still hold the pipes */
		if (poll(pfd, 2, reaped && !detach ? 0 : tick_ms(deadline)) == -1 &&
		    errno != EINTR) {
			rc = set_rc(r, SL_EIO, "hook exec: poll: %s", strerror(errno));
			if (!detach)
				kill(-pid, SIGKILL);
			if (!reaped)
				waitpid(pid, &status, 0);
			goto out;
		}
		for (i = 0; i < 2; i++) {
			if (pfd[i].fd == -1 || pfd[i].revents == 0)
				continue;
			n = read(pfd[i].fd, buf, sizeof(buf));
			if (n > 0 && i == 0)
				keep_head(r->out, sizeof(r->out), &olen, buf, (size_t)n);
			else if (n > 0)
				keep_tail(r->err_tail, sizeof(r->err_tail), &elen, buf, (size_t)n);
			else if (n == 0 || errno != EINTR) {
				close(pfd[i].fd);
				if (i == 0)
					po[0] = -1;
				else
					pe[0] = -1;
			}
		}
		if (reaped && !detach && (pfd[0].revents | pfd[1].revents) == 0)
			break;
	}
	if (timedout) {
		if (!detach)
			kill(-pid, SIGKILL);
		if (!reaped)
			waitpid(pid, &status, 0);
		if (detach)
			rc = set_rc(r, SL_EIO, "hook exec: no answer after %.1fs "
			    "(the command goes on)", cfg->hook_timeout);
		else
			rc = set_rc(r, SL_EIO, "hook exec: command timed out after "
			    "%.1fs, killed", cfg->hook_timeout);
		goto out;
	}
	if (status == -1) {
		rc = set_rc(r, SL_EIO, "hook exec: exit status lost (child reaped "
		    "elsewhere)");
		goto out;
	}
	rc = SL_OK;
	r->rc = SL_OK;
	if (WIFEXITED(status)) {
		r->status = WEXITSTATUS(status);
		snprintf(r->msg, sizeof(r->msg), "hook exec: exit status %d", r->status);
	} else {
		r->status = 128 + WTERMSIG(status);
		snprintf(r->msg, sizeof(r->msg), "hook exec: killed by signal %d",
		    WTERMSIG(status));
	}
out:
	if (po[0] != -1) close(po[0]);
	if (po[1] != -1) close(po[1]);
	if (pe[0] != -1) close(pe[0]);
	if (pe[1] != -1) close(pe[1]);
	if (devnull != -1) close(devnull);
	return rc;
}

/* ---- kind ssh ------------------------------------------------------- */

static pthread_once_t	 ssh2_once = PTHREAD_ONCE_INIT;
static int		 ssh2_init_rc;

static void
ssh2_init(void)
{
	ssh2_init_rc = libssh2_init(0);
}

/* Non-blocking connect to host:port, trying each address until deadline. */
static int
tcp_connect(const struct config *cfg, struct hook_result *r, const atomic_int *cancel)
{
	struct addrinfo	 hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	char		 port[16];
	double		 deadline = sl_time_mono() + cfg->hook_connect_timeout;
	int		 fd = -1, e, soerr, lasterr = 0, n;
	socklen_t	 sl;
	struct pollfd	 pfd;

	snprintf(port, sizeof(port), "%d", cfg->hook_port);
	e = getaddrinfo(cfg->hook_host, port, &hints, &res);
	if (e != 0) {
		set_rc(r, SL_EIO, "hook ssh: resolve %s: %s", cfg->hook_host, gai_strerror(e));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1) {
			lasterr = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno != EINPROGRESS) {
			lasterr = errno;
			goto next;
		}
		for (;;) {
			if (atomic_load(cancel)) {
				lasterr = ECANCELED;
				goto next;
			}
			pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
			n = poll(&pfd, 1, tick_ms(deadline));
			if (n > 0)
				break;
			if (n == -1 && errno != EINTR) {
				lasterr = errno;
				goto next;
			}
			if (sl_time_mono() >= deadline) {
				lasterr = ETIMEDOUT;
				goto next;
			}
		}
		sl = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
			soerr = errno;
		if (soerr == 0)
			break;
		lasterr = soerr;
next:
		close(fd);
		fd = -1;
		if (lasterr == ETIMEDOUT || lasterr == ECANCELED)
			break;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		if (lasterr == ETIMEDOUT)
			set_rc(r, SL_EIO, "hook ssh: connect %s port %d: timed out after %.1fs",
			    cfg->hook_host, cfg->hook_port, cfg->hook_connect_timeout);
		else
			set_rc(r, SL_EIO, "hook ssh: connect %s port %d: %s", cfg->hook_host,
			    cfg->hook_port, strerror(lasterr ? lasterr : EHOSTUNREACH));
	}
	return fd;
}

struct sshctx {
	LIBSSH2_SESSION		*s;
	int			 fd;
	const atomic_int	*cancel;
};

/* Wait for the socket in the direction libssh2 wants; SL_OK to retry,
 * SL_EIO past deadline or cancelled. */
static int
ssh_wait(struct sshctx *c, double deadline)
{
	struct pollfd	 pfd = { .fd = c->fd };
	int		 dir;

	if (atomic_load(c->cancel) || sl_time_mono() >= deadline)
		return SL_EIO;
	dir = libssh2_session_block_directions(c->s);
	if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
		pfd.events |= POLLIN;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		pfd.events |= POLLOUT;
	if (pfd.events == 0)
		pfd.events = POLLIN;
	if (poll(&pfd, 1, tick_ms(deadline)) == -1 && errno != EINTR)
		return SL_EIO;
	return SL_OK;
}

/* Call EXPR until it stops returning LIBSSH2_ERROR_EAGAIN; a deadline or
 * cancel leaves RES = LIBSSH2_ERROR_TIMEOUT. */
#define SSH_RETRY(c, deadline, res, expr) do {				\
	for (;;) {							\
		(res) = (expr);						\
		if ((res) != LIBSSH2_ERROR_EAGAIN)			\
			break;						\
		if (ssh_wait((c), (deadline)) != SL_OK) {		\
			(res) = LIBSSH2_ERROR_TIMEOUT;			\
			break;						\
		}							\
	}								\
} while (0)

static const char *
ssh_errmsg(LIBSSH2_SESSION *s)
{
	char	*m = NULL;

	libssh2_session_last_error(s, &m, NULL, 0);
	return m != NULL && *m != '\0' ? m : "unknown error";
}

static int
kh_bit(int type)
{
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA:		return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS:		return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:	return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:	return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:	return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
	case LIBSSH2_HOSTKEY_TYPE_ED25519:	return LIBSSH2_KNOWNHOST_KEY_ED25519;
	default:				return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
	}
}

/* Host key algorithms, strongest first, limited to the key types that
 * known_hosts lists for this host (or for hashed names, which we cannot
 * tell apart); all of them when none is listed. */
static void
hostkey_pref(LIBSSH2_KNOWNHOSTS *kh, const struct config *cfg, char *pref, size_t len)
{
	static const struct { int bit; const char *alg; } algs[] = {
		{ LIBSSH2_KNOWNHOST_KEY_ED25519,   "ssh-ed25519" },
		{ LIBSSH2_KNOWNHOST_KEY_ECDSA_256, "ecdsa-sha2-nistp256" },
		{ LIBSSH2_KNOWNHOST_KEY_ECDSA_384, "ecdsa-sha2-nistp384" },
		{ LIBSSH2_KNOWNHOST_KEY_ECDSA_521, "ecdsa-sha2-nistp521" },
		{ LIBSSH2_KNOWNHOST_KEY_SSHRSA,    "ssh-rsa" },
	};
	struct libssh2_knownhost	*e, *prev = NULL;
	char				 name[300];
	unsigned			 seen = 0, i;

	if (cfg->hook_port == 22)
		snprintf(name, sizeof(name), "%s", cfg->hook_host);
	else
		snprintf(name, sizeof(name), "[%s]:%d", cfg->hook_host, cfg->hook_port);
	while (libssh2_knownhost_get(kh, &e, prev) == 0) {
		prev = e;
		if ((e->typemask & LIBSSH2_KNOWNHOST_TYPE_MASK) == LIBSSH2_KNOWNHOST_TYPE_PLAIN &&
		    e->name != NULL && strcmp(e->name, name) != 0)
			continue;
		for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
			if ((e->typemask & LIBSSH2_KNOWNHOST_KEY_MASK) == (unsigned)algs[i].bit)
				seen |= 1u << i;
	}
	if (seen == 0)
		seen = ~0u;
	pref[0] = '\0';
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		if (!(seen & (1u << i)))
			continue;
		if (pref[0] != '\0')
			strncat(pref, ",", len - strlen(pref) - 1);
		strncat(pref, algs[i].alg, len - strlen(pref) - 1);
	}
}

/* Free channel and session within about half a second: a live peer
 * answers the channel close at once; for a dead or hung one, shut the
 * socket down so that libssh2 sees a disconnect and frees without it. */
static void
ssh_close(struct sshctx *c, LIBSSH2_CHANNEL *ch, int bye)
{
	double	 deadline = sl_time_mono() + 0.5;
	int	 res = 0, i;

	if (c->s == NULL)
		return;
	if (ch != NULL)
		SSH_RETRY(c, deadline, res, libssh2_channel_free(ch));
	if (res == 0 && bye)
		SSH_RETRY(c, deadline, res, libssh2_session_disconnect(c->s, "bye"));
	if (res != 0)
		shutdown(c->fd, SHUT_RDWR);
	for (i = 0; ch != NULL && res == LIBSSH2_ERROR_TIMEOUT && i < 100; i++)
		res = libssh2_channel_free(ch);
	for (i = 0; i < 100; i++)
		if (libssh2_session_free(c->s) != LIBSSH2_ERROR_EAGAIN)
			break;
	c->s = NULL;
}

static int
run_ssh(const struct config *cfg, const char *command, struct hook_result *r,
    const atomic_int *cancel)
{
	struct sshctx		 c = { .fd = -1, .cancel = cancel };
	LIBSSH2_KNOWNHOSTS	*kh = NULL;
	LIBSSH2_CHANNEL		*ch = NULL;
	const char		*key;
	char			 pref[200], buf[4096], *sig = NULL;
	size_t			 klen, olen = 0, elen = 0;
	double			 deadline;
	int			 ktype, res, rc, nkh, eof_out = 0, eof_err = 0;
	ssize_t			 n;

	pthread_once(&ssh2_once, ssh2_init);
	if (ssh2_init_rc != 0)
		return set_rc(r, SL_EIO, "hook ssh: libssh2_init failed");
	c.fd = tcp_connect(cfg, r, cancel);
	if (c.fd == -1)
		return r->rc;
	c.s = libssh2_session_init();
	if (c.s == NULL) {
		rc = set_rc(r, SL_ENOMEM, "hook ssh: libssh2_session_init failed");
		goto out;
	}
	libssh2_session_set_blocking(c.s, 0);

	kh = libssh2_knownhost_init(c.s);
	if (kh == NULL) {
		rc = set_rc(r, SL_ENOMEM, "hook ssh: libssh2_knownhost_init failed");
		goto out;
	}
	nkh = libssh2_knownhost_readfile(kh, cfg->hook_known_hosts,
	    LIBSSH2_KNOWNHOST_FILE_OPENSSH);
	if (nkh < 0) {
		rc = set_rc(r, SL_EAUTH, "hook ssh: read known_hosts %s: %s",
		    cfg->hook_known_hosts, ssh_errmsg(c.s));
		goto out;
	}
	hostkey_pref(kh, cfg, pref, sizeof(pref));
	if (libssh2_session_method_pref(c.s, LIBSSH2_METHOD_HOSTKEY, pref) != 0) {
		rc = set_rc(r, SL_EIO, "hook ssh: host key preference %s: %s", pref,
		    ssh_errmsg(c.s));
		goto out;
	}

	deadline = sl_time_mono() + cfg->hook_connect_timeout;
	SSH_RETRY(&c, deadline, res, libssh2_session_handshake(c.s, c.fd));
	if (res != 0) {
		rc = set_rc(r, SL_EIO, "hook ssh: handshake with %s port %d: %s",
		    cfg->hook_host, cfg->hook_port, res == LIBSSH2_ERROR_TIMEOUT ?
		    "timed out" : ssh_errmsg(c.s));
		goto out;
	}
	key = libssh2_session_hostkey(c.s, &klen, &ktype);
	if (key == NULL) {
		rc = set_rc(r, SL_EAUTH, "hook ssh: no host key from %s", cfg->hook_host);
		goto out;
	}
	res = libssh2_knownhost_checkp(kh, cfg->hook_host, cfg->hook_port, key, klen,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | kh_bit(ktype), NULL);
	switch (res) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		break;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		rc = set_rc(r, SL_EAUTH, "hook ssh: host key for %s port %d CHANGED "
		    "(does not match %s); refusing to connect", cfg->hook_host,
		    cfg->hook_port, cfg->hook_known_hosts);
		goto out;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		rc = set_rc(r, SL_EAUTH, "hook ssh: host key for %s port %d (%s) not in %s",
		    cfg->hook_host, cfg->hook_port,
		    libssh2_session_methods(c.s, LIBSSH2_METHOD_HOSTKEY),
		    cfg->hook_known_hosts);
		goto out;
	default:
		rc = set_rc(r, SL_EAUTH, "hook ssh: host key for %s: check failed: %s",
		    cfg->hook_host, ssh_errmsg(c.s));
		goto out;
	}

	SSH_RETRY(&c, deadline, res, libssh2_userauth_publickey_fromfile(c.s,
	    cfg->hook_user, NULL, cfg->hook_key, NULL));
	if (res == LIBSSH2_ERROR_TIMEOUT) {
		rc = set_rc(r, SL_EIO, "hook ssh: authentication as %s@%s timed out",
		    cfg->hook_user, cfg->hook_host);
		goto out;
	}
	if (res != 0) {
		rc = set_rc(r, res == LIBSSH2_ERROR_FILE ? SL_EINVAL : SL_EAUTH,
		    "hook ssh: public key authentication as %s@%s with %s failed: %s",
		    cfg->hook_user, cfg->hook_host, cfg->hook_key, ssh_errmsg(c.s));
		goto out;
	}

	deadline = sl_time_mono() + cfg->hook_timeout;
	for (;;) {
		ch = libssh2_channel_open_session(c.s);
		if (ch != NULL || libssh2_session_last_errno(c.s) != LIBSSH2_ERROR_EAGAIN)
			break;
		if (ssh_wait(&c, deadline) != SL_OK)
			break;
	}
	if (ch == NULL) {
		rc = set_rc(r, SL_EIO, "hook ssh: open channel on %s: %s", cfg->hook_host,
		    ssh_errmsg(c.s));
		goto out;
	}
	r->started = 1;		/* from here on it may run remotely */
	SSH_RETRY(&c, deadline, res, libssh2_channel_exec(ch, command));
	if (res != 0) {
		rc = set_rc(r, SL_EIO, "hook ssh: exec on %s: %s", cfg->hook_host,
		    res == LIBSSH2_ERROR_TIMEOUT ? "timed out" : ssh_errmsg(c.s));
		goto out;
	}
	while (!eof_out || !eof_err) {
		int progress = 0;

		if (!eof_out) {
			n = libssh2_channel_read(ch, buf, sizeof(buf));
			if (n > 0) {
				keep_head(r->out, sizeof(r->out), &olen, buf, (size_t)n);
				progress = 1;
			} else if (n == 0)
				eof_out = 1;
			else if (n != LIBSSH2_ERROR_EAGAIN) {
				rc = set_rc(r, SL_EIO, "hook ssh: read from %s: %s",
				    cfg->hook_host, ssh_errmsg(c.s));
				goto out;
			}
		}
		if (!eof_err) {
			n = libssh2_channel_read_stderr(ch, buf, sizeof(buf));
			if (n > 0) {
				keep_tail(r->err_tail, sizeof(r->err_tail), &elen, buf, (size_t)n);
				progress = 1;
			} else if (n == 0)
				eof_err = 1;
			else if (n != LIBSSH2_ERROR_EAGAIN) {
				rc = set_rc(r, SL_EIO, "hook ssh: read stderr from %s: %s",
				    cfg->hook_host, ssh_errmsg(c.s));
				goto out;
			}
		}
		if (libssh2_channel_eof(ch) == 1 && !progress)
			break;
		if (!progress && ssh_wait(&c, deadline) != SL_OK) {
			rc = set_rc(r, SL_EIO, atomic_load(cancel) ?
			    "hook ssh: abandoned (runner stopping)" :
			    "hook ssh: command timed out after %.1fs on %s (it may still be running there)",
			    cfg->hook_timeout, cfg->hook_host);
			goto out;
		}
	}
	SSH_RETRY(&c, deadline, res, libssh2_channel_close(ch));
	if (res == 0)
		SSH_RETRY(&c, deadline, res, libssh2_channel_wait_closed(ch));
	r->status = libssh2_channel_get_exit_status(ch);
	libssh2_channel_get_exit_signal(ch, &sig, NULL, NULL, NULL, NULL, NULL);
	rc = r->rc = SL_OK;
	if (sig != NULL) {
		r->status = 255;
		snprintf(r->msg, sizeof(r->msg), "hook ssh: %s@%s: killed by signal %s",
		    cfg->hook_user, cfg->hook_host, sig);
		libssh2_free(c.s, sig);
	} else
		snprintf(r->msg, sizeof(r->msg), "hook ssh: %s@%s: exit status %d",
		    cfg->hook_user, cfg->hook_host, r->status);
out:
	if (kh != NULL)
		libssh2_knownhost_free(kh);
	ssh_close(&c, ch, rc == SL_OK);
	close(c.fd);
	return rc;
}

static int
hook_run(const struct config *cfg, const char *command, int flags,
    struct hook_result *r, const atomic_int *cancel)
{
	uint64_t	 id = r->id;
	double		 t0 = sl_time_mono();

	memset(r, 0, sizeof(*r));
	r->id = id;
	r->status = -1;
	switch (cfg->hook_kind) {
	case HOOK_EXEC:
		run_exec(cfg, command, flags, r, cancel);
		break;
	case HOOK_SSH:
		run_ssh(cfg, command, r, cancel);
		break;
	default:
		set_rc(r, SL_EINVAL, "hook: no hook configured");
		break;
	}
	if (r->rc != SL_OK)
		r->status = -1;
	r->elapsed = sl_time_mono() - t0;
	return r->rc;
}

int
hook_run_sync(const struct config *cfg, const char *command, struct hook_result *r)
{
	static const atomic_int	 never = 0;

	return hook_run(cfg, command, 0, r, &never);
}

int
hook_run_flags(const struct config *cfg, const char *command, int flags,
    struct hook_result *r)
{
	static const atomic_int	 never = 0;

	return hook_run(cfg, command, flags, r, &never);
}

/* ---- runner ----------------------------------------------------------- */

struct hook_job {
	struct wq_job		 wq;
	struct hook_result	 res;
	char			*command;
	int			 flags;
};

/* The runner is a workq (workq.h) of [hook] concurrency threads plus a
 * stop flag that every running command watches. */
struct hook_runner {
	const struct config	*cfg;
	hook_done_fn		*done;
	void			*arg;
	struct workq		*q;
	atomic_int		 stopping;
};

static void
job_free(struct hook_job *j)
{
	if (j == NULL)
		return;
	free(j->command);
	free(j);
}

static void
job_run(struct wq_job *wj, int worker, void *arg)
{
	struct hook_runner	*hr = arg;
	struct hook_job		*j = WQ_CONTAINER(wj, struct hook_job, wq);

	(void)worker;
	log_debug("hook", "id=%" PRIu64 " start", j->res.id);
	hook_run(hr->cfg, j->command, j->flags, &j->res, &hr->stopping);
	workq_finish(hr->q, wj);
}

/* On the loop.  At stop, what was abandoned or never started is dropped
 * without done (hook.h). */
static void
job_done(struct wq_job *wj, void *arg)
{
	struct hook_runner	*hr = arg;
	struct hook_job		*j = WQ_CONTAINER(wj, struct hook_job, wq);

	if (!atomic_load(&hr->stopping))
		hr->done(hr->arg, &j->res);
	job_free(j);
}

int
hook_runner_start(struct hook_runner **out, struct ev_loop *loop,
    const struct config *cfg, hook_done_fn *done, void *arg)
{
	struct hook_runner	*hr;
	int			 rc;

	*out = NULL;
	pthread_once(&ssh2_once, ssh2_init);	/* not thread-safe: do it here */
	hr = calloc(1, sizeof(*hr));
	if (hr == NULL)
		return SL_ENOMEM;
	hr->cfg = cfg;
	hr->done = done;
	hr->arg = arg;
	rc = workq_start(&hr->q, loop, cfg->hook_concurrency > 0 ? cfg->hook_concurrency : 1,
	    "sluice-hook", job_run, job_done, hr);
	if (rc != SL_OK) {
		log_warnx("hook", "cannot start the hook thread: %s", sl_strerror(rc));
		free(hr);
		return rc;
	}
	*out = hr;
	return SL_OK;
}

int
hook_runner_submit(struct hook_runner *hr, uint64_t id, const char *command)
{
	return hook_runner_submit_flags(hr, id, command, 0);
}

int
hook_runner_submit_flags(struct hook_runner *hr, uint64_t id, const char *command,
    int flags)
{
	struct hook_job	*j;

	if (atomic_load(&hr->stopping))
		return SL_ESTATE;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return SL_ENOMEM;
	j->command = strdup(command);
	if (j->command == NULL) {
		free(j);
		return SL_ENOMEM;
	}
	j->res.id = id;
	j->flags = flags;
	workq_push(hr->q, &j->wq);
	return SL_OK;
}

unsigned
hook_runner_pending(const struct hook_runner *hr)
{
	return workq_pending(hr->q);
}

void
hook_runner_stop(struct hook_runner *hr)
{
	if (hr == NULL)
		return;
	atomic_store(&hr->stopping, 1);	/* the running command gives up */
	workq_stop(hr->q);		/* joins; job_done drops the rest */
	free(hr);
}
