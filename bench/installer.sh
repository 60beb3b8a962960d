#!/bin/bash
# bench/installer.sh — Debian's real installer (d-i, fixtures/make-installer.sh) installing
# bookworm into one partition over PXE (BIOS), through `partboot install --via-vm` and through
# the QEMU line a user would write by hand: same installer, same mirror, same preseed, same
# vCPUs and memory. Prints the median of N runs of each (default 1) and the ratio.
#
#   bench/installer.sh [N]
#   UNTIL=base bench/installer.sh [N]   time to d-i's base-system step only (2.5 minutes alone,
#                                       4-5 side by side), then stop both (partboot with SIGTERM)
#   SIDE=0 bench/installer.sh [N]       one after the other instead of side by side
#   QCPU=M bench/installer.sh [N]       the hand-written line with -cpu M (default: QEMU's
#                                       default CPU model, qemu64, as a user's line has it)
#   PBCPU=M bench/installer.sh [N]      partboot with --cpu-model M (default: its own,
#                                       qemu64 with x86-64-v2's features under TCG)
#
# Side by side (the default as root with unshare -n): each run of the pair starts at the same
# moment, so both see the same machine; the hand-written line runs in a network namespace of
# its own (unshare -n) with its own copies of the mirror's and the preseed's servers, on the
# same ports, since the preseed and the boot line name 10.0.2.2:PORT for both. Each VM keeps
# most of two host cores busy under TCG, so side by side each run takes 1.5-1.7 times as long
# as alone: a whole-install pair took 32 and 38 minutes on 2 cores (alone a run is about 20).
#
# The hand-written line gets a copy of the same disk and the whole disk writable (no view,
# no locks, no checks), and the preseed from python3 -m http.server on the same port partboot
# serves it on; partboot's time includes everything it adds: marking the guest incomplete,
# the whole-disk view, the answers server, reading the console, and finishing the guest
# (fstab, hostname, the menu). A partboot run that fails is reported, never timed.
set -u
cd "$(dirname "$0")/.." || exit 1
N=${1:-1}
QCPU=${QCPU:-}
PBCPU=${PBCPU:-}
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
if [ -z "${SIDE:-}" ]; then
	SIDE=0
	[ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null && command -v ip >/dev/null && SIDE=1
fi

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
cp --sparse=always "$D" "$W/empty.img"

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

UNTIL=${UNTIL:-poweroff}
MARK="Installing the base system"
# until_mark PID CONSOLE T0: wait for the base-system step on CONSOLE, then SIGTERM PID;
# prints the milliseconds since T0 when it showed (nothing when PID ended first)
until_mark() {
	while kill -0 "$1" 2>/dev/null; do
		if grep -aq "$MARK" "$2" 2>/dev/null; then
			echo "$((($(now) - $3) / 1000000))"
			kill -TERM "$1"
			return
		fi
		sleep 1
	done
}

# pb_run I: partboot's run I, its milliseconds in $W/pbI.ms (absent when it failed)
pb_run() {
	local i=$1 t0 t pid
	cp --sparse=always "$W/empty.img" "$W/pb.img"
	t0=$(now)
	nice "$PARTBOOT" -q install "$W/pb.img" deb12 --via-vm "pxe:$INSTALLER_PXE_DIR" --answers "$W/answers/preseed.cfg" \
		--cpus "$CPUS" ${PBCPU:+--cpu-model "$PBCPU"} --mem "$MEM" --console "$W/pb$i.txt" --timeout 3600 2>"$W/pb$i.err" &
	pid=$!
	if [ "$UNTIL" = base ]; then
		t=$(until_mark $pid "$W/pb$i.txt" "$t0")
		wait $pid
		if [ -n "$t" ]; then echo "$t" >"$W/pb$i.ms"; else echo "bench/installer.sh: partboot run $i ended early" >&2; fi
	elif wait $pid; then
		echo "$((($(now) - t0) / 1000000))" >"$W/pb$i.ms"
	else
		echo "bench/installer.sh: partboot run $i failed: $(tail -n 1 "$W/pb$i.err")" >&2
	fi
}

# q_run I: the hand-written line's run I, its milliseconds in $W/qI.ms (absent when it failed);
# with SIDE=1 in a network namespace of its own, with the mirror's server there
q_run() {
	local i=$1 t0 t pid rc qmpid=
	cp --sparse=always "$W/empty.img" "$W/q.img"
	if [ "$SIDE" = 1 ]; then
		ip link set lo up || return
		python3 -m http.server --bind 127.0.0.1 --directory "$W/www" "$MPORT" >"$W/q-mirror.log" 2>&1 &
		qmpid=$!
	fi
	python3 -m http.server --bind 127.0.0.1 --directory "$W/answers" "$INSTALLER_ANSWERS_PORT" >"$W/answers.log" 2>&1 &
	local apid=$!
	sleep 1
	t0=$(now)
	nice timeout 3600 qemu-system-x86_64 -M q35 -accel tcg ${QCPU:+-cpu "$QCPU"} -m "$MEM" -smp "$CPUS" -nodefaults -display none \
		-no-reboot -serial "file:$W/q$i.txt" \
		-drive "file=$W/q.img,format=raw,if=virtio" \
		-netdev "user,id=n0,tftp=$INSTALLER_PXE_DIR,bootfile=pxelinux.0" -device virtio-net-pci,netdev=n0,bootindex=0 \
		-device virtio-rng-pci &
	pid=$!
	if [ "$UNTIL" = base ]; then
		t=$(until_mark $pid "$W/q$i.txt" "$t0")
		wait $pid
		rc=0
		[ -n "$t" ] || rc=1
	else
		wait $pid
		rc=$?
		t=$((($(now) - t0) / 1000000))
		grep -aq "partboot-standin-finish: done" "$W/q$i.txt" || rc=1
	fi
	kill "$apid" ${qmpid:+"$qmpid"} 2>/dev/null
	wait "$apid" ${qmpid:+"$qmpid"} 2>/dev/null
	if [ "$rc" -eq 0 ]; then
		echo "$t" >"$W/q$i.ms"
	else
		echo "bench/installer.sh: hand-written QEMU run $i did not finish (exit $rc)" >&2
	fi
}

for i in $(seq "$N"); do
	if [ "$SIDE" = 1 ]; then
		pb_run "$i" &
		ppid=$!
		export -f q_run now until_mark
		export W MPORT INSTALLER_ANSWERS_PORT INSTALLER_PXE_DIR MEM CPUS UNTIL MARK SIDE QCPU
		# shellcheck disable=SC2016 # $1 is the namespace's bash's argument
		unshare -n bash -c 'q_run "$1"' sh "$i"
		wait "$ppid"
	else
		pb_run "$i"
		q_run "$i"
	fi
	pbt=$(cat "$W/pb$i.ms" 2>/dev/null) qt=$(cat "$W/q$i.ms" 2>/dev/null)
	echo "bench/installer.sh: run $i$([ "$SIDE" = 1 ] && echo ', side by side'): partboot ${pbt:-failed}${pbt:+ ms}, by hand ${qt:-failed}${qt:+ ms}" >&2
done

npb=$(cat "$W"/pb*.ms 2>/dev/null | wc -l) nq=$(cat "$W"/q*.ms 2>/dev/null | wc -l)
pb=$(cat "$W"/pb*.ms 2>/dev/null | median)
q=$(cat "$W"/q*.ms 2>/dev/null | median)
[ -n "$pb" ] && [ -n "$q" ] || exit 1
if [ "$UNTIL" = base ]; then what="to the base-system step"; else what="the whole install, to power-off"; fi
echo "Debian's installer over PXE (BIOS), bookworm into one partition, $what, $CPUS vCPUs, $MEM MiB, TCG, medians of $npb and $nq finished runs of $N$([ "$SIDE" = 1 ] && echo ', each pair side by side'):"
awk -v p="$pb" -v q="$q" -v c="${QCPU:+, -cpu $QCPU}" -v pc="${PBCPU:+ --cpu-model $PBCPU}" 'BEGIN {
	printf "  partboot install --via-vm pxe:DIR --answers preseed.cfg%s  %7.1f s\n", pc, p / 1000
	printf "  qemu-system-x86_64 -M q35 ... (by hand%s)%*s%7.1f s\n", c, 20 - length(c), "", q / 1000
	printf "  ratio partboot / by hand                                   %7.3f\n", p / q
}'
