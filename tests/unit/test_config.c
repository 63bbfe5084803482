// links: agent/libbase.a
/*
 * test_config.c: config_load() on good and bad files written to a mkdtemp
 * directory; the size and duration parsers; log_q() quoting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "sluice.h"

#define UNUSED	__attribute__((unused))

static char	dir[64];		/* the temp directory */
static char	cfgpath[128];		/* dir/t.conf */
static char	errbuf[8192];
static struct config cfg;

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE	*f;

	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* "%s" in the text is the temp directory (up to six times). */
static int
load(const char *fmt)
{
	char	 text[8192];

	snprintf(text, sizeof(text), fmt, dir, dir, dir, dir, dir, dir);
	write_file(cfgpath, text, 0600);
	return config_load(&cfg, cfgpath, errbuf, sizeof(errbuf));
}

#define TLS_ON	"[tls]\nca = %s/ca.pem\ncert = %s/agent.pem\nkey = %s/agent.key\n"
#define AGENT	"[daemon]\nrole = agent\njournal = %s/journal\n" TLS_ON \
		"[agent]\ndestination = dtn01.example.org:4433\n"

static void
assert_err(const char *needle)
{
	if (strstr(errbuf, needle) == NULL)
		fail_msg("\"%s\" not in errors:\n%s", needle, errbuf);
}

