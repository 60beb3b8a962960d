#!/bin/bash
# bench/installer.sh — Debian's real installer (d-i, fixtures/make-installer.sh) installing
# bookworm into one partition over PXE (BIOS), through `partboot install --via-vm` and through
# the QEMU line a user would write by hand, side by side: same installer, same mirror, same
# preseed, same vCPUs and memory, one after the other. Prints the median of N runs of each
# (default 1: one run is about 20 minutes under TCG) and the ratio.
#
#   bench/installer.sh [N]
#   UNTIL=base bench/installer.sh [N]   time to d-i's base-system step only (about 7 minutes
#                                       each), then stop both (partboot with SIGTERM)
#
# The hand-written line gets a copy of the same disk and the whole disk writable (no view,
# no locks, no checks), and the preseed from python3 -m http.server on the same port partboot
# serves it on; partboot's time includes everything it adds: marking the guest incomplete,
# the whole-disk view, the answers server, reading the console, and finishing the guest
# (fstab, hostname, the menu). A partboot run that fails is reported, never timed.
set -u
cd "$(dirname "$0")/.." || exit 1
N=${1:-1}
PARTBOOT=${PARTBOOT:-$PWD/${BUILD:-build}/partboot}
CPUS=2
MEM=2048
out=$(./fixtures/make-installer.sh 2>/dev/null) || { echo "bench/installer.sh: fixtures/make-installer.sh failed" >&2; exit 1; }
# shellcheck source=/dev/null
. "$(printf '%s\n' "$out" | tail -n 1)"
W=$(mktemp -d "${TMPDIR:-/var/tmp}/partboot-bench.XXXXXX")
MPID=
trap 'if [ -n "$MPID" ]; then kill "$MPID"; fi; rm -rf "$W"' EXIT
export XDG_CACHE_HOME=$W/cache

mkdir -p "$W/www" "$W/answers" && ln -s "$INSTALLER_MIRROR" "$W/www/debian"
MPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$W/www" "$MPORT" >"$W/mirror.log" 2>&1 &
MPID=$!
sed -e "s/@MIRROR@/10.0.2.2:$MPORT/" -e "s|@TARGET@|/dev/vda4|" -e "s/@ROOTPW@/bench/" \
	"$INSTALLER_PRESEED" >"$W/answers/preseed.cfg"
sleep 1

D=$W/disk.img
"$PARTBOOT" -q init "$D" --size 4G --table gpt && "$PARTBOOT" -q add "$D" esp --type esp --size 64M &&
	"$PARTBOOT" -q add "$D" bios --type bios-boot --size 1M && "$PARTBOOT" -q add "$D" other --type root --size 300M &&
	"$PARTBOOT" -q add "$D" deb12 --type root --size rest && "$PARTBOOT" -q bootloader "$D" || exit 1

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

UNTIL=${UNTIL:-poweroff}
MARK="Installing the base system"
# until_mark PID CONSOLE: wait for the base-system step on CONSOLE, then SIGTERM PID; prints
# the milliseconds since T0 when it showed (nothing when PID ended first)
until_mark() {
	while kill -0 "$1" 2>/dev/null; do
		if grep -aq "$MARK" "$2" 2>/dev/null; then
			echo "$((($(now) - T0) / 1000000))"
			kill -TERM "$1"
			return
		fi
		sleep 1
	done
}

pb_t=() q_t=()
for i in $(seq "$N"); do
	pb_n=${#pb_t[@]}
	T0=$(now)
	if [ "$UNTIL" = base ]; then
		nice "$PARTBOOT" -q install "$D" deb12 --via-vm "pxe:$INSTALLER_PXE_DIR" --answers "$W/answers/preseed.cfg" \
			--cpus "$CPUS" --mem "$MEM" --console "$W/pb$i.txt" --timeout 3600 2>"$W/pb$i.err" &
		pbpid=$!
		t=$(until_mark $pbpid "$W/pb$i.txt")
		wait $pbpid
		if [ -n "$t" ]; then pb_t+=("$t"); else echo "bench/installer.sh: partboot run $i ended early" >&2; fi
	elif nice "$PARTBOOT" -q install "$D" deb12 --via-vm "pxe:$INSTALLER_PXE_DIR" --answers "$W/answers/preseed.cfg" \
		--cpus "$CPUS" --mem "$MEM" --console "$W/pb$i.txt" --timeout 3600 2>"$W/pb$i.err"; then
		pb_t+=("$((($(now) - T0) / 1000000))")
	else
		echo "bench/installer.sh: partboot run $i failed: $(tail -n 1 "$W/pb$i.err")" >&2
	fi

	cp --sparse=always "$D" "$W/q.img"
	python3 -m http.server --bind 127.0.0.1 --directory "$W/answers" "$INSTALLER_ANSWERS_PORT" >"$W/answers.log" 2>&1 &
	apid=$!
	sleep 1
	T0=$(now)
	nice timeout 3600 qemu-system-x86_64 -M q35 -accel tcg -m "$MEM" -smp "$CPUS" -nodefaults -display none \
		-no-reboot -serial "file:$W/q$i.txt" \
		-drive "file=$W/q.img,format=raw,if=virtio" \
		-netdev "user,id=n0,tftp=$INSTALLER_PXE_DIR,bootfile=pxelinux.0" -device virtio-net-pci,netdev=n0,bootindex=0 \
		-device virtio-rng-pci &
	qpid=$!
	if [ "$UNTIL" = base ]; then
		t=$(until_mark $qpid "$W/q$i.txt")
		wait $qpid
		rc=0
		[ -n "$t" ] || rc=1
	else
		wait $qpid
		rc=$?
		t=$((($(now) - T0) / 1000000))
		grep -aq "partboot-standin-finish: done" "$W/q$i.txt" || rc=1
	fi
	kill "$apid" 2>/dev/null
	wait "$apid" 2>/dev/null
	if [ "$rc" -eq 0 ]; then
		q_t+=("$t")
		echo "bench/installer.sh: run $i: partboot $([ ${#pb_t[@]} -gt "$pb_n" ] && echo "${pb_t[-1]} ms" || echo failed), by hand $t ms" >&2
	else
		echo "bench/installer.sh: hand-written QEMU run $i did not finish (exit $rc)" >&2
	fi
done

[ ${#pb_t[@]} -gt 0 ] && [ ${#q_t[@]} -gt 0 ] || exit 1
pb=$(printf '%s\n' "${pb_t[@]}" | median)
q=$(printf '%s\n' "${q_t[@]}" | median)
if [ "$UNTIL" = base ]; then what="to the base-system step"; else what="the whole install, to power-off"; fi
echo "Debian's installer over PXE (BIOS), bookworm into one partition, $what, $CPUS vCPUs, $MEM MiB, TCG, median of $N:"
awk -v p="$pb" -v q="$q" 'BEGIN {
	printf "  partboot install --via-vm pxe:DIR --answers preseed.cfg  %7.1f s\n", p / 1000
	printf "  qemu-system-x86_64 -M q35 ... (by hand)                    %7.1f s\n", q / 1000
	printf "  ratio partboot / by hand                                   %7.3f\n", p / q
}'
