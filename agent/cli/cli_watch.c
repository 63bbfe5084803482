/*
 * cli_watch.c: `sluice watch`, live progress of the active datasets.
 *
 * Every interval: open the journal read-only, copy the few fields of each
 * active dataset (agent: queued, transferring, committing; sink:
 * receiving), close it again (a read txn held open would pin LMDB pages
 * and grow the map while the daemon writes), and ask the daemon for its
 * link state with a short ping (cli_ping.c, printed for people).  The rate of a dataset is the change of
 * its bytes_acked between two polls, smoothed (EWMA) so one slow group
 * commit does not make the ETA jump; ETA = bytes left / rate.
 *
 * On a terminal the screen is redrawn in place (home, clear, draw) and
 * the terminal is put in non-canonical no-echo mode so that a single 'q'
 * quits; the old termios settings are put back on every way out: normal
 * return, q, Ctrl-C / SIGTERM / SIGHUP (the handler only sets a flag; the
 * loop restores and returns).  Not on a terminal: one plain line per
 * dataset per interval, nothing but text.
 */
#include <sys/ioctl.h>
#include <sys/select.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "control.h"
#include "sluice.h"

#define WATCH_MAX	256		/* datasets shown */
#define RATE_ALPHA	0.5		/* weight of the newest sample */

struct wds {
	uint64_t	id;
	int		state;
	uint64_t	bytes, done;
	uint32_t	nfiles;
	char		name[SL_MAX_NAME + 1];
	double		rate;		/* bytes/s, smoothed; < 0 unknown */
};

struct wstate {
	struct wds	cur[WATCH_MAX], prev[WATCH_MAX];
	int		ncur, nprev, more;
	double		tprev;
};

static volatile sig_atomic_t	stop_sig;
static struct termios		saved_tio;
static int			tio_saved;

static void
on_signal(int sig)
{
	stop_sig = sig;
}

static void
term_restore(void)
{
	if (tio_saved) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
		tio_saved = 0;
	}
}

static void
term_raw(void)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio) != 0)
		return;
	t = saved_tio;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);	/* ISIG stays: Ctrl-C is SIGINT */
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0) {
		tio_saved = 1;
		atexit(term_restore);
	}
}

static int
collect_fn(const struct ds_rec *d, void *arg)
{
	struct wstate	*w = arg;
	struct wds	*x;
	int		 active;

	active = cli_cfg.role == ROLE_AGENT ? (d->state == DS_QUEUED ||
	    d->state == DS_TRANSFERRING || d->state == DS_COMMITTING ||
	    DS_JOB_ACTIVE(d->state)) :	/* route job: job_submitting .. reducing */
	    d->state == SDS_RECEIVING;
	if (!active)
		return 0;
	if (w->ncur == WATCH_MAX) {
		w->more++;
		return 0;
	}
	x = &w->cur[w->ncur++];
	x->id = d->id;
	x->state = d->state;
	x->bytes = d->bytes;
	x->done = d->bytes_acked;
	x->nfiles = d->nfiles;
	x->rate = -1;
	snprintf(x->name, sizeof(x->name), "%s", d->name);
	return 0;
}

/* One poll: journal opened and closed here. */
static void
poll_journal(struct wstate *w, double now)
{
	double		 dt = now - w->tprev;
	int		 i, k;

	memcpy(w->prev, w->cur, sizeof(w->cur[0]) * (size_t)w->ncur);
	w->nprev = w->ncur;
	w->ncur = 0;
	w->more = 0;
	cli_ds_foreach(1, collect_fn, w);
	for (i = 0; i < w->ncur; i++) {
		for (k = 0; k < w->nprev && w->prev[k].id != w->cur[i].id; k++)
			;
		if (k == w->nprev || dt <= 0)
			continue;
		double inst = w->cur[i].done >= w->prev[k].done ?
		    (double)(w->cur[i].done - w->prev[k].done) / dt : 0;
		w->cur[i].rate = w->prev[k].rate < 0 ? inst :
		    RATE_ALPHA * inst + (1 - RATE_ALPHA) * w->prev[k].rate;
	}
	w->tprev = now;
}

