#!/bin/bash
# Hostile guests (issue 15): what a guest holds reaches the disk-wide grub.cfg, the VM's
# command line and partboot's memory. Nothing a guest writes may change how another guest
# boots, run as GRUB script, or make partboot slow or large. Each check names the defect of
# issue 15 it guards; every one failed before its fix. Real GRUB booting such a disk:
# tests/slow/hostile-guest-grub.sh.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

GUEST_ENV=$PB_TOP/.cache/guest/env
export MTOOLS_SKIP_CHECK=1
missing=
for p in mcopy mkfs.fat sfdisk partx grub-mkimage grub-script-check; do
	command -v "$p" >/dev/null || missing="$missing $p"
done
[ -r "$GUEST_ENV" ] || missing="$missing test-guest(make guest)"
if [ -n "$missing" ]; then
	t_skip "hostile guests" "missing:$missing"
	t_done
	exit
fi
# shellcheck disable=SC1090
. "$GUEST_ENV"
export XDG_CACHE_HOME=$T_DIR/cache
D=$T_DIR/disk.img
b64() { printf '%s' "$1" | base64 -w0; }
start_of() { partx -g -o START -n "$2" "$1" | tr -d ' '; }
grub_cfg() { mcopy -n -i "$D@@$(($(start_of "$D" 1) * 512))" ::/grub/grub.cfg "$1"; }

pb init "$D" --size 400M >/dev/null &&
	pb add "$D" esp --type esp --size 40M >/dev/null &&
	pb add "$D" bios --type bios-boot --size 1M >/dev/null &&
	pb add "$D" alpha --type root --size 64M >/dev/null &&
	pb add "$D" beta --type root --size 64M >/dev/null &&
	pb add "$D" gamma --type root --size 64M >/dev/null &&
	pb add "$D" delta --type root --size 32M >/dev/null &&
	pb add "$D" epsilon --type root --size 16M >/dev/null
check "a disk with an ESP, a BIOS boot partition and three root partitions" sfdisk --verify "$D"

# alpha: the test guest whose /etc/kernel/cmdline tries to run GRUB commands at menu load
# (end its entry, make beta the default, open an entry of its own); its pb.run script
# prints the command line the kernel got.
# shellcheck disable=SC2016 # GRUB script and the guest's shell: nothing expands here
evil='x; }; set default=beta; menuentry evil { $root'
# shellcheck disable=SC2016 # runs in the guest
run=$(b64 'echo "CMDLINE:$(cat /proc/cmdline)"')
pb -q install "$D" alpha --from "$GUEST_TAR" --cmdline "$GUEST_CMDLINE pb.run=$run $evil" ||
	t_fail "install alpha"
# beta: the test guest plus kernels whose file names would end its menu entry, /vmlinuz
# naming one of them (the kernel the menu boots)
if ! { mkdir -p "$T_DIR/beta/boot" && tar -xf "$GUEST_TAR" -C "$T_DIR/beta" &&
	: >"$T_DIR/beta/boot/vmlinuz-9.9"$'\n''}'$'\n''menuentry evil {' &&
	: >"$T_DIR/beta/boot/vmlinuz-9.8"\''}' &&
	ln -sfn "boot/vmlinuz-9.9"$'\n''}'$'\n''menuentry evil {' "$T_DIR/beta/vmlinuz"; }; then
	t_fail "beta's tree"
fi
pb -q install "$D" beta --from "$T_DIR/beta" || t_fail "install beta"
# gamma: a command line of 1,500 bytes (the 511-byte cut of defect 18)
long="$GUEST_CMDLINE"
for i in $(seq 1 140); do long="$long opt$i=yy"; done
long="$long the-last-word"
pb -q install "$D" gamma --from "$GUEST_TAR" --cmdline "$long" || t_fail "install gamma"

pb bootloader "$D" >"$T_DIR/out" 2>"$T_DIR/err" || t_fail "bootloader: $(cat "$T_DIR/err")"
pb default "$D" alpha >/dev/null || t_fail "default alpha"
grub_cfg "$T_DIR/grub.cfg" || t_fail "grub.cfg read back"

# --- defect 1: the guest's command line is quoted word by word
check "defect 1: grub.cfg is valid GRUB script (grub-script-check)" grub-script-check "$T_DIR/grub.cfg"
if ! grep -q '^set default=beta' "$T_DIR/grub.cfg" && ! grep -q '^menuentry evil' "$T_DIR/grub.cfg" &&
	grep -qF " 'x;' '};' set 'default=beta;' menuentry evil '{' '\$root'" "$T_DIR/grub.cfg"; then
	t_ok "defect 1: alpha's /etc/kernel/cmdline stays inside its linux line, each word quoted"
else
	t_fail "defect 1: alpha's command line escaped its menu entry"
	grep -n 'default\|menuentry\|linux' "$T_DIR/grub.cfg" | sed 's/^/#   /'
fi
check "defect 1: one menu entry per guest, nothing else (3 top-level menuentry lines)" \
	test "$(grep -c '^menuentry' "$T_DIR/grub.cfg")" = 3

