#!/bin/bash
# End-to-end test of `partboot apply`: whole disks from the layouts in fixtures/ (the demo
# disk: two test guests, BIOS + UEFI GRUB, a default), checked with real tools (sfdisk
# --verify, e2fsck -fn, mtools, partboot list --json); reproducible images (two builds,
# same sha256); bad layouts refused before anything is written (disk byte-identical,
# message naming FILE:LINE); apply on an existing disk (adds what is missing, finishes an
# interrupted guest, refuses destructive changes unless --force, --dry-run writes
# nothing). No VM boot here: tests/e2e/boot.sh boots partboot's GRUB, `make demo` boots
# this very layout.
. "$(dirname "$0")/lib.sh"

GUEST_ENV=$PB_TOP/.cache/guest/env
export MTOOLS_SKIP_CHECK=1
unset SOURCE_DATE_EPOCH

missing=
for p in sfdisk e2fsck debugfs mdir mcopy mkfs.fat grub-mkimage jq partx; do
	command -v "$p" >/dev/null || missing="$missing $p"
done
[ -r "$GUEST_ENV" ] || missing="$missing test-guest(make guest)"
if [ -n "$missing" ]; then
	t_skip "apply e2e" "missing:$missing"
	t_done
	exit
fi
# shellcheck source=/dev/null
. "$GUEST_ENV"
cd "$T_DIR" || exit 1

start_of() { partx -g -o START -n "$2" "$1" | tr -d ' '; }
nr_of() { pb list --json "$1" | jq -r --arg n "$2" '.partitions[] | select(.name == $n) | .nr'; }
# fsck_guest DISK NAME: e2fsck -fn on the guest's ext4, in place (offset).
fsck_guest() {
	local off
	off=$(($(start_of "$1" "$(nr_of "$1" "$2")") * 512))
	e2fsck -fn "$1?offset=$off"
}
# json DISK JQ-EXPR: true when the expression holds on `list --json`.
json() { pb list --json "$1" | jq -e "$2" >/dev/null; }
# fixture NAME: fixtures/NAME copied here ($T_DIR), the guest source made absolute.
fixture() { sed "s#^source = \.\./\.cache/guest/guest.tar#source = $GUEST_TAR#" "$PB_TOP/fixtures/$1" >"$1"; }
# refuses_same DESC PATTERN DISK CMD...: exit 1, PATTERN on stderr, DISK byte-identical.
refuses_same() {
	local desc=$1 pat=$2 disk=$3 before
	shift 3
	before=$(sum "$disk")
	refuses "$desc" 1 "$pat" "$@"
	check "$desc: disk unchanged" test "$(sum "$disk")" = "$before"
}
# refuses_nothing DESC PATTERN CMD...: exit 1, PATTERN, and no disk n.img created.
refuses_nothing() {
	local desc=$1 pat=$2
	shift 2
	rm -f n.img
	refuses "$desc" 1 "$pat" "$@"
	check "$desc: no disk created" test ! -e n.img
}

# --- the demo disk ------------------------------------------------------------------------
fixture demo.conf
check "apply demo.conf" pb apply d1.img demo.conf
check "sfdisk --verify" sfdisk --verify d1.img
check "e2fsck -fn alpha" fsck_guest d1.img alpha
check "e2fsck -fn beta" fsck_guest d1.img beta
check "list: partitions bios, esp, alpha, beta" json d1.img '[.partitions[].name] == ["bios","esp","alpha","beta"]'
check "list: both guests complete" json d1.img '[.partitions[] | select(.name == "alpha" or .name == "beta") | .state] == ["complete","complete"]'
check "list: alpha is the default" json d1.img '.partitions[] | select(.name == "alpha") | .boot == "default"'
check "list: ESP is vfat" json d1.img '.partitions[] | select(.name == "esp") | .fstype == "vfat"'
check "hostname of beta" test "$(pb cat d1.img beta /etc/hostname)" = beta
check "hostname of alpha" test "$(pb cat d1.img alpha /etc/hostname)" = alpha
check "cmdline of beta" grep -q "console=ttyS0" <(pb cat d1.img beta /etc/kernel/cmdline)
check "fstab of alpha names its root by UUID" grep -qE "^UUID=$(pb list --json d1.img | jq -r '.partitions[2].uuid')[[:space:]]+/[[:space:]]" \
	<(pb cat d1.img alpha /etc/fstab)
