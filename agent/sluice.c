/*
 * sluice.c: the operator's CLI.  A command table (STYLE 16): commands that
 * change something go to the daemon over the control socket; commands that
 * only look read the LMDB journal read-only, so they work when the daemon
 * is stopped or hung.  Links neither libev nor TLS.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "config.h"
#include "control.h"
#include "journal.h"
#include "log.h"

#define DEFAULT_CONFIG	"/etc/sluice/sluice.conf"

static struct config	cfg;
static const char	*cfg_path;

struct cmd {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*args;
	const char	*help;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
load_config(void)
{
	char err[8192];

	if (config_load(&cfg, cfg_path, err, sizeof(err)) != SL_OK) {
		fprintf(stderr, "%s", err);
		if (err[0] && err[strlen(err) - 1] != '\n')
			fputc('\n', stderr);
		exit(SL_EXIT_USAGE);
	}
}

static struct journal *
open_journal(int quiet_missing)
{
	struct journal	*j;
	char		 err[1024];
	int		 rc;

	rc = journal_open(&j, cfg.journal, cfg.role == ROLE_AGENT ? JOURNAL_AGENT :
	    JOURNAL_SINK, JOURNAL_RDONLY, 0, err, sizeof(err));
	if (rc == SL_ENOTFOUND && quiet_missing)
		return NULL;
	if (rc != SL_OK) {
		fprintf(stderr, "sluice: %s\n", err);
		exit(SL_EXIT_FAIL);
	}
	return j;
}

static const char *
human_bytes(uint64_t b, char *buf, size_t len)
{
	const char	*u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double		 v = (double)b;
	int		 i = 0;

	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", v, u[i]);
	return buf;
}

static const char *
state_name(int state)
{
	return cfg.role == ROLE_AGENT ? ds_state_name(state) : sds_state_name(state);
}

static const char *
age(uint64_t ns, char *buf, size_t len)
{
	double s = now_s() - (double)ns / 1e9;

	if (s < 120)
		snprintf(buf, len, "%.0fs", s);
	else if (s < 7200)
		snprintf(buf, len, "%.0fm", s / 60);
	else
		snprintf(buf, len, "%.1fh", s / 3600);
	return buf;
}

/* ---- submit ------------------------------------------------------------ */

static int
cmd_submit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'N' },
		{ "meta", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 }
	};
	char	*args[2 + SL_MAX_META], dir[PATH_MAX], err[1024], *text;
	char	*name = "";
	int	 n = 2, ch, rc, status;

	while ((ch = getopt_long(argc, argv, "N:m:", opts, NULL)) != -1) {
		switch (ch) {
		case 'N': name = optarg; break;
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
		default: return SL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: sluice submit DIR [--name NAME] [--meta KEY=VALUE]...\n");
		return SL_EXIT_USAGE;
	}
	if (realpath(argv[optind], dir) == NULL) {
		fprintf(stderr, "sluice: %s: %s\n", argv[optind], strerror(errno));
		return SL_EXIT_FAIL;
	}
	args[0] = dir;
	args[1] = name;
	rc = ctl_call(cfg.control, "submit", n, args, 120, &status, &text, err,
	    sizeof(err));
	if (rc != SL_OK) {
		fprintf(stderr, "sluice: %s\n", err);
		return SL_EXIT_DOWN;
	}
	if (status != SL_OK) {
		fprintf(stderr, "sluice: submit %s: %s\n", dir, text);
		free(text);
		return SL_EXIT_FAIL;
	}
	printf("submitted %s\n", text);
	free(text);
	return SL_EXIT_OK;
}

/* ---- status / ls -------------------------------------------------------- */

struct tally {
	int		 json;
	json_t		*arr;
	uint64_t	 n[8];
	uint64_t	 pending_bytes;
	int		 listed, all;
	const char	*filter;
};

