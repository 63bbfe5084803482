/*
 * job.c: route job at the agent, the Slurm side (job.h has the states).
 *
 * One record per job-route dataset not yet done or failed, each with at
 * most one command outstanding on the runner (its own sluice-hook worker,
 * so the completion hook and the job never wait for each other).  The
 * journal is the truth: every decision re-reads the dataset's record,
 * because the pull side (send_pull.c) moves it on meanwhile (pulling,
 * pulled, reducing, done) on the same loop.
 *
 *   SUBMIT  journal job_submitting (submissions + 1, fenced) first, then
 *           run [job] submit under the fence; RAN 0 with a job id ->
 *           job_submitted; RAN non-zero -> failed "job rejected".
 *   PROBE   after a restart in job_submitting, or a run without an
 *           answer: the fence says ran (take its output), none (run it
 *           now, same marker), running (probe later), dead (failed:
 *           outcome unknown).
 *   QUERY   every [job] poll while submitted .. reducing: squeue; a job
 *           that is no longer pending, running or completing, and whose
 *           dataset has no result, is resubmitted (fresh marker) while
 *           [job] resubmit allows, else failed with the reason.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ev.h>

#include "fence.h"
#include "hook.h"
#include "job.h"
#include "log.h"
#include "sltime.h"

enum jop { JOP_NONE, JOP_SUBMIT, JOP_PROBE, JOP_QUERY, JOP_CANCEL };

struct jds {
	struct jds	*next;
	uint64_t	 id;
	int		 op;		/* outstanding on the runner */
	int		 run;		/* job_submitting: 1 run, 0 probe first */
	double		 next_at;	/* wall time of the next step */
	uint32_t	 tries;		/* probes or queries without an answer */
	double		 running_since;	/* squeue first said RUNNING while job_submitted */
	char		 why[SL_MAX_MSG];	/* JOP_CANCEL: the failure to record */
};

struct ajob {
	struct ev_loop		*loop;
	const struct config	*cfg;
	struct journal		*j;
	struct hook_runner	*runner;
	ev_timer		 tick;
	struct jds		*list;
};

static const char *
op_name(int op)
{
	switch (op) {
	case JOP_SUBMIT:	return "submit";
	case JOP_PROBE:		return "probe";
	case JOP_QUERY:		return "query";
	case JOP_CANCEL:	return "cancel";
	}
	return "none";
}

int
ajob_parse_jobid(const char *text, char *out, size_t outlen)
{
	const char	*line = text, *p;
	size_t		 n;

	/* the last line that starts with digits: sbatch --parsable prints
	 * "ID" or "ID;CLUSTER"; a chatty login script may print before it */
	out[0] = '\0';
	while (line != NULL && *line != '\0') {
		for (p = line; isdigit((unsigned char)*p); p++)
			;
		n = (size_t)(p - line);
		if (n > 0 && n < outlen && n <= 18 && (*p == '\0' || *p == '\n' ||
		    *p == ';' || *p == '\r')) {
			memcpy(out, line, n);
			out[n] = '\0';
		}
		line = strchr(line, '\n');
		if (line != NULL)
			line++;
	}
	return out[0] ? SL_OK : SL_EINVAL;
}

int
ajob_state_alive(const char *s)
{
	static const char *alive[] = { "PENDING", "RUNNING", "CONFIGURING",
	    "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
	    "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD", NULL };
	size_t i;

	for (i = 0; alive[i]; i++)
		if (strcmp(s, alive[i]) == 0)
			return 1;
	return 0;
}

static struct jds *
find(struct ajob *jb, uint64_t id)
{
	struct jds *d;

	for (d = jb->list; d && d->id != id; d = d->next)
		;
	return d;
}

static void
drop(struct ajob *jb, struct jds *x)
{
	struct jds **pp;

	for (pp = &jb->list; *pp; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			free(x);
			return;
		}
}

static void
add(struct ajob *jb, uint64_t id, int run)
{
	struct jds *x = find(jb, id);

	if (x != NULL)
		return;
	x = calloc(1, sizeof(*x));
	if (x == NULL) {
		log_err("job", "dataset=%016llx out of memory: picked up at the next "
		    "start", (unsigned long long)id);
		return;
	}
	x->id = id;
	x->run = run;
	x->next = jb->list;
	jb->list = x;
}

