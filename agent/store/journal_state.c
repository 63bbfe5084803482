/*
 * journal_state.c: how a dataset record changes (contract in
 * include/journal.h): state transitions, hook bookkeeping, counters, and
 * the history that records every transition.
 *
 * Every change is one read-modify-write txn (ds_update): load the
 * record, apply a struct ds_change, append a history entry when asked,
 * store, commit.  The public functions only check their arguments and
 * fill a ds_change, so the rules (when error is set or cleared, when
 * completed_ns is stamped) live in one place for both roles.
 *
 * History keys carry (time_ns, seq): the time is never allowed to go
 * backwards for one dataset (a clock step reuses the last time and bumps
 * seq), so the history walks in the order the changes were made.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "journal.h"
#include "journal_int.h"

/* ---- history ------------------------------------------------------------ */

/* Append a history record for id, keeping time monotonic per dataset.
 * Returns the time used in *when. */
int
jr_hist_append(struct journal *j, MDB_txn *t, uint64_t id, int from, int to,
    const char *reason, uint64_t *when)
{
	MDB_cursor *c = NULL;
	uint8_t kb[KEY_HIST_LEN];
	MDB_val k, v;
	struct enc e = { 0 };
	uint64_t tm = now_ns(), lt;
	uint32_t seq = 0, ls;
	int rc;

	rc = map_rc(mdb_cursor_open(t, j->history, &c));
	if (rc)
		return rc;
	/* the last history key of id: just before (id + 1, 0, 0) */
	if (id != UINT64_MAX) {
		k = key_hist(kb, id + 1, 0, 0);
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == 0)
			rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
		else if (rc == MDB_NOTFOUND)
			rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	} else {
		rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	}
	if (rc == 0 && key_is(&k, KEY_HIST_LEN, id)) {
		lt = key_get64(&k, 8);
		ls = key_get32(&k, 16);
		if (lt >= tm) {
			tm = lt;
			seq = ls + 1;
			if (seq == 0)	/* wrapped: step the time instead */
				tm++;
		}
	} else if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_cursor_close(c);
		return map_rc(rc);
	}
	mdb_cursor_close(c);

	jr_enc_u16(&e, REC_HIST_V);
	jr_enc_u32(&e, (uint32_t)from);
	jr_enc_u32(&e, (uint32_t)to);
	jr_enc_str(&e, reason ? reason : "", SL_MAX_MSG + 1);
	k = key_hist(kb, id, tm, seq);
	*when = tm;
	return jr_put(t, j->history, &k, &e, 0);
}

static int
hist_decode(const MDB_val *k, const MDB_val *v, struct hist_rec *h)
{
	struct dec x;

	memset(h, 0, sizeof(*h));
	h->time_ns = key_get64(k, 8);
	jr_dec_init(&x, v);
	if (jr_dec_u16(&x) != REC_HIST_V)
		return SL_EJOURNAL;
	h->from = (int)jr_dec_u32(&x);
	h->to = (int)jr_dec_u32(&x);
	jr_dec_str(&x, h->reason, sizeof(h->reason));
	return jr_dec_done(&x) ? SL_OK : SL_EJOURNAL;
}

struct hist_walk {
	void	(*fn)(const struct hist_rec *h, void *arg);
	void	*arg;
};

static int
history_cb(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct hist_walk *w = arg;
	struct hist_rec h;
	int rc;

	rc = hist_decode(k, v, &h);
	if (rc == SL_OK)
		w->fn(&h, w->arg);
	return rc;
}

int
journal_history_foreach(struct journal *j, uint64_t id,
    void (*fn)(const struct hist_rec *h, void *arg), void *arg)
{
	struct hist_walk w = { fn, arg };
	uint8_t kb[KEY_HIST_LEN];
	MDB_val k = key_hist(kb, id, 0, 0);

	return jr_walk(j, NULL, j->history, &k, KEY_HIST_LEN, id, history_cb, &w);
}

/* ---- changes ------------------------------------------------------------ */

/*
 * The dataset updates below share one shape: in a write txn, load the
 * record, let a small function change it (and append history), store it,
 * commit.  ds_update does the txn; each public function is its change.
 */
struct ds_change {
	int		 state;		/* -1: keep */
	const char	*reason;	/* history text; NULL: no history entry */
	int		 history;	/* append a history entry (reason may be NULL) */
	const char	*published;
	const char	*dest;
	uint64_t	 sent, resent, nacked;
	int		 hook;		/* set the hook fields below */
	uint32_t	 attempts;
	int32_t		 status;
	uint64_t	 next_ns;
	const char	*out, *err;
	int		 release;	/* sink: drop the dataset's name reservation */
	const char	*name;		/* agent: new name (journal_ds_rename) */
};

