// links: agent/libnet.a agent/libstore.a agent/libbase.a
/*
 * test_conn.c: conn (plain and TLS 1.3 mutual auth), net and digest.
 * Certificates are made at run time by scripts/mkcerts.sh into a temporary
 * directory; sockets use 127.0.0.1 with ephemeral ports only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "sluice.h"
#include "conn.h"
#include "net.h"
#include "digest.h"

static char certdir[64];

static void
cpath(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", certdir, name);
}

static int
setup_certs(void **state)
{
	const char *scripts[] = { "scripts/mkcerts.sh", "../../scripts/mkcerts.sh" };
	char cmd[512];
	size_t i;

	snprintf(certdir, sizeof(certdir), "/tmp/sluice-test-conn.XXXXXX");
	if (mkdtemp(certdir) == NULL)
		return -1;
	for (i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
		if (access(scripts[i], R_OK) == 0) {
			snprintf(cmd, sizeof(cmd), "bash %s %s", scripts[i], certdir);
			return system(cmd) == 0 ? 0 : -1;
		}
	}
	fprintf(stderr, "mkcerts.sh not found (run from the repo root)\n");
	return -1;
}

static int
teardown_certs(void **state)
{
	char cmd[256];

	if (certdir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certdir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

static struct tls_ctx *
mkctx(int server, const char *ca, const char *cert, const char *key)
{
	char a[128], b[128], k[128], err[256];
	struct tls_ctx *t = NULL;
	int rc;

	cpath(a, sizeof(a), ca);
	cpath(b, sizeof(b), cert);
	cpath(k, sizeof(k), key);
	rc = tls_ctx_new(&t, server, a, b, k, err, sizeof(err));
	if (rc != SL_OK)
		fprintf(stderr, "tls_ctx_new: %s\n", err);
	assert_int_equal(rc, SL_OK);
	assert_non_null(t);
	return t;
}

/* A connected loopback TCP pair: *sfd accepted, *cfd connected. */
static void
tcp_pair(int *sfd, int *cfd)
{
	struct net_addr la, ca;
	struct sockaddr_in *sin;
	struct pollfd pfd;
	char err[256];
	int lfd, rc, i;

	memset(&la, 0, sizeof(la));
	sin = (struct sockaddr_in *)&la.ss;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin->sin_port = 0;
	la.len = sizeof(*sin);
	snprintf(la.text, sizeof(la.text), "127.0.0.1:0");
	rc = net_listen(&la, 16, &lfd, err, sizeof(err));
	assert_int_equal(rc, SL_OK);

	ca = la;
	ca.len = sizeof(ca.ss);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&ca.ss, &ca.len), 0);
	snprintf(ca.text, sizeof(ca.text), "127.0.0.1:%u",
	    ntohs(((struct sockaddr_in *)&ca.ss)->sin_port));
	rc = net_connect(&ca, cfd, err, sizeof(err));
	assert_int_equal(rc, SL_OK);

	for (i = 0; i < 100; i++) {
		rc = net_accept(lfd, sfd, NULL);
		if (rc != SL_EAGAIN)
			break;
		pfd.fd = lfd;
		pfd.events = POLLIN;
		(void)poll(&pfd, 1, 50);
	}
	assert_int_equal(rc, SL_OK);
	pfd.fd = *cfd;
	pfd.events = POLLOUT;
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	assert_int_equal(net_connect_result(*cfd, err, sizeof(err)), SL_OK);
	close(lfd);
	net_tune(*sfd, 0);
	net_tune(*cfd, 256 * 1024);
}

static short
want_events(struct conn *c)
{
	short ev = 0;

	if (conn_want(c) & CONN_WANT_READ)
		ev |= POLLIN;
	if (conn_want(c) & CONN_WANT_WRITE)
		ev |= POLLOUT;
	return ev;
}

