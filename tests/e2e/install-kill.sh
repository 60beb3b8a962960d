#!/bin/bash
# Interrupted installs: `partboot install` killed with kill -9 early (during mkfs), in the
# middle of the fill and late (after the after-install steps, before the guest is marked
# complete), and once at an unplanned moment while it reads a slow FIFO. Each time: the guest
# shows incomplete (or has no filesystem), the table and every other partition are unchanged
# (sha256), the boot menu does not list it, and a new install finishes the job (complete,
# e2fsck -fn clean).
#
# The planned points use the test hook PARTBOOT_TEST_PAUSE=mkfs|fill|setup: partboot stops
# itself (SIGSTOP) at that stage, the test sees it stopped and kills it (docs/fs.md).
. "$(dirname "$0")/lib.sh"
cd "$T_DIR" || exit 1

IMG=$T_DIR/disk.img
make_disk() {
	pb -q init "$IMG" --size 300M && pb -q add "$IMG" efi --type esp --size 40M &&
		pb -q add "$IMG" g --type root --size 80M && pb -q add "$IMG" keep --type root --size 60M &&
		pb -q add "$IMG" other --type data --size 30M
}
if ! check "a disk with efi, g, keep and other (partboot init, add)" make_disk; then
	t_done
	exit 1
fi
range() {
	pb list --json "$IMG" | python3 -c "import json,sys
for p in json.load(sys.stdin)['partitions']:
    if p['name'] == '$1': print(p['start'], p['size'])"
}
read -r OFF SIZE <<<"$(range g)"
read -r EOFF _ <<<"$(range efi)"
read -r OTHER_OFF OTHER_SIZE <<<"$(range other)"

# A source with enough entries that the "fill" pause (after 64) is in the middle.
S=$T_DIR/src
mkdir -p "$S/etc" "$S/boot" "$S/usr/share/data"
echo kernel >"$S/boot/vmlinuz-6.1.0-1-amd64"
printf 'PRETTY_NAME="Kill Test"\n' >"$S/etc/os-release"
for i in $(seq 1 400); do head -c $((i * 97)) /dev/urandom >"$S/usr/share/data/f$i"; done
head -c 20M /dev/urandom >"$S/usr/share/data/big"
tar --numeric-owner -C "$S" -cf src.tar .

# Another complete guest, a bootloader and random bytes elsewhere. Without the neighbour or
# the menu the checks below mean nothing: stop there.
if ! check "install the neighbour guest 'keep'" pb -q install "$IMG" keep --from src.tar --hostname keep ||
	! check "partboot bootloader --uefi (the menu the kills must keep g out of)" pb -q bootloader "$IMG" --uefi; then
	t_done
	exit 1
fi
head -c "$OTHER_SIZE" /dev/urandom | dd of="$IMG" bs=1M seek=$((OTHER_OFF / 1048576)) conv=notrunc status=none
# Everything outside g, except the ESP, whose grub.cfg the menu refresh rewrites.
outside() {
	python3 - "$IMG" "$OFF" "$SIZE" "$EOFF" <<'PY'
import hashlib, sys
img, off, size, eoff = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
h = hashlib.sha256()
with open(img, "rb") as f:
    data = f.read()
esz = 40 << 20
for a, b in sorted([(0, min(off, eoff)), (eoff + esz, off), (off + size, len(data))]):
    if b > a:
        h.update(data[a:b])
print(h.hexdigest())
PY
}
BEFORE=$(outside)
# menu DESC WANT: grub.cfg on the ESP lists g (WANT=yes) or does not (no); an unreadable
# grub.cfg is a failure either way.
menu() {
	local desc=$1 want=$2 got=no
	if ! mtype -i "$IMG@@$EOFF" ::/grub/grub.cfg >menu.cfg 2>menu.err; then
		t_fail "$desc (cannot read grub.cfg)"
		sed 's/^/#   /' menu.err
		return
	fi
	grep -q "'g'" menu.cfg && got=yes
	if [ "$got" = "$want" ]; then t_ok "$desc"; else t_fail "$desc (grub.cfg lists g: $got)"; fi
}

# state: "incomplete", "nofs" or "complete", from the marker as `partboot ls` sees it
state() {
	local ls
	if ! ls=$(pb ls "$IMG" g / 2>/dev/null); then
		echo nofs
	elif grep -q partboot-incomplete <<<"$ls"; then
		echo incomplete
	else
		echo complete
	fi
}
# list_state: the STATE column of `partboot list --json` ("null" without a filesystem)
list_state() {
	pb list --json "$IMG" | python3 -c "import json,sys
for p in json.load(sys.stdin)['partitions']:
    if p['name'] == 'g': print(p.get('state') or 'null')"
}

