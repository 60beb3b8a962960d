#!/bin/bash
# bench/fs.sh — how fast partboot fills a partition from a real root filesystem.
#
# Builds a Debian bookworm rootfs tarball once with mmdebstrap (cached in
# .cache/bench/, which git ignores), then fills a 2 GiB partition of a sparse
# image three ways, RUNS times each (default 5), and prints the median:
#   partboot   partboot install --wipe --from rootfs.tar (mkfs + fill, no root needed)
#   mke2fs -d  mke2fs -t ext4 -E offset=... -d DIR (from the extracted tree)
#   loop+tar   mke2fs, losetup -o, mount, tar -x, umount (needs root and loop devices)
# All three include making the filesystem; the inputs are warm in the page cache.
# Usage: bench/fs.sh [RUNS]     (PARTBOOT=path/to/partboot to pick a build)
# Any run that fails stops the bench with its message: no time is printed for a failed run.
set -euo pipefail
shopt -s inherit_errexit # and inside $(bench ...) too
cd "$(dirname "$0")/.."
RUNS=${1:-5}
PARTBOOT=${PARTBOOT:-$PWD/build/partboot}
CACHE=$PWD/.cache/bench
TAR=$CACHE/rootfs.tar
TREE=$CACHE/rootfs
INCLUDE=${BENCH_INCLUDE:-systemd-sysv,iproute2,iputils-ping,openssh-server,python3,perl,less,vim-tiny,locales,ca-certificates,curl}
mkdir -p "$CACHE"

if [ ! -s "$TAR" ]; then
	echo "# building $TAR with mmdebstrap (once)" >&2
	# The output name must end in .tar, or mmdebstrap makes a directory.
	mmdebstrap --quiet --variant=minbase --include="$INCLUDE" bookworm "$CACHE/rootfs.tmp.tar" >&2
	mv "$CACHE/rootfs.tmp.tar" "$TAR"
fi
if [ ! -d "$TREE" ]; then
	# mke2fs -d copies owners from the tree, so extract it as root with the archive's ids.
	mkdir -p "$TREE.tmp"
	tar -C "$TREE.tmp" --numeric-owner --xattrs --xattrs-include='*' -xpf "$TAR"
	mv "$TREE.tmp" "$TREE"
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/pb-bench.XXXXXX")
trap 'umount "$W/mnt" 2>/dev/null || true; [ -n "${LOOP:-}" ] && losetup -d "$LOOP" 2>/dev/null; rm -rf "$W"' EXIT
IMG=$W/disk.img
"$PARTBOOT" -q init "$IMG" --size 2100M >/dev/null
"$PARTBOOT" -q add "$IMG" root --type root --size 2G >/dev/null
OFF=$((1024 * 1024))
SIZE=$((2048 * 1024 * 1024))

MB=$(du -sb --apparent-size "$TREE" | awk '{printf "%.1f", $1 / 1e6}')
FILES=$(find "$TREE" | wc -l)
echo "# source: $(du -h --apparent-size "$TAR" | cut -f1) tar, $MB MB of files, $FILES entries; $RUNS runs each"

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

run_partboot() {
	"$PARTBOOT" -q install "$IMG" root --wipe --from "$TAR" >/dev/null
}
run_mke2fs_d() {
	mke2fs -q -F -t ext4 -b 4096 -E offset=$OFF,nodiscard -d "$TREE" "$IMG" $((SIZE / 1024))k
}
# Called as `"$fn" || ...`, where set -e does not reach: each step says when it failed.
run_loop_tar() {
	mke2fs -q -F -t ext4 -b 4096 -E offset=$OFF,nodiscard "$IMG" $((SIZE / 1024))k &&
		LOOP=$(losetup -f --show -o $OFF --sizelimit $SIZE "$IMG") &&
		mkdir -p "$W/mnt" && mount "$LOOP" "$W/mnt" || return 1
	tar -C "$W/mnt" --numeric-owner --xattrs --xattrs-include='*' -xpf "$TAR" || return 1
	umount "$W/mnt" && losetup -d "$LOOP" && LOOP=
}

bench() {
	local name=$1 fn=$2 t0 t1
	for _ in $(seq "$RUNS"); do
		# Start every run from a hole-punched partition, as a fresh image would be.
		fallocate -p -o $OFF -l $SIZE "$IMG"
		sync
		t0=$(now)
		"$fn" || { echo "bench/fs.sh: $name failed" >&2; return 1; }
		sync
		t1=$(now)
		echo "$t1 - $t0" | bc
	done | median
}

# LOOP_WHY: why loop+tar cannot run on this machine (empty when it can).
LOOP_WHY=
if [ "$(id -u)" != 0 ]; then
	LOOP_WHY="needs root"
elif ! losetup -f >/dev/null 2>&1 || [ ! -e "$(losetup -f 2>/dev/null)" ]; then
	LOOP_WHY="no free loop device"
fi

T_PB=$(bench partboot run_partboot)
# A fast fill that leaves a broken filesystem is no result.
if ! e2fsck -fn "$IMG?offset=$OFF" >"$W/fsck.out" 2>&1; then
	tail -n 20 "$W/fsck.out" >&2
	echo "bench/fs.sh: e2fsck found problems after partboot install" >&2
	exit 1
fi
T_MK=$(bench "mke2fs -d" run_mke2fs_d)
T_LT=
if [ -z "$LOOP_WHY" ]; then T_LT=$(bench "loop+tar" run_loop_tar); fi

printf '%-12s %10s %10s %10s\n' method "median s" "MB/s" "vs partboot"
row() {
	[ -z "$2" ] && { printf '%-12s %10s\n' "$1" "skipped ($LOOP_WHY)"; return; }
	printf '%-12s %10.2f %10.1f %10.2f\n' "$1" "$2" "$(echo "$MB / $2" | bc -l)" "$(echo "$2 / $T_PB" | bc -l)"
}
row partboot "$T_PB"
row "mke2fs -d" "$T_MK"
row "loop+tar" "$T_LT"
