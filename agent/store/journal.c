/*
 * journal.c: the journal's environment (contract in include/journal.h;
 * how the files divide the work in journal_int.h).
 *
 * Open checks before it trusts: the directory and data.mdb exist (or may
 * be created), data.mdb is neither empty nor shorter than its last page,
 * and the meta database names this format (or an older one) and this
 * role.  A fresh environment gets its meta record in the same txn that
 * creates the databases.  Anything else (a newer format, the other role's
 * journal, a non-empty environment without meta) is SL_EJOURNAL with a
 * sentence: a damaged journal is reported, never silently recreated
 * empty (an empty journal would make the agent forget every queued
 * dataset).
 *
 * jr_walk is here too: the one cursor loop that every listing of a
 * dataset's files, chunks or history and of all datasets runs through.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "errbuf.h"
#include "journal.h"
#include "journal_int.h"
#include "wire.h"

#define JOURNAL_MAPSIZE_DEFAULT	((size_t)8 << 30)
#define JOURNAL_MAXDBS		8

static const char *
role_name(int role)
{
	return role == JOURNAL_AGENT ? "agent" : role == JOURNAL_SINK ? "sink" :
	    "unknown";
}

/* ---- open / close --------------------------------------------------------- */

/* Open database name of j's environment in t (flags: MDB_CREATE or 0). */
static int
open_db(struct journal *j, MDB_txn *t, const char *name, unsigned flags,
    MDB_dbi *dbi, char *err, size_t errlen)
{
	int rc = mdb_dbi_open(t, name, flags, dbi);

	if (rc) {
		seterr(err, errlen, "journal %s: open database \"%s\": %s",
		    j->path, name, mdb_strerror(rc));
		return SL_EJOURNAL;
	}
	return SL_OK;
}

static int
open_dbs(struct journal *j, MDB_txn *t, char *err, size_t errlen)
{
	static const char *names[] = { "datasets", "files", "chunks", "history" };
	MDB_dbi *dbis[] = { &j->datasets, &j->files, &j->chunks, &j->history };
	unsigned flags = j->rdonly ? 0 : MDB_CREATE;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		rc = open_db(j, t, names[i], flags, dbis[i], err, errlen);
		if (rc)
			return rc;
	}
	if (j->rdonly)
		return SL_OK;
	/* Added after format 1 shipped, each created by the first writer in
	 * an older journal too; only the daemon reads or writes them, a
	 * reader (the CLI) does not need them. */
	if (j->role == JOURNAL_SINK) {	/* name reservations */
		rc = open_db(j, t, "names", MDB_CREATE, &j->names, err, errlen);
		if (rc)
			return rc;
	}
	rc = open_db(j, t, "left", MDB_CREATE, &j->left, err, errlen);
	if (rc)
		return rc;
	j->has_left = 1;
	if (j->role == JOURNAL_AGENT) {	/* by source directory: journal_srcs.c */
		rc = open_db(j, t, "srcs", MDB_CREATE, &j->srcs, err, errlen);
		if (rc)
			return rc;
		j->has_srcs = 1;
	}
	return SL_OK;
}

static int
meta_get_u32(MDB_txn *t, MDB_dbi dbi, const char *key, uint32_t *val)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	int rc;

	rc = mdb_get(t, dbi, &k, &v);
	if (rc)
		return rc;
	if (v.mv_size != 4)
		return MDB_CORRUPTED;
	*val = wire_get_u32(v.mv_data);
	return 0;
}

static int
meta_put_u32(MDB_txn *t, MDB_dbi dbi, const char *key, uint32_t val)
{
	uint8_t b[4];
	MDB_val k = { strlen(key), (void *)key }, v = { 4, b };

	wire_put_u32(b, val);
	return mdb_put(t, dbi, &k, &v, 0);
}