static int
marker(const struct ajob *jb, const struct ds_rec *d, uint32_t attempt, char *key,
    size_t len)
{
	char agent[80];

	snprintf(agent, sizeof(agent), "%s.job", jb->cfg->id);
	return fence_key(key, len, agent, d->id, 0, attempt);
}

static void
fail(struct ajob *jb, struct jds *x, const struct ds_rec *d, const char *why)
{
	int rc = journal_ds_set_state(jb->j, d->id, DS_FAILED, why, NULL);

	if (rc != SL_OK)
		log_err("journal", "dataset=%016llx cannot record failed: %s",
		    (unsigned long long)d->id, sl_strerror(rc));
	log_warnx("job", "dataset=%016llx name=%s state=%s->failed reason=%s",
	    (unsigned long long)d->id, log_q(d->name), ds_state_name(d->state), log_q(why));
	drop(jb, x);
}

/* Submission number d->hook_attempts, under the fence (run or probe). */
static void
submit(struct ajob *jb, struct jds *x, const struct ds_rec *d, int probe)
{
	struct hook_vars	 v;
	const char		*(*meta)[2] = NULL;
	char			 id[17], key[FENCE_KEY_MAX], err[512], why[512];
	char			*cmd = NULL, *wrapped = NULL;
	uint32_t		 i;
	int			 rc;

	snprintf(id, sizeof(id), "%016llx", (unsigned long long)d->id);
	rc = marker(jb, d, d->hook_attempts, key, sizeof(key));
	if (rc != SL_OK) {
		fail(jb, x, d, "job fence: the agent id is no marker name");
		return;
	}
	if (!probe) {
		if (d->nmeta && (meta = calloc(d->nmeta, sizeof(*meta))) == NULL) {
			x->next_at = sl_time_wall() + 5;
			return;
		}
		for (i = 0; i < d->nmeta; i++) {
			meta[i][0] = d->meta[i][0];
			meta[i][1] = d->meta[i][1];
		}
		memset(&v, 0, sizeof(v));
		v.dataset = d->name;
		v.dataset_path = d->name;
		v.id = id;
		v.bytes = d->bytes;
		v.files = d->nfiles;
		v.nmeta = d->nmeta;
		v.meta = meta;
		rc = hook_expand(jb->cfg->job_submit, &v, &cmd, err, sizeof(err));
		free(meta);
		if (rc != SL_OK) {
			snprintf(why, sizeof(why), "job rejected: [job] submit: %s", err);
			fail(jb, x, d, why);
			return;
		}
	}
	rc = fence_command(probe ? FENCE_PROBE : FENCE_RUN, jb->cfg->hook_state_dir,
	    key, jb->cfg->hook_kind == HOOK_EXEC ? "/bin/sh" : "", cmd ? cmd : "",
	    &wrapped, err, sizeof(err));
	free(cmd);
	if (rc != SL_OK) {
		snprintf(why, sizeof(why), "job rejected: fence: %s", err);
		fail(jb, x, d, why);
		return;
	}
	if (hook_runner_submit_flags(jb->runner, d->id, wrapped, HOOK_DETACH) != SL_OK) {
		free(wrapped);
		x->run = 0;		/* it may have been journaled: ask */
		x->next_at = sl_time_wall() + 5;
		return;
	}
	free(wrapped);
	x->op = probe ? JOP_PROBE : JOP_SUBMIT;
	log_info("job", "dataset=%016llx name=%s %s submission %u (fence %s)",
	    (unsigned long long)d->id, log_q(d->name), probe ? "probing" : "running",
	    d->hook_attempts, key);
}

/* Journal job_submitting (submission n, fenced) before anything runs. */
static void
start_submission(struct ajob *jb, struct jds *x, struct ds_rec *d, const char *why)
{
	uint32_t	n = d->hook_attempts + 1;
	char		reason[SL_MAX_MSG];
	int		rc;

	snprintf(reason, sizeof(reason), "%s%ssubmitting the job (submission %u of %d)",
	    why ? why : "", why ? ": " : "", n, 1 + jb->cfg->job_resubmit);
	rc = journal_ds_hook(jb->j, d->id, DS_JOB_SUBMITTING, n, -1,
	    (uint64_t)(sl_time_wall() * 1e9), "", "", reason);
	if (rc != SL_OK) {
		log_err("job", "dataset=%016llx cannot journal job_submitting: %s; "
		    "not submitting", (unsigned long long)d->id, sl_strerror(rc));
		x->next_at = sl_time_wall() + 5;
		return;
	}
	log_info("dataset", "dataset=%016llx name=%s state=%s->job_submitting "
	    "submission=%u", (unsigned long long)d->id, log_q(d->name),
	    ds_state_name(d->state), n);
	d->hook_attempts = n;
	d->state = DS_JOB_SUBMITTING;
	submit(jb, x, d, 0);
}

