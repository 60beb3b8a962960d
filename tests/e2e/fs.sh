#!/bin/bash
# End-to-end tests of the fs verbs (mkfs install ls cat) on the real partboot:
# a disk with several partitions, a tar holding every kind of file, checked with
# e2fsck -fn, blkid, and a debugfs listing compared with the archive's.
# Every other partition and the table are checksummed before and after.
. "$(dirname "$0")/lib.sh"
cd "$T_DIR" || exit 1
chmod 755 "$T_DIR" # runuser -u nobody needs to reach the files

for tool in e2fsck debugfs blkid python3; do
	command -v $tool >/dev/null || { t_skip "fs e2e" "$tool missing (make deps)"; t_done; exit; }
done
ROOT=0
[ "$(id -u)" = 0 ] && ROOT=1

IMG=$T_DIR/disk.img
make_disk() {
	pb -q init "$IMG" --size 400M && pb -q add "$IMG" efi --type esp --size 40M &&
		pb -q add "$IMG" deb12 --type root --size 200M --label deb12 &&
		pb -q add "$IMG" other --type data --size 60M && pb -q add "$IMG" tiny --type data --size 8M &&
		pb -q add "$IMG" sw --type swap --size 16M
}
# Everything below works on this disk: a failure here ends the script.
if ! check "a disk with efi, deb12, other, tiny and sw (partboot init, add)" make_disk; then
	t_done
	exit 1
fi

