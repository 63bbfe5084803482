/*
 * agent_hook.c: when and how often the completion hook runs (see
 * agent_hook.h for the states and the crash rule).
 *
 * A small in-memory queue of (dataset, not-before time, kind) drives one
 * job at a time through hook.c's runner; an ev_timer wakes the queue when
 * the earliest entry is due.  Every decision is journaled before it takes
 * effect, so the queue can always be rebuilt from the journal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ev.h>

#include "agent_hook.h"
#include "hook.h"
#include "log.h"
#include "sltime.h"

enum job_kind { JOB_RUN, JOB_QUERY };

struct hq {
	uint64_t	id;
	double		not_before;
	int		kind;
	uint32_t	query_tries;
};

struct ahook {
	struct ev_loop		*loop;
	const struct config	*cfg;
	struct journal		*j;
	struct hook_runner	*runner;
	ev_timer		 timer;
	struct hq		*q;
	size_t			 n, alloc;
	int			 busy;		/* a job is with the runner */
	struct hq		 cur;
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
	char		*cmd = NULL, err[512], why[640];
	int		 rc;

	memset(&d, 0, sizeof(d));
	if (journal_ds_get(h->j, e.id, &d) != SL_OK)
		return;
	if (e.kind == JOB_RUN && d.state != DS_HOOK_PENDING)
		goto out;	/* retried or resolved meanwhile */
	rc = expand(h, e.kind == JOB_RUN ? h->cfg->hook_command : h->cfg->hook_query,
	    &d, &cmd, err, sizeof(err));
	if (rc != SL_OK) {
		snprintf(why, sizeof(why), "hook command: %s", err);
		fail_hook(h, &d, why);
		goto out;
	}
	if (e.kind == JOB_RUN) {
		/* The promise: journaled before anything runs. */
		snprintf(why, sizeof(why), "hook started (attempt %u of %d)",
		    d.hook_attempts + 1, h->cfg->hook_attempts);
		rc = journal_ds_hook(h->j, d.id, DS_HOOK_RUNNING, d.hook_attempts + 1,
		    -1, 0, "", "", why);
		if (rc != SL_OK) {
			log_err("hook", "dataset=%016llx cannot journal hook_running: %s; "
			    "not starting it", (unsigned long long)d.id, sl_strerror(rc));
			q_add(h, e.id, sl_time_wall() + 5, e.kind, e.query_tries);
			goto out;
		}
		log_info("hook", "dataset=%016llx name=%s state=hook_running attempt=%u",
		    (unsigned long long)d.id, log_q(d.name), d.hook_attempts + 1);
	} else
		log_info("hook", "dataset=%016llx name=%s querying whether the "
		    "interrupted hook ran", (unsigned long long)d.id, log_q(d.name));
	if (hook_runner_submit(h->runner, d.id, cmd) != SL_OK) {
		q_add(h, e.id, sl_time_wall() + 5, e.kind, e.query_tries);
		goto out;
	}
	h->busy = 1;
	h->cur = e;
out:
	free(cmd);
	ds_rec_free(&d);
}

static void
kick(struct ahook *h)
{
	double	now = sl_time_wall(), next = 0;
	size_t	i, best = (size_t)-1;

	if (h->busy)
		return;
	for (i = 0; i < h->n; i++)
		if (best == (size_t)-1 || h->q[i].not_before < h->q[best].not_before)
			best = i;
	if (best == (size_t)-1)
		return;
	if (h->q[best].not_before > now) {
		next = h->q[best].not_before - now;
		ev_timer_stop(h->loop, &h->timer);
		ev_timer_set(&h->timer, next, 0);
		ev_timer_start(h->loop, &h->timer);
		return;
	}
	{
		struct hq e = h->q[best];
		h->q[best] = h->q[--h->n];
		start_job(h, e);
	}
	if (!h->busy)
		kick(h);	/* that one was dropped: next */
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop; (void)revents;
	kick(w->data);
}

static void
run_done(struct ahook *h, const struct ds_rec *d, const struct hook_result *r)
{
	char	why[HOOK_MSG_MAX + 128];
	double	delay;
	int	ok = r->rc == SL_OK && r->status == 0;

	if (ok) {
		journal_ds_hook(h->j, d->id, DS_DONE, d->hook_attempts, r->status, 0,
		    r->out, r->err_tail, "hook succeeded");
		log_info("hook", "dataset=%016llx name=%s state=done status=0 out=%s "
		    "seconds=%.2f", (unsigned long long)d->id, log_q(d->name),
		    log_q(r->out), r->elapsed);
		return;
	}
	if (r->rc == SL_OK)
		snprintf(why, sizeof(why), "hook exited with status %d: %s", r->status,
		    r->err_tail[0] ? r->err_tail : r->msg);
	else
		snprintf(why, sizeof(why), "hook could not run: %s", r->msg);
	why[strcspn(why, "\n")] = '\0';
	if (d->hook_attempts >= (uint32_t)h->cfg->hook_attempts) {
		char final[sizeof(why) + 64];
		snprintf(final, sizeof(final), "%s (gave up after %u attempts)", why,
		    d->hook_attempts);
		journal_ds_hook(h->j, d->id, DS_HOOK_FAILED, d->hook_attempts, r->status,
		    0, r->out, r->err_tail, final);
		log_err("hook", "dataset=%016llx name=%s state=hook_failed reason=%s",
		    (unsigned long long)d->id, log_q(d->name), log_q(final));
		return;
	}
	delay = backoff(h->cfg, d->hook_attempts);
	journal_ds_hook(h->j, d->id, DS_HOOK_PENDING, d->hook_attempts, r->status,
	    (uint64_t)((sl_time_wall() + delay) * 1e9), r->out, r->err_tail, why);
	log_warnx("hook", "dataset=%016llx name=%s attempt=%u failed: %s; retry in %.1fs",
	    (unsigned long long)d->id, log_q(d->name), d->hook_attempts, log_q(why), delay);
	q_add(h, d->id, sl_time_wall() + delay, JOB_RUN, 0);
}

static void
query_done(struct ahook *h, const struct ds_rec *d, const struct hook_result *r)
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
	delay = backoff(h->cfg, h->cur.query_tries + 1);
	log_warnx("hook", "dataset=%016llx query inconclusive (%s); asking again in %.1fs",
	    (unsigned long long)d->id, log_q(r->rc == SL_OK ? r->err_tail : r->msg), delay);
	q_add(h, d->id, sl_time_wall() + delay, JOB_QUERY, h->cur.query_tries + 1);
}

static void
runner_done(void *arg, const struct hook_result *r)
{
	struct ahook	*h = arg;
	struct ds_rec	 d;

	h->busy = 0;
	memset(&d, 0, sizeof(d));
	if (journal_ds_get(h->j, r->id, &d) == SL_OK) {
		if (h->cur.kind == JOB_RUN)
			run_done(h, &d, r);
		else
			query_done(h, &d, r);
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
	if (cfg->hook_kind == HOOK_NONE)
		return SL_OK;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return SL_ENOMEM;
	h->loop = loop;
	h->cfg = cfg;
	h->j = j;
	rc = hook_runner_start(&h->runner, loop, cfg, runner_done, h);
	if (rc != SL_OK) {
		snprintf(err, errlen, "hook runner: %s", sl_strerror(rc));
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
