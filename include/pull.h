/*
 * pull.h: route job, the pull direction (docs/pull.md).
 *
 * A dataset on route job is pulled by a Slurm job: the job's receiver
 * (`sluiced --pull`, agent/sink/sink_pull.c) dials the agent's pull
 * listener (agent/send/send_pull.c), because compute nodes may open
 * connections outward but accept none.  The TCP direction is reversed,
 * nothing else: after a fixed preamble the receiver is the TLS server and
 * the sink of the ordinary protocol (CHALLENGE, HELLO, WELCOME, OPEN ...),
 * the agent the TLS client and the sender.  Both sides verify the other's
 * certificate (mutual TLS); the agent also requires the receiver's CN to
 * be [job] peer_cn, the receiver (as every sink) the agent's CN to be the
 * agent id of its HELLO.
 *
 * The preamble, plain text before TLS, says what the connection is for:
 *
 *	"SLUICE-PULL 1 P <id> <session> <i>/<n>\n"  stream i of n pulling <id>
 *	"SLUICE-PULL 1 R <id> <session> 00/01\n"    report the result of <id>
 *
 * <id> is 16 lowercase hex digits (not 0), <session> 8 (the receiver's
 * random number for one set of streams: the n connections with the same
 * one are joined into one pull session of the dataset, a newer set
 * supersedes an older one), <i> and <n> 2 (1 <= n <= SL_MAX_STREAMS,
 * i < n).  It carries no secret and grants nothing by itself: a pull
 * session only serves a dataset on route job, after the handshake
 * authenticated the receiver.  A report session carries one RESULT frame
 * each way.
 */
#ifndef PULL_H
#define PULL_H

#include <stddef.h>
#include <stdint.h>

#define PULL_MAGIC		"SLUICE-PULL 1 "
#define PULL_PREAMBLE_LEN	48	/* magic, mode, id, session, i/n, '\n' */
#define PULL_MODE_PULL		'P'
#define PULL_MODE_REPORT	'R'

/* What a preamble says. */
struct pull_pre {
	int		 mode;		/* PULL_MODE_* */
	uint64_t	 id;		/* the dataset */
	uint32_t	 session;	/* the receiver's set of streams */
	uint32_t	 stream, nstreams;	/* this one is stream of nstreams */
};

/* Write the preamble pp into out (PULL_PREAMBLE_LEN + 1 bytes with the
 * NUL).  Any thread. */
void	pull_preamble(char out[PULL_PREAMBLE_LEN + 1], const struct pull_pre *pp);
/* Parse exactly PULL_PREAMBLE_LEN bytes into *out.  SL_OK, or SL_EPROTO
 * (anything malformed, a count out of range, a report with n != 1). */
int	pull_preamble_parse(const char *p, struct pull_pre *out);

/* The receiver (`sluiced --pull`): what the job's command line says. */
struct pull_opts {
	const char	*agent;		/* HOST:PORT of the agent's pull_listen */
	uint64_t	 dsid;
	const char	*root;		/* the job's scratch directory (exists) */
	const char	*ca, *cert, *key;	/* on the shared file system */
	const char	*reduce;	/* sh command; its stdout is the result */
	const char	*result;	/* absolute path on the shared file system */
	double		 timeout;	/* give up after this long without a session */
	int		 streams;	/* connections per pull session (--streams) */
	int		 log_level;
};

/* Pull dataset o->dsid into o->root (resuming from what an earlier run
 * in the same root holds), run the reduction in the published directory,
 * copy its output to o->result atomically (temp name + fsync + rename),
 * and report to the agent until it confirms.  Blocking; returns an exit
 * code (SL_EXIT_OK, SL_EXIT_FAIL, SL_EXIT_USAGE) with one error line on
 * stderr.  Main thread of its own process. */
int	pull_run(const struct pull_opts *o);

#endif
