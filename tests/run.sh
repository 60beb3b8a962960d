#!/bin/bash
# Run every test: the cmocka runners in $BUILD/tests, the call-graph check of the
# libraries (tests/callgraph.sh) and the end-to-end scripts in tests/e2e. All speak
# TAP ("ok N - name", "not ok N - name", "# SKIP why").
# Ends with one line "N passed, N failed, N skipped"; exits 1 on any failure.
# TESTS="part fs" runs only the runners/scripts whose names contain those words.
# SAN_BUILD=build-san SAN_TESTS="test- part fs" runs those again with the
# AddressSanitizer+UBSan build (binaries and e2e scripts), counted in the same line.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
export PARTBOOT=${PARTBOOT:-$PWD/$BUILD/partboot}
export PB_TOP=$PWD
export CMOCKA_MESSAGE_OUTPUT=TAP
passed=0 failed=0 skipped=0

want() {
	[ -z "${TESTS:-}" ] && return 0
	for w in $TESTS; do
		case "$1" in *"$w"*) return 0 ;; esac
	done
	return 1
}

run_one() {
	local name=$1
	shift
	local log rc start
	log=$(mktemp)
	start=$(date +%s)
	echo "# == $name"
	"$@" >"$log" 2>&1
	rc=$?
	local p f s
	# cmocka writes a skipped test as "not ok N # SKIP"; shell tests as "ok N - x # SKIP why"
	p=$(grep -E '^ok [0-9]+' "$log" | grep -cvE '# *SKIP')
	s=$(grep -E '^(not )?ok [0-9]+' "$log" | grep -cE '# *SKIP')
	f=$(grep -E '^not ok [0-9]+' "$log" | grep -cvE '# *SKIP')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# crashed or failed outside a test case: count it as one failure
		echo "not ok - $name exited $rc outside any test case" >>"$log"
		f=1
	fi
	if [ "$f" -ne 0 ] || [ "${VERBOSE:-0}" = 1 ]; then
		cat "$log"
	else
		grep -E '^(ok|not ok) [0-9]+|# *SKIP' "$log" | grep -E '# *SKIP' || true
	fi
	grep -E '^not ok' "$log" | grep -vE '# *SKIP' | sed "s|^|$name: |" >>"$failfile"
	echo "# $name: $p passed, $f failed, $s skipped ($(($(date +%s) - start)) s)"
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	rm -f "$log"
}

# A suite that ran nothing (no script found, every script gone before its first test) is
# a failure, not a pass: CI must never land on "0 passed".
no_test_ran() {
	[ $((passed + failed + skipped)) -eq 0 ] || return 1
	echo "not ok - no test ran${TESTS:+ (TESTS=$TESTS matched nothing)}"
	return 0
}

failfile=$(mktemp)
trap 'rm -f "$failfile"' EXIT

# SLOW=1: the slow suite only (tests/slow/*.sh, TAP like the others; make check-slow).
# INSTALLERS=1: Debian's real installer only (tests/installers/*.sh; make check-installers).
suite=
[ "${SLOW:-0}" = 1 ] && suite=slow
[ "${INSTALLERS:-0}" = 1 ] && suite=installers
if [ -n "$suite" ]; then
	for t in tests/"$suite"/*.sh; do
		[ -f "$t" ] || continue
		want "$suite/$(basename "$t")" || continue
		run_one "$suite/$(basename "$t")" bash "$t"
	done
	if [ -s "$failfile" ]; then
		echo "# failures:"
		cat "$failfile"
	fi
	echo "$passed passed, $failed failed, $skipped skipped"
	no_test_ran && exit 1
	[ "$failed" -eq 0 ]
	exit
fi

for t in "$BUILD"/tests/test-*; do
	[ -x "$t" ] || continue
	case "$t" in *.o | *.d) continue ;; esac
	want "$(basename "$t")" || continue
	run_one "$(basename "$t")" "$t"
done
# No two files of one library call each other (file-level call graph from the objects).
want callgraph && run_one callgraph bash tests/callgraph.sh "$BUILD"
for t in tests/e2e/*.sh; do
	[ -f "$t" ] || continue
	case "$(basename "$t")" in lib.sh) continue ;; esac
	want "e2e/$(basename "$t")" || continue
	run_one "e2e/$(basename "$t")" bash "$t"
done

if [ -n "${SAN_BUILD:-}" ]; then
	export PARTBOOT=$PWD/$SAN_BUILD/partboot
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	TESTS=${SAN_TESTS:-}
	for t in "$SAN_BUILD"/tests/test-*; do
		[ -x "$t" ] || continue
		case "$t" in *.o | *.d) continue ;; esac
	want "$(basename "$t")" || continue
		run_one "asan/$(basename "$t")" "$t"
	done
	for t in tests/e2e/*.sh; do
		case "$(basename "$t")" in lib.sh) continue ;; esac
	want "e2e/$(basename "$t")" || continue
		run_one "asan/e2e/$(basename "$t")" bash "$t"
	done
fi

if [ -s "$failfile" ]; then
	echo "# failures:"
	cat "$failfile"
fi
echo "$passed passed, $failed failed, $skipped skipped"
no_test_ran && exit 1
[ "$failed" -eq 0 ]
