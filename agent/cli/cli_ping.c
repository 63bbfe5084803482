/*
 * cli_ping.c: ask the daemon "ping" and read its reply into a struct, and
 * turn that plus the journal's failure count into one health word with
 * its exit status.  `status` and `watch` both print from here, so they
 * never show the daemon's raw key=value reply (epoch times, internal
 * names) and always agree on what "paused" or "not responding" means.
 *
 * Whether the daemon runs: a refused or missing socket is "not running"
 * (exit 3).  A socket that accepts but never answers is a daemon that is
 * alive and stuck (SIGSTOP, a hung disk): "not responding" (exit 4) with
 * the pid SO_PEERCRED gives for the listening process, so the operator
 * can look at it instead of starting a second one.
 *
 * The reply's format is the roles' business (send_ops.c cmd_ping,
 * role_sink.c sink_control, control.c's "daemon" line); a field this
 * version does not know is ignored, a missing one keeps its default.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "control.h"

/* One key=value field of a line; a value with spaces is double-quoted
 * with backslash escapes (log_q).  0 if found. */
static int
field(const char *line, const char *key, char *out, size_t outlen)
{
	const char	*p = line, *v;
	size_t		 klen = strlen(key), n;
	int		 match;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	while (*p) {
		while (*p == ' ')
			p++;
		if (*p == '\0' || *p == '\n')
			break;
		match = strncmp(p, key, klen) == 0 && p[klen] == '=';
		v = strchr(p, '=');
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
num(const char *line, const char *key, double def)
{
	char	v[64], *end;
	double	d;

	if (field(line, key, v, sizeof(v)) != 0)
		return def;
	d = strtod(v, &end);
	return end == v ? def : d;
}

/* The next line of text into a bounded buffer; NULL at the end. */
static const char *
next_line(const char *p, char *buf, size_t len)
{
	size_t n;

	if (p == NULL || *p == '\0')
		return NULL;
	n = strcspn(p, "\n");
	snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), p);
	return p[n] ? p + n + 1 : p + n;
}

static void
parse_dest(struct cli_ping *pg, const char *l)
{
	struct cli_dest	*d;
	char		 m[64], *dash;

	if (pg->ndest >= CLI_MAX_DEST)
		return;
	d = &pg->dests[pg->ndest++];
	field(l, "dest", d->text, sizeof(d->text));
	field(l, "state", d->state, sizeof(d->state));
	d->down_since = num(l, "down_since", 0);
	d->paused_until = num(l, "paused_until", 0);
	d->current = num(l, "current", 0) != 0;
	if (field(l, "maintenance", m, sizeof(m)) == 0 && (dash = strchr(m, '-'))) {
		*dash = '\0';
		d->maint_start = strtod(m, NULL);
		d->maint_end = strtod(dash + 1, NULL);
	}
}

static void
parse_agent(struct cli_ping *pg, const char *l)
{
	struct cli_agent *a;

	if (pg->nagent >= CLI_MAX_AGENT)
		return;
	a = &pg->agents[pg->nagent++];
	field(l, "agent", a->id, sizeof(a->id));
	field(l, "from", a->from, sizeof(a->from));
	field(l, "tls", a->tls, sizeof(a->tls));
	a->streams = (int)num(l, "streams", 0);
	a->receiving = (uint64_t)num(l, "receiving", 0);
	a->published = (uint64_t)num(l, "published", 0);
	a->failed = (uint64_t)num(l, "failed", 0);
	a->bytes = (uint64_t)num(l, "bytes", 0);
}

