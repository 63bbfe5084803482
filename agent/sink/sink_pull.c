/*
 * sink_pull.c: the job's receiver (`sluiced --pull`), route job.
 *
 * Inside a Slurm job, on a node that accepts no connection from outside,
 * this process is an ordinary sink rooted at the job's scratch directory
 * whose connections it dials itself (pull.h): connect --streams times to
 * the agent's pull_listen, write each a preamble (stream i of n, one
 * random session number for the set), and hand the sockets to the sink's
 * session code as if they had been accepted (sess_adopt).  From there it
 * is the push path unchanged, n streams of one agent: CHALLENGE, HELLO
 * (the agent's certificate CN must be its id), OPEN -> HAVE, DATA spread
 * over the streams, checked per chunk (XXH3-64), written and journaled
 * durable before the ACK (on the stream that carried it), COMMIT verified
 * per file, the tree published by rename.  The set lives and dies as one,
 * as a push session's streams do: when one stream is lost the others are
 * closed and a new set (a new session number) is dialled.  The sink's journal lives in the scratch
 * (ROOT/.sluice-pull/journal), so a receiver killed mid-pull and started
 * again in the same job resumes: HAVE tells the agent what is held.
 *
 *   DIAL n --session--> PULLING --published, agent hung up--> REDUCE
 *        <--a stream lost: close the rest; backoff 1..10s, give up after
 *           timeout without a session
 *   REDUCE: sh -c REDUCE in the published tree, stdout into the scratch
 *   RESULT: copied to the shared path as PATH.sluice-tmp-PID, fsync,
 *           rename, fsync of the directory (readers never see half a file)
 *   REPORT: "R" preamble, TLS, RESULT frame; the agent journals done (or
 *           failed) and answers RESULT; retried until it does or timeout.
 *
 * A receiver started again after the pull finished skips to REDUCE: the
 * reduction must be repeatable (it reads the published tree, writes only
 * its stdout).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <ev.h>
#include <xxhash.h>

#include "config.h"
#include "digest.h"
#include "conn.h"
#include "fsx.h"
#include "journal.h"
#include "log.h"
#include "net.h"
#include "pull.h"
#include "roles.h"
#include "sltime.h"
#include "stream.h"
#include "wire.h"
#include "sink_int.h"

#define DIAL_TIMEOUT	10.0	/* one TCP connect */
#define BACKOFF_MAX	10.0
#define LINGER_MAX	3.0	/* after publication: let COMMITTED go out */

struct puller {
	const struct pull_opts	*o;
	struct ev_loop		*loop;
	struct sink		*sk;
	struct journal		*j;
	struct net_addr		 addr;
	ev_timer		 tick;
	double			 last_ok;	/* a session was up (monotonic) */
	double			 next_dial;
	double			 backoff;
	double			 published_at;
	uint32_t		 ndialed;	/* streams of the set dialled, 0: none */
	int			 outcome;	/* 0 running, 1 published, -1 gave up */
	char			 published[SL_MAX_PATH + 1];
	char			 why[512];
};

/* Connect to a with a bounded wait, blocking the loop for at most
 * DIAL_TIMEOUT (the receiver has nothing else to do meanwhile), and write
 * the preamble pp.  SL_OK with *fdp, else SL_EIO with err. */
static int
dial(const struct net_addr *a, const struct pull_pre *pp, int *fdp, char *err,
    size_t errlen)
{
	struct pollfd	pfd;
	char		pre[PULL_PREAMBLE_LEN + 1];
	ssize_t		n;
	int		fd, rc;

	rc = net_connect(a, &fd, err, errlen);
	if (rc != SL_OK)
		return rc;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	rc = poll(&pfd, 1, (int)(DIAL_TIMEOUT * 1000));
	if (rc <= 0) {
		snprintf(err, errlen, "connect %s: %s", a->text, rc == 0 ?
		    "timed out" : strerror(errno));
		close(fd);
		return SL_EIO;
	}
	if (net_connect_result(fd, err, errlen) != SL_OK) {
		close(fd);
		return SL_EIO;
	}
	pull_preamble(pre, pp);
	n = send(fd, pre, PULL_PREAMBLE_LEN, MSG_NOSIGNAL);
	if (n != PULL_PREAMBLE_LEN) {
		snprintf(err, errlen, "send to %s: %s", a->text,
		    n < 0 ? strerror(errno) : "short write");
		close(fd);
		return SL_EIO;
	}
	*fdp = fd;
	return SL_OK;
}

