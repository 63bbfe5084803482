/*
 * retention.h: spool safety at the agent (agent/send/retention.c).
 *
 * Nothing is removed from the spool before the sink confirmed the dataset
 * durable (state transferred).  With retention = delete or move, the
 * source directory of a transferred dataset goes away once it has been
 * confirmed for retention_after, or earlier, oldest confirmed first,
 * while the spool file system is fuller than spool_high percent.  Only
 * directories beneath a configured spool directory are ever touched: a
 * dataset submitted by hand from elsewhere is the operator's to keep.
 * Every removal is recorded in the dataset's history.
 *
 * Blocking file-system work; called from the loop's housekeeping timer
 * (see README, "Limits").
 */
#ifndef RETENTION_H
#define RETENTION_H

#include <stdint.h>
#include "config.h"
#include "journal.h"

enum spool_level { SPOOL_OK = 0, SPOOL_WARN = 1, SPOOL_HIGH = 2 };

struct spool_use {
	int		pct;		/* fullest spool file system, percent used */
	uint64_t	used, total;	/* bytes, of that file system */
	int		level;		/* enum spool_level */
	char		dir[256];	/* the spool directory it was measured at */
};

/* Measure the spool directories (cfg->spool).  SL_ENOTFOUND when no spool
 * is configured. */
int	retention_spool_use(const struct config *cfg, struct spool_use *u);

/* One pass of the policy; returns how many sources were removed or moved
 * (>= 0) or an sl_err.  now is CLOCK_REALTIME seconds. */
int	retention_pass(const struct config *cfg, struct journal *j, double now,
	    const struct spool_use *u);

#endif
