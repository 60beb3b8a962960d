#!/bin/bash
# The libFuzzer harnesses of fuzz/ (docs/fuzzing.md), built with clang, coverage and
# ASan+UBSan into build-fuzz/ (make FUZZ=1 fuzzers; incremental), each run for FUZZ_SECONDS
# (3 here; `make fuzz` runs 300) on the seeds fuzz/seeds.sh makes from the fixtures and the
# corpus kept in build-fuzz/corpus/. One TAP line per harness with its exec/s and coverage;
# a crash, a sanitizer report or a broken invariant fails it, its input in build-fuzz/crashes/.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$PB_TOP" || exit 1

if ! command -v clang >/dev/null; then
	t_skip "fuzzing" "clang missing (make deps)"
	t_done
	exit
fi
# A make of its own: make check's jobserver and flags (MAKEFLAGS) stay out of it.
start=$(date +%s)
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -j2 FUZZ=1 fuzzers >"$T_DIR/build.log" 2>&1; then
	t_fail "the harnesses build (make FUZZ=1 fuzzers)"
	grep -E 'error|warning' "$T_DIR/build.log" | head -n 20 | sed 's/^/#   /'
	t_done
	exit 1
fi
t_ok "the harnesses build with clang, coverage and ASan+UBSan into build-fuzz/ ($(($(date +%s) - start)) s)"
while IFS= read -r line; do
	case $line in
	"ok - "*) t_ok "fuzz ${line#ok - }" ;;
	"not ok - "*) t_fail "fuzz ${line#not ok - }" ;;
	*) echo "$line" ;;
	esac
done < <(FUZZ_SECONDS=${FUZZ_SECONDS:-3} ./fuzz/run.sh 2>&1)
t_done
