#!/bin/bash
# Logging into what partboot installs, without booting (the boots are tests/slow/login.sh):
# partboot customize, install and apply with --root-password-file, --root-password,
# --user, --user-password-file, --ssh-key, --firstboot, --cloud-init; run --cloud-init's
# seed (given meta-data, the cidata drive on the guest's disk controller); apply with every
# layout key; install refusing what the source's own account files refuse before the first
# write; partboot ssh refusing a guest without sshd. Files are checked with partboot cat and
# ls -l, hashes with libcrypt's own crypt() (python3), filesystems with e2fsck -fn; every
# refusal leaves the disk byte-identical.
#
# The guest: the test guest (.cache/guest/guest.tar, `make guest`) with Debian's real
# account files on top: passwd and group from base-passwd's masters, shadow and gshadow
# made from them by the host's pwconv/grpconv, /etc/skel from bash's package (the .debs
# from .cache/debootstrap, else `apt-get download` into .cache/customize). Its shadow group
# has gid 4242 (42 on the host), so a gid taken from the host's /etc/group shows.
. "$(dirname "$0")/lib.sh"
cd "$T_DIR" || exit 1

GUEST_TAR=$PB_TOP/.cache/guest/guest.tar
missing=
for p in pwconv grpconv dpkg-deb ssh-keygen python3 e2fsck xorriso blkid bsdtar; do
	command -v "$p" >/dev/null || missing="$missing $p"
done
if [ -n "$missing" ]; then
	t_skip "customize" "missing:$missing"
	t_done
	exit 0
fi
if [ ! -f "$GUEST_TAR" ]; then
	t_skip "customize" "no $GUEST_TAR (make guest)"
	t_done
	exit 0
fi
# deb PACKAGE: a cached .deb of it (downloaded once when there is none)
first_deb() {
	local f
	for f in "$PB_TOP"/.cache/debootstrap/"$1"_*.deb "$PB_TOP"/.cache/customize/"$1"_*.deb; do
		[ -f "$f" ] && { echo "$f"; return; }
	done
}
deb() {
	if [ -z "$(first_deb "$1")" ]; then
		mkdir -p "$PB_TOP/.cache/customize"
		(cd "$PB_TOP/.cache/customize" && apt-get download "$1" >/dev/null 2>&1)
	fi
	first_deb "$1"
}
BP=$(deb base-passwd)
BASH_DEB=$(deb bash)
if [ -z "$BP" ] || [ -z "$BASH_DEB" ]; then
	t_skip "customize" "cannot get base-passwd and bash .debs (no cache, no network)"
	t_done
	exit 0
fi