esp="d1.img@@$(($(start_of d1.img 2) * 512))"
check "UEFI GRUB on the ESP" mdir -i "$esp" ::/EFI/BOOT/BOOTX64.EFI
check "grub.cfg lists alpha and beta" bash -c "mtype -i '$esp' ::/grub/grub.cfg | grep -q -- \"--id 'alpha'\" &&
	mtype -i '$esp' ::/grub/grub.cfg | grep -q -- \"--id 'beta'\""
check "grubenv: saved_entry=alpha" bash -c "mtype -i '$esp' ::/grub/grubenv | grep -qx saved_entry=alpha"
check "BIOS GRUB in the MBR" bash -c "dd if=d1.img bs=1 skip=$((0x180)) count=64 status=none | grep -aq GRUB"
if pb -q apply q.img demo.conf 2>q.err && [ ! -s q.err ]; then t_ok "-q: nothing on stderr"; else t_fail "-q: $(head -c 300 q.err)"; fi

# --- reproducible ------------------------------------------------------------------------
sleep 1 # another second on the clock: times must come from the seed, not from now
check "apply demo.conf again, another disk" pb -q apply d2.img demo.conf
check "same layout, seed, inputs: identical sha256" test "$(sum d1.img)" = "$(sum d2.img)"
check "SOURCE_DATE_EPOCH: identical too" bash -c "
	SOURCE_DATE_EPOCH=1700000000 '$PARTBOOT' -q apply e1.img demo.conf && sleep 1 &&
	SOURCE_DATE_EPOCH=1700000000 '$PARTBOOT' -q apply e2.img demo.conf && cmp -s e1.img e2.img"
check "--seed overrides the layout's seed: other bytes" bash -c "
	'$PARTBOOT' -q apply d3.img demo.conf --seed other && ! cmp -s d1.img d3.img"
rm -f d3.img e1.img e2.img q.img

# --- other fixtures --------------------------------------------------------------------------
fixture dos.conf
check "apply dos.conf (MBR, BIOS GRUB in the gap)" pb -q apply o.img dos.conf
check "dos: sfdisk --verify" sfdisk --verify o.img
check "dos: guest complete and default" json o.img '.partitions[1].state == "complete" and .partitions[1].boot == "default"'
rm -f o.img
fixture small.conf
check "apply small.conf (uefi, swap, empty data)" pb -q apply s.img small.conf
check "small: swap signature" json s.img '.partitions[] | select(.name == "swap") | .fstype == "swap"'
check "small: spare left empty" json s.img '.partitions[] | select(.name == "spare") | .fstype == null'
check "small: e2fsck -fn two" fsck_guest s.img two

# --- re-applying an unchanged layout: nothing written ---------------------------------------
before=$(sum d1.img)
check "re-apply an unchanged layout" sh -c "'$PARTBOOT' apply d1.img demo.conf 2>re.err"
check "re-apply: skips complete guests" grep -q "skip 'alpha': guest complete" re.err
check "re-apply: keeps the bootloader and default" grep -q "keep default alpha" re.err
check "re-apply: disk byte-identical" test "$(sum d1.img)" = "$before"