static void
parse(struct cli_ping *pg, const char *text)
{
	char		 l[2048];
	const char	*p = text;

	while ((p = next_line(p, l, sizeof(l))) != NULL) {
		if (strncmp(l, "role=", 5) == 0) {
			field(l, "dest", pg->dest, sizeof(pg->dest));
			field(l, "link", pg->link, sizeof(pg->link));
			field(l, "why", pg->why, sizeof(pg->why));
			if (strcmp(pg->why, "-") == 0)
				pg->why[0] = '\0';
			field(l, "current", pg->current, sizeof(pg->current));
			if (strspn(pg->current, "0") == strlen(pg->current))
				pg->current[0] = '\0';
			pg->since = num(l, "since", 0);
			pg->paused_until = num(l, "paused_until", 0);
			pg->streams = (int)num(l, "streams", 0);
			pg->rate_now = num(l, "rate_5s", -1);
			pg->rate_avg = num(l, "rate_5m", -1);
			pg->rate_window = num(l, "rate_window", -1);
			pg->spool_pct = (int)num(l, "spool_pct", -1);
			field(l, "spool_level", pg->spool_level, sizeof(pg->spool_level));
			field(l, "listen", pg->listen, sizeof(pg->listen));
			pg->connections = (int)num(l, "connections", 0);
			pg->receiving = (int)num(l, "receiving", 0);
		} else if (strncmp(l, "dest=", 5) == 0)
			parse_dest(pg, l);
		else if (strncmp(l, "agent=", 6) == 0)
			parse_agent(pg, l);
		else if (strncmp(l, "daemon ", 7) == 0) {
			pg->started = num(l + 7, "started", 0);
			pg->pid = (long)num(l + 7, "pid", 0);
		}
	}
}

void
cli_ping(struct cli_ping *pg, double timeout)
{
	char	*text = NULL;
	long	 pid = 0;
	int	 rc, status = SL_OK;

	memset(pg, 0, sizeof(*pg));
	pg->rate_now = pg->rate_avg = pg->rate_window = -1;
	pg->spool_pct = -1;
	rc = ctl_call_pid(cli_cfg.control, "ping", 0, NULL, timeout, &status, &text,
	    &pid, pg->err, sizeof(pg->err));
	if (rc == SL_OK && status == SL_OK) {
		pg->daemon = CLI_UP;
		snprintf(pg->info, sizeof(pg->info), "%.*s", (int)strcspn(text, "\n"), text);
		parse(pg, text);
		if (pg->pid == 0)
			pg->pid = pid;
		pg->raw = text;		/* the lanes read it whole (cli_lanes.c) */
		text = NULL;
	} else if (rc == SL_EAGAIN && pid > 0) {
		/* connected, then silence: alive but stuck */
		pg->daemon = CLI_NOT_RESPONDING;
		pg->pid = pid;
		snprintf(pg->err, sizeof(pg->err), "pid %ld accepts on %s but did not "
		    "answer within %.0fs", pid, cli_cfg.control, timeout);
	} else {
		pg->daemon = CLI_NOT_RUNNING;
		if (rc == SL_OK)
			snprintf(pg->err, sizeof(pg->err), "ping: %s", text ? text : "error");
	}
	free(text);
}

void
cli_ping_free(struct cli_ping *pg)
{
	free(pg->raw);
	pg->raw = NULL;
}

const char *
cli_daemon_word(int daemon)
{
	switch (daemon) {
	case CLI_UP:			return "up";
	case CLI_NOT_RESPONDING:	return "not_responding";
	}
	return "down";
}

/*
 * Health from the daemon's answer and the journal's failures (failed =
 * failed datasets, hook_failed = datasets whose hook gave up):
 *   not_running (json "down") exit 3, not_responding exit 4;
 *   degraded exit 1: anything failed, or the link not up for a reason
 *     nobody planned (down, backoff, connecting);
 *   paused / maintenance exit 0: the link waits because an operator
 *     paused it or a configured window is open; that pages nobody;
 *   healthy exit 0.
 * why gets a short phrase for the header ("2 failed", "link down: ...").
 */
int
cli_health(const struct cli_ping *pg, uint64_t failed, uint64_t hook_failed,
    const char **word, char *why, size_t whylen)
{
	why[0] = '\0';
	if (pg->daemon == CLI_NOT_RUNNING) {
		*word = "down";
		snprintf(why, whylen, "daemon not running");
		return SL_EXIT_DOWN;
	}
	if (pg->daemon == CLI_NOT_RESPONDING) {
		*word = "not_responding";
		snprintf(why, whylen, "daemon pid %ld not responding", pg->pid);
		return SL_EXIT_HUNG;
	}
	if (failed || hook_failed) {
		*word = "degraded";
		if (failed && hook_failed)
			snprintf(why, whylen, "%llu failed, %llu hook_failed",
			    (unsigned long long)failed, (unsigned long long)hook_failed);
		else if (failed)
			snprintf(why, whylen, "%llu failed", (unsigned long long)failed);
		else
			snprintf(why, whylen, "%llu hook_failed",
			    (unsigned long long)hook_failed);
		return SL_EXIT_FAIL;
	}
	if (cli_cfg.role == ROLE_SINK || strcmp(pg->link, "up") == 0) {
		*word = "healthy";
		return SL_EXIT_OK;
	}
	if (strcmp(pg->link, "waiting") == 0) {
		/* every destination paused (all of them, or each one by one)
		 * or in a maintenance window: planned either way */
		int i, paused = 0, maint = 0;

		for (i = 0; i < pg->ndest; i++) {
			paused += strcmp(pg->dests[i].state, "paused") == 0;
			maint += strcmp(pg->dests[i].state, "maintenance") == 0;
		}
		if (strcmp(pg->why, "paused") == 0 || (maint == 0 && paused > 0)) {
			*word = "paused";
			snprintf(why, whylen, "paused by an operator");
		} else {
			*word = "maintenance";
			snprintf(why, whylen, "%s", maint && !paused ? "maintenance window" :
			    pg->why[0] ? pg->why : "maintenance window");
		}
		return SL_EXIT_OK;
	}
	*word = "degraded";
	snprintf(why, whylen, "link %s", pg->link[0] ? pg->link : "unknown");
	return SL_EXIT_FAIL;
}

