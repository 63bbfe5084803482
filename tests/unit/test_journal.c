// links: agent/libstore.a agent/libbase.a tests/unit/journal_fixtures.o
/*
 * test_journal.c: the LMDB journal (agent/store/journal*.c), the agent's records: datasets,
 * history, chunks, lookups, reopening, a reader beside the writer, rebinding
 * and lanes, each in a fresh temporary directory (journal_fixtures.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>
#include <malloc.h>

#include "journal.h"
#include "wire.h"
#include "journal_fixtures.h"

static void
test_create_get(void **state)
{
	struct fx *f = *state;
	struct journal *j = open_ok(f, JOURNAL_AGENT, 0);
	struct ds_rec d, g;
	struct file_rec files[3], *fl = NULL;
	uint32_t nf = 0, i;

	make_ds(&d, files, 0x1122334455667788ull, "alpha");
	d.nmeta = 2;
	d.meta = calloc(2, sizeof(*d.meta));
	assert_non_null(d.meta);
	strcpy(d.meta[0][0], "owner");
	strcpy(d.meta[0][1], "lab 3");
	strcpy(d.meta[1][0], "empty");
	strcpy(d.meta[1][1], "");
	assert_int_equal(journal_ds_create(j, &d, files, 3), SL_OK);
	assert_int_equal(journal_ds_create(j, &d, files, 3), SL_EEXIST);
	ds_rec_free(&d);

	assert_int_equal(journal_ds_get(j, 0x1122334455667788ull, &g), SL_OK);
	assert_int_equal(g.state, DS_QUEUED);
	assert_string_equal(g.name, "alpha");
	assert_string_equal(g.src, "/data/alpha");
	assert_string_equal(g.dest, "site-b");
	assert_int_equal(g.created_ns, 1000);
	assert_int_equal(g.chunk_size, CS);
	assert_int_equal(g.nfiles, 3);
	assert_int_equal(g.nchunks, 4);
	assert_int_equal(g.bytes, 3 * CS + CS / 2);
	assert_int_equal(g.chunks_acked, 0);
	assert_int_equal(g.completed_ns, 0);
	assert_int_equal(g.nmeta, 2);
	assert_string_equal(g.meta[0][0], "owner");
	assert_string_equal(g.meta[0][1], "lab 3");
	assert_string_equal(g.meta[1][0], "empty");
	assert_string_equal(g.meta[1][1], "");
	ds_rec_free(&g);
	assert_null(g.meta);

	assert_int_equal(journal_ds_get(j, 42, &g), SL_ENOTFOUND);

	assert_int_equal(journal_files_load(j, 0x1122334455667788ull, &fl, &nf),
	    SL_OK);
	assert_int_equal(nf, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(fl[i].idx, i);
		assert_int_equal(fl[i].size, fsizes[i]);
		assert_int_equal(fl[i].mtime_ns, 12345 + i);
		assert_int_equal(fl[i].ino, 100 + i);
		assert_int_equal(fl[i].dev, 7);
		assert_int_equal(fl[i].mode, 0644);
		assert_string_equal(fl[i].path, files[i].path);
	}
	assert_int_equal(fl[0].nchunks, 3);
	assert_int_equal(fl[1].nchunks, 0);
	assert_int_equal(fl[2].nchunks, 1);
	assert_int_equal(fl[0].first_chunk, 0);
	assert_int_equal(fl[1].first_chunk, 3);
	assert_int_equal(fl[2].first_chunk, 3);
	free(fl);

	/* nchunks / bytes that disagree with the files */
	make_ds(&d, files, 2, "beta");
	d.bytes++;
	assert_int_equal(journal_ds_create(j, &d, files, 3), SL_EINVAL);
	assert_int_equal(journal_ds_get(j, 2, &g), SL_ENOTFOUND);
	journal_close(j);
}