# --- bad layouts: refused before anything is written, FILE:LINE named ------------------------
# The layout is checked before the disk is opened, so a small disk shows it as well (and
# hashes faster than the demo disk).
check "a small disk for the refusals" pb -q init b.img --size 16M --seed b
# bad NAME SED-SCRIPT: a broken copy of demo.conf in NAME.conf
bad() { sed "$2" demo.conf >"$1.conf"; }
line_of() { grep -n -- "$2" "$1.conf" | head -n 1 | cut -d: -f1; }
bad unknown 's/^label = alpha$/colour = red/'
refuses_same "unknown key" "unknown.conf:$(line_of unknown colour): unknown key 'colour'" b.img pb apply b.img unknown.conf
refuses_nothing "unknown key (new disk)" "unknown.conf:[0-9]+: unknown key" pb apply n.img unknown.conf
bad nosrc '0,/^source = /s#^source = .*#source = missing/guest.tar#'
refuses_same "missing source" "nosrc.conf:$(line_of nosrc missing/): \[partition alpha\]: source .*missing/guest.tar: No such file" \
	b.img pb apply b.img nosrc.conf
refuses_nothing "missing source (new disk)" "nosrc.conf:[0-9]+: .*No such file" pb apply n.img nosrc.conf
bad big 's/^size = 200M$/size = 2G/'
refuses_nothing "partition larger than the disk" "big.conf:$(line_of big 'size = 2G'): n.img: partition 'alpha': 2 GiB requested" \
	pb apply n.img big.conf
bad small 's/^size = 600M$/size = 100M/'
refuses_nothing "partitions do not fit" "small.conf:[0-9]+: n.img: partition 'alpha': 200 MiB requested, largest free space" \
	pb apply n.img small.conf
check "a 100 MiB disk" pb -q init e.img --size 100M
refuses_same "partitions do not fit an existing disk" "e.img: is 100 MiB.*|small.conf:[0-9]+:" e.img pb apply e.img small.conf
bad twodef 's/^default = alpha$/default = alpha\ndefault = beta/'
refuses_same "two defaults" "twodef.conf:$(line_of twodef 'default = beta'): duplicate key 'default'" b.img pb apply b.img twodef.conf
bad defesp 's/^default = alpha$/default = esp/'
refuses_same "default that is not a guest" "defesp.conf:$(line_of defesp 'default = esp'): default 'esp' is not a guest" \
	b.img pb apply b.img defesp.conf
bad defnone 's/^default = alpha$/default = gamma/'
refuses_same "default that is not a partition" "defnone.conf:[0-9]+: default 'gamma' is not a partition" b.img pb apply b.img defnone.conf
bad guestesp '/^\[partition esp\]/a source = '"$GUEST_TAR"
refuses_same "guest on the ESP" "guestesp.conf:$(line_of guestesp '^source'): \[partition esp\]: a guest \(source =\) goes into a root or data partition, not esp" \
	b.img pb apply b.img guestesp.conf
bad guestbios '/^\[partition bios\]/a source = '"$GUEST_TAR"
refuses_same "guest on the BIOS boot partition" "guestbios.conf:[0-9]+: \[partition bios\]: a guest .* not bios-boot" \
	b.img pb apply b.img guestbios.conf
fixture small.conf # again: "bad small" above overwrote it
sed '/^\[partition swap\]/a source = '"$GUEST_TAR" small.conf >guestswap.conf
refuses_same "guest on a swap partition" "guestswap.conf:[0-9]+: \[partition swap\]: a guest .* not swap" \
	b.img pb apply b.img guestswap.conf
bad fsbios '/^\[partition bios\]/a fs = ext4'
refuses_same "fs on a bios-boot partition" "fsbios.conf:$(line_of fsbios 'fs = ext4'): \[partition bios\]: a bios-boot partition holds GRUB's core.img" \
	b.img pb apply b.img fsbios.conf
bad fsesp '/^\[partition esp\]/a fs = ext4'
refuses_same "ext4 on the ESP" "fsesp.conf:[0-9]+: \[partition esp\]: an esp partition holds vfat, not ext4" b.img pb apply b.img fsesp.conf
bad fsguest '/^\[partition alpha\]/a fs = vfat'
refuses_same "a guest in vfat" "fsguest.conf:[0-9]+: \[partition alpha\]: a guest lives in ext4, not vfat" b.img pb apply b.img fsguest.conf
bad swaproot '/^\[partition alpha\]/a fs = swap'
refuses_same "swap on a root partition" "swaproot.conf:[0-9]+: \[partition alpha\]: swap goes on a partition of type swap" \
	b.img pb apply b.img swaproot.conf