/* Close every connection of the sink (one stream of the set was lost). */
static void
close_all(struct puller *p, const char *why)
{
	struct sconn	*c;

	for (c = p->sk->conns; c; c = c->next)
		if (stream_state(c->s) != ST_CLOSING)
			stream_close(c->s, why);
}

static void
backoff(struct puller *p, double now)
{
	p->next_dial = now + p->backoff;
	p->backoff = p->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : p->backoff * 2;
}

/* Dial the n streams of a new session: SL_OK, every one adopted by the
 * sink; else none is left open (err says why). */
static int
dial_set(struct puller *p, char *err, size_t errlen)
{
	struct pull_pre	 pp;
	uint32_t	 i, n = (uint32_t)p->o->streams;
	int		 fds[SL_MAX_STREAMS], rc = SL_OK;

	memset(&pp, 0, sizeof(pp));
	pp.mode = PULL_MODE_PULL;
	pp.id = p->o->dsid;
	pp.nstreams = n;
	if (digest_random(&pp.session, sizeof(pp.session)) != SL_OK) {
		snprintf(err, errlen, "no randomness for a session number");
		return SL_EIO;
	}
	for (i = 0; i < n; i++) {
		pp.stream = i;
		rc = dial(&p->addr, &pp, &fds[i], err, errlen);
		if (rc != SL_OK) {
			while (i > 0)
				close(fds[--i]);
			return rc;
		}
	}
	for (i = 0; i < n; i++) {
		if (rc == SL_OK)
			rc = sess_adopt(p->sk, fds[i], p->addr.text);
		else
			close(fds[i]);
	}
	if (rc != SL_OK) {
		snprintf(err, errlen, "cannot take the connection: %s", sl_strerror(rc));
		close_all(p, "a stream of the set failed");
		return rc;
	}
	p->ndialed = n;
	log_info("pull", "dataset=%016llx connected to %s: %u streams, session %08x",
	    (unsigned long long)p->o->dsid, p->addr.text, n, pp.session);
	return SL_OK;
}

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct puller	*p = w->data;
	struct sconn	*c;
	struct ds_rec	 r;
	double		 now = sl_time_mono();
	char		 err[256];
	int		 rc;

	(void)revents;
	memset(&r, 0, sizeof(r));
	rc = journal_ds_get(p->j, p->o->dsid, &r);
	if (rc == SL_OK && r.state == SDS_PUBLISHED) {
		if (p->published_at == 0) {
			p->published_at = now;
			snprintf(p->published, sizeof(p->published), "%s", r.published);
			log_info("pull", "dataset=%016llx published=%s in the scratch",
			    (unsigned long long)p->o->dsid, log_q(r.published));
		}
		/* The agent hangs up once it has COMMITTED (and journaled). */
		if (p->sk->nconns == 0 || now - p->published_at > LINGER_MAX) {
			ds_rec_free(&r);
			p->outcome = 1;
			ev_break(loop, EVBREAK_ALL);
			return;
		}
	} else if (rc == SL_OK && r.state == SDS_FAILED) {
		snprintf(p->why, sizeof(p->why), "the pull failed: %s", r.error);
		ds_rec_free(&r);
		p->outcome = -1;
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	ds_rec_free(&r);
	/* only an authenticated session is progress: a refused handshake
	 * every backoff must still time out */
	for (c = p->sk->conns; c; c = c->next)
		if (c->state == SC_READY) {
			p->last_ok = now;
			p->backoff = 1;
		}
	if (p->ndialed > 0 && p->sk->nconns < (int)p->ndialed && p->published_at == 0) {
		/* A stream of the set is gone: so is the set, as on the push
		 * path; the agent sees the others close and drops its half. */
		log_warnx("pull", "dataset=%016llx %d of %u streams left: closing them, "
		    "dialling a new set", (unsigned long long)p->o->dsid, p->sk->nconns,
		    p->ndialed);
		close_all(p, "another stream of the pull session was lost");
		p->ndialed = 0;
	}
	if (p->sk->nconns > 0)
		return;
	p->ndialed = 0;
	if (now - p->last_ok > p->o->timeout) {
		snprintf(p->why, sizeof(p->why), "no session with the agent at %s "
		    "for %.0fs: %s", p->addr.text, p->o->timeout, p->why[0] ? p->why :
		    "giving up");
		p->outcome = -1;
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (now < p->next_dial || p->published_at != 0)
		return;
	rc = dial_set(p, err, sizeof(err));
	/* A session that ends at once (refused certificate) must not spin:
	 * the next dial waits the backoff. */
	backoff(p, now);
	if (rc != SL_OK) {
		log_warnx("pull", "dataset=%016llx dial %s: %s; again in %.0fs",
		    (unsigned long long)p->o->dsid, p->addr.text, err,
		    p->next_dial - now);
		snprintf(p->why, sizeof(p->why), "%s", err);
	}
}

/* The sink's configuration for this pull, written into the scratch and
 * loaded like any other (every default from the one table). */
static int
write_config(const struct pull_opts *o, const char *dir, struct config *cfg,
    char *err, size_t errlen)
{
	char	 path[PATH_MAX];
	FILE	*f;
	int	 rc;

	snprintf(path, sizeof(path), "%s/sluiced.conf", dir);
	f = fopen(path, "w");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return SL_EIO;
	}
	fprintf(f, "[daemon]\nrole = sink\nid = pull-%016llx\njournal = %s/journal\n"
	    "log_level = %s\n[tls]\nmode = on\nca = %s\ncert = %s\nkey = %s\n"
	    "[sink]\nlisten = 127.0.0.1:1\nroot = %s\npartial_ttl = 0\n",
	    (unsigned long long)o->dsid, dir, o->log_level >= LOG_DEBUG ? "debug" :
	    "info", o->ca, o->cert, o->key, o->root);
	if (fclose(f) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return SL_EIO;
	}
	rc = config_load(cfg, path, err, errlen);
	cfg->listen[0] = '\0';	/* no listener: we dial (sess_adopt) */
	return rc;
}