/* Drive both handshakes until neither says SL_EAGAIN (or ~5 s pass). */
static void
pump_handshake(struct conn *s, struct conn *c, int *rcs, int *rcc)
{
	struct pollfd pfd[2];
	int i, n;

	*rcs = *rcc = SL_EAGAIN;
	for (i = 0; i < 500; i++) {
		if (*rcs == SL_EAGAIN)
			*rcs = conn_handshake(s);
		if (*rcc == SL_EAGAIN)
			*rcc = conn_handshake(c);
		if (*rcs != SL_EAGAIN && *rcc != SL_EAGAIN)
			return;
		n = 0;
		if (*rcs == SL_EAGAIN) {
			pfd[n].fd = conn_fd(s);
			pfd[n++].events = want_events(s);
		}
		if (*rcc == SL_EAGAIN) {
			pfd[n].fd = conn_fd(c);
			pfd[n++].events = want_events(c);
		}
		(void)poll(pfd, (nfds_t)n, 10);
	}
}

/* Exchange len bytes each way between a and b through conn_read/write. */
static void
exchange(struct conn *a, struct conn *b, size_t len)
{
	struct conn *cs[2] = { a, b };
	uint8_t *out[2], *in[2], buf[65536];
	size_t sent[2] = { 0, 0 }, got[2] = { 0, 0 }, j, w;
	struct pollfd pfd[2];
	ssize_t n;
	int i, iter, k;

	for (i = 0; i < 2; i++) {
		out[i] = malloc(len);
		in[i] = malloc(len);
		assert_non_null(out[i]);
		assert_non_null(in[i]);
		for (j = 0; j < len; j++)
			out[i][j] = (uint8_t)((j * 7 + (size_t)i * 13 + (j >> 12)) & 0xff);
	}
	for (iter = 0; iter < 100000; iter++) {
		if (got[0] == len && got[1] == len && sent[0] == len &&
		    sent[1] == len)
			break;
		for (i = 0; i < 2; i++) {
			short ev = 0;

			if (sent[i] < len) {
				w = len - sent[i];
				if (w > sizeof(buf))
					w = sizeof(buf);
				n = conn_write(cs[i], out[i] + sent[i], w);
				if (n == SL_EAGAIN)
					ev |= want_events(cs[i]);
				else {
					if (n <= 0)
						fail_msg("write: %s", conn_error(cs[i]));
					sent[i] += (size_t)n;
				}
			} else if (conn_unflushed(cs[i]) > 0) {	/* TLS gathered */
				n = conn_flush(cs[i]);
				if (n == SL_EAGAIN)
					ev |= want_events(cs[i]);
				else if (n != SL_OK)
					fail_msg("flush: %s", conn_error(cs[i]));
			}
			/* conn i reads what the other side sent */
			for (k = 0; k < 64; k++) {
				n = conn_read(cs[i], buf, sizeof(buf));
				if (n == SL_EAGAIN) {
					ev |= want_events(cs[i]);
					break;
				}
				if (n <= 0)
					fail_msg("read: %zd %s", n, conn_error(cs[i]));
				assert_true(got[i] + (size_t)n <= len);
				memcpy(in[i] + got[i], buf, (size_t)n);
				got[i] += (size_t)n;
			}
			pfd[i].fd = conn_fd(cs[i]);
			pfd[i].events = ev;
		}
		(void)poll(pfd, 2, 20);
	}
	assert_int_equal(got[0], len);
	assert_int_equal(got[1], len);
	assert_memory_equal(in[0], out[1], len);
	assert_memory_equal(in[1], out[0], len);
	for (i = 0; i < 2; i++) {
		free(out[i]);
		free(in[i]);
	}
}