static void
query(struct ajob *jb, struct jds *x, const struct ds_rec *d)
{
	char cmd[128];

	/* the job id was checked to be digits when it was journaled */
	snprintf(cmd, sizeof(cmd), "squeue -h -o %%T -j '%s'", d->hook_out);
	if (hook_runner_submit(jb->runner, d->id, cmd) != SL_OK) {
		x->next_at = sl_time_wall() + jb->cfg->job_poll;
		return;
	}
	x->op = JOP_QUERY;
}

/* The next step of x, if one is due. */
static void
step(struct ajob *jb, struct jds *x, double now)
{
	struct ds_rec	d;
	int		rc;

	if (x->op != JOP_NONE || now < x->next_at)
		return;
	memset(&d, 0, sizeof(d));
	rc = journal_ds_get(jb->j, x->id, &d);
	if (rc != SL_OK || strcmp(d.dest, DS_ROUTE_JOB) != 0) {
		drop(jb, x);
		goto out;
	}
	switch (d.state) {
	case DS_QUEUED:
		start_submission(jb, x, &d, NULL);
		break;
	case DS_JOB_SUBMITTING:
		submit(jb, x, &d, !x->run);
		break;
	case DS_JOB_SUBMITTED:
	case DS_PULLING:
	case DS_PULLED:
	case DS_REDUCING:
		if (d.hook_out[0] == '\0') {	/* submitted, id not yet known */
			x->next_at = now + jb->cfg->job_poll;
			break;
		}
		query(jb, x, &d);
		break;
	default:			/* done, failed, or moved by an operator */
		drop(jb, x);
	}
out:
	ds_rec_free(&d);
}

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ajob	*jb = w->data;
	struct jds	*x, *next;
	double		 now = sl_time_wall();

	(void)loop; (void)revents;
	for (x = jb->list; x; x = next) {
		next = x->next;
		step(jb, x, now);
	}
}

/* The fence's answer to a submission or a probe. */
static void
submitted(struct ajob *jb, struct jds *x, struct ds_rec *d, const struct hook_result *r)
{
	struct fence_answer	 a;
	char			 jobid[32], why[SL_MAX_MSG];
	int			 state, rc;

	fence_parse(r->out, &a);
	switch (a.state) {
	case FENCE_RAN:
		if (a.status != 0) {
			snprintf(why, sizeof(why), "job rejected: the submission exited "
			    "%d: %s", a.status, r->err_tail[0] ? r->err_tail : "(no stderr)");
			fail(jb, x, d, why);
			return;
		}
		if (ajob_parse_jobid(a.out ? a.out : "", jobid, sizeof(jobid)) != SL_OK) {
			snprintf(why, sizeof(why), "job rejected: the submission printed "
			    "no job id (use sbatch --parsable): %.200s", a.out ? a.out : "");
			fail(jb, x, d, why);
			return;
		}
		/* The receiver may have dialled in already: keep what the pull
		 * side journaled, add the job id. */
		state = d->state == DS_JOB_SUBMITTING ? DS_JOB_SUBMITTED : d->state;
		snprintf(why, sizeof(why), "job %s submitted (submission %u)", jobid,
		    d->hook_attempts);
		rc = journal_ds_hook(jb->j, d->id, state, d->hook_attempts, 0, 0, jobid,
		    "", why);
		if (rc != SL_OK)
			log_err("journal", "dataset=%016llx job %s: %s",
			    (unsigned long long)d->id, jobid, sl_strerror(rc));
		log_info("dataset", "dataset=%016llx name=%s state=%s->%s job=%s",
		    (unsigned long long)d->id, log_q(d->name), ds_state_name(d->state),
		    ds_state_name(state), jobid);
		x->next_at = sl_time_wall() + jb->cfg->job_poll;
		return;
	case FENCE_NONE:
		log_info("job", "dataset=%016llx the fence has no marker for submission "
		    "%u: it never started; running it", (unsigned long long)d->id,
		    d->hook_attempts);
		x->run = 1;
		x->next_at = 0;
		return;
	case FENCE_RUNNING:
		x->run = 0;
		x->next_at = sl_time_wall() + jb->cfg->hook_retry_min;
		return;
	case FENCE_DEAD:
		snprintf(why, sizeof(why), "job submission outcome unknown: the "
		    "submission started and died without an exit status (%s); check "
		    "squeue, then sluice retry", a.why);
		fail(jb, x, d, why);
		return;
	case FENCE_ERROR:
		snprintf(why, sizeof(why), "job rejected: fence: %s", a.why);
		fail(jb, x, d, why);
		return;
	default:
		/* no answer (unreachable, timed out): ask the fence, never rerun */
		x->run = 0;
		x->tries++;
		x->next_at = sl_time_wall() + jb->cfg->hook_retry_min;
		log_warnx("job", "dataset=%016llx submission %u: no answer (%s); "
		    "probing again", (unsigned long long)d->id, d->hook_attempts, r->msg);
	}
}

