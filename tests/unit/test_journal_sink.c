// links: agent/libstore.a agent/libbase.a tests/unit/journal_fixtures.o
/*
 * test_journal_sink.c: the LMDB journal's sink records (agent/store/journal_sink.c):
 * manifests, replays, names, hashes, forgetting, and a dataset journaled in
 * slices.
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

static void
test_sink(void **state)
{
	struct fx *f = *state;
	struct journal *j = open_ok(f, JOURNAL_SINK, 0);
	struct ds_rec d, g, ex;
	struct file_rec files[3];
	struct sink_chunk c[4] = {
		{ .dsid = 0x51, .file = 0, .chunk = 2, .hash = 0x1002, .len = CS / 2 },
		{ .dsid = 0x51, .file = 2, .chunk = 0, .hash = 0x3000, .len = CS },
		{ .dsid = 0x52, .file = 0, .chunk = 0, .hash = 0x9000, .len = CS },
		{ .dsid = 0x51, .file = 0, .chunk = 0, .hash = 0x1000, .len = CS },
	};
	struct sink_chunk badlen = { .dsid = 0x51, .file = 0, .chunk = 1,
	    .hash = 1, .len = 5 };
	struct sink_chunk c1 = { .dsid = 0x51, .file = 0, .chunk = 1,
	    .hash = 0x1001, .len = CS };
	struct chunk_acc a = { 0 };
	uint8_t bm[1];
	uint64_t h[3];

	sink_ds(&d, files, 0x51);
	assert_int_equal(journal_sink_ds_create(j, &d, files, 3, &ex), SL_OK);
	sink_ds(&d, files, 0x52);
	assert_int_equal(journal_sink_ds_create(j, &d, files, 3, &ex), SL_OK);

	/* replay with the same manifest */
	sink_ds(&d, files, 0x51);
	memset(&ex, 0, sizeof(ex));
	assert_int_equal(journal_sink_ds_create(j, &d, files, 3, &ex), SL_EEXIST);
	assert_int_equal(ex.id, 0x51);
	assert_int_equal(ex.state, SDS_RECEIVING);
	assert_string_equal(ex.name, "incoming");
	ds_rec_free(&ex);
	assert_int_equal(journal_sink_ds_create(j, &d, files, 3, NULL), SL_EEXIST);
	/* a different manifest under the same id */
	files[2].size++;
	d.bytes++;
	assert_int_equal(journal_sink_ds_create(j, &d, files, 3, &ex), SL_EINVAL);
	sink_ds(&d, files, 0x51);
	files[1].path = (char *)"other";
	assert_int_equal(journal_sink_ds_create(j, &d, files, 3, &ex), SL_EINVAL);
	sink_ds(&d, files, 0x51);
	strcpy(d.name, "renamed");
	assert_int_equal(journal_sink_ds_create(j, &d, files, 3, &ex), SL_EINVAL);

	/* agent-only calls are refused */
	assert_int_equal(journal_ds_create(j, &d, files, 3), SL_EINVAL);

	sink_ds(&d, files, 0x51);
	assert_int_equal(journal_sink_chunks_put(j, c, 4), SL_OK);
	assert_int_equal(journal_sink_chunks_put(j, c, 4), SL_OK);	/* replay */
	assert_int_equal(journal_sink_chunks_put(j, &badlen, 1), SL_EINVAL);
	assert_int_equal(journal_ds_get(j, 0x51, &g), SL_OK);
	assert_int_equal(g.chunks_acked, 3);
	assert_int_equal(g.bytes_acked, CS / 2 + 2 * CS);
	assert_int_equal(g.nchunks, 4);
	ds_rec_free(&g);
	assert_int_equal(journal_ds_get(j, 0x52, &g), SL_OK);
	assert_int_equal(g.chunks_acked, 1);
	assert_int_equal(g.bytes_acked, CS);
	ds_rec_free(&g);

	memset(bm, 0, sizeof(bm));
	assert_int_equal(journal_sink_have(j, 0x51, files, 3, bm, 4), SL_OK);
	assert_int_equal(bm[0], 0x1 | 0x4 | 0x8);
	memset(bm, 0, sizeof(bm));
	assert_int_equal(journal_sink_have(j, 0x52, files, 3, bm, 4), SL_OK);
	assert_int_equal(bm[0], 0x1);

	assert_int_equal(journal_sink_hashes(j, 0x51, 0, h, 3), SL_ENOTFOUND);
	assert_int_equal(journal_sink_chunks_put(j, &c1, 1), SL_OK);
	assert_int_equal(journal_sink_hashes(j, 0x51, 0, h, 3), SL_OK);
	assert_int_equal(h[0], 0x1000);
	assert_int_equal(h[1], 0x1001);
	assert_int_equal(h[2], 0x1002);
	assert_int_equal(journal_sink_hashes(j, 0x51, 2, h, 1), SL_OK);
	assert_int_equal(h[0], 0x3000);
	assert_int_equal(journal_sink_hashes(j, 0x51, 1, h, 0), SL_OK);

	assert_int_equal(journal_chunks_foreach(j, 0x51, chunk_cb, &a), SL_OK);
	assert_int_equal(a.n, 4);
	assert_int_equal(a.st[0], CHUNK_ACKED);
	assert_int_equal(a.hash[3], 0x3000);

	assert_int_equal(journal_ds_set_state(j, 0x51, SDS_PUBLISHED, NULL,
	    "incoming"), SL_OK);
	assert_int_equal(journal_ds_get(j, 0x51, &g), SL_OK);
	assert_int_equal(g.state, SDS_PUBLISHED);
	assert_true(g.completed_ns > 0);
	assert_string_equal(g.published, "incoming");
	ds_rec_free(&g);
	assert_int_equal(journal_ds_set_state(j, 0x51, DS_FAILED, NULL, NULL),
	    SL_EINVAL);	/* 5 is not a sink state */

	/* Names: the last create reserved "incoming" (the caller checks a
	 * holder first); a namespace is another key; finish releases only
	 * the holder's own reservation. */
	{
		uint64_t id = 0;

		assert_int_equal(journal_sink_name_holder(j, "", "incoming", &id), SL_OK);
		assert_int_equal(id, 0x52);
		sink_ds(&d, files, 0x53);
		strcpy(d.dest, "bl1");
		assert_int_equal(journal_sink_ds_create(j, &d, files, 3, &ex), SL_OK);
		assert_int_equal(journal_sink_name_holder(j, "bl1", "incoming", &id), SL_OK);
		assert_int_equal(id, 0x53);
		assert_int_equal(journal_ds_get(j, 0x53, &g), SL_OK);
		assert_string_equal(g.dest, "bl1");
		ds_rec_free(&g);
		assert_int_equal(journal_sink_finish(j, 0x51, SDS_PUBLISHED, NULL,
		    "incoming"), SL_OK);	/* not the holder: nothing dropped */
		assert_int_equal(journal_sink_name_holder(j, "", "incoming", &id), SL_OK);
		assert_int_equal(id, 0x52);
		assert_int_equal(journal_sink_finish(j, 0x52, SDS_FAILED, "abandoned",
		    NULL), SL_OK);
		assert_int_equal(journal_sink_name_holder(j, "", "incoming", &id),
		    SL_ENOTFOUND);
		assert_int_equal(journal_sink_name_holder(j, "bl1", "incoming", &id), SL_OK);
		assert_int_equal(journal_ds_get(j, 0x52, &g), SL_OK);
		assert_int_equal(g.state, SDS_FAILED);
		assert_string_equal(g.error, "abandoned");
		ds_rec_free(&g);
		assert_int_equal(journal_sink_finish(j, 0x53, SDS_RECEIVING, NULL, NULL),
		    SL_EINVAL);
	}
	journal_close(j);

	/* and the agent cannot open it */
	j = NULL;
	assert_int_equal(journal_open(&j, f->jpath, JOURNAL_AGENT, 0, 0, f->err,
	    sizeof(f->err)), SL_EJOURNAL);
}

