/*
 * journal_fixtures.c: what the journal's unit tests share (journal_fixtures.h):
 * a fresh temporary directory per test, a known three-file dataset for
 * either role, and the accumulators the foreach callbacks fill.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "wire.h"
#include "journal_fixtures.h"

int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/sluice-tj-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->jpath, sizeof(f->jpath), "%s/j", f->dir);
	*state = f;
	return 0;
}

int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

struct journal *
open_ok(struct fx *f, enum journal_role role, int flags)
{
	struct journal *j = NULL;
	int rc;

	rc = journal_open(&j, f->jpath, role, flags, 0, f->err, sizeof(f->err));
	if (rc != SL_OK)
		print_error("journal_open: %d %s\n", rc, f->err);
	assert_int_equal(rc, SL_OK);
	assert_non_null(j);
	return j;
}

void
many_files(uint32_t n, struct file_rec **files, char **paths, uint64_t *bytes,
    uint64_t *nchunks)
{
	uint32_t i;

	*files = calloc(n, sizeof(**files));
	*paths = calloc(n, 16);
	assert_non_null(*files);
	assert_non_null(*paths);
	*bytes = 0;
	*nchunks = 0;
	for (i = 0; i < n; i++) {
		struct file_rec *fr = &(*files)[i];

		snprintf(*paths + (size_t)i * 16, 16, "d%03u/f%06u", i % 100, i);
		fr->path = *paths + (size_t)i * 16;
		fr->size = i % 3 == 0 ? 0 : 100 + i;
		fr->mode = 0644;
		*bytes += fr->size;
		*nchunks += wire_nchunks(fr->size, CS);
	}
}

MDB_txn *
raw_begin(struct fx *f, MDB_env **env)
{
	MDB_txn *t;

	assert_int_equal(mdb_env_create(env), 0);
	assert_int_equal(mdb_env_set_maxdbs(*env, 8), 0);
	assert_int_equal(mdb_env_open(*env, f->jpath, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(*env, NULL, 0, &t), 0);
	return t;
}

void
raw_end(MDB_env *env, MDB_txn *t)
{
	assert_int_equal(mdb_txn_commit(t), 0);
	mdb_env_close(env);
}

/* A dataset "name" with three files: 2.5 chunks, empty, exactly 1 chunk. */
uint64_t fsizes[3] = { 2 * CS + CS / 2, 0, CS };

const char *fpaths[3] = { "dir/file0", "dir/file1", "dir/file2" };

void
make_ds(struct ds_rec *d, struct file_rec files[3], uint64_t id,
    const char *name)
{
	uint32_t i;

	memset(d, 0, sizeof(*d));
	memset(files, 0, 3 * sizeof(*files));
	d->id = id;
	d->state = DS_QUEUED;
	d->created_ns = 1000;
	d->chunk_size = CS;
	d->nfiles = 3;
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->src, sizeof(d->src), "/data/%s", name);
	snprintf(d->dest, sizeof(d->dest), "site-b");
	for (i = 0; i < 3; i++) {
		files[i].size = fsizes[i];
		files[i].mtime_ns = 12345 + i;
		files[i].ino = 100 + i;
		files[i].dev = 7;
		files[i].mode = 0644;
		files[i].path = (char *)fpaths[i];
		d->bytes += fsizes[i];
		d->nchunks += wire_nchunks(fsizes[i], CS);
	}
}

void
sink_ds(struct ds_rec *d, struct file_rec files[3], uint64_t id)
{
	uint32_t i;
	uint64_t fc = 0;

	make_ds(d, files, id, "incoming");
	d->state = SDS_RECEIVING;
	snprintf(d->src, sizeof(d->src), "agent-1");
	d->dest[0] = '\0';
	for (i = 0; i < 3; i++) {
		files[i].nchunks = wire_nchunks(files[i].size, CS);
		files[i].first_chunk = fc;
		fc += files[i].nchunks;
	}
}

void
hist_cb(const struct hist_rec *h, void *arg)
{
	struct hist_acc *a = arg;

	if (a->n < 8)
		a->h[a->n] = *h;
	a->n++;
}

void
chunk_cb(uint32_t file, uint32_t chunk, int st, uint64_t hash, int has_hash,
    void *arg)
{
	struct chunk_acc *a = arg;

	if (a->n < 8) {
		a->file[a->n] = file;
		a->chunk[a->n] = chunk;
		a->st[a->n] = st;
		a->hash[a->n] = hash;
		a->hh[a->n] = has_hash;
	}
	a->n++;
}

int
ids_cb(const struct ds_rec *d, void *arg)
{
	struct ids_acc *a = arg;

	if (a->n < 8)
		a->id[a->n] = d->id;
	a->n++;
	return a->stop_after && a->n >= a->stop_after;
}

void
count_hist(const struct hist_rec *h, void *arg)
{
	(void)h;
	(*(int *)arg)++;
}
