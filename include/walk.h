/*
 * walk.h: scan a source dataset directory (agent/store/walk.c).
 *
 * Regular files and directories only: a symlink, device, FIFO or socket
 * anywhere in the tree is an error naming it (we never ship what a link
 * points at by accident).  Paths are checked with pathchk_rel and sorted
 * (bytewise) so that a dataset's file order is stable.  Blocking; the
 * daemon calls it on the loop thread for now (see README, "Limits").
 */
#ifndef WALK_H
#define WALK_H

#include <stdint.h>
#include <stddef.h>
#include "journal.h"

/* Scan dir.  On success *files is a malloc'd array of *nfiles records
 * (idx, size, mtime_ns, ino, dev, mode, path filled; nchunks and
 * first_chunk filled for chunk_size) and *total the byte sum.  Errors:
 * SL_EIO (cannot read: err names the path and errno), SL_EPATH (unsafe or
 * unsupported entry, a path that dir + '/' + path makes PATH_MAX or
 * longer, which the sender could not open, or a top-level
 * SL_MANIFEST_NAME, which the sink writes itself: err names it),
 * SL_ETOOBIG (more than SL_MAX_FILES). */
/* skip: a file name left out at the top level (the seal marker: a
 * control file of the spool, not data), or NULL. */
int	walk_dataset(const char *dir, const char *skip, uint32_t chunk_size,
	    struct file_rec **files, uint32_t *nfiles, uint64_t *total,
	    uint64_t *nchunks, char *err, size_t errlen);

#endif