/* partial_ttl: a forgotten sink dataset is gone but for its history, and
 * the same id can be created afresh. */
static void
test_sink_forget(void **state)
{
	struct fx *f = *state;
	struct journal *j = open_ok(f, JOURNAL_SINK, 0);
	struct ds_rec d, g;
	struct file_rec files[3];
	struct sink_chunk sc = { 7, 0, 0, 0x99, CS };
	uint8_t bm[2] = { 0, 0 };
	int nhist = 0;

	sink_ds(&d, files, 7);
	assert_int_equal(journal_sink_ds_create(j, &d, files, 3, NULL), SL_OK);
	assert_int_equal(journal_sink_chunks_put(j, &sc, 1), SL_OK);
	assert_int_equal(journal_ds_get(j, 7, &g), SL_OK);
	assert_true(g.updated_ns > d.created_ns);	/* a put touches it */
	ds_rec_free(&g);
	assert_int_equal(journal_sink_ds_forget(j, 7, "expired"), SL_OK);
	assert_int_equal(journal_ds_get(j, 7, &g), SL_ENOTFOUND);
	ds_rec_free(&g);
	assert_int_equal(journal_history_foreach(j, 7, count_hist, &nhist), SL_OK);
	assert_int_equal(nhist, 1);
	assert_int_equal(journal_sink_ds_forget(j, 7, "again"), SL_ENOTFOUND);
	/* afresh: nothing held */
	assert_int_equal(journal_sink_ds_create(j, &d, files, 3, NULL), SL_OK);
	assert_int_equal(journal_sink_have(j, 7, files, 3, bm, 4), SL_OK);
	assert_int_equal(bm[0], 0);
	ds_rec_free(&d);
	journal_close(j);
}