static json_t *
ds_json(const struct ds_rec *d)
{
	char	id[17];

	snprintf(id, sizeof(id), "%016llx", (unsigned long long)d->id);
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:f, s:f, s:s, s:s}",
	    "id", id, "name", d->name, "state", state_name(d->state),
	    "files", (json_int_t)d->nfiles, "bytes", (json_int_t)d->bytes,
	    "chunks", (json_int_t)d->nchunks, "chunks_done", (json_int_t)d->chunks_acked,
	    "bytes_done", (json_int_t)d->bytes_acked,
	    "chunks_sent", (json_int_t)d->chunks_sent,
	    "chunks_resent", (json_int_t)d->chunks_resent,
	    "chunks_nacked", (json_int_t)d->chunks_nacked,
	    "chunk_size", (json_int_t)d->chunk_size,
	    "created", (double)d->created_ns / 1e9,
	    "completed", (double)d->completed_ns / 1e9,
	    "published", d->published, "error", d->error);
}

static int
tally_fn(const struct ds_rec *d, void *arg)
{
	struct tally	*t = arg;
	char		 b1[32], b2[32], a[32];
	double		 pct;
	int		 active;

	if (d->state >= 0 && d->state < 8)
		t->n[d->state]++;
	active = cfg.role == ROLE_AGENT ? (d->state != DS_TRANSFERRED) :
	    (d->state != SDS_PUBLISHED);
	if (cfg.role == ROLE_AGENT && d->state != DS_TRANSFERRED && d->state != DS_FAILED)
		t->pending_bytes += d->bytes - d->bytes_acked;
	if (t->filter && strcmp(t->filter, state_name(d->state)) != 0)
		return 0;
	if (!t->all && !active)
		return 0;
	if (t->json) {
		json_array_append_new(t->arr, ds_json(d));
		return 0;
	}
	if (t->listed++ == 0)
		printf("%-16s  %-24s %-12s %6s %8s %10s %7s %6s\n", "ID", "NAME", "STATE",
		    "DONE", "FILES", "BYTES", "RESENT", "AGE");
	pct = d->bytes ? 100.0 * (double)d->bytes_acked / (double)d->bytes : 100.0;
	printf("%016llx  %-24.24s %-12s %5.1f%% %8u %10s %7llu %6s\n",
	    (unsigned long long)d->id, d->name, state_name(d->state), pct, d->nfiles,
	    human_bytes(d->bytes, b1, sizeof(b1)), (unsigned long long)d->chunks_resent,
	    age(d->created_ns, a, sizeof(a)));
	if (d->error[0] && (d->state == DS_FAILED || cfg.role == ROLE_SINK))
		printf("    error: %s\n", d->error);
	(void)b2;
	return 0;
}