# --- the fixture -------------------------------------------------------------------------
mkdir -p x root/etc root/root root/home
dpkg-deb -x "$BP" x && dpkg-deb -x "$BASH_DEB" x || exit 1
cp x/usr/share/base-passwd/passwd.master root/etc/passwd
cp x/usr/share/base-passwd/group.master root/etc/group
cp -a x/etc/skel root/etc/
pwconv -R "$T_DIR/root" && grpconv -R "$T_DIR/root" || exit 1
sed -i 's/^shadow:x:42:/shadow:x:4242:/' root/etc/group
grep -q '^shadow:x:4242:' root/etc/group || exit 1
rm -f root/etc/.pwd.lock root/etc/*-
tar --numeric-owner --owner=0 --group=0 -C root -cf acc.tar ./etc/passwd ./etc/group ./etc/skel ./root ./home
tar --numeric-owner --owner=0 --group=4242 --mode=0640 -C root -rf acc.tar ./etc/shadow ./etc/gshadow
cp "$GUEST_TAR" plain.tar
cp "$GUEST_TAR" accounts.tar && tar -Af accounts.tar acc.tar
# stand-ins for the programs a real Debian has, where only their presence is checked here
mkdir -p fake/lib/systemd fake/usr/bin fake/usr/lib/systemd/system
printf '#!/bin/sh\n' >fake/lib/systemd/systemd
cp fake/lib/systemd/systemd fake/usr/bin/cloud-init
chmod 755 fake/lib/systemd/systemd fake/usr/bin/cloud-init
tar --numeric-owner --owner=0 --group=0 -C fake -cf fake.tar ./lib/systemd/systemd ./usr/bin/cloud-init
cp accounts.tar full.tar && tar -Af full.tar fake.tar

IMG=$T_DIR/disk.img
if ! { pb -q init "$IMG" --size 150M && pb -q add "$IMG" g --type root --size 48M &&
	pb -q add "$IMG" plain --type root --size 40M && pb -q add "$IMG" full --type root --size 48M &&
	pb -q install "$IMG" g --from accounts.tar && pb -q install "$IMG" plain --from plain.tar &&
	pb -q install "$IMG" full --from full.tar; }; then
	t_fail "cannot make the disk"
	t_done
	exit 1
fi
range() {
	pb list --json "$IMG" | python3 -c "import json,sys
for p in json.load(sys.stdin)['partitions']:
    if p['name'] == '$1': print(p['start'], p['size'])"
}
read -r OFF _ <<<"$(range g)"
read -r FULL_OFF _ <<<"$(range full)"
gcat() { pb cat "$IMG" "${2:-g}" "$1"; }
# line PATH NAME [GUEST]: the line of account file PATH for NAME
line() { gcat "$1" "${3:-g}" | grep "^$2:"; }
# lsl DIR NAME [GUEST]: "MODE UID GID" of NAME in DIR
lsl() { pb ls -l "$IMG" "${3:-g}" "$1" | awk -v n="$2" '$NF == n || $(NF-2) == n { print $1, $2, $3; exit }'; }
# verify PASSWORD HASH: libcrypt's crypt() gives the hash back for the right password only
verify() {
	python3 -W ignore -c 'import crypt, sys; sys.exit(0 if crypt.crypt(sys.argv[1], sys.argv[2]) == sys.argv[2] else 1)' "$@"
}
fsck_clean() { e2fsck -fn "$IMG?offset=${1:-$OFF}" >/dev/null 2>&1; }
ssh-keygen -q -t ed25519 -N '' -C 'alice@laptop' -f alice.key && ssh-keygen -q -t ed25519 -N '' -f root.key || exit 1
printf 'Root-Secret-42\n' >root.pw
printf 'alice-Secret-7\n' >alice.pw

# --- refusals, each before anything is written -----------------------------------------
B=$(sum "$IMG")
refuses "a missing key file" 1 "nokey.pub: No such file" pb customize "$IMG" g --ssh-key nokey.pub
refuses "a key file that is a folder" 1 "not a regular file" pb customize "$IMG" g --ssh-key "$T_DIR"
refuses "a private key" 1 "a private key: give its public half" pb customize "$IMG" g --ssh-key alice.key
echo "hello world" >junk.pub
refuses "a file that is not an SSH public key" 1 "junk.pub:1: not an SSH public key" \
	pb customize "$IMG" g --ssh-key junk.pub
: >empty.pw
refuses "an empty password file" 1 "empty password" pb customize "$IMG" g --root-password-file empty.pw
refuses "an empty password on standard input" 1 "standard input: empty password" \
	pb customize "$IMG" g --root-password-file - </dev/null
refuses "an invalid user name (usage)" 2 "'Alice' is not a valid user name" pb customize "$IMG" g --user Alice
refuses "user root" 2 "user 'root' exists in every guest" pb customize "$IMG" g --user root
refuses "an existing user" 1 "user 'daemon' already exists in the guest" pb customize "$IMG" g --user daemon
refuses "a group the guest does not have" 1 "group 'wheel' does not exist in the guest" \
	pb customize "$IMG" g --user alice:wheel
printf 'echo no interpreter line\n' >nofb.sh
refuses "a firstboot script without #!" 1 "does not start with #!" pb customize "$IMG" full --firstboot nofb.sh
printf '#!/bin/sh\n\0\1\2' >binfb.sh
refuses "a firstboot file that is not text" 1 "not text" pb customize "$IMG" full --firstboot binfb.sh
printf '#!/usr/bin/python3\nprint(1)\n' >py.sh
refuses "a firstboot interpreter the guest lacks" 1 "the guest has no /usr/bin/python3" \
	pb customize "$IMG" full --firstboot py.sh
printf '#!/bin/sh\necho hi\n' >fb.sh
refuses "firstboot on a guest without systemd" 1 "the guest has no systemd" pb customize "$IMG" g --firstboot fb.sh
refuses "a guest without /etc/shadow" 1 "the guest has no /etc/shadow" \
	pb customize "$IMG" plain --root-password-file root.pw
printf '#cloud-config\nruncmd: [[touch, /root/ci]]\n' >ud.yaml
refuses "a seed for a guest without cloud-init" 1 "no cloud-init .* --packages cloud-init" \
	pb customize "$IMG" g --cloud-init ud.yaml
echo "not yaml, not a script" >bad-ud
refuses "user-data that is not user-data" 1 "not cloud-init user-data" pb customize "$IMG" full --cloud-init bad-ud
refuses "nothing asked" 2 "nothing to change" pb customize "$IMG" g
refuses "both locked and a password file" 2 "exclude each other" \
	pb customize "$IMG" g --root-password-file root.pw --root-password locked
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	# unreadable: as an ordinary user, who may write the disk but not read the key
	cp "$IMG" nobody.img && chmod 666 nobody.img && cp alice.key.pub secret.pub && chmod 000 secret.pub
	NB=$(sum nobody.img)
	refuses "an unreadable key file" 1 "secret.pub: Permission denied" \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$(pb_public)" customize nobody.img g --ssh-key secret.pub
	check "unreadable key: that disk unchanged" test "$(sum nobody.img)" = "$NB"
	rm -f nobody.img
else
	t_skip "an unreadable key file" "needs root and setpriv to try it as another user"
fi
check "after the refusals: disk byte-identical" test "$(sum "$IMG")" = "$B"

# --- dry run: the plan, no password, nothing written --------------------------------------
pb customize "$IMG" g --root-password-file root.pw --user alice:users --user-password-file alice.pw \
	--ssh-key alice.key.pub --dry-run >dry.out 2>dry.err
check "dry run: what would change" grep -q "user alice added: uid 1000, gid 1000, groups users" dry.out
check "dry run: root's password" grep -q "root's password set (yescrypt" dry.out
check "dry run: no password, no hash in its output" bash -c "! grep -qE 'Secret|\\\$y\\\$' dry.out dry.err"
check "dry run: disk byte-identical" test "$(sum "$IMG")" = "$B"

# --- root's password, a user with groups, keys -------------------------------------------
check "customize: root's password from a file" pb -q customize "$IMG" g --root-password-file root.pw
H=$(line /etc/shadow root | cut -d: -f2)
check "root's hash is yescrypt" test "${H:0:3}" = "\$y\$"
check "root's hash verifies with libcrypt (and not another password)" \
	bash -c "$(declare -f verify); verify Root-Secret-42 '$H' && ! verify Root-Secret-43 '$H'"
check "shadow stays 0640 root:shadow (the guest's gid 4242)" test "$(lsl /etc shadow)" = "-rw-r----- 0 4242"
check "e2fsck clean" fsck_clean
pb customize "$IMG" g --user alice:users,sudo --user-password-file - --ssh-key alice.key.pub \
	<alice.pw >user.out 2>&1
check "customize: a user, its password on standard input, a key" grep -q "user alice added" user.out
check "no password in the output" bash -c "! grep -q Secret user.out"
check "passwd: uid/gid 1000, home, a shell the guest has" \
	test "$(line /etc/passwd alice)" = "alice:x:1000:1000:,,,:/home/alice:/bin/sh"
check "group: alice's own group 1000" test "$(line /etc/group alice)" = "alice:x:1000:"
in_groups() { line /etc/group users | grep -q ':alice$' && line /etc/group sudo | grep -q ':alice$'; }
check "group: alice in users and sudo" in_groups
in_gshadow() { test "$(line /etc/gshadow alice)" = 'alice:!::' && line /etc/gshadow sudo | grep -q ':alice$'; }
check "gshadow: alice's group and the memberships" in_gshadow
AH=$(line /etc/shadow alice | cut -d: -f2)
check "alice's hash verifies" bash -c "$(declare -f verify); verify alice-Secret-7 '$AH'"
check "shadow line as Debian's: never expires, 7 days warning" \
	bash -c "line() { '$PARTBOOT' cat '$IMG' g /etc/shadow | grep '^alice:'; }; line | grep -qE '^alice:[^:]+:[0-9]+:0:99999:7:::\$'"
check "home 0700 alice:alice" test "$(lsl /home alice)" = "drwx------ 1000 1000"
check "home from /etc/skel, owned by alice" test "$(lsl /home/alice .bashrc)" = "-rw-r--r-- 1000 1000"
check ".ssh 0700 alice" test "$(lsl /home/alice .ssh)" = "drwx------ 1000 1000"
check "authorized_keys 0600 alice" test "$(lsl /home/alice/.ssh authorized_keys)" = "-rw------- 1000 1000"
check "authorized_keys holds the key" test "$(gcat /home/alice/.ssh/authorized_keys)" = "$(cat alice.key.pub)"
check "shadow, gshadow, passwd, group keep their owners and modes" bash -c "
	'$PARTBOOT' ls -l '$IMG' g /etc | awk '\$NF ~ /^(shadow|gshadow)\$/ && (\$1 != \"-rw-r-----\" || \$2 != 0 || \$3 != 4242) { exit 1 }
		\$NF ~ /^(passwd|group)\$/ && (\$1 != \"-rw-r--r--\" || \$2 != 0 || \$3 != 0) { exit 1 }'"
check "root's key: into /root/.ssh" pb -q customize "$IMG" g --ssh-key root.key.pub
check "root's authorized_keys 0600 root" test "$(lsl /root/.ssh authorized_keys)" = "-rw------- 0 0"
check "the same key again: not added twice" bash -c "'$PARTBOOT' customize '$IMG' g --ssh-key root.key.pub 2>&1 |
	grep -q '0 SSH keys added' && test \"\$('$PARTBOOT' cat '$IMG' g /root/.ssh/authorized_keys | wc -l)\" = 1"
check "root password locked: '!' before the hash" pb -q customize "$IMG" g --root-password locked
check "locked root: '!' and the old hash" test "$(line /etc/shadow root | cut -d: -f2)" = "!$H"
check "root password disabled: '*'" pb -q customize "$IMG" g --root-password disabled
check "disabled root: '*'" test "$(line /etc/shadow root | cut -d: -f2)" = "*"
check "a second user gets 1001" bash -c "'$PARTBOOT' -q customize '$IMG' g --user bob &&
	'$PARTBOOT' cat '$IMG' g /etc/passwd | grep -q '^bob:x:1001:1001:'"
check "e2fsck clean after all of it" fsck_clean

# --- killed while /etc/shadow is replaced: the old file or the new one, whole -------------
# (PARTBOOT_TEST_PAUSE: partboot stops itself there, the test kills it; docs/customize.md)
wait_stopped() {
	local st
	for _ in $(seq 1 300); do
		st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
		[ "$st" = T ] && return 0
		sleep 0.1
	done
	return 1
}
printf 'Newer-Secret-43\n' >new.pw
OLD=$(line /etc/shadow root | cut -d: -f2)
for stage in replace replaced; do
	PARTBOOT_TEST_PAUSE=$stage "$PARTBOOT" -q customize "$IMG" g --root-password-file new.pw &
	pid=$!
	if wait_stopped $pid; then
		kill -9 $pid
		wait $pid 2>/dev/null
		NOW=$(line /etc/shadow root | cut -d: -f2)
		if [ $stage = replace ]; then
			check "killed before the switch: /etc/shadow is the old one, whole" test "$NOW" = "$OLD"
		else
			check "killed after the switch: /etc/shadow is the new one, whole" \
				bash -c "$(declare -f verify); verify Newer-Secret-43 '$NOW'"
		fi
		check "killed at '$stage': the shadow group and mode stay" test "$(lsl /etc shadow)" = "-rw-r----- 0 4242"
		# libext2fs writes no journal: what a kill can leave is an inode no name points at
		e2fsck -fn "$IMG?offset=$OFF" >fsck.$stage 2>&1
		check "killed at '$stage': e2fsck finds one unattached inode, nothing else" \
			bash -c "test \$(grep -c '? no\$' fsck.$stage) = 1 && grep -q '^Connect to /lost+found? no\$' fsck.$stage"
		check "killed at '$stage': e2fsck -fy repairs it" \
			bash -c "e2fsck -fy '$IMG?offset=$OFF' >/dev/null 2>&1; e2fsck -fn '$IMG?offset=$OFF' >/dev/null 2>&1"
	else
		t_fail "customize did not stop at '$stage'"
		kill -9 $pid 2>/dev/null
		wait $pid 2>/dev/null
	fi
done
check "after the kills: the same request finishes the job" pb -q customize "$IMG" g --root-password-file new.pw
check "... and root's hash is the new password's" \
	bash -c "$(declare -f verify); verify Newer-Secret-43 \"\$('$PARTBOOT' cat '$IMG' g /etc/shadow | grep ^root: | cut -d: -f2)\""
check "e2fsck -fn clean after the kills" fsck_clean

# --- first boot, cloud-init seed (the boots are in tests/slow/login.sh) ------------------
check "firstboot: installed" pb -q customize "$IMG" full --firstboot fb.sh
check "firstboot: the script, 0700 root" test "$(lsl /var/lib/partboot firstboot full)" = "-rwx------ 0 0"
check "firstboot: the script as given" test "$(gcat /var/lib/partboot/firstboot full)" = "$(cat fb.sh)"
gcat /etc/systemd/system/partboot-firstboot.service full >unit
check "firstboot: a oneshot unit that disables itself" bash -c "grep -qx 'Type=oneshot' unit &&
	grep -qx 'ExecStart=/var/lib/partboot/firstboot' unit &&
	grep -qx 'ExecStopPost=systemctl --no-reload disable partboot-firstboot.service' unit &&
	grep -qx 'WantedBy=multi-user.target' unit && grep -qx 'StandardOutput=journal+console' unit"
check "firstboot: enabled (multi-user.target.wants)" bash -c "'$PARTBOOT' ls -l '$IMG' full /etc/systemd/system/multi-user.target.wants |
	grep -q 'partboot-firstboot.service -> /etc/systemd/system/partboot-firstboot.service\$'"
check "cloud-init seed into the guest" pb -q customize "$IMG" full --cloud-init ud.yaml
check "seed: user-data 0600, as given" bash -c "test \"\$('$PARTBOOT' cat '$IMG' full /var/lib/cloud/seed/nocloud/user-data)\" = \"\$(cat ud.yaml)\" &&
	'$PARTBOOT' ls -l '$IMG' full /var/lib/cloud/seed/nocloud | grep -qE '^-rw------- +0 +0 .* user-data\$'"
check "seed: meta-data with an instance-id and the hostname" bash -c "
	'$PARTBOOT' cat '$IMG' full /var/lib/cloud/seed/nocloud/meta-data | grep -qE '^instance-id: partboot-full-[0-9a-f]{8}\$' &&
	'$PARTBOOT' cat '$IMG' full /var/lib/cloud/seed/nocloud/meta-data | grep -qx 'local-hostname: full'"
check "e2fsck clean (firstboot, seed)" fsck_clean "$FULL_OFF"

# --- run --cloud-init: a read-only cidata volume, made without mounting --------------------
pb run "$IMG" full --cloud-init ud.yaml --print-cmdline >run.cmd 2>/dev/null
SEED=$(tr ' ' '\n' <run.cmd | sed -n 's/.*id=cidata,format=raw,readonly=on,.*file.filename=\(.*\)$/\1/p')
check "run --cloud-init: a read-only seed drive" test -n "$SEED"
check "the seed is ISO9660 labelled cidata" bash -c "blkid -o export '$SEED' | grep -qx LABEL=cidata &&
	blkid -o export '$SEED' | grep -qx TYPE=iso9660"
mkdir seed && bsdtar -xf "$SEED" -C seed 2>/dev/null
check "the seed holds user-data as given and meta-data" bash -c "cmp -s seed/user-data ud.yaml &&
	grep -q '^instance-id: partboot-full-' seed/meta-data"
rm -rf "$(dirname "$SEED")"
printf 'instance-id: given-42\nlocal-hostname: given-host\n' >md.yaml
pb run "$IMG" full --cloud-init ud.yaml --meta-data md.yaml --print-cmdline >run2.cmd 2>/dev/null
SEED=$(tr ' ' '\n' <run2.cmd | sed -n 's/.*id=cidata,format=raw,readonly=on,.*file.filename=\(.*\)$/\1/p')
check "run --meta-data: a seed drive" test -n "$SEED"
xorriso -indev "$SEED" -osirrox on -extract /meta-data seed-md -extract /user-data seed-ud >/dev/null 2>&1
check "run --meta-data: the seed holds the meta-data as given (xorriso reads it)" cmp -s seed-md md.yaml
check "run --meta-data: ... and the user-data" cmp -s seed-ud ud.yaml
# dev FILE DRIVE: the device model a -drive id is attached to
dev() { tr ' ' '\n' <"$1" | sed -n "s/^\([a-z-]*\),drive=$2\(,.*\)\{0,1\}\$/\1/p"; }
check "run --cloud-init: by default, cidata on the guest disk's controller (virtio)" \
	bash -c "$(declare -f dev); test \"\$(dev run2.cmd cidata)\" = \"\$(dev run2.cmd disk0)\" && dev run2.cmd cidata | grep -q '^virtio-blk-'"
[ -n "$SEED" ] && rm -rf "$(dirname "$SEED")"
pb run "$IMG" full --cloud-init ud.yaml --disk-bus ahci --print-cmdline >run3.cmd 2>/dev/null
check "run --disk-bus ahci: the guest's disk on AHCI (ide-hd)" bash -c "tr ' ' '\n' <run3.cmd | grep -q '^ide-hd,drive=disk0,bus=ide\.0,'"
check "run --disk-bus ahci: the cidata drive on the same controller, an ide-hd" \
	bash -c "tr ' ' '\n' <run3.cmd | grep -qx 'ide-hd,drive=cidata,bus=ide\.[0-9]' && ! tr ' ' '\n' <run3.cmd | grep -q 'virtio-blk-pci,drive=cidata'"
SEED=$(tr ' ' '\n' <run3.cmd | sed -n 's/.*id=cidata,format=raw,readonly=on,.*file.filename=\(.*\)$/\1/p')
[ -n "$SEED" ] && rm -rf "$(dirname "$SEED")"

# --- install and apply do the same, before the guest is complete -------------------------
B=$(sum "$IMG")
refuses "install --packages without debootstrap: (usage)" 2 "--packages goes with --from debootstrap" \
	pb install "$IMG" g --from accounts.tar --packages openssh-server
refuses "install: the password and the archive both on standard input (usage)" 2 "standard input carries the guest" \
	pb install "$IMG" g --from - --root-password-file - <accounts.tar
check "install refusals: disk byte-identical" test "$(sum "$IMG")" = "$B"
pb install "$IMG" g --from accounts.tar --wipe --root-password-file root.pw --user carol:users \
	--ssh-key alice.key.pub >inst.out 2>&1
check "install with a password, a user and a key" grep -q "installed from accounts.tar" inst.out
check "install: no password in its output" bash -c "! grep -q Secret inst.out"
check "install: carol's key and home" test "$(lsl /home/carol/.ssh authorized_keys)" = "-rw------- 1000 1000"
check "install: root's hash verifies" \
	bash -c "$(declare -f verify); verify Root-Secret-42 \"\$('$PARTBOOT' cat '$IMG' g /etc/shadow | grep ^root: | cut -d: -f2)\""
check "install: the guest is complete" bash -c "! '$PARTBOOT' ls '$IMG' g / | grep -q partboot-incomplete"
check "install --cloud-init: the seed into the guest" bash -c "'$PARTBOOT' -q install '$IMG' full --from full.tar --wipe --cloud-init ud.yaml &&
	'$PARTBOOT' cat '$IMG' full /var/lib/cloud/seed/nocloud/user-data | cmp -s - ud.yaml"
# what the source's own account files refuse: read ahead, refused before the first write
B=$(sum "$IMG")
refuses "install with a user the archive has: refused before the unpacking" 1 \
	"partition 'g': user 'daemon' already exists in the guest \\(its /etc/passwd in accounts.tar\\)" \
	pb install "$IMG" g --from accounts.tar --user daemon
refuses "... with --wipe too" 1 "user 'daemon' already exists" pb install "$IMG" g --from accounts.tar --wipe --user daemon
gzip -1 -c accounts.tar >accounts.tar.gz
refuses "... from a compressed archive" 1 "its /etc/passwd in accounts.tar.gz" \
	pb install "$IMG" g --from accounts.tar.gz --user daemon
refuses "install with a group the archive lacks: refused ahead" 1 "group 'wheel' does not exist in the guest \\(its /etc/group in" \
	pb install "$IMG" g --from accounts.tar --user erin:wheel
refuses "install --wipe of a source without /etc/shadow: refused ahead" 1 "the guest has no /etc/shadow in plain.tar" \
	pb install "$IMG" plain --from plain.tar --wipe --root-password-file root.pw
mkdir accdir && tar -C accdir -xf accounts.tar ./etc
refuses "install from a folder with a user it has: refused ahead" 1 "user 'daemon' already exists in the guest \\(its /etc/passwd in $T_DIR/accdir\\)" \
	pb install "$IMG" g --from "$T_DIR/accdir" --user daemon
check "refused ahead: disk byte-identical" test "$(sum "$IMG")" = "$B"
check "... and the guests stay complete" bash -c "! '$PARTBOOT' ls '$IMG' g / | grep -q partboot-incomplete &&
	! '$PARTBOOT' ls '$IMG' plain / | grep -q partboot-incomplete"
# Over a complete guest without --wipe, a file the archive lacks may be the old guest's:
# only the filled guest can tell (docs/customize.md), and it still refuses.
refuses "install over a complete guest, a source without shadow: refused once filled" 1 "the guest has no /etc/shadow \\(" \
	pb install "$IMG" plain --from plain.tar --root-password-file root.pw
check "... and leaves that guest incomplete" bash -c "'$PARTBOOT' ls '$IMG' plain / | grep -q partboot-incomplete"
cat >layout.conf <<EOF
[disk]
size = 200M
seed = customize

[partition g]
type = root
size = 150M
source = accounts.tar
root-password-file = root.pw
user = dave:users
ssh-key = alice.key.pub
EOF
pb apply "$T_DIR/a.img" layout.conf --dry-run >plan.txt 2>&1
pb apply "$T_DIR/a.img" layout.conf --dry-run --json >plan.json 2>&1
check "apply --dry-run: where the password comes from, not what it is" bash -c "grep -q 'root password from root.pw' plan.txt &&
	! grep -q Secret plan.txt plan.json"
check "apply --dry-run --json: the keys as data" bash -c "jq -e '.plan[] | select(.kind == \"install\") |
	.root_password == \"file\" and .user == \"dave:users\" and (.ssh_key | endswith(\"alice.key.pub\"))' plan.json >/dev/null"
check "apply: a layout with a password, a user and a key" pb -q apply "$T_DIR/a.img" layout.conf
check "apply: dave's account" bash -c "'$PARTBOOT' cat '$T_DIR/a.img' g /etc/passwd | grep -q '^dave:x:1000:1000:'"
cp "$T_DIR/a.img" first.img && rm -f "$T_DIR/a.img" && pb -q apply "$T_DIR/a.img" layout.conf
check "apply with a seed and a password: byte-identical twice" cmp -s first.img "$T_DIR/a.img"
# every customize key of a layout, through apply, checked inside the guests
cat >all.conf <<EOF
[disk]
size = 200M
seed = customize

[partition all]
type = root
size = 64M
source = full.tar
root-password-file = root.pw
user = erin:users
user-password-file = alice.pw
ssh-key = alice.key.pub
firstboot = fb.sh
cloud-init = ud.yaml
meta-data = md.yaml

[partition lk]
type = root
size = 48M
source = accounts.tar
root-password = locked
EOF
AIMG=$T_DIR/all.img
pb apply "$AIMG" all.conf --dry-run >all-plan.txt 2>&1
pb apply "$AIMG" all.conf --dry-run --json >all-plan.json 2>&1
check "apply --dry-run, every key: the plan names each" bash -c "grep -q 'root password from .*root.pw' all-plan.txt &&
	grep -q 'user erin:users with password from .*alice.pw' all-plan.txt && grep -q 'ssh key .*alice.key.pub' all-plan.txt &&
	grep -q 'firstboot .*fb.sh' all-plan.txt && grep -q 'cloud-init .*ud.yaml' all-plan.txt && grep -q 'root password locked' all-plan.txt"
check "apply --dry-run --json, every key" bash -c "jq -e '[.plan[] | select(.kind == \"install\")] |
	(.[] | select(.root_password == \"file\") | .user == \"erin:users\" and (.user_password_file | endswith(\"alice.pw\")) and
	(.ssh_key | endswith(\"alice.key.pub\")) and (.firstboot | endswith(\"fb.sh\")) and (.cloud_init | endswith(\"ud.yaml\")) and
	(.meta_data | endswith(\"md.yaml\"))) and any(.[]; .root_password == \"locked\")' all-plan.json >/dev/null"
check "apply --dry-run: nothing written" test ! -e "$AIMG"
"$PARTBOOT" -v apply "$AIMG" all.conf >all-apply.out 2>&1
check "apply -v: a layout with every customize key" bash -c "grep -q \"install 'all' from .*full\\.tar\" all-apply.out &&
	grep -q \"install 'lk' from .*accounts\\.tar\" all-apply.out && grep -q ': done\$' all-apply.out"
check "apply --dry-run, --json, -v: no password, no hash" bash -c "! grep -qE 'Secret|\\\$y\\\$' all-plan.txt all-plan.json all-apply.out"
aline() { pb cat "$AIMG" "${3:-all}" "$1" | grep "^$2:"; }
alsl() { pb ls -l "$AIMG" "${3:-all}" "$1" | awk -v n="$2" '$NF == n || $(NF-2) == n { print $1, $2, $3; exit }'; }
check "apply: root's password from root-password-file" \
	bash -c "$(declare -f verify); verify Root-Secret-42 '$(aline /etc/shadow root | cut -d: -f2)'"
check "apply: user erin, uid 1000, in users" bash -c "'$PARTBOOT' cat '$AIMG' all /etc/passwd | grep -q '^erin:x:1000:1000:,,,:/home/erin:' &&
	'$PARTBOOT' cat '$AIMG' all /etc/group | grep -q '^users:x:100:erin\$'"
check "apply: erin's password from user-password-file" \
	bash -c "$(declare -f verify); verify alice-Secret-7 '$(aline /etc/shadow erin | cut -d: -f2)'"
check "apply: erin's key from ssh-key, 0600 erin" bash -c "test '$(alsl /home/erin/.ssh authorized_keys)' = '-rw------- 1000 1000' &&
	test \"\$('$PARTBOOT' cat '$AIMG' all /home/erin/.ssh/authorized_keys)\" = '$(cat alice.key.pub)'"
check "apply: the firstboot script, its unit, enabled" bash -c "'$PARTBOOT' cat '$AIMG' all /var/lib/partboot/firstboot | cmp -s - fb.sh &&
	test '$(alsl /var/lib/partboot firstboot)' = '-rwx------ 0 0' &&
	'$PARTBOOT' cat '$AIMG' all /etc/systemd/system/partboot-firstboot.service | grep -qx 'ExecStart=/var/lib/partboot/firstboot' &&
	'$PARTBOOT' ls -l '$AIMG' all /etc/systemd/system/multi-user.target.wants | grep -q 'partboot-firstboot.service -> /etc/systemd/system/partboot-firstboot.service'"
check "apply: the cloud-init seed, user-data and the meta-data given" bash -c "
	'$PARTBOOT' cat '$AIMG' all /var/lib/cloud/seed/nocloud/user-data | cmp -s - ud.yaml &&
	'$PARTBOOT' cat '$AIMG' all /var/lib/cloud/seed/nocloud/meta-data | cmp -s - md.yaml"
LK_OLD=$(tar -xOf acc.tar ./etc/shadow | grep '^root:' | cut -d: -f2)
check "apply: root-password = locked, '!' before the source's own field" test "$(aline /etc/shadow root lk | cut -d: -f2)" = "!$LK_OLD"
check "apply: shadow 0640 root:shadow in both guests" bash -c "test '$(alsl /etc shadow)' = '-rw-r----- 0 4242' &&
	test '$(alsl /etc shadow lk)' = '-rw-r----- 0 4242'"
read -r A_OFF _ <<<"$(pb_range all "$AIMG")"
read -r L_OFF _ <<<"$(pb_range lk "$AIMG")"
check "apply, every key: e2fsck -fn clean, both guests" bash -c "e2fsck -fn '$AIMG?offset=$A_OFF' >/dev/null 2>&1 &&
	e2fsck -fn '$AIMG?offset=$L_OFF' >/dev/null 2>&1"
# packages: only with a debootstrap: source, refused before anything is written otherwise
{ cat all.conf; echo "packages = openssh-server"; } >badpk.conf
A=$(sum "$AIMG")
refuses "layout packages on an archive source: FILE:LINE (dry run)" 1 \
	"badpk.conf:22: \\[partition lk\\]: packages goes with source = debootstrap:SUITE" pb apply "$AIMG" badpk.conf --dry-run
refuses "layout packages on an archive source: refused, not only in a dry run" 1 "badpk.conf:22: .*packages goes with source = debootstrap" \
	pb apply "$AIMG" badpk.conf
check "... and the disk is byte-identical" test "$(sum "$AIMG")" = "$A"
refuses "... nor a new disk made" 1 "badpk.conf:22:" pb apply "$T_DIR/new.img" badpk.conf
check "... no image file left" test ! -e "$T_DIR/new.img"
if command -v mmdebstrap >/dev/null; then
	printf '[disk]\nsize = 2G\n\n[partition d]\ntype = root\nsize = 1G\nsource = debootstrap:bookworm\npackages = openssh-server,sudo\nroot-password-file = root.pw\n' >deb.conf
	pb apply "$T_DIR/deb.img" deb.conf --dry-run --json >deb-plan.json 2>&1
	check "layout packages with debootstrap: in the plan (dry run: no mmdebstrap run)" \
		bash -c "jq -e '.plan[] | select(.kind == \"install\") | .packages == \"openssh-server,sudo\" and .root_password == \"file\"' deb-plan.json >/dev/null &&
		! grep -q Secret deb-plan.json && test ! -e '$T_DIR/deb.img'"
else
	t_skip "layout packages with debootstrap" "mmdebstrap missing (a debootstrap: source needs it even for a dry run)"
fi
printf '[partition x]\ntype = root\nsize = 10M\nsource = accounts.tar\nroot-password = open\n' >badpw.conf
refuses "a layout's root-password other than locked or disabled" 1 "badpw.conf:5: root-password takes locked or disabled" \
	pb apply "$T_DIR/b.img" badpw.conf --dry-run
printf '[partition x]\ntype = root\nsize = 10M\nuser = eve\n' >nosrc.conf
refuses "a layout key without source" 1 "nosrc.conf:4: \\[partition x\\]: user without source" \
	pb apply "$T_DIR/b.img" nosrc.conf --dry-run

# --- partboot ssh: a guest without an SSH server says how to get one ----------------------
B=$(sum "$IMG")
refuses "ssh into a guest without sshd says how to add one" 1 "no SSH server .*--packages openssh-server" \
	env HOME="$T_DIR/home" "$PARTBOOT" ssh "$IMG" full -- true
check "... and wrote nothing" test "$(sum "$IMG")" = "$B"
t_done
