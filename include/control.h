/*
 * control.h: the daemon's local control socket (agent/daemon/control.c) and the
 * CLI's blocking client for it (agent/cli/ctlclient.c).
 *
 * A unix stream socket, mode 0600, carrying CTL_REQ / CTL_REPLY frames
 * (proto/PROTOCOL.md).  The daemon accepts only peers whose uid is root
 * or its own (SO_PEERCRED), caps clients at CONTROL_MAX_CLIENTS, and uses
 * the socket as its single-instance lock: if a live daemon answers on
 * the path, a second one refuses to start (STYLE 16).
 */
#ifndef CONTROL_H
#define CONTROL_H

#include <stddef.h>
#include "wire.h"

#define CONTROL_MAX_CLIENTS	16
#define CONTROL_MAX_FRAME	(1024u * 1024)

#ifdef EV_VERSION_MAJOR
struct control;
/* A command handler: fill text (plain bytes, not a frame) and return
 * SL_OK or an sl_err code for the reply's status. */
typedef int (*control_fn)(void *arg, const struct wire_ctl_req *req, struct wbuf *text);

int	control_open(struct control **out, struct ev_loop *loop, const char *path,
	    control_fn fn, void *arg, char *err, size_t errlen);
void	control_close(struct control *c);	/* also unlinks the socket */
#endif

/* Client: send one request, wait for its reply (timeout seconds).
 * On SL_OK, *status is the daemon's status and *text a malloc'd NUL-
 * terminated reply.  SL_EIO with err "PATH: Connection refused" etc. when
 * the daemon cannot be reached. */
int	ctl_call(const char *path, const char *command, int argc, char **argv,
	    double timeout, int *status, char **text, char *err, size_t errlen);
/* The same, and *pid (when not NULL) the pid of the process listening on
 * the socket (SO_PEERCRED), 0 when not connected.  Connected but no reply
 * by the deadline: SL_EAGAIN (the daemon is alive and not answering). */
int	ctl_call_pid(const char *path, const char *command, int argc, char **argv,
	    double timeout, int *status, char **text, long *pid, char *err,
	    size_t errlen);

#endif
