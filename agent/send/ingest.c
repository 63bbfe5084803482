/*
 * ingest.c: watch spool directories and hand sealed datasets to the agent.
 *
 * One inotify fd (non-blocking, close-on-exec) read by one ev_io.  Each
 * spool directory has a watch for directories appearing in it (a dataset
 * arrives by mkdir or, better, by rename from a hidden temp name) or
 * leaving it.  Each dataset being watched has a watch on every directory
 * of its tree; any event restarts its quiet timer, and the marker file
 * appearing in its top directory seals it.  Watches are found by wd in a
 * small hash, datasets by path in another.
 *
 * A dataset's life is one enum (STYLE 10):
 *	WATCHING  -> SEALED      marker seen, or quiet timer fired
 *	SEALED    -> DONE        the callback accepted it (watches gone)
 *	SEALED    -> SEALED      the callback said "not now": retry timer
 * A sealed dataset is handed over from a queue, as many per loop pass as
 * fit in HAND_SLICE seconds (the agent journals each, a synced txn): an
 * agent starting on a spool of thousands of sealed datasets answers its
 * control socket and its sessions meanwhile instead of after all of them.
 * A DONE dataset is remembered (bounded by INGEST_MAX_DONE, oldest
 * forgotten first) so that rescans do not hand it over again; it is
 * forgotten when its directory leaves the spool.
 *
 * Lost events are made good by rescanning: on IN_Q_OVERFLOW everything is
 * walked again; every INGEST_RESCAN_SEC the spool directories are listed
 * again (datasets skipped at the INGEST_MAX_DATASETS cap or whose watch
 * failed) and watched datasets are checked for the marker.  At start, a
 * dataset already quiet for longer than `quiet` (by the newest mtime in
 * its tree) is sealed at once.
 */
#include <sys/inotify.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "config.h"
#include "ingest.h"
#include "log.h"

#define COMP		"ingest"
#define MAX_SPOOLS	64
#define MAX_DEPTH	64		/* directory nesting watched in a dataset */
#define WD_BUCKETS	1024
#define DS_BUCKETS	4096
#define HAND_SLICE	0.05		/* seconds of hand-over per loop pass */

#define SPOOL_MASK	(IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | \
			 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW)
#define DS_MASK		(IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MODIFY | \
			 IN_DELETE | IN_ATTRIB | IN_MOVED_FROM | IN_ONLYDIR | \
			 IN_DONT_FOLLOW)

enum ds_state { DS_WATCHING, DS_SEALED, DS_DONE };

struct ds;

struct watch {
	int			 wd;
	char			*path;
	struct ds		*ds;		/* NULL: a spool directory */
	int			 spool;		/* index, for a spool watch */
	int			 root;		/* the dataset's top directory */
	struct watch		*hnext;
	LIST_ENTRY(watch)	 dsent;
};

struct ds {
	struct ingest		*ing;
	char			*path;
	enum ds_state		 state;
	ev_timer		 quiet;
	ev_timer		 retry;
	LIST_HEAD(, watch)	 watches;
	struct ds		*hnext;
	TAILQ_ENTRY(ds)		 ent;		/* in active or done */
	TAILQ_ENTRY(ds)		 qent;		/* in handq while queued */
	int			 queued;
};
TAILQ_HEAD(dslist, ds);

struct ingest {
	struct ev_loop		*loop;
	int			 fd;
	ev_io			 io;
	ev_timer		 rescan;
	ingest_sealed_cb	 cb;
	void			*arg;
	char			 marker[256];
	char			 sidecar[256];
	double			 quiet;
	char			*spools[MAX_SPOOLS];
	int			 nspools;
	struct watch		*wds[WD_BUCKETS];
	struct ds		*dsh[DS_BUCKETS];
	struct dslist		 active, done;
	TAILQ_HEAD(, ds)	 handq;		/* sealed, to hand over (qent) */
	ev_timer		 hand;
	uint32_t		 nactive, ndone;
	int			 cap_logged;
};

static const char *
ds_state_name(enum ds_state s)
{
	switch (s) {
	case DS_WATCHING:	return "watching";
	case DS_SEALED:		return "sealed";
	case DS_DONE:		return "done";
	}
	return "?";
}

static void
enter_state(struct ds *d, enum ds_state s)
{
	log_debug(COMP, "dataset=%s state=%s from=%s", log_q(d->path),
	    ds_state_name(s), ds_state_name(d->state));
	d->state = s;
}

