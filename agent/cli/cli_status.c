/*
 * cli_status.c: `sluice status` and `sluice ls`, the queue at a glance.
 * Both walk every dataset of the journal, read-only, in one pass
 * (tally_fn): ls prints each, status counts them by state, keeps the
 * newest failures and the datasets moving now.
 *
 * `status` joins two views: the journal (what is queued, failed, how old)
 * and the daemon's "ping" reply (is it alive, is the link up and since
 * when).  Either may be missing; the exit status says which (0 healthy,
 * 1 degraded, 3 down).  Its --json schema is docs/status-json.md.
 */
#include <sys/statvfs.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "cli.h"
#include "config.h"
#include "control.h"
#include "journal.h"

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

static const char *
age(uint64_t ns, char *buf, size_t len)
{
	return cli_duration(cli_now() - (double)ns / 1e9, buf, len);
}

static json_t *
ds_json(const struct ds_rec *d)
{
	char	id[17];

	snprintf(id, sizeof(id), "%016llx", (unsigned long long)d->id);
	return json_pack("{s:s, s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:f, s:f, s:f, s:o, s:o, s:o, s:s}",
	    "id", id, "name", cli_json_str(d->name), "state", cli_state_name(d->state),
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
	    "published", cli_json_str(d->published), "error", cli_json_str(d->error),
	    cli_cfg.role == ROLE_AGENT ? "source" : "agent", cli_json_str(d->src),
	    "lane", ds_lane_name((int)d->lane));
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
	failed = cli_cfg.role == ROLE_AGENT ? (d->state == DS_FAILED ||
	    d->state == DS_HOOK_FAILED) : d->state == SDS_FAILED;
	active = cli_cfg.role == ROLE_AGENT ? (d->state != DS_TRANSFERRED &&
	    d->state != DS_DONE) : (d->state != SDS_PUBLISHED);
	moving = cli_cfg.role == ROLE_AGENT ? (d->state == DS_TRANSFERRING ||
	    d->state == DS_COMMITTING || d->state == DS_PULLING) :
	    d->state == SDS_RECEIVING;
	if (cli_cfg.role == ROLE_AGENT && !DS_PUBLISHED(d->state) &&
	    d->state != DS_FAILED) {
		t->pending_bytes += d->bytes - d->bytes_acked;
		t->pending_ds++;
		if (t->oldest_pending_ns == 0 || d->created_ns < t->oldest_pending_ns)
			t->oldest_pending_ns = d->created_ns;
	}
	if (cli_cfg.role == ROLE_SINK && d->state == SDS_RECEIVING) {
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
	    (unsigned long long)d->id, cli_esc(d->name), cli_state_name(d->state), pct,
	    d->nfiles,
	    cli_bytes(d->bytes, b1, sizeof(b1)), (unsigned long long)d->chunks_resent,
	    age(d->created_ns, a, sizeof(a)));
	if (d->error[0] && (failed || cli_cfg.role == ROLE_SINK))
		printf("    error: %s\n", cli_esc(d->error));
	return 0;
}

int
cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "state", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	struct tally	 t;
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
	if (t.json)
		t.arr = json_array();
	cli_ds_foreach(0, tally_fn, &t);
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

