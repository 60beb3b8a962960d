#!/bin/bash
# Run every test: the cmocka runners in $BUILD/tests, the call-graph check of the
# libraries (tests/callgraph.sh) and the end-to-end scripts in tests/e2e. All speak
# TAP ("ok N - name", "not ok N - name", "# SKIP why").
# Ends with one line "N passed, N failed, N skipped"; exits 1 on any failure.
# TESTS="part fs" runs only the runners/scripts whose names contain those words.
# SAN_BUILD=build-san SAN_TESTS="test- part fs" runs those again with the
# AddressSanitizer+UBSan build (binaries and e2e scripts), counted in the same line.
# SLOW=1: the slow suite (tests/slow/*.sh; make check-slow) instead; INSTALLERS=1: Debian's
# real installer (tests/installers/*.sh; make check-installers); both: both, in one pool.
#
# JOBS=N runs N of them at a time (default: the number of CPUs). Each script or runner is
# one job: it has its own scratch folder (tests/e2e/lib.sh), its own disks and its own
# ports, and most of the suite is single-threaded (QEMU's TCG, e2fsck, one partboot), so
# two at a time on two cores take about half as long. A job's output is held back and
# printed in one piece when it ends, after a "# started" line when it begins; the longest
# jobs (LONG below) start first so that no long one is left to run alone at the end.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
export PARTBOOT=${PARTBOOT:-$PWD/$BUILD/partboot}
export PB_TOP=$PWD
export CMOCKA_MESSAGE_OUTPUT=TAP
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 1)}
case $JOBS in '' | *[!0-9]* | 0) echo "tests/run.sh: JOBS=$JOBS: want a number from 1" >&2; exit 2 ;; esac
# the jobs that take longest (seconds on the 2-core development machine, one at a time):
# these start first, in this order
LONG=(installers/debian.sh slow/login.sh slow/hw.sh slow/secure-boot.sh slow/libvirt.sh
	e2e/vm.sh e2e/boot.sh e2e/hw.sh e2e/apply.sh e2e/guest.sh)

want() {
	[ -z "${TESTS:-}" ] && return 0
	for w in $TESTS; do
		case "$1" in *"$w"*) return 0 ;; esac
	done
	return 1
}

# The queue: job i is named Q_NAME[i] and runs Q_CMD[i] (a command line quoted with %q,
# environment assignments first).
Q_NAME=() Q_CMD=()
queue() {
	local name=$1
	shift
	Q_NAME+=("$name")
	Q_CMD+=("$(printf '%q ' "$@")")
}

# run_job I: run job I (in a subshell, in the background) into $R/I.log; then write what to
# show into $R/I.show, its failures into $R/I.fail and "passed failed skipped seconds" into
# $R/I.count
run_job() {
	local i=$1 name=${Q_NAME[$1]} log=$R/$1.log rc start p f s
	start=$(date +%s)
	eval "${Q_CMD[$i]}" >"$log" 2>&1 </dev/null
	rc=$?
	# cmocka writes a skipped test as "not ok N # SKIP"; shell tests as "ok N - x # SKIP why"
	p=$(grep -E '^ok [0-9]+' "$log" | grep -cvE '# *SKIP')
	s=$(grep -E '^(not )?ok [0-9]+' "$log" | grep -cE '# *SKIP')
	f=$(grep -E '^not ok [0-9]+' "$log" | grep -cvE '# *SKIP')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# crashed or failed outside a test case: count it as one failure
		echo "not ok - $name exited $rc outside any test case" >>"$log"
		f=1
	fi
	{
		echo "# == $name"
		if [ "$f" -ne 0 ] || [ "${VERBOSE:-0}" = 1 ]; then
			cat "$log"
		else
			grep -E '^(ok|not ok) [0-9]+' "$log" | grep -E '# *SKIP' || true
		fi
		echo "# $name: $p passed, $f failed, $s skipped ($(($(date +%s) - start)) s)"
	} >"$R/$i.show"
	grep -E '^not ok' "$log" | grep -vE '# *SKIP' | sed "s|^|$name: |" >"$R/$i.fail"
	echo "$p $f $s" >"$R/$i.count.tmp" && mv "$R/$i.count.tmp" "$R/$i.count"
}

passed=0 failed=0 skipped=0
# collect I: print job I's output and add up its counts (a job that left no counts, killed
# say, is one failure)
collect() {
	local i=$1 p=0 f=1 s=0
	if [ -s "$R/$i.count" ]; then
		read -r p f s <"$R/$i.count"
		cat "$R/$i.show"
		cat "$R/$i.fail" >>"$failfile"
	else
		echo "# == ${Q_NAME[$i]}"
		[ -f "$R/$i.log" ] && cat "$R/$i.log"
		echo "not ok - ${Q_NAME[$i]} ended without its counts"
		echo "${Q_NAME[$i]}: ended without its counts" >>"$failfile"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
}