static int
setup(void **state UNUSED)
{
	char	 p[256];

	snprintf(dir, sizeof(dir), "/tmp/sl-cfg-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(cfgpath, sizeof(cfgpath), "%s/t.conf", dir);
	snprintf(p, sizeof(p), "%s/ca.pem", dir);
	write_file(p, "ca\n", 0644);
	snprintf(p, sizeof(p), "%s/agent.pem", dir);
	write_file(p, "cert\n", 0644);
	snprintf(p, sizeof(p), "%s/agent.key", dir);
	write_file(p, "key\n", 0600);
	snprintf(p, sizeof(p), "%s/secret", dir);
	write_file(p, "0123456789abcdef0123\n", 0600);
	snprintf(p, sizeof(p), "%s/journal", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/incoming", dir);
	mkdir(p, 0700);
	return 0;
}

static int
teardown(void **state UNUSED)
{
	char	 cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_agent_defaults(void **state UNUSED)
{
	char	 want[256];

	assert_int_equal(load(AGENT), 0);
	assert_string_equal(errbuf, "");
	assert_int_equal(cfg.role, ROLE_AGENT);
	assert_int_equal(cfg.tls, 1);
	assert_int_equal(cfg.streams, 4);
	assert_int_equal(cfg.chunk_size, 8u * 1024 * 1024);
	assert_int_equal(cfg.window, 4);
	assert_int_equal(cfg.sndbuf, 0);
	assert_int_equal(cfg.log_level, LOG_INFO);
	assert_true(cfg.reconnect_min == 0.5);
	assert_true(cfg.reconnect_max == 30);
	assert_string_equal(cfg.server_name, "dtn01.example.org");
	assert_string_equal(cfg.path, cfgpath);
	snprintf(want, sizeof(want), "%s/journal/control.sock", dir);
	assert_string_equal(cfg.control, want);
	assert_true(cfg.id[0] != '\0');
}

/* [job]: route job needs a listener, a receiver CN, a template and
 * [hook]'s connection; its TLS files default to [tls]'s. */
static void
test_job(void **state UNUSED)
{
	char	 want[256];

	assert_int_equal(load(AGENT "[hook]\nkind = exec\n[job]\npull_listen = "
	    "127.0.0.1:4500\npeer_cn = sluice-job\nsubmit = sbatch --parsable x.sh {id}\n"), 0);
	assert_string_equal(errbuf, "");
	assert_string_equal(cfg.job_listen, "127.0.0.1:4500");
	snprintf(want, sizeof(want), "%s/ca.pem", dir);
	assert_string_equal(cfg.job_ca, want);
	snprintf(want, sizeof(want), "%s/agent.key", dir);
	assert_string_equal(cfg.job_key, want);
	assert_true(cfg.job_poll == 30);
	assert_int_equal(cfg.job_resubmit, 2);
	assert_true(cfg.job_pull_timeout == 600);
	/* [hook] without a command is fine for [job] alone */
	assert_string_equal(cfg.hook_command, "");

	assert_int_not_equal(load(AGENT "[job]\npull_listen = nowhere\n"), 0);
	assert_err("[job] pull_listen");
	assert_err("[job] peer_cn: missing");
	assert_err("[job] submit: missing");
	assert_err("set [hook] kind = ssh");
	assert_int_not_equal(load(AGENT "[job]\nsubmit = sbatch x\n"), 0);
	assert_err("set but pull_listen is not");
	assert_int_not_equal(load(AGENT "[hook]\nkind = exec\n[job]\npull_listen = "
	    "127.0.0.1:4500\npeer_cn = x\nsubmit = y\ncert = %s/nope.pem\n"), 0);
	assert_err("nope.pem");
	assert_int_not_equal(load("[daemon]\nrole = sink\njournal = %s/journal\n"
	    "[tls]\nmode = off\nsecret_file = %s/secret\n[sink]\nlisten = "
	    "127.0.0.1:1\nroot = %s/incoming\n[job]\npull_listen = 127.0.0.1:2\n"), 0);
	assert_err("section [job] is for role agent");
}

static void
test_sink_defaults(void **state UNUSED)
{
	assert_int_equal(load("[daemon]\nrole = sink\njournal = %s/journal\n"
	    "id = dtn01\n[tls]\nmode = off\nsecret_file = %s/secret\n"
	    "[sink]\nlisten = [::]:4433\nroot = %s/incoming\n"), 0);
	assert_int_equal(cfg.role, ROLE_SINK);
	assert_int_equal(cfg.tls, 0);
	assert_int_equal(cfg.max_connections, 256);
	assert_true(cfg.idle_timeout == 120);
	assert_string_equal(cfg.id, "dtn01");
	assert_int_equal(cfg.secret_len, 20);
	assert_memory_equal(cfg.secret, "0123456789abcdef0123", 20);
}

static void
test_values(void **state UNUSED)
{
	assert_int_equal(load(AGENT "streams = 16\nchunk_size = 64MiB\n"
	    "window = 8\nreconnect_min = 250ms\nreconnect_max = 2m\n"
	    "sndbuf = 4M\nserver_name = sink.example.org\n"
	    "; a comment\n# another\n"), 0);
	assert_int_equal(cfg.streams, 16);
	assert_int_equal(cfg.chunk_size, 64u * 1024 * 1024);
	assert_int_equal(cfg.window, 8);
	assert_true(cfg.reconnect_min == 0.25);
	assert_true(cfg.reconnect_max == 120);
	assert_int_equal(cfg.sndbuf, 4 * 1024 * 1024);
	assert_string_equal(cfg.server_name, "sink.example.org");

	assert_int_equal(load("[daemon]\nrole = agent\njournal = %s/journal\n"
	    TLS_ON "[agent]\ndestination = [2001:db8::1]:4433\n"), 0);
	assert_string_equal(cfg.server_name, "2001:db8::1");
}

/* a value longer than inih's 200-byte line buffer */
static void
test_long_value(void **state UNUSED)
{
	char	 text[2048], p[1024], want[1024];

	snprintf(p, sizeof(p), "%s/journal/%0300d", dir, 7);
	snprintf(want, sizeof(want), "%s", p);
	mkdir(p, 0700);
	snprintf(text, sizeof(text), "[daemon]\nrole = agent\njournal = %s\n"
	    "id = a ; inline comment\n"
	    TLS_ON "[agent]\ndestination = h:1\n", p, dir, dir, dir);
	write_file(cfgpath, text, 0600);
	assert_int_equal(config_load(&cfg, cfgpath, errbuf, sizeof(errbuf)),
	    SL_EINVAL);
	assert_string_equal(cfg.journal, want);
	assert_string_equal(cfg.id, "a");
	/* the default control path would not fit a unix socket */
	assert_err("[daemon] control: the default");
	assert_true(strstr(errbuf, ":4:") == NULL);
}

static void
test_samples(void **state UNUSED)
{
	const char	*samples[] = { "etc/sluice-agent.conf", "etc/sluice-sink.conf" };
	char		 text[16384], with[256], *at;
	const char	*from[] = { "/var/lib/sluice/journal",
	    "/run/sluice/sluiced.sock", "/etc/sluice/tls/", "/data/incoming" };
	const char	*to[] = { "journal", "ctl.sock", "", "incoming" };
	size_t		 i, j, n, flen, wlen;
	FILE		*f;
	char		 p[256];

	snprintf(p, sizeof(p), "%s/sink.pem", dir);
	write_file(p, "c\n", 0644);
	snprintf(p, sizeof(p), "%s/sink.key", dir);
	write_file(p, "k\n", 0600);
	for (i = 0; i < 2; i++) {
		f = fopen(samples[i], "r");
		if (f == NULL)
			fail_msg("%s: run from the top of the tree", samples[i]);
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
		text[n] = '\0';
		for (j = 0; j < 4; j++) {
			flen = strlen(from[j]);
			snprintf(with, sizeof(with), "%s/%s", dir, to[j]);
			while ((at = strstr(text, from[j])) != NULL) {
				wlen = strlen(with);
				assert_true(strlen(text) + wlen < sizeof(text));
				memmove(at + wlen, at + flen, strlen(at + flen) + 1);
				memcpy(at, with, wlen);
			}
		}
		write_file(cfgpath, text, 0600);
		if (config_load(&cfg, cfgpath, errbuf, sizeof(errbuf)) != 0)
			fail_msg("%s:\n%s", samples[i], errbuf);
		assert_int_equal(cfg.role, i == 0 ? ROLE_AGENT : ROLE_SINK);
	}
}

static void
test_unknown_key(void **state UNUSED)
{
	assert_int_equal(load("[daemon]\nrole = agent\ncolour = red\n"),
	    SL_EINVAL);
	assert_err(":3: [daemon] colour: unknown key");
}

static void
test_unknown_section(void **state UNUSED)
{
	assert_int_equal(load(AGENT "[bogus]\nx = 1\n"), SL_EINVAL);
	assert_err("t.conf:10: [bogus]: unknown section");
	assert_true(strstr(errbuf, "x:") == NULL);	/* its keys: no noise */
}

#define SINK_OFF "[daemon]\nrole = sink\njournal = %s/journal\nid = dtn01\n" \
		"[tls]\nmode = off\nsecret_file = %s/secret\n" \
		"[sink]\nlisten = [::]:4433\nroot = %s/incoming\n"

/* The shared sink's limits (sink_preauth.c, sink_limits.c): defaults,
 * octal modes, and modes that are not permission bits. */
static void
test_sink_limits(void **state UNUSED)
{
	assert_int_equal(load(SINK_OFF), 0);
	assert_true(cfg.handshake_timeout == 10);
	assert_int_equal(cfg.max_preauth, 64);
	assert_int_equal(cfg.max_datasets_per_agent, 16);
	assert_int_equal(cfg.max_files_per_dataset, 500000);
	assert_int_equal(cfg.max_memory_per_agent, 256u * 1024 * 1024);
	assert_int_equal(cfg.file_mode, 0644);
	assert_int_equal(cfg.dir_mode, 0755);
	assert_int_equal(load(SINK_OFF "file_mode = 640\ndir_mode = 0750\n"
	    "handshake_timeout = 500ms\nmax_preauth = 8\n"), 0);
	assert_int_equal(cfg.file_mode, 0640);
	assert_int_equal(cfg.dir_mode, 0750);
	assert_true(cfg.handshake_timeout == 0.5);
	assert_int_equal(cfg.max_preauth, 8);
	assert_int_equal(load(SINK_OFF "file_mode = 0648\n"), SL_EINVAL);
	assert_err("[sink] file_mode: \"0648\" is not an octal mode such as 0644");
	assert_int_equal(load(SINK_OFF "dir_mode = 4755\n"), SL_EINVAL);
	assert_err("[sink] dir_mode: 4755: only the permission bits 0..0777 are allowed");
	assert_int_equal(load(SINK_OFF "max_memory_per_agent = 512K\n"), SL_EINVAL);
	assert_err("[sink] max_memory_per_agent: 512K is out of range 1M..2G");
}

static void
test_bad_int(void **state UNUSED)
{
	assert_int_equal(load(AGENT "streams = four\n"), SL_EINVAL);
	assert_err("t.conf:10: [agent] streams: \"four\" is not an integer");
}

static void
test_out_of_range(void **state UNUSED)
{
	assert_int_equal(load(AGENT "streams = 99\n"), SL_EINVAL);
	assert_err("t.conf:10: [agent] streams: 99 is out of range 1..64");
	assert_int_equal(load(AGENT "chunk_size = 1K\n"), SL_EINVAL);
	assert_err(":10: [agent] chunk_size: 1K is out of range 64K..64M");
}

static void
test_bad_size(void **state UNUSED)
{
	assert_int_equal(load(AGENT "chunk_size = 8Q\n"), SL_EINVAL);
	assert_err(":10: [agent] chunk_size: \"8Q\" is not a size (use K, M, G)");
}

static void
test_bad_enum(void **state UNUSED)
{
	assert_int_equal(load(AGENT "[daemon]\nlog_level = loud\n"), SL_EINVAL);
	assert_err(":11: [daemon] log_level: \"loud\" is not one of "
	    "error|warn|info|debug");
}

static void
test_missing(void **state UNUSED)
{
	assert_int_equal(load("[daemon]\nrole = sink\njournal = %s/journal\n"
	    TLS_ON "[sink]\nlisten = 0.0.0.0:4433\n"), SL_EINVAL);
	assert_err("t.conf: [sink] root: missing (required for role sink)\n");
	assert_int_equal(load("[agent]\n"), SL_EINVAL);
	assert_err("t.conf: [daemon] role: missing (required)");
	assert_err("t.conf: [daemon] journal: missing (required)");
}

static void
test_syntax(void **state UNUSED)
{
	assert_int_equal(load(AGENT "just words\n[agent\nwindow = 2\n"),
	    SL_EINVAL);
	assert_err("t.conf:10: syntax error: expected \"key = value\"");
	assert_err("t.conf:11: syntax error: section header without ']'");
	assert_int_equal(load(AGENT "streams = 2\nstreams = 3\n"), SL_EINVAL);
	assert_err(":11: [agent] streams: duplicate key (first set on line 10)");
}

static void
test_wrong_role_section(void **state UNUSED)
{
	assert_int_equal(load(AGENT "[sink]\nroot = /\n"), SL_EINVAL);
	assert_err(":10: [sink]: section [sink] is for role sink");
}

static void
test_tls_missing_cert(void **state UNUSED)
{
	assert_int_equal(load("[daemon]\nrole = agent\njournal = %s/journal\n"
	    "[tls]\nca = %s/ca.pem\ncert = %s/nope.pem\nkey = %s/agent.key\n"
	    "[agent]\ndestination = h:1\n"), SL_EINVAL);
	assert_err(":6: [tls] cert: ");
	assert_err("/nope.pem: No such file or directory");
}

/* A FIFO named as a certificate must be refused, not block start-up
 * (found by fuzzing/review: open() without O_NONBLOCK hung). */
static void
test_tls_cert_fifo(void **state UNUSED)
{
	char	 p[256];

	snprintf(p, sizeof(p), "%s/fifo.pem", dir);
	unlink(p);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(load("[daemon]\nrole = agent\njournal = %s/journal\n"
	    "[tls]\nca = %s/ca.pem\ncert = %s/fifo.pem\nkey = %s/agent.key\n"
	    "[agent]\ndestination = h:1\n"), SL_EINVAL);
	assert_err(":6: [tls] cert: ");
	assert_err("fifo.pem: not a regular file");
	unlink(p);
}

static void
test_tls_off(void **state UNUSED)
{
	char	 p[256];

	/* without secret_file */
	assert_int_equal(load("[daemon]\nrole = agent\njournal = %s/journal\n"
	    "[tls]\nmode = off\n[agent]\ndestination = h:1\n"), SL_EINVAL);
	assert_err("t.conf: [tls] secret_file: missing (required when "
	    "[tls] mode = off)");

	/* world-readable */
	snprintf(p, sizeof(p), "%s/secret-open", dir);
	write_file(p, "0123456789abcdef0123\n", 0644);
	assert_int_equal(load("[daemon]\nrole = agent\njournal = %s/journal\n"
	    "[tls]\nmode = off\nsecret_file = %s/secret-open\n"
	    "[agent]\ndestination = h:1\n"), SL_EINVAL);
	assert_err(":6: [tls] secret_file: ");
	assert_err("/secret-open: readable by others (chmod 600)");

	/* too short: 15 bytes and a newline */
	snprintf(p, sizeof(p), "%s/secret-short", dir);
	write_file(p, "0123456789abcde\n", 0600);
	assert_int_equal(load("[daemon]\nrole = agent\njournal = %s/journal\n"
	    "[tls]\nmode = off\nsecret_file = %s/secret-short\n"
	    "[agent]\ndestination = h:1\n"), SL_EINVAL);
	assert_err("/secret-short: secret is 15 bytes, at least 16 needed");
	assert_int_equal(cfg.secret_len, 0);
}

static void
test_reconnect_order(void **state UNUSED)
{
	assert_int_equal(load(AGENT "reconnect_min = 10s\nreconnect_max = 5s\n"),
	    SL_EINVAL);
	assert_err(":11: [agent] reconnect_max: 5s is less than "
	    "reconnect_min 10s");
}

static void
test_bad_hostport(void **state UNUSED)
{
	assert_int_equal(load("[daemon]\nrole = sink\njournal = %s/journal\n"
	    TLS_ON "[sink]\nlisten = :0\nroot = %s/journal/nope\n"), SL_EINVAL);
	assert_err(":9: [sink] listen: ");
	assert_err(":10: [sink] root: ");
	assert_int_equal(load("[daemon]\nrole = agent\njournal = %s/journal\n"
	    TLS_ON "[agent]\ndestination = 2001:db8::1:4433\n"), SL_EINVAL);
	assert_err(":9: [agent] destination: ");
}

static void
test_three_mistakes(void **state UNUSED)
{
	char	*a, *b;
	int	 lines = 0;

	assert_int_equal(load(AGENT "streams = 0\nwindow = lots\n"
	    "[daemon]\nshade = blue\n"), SL_EINVAL);
	assert_err(":10: [agent] streams: 0 is out of range 1..64\n");
	assert_err(":11: [agent] window: \"lots\" is not an integer\n");
	assert_err(":13: [daemon] shade: unknown key\n");
	for (a = errbuf; (b = strchr(a, '\n')) != NULL; a = b + 1)
		lines++;
	assert_int_equal(lines, 3);
}

static void
test_small_errbuf(void **state UNUSED)
{
	char	 small[24];

	write_file(cfgpath, "[daemon]\ncolour = 1\nshade = 2\n", 0600);
	assert_int_equal(config_load(&cfg, cfgpath, small, sizeof(small)),
	    SL_EINVAL);
	assert_true(strlen(small) < sizeof(small));
	assert_int_equal(config_load(&cfg, "/nonexistent/x.conf", errbuf,
	    sizeof(errbuf)), SL_EINVAL);
	assert_err("/nonexistent/x.conf: No such file or directory");
}

static void
test_parse_size(void **state UNUSED)
{
	uint64_t	 v;

	assert_int_equal(config_parse_size("8M", &v), 0);
	assert_int_equal(v, 8388608);
	assert_int_equal(config_parse_size("64K", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(config_parse_size("1G", &v), 0);
	assert_int_equal(v, 1073741824);
	assert_int_equal(config_parse_size("8MiB", &v), 0);
	assert_int_equal(v, 8388608);
	assert_int_equal(config_parse_size("512", &v), 0);
	assert_int_equal(v, 512);
	assert_int_equal(config_parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(config_parse_size("-1", &v), SL_EINVAL);
	assert_int_equal(config_parse_size("8Q", &v), SL_EINVAL);
	assert_int_equal(config_parse_size("", &v), SL_EINVAL);
	assert_int_equal(config_parse_size("M", &v), SL_EINVAL);
	assert_int_equal(config_parse_size(" 8M", &v), SL_EINVAL);
	assert_int_equal(config_parse_size("8M ", &v), SL_EINVAL);
	assert_int_equal(config_parse_size("1.5M", &v), SL_EINVAL);
	assert_int_equal(config_parse_size("99999999999G", &v), SL_EINVAL);
	assert_int_equal(config_parse_size("99999999999999999999", &v),
	    SL_EINVAL);
}

static void
test_parse_duration(void **state UNUSED)
{
	double	 d;

	assert_int_equal(config_parse_duration("1.5s", &d), 0);
	assert_true(d == 1.5);
	assert_int_equal(config_parse_duration("250ms", &d), 0);
	assert_true(d > 0.2499 && d < 0.2501);
	assert_int_equal(config_parse_duration("2m", &d), 0);
	assert_true(d == 120);
	assert_int_equal(config_parse_duration("1h", &d), 0);
	assert_true(d == 3600);
	assert_int_equal(config_parse_duration("45", &d), 0);
	assert_true(d == 45);
	assert_int_equal(config_parse_duration("x", &d), SL_EINVAL);
	assert_int_equal(config_parse_duration("", &d), SL_EINVAL);
	assert_int_equal(config_parse_duration("-1s", &d), SL_EINVAL);
	assert_int_equal(config_parse_duration("5d", &d), SL_EINVAL);
	assert_int_equal(config_parse_duration(".s", &d), SL_EINVAL);
	assert_int_equal(config_parse_duration("inf", &d), SL_EINVAL);
}

static void
test_log_q(void **state UNUSED)
{
	char		 big[3000];
	const char	*q;

	assert_string_equal(log_q("plain"), "plain");
	assert_string_equal(log_q(""), "\"\"");
	assert_string_equal(log_q("two words"), "\"two words\"");
	assert_string_equal(log_q("a=b"), "\"a=b\"");
	assert_string_equal(log_q("say \"hi\""), "\"say \\\"hi\\\"\"");
	assert_string_equal(log_q("c:\\x"), "\"c:\\\\x\"");
	assert_string_equal(log_q("l1\nl2\tx"), "\"l1\\nl2\\tx\"");
	assert_string_equal(log_q("bell\a"), "\"bell\\x07\"");
	assert_string_equal(log_q("caf\xc3\xa9"), "caf\xc3\xa9");
	/* any name POSIX allows stays on one line of valid UTF-8 text */
	assert_string_equal(log_q("cr\rlf\n"), "\"cr\\rlf\\n\"");
	assert_string_equal(log_q("latin1-\xe9t\xe9"), "\"latin1-\\xe9t\\xe9\"");
	assert_string_equal(log_q("\xff\xfe"), "\"\\xff\\xfe\"");
	assert_string_equal(log_q("cut\xf0\x9f\x98"), "\"cut\\xf0\\x9f\\x98\"");
	assert_string_equal(log_q("ok \xc3\xa9 \xff"), "\"ok \xc3\xa9 \\xff\"");
	assert_string_equal(log_q("-dash"), "-dash");
	/* rotating buffers: four results stay valid together */
	{
		const char *a = log_q("a b"), *b = log_q("c d"),
		    *c = log_q("e f"), *d = log_q("g h");

		assert_string_equal(a, "\"a b\"");
		assert_string_equal(b, "\"c d\"");
		assert_string_equal(c, "\"e f\"");
		assert_string_equal(d, "\"g h\"");
	}
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	q = log_q(big);
	assert_true(strlen(q) < 1024);
	assert_string_equal(q + strlen(q) - 4, "...\"");
	memset(big, 'x', sizeof(big) - 1);
	q = log_q(big);
	assert_true(strlen(q) < 1024);
	assert_string_equal(q + strlen(q) - 3, "...");
}

static void
test_log_line(void **state UNUSED)
{
	char	 buf[8192], big[6000];
	int	 pfd[2], saved;
	ssize_t	 n;

	assert_int_equal(log_level_parse("err"), LOG_ERR);
	assert_int_equal(log_level_parse("error"), LOG_ERR);
	assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
	assert_int_equal(log_level_parse("loud"), -1);

	assert_int_equal(pipe(pfd), 0);
	saved = dup(2);
	dup2(pfd[1], 2);
	log_init(LOG_INFO, 0);
	log_info("test", "dataset=%s n=%d", log_q("a b"), 3);
	log_debug("test", "hidden");
	errno = ENOENT;
	log_warn("test", "open %s", "/x");
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_warnx("test", "%s", big);
	dup2(saved, 2);
	close(saved);
	close(pfd[1]);
	n = read(pfd[0], buf, sizeof(buf) - 1);
	close(pfd[0]);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "info test dataset=\"a b\" n=3\n"
	    "warn test open /x error=\"No such file or directory\"\nwarn test yyy"));
	assert_null(strstr(buf, "hidden"));
	assert_non_null(strstr(buf, "yyy...\n"));
	assert_true(n < 4096 * 3);
	assert_true(log_enabled(LOG_INFO));
	assert_false(log_enabled(LOG_DEBUG));
}

/* [tls] agent_secrets: one secret per agent, checked at load and read
 * by config_agent_secret; [sink] layout. */
static void
test_agent_secrets(void **state UNUSED)
{
	uint8_t	 sec[256];
	char	 p[256], err[512];
	size_t	 len = 0;

	snprintf(p, sizeof(p), "%s/agents", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/agents/bl7", dir);
	write_file(p, "bl7-secret-0123456789\n", 0600);
	assert_int_equal(load("[daemon]\nrole = sink\njournal = %s/journal\n"
	    "[tls]\nmode = off\nagent_secrets = %s/agents\n"
	    "[sink]\nlisten = [::]:4433\nroot = %s/incoming\nlayout = per-agent\n"), 0);
	assert_int_equal(cfg.layout, LAYOUT_PER_AGENT);
	assert_int_equal(config_agent_secret(&cfg, "bl7", sec, sizeof(sec), &len, err,
	    sizeof(err)), SL_OK);
	assert_int_equal(len, 21);
	assert_memory_equal(sec, "bl7-secret-0123456789", 21);
	assert_int_equal(config_agent_secret(&cfg, "bl8", sec, sizeof(sec), &len, err,
	    sizeof(err)), SL_ENOTFOUND);
	assert_int_equal(config_agent_secret(&cfg, "..", sec, sizeof(sec), &len, err,
	    sizeof(err)), SL_ENOTFOUND);
	assert_int_equal(config_agent_secret(&cfg, "../secret", sec, sizeof(sec), &len,
	    err, sizeof(err)), SL_ENOTFOUND);

	/* a bad file in it, and both secret kinds at once: every error */
	snprintf(p, sizeof(p), "%s/agents/bl9", dir);
	write_file(p, "short\n", 0644);
	assert_int_equal(load("[daemon]\nrole = sink\njournal = %s/journal\n"
	    "[tls]\nmode = off\nagent_secrets = %s/agents\n"
	    "[sink]\nlisten = [::]:4433\nroot = %s/incoming\n"), SL_EINVAL);
	assert_err(":6: [tls] agent_secrets: ");
	assert_err("/agents/bl9: readable by others (chmod 600)");
	assert_int_equal(unlink(p), 0);
	assert_int_equal(load("[daemon]\nrole = sink\njournal = %s/journal\n"
	    "[tls]\nmode = off\nagent_secrets = %s/agents\nsecret_file = %s/secret\n"
	    "[sink]\nlisten = [::]:4433\nroot = %s/incoming\n"), SL_EINVAL);
	assert_err("set either secret_file");
	/* at an agent it means nothing */
	assert_int_equal(load("[daemon]\nrole = agent\njournal = %s/journal\n"
	    "[tls]\nmode = off\nsecret_file = %s/secret\nagent_secrets = %s/agents\n"
	    "[agent]\ndestination = a:1\n"), SL_EINVAL);
	assert_err("agent_secrets: for role sink only");
	assert_int_equal(load("[daemon]\nrole = sink\njournal = %s/journal\n"
	    "[tls]\nmode = off\nsecret_file = %s/secret\n"
	    "[sink]\nlisten = [::]:4433\nroot = %s/incoming\nlayout = tree\n"), SL_EINVAL);
	assert_err("\"tree\" is not one of flat|per-agent");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_defaults),
		cmocka_unit_test(test_job),
		cmocka_unit_test(test_sink_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_long_value),
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_unknown_section),
		cmocka_unit_test(test_sink_limits),
		cmocka_unit_test(test_bad_int),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_bad_size),
		cmocka_unit_test(test_bad_enum),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_wrong_role_section),
		cmocka_unit_test(test_tls_missing_cert),
		cmocka_unit_test(test_tls_cert_fifo),
		cmocka_unit_test(test_tls_off),
		cmocka_unit_test(test_agent_secrets),
		cmocka_unit_test(test_reconnect_order),
		cmocka_unit_test(test_bad_hostport),
		cmocka_unit_test(test_three_mistakes),
		cmocka_unit_test(test_small_errbuf),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_log_q),
		cmocka_unit_test(test_log_line),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
