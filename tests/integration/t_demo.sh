#!/usr/bin/env bash
# The README's first command, `make demo` (scripts/demo.sh): a sink and an
# agent on 127.0.0.1 move a sample dataset, show status and verify it.
# (Regression: after the manifest's SHA-256 became opt-in, the demo still
# checked that column with sha256sum and failed.)
. "$(dirname "$0")/lib.sh"
sl_setup
out=$(cd "$ROOT" && timeout 300 bash scripts/demo.sh 2>&1); rc=$?
if [ $rc = 0 ] && echo "$out" | grep -q '^demo OK' &&
    echo "$out" | grep -q '^manifest verifies with xxh128sum: [0-9]* files' &&
    echo "$out" | grep -q '^OK .*match .sluice-manifest'; then
	ok "make demo: dataset moved, status shown, manifest verifies"
else
	fail "make demo (rc=$rc): $(echo "$out" | tail -5)"
fi
sl_done
