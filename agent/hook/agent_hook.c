/*
 * agent_hook.c: when and how often the completion hook runs (see
 * agent_hook.h for the states and the crash rule).
 *
 * A small in-memory queue of (dataset, not-before time, kind: run, query
 * or fence probe) drives up to [hook] concurrency jobs at once through
 * hook.c's runner, earliest due first, never two for the same dataset; an
 * ev_timer wakes the queue when the earliest entry is due.  A job is one
 * dataset's and its outcome is journaled on that dataset's record alone,
 * so running several at once changes nothing of the exactly-once rule:
 * each still has its own hook_running record and fence marker, and a host
 * that hangs for one dataset holds one runner thread until its timeout.  Every decision
 * is journaled before it takes effect, so the queue can always be rebuilt
 * from the journal: a fenced hook_running (non-zero hook_next_ns) is
 * probed, an unfenced one queried or failed.  A fenced run is handed to the
 * runner wrapped (fence.c) and detached, so that neither a timeout nor a
 * stop kills it; its answer, not the wrapper's exit status, is the outcome.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ev.h>

#include "agent_hook.h"
#include "fence.h"
#include "hook.h"
#include "log.h"
#include "sltime.h"

enum job_kind { JOB_RUN, JOB_QUERY, JOB_PROBE };

struct hq {
	uint64_t	id;
	double		not_before;
	int		kind;
	uint32_t	tries;		/* JOB_QUERY, JOB_PROBE: asked before;
				 * JOB_RUN: host unreachable, in a row */
};

struct ahook {
	struct ev_loop		*loop;
	const struct config	*cfg;
	struct journal		*j;
	struct hook_runner	*runner;
	ev_timer		 timer;
	struct hq		*q;
	size_t			 n, alloc;
	/* Jobs with the runner: at most [hook] concurrency, never two for
	 * one dataset (each has its own fence marker and journal record). */
	struct hq		*run;
	size_t			 nrun, maxrun;
};

static void	kick(struct ahook *);

static int
q_add(struct ahook *h, uint64_t id, double not_before, int kind, uint32_t tries)
{
	if (h->n == h->alloc) {
		size_t na = h->alloc ? h->alloc * 2 : 16;
		struct hq *p = realloc(h->q, na * sizeof(*p));
		if (p == NULL)
			return SL_ENOMEM;
		h->q = p;
		h->alloc = na;
	}
	h->q[h->n++] = (struct hq){ id, not_before, kind, tries };
	return SL_OK;
}

/* Backoff before attempt n+1: retry_min * 2^(n-1), at most retry_max. */
static double
backoff(const struct config *cfg, uint32_t n)
{
	double d = cfg->hook_retry_min;

	while (n-- > 1 && d < cfg->hook_retry_max)
		d *= 2;
	return d < cfg->hook_retry_max ? d : cfg->hook_retry_max;
}

/* Runs are fenced at the remote (fence.h) unless [hook] state_dir = none. */
static int
fenced(const struct ahook *h)
{
	return h->cfg->hook_state_dir[0] != '\0' &&
	    strcmp(h->cfg->hook_state_dir, "none") != 0;
}

static void
count_retries(const struct hist_rec *r, void *arg)
{
	if (r->from == DS_HOOK_FAILED && r->to == DS_HOOK_PENDING)
		(*(uint32_t *)arg)++;
}

/* The marker of d's current attempt: operator retries (history entries
 * hook_failed -> hook_pending, durable and only added while no run is
 * outstanding) and the attempt number make it unique per run. */
static int
marker(struct ahook *h, const struct ds_rec *d, char *key, size_t len)
{
	uint32_t	 gen = 0;

	journal_history_foreach(h->j, d->id, count_retries, &gen);
	return fence_key(key, len, h->cfg->id, d->id, gen, d->hook_attempts);
}

static void
utc(int64_t t, char *buf, size_t len)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL)
		snprintf(buf, len, "an unknown time");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Expand a template for dataset d. */
