/*
 * mkcorpus.c: writes the seed corpora in tests/fuzz/corpus/<target>/.
 *
 *	cc -Iinclude -o mkcorpus tests/fuzz/mkcorpus.c libsluiceproto.a
 *	./mkcorpus tests/fuzz/corpus
 *
 * fuzz_wire seeds are real frames from the real encoders (header
 * stripped, the selector byte of fuzz_wire.c in front); the others are a
 * handful of small valid and near-valid inputs.  The files are committed;
 * `make fuzz-corpus` regenerates them.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"
#include "wire.h"

static const char *outdir;

static void
put(const char *target, const char *name, const void *p, size_t n)
{
	char	 path[1024];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	if (mkdir(path, 0755) == -1 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	fp = fopen(path, "wb");
	if (fp == NULL || fwrite(p, 1, n, fp) != n || fclose(fp) != 0) {
		perror(path);
		exit(1);
	}
}

static void
puts_(const char *target, const char *name, const char *s)
{
	put(target, name, s, strlen(s));
}

/* fuzz_wire's input: selector byte (index into its table), then payload. */
static void
put_frame(const char *name, uint8_t sel, struct wbuf *b, int rc)
{
	uint8_t	*p;

	if (rc != SL_OK || b->len < WIRE_HDR_LEN) {
		fprintf(stderr, "mkcorpus: %s: encoder failed (%d)\n", name, rc);
		exit(1);
	}
	p = malloc(b->len - WIRE_HDR_LEN + 1);
	if (p == NULL)
		exit(1);
	p[0] = sel;
	memcpy(p + 1, b->p + WIRE_HDR_LEN, b->len - WIRE_HDR_LEN);
	put("fuzz_wire", name, p, b->len - WIRE_HDR_LEN + 1);
	free(p);
	wbuf_reset(b);
}

static void
wire_seeds(void)
{
	struct wbuf		b;
	uint8_t			nonce[WIRE_NONCE_LEN], bitmap[3] = { 0xff, 0x0f, 0x01 };
	uint8_t			digests[2 * WIRE_DIGEST_LEN], bytes[100];
	struct wire_meta	meta[2] = {
		{ { "site", 4 }, { "lab-1", 5 } }, { { "run", 3 }, { "", 0 } } };
	struct wire_file	files[3] = {
		{ { "a.dat", 5 }, 100000, 0644 },
		{ { "sub/dir/b.bin", 13 }, 0, 0600 },
		{ { "\xc3\xa9t\xc3\xa9/c", 7 }, 70000, 0755 } };
	struct wire_ack_ent	ents[3] = { { 0, 0 }, { 0, 1 }, { 2, 0 } };
	struct wire_str		argv[2] = { { "ds-1", 4 }, { "--all", 5 } };

	memset(nonce, 0xa5, sizeof(nonce));
	memset(digests, 0x5a, sizeof(digests));
	memset(bytes, 'x', sizeof(bytes));
	wbuf_init(&b, 0);
	put_frame("challenge", 0, &b, wire_challenge_encode(&b, &(struct wire_challenge){
	    1, 1, { 0 }, { "sink-1", 6 } }));
	{
		struct wire_hello h = { 1, 0, 4, { "agent-1", 7 }, 0, { 0 } };
		put_frame("hello", 1, &b, wire_hello_encode(&b, &h));
		h.maclen = WIRE_MAC_LEN;
		memcpy(h.mac, nonce, WIRE_MAC_LEN);
		h.stream = 3;
		put_frame("hello_mac", 1, &b, wire_hello_encode(&b, &h));
	}
	put_frame("welcome", 2, &b, wire_welcome_encode(&b, &(struct wire_welcome){
	    1, { "sink-1", 6 } }));
	put_frame("open", 3, &b, wire_open_encode(&b, &(struct wire_open){
	    42, { "dataset-1", 9 }, SL_MIN_CHUNK, 170000, 2, meta, 3, files }));
	put_frame("open_empty", 3, &b, wire_open_encode(&b, &(struct wire_open){
	    7, { "e", 1 }, SL_DEFAULT_CHUNK, 0, 0, NULL, 0, NULL }));
	put_frame("have", 4, &b, wire_have_encode(&b, &(struct wire_have){
	    42, WIRE_HAVE_RECEIVING, 17, bitmap }));
	put_frame("have_published", 4, &b, wire_have_encode(&b, &(struct wire_have){
	    42, WIRE_HAVE_PUBLISHED, 0, NULL }));
	put_frame("data", 5, &b, wire_data_encode(&b, &(struct wire_data){
	    42, 0, 1, 0x1122334455667788ull, sizeof(bytes), bytes }));
	put_frame("ack", 6, &b, wire_ack_encode(&b, &(struct wire_ack){ 42, 3, ents }));
	put_frame("nack", 7, &b, wire_nack_encode(&b, &(struct wire_nack){
	    42, 0, 1, (uint16_t)-SL_ECORRUPT, { "checksum mismatch", 17 } }));
	put_frame("commit", 8, &b, wire_commit_encode(&b, &(struct wire_commit){
	    42, 2, digests }));
	put_frame("committed", 9, &b, wire_committed_encode(&b, &(struct wire_committed){
	    42, { "dataset-1", 9 } }));
	put_frame("error", 10, &b, wire_error_encode(&b, &(struct wire_error){
	    0, (uint16_t)-SL_EAUTH, { "bad mac", 7 } }));
	put_frame("ctl_req", 11, &b, wire_ctl_req_encode(&b, &(struct wire_ctl_req){
	    { "status", 6 }, 2, argv }));
	put_frame("ctl_reply", 12, &b, wire_ctl_reply_encode(&b, &(struct wire_ctl_reply){
	    SL_OK, { "ok\n", 3 } }));
	/* a whole frame with its header, for wire_hdr_decode */
	wire_error_encode(&b, &(struct wire_error){ 1, 2, { "m", 1 } });
	put("fuzz_wire", "raw_frame", b.p, b.len);
	wbuf_free(&b);
}