static void
test_states_history(void **state)
{
	struct fx *f = *state;
	struct journal *j = open_ok(f, JOURNAL_AGENT, 0);
	struct ds_rec d, g;
	struct file_rec files[3];
	struct hist_acc a = { 0 };
	int i;

	make_ds(&d, files, 5, "hist");
	assert_int_equal(journal_ds_create(j, &d, files, 3), SL_OK);
	assert_int_equal(journal_ds_set_state(j, 5, DS_TRANSFERRING, NULL, NULL),
	    SL_OK);
	assert_int_equal(journal_ds_set_state(j, 5, DS_QUEUED,
	    "connect site-b: Connection refused", NULL), SL_OK);
	assert_int_equal(journal_ds_get(j, 5, &g), SL_OK);
	assert_string_equal(g.error, "connect site-b: Connection refused");
	assert_int_equal(g.completed_ns, 0);
	ds_rec_free(&g);
	/* many changes in a row: time may be equal, order must hold */
	assert_int_equal(journal_ds_set_state(j, 5, DS_TRANSFERRING, NULL, NULL),
	    SL_OK);
	assert_int_equal(journal_ds_set_state(j, 5, DS_COMMITTING, NULL, NULL),
	    SL_OK);
	assert_int_equal(journal_ds_set_state(j, 5, DS_TRANSFERRED, NULL,
	    "in/hist"), SL_OK);
	assert_int_equal(journal_ds_set_state(j, 5, 99, NULL, NULL), SL_EINVAL);
	assert_int_equal(journal_ds_set_state(j, 6, DS_FAILED, "x", NULL),
	    SL_ENOTFOUND);

	assert_int_equal(journal_ds_get(j, 5, &g), SL_OK);
	assert_int_equal(g.state, DS_TRANSFERRED);
	assert_string_equal(g.error, "");
	assert_string_equal(g.published, "in/hist");
	assert_true(g.completed_ns > 0);
	assert_int_equal(g.updated_ns, g.completed_ns);
	ds_rec_free(&g);

	assert_int_equal(journal_history_foreach(j, 5, hist_cb, &a), SL_OK);
	assert_int_equal(a.n, 5);
	assert_int_equal(a.h[0].from, DS_QUEUED);
	assert_int_equal(a.h[0].to, DS_TRANSFERRING);
	assert_int_equal(a.h[1].to, DS_QUEUED);
	assert_string_equal(a.h[1].reason, "connect site-b: Connection refused");
	assert_int_equal(a.h[2].to, DS_TRANSFERRING);
	assert_int_equal(a.h[3].to, DS_COMMITTING);
	assert_int_equal(a.h[4].from, DS_COMMITTING);
	assert_int_equal(a.h[4].to, DS_TRANSFERRED);
	assert_string_equal(a.h[0].reason, "");
	for (i = 1; i < 5; i++)
		assert_true(a.h[i].time_ns >= a.h[i - 1].time_ns);

	/* counters */
	assert_int_equal(journal_ds_count(j, 5, 10, 2, 1), SL_OK);
	assert_int_equal(journal_ds_count(j, 5, 1, 0, 0), SL_OK);
	assert_int_equal(journal_ds_get(j, 5, &g), SL_OK);
	assert_int_equal(g.chunks_sent, 11);
	assert_int_equal(g.chunks_resent, 2);
	assert_int_equal(g.chunks_nacked, 1);
	ds_rec_free(&g);
	assert_int_equal(journal_ds_count(j, 77, 1, 0, 0), SL_ENOTFOUND);

	/* failure keeps its reason */
	assert_int_equal(journal_ds_set_state(j, 5, DS_FAILED, "source changed",
	    NULL), SL_OK);
	assert_int_equal(journal_ds_get(j, 5, &g), SL_OK);
	assert_string_equal(g.error, "source changed");
	ds_rec_free(&g);
	journal_close(j);
}

