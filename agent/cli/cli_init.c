/*
 * cli_init.c: `sluice init agent|sink`, a working first configuration in
 * one command per side.
 *
 * It writes the file named by -c (the config every other command reads)
 * with the keys a side needs set and a comment on each, checks it with
 * the daemon's own parser before putting it in place (write to a
 * temporary name, load it, rename), and prints the next step.  An
 * existing config is never overwritten without --force.
 *
 * Credentials: TLS by default, either the site's files (--ca, --cert,
 * --key) or a test CA (--make-ca DIR): the CA is made once in DIR and
 * reused by the next init that names the same DIR, so the sink's and an
 * agent's certificates come from one CA when both sides are set up on
 * one host (or DIR is copied).  The agent's certificate carries its id
 * as CN (the sink takes the identity from it); the sink's carries the
 * names agents dial (--name, plus localhost, 127.0.0.1 and the host
 * name).  Without TLS (--no-tls) a shared secret file, made when it does
 * not exist.  Certificates are made by running the openssl(1) tool, the
 * way scripts/mkcerts.sh does, so the CLI still links no TLS code.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"

extern char **environ;

#define MAX_NAMES	8

struct init {
	int		 sink, tls, force;
	const char	*dest, *root, *listen, *id, *journal, *spool;
	const char	*ca, *cert, *key, *make_ca, *secret;
	const char	*names[MAX_NAMES];
	int		 nnames;
	char		 idbuf[SL_MAX_ID + 1], jbuf[4096];
	char		 cabuf[4096], certbuf[4096], keybuf[4096];
};

/* Run argv (no shell), quiet unless it fails: then what it said goes to
 * stderr.  0 on exit status 0; else print what failed and return -1. */
static int
run(char *const argv[])
{
	posix_spawn_file_actions_t	 fa;
	FILE				*errf;
	pid_t				 pid;
	char				 buf[512];
	size_t				 n;
	int				 st, rc;

	errf = tmpfile();
	if (errf == NULL) {
		fprintf(stderr, "sluice: init: tmpfile: %s\n", strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fileno(errf), STDERR_FILENO);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		fprintf(stderr, "sluice: init: cannot run %s: %s\n", argv[0], strerror(rc));
		fclose(errf);
		return -1;
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR) {
			fclose(errf);
			return -1;
		}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "sluice: init: %s %s failed:\n", argv[0], argv[1]);
		rewind(errf);
		while ((n = fread(buf, 1, sizeof(buf), errf)) > 0)
			fwrite(buf, 1, n, stderr);
		fclose(errf);
		return -1;
	}
	fclose(errf);
	return 0;
}

static int
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static int
newkey(const char *path)
{
	char *const argv[] = { "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
	    "ec_paramgen_curve:P-256", "-out", (char *)path, NULL };
	mode_t old = umask(077);
	int rc = run(argv);

	umask(old);
	return rc == 0 && chmod(path, 0600) == 0 ? 0 : -1;
}

/* DIR/ca.pem and DIR/ca.key: reused when both exist, else made. */
static int
make_ca(const char *dir, int *made)
{
	char	pem[4096], key[4096];

	snprintf(pem, sizeof(pem), "%s/ca.pem", dir);
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	*made = 0;
	if (exists(pem) && exists(key))
		return 0;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "sluice: init: mkdir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	{
		char *const argv[] = { "openssl", "req", "-x509", "-new", "-key", key,
		    "-sha256", "-days", "825", "-subj", "/O=sluice/CN=sluice test CA",
		    "-addext", "basicConstraints=critical,CA:TRUE",
		    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
		    "-addext", "subjectKeyIdentifier=hash", "-out", pem, NULL };

		if (newkey(key) != 0 || run(argv) != 0)
			return -1;
	}
	chmod(pem, 0644);
	*made = 1;
	return 0;
}

/* DIR/NAME.pem, DIR/NAME.key signed by DIR's CA, CN=cn; a server
 * certificate lists the names agents dial.  Kept when both exist
 * (unless force). */
