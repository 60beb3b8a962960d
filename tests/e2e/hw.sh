#!/bin/bash
# End-to-end tests of the guest model and the VM runner's hardware choice on installs that
# are not partboot's usual test guest (docs/vm.md "Machine and disk controller"), each boot
# real (QEMU, TCG here), each checking that the guest saw only its own partition(s):
#  - an initramfs with only ahci + sd_mod + ext4 boots with default options (q35, AHCI); one
#    with virtio_pci but no virtio_mmio boots with default options (q35, virtio-blk-pci);
#  - a guest with two kernels boots the newest, and the older with --kernel; the menu has both;
#  - what the runner learnt inside a guest is cached, and looked at again when its initramfs
#    changes (a reinstall with another one, the file replaced);
#  - an install made without partboot (mke2fs -d, a hand-written fstab, /etc/default/grub, no
#    marker) is 'foreign': listed, in the menu, chosen by default and next, nothing writes into
#    it, it boots in the VM; adopt writes exactly the files its --help names;
#  - an install with a separate /boot partition boots with both partitions, and nothing else.
# The firmware boots (BIOS, UEFI) of these guests, the IDE guest and a real Debian built with
# MODULES=list are in tests/slow/.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=hw-lib.bash
. "$(dirname "$0")/hw-lib.bash"

hw_disk
check "a disk with partboot's guests (other initramfs variants, a second kernel) and two made without it" test $? -eq 0

# --- an initramfs with only ahci + sd_mod + ext4: q35 with AHCI, by default ------------------
pb run "$D" ahci --print-cmdline >cmd.ahci 2>why.ahci
if grep -q -- "-machine q35 " cmd.ahci && grep -q -- "-device ide-hd,drive=disk0,bus=ide.0" cmd.ahci &&
	grep -q "in the initramfs (cpio + xz cpio): ahci, sd_mod" why.ahci && grep -q "AHCI (SATA)" why.ahci &&
	grep -q "not microvm: no virtio_mmio, virtio_blk" why.ahci; then
	t_ok "ahci-only initramfs: --print-cmdline says q35 + AHCI and why (early cpio + xz read)"
else
	t_fail "ahci-only initramfs: choice"; sed 's/^/#   /' why.ahci cmd.ahci
fi
read -r _ A_SIZE < <(part_range ahci)
if boot ahci con.ahci && [ "$(disks con.ahci)" = "sda:$(kib "$A_SIZE")" ] &&
	[ "$(ext con.ahci)" = sda ]; then
	t_ok "ahci-only initramfs boots with default options, and sees its own partition only (sda)"
else
	t_fail "ahci-only initramfs: boot (disks: $(disks con.ahci))"; show con.ahci
fi
pb run "$D" ahci --libvirt-xml >ahci.xml 2>/dev/null
if grep -q "machine='q35'" ahci.xml && grep -q "<target dev='sda' bus='sata'/>" ahci.xml; then
	t_ok "--libvirt-xml follows the same choice (q35, SATA disk)"
else
	t_fail "--libvirt-xml: $(grep target ahci.xml)"
fi
if command -v virt-xml-validate >/dev/null; then
	check "--libvirt-xml validates (virt-xml-validate)" virt-xml-validate ahci.xml domain
else
	t_skip "--libvirt-xml validates" "virt-xml-validate missing (libvirt-clients)"
fi


# --- the inspection's cache: by kernel and initramfs, looked at again when they change -------
# hw_inspected LOG: "cached" or "read", from run -v's "inspected in N ms [(cached)]" line
hw_inspected() { sed -n 's/^.*inspected in [0-9.]* ms\( (cached)\)\{0,1\}$/\1/p' "$1" | sed 's/^$/read/; s/^ (cached)$/cached/'; }
pb run -v "$D" ahci --print-cmdline >/dev/null 2>why.c1
pb run -v "$D" ahci --print-cmdline >/dev/null 2>why.c2
if [ "$(hw_inspected why.c2)" = cached ] && grep -q "AHCI (SATA)" why.c2; then
	t_ok "run -v: a second run of the same guest says the inspection was cached (still AHCI)"
else
	t_fail "inspection cache: second run ($(hw_inspected why.c2))"; sed 's/^/#   /' why.c1 why.c2
