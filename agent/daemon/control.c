/*
 * control.c: the daemon side of the control socket.
 *
 * Each client is a plain struct stream over the unix socket, so framing,
 * back-pressure and deferred close come from stream.c.  A request is
 * decoded, handed to the role's handler, and answered with one
 * CTL_REPLY; the client may send more requests on the same connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <ev.h>

#include "control.h"
#include "log.h"
#include "stream.h"
#include "sltime.h"

struct control {
	struct ev_loop	*loop;
	ev_io		 accept_io;
	int		 fd;
	char		 path[108];
	control_fn	 fn;
	void		*arg;
	int		 nclients;
	double		 started;	/* CLOCK_REALTIME, for `sluice status` */
};

static void
client_frame(struct stream *s, const struct wire_hdr *h, const uint8_t *p, void *arg)
{
	struct control		*c = arg;
	struct wire_ctl_req	 req;
	struct wire_ctl_reply	 rep;
	struct wbuf		 text, out;
	int			 rc, status;

	if (h->type != WIRE_CTL_REQ) {
		log_warnx("control", "unexpected frame type=%s", wire_type_name(h->type));
		stream_close(s, "unexpected frame");
		return;
	}
	memset(&req, 0, sizeof(req));
	rc = wire_ctl_req_decode(p, h->len, &req);
	if (rc != SL_OK) {
		log_warnx("control", "malformed request: %s", sl_strerror(rc));
		stream_close(s, "malformed request");
		return;
	}
	wbuf_init(&text, CONTROL_MAX_FRAME - 64);
	wbuf_init(&out, 0);
	status = c->fn(c->arg, &req, &text);
	if (status == SL_OK && req.command.len == 4 && memcmp(req.command.p, "ping", 4) == 0) {
		/* what any role's status wants: since when the daemon runs */
		char line[96];
		snprintf(line, sizeof(line), "daemon started=%.0f pid=%d\n", c->started,
		    (int)getpid());
		wbuf_puts(&text, line);
	}
	rep.status = status;
	rep.text.p = (const char *)text.p;
	rep.text.len = (uint32_t)text.len;
	if (wire_ctl_reply_encode(&out, &rep) == SL_OK)
		stream_send_wbuf(s, &out);
	else
		stream_close(s, "reply too large");
	wbuf_free(&text);
	wbuf_free(&out);
	wire_ctl_req_free(&req);
}

static void
client_close(struct stream *s, const char *why, void *arg)
{
	struct control *c = arg;

	(void)s; (void)why;
	c->nclients--;
}

static const struct stream_ops client_ops = {
	.on_frame = client_frame,
	.on_close = client_close,
};

/*
 * A client of another uid: answer its request with an error that says
 * why instead of closing at once (the CLI would only see "Broken pipe"),
 * then let it hang up; the idle timeout ends one that does not.
 */
static void
refused_frame(struct stream *s, const struct wire_hdr *h, const uint8_t *p, void *arg)
{
	struct wire_ctl_reply	 rep;
	struct wbuf		 out;
	char			 text[128];

	(void)h; (void)p; (void)arg;
	snprintf(text, sizeof(text), "control socket: permission denied "
	    "(only root and uid %d may use it)", (int)geteuid());
	rep.status = SL_EAUTH;
	rep.text.p = text;
	rep.text.len = (uint32_t)strlen(text);
	wbuf_init(&out, 0);
	if (wire_ctl_reply_encode(&out, &rep) == SL_OK)
		stream_send_wbuf(s, &out);
	else
		stream_close(s, "refused");
	wbuf_free(&out);
	stream_set_idle(s, 2);
}

static const struct stream_ops refused_ops = {
	.on_frame = refused_frame,
	.on_close = client_close,
};

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control	*c = w->data;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	int		 fd;

	(void)revents;
	fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("control", "accept");
		return;
	}
	if (c->nclients >= CONTROL_MAX_CLIENTS) {
		log_warnx("control", "refused client: %d clients already", c->nclients);
		close(fd);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("control", "SO_PEERCRED");
		close(fd);
		return;
	}
	if (cred.uid != 0 && cred.uid != geteuid()) {
		log_warnx("control", "refused client uid=%d: not root or uid %d",
		    (int)cred.uid, (int)geteuid());
		if (stream_new(loop, fd, 0, NULL, 1, NULL, &refused_ops, c,
		    CONTROL_MAX_FRAME, 2, "control") != NULL)
			c->nclients++;
		return;
	}
	if (stream_new(loop, fd, 0, NULL, 1, NULL, &client_ops, c,
	    CONTROL_MAX_FRAME, 30, "control") != NULL)
		c->nclients++;
}

int
control_open(struct control **out, struct ev_loop *loop, const char *path,
    control_fn fn, void *arg, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct control		*c;
	mode_t			 old;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: control socket path too long", path);
		return SL_EINVAL;
	}
	strcpy(sun.sun_path, path);

	/* Single-instance lock: a live daemon answers on the path. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return SL_EIO;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		close(fd);
		snprintf(err, errlen, "%s: another sluiced is running", path);
		return SL_EEXIST;
	}
	close(fd);
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "unlink %s: %s", path, strerror(errno));
		return SL_EIO;
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return SL_EIO;
	}
	old = umask(077);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		snprintf(err, errlen, "bind %s: %s", path, strerror(errno));
		close(fd);
		return SL_EIO;
	}
	umask(old);
	if (chmod(path, 0600) == -1 || listen(fd, CONTROL_MAX_CLIENTS) == -1) {
		snprintf(err, errlen, "listen %s: %s", path, strerror(errno));
		close(fd);
		return SL_EIO;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return SL_ENOMEM;
	}
	c->loop = loop;
	c->fd = fd;
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->fn = fn;
	c->arg = arg;
	c->started = sl_time_wall();
	ev_io_init(&c->accept_io, accept_cb, fd, EV_READ);
	c->accept_io.data = c;
	ev_io_start(loop, &c->accept_io);
	*out = c;
	return SL_OK;
}

void
control_close(struct control *c)
{
	if (c == NULL)
		return;
	ev_io_stop(c->loop, &c->accept_io);
	close(c->fd);
	unlink(c->path);
	free(c);
}