static int
expand(struct ahook *h, const char *tmpl, const struct ds_rec *d, char **out,
    char *err, size_t errlen)
{
	struct hook_vars	 v;
	const char		*(*meta)[2] = NULL;
	char			 id[17], path[2 * SL_MAX_PATH + 2];
	uint32_t		 i;
	int			 rc;

	snprintf(id, sizeof(id), "%016llx", (unsigned long long)d->id);
	if (h->cfg->hook_remote_root[0])
		snprintf(path, sizeof(path), "%s/%s", h->cfg->hook_remote_root,
		    d->published[0] ? d->published : d->name);
	else
		snprintf(path, sizeof(path), "%s", d->published[0] ? d->published : d->name);
	if (d->nmeta) {
		meta = calloc(d->nmeta, sizeof(*meta));
		if (meta == NULL)
			return SL_ENOMEM;
		for (i = 0; i < d->nmeta; i++) {
			meta[i][0] = d->meta[i][0];
			meta[i][1] = d->meta[i][1];
		}
	}
	memset(&v, 0, sizeof(v));
	v.dataset = d->name;
	v.dataset_path = path;
	v.id = id;
	v.bytes = d->bytes;
	v.files = d->nfiles;
	v.nmeta = d->nmeta;
	v.meta = meta;
	rc = hook_expand(tmpl, &v, out, err, errlen);
	free(meta);
	return rc;
}

static void
fail_hook(struct ahook *h, const struct ds_rec *d, const char *reason)
{
	int rc;

	rc = journal_ds_hook(h->j, d->id, DS_HOOK_FAILED, d->hook_attempts,
	    d->hook_status, 0, NULL, NULL, reason);
	log_err("hook", "dataset=%016llx name=%s state=hook_failed reason=%s%s",
	    (unsigned long long)d->id, log_q(d->name), log_q(reason),
	    rc ? " (journal write failed)" : "");
}

