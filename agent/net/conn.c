/*
 * conn.c: one byte stream to a peer, plain TCP or TLS 1.3.
 *
 * This is the only file that includes OpenSSL's ssl.h (STYLE 4).  A conn
 * wraps a non-blocking socket; every call returns at once, with SL_EAGAIN
 * and conn_want() saying which readiness to wait for.  With TLS the
 * handshake, reads and writes may each want either direction (a read can
 * need to write a key update, a write can need to read), so callers must
 * always consult conn_want() rather than assume.
 *
 * TLS policy: TLSv1.3 only, mutual authentication against one CA file;
 * the client also checks the server's DNS or IP SAN against the name it
 * dialled.  No session tickets or resumption: connections are few and
 * long-lived, and a full handshake keeps verification simple.  TLS 1.3
 * has no renegotiation.
 *
 * Error classes: a refused certificate (ours or the peer's) during the
 * handshake is SL_EAUTH; any other TLS failure is SL_EPROTO; a socket
 * error or a close without close_notify is SL_EIO.  The sentence names the
 * peer and OpenSSL's reason and is read with conn_error().
 *
 * SIGPIPE: plain writes use send(MSG_NOSIGNAL).  TLS writes go through
 * OpenSSL's socket BIO, which uses write(2); the daemon ignores SIGPIPE at
 * start-up (STYLE 11), so a peer that vanished gives EPIPE, not a signal.
 *
 * TLS output is gathered: OpenSSL writes each 16 KiB record to its write
 * BIO at once, one write(2) per record, and system calls are dear (on a
 * VM most of all).  A buffering BIO (CONN_WBUF) sits between the SSL and
 * the socket, so records leave in writes of up to CONN_WBUF; what it holds
 * goes out when it fills or at conn_flush, which the caller makes when it
 * has nothing more to write (conn_unflushed says whether it must).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "sluice.h"
#include "conn.h"

#define CONN_WBUF	(256 * 1024)

struct tls_ctx {
	SSL_CTX	*ctx;
	int	 server;
};

struct conn {
	int	 fd;
	int	 server;
	SSL	*ssl;			/* NULL for plain */
	int	 want;			/* CONN_WANT_* after SL_EAGAIN */
	int	 handshake_done;
	int	 failed;		/* fatal TLS error seen: no shutdown */
	char	 peer[128];		/* for error sentences */
	char	 cn[256];		/* subject CN of the verified peer */
	char	 err[512];
};

/* OpenSSL's reason for the last queued error, or NULL if the queue is
 * empty.  Clears the queue. */
static const char *
ossl_reason(char *buf, size_t len, unsigned long *codep)
{
	unsigned long e;
	const char *r;

	e = ERR_peek_last_error();
	if (codep != NULL)
		*codep = e;
	if (e == 0)
		return NULL;
	r = ERR_reason_error_string(e);
	if (r == NULL) {
		ERR_error_string_n(e, buf, len);
		r = buf;
	} else {
		snprintf(buf, len, "%s", r);
		r = buf;
	}
	ERR_clear_error();
	return r;
}

static void
ctx_err(char *err, size_t errlen, const char *what, const char *file)
{
	char rbuf[256];
	const char *r;

	r = ossl_reason(rbuf, sizeof(rbuf), NULL);
	if (r == NULL)
		r = errno != 0 ? strerror(errno) : "unknown error";
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s %s: %s", what, file, r);
}

