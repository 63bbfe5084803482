/*
 * statusjson.h: `sluice status --json` for the HTTP listener
 * (agent/daemon/statusjson.c).
 *
 * The status document is built by one piece of code, the CLI's
 * (agent/cli/cli_status.c, schema in docs/status-json.md); the daemon runs
 * it rather than keeping a second builder that would drift from it.
 *
 * Threads: any thread but the loop's (sj_run blocks for up to `timeout`);
 * the functions share no state.
 */
#ifndef STATUSJSON_H
#define STATUSJSON_H

#include <stddef.h>
#include "wire.h"

#define SJ_TIMEOUT	10.0		/* seconds the CLI may take */

/* The `sluice` CLI that belongs to the running daemon: "sluice" in the
 * directory of /proc/self/exe (a build tree, or a PREFIX/bin install of
 * both), else ../bin/sluice beside it (sluiced in PREFIX/sbin).  Writes the
 * path into out; SL_ENOTFOUND with a sentence in err if neither is
 * executable. */
int	sj_find_cli(char *out, size_t outlen, char *err, size_t errlen);

/* Run `cli -c config status --json` with stdin on /dev/null, no other fd
 * inherited and the default signal mask; collect its stdout into out (cap
 * METRICS_MAX_REPLY).  SL_OK when it exited with a status other than
 * SL_EXIT_USAGE (the others are healths: each prints a whole document) and
 * printed a JSON object; else SL_EIO with a sentence
 * in err (its stderr, its exit status, that it ran past timeout seconds and
 * was killed, or why it could not run). */
int	sj_run(const char *cli, const char *config, double timeout, struct wbuf *out,
	    char *err, size_t errlen);

#endif
