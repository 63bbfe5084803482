/*
 * journal_int.h: what the journal's files share.  Not a contract:
 * include/journal.h is.  Nothing here may be used outside agent/store.
 *
 * How it works.  One LMDB environment per journal directory, opened with
 * MDB_NOTLS (a read-only CLI may hold more than one read txn in a thread)
 * and five named databases: meta, datasets, files, chunks, history.  Keys
 * are big-endian so that a cursor positioned with MDB_SET_RANGE at
 * (id, 0, ...) walks one dataset's files, chunks or history in order and
 * stops at the first key whose id prefix differs (jr_walk).  Values are
 * small hand-written records: a leading u16 record version, then the
 * fields little-endian through wire_put_* / wire_get_*, strings as u32
 * length + bytes (jr_enc_* / jr_dec_*).  They are never raw structs, so
 * the layout does not depend on the compiler, and a decoder that does not
 * consume a value exactly reports SL_EJOURNAL rather than guessing.
 *
 * The files, by record family; each calls only the ones listed before it:
 *
 *   journal.c        the environment: open, schema and meta checks, close;
 *                    jr_walk, the one cursor loop over a dataset's records
 *   journal_codec.c  the value encoder / decoder every record uses
 *   journal_ds.c     dataset records: codec, load/store, get, find,
 *                    foreach, state names
 *   journal_state.c  state changes and their history, hook bookkeeping,
 *                    counters (one read-modify-write, ds_update)
 *   journal_files.c  file and chunk records: creating an agent dataset,
 *                    loading its files, acking and listing its chunks
 *   journal_sink.c   the sink's side: its dataset create (replay check),
 *                    held chunks, HAVE bitmaps, chunk hashes, forgetting
 *                    an expired partial copy
 *   journal_move.c   the agent's moves between destinations: rebinding a
 *                    dataset, the partial copies it left behind ("left")
 *
 * Internal functions shared between the files are jr_*, so that they are
 * not taken for the contract (journal_*) and cannot collide in the
 * archive; the small helpers below are static inline.
 */
#ifndef JOURNAL_INT_H
#define JOURNAL_INT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <lmdb.h>

#include "journal.h"

/* record versions (the u16 at the start of each value) */
#define REC_DS_V	1
#define REC_FILE_V	1
#define REC_CHUNK_V	1	/* agent: u8 state, u8 has_hash, u64 hash */
#define REC_SCHUNK_V	1	/* sink: u64 hash, u32 len */
#define REC_HIST_V	1

#define REC_CHUNK_LEN	12
#define REC_SCHUNK_LEN	14

/* No mutable state after open: see the threads paragraph in journal.h. */
struct journal {
	MDB_env		*env;
	MDB_dbi		 meta, datasets, files, chunks, history;
	MDB_dbi		 names;		/* sink, read-write only: see jr_name_key */
	MDB_dbi		 left;		/* agent: copies left behind (journal_move.c) */
	int		 has_left;	/* "left" opened (not in a read-only open) */
	MDB_dbi		 srcs;		/* agent, read-write only: journal_srcs.c */
	int		 has_srcs;
	int		 srcs_checked;	/* a journal from before it was indexed */
	int		 role;
	int		 rdonly;
	char		*path;
};

/* ---- small helpers ------------------------------------------------------ */

static inline int
map_rc(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return SL_OK;
	case MDB_NOTFOUND:
		return SL_ENOTFOUND;
	case MDB_KEYEXIST:
		return SL_EEXIST;
	case MDB_MAP_FULL:
		return SL_ENOSPC;
	case ENOMEM:
		return SL_ENOMEM;
	default:
		return SL_EJOURNAL;
	}
}

