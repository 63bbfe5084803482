#!/usr/bin/env bash
# kill -9 the AGENT several times mid-transfer and restart it: the dataset
# still arrives byte for byte, and no chunk the sink acked is sent again.
VICTIM=agent
. "$(dirname "$0")/resume.sh"