/* ---- hashes ---- */

static unsigned
path_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % DS_BUCKETS;
}

static struct watch *
watch_find(struct ingest *ing, int wd)
{
	struct watch *w;

	for (w = ing->wds[(unsigned)wd % WD_BUCKETS]; w; w = w->hnext)
		if (w->wd == wd)
			return w;
	return NULL;
}

static void
watch_unhash(struct ingest *ing, struct watch *w)
{
	struct watch **pp;

	for (pp = &ing->wds[(unsigned)w->wd % WD_BUCKETS]; *pp; pp = &(*pp)->hnext)
		if (*pp == w) {
			*pp = w->hnext;
			return;
		}
}

/* Forget a watch; rm: also tell the kernel (not when it said IN_IGNORED). */
static void
watch_free(struct ingest *ing, struct watch *w, int rm)
{
	if (rm)
		(void)inotify_rm_watch(ing->fd, w->wd);
	watch_unhash(ing, w);
	if (w->ds)
		LIST_REMOVE(w, dsent);
	free(w->path);
	free(w);
}

/*
 * Watch path.  Returns 0 (also when it already was), -1 with a log line
 * (or silently when the directory went away meanwhile).
 */
static int
watch_add(struct ingest *ing, const char *path, struct ds *d, int spool, int root)
{
	struct watch	*w;
	int		 wd;

	wd = inotify_add_watch(ing->fd, path, d ? DS_MASK : SPOOL_MASK);
	if (wd < 0) {
		if (errno == ENOSPC)
			log_err(COMP, "dir=%s error=\"inotify watch limit reached: "
			    "raise fs.inotify.max_user_watches\"", log_q(path));
		else if (errno != ENOENT && errno != ENOTDIR)
			log_warn(COMP, "inotify_add_watch dir=%s", log_q(path));
		return -1;
	}
	if (watch_find(ing, wd) != NULL)
		return 0;
	w = calloc(1, sizeof(*w));
	if (w == NULL || (w->path = strdup(path)) == NULL) {
		free(w);
		(void)inotify_rm_watch(ing->fd, wd);
		log_err(COMP, "dir=%s error=\"out of memory\"", log_q(path));
		return -1;
	}
	w->wd = wd;
	w->ds = d;
	w->spool = spool;
	w->root = root;
	w->hnext = ing->wds[(unsigned)wd % WD_BUCKETS];
	ing->wds[(unsigned)wd % WD_BUCKETS] = w;
	if (d)
		LIST_INSERT_HEAD(&d->watches, w, dsent);
	return 0;
}

static struct ds *
ds_find(struct ingest *ing, const char *path)
{
	struct ds *d;

	for (d = ing->dsh[path_hash(path)]; d; d = d->hnext)
		if (strcmp(d->path, path) == 0)
			return d;
	return NULL;
}

static void
ds_unwatch(struct ds *d)
{
	/* watch_free unlinks w: a watch is on d->watches iff w->ds == d,
	 * which the analyzer cannot see (it assumes w->ds may be NULL). */
	while (!LIST_EMPTY(&d->watches))
		watch_free(d->ing, LIST_FIRST(&d->watches), 1); // NOLINT(clang-analyzer-unix.Malloc)
}

/* Forget a dataset entirely.  Never from its own timers' callbacks. */
static void
ds_free(struct ds *d)
{
	struct ingest	*ing = d->ing;
	struct ds	**pp;

	ev_timer_stop(ing->loop, &d->quiet);
	ev_timer_stop(ing->loop, &d->retry);
	ds_unwatch(d);
	if (d->queued)
		TAILQ_REMOVE(&ing->handq, d, qent);
	for (pp = &ing->dsh[path_hash(d->path)]; *pp; pp = &(*pp)->hnext)
		if (*pp == d) {
			*pp = d->hnext;
			break;
		}
	if (d->state == DS_DONE) {
		TAILQ_REMOVE(&ing->done, d, ent);
		ing->ndone--;
	} else {
		TAILQ_REMOVE(&ing->active, d, ent);
		ing->nactive--;
		if (ing->nactive < INGEST_MAX_DATASETS)
			ing->cap_logged = 0;
	}
	free(d->path);
	free(d);
}

/* ---- sidecar ---- */

