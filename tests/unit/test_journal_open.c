// links: agent/libstore.a agent/libbase.a tests/unit/journal_fixtures.o
/*
 * test_journal_open.c: opening the LMDB journal (agent/store/journal.c): errors,
 * a newer format, what is not a journal, truncated files (never silently
 * recreated) and a full map.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "journal.h"
#include "wire.h"
#include "journal_fixtures.h"

static void
test_open_errors(void **state)
{
	struct fx *f = *state;
	struct journal *j = NULL;
	char p[256];
	int fd;

	/* read-only open of a journal that does not exist */
	assert_int_equal(journal_open(&j, f->jpath, JOURNAL_AGENT, JOURNAL_RDONLY,
	    0, f->err, sizeof(f->err)), SL_ENOTFOUND);
	assert_null(j);
	/* directory exists, no data.mdb */
	assert_int_equal(mkdir(f->jpath, 0700), 0);
	assert_int_equal(journal_open(&j, f->jpath, JOURNAL_AGENT, JOURNAL_RDONLY,
	    0, f->err, sizeof(f->err)), SL_ENOTFOUND);

	/* the other role */
	j = open_ok(f, JOURNAL_AGENT, 0);
	journal_close(j);
	j = NULL;
	f->err[0] = '\0';
	assert_int_equal(journal_open(&j, f->jpath, JOURNAL_SINK, 0, 0, f->err,
	    sizeof(f->err)), SL_EJOURNAL);
	assert_null(j);
	assert_non_null(strstr(f->err, f->jpath));
	assert_non_null(strstr(f->err, "agent"));
	assert_int_equal(journal_open(&j, f->jpath, JOURNAL_SINK, JOURNAL_RDONLY,
	    0, f->err, sizeof(f->err)), SL_EJOURNAL);

	/* not a directory */
	snprintf(p, sizeof(p), "%s/plain", f->dir);
	fd = creat(p, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(journal_open(&j, p, JOURNAL_AGENT, 0, 0, f->err,
	    sizeof(f->err)), SL_EJOURNAL);
}

static void
test_newer_format(void **state)
{
	struct fx *f = *state;
	struct journal *j = open_ok(f, JOURNAL_SINK, 0);
	MDB_env *env;
	MDB_txn *t;
	MDB_dbi dbi;
	uint8_t b[4];
	MDB_val k = { 6, "format" }, v = { 4, b };

	journal_close(j);
	j = NULL;
	t = raw_begin(f, &env);
	assert_int_equal(mdb_dbi_open(t, "meta", 0, &dbi), 0);
	wire_put_u32(b, 99);
	assert_int_equal(mdb_put(t, dbi, &k, &v, 0), 0);
	raw_end(env, t);

	assert_int_equal(journal_open(&j, f->jpath, JOURNAL_SINK, 0, 0, f->err,
	    sizeof(f->err)), SL_EJOURNAL);
	assert_null(j);
	assert_non_null(strstr(f->err, "format 99"));
	assert_non_null(strstr(f->err, f->jpath));
}

static void
test_not_a_journal(void **state)
{
	struct fx *f = *state;
	struct journal *j = NULL;
	MDB_env *env;
	MDB_txn *t;
	MDB_dbi dbi;
	MDB_val k = { 3, "foo" }, v = { 3, "bar" };

	/* an LMDB environment with data but no meta */
	assert_int_equal(mkdir(f->jpath, 0700), 0);
	t = raw_begin(f, &env);
	assert_int_equal(mdb_dbi_open(t, NULL, 0, &dbi), 0);
	assert_int_equal(mdb_put(t, dbi, &k, &v, 0), 0);
	raw_end(env, t);

	assert_int_equal(journal_open(&j, f->jpath, JOURNAL_AGENT, 0, 0, f->err,
	    sizeof(f->err)), SL_EJOURNAL);
	assert_non_null(strstr(f->err, "meta"));
}

static void
corrupt_and_expect(struct fx *f, off_t len)
{
	struct journal *j = open_ok(f, JOURNAL_AGENT, 0);
	struct ds_rec d;
	struct file_rec files[3];
	char p[256];
	uint64_t i;

	/* enough data to need more than the two meta pages */
	for (i = 1; i <= 50; i++) {
		make_ds(&d, files, i, "fill");
		assert_int_equal(journal_ds_create(j, &d, files, 3), SL_OK);
	}
	journal_close(j);
	j = NULL;
	snprintf(p, sizeof(p), "%s/data.mdb", f->jpath);
	assert_int_equal(truncate(p, len), 0);
	f->err[0] = '\0';
	assert_int_equal(journal_open(&j, f->jpath, JOURNAL_AGENT, 0, 0, f->err,
	    sizeof(f->err)), SL_EJOURNAL);
	assert_null(j);
	assert_non_null(strstr(f->err, f->jpath));
	assert_int_equal(journal_open(&j, f->jpath, JOURNAL_AGENT, JOURNAL_RDONLY,
	    0, f->err, sizeof(f->err)), SL_EJOURNAL);
	/* never silently recreated */
	assert_int_equal(journal_open(&j, f->jpath, JOURNAL_AGENT, 0, 0, f->err,
	    sizeof(f->err)), SL_EJOURNAL);
}

static void
test_truncated_100(void **state)
{
	struct fx *f = *state;

	corrupt_and_expect(f, 100);
	/* LMDB's own sentence is in the message */
	assert_non_null(strstr(f->err, mdb_strerror(MDB_INVALID)));
}

static void
test_truncated_0(void **state)
{
	corrupt_and_expect(*state, 0);
}

static void
test_truncated_pages(void **state)
{
	corrupt_and_expect(*state, 3 * sysconf(_SC_PAGESIZE));
}

static void
test_map_full(void **state)
{
	struct fx *f = *state;
	struct journal *j = NULL;
	struct ds_rec d;
	struct file_rec files[3];
	uint64_t i;
	int rc = SL_OK;

	assert_int_equal(journal_open(&j, f->jpath, JOURNAL_AGENT, 0, 64 * 1024,
	    f->err, sizeof(f->err)), SL_OK);
	for (i = 1; i < 10000 && rc == SL_OK; i++) {
		make_ds(&d, files, i, "fill");
		rc = journal_ds_create(j, &d, files, 3);
	}
	assert_int_equal(rc, SL_ENOSPC);
	journal_close(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_errors),
		T(test_newer_format),
		T(test_not_a_journal),
		T(test_truncated_100),
		T(test_truncated_0),
		T(test_truncated_pages),
		T(test_map_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