static void
test_chunks_ack(void **state)
{
	struct fx *f = *state;
	struct journal *j = open_ok(f, JOURNAL_AGENT, 0);
	struct ds_rec d, g;
	struct file_rec files[3];
	struct chunk_acc a = { 0 };
	struct chunk_ref r[3] = {
		{ .file = 0, .chunk = 2, .hash = 0xabc, .has_hash = 1 },  /* partial */
		{ .file = 2, .chunk = 0, .hash = 0, .has_hash = 0 },
		{ .file = 0, .chunk = 0, .hash = 0xdef, .has_hash = 1 },
	};
	struct chunk_ref bad = { .file = 0, .chunk = 3 };
	struct chunk_ref badf = { .file = 9, .chunk = 0 };
	struct chunk_ref mixed[2] = { { .file = 0, .chunk = 1 }, { .file = 1 } };

	make_ds(&d, files, 9, "acks");
	assert_int_equal(journal_ds_create(j, &d, files, 3), SL_OK);
	/* a neighbour dataset, so that prefix walks must stop */
	make_ds(&d, files, 10, "next");
	assert_int_equal(journal_ds_create(j, &d, files, 3), SL_OK);

	assert_int_equal(journal_chunks_foreach(j, 9, chunk_cb, &a), SL_OK);
	assert_int_equal(a.n, 4);
	assert_int_equal(a.file[0], 0);
	assert_int_equal(a.chunk[0], 0);
	assert_int_equal(a.chunk[2], 2);
	assert_int_equal(a.file[3], 2);
	assert_int_equal(a.chunk[3], 0);
	assert_int_equal(a.st[0], CHUNK_PENDING);
	assert_int_equal(a.hh[0], 0);

	assert_int_equal(journal_chunks_ack(j, 9, r, 2), SL_OK);
	assert_int_equal(journal_ds_get(j, 9, &g), SL_OK);
	assert_int_equal(g.chunks_acked, 2);
	assert_int_equal(g.bytes_acked, CS / 2 + CS);
	ds_rec_free(&g);

	/* repeat is idempotent; a third chunk counts once */
	assert_int_equal(journal_chunks_ack(j, 9, r, 3), SL_OK);
	assert_int_equal(journal_chunks_ack(j, 9, r, 3), SL_OK);
	assert_int_equal(journal_ds_get(j, 9, &g), SL_OK);
	assert_int_equal(g.chunks_acked, 3);
	assert_int_equal(g.bytes_acked, CS / 2 + 2 * CS);
	ds_rec_free(&g);

	/* unknown chunk / file: nothing written, even the valid part */
	assert_int_equal(journal_chunks_ack(j, 9, &bad, 1), SL_EINVAL);
	assert_int_equal(journal_chunks_ack(j, 9, &badf, 1), SL_EINVAL);
	assert_int_equal(journal_chunks_ack(j, 9, mixed, 2), SL_EINVAL);
	assert_int_equal(journal_chunks_ack(j, 99, r, 1), SL_ENOTFOUND);
	assert_int_equal(journal_ds_get(j, 9, &g), SL_OK);
	assert_int_equal(g.chunks_acked, 3);
	ds_rec_free(&g);

	memset(&a, 0, sizeof(a));
	assert_int_equal(journal_chunks_foreach(j, 9, chunk_cb, &a), SL_OK);
	assert_int_equal(a.n, 4);
	assert_int_equal(a.st[0], CHUNK_ACKED);
	assert_int_equal(a.hh[0], 1);
	assert_int_equal(a.hash[0], 0xdef);
	assert_int_equal(a.st[1], CHUNK_PENDING);
	assert_int_equal(a.st[2], CHUNK_ACKED);
	assert_int_equal(a.hash[2], 0xabc);
	assert_int_equal(a.st[3], CHUNK_ACKED);
	assert_int_equal(a.hh[3], 0);

	/* the neighbour is untouched */
	assert_int_equal(journal_ds_get(j, 10, &g), SL_OK);
	assert_int_equal(g.chunks_acked, 0);
	ds_rec_free(&g);
	journal_close(j);
}