/* Start the job at the head of the due entries. */
static void
start_job(struct ahook *h, struct hq e)
{
	struct ds_rec	 d;
	char		*cmd = NULL, *wrapped = NULL, err[512], why[640];
	char		 key[FENCE_KEY_MAX] = "";
	int		 rc, flags = 0, fence = 0;

	memset(&d, 0, sizeof(d));
	if (journal_ds_get(h->j, e.id, &d) != SL_OK)
		return;
	if (e.kind == JOB_RUN && d.state != DS_HOOK_PENDING)
		goto out;	/* retried or resolved meanwhile */
	if (e.kind == JOB_PROBE && d.state != DS_HOOK_RUNNING)
		goto out;
	if (e.kind != JOB_PROBE) {
		rc = expand(h, e.kind == JOB_RUN ? h->cfg->hook_command : h->cfg->hook_query,
		    &d, &cmd, err, sizeof(err));
		if (rc != SL_OK) {
			snprintf(why, sizeof(why), "hook command: %s", err);
			fail_hook(h, &d, why);
			goto out;
		}
	}
	fence = e.kind == JOB_PROBE || (e.kind == JOB_RUN && fenced(h));
	if (fence) {
		/* the run about to start is attempt hook_attempts + 1 */
		if (e.kind == JOB_RUN)
			d.hook_attempts++;
		rc = marker(h, &d, key, sizeof(key));
		if (e.kind == JOB_RUN)
			d.hook_attempts--;
		if (rc == SL_OK)
			rc = fence_command(e.kind == JOB_RUN ? FENCE_RUN : FENCE_PROBE,
			    h->cfg->hook_state_dir, key,
			    h->cfg->hook_kind == HOOK_EXEC ? "/bin/sh" : "", cmd,
			    &wrapped, err, sizeof(err));
		else
			snprintf(err, sizeof(err), "hook fence: agent id %s is no marker name",
			    h->cfg->id);
		if (rc != SL_OK) {
			fail_hook(h, &d, err);
			goto out;
		}
		free(cmd);
		cmd = wrapped;
		flags = HOOK_DETACH;
	}
	if (e.kind == JOB_RUN) {
		/* The promise: journaled before anything runs.  A fenced run
		 * says so with a non-zero hook_next_ns (journal.h): at restart
		 * only those are probed. */
		if (fence)
			snprintf(why, sizeof(why), "hook started (attempt %u of %d, fenced as %s)",
			    d.hook_attempts + 1, h->cfg->hook_attempts, key);
		else
			snprintf(why, sizeof(why), "hook started (attempt %u of %d)",
			    d.hook_attempts + 1, h->cfg->hook_attempts);
		rc = journal_ds_hook(h->j, d.id, DS_HOOK_RUNNING, d.hook_attempts + 1,
		    -1, fence ? (uint64_t)(sl_time_wall() * 1e9) : 0, "", "", why);
		if (rc != SL_OK) {
			log_err("hook", "dataset=%016llx cannot journal hook_running: %s; "
			    "not starting it", (unsigned long long)d.id, sl_strerror(rc));
			q_add(h, e.id, sl_time_wall() + 5, e.kind, e.tries);
			goto out;
		}
		log_info("hook", "dataset=%016llx name=%s state=hook_running attempt=%u%s%s",
		    (unsigned long long)d.id, log_q(d.name), d.hook_attempts + 1,
		    fence ? " fence=" : "", fence ? key : "");
	} else if (e.kind == JOB_PROBE)
		log_info("hook", "dataset=%016llx name=%s probing the fence %s: did the "
		    "hook run?", (unsigned long long)d.id, log_q(d.name), key);
	else
		log_info("hook", "dataset=%016llx name=%s querying whether the "
		    "interrupted hook ran", (unsigned long long)d.id, log_q(d.name));
	if (hook_runner_submit_flags(h->runner, d.id, cmd, flags) != SL_OK) {
		/* a fenced run already journaled hook_running: ask the fence */
		q_add(h, e.id, sl_time_wall() + 5, e.kind == JOB_RUN && fence ?
		    JOB_PROBE : e.kind, e.tries);
		goto out;
	}
	h->run[h->nrun++] = e;
out:
	free(cmd);
	ds_rec_free(&d);
}

/* 1 when a job for dataset id is with the runner. */
static int
running(const struct ahook *h, uint64_t id)
{
	size_t i;

	for (i = 0; i < h->nrun; i++)
		if (h->run[i].id == id)
			return 1;
	return 0;
}

/* Start due jobs, earliest first, while runner slots are free; arm the
 * timer for the earliest one not yet due. */
static void
kick(struct ahook *h)
{
	double	now;
	size_t	i, best;

	while (h->nrun < h->maxrun) {
		now = sl_time_wall();
		best = (size_t)-1;
		for (i = 0; i < h->n; i++) {
			if (running(h, h->q[i].id))
				continue;	/* its answer first: it decides what next */
			if (best == (size_t)-1 || h->q[i].not_before < h->q[best].not_before)
				best = i;
		}
		if (best == (size_t)-1)
			return;
		if (h->q[best].not_before > now) {
			ev_timer_stop(h->loop, &h->timer);
			ev_timer_set(&h->timer, h->q[best].not_before - now, 0);
			ev_timer_start(h->loop, &h->timer);
			return;
		}
		{
			struct hq e = h->q[best];
			h->q[best] = h->q[--h->n];
			start_job(h, e);	/* may drop it, or queue it again */
		}
	}
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop; (void)revents;
	kick(w->data);
}

/* Record a run's outcome: ran (exited with status, output out/err) or
 * could not run (msg); done, a retry with backoff, or hook_failed. */