# --- defect 2: kernel names that would end the entry are left out, with a warning naming them
if grep -q 'vmlinuz-9.9\\x0a}\\x0amenuentry evil {' "$T_DIR/err" && grep -q "vmlinuz-9.8'}" "$T_DIR/err" &&
	grep -q "partition 'beta'" "$T_DIR/err"; then
	t_ok "defect 2: the bootloader warns about beta's unsafe kernel names, naming each file"
else
	t_fail "defect 2: no warning naming beta's unsafe kernel files"
	sed 's/^/#   /' "$T_DIR/err"
fi
beta_linux=$(awk '/^menuentry .beta/ { on = 1 } on && /linux/ { print; exit }' "$T_DIR/grub.cfg")
case $beta_linux in
*"/boot/vmlinuz-$GUEST_KVER "*) t_ok "defect 2: beta's entry boots its real kernel" ;;
*) t_fail "defect 2: beta's linux line: $beta_linux" ;;
esac

# --- defect 18: a long command line reaches grub.cfg and the VM whole
check "defect 18: gamma's 1,500-byte command line is whole in grub.cfg" \
	grep -q "opt140=yy the-last-word$" "$T_DIR/grub.cfg"
pb run "$D" gamma --print-cmdline >"$T_DIR/cmd" 2>/dev/null
check "defect 18: and whole in the VM's -append" grep -q "opt140=yy the-last-word" "$T_DIR/cmd"
toolong="$long"
for i in $(seq 1 70); do toolong="$toolong more$i=zzzzzzzzzzz"; done
pb -q install "$D" gamma --from "$GUEST_TAR" --cmdline "$toolong" 2>"$T_DIR/err2"
refuses "defect 18: a command line longer than Linux keeps is said, not cut silently" 0 \
	"partition 'gamma': the kernel command line is [0-9]+ bytes.*Linux keeps the first 2047" \
	pb run "$D" gamma --print-cmdline
check "defect 18: install's menu refresh says so too" grep -q "partition 'gamma': the kernel command line is" "$T_DIR/err2"

# --- defect 9: a guest's small files are read only when small: 3 GiB sparse os-release and
# kernel/cmdline cost list nothing; a 3 GiB sparse kernel is refused before it is read
mkdir -p "$T_DIR/delta/etc/kernel" "$T_DIR/delta/boot" &&
	printf 'PRETTY_NAME="Huge"\n' >"$T_DIR/delta/etc/os-release" && truncate -s 3G "$T_DIR/delta/etc/os-release" &&
	printf 'ro\n' >"$T_DIR/delta/etc/kernel/cmdline" && truncate -s 3G "$T_DIR/delta/etc/kernel/cmdline" &&
	printf 'kernel' >"$T_DIR/delta/boot/vmlinuz-9" && truncate -s 3G "$T_DIR/delta/boot/vmlinuz-9"
check "defect 9: delta installed from a tree with 3 GiB sparse files" pb -q install "$D" delta --from "$T_DIR/delta"
# the largest resident size of `partboot list`, in KiB (getrusage of the child)
rss=$(python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$PARTBOOT" list "$D")
echo "# partboot list: $rss KiB at most resident"
check "defect 9: list reads none of the 3 GiB (at most 100 MiB resident, was 3 GB)" test "$rss" -lt 102400
refuses "defect 9: a 3 GiB kernel is refused before it is read" 1 \
	"partition 'delta': /boot/vmlinuz-9 is larger than 256 MiB" pb run "$D" delta --print-cmdline

# --- defect 6: install --from DIR read a file's data again by name after its metadata: a file
# swapped for a symlink (or a directory for a symlink to a host folder) in between copied a
# host file into the guest. The test stops partboot at that moment (PARTBOOT_TEST_PAUSE).
# wait_stopped PID: true once PID is stopped (SIGSTOP), false if it ended first
wait_stopped() {
	for _ in $(seq 200); do
		case $(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) in
		T) return 0 ;;
		'') return 1 ;;
		esac
		sleep 0.05
	done
	return 1
}
# swap_at PATH WHAT: install the tree into epsilon, stopped at PATH, WHAT done meanwhile
swap_at() {
	rm -rf "$T_DIR/eps" && mkdir -p "$T_DIR/eps/boot" "$T_DIR/eps/sub" && : >"$T_DIR/eps/boot/vmlinuz-1" &&
		echo innocent >"$T_DIR/eps/victim" && echo innocent >"$T_DIR/eps/sub/inner" || return 1
	PARTBOOT_TEST_PAUSE="read:$1" "$PARTBOOT" -q install "$D" epsilon --from "$T_DIR/eps" --wipe \
		2>"$T_DIR/err6" &
	local pid=$!
	if ! wait_stopped $pid; then
		wait $pid
		return 1
	fi
	eval "$2"
	kill -CONT $pid
	wait $pid
}
mkdir -p "$T_DIR/host" && echo HOST-SECRET >"$T_DIR/host/secret" && echo HOST-SECRET >"$T_DIR/host/inner"
# shellcheck disable=SC2016 # swap_at evals it while partboot is stopped
swap_at victim 'rm "$T_DIR/eps/victim" && ln -s "$T_DIR/host/secret" "$T_DIR/eps/victim"'
rc=$?
if [ $rc -eq 1 ] && grep -q "partition 'epsilon': 'victim' changed while it was read" "$T_DIR/err6" &&
	! pb cat "$D" epsilon /victim 2>/dev/null | grep -q HOST-SECRET; then
	t_ok "defect 6: a file swapped for a symlink to a host file is refused, nothing of the host file copied"
