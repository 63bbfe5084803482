/*
 * ctlclient.c: the CLI side of the control socket.  Blocking, one request
 * and one reply per connection; no libev (the CLI links no event loop).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "sltime.h"

/* Read exactly n bytes or fail by the deadline. */
static int
read_full(int fd, uint8_t *p, size_t n, double deadline, char *err, size_t errlen)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	ssize_t		r;
	int		ms;

	while (n > 0) {
		ms = (int)((deadline - sl_time_mono()) * 1000);
		if (ms <= 0 || poll(&pfd, 1, ms) == 0) {
			snprintf(err, errlen, "no reply from the daemon (timed out)");
			return SL_EAGAIN;
		}
		r = read(fd, p, n);
		if (r == 0) {
			snprintf(err, errlen, "daemon closed the control connection");
			return SL_EIO;
		}
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			snprintf(err, errlen, "control socket: %s", strerror(errno));
			return SL_EIO;
		}
		p += r;
		n -= (size_t)r;
	}
	return SL_OK;
}

int
ctl_call(const char *path, const char *command, int argc, char **argv,
    double timeout, int *status, char **text, char *err, size_t errlen)
{
	int rc;

	rc = ctl_call_pid(path, command, argc, argv, timeout, status, text, NULL,
	    err, errlen);
	return rc == SL_EAGAIN ? SL_EIO : rc;
}

int
ctl_call_pid(const char *path, const char *command, int argc, char **argv,
    double timeout, int *status, char **text, long *pid, char *err, size_t errlen)
{
	struct ucred		 cred;
	socklen_t		 clen = sizeof(cred);
	struct sockaddr_un	 sun;
	struct wire_ctl_req	 req;
	struct wire_ctl_reply	 rep;
	struct wire_hdr		 h;
	struct wbuf		 b;
	uint8_t			 hdr[WIRE_HDR_LEN], *payload = NULL;
	double			 deadline = sl_time_mono() + timeout;
	size_t			 off;
	ssize_t			 w;
	int			 fd = -1, rc, i;

	*text = NULL;
	if (pid != NULL)
		*pid = 0;
	wbuf_init(&b, 0);
	memset(&req, 0, sizeof(req));
	req.command = wire_str_c(command);
	req.argc = (uint32_t)argc;
	req.argv = calloc((size_t)argc + 1, sizeof(*req.argv));
	if (req.argv == NULL) {
		snprintf(err, errlen, "out of memory");
		return SL_ENOMEM;
	}
	for (i = 0; i < argc; i++)
		req.argv[i] = wire_str_c(argv[i]);
	rc = wire_ctl_req_encode(&b, &req);
	free(req.argv);
	if (rc != SL_OK) {
		snprintf(err, errlen, "request too large: %s", sl_strerror(rc));
		goto out;
	}

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: control socket path too long", path);
		rc = SL_EINVAL;
		goto out;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errlen, "%s: %s (is sluiced running?)", path, strerror(errno));
		rc = SL_EIO;
		goto out;
	}
	if (pid != NULL && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
		*pid = (long)cred.pid;
	for (off = 0; off < b.len; off += (size_t)w) {
		w = send(fd, b.p + off, b.len - off, MSG_NOSIGNAL);
		if (w < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			rc = SL_EIO;
			goto out;
		}
	}
	rc = read_full(fd, hdr, sizeof(hdr), deadline, err, errlen);
	if (rc != SL_OK)
		goto out;
	rc = wire_hdr_decode(hdr, sizeof(hdr), &h, CONTROL_MAX_FRAME);
	if (rc != SL_OK || h.type != WIRE_CTL_REPLY) {
		snprintf(err, errlen, "malformed reply from the daemon");
		rc = SL_EPROTO;
		goto out;
	}
	payload = malloc(h.len ? h.len : 1);
	if (payload == NULL) {
		rc = SL_ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = read_full(fd, payload, h.len, deadline, err, errlen);
	if (rc != SL_OK)
		goto out;
	rc = wire_ctl_reply_decode(payload, h.len, &rep);
	if (rc != SL_OK) {
		snprintf(err, errlen, "malformed reply from the daemon");
		goto out;
	}
	*status = rep.status;
	*text = malloc((size_t)rep.text.len + 1);
	if (*text == NULL) {
		rc = SL_ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	memcpy(*text, rep.text.p, rep.text.len);
	(*text)[rep.text.len] = '\0';
out:
	free(payload);
	wbuf_free(&b);
	if (fd != -1)
		close(fd);
	return rc;
}