# wait_stopped PID: until the process is stopped (state T) or gone; 0 when stopped.
wait_stopped() {
	local i st
	for i in $(seq 1 300); do
		st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
		[ "$st" = T ] && return 0
		sleep 0.1
	done
	return 1
}

after_kill() {
	local what=$1 want=$2 st
	st=$(state)
	case " $want " in *" $st "*) t_ok "$what: guest is $st" ;; *) t_fail "$what: guest is $st (want $want)" ;; esac
	local ls_st
	ls_st=$(list_state)
	case "$st:$ls_st" in
	incomplete:incomplete | nofs:null) t_ok "$what: list --json says $ls_st" ;;
	*) t_fail "$what: list --json says '$ls_st' for a $st guest" ;;
	esac
	if [ "$(outside)" = "$BEFORE" ]; then t_ok "$what: table and other partitions unchanged"; else
		t_fail "$what: bytes outside g CHANGED"; fi
	menu "$what: not in the menu" no
	check "$what: a new install finishes the job" pb -q install "$IMG" g --from src.tar
	check "$what: complete afterwards" test "$(state)" = complete
	check "$what: list --json says complete" test "$(list_state)" = complete
	check "$what: e2fsck -fn clean" e2fsck -fn "$IMG?offset=$OFF"
	check "$what: fstab written" bash -c "'$PARTBOOT' cat '$IMG' g /etc/fstab | grep -q '^UUID='"
	menu "$what: in the menu afterwards" yes
	if [ "$(outside)" = "$BEFORE" ]; then t_ok "$what: still nothing else changed"; else
		t_fail "$what: bytes outside g CHANGED after the re-install"; fi
}

# kill_at STAGE WANT [install options]
kill_at() {
	local stage=$1 want=$2 pid
	shift 2
	PARTBOOT_TEST_PAUSE=$stage "$PARTBOOT" -q install "$IMG" g --from src.tar "$@" &
	pid=$!
	if wait_stopped $pid; then
		kill -9 $pid
		wait $pid 2>/dev/null
		t_ok "kill -9 at '$stage'"
		after_kill "$stage" "$want"
	else
		wait $pid
		t_fail "partboot never paused at '$stage' (exit $?)"
	fi
}

# Early, the first time: mkfs has cleared the range, mke2fs has not run.
kill_at mkfs "nofs"
# Early over a complete guest (--wipe): the old guest is gone, nothing half made remains.
kill_at mkfs "nofs" --wipe
# In the middle of the fill: the marker is on the disk, half of the files are.
kill_at fill "incomplete" --wipe
# Late: files and after-install steps written, marker not yet removed.
kill_at setup "incomplete" --hostname late
# An install over the complete guest without --wipe: same guarantees.
kill_at fill "incomplete"

# Unplanned: partboot reads a FIFO that is fed half of the archive, then killed.
mkfifo fifo
HALF=$(($(stat -c %s src.tar) / 2))
(
	head -c "$HALF" src.tar
	touch half-sent
	sleep 60
) >fifo &
FEEDER=$!
"$PARTBOOT" -q install "$IMG" g --from fifo --wipe &
PID=$!
for _ in $(seq 1 300); do [ -e half-sent ] && break; sleep 0.1; done
sleep 0.5
# Still running, or the kill below proves nothing: partboot must be waiting for the rest.
running=0
kill -0 $PID 2>/dev/null && running=1
kill -9 $PID 2>/dev/null
wait $PID 2>/dev/null
rc=$?
kill $FEEDER 2>/dev/null
wait $FEEDER 2>/dev/null
if [ ! -e half-sent ]; then
	t_fail "the FIFO was never half read"
elif [ $running = 0 ]; then
	t_fail "partboot had already exited (status $rc) before the kill, half-way through the FIFO"
else
	t_ok "kill -9 while reading a FIFO"
fi
after_kill "fifo" "incomplete nofs"

lacks "the neighbour guest is still complete" partboot-incomplete pb ls "$IMG" keep /
check "the neighbour guest: e2fsck -fn clean" e2fsck -fn "$IMG?offset=$(range keep | cut -d' ' -f1)"
t_done
