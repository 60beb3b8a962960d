#!/bin/bash
# SLOW (272 s here, 11 VM boots before the two-kernel boot moved to tests/e2e/hw.sh, with the machine's load average at 11): the firmware boots of
# tests/e2e/hw.sh's guests, and the IDE guest. Each boot is real (SeaBIOS or OVMF, partboot's
# GRUB, the guest's kernel on the controller the runner chose) and checks what the guest saw:
# in direct mode only its own partition; on firmware mode's whole-disk view, a filesystem in
# its own partition(s) only (every other partition reads as zeros there).
#  - ahci + sd_mod only: --firmware bios and --firmware uefi boot on q35's AHCI;
#  - ata_piix + sd_mod only: pc with PIIX IDE, in direct mode and through SeaBIOS;
#  - the install made without partboot boots natively (SeaBIOS and partboot's GRUB, next
#    choosing it, its command line from its /etc/default/grub) and through OVMF;
#  - the separate /boot: GRUB reads the kernel from the /boot partition, the guest sees both.
# (The guest with two kernels boots both in tests/e2e/hw.sh: direct mode, a few seconds each.)
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck source=../e2e/hw-lib.bash
. "$(dirname "$0")/../e2e/hw-lib.bash"
echo "# slow test: firmware boots of guests with other driver sets"

hw_disk
check "a disk with partboot's guests and two made without it" test $? -eq 0
check "bootloader for BIOS and UEFI" pb -q bootloader "$D"
# partition numbers: 3 ahci, 5 piix, 7 fgn, 8 sroot, 9 sboot (tests/e2e/hw-lib.bash)

# fw_boot NAME FW WANT-DISK WANT-EXT DESC: a firmware boot on the controller the runner chose
# (the runner sets next_entry=NAME in the VM's private copy of the ESP, so GRUB boots NAME)
fw_boot() {
	local name=$1 fw=$2 want_cmd=$3 want_ext=$4 desc=$5 log=con.$1.$2
	pb run "$D" "$name" --firmware "$fw" --print-cmdline >"cmd.$name.$fw" 2>"why.$name.$fw"
	if boot "$name" "$log" --firmware "$fw" && grep -q -- "$want_cmd" "cmd.$name.$fw" &&
		grep -aq "Booting .$name (" "$log" &&
		grep -q "root=PARTUUID=" "$log" && [ "$(ext "$log")" = "$want_ext" ]; then
		t_ok "$desc"
	else
		t_fail "$desc (ext: $(ext "$log"))"
		show "$log"
		sed 's/^/#   /' "why.$name.$fw"
	fi
}
fw_boot ahci bios "ide-hd,drive=disk0,bus=ide.0,bootindex=1" sda3 \
	"ahci + sd_mod only: SeaBIOS boots it on q35's AHCI; a filesystem in its own partition only"
fw_boot ahci uefi "ide-hd,drive=disk0,bus=ide.0,bootindex=1" sda3 \
	"ahci + sd_mod only: OVMF boots it on q35's AHCI; a filesystem in its own partition only"

read -r _ X_SIZE < <(part_range piix)
pb run "$D" piix --print-cmdline >cmd.piix 2>/dev/null
if boot piix con.piix && grep -q -- "-machine pc " cmd.piix && [ "$(disks con.piix)" = "sda:$(kib "$X_SIZE")" ]; then
	t_ok "ata_piix + sd_mod only: boots with default options on pc's IDE, seeing its own partition only"
else
	t_fail "ata_piix only: direct boot (disks: $(disks con.piix))"; show con.piix
fi
fw_boot piix bios "-machine pc " sda5 "ata_piix + sd_mod only: SeaBIOS boots it on pc's IDE"

# natively: the firmware and partboot's GRUB boot it on the whole disk (the view; the VM's
# private ESP copy has next_entry=fgn, the disk's own next_entry is untouched)
check "next: the install made without partboot" pb next "$D" fgn
F_BEFORE=$(part_sum fgn)
ESP_BEFORE=$(part_sum esp)
fw_boot fgn bios "virtio-blk-pci,drive=disk0,bootindex=1" vda7 \
	"the install made without partboot boots natively (SeaBIOS, GRUB, its /etc/default/grub line)"
if grep -aq "Booting .fgn (partboot test guest" con.fgn.bios; then
	t_ok "... GRUB booted its entry"
else
	t_fail "GRUB did not boot fgn's entry"
fi
fw_boot fgn uefi "virtio-blk-pci,drive=disk0,bootindex=1" vda7 "the install made without partboot boots through OVMF"
check "... nothing was written into it (partition bytes unchanged, still foreign)" \
	test "$(part_sum fgn)" = "$F_BEFORE" -a "$(state_of fgn)" = foreign
check "... and the ESP is unchanged: the VMs' GRUB used its private copy" test "$(part_sum esp)" = "$ESP_BEFORE"

fw_boot sroot bios "virtio-blk-pci,drive=disk0,bootindex=1" "vda8 vda9" \
	"separate /boot: GRUB reads the kernel from the /boot partition; both are live, nothing else"
check "sfdisk --verify" sfdisk --verify "$D"
t_done
