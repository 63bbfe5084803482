/*
 * ingest.h: unattended pick-up of sealed datasets from spool directories
 * (agent/send/ingest.c), with inotify on the agent's libev loop.
 *
 * A dataset is a directory directly beneath one of cfg->spool's
 * directories whose name does not start with '.'.  It is sealed when
 * cfg->seal_marker appears in it, or, if cfg->quiet > 0, when nothing
 * beneath it changed for cfg->quiet seconds.  When a dataset is sealed the
 * module reads its sidecar (cfg->sidecar, a JSON object) and calls the
 * sealed() callback.  The callback returns 0 once the dataset is accepted
 * (journaled); the module then forgets it.  Any other return means "not
 * now" (journal full, ...): the module calls again after
 * INGEST_RETRY_SEC seconds, for as long as the directory exists.
 *
 * After a restart (and after an inotify queue overflow) every dataset in
 * the spool is looked at again, so the callback may be called for a
 * dataset that it accepted before; it is expected to deduplicate by path
 * and return 0.
 *
 * Threads: everything runs on the loop given to ingest_start(), in the
 * thread that runs it.  The callback must not call ingest_stop().
 */
#ifndef INGEST_H
#define INGEST_H

#include <stddef.h>
#include <stdint.h>
#include "sluice.h"

struct ev_loop;
struct config;
struct ingest;

#define INGEST_MAX_DATASETS	10000	/* watched (not yet accepted) datasets */
#define INGEST_MAX_DONE		100000	/* accepted datasets remembered */
#define INGEST_MAX_SIDECAR	(2u * 1024 * 1024)	/* sidecar file bytes */
#define INGEST_RETRY_SEC	3.0	/* callback said "not now" */
#define INGEST_RESCAN_SEC	30.0	/* safety rescan of the spool directories */

/*
 * Metadata from a dataset's sidecar, as handed to the callback.  Owned by
 * the module and valid only during the call: copy what you keep.  Never
 * NULL.  kv[i][0] is a key (<= SL_MAX_META_KEY bytes of [A-Za-z0-9._-]),
 * kv[i][1] its value: a JSON string as is; numbers, booleans, null and
 * nested objects/arrays as compact JSON text.  The row type is the one of
 * struct ds_rec's meta (journal.h), so pairs can be copied row by row.
 *
 * No sidecar: n == 0, error "".  A sidecar that cannot be read or is not
 * a JSON object: n == 0, kv == NULL, error says why (the dataset is still
 * handed over; data is never held back for bad metadata).  Keys that are
 * not allowed, values longer than SL_MAX_META_VAL and pairs past
 * SL_MAX_META are skipped with a warning in the log.
 */
struct ingest_meta {
	uint32_t	  n;
	char		(*kv)[2][SL_MAX_META_VAL + 1];
	char		  error[256];
};

/*
 * The callback: dir is the dataset directory (spool dir + "/" + name).
 * Return 0 when accepted, non-zero to be called again later.
 */
typedef int (*ingest_sealed_cb)(void *arg, const char *dir,
    const struct ingest_meta *meta);

/*
 * Start watching cfg->spool on loop.  With cfg->spool == "" there is
 * nothing to watch: *out is set to NULL and SL_OK returned.  Datasets
 * already present are looked at before this returns: those with the
 * marker (or, with quiet set, whose newest mtime is older than quiet
 * seconds) are handed to sealed() from inside this call.
 *
 * Returns SL_OK and *out (free with ingest_stop()); SL_EINVAL when a spool
 * directory is missing, not a directory or cannot be watched (err names
 * it); SL_EIO when inotify cannot be set up; SL_ENOMEM.
 */
int	ingest_start(struct ingest **out, struct ev_loop *loop,
	    const struct config *cfg, ingest_sealed_cb sealed, void *arg,
	    char *err, size_t errlen);

/* Stop every watcher, close the inotify fd and free.  NULL is a no-op. */
void	ingest_stop(struct ingest *ing);

/* Datasets currently watched or waiting for acceptance (for status). */
uint32_t ingest_pending(const struct ingest *ing);

#endif
