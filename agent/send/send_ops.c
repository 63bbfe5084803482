/*
 * send_ops.c: the agent's operator surface: control-socket commands
 * (submit, ping, pause, resume, retry, cancel, retry-hook), the ingest
 * hand-off, the once-a-second housekeeping tick (spool marks, retention,
 * blocked destinations) and the Prometheus metrics.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent_hook.h"
#include "digest.h"
#include "ingest.h"
#include "job.h"
#include "log.h"
#include "mreg.h"
#include "pathchk.h"
#include "roles.h"
#include "sltime.h"
#include "walk.h"
#include "send_int.h"
#include "send_link.h"
#include "send_ops.h"
#include "send_queue.h"
#include "send_sched.h"
#include "send_xfer.h"

/* ---- control ------------------------------------------------------------ */

/* The route a dataset asks for with its metadata key "route" (`sluice
 * submit --route`, an ingest sidecar): transfer (the default, pushed to
 * the sink) or job (pulled by a Slurm job, [job]).  SL_EINVAL with msg
 * for any other value, or job when route job is not configured. */
static int
route_of(const struct agent *a, const struct ds_rec *d, int *job, char *msg,
    size_t msglen)
{
	uint32_t i;

	*job = 0;
	for (i = 0; i < d->nmeta; i++) {
		if (strcmp(d->meta[i][0], "route") != 0)
			continue;
		if (strcmp(d->meta[i][1], "transfer") == 0)
			*job = 0;
		else if (strcmp(d->meta[i][1], "job") == 0)
			*job = 1;
		else {
			snprintf(msg, msglen, "route \"%s\": unknown (transfer or job)",
			    d->meta[i][1]);
			return SL_EINVAL;
		}
	}
	if (*job && a->pull == NULL) {
		snprintf(msg, msglen, "route job: this agent has no [job] pull_listen "
		    "configured");
		return SL_EINVAL;
	}
	return SL_OK;
}

static int
name_taken(const struct ds_rec *r, void *arg)
{
	const char **name = arg;

	if (r->state != DS_FAILED && strcmp(r->name, *name) == 0) {
		*name = NULL;
		return 1;
	}
	return 0;
}


/* The files of dataset directory dir, as walk_dataset finds them (the
 * seal marker left out). */
static int
walk_source(struct agent *a, const char *dir, struct file_rec **files,
    uint32_t *nfiles, uint64_t *total, uint64_t *nchunks, char *err, size_t errlen)
{
	return walk_dataset(dir, a->cfg->seal_marker[0] ? a->cfg->seal_marker : NULL,
	    a->cfg->chunk_size, files, nfiles, total, nchunks, err, errlen);
}

/* Journal the dataset in directory dir (absolute) under name ("" = the
 * directory's base name) with metadata d->meta, and queue it.  msg gets
 * the answer for the operator.  d is the caller's (meta owned by it).
 * *source_bad (may be NULL) is set to 1 when what failed is the source
 * or its name (a file that cannot be read, an entry that is not a regular
 * file, a path the agent cannot open, too many files, the name taken),
 * which no retry mends by itself; 0 when it is the journal or memory. */
static int
submit_dataset(struct agent *a, const char *dir, const char *name_in,
    struct ds_rec *d, char *msg, size_t msglen, int *source_bad)
{
	struct file_rec	*files = NULL;
	struct ads	*ad;
	char		 name[SL_MAX_NAME + 1], err[SL_MAX_MSG];
	const char	*why, *np;
	uint32_t	 nfiles;
	uint64_t	 total, nchunks;
	struct timespec	 ts;
	int		 rc, bad = 0, job = 0;

