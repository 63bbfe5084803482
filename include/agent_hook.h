/*
 * agent_hook.h: the completion hook's schedule at the agent
 * (agent/hook/agent_hook.c): exactly once per dataset, across crashes.
 *
 *   published --(hook configured)--> hook_pending --journal first-->
 *   hook_running --exit 0--> done
 *                --failed, attempts left--> hook_pending (backoff)
 *                --failed, no attempts left--> hook_failed (reason)
 *                --host unreachable--> hook_pending (backoff, no attempt
 *                  counted: nothing ran; for as long as the host is away)
 *
 * hook_running is committed to the journal BEFORE the command starts.
 *
 * Fenced (the default; [hook] state_dir = none turns it off): the command
 * runs under the remote wrapper of fence.h, keyed by agent id, dataset id,
 * operator retries and attempt, so a second start of the same run never
 * runs it again; a fenced hook_running has a non-zero hook_next_ns.  Such
 * a dataset found at start-up, or a run whose connection ended without an
 * answer (timeout, network), is probed with the same key, never re-run:
 *   ran         the real exit status and output are recorded: done, or a
 *               retry / hook_failed as for any run
 *   running     journaled "running since T" once, probed again with
 *               backoff (retry_min .. retry_max), for as long as it runs
 *   never started  run now, as the same attempt (same marker)
 *   gone without an exit status  outcome unknown: the [hook] query if
 *               there is one decides as below, else hook_failed
 *   no answer   unreachable: probed again, for ever; a wrapper that
 *               answers nonsense: hook_failed after `attempts` probes
 * Unfenced (or a hook_running from before the fence): with [hook] query
 * configured, the query (same variables, e.g. squeue / sacct for a job
 * named after {id}) decides: exit 0 = it ran (done), exit 1 = it did not
 * (run it), anything else = ask again later.  Without a query the dataset
 * goes to hook_failed with that explanation and an operator resolves it
 * (`sluice retry-hook`).
 *
 * The command runs on hook.c's worker thread; this module only keeps the
 * queue, on the loop thread.
 */
#ifndef AGENT_HOOK_H
#define AGENT_HOOK_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "journal.h"

struct ahook;

#ifdef EV_VERSION_MAJOR
/* Start (cfg->hook_kind != HOOK_NONE, else *out = NULL and SL_OK): load
 * datasets in hook_pending / hook_running from the journal and resolve
 * the interrupted ones as above.  SL_ENOMEM, SL_EIO. */
int	ahook_start(struct ahook **out, struct ev_loop *loop, const struct config *cfg,
	    struct journal *j, char *err, size_t errlen);
#endif
void	ahook_stop(struct ahook *h);
/* Dataset id was just journaled hook_pending: run its hook. */
void	ahook_published(struct ahook *h, uint64_t id);
/* sluice retry-hook: a hook_failed dataset goes back to hook_pending with
 * a fresh count of attempts.  SL_ESTATE if it is not hook_failed. */
int	ahook_retry(struct ahook *h, uint64_t id, char *msg, size_t msglen);

#endif
