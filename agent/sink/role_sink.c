/*
 * role_sink.c: the receiving side (roles.h): start and stop, the control
 * commands (ping, release) and the metrics collector.
 *
 * The role is layered (sink_int.h): sessions (sink_session.c) hand the
 * agent's frames to the dataset state machine (sink_dataset.c), which
 * verifies and writes chunks into the group commit; what comes back from
 * the writer threads and the committer (sink_ack.c) makes chunks durable
 * and sends their ACKs; every layer sends through its connection
 * (sink_conn.c).  Here the watchers and threads are started, each with
 * the callback of the layer it serves, and stopped in the order that
 * lets what was written be committed first.
 */
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "fsx.h"
#include "log.h"
#include "mreg.h"
#include "roles.h"
#include "sink_int.h"
#include "sltime.h"
#include "verify.h"

/* ---- control ------------------------------------------------------------------ */

/* Datasets and bytes held per owner (the authenticated identity). */
struct agent_sum {
	char		id[SL_MAX_PATH + 1];
	uint64_t	n[SDS_FAILED + 1];
	uint64_t	bytes;
};
struct agent_sums {
	struct agent_sum	*v;
	size_t			 n, cap;
	int			 oom;
};

static struct agent_sum *
agent_sum_get(struct agent_sums *s, const char *id)
{
	struct agent_sum	*v;
	size_t			 i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i].id, id) == 0)
			return &s->v[i];
	if (s->n == s->cap) {
		v = realloc(s->v, (s->cap ? s->cap * 2 : 8) * sizeof(*v));
		if (v == NULL) {
			s->oom = 1;
			return NULL;
		}
		s->v = v;
		s->cap = s->cap ? s->cap * 2 : 8;
	}
	memset(&s->v[s->n], 0, sizeof(s->v[s->n]));
	snprintf(s->v[s->n].id, sizeof(s->v[s->n].id), "%s", id);
	return &s->v[s->n++];
}

static int
agent_sum_fn(const struct ds_rec *d, void *arg)
{
	struct agent_sum *a = agent_sum_get(arg, d->src);

	if (a == NULL)
		return 1;
	if (d->state >= 1 && d->state <= SDS_FAILED)
		a->n[d->state]++;
	a->bytes += d->bytes_acked;
	return 0;
}

/* "release" DATASET [AGENT] (sink_release.c srel_release). */
static int
release_cmd(struct sink *sk, const struct wire_ctl_req *req, struct wbuf *out)
{
	char	key[SL_MAX_NAME + 1], agent[SL_MAX_ID + 1] = "", msg[2048];
	int	rc;

	if (req->argc < 1 || req->argc > 2 ||
	    wire_str_copy(key, sizeof(key), req->argv[0]) != SL_OK || key[0] == '\0' ||
	    (req->argc == 2 && wire_str_copy(agent, sizeof(agent), req->argv[1]) !=
	    SL_OK)) {
		wbuf_puts(out, "usage: release DATASET [AGENT]");
		return SL_EINVAL;
	}
	rc = srel_release(sk, key, agent, msg, sizeof(msg));
	wbuf_puts(out, msg);
	return rc;
}

