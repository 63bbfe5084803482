/*
 * net.h: TCP sockets without TLS (agent/net/net.c).  Numeric addresses only:
 * no DNS lookups on the event loop (host names are resolved once, at
 * config load, with net_resolve).
 */
#ifndef NET_H
#define NET_H

#include <stddef.h>
#include <sys/socket.h>

struct net_addr {
	struct sockaddr_storage	ss;
	socklen_t		len;
	char			text[80];	/* "127.0.0.1:4000", "[::1]:4000" */
};

/* Parse "host:port" or "[v6]:port"; host may be a name (resolved with
 * getaddrinfo, blocking: call at start-up only).  SL_EINVAL with a
 * sentence in err. */
int	net_resolve(const char *hostport, struct net_addr *a, char *err, size_t errlen);
/* Non-blocking listening socket (SO_REUSEADDR, CLOEXEC).  SL_EIO + err. */
int	net_listen(const struct net_addr *a, int backlog, int *fdp, char *err, size_t errlen);
/* Start a non-blocking connect; *fdp is valid on SL_OK (connect may still
 * be in progress: wait for writability, then net_connect_result).  */
int	net_connect(const struct net_addr *a, int *fdp, char *err, size_t errlen);
/* 0 when the connect completed, else SL_EIO with the reason in err. */
int	net_connect_result(int fd, char *err, size_t errlen);
/* Accept one connection, non-blocking + CLOEXEC; SL_EAGAIN when none. */
int	net_accept(int lfd, int *fdp, struct net_addr *peer);
/* Socket tuning for bulk streams: TCP_NODELAY, keepalive, buffers of
 * bufsize bytes each way; 0 = autotuning, except that the send buffer is
 * net_sndbuf_auto() where that is not 0. */
void	net_tune(int fd, int bufsize);
/* net.core.wmem_max (at most 32 MiB) when asking for it gives a socket
 * more send buffer than autotuning reaches (tcp_wmem's maximum), else 0. */
int	net_sndbuf_auto(void);
/* Close the connection (the next read or write fails with ETIMEDOUT) when
 * sent bytes stay unacknowledged by the peer's TCP for seconds
 * (TCP_USER_TIMEOUT; 0 = the kernel's default, many minutes).  A silent
 * outage (packets dropped, no reset) is noticed that soon. */
void	net_user_timeout(int fd, double seconds);

#endif
