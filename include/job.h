/*
 * job.h: route job at the agent, the Slurm side (agent/hook/job.c): a
 * dataset on route job is submitted as a job exactly once, watched, and
 * resubmitted under [job] resubmit when the job ends without a result.
 *
 *   queued --journal first--> job_submitting --sbatch took it--> job_submitted
 *     --the job's receiver dials in (send_pull.c)--> pulling --> pulled
 *     --> reducing --RESULT ok--> done
 *   failed: job rejected (the template exited non-zero or printed no job
 *   id), job ended before pulling / while pulling / before its result
 *   and no submissions left, pull timed out (running for [job]
 *   pull_timeout without its receiver dialling in: scancel), submission
 *   outcome unknown.
 *
 * job_submitting is committed before the command starts and the command
 * runs under the hook's remote fence (fence.h), keyed "<agent id>.job",
 * dataset id and submission number: an agent that dies while sbatch runs
 * probes the marker at start-up and never submits twice.  Submissions
 * and queries (`squeue -h -o %T -j JOB`, every [job] poll) go over [hook]'s
 * connection on a worker thread of their own.  A job is resubmitted only
 * once squeue no longer shows it running, so two never run at once.
 */
#ifndef JOB_H
#define JOB_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "journal.h"

struct ajob;

#ifdef EV_VERSION_MAJOR
/* Start (cfg->job_listen set, else *out = NULL and SL_OK): pick up every
 * job-route dataset not done nor failed from the journal.  SL_ENOMEM,
 * SL_EIO.  Loop thread. */
int	ajob_start(struct ajob **out, struct ev_loop *loop, const struct config *cfg,
	    struct journal *j, char *err, size_t errlen);
#endif
void	ajob_stop(struct ajob *jb);			/* NULL is fine */
/* Dataset id was just journaled on route job (queued): submit it. */
void	ajob_queued(struct ajob *jb, uint64_t id);
/* Parse a job id from sbatch's output ("123" or "123;cluster", after any
 * other lines): SL_OK with the digits in out, else SL_EINVAL.  Pure. */
int	ajob_parse_jobid(const char *text, char *out, size_t outlen);
/* squeue's %T state: 1 alive (pending, running, completing...), 0 ended.
 * Pure. */
int	ajob_state_alive(const char *state);

#endif
