/*
 * config.h: the daemon's INI configuration (agent/base/config.c, parsed with
 * inih).  Parsed once at start-up, validated fully, never changed after
 * (STYLE 15).  Every key, its type and its default live in one table in
 * config.c; this struct is what the rest of the program reads.
 *
 *	[daemon]  role, id, journal, control, log_level
 *	[tls]     mode (on|off), ca, cert, key, secret_file, agent_secrets,
 *	          ciphersuites, threads
 *	[sink]    listen, root, max_connections, idle_timeout, direct_io, partial_ttl,
 *	          writers, reread, sha256, layout, handshake_timeout, max_preauth,
 *	          max_datasets_per_agent, max_files_per_dataset,
 *	          max_memory_per_agent, file_mode, dir_mode
 *	[agent]   destination, server_name, streams, chunk_size, window,
 *	          reconnect_min, reconnect_max, sndbuf, max_in_flight,
 *	          live_age, backlog_min_share
 *	[ingest]  spool, seal_marker, quiet, sidecar, live_spool,
 *	          backlog_spool, job_spool                      (agent)
 *	[hook]    kind, host, port, user, key, known_hosts, command, query,
 *	          connect_timeout, timeout, attempts, retry_min, retry_max,
 *	          remote_root, state_dir, concurrency           (agent)
 *	[job]     pull_listen, ca, cert, key, peer_cn, submit, poll,
 *	          resubmit, pull_timeout                        (agent)
 *	[daemon]  metrics
 *
 * Sizes accept K, M, G suffixes (powers of 1024); durations s, m, h, ms.
 * etc/sluice-agent.conf and etc/sluice-sink.conf document every key.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum cfg_role { ROLE_AGENT = 1, ROLE_SINK = 2 };
#define CFG_MAX_DESTS	8

struct config {
	char		path[4096];		/* the file it came from */
	/* [daemon] */
	int		role;			/* required */
	char		id[65];			/* default: hostname */
	char		journal[4096];		/* required */
	char		control[108];		/* unix socket path; default <journal>/control.sock */
	int		log_level;		/* default info */
	/* [tls] */
	int		tls;			/* 1 = on (default), 0 = off (explicit) */
	char		ca[4096], cert[4096], key[4096];	/* required when tls on */
	char		secret_file[4096];	/* required when tls off (a sink: or agent_secrets) */
	char		agent_secrets[4096];	/* sink, tls off: directory of <agent id> -> secret */
	char		ciphersuites[512];	/* "" = TLS_SUITES_DEFAULT (conn.h) */
	int		tls_threads;		/* bulk TLS crypto off the loop, default 2; 0 = on it */
	uint8_t		secret[256];		/* read from secret_file at load */
	size_t		secret_len;		/* >= 16 bytes */
	/* [sink] */
	char		listen[256];		/* required for a sink */
	char		root[4096];		/* required for a sink, must exist */
	int		max_connections;	/* default 256 */
	double		idle_timeout;		/* seconds, default 120 */
	int		direct_io;		/* 1 = O_DIRECT chunk writes (default), 0 = page cache */
	int		writers;		/* O_DIRECT writer threads, default 2; 0 = on the loop */
	int		reread;			/* 1 = read O_DIRECT files back for their digests */
	int		sha256;			/* 1 = SHA-256 per file in the manifest too */
	/* [sink] limits a peer cannot talk around (sink_preauth.c, sink_limits.c) */
	double		handshake_timeout;	/* seconds from accept to WELCOME, default 10 */
	int		max_preauth;		/* connections not yet authenticated, default 64 */
	int		max_datasets_per_agent;	/* receiving datasets held per agent, default 16 */
	int		max_files_per_dataset;	/* files in one OPEN, default 500000 */
	uint32_t	max_memory_per_agent;	/* bytes of file tables etc. per agent, default 256M */
	int		file_mode;		/* published files, default 0644 */
	int		dir_mode;		/* published directories, default 0755 */
	int		layout;			/* LAYOUT_FLAT (default) or LAYOUT_PER_AGENT */
	double		partial_ttl;		/* untouched partial copy removed after, s; 0 = never */
	/* [agent] */
	char		destination[1024];	/* required for an agent: host:port[, host:port...]
						 * in priority order (primary first) */
	char		server_name[256];	/* TLS name to verify; default: host of destination */
	int		streams;		/* 1..SL_MAX_STREAMS, default 4 */
	uint32_t	chunk_size;		/* default 8M */
	int		window;			/* chunks in flight per stream, default 4 */
	double		reconnect_min;		/* seconds, default 0.5 */
	double		reconnect_max;		/* seconds, default 30 */
	int		sndbuf;			/* socket buffer bytes, 0 = autotune (default) */
	int		priority;		/* PRIO_OLDEST (default) or PRIO_NEWEST first */
	int		max_in_flight;		/* datasets on the wire at once, default 4 */
	double		live_age;		/* lane auto: live while younger, default 10m */
	int		backlog_min_share;	/* percent of the link for the backlog lane, default 20 */
	double		failover_after;		/* primary down this long: use the next, default 5m */
	double		stall_timeout;		/* data unacked by the sink's TCP this long: session down, 60s */
	char		maintenance[1024];	/* "DEST START END[; ...]", times ISO 8601 UTC or epoch */
	int		retention;		/* RET_KEEP (default), RET_DELETE, RET_MOVE */
	char		retention_dir[4096];	/* where RET_MOVE puts confirmed datasets */
	double		retention_after;	/* seconds after confirmation, default 24h */
	int		spool_warn;		/* percent of the spool file system, default 80 */
	int		spool_high;		/* percent: over it, retention runs early; default 90 */
	/* [daemon] metrics: Prometheus text on http://ADDR/metrics, "" = off */
	char		metrics[256];
	/* [ingest] (agent): unattended pick-up of sealed datasets */
	char		spool[4096];		/* comma-separated directories, "" = off */
	char		live_spool[4096];	/* those of spool whose datasets go in lane live */
	char		backlog_spool[4096];	/* ... in lane backlog (others: by live_age) */
	char		job_spool[4096];	/* those of spool whose datasets take route job */
	char		seal_marker[256];	/* default ".sealed" */
	double		quiet;			/* seconds of no change that seal a dataset, 0 = off */
	char		sidecar[256];		/* metadata file shipped and parsed, default metadata.json */
	/* [hook] (agent): the completion hook */
	int		hook_kind;		/* HOOK_NONE (default), HOOK_SSH, HOOK_EXEC */
	char		hook_host[256];
	int		hook_port;		/* default 22 */
	char		hook_user[64];
	char		hook_key[4096];		/* private key file (ed25519 or RSA) */
	char		hook_known_hosts[4096];	/* OpenSSH known_hosts; required for ssh */
	char		hook_command[4096];	/* template: {dataset} {dataset_path} {id} {bytes} {files} {meta.KEY} */
	char		hook_query[4096];	/* optional template: after a crash, exit 0 = already submitted */
	double		hook_connect_timeout;	/* default 10s */
	double		hook_timeout;		/* command timeout, default 120s */
	int		hook_attempts;		/* default 5 */
	int		hook_concurrency;	/* hooks running at once, default 4 */
	double		hook_retry_min;		/* default 5s */
	double		hook_retry_max;		/* default 10m */
	char		hook_remote_root[4096];	/* {dataset_path} = this + "/" + name; default: sink root as given */
	char		hook_state_dir[4096];	/* the fence's markers at the remote (fence.h), relative
						 * to its $HOME; default .sluice/hook-state; "none": off */
	/* [job] (agent): route job, a dataset pulled into a Slurm job
	 * (agent/hook/job.c submits and watches, agent/send/send_pull.c
	 * serves the pull).  Submission and queries go over [hook]'s
	 * connection (kind ssh or exec). */
	char		job_listen[256];	/* pull_listen: "" = route job off */
	char		job_ca[4096];		/* CA the receivers' certificates chain to; default [tls] ca */
	char		job_cert[4096];		/* this agent's certificate for pull sessions; default [tls] cert */
	char		job_key[4096];		/* default [tls] key */
	char		job_peer_cn[256];	/* CN a receiver's certificate must carry; required */
	char		job_submit[4096];	/* template: {id} {dataset} {bytes} {files} {meta.KEY} -> sbatch */
	double		job_poll;		/* squeue every, default 30s */
	int		job_resubmit;		/* submissions after the first, default 2 */
	double		job_pull_timeout;	/* a running job's receiver must dial in by then, default 10m; 0 = never */
};