int
tls_ctx_new(struct tls_ctx **out, int server, const char *ca_file,
    const char *cert_file, const char *key_file, char *err, size_t errlen)
{
	struct tls_ctx *t;
	SSL_CTX *ctx = NULL;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (ca_file == NULL || cert_file == NULL || key_file == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "TLS needs a CA file, a "
			    "certificate and a key");
		return SL_EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return SL_ENOMEM;
	ERR_clear_error();
	errno = 0;
	ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (ctx == NULL) {
		ctx_err(err, errlen, "TLS context", server ? "server" : "client");
		free(t);
		return SL_ENOMEM;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
		ctx_err(err, errlen, "TLS context", "TLSv1.3");
		goto fail;
	}
	errno = 0;
	if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		ctx_err(err, errlen, "load CA file", ca_file);
		goto fail;
	}
	errno = 0;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		ctx_err(err, errlen, "load certificate", cert_file);
		goto fail;
	}
	errno = 0;
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		ctx_err(err, errlen, "load key", key_file);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ctx_err(err, errlen, "key does not match certificate", key_file);
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
	    NULL);
	/* AES-128-GCM first (OpenSSL puts AES-256 first): the one suite
	 * every TLS 1.3 peer must have, and 1.5x faster here (4.5 against
	 * 2.9 GB/s, `openssl speed`), which on bulk data is CPU on both ends. */
	if (SSL_CTX_set_ciphersuites(ctx, TLS_SUITES_DEFAULT) != 1) {
		ctx_err(err, errlen, "TLS context", "ciphersuites");
		goto fail;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
	/* Read many records per read(2) instead of a header and a body per
	 * 16 KiB record: a quarter of the receiver's syscalls on bulk data. */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_read_buffer_len(ctx, 256 * 1024);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (server)
		(void)SSL_CTX_set_num_tickets(ctx, 0);
	t->ctx = ctx;
	t->server = server;
	*out = t;
	return SL_OK;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	free(t);
	return SL_EINVAL;
}

int
tls_ctx_set_suites(struct tls_ctx *t, const char *suites, char *err,
    size_t errlen)
{
	ERR_clear_error();
	if (SSL_CTX_set_ciphersuites(t->ctx, suites) != 1) {
		snprintf(err, errlen, "[tls] ciphersuites: OpenSSL takes none of "
		    "\"%s\" (TLS 1.3 names, e.g. TLS_AES_128_GCM_SHA256, "
		    "separated by ':')", suites);
		ERR_clear_error();
		return SL_EINVAL;
	}
	return SL_OK;
}

void
tls_ctx_free(struct tls_ctx *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

static void
peer_label(struct conn *c, const char *peer_name)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	size_t n;

	memset(&ss, 0, sizeof(ss));	/* the analyzer does not model getpeername */
	snprintf(c->peer, sizeof(c->peer), "peer");
	if (getpeername(c->fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			if (inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host)))
				snprintf(c->peer, sizeof(c->peer), "%s:%u", host,
				    ntohs(s4->sin_port));
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			if (inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host)))
				snprintf(c->peer, sizeof(c->peer), "[%s]:%u", host,
				    ntohs(s6->sin6_port));
		}
	}
	if (peer_name != NULL && *peer_name != '\0') {
		char tmp[sizeof(c->peer)];

		snprintf(tmp, sizeof(tmp), "%s", c->peer);
		n = strlen(peer_name);
		if (strncmp(tmp, peer_name, n) == 0 && tmp[n] == ':')
			;	/* dialled by address: the address says it all */
		else if (strcmp(tmp, "peer") == 0)
			snprintf(c->peer, sizeof(c->peer), "%.100s", peer_name);
		else
			snprintf(c->peer, sizeof(c->peer), "%.60s (%.60s)",
			    peer_name, tmp);
	}
}

/* 1 if name is an IPv4 or IPv6 literal (brackets allowed); the bare
 * address is copied to ip. */
static int
ip_literal(const char *name, char *ip, size_t iplen)
{
	unsigned char buf[sizeof(struct in6_addr)];
	size_t n = strlen(name);

	if (n >= 2 && name[0] == '[' && name[n - 1] == ']') {
		if (n - 2 >= iplen)
			return 0;
		memcpy(ip, name + 1, n - 2);
		ip[n - 2] = '\0';
	} else {
		if (n >= iplen)
			return 0;
		memcpy(ip, name, n + 1);
	}
	return inet_pton(AF_INET, ip, buf) == 1 ||
	    inet_pton(AF_INET6, ip, buf) == 1;
}