const char *
cli_when(double epoch, char *buf, size_t len)
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

const char *
cli_daemon_line(const struct cli_ping *pg, char *buf, size_t len)
{
	char	b[32], ts[64];

	if (pg->daemon == CLI_NOT_RUNNING)
		snprintf(buf, len, "NOT RUNNING (%s)", pg->err);
	else if (pg->daemon == CLI_NOT_RESPONDING)
		snprintf(buf, len, "NOT RESPONDING: pid %ld is alive but did not answer "
		    "(stopped or hung?)", pg->pid);
	else if (pg->started > 0)
		snprintf(buf, len, "up since %s (%s), pid %ld", cli_when(pg->started, ts,
		    sizeof(ts)), cli_duration(cli_now() - pg->started, b, sizeof(b)),
		    pg->pid);
	else
		snprintf(buf, len, "up");
	return buf;
}

const char *
cli_link_line(const struct cli_ping *pg, char *buf, size_t len)
{
	char	b[32], ts[64];
	int	n;

	if (pg->daemon != CLI_UP) {
		snprintf(buf, len, "unknown (daemon %s); destination %s",
		    pg->daemon == CLI_NOT_RESPONDING ? "not responding" : "not running",
		    cli_cfg.destination);
		return buf;
	}
	n = snprintf(buf, len, "%s to %s", pg->link[0] ? pg->link : "unknown", pg->dest);
	if (n > 0 && (size_t)n < len && pg->since > 0)
		n += snprintf(buf + n, len - (size_t)n, " since %s (%s)",
		    cli_when(pg->since, ts, sizeof(ts)),
		    cli_duration(cli_now() - pg->since, b, sizeof(b)));
	if (n > 0 && (size_t)n < len && pg->why[0])
		n += snprintf(buf + n, len - (size_t)n, ": %s", cli_esc(pg->why));
	if (n > 0 && (size_t)n < len && pg->paused_until > cli_now() &&
	    pg->paused_until < 1e17)
		snprintf(buf + n, len - (size_t)n, " until %s",
		    cli_when(pg->paused_until, ts, sizeof(ts)));
	return buf;
}

const char *
cli_dest_line(const struct cli_dest *d, char *buf, size_t len)
{
	char	b[32], ts[64], ts2[64];
	int	n;

	n = snprintf(buf, len, "%s%s: %s", d->text, d->current ? " (current)" : "",
	    d->state);
	if (n < 0 || (size_t)n >= len)
		return buf;
	if (d->paused_until > 0 && d->paused_until < 1e17)
		n += snprintf(buf + n, len - (size_t)n, " until %s",
		    cli_when(d->paused_until, ts, sizeof(ts)));
	else if (strcmp(d->state, "down") == 0 && d->down_since > 0)
		n += snprintf(buf + n, len - (size_t)n, " since %s (%s)",
		    cli_when(d->down_since, ts, sizeof(ts)),
		    cli_duration(cli_now() - d->down_since, b, sizeof(b)));
	if (n > 0 && (size_t)n < len && d->maint_end > 0)
		snprintf(buf + n, len - (size_t)n, "; maintenance %s to %s",
		    cli_when(d->maint_start, ts, sizeof(ts)),
		    cli_when(d->maint_end, ts2, sizeof(ts2)));
	return buf;
}