/* A new dataset of 20,001 files is journaled in slices (files ahead of
 * the record): all of it reads back, the name is reserved, a replay is
 * EEXIST, another manifest under its id EINVAL and changes nothing, and
 * forgetting it drops every file record. */
static void
test_sink_large(void **state)
{
	struct fx *f = *state;
	struct journal *j = open_ok(f, JOURNAL_SINK, 0);
	struct ds_rec d, ex;
	struct file_rec *files, *fl = NULL;
	char *paths;
	uint32_t i, n = 20001, nf = 0;
	uint64_t holder = 0;

	memset(&d, 0, sizeof(d));
	d.id = 0x77;
	d.state = SDS_RECEIVING;
	d.chunk_size = CS;
	d.nfiles = n;
	snprintf(d.name, sizeof(d.name), "many");
	snprintf(d.src, sizeof(d.src), "agent-1");
	many_files(n, &files, &paths, &d.bytes, &d.nchunks);
	assert_int_equal(journal_sink_ds_create(j, &d, files, n, NULL), SL_OK);
	assert_int_equal(journal_files_load(j, 0x77, &fl, &nf), SL_OK);
	assert_int_equal(nf, n);
	for (i = 0; i < n; i++) {
		assert_string_equal(fl[i].path, files[i].path);
		assert_int_equal(fl[i].size, files[i].size);
	}
	free(fl);
	assert_int_equal(journal_sink_name_holder(j, "", "many", &holder), SL_OK);
	assert_int_equal(holder, 0x77);
	memset(&ex, 0, sizeof(ex));
	assert_int_equal(journal_sink_ds_create(j, &d, files, n, &ex), SL_EEXIST);
	assert_int_equal(ex.nfiles, n);
	ds_rec_free(&ex);
	files[15000].path = (char *)"other";
	assert_int_equal(journal_sink_ds_create(j, &d, files, n, &ex), SL_EINVAL);
	files[15000].path = paths + (size_t)15000 * 16;
	assert_int_equal(journal_files_load(j, 0x77, &fl, &nf), SL_OK);
	assert_string_equal(fl[15000].path, "d000/f015000");	/* not "other" */
	free(fl);
	assert_int_equal(journal_sink_ds_forget(j, 0x77, "gone"), SL_OK);
	assert_int_equal(journal_files_load(j, 0x77, &fl, &nf), SL_ENOTFOUND);
	/* and it can be created again */
	assert_int_equal(journal_sink_ds_create(j, &d, files, n, NULL), SL_OK);
	free(files);
	free(paths);
	journal_close(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_sink),
		T(test_sink_forget),
		T(test_sink_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