/* The SSL reads the socket and writes through a buffer in front of it. */
static int
gather_bios(struct conn *c)
{
	BIO *sock, *buf;

	sock = BIO_new_socket(c->fd, BIO_NOCLOSE);
	buf = BIO_new(BIO_f_buffer());
	if (sock == NULL || buf == NULL ||
	    BIO_set_write_buffer_size(buf, CONN_WBUF) != 1 || BIO_up_ref(sock) != 1) {
		BIO_free(sock);
		BIO_free(buf);
		return 0;
	}
	BIO_push(buf, sock);		/* buf holds a reference, the SSL the other */
	SSL_set_bio(c->ssl, sock, buf);
	return 1;
}

int
conn_new(struct conn **out, int fd, struct tls_ctx *tls, int server,
    const char *peer_name)
{
	struct conn *c;
	char ip[INET6_ADDRSTRLEN + 2];
	int rc = SL_ENOMEM;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return SL_ENOMEM;
	}
	c->fd = fd;
	c->server = server;
	peer_label(c, server ? NULL : peer_name);
	if (tls == NULL) {
		c->handshake_done = 1;
		*out = c;
		return SL_OK;
	}
	ERR_clear_error();
	c->ssl = SSL_new(tls->ctx);
	if (c->ssl == NULL)
		goto fail;
	if (!gather_bios(c))
		goto fail;
	if (server) {
		SSL_set_accept_state(c->ssl);
	} else {
		SSL_set_connect_state(c->ssl);
		if (peer_name != NULL && *peer_name != '\0') {
			rc = SL_EINVAL;
			if (ip_literal(peer_name, ip, sizeof(ip))) {
				if (X509_VERIFY_PARAM_set1_ip_asc(
				    SSL_get0_param(c->ssl), ip) != 1)
					goto fail;
			} else {
				if (SSL_set1_host(c->ssl, peer_name) != 1)
					goto fail;
				if (SSL_set_tlsext_host_name(c->ssl, peer_name) != 1)
					goto fail;
			}
		}
	}
	*out = c;
	return SL_OK;
fail:
	ERR_clear_error();
	SSL_free(c->ssl);
	close(fd);
	free(c);
	return rc;
}