static void
outcome(struct ahook *h, const struct ds_rec *d, int ran, int status,
    const char *out, const char *err, const char *msg, double elapsed)
{
	char	why[HOOK_MSG_MAX + 128];
	double	delay;

	if (ran && status == 0) {
		journal_ds_hook(h->j, d->id, DS_DONE, d->hook_attempts, status, 0,
		    out, err, "hook succeeded");
		log_info("hook", "dataset=%016llx name=%s state=done status=0 out=%s "
		    "seconds=%.2f", (unsigned long long)d->id, log_q(d->name),
		    log_q(out), elapsed);
		return;
	}
	if (ran)
		snprintf(why, sizeof(why), "hook exited with status %d: %s", status,
		    err[0] ? err : msg);
	else
		snprintf(why, sizeof(why), "hook could not run: %s", msg);
	why[strcspn(why, "\n")] = '\0';
	if (!ran)
		status = -1;
	if (d->hook_attempts >= (uint32_t)h->cfg->hook_attempts) {
		char final[sizeof(why) + 64];
		snprintf(final, sizeof(final), "%s (gave up after %u attempts)", why,
		    d->hook_attempts);
		journal_ds_hook(h->j, d->id, DS_HOOK_FAILED, d->hook_attempts, status,
		    0, out, err, final);
		log_err("hook", "dataset=%016llx name=%s state=hook_failed reason=%s",
		    (unsigned long long)d->id, log_q(d->name), log_q(final));
		return;
	}
	delay = backoff(h->cfg, d->hook_attempts);
	journal_ds_hook(h->j, d->id, DS_HOOK_PENDING, d->hook_attempts, status,
	    (uint64_t)((sl_time_wall() + delay) * 1e9), out, err, why);
	log_warnx("hook", "dataset=%016llx name=%s attempt=%u failed: %s; retry in %.1fs",
	    (unsigned long long)d->id, log_q(d->name), d->hook_attempts, log_q(why), delay);
	q_add(h, d->id, sl_time_wall() + delay, JOB_RUN, 0);
}

/* A run that never started because the host could not be reached (no
 * connection, or the session broke before the command was sent): nothing
 * ran, so it costs no attempt, and it is tried again with backoff for as
 * long as the host stays away.  Why: a centre's maintenance outlasts any
 * sensible count of attempts, and a dataset must not end in hook_failed
 * for it; an operator sees the wait in `show` and the log.  A refused host
 * key or login is no outage (it will not heal by itself) and is counted. */
static int
unreachable(const struct hook_result *r)
{
	return r->rc == SL_EIO && !r->started;
}

static void
wait_for_host(struct ahook *h, const struct ds_rec *d, const struct hook_result *r,
    uint32_t tries)
{
	char	why[HOOK_MSG_MAX + 128];
	double	delay = backoff(h->cfg, tries + 1);

	snprintf(why, sizeof(why), "hook host unreachable: %s (not counted as an "
	    "attempt; tried %u time%s in a row)", r->msg, tries + 1, tries ? "s" : "");
	why[strcspn(why, "\n")] = '\0';
	journal_ds_hook(h->j, d->id, DS_HOOK_PENDING,
	    d->hook_attempts ? d->hook_attempts - 1 : 0, -1,
	    (uint64_t)((sl_time_wall() + delay) * 1e9), "", r->err_tail, why);
	log_warnx("hook", "dataset=%016llx name=%s %s; retry in %.1fs",
	    (unsigned long long)d->id, log_q(d->name), log_q(why), delay);
	q_add(h, d->id, sl_time_wall() + delay, JOB_RUN, tries + 1);
}

static void
run_done(struct ahook *h, const struct ds_rec *d, const struct hook_result *r,
    const struct hq *job)
{
	if (unreachable(r)) {
		wait_for_host(h, d, r, job->tries);
		return;
	}
	outcome(h, d, r->rc == SL_OK, r->status, r->out, r->err_tail, r->msg, r->elapsed);
}

