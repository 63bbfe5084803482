/*
 * sluice.c: the operator's CLI, main and the command table (STYLE 16).
 * Commands that change something go to the daemon over the control socket
 * (cli_ctl.c); commands that only look read the LMDB journal read-only
 * (cli_status.c, cli_show.c, cli_watch.c, cli_verify.c), so they work when
 * the daemon is stopped or hung.  Links neither libev nor TLS.
 *
 * This file only dispatches: it parses the global options, loads the
 * config and calls the command's function from the table.  The table is
 * the one place that knows each command's help text; a command that finds
 * its arguments wrong returns CLI_USAGE and main prints that text, so no
 * command file calls back into this one.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "sluice.h"

#define DEFAULT_CONFIG	"/etc/sluice/sluice.conf"

struct cmd {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*args;
	const char	*help;
	const char	*detail;	/* for "sluice CMD --help" */
};

static int cmd_help(int, char **);

static const struct cmd cmds[] = {
	{ "status", cmd_status, "[--json]",
	  "daemon, link and queue at a glance (exit 0 healthy or planned, 1 degraded, 3/4 down)",
	  "Asks the daemon (ping) whether it is alive and, on an agent, whether the link\n"
	  "to the sink is up and since when; reads the journal read-only for the queue:\n"
	  "datasets by state, bytes pending, age of the oldest unsent dataset, what was\n"
	  "moved in the last 5 minutes, datasets in flight (agent) or being received\n"
	  "(sink, with the free space of the root) and the last 5 failures with reasons.\n"
	  "Works when the daemon is stopped: the journal is read directly.\n\n"
	  "  --json   the same as one JSON object; schema in docs/status-json.md\n\n"
	  "Exit status (and the health word in the first line):\n"
	  "  0  healthy; paused (sluice pause); maintenance (a configured window)\n"
	  "  1  degraded: a failed dataset or hook, or the link not up unplanned\n"
	  "  3  down: the daemon is not running\n"
	  "  4  not responding: its process is alive (pid shown) but did not answer" },
	{ "watch", cmd_watch, "[--interval S] [--count N]",
	  "live progress of active datasets (q or Ctrl-C quits)",
	  "Shows a progress bar per active dataset (queued, transferring, committing on\n"
	  "an agent; receiving on a sink) with bytes done and total, rate and ETA,\n"
	  "redrawn in place.  Press q or Ctrl-C to quit.  When standard output is not a\n"
	  "terminal, prints one plain line per dataset per interval instead.\n\n"
	  "  --interval S   seconds between polls (default 1)\n"
	  "  --count N      stop after N redraws (default: until q)" },
	{ "ls", cmd_ls, "[--state STATE] [--json]", "list datasets",
	  "Lists every dataset in the journal with its progress, resent chunks and age.\n\n"
	  "  --state STATE  only datasets in STATE (queued, transferring, committing,\n"
	  "                 transferred, failed; at a sink: receiving, published, failed)\n"
	  "  --json         a JSON array of dataset objects" },
	{ "show", cmd_show, "DATASET", "one dataset: files, counters, history",
	  "Prints one dataset (by name or 16-hex-digit id): source, size, chunk\n"
	  "counters, metadata, files, the hook's outcome and every state change with\n"
	  "its time and reason." },
	{ "submit", cmd_submit, "DIR [--name NAME] [--route R] [--meta KEY=VALUE]...",
	  "journal a dataset directory and queue it for transfer",
	  "Asks the agent to journal DIR (every regular file under it) as one dataset\n"
	  "and queue it.  Prints the dataset's name and id.\n\n"
	  "  --name NAME       dataset name (default: the directory's name)\n"
	  "  --route R         transfer (default: pushed to the sink) or job (pulled\n"
	  "                    by a Slurm job, reduced there; [job] in sluice.conf);\n"
	  "                    the same as --meta route=R\n"
	  "  --meta KEY=VALUE  metadata shipped with the dataset (repeatable)" },
	{ "wait", cmd_wait, "DATASET [--timeout S] [--hook]",
	  "wait until a dataset is transferred (0) or failed (1)",
	  "Polls the journal until DATASET is transferred (agent) or published (sink):\n"
	  "exit 0; failed or timed out: exit 1.\n\n"
	  "  --timeout S   give up after S seconds (default 600)\n"
	  "  --hook        agent: wait for the completion hook too (done: 0,\n"
	  "                hook_failed: 1)" },
	{ "verify", cmd_verify, "DATASET",
	  "re-hash a dataset and report every difference",
	  "At a sink: re-reads every file of the published dataset <root>/<name> and\n"
	  "checks its size, XXH3-128 and (where listed) SHA-256 against\n"
	  ".sluice-manifest; reports missing, extra, wrong-size and wrong-digest\n"
	  "files.\n"
	  "At an agent: re-reads the source files and compares each chunk's XXH3-64\n"
	  "with the hash journaled when the sink acknowledged it; reports files that\n"
	  "changed since they were sent.\n\n"
	  "Exit status: 0 no difference, 1 differences found or unreadable files." },
	{ "pause", cmd_pause, "[DEST] [--until T]",
	  "stop sending (to DEST, or everywhere) until resumed",
	  "Asks the agent to stop starting new chunks to DEST (default: every\n"
	  "destination).  In-flight chunks finish.  Sent as control request\n"
	  "\"pause\" DEST|\"\" [UNTIL_EPOCH].\n\n"
	  "  --until T   resume by itself at T: a duration (30m, 2h) or a local time\n"
	  "              (HH:MM, YYYY-MM-DD HH:MM)" },
	{ "resume", cmd_resume, "[DEST]", "resume sending after pause",
	  "Undoes sluice pause for DEST (default: every destination)." },
	{ "retry", cmd_retry, "DATASET [--name NEW]", "queue a failed dataset again",
	  "Asks the agent to move a failed dataset back to the queue; chunks the sink\n"
	  "already holds are not sent again.\n\n"
	  "  --name NEW  send it under a new name: the way out when the sink refused\n"
	  "              the name (\"name taken at sink by dataset X\")" },
	{ "retry-hook", cmd_one_dataset, "DATASET", "run a dataset's completion hook again",
	  "Asks the agent to run the completion hook of a transferred dataset again\n"
	  "(after the hook failed or its target was fixed)." },
	{ "cancel", cmd_cancel, "DATASET [--yes]", "stop and drop a queued dataset",
	  "Asks the agent to stop transferring DATASET and mark it failed (cancelled).\n"
	  "Asks for confirmation on a terminal.\n\n"
	  "  -y, --yes   do not ask" },
	{ "init", cmd_init, "agent|sink [OPTIONS]",
	  "write a first configuration for one side (and test certificates)",
	  "Writes the config file named by -c (default $SLUICE_CONFIG or\n"
	  "/etc/sluice/sluice.conf) with what one side needs, checks it with the\n"
	  "daemon's parser and prints the next step.  Never overwrites without --force.\n\n"
	  "  sluice init agent --sink HOST:PORT [--id ID] [--spool DIR] CREDENTIALS\n"
	  "  sluice init sink --root DIR [--listen ADDR] [--name HOST]... CREDENTIALS\n\n"
	  "CREDENTIALS, one of:\n"
	  "  --make-ca DIR        a test CA in DIR (made once, reused by the next init\n"
	  "                       naming DIR) and this side's certificate signed by it\n"
	  "  --ca F --cert F --key F   the site's CA and this side's certificate\n"
	  "  --no-tls --secret-file F  plain TCP with a shared secret (F made when\n"
	  "                       it does not exist)\n\n"
	  "  --id ID        this daemon's id (default <host>-agent / <host>-sink; an\n"
	  "                 agent's certificate gets CN=ID)\n"
	  "  --journal DIR  default /var/lib/sluice/ROLE, or ROLE.journal beside a\n"
	  "                 config that is not under /etc\n"
	  "  --listen ADDR  sink: default 0.0.0.0:4433\n"
	  "  --name HOST    sink: one more name (or IP) for its certificate, besides\n"
	  "                 localhost, 127.0.0.1, ::1 and the host name (repeatable)\n"
	  "  --spool DIR    agent: a spool directory to ingest from\n"
	  "  -f, --force    replace an existing config (and certificates)" },
	{ "release", cmd_release, "DATASET [--agent ID] [--yes]",
	  "sink: remove a failed dataset's partial copy and free its name",
	  "At a sink: a dataset that failed there (its partial copy and its name kept\n"
	  "for a look), or one being received from an agent that is not connected, is\n"
	  "released: its partial copy is removed, its name is free and the sink forgets\n"
	  "it (journaled in its history and logged), so that the agent's sluice retry\n"
	  "sends it afresh.  What [sink] partial_ttl does by itself after a while.\n"
	  "DATASET is a name or a 16-hex-digit id.  Asks for confirmation on a terminal.\n\n"
	  "  --agent ID  the dataset of that agent (names live in one namespace per\n"
	  "              agent)\n"
	  "  -y, --yes   do not ask" },
	{ "help", cmd_help, "[COMMAND]", "this text, or one command's",
	  "sluice help COMMAND is the same as sluice COMMAND --help." },
};
#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