static int
cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "state", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	struct tally	 t;
	struct journal	*j;
	int		 ch;

	memset(&t, 0, sizeof(t));
	t.all = 1;
	while ((ch = getopt_long(argc, argv, "js:", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': t.json = 1; break;
		case 's': t.filter = optarg; break;
		default: return SL_EXIT_USAGE;
		}
	}
	j = open_journal(0);
	if (t.json)
		t.arr = json_array();
	journal_ds_foreach(j, tally_fn, &t);
	if (t.json) {
		json_dumpf(t.arr, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(t.arr);
	} else if (t.listed == 0)
		printf("no datasets\n");
	journal_close(j);
	return SL_EXIT_OK;
}

static int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct tally	 t;
	struct journal	*j;
	json_t		*root = NULL;
	char		 err[1024], *text = NULL, b[32];
	int		 ch, rc, status, up, exitc, failed, linkup;

	memset(&t, 0, sizeof(t));
	while ((ch = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': t.json = 1; break;
		default: return SL_EXIT_USAGE;
		}
	}
	rc = ctl_call(cfg.control, "ping", 0, NULL, 5, &status, &text, err, sizeof(err));
	up = rc == SL_OK && status == SL_OK;
	linkup = up && (cfg.role == ROLE_SINK || strstr(text, " link=up ") != NULL);
	j = open_journal(1);
	if (t.json) {
		t.arr = json_array();
		root = json_object();
	}
	if (j != NULL) {
		journal_ds_foreach(j, tally_fn, &t);
		journal_close(j);
	}
	failed = (int)(cfg.role == ROLE_AGENT ? t.n[DS_FAILED] : t.n[SDS_FAILED]);
	exitc = !up ? SL_EXIT_DOWN : (failed || !linkup) ? SL_EXIT_FAIL : SL_EXIT_OK;
	if (t.json) {
		json_object_set_new(root, "role", json_string(cfg.role == ROLE_AGENT ?
		    "agent" : "sink"));
		json_object_set_new(root, "id", json_string(cfg.id));
		json_object_set_new(root, "daemon", json_string(up ? "up" : "down"));
		json_object_set_new(root, "daemon_info", json_string(up ? text : err));
		json_object_set_new(root, "health", json_string(exitc == 0 ? "healthy" :
		    exitc == SL_EXIT_FAIL ? "degraded" : "down"));
		json_object_set_new(root, "pending_bytes", json_integer((json_int_t)t.pending_bytes));
		json_object_set_new(root, "failed", json_integer(failed));
		json_object_set_new(root, "datasets", t.arr);
		json_dumpf(root, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(root);
	} else {
		printf("sluice %s %s: daemon %s", cfg.role == ROLE_AGENT ? "agent" : "sink",
		    cfg.id, up ? "up" : "DOWN");
		if (up)
			printf(" (%.*s)\n", (int)strcspn(text, "\n"), text);
		else
			printf(" (%s)\n", err);
		if (cfg.role == ROLE_AGENT)
			printf("datasets: %llu queued, %llu transferring, %llu committing, "
			    "%llu transferred, %llu failed; %s waiting to be sent\n",
			    (unsigned long long)t.n[DS_QUEUED],
			    (unsigned long long)t.n[DS_TRANSFERRING],
			    (unsigned long long)t.n[DS_COMMITTING],
			    (unsigned long long)t.n[DS_TRANSFERRED],
			    (unsigned long long)t.n[DS_FAILED],
			    human_bytes(t.pending_bytes, b, sizeof(b)));
		else
			printf("datasets: %llu receiving, %llu published, %llu failed\n",
			    (unsigned long long)t.n[SDS_RECEIVING],
			    (unsigned long long)t.n[SDS_PUBLISHED],
			    (unsigned long long)t.n[SDS_FAILED]);
	}
	free(text);
	return exitc;
}

/* ---- wait --------------------------------------------------------------- */

/* Block until a dataset reaches a final state: exit 0 when transferred
 * (agent) / published (sink), 1 when failed or on timeout. */
static int
cmd_wait(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	struct journal	*j;
	struct ds_rec	 d;
	double		 timeout = 600, deadline;
	int		 ch, rc, done_state, fail_state;

	while ((ch = getopt_long(argc, argv, "t:", opts, NULL)) != -1) {
		switch (ch) {
		case 't': timeout = atof(optarg); break;
		default: return SL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: sluice wait DATASET [--timeout SECONDS]\n");
		return SL_EXIT_USAGE;
	}
	done_state = cfg.role == ROLE_AGENT ? DS_TRANSFERRED : SDS_PUBLISHED;
	fail_state = cfg.role == ROLE_AGENT ? DS_FAILED : SDS_FAILED;
	deadline = now_s() + timeout;
	for (;;) {
		j = open_journal(1);
		memset(&d, 0, sizeof(d));
		rc = j ? journal_ds_find(j, argv[optind], &d) : SL_ENOTFOUND;
		if (j)
			journal_close(j);
		if (rc == SL_OK) {
			int st = d.state;
			if (st == done_state || st == fail_state) {
				printf("%s %s%s%s\n", d.name, state_name(st),
				    d.error[0] ? ": " : "", d.error);
				ds_rec_free(&d);
				return st == done_state ? SL_EXIT_OK : SL_EXIT_FAIL;
			}
			ds_rec_free(&d);
		}
		if (now_s() > deadline) {
			fprintf(stderr, "sluice: wait %s: timed out after %.0fs\n",
			    argv[optind], timeout);
			return SL_EXIT_FAIL;
		}
		usleep(100 * 1000);
	}
}

/* ---- show --------------------------------------------------------------- */

static void
show_hist(const struct hist_rec *h, void *arg)
{
	time_t	t = (time_t)(h->time_ns / 1000000000u);
	char	ts[32];

	(void)arg;
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	printf("  %s  %s -> %s%s%s\n", ts, h->from ? state_name(h->from) : "new",
	    state_name(h->to), h->reason[0] ? ": " : "", h->reason);
}

static int
cmd_show(int argc, char **argv)
{
	struct journal	*j;
	struct ds_rec	 d;
	struct file_rec	*files = NULL;
	uint32_t	 n = 0, i;
	char		 b[32];

	if (argc != 2) {
		fprintf(stderr, "usage: sluice show DATASET\n");
		return SL_EXIT_USAGE;
	}
	j = open_journal(0);
	memset(&d, 0, sizeof(d));
	if (journal_ds_find(j, argv[1], &d) != SL_OK) {
		fprintf(stderr, "sluice: %s: no such dataset\n", argv[1]);
		journal_close(j);
		return SL_EXIT_FAIL;
	}
	printf("dataset %s (%016llx)\n  state:   %s\n", d.name, (unsigned long long)d.id,
	    state_name(d.state));
	if (cfg.role == ROLE_AGENT)
		printf("  source:  %s\n", d.src);
	else
		printf("  agent:   %s\n", d.src);
	printf("  files:   %u, %s in %llu chunks of %u bytes\n", d.nfiles,
	    human_bytes(d.bytes, b, sizeof(b)), (unsigned long long)d.nchunks,
	    d.chunk_size);
	printf("  done:    %llu/%llu chunks; sent %llu, resent %llu, nacked %llu\n",
	    (unsigned long long)d.chunks_acked, (unsigned long long)d.nchunks,
	    (unsigned long long)d.chunks_sent, (unsigned long long)d.chunks_resent,
	    (unsigned long long)d.chunks_nacked);
	if (d.published[0])
		printf("  published: %s\n", d.published);
	if (d.error[0])
		printf("  error:   %s\n", d.error);
	for (i = 0; i < d.nmeta; i++)
		printf("  meta:    %s=%s\n", d.meta[i][0], d.meta[i][1]);
	if (journal_files_load(j, d.id, &files, &n) == SL_OK) {
		printf("  files:\n");
		for (i = 0; i < n && i < 50; i++)
			printf("    %12llu  %s\n", (unsigned long long)files[i].size,
			    files[i].path);
		if (n > 50)
			printf("    ... %u more\n", n - 50);
		free(files);
	}
	printf("  history:\n");
	journal_history_foreach(j, d.id, show_hist, NULL);
	ds_rec_free(&d);
	journal_close(j);
	return SL_EXIT_OK;
}

static int cmd_help(int, char **);

static const struct cmd cmds[] = {
	{ "submit", cmd_submit, "DIR [--name NAME] [--meta KEY=VALUE]...",
	  "journal a dataset directory and queue it for transfer" },
	{ "status", cmd_status, "[--json]",
	  "daemon, link and queue at a glance (exit 0 healthy, 1 degraded, 3 down)" },
	{ "ls", cmd_ls, "[--state STATE] [--json]", "list datasets" },
	{ "show", cmd_show, "DATASET", "one dataset: files, counters, history" },
	{ "wait", cmd_wait, "DATASET [--timeout S]",
	  "wait until a dataset is transferred (0) or failed (1)" },
	{ "help", cmd_help, "", "this text" },
};

static int
cmd_help(int argc, char **argv)
{
	size_t i;

	(void)argc; (void)argv;
	printf("usage: sluice [-c CONFIG] COMMAND [ARGS]\n\n"
	    "  -c, --config FILE  daemon configuration (default $SLUICE_CONFIG or %s)\n\n"
	    "commands:\n", DEFAULT_CONFIG);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		printf("  %-7s %-42s %s\n", cmds[i].name, cmds[i].args, cmds[i].help);
	return SL_EXIT_OK;
}

int
main(int argc, char **argv)
{
	size_t	i;
	int	a = 1;

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
			fprintf(stderr, "sluice: unknown option %s (see sluice help)\n", argv[a]);
			return SL_EXIT_USAGE;
		}
	}
	if (a == argc) {
		cmd_help(0, NULL);
		return SL_EXIT_USAGE;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[a], cmds[i].name) != 0)
			continue;
		if (cmds[i].fn != cmd_help)
			load_config();
		optind = 1;
		return cmds[i].fn(argc - a, argv + a);
	}
	fprintf(stderr, "sluice: unknown command \"%s\" (see sluice help)\n", argv[a]);
	return SL_EXIT_USAGE;
}
