/*
 * cli.h: the contract of the sluice CLI's room.  Room-private: only the
 * files in agent/cli/ include it.  Calls point down only:
 *
 *   sluice.c       main, the command table, help: dispatches, nothing more
 *   cli_status.c   status, ls       (the whole journal, plus a ping)
 *   cli_show.c     show, wait       (one dataset from the journal)
 *   cli_ctl.c      submit, pause, resume, retry, retry-hook, cancel
 *                  (requests the daemon acts on, over the control socket)
 *   cli_watch.c    watch            (live progress)
 *   cli_lanes.c    the agent's lanes in status and watch (from its ping)
 *   cli_verify.c   verify           (re-hash against manifest or journal)
 *   cli_ping.c     the daemon's ping reply parsed; health words, exit codes
 *   cli_init.c     init           (a first config for each side)
 *   cli_util.c     config, the journal read-only, how values are printed
 *   ctlclient.c    the control socket's client side (control.h)
 *
 * The CLI links neither libev nor TLS.  Single-threaded.
 */
#ifndef CLI_H
#define CLI_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "journal.h"

/*
 * A command's function: argv[0] is the command's name, getopt is reset
 * (optind = 1) and cli_cfg loaded before the call.  It returns an exit
 * status (SL_EXIT_*), or CLI_USAGE when its arguments are wrong and its
 * --help text should be shown: main prints that text to stdout and exits
 * SL_EXIT_USAGE.  Only the command table knows the help texts, so no
 * command calls back into sluice.c.
 */
#define CLI_USAGE	(-1)

int	cmd_status(int argc, char **argv);	/* cli_status.c */
int	cmd_ls(int argc, char **argv);
int	cmd_show(int argc, char **argv);	/* cli_show.c */
int	cmd_wait(int argc, char **argv);
int	cmd_submit(int argc, char **argv);	/* cli_ctl.c */
int	cmd_pause(int argc, char **argv);
int	cmd_resume(int argc, char **argv);
int	cmd_one_dataset(int argc, char **argv);	/* retry-hook DATASET */
int	cmd_retry(int argc, char **argv);		/* retry DATASET [--name NEW] */
int	cmd_cancel(int argc, char **argv);
int	cmd_release(int argc, char **argv);	/* sink: release DATASET [--agent ID] */
int	cmd_watch(int argc, char **argv);	/* cli_watch.c */
int	cmd_verify(int argc, char **argv);	/* cli_verify.c */
int	cmd_init(int argc, char **argv);	/* cli_init.c */

/* ---- cli_ping.c ---- */

#define CLI_MAX_DEST	16
#define CLI_MAX_AGENT	64

enum { CLI_NOT_RUNNING, CLI_NOT_RESPONDING, CLI_UP };

struct cli_dest {			/* agent: one destination */
	char		text[256], state[32];	/* up, down, standby, paused, maintenance */
	double		down_since, paused_until, maint_start, maint_end;
	int		current;
};

struct cli_agent {			/* sink: one agent it knows */
	char		id[SL_MAX_ID + 1], from[128], tls[8];
	int		streams;
	uint64_t	receiving, published, failed, bytes;
};

/* The daemon's "ping" reply, parsed.  Numbers the reply lacks stay at
 * their defaults (-1 for rates and spool_pct, 0 otherwise). */
struct cli_ping {
	int		daemon;			/* CLI_UP, CLI_NOT_RESPONDING, CLI_NOT_RUNNING */
	long		pid;			/* up or not responding */
	double		started;		/* epoch, 0 unknown */
	char		err[512];		/* why not up */
	char		info[1024];		/* up: the reply's first line, raw */
	char	       *raw;			/* up: the whole reply; cli_ping_free */
	/* agent */
	char		dest[256], link[32], why[SL_MAX_MSG + 1], current[32];
	double		since, paused_until;
	int		streams;
	double		rate_now, rate_avg, rate_window;
	int		spool_pct;
	char		spool_level[16];
	struct cli_dest	dests[CLI_MAX_DEST];
	int		ndest;
	/* sink */
	char		listen[256];
	int		connections, receiving;
	struct cli_agent agents[CLI_MAX_AGENT];
	int		nagent;
};

/* Ping the daemon (waiting at most timeout seconds) into *pg.  Never
 * fails: pg->daemon says whether it answered. */