	if (source_bad == NULL)
		source_bad = &bad;
	*source_bad = 1;
	if (dir[0] != '/') {
		snprintf(msg, msglen, "%s: source directory must be an absolute path", dir);
		return SL_EINVAL;
	}
	snprintf(name, sizeof(name), "%s", name_in);
	if (name[0] == '\0') {
		const char *base = strrchr(dir, '/');
		snprintf(name, sizeof(name), "%s", base[1] ? base + 1 : "dataset");
	}
	if (pathchk_name(name, strlen(name), &why) != SL_OK) {
		snprintf(msg, msglen, "dataset name \"%s\": %s", name, why);
		return SL_EINVAL;
	}
	rc = route_of(a, d, &job, msg, msglen);
	if (rc != SL_OK)
		return rc;
	np = name;
	journal_ds_foreach(a->j, name_taken, &np);
	if (np == NULL) {
		snprintf(msg, msglen, "dataset name \"%s\" is already in the journal "
		    "(names are unique at the sink); use --name", name);
		return SL_EEXIST;
	}
	rc = walk_source(a, dir, &files, &nfiles, &total, &nchunks, err, sizeof(err));
	if (rc != SL_OK) {
		snprintf(msg, msglen, "%s", err);
		*source_bad = rc != SL_ENOMEM;
		return rc;
	}
	*source_bad = 0;
	do {
		rc = digest_random(&d->id, sizeof(d->id));
	} while (rc == SL_OK && d->id == 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	d->state = DS_QUEUED;
	d->created_ns = d->updated_ns = (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
	d->chunk_size = a->cfg->chunk_size;
	d->nfiles = nfiles;
	d->nchunks = nchunks;
	d->bytes = total;
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->src, sizeof(d->src), "%s", dir);
	d->dest[0] = '\0';	/* bound when first opened at a destination */
	if (job)		/* journaled with it: never pushed (send_pull.c) */
		snprintf(d->dest, sizeof(d->dest), "%s", DS_ROUTE_JOB);
	rc = journal_ds_create(a->j, d, files, nfiles);
	free(files);
	if (rc != SL_OK) {
		snprintf(msg, msglen, "journal: %s", sl_strerror(rc));
		return rc;
	}
	if (job) {
		ajob_queued(a->job, d->id);
		log_info("dataset", "dataset=%016llx name=%s state=queued route=job src=%s "
		    "files=%u bytes=%llu chunks=%llu", (unsigned long long)d->id,
		    log_q(name), log_q(dir), nfiles, (unsigned long long)total,
		    (unsigned long long)nchunks);
		goto done;
	}
	ad = ads_new(d);
	if (ad == NULL) {
		snprintf(msg, msglen, "out of memory (dataset is journaled and will be "
		    "sent after a restart)");
		return SL_ENOMEM;
	}
	queue_add(a, ad);
	log_info("dataset", "dataset=%016llx name=%s state=queued src=%s files=%u "
	    "bytes=%llu chunks=%llu", (unsigned long long)d->id, log_q(name), log_q(dir),
	    nfiles, (unsigned long long)total, (unsigned long long)nchunks);
	xfer_next(a);
done:
	snprintf(msg, msglen, "%016llx %s files=%u bytes=%llu chunks=%llu",
	    (unsigned long long)d->id, name, nfiles, (unsigned long long)total,
	    (unsigned long long)nchunks);
	return SL_OK;
}

/* "lane:live", "lane:backlog" or "lane:auto" into *lane. */
static int
lane_arg(struct wire_str s, uint32_t *lane, char *msg, size_t msglen)
{
	static const char *names[] = { "auto", "live", "backlog" };
	uint32_t i;

	for (i = 0; i <= LANE_MAX; i++)
		if (s.len == 5 + strlen(names[i]) &&
		    memcmp(s.p + 5, names[i], s.len - 5) == 0) {
			*lane = i;
			return SL_OK;
		}
	snprintf(msg, msglen, "lane \"%.*s\": want live, backlog or auto",
	    (int)(s.len > 64 ? 64 : s.len), s.p);
	return SL_EINVAL;
}

static int
cmd_submit(struct agent *a, const struct wire_ctl_req *req, struct wbuf *out)
{
	struct ds_rec	 d;
	char		 dir[SL_MAX_PATH + 1], name[SL_MAX_NAME + 1];
	char		 msg[SL_MAX_MSG + 128];
	uint32_t	 i, first;
	int		 rc;

	memset(&d, 0, sizeof(d));
	if (req->argc < 2 || wire_str_copy(dir, sizeof(dir), req->argv[0]) != SL_OK ||
	    wire_str_copy(name, sizeof(name), req->argv[1]) != SL_OK) {
		snprintf(msg, sizeof(msg), "usage: submit DIR NAME [lane:LANE] [KEY=VALUE...]");
		rc = SL_EINVAL;
		goto reply;
	}
	first = 2;
	if (req->argc > 2 && req->argv[2].len >= 5 &&
	    memcmp(req->argv[2].p, "lane:", 5) == 0) {
		rc = lane_arg(req->argv[2], &d.lane, msg, sizeof(msg));
		if (rc != SL_OK)
			goto reply;
		first = 3;
	}
	if (req->argc - first > SL_MAX_META) {
		snprintf(msg, sizeof(msg), "more than %d metadata pairs", SL_MAX_META);
		rc = SL_ETOOBIG;
		goto reply;
	}
	d.nmeta = req->argc - first;
	if (d.nmeta) {
		d.meta = calloc(d.nmeta, sizeof(*d.meta));
		if (d.meta == NULL) {
			rc = SL_ENOMEM;
			snprintf(msg, sizeof(msg), "out of memory");
			goto reply;
		}
	}
	for (i = 0; i < d.nmeta; i++) {
		struct wire_str kv = req->argv[first + i];
		const char *eq = memchr(kv.p, '=', kv.len);
		size_t klen = eq ? (size_t)(eq - kv.p) : 0;

		if (eq == NULL || klen == 0 || klen > SL_MAX_META_KEY ||
		    kv.len - klen - 1 > SL_MAX_META_VAL ||
		    strspn(kv.p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789._-") < klen) {
			snprintf(msg, sizeof(msg), "metadata \"%.*s\": want KEY=VALUE "
			    "(key 1..%d of A-Z a-z 0-9 . _ -, value up to %d bytes)",
			    (int)(kv.len > 64 ? 64 : kv.len), kv.p, SL_MAX_META_KEY,
			    SL_MAX_META_VAL);
			rc = SL_EINVAL;
			goto reply;
		}
		memcpy(d.meta[i][0], kv.p, klen);
		memcpy(d.meta[i][1], eq + 1, kv.len - klen - 1);
	}
	rc = submit_dataset(a, dir, name, &d, msg, sizeof(msg), NULL);
reply:
	ds_rec_free(&d);
	wbuf_puts(out, msg);
	return rc;
}

/* Directory dir cannot be journaled (why names the file): record it failed,
 * so that it shows in ls, status and the metrics, is logged once (here),
 * and a restart finds it.  d holds its metadata.  0 when recorded. */
static int
record_unjournaled(struct agent *a, const char *dir, struct ds_rec *d,
    const char *why)
{
	const char	*base = strrchr(dir, '/');
	char		 reason[SL_MAX_MSG + 1];
	struct timespec	 ts;
	int		 rc;

	do {
		rc = digest_random(&d->id, sizeof(d->id));
	} while (rc == SL_OK && d->id == 0);
	if (rc != SL_OK)
		return 1;
	clock_gettime(CLOCK_REALTIME, &ts);
	d->created_ns = d->updated_ns = (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
	d->chunk_size = a->cfg->chunk_size;
	snprintf(d->name, sizeof(d->name), "%s", base && base[1] ? base + 1 : dir);
	snprintf(d->src, sizeof(d->src), "%s", dir);
	snprintf(reason, sizeof(reason), "not journaled: %s (fix the source, then "
	    "sluice retry)", why);
	rc = journal_ds_create_failed(a->j, d, reason);
	if (rc != SL_OK) {
		log_err("ingest", "dir=%s cannot journal: %s; nor record it failed: "
		    "journal: %s", log_q(dir), log_q(why), sl_strerror(rc));
		return 1;
	}
	log_err("dataset", "dataset=%016llx name=%s state=failed src=%s error=%s",
	    (unsigned long long)d->id, log_q(d->name), log_q(dir), log_q(reason));
	return 0;
}

/* 1 when dir is directly beneath one of the comma-separated list's
 * directories. */
static int
in_spools(const char *list, const char *dir)
{
	const char	*p = list, *e;
	size_t		 n;

	while (*p) {
		p += strspn(p, " \t,");
		e = p + strcspn(p, ",");
		n = (size_t)(e - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '/'))
			n--;
		if (n > 0 && strncmp(dir, p, n) == 0 && dir[n] == '/' &&
		    strchr(dir + n + 1, '/') == NULL)
			return 1;
		p = e;
	}
	return 0;
}

/* The lane of a dataset from spool directory dir's spool ([ingest]
 * live_spool, backlog_spool); LANE_AUTO for the others. */
static uint32_t
spool_lane(const struct config *cfg, const char *dir)
{
	if (in_spools(cfg->live_spool, dir))
		return LANE_LIVE;
	if (in_spools(cfg->backlog_spool, dir))
		return LANE_BACKLOG;
	return LANE_AUTO;
}

/* Every directory of one lane's list is a spool, and in no other lane. */
static int
lane_list_check(const struct config *cfg, const char *key, const char *list,
    const char *other, char *err, size_t errlen)
{
	char		 probe[4096 + 3];
	const char	*p = list, *e;
	size_t		 n;

	while (*p) {
		p += strspn(p, " \t,");
		e = p + strcspn(p, ",");
		n = (size_t)(e - p);
		while (n > 1 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '/'))
			n--;
		if (n > 0) {
			snprintf(probe, sizeof(probe), "%.*s/x", (int)n, p);
			if (!in_spools(cfg->spool, probe)) {
				snprintf(err, errlen, "%s: [ingest] %s: %.*s is not one of "
				    "the spool directories (%s)", cfg->path, key, (int)n, p,
				    cfg->spool[0] ? cfg->spool : "none");
				return SL_EINVAL;
			}
			if (in_spools(other, probe)) {
				snprintf(err, errlen, "%s: [ingest] %.*s is in both live_spool "
				    "and backlog_spool", cfg->path, (int)n, p);
				return SL_EINVAL;
			}
		}
		p = e;
	}
	return SL_OK;
}

int
spool_lanes_check(const struct config *cfg, char *err, size_t errlen)
{
	int rc;

	rc = lane_list_check(cfg, "live_spool", cfg->live_spool, cfg->backlog_spool,
	    err, errlen);
	if (rc == SL_OK)
		rc = lane_list_check(cfg, "backlog_spool", cfg->backlog_spool,
		    cfg->live_spool, err, errlen);
	if (rc == SL_OK)
		rc = lane_list_check(cfg, "job_spool", cfg->job_spool, "", err, errlen);
	if (rc == SL_OK && cfg->job_spool[strspn(cfg->job_spool, " \t,")] != '\0' &&
	    cfg->job_listen[0] == '\0') {
		snprintf(err, errlen, "%s: [ingest] job_spool: route job is not configured "
		    "here (no [job] pull_listen)", cfg->path);
		rc = SL_EINVAL;
	}
	return rc;
}

/* A dataset sealed in an [ingest] job_spool takes route job, unless its
 * sidecar names a route itself (the more specific word).  SL_OK, or
 * SL_ENOMEM. */
static int
spool_route(const struct config *cfg, const char *dir, struct ds_rec *d)
{
	char	(*m)[2][SL_MAX_META_VAL + 1];
	uint32_t i;

	if (!in_spools(cfg->job_spool, dir))
		return SL_OK;
	for (i = 0; i < d->nmeta; i++)
		if (strcmp(d->meta[i][0], "route") == 0)
			return SL_OK;
	if (d->nmeta >= SL_MAX_META)
		return SL_OK;	/* submit refuses it by its own count anyway */
	m = realloc(d->meta, (d->nmeta + 1) * sizeof(*d->meta));
	if (m == NULL)
		return SL_ENOMEM;
	d->meta = m;
	memset(d->meta[d->nmeta], 0, sizeof(d->meta[d->nmeta]));
	snprintf(d->meta[d->nmeta][0], sizeof(d->meta[d->nmeta][0]), "route");
	snprintf(d->meta[d->nmeta][1], sizeof(d->meta[d->nmeta][1]), "job");
	d->nmeta++;
	return SL_OK;
}

/* Ingest found a sealed dataset: journal it like `sluice submit`.  Ingest
 * offers every directory of the spool again after a restart: one already
 * journaled in any state (shipped, on its way, failed, also one that could
 * not be journaled: record_unjournaled) is not taken again; a failed one
 * waits for `sluice retry`. */
int
ingest_sealed(void *arg, const char *dir, const struct ingest_meta *meta)
{
	struct agent	*a = arg;
	struct ds_rec	 d;
	uint64_t	 id;
	char		 msg[SL_MAX_MSG + 128];
	int		 rc, bad = 0;

	rc = journal_src_find(a->j, dir, &id);
	if (rc == SL_OK)
		return 0;	/* journaled already (before a restart) */
	if (rc != SL_ENOTFOUND)
		return 1;	/* try again later */
	memset(&d, 0, sizeof(d));
	d.lane = spool_lane(a->cfg, dir);
	if (meta->error[0])
		log_warnx("ingest", "dir=%s metadata not used: %s (the file is shipped "
		    "as it is)", log_q(dir), log_q(meta->error));
	if (meta->n > 0) {
		d.meta = calloc(meta->n, sizeof(*d.meta));
		if (d.meta == NULL)
			return 1;
		memcpy(d.meta, meta->kv, meta->n * sizeof(*d.meta));
		d.nmeta = meta->n;
	}
	if (spool_route(a->cfg, dir, &d) != SL_OK) {
		ds_rec_free(&d);
		return 1;
	}
	rc = submit_dataset(a, dir, "", &d, msg, sizeof(msg), &bad);
	if (rc != SL_OK && bad)
		rc = record_unjournaled(a, dir, &d, msg);
	else if (rc != SL_OK) {
		/* the journal or memory: may pass, try again later */
		log_warnx("ingest", "dir=%s cannot journal now: %s", log_q(dir),
		    log_q(msg));
		rc = 1;
	}
	ds_rec_free(&d);
	return rc == SL_OK ? 0 : 1;
}

/* Bytes per second acked over the last n ticks (seconds). */
static double
rate(const struct agent *a, unsigned n)
{
	unsigned have = a->ticks < n ? a->ticks : n;

	if (have == 0)
		return 0;
	return (double)(a->acked_bytes - a->rate_ring[(a->ticks - have) % 300]) / have;
}

/* "ping": liveness plus the link state, for `sluice status`. */
static int
cmd_ping(struct agent *a, struct wbuf *out)
{
	char	line[640];
	double	now = sl_time_wall();
	int	i;

	/* rate_5m is over rate_window seconds: fewer than 300 after start */
	snprintf(line, sizeof(line), "role=agent dest=%s link=%s since=%.0f why=%s "
	    "current=%016llx streams=%d spool_pct=%d spool_level=%s "
	    "rate_5s=%.0f rate_5m=%.0f rate_window=%u paused_until=%.0f\n",
	    a->dests[a->cur_dest].text, link_name(a->link),
	    a->link_since, a->link_why[0] ? log_q(a->link_why) : "-",
	    a->nact ? (unsigned long long)a->act[0]->rec.id : 0ULL, a->cfg->streams,
	    a->spool.pct, a->spool.pct < 0 ? "none" : a->spool.level == SPOOL_HIGH ?
	    "high" : a->spool.level == SPOOL_WARN ? "warn" : "ok", rate(a, 5),
	    rate(a, 300), a->ticks < 300 ? a->ticks : 300,
	    a->paused_until > now ? a->paused_until : 0);
	wbuf_puts(out, line);
	/* One line per destination: state as this agent sees it. */
	for (i = 0; i < a->ndest; i++) {
		const struct dest	*dd = &a->dests[i];
		const char		*why = "", *st;
		int			 w;

		if (dest_blocked(a, i, now, &why))
			st = why;
		else if (i == a->cur_dest && a->link == LINK_UP)
			st = "up";
		else if (dd->down_since)
			st = "down";
		else
			st = "standby";
		snprintf(line, sizeof(line), "dest=%s state=%s down_since=%.0f "
		    "paused_until=%.0f current=%d", dd->text, st, dd->down_since,
		    dd->paused_until > now ? dd->paused_until : 0, i == a->cur_dest);
		wbuf_puts(out, line);
		for (w = 0; w < a->nwindows; w++)
			if (a->windows[w].dest == i && a->windows[w].end > now) {
				snprintf(line, sizeof(line), " maintenance=%.0f-%.0f",
				    a->windows[w].start, a->windows[w].end);
				wbuf_puts(out, line);
			}
		wbuf_puts(out, "\n");
	}
	sched_ping(a, out);
	return SL_OK;
}



/* "pause [DEST] [UNTIL]", "resume [DEST]". */
static int
cmd_pause(struct agent *a, const struct wire_ctl_req *req, struct wbuf *out, int pause)
{
	char		 dest[256] = "", until[64] = "", msg[512];
	double		 t = 1e18, now = sl_time_wall();
	int		 i = -1;

	if (req->argc > 0)
		wire_str_copy(dest, sizeof(dest), req->argv[0]);
	if (req->argc > 1)
		wire_str_copy(until, sizeof(until), req->argv[1]);
	if (dest[0] && strcmp(dest, "all") != 0 && (i = dest_index(a, dest)) < 0) {
		snprintf(msg, sizeof(msg), "no destination \"%s\" (have: %s)", dest,
		    a->cfg->destination);
		wbuf_puts(out, msg);
		return SL_ENOTFOUND;
	}
	if (pause && until[0] && (t = parse_time(until)) < 0) {
		snprintf(msg, sizeof(msg), "bad time \"%s\": use 2026-12-01T08:00:00Z "
		    "or seconds since the epoch", until);
		wbuf_puts(out, msg);
		return SL_EINVAL;
	}
	if (i < 0)
		a->paused_until = pause ? t : 0;
	else
		a->dests[i].paused_until = pause ? t : 0;
	snprintf(msg, sizeof(msg), "%s %s%s%s\n", pause ? "paused" : "resumed",
	    i < 0 ? "all destinations" : a->dests[i].text, pause && until[0] ?
	    " until " : "", pause && until[0] ? until : "");
	log_info("agent", "operator %s", msg);
	wbuf_puts(out, msg);
	if (pause && (i < 0 || i == a->cur_dest) && a->link != LINK_WAIT)
		link_switch(a, i < 0 ? "paused by operator" : "destination paused");
	else if (!pause)
		link_resume(a);	/* when waiting: look again now */
	(void)now;
	return SL_OK;
}

/* The one DATASET argument of a command, looked up in the journal into d
 * (caller frees).  Else the answer is in out: usage, or "no such dataset"
 * returning notfound (0: the journal's own code). */
static int
arg_dataset(struct agent *a, const struct wire_ctl_req *req, const char *usage,
    int notfound, struct ds_rec *d, struct wbuf *out)
{
	char	key[SL_MAX_NAME + 1], msg[SL_MAX_NAME + 128];
	int	rc;

	memset(d, 0, sizeof(*d));
	if (req->argc != 1 || wire_str_copy(key, sizeof(key), req->argv[0]) != SL_OK) {
		wbuf_puts(out, usage);
		return SL_EINVAL;
	}
	rc = journal_ds_find(a->j, key, d);
	if (rc != SL_OK) {
		snprintf(msg, sizeof(msg), "%s: no such dataset", key);
		wbuf_puts(out, msg);
		return notfound ? notfound : rc;
	}
	return SL_OK;
}

/* "retry DATASET" of a dataset that could not be journaled: walk its
 * source again (the operator fixed it) and queue it with its files. */
static int
retry_rewalk(struct agent *a, struct ds_rec *d, struct wbuf *out)
{
	struct file_rec	*files = NULL;
	struct ads	*ad;
	struct ds_rec	 r;
	char		 err[SL_MAX_MSG], msg[SL_MAX_MSG + 128];
	const char	*np = d->name;
	uint32_t	 nfiles;
	uint64_t	 total, nchunks;
	int		 rc;

	journal_ds_foreach(a->j, name_taken, &np);
	if (np == NULL) {
		snprintf(msg, sizeof(msg), "dataset name \"%s\" is taken by another "
		    "dataset; submit the directory under a new name (sluice submit "
		    "--name)", d->name);
		wbuf_puts(out, msg);
		return SL_EEXIST;
	}
	rc = walk_source(a, d->src, &files, &nfiles, &total, &nchunks, err, sizeof(err));
	if (rc != SL_OK) {
		snprintf(msg, sizeof(msg), "still cannot journal: %s", err);
		journal_ds_set_state(a->j, d->id, DS_FAILED, msg, NULL);
		log_warnx("dataset", "dataset=%016llx name=%s retry: %s",
		    (unsigned long long)d->id, log_q(d->name), log_q(msg));
		wbuf_puts(out, msg);
		return rc;
	}
	rc = journal_ds_refill(a->j, d->id, files, nfiles,
	    "source walked again and queued by operator");
	free(files);
	if (rc != SL_OK) {
		snprintf(msg, sizeof(msg), "journal: %s", sl_strerror(rc));
		wbuf_puts(out, msg);
		return rc;
	}
	memset(&r, 0, sizeof(r));
	rc = journal_ds_get(a->j, d->id, &r);
	if (rc == SL_OK && (ad = ads_new(&r)) != NULL) {
		queue_add(a, ad);
		xfer_next(a);
	}
	ds_rec_free(&r);
	log_info("dataset", "dataset=%016llx name=%s state=queued src=%s files=%u "
	    "bytes=%llu chunks=%llu (walked again by operator)",
	    (unsigned long long)d->id, log_q(d->name), log_q(d->src), nfiles,
	    (unsigned long long)total, (unsigned long long)nchunks);
	snprintf(msg, sizeof(msg), "%s walked again: %u files, %llu bytes; queued\n",
	    d->name, nfiles, (unsigned long long)total);
	wbuf_puts(out, msg);
	return SL_OK;
}

/* "retry DATASET [NAME]": a failed dataset goes back to the queue, under
 * a new name when NAME is given (the sink refused the old one: "name
 * taken at sink"). */
struct other_name {
	uint64_t	 id;
	const char	*name;
	int		 taken;
};

static int
other_has_name(const struct ds_rec *r, void *arg)
{
	struct other_name *o = arg;

	if (r->id != o->id && r->state != DS_FAILED && strcmp(r->name, o->name) == 0) {
		o->taken = 1;
		return 1;
	}
	return 0;
}

static int
cmd_retry(struct agent *a, const struct wire_ctl_req *req, struct wbuf *out)
{
	struct ds_rec	 d;
	struct ads	*ad;
	struct other_name on;
	char		 key[SL_MAX_NAME + 1], name[SL_MAX_NAME + 1] = "", msg[512];
	const char	*why;
	int		 rc;

	memset(&d, 0, sizeof(d));
	if (req->argc < 1 || req->argc > 2 ||
	    wire_str_copy(key, sizeof(key), req->argv[0]) != SL_OK ||
	    (req->argc == 2 && wire_str_copy(name, sizeof(name), req->argv[1]) != SL_OK)) {
		wbuf_puts(out, "usage: retry DATASET [NAME]");
		return SL_EINVAL;
	}
	if (name[0] != '\0' && pathchk_name(name, strlen(name), &why) != SL_OK) {
		snprintf(msg, sizeof(msg), "dataset name \"%s\": %s", name, why);
		wbuf_puts(out, msg);
		return SL_EINVAL;
	}
	rc = journal_ds_find(a->j, key, &d);
	if (rc != SL_OK) {
		snprintf(msg, sizeof(msg), "%s: no such dataset", key);
		wbuf_puts(out, msg);
		return rc;
	}
	if (d.state != DS_FAILED) {
		snprintf(msg, sizeof(msg), "%s is %s, not failed: nothing to retry",
		    d.name, ds_state_name(d.state));
		ds_rec_free(&d);
		wbuf_puts(out, msg);
		return SL_ESTATE;
	}
	if (name[0] != '\0' && strcmp(name, d.name) != 0) {
		on.id = d.id;
		on.name = name;
		on.taken = 0;
		journal_ds_foreach(a->j, other_has_name, &on);
		if (on.taken) {
			snprintf(msg, sizeof(msg), "dataset name \"%s\" is already in "
			    "the journal; choose another", name);
			ds_rec_free(&d);
			wbuf_puts(out, msg);
			return SL_EEXIST;
		}
		rc = journal_ds_rename(a->j, d.id, name);
		if (rc != SL_OK) {
			ds_rec_free(&d);
			wbuf_puts(out, sl_strerror(rc));
			return rc;
		}
		log_info("dataset", "dataset=%016llx name=%s renamed to %s by operator",
		    (unsigned long long)d.id, log_q(d.name), log_q(name));
		snprintf(d.name, sizeof(d.name), "%s", name);
	}
	if (journal_ds_rewalkable(&d)) {
		rc = retry_rewalk(a, &d, out);
		ds_rec_free(&d);
		return rc;
	}
	rc = journal_ds_set_state(a->j, d.id, DS_QUEUED, "retried by operator", NULL);
	if (rc == SL_OK && strcmp(d.dest, DS_ROUTE_JOB) == 0)
		ajob_queued(a->job, d.id);	/* a fresh submission */
	else if (rc == SL_OK && (ad = ads_new(&d)) != NULL) {
		ad->rec.state = DS_QUEUED;
		queue_add(a, ad);
		xfer_next(a);
	}
	snprintf(msg, sizeof(msg), "%s queued again\n", d.name);
	ds_rec_free(&d);
	wbuf_puts(out, rc == SL_OK ? msg : sl_strerror(rc));
	return rc;
}

/* "cancel DATASET": stop sending it (the source is kept). */
static int
cmd_cancel(struct agent *a, const struct wire_ctl_req *req, struct wbuf *out)
{
	struct ads	*d;
	struct ds_rec	 r;
	char		 msg[512];
	int		 rc;

	rc = arg_dataset(a, req, "usage: cancel DATASET", SL_ENOTFOUND, &r, out);
	if (rc != SL_OK)
		return rc;
	d = queue_find(a, r.id);
	if (d == NULL || d->rec.state == DS_COMMITTING) {
		snprintf(msg, sizeof(msg), "%s is %s: %s", r.name, ds_state_name(r.state),
		    d ? "already committing, it cannot be taken back" : "not queued");
		ds_rec_free(&r);
		wbuf_puts(out, msg);
		return SL_ESTATE;
	}
	ds_rec_free(&r);
	snprintf(msg, sizeof(msg), "%s cancelled (source kept)\n", d->rec.name);
	xfer_fail(a, d, "cancelled by operator");
	wbuf_puts(out, msg);
	return SL_OK;
}

/* "retry-hook DATASET": a hook_failed dataset runs its hook again. */
static int
cmd_retry_hook(struct agent *a, const struct wire_ctl_req *req, struct wbuf *out)
{
	struct ds_rec	 d;
	char		 msg[512];
	int		 rc;

	rc = arg_dataset(a, req, "usage: retry-hook DATASET", SL_ENOTFOUND, &d, out);
	if (rc != SL_OK)
		return rc;
	rc = ahook_retry(a->hook, d.id, msg, sizeof(msg));
	ds_rec_free(&d);
	wbuf_puts(out, msg);
	return rc;
}

int
agent_control(void *arg, const struct wire_ctl_req *req, struct wbuf *out)
{
	struct agent	*a = arg;
	char		 cmd[32];

	if (wire_str_copy(cmd, sizeof(cmd), req->command) != SL_OK)
		cmd[0] = '\0';
	if (strcmp(cmd, "submit") == 0)
		return cmd_submit(a, req, out);
	if (strcmp(cmd, "ping") == 0)
		return cmd_ping(a, out);
	if (strcmp(cmd, "pause") == 0)
		return cmd_pause(a, req, out, 1);
	if (strcmp(cmd, "resume") == 0)
		return cmd_pause(a, req, out, 0);
	if (strcmp(cmd, "retry") == 0)
		return cmd_retry(a, req, out);
	if (strcmp(cmd, "cancel") == 0)
		return cmd_cancel(a, req, out);
	if (strcmp(cmd, "retry-hook") == 0)
		return cmd_retry_hook(a, req, out);
	wbuf_puts(out, "unknown command");
	return SL_EINVAL;
}

/* Spool use against its marks, and the retention policy (every
 * RETENTION_TICKS seconds: it walks the journal). */
#define RETENTION_TICKS	5
static void
spool_check(struct agent *a, double now)
{
	int rc;

	if (retention_spool_use(a->cfg, &a->spool) != SL_OK) {
		a->spool.pct = -1;
		return;
	}
	if (a->spool.level != SPOOL_OK && now - a->spool_warned >= 60) {
		log_warnx("spool", "SPOOL %s: %s is %d%% full (warn at %d%%, high at "
		    "%d%%)%s", a->spool.level == SPOOL_HIGH ? "HIGH" : "WARNING",
		    log_q(a->spool.dir), a->spool.pct, a->cfg->spool_warn,
		    a->cfg->spool_high, a->cfg->retention == RET_KEEP ?
		    "; retention = keep, nothing will be removed" : "");
		a->spool_warned = now;
	}
	rc = retention_pass(a->cfg, a->j, now, &a->spool);
	if (rc > 0)
		retention_spool_use(a->cfg, &a->spool);
}

/* 1 when a dataset in flight waits for its COMMITTED. */
static int
committing(const struct agent *a)
{
	int i;

	for (i = 0; i < a->nact; i++)
		if (a->act[i]->phase == PH_COMMITTING)
			return 1;
	return 0;
}

/* Housekeeping once a second: a destination that became blocked (pause,
 * maintenance) is left; an idle session checks for a better destination. */
void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct agent	*a = w->data;
	const char	*why;
	double		 now = sl_time_wall();