int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct tally	 t;
	struct statvfs	 sv;
	json_t		*root = NULL, *o, *fa, *counts;
	char		 err[1024], *text = NULL, b[32], b2[32], b3[32], ts[64];
	char		 dest[256], link[32], why[SL_MAX_MSG + 1], cur[32];
	double		 since = 0, oldest = 0;
	uint64_t	 st;
	int		 ch, rc, status, up, exitc, failed, linkup, have_root = 0, i;
	int		 have_journal;

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
	rc = ctl_call(cli_cfg.control, "ping", 0, NULL, 5, &status, &text, err,
	    sizeof(err));
	up = rc == SL_OK && status == SL_OK;
	if (rc == SL_OK && status != SL_OK)
		snprintf(err, sizeof(err), "ping: %s", text ? text : "error");
	if (!up) {
		free(text);
		text = NULL;
	}
	dest[0] = link[0] = why[0] = cur[0] = '\0';
	if (up && cli_cfg.role == ROLE_AGENT) {
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
	linkup = up && (cli_cfg.role == ROLE_SINK || strcmp(link, "up") == 0);
	t.active = json_array();
	if (t.json)
		t.arr = json_array();
	have_journal = cli_ds_foreach(1, tally_fn, &t) == 0;
	if (t.oldest_pending_ns)
		oldest = cli_now() - (double)t.oldest_pending_ns / 1e9;
	if (cli_cfg.role == ROLE_SINK && cli_cfg.root[0] && statvfs(cli_cfg.root, &sv) == 0)
		have_root = 1;
	failed = (int)(cli_cfg.role == ROLE_AGENT ? t.n[DS_FAILED] + t.n[DS_HOOK_FAILED] :
	    t.n[SDS_FAILED]);
	exitc = !up ? SL_EXIT_DOWN : (failed || !linkup) ? SL_EXIT_FAIL : SL_EXIT_OK;
	if (t.json) {
		root = json_object();
		json_object_set_new(root, "schema", json_integer(1));
		json_object_set_new(root, "role", json_string(cli_cfg.role == ROLE_AGENT ?
		    "agent" : "sink"));
		json_object_set_new(root, "id", json_string(cli_cfg.id));
		json_object_set_new(root, "time", json_real(cli_now()));
		json_object_set_new(root, "daemon", json_string(up ? "up" : "down"));
		{
			const char *dl = up ? strstr(text, "daemon started=") : NULL;
			json_object_set_new(root, "daemon_started", dl ?
			    json_real(ping_num(dl + 7, "started", 0)) : json_null());
		}
		if (cli_cfg.role == ROLE_AGENT)	/* before the cut below */
			json_object_set_new(root, "lanes", cli_lanes_json(up ? text : NULL));
		if (up)
			text[strcspn(text, "\n")] = '\0';
		json_object_set_new(root, "daemon_info", json_string(up ? text : err));
		json_object_set_new(root, "health", json_string(exitc == 0 ? "healthy" :
		    exitc == SL_EXIT_FAIL ? "degraded" : "down"));
		if (cli_cfg.role == ROLE_AGENT && up)
			json_object_set_new(root, "link", json_pack("{s:s, s:s, s:o, s:s, s:o, s:i}",
			    "destination", dest, "state", link[0] ? link : "unknown",
			    "since", json_num_or_null(since, since > 0),
			    "reason", why,
			    "current", cur[0] ? json_string(cur) : json_null(),
			    "streams", (int)ping_num(text, "streams", 0)));
		else if (cli_cfg.role == ROLE_AGENT)
			json_object_set_new(root, "link", json_null());
		if (cli_cfg.role == ROLE_SINK) {
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
			    json_pack("{s:s, s:I, s:I}", "path", cli_cfg.root,
			    "free_bytes", (json_int_t)((uint64_t)sv.f_bavail * sv.f_frsize),
			    "total_bytes", (json_int_t)((uint64_t)sv.f_blocks * sv.f_frsize)));
		}
		counts = json_object();
		for (st = 1; st <= (cli_cfg.role == ROLE_AGENT ? DS_STATE_MAX :
		    SDS_FAILED); st++) {
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
			o = json_pack("{s:s, s:o, s:f, s:o}", "id", "", "name",
			    cli_json_str(t.failed[i].name), "time",
			    (double)t.failed[i].updated_ns / 1e9, "error",
			    cli_json_str(t.failed[i].error));
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

	printf("sluice %s %s: %s\n", cli_cfg.role == ROLE_AGENT ? "agent" : "sink",
	    cli_cfg.id, exitc == 0 ? "healthy" : exitc == SL_EXIT_FAIL ? "DEGRADED" :
	    "DOWN");
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
		    have_journal ? "; journal read directly" : "");
	if (cli_cfg.role == ROLE_AGENT) {
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
			cli_lanes_print(text);
			ping_field(text, "spool_level", b3, sizeof(b3));
			if (b3[0] && strcmp(b3, "none") != 0)
				printf("spool:    %.0f%% used (%s)\n", ping_num(text, "spool_pct", 0),
				    strcmp(b3, "ok") == 0 ? "ok" : strcmp(b3, "warn") == 0 ?
				    "WARNING: above spool_warn" : "HIGH: above spool_high");
		} else
			printf("link:     unknown (daemon down); destination %s\n",
			    cli_cfg.destination);
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
			printf("root:     %s: %s free of %s\n", cli_cfg.root,
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

		printf("%s:\n", cli_cfg.role == ROLE_AGENT ? "in flight" : "receiving");
		json_array_foreach(t.active, k, d) {
			double	tot = (double)json_integer_value(json_object_get(d, "bytes"));
			double	done = (double)json_integer_value(json_object_get(d, "bytes_done"));
			printf("  %-24.24s %-12s %5.1f%%  %s of %s", cli_esc(json_string_value(
			    json_object_get(d, "name"))), json_string_value(json_object_get(d,
			    "state")), tot > 0 ? 100 * done / tot : 100.0,
			    cli_bytes((uint64_t)done, b, sizeof(b)), cli_bytes((uint64_t)tot,
			    b2, sizeof(b2)));
			if (cli_cfg.role == ROLE_SINK)
				printf("  from %s", cli_esc(json_string_value(
				    json_object_get(d, "agent"))));
			else if (up && cli_lanes_of(text, json_string_value(
			    json_object_get(d, "id"))) != NULL)
				printf("  [%s]", cli_lanes_of(text, json_string_value(
				    json_object_get(d, "id"))));
			putchar('\n');
		}
	}
	if (t.nfailed > 0) {
		printf("failed (newest %d):\n", t.nfailed);
		for (i = 0; i < t.nfailed; i++)
			printf("  %s  %-24.24s %s\n", when((double)t.failed[i].updated_ns / 1e9,
			    ts, sizeof(ts)), cli_esc(t.failed[i].name), t.failed[i].error[0] ?
			    cli_esc(t.failed[i].error) : "(no reason recorded)");
		if (cli_cfg.role == ROLE_AGENT)
			printf("  (sluice show DATASET for its history; sluice retry DATASET)\n");
	}
	json_decref(t.active);
	free(text);
	return exitc;
}