fi
# a reinstall with another initramfs (virtio_pci, lz4): read again, and the choice follows it
overlay ahci "initrd.img-$GUEST_KVER" "$HW_INITRD_PCI"
pb run -v "$D" ahci --print-cmdline >cmd.c3 2>why.c3
if [ "$(hw_inspected why.c3)" = read ] && grep -q "lz4 cpio" why.c3 &&
	grep -q -- "-device virtio-blk-pci,drive=disk0" cmd.c3; then
	t_ok "... after a reinstall with another initramfs: inspected again, not cached (now virtio-blk-pci)"
else
	t_fail "inspection cache: after a reinstall ($(hw_inspected why.c3))"; sed 's/^/#   /' why.c3
fi
# the initramfs file replaced (by debugfs, not partboot: a new inode, a new time) with the AHCI one
A_OFF=$(part_range ahci | cut -d' ' -f1)
sleep 1 # a modification time other than the reinstall's, whatever the clock's resolution
debugfs -w -R "rm /boot/initrd.img-$GUEST_KVER" "$D?offset=$A_OFF" >/dev/null 2>&1 &&
	debugfs -w -R "write $HW_INITRD_AHCI /boot/initrd.img-$GUEST_KVER" "$D?offset=$A_OFF" >/dev/null 2>&1
pb run -v "$D" ahci --print-cmdline >cmd.c4 2>why.c4
if [ "$(hw_inspected why.c4)" = read ] && grep -q "AHCI (SATA)" why.c4 &&
	grep -q -- "-device ide-hd,drive=disk0,bus=ide.0" cmd.c4; then
	t_ok "... after the initramfs file was replaced: inspected again, not cached (AHCI again)"
else
	t_fail "inspection cache: after replacing the file ($(hw_inspected why.c4))"; sed 's/^/#   /' why.c4
fi
check "... and the guest's filesystem is still clean (e2fsck -fn)" e2fsck -fn "$D?offset=$A_OFF"

# --- virtio_pci but no virtio_mmio: q35 with virtio-blk-pci ---------------------------------
pb run "$D" pci --print-cmdline >cmd.pci 2>why.pci
if grep -q -- "-machine q35 " cmd.pci && grep -q -- "-device virtio-blk-pci,drive=disk0" cmd.pci &&
	grep -q "lz4 cpio" why.pci && grep -q "not microvm: no virtio_mmio" why.pci; then
	t_ok "no virtio_mmio: q35 with virtio-blk-pci (lz4 initramfs read)"
else
	t_fail "no virtio_mmio: choice"; sed 's/^/#   /' why.pci cmd.pci
fi
read -r _ P_SIZE < <(part_range pci)
if boot pci con.pci && [ "$(disks con.pci)" = "vda:$(kib "$P_SIZE")" ]; then
	t_ok "no virtio_mmio: boots with default options, and sees its own partition only (vda)"
else
	t_fail "no virtio_mmio: boot (disks: $(disks con.pci))"; show con.pci
fi
# an initramfs with no disk driver at all, and a config saying none is built in: refused
mkdir -p nodisk/lib/modules && echo '#!/bin/sh' >nodisk/init
(cd nodisk && find . | cpio -o -H newc --quiet | gzip -n) >initrd-nodisk
overlay pci "initrd.img-$GUEST_KVER" initrd-nodisk
B=$(sha256sum <"$D")
refuses "no disk driver anywhere: refused before QEMU starts, naming the drivers looked for" 1 \
	"kernel $GUEST_KVER can reach no disk .*none of virtio_mmio, virtio_pci \+ virtio_blk, nvme, ahci \+ sd_mod, ata_piix \+ sd_mod" \
	pb run "$D" pci --timeout 60 --console con.nodisk
check "... QEMU never started (no console file), and the disk is byte-identical" \
	test ! -e con.nodisk -a "$(sha256sum <"$D")" = "$B"
refuses "a --disk-bus the machine does not have is a usage error" 2 "microvm has no ahci" \
	pb run "$D" pci --machine microvm --disk-bus ahci --print-cmdline
pb run "$D" pci --disk-bus nvme --print-cmdline >cmd.nvme 2>why.nvme
if grep -q -- "-device nvme,drive=disk0,serial=partboot0" cmd.nvme &&
	grep -q "no nvme: it may not find its root" why.nvme; then
	t_ok "--disk-bus nvme is obeyed, with a warning naming the missing driver"