void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	if (c->ssl != NULL) {
		/* Best effort: what is gathered, then close_notify; never
		 * waits. */
		if (c->handshake_done && !c->failed) {
			(void)BIO_flush(SSL_get_wbio(c->ssl));
			(void)SSL_shutdown(c->ssl);
		}
		ERR_clear_error();
		SSL_free(c->ssl);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

int
conn_fd(const struct conn *c)
{
	return c->fd;
}

int
conn_is_tls(const struct conn *c)
{
	return c->ssl != NULL;
}

const char *
conn_cipher(const struct conn *c)
{
	const char *n = c->ssl ? SSL_get_cipher_name(c->ssl) : NULL;

	return n ? n : "";
}

/* Does this OpenSSL reason mean the peer refused our certificate, or
 * that a certificate was missing? */
static int
reason_is_auth(unsigned long e)
{
	if (ERR_GET_LIB(e) != ERR_LIB_SSL)
		return 0;
	switch (ERR_GET_REASON(e)) {
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
	case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
	case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
		return 1;
	default:
		return 0;
	}
}

/*
 * Turn a failed SSL_* call into an error code and sentence.  what is
 * "TLS handshake", "TLS read" or "TLS write".  Returns SL_EAGAIN (want
 * set), 0 for an orderly close_notify, SL_EAUTH, SL_EPROTO or SL_EIO.
 */
static int
tls_fail(struct conn *c, int ret, const char *what)
{
	char rbuf[256];
	const char *r;
	unsigned long e = 0;
	long vr;
	int serr, saved = errno;

	serr = SSL_get_error(c->ssl, ret);
	switch (serr) {
	case SSL_ERROR_WANT_READ:
		c->want = CONN_WANT_READ;
		return SL_EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		c->want = CONN_WANT_WRITE;
		return SL_EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		snprintf(c->err, sizeof(c->err), "%s with %s: connection closed "
		    "by peer", what, c->peer);
		return 0;
	case SSL_ERROR_SYSCALL:
		c->failed = 1;
		r = ossl_reason(rbuf, sizeof(rbuf), &e);
		if (r == NULL)
			r = saved != 0 ? strerror(saved) : "unexpected EOF";
		snprintf(c->err, sizeof(c->err), "%s with %s: %s", what,
		    c->peer, r);
		return SL_EIO;
	default:
		break;
	}
	c->failed = 1;
	vr = SSL_get_verify_result(c->ssl);
	r = ossl_reason(rbuf, sizeof(rbuf), &e);
	if (!c->handshake_done && vr != X509_V_OK) {
		snprintf(c->err, sizeof(c->err), "%s with %s: certificate verify "
		    "failed: %s", what, c->peer,
		    X509_verify_cert_error_string(vr));
		return SL_EAUTH;
	}
	if (r == NULL)
		r = "protocol error";
	if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SSL &&
	    ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		snprintf(c->err, sizeof(c->err), "%s with %s: connection closed "
		    "without close_notify", what, c->peer);
		return SL_EIO;
	}
	if (reason_is_auth(e)) {
		if (ERR_GET_REASON(e) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
			snprintf(c->err, sizeof(c->err), "%s with %s: peer sent "
			    "no certificate", what, c->peer);
		else
			snprintf(c->err, sizeof(c->err), "%s with %s: peer "
			    "refused our certificate: %s", what, c->peer, r);
		return c->handshake_done ? SL_EPROTO : SL_EAUTH;
	}
	snprintf(c->err, sizeof(c->err), "%s with %s: %s", what, c->peer, r);
	return SL_EPROTO;
}

/* The first subject CN of x, as UTF-8 without NUL, into out ("" if
 * none or too long). */
static void
cert_cn(X509 *x, char *out, size_t outlen)
{
	X509_NAME *nm;
	X509_NAME_ENTRY *ne;
	unsigned char *utf8 = NULL;
	int idx, n;

	out[0] = '\0';
	nm = x != NULL ? X509_get_subject_name(x) : NULL;
	idx = nm != NULL ? X509_NAME_get_index_by_NID(nm, NID_commonName, -1) : -1;
	if (idx >= 0) {
		ne = X509_NAME_get_entry(nm, idx);
		n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(ne));
		if (n > 0 && (size_t)n < outlen && memchr(utf8, '\0', (size_t)n) == NULL) {
			memcpy(out, utf8, (size_t)n);
			out[n] = '\0';
		}
		OPENSSL_free(utf8);
	}
}

void
tls_ctx_cert_cn(const struct tls_ctx *t, char *out, size_t outlen)
{
	if (outlen == 0)
		return;
	out[0] = '\0';
	if (t != NULL)
		cert_cn(SSL_CTX_get0_certificate(t->ctx), out, outlen);
}

static void
save_peer_cn(struct conn *c)
{
	X509 *x;

	c->cn[0] = '\0';
	x = SSL_get1_peer_certificate(c->ssl);
	if (x == NULL)
		return;
	cert_cn(x, c->cn, sizeof(c->cn));
	X509_free(x);
}

int
conn_handshake(struct conn *c)
{
	int ret, rc;

	c->want = 0;
	if (c->ssl == NULL || c->handshake_done)
		return SL_OK;
	if (c->failed)
		return SL_EPROTO;
	ERR_clear_error();
	errno = 0;
	ret = SSL_do_handshake(c->ssl);
	if (ret == 1) {
		c->handshake_done = 1;
		save_peer_cn(c);
		c->err[0] = '\0';
		return SL_OK;
	}
	rc = tls_fail(c, ret, "TLS handshake");
	if (rc == 0) {		/* close_notify mid-handshake */
		c->failed = 1;
		return SL_EIO;
	}
	return rc;
}

