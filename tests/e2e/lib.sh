# Shared helpers for the end-to-end tests: TAP output, a scratch folder, checksums.
# Each test script sources this, calls t_ok/t_fail (or check), and ends with t_done.
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
t_skip() { T_N=$((T_N + 1)); echo "ok $T_N - $1 # SKIP $2"; }
# check DESC CMD...: passes when CMD exits 0; shows its output when it does not.
check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		t_ok "$desc"
	else
		t_fail "$desc"
		printf '%s\n' "$out" | sed 's/^/#   /' | tail -n 20
	fi
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
	fi
}
sum() { sha256sum "$1" | cut -d' ' -f1; }
t_done() {
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ]
}