# run_queue: every job, JOBS at a time, the LONG ones first
declare -A job_of=()
run_queue() {
	local order=() l i j pid running=0 n=${#Q_NAME[@]}
	declare -A long=()
	for l in "${LONG[@]}"; do
		long[$l]=1
		for ((i = 0; i < n; i++)); do [ "${Q_NAME[i]}" = "$l" ] && order+=("$i"); done
	done
	for ((i = 0; i < n; i++)); do [ -n "${long[${Q_NAME[i]}]:-}" ] || order+=("$i"); done
	for i in "${order[@]}" ''; do
		while [ "$running" -ge "$JOBS" ] || { [ -z "$i" ] && [ "$running" -gt 0 ]; }; do
			pid=
			if ! wait -n -p pid && [ -z "$pid" ]; then
				# no child left (cannot happen, but must not loop): collect what is left
				for j in "${job_of[@]}"; do collect "$j"; done
				job_of=()
				running=0
				break
			fi
			[ -n "${job_of[$pid]:-}" ] || continue
			collect "${job_of[$pid]}"
			unset "job_of[$pid]"
			running=$((running - 1))
		done
		[ -n "$i" ] || break
		[ "$JOBS" -gt 1 ] && echo "# started ${Q_NAME[i]}"
		run_job "$i" &
		job_of[$!]=$i
		running=$((running + 1))
	done
}

# A suite that ran nothing (no script found, every script gone before its first test) is
# a failure, not a pass: CI must never land on "0 passed".
no_test_ran() {
	[ $((passed + failed + skipped)) -eq 0 ] || return 1
	echo "not ok - no test ran${TESTS:+ (TESTS=$TESTS matched nothing)}"
	return 0
}

failfile=$(mktemp)
R=$(mktemp -d)
trap 'rm -rf "$failfile" "$R"' EXIT
# stopped: stop the running jobs, their tests and what those started (each test script then
# cleans up after itself)
kill_tree() {
	local c
	for c in $(pgrep -P "$1"); do kill_tree "$c"; done
	kill -TERM "$1" 2>/dev/null
}
stopped() {
	local pid
	for pid in "${!job_of[@]}"; do kill_tree "$pid"; done
	exit 130
}
trap stopped INT TERM

suites=
[ "${INSTALLERS:-0}" = 1 ] && suites="installers"
[ "${SLOW:-0}" = 1 ] && suites="$suites slow"
if [ -n "$suites" ]; then
	for suite in $suites; do
		for t in tests/"$suite"/*.sh; do
			[ -f "$t" ] || continue
			want "$suite/$(basename "$t")" || continue
			queue "$suite/$(basename "$t")" bash "$t"
		done
	done
else
	for t in "$BUILD"/tests/test-*; do
		[ -x "$t" ] || continue
		case "$t" in *.o | *.d) continue ;; esac
		want "$(basename "$t")" || continue
		queue "$(basename "$t")" "$t"
	done
	# No two files of one library call each other (file-level call graph from the objects).
	want callgraph && queue callgraph bash tests/callgraph.sh "$BUILD"
	for t in tests/e2e/*.sh; do
		[ -f "$t" ] || continue
		case "$(basename "$t")" in lib.sh) continue ;; esac
		want "e2e/$(basename "$t")" || continue
		queue "e2e/$(basename "$t")" bash "$t"
	done

	if [ -n "${SAN_BUILD:-}" ]; then
		san=(env "PARTBOOT=$PWD/$SAN_BUILD/partboot"
			"ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
			"UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}")
		TESTS=${SAN_TESTS:-}
		for t in "$SAN_BUILD"/tests/test-*; do
			[ -x "$t" ] || continue
			case "$t" in *.o | *.d) continue ;; esac
			want "$(basename "$t")" || continue
			queue "asan/$(basename "$t")" "${san[@]}" "$t"
		done
		for t in tests/e2e/*.sh; do
			case "$(basename "$t")" in lib.sh) continue ;; esac
			want "e2e/$(basename "$t")" || continue
			queue "asan/e2e/$(basename "$t")" "${san[@]}" bash "$t"
		done
	fi
fi
start=$SECONDS
run_queue
[ "$JOBS" -gt 1 ] && echo "# ${#Q_NAME[@]} jobs, $JOBS at a time: $((SECONDS - start)) s"

if [ -s "$failfile" ]; then
	echo "# failures:"
	cat "$failfile"
fi
echo "$passed passed, $failed failed, $skipped skipped"
no_test_ran && exit 1
[ "$failed" -eq 0 ]
