/*
 * sluice.c: the operator's CLI.  A command table (STYLE 16): commands that
 * change something go to the daemon over the control socket; commands that
 * only look read the LMDB journal read-only, so they work when the daemon
 * is stopped or hung.  Links neither libev nor TLS.
 *
 * `status` joins two views: the journal (what is queued, failed, how old)
 * and the daemon's "ping" reply (is it alive, is the link up and since
 * when).  Either may be missing; the exit status says which (0 healthy,
 * 1 degraded, 3 down).  Its --json schema is docs/status-json.md.
 * `watch` lives in sluice_watch.c, `verify` in sluice_verify.c.
 */
#include <sys/statvfs.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "cli.h"
#include "config.h"
#include "control.h"
#include "journal.h"
#include "log.h"
#include "sltime.h"

#define DEFAULT_CONFIG	"/etc/sluice/sluice.conf"

struct config		cli_cfg;
#define cfg		cli_cfg
static const char	*cfg_path;

struct cmd {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*args;
	const char	*help;
	const char	*detail;	/* for "sluice CMD --help" */
};

double
cli_now(void)
{
	return sl_time_wall();
}

static void
load_config(void)
{
	char err[8192];

	if (config_load(&cfg, cfg_path, err, sizeof(err)) != SL_OK) {
		fprintf(stderr, "%s", err);
		if (err[0] && err[strlen(err) - 1] != '\n')
			fputc('\n', stderr);
		exit(SL_EXIT_USAGE);
	}
}

struct journal *
cli_open_journal(int quiet_missing)
{
	struct journal	*j;
	char		 err[1024];
	int		 rc;

	rc = journal_open(&j, cfg.journal, cfg.role == ROLE_AGENT ? JOURNAL_AGENT :
	    JOURNAL_SINK, JOURNAL_RDONLY, 0, err, sizeof(err));
	if (rc == SL_ENOTFOUND && quiet_missing)
		return NULL;
	if (rc != SL_OK) {
		fprintf(stderr, "sluice: %s\n", err);
		exit(SL_EXIT_FAIL);
	}
	return j;
}

const char *
cli_bytes(uint64_t b, char *buf, size_t len)
{
	const char	*u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double		 v = (double)b;
	int		 i = 0;

	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", v, u[i]);
	return buf;
}

const char *
cli_state_name(int state)
{
	return cfg.role == ROLE_AGENT ? ds_state_name(state) : sds_state_name(state);
}

const char *
cli_duration(double s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(buf, len, "%.0fs", s);
	else if (s < 7200)
		snprintf(buf, len, "%.0fm", s / 60);
	else
		snprintf(buf, len, "%.1fh", s / 3600);
	return buf;
}

static const char *
age(uint64_t ns, char *buf, size_t len)
{
	return cli_duration(cli_now() - (double)ns / 1e9, buf, len);
}

/* ---- submit ------------------------------------------------------------ */

static int
cmd_submit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'N' },
		{ "meta", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 }
	};
	char	*args[2 + SL_MAX_META], dir[PATH_MAX], err[1024], *text;
	char	*name = "";
	int	 n = 2, ch, rc, status;

	while ((ch = getopt_long(argc, argv, "N:m:", opts, NULL)) != -1) {
		switch (ch) {
		case 'N': name = optarg; break;
		case 'm':
			if (n == 2 + SL_MAX_META) {
				fprintf(stderr, "sluice: more than %d --meta\n", SL_MAX_META);
				return SL_EXIT_USAGE;
			}
			if (strchr(optarg, '=') == NULL || optarg[0] == '=') {
				fprintf(stderr, "sluice: --meta %s: want KEY=VALUE\n", optarg);
				return SL_EXIT_USAGE;
			}
			args[n++] = optarg;
			break;
		default: return SL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: sluice submit DIR [--name NAME] [--meta KEY=VALUE]...\n");
		return SL_EXIT_USAGE;
	}
	if (realpath(argv[optind], dir) == NULL) {
		fprintf(stderr, "sluice: %s: %s\n", argv[optind], strerror(errno));
		return SL_EXIT_FAIL;
	}
	args[0] = dir;
	args[1] = name;
	rc = ctl_call(cfg.control, "submit", n, args, 120, &status, &text, err,
	    sizeof(err));
	if (rc != SL_OK) {
		fprintf(stderr, "sluice: %s\n", err);
		return SL_EXIT_DOWN;
	}
	if (status != SL_OK) {
		fprintf(stderr, "sluice: submit %s: %s\n", dir, text);
		free(text);
		return SL_EXIT_FAIL;
	}
	printf("submitted %s\n", text);
	free(text);
	return SL_EXIT_OK;
}

/* ---- status / ls -------------------------------------------------------- */

#define RECENT_FAILED	5		/* failures `status` lists */
#define RATE_WINDOW	300.0		/* seconds of "transferred recently" */

struct tally {
	int		 json;
	json_t		*arr;
	uint64_t	 n[DS_STATE_MAX + 1];
	uint64_t	 pending_bytes, pending_ds;
	uint64_t	 oldest_pending_ns;	/* created_ns of the oldest unsent, 0 = none */
	uint64_t	 recent_bytes;		/* completed within RATE_WINDOW */
	uint64_t	 recv_bytes, recv_total;	/* sink: receiving progress */
	struct ds_rec	 failed[RECENT_FAILED];	/* newest first; meta not kept */
	int		 nfailed;
	json_t		*active;		/* status: datasets moving now */
	int		 listed, all;
	const char	*filter;
};