static const struct cmd *
find_cmd(const char *name)
{
	size_t	i;

	for (i = 0; i < NCMDS; i++)
		if (strcmp(name, cmds[i].name) == 0)
			return &cmds[i];
	return NULL;
}

/* "sluice CMD --help": the command's usage and help text, on stdout. */
static void
cmd_usage(const struct cmd *c)
{
	printf("usage: sluice [-c CONFIG] %s %s\n\n%s\n\n%s\n", c->name, c->args, c->help,
	    c->detail);
}

static int
cmd_help(int argc, char **argv)
{
	const struct cmd *c;
	size_t		  i;

	if (argc > 1) {
		c = find_cmd(argv[1]);
		if (c == NULL) {
			fprintf(stderr, "sluice: unknown command \"%s\"\n", argv[1]);
			return SL_EXIT_USAGE;
		}
		cmd_usage(c);
		return SL_EXIT_OK;
	}
	printf("usage: sluice [-c CONFIG] COMMAND [ARGS]\n"
	    "       sluice COMMAND --help\n\n"
	    "Operate a sluiced agent or sink: look at its journal, ask it to act.\n\n"
	    "  -c, --config FILE  daemon configuration (default $SLUICE_CONFIG or %s)\n"
	    "  -h, --help         this text\n"
	    "  -V, --version      print the version\n\n"
	    "commands:\n", DEFAULT_CONFIG);
	for (i = 0; i < NCMDS; i++)
		printf("  %-10s %-40s %s\n", cmds[i].name, cmds[i].args, cmds[i].help);
	printf("\nExit status: 0 success or healthy, 1 failed or degraded, 2 usage or\n"
	    "configuration error, 3 daemon not running, 4 daemon not responding.\n"
	    "See sluice(1).\n");
	return SL_EXIT_OK;
}

