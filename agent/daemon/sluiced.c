/*
 * sluiced.c: the daemon.  Loads the config, opens the journal, starts the
 * role the config names on one libev loop, and serves the control socket.
 *
 *	sluiced -c FILE        run (foreground; systemd or a shell supervises)
 *	sluiced -n -c FILE     check the config, print "OK", exit
 *	sluiced --pull HOST:PORT --dataset ID --root DIR ...
 *	                       the job's receiver of route job (pull.h)
 */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ev.h>

#include "config.h"
#include "control.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "mreg.h"
#include "pull.h"
#include "roles.h"
#include "statusjson.h"

static struct config	cfg;

static void
usage(void)
{
	fprintf(stderr, "usage: sluiced [-n] -c CONFIG\n"
	    "       sluiced --pull HOST:PORT --dataset ID --root DIR --ca FILE --cert FILE\n"
	    "               --key FILE --reduce COMMAND --result PATH [--timeout SECONDS]\n"
	    "               [--streams N]\n"
	    "  -c, --config FILE   configuration file (INI)\n"
	    "  -n, --check         check the configuration and exit\n"
	    "  -V, --version       print the version\n"
	    "  --pull HOST:PORT    be a Slurm job's receiver: dial the agent, pull the\n"
	    "                      dataset into DIR, reduce it, store the result\n");
	exit(SL_EXIT_USAGE);
}

