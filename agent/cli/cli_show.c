/*
 * cli_show.c: `sluice show` and `sluice wait`, one dataset looked up in
 * the journal by name or id.  show prints all the journal knows of it
 * (counters, metadata, files, the hook's outcome, every state change);
 * wait polls until it reaches a final state, opening and closing the
 * journal on every poll so that no read txn stays open while the daemon
 * writes.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "journal.h"

/* ---- show --------------------------------------------------------------- */

static void
show_hist(const struct hist_rec *h, void *arg)
{
	time_t	t = (time_t)(h->time_ns / 1000000000u);
	char	ts[32];

	(void)arg;
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	printf("  %s  %s -> %s%s%s\n", ts, h->from ? cli_state_name(h->from) : "new",
	    cli_state_name(h->to), h->reason[0] ? ": " : "", cli_esc(h->reason));
}

/* Agent: when it was published and its hook done, from its history. */
struct times {
	uint64_t	published_ns, hook_done_ns;
};

static void
times_fn(const struct hist_rec *h, void *arg)
{
	struct times *t = arg;

	if (t->published_ns == 0 && (h->to == DS_TRANSFERRED ||
	    (h->to == DS_HOOK_PENDING && h->from != DS_HOOK_FAILED &&
	    h->from != DS_HOOK_RUNNING && h->from != DS_HOOK_PENDING)))
		t->published_ns = h->time_ns;
	if (h->to == DS_DONE)
		t->hook_done_ns = h->time_ns;
}

/* "lane:" and "timing:" lines: the lane asked for, and the time from
 * sealed (journaled) to published and to the hook done. */
static void
show_lane_times(struct journal *j, const struct ds_rec *d)
{
	struct times	 t = { 0, 0 };
	char		 b1[32], b2[32];

	printf("  lane:    %s%s\n", ds_lane_name((int)d->lane), d->lane == LANE_AUTO ?
	    " (live while younger than live_age, then backlog)" : "");
	journal_history_foreach(j, d->id, times_fn, &t);
	if (t.published_ns == 0)
		return;
	printf("  timing:  published %s after it was sealed",
	    cli_duration((double)(t.published_ns - d->created_ns) / 1e9, b1, sizeof(b1)));
	if (t.hook_done_ns)
		printf(", hook done %s after",
		    cli_duration((double)(t.hook_done_ns - d->created_ns) / 1e9, b2,
		    sizeof(b2)));
	putchar('\n');
}