/* Run the sink until the dataset is published (SL_OK) or the pull gives
 * up (SL_EIO, why in err). */
static int
pull_data(const struct pull_opts *o, const char *dir, char *pubdir, size_t publen,
    char *err, size_t errlen)
{
	static struct config	 cfg;	/* big; outlives the sink */
	struct puller		 p;
	struct ds_rec		 r;
	int			 rc;

	memset(&p, 0, sizeof(p));
	p.o = o;
	rc = write_config(o, dir, &cfg, err, errlen);
	if (rc != SL_OK)
		return rc;
	rc = net_resolve(o->agent, &p.addr, err, errlen);
	if (rc != SL_OK)
		return rc;
	rc = journal_open(&p.j, cfg.journal, JOURNAL_SINK, 0, 0, err, errlen);
	if (rc != SL_OK)
		return rc;
	/* Published by an earlier run of this receiver: nothing to pull. */
	memset(&r, 0, sizeof(r));
	if (journal_ds_get(p.j, o->dsid, &r) == SL_OK && r.state == SDS_PUBLISHED) {
		snprintf(p.published, sizeof(p.published), "%s", r.published);
		ds_rec_free(&r);
		journal_close(p.j);
		log_info("pull", "dataset=%016llx published already (%s): reducing again",
		    (unsigned long long)o->dsid, log_q(p.published));
		goto done;
	}
	ds_rec_free(&r);
	p.loop = ev_loop_new(EVFLAG_AUTO);
	if (p.loop == NULL) {
		journal_close(p.j);
		snprintf(err, errlen, "cannot create the event loop");
		return SL_EIO;
	}
	rc = sink_start(&p.sk, p.loop, &cfg, p.j, err, errlen);
	if (rc != SL_OK) {
		journal_close(p.j);
		ev_loop_destroy(p.loop);
		return rc;
	}
	p.last_ok = sl_time_mono();
	p.backoff = 1;
	/* The tick notices the publication and the agent's hang-up: every
	 * 20 ms (one read txn) rather than 0.2 s, which was on average 0.1 s
	 * added to every pull before the reduction could start. */
	ev_timer_init(&p.tick, tick_cb, 0, 0.02);
	p.tick.data = &p;
	ev_timer_start(p.loop, &p.tick);
	ev_run(p.loop, 0);
	ev_timer_stop(p.loop, &p.tick);
	sink_stop(p.sk);
	journal_close(p.j);
	ev_loop_destroy(p.loop);
	if (p.outcome != 1) {
		snprintf(err, errlen, "%s", p.why[0] ? p.why : "interrupted");
		return SL_EIO;
	}
done:
	if (p.published[0] == '/')
		snprintf(pubdir, publen, "%s", p.published);
	else
		snprintf(pubdir, publen, "%s/%s", o->root, p.published);
	return SL_OK;
}

