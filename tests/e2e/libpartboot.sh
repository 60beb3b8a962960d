#!/bin/bash
# A C program using partboot: docs/examples/two-guests.c is built the way a user builds it,
# against `make install DESTDIR=… PREFIX=/usr` through pkg-config, linked to the installed
# libpartboot.so.0 and nothing of the tree; it makes a two-guest disk, which sfdisk and
# e2fsck accept and which SeaBIOS boots through partboot's GRUB to the default guest's
# marker on the serial console (QEMU, TCG).
. "$(dirname "$0")/lib.sh"

CC=${CC:-cc}
QEMU=qemu-system-x86_64
GUEST_ENV=$PB_TOP/.cache/guest/env
export MTOOLS_SKIP_CHECK=1

# The example is written against disk/disk.h (the whole-disk layer); until that library
# is in the tree there is nothing to build.
if [ ! -f "$PB_TOP/disk/disk.h" ]; then
	t_skip "two-guests example" "disk/disk.h is not in this tree yet: the example needs the disk library"
	t_done
	exit
fi
missing=
for p in make "$CC" pkg-config readelf nm ldd; do
	command -v "$p" >/dev/null || missing="$missing $p"
done
if [ -n "$missing" ]; then
	t_skip "two-guests example" "missing:$missing"
	t_done
	exit
fi

# ---- install, build the example against the installed library only ----------------------

build=$(dirname "$PARTBOOT")
build=${build#"$PB_TOP"/}
san=0
case $build in *-san) san=1 ;; esac
R=$T_DIR/root
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$PB_TOP" BUILD="$build" SANITIZE=$san \
	install DESTDIR="$R" PREFIX=/usr >"$T_DIR/install.log" 2>&1; then
	t_fail "make install DESTDIR=… PREFIX=/usr"
	sed 's/^/#   /' "$T_DIR/install.log" | tail -n 20
	t_done
	exit
fi
export PKG_CONFIG_PATH=$R/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$R
LIBDIR=$R/usr/lib

# A copy outside the tree, so no header or library of the tree is near it.
EX=$T_DIR/example
mkdir -p "$EX"
cp "$PB_TOP/docs/examples/two-guests.c" "$EX/"
# A library built with ASan (make check SANITIZE=1) needs its runtime in the program too.
sanflags=
readelf -d "$LIBDIR/libpartboot.so.0" | grep -q 'NEEDED.*libasan' && sanflags="-fsanitize=address,undefined"
# shellcheck disable=SC2046,SC2086
if (cd "$EX" && $CC -Wall -Wextra -Werror $sanflags -o two-guests two-guests.c $(pkg-config --cflags --libs partboot)) \
	>"$EX/cc.log" 2>&1; then
	t_ok "two-guests.c builds with pkg-config --cflags --libs partboot, -Wall -Wextra -Werror"
else
	t_fail "two-guests.c builds with pkg-config --cflags --libs partboot"
	sed 's/^/#   /' "$EX/cc.log" | head -n 30
	t_done
	exit
fi

readelf -d "$EX/two-guests" >"$EX/dynamic"
if grep -q 'NEEDED.*\[libpartboot\.so\.0\]' "$EX/dynamic" && ! grep -qE '\((RPATH|RUNPATH)\)' "$EX/dynamic"; then
	t_ok "the program needs libpartboot.so.0 and has no RPATH/RUNPATH"
else
	t_fail "the program's dynamic section"
	grep -E 'NEEDED|RPATH|RUNPATH' "$EX/dynamic" | sed 's/^/#   /'
fi
# The API comes from the shared library, not from objects copied into the program.
if nm "$EX/two-guests" | grep -qE '^ +U disk_open(@|$)' && ! nm "$EX/two-guests" | grep -qE ' [Tt] (disk|part|fs|boot|vm)_'; then
	t_ok "disk_open and the rest are resolved at run time, none linked in"
else
	t_fail "the program holds libpartboot code of its own"
	nm "$EX/two-guests" | grep -E ' [TtU] (disk|part|fs|boot|vm)_' | head -n 5 | sed 's/^/#   /'
fi
LD_LIBRARY_PATH=$LIBDIR ldd "$EX/two-guests" >"$EX/ldd" 2>&1
if grep -q "libpartboot\.so\.0 => $LIBDIR/libpartboot\.so\.0 " "$EX/ldd" && ! grep -qF "$PB_TOP/" "$EX/ldd"; then
	t_ok "ldd: libpartboot.so.0 from the installed lib/, nothing from the tree"
else
	t_fail "ldd of the program"
	sed 's/^/#   /' "$EX/ldd"
fi

# ---- run it -------------------------------------------------------------------------------

if [ ! -r "$GUEST_ENV" ]; then
	t_skip "two-guests DISK GUEST_TAR" "no test guest (make guest)"
	t_done
	exit
fi
# shellcheck source=/dev/null
. "$GUEST_ENV"
run() { LD_LIBRARY_PATH=$LIBDIR "$EX/two-guests" "$@"; }

refuses "usage error: exit 2 and a usage line" 2 "^usage: two-guests DISK GUEST_TAR" run "$T_DIR/x.img"
refuses "a missing archive: exit 1, pb_err's message naming it" 1 "^two-guests: .*nosuch\.tar" \
	run "$T_DIR/missing.img" "$T_DIR/nosuch.tar"

D=$T_DIR/two.img
if run "$D" "$GUEST_TAR" >"$T_DIR/out" 2>"$T_DIR/err"; then
	t_ok "two-guests two.img guest.tar"
else
	t_fail "two-guests two.img guest.tar (exit $?)"
	sed 's/^/#   /' "$T_DIR/out" "$T_DIR/err" | tail -n 20
	t_done
	exit
