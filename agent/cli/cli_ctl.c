/*
 * cli_ctl.c: the commands that change something, each one request over
 * the control socket (ctlclient.c) that the daemon acts on: submit,
 * pause, resume, retry, retry-hook, cancel; at a sink, release.  They read no journal: the
 * daemon alone writes it.  Exit 0 when the daemon did it, 1 when it
 * refused, 3 when it cannot be reached.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "control.h"

/* ---- submit ------------------------------------------------------------ */

int
cmd_submit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'N' },
		{ "meta", required_argument, NULL, 'm' },
		{ "lane", required_argument, NULL, 'L' },
		{ "route", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	static char route[64];
	char	*args[3 + SL_MAX_META], dir[PATH_MAX], err[1024], *text;
	char	 lane[32] = "";
	char	*name = "";
	int	 n = 2, ch, rc, status;

	while ((ch = getopt_long(argc, argv, "N:m:L:r:", opts, NULL)) != -1) {
		switch (ch) {
		case 'N': name = optarg; break;
		case 'L':
			if (strcmp(optarg, "live") != 0 && strcmp(optarg, "backlog") != 0 &&
			    strcmp(optarg, "auto") != 0) {
				fprintf(stderr, "sluice: --lane %s: want live, backlog "
				    "or auto\n", cli_esc(optarg));
				return SL_EXIT_USAGE;
			}
			/* "lane:X" cannot be metadata (no '='): the daemon
			 * takes it as the lane; an older one refuses it */
			snprintf(lane, sizeof(lane), "lane:%s", optarg);
			break;
		case 'm':
			if (n == 2 + SL_MAX_META) {
				fprintf(stderr, "sluice: more than %d --meta\n", SL_MAX_META);
				return SL_EXIT_USAGE;
			}
			if (strchr(optarg, '=') == NULL || optarg[0] == '=') {
				fprintf(stderr, "sluice: --meta %s: want KEY=VALUE\n", optarg);
				return SL_EXIT_USAGE;
			}
			args[n++] = optarg;
			break;
		case 'r':	/* the metadata key "route", journaled with it */
			if (strcmp(optarg, "transfer") != 0 && strcmp(optarg, "job") != 0) {
				fprintf(stderr, "sluice: --route %s: transfer or job\n", optarg);
				return SL_EXIT_USAGE;
			}
			if (n == 2 + SL_MAX_META) {
				fprintf(stderr, "sluice: more than %d --meta\n", SL_MAX_META);
				return SL_EXIT_USAGE;
			}
			snprintf(route, sizeof(route), "route=%s", optarg);
			args[n++] = route;
			break;
		default: return SL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: sluice submit DIR [--name NAME] [--lane live|backlog] "
		    "[--route transfer|job] [--meta KEY=VALUE]...\n");
		return SL_EXIT_USAGE;
	}
	if (realpath(argv[optind], dir) == NULL) {
		fprintf(stderr, "sluice: %s: %s\n", cli_esc(argv[optind]), strerror(errno));
		return SL_EXIT_FAIL;
	}
	args[0] = dir;
	args[1] = name;
	if (lane[0]) {	/* the daemon takes the lane as the third word only */
		memmove(&args[3], &args[2], (size_t)(n - 2) * sizeof(args[0]));
		args[2] = lane;
		n++;
	}
	rc = ctl_call(cli_cfg.control, "submit", n, args, 120, &status, &text, err,
	    sizeof(err));
	if (rc != SL_OK) {
		fprintf(stderr, "sluice: %s\n", err);
		return SL_EXIT_DOWN;
	}
	if (status != SL_OK) {
		fprintf(stderr, "sluice: submit %s: %s\n", cli_esc(dir), cli_esc(text));
		free(text);
		return SL_EXIT_FAIL;
	}
	printf("submitted %s\n", cli_esc(text));
	free(text);
	return SL_EXIT_OK;
}

/* ---- pause, resume, retry, retry-hook, cancel ---------------------------- */

/*
 * Send one control request and print the daemon's reply.  Exit 0 when the
 * daemon did it, 1 when it refused (including a daemon too old to know
 * the command), 3 when it cannot be reached.
 */
