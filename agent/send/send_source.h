/*
 * send_source.h: reading a dataset's chunks from the source directory
 * (send_source.c).  Loop thread only; uses only the dataset it is given.
 */
#ifndef SEND_SOURCE_H
#define SEND_SOURCE_H

#include <stddef.h>
#include <stdint.h>
#include "journal.h"

struct ads;

/* SL_OK if the file at path is still the one journaled as fr (size, mtime,
 * inode), else SL_ECHANGED (changed, vanished) or SL_EIO, with a sentence
 * naming the file and the change in err. */
int	check_unchanged(const struct file_rec *fr, const char *path, char *err,
	    size_t errlen);
/* Global chunk index g of loaded dataset d -> index of the file that
 * holds it.  g must be below d->rec.nchunks. */
uint32_t	chunk_file(const struct ads *d, uint64_t g);
/* pread chunk c of file f of d into buf (len bytes) and XXH3-64 it into
 * *hash.  The file is checked (check_unchanged) and kept open in d->fd.
 * SL_ECHANGED (the source changed or cannot be read for a reason that
 * will not fix itself) or SL_EIO, with err set. */
int	read_chunk(struct ads *d, uint32_t f, uint32_t c, uint8_t *buf, uint32_t len,
	    uint64_t *hash, char *err, size_t errlen);

#endif
