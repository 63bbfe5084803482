#!/usr/bin/env bash
# Run the whole suite: unit tests (cmocka) then integration and chaos
# scenarios (each a script that starts real processes on 127.0.0.1).
# Prints one line per unit test program and per scenario (name, result,
# seconds); everything they print goes to the full log
# (SLUICE_TEST_LOG, default tests/last-run.log), named at the end; a
# failure also prints the tail of its own output, so a CI log alone says
# what broke.  SLUICE_TEST_VERBOSE=1 prints everything as it runs, too.
# Ends with one "N passed, N failed, N skipped" line (.ci/run greps it);
# exits non-zero on any failure.  SLUICE_TESTS="pat1 pat2" runs only the
# scenario scripts whose path contains one of the patterns (unit tests
# always run).
#
# Skips.  A scenario that cannot run here prints a line starting with
# "SKIP" (and exits 77).  That is NOT a pass: it counts as a failure unless
# the scenario is named in CANNOT_RUN below, with the reason it cannot run
# on the machines the suite runs on; then it counts as skipped, apart.
# Keep the list short and every reason checkable.
set -u
cd "$(dirname "$0")/.."

# name (script file name without .sh) -> why it cannot run on this machine.
# Empty: on the CI machine (root, /dev/net/tun for wanem, the private
# sshd + Slurm testbed, 6 GiB free for t_big) every scenario runs.  Add a
# line like  [t_hook_ssh]="slurmctld cannot start in this container"
# only for a reason that holds for the machine, never for a flaky test.
declare -A CANNOT_RUN=(
)

LOG=${SLUICE_TEST_LOG:-tests/last-run.log}
TAIL=${SLUICE_TEST_TAIL:-30}		# lines of a failure's output shown
: > "$LOG" || { echo "cannot write $LOG" >&2; exit 1; }
case "$LOG" in /*) ;; *) LOG=$(pwd)/$LOG;; esac
out=$(mktemp /tmp/sluice-run.XXXXXX)
trap 'rm -f "$out"' EXIT

pass=0; failn=0; skipn=0; failed=(); skipped=(); nchecks=0; nscen=0

# run_one KIND NAME CMD...: its output into $out and the log (and the
# terminal when verbose); sets rc and took.
run_one() {
	local kind=$1 name=$2 start
	shift 2
	printf '\n==== %s %s (%s)\n' "$kind" "$name" "$(date -u +%H:%M:%S)" >> "$LOG"
	start=$(date +%s)
	if [ "${SLUICE_TEST_VERBOSE:-0}" = 1 ]; then
		"$@" 2>&1 | tee "$out"
		rc=${PIPESTATUS[0]}
	else
		"$@" > "$out" 2>&1
		rc=$?
	fi
	took=$(( $(date +%s) - start ))
	cat "$out" >> "$LOG"
	printf '==== %s %s: exit %s in %ss\n' "$kind" "$name" "$rc" "$took" >> "$LOG"
}

line() {	# line NAME RESULT SECONDS [DETAIL]
	printf '%-26s %-8s %4ss%s\n' "$1" "$2" "$3" "${4:+  $4}"
}

show_tail() {
	if grep -q '^ *FAIL ' "$out"; then
		echo "    --- its FAIL lines ---"
		grep '^ *FAIL ' "$out" | head -10 | cut -c1-300 | sed 's/^/    | /'
	fi
	echo "    --- the last $TAIL lines of its output (all of it in $LOG) ---"
	tail -n "$TAIL" "$out" | cut -c1-300 | sed 's/^/    | /'
}

echo "unit tests:"
for t in tests/unit/test_*; do
	case "$t" in *.c|*.d) continue;; esac
	name=$(basename "$t")
	run_one unit "$name" "./$t"
	# cmocka's own count of the tests in the program
	n=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
	if [ "$rc" = 0 ]; then
		pass=$((pass + 1)); line "$name" passed "$took" "${n:+$n tests}"
	else
		failn=$((failn + 1)); failed+=("$t"); line "$name" FAILED "$took"; show_tail
	fi
done

echo "scenarios:"
for t in tests/integration/t_*.sh tests/chaos/t_*.sh; do
	[ -e "$t" ] || continue
	if [ -n "${SLUICE_TESTS:-}" ]; then
		m=0
		for pat in $SLUICE_TESTS; do case "$t" in *"$pat"*) m=1;; esac; done
		[ $m = 1 ] || continue
	fi
	name=$(basename "$t" .sh)
	run_one scenario "$name" timeout 600 bash "$t"
	checks=$(grep -c '^ *ok ' "$out")
	if grep -q '^ *SKIP\b' "$out" || [ "$rc" = 77 ]; then
		if [ -n "${CANNOT_RUN[$name]:-}" ] && { [ "$rc" = 0 ] || [ "$rc" = 77 ]; }; then
			skipn=$((skipn + 1)); skipped+=("$t (${CANNOT_RUN[$name]})")
			line "$name" SKIPPED "$took" "allowed: ${CANNOT_RUN[$name]}"
		else
			failn=$((failn + 1)); failed+=("$t (skipped, and not on the CANNOT_RUN list in tests/run.sh)")
			line "$name" FAILED "$took" "skipped, and not on the CANNOT_RUN list in tests/run.sh"
			grep '^ *SKIP' "$out" | head -3 | sed 's/^/    | /'
		fi
	elif [ "$rc" = 0 ]; then
		pass=$((pass + 1)); nchecks=$((nchecks + checks)); nscen=$((nscen + 1))
		line "$name" passed "$took" "$checks checks"
	else
		failn=$((failn + 1)); failed+=("$t")
		line "$name" FAILED "$took" "$([ "$rc" = 124 ] && echo "timed out after 600s" || echo "exit $rc")"
		show_tail
	fi
done
echo
echo "$nscen scenarios passed with $nchecks checks; full log: $LOG"
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
[ ${#skipped[@]} -gt 0 ] && printf 'skipped: %s\n' "${skipped[@]}"
echo "$pass passed, $failn failed, $skipn skipped"
[ "$failn" -eq 0 ]