static inline uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Copy a C string into a fixed buffer, truncating. */
static inline void
strlcpy0(char *dst, const char *src, size_t dstlen)
{
	size_t n = strnlen(src, dstlen - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- txns --------------------------------------------------------------- */

static inline int
txn_begin(struct journal *j, int rdonly, MDB_txn **t)
{
	*t = NULL;
	return map_rc(mdb_txn_begin(j->env, NULL, rdonly ? MDB_RDONLY : 0, t));
}

static inline int
txn_commit(MDB_txn *t)
{
	return map_rc(mdb_txn_commit(t));
}

/* End write txn t (NULL: none was begun) at a function's one cleanup
 * label: commit when rc is SL_OK, abort otherwise.  Returns rc, or the
 * commit's error. */
static inline int
txn_end(MDB_txn *t, int rc)
{
	if (t == NULL)
		return rc;
	if (rc == SL_OK)
		return txn_commit(t);
	mdb_txn_abort(t);
	return rc;
}

/*
 * Walk records in key order, in txn t (NULL: a read txn of its own).
 * from != NULL: from that key while the key is keylen bytes and belongs to
 * dataset id (a dataset's files, chunks or history).  from == NULL: every
 * record of dbi, each key keylen bytes long or SL_EJOURNAL (the datasets).
 * fn returns SL_OK to go on, JR_STOP to end the walk with SL_OK, anything
 * else ends it with that code.
 */
#define JR_STOP	1
typedef int (*jr_walk_fn)(const MDB_val *k, const MDB_val *v, void *arg);
int	jr_walk(struct journal *j, MDB_txn *t, MDB_dbi dbi, const MDB_val *from,
	    size_t keylen, uint64_t id, jr_walk_fn fn, void *arg);

/* ---- big-endian keys ---------------------------------------------------- */

static inline void
be_put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static inline void
be_put64(uint8_t *p, uint64_t v)
{
	be_put32(p, (uint32_t)(v >> 32));
	be_put32(p + 4, (uint32_t)v);
}

static inline uint32_t
be_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
be_get64(const uint8_t *p)
{
	return (uint64_t)be_get32(p) << 32 | be_get32(p + 4);
}

#define KEY_DS_LEN	8
#define KEY_FILE_LEN	12
#define KEY_CHUNK_LEN	16
#define KEY_HIST_LEN	20

static inline MDB_val
key_ds(uint8_t k[KEY_DS_LEN], uint64_t id)
{
	be_put64(k, id);
	return (MDB_val){ KEY_DS_LEN, k };
}

static inline MDB_val
key_file(uint8_t k[KEY_FILE_LEN], uint64_t id, uint32_t file)
{
	be_put64(k, id);
	be_put32(k + 8, file);
	return (MDB_val){ KEY_FILE_LEN, k };
}

static inline MDB_val
key_chunk(uint8_t k[KEY_CHUNK_LEN], uint64_t id, uint32_t file, uint32_t chunk)
{
	be_put64(k, id);
	be_put32(k + 8, file);
	be_put32(k + 12, chunk);
	return (MDB_val){ KEY_CHUNK_LEN, k };
}

static inline MDB_val
key_hist(uint8_t k[KEY_HIST_LEN], uint64_t id, uint64_t t, uint32_t seq)
{
	be_put64(k, id);
	be_put64(k + 8, t);
	be_put32(k + 16, seq);
	return (MDB_val){ KEY_HIST_LEN, k };
}

/* A cursor key belongs to dataset id (and has the expected length). */
static inline int
key_is(const MDB_val *k, size_t len, uint64_t id)
{
	return k->mv_size == len && be_get64(k->mv_data) == id;
}

/* The fields after the id: file at 8, chunk at 12; history time at 8,
 * seq at 16.  The caller has checked the key's length. */
static inline uint32_t
key_get32(const MDB_val *k, size_t off)
{
	return be_get32((const uint8_t *)k->mv_data + off);
}

static inline uint64_t
key_get64(const MDB_val *k, size_t off)
{
	return be_get64((const uint8_t *)k->mv_data + off);
}

/* ---- value encoder / decoder (journal_codec.c) -------------------------- */

/* A growing buffer; the first failed allocation sets err and every later
 * call does nothing, so an encoder checks e->err once at the end. */
struct enc {
	uint8_t	*p;
	size_t	 len, alloc;
	int	 err;
};
void	jr_enc_u16(struct enc *e, uint16_t v);
void	jr_enc_u32(struct enc *e, uint32_t v);
void	jr_enc_u64(struct enc *e, uint64_t v);
/* A string from a fixed char array of size `size` (NUL within it). */
void	jr_enc_str(struct enc *e, const char *s, size_t size);
/* Put e's bytes under k in dbi, then free them: e->err, or the put's
 * error. */
int	jr_put(MDB_txn *t, MDB_dbi dbi, MDB_val *k, struct enc *e, unsigned flags);

/* A reader over one value; a short value or a bad string sets bad, and
 * every later read returns 0.  jr_dec_done: all read, exactly. */
struct dec {
	const uint8_t	*p;
	size_t		 len, off;
	int		 bad;
};
void	jr_dec_init(struct dec *d, const MDB_val *v);
uint8_t	jr_dec_u8(struct dec *d);
uint16_t jr_dec_u16(struct dec *d);
uint32_t jr_dec_u32(struct dec *d);
uint64_t jr_dec_u64(struct dec *d);
/* Copy a string into dst[size]; too long or containing NUL is bad. */
void	jr_dec_str(struct dec *d, char *dst, size_t size);
void	jr_dec_skip_str(struct dec *d);
int	jr_dec_done(const struct dec *d);

/* ---- dataset records (journal_ds.c) -------------------------------------- */

/* Load dataset id in t; d->meta allocated (caller ds_rec_free), d zeroed
 * on SL_ENOTFOUND. */
int	jr_ds_load(struct journal *j, MDB_txn *t, uint64_t id, struct ds_rec *d);
/* Store d in t with mdb_put flags (MDB_NOOVERWRITE: SL_EEXIST if taken). */
int	jr_ds_store(struct journal *j, MDB_txn *t, const struct ds_rec *d,
	    unsigned flags);

/* ---- history (journal_state.c) ------------------------------------------ */

/* Append a history record (from, to, reason) for id in t, keeping time
 * monotonic per dataset; the time used in *when. */
int	jr_hist_append(struct journal *j, MDB_txn *t, uint64_t id, int from, int to,
	    const char *reason, uint64_t *when);

/* ---- sink name reservations (journal_names.c) ---------------------------- */

/* The "names" key of a sink dataset: its directory relative to the root,
 * "<dest>/<name>" (dest: the agent's namespace) or "<name>" (flat). */
size_t	jr_name_key(const struct ds_rec *d, char *out, size_t outlen);
/* Drop d's reservation in t if it is d's (a reservation is never taken
 * from another dataset). */
int	jr_name_release(struct journal *j, MDB_txn *t, const struct ds_rec *d);

/* ---- file and chunk records (journal_files.c) ---------------------------- */

/* Check a new dataset's files and copy them into *fr (caller frees), with
 * idx, nchunks and first_chunk computed and the totals in *nchunks and
 * *bytes.  SL_EINVAL past a limit, SL_ENOMEM. */
int	jr_ds_files(const struct ds_rec *d, const struct file_rec *files,
	    uint32_t nfiles, struct file_rec **fr, uint64_t *nchunks,
	    uint64_t *bytes);
/* Store new dataset d with its files fr (from jr_ds_files) in t: state,
 * created and updated defaulted, nothing held yet; on the agent also one
 * pending chunk record per chunk.  SL_EEXIST if the id is taken. */
int	jr_ds_insert(struct journal *j, MDB_txn *t, const struct ds_rec *d,
	    const struct file_rec *fr, uint32_t nfiles, uint64_t nchunks,
	    uint64_t bytes);
/* jr_ds_insert whose files fr[0..from) are stored already (by earlier
 * txns, jr_files_insert): the record counts all nfiles, t stores the rest. */
int	jr_ds_insert_from(struct journal *j, MDB_txn *t, const struct ds_rec *d,
	    const struct file_rec *fr, uint32_t nfiles, uint32_t from,
	    uint64_t nchunks, uint64_t bytes);
/* Store files fr (from jr_ds_files) of dataset id in t and, on the agent,
 * one pending chunk record per chunk (jr_ds_insert's second half). */
int	jr_files_insert(struct journal *j, MDB_txn *t, uint64_t id,
	    const struct file_rec *fr, uint32_t nfiles);
/*
 * The files of a large new dataset, all but the last slice, each slice of
 * JR_FILES_PER_TXN in a write txn of its own, ahead of the txn that stores
 * the rest with the dataset's record.  Why: LMDB keeps a txn's dirty pages
 * in malloc'd memory and, once committed, on its own free list for the
 * life of the environment, so one txn of 100,000 records left the process
 * 14 MiB larger for good (and a million files, 140); and it held the one
 * write lock for up to 1.5 s.  Nothing reads file records without their
 * dataset's record, so a crash in between leaves only inert records.
 * Only for an id not journaled: a known one gets *done = 0 (nothing
 * written).  *done: how many files were stored.
 */
#define JR_FILES_PER_TXN	8192u
int	jr_files_ahead(struct journal *j, uint64_t id, const struct file_rec *fr,
	    uint32_t nfiles, uint32_t *done);
/* Best effort: drop the file (and agent chunk) records of id that
 * jr_files_ahead stored, whose dataset record could not be stored. */
void	jr_files_drop(struct journal *j, uint64_t id);
/* Delete every record of dbi whose key is keylen bytes and starts with id,
 * from the key at *from on. */
int	jr_del_prefix(MDB_txn *t, MDB_dbi dbi, const MDB_val *from, size_t keylen,
	    uint64_t id);
/* Index d (a new agent dataset) by its src in t (journal_srcs.c); SL_OK
 * and nothing done on the sink or in a read-only open. */
int	jr_src_put(struct journal *j, MDB_txn *t, const struct ds_rec *d);
/* Load the nfiles file records of id in t, in index order, as one block
 * (records, then their paths: one free()). */
int	jr_files_load(struct journal *j, MDB_txn *t, uint64_t id, uint32_t nfiles,
	    struct file_rec **out);
/* For a batch that names files one entry at a time: load file idx of d
 * into *f (path NULL) unless *have says it is there already.  An idx
 * past d->nfiles is SL_EINVAL; a file the dataset names but the journal
 * lacks, SL_EJOURNAL. */
int	jr_file_at(struct journal *j, MDB_txn *t, const struct ds_rec *d,
	    uint32_t idx, struct file_rec *f, int *have);
/* Agent: every acked chunk of id back to pending in t, its hash kept
 * (journal_ds_rebind). */
int	jr_chunks_unack(struct journal *j, MDB_txn *t, uint64_t id);
/* The sink's chunk record: what it holds durable. */
void	jr_schunk_encode(uint8_t out[REC_SCHUNK_LEN], uint64_t hash, uint32_t len);
int	jr_schunk_decode(const MDB_val *v, uint64_t *hash, uint32_t *len);

#endif