/* The job runs but its receiver never dialled in within [job]
 * pull_timeout (unreachable agent, wrong address, a node that cannot
 * connect out): scancel it, then fail the dataset "pull timed out" (a
 * resubmitted job would most likely meet the same wall). */
static void
cancel(struct ajob *jb, struct jds *x, const struct ds_rec *d)
{
	char cmd[128];

	snprintf(x->why, sizeof(x->why), "pull timed out: job %s ran for %.0fs and "
	    "its receiver never dialled in ([job] pull_timeout = %.0fs); job cancelled",
	    d->hook_out, sl_time_wall() - x->running_since, jb->cfg->job_pull_timeout);
	log_warnx("job", "dataset=%016llx %s", (unsigned long long)d->id, x->why);
	snprintf(cmd, sizeof(cmd), "scancel '%s'", d->hook_out);
	if (hook_runner_submit(jb->runner, d->id, cmd) != SL_OK) {
		x->next_at = sl_time_wall() + jb->cfg->job_poll;
		return;
	}
	x->op = JOP_CANCEL;
}

/* squeue's answer about d's job. */
static void
queried(struct ajob *jb, struct jds *x, struct ds_rec *d, const struct hook_result *r)
{
	char	state[64], why[SL_MAX_MSG], *nl;
	int	gone;

	x->next_at = sl_time_wall() + jb->cfg->job_poll;
	if (r->rc != SL_OK || (r->status != 0 &&
	    strstr(r->err_tail, "Invalid job id") == NULL)) {
		log_warnx("job", "dataset=%016llx job %s: squeue: %s%s%s; asking again",
		    (unsigned long long)d->id, d->hook_out, r->msg,
		    r->err_tail[0] ? ": " : "", r->err_tail);
		return;
	}
	snprintf(state, sizeof(state), "%s", r->status == 0 ? r->out : "");
	if ((nl = strpbrk(state, "\r\n")) != NULL)
		*nl = '\0';
	gone = state[0] == '\0';
	if (!gone && ajob_state_alive(state)) {
		x->tries = 0;
		if (d->state != DS_JOB_SUBMITTED || strcmp(state, "RUNNING") != 0) {
			x->running_since = 0;
			return;
		}
		if (x->running_since == 0)
			x->running_since = sl_time_wall();
		if (jb->cfg->job_pull_timeout > 0 &&
		    sl_time_wall() - x->running_since > jb->cfg->job_pull_timeout)
			cancel(jb, x, d);
		return;
	}
	if (d->state == DS_DONE || d->state == DS_FAILED || !DS_JOB_ACTIVE(d->state))
		return;
	snprintf(why, sizeof(why), "job %s %s%s %s", d->hook_out,
	    gone ? "ended (squeue no longer knows it)" : "ended as ",
	    gone ? "" : state,
	    d->state == DS_JOB_SUBMITTED ? "before pulling" :
	    d->state == DS_PULLING ? "while pulling" : "before reporting a result");
	if (d->hook_attempts < (uint32_t)(1 + jb->cfg->job_resubmit)) {
		log_warnx("job", "dataset=%016llx name=%s %s: resubmitting",
		    (unsigned long long)d->id, log_q(d->name), why);
		start_submission(jb, x, d, why);
		return;
	}
	snprintf(why + strlen(why), sizeof(why) - strlen(why),
	    " (submitted %u times, [job] resubmit = %d)", d->hook_attempts,
	    jb->cfg->job_resubmit);
	fail(jb, x, d, why);
}

