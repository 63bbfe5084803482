/*
 * retention.c: remove or move confirmed datasets from the spool.
 *
 * A pass collects the transferred datasets whose source still exists
 * beneath a spool directory, oldest confirmation first, and acts on those
 * past retention_after; while the spool is above spool_high it goes on
 * with younger ones until the mark is met again (measured after each).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fsx.h"
#include "log.h"
#include "retention.h"

struct cand {
	uint64_t	id;
	uint64_t	completed_ns;
	char		name[SL_MAX_NAME + 1];
	char		src[SL_MAX_PATH + 1];
};

struct collect {
	const struct config	*cfg;
	struct cand		*v;
	size_t			 n, alloc;
};

/* Is path directly beneath one of the spool directories? */
static int
in_spool(const struct config *cfg, const char *path)
{
	char	list[sizeof(cfg->spool)], *tok, *save = NULL;
	size_t	n;

	snprintf(list, sizeof(list), "%s", cfg->spool);
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		n = strlen(tok);
		while (n > 1 && (tok[n - 1] == '/' || tok[n - 1] == ' '))
			tok[--n] = '\0';
		if (n > 0 && strncmp(path, tok, n) == 0 && path[n] == '/' &&
		    path[n + 1] != '\0' && strchr(path + n + 1, '/') == NULL)
			return 1;
	}
	return 0;
}

static int
collect_fn(const struct ds_rec *d, void *arg)
{
	struct collect	*c = arg;
	struct stat	 st;

	if (!DS_PUBLISHED(d->state) || !in_spool(c->cfg, d->src) ||
	    lstat(d->src, &st) == -1 || !S_ISDIR(st.st_mode))
		return 0;
	if (c->n == c->alloc) {
		size_t na = c->alloc ? c->alloc * 2 : 64;
		struct cand *v = realloc(c->v, na * sizeof(*v));
		if (v == NULL)
			return 1;
		c->v = v;
		c->alloc = na;
	}
	c->v[c->n].id = d->id;
	c->v[c->n].completed_ns = d->completed_ns;
	snprintf(c->v[c->n].name, sizeof(c->v[c->n].name), "%s", d->name);
	snprintf(c->v[c->n].src, sizeof(c->v[c->n].src), "%s", d->src);
	c->n++;
	return 0;
}

static int
cmp_completed(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	return x->completed_ns < y->completed_ns ? -1 : x->completed_ns > y->completed_ns;
}

int
retention_spool_use(const struct config *cfg, struct spool_use *u)
{
	char		list[sizeof(cfg->spool)], *tok, *save = NULL;
	struct statvfs	sv;
	int		found = 0;

	memset(u, 0, sizeof(*u));
	snprintf(list, sizeof(list), "%s", cfg->spool);
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t total, avail;
		int pct;

		while (*tok == ' ')
			tok++;
		tok[strcspn(tok, " ")] = '\0';
		if (*tok == '\0' || statvfs(tok, &sv) == -1 || sv.f_blocks == 0)
			continue;
		total = (uint64_t)sv.f_blocks * sv.f_frsize;
		avail = (uint64_t)sv.f_bavail * sv.f_frsize;
		/* Used as df counts it: against what non-root users may use. */
		pct = (int)((total - (uint64_t)sv.f_bfree * sv.f_frsize) * 100 /
		    (total - (uint64_t)sv.f_bfree * sv.f_frsize + avail));
		if (!found || pct > u->pct) {
			u->pct = pct;
			u->total = total;
			u->used = total - (uint64_t)sv.f_bfree * sv.f_frsize;
			snprintf(u->dir, sizeof(u->dir), "%s", tok);
		}
		found = 1;
	}
	if (!found)
		return SL_ENOTFOUND;
	u->level = u->pct >= cfg->spool_high ? SPOOL_HIGH :
	    u->pct >= cfg->spool_warn ? SPOOL_WARN : SPOOL_OK;
	return SL_OK;
}

/* Delete or move one source.  0 or -1 (logged). */
static int
retire(const struct config *cfg, struct journal *j, const struct cand *c,
    const char *why)
{
	char	 note[SL_MAX_MSG], parent[SL_MAX_PATH + 1], to[2 * SL_MAX_PATH + 2];
	char	*base;
	int	 pfd, rc;

	snprintf(parent, sizeof(parent), "%s", c->src);
	base = strrchr(parent, '/');
	*base++ = '\0';
	if (cfg->retention == RET_MOVE) {
		snprintf(to, sizeof(to), "%s/%s", cfg->retention_dir, base);
		rc = rename(c->src, to);
		if (rc == -1) {
			log_warn("retention", "dataset=%016llx move %s to %s",
			    (unsigned long long)c->id, log_q(c->src), log_q(to));
			return -1;
		}
		snprintf(note, sizeof(note), "source moved to %s by retention (%s)", to, why);
	} else {
		pfd = open(parent[0] ? parent : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		rc = pfd == -1 ? -1 : fsx_rmtree_at(pfd, base);
		if (pfd != -1)
			close(pfd);
		if (rc == -1) {
			log_warn("retention", "dataset=%016llx delete %s",
			    (unsigned long long)c->id, log_q(c->src));
			return -1;
		}
		snprintf(note, sizeof(note), "source deleted by retention (%s)", why);
	}
	log_info("retention", "dataset=%016llx name=%s %s", (unsigned long long)c->id,
	    log_q(c->name), log_q(note));
	journal_ds_note(j, c->id, note, NULL);
	return 0;
}

int
retention_pass(const struct config *cfg, struct journal *j, double now,
    const struct spool_use *u)
{
	struct collect	 c = { cfg, NULL, 0, 0 };
	struct spool_use cur;
	size_t		 i;
	int		 rc, done = 0, high;

	if (cfg->retention == RET_KEEP || cfg->spool[0] == '\0')
		return 0;
	rc = journal_ds_foreach(j, collect_fn, &c);
	if (rc != SL_OK) {
		free(c.v);
		return rc;
	}
	if (c.n > 0)		/* qsort(NULL, 0) is UB: glibc declares it nonnull */
		qsort(c.v, c.n, sizeof(*c.v), cmp_completed);
	high = u != NULL && u->level == SPOOL_HIGH;
	for (i = 0; i < c.n; i++) {
		double age = now - (double)c.v[i].completed_ns / 1e9;

		if (age >= cfg->retention_after) {
			if (retire(cfg, j, &c.v[i], "confirmed durable at the sink "
			    "longer than retention_after") == 0)
				done++;
		} else if (high) {
			if (retire(cfg, j, &c.v[i], "spool above spool_high, oldest "
			    "confirmed first") == 0)
				done++;
			high = retention_spool_use(cfg, &cur) == SL_OK &&
			    cur.level == SPOOL_HIGH;
		}
	}
	free(c.v);
	return done;
}