/* Ask the fence again later (same marker): nothing is re-run meanwhile. */
static void
probe_later(struct ahook *h, const struct ds_rec *d, uint32_t tries, const char *what)
{
	double	delay = backoff(h->cfg, tries + 1);

	log_info("hook", "dataset=%016llx name=%s %s; probing again in %.1fs",
	    (unsigned long long)d->id, log_q(d->name), what, delay);
	q_add(h, d->id, sl_time_wall() + delay, JOB_PROBE, tries + 1);
}

/* The answer of the fence, to a run or to a probe (fence.h). */
static void
fenced_done(struct ahook *h, const struct ds_rec *d, const struct hook_result *r,
    const struct hq *job)
{
	struct fence_answer	 a;
	char			 t0[32], why[HOOK_MSG_MAX + 256];
	int			 from_run = job->kind == JOB_RUN;
	uint32_t		 tries = from_run ? 0 : job->tries;

	fence_parse(r->out, &a);
	utc(a.started, t0, sizeof(t0));
	switch (a.state) {
	case FENCE_RAN:
		if (!from_run)
			log_info("hook", "dataset=%016llx name=%s the fence says the hook "
			    "ran (status %d, %s .. ); recording it, not re-running",
			    (unsigned long long)d->id, log_q(d->name), a.status, t0);
		outcome(h, d, 1, a.status, a.out, r->err_tail, r->msg,
		    from_run ? r->elapsed : (double)(a.ended - a.started));
		return;
	case FENCE_RUNNING:
		/* journaled once per start time: show says "running since" */
		if (d->hook_next_ns != (uint64_t)a.started * 1000000000u) {
			snprintf(why, sizeof(why), "running since %s (pid %ld at the remote)",
			    t0, a.pid);
			journal_ds_hook(h->j, d->id, DS_HOOK_RUNNING, d->hook_attempts, -1,
			    (uint64_t)a.started * 1000000000u, "", why,
			    "the hook's command is still running: waiting for it, not re-running");
		}
		snprintf(why, sizeof(why), "hook still running since %s (pid %ld)", t0, a.pid);
		probe_later(h, d, tries, why);
		return;
	case FENCE_NONE:
		/* never started under this marker: run it, as the same attempt
		 * so that it gets the same marker (a late first start and
		 * this one cannot both run) */
		journal_ds_hook(h->j, d->id, DS_HOOK_PENDING,
		    d->hook_attempts ? d->hook_attempts - 1 : 0, -1, 0, "", "",
		    "the interrupted hook never started (the fence has no marker): running it");
		log_info("hook", "dataset=%016llx name=%s the fence says the interrupted "
		    "hook never started: running it", (unsigned long long)d->id,
		    log_q(d->name));
		q_add(h, d->id, 0, JOB_RUN, 0);
		return;
	case FENCE_DEAD:
		snprintf(why, sizeof(why), "the hook's command started at %s (pid %ld at the "
		    "remote) and is gone without an exit status (%s)", t0, a.pid,
		    strcmp(a.why, "reboot") == 0 ? "the host rebooted since" :
		    strcmp(a.why, "nostart") == 0 ? "its wrapper died before starting it" :
		    "killed, or its pid reused");
		if (h->cfg->hook_query[0]) {
			log_warnx("hook", "dataset=%016llx name=%s %s: asking the query",
			    (unsigned long long)d->id, log_q(d->name), why);
			q_add(h, d->id, 0, JOB_QUERY, 0);
			return;
		}
		strncat(why, ": outcome unknown, not re-run; check the remote side, "
		    "then sluice retry-hook", sizeof(why) - strlen(why) - 1);
		fail_hook(h, d, why);
		return;
	case FENCE_ERROR:
		snprintf(why, sizeof(why), "hook fence: %s", a.why);
		if (from_run) {	/* no marker made: the command did not start */
			outcome(h, d, 0, -1, "", r->err_tail, why, r->elapsed);
			return;
		}
		break;
	default:
		if (from_run && !r->started) {	/* connect or auth failed */
			run_done(h, d, r, job);
			return;
		}
		if (r->rc != SL_OK) {	/* unreachable: ask until it answers */
			snprintf(why, sizeof(why), "no answer from the fence (%s)", r->msg);
			probe_later(h, d, tries, why);
			return;
		}
		snprintf(why, sizeof(why), "the fence wrapper gave no answer (exit "
		    "status %d): %s", r->status, r->err_tail[0] ? r->err_tail :
		    r->out[0] ? r->out : "no output");
		why[strcspn(why, "\n")] = '\0';
		break;
	}
	/* an answer that is no answer: a few more times, then an operator */
	if (tries + 1 >= (uint32_t)h->cfg->hook_attempts) {
		strncat(why, ": outcome unknown, not re-run; check the remote side, "
		    "then sluice retry-hook", sizeof(why) - strlen(why) - 1);
		fail_hook(h, d, why);
		return;
	}
	probe_later(h, d, tries, why);
}

