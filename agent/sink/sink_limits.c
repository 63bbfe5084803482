/*
 * sink_limits.c: what one authenticated agent may make the sink hold.
 *
 * A dataset the sink holds (struct sds, from OPEN until it is published
 * or failed, or an OPEN still at the opener thread) pins memory (its file
 * table, paths, chunk bitmap and metadata: its cost) and, while it
 * receives, a descriptor on its partial directory.  Three caps per agent
 * identity, each from the config and each refusal an ERROR naming the
 * limit and its value:
 *
 *   max_files_per_dataset   files in one OPEN
 *   max_datasets_per_agent  datasets receiving at once, counting those
 *                           whose agent has gone away
 *   max_memory_per_agent    the sum of their costs
 *
 * Refusals are fatal for the dataset (SL_ETOOBIG): the agent's dataset
 * goes to failed with the sentence, and an operator who raises the limit
 * runs `sluice retry`.  (A legitimate agent sends one dataset at a time,
 * so the dataset cap is only reached by left-overs or a peer that
 * misbehaves.)
 *
 * A receiving dataset whose agent has no connection left keeps its file
 * table (the agent comes back to it) but not its descriptor: the partial
 * directory is closed when the agent's last connection goes and reopened
 * by the next OPEN of it (slim_attach), beneath the root and without
 * following a symlink.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fsx.h"
#include "log.h"
#include "publish.h"
#include "sink_int.h"
#include "verify.h"

uint64_t
slim_cost(uint32_t nfiles, size_t plen, uint64_t nchunks, uint32_t nmeta)
{
	return sizeof(struct sds) + (uint64_t)nfiles * sizeof(struct file_rec) + plen +
	    nchunks / 8 + 1 + (uint64_t)nmeta * 2 * (SL_MAX_META_VAL + 1);
}

int
slim_check_open(struct sink *sk, const char *agent, uint32_t nfiles, uint64_t cost,
    char *msg, size_t msglen)
{
	const struct config	*cfg = sk->cfg;
	struct sds		*d;
	struct sopen		*op;
	uint64_t		 mem = 0;
	int			 n = 0;

	if (nfiles > (uint32_t)cfg->max_files_per_dataset) {
		snprintf(msg, msglen, "OPEN has %u files; this sink takes at most "
		    "max_files_per_dataset = %d per dataset", nfiles,
		    cfg->max_files_per_dataset);
		return SL_ETOOBIG;
	}
	for (d = sk->dsets; d; d = d->next)
		if (d->rec.state == SDS_RECEIVING && strcmp(d->rec.src, agent) == 0) {
			n++;
			mem += d->cost;
		}
	for (op = sk->opening; op; op = op->next)
		if (strcmp(op->agent, agent) == 0) {
			n++;
			mem += op->cost;
		}
	if (n >= cfg->max_datasets_per_agent) {
		snprintf(msg, msglen, "agent %s already has %d datasets receiving at "
		    "the sink (max_datasets_per_agent = %d); let one finish or abandon "
		    "it first", agent, n, cfg->max_datasets_per_agent);
		return SL_ETOOBIG;
	}
	if (mem + cost > cfg->max_memory_per_agent) {
		snprintf(msg, msglen, "dataset needs %llu bytes of sink memory and agent "
		    "%s holds %llu already (max_memory_per_agent = %u bytes)",
		    (unsigned long long)cost, agent, (unsigned long long)mem,
		    cfg->max_memory_per_agent);
		return SL_ETOOBIG;
	}
	return SL_OK;
}

void
slim_agent_gone(struct sink *sk, const char *agent, const struct sconn *skip)
{
	struct sconn	*c;
	struct sds	*d;
	int		 n = 0;

	for (c = sk->conns; c; c = c->next)
		if (c != skip && c->slot == SLOT_AUTH && strcmp(c->agent, agent) == 0 &&
		    stream_state(c->s) != ST_CLOSING)
			return;
	for (d = sk->dsets; d; d = d->next) {
		if (d->rec.state != SDS_RECEIVING || d->pfd < 0 ||
		    strcmp(d->rec.src, agent) != 0)
			continue;
		/* The verifier reads through pfd: what it has not finished
		 * is re-read at COMMIT. */
		sds_drop_vd(sk, d);
		close(d->pfd);
		d->pfd = -1;
		n++;
	}
	if (n > 0)
		log_info("sink", "agent=%s has no connection left: closed the partial "
		    "directories of its %d receiving datasets (reopened when it "
		    "resumes them)", log_q(agent), n);
}

int
slim_attach(struct sink *sk, struct sds *d, char *msg, size_t msglen)
{
	char	pname[SL_MAX_NAME + 16], rel[sizeof(d->rec.dest) + SL_MAX_NAME + 18];
	int	fd, e;

	publish_partial_name(pname, sizeof(pname), d->rec.name);
	/* In its namespace (rec.dest), beneath the root. */
	snprintf(rel, sizeof(rel), "%s%s%s", d->rec.dest, d->rec.dest[0] ? "/" : "", pname);
	fd = fsx_open_beneath(sk->rootfd, rel, O_RDONLY | O_DIRECTORY, 0);
	if (fd == -1) {
		e = errno;
		snprintf(msg, msglen, "reopen %s: %s", rel, strerror(e));
		if (e == ELOOP || e == EXDEV || e == ENOTDIR)
			return SL_EPATH;
		return e == ENOENT ? SL_ENOTFOUND : SL_EIO;
	}
	d->pfd = fd;
	log_debug("sink", "dataset=%016llx reopened %s", (unsigned long long)d->rec.id,
	    log_q(rel));
	return SL_OK;
}