/* The plain-socket half of conn_read and conn_write. */
static ssize_t
plain_io(struct conn *c, void *buf, size_t len, int wr)
{
	ssize_t n;

	for (;;) {
		n = wr ? send(c->fd, buf, len, MSG_NOSIGNAL) : read(c->fd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->want = wr ? CONN_WANT_WRITE : CONN_WANT_READ;
			return SL_EAGAIN;
		}
		snprintf(c->err, sizeof(c->err), "%s %s: %s",
		    wr ? "write to" : "read from", c->peer, strerror(errno));
		return SL_EIO;
	}
}

/* May a TLS record be read or written now?  SL_OK, or the error to return. */
static int
tls_ready(struct conn *c, const char *what)
{
	if (!c->handshake_done) {
		snprintf(c->err, sizeof(c->err), "%s with %s: handshake "
		    "not done", what, c->peer);
		return SL_EPROTO;
	}
	if (c->failed)
		return SL_EIO;
	ERR_clear_error();
	errno = 0;
	return SL_OK;
}

ssize_t
conn_read(struct conn *c, void *buf, size_t len)
{
	size_t got = 0;
	int ret;

	c->want = 0;
	if (len == 0)
		return 0;
	if (c->ssl == NULL)
		return plain_io(c, buf, len, 0);
	ret = tls_ready(c, "TLS read");
	if (ret != SL_OK)
		return ret;
	ret = SSL_read_ex(c->ssl, buf, len, &got);
	if (ret == 1)
		return (ssize_t)got;
	return tls_fail(c, ret, "TLS read");
}

ssize_t
conn_write(struct conn *c, const void *buf, size_t len)
{
	size_t put = 0;
	int ret, rc;

	c->want = 0;
	if (len == 0)
		return 0;
	if (c->ssl == NULL)
		return plain_io(c, (void *)(uintptr_t)buf, len, 1);
	ret = tls_ready(c, "TLS write");
	if (ret != SL_OK)
		return ret;
	ret = SSL_write_ex(c->ssl, buf, len, &put);
	if (ret == 1)
		return (ssize_t)put;
	rc = tls_fail(c, ret, "TLS write");
	/* conn.h promises only SL_EAGAIN or SL_EIO from a write. */
	return rc == SL_EAGAIN ? SL_EAGAIN : SL_EIO;
}

int
conn_flush(struct conn *c)
{
	BIO *w;

	c->want = 0;
	if (conn_unflushed(c) == 0)
		return SL_OK;
	if (c->failed)
		return SL_EIO;
	w = SSL_get_wbio(c->ssl);
	errno = 0;
	if (BIO_flush(w) == 1)
		return SL_OK;
	if (BIO_should_retry(w)) {
		c->want = CONN_WANT_WRITE;
		return SL_EAGAIN;
	}
	c->failed = 1;
	snprintf(c->err, sizeof(c->err), "write to %s: %s", c->peer,
	    errno ? strerror(errno) : "TLS output could not be flushed");
	return SL_EIO;
}

size_t
conn_unflushed(const struct conn *c)
{
	long n;

	if (c->ssl == NULL || !c->handshake_done)
		return 0;
	n = BIO_wpending(SSL_get_wbio(c->ssl));
	return n > 0 ? (size_t)n : 0;
}

int
conn_want(const struct conn *c)
{
	return c->want;
}

size_t
conn_pending(const struct conn *c)
{
	int n;

	if (c->ssl == NULL)
		return 0;
	n = SSL_pending(c->ssl);
	if (n > 0)
		return (size_t)n;
	/* With read-ahead, whole records may wait in OpenSSL's buffer, not
	 * yet decrypted (SSL_pending says 0) and no longer in the socket (no
	 * EV_READ will come): they still must be read. */
	return SSL_has_pending(c->ssl) ? 1 : 0;
}

const char *
conn_error(const struct conn *c)
{
	return c->err;
}

const char *
conn_peer_cn(const struct conn *c)
{
	return c->cn;
}
