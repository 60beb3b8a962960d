#!/bin/bash
# bench/vm.sh — how fast `partboot run` boots the test guest, beside the QEMU line a user
# would write by hand. Prints, median of $N runs (default 5):
#   - launch → "PARTBOOT-GUEST" marker on the serial console: partboot run (direct mode)
#     and `qemu-system-x86_64 -M q35 -kernel … -initrd … -append …` on the same partition;
#   - the guest kernel's own boot time: the printk timestamp of "Run /init";
#   - partboot's own work before QEMU starts (its -v "prepared in" line), cold and warm cache;
#   - for each machine and disk controller partboot can choose (microvm + virtio-mmio, q35 +
#     virtio-blk-pci, NVMe, AHCI, pc + IDE; forced with --machine/--disk-bus on the same guest,
#     whose initramfs has every driver): launch -> marker of partboot run, beside a QEMU line
#     written by hand for the same controller (-kernel bzImage, 2 vCPUs, as a user writes it);
#   - the inspection of the guest (kernel config, initramfs) on its own (its -v "inspected in"
#     line): cold (empty cache: the initramfs is unpacked) and warm.
# Usage: bench/vm.sh [N]      (needs the test guest: make guest; root for the hand install)
# BENCH_CONTROLLERS=0 skips the per-controller boots (5 x 2 x N boots).
set -u
cd "$(dirname "$0")/.." || exit 1
N=${1:-5}
PARTBOOT=${PARTBOOT:-$PWD/${BUILD:-build}/partboot}
ENV=.cache/guest/env
die() { echo "bench/vm.sh: $*" >&2; exit 1; }
[ -f "$ENV" ] || die "build the test guest first (make guest)"
# shellcheck disable=SC1090
. "$ENV"
W=$(mktemp -d "${TMPDIR:-/tmp}/partboot-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
export XDG_CACHE_HOME=$W/cache
D=$W/disk.img

# partboot makes the disk and installs the guest; when it cannot, there is nothing to time.
"$PARTBOOT" -q init "$D" --size 300M || die "partboot init failed"
"$PARTBOOT" -q add "$D" g1 --type root --size 200M || die "partboot add failed"
read -r OFF SIZE < <(sfdisk -d "$D" | awk -F'[=,]' '/name="g1"/ { print $2 * 512, $4 * 512 }')
"$PARTBOOT" -q install "$D" g1 --from "$GUEST_TAR" || die "partboot install failed"
UUID=$(blkid -p -o value -s UUID -O "$OFF" "$D") || die "blkid finds no filesystem in g1"
[ -n "$UUID" ] || die "blkid finds no UUID in g1"
# The hand-written line boots with the guest's own kernel arguments, as partboot run does.
CMDLINE=$(tar xOf "$GUEST_TAR" ./etc/kernel/cmdline) || die "$GUEST_TAR has no ./etc/kernel/cmdline"

now() { date +%s%N; }
# time_to_marker LOG CMD...: milliseconds from launch to the marker; the console goes to
# LOG. No marker is a failed boot: status 1, nothing printed (never a made-up time).
time_to_marker() {
	local log=$1 t0
	shift
	t0=$(now)
	"$@" </dev/null 2>/dev/null | while IFS= read -r l; do
		printf '%s\n' "$l" >>"$log"
		case "$l" in *PARTBOOT-GUEST*) echo "$((($(now) - t0) / 1000000))" >"$log.t" ;; esac
	done
	[ -s "$log.t" ] || return 1
	cat "$log.t"
}
# failed LOG WHAT: the console's tail, then stop.
failed() {
	tail -n 15 "$1" >&2
	die "$2 never printed the guest's marker (console above)"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { awk -v v="$1" 'BEGIN {printf "%.2f s", v / 1000}'; }

cold=$("$PARTBOOT" -v run "$D" g1 --print-cmdline 2>&1 >/dev/null | tee "$W/cold.v" |
	sed -n 's/.*prepared in \([0-9.]*\) ms.*/\1/p')
icold=$(sed -n 's/.*inspected in \([0-9.]*\) ms.*/\1/p' "$W/cold.v")
warm=$(for _ in $(seq "$N"); do
	"$PARTBOOT" -v run "$D" g1 --print-cmdline 2>&1 >/dev/null | sed -n 's/.*prepared in \([0-9.]*\) ms.*/\1/p'
done | median)
[[ -n $cold && -n $warm ]] || die "partboot -v run --print-cmdline printed no 'prepared in' line"
iwarm=$(for _ in $(seq "$N"); do
	"$PARTBOOT" -v run "$D" g1 --print-cmdline 2>&1 >/dev/null | sed -n 's/.*inspected in \([0-9.]*\) ms (cached).*/\1/p'
done | median)
# the inspection of a guest partboot has never seen, N times: a fresh cache each time
icold_n=$(for i in $(seq "$N"); do
	XDG_CACHE_HOME=$W/cache-cold$i "$PARTBOOT" -v run "$D" g1 --print-cmdline 2>&1 >/dev/null |
		sed -n 's/.*inspected in \([0-9.]*\) ms.*/\1/p'
	rm -rf "$W/cache-cold$i"
done | median)

pb_t=() q_t=() k_t=()
for i in $(seq "$N"); do
	: >"$W/pb$i"
	t=$(time_to_marker "$W/pb$i" "$PARTBOOT" -q run "$D" g1 --timeout 120) || failed "$W/pb$i" "partboot run (run $i)"
	pb_t+=("$t")
	t=$(sed -n 's/^\[ *\([0-9.]*\)\] Run \/init.*/\1/p' "$W/pb$i" | head -n1)
	[ -n "$t" ] || failed "$W/pb$i" "the kernel's \"Run /init\" line (run $i)"
	k_t+=("$t")
	: >"$W/q$i"
	t=$(time_to_marker "$W/q$i" timeout 120 qemu-system-x86_64 -M q35 -m 512 -smp 2 -nographic \
		-kernel "$GUEST_KERNEL" -initrd "$GUEST_INITRD" -append "root=UUID=$UUID $CMDLINE" \
		-drive "if=virtio,driver=raw,offset=$OFF,size=$SIZE,file.filename=$D") || failed "$W/q$i" "qemu by hand (run $i)"
	q_t+=("$t")
done
pb=$(printf '%s\n' "${pb_t[@]}" | median)
q=$(printf '%s\n' "${q_t[@]}" | median)
k=$(printf '%s\n' "${k_t[@]}" | median)
accel=$("$PARTBOOT" run "$D" g1 --print-cmdline 2>/dev/null | grep -o -- '-accel [a-z]*' | cut -d' ' -f2)

# per controller: partboot run forced onto it, and a hand-written QEMU line for the same controller
ctl_names=(microvm-virtio-mmio q35-virtio-blk-pci q35-nvme q35-ahci pc-ide)
ctl_pb=("" "--machine q35" "--disk-bus nvme" "--disk-bus ahci" "--disk-bus ide")
SLICE="if=none,id=d0,driver=raw,offset=$OFF,size=$SIZE,file.filename=$D"
ctl_qemu=(
	"-M microvm,x-option-roms=off,isa-serial=on,acpi=on -drive $SLICE -device virtio-blk-device,drive=d0"
	"-M q35 -drive $SLICE -device virtio-blk-pci,drive=d0"
	"-M q35 -drive $SLICE -device nvme,drive=d0,serial=d0"
	"-M q35 -drive $SLICE -device ide-hd,drive=d0,bus=ide.0"
	"-M pc -drive $SLICE -device ide-hd,drive=d0,bus=ide.0"
)
ctl_pb_t=() ctl_q_t=() ctl_pb_runs=() ctl_q_runs=()
if [ "${BENCH_CONTROLLERS:-1}" != 0 ]; then
	for c in "${!ctl_names[@]}"; do
		a=() b=()
		extra=
		[ "$c" = 0 ] && extra=" tsc_early_khz=2000000" # microvm has no PIT: TCG hangs calibrating without it
		for i in $(seq "$N"); do
			: >"$W/c$c-pb$i"
			# shellcheck disable=SC2086
			a+=("$(time_to_marker "$W/c$c-pb$i" "$PARTBOOT" -q run "$D" g1 --timeout 120 ${ctl_pb[$c]})")
			: >"$W/c$c-q$i"
			# shellcheck disable=SC2086
			b+=("$(time_to_marker "$W/c$c-q$i" timeout 120 qemu-system-x86_64 ${ctl_qemu[$c]} -m 512 -smp 2 -nographic \
				-kernel "$GUEST_KERNEL" -initrd "$GUEST_INITRD" -append "root=UUID=$UUID $CMDLINE$extra")")
		done
		ctl_pb_t+=("$(printf '%s\n' "${a[@]}" | median)")
		ctl_q_t+=("$(printf '%s\n' "${b[@]}" | median)")
		ctl_pb_runs+=("${a[*]}")
		ctl_q_runs+=("${b[*]}")
	done
fi

echo "partboot run benchmark: test guest (kernel $GUEST_KVER), accel $accel, median of $N"
printf '  %-46s %s   (runs: %s)\n' "partboot run (direct mode), launch → marker" "$(ms "$pb")" "${pb_t[*]}"
printf '  %-46s %s   (runs: %s)\n' "qemu -M q35 -kernel … by hand, launch → marker" "$(ms "$q")" "${q_t[*]}"
printf '  %-46s %s\n' "ratio partboot / hand-written" "$(awk -v a="$pb" -v b="$q" 'BEGIN {printf "%.2f", a / b}')"
printf '  %-46s %s s   (printk timestamp of \"Run /init\", partboot run)\n' "guest kernel's own boot time" "$k"
printf '  %-46s %s ms cold (empty cache), %s ms warm\n' "partboot's work before QEMU starts" "$cold" "$warm"
printf '  %-46s %s ms cold (first run, median of %s fresh caches; %s ms in the run above), %s ms warm\n' \
	"inspection of the guest (config, initramfs)" "$icold_n" "$N" "$icold" "$iwarm"
if [ "${#ctl_pb_t[@]}" -gt 0 ]; then
	printf '  launch -> marker per machine and disk controller (partboot run forced onto it | QEMU by hand):\n'
	for c in "${!ctl_names[@]}"; do
		printf '    %-22s partboot %s   by hand %s   ratio %s   (runs: %s | %s)\n' "${ctl_names[$c]}" \
			"$(ms "${ctl_pb_t[$c]}")" "$(ms "${ctl_q_t[$c]}")" \
			"$(awk -v a="${ctl_pb_t[$c]}" -v b="${ctl_q_t[$c]}" 'BEGIN {printf "%.2f", a / b}')" \
			"${ctl_pb_runs[$c]}" "${ctl_q_runs[$c]}"
	done
fi
