/*
 * cli.h: what the sluice CLI's files share (agent/sluice.c holds main and
 * the command table; agent/sluice_watch.c the live view; agent/
 * sluice_verify.c the re-hash).  The CLI links neither libev nor TLS.
 * Single-threaded.
 */
#ifndef CLI_H
#define CLI_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "journal.h"

extern struct config	cli_cfg;	/* loaded before any command but help */

/* Open the journal of cli_cfg read-only.  A missing journal returns NULL
 * when quiet_missing, else prints and exits 1; any other failure prints
 * and exits 1.  Close it soon: a read txn pins LMDB pages. */
struct journal *cli_open_journal(int quiet_missing);
double		cli_now(void);			/* CLOCK_REALTIME seconds */
const char     *cli_bytes(uint64_t b, char *buf, size_t len);	/* "1.5 GiB" */
const char     *cli_duration(double s, char *buf, size_t len);	/* "42s", "3m", "1.5h" */
const char     *cli_state_name(int state);	/* agent or sink state by role */
/* Print "sluice CMD --help" text for cmd to stdout. */
void		cli_cmd_usage(const char *cmd);

int	cmd_watch(int argc, char **argv);
int	cmd_verify(int argc, char **argv);

#endif
