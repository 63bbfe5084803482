/*
 * journal.h: the durable state of both roles, in LMDB (agent/store/journal*.c,
 * one file per record family: see the group headings below).
 *
 * One LMDB environment per daemon (a directory holding data.mdb and
 * lock.mdb).  Named databases:
 *	"meta"      format version and role; refused when newer or other role
 *	"datasets"  u64 id (big-endian key)           -> dataset record
 *	"files"     id, u32 file index (BE)            -> file record
 *	"chunks"    id, u32 file, u32 chunk (BE)       -> chunk record
 *	"history"   id, u64 time_ns, u32 seq (BE)      -> state change record
 *	"names"     sink: "<dest>/<name>" or "<name>"  -> u64 id holding it
 *	"left"      id (BE), destination text          -> partial copy left
 *	            there by a move (agent; journal_move.c)
 * Keys are big-endian so that a cursor walks a dataset's files and chunks
 * in order.  Values are encoded with wire_put_* (little-endian) plus a
 * leading u16 record version, never raw structs.
 *
 * Every public function runs in its own short txn (STYLE 13), committed
 * with LMDB's default durable sync before it returns: a successful return
 * means the change survives a crash.  The "many" variants take a batch so
 * that the caller can group-commit.
 *
 * Threads: struct journal holds no mutable state after open and the env
 * is opened MDB_NOTLS, so two threads may call these functions at once
 * (the sink's committer thread does); LMDB serialises write txns.  Any
 * number of processes may open the same journal read-only (the CLI does).
 * Never use a journal across fork().
 *
 * Errors: SL_OK; SL_ENOTFOUND (no such record); SL_EJOURNAL (an LMDB
 * failure, a record that does not decode, a format from a newer version,
 * the other role's journal); SL_EINVAL (argument past a limit);
 * SL_ENOSPC (map full).  Functions that take err/errlen fill in a sentence
 * naming the journal path and the record.
 */
#ifndef JOURNAL_H
#define JOURNAL_H

#include <stdint.h>
#include <stddef.h>
#include "sluice.h"

#define JOURNAL_FORMAT	1

enum journal_role { JOURNAL_AGENT = 1, JOURNAL_SINK = 2 };
#define JOURNAL_RDONLY	0x1

struct journal;

/* ---- the environment (journal.c) ----------------------------------------- */

/* Open (creating when absent and not JOURNAL_RDONLY) the journal directory
 * `path` for `role`.  map_size 0 means the default (8 GiB, sparse).
 * A read-only open of a missing journal is SL_ENOTFOUND.  A journal whose
 * files are truncated or unreadable, of a newer format, or of the other
 * role is SL_EJOURNAL with a sentence in err: it is never silently
 * recreated empty. */
int	journal_open(struct journal **jp, const char *path, enum journal_role role,
	    int flags, size_t map_size, char *err, size_t errlen);
void	journal_close(struct journal *j);
const char *journal_path(const struct journal *j);

/* ---- dataset records (journal_ds.c) ---------------------------------------
 * Created with their files by journal_ds_create (journal_files.c) or
 * journal_sink_ds_create (journal_sink.c), changed only through the
 * functions of journal_state.c. */

enum ds_state {
	DS_QUEUED = 1,		/* journaled, sealed, waiting for a destination */
	DS_TRANSFERRING,	/* OPEN sent, chunks moving */
	DS_COMMITTING,		/* all chunks acked, COMMIT sent */
	DS_TRANSFERRED,		/* sink published it durable (COMMITTED); no hook */
	DS_FAILED,		/* stopped with a reason; needs an operator */
	DS_HOOK_PENDING,	/* published; the hook is to run (again) */
	DS_HOOK_RUNNING,	/* journaled before the hook starts: exactly once */
	DS_DONE,		/* published and the hook succeeded */
	DS_HOOK_FAILED,		/* published; the hook gave up, see hook_* */
	/* route job (dest DS_ROUTE_JOB; agent/hook/job.c, agent/send/send_pull.c):
	 * queued -> job_submitting -> job_submitted -> pulling -> pulled ->
	 * reducing -> done, or failed.  The hook_* fields hold the job's
	 * bookkeeping: hook_attempts = submissions, hook_out = the job id. */
	DS_JOB_SUBMITTING,	/* journaled before sbatch runs (fenced): exactly once */
	DS_JOB_SUBMITTED,	/* the scheduler took it; job id in hook_out */
	DS_PULLING,		/* the job's receiver dialled in, chunks moving */
	DS_PULLED,		/* published in the job's scratch (COMMITTED) */
	DS_REDUCING,		/* the receiver hung up to run the reduction */
};
#define DS_STATE_MAX	DS_REDUCING
/* Confirmed durable: published at the sink, or (route job) its result
 * confirmed on the shared file system (done). */
