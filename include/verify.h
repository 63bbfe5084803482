/*
 * verify.h: the per-file digests the sink publishes (XXH3-128, the
 * agent's chunk-list digest and, with `[sink] sha256 = on`, SHA-256),
 * computed while the transfer runs (agent/sink/sink_verify.c).
 *
 * Two ways, per file:
 *  - from memory (files on the O_DIRECT path, `reread = off`, the
 *    default): the writer that has just written a chunk hands its bytes,
 *    verified on arrival, to verifier_feed, which hashes them in file
 *    order on that writer's thread.  A chunk ahead of its file's cursor
 *    is parked (its stream holds its buffer) until the chunks before it
 *    are hashed.  Nothing is read back: the disk is trusted with what
 *    O_DIRECT and fdatasync gave it, as rsync and bbcp do.  A file whose
 *    chunks stay out of order too long (verifier_expire) is given up and
 *    re-read at COMMIT.
 *  - from memory on the loop (a small file of one chunk, under
 *    FSX_DIO_MIN_FILE, written through the page cache with one pwrite on
 *    the loop; `reread = off`): verifier_written, called once that pwrite
 *    has put every byte of the chunk in the file, checks the chunk's
 *    XXH3-64 again over the bytes the write took and hashes them.  What
 *    the re-read from the page cache proved, that the file held the
 *    verified bytes, this proves of the buffer the kernel copied them
 *    from; a write that did not land (in whole or in part) leaves the
 *    file, created empty, short of its size, which publish_commit checks.
 *    That they reached the disk was never the re-read's to prove (it read
 *    the cache) but the group commit's syncfs or fsync, whose errors fail
 *    the batch.  Per small file this saves an open, an fcntl, a read and
 *    a close (scripts/bench, dataset B).  Files of several chunks keep
 *    the re-read: they are made at their final size, so the size would
 *    not show a chunk that did not land.
 *  - by re-reading (large page-cache files, and every file with `reread
 *    = on`), as follows.
 *
 * The re-read: done all at COMMIT, it would be a second pass over the
 * dataset after the transfer (for one large file a third of the wall
 * time).  The verifier does it on its own thread while the rest still
 * arrives: as chunks
 * become durable (the group commit), it re-reads each file in order from
 * its first unverified chunk, checks each chunk's XXH3-64 against the hash
 * verified on arrival, and carries the file's SHA-256, XXH3-128 and
 * chunk-list digest forward.  At COMMIT only what it has not reached yet
 * is left, and publish_commit() takes the finished sums.
 *
 * What the re-read proves: the disk held the verified bytes once they
 * were durable (read back after the group commit's fsync; for an O_DIRECT
 * file from the disk, for a page-cache file from the cache).  Its cost
 * for an O_DIRECT file is a disk read of every byte, which halved what
 * the disk could take in; hence the default.  A byte changed on
 * the sink's disk after its chunk was re-read and before COMMIT is not
 * seen; the old all-at-COMMIT re-read would have seen it.
 *
 * A dataset is tracked from its first chunk in this process; one resumed
 * from the journal after a restart is not (its earlier hashes are in the
 * journal, not here) and is re-read at COMMIT as before.
 *
 * Threads: every call is for the loop thread but verifier_feed (the
 * writers'; verifier_written hashes on the loop); the verifier's own
 * thread only re-reads and hashes.  One mutex guards the shared state.
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
	uint8_t	sha[32];	/* SHA-256 of the file, when has_sha */
	uint8_t	xxh[16];	/* XXH3-128 of the file, canonical */
	uint8_t	lst[16];	/* XXH3-128 of the chunk hashes (the agent's digest) */
	int	state;		/* enum vsum_state */
	int	has_sha;	/* computed with VH_SHA256 */
};

/* How a dataset's files are hashed (verifier_track, publish_commit). */
#define VH_DIO		0x1	/* files of FSX_DIO_MIN_FILE and more are O_DIRECT */
#define VH_MEM		0x2	/* hash O_DIRECT files from memory (verifier_feed) */
#define VH_SHA256	0x4	/* SHA-256 too: about 0.5 CPU-s per GB with SHA-NI,
				 * so only when the manifest's readers want it */
#define VH_LOOP		0x8	/* hash one-chunk small files as written (verifier_written) */