static json_t *
ds_json(const struct ds_rec *d)
{
	char	id[17];

	snprintf(id, sizeof(id), "%016llx", (unsigned long long)d->id);
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:f, s:f, s:f, s:s, s:s, s:s}",
	    "id", id, "name", d->name, "state", cli_state_name(d->state),
	    "files", (json_int_t)d->nfiles, "bytes", (json_int_t)d->bytes,
	    "chunks", (json_int_t)d->nchunks, "chunks_done", (json_int_t)d->chunks_acked,
	    "bytes_done", (json_int_t)d->bytes_acked,
	    "chunks_sent", (json_int_t)d->chunks_sent,
	    "chunks_resent", (json_int_t)d->chunks_resent,
	    "chunks_nacked", (json_int_t)d->chunks_nacked,
	    "chunk_size", (json_int_t)d->chunk_size,
	    "created", (double)d->created_ns / 1e9,
	    "updated", (double)d->updated_ns / 1e9,
	    "completed", (double)d->completed_ns / 1e9,
	    "published", d->published, "error", d->error,
	    cfg.role == ROLE_AGENT ? "source" : "agent", d->src);
}

/* Keep the RECENT_FAILED most recently updated failures, newest first. */
static void
note_failed(struct tally *t, const struct ds_rec *d)
{
	int	i, at;

	for (at = 0; at < t->nfailed && t->failed[at].updated_ns >= d->updated_ns; at++)
		;
	if (at == RECENT_FAILED)
		return;
	if (t->nfailed < RECENT_FAILED)
		t->nfailed++;
	for (i = t->nfailed - 1; i > at; i--)
		t->failed[i] = t->failed[i - 1];
	t->failed[at] = *d;
	t->failed[at].nmeta = 0;
	t->failed[at].meta = NULL;	/* borrowed only during foreach */
}

static int
tally_fn(const struct ds_rec *d, void *arg)
{
	struct tally	*t = arg;
	char		 b1[32], a[32];
	double		 pct;
	int		 active, moving, failed;

	if (d->state >= 0 && d->state <= DS_STATE_MAX)
		t->n[d->state]++;
	failed = cfg.role == ROLE_AGENT ? (d->state == DS_FAILED ||
	    d->state == DS_HOOK_FAILED) : d->state == SDS_FAILED;
	active = cfg.role == ROLE_AGENT ? (d->state != DS_TRANSFERRED &&
	    d->state != DS_DONE) : (d->state != SDS_PUBLISHED);
	moving = cfg.role == ROLE_AGENT ? (d->state == DS_TRANSFERRING ||
	    d->state == DS_COMMITTING) : d->state == SDS_RECEIVING;
	if (cfg.role == ROLE_AGENT && !DS_PUBLISHED(d->state) && d->state != DS_FAILED) {
		t->pending_bytes += d->bytes - d->bytes_acked;
		t->pending_ds++;
		if (t->oldest_pending_ns == 0 || d->created_ns < t->oldest_pending_ns)
			t->oldest_pending_ns = d->created_ns;
	}
	if (cfg.role == ROLE_SINK && d->state == SDS_RECEIVING) {
		t->recv_bytes += d->bytes_acked;
		t->recv_total += d->bytes;
	}
	if (d->completed_ns && cli_now() - (double)d->completed_ns / 1e9 <= RATE_WINDOW)
		t->recent_bytes += d->bytes;
	if (failed)
		note_failed(t, d);
	if (t->active && moving)
		json_array_append_new(t->active, ds_json(d));
	if (t->filter && strcmp(t->filter, cli_state_name(d->state)) != 0)
		return 0;
	if (!t->all && !active)
		return 0;
	if (t->json) {
		json_array_append_new(t->arr, ds_json(d));
		return 0;
	}
	if (t->listed++ == 0)
		printf("%-16s  %-24s %-12s %6s %8s %10s %7s %6s\n", "ID", "NAME", "STATE",
		    "DONE", "FILES", "BYTES", "RESENT", "AGE");
	pct = d->bytes ? 100.0 * (double)d->bytes_acked / (double)d->bytes : 100.0;
	printf("%016llx  %-24.24s %-12s %5.1f%% %8u %10s %7llu %6s\n",
	    (unsigned long long)d->id, d->name, cli_state_name(d->state), pct, d->nfiles,
	    cli_bytes(d->bytes, b1, sizeof(b1)), (unsigned long long)d->chunks_resent,
	    age(d->created_ns, a, sizeof(a)));
	if (d->error[0] && (failed || cfg.role == ROLE_SINK))
		printf("    error: %s\n", d->error);
	return 0;
}