static int
ds_update(struct journal *j, uint64_t id, const struct ds_change *c)
{
	struct ds_rec	 d = { 0 };
	MDB_txn		*t = NULL;
	uint64_t	 when = 0;
	int		 rc, to, done;

	rc = txn_begin(j, 0, &t);
	if (rc)
		return rc;
	rc = jr_ds_load(j, t, id, &d);
	if (rc)
		goto fail;
	to = c->state >= 0 ? c->state : d.state;
	if (c->history) {
		rc = jr_hist_append(j, t, id, d.state, to, c->reason, &when);
		if (rc)
			goto fail;
		d.updated_ns = when;
	}
	done = j->role == JOURNAL_AGENT ? DS_TRANSFERRED : SDS_PUBLISHED;
	if (c->state >= 0) {
		d.state = to;
		if (c->reason != NULL && !c->hook)
			strlcpy0(d.error, c->reason, sizeof(d.error));
		else if (to == done || to == DS_DONE ||
		    (j->role == JOURNAL_AGENT && to == DS_HOOK_PENDING && !c->hook))
			d.error[0] = '\0';	/* published: old retry errors are history */
		/* Published: TRANSFERRED, or straight to HOOK_PENDING with a hook. */
		if ((to == done || (j->role == JOURNAL_AGENT && to == DS_HOOK_PENDING)) &&
		    d.completed_ns == 0)
			d.completed_ns = when;
		if (c->hook && to == DS_HOOK_FAILED && c->reason != NULL)
			strlcpy0(d.error, c->reason, sizeof(d.error));
	}
	if (c->published != NULL)
		strlcpy0(d.published, c->published, sizeof(d.published));
	if (c->dest != NULL)
		strlcpy0(d.dest, c->dest, sizeof(d.dest));
	if (c->name != NULL)
		strlcpy0(d.name, c->name, sizeof(d.name));
	d.chunks_sent += c->sent;
	d.chunks_resent += c->resent;
	d.chunks_nacked += c->nacked;
	if (c->hook) {
		d.hook_attempts = c->attempts;
		d.hook_status = c->status;
		d.hook_next_ns = c->next_ns;
		if (c->out != NULL)
			strlcpy0(d.hook_out, c->out, sizeof(d.hook_out));
		if (c->err != NULL)
			strlcpy0(d.hook_err, c->err, sizeof(d.hook_err));
	}
	if (c->release) {
		rc = jr_name_release(j, t, &d);
		if (rc)
			goto fail;
	}
	rc = jr_ds_store(j, t, &d, 0);
fail:
	rc = txn_end(t, rc);
	ds_rec_free(&d);
	return rc;
}

int
journal_ds_set_state(struct journal *j, uint64_t id, int state,
    const char *reason, const char *published)
{
	struct ds_change c = { .state = state, .reason = reason, .history = 1,
	    .published = published };
	int maxstate = j->role == JOURNAL_AGENT ? DS_STATE_MAX : SDS_FAILED;

	if (state < 1 || state > maxstate)
		return SL_EINVAL;
	if (published != NULL && strlen(published) > SL_MAX_PATH)
		return SL_EINVAL;
	return ds_update(j, id, &c);
}

int
journal_sink_finish(struct journal *j, uint64_t id, int state, const char *reason,
    const char *published)
{
	struct ds_change c = { .state = state, .reason = reason, .history = 1,
	    .published = published, .release = 1 };

	if (j->role != JOURNAL_SINK || j->rdonly || (state != SDS_PUBLISHED &&
	    state != SDS_FAILED))
		return SL_EINVAL;
	if (published != NULL && strlen(published) > SL_MAX_PATH)
		return SL_EINVAL;
	return ds_update(j, id, &c);
}

int
journal_ds_rename(struct journal *j, uint64_t id, const char *name)
{
	struct ds_change c = { .state = -1, .name = name, .history = 1 };
	char why[SL_MAX_NAME + 32];

	if (j->role != JOURNAL_AGENT || name == NULL || name[0] == '\0' ||
	    strlen(name) > SL_MAX_NAME)
		return SL_EINVAL;
	snprintf(why, sizeof(why), "renamed to %s", name);
	c.reason = why;
	return ds_update(j, id, &c);
}

int
journal_ds_note(struct journal *j, uint64_t id, const char *note, const char *dest)
{
	struct ds_change c = { .state = -1, .reason = note, .history = note != NULL,
	    .dest = dest };

	if (dest != NULL && strlen(dest) >= sizeof(((struct ds_rec *)0)->dest))
		return SL_EINVAL;
	return ds_update(j, id, &c);
}

int
journal_ds_hook(struct journal *j, uint64_t id, int state, uint32_t attempts,
    int32_t status, uint64_t next_ns, const char *out, const char *err,
    const char *reason)
{
	struct ds_change c = { .state = state, .reason = reason, .history = 1,
	    .hook = 1, .attempts = attempts, .status = status, .next_ns = next_ns,
	    .out = out, .err = err };

	if (j->role != JOURNAL_AGENT || state < DS_HOOK_PENDING || state > DS_STATE_MAX)
		return SL_EINVAL;
	return ds_update(j, id, &c);
}

int
journal_ds_count(struct journal *j, uint64_t id, uint64_t sent,
    uint64_t resent, uint64_t nacked)
{
	struct ds_change c = { .state = -1, .sent = sent, .resent = resent,
	    .nacked = nacked };

	return ds_update(j, id, &c);
}
