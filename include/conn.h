/*
 * conn.h: one byte stream to a peer, plain TCP or TLS 1.3 (agent/net/conn.c).
 *
 * TLS behind one door (STYLE 4): this is the only module that includes
 * OpenSSL's ssl.h.  Everything else sees read / write / handshake that
 * return SL_EAGAIN and a conn_want() telling which readiness to wait for.
 * Sockets are non-blocking; nothing here blocks.
 *
 * TLS: TLSv1.3 only, mutual authentication.  Both sides load a CA file,
 * their certificate and key; both verify the peer chain
 * (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT).  A client also
 * checks the server's name (DNS SAN) or IP address (IP SAN) against
 * `peer_name` when it is not NULL.
 *
 * Threads: a tls_ctx may be shared by conns of one thread; a conn belongs
 * to one thread.
 */
#ifndef CONN_H
#define CONN_H

#include <stddef.h>
#include <sys/types.h>
#include "sluice.h"

struct tls_ctx;
struct conn;

#define CONN_WANT_READ	0x1
#define CONN_WANT_WRITE	0x2

/* Build a TLS context.  server: 1 for the sink side, 0 for the agent.
 * Returns SL_OK, SL_EINVAL (a file missing or not matching, the sentence
 * in err names the file and OpenSSL's reason). */
int	tls_ctx_new(struct tls_ctx **out, int server, const char *ca_file,
	    const char *cert_file, const char *key_file, char *err, size_t errlen);
/* TLS 1.3 suites in order of preference, ':'-separated.  SL_OK, or
 * SL_EINVAL with a sentence in err when OpenSSL takes none of them. */
#define TLS_SUITES_DEFAULT \
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
int	tls_ctx_set_suites(struct tls_ctx *t, const char *suites, char *err,
	    size_t errlen);
void	tls_ctx_free(struct tls_ctx *t);
/* The first subject CN of this side's own certificate into out ("" when
 * it has none or it does not fit).  An agent checks it against its id:
 * a sink takes an agent's identity from that CN. */
void	tls_ctx_cert_cn(const struct tls_ctx *t, char *out, size_t outlen);

/* Wrap a connected (or accepted) non-blocking socket.  tls NULL = plain.
 * Takes ownership of fd (closed by conn_free, also on failure). */
int	conn_new(struct conn **out, int fd, struct tls_ctx *tls, int server,
	    const char *peer_name);
/* Close the socket, free everything.  NULL is fine. */
void	conn_free(struct conn *c);
int	conn_fd(const struct conn *c);
int	conn_is_tls(const struct conn *c);
/* The negotiated suite ("TLS_AES_128_GCM_SHA256"), "" when plain. */
const char *conn_cipher(const struct conn *c);

/* Advance the TLS handshake (plain conns return SL_OK at once).
 * SL_OK: done.  SL_EAGAIN: wait for conn_want().  SL_EAUTH: the peer's
 * certificate was refused.  SL_EIO / SL_EPROTO: the connection failed.
 * On error conn_error() says why. */
int	conn_handshake(struct conn *c);

/* Read up to len bytes.  Returns the count (> 0), 0 at orderly EOF,
 * SL_EAGAIN (wait for conn_want()), SL_EIO or SL_EPROTO (conn_error()). */
ssize_t	conn_read(struct conn *c, void *buf, size_t len);
/* Write up to len bytes (len > 0).  Returns the count written (> 0),
 * SL_EAGAIN, SL_EIO.  With TLS the same buffer need not be passed again
 * after SL_EAGAIN (moving write buffer is allowed). */
ssize_t	conn_write(struct conn *c, const void *buf, size_t len);
/* With TLS a write may be gathered, not yet on the socket: the caller
 * flushes when it has nothing more to write.  conn_unflushed: bytes
 * gathered (0 for plain conns).  conn_flush: SL_OK (all on the socket),
 * SL_EAGAIN (wait for conn_want()) or SL_EIO (conn_error()). */
size_t	conn_unflushed(const struct conn *c);
int	conn_flush(struct conn *c);
/* After SL_EAGAIN: CONN_WANT_READ and/or CONN_WANT_WRITE. */
int	conn_want(const struct conn *c);
/* Non-zero when TLS holds input already taken from the socket (decrypted
 * bytes, or whole records read ahead): read them before waiting for the
 * socket, which will not become readable for them. */
size_t	conn_pending(const struct conn *c);
/* Last error sentence, "" if none.  Valid until the next call. */
const char *conn_error(const struct conn *c);
/* Subject CN of the verified peer certificate, "" for plain conns. */
const char *conn_peer_cn(const struct conn *c);

#endif
