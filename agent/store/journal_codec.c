/*
 * journal_codec.c: the bytes of a journal value (journal_int.h).
 *
 * Every record is a u16 version and then fields in a fixed order,
 * integers little-endian through wire_put_* / wire_get_*, strings as a
 * u32 length and the bytes, never a raw struct: the layout does not
 * depend on the compiler.  The encoder grows one buffer and remembers its
 * first failure, so a record encoder is a straight list of calls and one
 * check; the decoder is bounded by the value and a record that is short,
 * long, or holds a string with a NUL or past its field's size is bad, so
 * that the caller reports SL_EJOURNAL rather than guessing.
 */
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "journal.h"
#include "journal_int.h"
#include "wire.h"

static uint8_t *
enc_room(struct enc *e, size_t n)
{
	uint8_t *np;
	size_t na;

	if (e->err)
		return NULL;
	if (e->len + n > e->alloc) {
		na = e->alloc ? e->alloc : 256;
		while (na < e->len + n)
			na *= 2;
		np = realloc(e->p, na);
		if (np == NULL) {
			e->err = SL_ENOMEM;
			return NULL;
		}
		e->p = np;
		e->alloc = na;
	}
	np = e->p + e->len;
	e->len += n;
	return np;
}

void
jr_enc_u16(struct enc *e, uint16_t v)
{
	uint8_t *p = enc_room(e, 2);

	if (p)
		wire_put_u16(p, v);
}

void
jr_enc_u32(struct enc *e, uint32_t v)
{
	uint8_t *p = enc_room(e, 4);

	if (p)
		wire_put_u32(p, v);
}

void
jr_enc_u64(struct enc *e, uint64_t v)
{
	uint8_t *p = enc_room(e, 8);

	if (p)
		wire_put_u64(p, v);
}

/* A string from a fixed char array of size `size` (NUL within it). */
void
jr_enc_str(struct enc *e, const char *s, size_t size)
{
	size_t n = strnlen(s, size - 1);
	uint8_t *p;

	jr_enc_u32(e, (uint32_t)n);
	p = enc_room(e, n);
	if (p)
		memcpy(p, s, n);
}

void
jr_dec_init(struct dec *d, const MDB_val *v)
{
	d->p = v->mv_data;
	d->len = v->mv_size;
	d->off = 0;
	d->bad = 0;
}

static const uint8_t *
dec_take(struct dec *d, size_t n)
{
	const uint8_t *p;

	if (d->bad || d->len - d->off < n) {
		d->bad = 1;
		return NULL;
	}
	p = d->p + d->off;
	d->off += n;
	return p;
}

uint8_t
jr_dec_u8(struct dec *d)
{
	const uint8_t *p = dec_take(d, 1);

	return p ? *p : 0;
}

uint16_t
jr_dec_u16(struct dec *d)
{
	const uint8_t *p = dec_take(d, 2);

	return p ? wire_get_u16(p) : 0;
}

uint32_t
jr_dec_u32(struct dec *d)
{
	const uint8_t *p = dec_take(d, 4);

	return p ? wire_get_u32(p) : 0;
}

uint64_t
jr_dec_u64(struct dec *d)
{
	const uint8_t *p = dec_take(d, 8);

	return p ? wire_get_u64(p) : 0;
}

/* Copy a string into dst[size]; too long or containing NUL is bad. */
void
jr_dec_str(struct dec *d, char *dst, size_t size)
{
	uint32_t n = jr_dec_u32(d);
	const uint8_t *p;

	dst[0] = '\0';
	if (d->bad)
		return;
	if (n > size - 1) {
		d->bad = 1;
		return;
	}
	p = dec_take(d, n);
	if (p == NULL)
		return;
	if (memchr(p, '\0', n) != NULL) {
		d->bad = 1;
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

void
jr_dec_skip_str(struct dec *d)
{
	uint32_t n = jr_dec_u32(d);

	if (!d->bad && n > SL_MAX_PATH)
		d->bad = 1;
	if (!d->bad)
		(void)dec_take(d, n);
}

int
jr_dec_done(const struct dec *d)
{
	return !d->bad && d->off == d->len;
}

int
jr_put(MDB_txn *t, MDB_dbi dbi, MDB_val *k, struct enc *e, unsigned flags)
{
	MDB_val v;
	int rc = e->err;

	if (rc == SL_OK) {
		v.mv_size = e->len;
		v.mv_data = e->p;
		rc = map_rc(mdb_put(t, dbi, k, &v, flags));
	}
	free(e->p);
	e->p = NULL;
	e->len = e->alloc = 0;
	return rc;
}