static int
key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > SL_MAX_META_KEY)
		return 0;
	for (; *k; k++)
		if (!((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') ||
		    (*k >= '0' && *k <= '9') || *k == '.' || *k == '_' || *k == '-'))
			return 0;
	return 1;
}

/*
 * A JSON real as the shortest of %.15g / %.17g that reads back exactly,
 * so that 0.1 stays "0.1" (jansson's own dump gives 0.10000000000000001).
 */
static char *
real_text(double x)
{
	char	buf[64];

	snprintf(buf, sizeof(buf), "%.15g", x);
	if (strtod(buf, NULL) != x)
		snprintf(buf, sizeof(buf), "%.17g", x);
	if (strpbrk(buf, ".eEn") == NULL)	/* keep it a real: 2 -> 2.0 */
		strcat(buf, ".0");
	return strdup(buf);
}

/* Read dir/sidecar into meta (see ingest.h for what ends up where). */
static void
meta_load(struct ingest *ing, const char *dir, struct ingest_meta *m)
{
	char		 path[PATH_MAX], jerr[JSON_ERROR_TEXT_LENGTH + 64];
	struct stat	 st;
	json_error_t	 je;
	json_t		*root = NULL, *v;
	const char	*k;
	char		*buf = NULL, *txt;
	size_t		 len, got = 0, n, skipped = 0;
	ssize_t		 r;
	int		 fd = -1;

	memset(m, 0, sizeof(*m));
	if (ing->sidecar[0] == '\0')
		return;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, ing->sidecar) >= sizeof(path)) {
		snprintf(m->error, sizeof(m->error), "sidecar path too long");
		goto out;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno != ENOENT)
			snprintf(m->error, sizeof(m->error), "open %s: %s",
			    ing->sidecar, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(m->error, sizeof(m->error), "%s: not a regular file", ing->sidecar);
		goto out;
	}
	if ((uint64_t)st.st_size > INGEST_MAX_SIDECAR) {
		snprintf(m->error, sizeof(m->error), "%s: larger than %u bytes",
		    ing->sidecar, INGEST_MAX_SIDECAR);
		goto out;
	}
	len = (size_t)st.st_size;
	buf = malloc(len + 1);
	if (buf == NULL) {
		snprintf(m->error, sizeof(m->error), "%s: out of memory", ing->sidecar);
		goto out;
	}
	while (got < len) {
		r = read(fd, buf + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(m->error, sizeof(m->error), "read %s: %s",
			    ing->sidecar, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	root = json_loadb(buf, got, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		snprintf(jerr, sizeof(jerr), "%s: line %d: %s", ing->sidecar,
		    je.line, je.text);
		snprintf(m->error, sizeof(m->error), "%s", jerr);
		goto out;
	}
	if (!json_is_object(root)) {
		snprintf(m->error, sizeof(m->error), "%s: not a JSON object", ing->sidecar);
		goto out;
	}
	n = json_object_size(root);
	if (n == 0)
		goto out;
	if (n > SL_MAX_META)
		n = SL_MAX_META;
	m->kv = calloc(n, sizeof(*m->kv));
	if (m->kv == NULL) {
		snprintf(m->error, sizeof(m->error), "%s: out of memory", ing->sidecar);
		goto out;
	}
	json_object_foreach(root, k, v) {
		if (!key_ok(k)) {
			log_warnx(COMP, "dataset=%s key=%s error=\"metadata key skipped: "
			    "1..%d bytes of [A-Za-z0-9._-] allowed\"", log_q(dir),
			    log_q(k), SL_MAX_META_KEY);
			continue;
		}
		if (m->n == n) {
			skipped++;
			continue;
		}
		if (json_is_string(v)) {
			if (strlen(json_string_value(v)) != json_string_length(v)) {
				log_warnx(COMP, "dataset=%s key=%s error=\"metadata value "
				    "skipped: contains NUL\"", log_q(dir), k);
				continue;
			}
			txt = strdup(json_string_value(v));
		} else if (json_is_real(v))
			txt = real_text(json_real_value(v));
		else
			txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		if (txt == NULL) {
			log_warnx(COMP, "dataset=%s key=%s error=\"metadata value "
			    "skipped: out of memory\"", log_q(dir), k);
			continue;
		}
		if (strlen(txt) > SL_MAX_META_VAL) {
			log_warnx(COMP, "dataset=%s key=%s error=\"metadata value "
			    "skipped: longer than %d bytes\"", log_q(dir), k,
			    SL_MAX_META_VAL);
			free(txt);
			continue;
		}
		memcpy(m->kv[m->n][0], k, strlen(k) + 1);
		memcpy(m->kv[m->n][1], txt, strlen(txt) + 1);
		m->n++;
		free(txt);
	}
	if (skipped)
		log_warnx(COMP, "dataset=%s error=\"%zu metadata pairs skipped: "
		    "more than %d\"", log_q(dir), skipped, SL_MAX_META);
out:
	if (m->n == 0) {
		free(m->kv);
		m->kv = NULL;
	}
	json_decref(root);
	free(buf);
	if (fd >= 0)
		close(fd);
}

/* ---- sealing and handing over ---- */

static void
deliver(struct ds *d)
{
	struct ingest		*ing = d->ing;
	struct ingest_meta	 m;
	int			 rc;

	meta_load(ing, d->path, &m);
	if (m.error[0])
		log_warnx(COMP, "dataset=%s error=%s", log_q(d->path), log_q(m.error));
	rc = ing->cb(ing->arg, d->path, &m);
	free(m.kv);
	if (rc != 0) {
		log_debug(COMP, "dataset=%s not accepted, retry_in=%.0fs",
		    log_q(d->path), INGEST_RETRY_SEC);
		ev_timer_set(&d->retry, INGEST_RETRY_SEC, 0);
		ev_timer_start(ing->loop, &d->retry);
		return;
	}
	TAILQ_REMOVE(&ing->active, d, ent);
	ing->nactive--;
	if (ing->nactive < INGEST_MAX_DATASETS)
		ing->cap_logged = 0;
	enter_state(d, DS_DONE);
	TAILQ_INSERT_TAIL(&ing->done, d, ent);
	ing->ndone++;
	/* the oldest is never d: it was just put at the tail */
	if (ing->ndone > INGEST_MAX_DONE)
		ds_free(TAILQ_FIRST(&ing->done));
}

/* Hand over the queue's sealed datasets, oldest first, for at most
 * HAND_SLICE seconds; the rest at the next loop pass. */
static void
hand_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct ingest	*ing = t->data;
	struct ds	*d;
	double		 end = ev_time() + HAND_SLICE;

	(void)revents;
	while ((d = TAILQ_FIRST(&ing->handq)) != NULL) {
		TAILQ_REMOVE(&ing->handq, d, qent);
		d->queued = 0;
		deliver(d);
		if (ev_time() >= end)
			break;
	}
	if (!TAILQ_EMPTY(&ing->handq)) {
		ev_timer_set(t, 0, 0);
		ev_timer_start(loop, t);
	}
}

static void
seal(struct ds *d, const char *by)
{
	struct ingest *ing = d->ing;

	log_info(COMP, "dataset=%s sealed by=%s", log_q(d->path), by);
	ev_timer_stop(ing->loop, &d->quiet);
	ds_unwatch(d);
	enter_state(d, DS_SEALED);
	TAILQ_INSERT_TAIL(&ing->handq, d, qent);
	d->queued = 1;
	if (!ev_is_active(&ing->hand)) {
		ev_timer_set(&ing->hand, 0, 0);
		ev_timer_start(ing->loop, &ing->hand);
	}
}

static void
quiet_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct ds *d = t->data;

	ev_timer_stop(loop, t);
	if (d->state == DS_WATCHING)
		seal(d, "quiet");
}