static void
done_cb(void *arg, const struct hook_result *r)
{
	struct ajob	*jb = arg;
	struct jds	*x = find(jb, r->id);
	struct ds_rec	 d;
	int		 op;

	if (x == NULL)
		return;
	op = x->op;
	x->op = JOP_NONE;
	memset(&d, 0, sizeof(d));
	if (journal_ds_get(jb->j, r->id, &d) != SL_OK) {
		drop(jb, x);
		return;
	}
	log_debug("job", "dataset=%016llx %s answered rc=%d status=%d", (unsigned long long)
	    r->id, op_name(op), r->rc, r->status);
	if (op == JOP_CANCEL) {
		if (r->rc != SL_OK || r->status != 0)
			log_warnx("job", "dataset=%016llx scancel %s: %s%s%s",
			    (unsigned long long)d.id, d.hook_out, r->msg,
			    r->err_tail[0] ? ": " : "", r->err_tail);
		if (d.state == DS_JOB_SUBMITTED)
			fail(jb, x, &d, x->why);
	} else if (op == JOP_QUERY)
		queried(jb, x, &d, r);
	else if (d.state == DS_JOB_SUBMITTING || DS_JOB_ACTIVE(d.state))
		submitted(jb, x, &d, r);
	ds_rec_free(&d);
}

struct load {
	uint64_t	*ids;
	int		*states;
	size_t		 n, alloc;
	int		 nomem;
};

static int
load_cb(const struct ds_rec *d, void *arg)
{
	struct load	*l = arg;
	void		*p;

	if (strcmp(d->dest, DS_ROUTE_JOB) != 0 ||
	    (d->state != DS_QUEUED && !DS_JOB_ACTIVE(d->state)))
		return 0;
	if (l->n == l->alloc) {
		l->alloc = l->alloc * 2 + 16;
		p = realloc(l->ids, l->alloc * sizeof(*l->ids));
		if (p == NULL) {
			l->nomem = 1;
			return 1;
		}
		l->ids = p;
		p = realloc(l->states, l->alloc * sizeof(*l->states));
		if (p == NULL) {
			l->nomem = 1;
			return 1;
		}
		l->states = p;
	}
	l->ids[l->n] = d->id;
	l->states[l->n++] = d->state;
	return 0;
}

int
ajob_start(struct ajob **out, struct ev_loop *loop, const struct config *cfg,
    struct journal *j, char *err, size_t errlen)
{
	struct ajob	*jb;
	struct load	 l;
	size_t		 i;
	int		 rc;

	*out = NULL;
	if (cfg->job_listen[0] == '\0')
		return SL_OK;
	jb = calloc(1, sizeof(*jb));
	if (jb == NULL)
		return SL_ENOMEM;
	jb->loop = loop;
	jb->cfg = cfg;
	jb->j = j;
	rc = hook_runner_start(&jb->runner, loop, cfg, done_cb, jb);
	if (rc != SL_OK) {
		snprintf(err, errlen, "cannot start the job runner thread");
		free(jb);
		return rc;
	}
	memset(&l, 0, sizeof(l));
	rc = journal_ds_foreach(j, load_cb, &l);
	if (rc != SL_OK || l.nomem)
		log_err("job", "loading job-route datasets: %s", l.nomem ?
		    "out of memory" : sl_strerror(rc));
	/* job_submitting at start-up: the agent died while it ran; the
	 * fence decides (probe), never a blind rerun */
	for (i = 0; i < l.n; i++)
		add(jb, l.ids[i], l.states[i] != DS_JOB_SUBMITTING);
	free(l.ids);
	free(l.states);
	ev_timer_init(&jb->tick, tick_cb, 0.05, 0.5);
	jb->tick.data = jb;
	ev_timer_start(loop, &jb->tick);
	log_info("job", "route job on: %zu dataset(s) to follow, poll=%.1fs resubmit=%d",
	    l.n, cfg->job_poll, cfg->job_resubmit);
	*out = jb;
	return SL_OK;
}

void
ajob_stop(struct ajob *jb)
{
	struct jds *x;

	if (jb == NULL)
		return;
	ev_timer_stop(jb->loop, &jb->tick);
	hook_runner_stop(jb->runner);
	while ((x = jb->list) != NULL) {
		jb->list = x->next;
		free(x);
	}
	free(jb);
}

void
ajob_queued(struct ajob *jb, uint64_t id)
{
	if (jb == NULL)
		return;
	add(jb, id, 1);
	ev_feed_event(jb->loop, &jb->tick, EV_TIMER);
}