#define DS_PUBLISHED(s)	((s) == DS_TRANSFERRED || ((s) >= DS_HOOK_PENDING && \
			    (s) <= DS_HOOK_FAILED))
/* A job-route state between queued and done. */
#define DS_JOB_ACTIVE(s) ((s) >= DS_JOB_SUBMITTING && (s) <= DS_REDUCING)
/* ds_rec.dest of a dataset on route job: never a destination's text
 * ("host:port"), so the push path never binds or sends it. */
#define DS_ROUTE_JOB	"@job"
const char *ds_state_name(int state);

struct ds_rec {
	uint64_t	id;
	int		state;			/* enum ds_state */
	uint64_t	created_ns;		/* CLOCK_REALTIME */
	uint64_t	updated_ns;
	uint64_t	completed_ns;		/* 0 until DS_TRANSFERRED */
	uint32_t	chunk_size;
	uint32_t	nfiles;
	uint64_t	nchunks;
	uint64_t	bytes;
	uint64_t	chunks_acked;
	uint64_t	bytes_acked;
	uint64_t	chunks_sent;		/* DATA frames sent, all sessions */
	uint64_t	chunks_resent;		/* sent again after a NACK or a lost session */
	uint64_t	chunks_nacked;
	char		name[SL_MAX_NAME + 1];
	char		src[SL_MAX_PATH + 1];	/* absolute source directory */
	char		dest[256];		/* destination it is bound to, "" = any */
	char		published[SL_MAX_PATH + 1]; /* path at the sink, after COMMITTED */
	char		error[SL_MAX_MSG + 1];	/* why DS_FAILED, or last retryable error */
	uint32_t	nmeta;
	char	      (*meta)[2][SL_MAX_META_VAL + 1]; /* owned; NULL when nmeta == 0 */
	/* the completion hook (agent) */
	uint32_t	hook_attempts;		/* runs started */
	int32_t		hook_status;		/* exit status of the last run, -1 none */
	uint64_t	hook_next_ns;		/* earliest next attempt (HOOK_PENDING);
						 * HOOK_RUNNING: 0 unfenced, else when the
						 * fenced command started (fence.h) */
	char		hook_out[1024];		/* stdout of the last run (e.g. a job id) */
	char		hook_err[1024];		/* stderr tail or why it could not run */
	/* agent: the lane asked for (sluice submit --lane, the spool's);
	 * LANE_AUTO decides by age ([agent] live_age).  Appended to the
	 * record: one written before lanes reads as LANE_AUTO. */
	uint32_t	lane;
};
enum ds_lane { LANE_AUTO = 0, LANE_LIVE = 1, LANE_BACKLOG = 2 };
#define LANE_MAX	LANE_BACKLOG
const char *ds_lane_name(int lane);	/* "auto", "live", "backlog" */
void	ds_rec_free(struct ds_rec *d);		/* frees meta only */

/* Read a dataset; caller frees with ds_rec_free. */
int	journal_ds_get(struct journal *j, uint64_t id, struct ds_rec *d);
/* Find a dataset by name (first match in id order) or by id written as 16
 * hex digits. */
int	journal_ds_find(struct journal *j, const char *name_or_id, struct ds_rec *d);
/* Call fn for every dataset in id order, in one read txn (fn must not call
 * the journal); fn returns non-zero to stop.  d is valid during the call. */
int	journal_ds_foreach(struct journal *j,
	    int (*fn)(const struct ds_rec *d, void *arg), void *arg);
/* Agent, read-write open (journal_srcs.c): a dataset whose src is exactly
 * src, by an index (one seek, not a walk of every record).  SL_OK with
 * *id, SL_ENOTFOUND, SL_EINVAL on the sink or in a read-only open.  The
 * first call indexes a journal written before the index existed (one
 * write txn over every dataset). */
int	journal_src_find(struct journal *j, const char *src, uint64_t *id);

/* ---- state changes, hook bookkeeping, history (journal_state.c) ---------- */

/* Change state, record a history entry (from, to, reason), set error to
 * reason when reason is not NULL, completed_ns when DS_TRANSFERRED,
 * published when published is not NULL.  One txn. */
int	journal_ds_set_state(struct journal *j, uint64_t id, int state,
	    const char *reason, const char *published);
/* Agent: give dataset id a new name (a history entry says so).  The
 * caller checks the name (pathchk_name) and that no other dataset has it.
 * One txn. */
int	journal_ds_rename(struct journal *j, uint64_t id, const char *name);
/* Record an event in the dataset's history without changing its state
 * (note may be NULL), and bind it to destination dest (NULL: keep).
 * One txn. */
int	journal_ds_note(struct journal *j, uint64_t id, const char *note,
	    const char *dest);
