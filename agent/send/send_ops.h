/*
 * send_ops.h: the agent's operator surface (send_ops.c), beside
 * agent_control (roles.h).  role_agent.c wires these at start.  Loop
 * thread only.
 */
#ifndef SEND_OPS_H
#define SEND_OPS_H

#include <ev.h>

struct config;
struct ingest_meta;
struct wbuf;

/* ingest_sealed_cb (ingest.h), arg the struct agent: journal the sealed
 * spool dataset in dir like `sluice submit` and queue it.  0 when done
 * with dir (journaled, already journaled, or refused for good: logged),
 * 1 to be offered it again later. */
int	ingest_sealed(void *arg, const char *dir, const struct ingest_meta *meta);
/* [ingest] live_spool and backlog_spool name spool directories, none
 * in both; job_spool names spool directories, and route job is
 * configured ([job] pull_listen) if it names any.  SL_EINVAL with the
 * sentence in err. */
int	spool_lanes_check(const struct config *cfg, char *err, size_t errlen);
/* The once-a-second timer (w->data the struct agent): spool marks and
 * retention, blocked destinations, idle session. */
void	tick_cb(struct ev_loop *loop, ev_timer *w, int revents);
/* The Prometheus collector registered with mreg.h; arg the struct agent. */
void	agent_metrics(void *arg, struct wbuf *out);

#endif