bad tinyfat '/^\[partition esp\]/a fs = vfat'
sed -i 's/^size = 64M$/size = 20M/' tinyfat.conf
refuses_nothing "vfat too small for FAT32" "tinyfat.conf:[0-9]+: \[partition esp\]: fs = vfat needs at least 33 MiB" pb apply n.img tinyfat.conf
bad host 's/^hostname = beta$/hostname = be_ta/'
refuses_same "bad hostname" "host.conf:$(line_of host be_ta): \[partition beta\]: 'be_ta' is not a valid hostname" b.img pb apply b.img host.conf
bad nobios '/^\[partition bios\]/,/^$/d'
refuses_nothing "bios on gpt without a bios-boot partition" "nobios.conf:[0-9]+: bootloader = bios on gpt needs a bios-boot partition" \
	pb apply n.img nobios.conf
bad stdin '0,/^source = /s#^source = .*#source = -#'
refuses_same "source = - (stdin)" "stdin.conf:[0-9]+: \[partition alpha\]: source '-'" b.img pb apply b.img stdin.conf
bad iso '0,/^source = /s#^source = .*#source = iso:nothere.iso#'
refuses_same "missing ISO" "iso.conf:[0-9]+: \[partition alpha\]: source .*nothere.iso: No such file" b.img pb apply b.img iso.conf
bad dbs '0,/^source = /s#^source = .*#source = debootstrap:#'
refuses_same "debootstrap: without a suite" "dbs.conf:[0-9]+: \[partition alpha\]: expected debootstrap:SUITE" b.img pb apply b.img dbs.conf
if command -v mmdebstrap >/dev/null || command -v debootstrap >/dev/null; then
	bad deb '0,/^source = /s#^source = .*#source = debootstrap:bookworm:minbase#'
	check "dry-run plans a debootstrap guest" bash -c "'$PARTBOOT' apply n.img deb.conf -n | grep -q \"install 'alpha' from debootstrap:bookworm:minbase\""
else
	t_skip "dry-run plans a debootstrap guest" "neither mmdebstrap nor debootstrap"
fi
rm -f b.img e.img

# --- bootloader = auto: the default for a layout with an esp; none opts out ----------------------
# demo.conf without its bootloader line: GRUB for BIOS (it has a bios-boot partition) and UEFI.
bad auto '/^bootloader = /d'
pb apply n.img auto.conf -n >auto.plan 2>&1
check "no bootloader key, an esp and a bios-boot partition: the plan installs bios, uefi (auto)" \
	grep -q "bootloader bios, uefi (auto: what the partitions allow)" auto.plan
bad nobl 's/^bootloader = .*/bootloader = none/; /^default = /d'
pb apply n.img nobl.conf -n >nobl.plan 2>&1
check "bootloader = none: no bootloader step" bash -c "! grep -q bootloader nobl.plan"
bad nodef 's/^bootloader = .*/bootloader = none/'
refuses_nothing "bootloader = none with a default" "nodef.conf:[0-9]+: default needs a bootloader" pb apply n.img nodef.conf

# --- apply on an existing disk ------------------------------------------------------------------
# A disk with only part of the layout: bios, esp, alpha (as if beta came later).
sed '/^\[partition beta\]/,$d' demo.conf >part.conf
check "apply a partial layout" pb -q apply x.img part.conf
alpha_uuid=$(pb list --json x.img | jq -r '.partitions[2].uuid')
check "dry-run on an existing disk: plan names the missing guest" bash -c "
	'$PARTBOOT' apply x.img demo.conf --dry-run >plan.out && grep -q \"add 4 'beta'\" plan.out &&
	grep -q \"install 'beta'\" plan.out && grep -q \"skip 'alpha'\" plan.out && grep -q 'bootloader bios, uefi' plan.out"
