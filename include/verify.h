/*
 * verify.h: the sink's re-read that follows the transfer
 * (agent/sink_verify.c).
 *
 * Publication re-reads every byte before the rename (publish.h).  Done
 * all at COMMIT, that re-read is a second pass over the dataset after the
 * transfer: for one large file a third of the wall time.  The verifier
 * does it on its own thread while the rest still arrives: as chunks
 * become durable (the group commit), it re-reads each file in order from
 * its first unverified chunk, checks each chunk's XXH3-64 against the hash
 * verified on arrival, and carries the file's SHA-256, XXH3-128 and
 * chunk-list digest forward.  At COMMIT only what it has not reached yet
 * is left, and publish_commit() takes the finished sums.
 *
 * What it proves: the disk held the verified bytes once they were
 * durable (read back after the group commit's fsync).  A byte changed on
 * the sink's disk after its chunk was re-read and before COMMIT is not
 * seen; the old all-at-COMMIT re-read would have seen it.
 *
 * A dataset is tracked from its first chunk in this process; one resumed
 * from the journal after a restart is not (its earlier hashes are in the
 * journal, not here) and is re-read at COMMIT as before.
 *
 * Threads: every call is for the loop thread; the verifier's own thread
 * only reads files and hashes.  One mutex guards the shared state.
 */
#ifndef VERIFY_H
#define VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include "journal.h"

struct verifier;
struct vds;

/* What the re-read found for one file. */
enum vsum_state { VS_TODO, VS_DONE, VS_BAD };
struct vsum {
	uint8_t	sha[32];	/* SHA-256 of the file */
	uint8_t	xxh[16];	/* XXH3-128 of the file, canonical */
	uint8_t	lst[16];	/* XXH3-128 of the chunk hashes (the agent's digest) */
	int	state;		/* enum vsum_state */
};

/*
 * The digests of one file fed its chunks in order, as read back from
 * disk: XXH3-128 and SHA-256 of the bytes, XXH3-128 of the chunk hashes
 * (what the agent sends in COMMIT).  Shared by the verifier thread and
 * publish_commit's full re-read.
 */
struct vctx;
struct vctx *vctx_new(void);			/* NULL on ENOMEM */
/* One chunk: SL_OK, or SL_ECORRUPT (nothing added) when its XXH3-64 is
 * not hash, the one it had on arrival. */
int	vctx_chunk(struct vctx *c, const uint8_t *p, size_t len, uint64_t hash);
/* Fill s (state VS_DONE) and free c. */
void	vctx_finish(struct vctx *c, struct vsum *s);
void	vctx_free(struct vctx *c);		/* NULL is fine */

/* Start the thread.  SL_OK, SL_ENOMEM, SL_EIO (pthread). */
int	verifier_start(struct verifier **out);
/* Stop and join the thread; every vds must have been dropped. */
void	verifier_stop(struct verifier *v);

/* Track a dataset whose files are open beneath pfd (kept open by the
 * caller until verifier_drop).  files must outlive the vds.  NULL on
 * ENOMEM: the dataset is then simply re-read at COMMIT. */
struct vds *verifier_track(struct verifier *v, int pfd, const struct ds_rec *d,
	    const struct file_rec *files, uint32_t nfiles, int dio);
/* Chunk `chunk` of file `file` is durable and hashed `hash` on arrival.
 * Call for a group commit's chunks, then verifier_kick once. */
void	verifier_durable(struct verifier *v, struct vds *vd, uint32_t file,
	    uint32_t chunk, uint64_t hash);
void	verifier_kick(struct verifier *v);
/* Wait until every file has been re-read (all chunks must be durable).
 * Returns nfiles results, valid until verifier_drop; err gets the first
 * mismatch or read error (a VS_BAD file). */
const struct vsum *verifier_finish(struct verifier *v, struct vds *vd,
	    char *err, size_t errlen);
/* Forget the dataset (waits while the thread is inside it). */
void	verifier_drop(struct verifier *v, struct vds *vd);

#endif
