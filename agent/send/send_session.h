/*
 * send_session.h: the agent session's frame handlers (send_session.c),
 * handed to the link in struct link_ops.  Loop thread only.
 */
#ifndef SEND_SESSION_H
#define SEND_SESSION_H

struct stream_ops;

/* Each stream's callbacks; arg is the stream's struct astream.  A frame
 * that is malformed, unexpected or out of order takes the link down. */
extern const struct stream_ops session_stream_ops;

#endif