before=$(sum x.img)
check "dry-run writes nothing" test "$(sum x.img)" = "$before"
rm -f y.img
check "dry-run on a new disk prints the plan" bash -c "'$PARTBOOT' apply y.img demo.conf -n | grep -q 'create y.img'"
check "dry-run on a new disk creates nothing" test ! -e y.img
check "apply the full layout: adds beta" pb apply x.img demo.conf
check "alpha kept (same filesystem UUID)" json x.img ".partitions[2].uuid == \"$alpha_uuid\""
check "beta added and complete" json x.img '.partitions[3].name == "beta" and .partitions[3].state == "complete"'
check "after adding: sfdisk --verify" sfdisk --verify x.img
check "after adding: e2fsck -fn beta" fsck_guest x.img beta
check "menu lists beta now" bash -c "mtype -i 'x.img@@$(($(start_of x.img 2) * 512))' ::/grub/grub.cfg | grep -q -- \"--id 'beta'\""

# An interrupted install (the incomplete marker left behind) is finished by the next apply.
off=$(($(start_of x.img 4) * 512))
debugfs -w -R "write /dev/null .partboot-incomplete" "x.img?offset=$off" >/dev/null 2>&1
check "beta marked incomplete" json x.img '.partitions[3].state != "complete"'
check "re-apply over the incomplete guest" sh -c "'$PARTBOOT' apply x.img demo.conf 2>fin.err"
check "re-apply installs the incomplete guest again" grep -q "install 'beta'" fin.err
check "re-apply keeps the complete one" grep -q "skip 'alpha'" fin.err
check "beta complete again" json x.img '.partitions[3].state == "complete"'
check "after finishing: e2fsck -fn beta" fsck_guest x.img beta

# Destructive changes: refused unless --force.
sed 's/^size = 200M$/size = 150M/' demo.conf >shrink.conf
refuses_same "refuses a changed size of a partition holding a filesystem" \
	"x.img: partition 'alpha' is 200 MiB on the disk, the layout says 150 MiB \(--force" x.img pb apply x.img shrink.conf
sed '/^\[partition alpha\]/,/^$/s/^type = root$/type = data/' demo.conf >retype.conf
refuses_same "refuses a changed type of a partition holding a filesystem" \
	"x.img: partition 'alpha' is root on the disk, the layout says data" x.img pb apply x.img retype.conf
sed 's/^table = gpt$/table = dos/; /^\[partition bios\]/,/^$/d' demo.conf >dos2.conf
refuses_same "refuses another table type" "x.img: has a gpt table, the layout asks for dos" x.img pb apply x.img dos2.conf
check "--force: shrink alpha" pb apply x.img shrink.conf --force
check "--force: alpha is 150 MiB" json x.img '.partitions[2].size == 157286400'
check "--force: alpha reinstalled and complete" json x.img '.partitions[2].state == "complete"'
check "--force: e2fsck -fn alpha" fsck_guest x.img alpha
check "--force: beta untouched (still complete)" fsck_guest x.img beta
check "--force: sfdisk --verify" sfdisk --verify x.img

# An empty partition may change without --force: nothing is lost.
fixture small.conf
sed 's/^size = 20M$/size = 10M/' small.conf >spare.conf
check "an empty partition may shrink without --force" pb -q apply s.img spare.conf
check "spare is 10 MiB" json s.img '.partitions[] | select(.name == "spare") | .size == 10485760'
# A filesystem of another kind where the layout wants swap: refused.
check "ext4 in the swap partition (partboot mkfs --fs ext4)" pb -q mkfs s.img swap --fs ext4
refuses_same "refuses replacing another filesystem" "s.img: partition 'swap' holds ext4; the layout asks for swap" \
	s.img pb apply s.img spare.conf
check "--force replaces it" pb -q apply s.img spare.conf --force
check "swap again" json s.img '.partitions[] | select(.name == "swap") | .fstype == "swap"'

refuses "usage: missing LAYOUT" 2 "expected DISK and LAYOUT" pb apply x.img
check "--help" bash -c "'$PARTBOOT' apply --help | grep -q 'partboot apply DISK LAYOUT'"
t_done