static void
test_foreach_find(void **state)
{
	struct fx *f = *state;
	struct journal *j = open_ok(f, JOURNAL_AGENT, 0);
	struct ds_rec d, g;
	struct file_rec files[3];
	struct ids_acc a = { 0 };
	/* out of order, and one above 2^63 to check unsigned BE ordering */
	uint64_t ids[4] = { 0x300, 0x8000000000000001ull, 0x2, 0x10000 };
	const char *names[4] = { "c", "d", "a", "b" };
	int i;

	for (i = 0; i < 4; i++) {
		make_ds(&d, files, ids[i], names[i]);
		assert_int_equal(journal_ds_create(j, &d, files, 3), SL_OK);
	}
	/* a duplicate name: first in id order wins */
	make_ds(&d, files, 0x400, "a");
	assert_int_equal(journal_ds_create(j, &d, files, 3), SL_OK);

	assert_int_equal(journal_ds_foreach(j, ids_cb, &a), SL_OK);
	assert_int_equal(a.n, 5);
	assert_int_equal(a.id[0], 0x2);
	assert_int_equal(a.id[1], 0x300);
	assert_int_equal(a.id[2], 0x400);
	assert_int_equal(a.id[3], 0x10000);
	assert_int_equal(a.id[4], 0x8000000000000001ull);

	memset(&a, 0, sizeof(a));
	a.stop_after = 2;
	assert_int_equal(journal_ds_foreach(j, ids_cb, &a), SL_OK);
	assert_int_equal(a.n, 2);

	assert_int_equal(journal_ds_find(j, "b", &g), SL_OK);
	assert_int_equal(g.id, 0x10000);
	ds_rec_free(&g);
	assert_int_equal(journal_ds_find(j, "a", &g), SL_OK);
	assert_int_equal(g.id, 0x2);
	ds_rec_free(&g);
	assert_int_equal(journal_ds_find(j, "8000000000000001", &g), SL_OK);
	assert_string_equal(g.name, "d");
	ds_rec_free(&g);
	assert_int_equal(journal_ds_find(j, "000000000001000A", &g), SL_ENOTFOUND);
	assert_int_equal(journal_ds_find(j, "0000000000010000", &g), SL_OK);
	assert_string_equal(g.name, "b");
	ds_rec_free(&g);
	assert_int_equal(journal_ds_find(j, "nosuch", &g), SL_ENOTFOUND);

	/* rename (retry --name): found by the new name, history says so */
	assert_int_equal(journal_ds_rename(j, 0x10000, "b2"), SL_OK);
	assert_int_equal(journal_ds_find(j, "b2", &g), SL_OK);
	assert_int_equal(g.id, 0x10000);
	ds_rec_free(&g);
	assert_int_equal(journal_ds_find(j, "b", &g), SL_ENOTFOUND);
	assert_int_equal(journal_ds_rename(j, 0x10000, ""), SL_EINVAL);
	assert_int_equal(journal_ds_rename(j, 0x999, "x"), SL_ENOTFOUND);
	journal_close(j);
}

static void
test_reopen(void **state)
{
	struct fx *f = *state;
	struct journal *j = open_ok(f, JOURNAL_AGENT, 0);
	struct ds_rec d, g;
	struct file_rec files[3], *fl = NULL;
	struct chunk_ref r = { .file = 0, .chunk = 1, .hash = 77, .has_hash = 1 };
	struct hist_acc a = { 0 };
	struct chunk_acc c = { 0 };
	uint32_t nf;

	make_ds(&d, files, 0xabcdef, "persist");
	assert_int_equal(journal_ds_create(j, &d, files, 3), SL_OK);
	assert_int_equal(journal_chunks_ack(j, 0xabcdef, &r, 1), SL_OK);
	assert_int_equal(journal_ds_set_state(j, 0xabcdef, DS_FAILED, "boom",
	    NULL), SL_OK);
	assert_string_equal(journal_path(j), f->jpath);
	journal_close(j);

	j = open_ok(f, JOURNAL_AGENT, 0);
	assert_int_equal(journal_ds_get(j, 0xabcdef, &g), SL_OK);
	assert_string_equal(g.name, "persist");
	assert_int_equal(g.state, DS_FAILED);
	assert_string_equal(g.error, "boom");
	assert_int_equal(g.chunks_acked, 1);
	assert_int_equal(g.bytes_acked, CS);
	ds_rec_free(&g);
	assert_int_equal(journal_files_load(j, 0xabcdef, &fl, &nf), SL_OK);
	assert_int_equal(nf, 3);
	assert_string_equal(fl[2].path, "dir/file2");
	free(fl);
	assert_int_equal(journal_history_foreach(j, 0xabcdef, hist_cb, &a), SL_OK);
	assert_int_equal(a.n, 1);
	assert_int_equal(journal_chunks_foreach(j, 0xabcdef, chunk_cb, &c), SL_OK);
	assert_int_equal(c.n, 4);
	assert_int_equal(c.st[1], CHUNK_ACKED);
	assert_int_equal(c.hash[1], 77);
	journal_close(j);

	/* and read-only */
	j = open_ok(f, JOURNAL_AGENT, JOURNAL_RDONLY);
	assert_int_equal(journal_ds_get(j, 0xabcdef, &g), SL_OK);
	assert_string_equal(g.error, "boom");
	ds_rec_free(&g);
	assert_int_not_equal(journal_ds_set_state(j, 0xabcdef, DS_QUEUED, NULL,
	    NULL), SL_OK);
	journal_close(j);
}

/* The reader runs in another process, as the CLI does: LMDB forbids
 * opening one environment twice in a process (closing the second handle
 * would drop the first one's fcntl locks), and an LMDB handle must not
 * cross fork(), so the child execs this binary again in reader mode. */
static const char *self_path;	/* argv[0] */

