#!/bin/bash
# End-to-end tests of the part verbs (init add remove resize list apply), driving
# the real partboot on sparse image files; checked with sfdisk, blkid and jq.
# Every refusal is checked for its exit status, its message, and an unchanged disk.
. "$(dirname "$0")/lib.sh"
cd "$T_DIR" || exit 1

LOOPS=()
part_cleanup() {
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
	t_cleanup
}
trap part_cleanup EXIT

# refuses_same DESC STATUS PATTERN DISK CMD...: refused, and DISK byte-identical.
refuses_same() {
	local desc=$1 want=$2 pat=$3 disk=$4 before
	shift 4
	before=$(sum "$disk")
	refuses "$desc" "$want" "$pat" "$@"
	if [ "$(sum "$disk")" = "$before" ]; then t_ok "$desc: disk unchanged"; else t_fail "$desc: disk CHANGED"; fi
}

# same_as_sfdisk DISK: list --json and sfdisk --json describe the same partitions.
same_as_sfdisk() {
	local disk=$1 ss=512 a b
	a=$(pb list --json "$disk" | jq -c --argjson ss $ss \
		'[.partitions[] | {n: .nr, start: (.start / $ss), size: (.size / $ss), uuid: (.partuuid | ascii_downcase)}]')
	b=$(sfdisk --json "$disk" | jq -c '.partitiontable as $t | [$t.partitions[] |
		{n: (.node | capture("(?<n>[0-9]+)$").n | tonumber), start, size,
		 uuid: (if $t.label == "gpt" then .uuid else ($t.id | ltrimstr("0x")) + "-" + (.node | capture("(?<n>[0-9]+)$").n | tonumber | tostring | if length < 2 then "0" + . else . end) end | ascii_downcase)}]')
	if [ "$a" = "$b" ]; then
		return 0
	fi
	echo "partboot: $a"
	echo "sfdisk:   $b"
	return 1
}

if ! command -v jq >/dev/null; then
	t_skip "part e2e" "jq is not installed (make deps)"
	t_done
	exit 0
fi

# --- GPT: init + adds, verified by sfdisk and read back -----------------------
check "init gpt" pb init g.img --size 64M --seed s1
check "add esp" pb add g.img esp --type esp --size 8M
check "add bios-boot" pb add g.img bios --type bios-boot --size 1M
check "add root with label" pb add g.img deb12 --type root --size 40M --label DEB12
check "add swap" pb add g.img swap --type swap --size 4M
check "add data rest" pb add g.img home --type data --size rest
check "sfdisk --verify gpt" sfdisk --verify g.img
check "list --json matches sfdisk --json (gpt)" same_as_sfdisk g.img
out=$(sfdisk --json g.img)
check "gpt names are the partition names" test "$(jq -r '[.partitiontable.partitions[].name] | join(",")' <<<"$out")" = "esp,bios,deb12,swap,home"
check "gpt types" test "$(jq -r '[.partitiontable.partitions[].type] | join(",")' <<<"$out")" = \
	"C12A7328-F81F-11D2-BA4B-00A0C93EC93B,21686148-6449-6E6F-744E-656564454649,4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709,0657FD6D-A4AB-43C4-84E5-0933C84B4F4F,0FC63DAF-8483-4772-8E79-3D69D8477DE4"
check "starts are 1 MiB aligned" test "$(jq '[.partitiontable.partitions[].start % 2048] | add' <<<"$out")" = 0
check "list shows the planned label" bash -c "'$PARTBOOT' list --json g.img | jq -e '.partitions[2].label == \"DEB12\"'"
check "list (human) shows MiB" bash -c "'$PARTBOOT' list g.img | grep -E '^ *3 +deb12 +root +10 MiB +40 MiB'"
check "blkid -p sees a gpt table" bash -c "blkid -p -o export g.img | grep -qx PTTYPE=gpt"

# a filesystem inside: list reports what libblkid finds
off=$(pb list --json g.img | jq '.partitions[2].start')
mkfs.ext4 -q -F -E offset="$off" -L rootfs -U 11111111-2222-3333-4444-555555555555 g.img 16M >/dev/null 2>&1
check "list shows fstype/label/uuid from blkid" bash -c "'$PARTBOOT' list --json g.img | jq -e '.partitions[2] | .fstype == \"ext4\" and .label == \"rootfs\" and .uuid == \"11111111-2222-3333-4444-555555555555\"'"
check "sfdisk --verify after mkfs" sfdisk --verify g.img

