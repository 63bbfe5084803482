/*
 * send_xfer.h: one dataset on the wire (send_xfer.c): which dataset goes
 * next, OPEN, DATA through the streams' windows, COMMIT, and the sink's
 * HAVE, ACK, NACK and COMMITTED about it.  Called by the session's frame
 * dispatch (send_session.c), the link (link_ops.up) and the operator
 * commands (send_ops.c).  Loop thread only.
 */
#ifndef SEND_XFER_H
#define SEND_XFER_H

#include <stdint.h>

struct agent;
struct ads;

/* With the link up and nothing in progress: fail back to a better
 * destination when one is due, else OPEN the next dataset the current
 * destination may take.  A no-op otherwise; safe to call any time. */
void	xfer_next(struct agent *a);
/* Fill the free windows now (the lanes' wake-up, send_sched.c: a pull
 * session sent, so it may be the push path's turn). */
void	xfer_pump(struct agent *a);
/* The session came up (link_ops.up): tell this destination to release
 * the partial copies left there by datasets published elsewhere since
 * (journal "left"), then xfer_next. */
void	xfer_up(struct agent *a);
/* d failed for reason: tell the sink (best effort), journal it, drop it
 * (d is freed), start the next. */
void	xfer_fail(struct agent *a, struct ads *d, const char *reason);

/* Frame bodies (p, len) from the sink on a ready session.  A malformed
 * frame, or one that contradicts the manifest, takes the link down; one
 * about a dataset no longer current is ignored. */
void	xfer_on_have(struct agent *a, const uint8_t *p, uint32_t len);
void	xfer_on_ack(struct agent *a, const uint8_t *p, uint32_t len);
void	xfer_on_nack(struct agent *a, const uint8_t *p, uint32_t len);
void	xfer_on_committed(struct agent *a, const uint8_t *p, uint32_t len);

#endif