static int
make_leaf(const struct init *in, const char *name, const char *cn, int server)
{
	char	 pem[4096], key[4096], csr[4096], ext[4096], capem[4096], cakey[4096];
	char	 subj[256], serial[40], host[256];
	FILE	*f;
	int	 i, rc = -1;

	snprintf(pem, sizeof(pem), "%s/%s.pem", in->make_ca, name);
	snprintf(key, sizeof(key), "%s/%s.key", in->make_ca, name);
	snprintf(csr, sizeof(csr), "%s/.%s.csr", in->make_ca, name);
	snprintf(ext, sizeof(ext), "%s/.%s.ext", in->make_ca, name);
	snprintf(capem, sizeof(capem), "%s/ca.pem", in->make_ca);
	snprintf(cakey, sizeof(cakey), "%s/ca.key", in->make_ca);
	if (exists(pem) && exists(key) && !in->force)
		return 0;
	f = fopen(ext, "w");
	if (f == NULL) {
		fprintf(stderr, "sluice: init: %s: %s\n", ext, strerror(errno));
		return -1;
	}
	fprintf(f, "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
	    "authorityKeyIdentifier=keyid\n");
	if (server) {
		fprintf(f, "extendedKeyUsage=serverAuth,clientAuth\n"
		    "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1");
		if (gethostname(host, sizeof(host)) == 0 && (host[sizeof(host) - 1] = '\0',
		    strcmp(host, "localhost") != 0))
			fprintf(f, ",DNS:%s", host);
		for (i = 0; i < in->nnames; i++)
			fprintf(f, ",%s:%s", strspn(in->names[i], "0123456789.:") ==
			    strlen(in->names[i]) ? "IP" : "DNS", in->names[i]);
		fputc('\n', f);
	} else
		fprintf(f, "extendedKeyUsage=clientAuth\n");
	if (fclose(f) != 0)
		goto out;
	snprintf(subj, sizeof(subj), "/O=sluice/CN=%s", cn);
	{
		unsigned char	r[8];
		int		fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

		if (fd == -1 || read(fd, r, sizeof(r)) != (ssize_t)sizeof(r)) {
			if (fd != -1)
				close(fd);
			fprintf(stderr, "sluice: init: /dev/urandom: %s\n", strerror(errno));
			goto out;
		}
		close(fd);
		r[0] &= 0x7f;
		snprintf(serial, sizeof(serial), "0x");
		for (i = 0; i < 8; i++)
			snprintf(serial + 2 + 2 * i, sizeof(serial) - 2 - 2 * (size_t)i,
			    "%02x", r[i]);
	}
	{
		char *const req[] = { "openssl", "req", "-new", "-key", key, "-subj", subj,
		    "-out", csr, NULL };
		char *const sign[] = { "openssl", "x509", "-req", "-in", csr, "-CA", capem,
		    "-CAkey", cakey, "-set_serial", serial, "-days", "825", "-sha256",
		    "-extfile", ext, "-out", pem, NULL };

		if (newkey(key) != 0 || run(req) != 0 || run(sign) != 0)
			goto out;
	}
	chmod(pem, 0644);
	rc = 0;
out:
	unlink(csr);
	unlink(ext);
	return rc;
}

/* A shared secret file: kept when it exists, else 32 random bytes as
 * 64 hex digits, mode 0600. */
static int
make_secret(const char *path, int *made)
{
	unsigned char	r[32];
	char		hex[65];
	int		fd, i;

	*made = 0;
	if (exists(path))
		return 0;
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd == -1 || read(fd, r, sizeof(r)) != (ssize_t)sizeof(r)) {
		fprintf(stderr, "sluice: init: /dev/urandom: %s\n", strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, sizeof(hex) - 2 * (size_t)i, "%02x", r[i]);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 || write(fd, hex, 64) != 64 || write(fd, "\n", 1) != 1 ||
	    close(fd) != 0) {
		fprintf(stderr, "sluice: init: %s: %s\n", path, strerror(errno));
		return -1;
	}
	*made = 1;
	return 0;
}

/* An absolute path (the daemon runs from /), so that the config means
 * the same wherever it is read from. */