	(void)loop; (void)revents;
	a->rate_ring[a->ticks % 300] = a->acked_bytes;
	if (a->ticks++ % RETENTION_TICKS == 0)
		spool_check(a, now);
	if (a->link == LINK_UP || a->link == LINK_CONNECTING) {
		if (dest_blocked(a, a->cur_dest, now, &why)) {
			/* COMMIT in flight: let it finish, it is short. */
			if (!committing(a))
				link_switch(a, why);
			return;
		}
		if (a->link == LINK_UP)
			xfer_next(a);	/* free slots; datasets age into the backlog */
		if (a->link == LINK_UP && now - a->link_since > 10)
			link_progress(a);	/* a session that stays up is healthy */
	}
}

/* ---- metrics -------------------------------------------------------------- */

struct msum {
	uint64_t	by_state[DS_STATE_MAX + 1];
	uint64_t	sent, resent, nacked, bytes_acked, queue_bytes;
	uint64_t	oldest_ns;	/* created_ns of the oldest unconfirmed; 0 = none */
};

static int
msum_fn(const struct ds_rec *d, void *arg)
{
	struct msum *m = arg;

	if (d->state >= 1 && d->state <= DS_STATE_MAX)
		m->by_state[d->state]++;
	m->sent += d->chunks_sent;
	m->resent += d->chunks_resent;
	m->nacked += d->chunks_nacked;
	m->bytes_acked += d->bytes_acked;
	if (!DS_PUBLISHED(d->state) && d->state != DS_FAILED) {
		m->queue_bytes += d->bytes - d->bytes_acked;
		if (m->oldest_ns == 0 || d->created_ns < m->oldest_ns)
			m->oldest_ns = d->created_ns;
	}
	return 0;
}