/* sh -c o->reduce in pubdir, stdout into out.  SL_OK, or SL_EIO with the
 * exit status or signal in err. */
static int
reduce(const struct pull_opts *o, const char *pubdir, const char *out, char *err,
    size_t errlen)
{
	char	 idhex[17];
	pid_t	 pid;
	int	 fd, st;

	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", out, strerror(errno));
		return SL_EIO;
	}
	snprintf(idhex, sizeof(idhex), "%016llx", (unsigned long long)o->dsid);
	log_info("pull", "dataset=%016llx reducing in %s: %s",
	    (unsigned long long)o->dsid, log_q(pubdir), log_q(o->reduce));
	pid = fork();
	if (pid == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(fd);
		return SL_EIO;
	}
	if (pid == 0) {
		if (chdir(pubdir) == -1 || dup2(fd, 1) == -1)
			_exit(126);
		setenv("SLUICE_DATA", pubdir, 1);
		setenv("SLUICE_DATASET", idhex, 1);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", o->reduce, (char *)NULL);
		_exit(127);
	}
	close(fd);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR) {
			snprintf(err, errlen, "waitpid: %s", strerror(errno));
			return SL_EIO;
		}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return SL_OK;
	if (WIFEXITED(st))
		snprintf(err, errlen, "reduction failed: exit status %d", WEXITSTATUS(st));
	else
		snprintf(err, errlen, "reduction failed: killed by signal %d",
		    WTERMSIG(st));
	return SL_EIO;
}

/* Copy src to dst atomically: dst.sluice-tmp-PID, fsync, rename, fsync of
 * the directory.  The copy's size and XXH3-64 into *bytes, *h. */
static int
publish_result(const char *src, const char *dst, uint64_t *bytes, uint64_t *h,
    char *err, size_t errlen)
{
	XXH3_state_t	*st = XXH3_createState();
	char		 tmp[PATH_MAX], dir[PATH_MAX], buf[65536], *slash;
	ssize_t		 n;
	int		 in = -1, out = -1, dfd, rc = SL_EIO;

	*bytes = 0;
	snprintf(tmp, sizeof(tmp), "%s.sluice-tmp-%ld", dst, (long)getpid());
	snprintf(dir, sizeof(dir), "%s", dst);
	slash = strrchr(dir, '/');
	if (st == NULL || slash == NULL) {
		snprintf(err, errlen, "%s: %s", dst, st ? "not an absolute path" :
		    "out of memory");
		goto out;
	}
	*(slash == dir ? slash + 1 : slash) = '\0';
	XXH3_64bits_reset(st);
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in == -1) {
		snprintf(err, errlen, "%s: %s", src, strerror(errno));
		goto out;
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out == -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			snprintf(err, errlen, "write %s: %s", tmp, strerror(errno));
			goto out;
		}
		XXH3_64bits_update(st, buf, (size_t)n);
		*bytes += (uint64_t)n;
	}
	if (n < 0) {
		snprintf(err, errlen, "read %s: %s", src, strerror(errno));
		goto out;
	}
	if (fsync(out) == -1 || close(out) == -1) {
		out = -1;
		snprintf(err, errlen, "fsync %s: %s", tmp, strerror(errno));
		goto out;
	}
	out = -1;
	if (rename(tmp, dst) == -1) {
		snprintf(err, errlen, "rename %s -> %s: %s", tmp, dst, strerror(errno));
		goto out;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1 || fsync(dfd) == -1) {
		snprintf(err, errlen, "fsync %s: %s", dir, strerror(errno));
		if (dfd != -1)
			close(dfd);
		goto out;
	}
	close(dfd);
	*h = XXH3_64bits_digest(st);
	rc = SL_OK;