static int
cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "state", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	struct tally	 t;
	struct journal	*j;
	int		 ch;

	memset(&t, 0, sizeof(t));
	t.all = 1;
	while ((ch = getopt_long(argc, argv, "js:", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': t.json = 1; break;
		case 's': t.filter = optarg; break;
		default: return SL_EXIT_USAGE;
		}
	}
	j = cli_open_journal(0);
	if (t.json)
		t.arr = json_array();
	journal_ds_foreach(j, tally_fn, &t);
	journal_close(j);
	if (t.json) {
		json_dumpf(t.arr, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(t.arr);
	} else if (t.listed == 0)
		printf("no datasets\n");
	return SL_EXIT_OK;
}

/*
 * The daemon's ping reply is one line of key=value fields; a value with
 * spaces is double-quoted with backslash escapes (log_q).  Find key's
 * value, unquoted, in out.  0 if found.
 */
static int
ping_field(const char *line, const char *key, char *out, size_t outlen)
{
	const char	*p = line;
	size_t		 klen = strlen(key), n;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	while (*p) {
		while (*p == ' ')
			p++;
		if (*p == '\0' || *p == '\n')
			break;
		int match = strncmp(p, key, klen) == 0 && p[klen] == '=';
		const char *v = strchr(p, '=');
		if (v == NULL)
			break;
		v++;
		n = 0;
		if (*v == '"') {
			for (v++; *v && *v != '"'; v++) {
				if (*v == '\\' && v[1])
					v++;
				if (match && n + 1 < outlen)
					out[n++] = *v;
			}
			if (*v == '"')
				v++;
		} else {
			for (; *v && *v != ' ' && *v != '\n'; v++)
				if (match && n + 1 < outlen)
					out[n++] = *v;
		}
		if (match) {
			out[n] = '\0';
			return 0;
		}
		p = v;
	}
	return -1;
}

static double
ping_num(const char *line, const char *key, double def)
{
	char	v[64], *end;
	double	d;

	if (ping_field(line, key, v, sizeof(v)) != 0)
		return def;
	d = strtod(v, &end);
	return end == v ? def : d;
}

static const char *
when(double epoch, char *buf, size_t len)
{
	time_t		t = (time_t)epoch;
	struct tm	tm;

	if (epoch <= 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

static json_t *
json_num_or_null(double v, int present)
{
	return present ? json_real(v) : json_null();
}

/* Print the lines of a ping reply that start with prefix, indented. */
static void
print_lines(const char *text, const char *prefix, const char *indent)
{
	const char	*l, *e;
	size_t		 n = strlen(prefix);

	for (l = text; l && *l; l = e ? e + 1 : NULL) {
		e = strchr(l, '\n');
		if (strncmp(l, prefix, n) == 0)
			printf("%s%.*s\n", indent, (int)(e ? e - l : (long)strlen(l)), l);
	}
}

static int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct tally	 t;
	struct journal	*j;
	struct statvfs	 sv;
	json_t		*root = NULL, *o, *fa, *counts;
	char		 err[1024], *text = NULL, b[32], b2[32], b3[32], ts[64];
	char		 dest[256], link[32], why[SL_MAX_MSG + 1], cur[32];
	double		 since = 0, oldest = 0;
	uint64_t	 st;
	int		 ch, rc, status, up, exitc, failed, linkup, have_root = 0, i;

	memset(&t, 0, sizeof(t));
	while ((ch = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': t.json = 1; break;
		default: return SL_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: sluice status [--json]\n");
		return SL_EXIT_USAGE;
	}
	err[0] = '\0';
	rc = ctl_call(cfg.control, "ping", 0, NULL, 5, &status, &text, err, sizeof(err));
	up = rc == SL_OK && status == SL_OK;
	if (rc == SL_OK && status != SL_OK)
		snprintf(err, sizeof(err), "ping: %s", text ? text : "error");
	if (!up) {
		free(text);
		text = NULL;
	}
	dest[0] = link[0] = why[0] = cur[0] = '\0';
	if (up && cfg.role == ROLE_AGENT) {
		ping_field(text, "dest", dest, sizeof(dest));
		ping_field(text, "link", link, sizeof(link));
		ping_field(text, "why", why, sizeof(why));
		ping_field(text, "current", cur, sizeof(cur));
		if (strcmp(why, "-") == 0)
			why[0] = '\0';
		if (strspn(cur, "0") == strlen(cur))
			cur[0] = '\0';
		since = ping_num(text, "since", 0);
	}
	linkup = up && (cfg.role == ROLE_SINK || strcmp(link, "up") == 0);
	t.active = json_array();
	if (t.json)
		t.arr = json_array();
	j = cli_open_journal(1);
	if (j != NULL) {
		journal_ds_foreach(j, tally_fn, &t);
		journal_close(j);
	}
	if (t.oldest_pending_ns)
		oldest = cli_now() - (double)t.oldest_pending_ns / 1e9;
	if (cfg.role == ROLE_SINK && cfg.root[0] && statvfs(cfg.root, &sv) == 0)
		have_root = 1;
	failed = (int)(cfg.role == ROLE_AGENT ? t.n[DS_FAILED] + t.n[DS_HOOK_FAILED] :
	    t.n[SDS_FAILED]);
	exitc = !up ? SL_EXIT_DOWN : (failed || !linkup) ? SL_EXIT_FAIL : SL_EXIT_OK;
	if (t.json) {
		root = json_object();
		json_object_set_new(root, "schema", json_integer(1));
		json_object_set_new(root, "role", json_string(cfg.role == ROLE_AGENT ?
		    "agent" : "sink"));
		json_object_set_new(root, "id", json_string(cfg.id));
		json_object_set_new(root, "time", json_real(cli_now()));
		json_object_set_new(root, "daemon", json_string(up ? "up" : "down"));
		{
			const char *dl = up ? strstr(text, "daemon started=") : NULL;
			json_object_set_new(root, "daemon_started", dl ?
			    json_real(ping_num(dl + 7, "started", 0)) : json_null());
		}
		if (up)
			text[strcspn(text, "\n")] = '\0';
		json_object_set_new(root, "daemon_info", json_string(up ? text : err));
		json_object_set_new(root, "health", json_string(exitc == 0 ? "healthy" :
		    exitc == SL_EXIT_FAIL ? "degraded" : "down"));
		if (cfg.role == ROLE_AGENT && up)
			json_object_set_new(root, "link", json_pack("{s:s, s:s, s:o, s:s, s:o, s:i}",
			    "destination", dest, "state", link[0] ? link : "unknown",
			    "since", json_num_or_null(since, since > 0),
			    "reason", why,
			    "current", cur[0] ? json_string(cur) : json_null(),
			    "streams", (int)ping_num(text, "streams", 0)));
		else if (cfg.role == ROLE_AGENT)
			json_object_set_new(root, "link", json_null());
		if (cfg.role == ROLE_SINK) {
			if (up) {
				char lst[256];
				ping_field(text, "listen", lst, sizeof(lst));
				json_object_set_new(root, "sink", json_pack("{s:s, s:I, s:I}",
				    "listen", lst,
				    "connections", (json_int_t)ping_num(text, "connections", 0),
				    "receiving", (json_int_t)ping_num(text, "receiving", 0)));
			} else
				json_object_set_new(root, "sink", json_null());
			json_object_set_new(root, "root", !have_root ? json_null() :
			    json_pack("{s:s, s:I, s:I}", "path", cfg.root,
			    "free_bytes", (json_int_t)((uint64_t)sv.f_bavail * sv.f_frsize),
			    "total_bytes", (json_int_t)((uint64_t)sv.f_blocks * sv.f_frsize)));
		}
		counts = json_object();
		for (st = 1; st <= (cfg.role == ROLE_AGENT ? DS_STATE_MAX : SDS_FAILED); st++) {
			const char *nm = cli_state_name((int)st);
			if (strcmp(nm, "unknown") != 0 && nm[0] != '?')
				json_object_set_new(counts, nm, json_integer((json_int_t)t.n[st]));
		}
		json_object_set_new(root, "counts", counts);
		json_object_set_new(root, "pending_bytes", json_integer((json_int_t)t.pending_bytes));
		json_object_set_new(root, "pending_datasets", json_integer((json_int_t)t.pending_ds));
		json_object_set_new(root, "oldest_pending_age", json_num_or_null(oldest,
		    t.oldest_pending_ns != 0));
		json_object_set_new(root, "transferred_recent_bytes",
		    json_integer((json_int_t)t.recent_bytes));
		json_object_set_new(root, "recent_window", json_real(RATE_WINDOW));
		json_object_set_new(root, "failed", json_integer(failed));
		fa = json_array();
		for (i = 0; i < t.nfailed; i++) {
			o = json_pack("{s:s, s:s, s:f, s:s}", "id", "", "name", t.failed[i].name,
			    "time", (double)t.failed[i].updated_ns / 1e9, "error",
			    t.failed[i].error);
			snprintf(b, sizeof(b), "%016llx", (unsigned long long)t.failed[i].id);
			json_object_set_new(o, "id", json_string(b));
			json_array_append_new(fa, o);
		}
		json_object_set_new(root, "recent_failures", fa);
		json_object_set_new(root, "active", t.active);
		t.active = NULL;
		json_object_set_new(root, "datasets", t.arr);
		json_dumpf(root, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(root);
		free(text);
		return exitc;
	}

	printf("sluice %s %s: %s\n", cfg.role == ROLE_AGENT ? "agent" : "sink", cfg.id,
	    exitc == 0 ? "healthy" : exitc == SL_EXIT_FAIL ? "DEGRADED" : "DOWN");
	if (up) {
		const char *dl = strstr(text, "daemon started=");
		double started = dl ? ping_num(dl + 7, "started", 0) : 0;

		if (started > 0)
			printf("daemon:   up since %s (%s), pid %.0f\n",
			    when(started, ts, sizeof(ts)),
			    cli_duration(cli_now() - started, b, sizeof(b)),
			    ping_num(dl + 7, "pid", 0));
		else
			printf("daemon:   up\n");
	}
	else
		printf("daemon:   DOWN (%s)%s\n", err,
		    j ? "; journal read directly" : "");
	if (cfg.role == ROLE_AGENT) {
		if (up) {
			printf("link:     %s to %s", link[0] ? link : "unknown", dest);
			if (since > 0)
				printf(" since %s (%s)", when(since, ts, sizeof(ts)),
				    cli_duration(cli_now() - since, b, sizeof(b)));
			if (why[0])
				printf(": %s", why);
			putchar('\n');
			print_lines(text, "dest=", "          ");
			if (ping_num(text, "rate_5s", -1) >= 0)
				printf("rate:     %s/s now, %s/s over 5 minutes\n",
				    cli_bytes((uint64_t)ping_num(text, "rate_5s", 0), b, sizeof(b)),
				    cli_bytes((uint64_t)ping_num(text, "rate_5m", 0), b2, sizeof(b2)));
			ping_field(text, "spool_level", b3, sizeof(b3));
			if (b3[0] && strcmp(b3, "none") != 0)
				printf("spool:    %.0f%% used (%s)\n", ping_num(text, "spool_pct", 0),
				    strcmp(b3, "ok") == 0 ? "ok" : strcmp(b3, "warn") == 0 ?
				    "WARNING: above spool_warn" : "HIGH: above spool_high");
		} else
			printf("link:     unknown (daemon down); destination %s\n",
			    cfg.destination);
		printf("queue:    %llu datasets, %s pending",
		    (unsigned long long)t.pending_ds, cli_bytes(t.pending_bytes, b, sizeof(b)));
		if (t.oldest_pending_ns)
			printf("; oldest unsent %s old", cli_duration(oldest, b2, sizeof(b2)));
		putchar('\n');
		printf("datasets: %llu queued, %llu transferring, %llu committing, "
		    "%llu transferred, %llu failed\n",
		    (unsigned long long)t.n[DS_QUEUED],
		    (unsigned long long)t.n[DS_TRANSFERRING],
		    (unsigned long long)t.n[DS_COMMITTING],
		    (unsigned long long)(t.n[DS_TRANSFERRED] + t.n[DS_DONE] +
		    t.n[DS_HOOK_PENDING] + t.n[DS_HOOK_RUNNING] + t.n[DS_HOOK_FAILED]),
		    (unsigned long long)t.n[DS_FAILED]);
		if (t.n[DS_HOOK_PENDING] + t.n[DS_HOOK_RUNNING] + t.n[DS_HOOK_FAILED] +
		    t.n[DS_DONE])
			printf("hooks:    %llu waiting, %llu running, %llu done, %llu FAILED\n",
			    (unsigned long long)t.n[DS_HOOK_PENDING],
			    (unsigned long long)t.n[DS_HOOK_RUNNING],
			    (unsigned long long)t.n[DS_DONE],
			    (unsigned long long)t.n[DS_HOOK_FAILED]);
		printf("recent:   %s transferred in the last %.0f minutes (%s/s average)\n",
		    cli_bytes(t.recent_bytes, b, sizeof(b)), RATE_WINDOW / 60,
		    cli_bytes((uint64_t)((double)t.recent_bytes / RATE_WINDOW), b3, sizeof(b3)));
	} else {
		if (up) {
			char lst[256];
			ping_field(text, "listen", lst, sizeof(lst));
			printf("listen:   %s, %.0f connections\n", lst,
			    ping_num(text, "connections", 0));
			print_lines(text, "agent=", "          ");
		}
		if (have_root)
			printf("root:     %s: %s free of %s\n", cfg.root,
			    cli_bytes((uint64_t)sv.f_bavail * sv.f_frsize, b, sizeof(b)),
			    cli_bytes((uint64_t)sv.f_blocks * sv.f_frsize, b2, sizeof(b2)));
		printf("datasets: %llu receiving, %llu published, %llu failed\n",
		    (unsigned long long)t.n[SDS_RECEIVING],
		    (unsigned long long)t.n[SDS_PUBLISHED],
		    (unsigned long long)t.n[SDS_FAILED]);
	}
	if (json_array_size(t.active) > 0) {
		size_t	 k;
		json_t	*d;

		printf("%s:\n", cfg.role == ROLE_AGENT ? "in flight" : "receiving");
		json_array_foreach(t.active, k, d) {
			double	tot = (double)json_integer_value(json_object_get(d, "bytes"));
			double	done = (double)json_integer_value(json_object_get(d, "bytes_done"));
			printf("  %-24.24s %-12s %5.1f%%  %s of %s", json_string_value(
			    json_object_get(d, "name")), json_string_value(json_object_get(d,
			    "state")), tot > 0 ? 100 * done / tot : 100.0,
			    cli_bytes((uint64_t)done, b, sizeof(b)), cli_bytes((uint64_t)tot,
			    b2, sizeof(b2)));
			if (cfg.role == ROLE_SINK)
				printf("  from %s", json_string_value(json_object_get(d, "agent")));
			putchar('\n');
		}
	}
	if (t.nfailed > 0) {
		printf("failed (newest %d):\n", t.nfailed);
		for (i = 0; i < t.nfailed; i++)
			printf("  %s  %-24.24s %s\n", when((double)t.failed[i].updated_ns / 1e9,
			    ts, sizeof(ts)), t.failed[i].name, t.failed[i].error[0] ?
			    t.failed[i].error : "(no reason recorded)");
		if (cfg.role == ROLE_AGENT)
			printf("  (sluice show DATASET for its history; sluice retry DATASET)\n");
	}
	json_decref(t.active);
	free(text);
	return exitc;
}

/* ---- wait --------------------------------------------------------------- */

/* Block until a dataset reaches a final state: exit 0 when transferred
 * (agent) / published (sink), 1 when failed or on timeout. */
static int
cmd_wait(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "hook", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 }
	};
	struct journal	*j;
	struct ds_rec	 d;
	double		 timeout = 600, deadline;
	int		 ch, rc, done_state, fail_state, hook = 0;

	while ((ch = getopt_long(argc, argv, "t:H", opts, NULL)) != -1) {
		switch (ch) {
		case 't': timeout = atof(optarg); break;
		case 'H': hook = 1; break;
		default: return SL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: sluice wait DATASET [--timeout SECONDS] [--hook]\n");
		return SL_EXIT_USAGE;
	}
	done_state = cfg.role == ROLE_AGENT ? DS_TRANSFERRED : SDS_PUBLISHED;
	fail_state = cfg.role == ROLE_AGENT ? DS_FAILED : SDS_FAILED;
	deadline = cli_now() + timeout;
	for (;;) {
		j = cli_open_journal(1);
		memset(&d, 0, sizeof(d));
		rc = j ? journal_ds_find(j, argv[optind], &d) : SL_ENOTFOUND;
		if (j)
			journal_close(j);
		if (rc == SL_OK) {
			int st = d.state, ok, bad;

			/* Published is done for a transfer; --hook waits for the
			 * hook's outcome too. */
			if (cfg.role == ROLE_AGENT && hook) {
				ok = st == DS_DONE;
				bad = st == DS_FAILED || st == DS_HOOK_FAILED;
			} else if (cfg.role == ROLE_AGENT) {
				ok = DS_PUBLISHED(st);
				bad = st == DS_FAILED;
			} else {
				ok = st == done_state;
				bad = st == fail_state;
			}
			if (ok || bad) {
				printf("%s %s%s%s\n", d.name, cli_state_name(st),
				    d.error[0] ? ": " : "", d.error);
				ds_rec_free(&d);
				return ok ? SL_EXIT_OK : SL_EXIT_FAIL;
			}
			ds_rec_free(&d);
		}
		if (cli_now() > deadline) {
			fprintf(stderr, "sluice: wait %s: timed out after %.0fs\n",
			    argv[optind], timeout);
			return SL_EXIT_FAIL;
		}
		/* A read-only journal open and one lookup: cheap enough to
		 * poll often, so a script waiting on a dataset goes on within
		 * 20 ms (100 ms was 5 % of a 2 GB transfer's wall time). */
		usleep(20 * 1000);
	}
}

/* ---- show --------------------------------------------------------------- */

static void
show_hist(const struct hist_rec *h, void *arg)
{
	time_t	t = (time_t)(h->time_ns / 1000000000u);
	char	ts[32];

	(void)arg;
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	printf("  %s  %s -> %s%s%s\n", ts, h->from ? cli_state_name(h->from) : "new",
	    cli_state_name(h->to), h->reason[0] ? ": " : "", h->reason);
}

static int
cmd_show(int argc, char **argv)
{
	struct journal	*j;
	struct ds_rec	 d;
	struct file_rec	*files = NULL;
	uint32_t	 n = 0, i;
	char		 b[32];

	if (argc != 2) {
		fprintf(stderr, "usage: sluice show DATASET\n");
		return SL_EXIT_USAGE;
	}
	j = cli_open_journal(0);
	memset(&d, 0, sizeof(d));
	if (journal_ds_find(j, argv[1], &d) != SL_OK) {
		fprintf(stderr, "sluice: %s: no such dataset\n", argv[1]);
		journal_close(j);
		return SL_EXIT_FAIL;
	}
	printf("dataset %s (%016llx)\n  state:   %s\n", d.name, (unsigned long long)d.id,
	    cli_state_name(d.state));
	if (cfg.role == ROLE_AGENT)
		printf("  source:  %s\n", d.src);
	else
		printf("  agent:   %s\n", d.src);
	printf("  files:   %u, %s in %llu chunks of %u bytes\n", d.nfiles,
	    cli_bytes(d.bytes, b, sizeof(b)), (unsigned long long)d.nchunks,
	    d.chunk_size);
	printf("  done:    %llu/%llu chunks; sent %llu, resent %llu, nacked %llu\n",
	    (unsigned long long)d.chunks_acked, (unsigned long long)d.nchunks,
	    (unsigned long long)d.chunks_sent, (unsigned long long)d.chunks_resent,
	    (unsigned long long)d.chunks_nacked);
	if (d.published[0])
		printf("  published: %s\n", d.published);
	if (cfg.role == ROLE_AGENT && d.hook_attempts > 0) {
		printf("  hook:    %u attempt%s, last exit status %d\n", d.hook_attempts,
		    d.hook_attempts == 1 ? "" : "s", d.hook_status);
		if (d.hook_out[0])
			printf("  hook out: %.*s\n", (int)strcspn(d.hook_out, "\n"), d.hook_out);
		if (d.hook_err[0])
			printf("  hook err: %.*s\n", (int)strcspn(d.hook_err, "\n"), d.hook_err);
	}
	if (d.error[0])
		printf("  error:   %s\n", d.error);
	for (i = 0; i < d.nmeta; i++)
		printf("  meta:    %s=%s\n", d.meta[i][0], d.meta[i][1]);
	if (journal_files_load(j, d.id, &files, &n) == SL_OK) {
		printf("  files:\n");
		for (i = 0; i < n && i < 50; i++)
			printf("    %12llu  %s\n", (unsigned long long)files[i].size,
			    files[i].path);
		if (n > 50)
			printf("    ... %u more\n", n - 50);
		free(files);
	}
	printf("  history:\n");
	journal_history_foreach(j, d.id, show_hist, NULL);
	ds_rec_free(&d);
	journal_close(j);
	return SL_EXIT_OK;
}

/* ---- requests the daemon acts on ----------------------------------------- */

/*
 * Send one control request and print the daemon's reply.  Exit 0 when the
 * daemon did it, 1 when it refused (including a daemon too old to know
 * the command), 3 when it cannot be reached.
 */
static int
ctl_simple(const char *command, int n, char **args)
{
	char	err[1024], *text = NULL;
	int	rc, status;
	size_t	len;

	rc = ctl_call(cfg.control, command, n, args, 30, &status, &text, err,
	    sizeof(err));
	if (rc != SL_OK) {
		fprintf(stderr, "sluice: %s: daemon not reachable: %s\n", command, err);
		return SL_EXIT_DOWN;
	}
	len = strlen(text);
	while (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	if (status != SL_OK) {
		if (strncmp(text, "unknown command", 15) == 0)
			fprintf(stderr, "sluice: %s: this daemon does not support \"%s\" "
			    "(it answered: unknown command); upgrade sluiced\n", command,
			    command);
		else
			fprintf(stderr, "sluice: %s: %s\n", command, text[0] ? text :
			    sl_strerror(status));
		free(text);
		return SL_EXIT_FAIL;
	}
	if (text[0])
		printf("%s\n", text);
	free(text);
	return SL_EXIT_OK;
}

/* "--until T": a duration from now ("30m", "2h") or a local time
 * "YYYY-MM-DD HH:MM[:SS]" / "YYYY-MM-DDTHH:MM[:SS]" / "HH:MM" (today, or
 * tomorrow if already past).  Epoch seconds in *out, 0 on success. */
static int
parse_until(const char *s, double *out)
{
	struct tm	 tm;
	const char	*fmts[] = { "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
	    "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", NULL };
	const char	*e;
	double		 d;
	time_t		 now = time(NULL);
	int		 i;

	if (config_parse_duration(s, &d) == SL_OK && d > 0) {
		*out = cli_now() + d;
		return 0;
	}
	for (i = 0; fmts[i]; i++) {
		memset(&tm, 0, sizeof(tm));
		e = strptime(s, fmts[i], &tm);
		if (e != NULL && *e == '\0') {
			tm.tm_isdst = -1;
			*out = (double)mktime(&tm);
			return *out > (double)now ? 0 : -1;
		}
	}
	localtime_r(&now, &tm);
	e = strptime(s, "%H:%M", &tm);
	if (e != NULL && *e == '\0') {
		tm.tm_sec = 0;
		tm.tm_isdst = -1;
		*out = (double)mktime(&tm);
		if (*out <= (double)now)
			*out += 86400;
		return 0;
	}
	return -1;
}

static int
cmd_pause(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "until", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 }
	};
	char	*args[2], until[32];
	double	 t = 0;
	int	 ch, n = 1;

	while ((ch = getopt_long(argc, argv, "u:", opts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			if (parse_until(optarg, &t) != 0) {
				fprintf(stderr, "sluice: pause --until %s: want a duration "
				    "(30m, 2h) or a future time (HH:MM, YYYY-MM-DD HH:MM)\n",
				    optarg);
				return SL_EXIT_USAGE;
			}
			break;
		default: return SL_EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		cli_cmd_usage("pause");
		return SL_EXIT_USAGE;
	}
	args[0] = optind < argc ? argv[optind] : "";
	if (t > 0) {
		snprintf(until, sizeof(until), "%.0f", t);
		args[1] = until;
		n = 2;
	}
	return ctl_simple("pause", n, args);
}

static int
cmd_resume(int argc, char **argv)
{
	char	*args[1];

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		cli_cmd_usage("resume");
		return SL_EXIT_USAGE;
	}
	args[0] = argc == 2 ? argv[1] : "";
	return ctl_simple("resume", 1, args);
}

/* retry DATASET, retry-hook DATASET */
static int
cmd_one_dataset(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-') {
		cli_cmd_usage(argv[0]);
		return SL_EXIT_USAGE;
	}
	return ctl_simple(argv[0], 1, argv + 1);
}

static int
cmd_cancel(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "yes", no_argument, NULL, 'y' },
		{ NULL, 0, NULL, 0 }
	};
	char	 line[64];
	int	 ch, yes = 0;

	while ((ch = getopt_long(argc, argv, "y", opts, NULL)) != -1) {
		switch (ch) {
		case 'y': yes = 1; break;
		default: return SL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		cli_cmd_usage("cancel");
		return SL_EXIT_USAGE;
	}
	if (!yes) {
		if (!isatty(STDIN_FILENO)) {
			fprintf(stderr, "sluice: cancel %s: not a terminal to confirm "
			    "on; add --yes\n", argv[optind]);
			return SL_EXIT_USAGE;
		}
		printf("Cancel dataset %s? Its transfer stops and it will not be sent. "
		    "[y/N] ", argv[optind]);
		fflush(stdout);
		if (fgets(line, sizeof(line), stdin) == NULL ||
		    (line[0] != 'y' && line[0] != 'Y')) {
			printf("not cancelled\n");
			return SL_EXIT_FAIL;
		}
	}
	return ctl_simple("cancel", 1, argv + optind);
}

static int cmd_help(int, char **);

static const struct cmd cmds[] = {
	{ "status", cmd_status, "[--json]",
	  "daemon, link and queue at a glance (exit 0 healthy, 1 degraded, 3 down)",
	  "Asks the daemon (ping) whether it is alive and, on an agent, whether the link\n"
	  "to the sink is up and since when; reads the journal read-only for the queue:\n"
	  "datasets by state, bytes pending, age of the oldest unsent dataset, what was\n"
	  "moved in the last 5 minutes, datasets in flight (agent) or being received\n"
	  "(sink, with the free space of the root) and the last 5 failures with reasons.\n"
	  "Works when the daemon is stopped: the journal is read directly.\n\n"
	  "  --json   the same as one JSON object; schema in docs/status-json.md\n\n"
	  "Exit status: 0 healthy; 1 degraded (link not up, or failed datasets);\n"
	  "3 daemon down or not answering." },
	{ "watch", cmd_watch, "[--interval S] [--count N]",
	  "live progress of active datasets (q or Ctrl-C quits)",
	  "Shows a progress bar per active dataset (queued, transferring, committing on\n"
	  "an agent; receiving on a sink) with bytes done and total, rate and ETA,\n"
	  "redrawn in place.  Press q or Ctrl-C to quit.  When standard output is not a\n"
	  "terminal, prints one plain line per dataset per interval instead.\n\n"
	  "  --interval S   seconds between polls (default 1)\n"
	  "  --count N      stop after N redraws (default: until q)" },
	{ "ls", cmd_ls, "[--state STATE] [--json]", "list datasets",
	  "Lists every dataset in the journal with its progress, resent chunks and age.\n\n"
	  "  --state STATE  only datasets in STATE (queued, transferring, committing,\n"
	  "                 transferred, failed; at a sink: receiving, published, failed)\n"
	  "  --json         a JSON array of dataset objects" },
	{ "show", cmd_show, "DATASET", "one dataset: files, counters, history",
	  "Prints one dataset (by name or 16-hex-digit id): source, size, chunk\n"
	  "counters, metadata, files, the hook's outcome and every state change with\n"
	  "its time and reason." },
	{ "submit", cmd_submit, "DIR [--name NAME] [--meta KEY=VALUE]...",
	  "journal a dataset directory and queue it for transfer",
	  "Asks the agent to journal DIR (every regular file under it) as one dataset\n"
	  "and queue it.  Prints the dataset's name and id.\n\n"
	  "  --name NAME       dataset name (default: the directory's name)\n"
	  "  --meta KEY=VALUE  metadata shipped with the dataset (repeatable)" },
	{ "wait", cmd_wait, "DATASET [--timeout S] [--hook]",
	  "wait until a dataset is transferred (0) or failed (1)",
	  "Polls the journal until DATASET is transferred (agent) or published (sink):\n"
	  "exit 0; failed or timed out: exit 1.\n\n"
	  "  --timeout S   give up after S seconds (default 600)\n"
	  "  --hook        agent: wait for the completion hook too (done: 0,\n"
	  "                hook_failed: 1)" },
	{ "verify", cmd_verify, "DATASET",
	  "re-hash a dataset and report every difference",
	  "At a sink: re-reads every file of the published dataset <root>/<name> and\n"
	  "checks its size, XXH3-128 and (where listed) SHA-256 against\n"
	  ".sluice-manifest; reports missing, extra, wrong-size and wrong-digest\n"
	  "files.\n"
	  "At an agent: re-reads the source files and compares each chunk's XXH3-64\n"
	  "with the hash journaled when the sink acknowledged it; reports files that\n"
	  "changed since they were sent.\n\n"
	  "Exit status: 0 no difference, 1 differences found or unreadable files." },
	{ "pause", cmd_pause, "[DEST] [--until T]",
	  "stop sending (to DEST, or everywhere) until resumed",
	  "Asks the agent to stop starting new chunks to DEST (default: every\n"
	  "destination).  In-flight chunks finish.  Sent as control request\n"
	  "\"pause\" DEST|\"\" [UNTIL_EPOCH].\n\n"
	  "  --until T   resume by itself at T: a duration (30m, 2h) or a local time\n"
	  "              (HH:MM, YYYY-MM-DD HH:MM)" },
	{ "resume", cmd_resume, "[DEST]", "resume sending after pause",
	  "Undoes sluice pause for DEST (default: every destination)." },
	{ "retry", cmd_one_dataset, "DATASET", "queue a failed dataset again",
	  "Asks the agent to move a failed dataset back to the queue; chunks the sink\n"
	  "already holds are not sent again." },
	{ "retry-hook", cmd_one_dataset, "DATASET", "run a dataset's completion hook again",
	  "Asks the agent to run the completion hook of a transferred dataset again\n"
	  "(after the hook failed or its target was fixed)." },
	{ "cancel", cmd_cancel, "DATASET [--yes]", "stop and drop a queued dataset",
	  "Asks the agent to stop transferring DATASET and mark it failed (cancelled).\n"
	  "Asks for confirmation on a terminal.\n\n"
	  "  -y, --yes   do not ask" },
	{ "help", cmd_help, "[COMMAND]", "this text, or one command's",
	  "sluice help COMMAND is the same as sluice COMMAND --help." },
};
#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

static const struct cmd *
find_cmd(const char *name)
{
	size_t	i;

	for (i = 0; i < NCMDS; i++)
		if (strcmp(name, cmds[i].name) == 0)
			return &cmds[i];
	return NULL;
}

void
cli_cmd_usage(const char *name)
{
	const struct cmd *c = find_cmd(name);

	if (c == NULL)
		return;
	printf("usage: sluice [-c CONFIG] %s %s\n\n%s\n\n%s\n", c->name, c->args, c->help,
	    c->detail);
}

static int
cmd_help(int argc, char **argv)
{
	size_t i;

	if (argc > 1) {
		if (find_cmd(argv[1]) == NULL) {
			fprintf(stderr, "sluice: unknown command \"%s\"\n", argv[1]);
			return SL_EXIT_USAGE;
		}
		cli_cmd_usage(argv[1]);
		return SL_EXIT_OK;
	}
	printf("usage: sluice [-c CONFIG] COMMAND [ARGS]\n"
	    "       sluice COMMAND --help\n\n"
	    "Operate a sluiced agent or sink: look at its journal, ask it to act.\n\n"
	    "  -c, --config FILE  daemon configuration (default $SLUICE_CONFIG or %s)\n"
	    "  -h, --help         this text\n"
	    "  -V, --version      print the version\n\n"
	    "commands:\n", DEFAULT_CONFIG);
	for (i = 0; i < NCMDS; i++)
		printf("  %-10s %-40s %s\n", cmds[i].name, cmds[i].args, cmds[i].help);
	printf("\nExit status: 0 success or healthy, 1 failed or degraded, 2 usage or\n"
	    "configuration error, 3 daemon not reachable.  See sluice(1).\n");
	return SL_EXIT_OK;
}

/* "--help" or "-h" anywhere before a "--" asks for the command's help. */
static int
wants_help(int argc, char **argv)
{
	int	i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const struct cmd *c;
	int		  a = 1;

	log_init(LOG_WARN, 0);
	cfg_path = getenv("SLUICE_CONFIG") ? getenv("SLUICE_CONFIG") : DEFAULT_CONFIG;
	while (a < argc && argv[a][0] == '-') {
		if ((strcmp(argv[a], "-c") == 0 || strcmp(argv[a], "--config") == 0) &&
		    a + 1 < argc) {
			cfg_path = argv[a + 1];
			a += 2;
		} else if (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0) {
			return cmd_help(0, NULL);
		} else if (strcmp(argv[a], "-V") == 0 || strcmp(argv[a], "--version") == 0) {
			printf("sluice %s\n", SLUICE_VERSION);
			return 0;
		} else {
			fprintf(stderr, "sluice: unknown option %s (see sluice --help)\n", argv[a]);
			return SL_EXIT_USAGE;
		}
	}
	if (a == argc) {
		cmd_help(0, NULL);
		return SL_EXIT_USAGE;
	}
	c = find_cmd(argv[a]);
	if (c == NULL) {
		fprintf(stderr, "sluice: unknown command \"%s\" (see sluice --help)\n", argv[a]);
		return SL_EXIT_USAGE;
	}
	if (c->fn != cmd_help && wants_help(argc - a, argv + a)) {
		cli_cmd_usage(c->name);
		return SL_EXIT_OK;
	}
	if (c->fn != cmd_help)
		load_config();
	optind = 1;
	return c->fn(argc - a, argv + a);
}
