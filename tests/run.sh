#!/usr/bin/env bash
# Run the whole suite: unit tests (cmocka) then integration and chaos
# scenarios (each a script that starts real processes on 127.0.0.1).
# Prints one "N passed, N failed" line at the end; exits non-zero on any
# failure.  SLUICE_TESTS="pat1 pat2" runs only the scenario scripts whose
# path contains one of the patterns (unit tests always run).
set -u
cd "$(dirname "$0")/.."
pass=0; failn=0; failed=()
for t in tests/unit/test_*; do
	case "$t" in *.c|*.d) continue;; esac
	echo "== $t"
	if "./$t"; then pass=$((pass + 1)); else failn=$((failn + 1)); failed+=("$t"); fi
done
for t in tests/integration/t_*.sh tests/chaos/t_*.sh; do
	[ -e "$t" ] || continue
	if [ -n "${SLUICE_TESTS:-}" ]; then
		m=0
		for pat in $SLUICE_TESTS; do case "$t" in *"$pat"*) m=1;; esac; done
		[ $m = 1 ] || continue
	fi
	echo "== $t"
	start=$(date +%s)
	if timeout 600 bash "$t"; then
		pass=$((pass + 1)); echo "   passed in $(( $(date +%s) - start ))s"
	else
		failn=$((failn + 1)); failed+=("$t"); echo "   FAILED in $(( $(date +%s) - start ))s"
	fi
done
echo
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
echo "$pass passed, $failn failed"
[ "$failn" -eq 0 ]
