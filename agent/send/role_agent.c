/*
 * role_agent.c: the sending side, started and stopped.
 *
 * The role is several modules in agent/send (send_int.h has the map); this
 * file wires them together.  The link (send_link.c) knows no dataset: the
 * table below is how it tells the role that the session came up (the
 * next dataset goes) or went away (the current one waits, its in-flight
 * chunks pending again), and whose handlers read the streams' frames.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ev.h>

#include "agent_hook.h"
#include "conn.h"
#include "ingest.h"
#include "job.h"
#include "log.h"
#include "mreg.h"
#include "net.h"
#include "roles.h"
#include "stream.h"
#include "send_int.h"
#include "send_link.h"
#include "send_ops.h"
#include "send_pull.h"
#include "send_queue.h"
#include "send_sched.h"
#include "send_session.h"
#include "send_xfer.h"

static const struct link_ops agent_link_ops = {
	.stream = &session_stream_ops,
	.up = xfer_up,
	.closed = queue_park,
};

int
agent_start(struct agent **out, struct ev_loop *loop, const struct config *cfg,
    struct journal *j, char *err, size_t errlen)
{
	struct agent	*a;
	char		 cn[256];
	int		 rc;

	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return SL_ENOMEM;
	a->loop = loop;
	a->cfg = cfg;
	a->j = j;
	rc = spool_lanes_check(cfg, err, errlen);
	if (rc == SL_OK)
		rc = link_init(a, &agent_link_ops, err, errlen);
	if (rc != SL_OK)
		goto fail;
	if (cfg->tls) {
		rc = tls_ctx_new(&a->tls, 0, cfg->ca, cfg->cert, cfg->key, err, errlen);
		if (rc != SL_OK)
			goto fail;
		if (cfg->ciphersuites[0] != '\0') {
			rc = tls_ctx_set_suites(a->tls, cfg->ciphersuites, err, errlen);
			if (rc != SL_OK)
				goto fail;
		}
		/* The sink takes our identity from the certificate: say now,
		 * not at every refused HELLO, when the id is not its CN. */
		tls_ctx_cert_cn(a->tls, cn, sizeof(cn));
		if (strcmp(cn, cfg->id) != 0)
			log_warnx("agent", "id=%s but the certificate %s has CN %s: a "
			    "sink refuses an agent whose id is not its certificate's "
			    "CN; set [daemon] id = %s or use a certificate with CN=%s",
			    log_q(cfg->id), log_q(cfg->cert), log_q(cn), cn, cfg->id);
	}
	if (cfg->tls && cfg->tls_threads > 0 &&
	    stream_pool_start(&a->pool, loop, cfg->tls_threads) != SL_OK) {
		snprintf(err, errlen, "cannot start the TLS threads");
		rc = SL_EIO;
		goto fail;
	}
	rc = queue_load(a);
	if (rc != SL_OK) {
		snprintf(err, errlen, "journal %s: %s", journal_path(j), sl_strerror(rc));
		goto fail;
	}
	a->spool.pct = -1;
	ev_timer_init(&a->tick, tick_cb, 1.0, 1.0);
	a->tick.data = a;
	ev_timer_start(loop, &a->tick);
	sched_init(a);
	a->wake_push = xfer_pump;	/* a->wake_pull: pull_start */
	log_info("agent", "id=%s dest=%s streams=%d chunk_size=%u window=%d tls=%s "
	    "maintenance_windows=%d sndbuf=%s%d", log_q(cfg->id), log_q(cfg->destination),
	    cfg->streams, cfg->chunk_size, cfg->window, cfg->tls ? "on" : "off",
	    a->nwindows, cfg->sndbuf > 0 ? "" : "auto:", cfg->sndbuf > 0 ?
	    cfg->sndbuf : net_sndbuf_auto());
	link_start(a);
	rc = ahook_start(&a->hook, loop, cfg, j, err, errlen);
	if (rc == SL_OK)
		rc = ajob_start(&a->job, loop, cfg, j, err, errlen);
	if (rc == SL_OK)
		rc = pull_start(&a->pull, a, err, errlen);
	if (rc == SL_OK)
		rc = ingest_start(&a->ingest, loop, cfg, ingest_sealed, a, err, errlen);
	if (rc != SL_OK) {
		agent_stop(a);
		return rc;
	}
	(void)mreg_register(agent_metrics, a);	/* one role, one collector: fits */
	*out = a;
	return SL_OK;
fail:
	queue_free(a);
	stream_pool_stop(a->pool);
	tls_ctx_free(a->tls);
	free(a);
	return rc;
}

void
agent_stop(struct agent *a)
{
	int	i;

	if (a == NULL)
		return;
	mreg_unregister(agent_metrics, a);
	ev_timer_stop(a->loop, &a->tick);
	ingest_stop(a->ingest);
	ahook_stop(a->hook);
	ajob_stop(a->job);
	pull_stop(a->pull);
	sched_stop(a);
	for (i = 0; i < a->nact; i++)
		flush_counts(a, a->act[i]);
	link_stop(a, "shutting down");
	/* Streams are freed by the reaper on the next loop pass; their send
	 * buffers must outlive them, so run one pass before freeing. */
	ev_run(a->loop, EVRUN_NOWAIT);
	stream_pool_stop(a->pool);	/* lets the last offloaded streams go */
	ev_run(a->loop, EVRUN_NOWAIT);
	pull_free(a->pull);
	for (i = 0; i < SL_MAX_STREAMS; i++)
		free(a->st[i].buf);
	queue_free(a);
	tls_ctx_free(a->tls);
	free(a);
}
