/*
 * fence.h: the remote fence of the completion hook (agent/hook/fence.c).
 *
 * Killing an SSH client does not stop the command it started, so "the
 * agent died while the hook ran" cannot be settled by asking whether a
 * job exists yet.  The fence settles it at the remote side: the hook's
 * command runs under a small POSIX sh wrapper, sent as the exec command
 * itself (nothing is installed remotely), keyed by a name unique to one
 * run of one dataset's hook:
 *
 *   run    mkdir STATE_DIR/KEY (atomic: if it exists, this run never
 *          starts the command and answers as probe does); write "start"
 *          (time, the wrapper's pid, the boot id) by temp + rename; run
 *          the command with stdin /dev/null and its stdout and stderr
 *          captured in the marker; write "status" (exit status, end time)
 *          by temp + rename; then answer "ran".
 *   probe  never runs anything: answers "ran" (status, times, the
 *          captured stdout and stderr tail), "running" (start time, pid
 *          alive), "dead" (a start but no status, and the wrapper is gone
 *          or the host rebooted since), or "none" (no marker: never
 *          started under this key).
 *
 * The answer is one header line on stdout, "sluice-fence 1 STATE ...",
 * followed by the command's stdout; the command's stderr tail goes to
 * stderr.  Lines before the header (a chatty login script) are ignored.
 *
 * Pure: builds strings and parses them; no I/O.  Any thread.
 */
#ifndef FENCE_H
#define FENCE_H

#include <stddef.h>
#include <stdint.h>

#define FENCE_KEY_MAX		160	/* a key, incl. NUL */
#define FENCE_MAX_COMMAND	(256u * 1024)	/* a wrapped command, bytes */
#define FENCE_MAGIC		"sluice-fence 1 "

enum fence_mode { FENCE_RUN = 1, FENCE_PROBE = 2 };

enum fence_state {
	FENCE_NOANSWER = 0,	/* no header: the wrapper did not answer */
	FENCE_NONE,		/* no marker: never started under this key */
	FENCE_RUNNING,		/* started, no status, the wrapper is alive */
	FENCE_RAN,		/* exited: status, output */
	FENCE_DEAD,		/* started, no status, the wrapper is gone */
	FENCE_ERROR,		/* the marker could not be made: not started */
};
const char *fence_state_name(int state);

/* The marker's name: AGENT-ID-GEN.ATTEMPT, ID as 16 hex digits, GEN the
 * number of operator retries (sluice retry-hook) so that a retried hook
 * gets fresh markers.  agent must be 1.. chars of A-Z a-z 0-9 . _ -
 * (config.c's rule for [daemon] id).  SL_EINVAL otherwise or when it does
 * not fit len. */
int	fence_key(char *buf, size_t len, const char *agent, uint64_t id,
	    uint32_t gen, uint32_t attempt);

/* The exec command that runs (FENCE_RUN) or probes (FENCE_PROBE) key
 * under state_dir (a relative one is under $HOME of the remote user):
 *	/bin/sh -c 'WRAPPER' sluice-fence MODE DIR KEY SHELL COMMAND
 * every argument single-quoted as hook_expand quotes values.  shell runs
 * command (FENCE_RUN): "" means the remote user's $SHELL (what ssh
 * would have used), else e.g. "/bin/sh".  command is ignored for a probe.
 * *out is the caller's to free.  Errors (err gets a sentence, *out NULL):
 * SL_EINVAL (empty state_dir or key, a newline in state_dir),
 * SL_ETOOBIG (longer than FENCE_MAX_COMMAND), SL_ENOMEM. */
int	fence_command(int mode, const char *state_dir, const char *key,
	    const char *shell, const char *command, char **out, char *err,
	    size_t errlen);

struct fence_answer {
	int		 state;		/* enum fence_state */
	int		 status;	/* RAN: exit status of the command */
	int64_t		 started;	/* RUNNING, RAN, DEAD: epoch seconds, remote clock; 0 unknown */
	int64_t		 ended;		/* RAN: epoch seconds, remote clock */
	long		 pid;		/* RUNNING, DEAD: the wrapper's pid */
	char		 why[200];	/* DEAD: gone | reboot | reused | nostart; ERROR: the sentence */
	const char	*out;		/* RAN: the command's stdout, a pointer into the parsed text */
};

/* Parse a wrapper's stdout.  Always fills *a (state FENCE_NOANSWER when
 * there is no well-formed header line) and returns a->state.  text must
 * stay valid while a->out is used. */
int	fence_parse(const char *text, struct fence_answer *a);

#endif