out:
	if (rc != SL_OK && out != -1)
		unlink(tmp);
	if (out != -1)
		close(out);
	if (in != -1)
		close(in);
	XXH3_freeState(st);
	return rc;
}

/* ---- the report: one RESULT each way over mutual TLS ------------------- */

/* Wait for c's wanted readiness until deadline (monotonic).  SL_OK or
 * SL_EIO (timed out). */
static int
wait_conn(struct conn *c, double deadline)
{
	struct pollfd	pfd;
	double		left = deadline - sl_time_mono();
	int		w = conn_want(c);

	if (left <= 0)
		return SL_EIO;
	if (conn_pending(c) > 0)
		return SL_OK;
	pfd.fd = conn_fd(c);
	pfd.events = (short)(((w & CONN_WANT_READ) ? POLLIN : 0) |
	    ((w & CONN_WANT_WRITE) ? POLLOUT : 0));
	return poll(&pfd, 1, (int)(left * 1000) + 1) > 0 ? SL_OK : SL_EIO;
}

static int
report_once(const struct pull_opts *o, struct tls_ctx *tls, const struct net_addr *a,
    const struct wire_error *res, char *err, size_t errlen)
{
	struct conn		*c = NULL;
	struct wire_hdr		 h;
	struct wire_error	 ans;
	struct pull_pre		 pp;
	struct wbuf		 b;
	uint8_t			 in[WIRE_HDR_LEN + SL_MAX_MSG + 64];
	double			 deadline = sl_time_mono() + 30;
	size_t			 off = 0, need = WIRE_HDR_LEN;
	ssize_t			 n;
	int			 fd, rc;

	memset(&pp, 0, sizeof(pp));
	pp.mode = PULL_MODE_REPORT;
	pp.id = o->dsid;
	pp.nstreams = 1;
	rc = dial(a, &pp, &fd, err, errlen);
	if (rc != SL_OK)
		return rc;
	rc = conn_new(&c, fd, tls, 1, NULL);
	if (rc != SL_OK) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	while ((rc = conn_handshake(c)) == SL_EAGAIN)
		if (wait_conn(c, deadline) != SL_OK)
			break;
	if (rc != SL_OK) {
		snprintf(err, errlen, "TLS with %s: %s", a->text, rc == SL_EAGAIN ?
		    "timed out" : conn_error(c));
		goto out;
	}
	wbuf_init(&b, 0);
	rc = wire_result_encode(&b, res);
	while (rc == SL_OK && off < b.len) {
		n = conn_write(c, b.p + off, b.len - off);
		if (n > 0)
			off += (size_t)n;
		else if (n == SL_EAGAIN && wait_conn(c, deadline) == SL_OK)
			continue;
		else
			rc = SL_EIO;
	}
	while (rc == SL_OK && (n = conn_flush(c)) != SL_OK)	/* TLS gathers */
		if (n != SL_EAGAIN || wait_conn(c, deadline) != SL_OK)
			rc = SL_EIO;
	wbuf_free(&b);
	if (rc != SL_OK) {
		snprintf(err, errlen, "send RESULT to %s: %s", a->text, conn_error(c));
		goto out;
	}
	/* The answer: one RESULT frame. */
	off = 0;
	for (;;) {
		n = conn_read(c, in + off, need - off);
		if (n > 0) {
			off += (size_t)n;
			if (off < need)
				continue;
			if (need == WIRE_HDR_LEN) {
				rc = wire_hdr_decode(in, off, &h, sizeof(in) - WIRE_HDR_LEN);
				if (rc != SL_OK || h.type != WIRE_RESULT)
					break;
				need = WIRE_HDR_LEN + h.len;
				if (h.len > 0)
					continue;
			}
			rc = wire_result_decode(in + WIRE_HDR_LEN, h.len, &ans);
			if (rc == SL_OK && (ans.dsid != o->dsid || ans.code != 0))
				rc = SL_EPROTO;
			break;
		}
		if (n == SL_EAGAIN && wait_conn(c, deadline) == SL_OK)
			continue;
		rc = SL_EIO;
		break;
	}
	if (rc != SL_OK)
		snprintf(err, errlen, "no answer to RESULT from %s%s%s", a->text,
		    conn_error(c)[0] ? ": " : "", conn_error(c));
out:
	conn_free(c);
	return rc;
}