# libblkid's partition prober (behind blkid -p and partx) sees each partition
a=$(pb list --json g.img | jq -r '.partitions[] | "\(.nr) \(.start / 512) \(.size / 512) \(.name) \(.partuuid)"')
b=$(partx -g -o NR,START,SECTORS,NAME,UUID g.img | awk '{ print $1, $2, $3, $4, tolower($5) }')
check "blkid (partx) sees each partition as list does" test "$a" = "$b"
check "blkid -p at the root partition's offset sees ext4" bash -c \
	"blkid -p -O $off -S $((40 * 1024 * 1024)) -o export g.img | grep -qx TYPE=ext4"

# loop devices: the kernel's view, when partition nodes show up here
if L=$(losetup -f --show -P -r g.img 2>losetup.err); then
	LOOPS+=("$L")
	# devtmpfs makes the nodes; give it a moment (no udev in a container)
	for _ in $(seq 10); do [ -b "${L}p3" ] && break; sleep 0.1; done
	if [ -b "${L}p3" ]; then
		check "blkid -p on the kernel's partition node" bash -c "blkid -p -o export ${L}p3 | grep -qx PART_ENTRY_NAME=deb12"
	else
		t_skip "blkid -p on the kernel's partition node" "loop partition nodes do not appear in this container"
	fi
	refuses_same "refuses a disk backing a loop device" 1 "g.img: in use: it backs loop device $L" g.img \
		pb add g.img more --type data --size 1M
	check "list still works on a disk in use" pb list g.img
	losetup -d "$L"
	LOOPS=()
else
	t_skip "refuses a disk backing a loop device" "no loop device: $(head -n 1 losetup.err)"
fi

# a mounted partition (loop with offset, mounted): refused
if mkdir -p mnt && L=$(losetup -f --show -o "$off" --sizelimit $((16 * 1024 * 1024)) g.img 2>losetup.err); then
	LOOPS+=("$L")
	if mount -o ro "$L" mnt 2>mount.err; then
		refuses_same "refuses a disk whose partition is mounted" 1 "g.img: in use: it backs loop device" g.img \
			pb remove g.img deb12
		umount mnt
	else
		t_skip "refuses a disk whose partition is mounted" "mount does not work here: $(head -n 1 mount.err)"
	fi
	losetup -d "$L"
	LOOPS=()
else
	t_skip "refuses a disk whose partition is mounted" "no loop device: $(head -n 1 losetup.err)"
fi

# a block device (a loop device over an image): the same code, O_EXCL locking
truncate -s 64M bd.img
if L=$(losetup -f --show bd.img 2>losetup.err); then
	LOOPS+=("$L")
	check "block device: init" pb init "$L" --seed bd
	check "block device: add" pb add "$L" a --type root --size 10M
	check "block device: sfdisk --verify" sfdisk --verify "$L"
	check "block device: list" bash -c "'$PARTBOOT' list --json '$L' | jq -e '.partitions[0].name == \"a\"'"
	check "block device: mkfs.ext4 over the whole device (to mount it)" mkfs.ext4 -q -F "$L"
	if mkdir -p bdm && mount "$L" bdm 2>mount.err; then
		refuses_same "block device: refuses a mounted disk" 1 "$L: in use: mounted on .*bdm" bd.img \
			pb add "$L" b --type data --size 1M
		umount bdm
	else
		t_skip "block device: refuses a mounted disk" "mount does not work here: $(head -n 1 mount.err)"
	fi
	losetup -d "$L"
	LOOPS=()
else
	t_skip "block device" "no loop device: $(head -n 1 losetup.err)"
fi