/* The daemon's state in one line for people, for the header: never the
 * raw ping reply (cli_ping.c parses it). */
static void
poll_daemon(char *line, size_t len)
{
	struct cli_ping	*pg;
	char		 a[1024], b[1024];

	pg = calloc(1, sizeof(*pg));
	if (pg == NULL) {
		snprintf(line, len, "daemon: (out of memory)");
		return;
	}
	cli_ping(pg, 1);
	cli_daemon_line(pg, a, sizeof(a));
	if (pg->daemon != CLI_UP)
		snprintf(line, len, "daemon %s", a);
	else if (cli_cfg.role == ROLE_AGENT) {
		char lanes[512];

		cli_lanes_summary(pg->raw, lanes, sizeof(lanes));
		snprintf(line, len, "daemon up, pid %ld\nlink: %s%s%s", pg->pid,
		    cli_link_line(pg, b, sizeof(b)), lanes[0] ? "\n" : "", lanes);
	}
	else
		snprintf(line, len, "daemon up, pid %ld; listening on %s, %d connections",
		    pg->pid, pg->listen, pg->connections);
	cli_ping_free(pg);
	free(pg);
}

static const char *
rate_text(double rate, char *buf, size_t len)
{
	char b[32];

	if (rate < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%s/s", cli_bytes((uint64_t)rate, b, sizeof(b)));
	return buf;
}

static const char *
eta_text(const struct wds *x, char *buf, size_t len)
{
	if (x->done >= x->bytes)
		snprintf(buf, len, "0s");
	else if (x->rate <= 0)
		snprintf(buf, len, "--");
	else
		cli_duration((double)(x->bytes - x->done) / x->rate, buf, len);
	return buf;
}

static int
term_cols(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
		return ws.ws_col;
	return 80;
}

static void
draw_tty(const struct wstate *w, const char *daemon_line)
{
	const char *p;
	size_t	n;
	char	b1[32], b2[32], r[32], e[32], ts[32], bar[128];
	time_t	now = time(NULL);
	int	i, k, cols = term_cols(), bw, fill;
	double	frac;

	strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&now));
	/* home, clear to end of screen, then draw */
	printf("\033[H\033[2J");
	printf("sluice watch  %s %s  %s   (q to quit)\r\n", cli_cfg.role == ROLE_AGENT ?
	    "agent" : "sink", cli_cfg.id, ts);
	/* the daemon's lines, wrapped rather than cut at the screen's edge */
	for (p = daemon_line; *p; ) {
		n = strcspn(p, "\n");
		do {
			k = n < (size_t)cols - 1 ? (int)n : cols - 1;
			printf("%.*s\033[K\r\n", k, p);
			p += k;
			n -= (size_t)k;
		} while (n > 0);
		if (*p == '\n')
			p++;
	}
	printf("\r\n");
	if (w->ncur == 0)
		printf("no active datasets\r\n");
	bw = cols - 92;
	if (bw < 10)
		bw = 10;
	if (bw > 60)
		bw = 60;
	for (i = 0; i < w->ncur; i++) {
		const struct wds *x = &w->cur[i];

		frac = x->bytes ? (double)x->done / (double)x->bytes : 1.0;
		if (frac > 1)
			frac = 1;
		fill = (int)(frac * bw + 0.5);
		for (k = 0; k < bw; k++)
			bar[k] = k < fill ? '#' : '.';
		bar[bw] = '\0';
		printf("%-20.20s %-12s [%s] %5.1f%% %9s/%-9s %11s ETA %s\033[K\r\n",
		    cli_esc(x->name), cli_state_name(x->state), bar, 100 * frac,
		    cli_bytes(x->done, b1, sizeof(b1)), cli_bytes(x->bytes, b2, sizeof(b2)),
		    rate_text(x->rate, r, sizeof(r)), eta_text(x, e, sizeof(e)));
	}
	if (w->more)
		printf("... and %d more\r\n", w->more);
	fflush(stdout);
}

