#!/usr/bin/env bash
# kill -9 the SINK several times while it writes and commits many small
# files (800 x 64 KiB, one chunk each: written through the page cache,
# hashed from the received buffer, made durable by the group commit's
# syncfs); the dataset still arrives byte for byte with a manifest that
# verifies, and no chunk the sink made durable is sent to it again.
VICTIM=sink NFILES=${NFILES:-800} KIB=${KIB:-64} WINDOW=${WINDOW:-4} TLS=${TLS:-off}
# 2 MB/s a stream (8 MB/s in all, about 7 s for 50 MiB): the progress the
# test reads trails the acks by up to 0.5 s, and at the default 6 MB/s a
# stream that half second was the last quarter of the run, so the third
# kill could land after the last ack (seen in CI under ASAN).
RATE=${RATE:-2000000}
. "$(dirname "$0")/resume.sh"