/* ---- moves between destinations (journal_move.c) --------------------------
 * A dataset's chunk records say "acked" only for the destination it is
 * bound to.  Bind id to dest (not empty); when it was bound to another
 * one, that is a move: in the same txn every acked chunk becomes pending
 * again (hashes kept), chunks_acked and bytes_acked restart at 0, the old
 * destination is remembered as holding a partial copy ("left"), and note
 * (may be NULL) goes into the history.  Binding to a destination that was
 * left earlier removes its entry: the dataset resumes there.  Bound to
 * dest already: SL_OK, nothing written.  Agent journal opened read-write
 * only (else SL_EINVAL). */
int	journal_ds_rebind(struct journal *j, uint64_t id, const char *note,
	    const char *dest);
/* Call fn(id, dest) for every partial copy left behind, in one read txn
 * (fn must not call the journal; non-zero stops).  A read-only journal
 * shows none. */
int	journal_left_foreach(struct journal *j,
	    int (*fn)(uint64_t id, const char *dest, void *arg), void *arg);
/* Forget the copy of id left at dest (released); absent is SL_OK. */
int	journal_left_del(struct journal *j, uint64_t id, const char *dest);

/* Hook bookkeeping and a state change (with history) in one txn:
 * attempts, status, next_ns, out and err are stored as given (out/err
 * NULL: keep). */
int	journal_ds_hook(struct journal *j, uint64_t id, int state, uint32_t attempts,
	    int32_t status, uint64_t next_ns, const char *out, const char *err,
	    const char *reason);
/* Add to the sent / resent / nacked counters.  One txn. */
int	journal_ds_count(struct journal *j, uint64_t id, uint64_t sent,
	    uint64_t resent, uint64_t nacked);

/* History: every state change of a dataset, oldest first. */
struct hist_rec {
	uint64_t	time_ns;
	int		from, to;
	char		reason[SL_MAX_MSG + 1];
};
int	journal_history_foreach(struct journal *j, uint64_t id,
	    void (*fn)(const struct hist_rec *h, void *arg), void *arg);

/* ---- file and chunk records (journal_files.c) ---------------------------- */

struct file_rec {
	uint32_t	idx;
	uint64_t	size;
	int64_t		mtime_ns;
	uint64_t	ino;
	uint64_t	dev;
	uint32_t	mode;			/* permission bits */
	uint32_t	nchunks;
	uint64_t	first_chunk;		/* global index of its chunk 0 */
	char		*path;			/* relative to the dataset root, <= SL_MAX_PATH */
};
/* A file_rec is small (the path is a pointer) so that a dataset of 100,000
 * files costs a few MiB, not 400.  Arrays of them returned by this module
 * (journal_files_load) and by walk_dataset are one allocation holding the
 * records and then their paths: one free() releases both. */

/* Create dataset d (d->id chosen by the caller, unique) with its files and
 * one pending chunk record per chunk.  The dataset appears in one txn (the
 * files of a large one are stored ahead of it in slices, see
 * jr_files_ahead: bounded memory); on failure nothing of it stays.  d->nchunks and d->bytes
 * must agree with files.  SL_EEXIST if the id is taken. */
int	journal_ds_create(struct journal *j, const struct ds_rec *d,
	    const struct file_rec *files, uint32_t nfiles);
/* Load a dataset's files (array of d->nfiles with their paths in the same
 * block, owned by caller: one free()). */
int	journal_files_load(struct journal *j, uint64_t id, struct file_rec **files,
	    uint32_t *nfiles);

/* Agent chunk record: state and, once acked, the XXH3-64 that was sent. */
enum chunk_state { CHUNK_PENDING = 0, CHUNK_ACKED = 1 };
struct chunk_ref {
	uint32_t	file;
	uint32_t	chunk;
	uint64_t	hash;			/* 0 with has_hash = 0: unknown */
	int		has_hash;
};
/* Mark chunks acked (sink holds them durable) and add to the dataset's
 * chunks_acked / bytes_acked (chunks already acked are not counted twice).
 * One txn for the whole batch.  Unknown file/chunk: SL_EINVAL, nothing
 * written. */
int	journal_chunks_ack(struct journal *j, uint64_t id,
	    const struct chunk_ref *refs, uint32_t n);
/* For every chunk of dataset id call fn(file, chunk, state, hash, has_hash)
 * in order, in one read txn. */
int	journal_chunks_foreach(struct journal *j, uint64_t id,
	    void (*fn)(uint32_t file, uint32_t chunk, int state, uint64_t hash,
	    int has_hash, void *arg), void *arg);

/* ---- datasets the agent could not journal (journal_rejected.c) ------------
 * Every directory that appears is shipped or visibly failed: one whose
 * tree cannot be journaled still gets a record. */