/*
 * The digests of one file fed its chunks in order: XXH3-128 (and with
 * sha, SHA-256) of the bytes, XXH3-128 of the chunk hashes (what the
 * agent sends in COMMIT).  Shared by the verifier thread, the writers
 * and publish_commit's full re-read.
 */
struct vctx;
struct vctx *vctx_new(int sha);			/* NULL on ENOMEM */
/* One chunk: SL_OK, or SL_ECORRUPT (nothing added) when its XXH3-64 is
 * not hash, the one it had on arrival. */
int	vctx_chunk(struct vctx *c, const uint8_t *p, size_t len, uint64_t hash);
/* Fill s (state VS_DONE) and free c. */
void	vctx_finish(struct vctx *c, struct vsum *s);
/* One chunk whose XXH3-64 was already checked. */
void	vctx_add(struct vctx *c, const uint8_t *p, size_t len, uint64_t hash);
void	vctx_free(struct vctx *c);		/* NULL is fine */

/* Start the thread.  SL_OK, SL_ENOMEM, SL_EIO (pthread). */
int	verifier_start(struct verifier **out);
/* Stop and join the thread; every vds must have been dropped. */
void	verifier_stop(struct verifier *v);

/* Track a dataset whose files are open beneath pfd (kept open by the
 * caller until verifier_drop).  files must outlive the vds.  how: VH_*
 * (VH_MEM: hash files on the O_DIRECT path from memory).  NULL on
 * ENOMEM: the dataset is then simply re-read at COMMIT. */
struct vds *verifier_track(struct verifier *v, int pfd, const struct ds_rec *d,
	    const struct file_rec *files, uint32_t nfiles, unsigned how);
/*
 * From memory: chunk `chunk` of `file`, hashed `hash` on arrival, has
 * just been written from p (spends a verifier_ref).  Returns 1 when p may go now (hashed here, or
 * not wanted: a re-read file, a resend, a file given up); 0 when parked:
 * p must stay valid until release(tok), which runs once, on whichever
 * thread hashes or gives the chunk up.  For the writers' threads.
 */
int	verifier_feed(struct verifier *v, struct vds *vd, uint32_t file,
	    uint32_t chunk, const uint8_t *p, uint32_t len, uint64_t hash,
	    void (*release)(void *tok), void *tok);
/*
 * From memory, on the loop (VH_LOOP, a file of one chunk under
 * FSX_DIO_MIN_FILE): its chunk, hashed `hash` on arrival, has just been
 * written in full from p.  Its XXH3-64 is checked again over p, and p is
 * hashed into the file's sums (p is not kept).  A mismatch (the buffer
 * changed since its arrival check) makes the file VS_BAD: publish_commit
 * re-reads it from the disk and decides.  A resend is checked the same
 * way.  Other files: nothing (the re-read thread hashes them).
 */
void	verifier_written(struct verifier *v, struct vds *vd, uint32_t file,
	    uint32_t chunk, const uint8_t *p, uint32_t len, uint64_t hash);
/* A job for vd is on its way to verifier_feed (loop thread, when it is
 * queued): vd outlives verifier_drop until that feed, or verifier_unref
 * for a job that will not be fed (a failed write; any thread). */
void	verifier_ref(struct verifier *v, struct vds *vd);
void	verifier_unref(struct verifier *v, struct vds *vd);
/* Give up hashing file from memory now: it is re-read at COMMIT.  For a
 * chunk that was refused or failed to write (it comes again, after the
 * ones its stream sends meanwhile, which would wait for it).  file
 * UINT32_MAX: every file of vd that has a chunk parked (the connections
 * carrying the ones they wait for are gone).  Any thread; a job's
 * verifier_ref keeps vd valid. */
void	verifier_giveup(struct verifier *v, struct vds *vd, uint32_t file,
	    const char *why);
/* Give up the files that have a chunk parked since before `before`
 * (sl_time_mono): their chunks are released and they are re-read at
 * COMMIT.  Returns the number of chunks still parked. */
unsigned verifier_expire(struct verifier *v, double before);
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
/* Forget the dataset (waits while a thread is inside it; releases its
 * parked chunks). */
void	verifier_drop(struct verifier *v, struct vds *vd);

#endif