static int
reader_main(const char *path, int rfd, int wfd)
{
	struct journal *c = NULL;
	struct ds_rec cg;
	struct ids_acc a = { 0 };
	char ch;
	int ok;

	ok = journal_open(&c, path, JOURNAL_AGENT, JOURNAL_RDONLY, 0, NULL,
	    0) == SL_OK && journal_ds_get(c, 1, &cg) == SL_OK;
	if (ok)
		ds_rec_free(&cg);
	if (write(wfd, "x", 1) != 1 || read(rfd, &ch, 1) != 1)
		ok = 0;
	/* the writer committed meanwhile: the reader sees it */
	ok = ok && journal_ds_foreach(c, ids_cb, &a) == SL_OK && a.n == 2 &&
	    journal_ds_find(c, "two", &cg) == SL_OK && cg.id == 2;
	if (ok)
		ds_rec_free(&cg);
	journal_close(c);
	return ok ? 0 : 1;
}

static void
test_rdonly_while_writer(void **state)
{
	struct fx *f = *state;
	struct journal *w = open_ok(f, JOURNAL_AGENT, 0);
	struct ds_rec d;
	struct file_rec files[3];
	int tochild[2], toparent[2], status;
	char ch = 0, rfd[16], wfd[16];
	pid_t pid;

	make_ds(&d, files, 1, "one");
	assert_int_equal(journal_ds_create(w, &d, files, 3), SL_OK);
	assert_int_equal(pipe(tochild), 0);
	assert_int_equal(pipe(toparent), 0);
	snprintf(rfd, sizeof(rfd), "%d", tochild[0]);
	snprintf(wfd, sizeof(wfd), "%d", toparent[1]);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(self_path, self_path, "--reader", f->jpath,
		    rfd, wfd, (char *)NULL);
		_exit(127);
	}
	close(toparent[1]);	/* so that a dead child reads as EOF */
	close(tochild[0]);
	assert_int_equal(read(toparent[0], &ch, 1), 1);
	make_ds(&d, files, 2, "two");
	assert_int_equal(journal_ds_create(w, &d, files, 3), SL_OK);
	assert_int_equal(write(tochild[1], "x", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(tochild[1]);
	close(toparent[0]);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	journal_close(w);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(ds_state_name(DS_QUEUED), "queued");
	assert_string_equal(ds_state_name(DS_TRANSFERRING), "transferring");
	assert_string_equal(ds_state_name(DS_COMMITTING), "committing");
	assert_string_equal(ds_state_name(DS_TRANSFERRED), "transferred");
	assert_string_equal(ds_state_name(DS_FAILED), "failed");
	assert_string_equal(ds_state_name(0), "unknown");
	assert_string_equal(sds_state_name(SDS_RECEIVING), "receiving");
	assert_string_equal(sds_state_name(SDS_PUBLISHED), "published");
	assert_string_equal(sds_state_name(SDS_FAILED), "failed");
	assert_string_equal(sds_state_name(9), "unknown");
}

/* A move (journal_ds_rebind): what the old destination acked is pending
 * again, hashes kept; the old one is remembered as holding a copy until
 * the dataset comes back there or the entry is released. */
struct left_seen {
	uint64_t	id[8];
	char		dest[8][64];
	int		n;
};

static int
left_fn(uint64_t id, const char *dest, void *arg)
{
	struct left_seen *l = arg;

	if (l->n < 8) {
		l->id[l->n] = id;
		snprintf(l->dest[l->n], sizeof(l->dest[0]), "%s", dest);
		l->n++;
	}
	return 0;
}

struct cstate {
	int	acked, hashed;
	uint64_t hash0;
};

static void
cstate_fn(uint32_t file, uint32_t chunk, int state, uint64_t hash, int has_hash,
    void *arg)
{
	struct cstate *c = arg;

	c->acked += state == CHUNK_ACKED;
	c->hashed += has_hash;
	if (file == 0 && chunk == 0)
		c->hash0 = hash;
}

static void
test_rebind(void **state)
{
	struct fx *f = *state;
	struct journal *j = open_ok(f, JOURNAL_AGENT, 0);
	struct ds_rec d, g;
	struct file_rec files[3];
	struct chunk_ref refs[2] = { { 0, 0, 0xabcdef, 1 }, { 0, 1, 0x1234, 1 } };
	struct left_seen l;
	struct cstate c;
	int nhist = 0;

	make_ds(&d, files, 42, "mover");	/* bound to site-b */
	assert_int_equal(journal_ds_create(j, &d, files, 3), SL_OK);
	ds_rec_free(&d);
	assert_int_equal(journal_chunks_ack(j, 42, refs, 2), SL_OK);
	/* the same destination: nothing changes */
	assert_int_equal(journal_ds_rebind(j, 42, "not a move", "site-b"), SL_OK);
	memset(&c, 0, sizeof(c));
	assert_int_equal(journal_chunks_foreach(j, 42, cstate_fn, &c), SL_OK);
	assert_int_equal(c.acked, 2);
	/* a move to site-c: acks gone, hashes kept, site-b left behind */
	assert_int_equal(journal_ds_rebind(j, 42, "moved from site-b to site-c",
	    "site-c"), SL_OK);
	memset(&c, 0, sizeof(c));
	assert_int_equal(journal_chunks_foreach(j, 42, cstate_fn, &c), SL_OK);
	assert_int_equal(c.acked, 0);
	assert_int_equal(c.hashed, 2);
	assert_true(c.hash0 == 0xabcdef);
	assert_int_equal(journal_ds_get(j, 42, &g), SL_OK);
	assert_string_equal(g.dest, "site-c");
	assert_true(g.chunks_acked == 0 && g.bytes_acked == 0);
	ds_rec_free(&g);
	memset(&l, 0, sizeof(l));
	assert_int_equal(journal_left_foreach(j, left_fn, &l), SL_OK);
	assert_int_equal(l.n, 1);
	assert_true(l.id[0] == 42);
	assert_string_equal(l.dest[0], "site-b");
	/* acked at site-c, then back to site-b: site-c left, site-b not */
	assert_int_equal(journal_chunks_ack(j, 42, refs, 1), SL_OK);
	assert_int_equal(journal_ds_rebind(j, 42, "moved back", "site-b"), SL_OK);
	memset(&c, 0, sizeof(c));
	assert_int_equal(journal_chunks_foreach(j, 42, cstate_fn, &c), SL_OK);
	assert_int_equal(c.acked, 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(journal_left_foreach(j, left_fn, &l), SL_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.dest[0], "site-c");
	assert_int_equal(journal_left_del(j, 42, "site-c"), SL_OK);
	assert_int_equal(journal_left_del(j, 42, "site-c"), SL_OK);	/* absent: fine */
	memset(&l, 0, sizeof(l));
	assert_int_equal(journal_left_foreach(j, left_fn, &l), SL_OK);
	assert_int_equal(l.n, 0);
	/* both moves are in the history */
	assert_int_equal(journal_history_foreach(j, 42, count_hist, &nhist), SL_OK);
	assert_int_equal(nhist, 2);
	assert_int_equal(journal_ds_rebind(j, 43, NULL, "x"), SL_ENOTFOUND);
	assert_int_equal(journal_ds_rebind(j, 42, NULL, ""), SL_EINVAL);
	journal_close(j);
	/* a reader sees no "left" and may not rebind */
	j = open_ok(f, JOURNAL_AGENT, JOURNAL_RDONLY);
	memset(&l, 0, sizeof(l));
	assert_int_equal(journal_left_foreach(j, left_fn, &l), SL_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(journal_ds_rebind(j, 42, NULL, "site-c"), SL_EINVAL);
	journal_close(j);
}

/* The lane (issue 19) is appended to the dataset record: it survives
 * state changes, and a record written before lanes (no trailing field)
 * reads as LANE_AUTO with every other field intact; a lane from a later
 * version reads as auto too. */
static void
test_lane(void **state)
{
	struct fx *f = *state;
	struct journal *j = open_ok(f, JOURNAL_AGENT, 0);
	struct ds_rec d, g;
	struct file_rec files[3];
	MDB_env *env;
	MDB_txn *t;
	MDB_dbi dbi;
	uint8_t kb[8], *nv;
	MDB_val k = { 8, kb }, v;

	make_ds(&d, files, 0x55aa, "laned");
	d.lane = LANE_BACKLOG;
	assert_int_equal(journal_ds_create(j, &d, files, 3), SL_OK);
	assert_int_equal(journal_ds_set_state(j, d.id, DS_TRANSFERRING, NULL, NULL), SL_OK);
	memset(&g, 0, sizeof(g));
	assert_int_equal(journal_ds_get(j, d.id, &g), SL_OK);
	assert_int_equal(g.lane, LANE_BACKLOG);
	assert_int_equal(g.state, DS_TRANSFERRING);
	ds_rec_free(&g);
	assert_string_equal(ds_lane_name(LANE_LIVE), "live");
	assert_string_equal(ds_lane_name(LANE_AUTO), "auto");
	journal_close(j);

	/* rewrite the record as an older build wrote it: without the lane */
	t = raw_begin(f, &env);
	assert_int_equal(mdb_dbi_open(t, "datasets", 0, &dbi), 0);
	wire_put_u64(kb, 0);
	{	/* keys are big-endian */
		uint64_t id = d.id;
		int i;
		for (i = 7; i >= 0; i--, id >>= 8)
			kb[i] = (uint8_t)id;
	}
	assert_int_equal(mdb_get(t, dbi, &k, &v), 0);
	assert_true(v.mv_size > 4);
	nv = malloc(v.mv_size);
	assert_non_null(nv);
	memcpy(nv, v.mv_data, v.mv_size);
	assert_int_equal(wire_get_u32(nv + v.mv_size - 4), LANE_BACKLOG);
	v.mv_data = nv;
	v.mv_size -= 4;
	assert_int_equal(mdb_put(t, dbi, &k, &v, 0), 0);
	raw_end(env, t);
	j = open_ok(f, JOURNAL_AGENT, 0);
	memset(&g, 0, sizeof(g));
	assert_int_equal(journal_ds_get(j, d.id, &g), SL_OK);
	assert_int_equal(g.lane, LANE_AUTO);
	assert_string_equal(g.name, "laned");
	assert_int_equal(g.state, DS_TRANSFERRING);
	assert_int_equal(g.bytes, d.bytes);
	ds_rec_free(&g);
	/* a later state change writes the lane again (auto now) */
	assert_int_equal(journal_ds_set_state(j, d.id, DS_COMMITTING, NULL, NULL), SL_OK);
	memset(&g, 0, sizeof(g));
	assert_int_equal(journal_ds_get(j, d.id, &g), SL_OK);
	assert_int_equal(g.lane, LANE_AUTO);
	ds_rec_free(&g);
	journal_close(j);

	/* a lane number from a later version: auto */
	t = raw_begin(f, &env);
	assert_int_equal(mdb_dbi_open(t, "datasets", 0, &dbi), 0);
	assert_int_equal(mdb_get(t, dbi, &k, &v), 0);
	memcpy(nv, v.mv_data, v.mv_size);
	wire_put_u32(nv + v.mv_size - 4, 77);
	v.mv_data = nv;
	assert_int_equal(mdb_put(t, dbi, &k, &v, 0), 0);
	raw_end(env, t);
	free(nv);
	j = open_ok(f, JOURNAL_AGENT, 0);
	memset(&g, 0, sizeof(g));
	assert_int_equal(journal_ds_get(j, d.id, &g), SL_OK);
	assert_int_equal(g.lane, LANE_AUTO);
	ds_rec_free(&g);
	journal_close(j);
}

static void
count_cb(uint32_t file, uint32_t chunk, int st, uint64_t hash, int has_hash,
    void *arg)
{
	(void)file; (void)chunk; (void)hash; (void)has_hash;
	assert_int_equal(st, CHUNK_PENDING);
	(*(uint64_t *)arg)++;
}

/* A dataset of many files: stored in slices ahead of its record
 * (jr_files_ahead), loaded back whole, every chunk record present, and the
 * memory LMDB keeps after the create bounded by one slice, not by the
 * dataset (one txn of 50,000 records kept about 7 MiB for good). */
static void
test_many_files(void **state)
{
	struct fx *f = *state;
	struct journal *j = open_ok(f, JOURNAL_AGENT, 0);
	enum { N = 50000 };
	struct ds_rec d, g;
	struct file_rec files[3], *many, *fl = NULL;
	char *paths;
	uint32_t nf = 0, i;
	uint64_t n = 0;
	struct mallinfo2 m0, m1;

	make_ds(&d, files, 0x5151, "many");
	many_files(N, &many, &paths, &d.bytes, &d.nchunks);
	d.nfiles = N;
	m0 = mallinfo2();
	assert_int_equal(journal_ds_create(j, &d, many, N), SL_OK);
	m1 = mallinfo2();
	assert_true(m1.uordblks < m0.uordblks + 3 * 1024 * 1024);

	/* the id is taken: refused, and its records are untouched */
	many[N - 1].size = 7;
	d.bytes += 7 - (100 + N - 1);
	assert_int_equal(journal_ds_create(j, &d, many, N), SL_EEXIST);
	assert_int_equal(journal_files_load(j, d.id, &fl, &nf), SL_OK);
	assert_int_equal(nf, N);
	for (i = 0; i < N; i++) {
		assert_int_equal(fl[i].idx, i);
		assert_string_equal(fl[i].path, paths + 16 * i);
	}
	assert_int_equal(fl[N - 1].size, 100 + N - 1);
	free(fl);
	assert_int_equal(journal_ds_get(j, d.id, &g), SL_OK);
	assert_int_equal(g.nfiles, N);
	assert_int_equal(journal_chunks_foreach(j, d.id, count_cb, &n), SL_OK);
	assert_int_equal(n, g.nchunks);
	ds_rec_free(&g);
	free(many);
	free(paths);
	journal_close(j);
}

/* The index by source directory (journal_srcs.c): found by exact src,
 * also a path longer than an LMDB key, not found for another; a journal
 * from before the index (its "srcs" dropped) is indexed by the first
 * lookup; the sink has none. */
static void
test_src_index(void **state)
{
	struct fx *f = *state;
	struct journal *j = open_ok(f, JOURNAL_AGENT, 0);
	struct ds_rec d;
	struct file_rec files[3];
	MDB_env *env;
	MDB_txn *t;
	MDB_dbi dbi;
	uint64_t id = 0;
	char longsrc[3000];

	make_ds(&d, files, 0x1001, "alpha");
	assert_int_equal(journal_ds_create(j, &d, files, 3), SL_OK);
	make_ds(&d, files, 0x1002, "beta");
	memset(longsrc, 'x', sizeof(longsrc) - 1);
	longsrc[0] = '/';
	longsrc[sizeof(longsrc) - 1] = '\0';
	snprintf(d.src, sizeof(d.src), "%s", longsrc);
	assert_int_equal(journal_ds_create(j, &d, files, 3), SL_OK);
	make_ds(&d, files, 0x1003, "gamma");
	assert_int_equal(journal_ds_create_failed(j, &d, "unreadable"), SL_OK);

	assert_int_equal(journal_src_find(j, "/data/alpha", &id), SL_OK);
	assert_int_equal(id, 0x1001);
	assert_int_equal(journal_src_find(j, longsrc, &id), SL_OK);
	assert_int_equal(id, 0x1002);
	assert_int_equal(journal_src_find(j, "/data/gamma", &id), SL_OK);
	assert_int_equal(id, 0x1003);
	assert_int_equal(journal_src_find(j, "/data/alph", &id), SL_ENOTFOUND);
	assert_int_equal(journal_src_find(j, "/data/alpha/", &id), SL_ENOTFOUND);
	journal_close(j);

	/* as an older build left it: no index */
	t = raw_begin(f, &env);
	assert_int_equal(mdb_dbi_open(t, "srcs", 0, &dbi), 0);
	assert_int_equal(mdb_drop(t, dbi, 1), 0);
	raw_end(env, t);
	j = open_ok(f, JOURNAL_AGENT, 0);
	assert_int_equal(journal_src_find(j, "/data/gamma", &id), SL_OK);
	assert_int_equal(id, 0x1003);
	assert_int_equal(journal_src_find(j, longsrc, &id), SL_OK);
	assert_int_equal(id, 0x1002);
	assert_int_equal(journal_src_find(j, "/data/nope", &id), SL_ENOTFOUND);
	make_ds(&d, files, 0x1004, "delta");
	assert_int_equal(journal_ds_create(j, &d, files, 3), SL_OK);
	assert_int_equal(journal_src_find(j, "/data/delta", &id), SL_OK);
	assert_int_equal(id, 0x1004);
	journal_close(j);

	j = open_ok(f, JOURNAL_AGENT, JOURNAL_RDONLY);
	assert_int_equal(journal_src_find(j, "/data/delta", &id), SL_EINVAL);
	journal_close(j);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		T(test_create_get),
		T(test_states_history),
		T(test_chunks_ack),
		T(test_foreach_find),
		T(test_reopen),
		T(test_rdonly_while_writer),
		T(test_names),
		T(test_rebind),
		T(test_lane),
		T(test_many_files),
		T(test_src_index),
	};

	self_path = argv[0];
	if (argc == 5 && strcmp(argv[1], "--reader") == 0)
		return reader_main(argv[2], atoi(argv[3]), atoi(argv[4]));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
