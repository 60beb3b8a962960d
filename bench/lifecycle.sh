#!/bin/bash
# bench/lifecycle.sh — how fast partboot copies a whole guest: clone and snapshot of a guest
# holding a Debian bookworm root (tests/slow/debian.sh's guest: debootstrap:bookworm:minbase
# with its kernel, about 670 MB) in a 2 GiB partition of a sparse image, next to the same
# partition copied by
#   e2image -ra  the blocks in use, into a sparse file (e2image -ra -o OFFSET DISK OUT)
#   dd           every byte, zero blocks skipped on output (dd conv=sparse)
# RUNS rounds (default 5), each running every method once; the median of each is printed,
# and the ratio of each baseline's median to it (above 1: faster than the baseline). partboot's numbers are whole verbs: clone includes the new
# partition, the copy, tune2fs rewriting the checksums for the new UUID and the
# after-install steps; snapshot the sparse raw file with its header (and --zstd apart).
# The disk is built once with mmdebstrap (the .debs cached in .cache/debootstrap/, the disk
# in .cache/i14/bench/); inputs are warm in the page cache; every output is removed (the
# clone's range punched again) and synced between runs.
# Usage: bench/lifecycle.sh [RUNS]     (PARTBOOT=path/to/partboot to pick a build)
set -eu
cd "$(dirname "$0")/.."
RUNS=${1:-5}
PARTBOOT=${PARTBOOT:-$PWD/build/partboot}
CACHE=$PWD/.cache/i14/bench
DISK=$CACHE/debian.img
mkdir -p "$CACHE" "$PWD/.cache/debootstrap"

if [ ! -s "$DISK" ]; then
	echo "# building $DISK: partboot install --from debootstrap:bookworm:minbase (once)" >&2
	rm -f "$DISK.tmp"
	"$PARTBOOT" -q init "$DISK.tmp" --size 4200M
	"$PARTBOOT" -q add "$DISK.tmp" deb --type root --size 2G
	"$PARTBOOT" -q install "$DISK.tmp" deb --from debootstrap:bookworm:minbase --deb-cache "$PWD/.cache/debootstrap" >&2
	mv "$DISK.tmp" "$DISK"
fi
read -r OFF SIZE < <("$PARTBOOT" list --json "$DISK" | jq -r '.partitions[] | select(.name == "deb") | "\(.start) \(.size)"')
USED=$(dumpe2fs -h "$DISK?offset=$OFF" 2>/dev/null | awk -F: '/^Block count/ {b = $2} /^Free blocks/ {f = $2} END {printf "%.0f", (b - f) * 4096 / 1e6}')

W=$(mktemp -d "${TMPDIR:-/var/tmp}/pb-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
# The disk is copied once per bench run set (cp --sparse), so the cached one stays as built.
cp --sparse=always "$DISK" "$W/disk.img"
IMG=$W/disk.img

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

run_clone() { "$PARTBOOT" -q clone "$IMG" deb copy >/dev/null; }
# remove leaves the data: punch the range so every run starts from the same image
undo_clone() {
	local off size
	read -r off size < <("$PARTBOOT" list --json "$IMG" | jq -r '.partitions[] | select(.name == "copy") | "\(.start) \(.size)"')
	"$PARTBOOT" -q remove "$IMG" copy && fallocate -p -o "$off" -l "$size" "$IMG"
}
run_snapshot() { "$PARTBOOT" -q snapshot "$IMG" deb --to "$W/snap.img"; }
run_snapshot_zstd() { "$PARTBOOT" -q snapshot "$IMG" deb --to "$W/snap.img.zst"; }
run_e2image() { e2image -ra -o "$OFF" "$IMG" "$W/e2image.img" 2>/dev/null; }
run_dd() {
	dd if="$IMG" of="$W/dd.img" bs=4M iflag=skip_bytes,count_bytes skip="$OFF" count="$SIZE" conv=sparse status=none
}
undo_files() { rm -f "$W/snap.img" "$W/snap.img.zst" "$W/e2image.img" "$W/dd.img"; }

# timed NAME RUN UNDO: one run in seconds (its sync included), UNDO afterwards
timed() {
	local name=$1 fn=$2 undo=$3 t0 t1
	sync
	t0=$(now)
	"$fn" || { echo "bench/lifecycle.sh: $name failed" >&2; return 1; }
	sync
	t1=$(now)
	"$undo" || { echo "bench/lifecycle.sh: cannot undo $name" >&2; return 1; }
	echo "$t1 - $t0" | bc
}

# A fast copy that is broken is no result: check each once, and what each allocates.
BASE_KB=$(du -k "$IMG" | cut -f1)
run_clone
e2fsck -fn "$IMG?offset=$("$PARTBOOT" list --json "$IMG" | jq '.partitions[] | select(.name == "copy") | .start')" >/dev/null ||
	{ echo "bench/lifecycle.sh: the clone is not e2fsck clean" >&2; exit 1; }
CLONE_KB=$(($(du -k "$IMG" | cut -f1) - BASE_KB))
undo_clone
run_snapshot && run_snapshot_zstd && run_e2image && run_dd
e2fsck -fn "$W/snap.img" >/dev/null || { echo "bench/lifecycle.sh: the snapshot is not e2fsck clean" >&2; exit 1; }
SNAP_KB=$(du -k "$W/snap.img" | cut -f1)
ZSTD_KB=$(du -k "$W/snap.img.zst" | cut -f1)
E2I_KB=$(du -k "$W/e2image.img" | cut -f1)
DD_KB=$(du -k "$W/dd.img" | cut -f1)
undo_files

# Rounds, each running every method once, so that a busy moment of the machine falls on all
# of them alike; the median of each over the rounds.
for _ in $(seq "$RUNS"); do
	echo "$(timed clone run_clone undo_clone) $(timed snapshot run_snapshot undo_files)" \
		"$(timed "snapshot --zstd" run_snapshot_zstd undo_files) $(timed "e2image -ra" run_e2image undo_files)" \
		"$(timed "dd conv=sparse" run_dd undo_files)"
done >"$W/times"
col() { awk -v c="$1" '{print $c}' "$W/times" | median; }
T_CLONE=$(col 1) T_SNAP=$(col 2) T_ZSTD=$(col 3) T_E2I=$(col 4) T_DD=$(col 5)

echo "# a ${USED} MB Debian root (bookworm minbase + kernel) in a $((SIZE >> 20)) MiB partition;" \
	"median of $RUNS rounds; $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-24s %9s %14s %14s %10s\n' what "median s" "MiB allocated" "e2image -ra/it" "dd/it"
row() {
	printf '%-24s %9.2f %14s %14.2f %10.2f\n' "$1" "$2" "$3" "$(echo "$T_E2I / $2" | bc -l)" "$(echo "$T_DD / $2" | bc -l)"
}
row "partboot clone" "$T_CLONE" "$((CLONE_KB / 1024))"
row "partboot snapshot" "$T_SNAP" "$((SNAP_KB / 1024))"
row "partboot snapshot --zstd" "$T_ZSTD" "$((ZSTD_KB / 1024))"
row "e2image -ra" "$T_E2I" "$((E2I_KB / 1024))"
row "dd conv=sparse" "$T_DD" "$((DD_KB / 1024))"