void
agent_metrics(void *arg, struct wbuf *out)
{
	struct agent	*a = arg;
	struct msum	 m;
	char		 lab[320];
	double		 now = sl_time_wall();
	const char	*why;
	int		 i;

	memset(&m, 0, sizeof(m));
	journal_ds_foreach(a->j, msum_fn, &m);
	mreg_family(out, "sluice_bytes_acked_total", "counter",
	    "Bytes the sink confirmed durable, all datasets in the journal.");
	mreg_sample(out, "sluice_bytes_acked_total", NULL, (double)m.bytes_acked);
	mreg_family(out, "sluice_chunks_sent_total", "counter", "DATA frames sent.");
	mreg_sample(out, "sluice_chunks_sent_total", NULL, (double)m.sent);
	mreg_family(out, "sluice_chunks_resent_total", "counter",
	    "Chunks sent again after a NACK or a lost session.");
	mreg_sample(out, "sluice_chunks_resent_total", NULL, (double)m.resent);
	mreg_family(out, "sluice_chunks_nacked_total", "counter",
	    "Chunks the sink rejected (checksum mismatch).");
	mreg_sample(out, "sluice_chunks_nacked_total", NULL, (double)m.nacked);
	mreg_family(out, "sluice_datasets", "gauge", "Datasets in the journal by state.");
	for (i = DS_QUEUED; i <= DS_STATE_MAX; i++) {
		snprintf(lab, sizeof(lab), "state=\"%s\"", ds_state_name(i));
		mreg_sample(out, "sluice_datasets", lab, (double)m.by_state[i]);
	}
	mreg_family(out, "sluice_queue_bytes", "gauge",
	    "Bytes journaled and not yet confirmed by a sink.");
	mreg_sample(out, "sluice_queue_bytes", NULL, (double)m.queue_bytes);
	/* the same datasets as sluice_queue_bytes, and `status`'s "oldest unsent" */
	mreg_family(out, "sluice_queue_oldest_age_seconds", "gauge",
	    "Age of the oldest dataset not yet confirmed by a sink (0: none).");
	mreg_sample(out, "sluice_queue_oldest_age_seconds", NULL, m.oldest_ns == 0 ? 0 :
	    now - (double)m.oldest_ns / 1e9 > 0 ? now - (double)m.oldest_ns / 1e9 : 0);
	mreg_family(out, "sluice_throughput_bytes_per_second", "gauge",
	    "Bytes confirmed per second, over the last 5 s.");
	mreg_sample(out, "sluice_throughput_bytes_per_second", NULL, rate(a, 5));
	mreg_family(out, "sluice_link_up", "gauge",
	    "1 while the session to this destination is up.");
	mreg_family(out, "sluice_destination_blocked", "gauge",
	    "1 while a destination is paused or in a maintenance window.");
	for (i = 0; i < a->ndest; i++) {
		snprintf(lab, sizeof(lab), "dest=\"%s\"", a->dests[i].text);
		mreg_sample(out, "sluice_link_up", lab,
		    i == a->cur_dest && a->link == LINK_UP);
		mreg_sample(out, "sluice_destination_blocked", lab,
		    dest_blocked(a, i, now, &why));
	}
	sched_metrics(a, out);
	if (a->spool.pct >= 0) {
		mreg_family(out, "sluice_spool_used_ratio", "gauge",
		    "Fullest spool file system, fraction used.");
		mreg_sample(out, "sluice_spool_used_ratio", NULL, a->spool.pct / 100.0);
		mreg_family(out, "sluice_spool_level", "gauge",
		    "0 ok, 1 above spool_warn, 2 above spool_high (the loud warning).");
		mreg_sample(out, "sluice_spool_level", NULL, a->spool.level == SPOOL_HIGH ? 2 :
		    a->spool.level == SPOOL_WARN ? 1 : 0);
	}
}
