/*
 * roles.h: the two daemon roles (agent/send/role_agent.c, agent/sink/role_sink.c).
 * sluiced.c picks one at start-up from the config; the roles never call
 * each other.  Both run on the one libev loop of the main thread.
 */
#ifndef ROLES_H
#define ROLES_H

#include <stddef.h>
#include <ev.h>
#include "config.h"
#include "journal.h"
#include "wire.h"

struct agent;
struct sink;

/* Start the agent: load unfinished datasets from the journal and begin
 * connecting to the destination.  cfg and j must outlive the agent.
 * SL_EINVAL + err on a bad TLS or address setting. */
int	agent_start(struct agent **out, struct ev_loop *loop, const struct config *cfg,
	    struct journal *j, char *err, size_t errlen);
void	agent_stop(struct agent *a);
/* Control-socket handler (control_fn); arg is the struct agent. */
int	agent_control(void *arg, const struct wire_ctl_req *req, struct wbuf *text);

/* Each role registers its Prometheus collector with mreg.h at start and
 * removes it at stop; the daemon serves whatever is registered. */


/* Start the sink: listen, load datasets being received. */
int	sink_start(struct sink **out, struct ev_loop *loop, const struct config *cfg,
	    struct journal *j, char *err, size_t errlen);
void	sink_stop(struct sink *s);
int	sink_control(void *arg, const struct wire_ctl_req *req, struct wbuf *text);

#endif