fi
if grep -qE "^  3 alpha +complete, in the boot menu" "$T_DIR/out" && grep -qE "^  4 beta +complete, in the boot menu" "$T_DIR/out"; then
	t_ok "it lists both guests as complete and in the boot menu"
else
	t_fail "the program's listing"
	sed 's/^/#   /' "$T_DIR/out"
fi
s=$(sum "$D")
refuses "a disk that has a table: refused, disk unchanged" 1 "^two-guests: .*two\.img: already has a partition table" \
	run "$D" "$GUEST_TAR"
[ "$(sum "$D")" = "$s" ] || t_fail "the refused run changed the disk"

# ---- what is on the disk ------------------------------------------------------------------

if command -v sfdisk >/dev/null && command -v jq >/dev/null; then
	check "sfdisk --verify" sfdisk --verify "$D"
	sfdisk --json "$D" >"$T_DIR/table.json"
	got=$(jq -r '.partitiontable | .label + " " + ([.partitions[] | .name + ":" + .type + ":" + (.size | tostring)] | join(" "))' "$T_DIR/table.json")
	want="gpt bios:21686148-6449-6E6F-744E-656564454649:2048 esp:C12A7328-F81F-11D2-BA4B-00A0C93EC93B:131072"
	want="$want alpha:4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709:393216 beta:4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709:393216"
	if [ "$got" = "$want" ]; then
		t_ok "GPT: bios-boot 1M, esp 64M, two x86-64 root partitions"
	else
		t_fail "the partition table"
		echo "#   got:  $got"
		echo "#   want: $want"
	fi
	start() { jq -r ".partitiontable.partitions[] | select(.name == \"$1\") | .start" "$T_DIR/table.json"; }
	if command -v e2fsck >/dev/null; then
		for g in alpha beta; do
			check "e2fsck -fn: $g" e2fsck -fn "$D?offset=$(($(start $g) * 512))"
		done
	else
		t_skip "e2fsck -fn" "no e2fsck (e2fsprogs)"
	fi
	if command -v mtype >/dev/null; then
		esp="$D@@$(($(start esp) * 512))"
		mtype -i "$esp" ::/grub/grub.cfg >"$T_DIR/grub.cfg" 2>&1
		if grep -q -- "--id 'alpha'" "$T_DIR/grub.cfg" && grep -q -- "--id 'beta'" "$T_DIR/grub.cfg"; then
			t_ok "grub.cfg has an entry for each guest"
		else
			t_fail "grub.cfg entries: $(grep -c menuentry "$T_DIR/grub.cfg")"
		fi
		if mdir -i "$esp" ::/EFI/BOOT/BOOTX64.EFI >/dev/null 2>&1; then
			t_ok "UEFI GRUB: EFI/BOOT/BOOTX64.EFI on the ESP"
		else
			t_fail "no EFI/BOOT/BOOTX64.EFI on the ESP"
		fi
		if mcopy -n -i "$esp" ::/grub/grubenv - 2>/dev/null | grep -aqx "saved_entry=alpha"; then
			t_ok "grubenv: saved_entry=alpha"
		else
			t_fail "grubenv has no saved_entry=alpha"
		fi
	else
		t_skip "grub.cfg and grubenv on the ESP" "no mtools"
	fi
	UA=$(jq -r '.partitiontable.partitions[] | select(.name == "alpha") | .uuid' "$T_DIR/table.json" | tr '[:upper:]' '[:lower:]')
else
	t_skip "the partition table and filesystems" "no sfdisk or jq"
	UA=
fi

# ---- boot it: SeaBIOS, partboot's BIOS GRUB, the default guest ----------------------------

if ! command -v $QEMU >/dev/null; then
	t_skip "SeaBIOS boots the disk to alpha" "no $QEMU (qemu-system-x86)"
	t_done
	exit
elif [ -z "$UA" ]; then
	# Without sfdisk and jq there is no PARTUUID to look for in the marker; with them, an
	# empty one is a failure.
	if command -v sfdisk >/dev/null && command -v jq >/dev/null; then
		t_fail "alpha has no PARTUUID in sfdisk --json"
	else
		t_skip "SeaBIOS boots the disk to alpha" "no sfdisk or jq to read alpha's PARTUUID"
	fi
	t_done
	exit
fi
boot() {
	rm -f "$2"
	timeout 120 $QEMU -accel tcg -M q35 -m 512 -nodefaults -nographic -monitor none \
		-serial "file:$2" -no-reboot -drive "file=$1,format=raw,if=virtio" >/dev/null 2>&1
}
LOG=$T_DIR/bios.log
boot "$D" "$LOG"
# Under TCG on a busy machine the guest kernel's early timer check sometimes fails
# ("IO-APIC + timer doesn't work"), which has nothing to do with the disk: boot once more.
if grep -aq "IO-APIC + timer doesn't work" "$LOG"; then
	echo "# kernel timer check failed under TCG (machine busy): booting again"
	boot "$D" "$LOG"
fi
if grep -aq "PARTBOOT-GUEST name=alpha root=PARTUUID=$UA " "$LOG"; then
	t_ok "SeaBIOS + GRUB boot the default guest: alpha's marker on the serial console"
else
	t_fail "SeaBIOS + GRUB boot the default guest (alpha, PARTUUID=$UA)"
	grep -a "PARTBOOT-GUEST\|error\|Kernel panic" "$LOG" | head -n 5 | sed 's/^/#   /'
	tail -c 600 "$LOG" | tr -d '\033' | sed 's/^/#   /' | tail -n 6
fi

t_done