# part_range NAME: "START SIZE" in bytes, from sfdisk.
part_range() {
	local n
	n=$(pb list --json "$IMG" 2>/dev/null | python3 -c "import json,sys
for p in json.load(sys.stdin)['partitions']:
    if p['name'] == '$1': print(p['start'], p['size'])")
	echo "$n"
}
read -r OFF SIZE <<<"$(part_range deb12)"
read -r OTHER_OFF OTHER_SIZE <<<"$(part_range other)"
read -r TINY_OFF _ <<<"$(part_range tiny)"
if [ -z "$OFF" ] || [ -z "$OTHER_OFF" ]; then
	t_fail "cannot read partition ranges from list --json"
	t_done
	exit 1
fi

# Random bytes in the other data partition: any stray write shows up.
head -c "$OTHER_SIZE" /dev/urandom | dd of="$IMG" bs=1M seek=$((OTHER_OFF / 1048576)) conv=notrunc status=none
# outside: sha256 of everything except deb12's byte range (the table, other partitions).
outside() {
	{
		head -c "$OFF" "$IMG"
		tail -c +$((OFF + SIZE + 1)) "$IMG"
	} | sha256sum | cut -d' ' -f1
}
BEFORE=$(outside)

# --- the source: every kind of file ---------------------------------------------
S=$T_DIR/src
mkdir -p "$S"/{usr/bin,usr/lib,etc/kernel,dev,tmp,var,run,srv,boot,home/u}
printf 'PRETTY_NAME="Partboot Test 12 (e2e)"\nID=pbtest\n' >"$S/usr/lib/os-release"
ln -s ../usr/lib/os-release "$S/etc/os-release"
head -c 200000 /dev/urandom >"$S/usr/bin/ping"
chmod 4755 "$S/usr/bin/ping"
ln "$S/usr/bin/ping" "$S/usr/bin/ping4"
cp "$S/usr/bin/ping" "$S/usr/bin/newgrp" && chmod 2755 "$S/usr/bin/newgrp"
chmod 1777 "$S/tmp"
mkfifo "$S/run/fifo"
python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('$S/run/sock')"
echo acl >"$S/srv/acl-file"
echo kernel >"$S/boot/vmlinuz-6.1.0-28-amd64"
echo initrd >"$S/boot/initrd.img-6.1.0-28-amd64"
echo old >"$S/boot/vmlinuz-6.1.0-9-amd64"
ln -s boot/vmlinuz-6.1.0-28-amd64 "$S/vmlinuz"
echo "console=ttyS0 quiet" >"$S/etc/kernel/cmdline"
truncate -s 10M "$S/var/sparse"
echo middle | dd of="$S/var/sparse" bs=1 seek=5000000 conv=notrunc status=none
truncate -s 5G "$S/var/huge-sparse"
echo end >>"$S/var/huge-sparse"
LONG=$(printf 'l%.0s' $(seq 250))
echo long >"$S/home/u/$LONG"
ln -s "/home/u/$LONG" "$S/home/u/to-long"
touch -d '2001-02-03 04:05:06' "$S/srv/acl-file"
# What the source tree could not be given here, and why (the checks below skip with it).
CAP_WHY="needs root" ACL_WHY="needs root"
if [ $ROOT = 1 ]; then
	mknod "$S/dev/null" c 1 3
	mknod "$S/dev/sda" b 8 0
	mknod "$S/dev/big" c 300 70000
	chown 1000:100 "$S/home/u" "$S/home/u/$LONG"
	chown -h 1000:100 "$S/home/u/to-long"
	if ! command -v setcap >/dev/null; then
		CAP_WHY="setcap missing (package libcap2-bin; make deps)"
	elif setcap cap_net_raw+ep "$S/usr/bin/ping" 2>"$T_DIR/setcap.err"; then
		CAP_WHY=
	else
		CAP_WHY="setcap failed on $T_DIR: $(head -n 1 "$T_DIR/setcap.err")"
	fi
	if ! command -v setfacl >/dev/null || ! command -v setfattr >/dev/null; then
		ACL_WHY="setfacl/setfattr missing (packages acl, attr; make deps)"
	elif { setfacl -m u:4242:r,g:4343:rw "$S/srv/acl-file" && setfacl -d -m u:4242:rx "$S/srv" &&
		setfattr -n user.comment -v hello "$S/srv/acl-file"; } 2>"$T_DIR/acl.err"; then
		ACL_WHY=
	else
		ACL_WHY="setfacl/setfattr failed on $T_DIR: $(head -n 1 "$T_DIR/acl.err")"
	fi
fi
# GNU tar: pax for xattrs/ACLs, -S keeps holes; the socket is left out by tar itself.
tar --format=pax --xattrs --xattrs-include='*' --acls -S --numeric-owner -C "$S" -cf src.tar . 2>/dev/null
# Hostile names: "..", absolute paths (python's tarfile writes them as given).
python3 - <<'PY'
import io, tarfile
with tarfile.open("evil.tar", "w", format=tarfile.PAX_FORMAT) as t:
    for name, data in (("../../escape", b"inside\n"), ("/abs/file", b"abs\n"), ("a/../../../up", b"up\n")):
        i = tarfile.TarInfo(name); i.size = len(data); i.mtime = 1000000000
        t.addfile(i, io.BytesIO(data))
    i = tarfile.TarInfo("evil-link"); i.type = tarfile.SYMTYPE; i.linkname = "/etc/shadow"
    t.addfile(i)
PY

# --- install ---------------------------------------------------------------------
check "install from a tar" pb install "$IMG" deb12 --from src.tar --seed e2e
check "e2fsck -fn is clean" e2fsck -fn "$IMG?offset=$OFF"
BLKID=$(blkid -p -O "$OFF" -S "$SIZE" "$IMG")
case "$BLKID" in *'TYPE="ext4"'*'LABEL="deb12"'* | *'LABEL="deb12"'*'TYPE="ext4"'*) t_ok "blkid: ext4 labelled deb12" ;;
*) t_fail "blkid: $BLKID" ;; esac
case "$BLKID" in *' UUID="'*) t_ok "blkid: has a UUID" ;; *) t_fail "blkid: no UUID: $BLKID" ;; esac
if [ "$(outside)" = "$BEFORE" ]; then t_ok "table and other partitions unchanged"; else t_fail "bytes outside deb12 CHANGED"; fi

# The archive's listing (python tarfile) against the filesystem's (debugfs).
cat >cmp.py <<'PY'
import hashlib, os, re, stat, subprocess, sys, tarfile
img, off = sys.argv[1], sys.argv[2]
dev = f"{img}?offset={off}"
def dbg(cmd):
    return subprocess.run(["debugfs", "-R", cmd, dev], capture_output=True, text=True).stdout
def dbg_bytes(path):
    return subprocess.run(["debugfs", "-R", f'cat "{path}"', dev], capture_output=True).stdout