int
sink_control(void *arg, const struct wire_ctl_req *req, struct wbuf *out)
{
	struct sink	*sk = arg;
	struct sds	*d;
	struct sconn	*c, *o;
	struct agent_sums ag;
	char		 line[1024];
	size_t		 i;
	int		 receiving = 0, n;

	if (req->command.len == 7 && memcmp(req->command.p, "release", 7) == 0)
		return release_cmd(sk, req, out);
	if (req->command.len != 4 || memcmp(req->command.p, "ping", 4) != 0) {
		wbuf_puts(out, "unknown command");
		return SL_EINVAL;
	}
	for (d = sk->dsets; d; d = d->next)
		receiving += d->rec.state == SDS_RECEIVING;
	snprintf(line, sizeof(line), "role=sink listen=%s connections=%d receiving=%d "
	    "free_bytes=%lld\n", sk->addr.text, sk->nconns, receiving,
	    fsx_free_bytes(sk->rootfd));
	wbuf_puts(out, line);
	/* One line per agent, by authenticated identity: the ones connected
	 * (first connection of each) and every owner in the journal. */
	memset(&ag, 0, sizeof(ag));
	for (c = sk->conns; c; c = c->next)
		if (c->state == SC_READY)
			(void)agent_sum_get(&ag, c->agent);
	journal_ds_foreach(sk->j, agent_sum_fn, &ag);
	for (i = 0; i < ag.n; i++) {
		const struct agent_sum *a = &ag.v[i];

		for (c = sk->conns; c; c = c->next)
			if (c->state == SC_READY && strcmp(c->agent, a->id) == 0)
				break;
		n = 0;
		for (o = c; o; o = o->next)
			n += o->state == SC_READY && strcmp(o->agent, a->id) == 0;
		snprintf(line, sizeof(line), "agent=%s streams=%d from=%s tls=%s "
		    "receiving=%llu published=%llu failed=%llu bytes=%llu\n", a->id, n,
		    c ? c->label : "-", c ? (stream_is_tls(c->s) ? "on" : "off") : "-",
		    (unsigned long long)a->n[SDS_RECEIVING],
		    (unsigned long long)a->n[SDS_PUBLISHED],
		    (unsigned long long)a->n[SDS_FAILED], (unsigned long long)a->bytes);
		wbuf_puts(out, line);
	}
	free(ag.v);
	return SL_OK;
}

/* ---- metrics -------------------------------------------------------------- */

struct ssum {
	uint64_t	by_state[SDS_FAILED + 1];
	uint64_t	received, dups, nacked, bytes;
};

static int
ssum_fn(const struct ds_rec *d, void *arg)
{
	struct ssum *m = arg;

	if (d->state >= 1 && d->state <= SDS_FAILED)
		m->by_state[d->state]++;
	m->received += d->chunks_sent;
	m->dups += d->chunks_resent;
	m->nacked += d->chunks_nacked;
	m->bytes += d->bytes_acked;
	return 0;
}

/* A family of one unlabelled sample: its name written once. */
static void
metric(struct wbuf *out, const char *name, const char *type, const char *help,
    double v)
{
	mreg_family(out, name, type, help);
	mreg_sample(out, name, NULL, v);
}

static void
sink_metrics(void *arg, struct wbuf *out)
{
	struct sink	*sk = arg;
	struct ssum	 m;
	struct statvfs	 sv;
	char		 lab[64];
	int		 i;

	memset(&m, 0, sizeof(m));
	journal_ds_foreach(sk->j, ssum_fn, &m);
	metric(out, "sluice_sink_bytes_durable_total", "counter",
	    "Bytes written, fsynced and journaled.", (double)m.bytes);
	metric(out, "sluice_sink_chunks_received_total", "counter",
	    "DATA frames received.", (double)m.received);
	metric(out, "sluice_sink_chunks_duplicate_total", "counter",
	    "DATA frames for chunks already held (acked again, not rewritten).",
	    (double)m.dups);
	metric(out, "sluice_sink_chunks_nacked_total", "counter",
	    "Chunks rejected for a checksum mismatch.", (double)m.nacked);
	mreg_family(out, "sluice_sink_datasets", "gauge", "Datasets by state.");
	for (i = SDS_RECEIVING; i <= SDS_FAILED; i++) {
		snprintf(lab, sizeof(lab), "state=\"%s\"", sds_state_name(i));
		mreg_sample(out, "sluice_sink_datasets", lab, (double)m.by_state[i]);
	}
	metric(out, "sluice_sink_connections", "gauge", "Open agent connections.",
	    sk->nconns);
	metric(out, "sluice_sink_root_free_bytes", "gauge",
	    "Free bytes on the file system of the root.",
	    (double)fsx_free_bytes(sk->rootfd));
	if (fstatvfs(sk->rootfd, &sv) == 0)
		metric(out, "sluice_sink_root_size_bytes", "gauge",
		    "Size of the file system of the root.",
		    (double)sv.f_blocks * (double)sv.f_frsize);
}