# --- dos: names kept in partboot's record ---------------------------------------
check "init dos" pb init d.img --size 100M --table dos --seed s2
check "dos add esp" pb add d.img esp --type esp --size 20M
check "dos add root" pb add d.img deb12 --type root --size 30M --label DEB
check "dos add data" pb add d.img home --type data --size rest
check "sfdisk --verify dos" sfdisk --verify d.img
check "list --json matches sfdisk --json (dos)" same_as_sfdisk d.img
check "dos types" test "$(sfdisk --json d.img | jq -r '[.partitiontable.partitions[].type] | join(",")')" = "ef,83,83"
check "dos names and root/data read back" bash -c "'$PARTBOOT' list --json d.img | jq -e '[.partitions[] | .name + \":\" + .type] == [\"esp:esp\", \"deb12:root\", \"home:data\"]'"
check "dos: name lookup" pb resize d.img deb12 20M
check "dos: number lookup" pb remove d.img 3
check "dos: names survive edits" bash -c "'$PARTBOOT' list --json d.img | jq -e '[.partitions[].name] == [\"esp\", \"deb12\"]'"
check "blkid -p sees a dos table" bash -c "blkid -p -o export d.img | grep -qx PTTYPE=dos"
refuses_same "refuses bios-boot on dos" 1 "d.img: partition 'b': no bios-boot partition on a dos table" d.img \
	pb add d.img b --type bios-boot --size 1M

# --- refusals: message, exit status, disk byte-identical -----------------------
refuses_same "refuses overlap" 1 "g.img: partition 'x': 10 MiB at 5 MiB overlaps partition 1 'esp'" g.img \
	pb add g.img x --type data --size 10M --start 5M
check "remove home" pb remove g.img home
refuses_same "refuses a size larger than the free space" 1 \
	"g.img: partition 'big': 1 GiB requested, largest free space is [0-9]+ MiB" g.img \
	pb add g.img big --type data --size 1G
refuses_same "refuses zero size" 1 "g.img: partition 'z': size 0" g.img pb add g.img z --type data --size 0
refuses_same "refuses an unknown type" 1 "g.img: partition 'z': unknown type 'ext4'" g.img \
	pb add g.img z --type ext4 --size 1M
refuses_same "refuses a duplicate name" 1 "g.img: partition 'deb12' already exists" g.img \
	pb add g.img deb12 --type root --size 1M
refuses_same "refuses a second ESP" 1 "g.img: partition 'esp2': the disk already has an EFI system \(esp\) partition 1 'esp'" \
	g.img pb add g.img esp2 --type esp --size 1M
refuses_same "refuses a resize over the next partition" 1 "g.img: partition 1 'esp': 20 MiB requested would overlap partition 2 'bios'" \
	g.img pb resize g.img esp 20M
refuses_same "refuses an unknown partition" 1 "g.img: no partition 'nope'" g.img pb remove g.img nope
refuses_same "usage error: missing --type" 2 "--type is required" g.img pb add g.img z --size 1M
refuses_same "usage error: bad size" 2 "bad size 'lots'" g.img pb add g.img z --type root --size lots
refuses_same "refuses init over an existing table" 1 "g.img: already has a gpt table with 4 partition" g.img \
	pb init g.img
truncate -s 16K small.img
refuses_same "refuses a table on a disk too small" 1 "small.img: 16 KiB is too small for a GPT table \(needs at least" \
	small.img pb init small.img
mkdir adir
refuses "refuses a directory" 1 "adir: is a directory" pb init adir
cp g.img ro.img && chmod 444 ro.img
refuses_same "refuses a read-only file" 1 "ro.img: read-only file" ro.img pb add ro.img x --type data --size 1M
refuses "init without --size on a missing disk" 2 "give --size" pb init missing.img
check "nothing created on a refused init" test ! -e missing.img

