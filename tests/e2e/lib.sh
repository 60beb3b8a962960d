# shellcheck shell=bash
# Shared helpers for the end-to-end tests: TAP output, a scratch folder, checksums.
# Each test script sources this, calls t_ok/t_fail (or check), and ends with t_done.
# A test never turns a failure into a pass or a skip: a partboot step that fails is a
# "not ok" with its output, and t_skip is only for what the machine lacks, with the reason.
set -u
: "${PARTBOOT:?PARTBOOT must name the partboot binary}"
PB_TOP=${PB_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
T_N=0
T_FAILED=0
T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/partboot-e2e.XXXXXX")
trap 't_cleanup' EXIT
# Tests run partboot as an ordinary user too: let them into the scratch folder.
chmod 755 "$T_DIR"
# A copy of partboot any user can run: the build folder may sit where only its owner can
# go (CI clones into a mktemp -d folder, mode 0700).
pb_public() {
	if [ ! -x "$T_DIR/bin/partboot" ]; then
		mkdir -p "$T_DIR/bin" && chmod 755 "$T_DIR/bin" && cp "$PARTBOOT" "$T_DIR/bin/partboot" &&
			chmod 755 "$T_DIR/bin/partboot"
	fi
	echo "$T_DIR/bin/partboot"
}
t_cleanup() {
	[ -n "${T_KEEP:-}" ] && { echo "# kept $T_DIR"; return; }
	rm -rf "$T_DIR"
}
pb() { "$PARTBOOT" "$@"; }

t_ok() { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
t_fail() { T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $*"; }
# t_skip DESC WHY: a test this machine cannot run, and why ("qemu-system-x86_64 missing").
# Without a reason it is a failure.
t_skip() {
	if [ -z "${2:-}" ]; then
		t_fail "$1 (skipped without a reason)"
		return 1
	fi
	T_N=$((T_N + 1))
	echo "ok $T_N - $1 # SKIP $2"
}
# check DESC CMD...: passes when CMD exits 0; shows its output when it does not (and
# returns 1, so a script can stop when later tests depend on this one).
check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		t_ok "$desc"
	else
		t_fail "$desc"
		printf '%s\n' "$out" | sed 's/^/#   /' | tail -n 20
		return 1
	fi
}
# lacks DESC PATTERN CMD...: CMD exits 0 and no line of its output matches PATTERN (grep -E).
# `! CMD | grep -q PATTERN` would pass when CMD fails and prints nothing; this does not.
lacks() {
	local desc=$1 pat=$2 out rc
	shift 2
	out=$("$@" 2>"$T_DIR/lacks.err")
	rc=$?
	if [ "$rc" -ne 0 ]; then
		t_fail "$desc ($1 exited $rc)"
		sed 's/^/#   /' "$T_DIR/lacks.err" | tail -n 10
		return 1
	elif grep -qE -- "$pat" <<<"$out"; then
		t_fail "$desc (found '$pat')"
		grep -E -- "$pat" <<<"$out" | head -n 5 | sed 's/^/#   /'
		return 1
	fi
	t_ok "$desc"
}
# refuses DESC STATUS PATTERN CMD...: CMD must exit STATUS and print PATTERN (grep -E) on stderr.
refuses() {
	local desc=$1 want=$2 pat=$3 rc
	shift 3
	"$@" >"$T_DIR/out" 2>"$T_DIR/err"
	rc=$?
	if [ "$rc" -eq "$want" ] && grep -qE -- "$pat" "$T_DIR/err"; then
		t_ok "$desc"
	else
		t_fail "$desc (exit $rc, want $want; stderr below)"
		sed 's/^/#   /' "$T_DIR/err" | head -n 10
		return 1
	fi
}
sum() { sha256sum "$1" | cut -d' ' -f1; }
t_done() {
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ]
}