want = {}
with tarfile.open("src.tar") as t:
    for m in t.getmembers():
        p = "/" + os.path.normpath(m.name).lstrip("./") if m.name not in (".", "./") else "/"
        p = os.path.normpath(p)
        if p == "/":
            continue
        kind = {tarfile.REGTYPE: "f", tarfile.AREGTYPE: "f", tarfile.LNKTYPE: "f", tarfile.SYMTYPE: "l",
                tarfile.DIRTYPE: "d", tarfile.CHRTYPE: "c", tarfile.BLKTYPE: "b", tarfile.FIFOTYPE: "p",
                tarfile.GNUTYPE_SPARSE: "f"}[m.type]
        e = dict(kind=kind, mode=m.mode & 0o7777, uid=m.uid, gid=m.gid, mtime=int(m.mtime))
        if m.issym():
            e["link"] = m.linkname
        if m.ischr() or m.isblk():
            e["dev"] = (m.devmajor, m.devminor)
        if kind == "f":
            src = m if not m.islnk() else t.getmember(m.linkname)
            e["size"] = src.size
            if src.size < 50_000_000:
                e["sha"] = hashlib.sha256(t.extractfile(src).read()).hexdigest()
        want[p] = e
bad = 0
got = {}
def walk(d):
    for line in dbg(f'ls -p "{d}"').splitlines():
        # "/INO/MODE/UID/GID/NAME/SIZE/" (SIZE empty for directories)
        f = line.strip().lstrip("/").split("/")
        if len(f) < 7:
            continue
        ino, mode, uid, gid, name = f[0], int(f[1], 8), int(f[2]), int(f[3]), "/".join(f[4:-2])
        if name in (".", "..") or (d == "/" and name in ("lost+found",)):
            continue
        p = ("" if d == "/" else d) + "/" + name
        if p in ("/etc/fstab", "/etc/hostname", "/etc/hosts", "/var/lib", "/var/lib/partboot",
                 "/var/lib/partboot/guest"):
            continue  # written by the after-install steps (tests/e2e/install-setup.sh)
        k = {stat.S_IFREG: "f", stat.S_IFDIR: "d", stat.S_IFLNK: "l", stat.S_IFCHR: "c", stat.S_IFBLK: "b",
             stat.S_IFIFO: "p", stat.S_IFSOCK: "s"}.get(stat.S_IFMT(mode), "?")
        got[p] = dict(kind=k, mode=mode & 0o7777, uid=uid, gid=gid, ino=ino)
        if k == "d":
            walk(p)
walk("/")
for p in sorted(set(want) | set(got)):
    w, g = want.get(p), got.get(p)
    if not w or not g:
        print(f"{p}: only in {'archive' if w else 'filesystem'}"); bad += 1; continue
    for key in ("kind", "uid", "gid"):
        if w[key] != g[key]:
            print(f"{p}: {key} {g[key]} != {w[key]}"); bad += 1
    if w["kind"] != "l" and w["mode"] != g["mode"]:
        print(f"{p}: mode {g['mode']:o} != {w['mode']:o}"); bad += 1
    st = dbg(f'stat "{p}"')
    m = re.search(r"mtime: 0x([0-9a-f]+)", st)
    if not m or int(m.group(1), 16) != w["mtime"]:
        print(f"{p}: mtime {m and int(m.group(1), 16)} != {w['mtime']}"); bad += 1
    if "link" in w:
        m = re.search(r'Fast link dest: "(.*)"', st)
        target = m.group(1) if m else dbg_bytes(p).decode(errors="replace")  # a slow (long) link
        if target != w["link"]:
            print(f"{p}: link {target} != {w['link']}"); bad += 1
    if "dev" in w:
        m = re.search(r"Device major/minor number: (\d+):(\d+)", st)
        if not m or (int(m.group(1)), int(m.group(2))) != w["dev"]:
            print(f"{p}: device {m and m.groups()} != {w['dev']}"); bad += 1
    if "size" in w:
        m = re.search(r"Size: (\d+)", st)
        if not m or int(m.group(1)) != w["size"]:
            print(f"{p}: size {m and m.group(1)} != {w['size']}"); bad += 1
    if "sha" in w and hashlib.sha256(dbg_bytes(p)).hexdigest() != w["sha"]:
        print(f"{p}: content differs"); bad += 1
print(f"{len(want)} entries compared, {bad} differences")
sys.exit(1 if bad else 0)
PY
if python3 cmp.py "$IMG" "$OFF" >cmp.out 2>&1; then
	t_ok "archive listing = debugfs listing ($(tail -1 cmp.out))"
else
	t_fail "archive listing differs from debugfs listing"
	sed 's/^/#   /' cmp.out | head -20
fi

dstat() { debugfs -R "$1" "$IMG?offset=$OFF" 2>/dev/null; }
check "hard link: ping and ping4 share an inode" test "$(dstat 'stat /usr/bin/ping' | grep -o 'Inode: [0-9]*')" = \
	"$(dstat 'stat /usr/bin/ping4' | grep -o 'Inode: [0-9]*')"
