#!/bin/bash
# The seed lives with the disk: `init --seed S`, then add, mkfs, install and bootloader without
# --seed, twice, gives the same bytes (identifiers and times derive from the S kept in
# partboot's record), the same as giving --seed S to every command; --seed on a later command
# overrides it for that command only; the disks pass e2fsck -fn and sfdisk --verify.
. "$(dirname "$0")/lib.sh"

GUEST_ENV=$PB_TOP/.cache/guest/env
unset SOURCE_DATE_EPOCH
missing=
for p in sfdisk e2fsck partx blkid jq; do
	command -v "$p" >/dev/null || missing="$missing $p"
done
[ -r "$GUEST_ENV" ] || missing="$missing test-guest(make guest)"
if [ -n "$missing" ]; then
	t_skip "seed e2e" "missing:$missing"
	t_done
	exit
fi
# shellcheck source=/dev/null
. "$GUEST_ENV"

# build DISK [EXTRA...]: the same commands every time; EXTRA goes to each command after init.
build() {
	local d=$1
	shift
	rm -f "$d"
	pb -q init "$d" --size 90M --seed lab-7 &&
		pb -q add "$d" esp --type esp --size 34M "$@" &&
		pb -q add "$d" guest --type root --size 40M "$@" &&
		pb -q add "$d" data --type data --size 10M --label shared "$@" &&
		pb -q mkfs "$d" data "$@" &&
		pb -q install "$d" guest --from "$GUEST_TAR" "$@" &&
		pb -q bootloader "$d"
}
# The sequences run a second apart: a time taken from the clock would show.
check "init --seed, then add/mkfs/install/bootloader without --seed" build "$T_DIR/a.img"
sleep 1
check "the same commands again" build "$T_DIR/b.img"
sa=$(sum "$T_DIR/a.img")
check "the two disks are byte-identical" test "$sa" = "$(sum "$T_DIR/b.img")"
check "the same as --seed lab-7 on every command" build "$T_DIR/c.img" --seed lab-7
check "... byte for byte" test "$sa" = "$(sum "$T_DIR/c.img")"

# What derives from the seed, as a user sees it: partition UUIDs, the guest's filesystem UUID
# and its files' times (2000-01-01 without SOURCE_DATE_EPOCH).
a=$(pb list --json "$T_DIR/a.img" | jq -r '[.partitions[] | .partuuid + " " + (.uuid // "")] | join(",")')
check "partition and filesystem UUIDs are name-based (version 5)" \
	bash -c "tr ',' '\n' <<<'$a' | awk '{print \$1}' | grep -c '^........-....-5' | grep -qx 3"
check "install stamped the fixed time (2000-01-01)" bash -c \
	"'$PARTBOOT' ls -l '$T_DIR/a.img' guest /etc | grep -q '2000-01-01'"
check "sfdisk --verify" sfdisk --verify "$T_DIR/a.img"
off=$(($(partx -g -o START -n 2 "$T_DIR/a.img" | tr -d ' ') * 512))
check "e2fsck -fn on the guest" e2fsck -fn "$T_DIR/a.img?offset=$off"

# --seed on one later command: that command only.
cp --sparse=always "$T_DIR/a.img" "$T_DIR/d.img"
pb -q mkfs "$T_DIR/d.img" data --seed other
u_a=$(pb list --json "$T_DIR/a.img" | jq -r '.partitions[2].uuid')
u_d=$(pb list --json "$T_DIR/d.img" | jq -r '.partitions[2].uuid')
check "mkfs --seed other: another filesystem UUID" test "$u_a" != "$u_d"
pb -q mkfs "$T_DIR/d.img" data
u_d=$(pb list --json "$T_DIR/d.img" | jq -r '.partitions[2].uuid')
check "mkfs again without --seed: the disk's own seed again (the UUID of the first build)" test "$u_a" = "$u_d"

# A new table without a seed: random again.
pb -q init "$T_DIR/d.img" --force
pb -q add "$T_DIR/d.img" x --type root --size 8M
pb -q init "$T_DIR/e.img" --size 16M --seed lab-7 && pb -q init "$T_DIR/e.img" --force &&
	pb -q add "$T_DIR/e.img" x --type root --size 8M
check "init --force without --seed: identifiers random again" \
	test "$(pb list --json "$T_DIR/d.img" | jq -r .partitions[0].partuuid)" != "$(pb list --json "$T_DIR/e.img" | jq -r .partitions[0].partuuid)"

s=$(sum "$T_DIR/e.img")
refuses "init --seed longer than 64 bytes: refused" 1 "cannot be kept with the disk: at most 64 bytes" \
	pb init "$T_DIR/e.img" --force --seed "$(printf '%070d' 0)"
check "refused init: disk unchanged" test "$(sum "$T_DIR/e.img")" = "$s"
t_done