enum hook_kind { HOOK_NONE = 0, HOOK_SSH = 1, HOOK_EXEC = 2 };
enum retention { RET_KEEP = 0, RET_DELETE = 1, RET_MOVE = 2 };
enum priority { PRIO_OLDEST = 0, PRIO_NEWEST = 1 };
/* [sink] layout: <root>/<name> for every agent, or <root>/<agent>/<name>. */
enum layout { LAYOUT_FLAT = 0, LAYOUT_PER_AGENT = 1 };

/* Load and validate path.  On failure returns SL_EINVAL and writes every
 * problem found, one per line, as "FILE:LINE: [section] key: message"
 * (LINE 0 when the key is missing), into err (truncated to errlen). */
int	config_load(struct config *c, const char *path, char *err, size_t errlen);
/* Parse "8M" style sizes and "1.5s" style durations; 0 or SL_EINVAL. */
int	config_parse_size(const char *s, uint64_t *out);
int	config_parse_duration(const char *s, double *out);
/* The secret of agent id in c->agent_secrets (the file <dir>/<id>: a
 * regular file, mode 0600, 16..256 bytes after one trailing newline).
 * SL_OK with out/len filled; SL_ENOTFOUND when id has no file (or is not
 * a usable file name: 1..64 of A-Z a-z 0-9 . _ -, no leading '.');
 * SL_EINVAL with err naming the file and what is wrong with it.  Reads
 * the file each time (a new agent needs no restart); blocking, small.
 * Any thread. */
int	config_agent_secret(const struct config *c, const char *id, uint8_t *out,
	    size_t outlen, size_t *len, char *err, size_t errlen);

#endif
