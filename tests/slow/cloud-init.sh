#!/bin/bash
# SLOW: cloud-init's NoCloud seeds for a real Debian that has cloud-init.
#   install  debootstrap:bookworm:minbase --packages cloud-init
#   boot 1   partboot run --cloud-init USER-DATA: a read-only volume labelled cidata;
#            cloud-init applies it (write_files, runcmd) and powers the VM off (power_state)
#   boot 2   after partboot customize --cloud-init OTHER (the seed in the guest's
#            /var/lib/cloud/seed/nocloud, what every boot reads, native ones too): a new
#            instance (its instance-id follows the user-data), applied at the next boot
# Needs mmdebstrap, QEMU, xorriso and a Debian mirror (.debs cached in .cache/debootstrap).
# On the development machine (2 cores, TCG): install ~4 min, each boot 2-4 min.
. "$(dirname "$0")/../e2e/lib.sh"
cd "$T_DIR" || exit 1

for p in mmdebstrap qemu-system-x86_64 xorriso python3 e2fsck; do
	if ! command -v "$p" >/dev/null; then
		t_skip "cloud-init" "$p is not installed (make deps)"
		t_done
		exit 0
	fi
done
MIRROR=${PB_DEBIAN_MIRROR:-}
if ! python3 - "${MIRROR:-http://deb.debian.org/debian}" <<'PY' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(sys.argv[1].rstrip("/") + "/dists/bookworm/InRelease", timeout=10).read(100)
PY
	t_skip "cloud-init" "no network: cannot reach the Debian mirror"
	t_done
	exit 0
fi
export XDG_CACHE_HOME=$T_DIR/cache
CACHE=$PB_TOP/.cache/debootstrap
mkdir -p "$CACHE"
elapsed() { echo "# $1: $(($(date +%s) - $2)) s"; }

IMG=$T_DIR/disk.img
if ! { pb -q init "$IMG" --size 2G && pb -q add "$IMG" ci --type root --size 1800M; }; then
	t_fail "cannot make the disk"
	t_done
	exit 1
fi
read -r OFF _ <<<"$(pb list --json "$IMG" | jq -r '.partitions[] | select(.name == "ci") | "\(.start) \(.size)"')"
# what each seed does: a file, a line on the console, then the VM powers itself off
seed() {
	cat <<EOF
#cloud-config
write_files:
  - path: /root/seed-from-$1
    content: "cloud-init read the $1's seed\n"
runcmd:
  - [sh, -c, "echo partboot-cloud-init-$1-\$((6 * 7)) >/dev/console"]
power_state:
  mode: poweroff
  delay: now
EOF
}
seed guest >guest.yaml
seed volume >volume.yaml

start=$(date +%s)
check "install Debian with cloud-init" \
	pb install "$IMG" ci --from debootstrap:bookworm:minbase --deb-cache "$CACHE" ${MIRROR:+--mirror "$MIRROR"} \
	--packages cloud-init
elapsed "install" "$start"

boot() {
	local name=$1
	shift
	start=$(date +%s)
	pb run "$IMG" ci --console "console.$name" --timeout 1800 "$@" >"run.$name" 2>&1
	rc=$?
	elapsed "boot $name (to cloud-init's poweroff)" "$start"
	if [ $rc -eq 0 ]; then
		t_ok "boot $name: cloud-init powered the VM off (partboot run exit 0)"
	else
		t_fail "boot $name: partboot run exited $rc"
		sed 's/^/#   /' "run.$name"
		tr -d '\r' <"console.$name" | tail -n 20 | sed 's/^/#   console: /'
	fi
}
# 1. A seed for one VM boot: the cidata volume (cloud-init finds it by its label).
boot 1 --cloud-init volume.yaml
check "boot 1: the volume's seed ran (its runcmd on the console)" grep -aq "partboot-cloud-init-volume-42" console.1
check "boot 1: its write_files wrote the file" bash -c "'$PARTBOOT' cat '$IMG' ci /root/seed-from-volume | grep -q \"the volume's seed\""
check "boot 1: cloud-init names the volume as its source" grep -aq "DataSourceNoCloud \[seed=/dev/vd" console.1
check "boot 1: e2fsck -fn clean" e2fsck -fn "$IMG?offset=$OFF"
# 2. A seed in the guest, for every boot (native ones too): a new instance, applied at the next boot.
check "customize --cloud-init: the seed into the guest" pb -q customize "$IMG" ci --cloud-init guest.yaml
check "the seed is in /var/lib/cloud/seed/nocloud" bash -c "'$PARTBOOT' cat '$IMG' ci /var/lib/cloud/seed/nocloud/user-data | cmp -s - guest.yaml"
boot 2
check "boot 2: the guest's seed ran" grep -aq "partboot-cloud-init-guest-42" console.2
check "boot 2: its write_files wrote the file" bash -c "'$PARTBOOT' cat '$IMG' ci /root/seed-from-guest | grep -q \"the guest's seed\""
check "boot 2: from the seed folder" grep -aq "DataSourceNoCloud \[seed=/var/lib/cloud/seed/nocloud\]" console.2
check "boot 2: e2fsck -fn clean" e2fsck -fn "$IMG?offset=$OFF"
t_done
