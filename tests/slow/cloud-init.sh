#!/bin/bash
# SLOW: cloud-init's NoCloud seeds for a real Debian that has cloud-init.
#   install  debootstrap:bookworm:minbase --packages cloud-init --cloud-init USER-DATA: the
#            seed in the guest's /var/lib/cloud/seed/nocloud (what a native boot reads)
#   boot 1   partboot run: cloud-init applies the guest's seed (write_files, runcmd) and
#            powers the VM off itself (power_state)
#   boot 2   partboot run --cloud-init OTHER: a read-only volume labelled cidata; a new
#            instance (its instance-id follows the user-data), whose user-data wins
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
check "install Debian with cloud-init and a seed in the guest" \
	pb install "$IMG" ci --from debootstrap:bookworm:minbase --deb-cache "$CACHE" ${MIRROR:+--mirror "$MIRROR"} \
	--packages cloud-init --cloud-init guest.yaml
elapsed "install" "$start"
check "the seed is in /var/lib/cloud/seed/nocloud" bash -c "'$PARTBOOT' cat '$IMG' ci /var/lib/cloud/seed/nocloud/user-data | cmp -s - guest.yaml"

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
boot 1
check "boot 1: the guest's seed ran (its runcmd on the console)" grep -aq "partboot-cloud-init-guest-42" console.1
check "boot 1: its write_files wrote the file" bash -c "'$PARTBOOT' cat '$IMG' ci /root/seed-from-guest | grep -q \"the guest's seed\""
check "boot 1: e2fsck -fn clean" e2fsck -fn "$IMG?offset=$OFF"
boot 2 --cloud-init volume.yaml
check "boot 2: the cidata volume's seed ran" grep -aq "partboot-cloud-init-volume-42" console.2
check "boot 2: its write_files wrote the file" bash -c "'$PARTBOOT' cat '$IMG' ci /root/seed-from-volume | grep -q \"the volume's seed\""
check "boot 2: the guest's seed did not run again (the volume's user-data won)" \
	bash -c "! grep -aq partboot-cloud-init-guest-42 console.2"
t_done