/* "--help" or "-h" anywhere before a "--" asks for the command's help. */
static int
wants_help(int argc, char **argv)
{
	int	i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const struct cmd *c;
	const char	 *cfg_path;
	int		  a = 1, rc;

	log_init(LOG_WARN, 0);
	cfg_path = getenv("SLUICE_CONFIG") ? getenv("SLUICE_CONFIG") : DEFAULT_CONFIG;
	while (a < argc && argv[a][0] == '-') {
		if ((strcmp(argv[a], "-c") == 0 || strcmp(argv[a], "--config") == 0) &&
		    a + 1 < argc) {
			cfg_path = argv[a + 1];
			a += 2;
		} else if (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0) {
			return cmd_help(0, NULL);
		} else if (strcmp(argv[a], "-V") == 0 || strcmp(argv[a], "--version") == 0) {
			printf("sluice %s\n", SLUICE_VERSION);
			return 0;
		} else {
			fprintf(stderr, "sluice: unknown option %s (see sluice --help)\n", argv[a]);
			return SL_EXIT_USAGE;
		}
	}
	if (a == argc) {
		cmd_help(0, NULL);
		return SL_EXIT_USAGE;
	}
	c = find_cmd(argv[a]);
	if (c == NULL) {
		fprintf(stderr, "sluice: unknown command \"%s\" (see sluice --help)\n", argv[a]);
		return SL_EXIT_USAGE;
	}
	if (c->fn != cmd_help && wants_help(argc - a, argv + a)) {
		cmd_usage(c);
		return SL_EXIT_OK;
	}
	cli_cfg_path = cfg_path;
	if (c->fn != cmd_help && c->fn != cmd_init)
		cli_load_config(cfg_path);
	optind = 1;
	rc = c->fn(argc - a, argv + a);
	if (rc == CLI_USAGE) {
		cmd_usage(c);
		rc = SL_EXIT_USAGE;
	}
	return rc;
}