static void
retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct ds	*d = t->data;
	struct stat	 st;

	if (d->state != DS_SEALED)
		return;
	if (stat(d->path, &st) < 0 && errno == ENOENT) {
		log_warnx(COMP, "dataset=%s error=\"gone before it was accepted\"",
		    log_q(d->path));
		/* not freed here (STYLE 12): kept as done, forgotten later */
		TAILQ_REMOVE(&d->ing->active, d, ent);
		d->ing->nactive--;
		enter_state(d, DS_DONE);
		TAILQ_INSERT_TAIL(&d->ing->done, d, ent);
		d->ing->ndone++;
		return;
	}
	deliver(d);
}

static int
has_marker(struct ingest *ing, const char *dir)
{
	char		path[PATH_MAX];
	struct stat	st;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, ing->marker) >= sizeof(path))
		return 0;
	return lstat(path, &st) == 0;
}

/*
 * Watch dir and every directory beneath it (not following symlinks),
 * noting the newest mtime seen in *newest.
 */
static void
add_tree(struct ds *d, const char *dir, int depth, time_t *newest)
{
	char		 sub[PATH_MAX];
	struct dirent	*de;
	struct stat	 st;
	DIR		*dp;

	if (watch_add(d->ing, dir, d, -1, depth == 0) < 0 || depth >= MAX_DEPTH)
		return;
	dp = opendir(dir);
	if (dp == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(dp), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (st.st_mtime > *newest)
			*newest = st.st_mtime;
		if (!S_ISDIR(st.st_mode))
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) >= sizeof(sub))
			continue;
		add_tree(d, sub, depth + 1, newest);
	}
	closedir(dp);
}

