/*
 * hook.h: the completion hook (agent/hook/hook.c).  After a dataset is
 * published, the agent runs one command: over SSH (libssh2, public key,
 * host key checked against a known_hosts file) or locally (/bin/sh -c).
 *
 * Three layers, usable separately:
 *   hook_expand    template -> command line, every value shell-quoted.
 *   hook_run_sync  run one command now, blocking, with timeouts.
 *   hook_runner    worker threads that run hook_run_sync off the event
 *                  loop and hands each result back on the loop thread.
 *
 * Exactly-once bookkeeping (journal states, idempotency key, retries) is
 * the caller's job; this module only runs what it is given, once per call.
 */
#ifndef HOOK_H
#define HOOK_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct ev_loop;

#define HOOK_MAX_COMMAND	(64u * 1024)	/* an expanded command, bytes */
#define HOOK_OUT_MAX		4096		/* stdout kept, incl. NUL */
#define HOOK_ERR_TAIL		1024		/* stderr tail kept, incl. NUL */
#define HOOK_MSG_MAX		512

/* The values a template may name.  Any pointer may be NULL (expands to
 * ''); meta is an array of nmeta {key, value} pairs. */
struct hook_vars {
	const char	*dataset;	/* {dataset}       the dataset name */
	const char	*dataset_path;	/* {dataset_path}  where it was published */
	const char	*id;		/* {id}            dataset id (idempotency key) */
	uint64_t	 bytes;		/* {bytes} */
	uint32_t	 files;		/* {files} */
	uint32_t	 nmeta;
	const char	*(*meta)[2];	/* {meta.KEY} -> meta[i][1] where meta[i][0] == KEY */
};

/* Expand tmpl into a new NUL-terminated string in *out (caller frees).
 * Variables: {dataset} {dataset_path} {id} {bytes} {files} {meta.KEY}.
 * Every substituted value, numbers included, is wrapped in single quotes
 * with each ' written as '\'' so that no value can end the quoting: the
 * result is safe to hand to sh -c whatever the names and metadata hold.
 * "{{" is a literal "{"; a lone "}" is literal.
 * Errors (err gets one sentence, *out is NULL):
 *   SL_EINVAL  unknown variable, unknown meta key, unterminated "{"
 *   SL_ETOOBIG result longer than HOOK_MAX_COMMAND
 *   SL_ENOMEM
 * Any thread. */
int	hook_expand(const char *tmpl, const struct hook_vars *v, char **out,
	    char *err, size_t errlen);

struct hook_result {
	uint64_t	id;		/* as given to hook_runner_submit */
	/* SL_OK: the command ran and exited, exit status in .status (a
	 * command killed by a signal has status 128 + signo, or 255 over ssh).
	 * Otherwise why it could not run or finish:
	 *   SL_EIO    connect failed or timed out, ssh session error,
	 *             command timed out (killed locally; over ssh the remote
	 *             command may still be running), fork/pipe failed
	 *   SL_EAUTH  host key not in known_hosts, host key CHANGED, or
	 *             public key authentication refused
	 *   SL_EINVAL configuration unusable (no hook kind, unreadable key)
	 *   SL_ENOMEM */
	int		rc;
	int		status;
	/* 1 once the command may have started: the child was forked, or the
	 * ssh exec request was sent.  With rc != SL_OK and started == 0 the
	 * command certainly did not run (connect, auth, host key failed). */
	int		started;
	char		out[HOOK_OUT_MAX];	/* first bytes of stdout */
	char		err_tail[HOOK_ERR_TAIL];/* last bytes of stderr */
	char		msg[HOOK_MSG_MAX];	/* one sentence for logs and status */
	double		elapsed;		/* seconds */
};

/* Run command once, as cfg's [hook] says (kind ssh or exec), blocking.
 * Timeouts: hook_connect_timeout bounds the TCP connect and, separately,
 * the SSH handshake + authentication; hook_timeout bounds the command
 * from start to exit.  Fills every field of *r (r->id is left as is);
 * returns r->rc.  Any thread; concurrent calls are fine. */
int	hook_run_sync(const struct config *cfg, const char *command,
	    struct hook_result *r);

/* Flags of hook_run_flags and hook_runner_submit_flags. */
#define HOOK_DETACH	0x1	/* never kill the command: on timeout or stop
				 * it is left running (kind exec: it runs in a
				 * grandchild, not waited for, so .status is 0
				 * and its outcome must be in its output; used
				 * for the fenced wrapper, fence.h).  Kind ssh
				 * never kills a remote command anyway. */

/* hook_run_sync with flags. */
int	hook_run_flags(const struct config *cfg, const char *command, int flags,
	    struct hook_result *r);

/* The runner: cfg->hook_concurrency worker threads (a workq, thread name
 * sluice-hook), each running one job at a time, in the order submitted;
 * results come back on the loop thread in the order they finish. */
struct hook_runner;

typedef void hook_done_fn(void *arg, const struct hook_result *r);

/* Start the worker.  cfg must outlive the runner.  done is called on the
 * loop thread, once per submitted job, with a result valid only for the
 * call.  The loop is kept alive (ev_ref) only while jobs are outstanding.
 * Errors: SL_ENOMEM, SL_EIO (thread creation).  Loop thread only. */
int	hook_runner_start(struct hook_runner **out, struct ev_loop *loop,
	    const struct config *cfg, hook_done_fn *done, void *arg);

/* Queue command (copied) under id.  Errors: SL_ENOMEM, SL_ESTATE after
 * stop.  Loop thread only. */
int	hook_runner_submit(struct hook_runner *hr, uint64_t id, const char *command);
/* The same with HOOK_* flags. */
int	hook_runner_submit_flags(struct hook_runner *hr, uint64_t id,
	    const char *command, int flags);

/* Number of jobs submitted whose result has not been delivered yet. */
unsigned hook_runner_pending(const struct hook_runner *hr);

/* Stop and free: a running command is abandoned within about 0.6 s (a
 * local one is killed; a remote one may go on running), queued jobs are
 * dropped, and done is not called for either -- the journal still says
 * hook_running for them and the caller resolves that at next start.
 * NULL is a no-op.  Loop thread only, never from inside done. */
void	hook_runner_stop(struct hook_runner *hr);

#endif
