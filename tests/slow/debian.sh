#!/bin/bash
# SLOW (a few minutes): installs a real Debian with
#   partboot install DISK deb12 --from debootstrap:bookworm:minbase
# next to the test guest (.cache/guest/guest.tar from `make guest`), then boots it in the VM
# runner to the login prompt on its serial console. Needs mmdebstrap, the network (a Debian
# mirror) and QEMU; the .debs are cached in .cache/debootstrap/ so later runs download
# nothing. Prints the install time and the boot-to-login time as TAP comments.
. "$(dirname "$0")/../e2e/lib.sh"
cd "$T_DIR" || exit 1
echo "# slow test: installs Debian bookworm (minbase + kernel) with mmdebstrap and boots it"

if ! command -v mmdebstrap >/dev/null; then
	t_skip "debian" "mmdebstrap is not installed (make deps)"
	t_done
	exit 0
fi
if ! command -v qemu-system-x86_64 >/dev/null; then
	t_skip "debian" "qemu-system-x86_64 is not installed"
	t_done
	exit 0
fi
if ! command -v python3 >/dev/null; then
	t_skip "debian" "python3 missing (make deps)"
	t_done
	exit 0
fi
MIRROR=${PB_DEBIAN_MIRROR:-}
if ! python3 - "${MIRROR:-http://deb.debian.org/debian}" <<'PY' 2>"$T_DIR/mirror.err"; then
import sys, urllib.request
urllib.request.urlopen(sys.argv[1].rstrip("/") + "/dists/bookworm/InRelease", timeout=10).read(100)
PY
	t_skip "debian" "no network: cannot reach the Debian mirror ${MIRROR:-http://deb.debian.org/debian} ($(tail -n 1 "$T_DIR/mirror.err"))"
	t_done
	exit 0
fi

IMG=$T_DIR/disk.img
make_disk() {
	pb -q init "$IMG" --size 2G && pb -q add "$IMG" efi --type esp --size 40M &&
		pb -q add "$IMG" guest --type root --size 300M && pb -q add "$IMG" deb12 --type root --size 1300M
}
if ! check "a disk with efi, guest and deb12 (partboot init, add)" make_disk; then
	t_done
	exit 1
fi
range() {
	pb list --json "$IMG" | python3 -c "import json,sys
for p in json.load(sys.stdin)['partitions']:
    if p['name'] == '$1': print(p['start'], p['size'])"
}
read -r OFF SIZE <<<"$(range deb12)"
# The "nothing outside deb12 changed" checks need the range: without it they compare nothing.
if ! check "deb12's byte range from list --json ($OFF, $SIZE)" test -n "$OFF" -a -n "$SIZE"; then
	t_done
	exit 1
fi
GUEST_TAR=$PB_TOP/.cache/guest/guest.tar
if [ -f "$GUEST_TAR" ]; then
	check "the test guest next to it" pb -q install "$IMG" guest --from "$GUEST_TAR"
else
	t_skip "the test guest next to it" "no $GUEST_TAR (make guest)"
fi
outside() { { head -c "$OFF" "$IMG"; tail -c +$((OFF + SIZE + 1)) "$IMG"; } | sha256sum | cut -d' ' -f1; }
BEFORE=$(outside)

CACHE=$PB_TOP/.cache/debootstrap
mkdir -p "$CACHE"
# A suite that does not exist: mmdebstrap's own words, nothing written.
B=$(sum "$IMG")
refuses "an unknown suite fails with mmdebstrap's message" 1 "mmdebstrap failed" \
	pb install "$IMG" deb12 --from debootstrap:nosuchsuite --deb-cache "$CACHE" ${MIRROR:+--mirror "$MIRROR"}
check "an unknown suite: disk unchanged" test "$(sum "$IMG")" = "$B"
start=$(date +%s)
check "install --from debootstrap:bookworm:minbase" pb install "$IMG" deb12 --from debootstrap:bookworm:minbase \
	--deb-cache "$CACHE" ${MIRROR:+--mirror "$MIRROR"}
echo "# debootstrap install took $(($(date +%s) - start)) s ($(find "$CACHE" -maxdepth 1 -name '*.deb' | wc -l) .debs cached in $CACHE)"

check "e2fsck -fn clean" e2fsck -fn "$IMG?offset=$OFF"
lacks "the guest is complete" partboot-incomplete pb ls "$IMG" deb12 /
check "list --json: complete, with a kernel" python3 -c "import json,subprocess,sys
d = json.loads(subprocess.run(['$PARTBOOT', 'list', '--json', '$IMG'], capture_output=True, text=True).stdout)
p = [p for p in d['partitions'] if p['name'] == 'deb12'][0]
sys.exit(0 if p.get('state') == 'complete' and p.get('kernels') else 1)"
check "it is Debian 12" bash -c "'$PARTBOOT' cat '$IMG' deb12 /etc/os-release | grep -q 'VERSION_ID=\"12\"'"
check "it has a kernel and an initramfs" bash -c "'$PARTBOOT' ls '$IMG' deb12 /boot | grep -q '^vmlinuz-' &&
	'$PARTBOOT' ls '$IMG' deb12 /boot | grep -q '^initrd.img-'"
UUID=$(blkid -p -O "$OFF" -S "$SIZE" -s UUID -o value "$IMG")
check "fstab names the root by UUID" bash -c "'$PARTBOOT' cat '$IMG' deb12 /etc/fstab | grep -qP '^UUID=$UUID\t/\t'"
check "hostname deb12" test "$(pb cat "$IMG" deb12 /etc/hostname)" = deb12
lacks "no .debs left in the guest" '\.deb$' pb ls "$IMG" deb12 /var/cache/apt/archives
if [ "$(outside)" = "$BEFORE" ]; then t_ok "table and the test guest unchanged"; else t_fail "bytes outside deb12 CHANGED"; fi

# Boot it: the runner stops on --timeout at the latest; we stop it once "login:" shows.
start=$(date +%s)
pb run "$IMG" deb12 --console console.txt --timeout 180 --snapshot >run.out 2>&1 &
RUN=$!
for _ in $(seq 1 400); do
	grep -q "login:" console.txt 2>/dev/null && break
	kill -0 $RUN 2>/dev/null || break
	sleep 0.5
done
BOOTED=0
if grep -q "login:" console.txt 2>/dev/null; then
	BOOTED=1
	t_ok "boots to the login prompt on the serial console"
	echo "# boot to login: $(($(date +%s) - start)) s (partboot run, TCG)"
else
	t_fail "no login prompt on the serial console"
	tail -n 15 console.txt 2>/dev/null | sed 's/^/#   /'
	sed 's/^/#   /' run.out
fi
# Debian (minbase, no acpid) ignores the power button here: the runner stops QEMU 10 s later.
kill $RUN 2>/dev/null
wait $RUN 2>/dev/null
# Both hold for a guest that never booted: they count only after a boot to login.
if [ $BOOTED = 0 ]; then
	t_fail "root found by the initramfs: not checked, the guest did not boot"
	t_fail "after the boot: not checked, the guest did not boot"
else
	lacks "root found by the initramfs (no emergency shell)" 'Gave up waiting for root' cat console.txt
	if [ "$(outside)" = "$BEFORE" ]; then t_ok "after the boot: nothing outside deb12 changed"; else
		t_fail "after the boot: bytes outside deb12 CHANGED"; fi
fi
t_done