static void
stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	log_info("sluiced", "signal=%d stopping", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

/* The live page's /status.json is `sluice -c CONFIG status --json`
 * (statusjson.h): the CLI beside this binary, the config by its absolute
 * path (the daemon may be started from anywhere). */
static void
status_for_page(struct metrics *met, const char *path)
{
	char	cli[PATH_MAX], conf[PATH_MAX], err[PATH_MAX * 3];

	if (sj_find_cli(cli, sizeof(cli), err, sizeof(err)) != SL_OK) {
		log_warnx("sluiced", "live page without status: %s", err);
		return;
	}
	if (realpath(path, conf) == NULL) {
		log_warn("sluiced", "live page without status: realpath %s", log_q(path));
		return;
	}
	metrics_set_status(met, cli, conf);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "version", no_argument, NULL, 'V' },
		{ "pull", required_argument, NULL, 'P' },
		{ "dataset", required_argument, NULL, 'D' },
		{ "root", required_argument, NULL, 'R' },
		{ "ca", required_argument, NULL, 'A' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "reduce", required_argument, NULL, 'X' },
		{ "result", required_argument, NULL, 'O' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "streams", required_argument, NULL, 'S' },
		{ "debug", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	/* --streams: as many as a push session has by default ([agent] streams) */
	struct pull_opts po = { .timeout = 600, .log_level = LOG_INFO, .streams = 4 };
	long		 n;
	char		*e;
	struct ev_loop	*loop;
	struct journal	*j = NULL;
	struct control	*ctl = NULL;
	struct metrics	*met = NULL;
	struct agent	*agent = NULL;
	struct sink	*sink = NULL;
	ev_signal	 sigterm, sigint;
	const char	*path = NULL;
	char		 err[8192];
	int		 ch, check = 0, rc;

	while ((ch = getopt_long(argc, argv, "c:nV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'n': check = 1; break;
		case 'V': printf("sluiced %s\n", SLUICE_VERSION); return 0;
		case 'P': po.agent = optarg; break;
		case 'D':
			errno = 0;
			po.dsid = strtoull(optarg, &e, 16);
			if (errno || *e != '\0' || e == optarg || po.dsid == 0) {
				fprintf(stderr, "sluiced: --dataset %s: want the dataset "
				    "id, 16 hex digits\n", optarg);
				return SL_EXIT_USAGE;
			}
			break;
		case 'R': po.root = optarg; break;
		case 'A': po.ca = optarg; break;
		case 'C': po.cert = optarg; break;
		case 'K': po.key = optarg; break;
		case 'X': po.reduce = optarg; break;
		case 'O': po.result = optarg; break;
		case 'T':
			po.timeout = strtod(optarg, &e);
			if (*e != '\0' || e == optarg || po.timeout <= 0) {
				fprintf(stderr, "sluiced: --timeout %s: want seconds\n", optarg);
				return SL_EXIT_USAGE;
			}
			break;
		case 'S':
			errno = 0;
			n = strtol(optarg, &e, 10);
			if (errno || *e != '\0' || e == optarg || n < 1 || n > SL_MAX_STREAMS) {
				fprintf(stderr, "sluiced: --streams %s: want 1 to %d\n", optarg,
				    SL_MAX_STREAMS);
				return SL_EXIT_USAGE;
			}
			po.streams = (int)n;
			break;
		case 'd': po.log_level = LOG_DEBUG; break;
		default: usage();
		}
	}
	if (po.agent != NULL) {
		if (path != NULL || check || optind != argc || po.dsid == 0 ||
		    po.root == NULL || po.ca == NULL || po.cert == NULL ||
		    po.key == NULL || po.reduce == NULL || po.result == NULL) {
			fprintf(stderr, "sluiced: --pull needs --dataset, --root, --ca, "
			    "--cert, --key, --reduce and --result (and no -c)\n");
			return SL_EXIT_USAGE;
		}
		return pull_run(&po);
	}
	if (path == NULL || optind != argc)
		usage();
	log_init(LOG_INFO, 0);
	if (config_load(&cfg, path, err, sizeof(err)) != SL_OK) {
		fprintf(stderr, "%s", err);
		if (err[0] && err[strlen(err) - 1] != '\n')
			fputc('\n', stderr);
		return SL_EXIT_USAGE;
	}
	if (check) {
		printf("%s: OK (role %s)\n", path, cfg.role == ROLE_AGENT ? "agent" : "sink");
		return 0;
	}
	log_init(cfg.log_level, 0);
	signal(SIGPIPE, SIG_IGN);

	rc = journal_open(&j, cfg.journal, cfg.role == ROLE_AGENT ? JOURNAL_AGENT :
	    JOURNAL_SINK, 0, 0, err, sizeof(err));
	if (rc != SL_OK) {
		fprintf(stderr, "sluiced: %s\n", err);
		return SL_EXIT_FAIL;
	}
	/* Not ev_default_loop: that one reaps every child on SIGCHLD, and the
	 * exec hook's worker must waitpid() its own child for the status. */
	loop = ev_loop_new(EVFLAG_AUTO);
	if (loop == NULL) {
		fprintf(stderr, "sluiced: cannot create the event loop\n");
		journal_close(j);
		return SL_EXIT_FAIL;
	}
	if (cfg.role == ROLE_AGENT)
		rc = agent_start(&agent, loop, &cfg, j, err, sizeof(err));
	else
		rc = sink_start(&sink, loop, &cfg, j, err, sizeof(err));
	if (rc == SL_OK)
		rc = control_open(&ctl, loop, cfg.control, cfg.role == ROLE_AGENT ?
		    agent_control : sink_control, cfg.role == ROLE_AGENT ?
		    (void *)agent : (void *)sink, err, sizeof(err));
	if (rc == SL_OK)
		rc = metrics_start(&met, loop, cfg.metrics, mreg_render, NULL,
		    err, sizeof(err));
	if (rc != SL_OK) {
		fprintf(stderr, "sluiced: %s\n", err);
		control_close(ctl);
		agent_stop(agent);
		sink_stop(sink);
		journal_close(j);
		return SL_EXIT_FAIL;
	}
	if (met != NULL)
		status_for_page(met, path);
	ev_signal_init(&sigterm, stop_cb, SIGTERM);
	ev_signal_start(loop, &sigterm);
	ev_signal_init(&sigint, stop_cb, SIGINT);
	ev_signal_start(loop, &sigint);
	log_info("sluiced", "version=%s role=%s pid=%d config=%s control=%s",
	    SLUICE_VERSION, cfg.role == ROLE_AGENT ? "agent" : "sink", (int)getpid(),
	    log_q(path), log_q(cfg.control));

	ev_run(loop, 0);

	metrics_stop(met);
	control_close(ctl);
	agent_stop(agent);
	sink_stop(sink);
	journal_close(j);
	ev_loop_destroy(loop);
	log_info("sluiced", "stopped");
	return 0;
}