static void
other_seeds(void)
{
	static const char sha[] =
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	static const char xxh[] = "99aa06d3014798d86001c324468d497f";
	char	buf[1024];

	puts_("fuzz_pathchk", "file", "a.dat");
	puts_("fuzz_pathchk", "deep", "sub/dir/b.bin");
	puts_("fuzz_pathchk", "utf8", "\xc3\xa9t\xc3\xa9/\xf0\x9f\x98\x80");
	puts_("fuzz_pathchk", "dotdot", "a/../b");
	puts_("fuzz_pathchk", "abs", "/etc/passwd");
	puts_("fuzz_pathchk", "dotfile", ".hidden/x");
	put("fuzz_pathchk", "nul", "a\0b", 3);
	/* every byte but '/' and NUL is a name byte (tab, newline, CR, a
	 * backslash, bytes that are not UTF-8) */
	puts_("fuzz_pathchk", "ctrl", "new\nline/tab\tand\rcr\x01");
	puts_("fuzz_pathchk", "latin1", "donn\xe9" "es/\xff\xfe-dash \"q\" 'q' back\\slash");

	snprintf(buf, sizeof(buf), "# sluice manifest v1\n# dataset=d id=000000000000002a "
	    "files=2 bytes=0 chunk_size=65536\n# size\tsha256\txxh3-128\tpath\n"
	    "# meta site=lab\\=1\n0\t%s\t%s\ta.dat\n0\t%s\t%s\tsub/b c\n", sha, xxh,
	    sha, xxh);
	puts_("fuzz_manifest", "manifest", buf);
	snprintf(buf, sizeof(buf), "123\t%s\t%s\tx\ty\n", sha, xxh);
	puts_("fuzz_manifest", "tab_in_path", buf);
	snprintf(buf, sizeof(buf), "1\t%s\t%s\t\n", sha, xxh);
	puts_("fuzz_manifest", "empty_path", buf);
	puts_("fuzz_manifest", "short", "1\tab\tcd\tp\n");
	/* the default sink (sha256 = off) writes "-" in the SHA-256 column */
	snprintf(buf, sizeof(buf), "7\t-\t%s\ta.dat\n", xxh);
	puts_("fuzz_manifest", "sha256_dash", buf);
	/* a path with a newline, a CR or a backslash: escaped, the line led
	 * by a backslash (as sha256sum and xxhsum >= 0.8.2 write it); a tab
	 * and bytes that are not UTF-8 stay as they are */
	snprintf(buf, sizeof(buf), "\\5\t-\t%s\tnew\\nline\n"
	    "\\3\t%s\t%s\tback\\\\slash\\r\n"
	    "1\t-\t%s\ttab\there\xff\xfe\n"
	    "2\t-\t%s\traw\\backslash-old-form\n", xxh, sha, xxh, xxh, xxh);
	puts_("fuzz_manifest", "escaped", buf);
	snprintf(buf, sizeof(buf), "\\5\t-\t%s\tbad\\tescape\n\\5\t-\t%s\ttrailing\\\n",
	    xxh, xxh);
	puts_("fuzz_manifest", "bad_escape", buf);

	puts_("fuzz_config", "sink",
	    "[daemon]\nrole = sink\njournal = /tmp/j\nlog_level = info\n"
	    "[tls]\nmode = off\nsecret_file = /nonexistent/secret\n"
	    "[sink]\nlisten = 127.0.0.1:4433\nroot = /tmp\nmax_connections = 8\n"
	    "idle_timeout = 2m\n");
	puts_("fuzz_config", "agent",
	    "; agent\n[daemon]\nrole = agent\nid = a1\njournal = /tmp/j\n"
	    "metrics = 127.0.0.1:9100\n[tls]\nca = /x/ca.pem\ncert = /x/c.pem\nkey = /x/k\n"
	    "[agent]\ndestination = 127.0.0.1:4433, [::1]:4434\nstreams = 4\n"
	    "chunk_size = 8M\nwindow = 4\nreconnect_min = 500ms\nreconnect_max = 30s\n"
	    "maintenance = 127.0.0.1:4433 2024-01-01T00:00:00Z 2024-01-02T00:00:00Z\n"
	    "retention = move\nretention_dir = /tmp/done\n"
	    "[ingest]\nspool = /tmp/a,/tmp/b\nquiet = 1h\n"
	    "[hook]\nkind = ssh\nhost = h\nuser = u\nkey = /k\nknown_hosts = /kh\n"
	    "command = run {dataset} {meta.site}\n");
	puts_("fuzz_config", "bad", "\xEF\xBB\xBF[daemon]\nrole = both\nbogus\n[nope]\nx=1\n");
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkcorpus OUTDIR\n");
		return 2;
	}
	outdir = argv[1];
	if (mkdir(outdir, 0755) == -1 && errno != EEXIST) {
		perror(outdir);
		return 1;
	}
	wire_seeds();
	other_seeds();
	return 0;
}