/* ---- start / stop ----------------------------------------------------------------- */

int
sink_start(struct sink **out, struct ev_loop *loop, const struct config *cfg,
    struct journal *j, char *err, size_t errlen)
{
	struct sink	*sk;
	struct rlimit	 rl;
	int		 rc = SL_OK;

	sk = calloc(1, sizeof(*sk));
	if (sk == NULL)
		return SL_ENOMEM;
	sk->loop = loop;
	sk->cfg = cfg;
	sk->j = j;
	sk->lfd = -1;
	sk->dio = cfg->direct_io;
	/* Small files' fds kept to publication (sds_keep_fd): half of what
	 * the limit leaves above 1,024 (connections, journal, writers), at
	 * most 65,536; none under the common default of 1,024. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 1024)
		sk->kept_max = rl.rlim_cur == RLIM_INFINITY ||
		    rl.rlim_cur - 1024 > 2 * 65536 ? 65536 :
		    (uint32_t)(rl.rlim_cur - 1024) / 2;
	sk->rootfd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sk->rootfd == -1) {
		snprintf(err, errlen, "root %s: %s", cfg->root, strerror(errno));
		rc = SL_EIO;
		goto fail;
	}
	/* listen "" (never from a file: config.c requires it): no listener,
	 * the connections come from sess_adopt (the pull receiver) */
	if (cfg->listen[0] != '\0')
		rc = net_resolve(cfg->listen, &sk->addr, err, errlen);
	else
		snprintf(sk->addr.text, sizeof(sk->addr.text), "none");
	if (rc != SL_OK)
		goto fail;
	if (cfg->tls) {
		rc = tls_ctx_new(&sk->tls, 1, cfg->ca, cfg->cert, cfg->key, err, errlen);
		if (rc != SL_OK)
			goto fail;
		if (cfg->ciphersuites[0] != '\0') {
			rc = tls_ctx_set_suites(sk->tls, cfg->ciphersuites, err, errlen);
			if (rc != SL_OK)
				goto fail;
		}
	}
	if (cfg->listen[0] != '\0') {
		rc = net_listen(&sk->addr, 128, &sk->lfd, err, errlen);
		if (rc != SL_OK)
			goto fail;
		ev_io_init(&sk->accept_io, sess_accept_cb, sk->lfd, EV_READ);
		sk->accept_io.data = sk;
		ev_io_start(loop, &sk->accept_io);
	}
	ev_init(&sk->accept_pause, sess_resume_cb);
	sk->accept_pause.data = sk;
	ev_prepare_init(&sk->commit, sack_prepare_cb);
	sk->commit.data = sk;
	ev_prepare_start(loop, &sk->commit);
	rc = verifier_start(&sk->ver);
	if (rc != SL_OK) {
		snprintf(err, errlen, "cannot start the verifier thread");
		goto fail;
	}
	if (sk->dio && cfg->writers > 0) {
		rc = swrite_start(&sk->sw, loop, cfg->writers, sk->ver, sack_write_done, sk);
		if (rc != SL_OK) {
			snprintf(err, errlen, "cannot start the writer threads");
			goto fail;
		}
		ev_timer_init(&sk->expire, sack_expire_cb, 1.0, 1.0);
		sk->expire.data = sk;
		ev_timer_start(loop, &sk->expire);
	}
	if (cfg->tls && cfg->tls_threads > 0 &&
	    stream_pool_start(&sk->pool, loop, cfg->tls_threads) != SL_OK) {
		snprintf(err, errlen, "cannot start the TLS threads");
		rc = SL_EIO;
		goto fail;
	}
	sk->started = sl_time_wall();
	if (cfg->partial_ttl > 0) {
		double every = cfg->partial_ttl / 4;

		every = every < 0.5 ? 0.5 : every > 60 ? 60 : every;
		ev_timer_init(&sk->ttl, srel_expire_cb, every, every);
		sk->ttl.data = sk;
		ev_timer_start(loop, &sk->ttl);
	}
	rc = gcommit_start(&sk->gc, loop, j, sack_commit_done, sk);
	if (rc != SL_OK) {
		snprintf(err, errlen, "cannot start the committer thread");
		goto fail;
	}
	/* OPENs are prepared off the loop, one at a time (sink_open.c). */
	rc = workq_start(&sk->opener, loop, 1, "sluice-open", sopen_run, sds_opened, sk);
	if (rc != SL_OK) {
		snprintf(err, errlen, "cannot start the opener thread");
		goto fail;
	}
	log_info("sink", "id=%s listen=%s root=%s tls=%s identity=%s layout=%s",
	    log_q(cfg->id), sk->addr.text, log_q(cfg->root), cfg->tls ? "on" : "off",
	    cfg->tls ? "certificate-cn" : cfg->agent_secrets[0] ? "agent-secret" :
	    "shared-secret", cfg->layout == LAYOUT_PER_AGENT ? "per-agent" : "flat");
	if (!cfg->tls && cfg->agent_secrets[0] == '\0')
		log_info("sink", "one shared secret_file: every agent that holds it may "
		    "say any agent id, so ids are labels, not identities; [tls] "
		    "agent_secrets (one secret per agent id) or TLS (identity = "
		    "certificate CN) would tie each id to its own credential%s",
		    cfg->layout == LAYOUT_FLAT ? ", and [sink] layout = per-agent "
		    "would give each agent its own namespace, <root>/<agent>/<name>" : "");
	else if (cfg->layout == LAYOUT_FLAT)
		log_info("sink", "layout = flat: every agent publishes into <root>/<name>; "
		    "a name taken by one agent is refused to another; [sink] layout = "
		    "per-agent would give each agent its own namespace, "
		    "<root>/<agent>/<name>");
	(void)mreg_register(sink_metrics, sk);	/* one role, one collector: fits */
	*out = sk;
	return SL_OK;
fail:
	ev_timer_stop(loop, &sk->ttl);
	if (sk->lfd != -1) {
		ev_io_stop(loop, &sk->accept_io);
		ev_prepare_stop(loop, &sk->commit);
		close(sk->lfd);
	}
	if (sk->rootfd != -1)
		close(sk->rootfd);
	if (sk->sw != NULL) {
		ev_timer_stop(loop, &sk->expire);
		swrite_stop(sk->sw);
	}
	stream_pool_stop(sk->pool);
	gcommit_stop(sk->gc);
	verifier_stop(sk->ver);
	tls_ctx_free(sk->tls);
	free(sk);
	return rc;
}