/*
 * A dataset directory appeared (live) or was found by a scan.  full: a
 * known watched dataset is walked again (events may have been lost).
 */
static void
ds_found(struct ingest *ing, int spool, const char *name, int live, int full)
{
	char		 path[PATH_MAX];
	struct ds	*d;
	struct stat	 st;
	time_t		 newest = 0;
	double		 age;

	if (name[0] == '.')
		return;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", ing->spools[spool],
	    name) >= sizeof(path)) {
		log_warnx(COMP, "dataset=%s/%s error=\"path too long, ignored\"",
		    log_q(ing->spools[spool]), log_q(name));
		return;
	}
	d = ds_find(ing, path);
	if (d != NULL) {
		if (d->state != DS_WATCHING)
			return;
		if (full)
			add_tree(d, path, 0, &newest);
		if (has_marker(ing, path))
			seal(d, "marker");
		else if (full && ing->quiet > 0) {
			d->quiet.repeat = ing->quiet;
			ev_timer_again(ing->loop, &d->quiet);
		}
		return;
	}
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	if (ing->nactive >= INGEST_MAX_DATASETS) {
		if (!ing->cap_logged)
			log_err(COMP, "dataset=%s error=\"%d datasets already watched: "
			    "not watched now, picked up by a later rescan\"",
			    log_q(path), INGEST_MAX_DATASETS);
		ing->cap_logged = 1;
		return;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL || (d->path = strdup(path)) == NULL) {
		free(d);
		log_err(COMP, "dataset=%s error=\"out of memory\"", log_q(path));
		return;
	}
	d->ing = ing;
	d->state = DS_WATCHING;
	LIST_INIT(&d->watches);
	ev_init(&d->quiet, quiet_cb);
	d->quiet.data = d;
	ev_init(&d->retry, retry_cb);
	d->retry.data = d;
	d->hnext = ing->dsh[path_hash(path)];
	ing->dsh[path_hash(path)] = d;
	TAILQ_INSERT_TAIL(&ing->active, d, ent);
	ing->nactive++;
	log_debug(COMP, "dataset=%s watching", log_q(path));

	/* watch first, then look: a marker cannot slip between the two */
	add_tree(d, path, 0, &newest);
	if (has_marker(ing, path)) {
		seal(d, "marker");
		return;
	}
	if (ing->quiet <= 0)
		return;
	age = live ? 0 : difftime(time(NULL), newest);
	if (age >= ing->quiet) {
		seal(d, "quiet");
		return;
	}
	d->quiet.repeat = ing->quiet - (age > 0 ? age : 0);
	ev_timer_again(ing->loop, &d->quiet);
}

static void
scan_spools(struct ingest *ing, int full)
{
	struct dirent	*de;
	struct ds	*d, *next;
	struct stat	 st;
	DIR		*dp;
	int		 i;

	if (full) {
		for (d = TAILQ_FIRST(&ing->active); d; d = next) {
			next = TAILQ_NEXT(d, ent);
			if (d->state == DS_WATCHING && lstat(d->path, &st) < 0 &&
			    errno == ENOENT) {
				log_info(COMP, "dataset=%s gone", log_q(d->path));
				ds_free(d);
			}
		}
	}
	for (i = 0; i < ing->nspools; i++) {
		dp = opendir(ing->spools[i]);
		if (dp == NULL) {
			log_warn(COMP, "spool=%s opendir", log_q(ing->spools[i]));
			continue;
		}
		while ((de = readdir(dp)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
				continue;
			ds_found(ing, i, de->d_name, 0, full);
		}
		closedir(dp);
	}
}

static void
rescan_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	scan_spools(t->data, 0);
}