static int
ctl_simple(const char *command, int n, char **args)
{
	char	err[1024], *text = NULL;
	int	rc, status;
	size_t	len;

	rc = ctl_call(cli_cfg.control, command, n, args, 30, &status, &text, err,
	    sizeof(err));
	if (rc != SL_OK) {
		fprintf(stderr, "sluice: %s: daemon not reachable: %s\n", command, err);
		return SL_EXIT_DOWN;
	}
	len = strlen(text);
	while (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	if (status != SL_OK) {
		if (strncmp(text, "unknown command", 15) == 0)
			fprintf(stderr, "sluice: %s: this daemon does not support \"%s\" "
			    "(it answered: unknown command); upgrade sluiced\n", command,
			    command);
		else
			fprintf(stderr, "sluice: %s: %s\n", command, text[0] ? cli_esc(text) :
			    sl_strerror(status));
		free(text);
		return SL_EXIT_FAIL;
	}
	if (text[0])
		printf("%s\n", cli_esc(text));
	free(text);
	return SL_EXIT_OK;
}

/* "--until T": a duration from now ("30m", "2h") or a local time
 * "YYYY-MM-DD HH:MM[:SS]" / "YYYY-MM-DDTHH:MM[:SS]" / "HH:MM" (today, or
 * tomorrow if already past).  Epoch seconds in *out, 0 on success. */
static int
parse_until(const char *s, double *out)
{
	struct tm	 tm;
	const char	*fmts[] = { "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
	    "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", NULL };
	const char	*e;
	double		 d;
	time_t		 now = time(NULL);
	int		 i;

	if (config_parse_duration(s, &d) == SL_OK && d > 0) {
		*out = cli_now() + d;
		return 0;
	}
	for (i = 0; fmts[i]; i++) {
		memset(&tm, 0, sizeof(tm));
		e = strptime(s, fmts[i], &tm);
		if (e != NULL && *e == '\0') {
			tm.tm_isdst = -1;
			*out = (double)mktime(&tm);
			return *out > (double)now ? 0 : -1;
		}
	}
	localtime_r(&now, &tm);
	e = strptime(s, "%H:%M", &tm);
	if (e != NULL && *e == '\0') {
		tm.tm_sec = 0;
		tm.tm_isdst = -1;
		*out = (double)mktime(&tm);
		if (*out <= (double)now)
			*out += 86400;
		return 0;
	}
	return -1;
}

int
cmd_pause(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "until", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 }
	};
	char	*args[2], until[32];
	double	 t = 0;
	int	 ch, n = 1;

	while ((ch = getopt_long(argc, argv, "u:", opts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			if (parse_until(optarg, &t) != 0) {
				fprintf(stderr, "sluice: pause --until %s: want a duration "
				    "(30m, 2h) or a future time (HH:MM, YYYY-MM-DD HH:MM)\n",
				    optarg);
				return SL_EXIT_USAGE;
			}
			break;
		default: return SL_EXIT_USAGE;
		}
	}
	if (argc - optind > 1)
		return CLI_USAGE;
	args[0] = optind < argc ? argv[optind] : "";
	if (t > 0) {
		snprintf(until, sizeof(until), "%.0f", t);
		args[1] = until;
		n = 2;
	}
	return ctl_simple("pause", n, args);
}

int
cmd_resume(int argc, char **argv)
{
	char	*args[1];

	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return CLI_USAGE;
	args[0] = argc == 2 ? argv[1] : "";
	return ctl_simple("resume", 1, args);
}

/* retry DATASET [--name NEW]: the control request "retry" DATASET [NEW]. */
int
cmd_retry(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 }
	};
	char	*args[2], *name = NULL;
	int	 ch;

	while ((ch = getopt_long(argc, argv, "N:", opts, NULL)) != -1) {
		switch (ch) {
		case 'N': name = optarg; break;
		default: return SL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || argv[optind][0] == '-' || (name && name[0] == '\0'))
		return CLI_USAGE;
	args[0] = argv[optind];
	args[1] = name;
	return ctl_simple("retry", name ? 2 : 1, args);
}

/* retry-hook DATASET */
int
cmd_one_dataset(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-')
		return CLI_USAGE;
	return ctl_simple(argv[0], 1, argv + 1);
}

int
cmd_cancel(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "yes", no_argument, NULL, 'y' },
		{ NULL, 0, NULL, 0 }
	};
	char	 line[64];
	int	 ch, yes = 0;

	while ((ch = getopt_long(argc, argv, "y", opts, NULL)) != -1) {
		switch (ch) {
		case 'y': yes = 1; break;
		default: return SL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1)
		return CLI_USAGE;
	if (!yes) {
		if (!isatty(STDIN_FILENO)) {
			fprintf(stderr, "sluice: cancel %s: not a terminal to confirm "
			    "on; add --yes\n", argv[optind]);
			return SL_EXIT_USAGE;
		}
		printf("Cancel dataset %s? Its transfer stops and it will not be sent. "
		    "[y/N] ", argv[optind]);
		fflush(stdout);
		if (fgets(line, sizeof(line), stdin) == NULL ||
		    (line[0] != 'y' && line[0] != 'Y')) {
			printf("not cancelled\n");
			return SL_EXIT_FAIL;
		}
	}
	return ctl_simple("cancel", 1, argv + optind);
}

/* release DATASET [--agent ID] [--yes], at a sink: the control request
 * "release" DATASET [ID]. */
int
cmd_release(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "agent", required_argument, NULL, 'a' },
		{ "yes", no_argument, NULL, 'y' },
		{ NULL, 0, NULL, 0 }
	};
	char	 line[64], *args[2], *agent = NULL;
	int	 ch, yes = 0;

	while ((ch = getopt_long(argc, argv, "a:y", opts, NULL)) != -1) {
		switch (ch) {
		case 'a': agent = optarg; break;
		case 'y': yes = 1; break;
		default: return SL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || argv[optind][0] == '\0' ||
	    (agent != NULL && agent[0] == '\0'))
		return CLI_USAGE;
	if (cli_cfg.role != ROLE_SINK) {
		fprintf(stderr, "sluice: release: a sink's command, and this config is an "
		    "agent's; at an agent, sluice cancel stops a dataset and releases "
		    "its copy at the sink\n");
		return SL_EXIT_USAGE;
	}
	if (!yes) {
		if (!isatty(STDIN_FILENO)) {
			fprintf(stderr, "sluice: release %s: not a terminal to confirm "
			    "on; add --yes\n", cli_esc(argv[optind]));
			return SL_EXIT_USAGE;
		}
		printf("Release dataset %s? Its partial copy is removed and the sink "
		    "forgets it. [y/N] ", cli_esc(argv[optind]));
		fflush(stdout);
		if (fgets(line, sizeof(line), stdin) == NULL ||
		    (line[0] != 'y' && line[0] != 'Y')) {
			printf("not released\n");
			return SL_EXIT_FAIL;
		}
	}
	args[0] = argv[optind];
	args[1] = agent;
	return ctl_simple("release", agent ? 2 : 1, args);
}