static const char *
absolute(const char *p, char *buf, size_t len)
{
	char cwd[4096];

	if (p == NULL || p[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		return p;
	snprintf(buf, len, "%s/%s", cwd, p);
	return buf;
}

static void
write_conf(FILE *f, const struct init *in)
{
	fprintf(f, "# sluiced %s configuration, written by \"sluice init %s\".\n"
	    "# Only the keys this side needs are set here; every key, with its\n"
	    "# default and meaning, is in sluice.conf(5) and the sample\n"
	    "# /etc/sluice/sluice-%s.conf.  Check a change with: sluiced -n -c FILE\n\n",
	    in->sink ? "sink" : "agent", in->sink ? "sink" : "agent",
	    in->sink ? "sink" : "agent");
	fprintf(f, "[daemon]\nrole = %s\n\n", in->sink ? "sink" : "agent");
	fprintf(f, "# id: this daemon's name, shown by sluice status%s.\nid = %s\n\n",
	    in->sink ? "" : " and the sink (with\n# TLS it must equal the CN of "
	    "[tls] cert)", in->id);
	fprintf(f, "# journal: the durable record of every dataset; a local file system.\n"
	    "# The control socket is <journal>/control.sock.\njournal = %s\n\n",
	    in->journal);
	fprintf(f, "log_level = info\n\n");
	fprintf(f, "[tls]\n");
	if (in->tls) {
		fprintf(f, "# mutual TLS: this side's certificate and the CA that signed the\n"
		    "# %s's.\nmode = on\nca = %s\ncert = %s\nkey = %s\n\n",
		    in->sink ? "agents" : "sink", in->ca, in->cert, in->key);
	} else {
		fprintf(f, "# plain TCP: both sides prove they hold the same secret (only\n"
		    "# on a trusted network).\nmode = off\nsecret_file = %s\n\n", in->secret);
	}
	if (in->sink) {
		fprintf(f, "[sink]\n# listen: where agents connect.\nlisten = %s\n\n"
		    "# root: where datasets are published, <root>/<agent>/<name>.\n"
		    "root = %s\nlayout = per-agent\n", in->listen, in->root);
	} else {
		fprintf(f, "[agent]\n# destination: the sink, host:port (several: comma-"
		    "separated, primary\n# first).\ndestination = %s\n", in->dest);
		if (in->tls)
			fprintf(f, "\n# the sink's certificate must name the host above (or set "
			    "server_name).\n");
		if (in->spool)
			fprintf(f, "\n[ingest]\n# spool: a directory per dataset appears here "
			    "and is sent once sealed\n# (a file named .sealed in it).\n"
			    "spool = %s\n", in->spool);
	}
}

/* Write the config to path.tmp, check it with the daemon's parser, then
 * rename into place.  0 or -1 (printed). */
static int
install_conf(const char *path, const struct init *in)
{
	struct config	 c;
	char		 tmp[4096], err[8192];
	FILE		*f;
	int		 fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd == -1 || (f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "sluice: init: %s: %s\n", tmp, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	write_conf(f, in);
	if (fflush(f) != 0 || fsync(fd) != 0 || fclose(f) != 0) {
		fprintf(stderr, "sluice: init: %s: %s\n", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	memset(&c, 0, sizeof(c));
	if (config_load(&c, tmp, err, sizeof(err)) != SL_OK) {
		fprintf(stderr, "sluice: init: the config written does not load:\n%s", err);
		unlink(tmp);
		return -1;
	}
	if (!in->force && exists(path)) {	/* raced with another writer */
		fprintf(stderr, "sluice: init: %s exists (use --force to replace it)\n", path);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) == -1) {
		fprintf(stderr, "sluice: init: rename %s: %s\n", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sink", required_argument, NULL, 'd' },
		{ "root", required_argument, NULL, 'r' },
		{ "listen", required_argument, NULL, 'l' },
		{ "id", required_argument, NULL, 'i' },
		{ "journal", required_argument, NULL, 'J' },
		{ "spool", required_argument, NULL, 'S' },
		{ "ca", required_argument, NULL, 'A' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "make-ca", required_argument, NULL, 'M' },
		{ "name", required_argument, NULL, 'N' },
		{ "no-tls", no_argument, NULL, 'n' },
		{ "secret-file", required_argument, NULL, 's' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	struct init	 in;
	char		 host[256], dir[4096], b1[4096], b2[4096], b3[4096], b4[4096];
	char		 b5[4096], b6[4096], b7[4096], b8[4096];
	const char	*path = cli_cfg_path, *slash, *role;
	int		 ch, made_ca = 0, made_secret = 0;

	memset(&in, 0, sizeof(in));
	in.tls = 1;
	if (argc < 2 || (strcmp(argv[1], "agent") != 0 && strcmp(argv[1], "sink") != 0)) {
		fprintf(stderr, "sluice: init: say which side: sluice init agent ... or "
		    "sluice init sink ...\n");
		return CLI_USAGE;
	}
	role = argv[1];
	in.sink = strcmp(role, "sink") == 0;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': in.dest = optarg; break;
		case 'r': in.root = optarg; break;
		case 'l': in.listen = optarg; break;
		case 'i': in.id = optarg; break;
		case 'J': in.journal = optarg; break;
		case 'S': in.spool = optarg; break;
		case 'A': in.ca = optarg; break;
		case 'C': in.cert = optarg; break;
		case 'K': in.key = optarg; break;
		case 'M': in.make_ca = optarg; break;
		case 'N':
			if (in.nnames == MAX_NAMES) {
				fprintf(stderr, "sluice: init: at most %d --name\n", MAX_NAMES);
				return SL_EXIT_USAGE;
			}
			in.names[in.nnames++] = optarg;
			break;
		case 'n': in.tls = 0; break;
		case 's': in.secret = optarg; break;
		case 'f': in.force = 1; break;
		default: return CLI_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "sluice: init: unexpected argument \"%s\"\n",
		    cli_esc(argv[optind]));
		return CLI_USAGE;
	}
	/* what each side must be told */
	if (!in.sink && (in.dest == NULL || strchr(in.dest, ':') == NULL)) {
		fprintf(stderr, "sluice: init agent: --sink HOST:PORT is required (the "
		    "sink's address)\n");
		return SL_EXIT_USAGE;
	}
	if (in.sink && in.root == NULL) {
		fprintf(stderr, "sluice: init sink: --root DIR is required (where datasets "
		    "are published)\n");
		return SL_EXIT_USAGE;
	}
	if (in.sink ? in.dest != NULL || in.spool != NULL : in.root != NULL ||
	    in.listen != NULL || in.nnames > 0) {
		fprintf(stderr, "sluice: init %s: %s\n", role, in.sink ?
		    "--sink and --spool are for an agent" :
		    "--root, --listen and --name are for a sink");
		return SL_EXIT_USAGE;
	}
	if (in.tls) {
		int site = (in.ca != NULL) + (in.cert != NULL) + (in.key != NULL);

		if (in.secret) {
			fprintf(stderr, "sluice: init: --secret-file is for --no-tls\n");
			return SL_EXIT_USAGE;
		}
		if ((site != 0 && site != 3) || (site == 3) == (in.make_ca != NULL)) {
			fprintf(stderr, "sluice: init: TLS needs either the site's --ca, --cert "
			    "and --key, or --make-ca DIR for a test CA (or --no-tls "
			    "--secret-file FILE)\n");
			return SL_EXIT_USAGE;
		}
	} else if (in.secret == NULL || in.ca || in.cert || in.key || in.make_ca) {
		fprintf(stderr, "sluice: init: --no-tls takes --secret-file FILE (made "
		    "when it does not exist) and no certificate options\n");
		return SL_EXIT_USAGE;
	}
	if (!in.force && exists(path)) {
		fprintf(stderr, "sluice: init: %s exists; not overwritten (--force "
		    "replaces it)\n", path);
		return SL_EXIT_FAIL;
	}
	/* defaults: an explicit id, a journal beside the config unless it
	 * lives under /etc */
	if (in.id == NULL) {
		if (gethostname(host, sizeof(host)) == -1)
			snprintf(host, sizeof(host), "sluice");
		host[sizeof(host) - 1] = '\0';
		snprintf(in.idbuf, sizeof(in.idbuf), "%.*s-%s", SL_MAX_ID - 6, host, role);
		in.id = in.idbuf;
	}
	slash = strrchr(path, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1,
	    slash ? path : ".");
	if (dir[0] == '\0')
		snprintf(dir, sizeof(dir), "/");
	if (in.journal == NULL) {
		if (strncmp(path, "/etc/", 5) == 0)
			snprintf(in.jbuf, sizeof(in.jbuf), "/var/lib/sluice/%s", role);
		else
			snprintf(in.jbuf, sizeof(in.jbuf), "%s/%s.journal", dir, role);
		in.journal = in.jbuf;
	}
	if (in.listen == NULL)
		in.listen = "0.0.0.0:4433";
	in.journal = absolute(in.journal, b1, sizeof(b1));
	in.root = absolute(in.root, b2, sizeof(b2));
	in.spool = absolute(in.spool, b3, sizeof(b3));
	in.make_ca = absolute(in.make_ca, b4, sizeof(b4));
	in.ca = absolute(in.ca, b5, sizeof(b5));
	in.cert = absolute(in.cert, b6, sizeof(b6));
	in.key = absolute(in.key, b7, sizeof(b7));
	in.secret = absolute(in.secret, b8, sizeof(b8));
	if (in.sink && mkdir(in.root, 0755) == -1 && errno != EEXIST) {
		fprintf(stderr, "sluice: init: mkdir %s: %s\n", in.root, strerror(errno));
		return SL_EXIT_FAIL;
	}
	if (in.make_ca) {
		char leaf[SL_MAX_ID + 8];

		if (make_ca(in.make_ca, &made_ca) != 0)
			return SL_EXIT_FAIL;
		snprintf(leaf, sizeof(leaf), "%s-%s", role, in.id);
		if (make_leaf(&in, leaf, in.id, in.sink) != 0)
			return SL_EXIT_FAIL;
		snprintf(in.cabuf, sizeof(in.cabuf), "%s/ca.pem", in.make_ca);
		snprintf(in.certbuf, sizeof(in.certbuf), "%s/%s.pem", in.make_ca, leaf);
		snprintf(in.keybuf, sizeof(in.keybuf), "%s/%s.key", in.make_ca, leaf);
		in.ca = in.cabuf;
		in.cert = in.certbuf;
		in.key = in.keybuf;
	}
	if (!in.tls && make_secret(in.secret, &made_secret) != 0)
		return SL_EXIT_FAIL;
	if (install_conf(path, &in) != 0)
		return SL_EXIT_FAIL;

	printf("wrote %s (%s %s)\n", path, role, in.id);
	if (made_ca)
		printf("made a test CA: %s/ca.pem (its key %s/ca.key signs the other "
		    "side's certificate: keep it private)\n", in.make_ca, in.make_ca);
	if (in.make_ca)
		printf("certificate: %s (CN=%s)\n", in.cert, in.id);
	if (made_secret)
		printf("made a shared secret: %s (the other side needs the same file)\n",
		    in.secret);
	printf("\nnext:\n  sluiced -c %s          # start it (or: systemctl start "
	    "sluice-%s)\n  sluice -c %s status\n", path, role, path);
	if (in.sink)
		printf("  on each agent: sluice init agent --sink THIS-HOST:%s %s\n",
		    strrchr(in.listen, ':') ? strrchr(in.listen, ':') + 1 : "4433",
		    in.tls ? (in.make_ca ? "--make-ca DIR (DIR: a copy of this one's "
		    "ca.pem and ca.key)" : "--ca ... --cert ... --key ...") :
		    "--no-tls --secret-file FILE (a copy of this one's)");
	else
		printf("  sluice -c %s submit DIR       # send a dataset\n", path);
	return SL_EXIT_OK;
}
