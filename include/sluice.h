/*
 * sluice.h: error codes, limits and exit codes shared by every module.
 *
 * One error type for the whole program (STYLE 5): a negative int from the
 * enum below, 0 for success.  Each code is either retryable (the same
 * operation may succeed later: network, disk full, peer down) or fatal for
 * the object it concerns (bad input, protocol violation).  Functions that
 * can fail return one of these and, where a sentence helps, fill a
 * caller-supplied error buffer naming the object (STYLE 7).
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <stddef.h>
#include <stdint.h>

#define SLUICE_VERSION "0.1.0"

enum sl_err {
	SL_OK        =   0,
	SL_EINVAL    =  -1,	/* bad argument or malformed local input   (fatal) */
	SL_EPROTO    =  -2,	/* peer broke the protocol                 (fatal for the session) */
	SL_ETOOBIG   =  -3,	/* a length or count past a named limit    (fatal) */
	SL_ETRUNC    =  -4,	/* decoder needs more bytes                (not an error on a stream) */
	SL_EIO       =  -5,	/* a system call failed                    (retryable) */
	SL_ENOMEM    =  -6,	/* allocation failed                       (retryable) */
	SL_EAUTH     =  -7,	/* authentication failed                   (fatal for the session) */
	SL_ENOTFOUND =  -8,	/* no such dataset / file / record         (fatal) */
	SL_EEXIST    =  -9,	/* already exists                          (fatal) */
	SL_ECORRUPT  = -10,	/* checksum mismatch                       (retryable: resend) */
	SL_ECHANGED  = -11,	/* source changed during transfer          (fatal for the dataset) */
	SL_EAGAIN    = -12,	/* would block; try again when ready       (retryable) */
	SL_ENOSPC    = -13,	/* no space left at the sink               (retryable) */
	SL_EJOURNAL  = -14,	/* journal unusable (version, corruption)  (fatal) */
	SL_EPATH     = -15,	/* unsafe path from the wire or the source (fatal) */
	SL_ESTATE    = -16,	/* operation not valid in this state       (fatal) */
};

/* Static text for an error code; never NULL. */
const char *sl_strerror(int err);
/* 1 if retrying the same operation later may succeed, else 0. */
int sl_err_retryable(int err);

/* Limits.  Every length or count read from the wire or a file is checked
 * against one of these before it is used (STYLE 9). */
#define SL_PROTO_VERSION	1
#define SL_MAX_COMPONENT	255		/* one path component, bytes */
#define SL_MAX_PATH		4096		/* a relative path, bytes, no NUL */
#define SL_MAX_NAME		SL_MAX_COMPONENT /* dataset name: one component */
#define SL_MAX_ID		64		/* agent / sink identity string */
#define SL_MAX_META		256		/* metadata pairs per dataset */
#define SL_MAX_META_KEY		128
#define SL_MAX_META_VAL		4096
#define SL_MAX_FILES		1000000		/* files per dataset */
#define SL_MIN_CHUNK		(64u * 1024)
#define SL_MAX_CHUNK		(64u * 1024 * 1024)
#define SL_DEFAULT_CHUNK	(8u * 1024 * 1024)
#define SL_MAX_FRAME		(SL_MAX_CHUNK + 4096u)	/* payload bytes of one frame */
#define SL_MAX_MSG		1024		/* error / reason text */
#define SL_MAX_STREAMS		64
#define SL_MAX_ACKS		65536		/* entries in one ACK frame */
#define SL_MAX_CTL_ARGS		1024		/* arguments of one control request */

/* The file the sink writes into every published dataset: no dataset may
 * ship a top-level file of that name (refused at submit, ingest and OPEN). */
#define SL_MANIFEST_NAME	".sluice-manifest"

/* Exit codes of sluiced and sluice. */
#define SL_EXIT_OK		0
#define SL_EXIT_FAIL		1	/* operation failed */
#define SL_EXIT_USAGE		2	/* bad command line or config */
#define SL_EXIT_DOWN		3	/* daemon not reachable (not running) */
#define SL_EXIT_HUNG		4	/* daemon alive but not answering */

#endif
