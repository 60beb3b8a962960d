#!/bin/bash
# The whole tree (libraries, cli, the cmocka runners) compiled and linked with clang and
# -Werror into its own folder, build-clang/: clang warns where gcc does not (a format string
# that is not a literal, ...). Compile only, nothing runs; incremental with -j2, so it costs
# seconds once built.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$PB_TOP" || exit 1

if ! command -v clang >/dev/null; then
	t_skip "clang build" "clang missing (make deps)"
	t_done
	exit
fi
# A make of its own: make check's jobserver and flags (MAKEFLAGS) stay out of it.
start=$(date +%s)
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -j2 CC=clang BUILD=build-clang \
	SANITIZE=0 WERROR=1 tests >"$T_DIR/clang.log" 2>&1; then
	t_ok "clang -Werror builds libraries, cli and tests into build-clang/ ($(($(date +%s) - start)) s)"
else
	t_fail "clang -Werror build (make CC=clang BUILD=build-clang tests)"
	grep -E 'error|warning' "$T_DIR/clang.log" | head -n 30 | sed 's/^/#   /'
	tail -n 5 "$T_DIR/clang.log" | sed 's/^/#   /'
fi
t_done
