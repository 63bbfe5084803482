/*
 * cli_status.c: `sluice status` and `sluice ls`, the queue at a glance.
 * Both walk every dataset of the journal, read-only, in one pass
 * (tally_fn): ls prints each, status counts them by state, keeps the
 * newest failures and the datasets moving now.
 *
 * `status` joins two views: the journal (what is queued, failed, how old)
 * and the daemon's "ping" reply (is it alive, is the link up and since
 * when, parsed by cli_ping.c).  Either may be missing; the health word
 * and exit status come from cli_health (0 healthy, paused or in a
 * maintenance window; 1 degraded; 3 not running; 4 not responding).
 * Everything is gathered into one struct status first, then printed as
 * text or JSON from it, so the two always say the same numbers.  The
 * --json schema is docs/status-json.md (t_status checks the two agree).
 */
#include <sys/statvfs.h>

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "cli.h"
#include "config.h"
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
	uint64_t	 recent_ds;		/* how many datasets those were */
	uint64_t	 recv_bytes, recv_total;	/* sink: receiving progress */
	struct ds_rec	 failed[RECENT_FAILED];	/* newest first; meta not kept */
	int		 nfailed;
	json_t		*active;		/* status: datasets moving now */
	int		 listed, all, print;	/* print: ls rows (not status) */
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
	if (d->completed_ns && cli_now() - (double)d->completed_ns / 1e9 <= RATE_WINDOW) {
		t->recent_bytes += d->bytes;
		t->recent_ds++;
	}
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
	if (!t->print)
		return 0;
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
	else if (cli_cfg.role == ROLE_AGENT && d->state == DS_HOOK_FAILED && d->hook_err[0])
		printf("    hook: %s\n", cli_esc(d->hook_err));
	return 0;
}

