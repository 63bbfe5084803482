#!/usr/bin/env bash
# kill -9 the SINK several times while it writes and commits many small
# files (800 x 64 KiB, one chunk each: written through the page cache,
# hashed from the received buffer, made durable by the group commit's
# syncfs); the dataset still arrives byte for byte with a manifest that
# verifies, and no chunk the sink made durable is sent to it again.
VICTIM=sink NFILES=${NFILES:-800} KIB=${KIB:-64} WINDOW=${WINDOW:-4} TLS=${TLS:-off}
. "$(dirname "$0")/resume.sh"