void		cli_ping(struct cli_ping *pg, double timeout);
/* Free what cli_ping kept (the raw reply). */
void		cli_ping_free(struct cli_ping *pg);
/* "up", "not_responding", "down" (the JSON word of pg->daemon). */
const char     *cli_daemon_word(int daemon);
/* The health word ("healthy", "paused", "maintenance", "degraded",
 * "not_responding", "down") into *word and its exit status (SL_EXIT_*),
 * with a short reason in why ("" when healthy). */
int		cli_health(const struct cli_ping *pg, uint64_t failed,
		    uint64_t hook_failed, const char **word, char *why, size_t whylen);
/* One line each, for people: the daemon, the link, a destination. */
const char     *cli_daemon_line(const struct cli_ping *pg, char *buf, size_t len);
const char     *cli_link_line(const struct cli_ping *pg, char *buf, size_t len);
const char     *cli_dest_line(const struct cli_dest *d, char *buf, size_t len);
/* Local "YYYY-MM-DD HH:MM:SS", "-" for 0. */
const char     *cli_when(double epoch, char *buf, size_t len);

/* ---- cli_lanes.c: the lanes from an agent's ping reply (send_ops.c) ---- */

struct json_t;
/* "lanes:" lines of sluice status; nothing when ping has none. */
void		cli_lanes_print(const char *ping);
/* One line for watch's header ("" when none). */
void		cli_lanes_summary(const char *ping, char *out, size_t outlen);
/* The lane ("live", "backlog") of the dataset in flight with id (16 hex
 * digits), or NULL.  A static buffer. */
const char     *cli_lanes_of(const char *ping, const char *id);
/* {"live": {...}, "backlog": {...}, "in_flight": [{id, lane}],
 * "max_in_flight": N} for status --json (a new reference), or json null
 * when ping has no lanes. */
struct json_t  *cli_lanes_json(const char *ping);

/* ---- cli_util.c ---- */

extern struct config	cli_cfg;	/* loaded before any command but help, init */
extern const char      *cli_cfg_path;	/* -c, $SLUICE_CONFIG or the default */

/* Load the daemon's config from path into cli_cfg; on any error print
 * every message to stderr and exit SL_EXIT_USAGE.  Called once, by main. */
void		cli_load_config(const char *path);

/* Open the journal of cli_cfg read-only.  A missing journal returns NULL
 * when quiet_missing, else prints and exits 1; any other failure prints
 * and exits 1.  Close it soon: a read txn pins LMDB pages. */
struct journal *cli_open_journal(int quiet_missing);
/* Open the journal read-only, call fn for every dataset (one read txn, as
 * journal_ds_foreach), close it.  0, or -1 when quiet_missing and there is
 * no journal (fn not called); other failures as cli_open_journal. */
int		cli_ds_foreach(int quiet_missing,
		    int (*fn)(const struct ds_rec *d, void *arg), void *arg);
/* Open the journal read-only, find one dataset by name or 16-hex-digit id
 * into *d (the caller frees it with ds_rec_free), close it.  SL_OK, or
 * SL_ENOTFOUND (also when there is no journal); other failures as
 * cli_open_journal. */
int		cli_ds_lookup(const char *name_or_id, struct ds_rec *d);

double		cli_now(void);			/* CLOCK_REALTIME seconds */
const char     *cli_bytes(uint64_t b, char *buf, size_t len);	/* "1.5 GiB" */
const char     *cli_duration(double s, char *buf, size_t len);	/* "42s", "3m", "1.5h" */
const char     *cli_state_name(int state);	/* agent or sink state by role */

/* A name or a sentence holding names, for a line of text: '\\', '\n',
 * '\r', '\t' as "\\\\", "\\n", "\\r", "\\t", other control bytes and bytes
 * that are not UTF-8 as "\\xNN", the rest as it is, so that one name
 * never splits a line.  Returns one of a few rotating static buffers
 * (four results stay valid together). */
const char     *cli_esc(const char *s);
/* The same for JSON: a new string holding s when it is UTF-8 (JSON
 * escapes control bytes itself), else cli_esc's text; json_null() for
 * NULL.  For "s:o" in json_pack. */
struct json_t;
struct json_t  *cli_json_str(const char *s);

#endif
