/*
 * wire_ctl.c: the control socket's two frames (PROTOCOL.md 4.12): the
 * CLI's CTL_REQ (a command and its arguments) and the daemon's CTL_REPLY
 * (a status and text).  Same framing and the same checks as the session
 * frames, but a different peer: a local user of the sluice CLI, whose
 * arguments are any bytes but NUL; what they mean is control.c's business.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"
#include "wire.h"
#include "wire_int.h"

#define WIRE_MAX_CMD		64	/* CTL_REQ command bytes */

/* ---- CTL_REQ --------------------------------------------------------- */

void
wire_ctl_req_free(struct wire_ctl_req *q)
{
	free(q->argv);
	q->argv = NULL;
	q->argc = 0;
}

int
wire_ctl_req_encode(struct wbuf *b, const struct wire_ctl_req *q)
{
	struct wr	w;
	size_t		plen;
	uint32_t	i;
	int		rc;

	if (!str_ok(q->command, 1, WIRE_MAX_CMD) ||
	    q->argc > SL_MAX_CTL_ARGS || (q->argc > 0 && q->argv == NULL))
		return SL_EINVAL;
	plen = 4 + q->command.len + 4;
	for (i = 0; i < q->argc; i++) {
		if (!str_ok(q->argv[i], 0, SL_MAX_PATH))
			return SL_EINVAL;
		plen += 4 + q->argv[i].len;
	}
	rc = frame_begin(b, WIRE_CTL_REQ, plen, &w);
	if (rc != SL_OK)
		return rc;
	wr_str(&w, q->command);
	wr_u32(&w, q->argc);
	for (i = 0; i < q->argc; i++)
		wr_str(&w, q->argv[i]);
	frame_end(b, plen);
	return SL_OK;
}

int
wire_ctl_req_decode(const uint8_t *buf, size_t n, struct wire_ctl_req *q)
{
	struct rd	r;
	uint32_t	i;

	memset(q, 0, sizeof(*q));
	rd_init(&r, buf, n);
	q->command = rd_str(&r, 1, WIRE_MAX_CMD);
	/* each argument takes at least its u32 length */
	q->argc = rd_count(&r, SL_MAX_CTL_ARGS, 4);
	if (r.err != SL_OK)
		return r.err;
	if (q->argc > 0) {
		q->argv = calloc(q->argc, sizeof(*q->argv));
		if (q->argv == NULL) {
			q->argc = 0;
			return SL_ENOMEM;
		}
	}
	for (i = 0; i < q->argc && r.err == SL_OK; i++)
		q->argv[i] = rd_str(&r, 0, SL_MAX_PATH);
	if (rd_end(&r) != SL_OK) {
		wire_ctl_req_free(q);
		q->command.p = NULL;
		q->command.len = 0;
		return r.err;
	}
	return SL_OK;
}

/* ---- CTL_REPLY ------------------------------------------------------- */

int
wire_ctl_reply_encode(struct wbuf *b, const struct wire_ctl_reply *m)
{
	struct wr	w;
	size_t		plen;
	int		rc;

	if (m->status > 0 || !str_ok(m->text, 0, SL_MAX_FRAME))
		return SL_EINVAL;
	plen = 4 + 4 + (size_t)m->text.len;
	rc = frame_begin(b, WIRE_CTL_REPLY, plen, &w);	/* EINVAL past a frame */
	if (rc != SL_OK)
		return rc;
	wr_u32(&w, (uint32_t)m->status);
	wr_str(&w, m->text);
	frame_end(b, plen);
	return SL_OK;
}

int
wire_ctl_reply_decode(const uint8_t *buf, size_t n, struct wire_ctl_reply *m)
{
	struct rd	r;

	memset(m, 0, sizeof(*m));
	rd_init(&r, buf, n);
	m->status = (int32_t)rd_u32(&r);
	m->text = rd_str(&r, 0, SL_MAX_FRAME);
	if (rd_end(&r) == SL_OK && m->status > 0)
		r.err = SL_EPROTO;
	return r.err;
}