else
	t_fail "defect 6: file swapped for a symlink (exit $rc): $(cat "$T_DIR/err6")"
fi
# shellcheck disable=SC2016 # swap_at evals it while partboot is stopped
swap_at sub 'mv "$T_DIR/eps/sub" "$T_DIR/eps/sub.old" && ln -s "$T_DIR/host" "$T_DIR/eps/sub"'
rc=$?
if [ $rc -eq 1 ] && grep -q "partition 'epsilon': 'sub[^']*' changed while it was read" "$T_DIR/err6" &&
	! pb cat "$D" epsilon /sub/inner 2>/dev/null | grep -q HOST-SECRET &&
	! pb cat "$D" epsilon /sub/secret >/dev/null 2>&1; then
	t_ok "defect 6: a directory swapped for a symlink to a host folder is refused, nothing of it copied"
else
	t_fail "defect 6: directory swapped for a symlink (exit $rc): $(cat "$T_DIR/err6")"
fi
# shellcheck disable=SC2016 # swap_at evals it while partboot is stopped
swap_at victim 'echo changed >"$T_DIR/eps/victim.new" && mv "$T_DIR/eps/victim.new" "$T_DIR/eps/victim"'
rc=$?
if [ $rc -eq 1 ] && grep -q "'victim' changed while it was read" "$T_DIR/err6"; then
	t_ok "defect 6: a file replaced by another file is refused too"
else
	t_fail "defect 6: file replaced (exit $rc): $(cat "$T_DIR/err6")"
fi
check "defect 6: an unchanged tree installs" swap_at victim ':'
check "defect 6: and its file is there" bash -c "'$PARTBOOT' cat '$D' epsilon /victim | grep -q innocent"

# --- what held up under review stays tested: a name and an OS name holding every character
# each language quotes, through list --json, --libvirt-xml, grub.cfg and grubenv
N='q"u&o<t>e'"'"'\x'
OSN='A & <B> "C" '"'"'D'"'"' \ E'
mkdir -p "$T_DIR/zeta/etc" "$T_DIR/zeta/boot" &&
	printf 'PRETTY_NAME="A & <B> \\"C\\" '"'"'D'"'"' \\\\ E"\n' >"$T_DIR/zeta/etc/os-release" &&
	: >"$T_DIR/zeta/boot/vmlinuz-1"
check "escaping: a partition named $N" pb -q add "$D" "$N" --type root --size 16M
check "escaping: its guest installed (the menu refreshed)" pb -q install "$D" "$N" --from "$T_DIR/zeta"
# listed_as NAME OS: list --json has one partition of that name and OS name
listed_as() {
	pb list --json "$D" | jq -e --arg n "$1" --arg o "$2" '[.partitions[] | select(.name == $n and .os == $o)] | length == 1'
}
check "escaping: list --json gives the name and OS name back" listed_as "$N" "$OSN"
pb run "$D" "$N" --firmware bios --libvirt-xml >"$T_DIR/dom.xml" 2>/dev/null
# the domain's name is also a folder name (vm/libvirt.c): what is not [A-Za-z0-9_.+-] becomes
# '-'; the partition's own name comes back whole from the description
check "escaping: --libvirt-xml is XML naming the domain partboot-NAME and the partition whole" python3 -c '
import re, sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
n = sys.argv[2]
sys.exit(r.findtext("name") != "partboot-" + re.sub(r"[^A-Za-z0-9_.+-]", "-", n)
         or ("partition \x27" + n + "\x27") not in r.findtext("description"))' "$T_DIR/dom.xml" "$N"
grub_cfg "$T_DIR/grub2.cfg"
check "escaping: grub.cfg with that entry is valid GRUB script" grub-script-check "$T_DIR/grub2.cfg"
check "escaping: its title and id single-quoted as grub-mkconfig does" grep -qF \
	"menuentry 'q\"u&o<t>e'\\''\\x (A & <B> \"C\" '\\''D'\\'' \\ E)' --id 'q\"u&o<t>e'\\''\\x' {" "$T_DIR/grub2.cfg"
pb -q default "$D" "$N"
mcopy -n -i "$D@@$(($(start_of "$D" 1) * 512))" ::/grub/grubenv "$T_DIR/grubenv"
default_is() { grub-editenv "$T_DIR/grubenv" list | grep -qxF "saved_entry=$1"; }
check "escaping: grub-editenv reads the default back as the name" default_is "$N"

t_done
