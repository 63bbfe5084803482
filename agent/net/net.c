/*
 * net.c: TCP sockets without TLS.  Every socket made here is non-blocking
 * and close-on-exec.  Name resolution (net_resolve) is the only blocking
 * call and is meant for start-up; the rest never blocks.  Errors are
 * written as sentences naming the address, where errno is seen (STYLE 7).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "sluice.h"
#include "errbuf.h"
#include "net.h"

/* "1.2.3.4:80" or "[::1]:80" for a sockaddr. */
static void
addr_text(struct net_addr *a)
{
	char host[INET6_ADDRSTRLEN];
	const struct sockaddr *sa = (const struct sockaddr *)&a->ss;
	unsigned port;

	host[0] = '\0';
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
		snprintf(a->text, sizeof(a->text), "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		snprintf(a->text, sizeof(a->text), "[%s]:%u", host, port);
	} else {
		snprintf(a->text, sizeof(a->text), "?");
	}
}

int
net_resolve(const char *hostport, struct net_addr *a, char *err, size_t errlen)
{
	char host[256];
	const char *p, *colon, *portstr;
	struct addrinfo hints, *res = NULL;
	size_t hlen;
	char *end;
	long port;
	int rc;

	memset(a, 0, sizeof(*a));
	if (hostport == NULL || *hostport == '\0') {
		seterr(err, errlen, "address \"\": expected host:port");
		return SL_EINVAL;
	}
	if (hostport[0] == '[') {
		p = strchr(hostport, ']');
		if (p == NULL || p[1] != ':') {
			seterr(err, errlen, "address \"%s\": expected [v6-address]:port",
			    hostport);
			return SL_EINVAL;
		}
		hlen = (size_t)(p - hostport - 1);
		if (hlen == 0 || hlen >= sizeof(host)) {
			seterr(err, errlen, "address \"%s\": bad host", hostport);
			return SL_EINVAL;
		}
		memcpy(host, hostport + 1, hlen);
		host[hlen] = '\0';
		portstr = p + 2;
	} else {
		colon = strrchr(hostport, ':');
		if (colon == NULL) {
			seterr(err, errlen, "address \"%s\": expected host:port",
			    hostport);
			return SL_EINVAL;
		}
		hlen = (size_t)(colon - hostport);
		if (hlen == 0 || hlen >= sizeof(host) ||
		    memchr(hostport, ':', hlen) != NULL) {
			seterr(err, errlen, "address \"%s\": bad host (write IPv6 "
			    "addresses as [addr]:port)", hostport);
			return SL_EINVAL;
		}
		memcpy(host, hostport, hlen);
		host[hlen] = '\0';
		portstr = colon + 1;
	}
	if (*portstr < '0' || *portstr > '9') {
		seterr(err, errlen, "address \"%s\": missing or bad port", hostport);
		return SL_EINVAL;
	}
	errno = 0;
	port = strtol(portstr, &end, 10);
	if (errno != 0 || *end != '\0' || port < 1 || port > 65535) {
		seterr(err, errlen, "address \"%s\": port must be 1..65535",
		    hostport);
		return SL_EINVAL;
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc == EAI_NONAME) {
		hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
		rc = getaddrinfo(host, portstr, &hints, &res);
		if (rc == EAI_NONAME || rc == EAI_ADDRFAMILY) {
			/* AI_ADDRCONFIG hides ::1/127.0.0.1 on hosts with
			 * only loopback configured; try once without it. */
			hints.ai_flags = AI_NUMERICSERV;
			rc = getaddrinfo(host, portstr, &hints, &res);
		}
	}
	if (rc != 0) {
		seterr(err, errlen, "address \"%s\": %s", hostport,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return SL_EINVAL;
	}
	if (res == NULL || res->ai_addrlen > sizeof(a->ss)) {
		if (res != NULL)
			freeaddrinfo(res);
		seterr(err, errlen, "address \"%s\": no usable address", hostport);
		return SL_EINVAL;
	}
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	freeaddrinfo(res);
	addr_text(a);
	return SL_OK;
}

int
net_listen(const struct net_addr *a, int backlog, int *fdp, char *err, size_t errlen)
{
	int fd, one = 1;

	*fdp = -1;
	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		seterr(err, errlen, "socket for %s: %s", a->text, strerror(errno));
		return SL_EIO;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		seterr(err, errlen, "setsockopt SO_REUSEADDR %s: %s", a->text,
		    strerror(errno));
		goto fail;
	}
	if (a->ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		seterr(err, errlen, "bind %s: %s", a->text, strerror(errno));
		goto fail;
	}
	if (listen(fd, backlog > 0 ? backlog : 128) < 0) {
		seterr(err, errlen, "listen %s: %s", a->text, strerror(errno));
		goto fail;
	}
	*fdp = fd;
	return SL_OK;
fail:
	close(fd);
	return SL_EIO;
}