static void
query_done(struct ahook *h, const struct ds_rec *d, const struct hook_result *r,
    const struct hq *job)
{
	double delay;

	if (r->rc == SL_OK && r->status == 0) {
		journal_ds_hook(h->j, d->id, DS_DONE, d->hook_attempts, 0, 0, r->out,
		    r->err_tail, "interrupted hook had run (query says so)");
		log_info("hook", "dataset=%016llx name=%s state=done: the query confirms "
		    "the interrupted hook ran, not resubmitted", (unsigned long long)d->id,
		    log_q(d->name));
		return;
	}
	if (r->rc == SL_OK && r->status == 1) {
		journal_ds_hook(h->j, d->id, DS_HOOK_PENDING, d->hook_attempts, -1, 0,
		    NULL, NULL, "interrupted hook had not run (query says so); running it");
		log_info("hook", "dataset=%016llx name=%s the query says the interrupted "
		    "hook did not run: running it", (unsigned long long)d->id,
		    log_q(d->name));
		q_add(h, d->id, 0, JOB_RUN, 0);
		return;
	}
	delay = backoff(h->cfg, job->tries + 1);
	log_warnx("hook", "dataset=%016llx query inconclusive (%s); asking again in %.1fs",
	    (unsigned long long)d->id, log_q(r->rc == SL_OK ? r->err_tail : r->msg), delay);
	q_add(h, d->id, sl_time_wall() + delay, JOB_QUERY, job->tries + 1);
}

static void
runner_done(void *arg, const struct hook_result *r)
{
	struct ahook	*h = arg;
	struct ds_rec	 d;
	struct hq	 job;
	size_t		 i;

	for (i = 0; i < h->nrun && h->run[i].id != r->id; i++)
		;
	if (i == h->nrun) {	/* not ours: cannot happen (one job per id) */
		log_err("hook", "dataset=%016llx result of a job not running",
		    (unsigned long long)r->id);
		return;
	}
	job = h->run[i];
	h->run[i] = h->run[--h->nrun];
	memset(&d, 0, sizeof(d));
	if (journal_ds_get(h->j, r->id, &d) == SL_OK) {
		if (job.kind == JOB_PROBE || (job.kind == JOB_RUN && fenced(h)))
			fenced_done(h, &d, r, &job);
		else if (job.kind == JOB_RUN)
			run_done(h, &d, r, &job);
		else
			query_done(h, &d, r, &job);
		ds_rec_free(&d);
	}
	kick(h);
}

struct load {
	struct ahook	*h;
	double		 now;
};

static int
load_fn(const struct ds_rec *d, void *arg)
{
	struct load	*l = arg;
	struct ahook	*h = l->h;

	if (d->state == DS_HOOK_PENDING)
		q_add(h, d->id, (double)d->hook_next_ns / 1e9, JOB_RUN, 0);
	else if (d->state == DS_HOOK_RUNNING && d->hook_next_ns != 0 && fenced(h))
		q_add(h, d->id, 0, JOB_PROBE, 0);	/* a fenced run: ask the fence */
	else if (d->state == DS_HOOK_RUNNING && h->cfg->hook_query[0])
		q_add(h, d->id, 0, JOB_QUERY, 0);
	else if (d->state == DS_HOOK_RUNNING)
		q_add(h, d->id, -1, -1, 0);	/* resolved below, outside the txn */
	return 0;
}

