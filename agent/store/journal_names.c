/*
 * journal_names.c: the sink's name reservations (the "names" database):
 * the key a dataset's published directory has, and releasing it.  Below
 * both the state changes (journal_state.c) and the sink's records
 * (journal_sink.c), which release a name in their own txns.
 */
#include <stdio.h>
#include <string.h>

#include <lmdb.h>

#include "journal.h"
#include "journal_int.h"
#include "wire.h"

size_t
jr_name_key(const struct ds_rec *d, char *out, size_t outlen)
{
	int n;

	if (d->dest[0] != '\0')
		n = snprintf(out, outlen, "%s/%s", d->dest, d->name);
	else
		n = snprintf(out, outlen, "%s", d->name);
	return n < 0 ? 0 : (size_t)n >= outlen ? outlen - 1 : (size_t)n;
}

int
jr_name_release(struct journal *j, MDB_txn *t, const struct ds_rec *d)
{
	char kb[sizeof(d->dest) + SL_MAX_NAME + 2];
	MDB_val k, v;
	int rc;

	if (j->role != JOURNAL_SINK || j->rdonly)
		return SL_OK;
	k.mv_size = jr_name_key(d, kb, sizeof(kb));
	k.mv_data = kb;
	rc = mdb_get(t, j->names, &k, &v);
	if (rc == MDB_NOTFOUND)
		return SL_OK;
	if (rc)
		return map_rc(rc);
	if (v.mv_size != 8 || wire_get_u64(v.mv_data) != d->id)
		return SL_OK;	/* another dataset's now */
	return map_rc(mdb_del(t, j->names, &k, NULL));
}