/* 1 if name is a state of this role; else print the valid ones. */
static int
valid_state(const char *name)
{
	int	st, max = cli_cfg.role == ROLE_AGENT ? DS_STATE_MAX : SDS_FAILED;
	char	list[512];
	size_t	n = 0;

	list[0] = '\0';
	for (st = 1; st <= max; st++) {
		if (strcmp(name, cli_state_name(st)) == 0)
			return 1;
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", st > 1 ? ", " : "",
		    cli_state_name(st));
		if (n >= sizeof(list))
			break;
	}
	fprintf(stderr, "sluice: ls --state %s: no such state; %s states are: %s\n",
	    cli_esc(name), cli_cfg.role == ROLE_AGENT ? "agent" : "sink", list);
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
	t.print = 1;
	while ((ch = getopt_long(argc, argv, "js:", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': t.json = 1; break;
		case 's': t.filter = optarg; break;
		default: return SL_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "sluice: ls: unexpected argument \"%s\"\n", cli_esc(argv[optind]));
		return SL_EXIT_USAGE;
	}
	if (t.filter && !valid_state(t.filter))
		return SL_EXIT_USAGE;
	if (t.json)
		t.arr = json_array();
	cli_ds_foreach(0, tally_fn, &t);
	if (t.json) {
		json_dumpf(t.arr, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(t.arr);
	} else if (t.listed == 0 && t.filter)
		printf("no datasets in state %s\n", t.filter);
	else if (t.listed == 0)
		printf("no datasets\n");
	return SL_EXIT_OK;
}

static json_t *
json_num_or_null(double v, int present)
{
	return present ? json_real(v) : json_null();
}

/* When a dataset's hook failed, the reason is in hook_err. */
static const char *
failure_text(const struct ds_rec *d)
{
	if (d->error[0])
		return d->error;
	if (cli_cfg.role == ROLE_AGENT && d->state == DS_HOOK_FAILED && d->hook_err[0])
		return d->hook_err;
	return "";
}

/* Everything `status` shows, gathered once so text and JSON say the same. */
struct status {
	struct tally	 t;
	struct cli_ping	 pg;
	struct statvfs	 sv;
	int		 have_root, have_journal, exitc;
	const char	*health;
	char		 why[256];
	uint64_t	 failed, hook_failed;
	double		 oldest;
};

static json_t *
status_link_json(const struct status *s)
{
	const struct cli_ping	*pg = &s->pg;
	json_t			*dl, *o;
	int			 i;

	dl = json_array();
	for (i = 0; i < pg->ndest; i++) {
		const struct cli_dest *d = &pg->dests[i];

		o = json_pack("{s:s, s:s, s:b, s:o, s:o, s:o, s:o}",
		    "destination", d->text, "state", d->state, "current", d->current,
		    "down_since", json_num_or_null(d->down_since, d->down_since > 0),
		    "paused_until", json_num_or_null(d->paused_until, d->paused_until > 0 &&
		    d->paused_until < 1e17),
		    "maintenance_start", json_num_or_null(d->maint_start, d->maint_end > 0),
		    "maintenance_end", json_num_or_null(d->maint_end, d->maint_end > 0));
		json_array_append_new(dl, o);
	}
	return json_pack("{s:s, s:s, s:o, s:s, s:o, s:i, s:o, s:o}",
	    "destination", pg->dest, "state", pg->link[0] ? pg->link : "unknown",
	    "since", json_num_or_null(pg->since, pg->since > 0),
	    "reason", pg->why,
	    "current", pg->current[0] ? json_string(pg->current) : json_null(),
	    "streams", pg->streams,
	    "paused_until", json_num_or_null(pg->paused_until, pg->paused_until > 0 &&
	    pg->paused_until < 1e17),
	    "destinations", dl);
}

static void
status_json(struct status *s)
{
	struct tally		*t = &s->t;
	const struct cli_ping	*pg = &s->pg;
	json_t			*root, *o, *fa, *counts, *ag;
	char			 b[32];
	int			 up = pg->daemon == CLI_UP, i;
	uint64_t		 st;

	root = json_object();
	json_object_set_new(root, "schema", json_integer(1));
	json_object_set_new(root, "role", json_string(cli_cfg.role == ROLE_AGENT ?
	    "agent" : "sink"));
	json_object_set_new(root, "id", json_string(cli_cfg.id));
	json_object_set_new(root, "time", json_real(cli_now()));
	json_object_set_new(root, "daemon", json_string(cli_daemon_word(pg->daemon)));
	json_object_set_new(root, "daemon_pid", pg->pid > 0 ?
	    json_integer(pg->pid) : json_null());
	json_object_set_new(root, "daemon_started", up && pg->started > 0 ?
	    json_real(pg->started) : json_null());
	json_object_set_new(root, "daemon_info", json_string(up ? pg->info : pg->err));
	json_object_set_new(root, "health", json_string(s->health));
	json_object_set_new(root, "health_reason", json_string(s->why));
	if (cli_cfg.role == ROLE_AGENT) {
		json_object_set_new(root, "link", up ? status_link_json(s) : json_null());
		json_object_set_new(root, "rate", !up || pg->rate_now < 0 ? json_null() :
		    json_pack("{s:f, s:f, s:f}", "now", pg->rate_now, "average",
		    pg->rate_avg, "window", pg->rate_window < 0 ? 0.0 : pg->rate_window));
		json_object_set_new(root, "spool", !up || pg->spool_pct < 0 ? json_null() :
		    json_pack("{s:i, s:s}", "used_pct", pg->spool_pct, "level",
		    pg->spool_level));
		json_object_set_new(root, "lanes", cli_lanes_json(up ? pg->raw : NULL));
	}
	if (cli_cfg.role == ROLE_SINK) {
		if (up) {
			ag = json_array();
			for (i = 0; i < pg->nagent; i++) {
				const struct cli_agent *a = &pg->agents[i];

				json_array_append_new(ag, json_pack("{s:o, s:i, s:s, s:s, "
				    "s:I, s:I, s:I, s:I}", "id", cli_json_str(a->id),
				    "streams", a->streams, "from", a->from, "tls", a->tls,
				    "receiving", (json_int_t)a->receiving,
				    "published", (json_int_t)a->published,
				    "failed", (json_int_t)a->failed,
				    "bytes", (json_int_t)a->bytes));
			}
			json_object_set_new(root, "sink", json_pack("{s:s, s:I, s:I, s:o}",
			    "listen", pg->listen, "connections", (json_int_t)pg->connections,
			    "receiving", (json_int_t)pg->receiving, "agents", ag));
		} else
			json_object_set_new(root, "sink", json_null());
		json_object_set_new(root, "root", !s->have_root ? json_null() :
		    json_pack("{s:s, s:I, s:I}", "path", cli_cfg.root,
		    "free_bytes", (json_int_t)((uint64_t)s->sv.f_bavail * s->sv.f_frsize),
		    "total_bytes", (json_int_t)((uint64_t)s->sv.f_blocks * s->sv.f_frsize)));
	}
	counts = json_object();
	for (st = 1; st <= (cli_cfg.role == ROLE_AGENT ? DS_STATE_MAX : SDS_FAILED); st++)
		json_object_set_new(counts, cli_state_name((int)st),
		    json_integer((json_int_t)t->n[st]));
	json_object_set_new(root, "counts", counts);
	json_object_set_new(root, "pending_bytes", json_integer((json_int_t)t->pending_bytes));
	json_object_set_new(root, "pending_datasets", json_integer((json_int_t)t->pending_ds));
	json_object_set_new(root, "oldest_pending_age", json_num_or_null(s->oldest,
	    t->oldest_pending_ns != 0));
	json_object_set_new(root, "transferred_recent_bytes",
	    json_integer((json_int_t)t->recent_bytes));
	json_object_set_new(root, "transferred_recent_datasets",
	    json_integer((json_int_t)t->recent_ds));
	json_object_set_new(root, "recent_window", json_real(RATE_WINDOW));
	json_object_set_new(root, "failed", json_integer((json_int_t)(s->failed +
	    s->hook_failed)));
	fa = json_array();
	for (i = 0; i < t->nfailed; i++) {
		snprintf(b, sizeof(b), "%016llx", (unsigned long long)t->failed[i].id);
		o = json_pack("{s:s, s:o, s:s, s:f, s:o}", "id", b, "name",
		    cli_json_str(t->failed[i].name), "state",
		    cli_state_name(t->failed[i].state),
		    "time", (double)t->failed[i].updated_ns / 1e9, "error",
		    cli_json_str(failure_text(&t->failed[i])));
		json_array_append_new(fa, o);
	}
	json_object_set_new(root, "recent_failures", fa);
	json_object_set_new(root, "active", t->active);
	t->active = NULL;
	json_object_set_new(root, "datasets", t->arr);
	t->arr = NULL;
	json_dumpf(root, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(root);
}

static void
status_text_agent(const struct status *s)
{
	const struct tally	*t = &s->t;
	const struct cli_ping	*pg = &s->pg;
	char			 b[64], b2[32], line[1024];
	int			 i;

	printf("link:     %s\n", cli_link_line(pg, line, sizeof(line)));
	if (pg->daemon == CLI_UP && pg->ndest > 1)
		for (i = 0; i < pg->ndest; i++)
			printf("          %s\n", cli_dest_line(&pg->dests[i], line,
			    sizeof(line)));
	if (pg->daemon == CLI_UP && pg->rate_now >= 0) {
		/* the average is over what the daemon has seen: less than 5
		 * minutes after a start, and then it says so */
		double w = pg->rate_window >= 0 ? pg->rate_window : RATE_WINDOW;

		printf("rate:     %s/s now, %s/s over the last %s%s\n",
		    cli_bytes((uint64_t)pg->rate_now, b, sizeof(b)),
		    cli_bytes((uint64_t)pg->rate_avg, b2, sizeof(b2)),
		    cli_duration(w, line, sizeof(line)),
		    w < RATE_WINDOW ? " (since the daemon started)" : "");
	}
	if (pg->daemon == CLI_UP)
		cli_lanes_print(pg->raw);
	if (pg->daemon == CLI_UP && pg->spool_level[0] && strcmp(pg->spool_level, "none") != 0)
		printf("spool:    %d%% used (%s)\n", pg->spool_pct,
		    strcmp(pg->spool_level, "ok") == 0 ? "ok" :
		    strcmp(pg->spool_level, "warn") == 0 ?
		    "WARNING: above spool_warn" : "HIGH: above spool_high");
	printf("queue:    %llu datasets, %s pending",
	    (unsigned long long)t->pending_ds, cli_bytes(t->pending_bytes, b, sizeof(b)));
	if (t->oldest_pending_ns)
		printf("; oldest unsent %s old", cli_duration(s->oldest, b2, sizeof(b2)));
	putchar('\n');
	/* the same names and numbers as counts in --json */
	printf("datasets: %llu queued, %llu transferring, %llu committing, "
	    "%llu transferred, %llu failed\n",
	    (unsigned long long)t->n[DS_QUEUED], (unsigned long long)t->n[DS_TRANSFERRING],
	    (unsigned long long)t->n[DS_COMMITTING],
	    (unsigned long long)t->n[DS_TRANSFERRED], (unsigned long long)t->n[DS_FAILED]);
	if (t->n[DS_HOOK_PENDING] + t->n[DS_HOOK_RUNNING] + t->n[DS_HOOK_FAILED] +
	    t->n[DS_DONE])
		printf("hooks:    %llu hook_pending, %llu hook_running, %llu done, "
		    "%llu hook_failed\n",
		    (unsigned long long)t->n[DS_HOOK_PENDING],
		    (unsigned long long)t->n[DS_HOOK_RUNNING],
		    (unsigned long long)t->n[DS_DONE],
		    (unsigned long long)t->n[DS_HOOK_FAILED]);
	if (t->n[DS_JOB_SUBMITTING] + t->n[DS_JOB_SUBMITTED] + t->n[DS_PULLING] +
	    t->n[DS_PULLED] + t->n[DS_REDUCING])	/* route job, only when used */
		printf("jobs:     %llu job_submitting, %llu job_submitted, %llu pulling, "
		    "%llu pulled, %llu reducing\n",
		    (unsigned long long)t->n[DS_JOB_SUBMITTING],
		    (unsigned long long)t->n[DS_JOB_SUBMITTED],
		    (unsigned long long)t->n[DS_PULLING], (unsigned long long)t->n[DS_PULLED],
		    (unsigned long long)t->n[DS_REDUCING]);
	printf("recent:   %llu datasets (%s) completed in the last %s\n",
	    (unsigned long long)t->recent_ds, cli_bytes(t->recent_bytes, b, sizeof(b)),
	    cli_duration(RATE_WINDOW, b2, sizeof(b2)));
}

static void
status_text_sink(const struct status *s)
{
	const struct tally	*t = &s->t;
	const struct cli_ping	*pg = &s->pg;
	char			 b[32], b2[32];
	int			 i;

	if (pg->daemon == CLI_UP) {
		printf("listen:   %s, %d connections\n", pg->listen, pg->connections);
		for (i = 0; i < pg->nagent; i++) {
			const struct cli_agent *a = &pg->agents[i];

			printf("agent:    %s: ", cli_esc(a->id));
			if (a->streams > 0)
				printf("%d streams from %s (TLS %s)", a->streams,
				    cli_esc(a->from), a->tls);
			else
				printf("not connected");
			printf("; %llu receiving, %llu published, %llu failed, %s\n",
			    (unsigned long long)a->receiving,
			    (unsigned long long)a->published,
			    (unsigned long long)a->failed, cli_bytes(a->bytes, b, sizeof(b)));
		}
	}
	if (s->have_root)
		printf("root:     %s: %s free of %s\n", cli_cfg.root,
		    cli_bytes((uint64_t)s->sv.f_bavail * s->sv.f_frsize, b, sizeof(b)),
		    cli_bytes((uint64_t)s->sv.f_blocks * s->sv.f_frsize, b2, sizeof(b2)));
	printf("datasets: %llu receiving, %llu published, %llu failed\n",
	    (unsigned long long)t->n[SDS_RECEIVING],
	    (unsigned long long)t->n[SDS_PUBLISHED],
	    (unsigned long long)t->n[SDS_FAILED]);
}

static void
status_text(struct status *s)
{
	const struct tally	*t = &s->t;
	const struct cli_ping	*pg = &s->pg;
	char			 b[32], b2[32], ts[64], line[1024], word[32];
	size_t			 k;
	json_t			*d;
	int			 i, any_failed = 0, any_hook = 0;

	/* the header first: role, id, health in capitals unless all is well */
	snprintf(word, sizeof(word), "%s", s->health);
	if (strcmp(word, "healthy") != 0)
		for (i = 0; word[i]; i++)
			word[i] = word[i] == '_' ? ' ' : (char)toupper((unsigned char)word[i]);
	printf("sluice %s %s: %s%s%s%s\n", cli_cfg.role == ROLE_AGENT ? "agent" : "sink",
	    cli_cfg.id, word, s->why[0] ? " (" : "", s->why, s->why[0] ? ")" : "");
	printf("daemon:   %s%s\n", cli_daemon_line(pg, line, sizeof(line)),
	    pg->daemon != CLI_UP && s->have_journal ? "; journal read directly" : "");
	if (cli_cfg.role == ROLE_AGENT)
		status_text_agent(s);
	else
		status_text_sink(s);
	if (json_array_size(t->active) > 0) {
		printf("%s:\n", cli_cfg.role == ROLE_AGENT ? "in flight" : "receiving");
		json_array_foreach(t->active, k, d) {
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
			else if (pg->daemon == CLI_UP && cli_lanes_of(pg->raw,
			    json_string_value(json_object_get(d, "id"))) != NULL)
				printf("  [%s]", cli_lanes_of(pg->raw, json_string_value(
				    json_object_get(d, "id"))));
			putchar('\n');
		}
	}
	if (t->nfailed > 0) {
		printf("failed (newest %d):\n", t->nfailed);
		for (i = 0; i < t->nfailed; i++) {
			const struct ds_rec *f = &t->failed[i];
			const char *why = failure_text(f);

			any_hook |= cli_cfg.role == ROLE_AGENT && f->state == DS_HOOK_FAILED;
			any_failed |= !(cli_cfg.role == ROLE_AGENT && f->state == DS_HOOK_FAILED);
			printf("  %s  %-24.24s %-11s %s\n", cli_when((double)f->updated_ns / 1e9,
			    ts, sizeof(ts)), cli_esc(f->name), cli_state_name(f->state),
			    why[0] ? cli_esc(why) : "(no reason recorded)");
		}
		if (cli_cfg.role == ROLE_AGENT)
			printf("  (sluice show DATASET for its history%s%s)\n",
			    any_failed ? "; sluice retry DATASET to send it again" : "",
			    any_hook ? "; sluice retry-hook DATASET to run its hook again" : "");
	}
}

int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct status	*s;
	int		 ch, json = 0, exitc;

	while ((ch = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': json = 1; break;
		default: return SL_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: sluice status [--json]\n");
		return SL_EXIT_USAGE;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		fprintf(stderr, "sluice: status: out of memory\n");
		return SL_EXIT_FAIL;
	}
	cli_ping(&s->pg, 5);
	s->t.json = json;
	s->t.active = json_array();
	if (json)
		s->t.arr = json_array();
	s->have_journal = cli_ds_foreach(1, tally_fn, &s->t) == 0;
	if (s->t.oldest_pending_ns)
		s->oldest = cli_now() - (double)s->t.oldest_pending_ns / 1e9;
	if (cli_cfg.role == ROLE_SINK && cli_cfg.root[0] &&
	    statvfs(cli_cfg.root, &s->sv) == 0)
		s->have_root = 1;
	if (cli_cfg.role == ROLE_AGENT) {
		s->failed = s->t.n[DS_FAILED];
		s->hook_failed = s->t.n[DS_HOOK_FAILED];
	} else
		s->failed = s->t.n[SDS_FAILED];
	s->exitc = cli_health(&s->pg, s->failed, s->hook_failed, &s->health, s->why,
	    sizeof(s->why));
	if (json)
		status_json(s);
	else
		status_text(s);
	json_decref(s->t.active);
	json_decref(s->t.arr);
	cli_ping_free(&s->pg);
	exitc = s->exitc;
	free(s);
	return exitc;
}