else
	t_fail "--disk-bus nvme"
	sed 's/^/#   /' why.nvme
fi
pb run "$D" piix --print-cmdline >cmd.piix 2>why.piix
if grep -q -- "-machine pc " cmd.piix && grep -q -- "-device ide-hd,drive=disk0,bus=ide.0" cmd.piix &&
	grep -q "zstd cpio" why.piix; then
	t_ok "ata_piix only: pc with IDE (zstd initramfs read; booted in tests/slow/hw.sh)"
else
	t_fail "ata_piix only: choice"
	sed 's/^/#   /' why.piix
fi

# --- two kernels: the newest by default, the older with --kernel, both in the menu --------------
NEW=$(printf '%s\n' "$GUEST_KVER" "$HW_KVER2" | sort -V | tail -n 1)
OLD=$(printf '%s\n' "$GUEST_KVER" "$HW_KVER2" | sort -V | head -n 1)
check "list: both kernels, newest first" test "$(kernels_of two)" = "$NEW,$OLD"
pb run "$D" two --print-cmdline 2>why.two1 >/dev/null
pb run "$D" two --kernel "$OLD" --print-cmdline 2>why.two2 >/dev/null
if grep -q "guest 'two': kernel $NEW;" why.two1 && grep -q "guest 'two': kernel $OLD;" why.two2; then
	t_ok "two kernels: the newest ($NEW) by default, the older with --kernel"
else
	t_fail "two kernels: which kernel"
	sed 's/^/#   /' why.two1 why.two2
fi
read -r _ T2_SIZE < <(part_range two)
if boot two con.two1 && grep -q "Linux version $NEW " con.two1 &&
	[ "$(disks con.two1)" = "vda:$(kib "$T2_SIZE")" ] && [ "$(ext con.two1)" = vda ]; then
	t_ok "two kernels: boots the newest ($NEW) by default, and sees its own partition only (vda)"
else
	t_fail "two kernels: newest (disks: $(disks con.two1))"; show con.two1
fi
if boot two con.two2 --kernel "$OLD" && grep -q "Linux version $OLD " con.two2 &&
	[ "$(disks con.two2)" = "vda:$(kib "$T2_SIZE")" ] && [ "$(ext con.two2)" = vda ]; then
	t_ok "two kernels: --kernel $OLD boots the older, and sees its own partition only (vda)"
else
	t_fail "two kernels: --kernel (disks: $(disks con.two2))"; show con.two2
fi
refuses "--kernel naming a kernel the guest does not have: refused, with the ones it has" 1 \
	"no kernel 9.9-nope \(the guest has: $NEW, $OLD\)" pb run "$D" two --kernel 9.9-nope --print-cmdline

# --- an install made without partboot ---------------------------------------------------------
read -r F_OFF F_SIZE < <(part_range fgn)
check "list: the install partboot did not make is 'foreign'" test "$(state_of fgn)" = foreign
F_BEFORE=$(part_sum fgn)
pb -q bootloader "$D" 2>/dev/null
grub_cfg >grub.cfg
if grep -q "^menuentry 'fgn (partboot test guest (Debian 12 kernel))' --id 'fgn' {" grub.cfg &&
	grep -q "linux /boot/vmlinuz-$GUEST_KVER root=PARTUUID=[0-9a-f-]* ro console=ttyS0 pb.run=[A-Za-z0-9+/=]* quiet$" grub.cfg; then
	t_ok "bootloader: the foreign guest is in the menu, with its /etc/default/grub command line"
else
	t_fail "bootloader: foreign guest entry"
	grep -A4 "'fgn" grub.cfg | sed 's/^/#   /'
fi
if grep -q "^submenu 'two: all kernels' --id 'two-kernels' {" grub.cfg &&
	grep -q "menuentry 'two (partboot test guest (Debian 12 kernel)), Linux $OLD' --id 'two-$OLD'" grub.cfg; then
	t_ok "bootloader: the guest with two kernels has them both in a submenu"
else
	t_fail "bootloader: kernel submenu"
