#!/bin/bash
# kill -9 in the middle of the lifecycle verbs (resize, clone, snapshot, rollback, move,
# install --from disk:, export), at the points where each writes: partboot stops itself
# there (PARTBOOT_TEST_PAUSE=STAGE, docs/fs.md) and the test kills it, as
# tests/e2e/install-kill.sh does for install. Each time: the target guest holds no
# filesystem or an incomplete one (never a complete-looking half copy), the boot menu does
# not list it, every other byte of the disk is as it was (fingerprints of everything fp_outside
# the target, the table and the ESP's menu), and running the same command again finishes
# the job (complete, e2fsck -fn clean, the files intact).
. "$(dirname "$0")/lib.sh"
cd "$T_DIR" || exit 1

GUEST_ENV=$PB_TOP/.cache/guest/env
if [ ! -f "$GUEST_ENV" ]; then
	t_skip "lifecycle kill" "the test guest is not built (make guest)"
	t_done
	exit 0
fi
# shellcheck source=/dev/null # written by fixtures/make-guest.sh
. "$GUEST_ENV"
for p in e2fsck resize2fs tune2fs jq qemu-img mtype; do
	command -v "$p" >/dev/null || { t_skip "lifecycle kill" "$p missing (make deps)"; t_done; exit 0; }
done
export MTOOLS_SKIP_CHECK=1
# Scratch files (import's raw copy, export's raw disk) in the test's folder, where the test
# can see that a killed run leaves none (they have no names: O_TMPFILE).
export TMPDIR=$T_DIR
leftovers() { compgen -G "$T_DIR/*partboot-*"; compgen -G "$T_DIR/.partboot-*"; true; }

D=$T_DIR/disk.img
range() { pb_range "$1" "${2:-$D}"; }
dev() { local off; read -r off _ <<<"$(range "$1" "${2:-$D}")"; echo "${2:-$D}?offset=$off"; }
psum() {
	local off size
	read -r off size <<<"$(range "$1" "${2:-$D}")"
	dd if="${2:-$D}" bs=1M iflag=skip_bytes,count_bytes skip="$off" count="$size" status=none | sha256sum | cut -d' ' -f1
}
# state NAME [DISK]: the guest model's state of NAME: complete, incomplete, or nofs
state() {
	local s
	s=$(pb list --json "${2:-$D}" | jq -r --arg n "$1" '.partitions[] | select(.name == $n) | .state // "nofs"')
	echo "${s:-gone}"
}
menu_lists() { local off; read -r off _ <<<"$(range esp "${2:-$D}")"; mtype -i "${2:-$D}@@$off" ::/grub/grub.cfg | grep -q "id '$1'"; }
KERNEL_SUM=$(sha256sum <"$GUEST_KERNEL" | cut -d' ' -f1)
kernel_intact() { [ "$(pb cat "${2:-$D}" "$1" "/boot/vmlinuz-$GUEST_KVER" | sha256sum | cut -d' ' -f1)" = "$KERNEL_SUM" ]; }

make_disk() {
	pb -q init "$D" --size 700M && pb -q add "$D" esp --type esp --size 40M && pb -q add "$D" g --type root --size 80M &&
		pb -q add "$D" keep --type root --size 60M --start 200M &&
		pb -q add "$D" other --type data --size 30M --start 300M &&
		pb -q install "$D" g --from "$GUEST_TAR" && pb -q install "$D" keep --from "$GUEST_TAR" &&
		pb -q bootloader "$D" --uefi 2>/dev/null
}
if ! check "a disk: ESP with GRUB, guests g and keep, data (init, add, install, bootloader)" make_disk; then
	t_done
	exit 1
fi
read -r OTHER_OFF OTHER_SIZE <<<"$(range other)"
head -c "$OTHER_SIZE" /dev/urandom | dd of="$D" bs=1M seek=$((OTHER_OFF / 1048576)) conv=notrunc status=none

wait_stopped() {
	local st
	for _ in $(seq 300); do
		st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
		[ "$st" = T ] && return 0
		sleep 0.1
	done
	return 1
}
# kill_at STAGE CMD...: run CMD (a partboot command line) until it stops at STAGE, kill -9 it
kill_at() {
	local stage=$1 pid
	shift
	PARTBOOT_TEST_PAUSE=$stage "$@" >/dev/null 2>"$T_DIR/kill.err" &
	pid=$!
	if wait_stopped $pid; then
		kill -9 $pid
		wait $pid 2>/dev/null
		t_ok "kill -9 at '$stage': partboot ${*:3}"
		return 0
	fi
	wait $pid
	t_fail "partboot never stopped at '$stage' (exit $?)"
	sed 's/^/#   /' "$T_DIR/kill.err" | head -n 5
	return 1
}
# is WHAT NAME WANT...: the guest's state is one of WANT, and it is not in the menu
is() {
	local what=$1 name=$2 st
	shift 2
	st=$(state "$name")
	case " $* " in *" $st "*) t_ok "$what: '$name' is $st" ;; *) t_fail "$what: '$name' is $st (want $*)" ;; esac
	if menu_lists "$name"; then t_fail "$what: the menu lists '$name'"; else t_ok "$what: the menu does not list '$name'"; fi
}

# --- resize: killed before resize2fs runs, growing (table written) and shrinking (not yet) ----
read -r G_OFF _ <<<"$(range g)"
G_MAX=$G_OFF:$((100 * 1048576)) # g at its largest: the bytes a resize of it may change
for step in "grow 100M" "shrink 50M"; do
	read -r how size <<<"$step"
	OUT=$(fp_outside "$D" table esp "$G_MAX")
	if kill_at resize "$PARTBOOT" -q resize "$D" g "$size"; then
		is "resize ($how)" g incomplete
		check "resize ($how): nothing fp_outside g, the table and the menu changed" \
			test "$(fp_outside "$D" table esp "$G_MAX")" = "$OUT"
		check "resize ($how): the same resize again finishes it" pb -q resize "$D" g "$size"
		check "resize ($how): complete, e2fsck clean" bash -c \
			"test \"\$('$PARTBOOT' list --json '$D' | jq -r '.partitions[] | select(.name == \"g\") | .state')\" = complete &&
			e2fsck -fn '$(dev g)' >/dev/null"
		check "resize ($how): the files are intact" kernel_intact g
	fi