/* ---- inotify events ---- */

static void
spool_event(struct ingest *ing, struct watch *w, const struct inotify_event *ev)
{
	char		 path[PATH_MAX];
	struct ds	*d;

	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT)) {
		log_err(COMP, "spool=%s error=\"spool directory removed or moved: "
		    "no longer watched\"", log_q(w->path));
		if (ev->mask & IN_IGNORED)
			watch_free(ing, w, 0);
		return;
	}
	if (ev->len == 0 || ev->name[0] == '.' || !(ev->mask & IN_ISDIR))
		return;
	if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
		ds_found(ing, w->spool, ev->name, 1, 0);
		return;
	}
	if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", w->path,
		    ev->name) >= sizeof(path))
			return;
		d = ds_find(ing, path);
		if (d == NULL)
			return;
		if (d->state != DS_DONE)
			log_info(COMP, "dataset=%s gone state=%s", log_q(path),
			    ds_state_name(d->state));
		ds_free(d);
	}
}

static void
ds_event(struct ingest *ing, struct watch *w, const struct inotify_event *ev)
{
	char		 sub[PATH_MAX];
	struct ds	*d = w->ds;
	time_t		 newest = 0;

	if (ev->mask & IN_IGNORED) {
		/* that directory is gone; the dataset itself: see spool_event */
		watch_free(ing, w, 0);
		if (LIST_EMPTY(&d->watches) && d->state == DS_WATCHING &&
		    access(d->path, F_OK) < 0) {
			log_info(COMP, "dataset=%s gone", log_q(d->path));
			ds_free(d);
		}
		return;
	}
	if (d->state != DS_WATCHING)
		return;
	/* The marker counts once it is complete: closed after writing or
	 * renamed into place.  IN_CREATE is too early: `touch` still sets
	 * its times after creating it, and a writer may still fill it. */
	if (w->root && ev->len && strcmp(ev->name, ing->marker) == 0 &&
	    (ev->mask & (IN_MOVED_TO | IN_CLOSE_WRITE))) {
		seal(d, "marker");
		return;
	}
	if (ev->len && (ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) &&
	    (size_t)snprintf(sub, sizeof(sub), "%s/%s", w->path, ev->name) < sizeof(sub))
		add_tree(d, sub, 1, &newest);
	if (ing->quiet > 0) {
		d->quiet.repeat = ing->quiet;
		ev_timer_again(ing->loop, &d->quiet);
	}
}

static void
io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct ingest			*ing = io->data;
	const struct inotify_event	*ev;
	struct watch			*w;
	char				 buf[64 * 1024]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t				 n;
	char				*p;
	int				 overflow = 0;

	for (;;) {
		n = read(ing->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN)
				log_warn(COMP, "read inotify");
			break;
		}
		if (n == 0)
			break;
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				overflow = 1;
				continue;
			}
			w = watch_find(ing, ev->wd);
			if (w == NULL)
				continue;	/* removed by us meanwhile */
			if (w->ds)
				ds_event(ing, w, ev);
			else
				spool_event(ing, w, ev);
		}
	}
	if (overflow) {
		log_warnx(COMP, "error=\"inotify queue overflow: rescanning spool\"");
		scan_spools(ing, 1);
	}
}

/* ---- start / stop ---- */

static int
spools_parse(struct ingest *ing, const char *list, char *err, size_t errlen)
{
	const char	*s = list, *e, *end;
	struct stat	 st;
	size_t		 len;

	while (*s) {
		e = strchr(s, ',');
		end = e ? e : s + strlen(s);
		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		len = (size_t)(end - s);
		while (len > 1 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
		    s[len - 1] == '/'))
			len--;
		if (len > 0) {
			if (ing->nspools == MAX_SPOOLS) {
				snprintf(err, errlen, "spool: more than %d directories",
				    MAX_SPOOLS);
				return SL_EINVAL;
			}
			ing->spools[ing->nspools] = strndup(s, len);
			if (ing->spools[ing->nspools] == NULL) {
				snprintf(err, errlen, "spool: out of memory");
				return SL_ENOMEM;
			}
			if (stat(ing->spools[ing->nspools], &st) < 0) {
				snprintf(err, errlen, "spool %s: %s",
				    ing->spools[ing->nspools], strerror(errno));
				ing->nspools++;
				return SL_EINVAL;
			}
			ing->nspools++;
			if (!S_ISDIR(st.st_mode)) {
				snprintf(err, errlen, "spool %s: not a directory",
				    ing->spools[ing->nspools - 1]);
				return SL_EINVAL;
			}
		}
		s = e ? e + 1 : end;
	}
	return SL_OK;
}

