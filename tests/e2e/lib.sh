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
# pb_range NAME DISK: "START SIZE" in bytes of partition NAME (partboot list --json)
pb_range() { pb list --json "$2" | jq -r --arg n "$1" '.partitions[] | select(.name == $n) | "\(.start) \(.size)"'; }
# A fingerprint of a file's bytes that reads only what the file holds (SEEK_DATA): its size
# and every non-zero 64 KiB block with its offset, leaving out the ranges given (OFF:SIZE,
# 64 KiB aligned). Equal fingerprints, equal bytes (outside those ranges); much faster than
# sha256sum on the sparse images here.
fp() {
	python3 - "$@" <<'PY'
import hashlib, os, sys
h = hashlib.sha256()
fd = os.open(sys.argv[1], os.O_RDONLY)
cut = sorted(tuple(map(int, r.split(':'))) for r in sys.argv[2:])
size = os.fstat(fd).st_size
h.update(str(size).encode())
pos, zero = 0, bytes(65536)
while pos < size:
    try:
        pos = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError:
        break
    end = os.lseek(fd, pos, os.SEEK_HOLE)
    pos -= pos % 65536
    while pos < end:
        c = next(((o, n) for o, n in cut if o <= pos < o + n), None)
        if c:
            pos = c[0] + c[1]
            continue
        b = os.pread(fd, 65536, pos)
        if b != zero[:len(b)]:
            h.update(pos.to_bytes(8, 'little') + b)
        pos += 65536
print(h.hexdigest())
PY
}
# fp_ranges DISK WHAT...: OFF:SIZE for each partition name, OFF:SIZE given as is, "table" the
# first and last MiB
fp_ranges() {
	local disk=$1 x off size
	shift
	for x in "$@"; do
		case $x in
		*:*) echo "$x" ;;
		table) echo "0:1048576 $(($(stat -c %s "$disk") - 1048576)):1048576" ;;
		*) read -r off size <<<"$(pb_range "$x" "$disk")" && echo "$off:$size" ;;
		esac
	done
}
# fp_outside DISK WHAT...: the fingerprint of DISK outside those ranges
fp_outside() {
	local disk=$1
	shift
	# shellcheck disable=SC2046 # one word per range
	fp "$disk" $(fp_ranges "$disk" "$@")
}
# fp_unchanged_except COPY DISK WHAT...: DISK has COPY's bytes outside those ranges (of DISK)
fp_unchanged_except() {
	local copy=$1 disk=$2
	shift 2
	# shellcheck disable=SC2046 # one word per range
	[ "$(fp "$copy" $(fp_ranges "$disk" "$@"))" = "$(fp "$disk" $(fp_ranges "$disk" "$@"))" ]
}
t_done() {
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ]
}
