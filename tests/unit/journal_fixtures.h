/*
 * journal_fixtures.h: what the journal's unit tests share (test_journal.c:
 * the agent's records; test_journal_open.c: opening, damaged and full
 * journals; test_journal_sink.c: the sink's records).  journal_fixtures.c
 * holds them.
 */
#ifndef JOURNAL_FIXTURES_H
#define JOURNAL_FIXTURES_H

#include <stdint.h>

#include <lmdb.h>

#include "journal.h"

#define CS	(64u * 1024)		/* chunk size used by the tests */

struct fx {
	char	dir[64];		/* mkdtemp */
	char	jpath[128];		/* dir/j */
	char	err[512];
};

struct hist_acc {
	int		n;
	struct hist_rec	h[8];
};

struct chunk_acc {
	int		n;
	uint32_t	file[8], chunk[8];
	int		st[8], hh[8];
	uint64_t	hash[8];
};

struct ids_acc {
	int		n;
	uint64_t	id[8];
	int		stop_after;
};

int setup(void **state);
int teardown(void **state);
struct journal *open_ok(struct fx *f, enum journal_role role, int flags);

/* A dataset "name" with three files: 2.5 chunks, empty, exactly 1 chunk. */
extern uint64_t fsizes[3];
extern const char *fpaths[3];
void make_ds(struct ds_rec *d, struct file_rec files[3], uint64_t id,
    const char *name);
/* The same dataset as the sink journals it, from "agent-1". */
void sink_ds(struct ds_rec *d, struct file_rec files[3], uint64_t id);

/* n files "d%03u/f%06u" of one chunk or empty (size 0 when i % 3 == 0,
 * else 100 + i), their paths in *paths (free both); the totals in
 * *bytes and *nchunks. */
void many_files(uint32_t n, struct file_rec **files, char **paths,
    uint64_t *bytes, uint64_t *nchunks);

/* The journal's LMDB environment opened raw, as an older build or damage
 * would leave it, with a write txn begun; raw_end commits and closes. */
MDB_txn *raw_begin(struct fx *f, MDB_env **env);
void raw_end(MDB_env *env, MDB_txn *t);

void hist_cb(const struct hist_rec *h, void *arg);
void chunk_cb(uint32_t file, uint32_t chunk, int st, uint64_t hash,
    int has_hash, void *arg);
int ids_cb(const struct ds_rec *d, void *arg);
void count_hist(const struct hist_rec *h, void *arg);

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

#endif
