/*
 * publish.h: the sink's on-disk side of a dataset (agent/sink/sink_publish.c):
 * the partial tree chunks are written into, and the verified, atomic
 * publication of it.  Used by the sink's sink_dataset.c only.
 *
 *	<root>/.<name>.partial/...    while receiving
 *	<root>/<name>/...             after COMMIT verified
 *	<root>/<name>/.sluice-manifest
 *
 * Blocking file I/O on the caller's thread.
 */
#ifndef PUBLISH_H
#define PUBLISH_H

#include <stddef.h>
#include <stdint.h>
#include "journal.h"
#include "verify.h"

#define MANIFEST_NAME	SL_MANIFEST_NAME	/* sluice.h: ".sluice-manifest" */

/* ".<name>.partial" into out. */
void	publish_partial_name(char *out, size_t len, const char *name);

/* Create (idempotently) the partial directory, every parent directory and
 * every file at its final size, all beneath rootfd without following a
 * symlink; fsync what was created.  Returns an fd on the partial
 * directory (>= 0) or an sl_err with err naming what failed (SL_ENOSPC
 * for ENOSPC/EDQUOT; SL_EPATH, fatal for the dataset, for a name the
 * file system cannot hold: ENAMETOOLONG, EILSEQ or EINVAL when creating
 * the partial directory, a file or its parents, and for a symlink or a
 * file where a directory should be). */
int	publish_prepare(int rootfd, const struct ds_rec *d, const struct file_rec *files,
	    uint32_t nfiles, char *err, size_t errlen);

/* 1 if <root>/<name> exists and its manifest names dataset id d->id, 0 if
 * it does not exist, SL_EEXIST if it exists and belongs to another one. */
int	publish_is_published(int rootfd, const struct ds_rec *d);

/* Verify and publish: for every file check size, re-read it and compare
 * each chunk's XXH3-64 with the journal's, compare the chunk-list digest
 * with the agent's (digests: nfiles x 16 bytes), compute XXH3-128 (and
 * SHA-256 with VH_SHA256), write the manifest, set modes, fsync, rename into place
 * (never over an existing name) and fsync the root.  SL_OK, SL_ECORRUPT
 * (a mismatch; err names the file), SL_EEXIST (name taken), SL_EIO,
 * SL_ENOSPC.  pre: NULL, or nfiles results of the verifier (verify.h);
 * a VS_DONE file is not read again (its size, chunk-list digest and mode
 * are still checked and set), any other is re-read here.  Modes are the
 * sink's policy, not the agent's: every file gets file_mode (plus x where
 * it grants r, for a file the agent marked executable), the manifest
 * file_mode without x, every directory dir_mode.  how: VH_DIO
 * reads files of FSX_DIO_MIN_FILE and more with O_DIRECT; VH_SHA256. */
int	publish_commit(struct journal *j, int rootfd, int partialfd, unsigned how,
	    const struct ds_rec *d, const struct file_rec *files, uint32_t nfiles,
	    const uint8_t *digests, const struct vsum *pre, unsigned file_mode,
	    unsigned dir_mode, char *err, size_t errlen);

#endif