int
ahook_start(struct ahook **out, struct ev_loop *loop, const struct config *cfg,
    struct journal *j, char *err, size_t errlen)
{
	struct ahook	*h;
	struct load	 l;
	size_t		 i;
	int		 rc;

	*out = NULL;
	if (cfg->hook_kind == HOOK_NONE || cfg->hook_command[0] == '\0')
		return SL_OK;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return SL_ENOMEM;
	h->loop = loop;
	h->cfg = cfg;
	h->j = j;
	h->maxrun = cfg->hook_concurrency > 0 ? (size_t)cfg->hook_concurrency : 1;
	h->run = calloc(h->maxrun, sizeof(*h->run));
	if (h->run == NULL) {
		free(h);
		return SL_ENOMEM;
	}
	rc = hook_runner_start(&h->runner, loop, cfg, runner_done, h);
	if (rc != SL_OK) {
		snprintf(err, errlen, "hook runner: %s", sl_strerror(rc));
		free(h->run);
		free(h);
		return rc;
	}
	ev_init(&h->timer, timer_cb);
	h->timer.data = h;
	l.h = h;
	l.now = sl_time_wall();
	journal_ds_foreach(j, load_fn, &l);
	/* Interrupted, and nothing can tell whether it ran: an operator must. */
	for (i = 0; i < h->n; ) {
		if (h->q[i].kind == -1) {
			struct ds_rec d;
			memset(&d, 0, sizeof(d));
			if (journal_ds_get(j, h->q[i].id, &d) == SL_OK) {
				fail_hook(h, &d, "agent stopped while the hook was running; "
				    "its outcome is unknown and it is not resubmitted blindly "
				    "(no [hook] query configured): check the remote side, "
				    "then sluice retry-hook");
				ds_rec_free(&d);
			}
			h->q[i] = h->q[--h->n];
		} else
			i++;
	}
	*out = h;
	kick(h);
	return SL_OK;
}

void
ahook_stop(struct ahook *h)
{
	if (h == NULL)
		return;
	ev_timer_stop(h->loop, &h->timer);
	hook_runner_stop(h->runner);
	free(h->run);
	free(h->q);
	free(h);
}

void
ahook_published(struct ahook *h, uint64_t id)
{
	if (h == NULL)
		return;
	if (q_add(h, id, 0, JOB_RUN, 0) == SL_OK)
		kick(h);
}

int
ahook_retry(struct ahook *h, uint64_t id, char *msg, size_t msglen)
{
	struct ds_rec	d;
	int		rc;

	if (h == NULL) {
		snprintf(msg, msglen, "no hook configured ([hook] kind = none)");
		return SL_ESTATE;
	}
	memset(&d, 0, sizeof(d));
	rc = journal_ds_get(h->j, id, &d);
	if (rc != SL_OK) {
		snprintf(msg, msglen, "no such dataset");
		return rc;
	}
	if (d.state != DS_HOOK_FAILED) {
		snprintf(msg, msglen, "%s is %s, not hook_failed", d.name,
		    ds_state_name(d.state));
		ds_rec_free(&d);
		return SL_ESTATE;
	}
	rc = journal_ds_hook(h->j, id, DS_HOOK_PENDING, 0, -1, 0, NULL, NULL,
	    "hook retried by operator");
	if (rc == SL_OK) {
		snprintf(msg, msglen, "%s: hook queued again\n", d.name);
		ahook_published(h, id);
	} else
		snprintf(msg, msglen, "journal: %s", sl_strerror(rc));
	ds_rec_free(&d);
	return rc;
}