void
sink_stop(struct sink *sk)
{
	struct sconn	*c;
	struct sds	*d;

	if (sk == NULL)
		return;
	mreg_unregister(sink_metrics, sk);
	ev_io_stop(sk->loop, &sk->accept_io);
	ev_timer_stop(sk->loop, &sk->accept_pause);
	ev_timer_stop(sk->loop, &sk->ttl);
	/* OPENs at the opener finish (their datasets join sk->dsets). */
	workq_stop(sk->opener);
	sk->opener = NULL;
	/* Let the writers finish, commit what was written so far, then close
	 * everything. */
	if (sk->sw != NULL) {
		ev_timer_stop(sk->loop, &sk->expire);
		swrite_stop(sk->sw);
		sk->sw = NULL;
	}
	ev_prepare_stop(sk->loop, &sk->commit);
	gcommit_stop(sk->gc);		/* commits what was written so far */
	sk->gc = NULL;
	for (c = sk->conns; c; c = c->next)
		stream_close(c->s, "shutting down");
	ev_run(sk->loop, EVRUN_NOWAIT);
	stream_pool_stop(sk->pool);	/* lets the last offloaded streams go */
	sk->pool = NULL;
	ev_run(sk->loop, EVRUN_NOWAIT);
	verifier_stop(sk->ver);		/* drops every vds */
	while ((d = sk->dsets) != NULL) {
		sk->dsets = d->next;
		sds_flush_counts(sk, d);
		sds_free(d);
	}
	close(sk->lfd);
	close(sk->rootfd);
	tls_ctx_free(sk->tls);
	free(sk->bounce);
	free(sk);
}