int
net_connect(const struct net_addr *a, int *fdp, char *err, size_t errlen)
{
	int fd;

	*fdp = -1;
	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		seterr(err, errlen, "socket for %s: %s", a->text, strerror(errno));
		return SL_EIO;
	}
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0 &&
	    errno != EINPROGRESS && errno != EINTR) {
		seterr(err, errlen, "connect %s: %s", a->text, strerror(errno));
		close(fd);
		return SL_EIO;
	}
	*fdp = fd;
	return SL_OK;
}

int
net_connect_result(int fd, char *err, size_t errlen)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	if (soerr != 0) {
		seterr(err, errlen, "connect: %s", strerror(soerr));
		return SL_EIO;
	}
	return SL_OK;
}

int
net_accept(int lfd, int *fdp, struct net_addr *peer)
{
	struct net_addr tmp;
	/* cppcheck-suppress uninitvar ; only &tmp is taken, memset below */
	struct net_addr *a = peer != NULL ? peer : &tmp;
	int fd;

	*fdp = -1;
	memset(a, 0, sizeof(*a));
	a->len = sizeof(a->ss);
	fd = accept4(lfd, (struct sockaddr *)&a->ss, &a->len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
		    errno == ECONNABORTED)
			return SL_EAGAIN;
		return SL_EIO;
	}
	addr_text(a);
	*fdp = fd;
	return SL_OK;
}

void
net_user_timeout(int fd, double seconds)
{
	unsigned ms = seconds > 0 ? (unsigned)(seconds * 1000) : 0;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
}

/*
 * The send buffer for bufsize 0.  Autotuning grows a socket's send buffer
 * up to tcp_wmem's maximum, overhead included; SO_SNDBUF may ask for up to
 * net.core.wmem_max, which the kernel doubles for its overhead.  Where an
 * administrator raised wmem_max past half of tcp_wmem's maximum (4 MiB
 * both on the bench host: 8 MiB against 4), asking gives a long path
 * twice the bytes in flight.  Capped at SNDBUF_AUTO_MAX: hosts tuned for
 * 100 Gbit/s set both to gigabytes and autotune well.  Read once.
 */
#define SNDBUF_AUTO_MAX	(32 << 20)

static long
sysctl_last(const char *path)
{
	FILE	*f = fopen(path, "re");
	long	 v, last = -1;

	if (f == NULL)
		return -1;
	while (fscanf(f, "%ld", &v) == 1)	/* tcp_wmem: min default max */
		last = v;
	fclose(f);
	return last;
}

int
net_sndbuf_auto(void)
{
	static int	 v = -1;
	long		 wmax, tmax;

	if (v >= 0)
		return v;
	wmax = sysctl_last("/proc/sys/net/core/wmem_max");
	tmax = sysctl_last("/proc/sys/net/ipv4/tcp_wmem");
	if (wmax > SNDBUF_AUTO_MAX)
		wmax = SNDBUF_AUTO_MAX;
	v = wmax > 0 && tmax > 0 && 2 * wmax > tmax ? (int)wmax : 0;
	return v;
}

void
net_tune(int fd, int bufsize)
{
	int one = 1, idle = 30, intvl = 10, cnt = 3, sb;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	if (bufsize > 0) {
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
	} else if ((sb = net_sndbuf_auto()) > 0)	/* receive: autotuned */
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb));
}