static void
draw_plain(const struct wstate *w)
{
	char	b1[32], b2[32], r[32], e[32], ts[32];
	time_t	now = time(NULL);
	int	i;

	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", localtime(&now));
	if (w->ncur == 0)
		printf("%s - idle no active datasets\n", ts);
	for (i = 0; i < w->ncur; i++) {
		const struct wds *x = &w->cur[i];

		printf("%s %s %s %.1f%% %s/%s rate=%s eta=%s\n", ts, cli_esc(x->name),
		    cli_state_name(x->state), x->bytes ? 100.0 * (double)x->done /
		    (double)x->bytes : 100.0, cli_bytes(x->done, b1, sizeof(b1)),
		    cli_bytes(x->bytes, b2, sizeof(b2)), rate_text(x->rate, r, sizeof(r)),
		    eta_text(x, e, sizeof(e)));
	}
	fflush(stdout);
}

/* Wait up to secs for a key; 1 when the user asked to quit. */
static int
wait_key(double secs, int keys)
{
	struct timeval	tv;
	fd_set		rf;
	char		c;
	double		end = cli_now() + secs, left;

	for (;;) {
		if (stop_sig)
			return 1;
		left = end - cli_now();
		if (left <= 0)
			return 0;
		tv.tv_sec = (time_t)left;
		tv.tv_usec = (suseconds_t)((left - (double)tv.tv_sec) * 1e6);
		FD_ZERO(&rf);
		if (keys)
			FD_SET(STDIN_FILENO, &rf);
		if (select(keys ? STDIN_FILENO + 1 : 0, &rf, NULL, NULL, &tv) < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		if (keys && FD_ISSET(STDIN_FILENO, &rf)) {
			ssize_t n = read(STDIN_FILENO, &c, 1);
			if (n == 0)
				keys = 0;	/* stdin closed: time only */
			else if (n == 1 && (c == 'q' || c == 'Q' || c == 3 || c == 4))
				return 1;
		}
	}
}

int
cmd_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct sigaction sa;
	struct wstate	*w;
	char		 daemon_line[1024], *end;
	double		 interval = 1;
	long		 count = 0, drawn = 0;
	int		 ch, tty, keys;

	while ((ch = getopt_long(argc, argv, "i:n:", opts, NULL)) != -1) {
		switch (ch) {
		case 'i':
			interval = strtod(optarg, &end);
			if (*end || interval < 0.05 || interval > 3600) {
				fprintf(stderr, "sluice: watch --interval %s: want 0.05..3600 "
				    "seconds\n", optarg);
				return SL_EXIT_USAGE;
			}
			break;
		case 'n':
			count = strtol(optarg, &end, 10);
			if (*end || count < 1) {
				fprintf(stderr, "sluice: watch --count %s: want a positive "
				    "number\n", optarg);
				return SL_EXIT_USAGE;
			}
			break;
		default: return SL_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return CLI_USAGE;
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		fprintf(stderr, "sluice: watch: out of memory\n");
		return SL_EXIT_FAIL;
	}
	tty = isatty(STDOUT_FILENO);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	keys = 0;
	if (tty) {
		term_raw();
		keys = tio_saved;
		printf("\033[?25l");		/* hide the cursor */
	}
	w->tprev = cli_now();
	for (;;) {
		poll_journal(w, cli_now());
		if (tty) {
			poll_daemon(daemon_line, sizeof(daemon_line));
			draw_tty(w, daemon_line);
		} else
			draw_plain(w);
		if (count && ++drawn >= count)
			break;
		if (wait_key(interval, keys))
			break;
	}
	if (tty) {
		printf("\033[?25h");		/* cursor back */
		fflush(stdout);
		term_restore();
	}
	free(w);
	return SL_EXIT_OK;
}