int
ingest_start(struct ingest **out, struct ev_loop *loop, const struct config *cfg,
    ingest_sealed_cb sealed, void *arg, char *err, size_t errlen)
{
	struct ingest	*ing;
	int		 rc, i;

	*out = NULL;
	ing = calloc(1, sizeof(*ing));
	if (ing == NULL) {
		snprintf(err, errlen, "ingest: out of memory");
		return SL_ENOMEM;
	}
	ing->fd = -1;
	ing->loop = loop;
	ing->cb = sealed;
	ing->arg = arg;
	ing->quiet = cfg->quiet;
	snprintf(ing->marker, sizeof(ing->marker), "%s",
	    cfg->seal_marker[0] ? cfg->seal_marker : ".sealed");
	snprintf(ing->sidecar, sizeof(ing->sidecar), "%s", cfg->sidecar);
	TAILQ_INIT(&ing->active);
	TAILQ_INIT(&ing->done);
	TAILQ_INIT(&ing->handq);
	ev_init(&ing->hand, hand_cb);
	ing->hand.data = ing;
	rc = spools_parse(ing, cfg->spool, err, errlen);
	if (rc)
		goto fail;
	if (ing->nspools == 0) {
		ingest_stop(ing);
		return SL_OK;
	}
	ing->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ing->fd < 0) {
		snprintf(err, errlen, "inotify_init1: %s", strerror(errno));
		rc = SL_EIO;
		goto fail;
	}
	for (i = 0; i < ing->nspools; i++) {
		if (watch_add(ing, ing->spools[i], NULL, i, 0) < 0) {
			snprintf(err, errlen, "spool %s: cannot watch: %s",
			    ing->spools[i], strerror(errno));
			rc = SL_EINVAL;
			goto fail;
		}
	}
	ev_io_init(&ing->io, io_cb, ing->fd, EV_READ);
	ing->io.data = ing;
	ev_io_start(loop, &ing->io);
	ev_timer_init(&ing->rescan, rescan_cb, INGEST_RESCAN_SEC, INGEST_RESCAN_SEC);
	ing->rescan.data = ing;
	ev_timer_start(loop, &ing->rescan);
	for (i = 0; i < ing->nspools; i++)
		log_info(COMP, "spool=%s marker=%s quiet=%.3gs sidecar=%s watching",
		    log_q(ing->spools[i]), log_q(ing->marker), ing->quiet,
		    log_q(ing->sidecar));
	scan_spools(ing, 0);
	*out = ing;
	return SL_OK;
fail:
	ingest_stop(ing);
	return rc;
}

void
ingest_stop(struct ingest *ing)
{
	struct watch	*w;
	int		 i;

	if (ing == NULL)
		return;
	if (ing->fd >= 0) {
		ev_io_stop(ing->loop, &ing->io);
		ev_timer_stop(ing->loop, &ing->rescan);
	}
	ev_timer_stop(ing->loop, &ing->hand);
	/* ds_free and watch_free unlink what they free (a ds is on done iff
	 * its state is DS_DONE; see ds_unwatch); the analyzer cannot see it. */
	while (!TAILQ_EMPTY(&ing->active))
		ds_free(TAILQ_FIRST(&ing->active)); // NOLINT(clang-analyzer-unix.Malloc)
	while (!TAILQ_EMPTY(&ing->done))
		ds_free(TAILQ_FIRST(&ing->done)); // NOLINT(clang-analyzer-unix.Malloc)
	for (i = 0; i < WD_BUCKETS; i++)
		while ((w = ing->wds[i]) != NULL)
			watch_free(ing, w, 0); // NOLINT(clang-analyzer-unix.Malloc)
	if (ing->fd >= 0)
		close(ing->fd);
	for (i = 0; i < ing->nspools; i++)
		free(ing->spools[i]);
	free(ing);
}

uint32_t
ingest_pending(const struct ingest *ing)
{
	return ing ? ing->nactive : 0;
}