fi
check "default chooses the foreign guest" pb default "$D" fgn
check "next chooses the foreign guest" pb next "$D" fgn
pb list "$D" >/dev/null && pb run "$D" fgn --print-cmdline >/dev/null 2>&1 && pb run "$D" fgn --libvirt-xml >/dev/null 2>&1
B=$(sha256sum <"$D")
refuses "install over it without --wipe is refused (it is not partboot's)" 1 "partboot did not make.*--wipe replaces it" \
	pb install "$D" fgn --from "$GUEST_TAR"
check "... and the refusal left the disk byte-identical" test "$(sha256sum <"$D")" = "$B"
check "bootloader, default, next, list, run --print-cmdline and --libvirt-xml wrote nothing into it" \
	test "$(part_sum fgn)" = "$F_BEFORE"
if boot fgn con.fgn && [ "$(disks con.fgn)" = "vda:$(kib "$F_SIZE")" ]; then
	t_ok "the foreign guest boots in the VM (with its own command line), seeing its own partition only"
else
	t_fail "foreign guest: VM boot (disks: $(disks con.fgn))"; show con.fgn
fi

# adopt: exactly the files its --help names change (contents, compared as trees)
mkdir before after
debugfs -R "rdump / $T_DIR/before" "$D?offset=$F_OFF" >/dev/null 2>&1
check "adopt: the foreign guest becomes partboot's" pb adopt "$D" fgn
check "adopt: list says complete" test "$(state_of fgn)" = complete
debugfs -R "rdump / $T_DIR/after" "$D?offset=$F_OFF" >/dev/null 2>&1
changed=$(diff -rq before after 2>&1 | sed 's|before/||g; s|after/||g' | sort | tr '\n' ';')
if [ "$changed" = "Files etc/fstab and etc/fstab differ;Only in etc/kernel: cmdline;Only in var: lib;" ] &&
	[ "$(find after/var/lib -type f)" = after/var/lib/partboot/guest ]; then
	t_ok "adopt wrote exactly /etc/fstab, /etc/kernel/cmdline and /var/lib/partboot/guest"
else
	t_fail "adopt: changed files: $changed"
fi
if [ "$(cat after/etc/kernel/cmdline)" = "ro console=ttyS0 pb.run=$SEEN quiet" ]; then
	t_ok "adopt: /etc/kernel/cmdline is the one /etc/default/grub gave"
else
	t_fail "adopt: kernel/cmdline"
fi
check "adopt: e2fsck -fn clean" e2fsck -fn "$D?offset=$F_OFF"
refuses "adopt: a guest that is partboot's already is refused" 1 "partboot's already" pb adopt "$D" fgn

# --- a separate /boot partition named in fstab -------------------------------------------------
read -r _ R_SIZE < <(part_range sroot)
read -r S_OFF S_SIZE < <(part_range sboot)
check "list: the guest's kernel comes from its /boot partition" test "$(kernels_of sroot)" = "$GUEST_KVER"
if grep -A3 "^menuentry 'sroot" grub.cfg | grep -q "search --no-floppy --fs-uuid --set=root $S_UUID" &&
	grep -A3 "^menuentry 'sroot" grub.cfg | grep -q "linux /vmlinuz-$GUEST_KVER root=PARTUUID="; then
	t_ok "the menu entry reads the kernel from the /boot partition"
else
	t_fail "menu entry of the separate /boot"
	grep -A4 "'sroot" grub.cfg | sed 's/^/#   /'
fi
pb run "$D" sroot --print-cmdline >cmd.sboot 2>/dev/null
if grep -q "id=disk1,format=raw,offset=$S_OFF,size=$S_SIZE," cmd.sboot; then
	t_ok "--print-cmdline: the /boot partition is the VM's second disk"
else
	t_fail "second disk: $(cat cmd.sboot)"
fi
if boot sroot con.sboot && [ "$(disks con.sboot)" = "vda:$(kib "$R_SIZE") vdb:$(kib "$S_SIZE")" ] &&
	[ "$(ext con.sboot)" = "vda vdb" ]; then
	t_ok "separate /boot: boots, and sees its root and its /boot partition, nothing else"
else
	t_fail "separate /boot: boot (disks: $(disks con.sboot))"; show con.sboot
fi
check "sfdisk --verify" sfdisk --verify "$D"
t_done
