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

/* Create (idempotently) the partial directory beneath rootfd without
 * following a symlink, and fsync it and its entry when it is new.  Its
 * files are made later (publish_open_file, publish_commit).  Returns an
 * fd on the partial directory (>= 0) or an sl_err with err naming what
 * failed (SL_ENOSPC for ENOSPC/EDQUOT; SL_EPATH, fatal for the dataset,
 * for a name the file system cannot hold: ENAMETOOLONG, EILSEQ or
 * EINVAL, and for a symlink or a file where the directory should be). */
int	publish_prepare(int rootfd, const struct ds_rec *d, char *err, size_t errlen);

/* Open file f of the partial tree (partialfd) to write a chunk: O_WRONLY,
 * O_DIRECT when dio and the file system takes it.  create: the file may
 * not exist yet, so O_CREAT, its missing parent directories made, and a
 * file of more than one chunk set to its final size.  Never follows a
 * symlink.  Nothing is synced: a created entry is durable only once the
 * caller has synced the file system (gcommit.h newent).  Returns the fd,
 * or -1 with errno, *rc and err: SL_EPATH (fatal for the dataset: a symlink or
 * a non-directory on the path, a name the file system cannot hold),
 * SL_ENOSPC, SL_EIO. */
int	publish_open_file(int partialfd, const struct file_rec *f, int dio,
	    int create, int *rc, char *err, size_t errlen);

/* 1 if <root>/<name> exists and its manifest names dataset id d->id, 0 if
 * it does not exist, SL_EEXIST if it exists and belongs to another one. */
int	publish_is_published(int rootfd, const struct ds_rec *d);

/* Verify and publish: create the empty files (no chunk made them; one
 * syncfs then covers their entries), for every file check size, re-read it and compare
 * each chunk's XXH3-64 with the journal's, compare the chunk-list digest
 * with the agent's (digests: nfiles x 16 bytes), compute XXH3-128 (and
 * SHA-256 with VH_SHA256), write the manifest, set modes, fsync, rename into place
 * (never over an existing name) and fsync the root.  SL_OK, SL_ECORRUPT
 * (a mismatch; err names the file), SL_EEXIST (name taken), SL_EIO,
 * SL_ENOSPC.  pre: NULL, or nfiles results of the verifier (verify.h);
 * a VS_DONE file is not read again (its size, chunk-list digest and mode
 * are still checked and set, through kfd[i] when kfd is not NULL and
 * that is not -1: an fd the caller keeps on that file), any other is
 * re-read here.  Modes are the
 * sink's policy, not the agent's: every file gets file_mode (plus x where
 * it grants r, for a file the agent marked executable), the manifest
 * file_mode without x, every directory dir_mode.  how: VH_DIO
 * reads files of FSX_DIO_MIN_FILE and more with O_DIRECT; VH_SHA256. */
int	publish_commit(struct journal *j, int rootfd, int partialfd, unsigned how,
	    const struct ds_rec *d, const struct file_rec *files, uint32_t nfiles,
	    const uint8_t *digests, const struct vsum *pre, const int *kfd,
	    unsigned file_mode, unsigned dir_mode, char *err, size_t errlen);

#endif