done
pb -q resize "$D" g 80M

# --- clone: the new partition never reads as a complete guest ----------------------------------
G_SUM=$(psum g)
cp --sparse=always "$D" "$T_DIR/pre-clone.img"
for stage in clone-meta clone adopt setup; do
	if kill_at "$stage" "$PARTBOOT" -q clone "$D" g c; then
		is "clone ($stage)" c nofs incomplete
		check "clone ($stage): the source is byte-identical" test "$(psum g)" = "$G_SUM"
		check "clone ($stage): nothing outside the new partition, the table and the ESP changed" \
			fp_unchanged_except "$T_DIR/pre-clone.img" "$D" table esp c
		pb -q remove "$D" c
	fi
done
check "clone: after the kills, a clone finishes" pb -q clone "$D" g c
check "clone: complete and e2fsck clean" bash -c "e2fsck -fn '$(dev c)' >/dev/null"
pb -q remove "$D" c

# --- snapshot: the disk is only read, no snapshot file appears ---------------------------------
S0=$(fp "$D")
if kill_at copy "$PARTBOOT" -q snapshot "$D" g --to "$T_DIR/killed.img"; then
	check "snapshot (killed): the disk is byte-identical" test "$(fp "$D")" = "$S0"
	check "snapshot (killed): no snapshot file" test ! -e "$T_DIR/killed.img"
	lacks "snapshot (killed): no temporary file left either" . leftovers
fi

# --- rollback: incomplete (or no filesystem) until the last byte -----------------------------
pb -q snapshot "$D" g --to "$T_DIR/g.img"
G_SUM=$(psum g)
for stage in rollback-meta rollback restore; do
	pb -q install "$D" g --from "$GUEST_TAR" --hostname "h-$stage"
	OUT=$(fp_outside "$D" esp g)
	if kill_at "$stage" "$PARTBOOT" -q rollback "$D" g "$T_DIR/g.img"; then
		is "rollback ($stage)" g nofs incomplete
		check "rollback ($stage): nothing fp_outside g and the menu changed" test "$(fp_outside "$D" esp g)" = "$OUT"
		check "rollback ($stage): the same rollback again gives the snapshot's bytes" \
			bash -c "'$PARTBOOT' -q rollback '$D' g '$T_DIR/g.img' && test \"\$(dd if='$D' bs=1M iflag=skip_bytes,count_bytes skip=$(range g | cut -d' ' -f1) count=$(range g | cut -d' ' -f2) status=none | sha256sum | cut -d' ' -f1)\" = $G_SUM"
	fi
done

# --- move, overlapping: before the switch (the snapshot being written) and after it ------------
read -r K_OFF K_SIZE <<<"$(range keep)"
NEW=$((K_OFF + 10 * 1048576))
for stage in copy move-meta move; do
	OUT=$(fp_outside "$D" table esp "$K_OFF:$((K_SIZE + 10 * 1048576))")
	if kill_at "$stage" "$PARTBOOT" -q move "$D" keep --start "$NEW"; then
		is "move ($stage)" keep nofs incomplete
		check "move ($stage): nothing outside the old and the new place changed" \
			test "$(fp_outside "$D" table esp "$K_OFF:$((K_SIZE + 10 * 1048576))")" = "$OUT"
		check "move ($stage): the same move again finishes it" pb -q move "$D" keep --start "$NEW"
		check "move ($stage): complete, e2fsck clean" bash -c "'$PARTBOOT' list --json '$D' |
			jq -e '.partitions[] | select(.name == \"keep\") | .state == \"complete\"' >/dev/null &&
			e2fsck -fn '$(dev keep)' >/dev/null"
		check "move ($stage): the files are intact" kernel_intact keep
		check "move ($stage): in the menu again" menu_lists keep
		pb -q move "$D" keep --start "$K_OFF"
	fi
done

# --- install --from disk: ----------------------------------------------------------------------
pb -q export "$D" g "$T_DIR/g.qcow2"
pb -q add "$D" slot --type root --size 100M
for stage in import-meta import setup; do
	OUT=$(fp_outside "$D" esp slot)
	if kill_at "$stage" "$PARTBOOT" -q install "$D" slot --wipe --from "disk:$T_DIR/g.qcow2"; then
		is "import ($stage)" slot nofs incomplete
		check "import ($stage): nothing outside the slot and the menu changed" test "$(fp_outside "$D" esp slot)" = "$OUT"
		check "import ($stage): the same install again finishes it" \
			pb -q install "$D" slot --wipe --from "disk:$T_DIR/g.qcow2"
		check "import ($stage): complete, e2fsck clean, in the menu" bash -c "e2fsck -fn '$(dev slot)' >/dev/null" &&
			check "import ($stage): in the menu" menu_lists slot
	fi
done

# --- export: no OUT, the source untouched --------------------------------------------------------
S0=$(fp "$D")
if kill_at copy "$PARTBOOT" -q export "$D" g "$T_DIR/killed.qcow2"; then
	check "export (killed): no OUT" test ! -e "$T_DIR/killed.qcow2"
	lacks "export (killed): no temporary or scratch file left" . leftovers
	check "export (killed): the source disk is byte-identical" test "$(fp "$D")" = "$S0"
fi
t_done