/* Check (or, in a fresh environment, write) meta, then open the dbs. */
static int
open_meta(struct journal *j, char *err, size_t errlen)
{
	MDB_txn *t = NULL;
	MDB_stat st;
	MDB_dbi maindbi;
	uint32_t format, role;
	int rc, fresh = 0;

	rc = mdb_txn_begin(j->env, NULL, j->rdonly ? MDB_RDONLY : 0, &t);
	if (rc) {
		seterr(err, errlen, "journal %s: begin txn: %s", j->path,
		    mdb_strerror(rc));
		return map_rc(rc) == SL_ENOMEM ? SL_ENOMEM : SL_EJOURNAL;
	}
	rc = mdb_dbi_open(t, "meta", 0, &j->meta);
	if (rc == MDB_NOTFOUND) {
		rc = mdb_dbi_open(t, NULL, 0, &maindbi);
		if (rc == 0)
			rc = mdb_stat(t, maindbi, &st);
		if (rc)
			goto lmdb_fail;
		if (st.ms_entries != 0) {
			seterr(err, errlen, "journal %s: has no meta record "
			    "(not a sluice journal?)", j->path);
			rc = SL_EJOURNAL;
			goto fail;
		}
		if (j->rdonly) {
			/* created but never initialised by a writer */
			seterr(err, errlen, "journal %s: empty, not initialised "
			    "yet", j->path);
			rc = SL_ENOTFOUND;
			goto fail;
		}
		fresh = 1;
		rc = mdb_dbi_open(t, "meta", MDB_CREATE, &j->meta);
		if (rc)
			goto lmdb_fail;
		rc = meta_put_u32(t, j->meta, "format", JOURNAL_FORMAT);
		if (rc == 0)
			rc = meta_put_u32(t, j->meta, "role", (uint32_t)j->role);
		if (rc)
			goto lmdb_fail;
	} else if (rc) {
		goto lmdb_fail;
	}
	if (!fresh) {
		rc = meta_get_u32(t, j->meta, "format", &format);
		if (rc == 0)
			rc = meta_get_u32(t, j->meta, "role", &role);
		if (rc) {
			seterr(err, errlen, "journal %s: meta record: %s",
			    j->path, mdb_strerror(rc));
			rc = SL_EJOURNAL;
			goto fail;
		}
		if (format > JOURNAL_FORMAT || format == 0) {
			seterr(err, errlen, "journal %s: written by format %u, "
			    "this sluiced reads <= %d", j->path, format,
			    JOURNAL_FORMAT);
			rc = SL_EJOURNAL;
			goto fail;
		}
		if (role != (uint32_t)j->role) {
			seterr(err, errlen, "journal %s: is a %s journal, "
			    "this sluiced runs as %s", j->path,
			    role_name((int)role), role_name(j->role));
			rc = SL_EJOURNAL;
			goto fail;
		}
	}
	rc = open_dbs(j, t, err, errlen);
	if (rc)
		goto fail;
	/* commit also for a read txn: it makes the dbi handles shared */
	rc = mdb_txn_commit(t);
	t = NULL;
	if (rc)
		goto lmdb_fail;
	return SL_OK;
lmdb_fail:
	seterr(err, errlen, "journal %s: %s", j->path, mdb_strerror(rc));
	rc = map_rc(rc);
	if (rc != SL_ENOSPC && rc != SL_ENOMEM)
		rc = SL_EJOURNAL;
fail:
	if (t)
		mdb_txn_abort(t);
	return rc;
}

/* stat p, the directory or its data.mdb.  Absent is no error (*absent
 * set) unless the open is read-only: there is no journal to read. */
static int
stat_journal(const struct journal *j, const char *p, struct stat *st,
    int *absent, char *err, size_t errlen)
{
	*absent = 0;
	if (stat(p, st) == 0)
		return SL_OK;
	if (errno != ENOENT) {
		seterr(err, errlen, "journal %s: %s", p, strerror(errno));
		return SL_EJOURNAL;
	}
	if (j->rdonly) {
		seterr(err, errlen, "journal %s: no such journal", j->path);
		return SL_ENOTFOUND;
	}
	*absent = 1;
	return SL_OK;
}