static void
test_plain_socketpair(void **state)
{
	struct conn *a = NULL, *b = NULL;
	int sv[2];
	char buf[16];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(conn_new(&a, sv[0], NULL, 1, NULL), SL_OK);
	assert_int_equal(conn_new(&b, sv[1], NULL, 0, NULL), SL_OK);
	assert_int_equal(conn_is_tls(a), 0);
	assert_int_equal(conn_handshake(a), SL_OK);
	assert_int_equal(conn_handshake(b), SL_OK);
	assert_string_equal(conn_peer_cn(a), "");
	assert_int_equal(conn_pending(a), 0);

	assert_int_equal(conn_read(b, buf, sizeof(buf)), SL_EAGAIN);
	assert_int_equal(conn_want(b), CONN_WANT_READ);
	assert_int_equal(conn_write(a, "hello", 5), 5);
	assert_int_equal(conn_read(b, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(conn_write(b, "world!", 6), 6);
	assert_int_equal(conn_read(a, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "world!", 6);

	exchange(a, b, 1 << 20);

	conn_free(a);
	assert_int_equal(conn_read(b, buf, sizeof(buf)), 0);	/* EOF */
	assert_true(conn_write(b, "x", 1) == SL_EIO);		/* EPIPE, no signal */
	assert_string_not_equal(conn_error(b), "");
	conn_free(b);
	conn_free(NULL);
}

static void
test_tls_ctx_errors(void **state)
{
	struct tls_ctx *t = NULL;
	char ca[128], cert[128], key[128], err[256];

	cpath(ca, sizeof(ca), "ca.pem");
	cpath(cert, sizeof(cert), "agent.pem");
	cpath(key, sizeof(key), "sink.key");
	assert_int_equal(tls_ctx_new(&t, 0, "/nonexistent/ca.pem", cert, key,
	    err, sizeof(err)), SL_EINVAL);
	assert_null(t);
	assert_non_null(strstr(err, "/nonexistent/ca.pem"));
	/* key of another certificate */
	assert_int_equal(tls_ctx_new(&t, 0, ca, cert, key, err, sizeof(err)),
	    SL_EINVAL);
	assert_null(t);
	assert_non_null(strstr(err, key));
	tls_ctx_free(NULL);
}

static void
tls_pair(struct tls_ctx *sctx, struct tls_ctx *cctx, const char *peer_name,
    struct conn **s, struct conn **c)
{
	int sfd, cfd;

	tcp_pair(&sfd, &cfd);
	assert_int_equal(conn_new(s, sfd, sctx, 1, NULL), SL_OK);
	assert_int_equal(conn_new(c, cfd, cctx, 0, peer_name), SL_OK);
	assert_int_equal(conn_is_tls(*s), 1);
}

static void
tls_ok(const char *peer_name, size_t bytes)
{
	struct tls_ctx *sctx, *cctx;
	struct conn *s = NULL, *c = NULL;
	int rcs, rcc;

	sctx = mkctx(1, "ca.pem", "sink.pem", "sink.key");
	cctx = mkctx(0, "ca.pem", "agent.pem", "agent.key");
	tls_pair(sctx, cctx, peer_name, &s, &c);
	pump_handshake(s, c, &rcs, &rcc);
	if (rcs != SL_OK || rcc != SL_OK)
		fail_msg("handshake: server %d '%s', client %d '%s'", rcs,
		    conn_error(s), rcc, conn_error(c));
	assert_string_equal(conn_peer_cn(s), "sluice-agent");
	assert_string_equal(conn_peer_cn(c), "sluice-sink");
	exchange(s, c, bytes);
	conn_free(c);
	conn_free(s);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
}

static void
test_tls_ip_1mib(void **state)
{
	tls_ok("127.0.0.1", 1 << 20);
}

static void
test_tls_dns_name(void **state)
{
	tls_ok("localhost", 4096);
}

/* TLS output is gathered (many 16 KiB records per write(2)) and reaches
 * the peer at conn_flush, not before. */
static void
test_tls_gather(void **state)
{
	struct tls_ctx *sctx, *cctx;
	struct conn *s = NULL, *c = NULL;
	struct pollfd pfd;
	static uint8_t big[128 * 1024], got[sizeof(big)];
	size_t off = 0, n0;
	ssize_t n;
	int rcs, rcc, i;

	sctx = mkctx(1, "ca.pem", "sink.pem", "sink.key");
	cctx = mkctx(0, "ca.pem", "agent.pem", "agent.key");
	tls_pair(sctx, cctx, "127.0.0.1", &s, &c);
	pump_handshake(s, c, &rcs, &rcc);
	assert_int_equal(rcs, SL_OK);
	assert_int_equal(rcc, SL_OK);
	assert_int_equal(conn_unflushed(c), 0);
	assert_int_equal(conn_write(c, "hello", 5), 5);
	n0 = conn_unflushed(c);
	assert_true(n0 > 5);			/* one record, held */
	pfd.fd = conn_fd(s);
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 50), 0);	/* nothing on the wire */
	assert_int_equal(conn_flush(c), SL_OK);
	assert_int_equal(conn_unflushed(c), 0);
	for (i = 0; i < 100 && (n = conn_read(s, got, 5)) == SL_EAGAIN; i++)
		(void)poll(&pfd, 1, 10);
	assert_int_equal(n, 5);
	assert_memory_equal(got, "hello", 5);
	/* eight records gather in one buffer */
	for (off = 0; off < sizeof(big); off++)
		big[off] = (uint8_t)(off * 31);
	for (off = 0; off < sizeof(big); off += (size_t)n) {
		n = conn_write(c, big + off, sizeof(big) - off);
		assert_true(n > 0);
	}
	assert_true(conn_unflushed(c) >= sizeof(big));
	assert_int_equal(conn_flush(c), SL_OK);
	for (off = 0, i = 0; off < sizeof(big) && i < 1000; i++) {
		n = conn_read(s, got + off, sizeof(got) - off);
		if (n == SL_EAGAIN)
			(void)poll(&pfd, 1, 10);
		else {
			assert_true(n > 0);
			off += (size_t)n;
		}
	}
	assert_int_equal(off, sizeof(big));
	assert_memory_equal(got, big, sizeof(big));
	conn_free(c);
	conn_free(s);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
}

/* After the client's TLS 1.3 handshake has finished, the server may still
 * refuse its certificate: the client sees that on its next read. */
static void
expect_client_fails(struct conn *c, int rcc)
{
	struct pollfd pfd;
	char buf[64];
	ssize_t n = SL_EAGAIN;
	int i;

	if (rcc != SL_OK) {
		assert_true(rcc < 0 && rcc != SL_EAGAIN);
		return;
	}
	for (i = 0; i < 200 && n == SL_EAGAIN; i++) {
		n = conn_read(c, buf, sizeof(buf));
		if (n == SL_EAGAIN) {
			pfd.fd = conn_fd(c);
			pfd.events = want_events(c);
			(void)poll(&pfd, 1, 10);
		}
	}
	assert_true(n <= 0 && n != SL_EAGAIN);
	assert_string_not_equal(conn_error(c), "");
	print_message("client: %s\n", conn_error(c));
}

static void
test_tls_wrong_ca_agent(void **state)
{
	struct tls_ctx *sctx, *cctx;
	struct conn *s = NULL, *c = NULL;
	int rcs, rcc;

	sctx = mkctx(1, "ca.pem", "sink.pem", "sink.key");
	cctx = mkctx(0, "ca.pem", "other-agent.pem", "other-agent.key");
	tls_pair(sctx, cctx, "127.0.0.1", &s, &c);
	pump_handshake(s, c, &rcs, &rcc);
	assert_int_equal(rcs, SL_EAUTH);
	print_message("server: %s\n", conn_error(s));
	assert_non_null(strstr(conn_error(s), "certificate verify failed: "
	    "unable to get local issuer certificate"));
	assert_string_equal(conn_peer_cn(s), "");
	expect_client_fails(c, rcc);
	conn_free(c);
	conn_free(s);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
}

static void
test_tls_wrong_ip(void **state)
{
	struct tls_ctx *sctx, *cctx;
	struct conn *s = NULL, *c = NULL;
	int rcs, rcc;

	sctx = mkctx(1, "ca.pem", "sink.pem", "sink.key");
	cctx = mkctx(0, "ca.pem", "agent.pem", "agent.key");
	tls_pair(sctx, cctx, "10.9.9.9", &s, &c);
	pump_handshake(s, c, &rcs, &rcc);
	assert_int_equal(rcc, SL_EAUTH);
	print_message("client: %s\n", conn_error(c));
	assert_non_null(strstr(conn_error(c), "certificate verify failed"));
	assert_true(rcs < 0 && rcs != SL_EAGAIN);
	print_message("server: %s\n", conn_error(s));
	conn_free(c);
	conn_free(s);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
}

static void
test_tls_server_untrusted(void **state)
{
	struct tls_ctx *sctx, *cctx;
	struct conn *s = NULL, *c = NULL;
	int rcs, rcc;

	/* the agent trusts only the other CA: the sink's chain is refused */
	sctx = mkctx(1, "ca.pem", "sink.pem", "sink.key");
	cctx = mkctx(0, "other-ca.pem", "other-agent.pem", "other-agent.key");
	tls_pair(sctx, cctx, "localhost", &s, &c);
	pump_handshake(s, c, &rcs, &rcc);
	assert_int_equal(rcc, SL_EAUTH);
	assert_true(rcs < 0 && rcs != SL_EAGAIN);
	conn_free(c);
	conn_free(s);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
}

static void
test_sha256(void **state)
{
	struct sha256 *s;
	uint8_t out[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];

	s = sha256_new();
	assert_non_null(s);
	sha256_update(s, "a", 1);
	sha256_update(s, "", 0);
	sha256_update(s, "bc", 2);
	sha256_final(s, out);
	digest_hex(out, sizeof(out), hex);
	assert_string_equal(hex,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

	s = sha256_new();
	sha256_final(s, out);
	digest_hex(out, sizeof(out), hex);
	assert_string_equal(hex,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void
test_hmac(void **state)
{
	static const char *data = "what do ya want for nothing?";
	uint8_t out[SHA256_LEN], out2[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];

	assert_int_equal(hmac_sha256("Jefe", 4, data, strlen(data), out), 0);
	digest_hex(out, sizeof(out), hex);
	assert_string_equal(hex,
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	assert_int_equal(hmac_sha256("Jefe", 4, data, strlen(data), out2), 0);
	assert_true(digest_equal(out, out2, SHA256_LEN));
	out2[31] ^= 1;
	assert_false(digest_equal(out, out2, SHA256_LEN));
	/* empty key and message are legal */
	assert_int_equal(hmac_sha256("", 0, "", 0, out), 0);
	digest_hex(out, sizeof(out), hex);
	assert_string_equal(hex,
	    "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void
test_random_hex(void **state)
{
	uint8_t a[32], b[32];
	char hex[5];
	static const uint8_t v[2] = { 0x0f, 0xa0 };

	assert_int_equal(digest_random(a, sizeof(a)), 0);
	assert_int_equal(digest_random(b, sizeof(b)), 0);
	assert_false(digest_equal(a, b, sizeof(a)));
	digest_hex(v, 2, hex);
	assert_string_equal(hex, "0fa0");
}

static void
test_net_resolve(void **state)
{
	static const char *bad[] = { "nohostport", "1.2.3.4:0", "1.2.3.4:99999",
	    "1.2.3.4:", ":80", "::1:22", "[::1]22", "[::1", "1.2.3.4:8x",
	    "1.2.3.4:-1", "no.such.host.invalid:80", "" };
	struct net_addr a;
	char err[256];
	size_t i;

	assert_int_equal(net_resolve("127.0.0.1:4000", &a, err, sizeof(err)), SL_OK);
	assert_int_equal(a.ss.ss_family, AF_INET);
	assert_string_equal(a.text, "127.0.0.1:4000");
	assert_int_equal(a.len, sizeof(struct sockaddr_in));

	assert_int_equal(net_resolve("[::1]:22", &a, err, sizeof(err)), SL_OK);
	assert_int_equal(a.ss.ss_family, AF_INET6);
	assert_string_equal(a.text, "[::1]:22");

	assert_int_equal(net_resolve("localhost:80", &a, err, sizeof(err)), SL_OK);
	assert_true(strcmp(a.text, "127.0.0.1:80") == 0 ||
	    strcmp(a.text, "[::1]:80") == 0);

	assert_int_equal(net_resolve("1.2.3.4:65535", &a, err, sizeof(err)), SL_OK);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (net_resolve(bad[i], &a, err, sizeof(err)) != SL_EINVAL)
			fail_msg("net_resolve(\"%s\") accepted", bad[i]);
		assert_string_not_equal(err, "");
		if (strstr(err, bad[i]) == NULL)
			fail_msg("error for \"%s\" does not name it: %s", bad[i], err);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_socketpair),
		cmocka_unit_test(test_tls_ctx_errors),
		cmocka_unit_test(test_tls_ip_1mib),
		cmocka_unit_test(test_tls_dns_name),
		cmocka_unit_test(test_tls_gather),
		cmocka_unit_test(test_tls_wrong_ca_agent),
		cmocka_unit_test(test_tls_wrong_ip),
		cmocka_unit_test(test_tls_server_untrusted),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_hmac),
		cmocka_unit_test(test_random_hex),
		cmocka_unit_test(test_net_resolve),
	};

	signal(SIGPIPE, SIG_IGN);	/* as the daemon does */
	return cmocka_run_group_tests_name("conn", tests, setup_certs,
	    teardown_certs);
}
