#!/usr/bin/env bash
# kill -9 the SINK several times mid-transfer and restart it; the agent
# reconnects on its own and the dataset still arrives byte for byte; no
# chunk the sink made durable is sent to it again.
VICTIM=sink
. "$(dirname "$0")/resume.sh"