check "huge sparse file: 5 GiB + 4 bytes, 1 block" bash -c "debugfs -R 'stat /var/huge-sparse' '$IMG?offset=$OFF' 2>/dev/null | grep -q 'Size: 5368709124' &&
	debugfs -R 'stat /var/huge-sparse' '$IMG?offset=$OFF' 2>/dev/null | grep -q 'Blockcount: 8\$'"
check "small sparse file keeps its hole" bash -c "debugfs -R 'stat /var/sparse' '$IMG?offset=$OFF' 2>/dev/null | grep -q 'Blockcount: 8\$'"
if [ -z "$CAP_WHY" ]; then
	check "security.capability survives" bash -c "debugfs -R 'ea_get /usr/bin/ping security.capability' '$IMG?offset=$OFF' 2>/dev/null | grep -qi 'capability\|0x\|01 00 00 02'"
else
	t_skip "security.capability survives" "$CAP_WHY"
fi
if [ -z "$ACL_WHY" ]; then
	check "ACL stored as system.posix_acl_access" bash -c "debugfs -R 'ea_list /srv/acl-file' '$IMG?offset=$OFF' 2>/dev/null | grep -q 'system.posix_acl_access'"
	check "default ACL stored on the directory" bash -c "debugfs -R 'ea_list /srv' '$IMG?offset=$OFF' 2>/dev/null | grep -q 'system.posix_acl_default'"
	check "user xattr stored" bash -c "debugfs -R 'ea_list /srv/acl-file' '$IMG?offset=$OFF' 2>/dev/null | grep -q 'user.comment.*hello'"
else
	t_skip "ACLs and xattrs" "$ACL_WHY"
fi

# --- ls, cat, hostile names, the socket ------------------------------------------
check "cat follows /etc/os-release inside the guest" bash -c "'$PARTBOOT' cat '$IMG' deb12 /etc/os-release | grep -q 'Partboot Test 12'"
check "ls lists /boot" bash -c "'$PARTBOOT' ls '$IMG' deb12 /boot | grep -q vmlinuz-6.1.0-28-amd64"
check "ls -l shows setuid" bash -c "'$PARTBOOT' ls -l '$IMG' deb12 /usr/bin | grep -q '^-rwsr-xr-x.*ping\$'"
lacks "no marker after a complete install" partboot-incomplete pb ls "$IMG" deb12 /
refuses "cat of a missing file" 1 "nope" pb cat "$IMG" deb12 /nope

check "install adds hostile names to the guest" pb -q install "$IMG" deb12 --from evil.tar
check "'../../escape' lands inside" bash -c "'$PARTBOOT' cat '$IMG' deb12 /escape | grep -q inside"
check "'/abs/file' lands inside" bash -c "'$PARTBOOT' cat '$IMG' deb12 /abs/file | grep -q abs"
check "'a/../../../up' lands inside" bash -c "'$PARTBOOT' cat '$IMG' deb12 /up | grep -q up"
check "a symlink to /etc/shadow is stored, not followed" bash -c "debugfs -R 'stat /evil-link' '$IMG?offset=$OFF' 2>/dev/null | grep -q 'Fast link dest: \"/etc/shadow\"'"
refuses "cat through it stays in the guest" 1 "evil-link.*no such file" pb cat "$IMG" deb12 /evil-link
if [ "$(outside)" = "$BEFORE" ]; then t_ok "still nothing written outside deb12"; else t_fail "bytes outside deb12 CHANGED"; fi

refuses "a socket is skipped with a warning (directory source)" 0 "warning: .*run/sock.*socket" \
	pb install "$IMG" deb12 --wipe --from "$S"
check "e2fsck -fn is clean after a directory install" e2fsck -fn "$IMG?offset=$OFF"

# --- determinism -----------------------------------------------------------------
part_sum() { dd if="$IMG" bs=1M skip=$((OFF / 1048576)) count=$((SIZE / 1048576)) status=none | sha256sum | cut -d' ' -f1; }
# Each install is checked: two failed installs would leave the same bytes too.
check "install --seed same" pb -q install "$IMG" deb12 --wipe --from src.tar --seed same
A=$(part_sum)
sleep 1
check "install --seed same again, a second later" env SOURCE_DATE_EPOCH= "$PARTBOOT" -q install "$IMG" deb12 --wipe --from src.tar --seed same
B=$(part_sum)
check "the same seed gives the same bytes" test "$A" = "$B"
check "install --seed other" pb -q install "$IMG" deb12 --wipe --from src.tar --seed other
check "another seed gives another UUID" test "$(part_sum)" != "$A"