int
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
	j = cli_open_journal(0);
	memset(&d, 0, sizeof(d));
	if (journal_ds_find(j, argv[1], &d) != SL_OK) {
		fprintf(stderr, "sluice: %s: no such dataset\n", cli_esc(argv[1]));
		journal_close(j);
		return SL_EXIT_FAIL;
	}
	printf("dataset %s (%016llx)\n  state:   %s\n", cli_esc(d.name),
	    (unsigned long long)d.id,
	    cli_state_name(d.state));
	if (cli_cfg.role == ROLE_AGENT)
		printf("  source:  %s\n", cli_esc(d.src));
	else
		printf("  agent:   %s\n", cli_esc(d.src));
	printf("  files:   %u, %s in %llu chunks of %u bytes\n", d.nfiles,
	    cli_bytes(d.bytes, b, sizeof(b)), (unsigned long long)d.nchunks,
	    d.chunk_size);
	printf("  done:    %llu/%llu chunks; sent %llu, resent %llu, nacked %llu\n",
	    (unsigned long long)d.chunks_acked, (unsigned long long)d.nchunks,
	    (unsigned long long)d.chunks_sent, (unsigned long long)d.chunks_resent,
	    (unsigned long long)d.chunks_nacked);
	if (d.published[0])
		printf("  published: %s\n", cli_esc(d.published));
	if (cli_cfg.role == ROLE_AGENT)
		show_lane_times(j, &d);
	if (cli_cfg.role == ROLE_AGENT && strcmp(d.dest, DS_ROUTE_JOB) == 0) {
		/* route job: the hook_* fields are the job's (journal.h) */
		printf("  route:   job\n");
		if (d.hook_attempts > 0)
			printf("  job:     %s (submission %u)\n", d.hook_out[0] ?
			    cli_esc(d.hook_out) : "id not known yet", d.hook_attempts);
		if (d.state == DS_DONE && d.hook_err[0])
			printf("  result:  %s\n", cli_esc(d.hook_err));
	} else if (cli_cfg.role == ROLE_AGENT && d.hook_attempts > 0) {
		/* the real outcome, never a -1: running since when, the exit
		 * status of the last run, or that none ran to an exit */
		if (d.state == DS_HOOK_RUNNING) {
			uint64_t since = d.hook_next_ns ? d.hook_next_ns : d.updated_ns;
			time_t t = (time_t)(since / 1000000000u);
			char ts[32];

			struct cli_ping *pg = calloc(1, sizeof(*pg));

			strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
			/* journaled as running, but is anyone running it? */
			if (pg != NULL)
				cli_ping(pg, 1);
			if (pg != NULL && pg->daemon == CLI_NOT_RUNNING)
				printf("  hook:    interrupted: started %s (attempt %u), the "
				    "agent stopped before it finished; settled when the "
				    "agent starts again\n", ts, d.hook_attempts);
			else
				printf("  hook:    running since %s (attempt %u)\n", ts,
				    d.hook_attempts);
			if (pg != NULL)
				cli_ping_free(pg);
			free(pg);
		} else if (d.hook_status >= 0)
			printf("  hook:    %u attempt%s, last exit status %d\n",
			    d.hook_attempts, d.hook_attempts == 1 ? "" : "s", d.hook_status);
		else
			printf("  hook:    %u attempt%s, none ran to an exit status\n",
			    d.hook_attempts, d.hook_attempts == 1 ? "" : "s");
		if (d.hook_out[0])
			printf("  hook out: %.*s\n", (int)strcspn(d.hook_out, "\n"), d.hook_out);
		if (d.hook_err[0])
			printf("  hook err: %.*s\n", (int)strcspn(d.hook_err, "\n"), d.hook_err);
	}
	if (d.error[0])
		printf("  error:   %s\n", cli_esc(d.error));
	for (i = 0; i < d.nmeta; i++)
		printf("  meta:    %s=%s\n", d.meta[i][0], cli_esc(d.meta[i][1]));
	if (journal_files_load(j, d.id, &files, &n) == SL_OK) {
		printf("  files:\n");
		for (i = 0; i < n && i < 50; i++)
			printf("    %12llu  %s\n", (unsigned long long)files[i].size,
			    cli_esc(files[i].path));
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

/* ---- wait --------------------------------------------------------------- */

/* Block until a dataset reaches a final state: exit 0 when transferred
 * (agent) / published (sink), 1 when failed or on timeout. */
int
cmd_wait(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "hook", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 }
	};
	struct ds_rec	 d;
	double		 timeout = 600, deadline;
	int		 ch, rc, done_state, fail_state, hook = 0;

	while ((ch = getopt_long(argc, argv, "t:H", opts, NULL)) != -1) {
		switch (ch) {
		case 't': timeout = atof(optarg); break;
		case 'H': hook = 1; break;
		default: return SL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: sluice wait DATASET [--timeout SECONDS] [--hook]\n");
		return SL_EXIT_USAGE;
	}
	done_state = cli_cfg.role == ROLE_AGENT ? DS_TRANSFERRED : SDS_PUBLISHED;
	fail_state = cli_cfg.role == ROLE_AGENT ? DS_FAILED : SDS_FAILED;
	deadline = cli_now() + timeout;
	for (;;) {
		rc = cli_ds_lookup(argv[optind], &d);
		if (rc == SL_OK) {
			int st = d.state, ok, bad;

			/* Published is done for a transfer; --hook waits for the
			 * hook's outcome too. */
			if (cli_cfg.role == ROLE_AGENT && hook) {
				ok = st == DS_DONE;
				bad = st == DS_FAILED || st == DS_HOOK_FAILED;
			} else if (cli_cfg.role == ROLE_AGENT) {
				ok = DS_PUBLISHED(st);
				bad = st == DS_FAILED;
			} else {
				ok = st == done_state;
				bad = st == fail_state;
			}
			if (ok || bad) {
				printf("%s %s%s%s\n", cli_esc(d.name), cli_state_name(st),
				    d.error[0] ? ": " : "", cli_esc(d.error));
				ds_rec_free(&d);
				return ok ? SL_EXIT_OK : SL_EXIT_FAIL;
			}
			ds_rec_free(&d);
		}
		if (cli_now() > deadline) {
			fprintf(stderr, "sluice: wait %s: timed out after %.0fs\n",
			    argv[optind], timeout);
			return SL_EXIT_FAIL;
		}
		/* A read-only journal open and one lookup: cheap enough to
		 * poll often, so a script waiting on a dataset goes on within
		 * 20 ms (100 ms was 5 % of a 2 GB transfer's wall time). */
		usleep(20 * 1000);
	}
}