# corrupt tables: primary header, primary entries, backup header
for what in "primary header CRC mismatch:$((512 + 60))" "primary entries CRC mismatch:$((1024 + 40))" \
	"backup header CRC mismatch:-452"; do
	cp g.img c.img
	at=${what##*:}
	[ "$at" -lt 0 ] && at=$(($(stat -c %s c.img) + at))
	printf 'X' | dd of=c.img bs=1 seek="$at" conv=notrunc status=none
	refuses_same "refuses a corrupt table (${what%%:*})" 1 "c.img: corrupt GPT: ${what%%:*}" c.img \
		pb add c.img x --type data --size 1M
done
refuses_same "list refuses a corrupt table too" 1 "c.img: corrupt GPT" c.img pb list c.img
check "--force replaces a corrupt table" pb init c.img --force
check "list --json of an empty table" bash -c "'$PARTBOOT' list --json c.img | jq -e '.partitions == []'"
cp c.img sw.img
check "--force: gpt to dos" pb init sw.img --table dos --force
check "gpt to dos: no stale GPT header left" bash -c "blkid -p -o export sw.img | grep -qx PTTYPE=dos && '$PARTBOOT' add sw.img a --type root --size 1M"
check "gpt to dos: sfdisk --verify" sfdisk --verify sw.img
check "sfdisk --verify after --force" sfdisk --verify c.img

# malformed / truncated layouts
printf '[disk]\nsize = 1G\n[partition a]\ntype = root\nsize = 1M\nwhat is this\n' >bad1.conf
refuses_same "refuses a malformed layout" 1 "bad1.conf:6: malformed line" g.img pb apply g.img bad1.conf
printf '[disk]\nsize = 1G\n[partition a]\ntype = ro' >bad2.conf
refuses_same "refuses a truncated layout" 1 "bad2.conf:4: truncated" g.img pb apply g.img bad2.conf
printf '[disk]\nsize = 1G\n[partition a]\ntype = root\nsize = 1M\ncolor = red\n' >bad3.conf
refuses_same "refuses an unknown key" 1 "bad3.conf:6: unknown key 'color'" g.img pb apply g.img bad3.conf
printf '[disk]\nsize = 1G\n[volume a]\n' >bad4.conf
refuses_same "refuses an unknown section" 1 "bad4.conf:3: unknown section \[volume a\]" g.img pb apply g.img bad4.conf

# --- locking -------------------------------------------------------------------

flock g.img sleep 5 &
holder=$!
sleep 0.5
before=$(sum g.img)
start=$(date +%s%N)
PARTBOOT_LOCK_TIMEOUT=1 pb add g.img x --type data --size 1M >out 2>err
rc=$?
waited=$((($(date +%s%N) - start) / 1000000))
if [ $rc = 1 ] && grep -q "g.img: in use by another partboot" err && [ "$waited" -ge 900 ]; then
	t_ok "waits for the lock, then fails clearly"
else
	t_fail "lock contention (exit $rc, waited ${waited} ms): $(cat err)"
fi
check "lock contention: disk unchanged" test "$(sum g.img)" = "$before"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
flock g.img sleep 1 &
holder=$!
sleep 0.3
check "waits and succeeds when the lock is let go" env PARTBOOT_LOCK_TIMEOUT=5 "$PARTBOOT" add g.img waited --type data --size 1M
wait "$holder"


# --- as a non-root user, on a file the user owns --------------------------------
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	ud=$(mktemp -d /tmp/partboot-e2e-user.XXXXXX)
	chown nobody "$ud"
	chmod 755 "$ud"
	asuser() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$(pb_public)" "$@"; }
	check "non-root: init" asuser init "$ud/u.img" --size 20M
	check "non-root: add" asuser add "$ud/u.img" a --type root --size 5M
	check "non-root: list" asuser list "$ud/u.img"
	check "non-root: sfdisk --verify" sfdisk --verify "$ud/u.img"
	cp g.img "$ud/root-owned.img"
	refuses "non-root: refuses a file it cannot write" 1 "root-owned.img: read-only \(Permission denied\)" \
		asuser add "$ud/root-owned.img" x --type data --size 1M
	rm -rf "$ud"
elif [ "$(id -u)" != 0 ]; then
	check "non-root: init" pb init u.img --size 100M
	check "non-root: add" pb add u.img a --type root --size 10M
else
	t_skip "non-root" "setpriv missing (package util-linux)"
fi

# --- reproducible: same layout + seed → same bytes --------------------------------
# (the table side of apply; guests, GRUB and the default: tests/e2e/apply.sh)
cat >lay.conf <<'EOF'
# a small layout
[disk]
size = 64M
table = gpt

[partition esp]
type = esp
size = 20M

[partition bios]
type = bios-boot
size = 1M

[partition deb12]
type = root
size = 30M
label = DEB12
fs = ext4

[partition home]
type = data
size = rest
EOF
check "apply --dry-run" bash -c "'$PARTBOOT' apply r0.img lay.conf --seed s --dry-run | grep -q \"add 3 'deb12' root 30 MiB\""
check "apply --dry-run creates nothing" test ! -e r0.img
check "apply (1)" pb apply r1.img lay.conf --seed seed7
check "apply (2)" pb apply r2.img lay.conf --seed seed7
check "same layout + seed: identical sha256" test "$(sum r1.img)" = "$(sum r2.img)"
check "apply: sfdisk --verify" sfdisk --verify r1.img
check "apply: list matches sfdisk" same_as_sfdisk r1.img
check "apply (3), another seed" pb apply r3.img lay.conf --seed other
check "another seed: other bytes" test "$(sum r1.img)" != "$(sum r3.img)"
check "init+add with seed twice: identical" bash -c "
	for i in 1 2; do '$PARTBOOT' -q init s\$i.img --size 100M --table dos --seed q &&
	'$PARTBOOT' -q add s\$i.img a --type root --size 10M --seed q &&
	'$PARTBOOT' -q add s\$i.img b --type data --size rest --seed q || exit 1; done
	test \"\$(sha256sum <s1.img)\" = \"\$(sha256sum <s2.img)\""

# --- apply on an existing disk ----------------------------------------------------
check "apply on the same disk again: nothing changes" bash -c "
	before=\$(sha256sum <r1.img); '$PARTBOOT' apply r1.img lay.conf --seed seed7 2>err &&
	grep -q \"keep 3 'deb12'\" err && test \"\$(sha256sum <r1.img)\" = \"\$before\""
check "a disk with esp and other, for apply" sh -c "'$PARTBOOT' -q init e.img --size 100M --seed e &&
	'$PARTBOOT' -q add e.img esp --type esp --size 20M && '$PARTBOOT' -q add e.img other --type data --size 10M"
check "apply adds what is missing, keeps the rest" pb apply e.img lay.conf
check "apply result" bash -c "'$PARTBOOT' list --json e.img | jq -e '[.partitions[].name] == [\"esp\", \"other\", \"bios\", \"deb12\", \"home\"]'"
check "apply result: sfdisk --verify" sfdisk --verify e.img
sed 's/size = 30M/size = 40M/' lay.conf >lay2.conf
refuses_same "apply refuses a changed size" 1 "r1.img: partition 'deb12' is 30 MiB on the disk, the layout says 40 MiB" \
	r1.img pb apply r1.img lay2.conf
sed 's/type = root/type = data/' lay.conf >lay3.conf
refuses_same "apply refuses a changed type" 1 "r1.img: partition 'deb12' is root on the disk, the layout says data" \
	r1.img pb apply r1.img lay3.conf
printf '[disk]\ntable = dos\n[partition deb12]\ntype = root\nsize = 30M\n' >lay4.conf
refuses_same "apply refuses another table type" 1 "r1.img: has a gpt table, the layout asks for dos" \
	r1.img pb apply r1.img lay4.conf
check "apply --force changes type" pb apply r1.img lay3.conf --force
check "apply --force: type changed" bash -c "'$PARTBOOT' list --json r1.img | jq -e '.partitions[2].type == \"data\"'"
check "apply --force: sfdisk --verify" sfdisk --verify r1.img

# --- remove / resize --------------------------------------------------------------
check "resize shrink" pb resize e.img home 5M
check "resize grows into free space" pb resize e.img home 15M
check "resize: new size" bash -c "'$PARTBOOT' list --json e.img | jq -e '.partitions[4].size == 15728640'"
check "resize rest" pb resize e.img home rest
check "resize: sfdisk --verify" sfdisk --verify e.img
check "remove by number" pb remove e.img 2
check "remove: sfdisk --verify" sfdisk --verify e.img
check "--help" bash -c "'$PARTBOOT' add --help | grep -q 'partboot add DISK NAME'"

# --- rename ------------------------------------------------------------------------
check "rename on GPT" pb rename e.img deb12 bookworm
check "rename: GPT name read back by sfdisk" bash -c "sfdisk --json e.img | jq -e '[.partitiontable.partitions[].name] | index(\"bookworm\") != null'"
check "rename: sfdisk --verify" sfdisk --verify e.img
refuses_same "rename refuses a name that is taken" 1 "e.img: partition 1 is already named 'esp'" \
	e.img pb rename e.img bookworm esp
refuses_same "rename refuses a number as name" 1 "a name cannot be a number" e.img pb rename e.img bookworm 7
check "a dos disk with one guest partition, to rename" sh -c "'$PARTBOOT' -q init rn.img --size 64M --table dos &&
	'$PARTBOOT' -q add rn.img g --type root --size 10M"
check "rename on dos (partboot's record)" pb rename rn.img 1 guest
check "rename on dos: name and type read back" bash -c "'$PARTBOOT' list --json rn.img | jq -e '.partitions[0].name == \"guest\" and .partitions[0].type == \"root\"'"

t_done