int
journal_open(struct journal **jp, const char *path, enum journal_role role,
    int flags, size_t map_size, char *err, size_t errlen)
{
	struct journal *j = NULL;
	struct stat st;
	MDB_envinfo info;
	MDB_stat mst;
	char *data = NULL;
	int rc, absent;

	*jp = NULL;
	if (role != JOURNAL_AGENT && role != JOURNAL_SINK) {
		seterr(err, errlen, "journal %s: bad role %d", path, (int)role);
		return SL_EINVAL;
	}
	j = calloc(1, sizeof(*j));
	if (j != NULL)
		j->path = strdup(path);
	if (j != NULL && j->path != NULL &&
	    asprintf(&data, "%s/data.mdb", path) < 0)
		data = NULL;
	if (data == NULL) {
		seterr(err, errlen, "journal %s: out of memory", path);
		rc = SL_ENOMEM;
		goto fail;
	}
	j->role = role;
	j->rdonly = (flags & JOURNAL_RDONLY) != 0;

	rc = stat_journal(j, path, &st, &absent, err, errlen);
	if (rc)
		goto fail;
	if (absent) {
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			seterr(err, errlen, "mkdir %s: %s", path, strerror(errno));
			rc = SL_EIO;
			goto fail;
		}
	} else if (!S_ISDIR(st.st_mode)) {
		seterr(err, errlen, "journal %s: not a directory", path);
		rc = SL_EJOURNAL;
		goto fail;
	}

	/* LMDB treats an empty data.mdb as a new environment: refuse it,
	 * a journal that lost its contents must not be recreated empty. */
	rc = stat_journal(j, data, &st, &absent, err, errlen);
	if (rc)
		goto fail;
	if (!absent && st.st_size == 0) {
		seterr(err, errlen, "journal %s: data.mdb is empty (truncated?); "
		    "move the directory away to start a new journal", path);
		rc = SL_EJOURNAL;
		goto fail;
	}

	rc = mdb_env_create(&j->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(j->env, JOURNAL_MAXDBS);
	if (rc == 0)
		rc = mdb_env_set_mapsize(j->env,
		    map_size ? map_size : JOURNAL_MAPSIZE_DEFAULT);
	if (rc == 0)
		rc = mdb_env_open(j->env, path,
		    MDB_NOTLS | (j->rdonly ? MDB_RDONLY : 0), 0600);
	if (rc) {
		seterr(err, errlen, "journal %s: %s", path, mdb_strerror(rc));
		rc = SL_EJOURNAL;
		goto fail;
	}

	/* A data.mdb cut short past its meta pages opens fine but would
	 * fault on the first read of a missing page: check its length. */
	if (mdb_env_info(j->env, &info) == 0 && mdb_env_stat(j->env, &mst) == 0 &&
	    stat(data, &st) == 0 &&
	    (uint64_t)st.st_size < ((uint64_t)info.me_last_pgno + 1) * mst.ms_psize) {
		seterr(err, errlen, "journal %s: data.mdb is %lld bytes but its "
		    "pages need %llu: truncated", path,
		    (long long)st.st_size,
		    (unsigned long long)(info.me_last_pgno + 1) * mst.ms_psize);
		rc = SL_EJOURNAL;
		goto fail;
	}

	rc = open_meta(j, err, errlen);
	if (rc)
		goto fail;
	free(data);
	*jp = j;
	return SL_OK;
fail:
	free(data);
	journal_close(j);
	return rc;
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	if (j->env)
		mdb_env_close(j->env);
	free(j->path);
	free(j);
}

const char *
journal_path(const struct journal *j)
{
	return j->path;
}


/* ---- walking records ---------------------------------------------------- */

int
jr_walk(struct journal *j, MDB_txn *t, MDB_dbi dbi, const MDB_val *from,
    size_t keylen, uint64_t id, jr_walk_fn fn, void *arg)
{
	MDB_txn *own = NULL;
	MDB_cursor *c = NULL;
	MDB_val k = { 0, NULL }, v;
	int rc, op;

	if (t == NULL) {
		rc = txn_begin(j, 1, &own);
		if (rc)
			return rc;
		t = own;
	}
	rc = map_rc(mdb_cursor_open(t, dbi, &c));
	if (rc)
		goto out;
	if (from != NULL)
		k = *from;
	for (op = from != NULL ? MDB_SET_RANGE : MDB_FIRST;; op = MDB_NEXT) {
		rc = mdb_cursor_get(c, &k, &v, op);
		if (rc == MDB_NOTFOUND ||
		    (rc == 0 && from != NULL && !key_is(&k, keylen, id))) {
			rc = SL_OK;		/* past the last one */
			break;
		}
		if (rc) {
			rc = map_rc(rc);
			break;
		}
		if (k.mv_size != keylen) {
			rc = SL_EJOURNAL;
			break;
		}
		rc = fn(&k, &v, arg);
		if (rc) {
			if (rc == JR_STOP)
				rc = SL_OK;
			break;
		}
	}
out:
	if (c)
		mdb_cursor_close(c);
	if (own)
		mdb_txn_abort(own);
	return rc;
}