/* Record dataset d (id, name, src, chunk_size, meta, created_ns from the
 * caller; its files ignored) as failed before it was journaled: no files,
 * state DS_FAILED, error = reason, one history entry (new -> failed:
 * reason), in one txn.  SL_EEXIST if the id is taken, SL_EINVAL on the
 * sink's journal or a bad argument. */
int	journal_ds_create_failed(struct journal *j, const struct ds_rec *d,
	    const char *reason);
/* 1 if d is such a record (failed, no files, never bound to a destination,
 * nothing sent): `sluice retry` walks its source again. */
int	journal_ds_rewalkable(const struct ds_rec *d);
/* Give a rewalkable dataset its files (as journal_ds_create: one pending
 * chunk record per chunk, totals computed) and queue it (DS_QUEUED, error
 * cleared, history entry with reason), in one txn, under the same id.
 * SL_ESTATE if it is not rewalkable (anymore), SL_ENOTFOUND. */
int	journal_ds_refill(struct journal *j, uint64_t id,
	    const struct file_rec *files, uint32_t nfiles, const char *reason);

/* ---- sink datasets (journal_sink.c) ---------------------------------------
 * The sink reuses struct ds_rec (src = the agent's authenticated
 * identity, its owner; dest = the directory under the root it is
 * published in, "" for the flat layout) with states: */
enum sds_state {
	SDS_RECEIVING = 1,	/* partial directory exists, chunks arriving */
	SDS_PUBLISHED,		/* renamed into place, manifest written */
	SDS_FAILED,
};
const char *sds_state_name(int state);	/* journal_ds.c */

/* Record a dataset announced by OPEN with its files (their first_chunk
 * and nchunks filled in by the caller), and reserve its name
 * ("<d->dest>/<d->name>", or "<d->name>" when dest is ""), in one txn;
 * the caller has checked journal_sink_name_holder.  If the id exists with
 * the same name, chunk size, file count, sizes and paths: SL_EEXIST and
 * *existing filled (the OPEN is a replay).  If it exists with a different
 * manifest: SL_EINVAL.  A new dataset of more than 8192 files has its
 * file records written ahead in txns of 8192 (other writers wait for one
 * at most), then the record, the rest and the name in the last one; a
 * crash in between leaves file records nothing reads.  For one thread at
 * a time (the sink's opener). */
int	journal_sink_ds_create(struct journal *j, const struct ds_rec *d,
	    const struct file_rec *files, uint32_t nfiles, struct ds_rec *existing);
/* The id holding the name dest/name ("" dest: flat): SL_OK and *id, or
 * SL_ENOTFOUND.  A holder may since be published (its entry is replaced
 * by the next create) or failed with its partial tree still there.
 * Read-write journals only. */
int	journal_sink_name_holder(struct journal *j, const char *dest,
	    const char *name, uint64_t *id);
/* journal_ds_set_state to SDS_PUBLISHED or SDS_FAILED that also drops the
 * dataset's name reservation, in one txn: call it once the tree is
 * renamed into place, or removed. */
int	journal_sink_finish(struct journal *j, uint64_t id, int state,
	    const char *reason, const char *published);
/* (updated_ns of a sink dataset moves with every batch of chunks put:
 * the last time an agent wrote to it.) */
/* One chunk the sink holds durable. */
struct sink_chunk {
	uint64_t	dsid;
	uint32_t	file;
	uint32_t	chunk;
	uint64_t	hash;
	uint32_t	len;
};
/* Record a group commit's chunks (any datasets) in one txn, adding to each
 * dataset's chunks_acked / bytes_acked (a chunk already held is not
 * counted twice). */
int	journal_sink_chunks_put(struct journal *j, const struct sink_chunk *c,
	    uint32_t n);
/* Set bit (first_chunk + chunk) in bitmap for each held chunk of id.
 * bitmap has room for nchunks bits and is zeroed by the caller. */
int	journal_sink_have(struct journal *j, uint64_t id, const struct file_rec *files,
	    uint32_t nfiles, uint8_t *bitmap, uint64_t nchunks);
/* Fill hashes[0..n) with file's chunk hashes; SL_ENOTFOUND if one is
 * missing. */
int	journal_sink_hashes(struct journal *j, uint64_t id, uint32_t file,
	    uint64_t *hashes, uint32_t n);
/* A partial copy released by rule (partial_ttl): in one txn, note (the
 * reason) goes into the history and the dataset's record, files and
 * chunks are deleted, so that a later OPEN of the same id starts afresh.
 * The history stays.  SL_ENOTFOUND if there is no such dataset. */
int	journal_sink_ds_forget(struct journal *j, uint64_t id, const char *note);
/* journal_ds_get, journal_ds_foreach, journal_ds_set_state,
 * journal_files_load and journal_history_foreach work on the sink journal
 * too. */

#endif