/* Report res until the agent confirms or o->timeout passes. */
static int
report(const struct pull_opts *o, const struct wire_error *res, char *err,
    size_t errlen)
{
	struct tls_ctx	*tls = NULL;
	struct net_addr	 a;
	double		 start = sl_time_mono(), backoff = 1;
	int		 rc;

	rc = net_resolve(o->agent, &a, err, errlen);
	if (rc == SL_OK)
		rc = tls_ctx_new(&tls, 1, o->ca, o->cert, o->key, err, errlen);
	if (rc != SL_OK)
		return rc;
	for (;;) {
		rc = report_once(o, tls, &a, res, err, errlen);
		if (rc == SL_OK || sl_time_mono() - start > o->timeout)
			break;
		log_warnx("pull", "dataset=%016llx report: %s; again in %.0fs",
		    (unsigned long long)o->dsid, err, backoff);
		sleep((unsigned)backoff);
		backoff = backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
	}
	tls_ctx_free(tls);
	return rc;
}

int
pull_run(const struct pull_opts *o)
{
	struct wire_error	 res;
	char			 dir[PATH_MAX], pubdir[PATH_MAX], out[PATH_MAX];
	char			 err[1024], msg[SL_MAX_MSG + 1];
	uint64_t		 bytes = 0, h = 0;
	int			 rc, code;

	log_init(o->log_level, 0);
	signal(SIGPIPE, SIG_IGN);
	if (o->result[0] != '/' || strchr(o->root, '\n') || strchr(o->ca, '\n') ||
	    strchr(o->cert, '\n') || strchr(o->key, '\n')) {
		fprintf(stderr, "sluiced: --pull: --result must be an absolute path, "
		    "and no path may hold a newline\n");
		return SL_EXIT_USAGE;
	}
	snprintf(dir, sizeof(dir), "%s/.sluice-pull", o->root);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "sluiced: --pull: mkdir %s: %s\n", dir, strerror(errno));
		return SL_EXIT_FAIL;
	}
	rc = pull_data(o, dir, pubdir, sizeof(pubdir), err, sizeof(err));
	if (rc != SL_OK) {
		/* Nothing to report: the agent sees the job end and decides. */
		fprintf(stderr, "sluiced: --pull: dataset %016llx: %s\n",
		    (unsigned long long)o->dsid, err);
		return SL_EXIT_FAIL;
	}
	snprintf(out, sizeof(out), "%s/result.%016llx", dir, (unsigned long long)o->dsid);
	rc = reduce(o, pubdir, out, err, sizeof(err));
	if (rc == SL_OK)
		rc = publish_result(out, o->result, &bytes, &h, err, sizeof(err));
	if (rc == SL_OK) {
		code = 0;
		snprintf(msg, sizeof(msg), "result=%s bytes=%llu xxh3=%016llx",
		    o->result, (unsigned long long)bytes, (unsigned long long)h);
		log_info("pull", "dataset=%016llx %s", (unsigned long long)o->dsid, msg);
	} else {
		code = -SL_EIO;
		snprintf(msg, sizeof(msg), "%s", err);
		log_err("pull", "dataset=%016llx %s", (unsigned long long)o->dsid,
		    log_q(msg));
	}
	memset(&res, 0, sizeof(res));
	res.dsid = o->dsid;
	res.code = (uint16_t)code;
	res.message = wire_str_c(msg);
	if (report(o, &res, err, sizeof(err)) != SL_OK) {
		fprintf(stderr, "sluiced: --pull: dataset %016llx: report: %s\n",
		    (unsigned long long)o->dsid, err);
		return SL_EXIT_FAIL;
	}
	log_info("pull", "dataset=%016llx reported to the agent", (unsigned long long)o->dsid);
	return code == 0 ? SL_EXIT_OK : SL_EXIT_FAIL;
}