# --- failures: exit 1, a message, and the guest marked incomplete -----------------
head -c $(($(stat -c %s src.tar) / 2)) src.tar >trunc.tar
refuses "truncated tar: exit 1 naming the entry" 1 "deb12.*'.*'.*(Truncated|truncated|corrupt)" \
	pb install "$IMG" deb12 --from trunc.tar
check "the guest is marked incomplete" bash -c "'$PARTBOOT' ls '$IMG' deb12 / | grep -q partboot-incomplete"
check "list shows it incomplete" bash -c "'$PARTBOOT' list '$IMG' | grep -E '^ *[0-9]+ deb12 ' | grep -qw incomplete"
check "e2fsck -fn is clean after the failure" e2fsck -fn "$IMG?offset=$OFF"
check "re-install replaces the incomplete guest" pb -q install "$IMG" deb12 --from src.tar
lacks "complete again" partboot-incomplete pb ls "$IMG" deb12 /

S0=$(sum "$IMG")
refuses "missing source: exit 1" 1 "no-such.tar.*No such file" pb install "$IMG" deb12 --from no-such.tar
check "missing source: disk unchanged" test "$(sum "$IMG")" = "$S0"
refuses "wrong partition type: esp refused" 1 "efi.*esp.*root or data" pb install "$IMG" efi --from src.tar
refuses "wrong partition type: swap refused" 1 "sw.*swap.*root or data" pb install "$IMG" sw --from src.tar
check "wrong type: disk unchanged" test "$(sum "$IMG")" = "$S0"
refuses "garbage is not an archive" 1 "deb12.*hostname.*format" pb install "$IMG" deb12 --wipe --from /etc/hostname
check "garbage: disk unchanged, even with --wipe" test "$(sum "$IMG")" = "$S0"

head -c 12000000 /dev/urandom >"$S/var/big"
tar --format=pax -C "$S" -cf big.tar var/big usr/lib
refuses "too small: says needed and free" 1 "tiny.*needed.*free" pb install "$IMG" tiny --from big.tar
check "too small: marked incomplete" bash -c "'$PARTBOOT' ls '$IMG' tiny / | grep -q partboot-incomplete"
check "too small: e2fsck -fn clean" e2fsck -fn "$IMG?offset=$TINY_OFF"

# --- mkfs ------------------------------------------------------------------------
check "mkfs esp → vfat" pb -q mkfs "$IMG" efi --label ESP
read -r EFI_OFF EFI_SIZE <<<"$(part_range efi)"
check "blkid sees vfat" bash -c "blkid -p -O $EFI_OFF -S $EFI_SIZE '$IMG' | grep -q 'TYPE=\"vfat\"'"
check "mtools reads it" mdir -i "$IMG@@$EFI_OFF" ::/
check "mkfs swap" pb -q mkfs "$IMG" sw
read -r SW_OFF SW_SIZE <<<"$(part_range sw)"
check "blkid sees swap" bash -c "blkid -p -O $SW_OFF -S $SW_SIZE '$IMG' | grep -q 'TYPE=\"swap\"'"
refuses "mkfs with an unknown fs is a usage error" 2 "unknown filesystem" pb mkfs "$IMG" other --fs zfs

# --- as an ordinary user, on an image they own in a folder they cannot write ------
if [ $ROOT = 1 ] && command -v runuser >/dev/null && id nobody >/dev/null 2>&1; then
	mkdir -p ro
	cp --sparse=always "$IMG" ro/user.img
	chown nobody ro/user.img
	chmod 644 src.tar
	chmod 755 ro
	check "install as nobody" runuser -u nobody -- "$(pb_public)" -q install ro/user.img deb12 --wipe --from src.tar
	check "ownership from the archive, not from nobody" bash -c "debugfs -R 'stat /usr/bin/ping' 'ro/user.img?offset=$OFF' 2>/dev/null | grep -q 'User:     0   Group:     0'"
	check "e2fsck -fn clean (nobody's install)" e2fsck -fn "ro/user.img?offset=$OFF"
else
	if [ $ROOT != 1 ]; then why="needs root to switch to nobody"
	elif ! command -v runuser >/dev/null; then why="runuser missing (package util-linux)"
	else why="no user nobody on this machine"; fi
	t_skip "install as an ordinary user" "$why"
fi

t_done
