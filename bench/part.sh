#!/bin/bash
# bench/part.sh: `partboot init` + four `partboot add`s on a 1 TiB sparse image,
# side by side with sfdisk writing the same table (one sfdisk call with a script,
# which is what a user of sfdisk would do). Median wall time of RUNS runs
# (default 5) and the space the image allocates on disk (stat blocks).
#   PARTBOOT=build/partboot bench/part.sh
set -eu
PARTBOOT=${PARTBOOT:-$(cd "$(dirname "$0")/.." && pwd)/build/partboot}
RUNS=${RUNS:-5}
dir=$(mktemp -d "${TMPDIR:-/tmp}/partboot-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
img=$dir/disk.img

ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
alloc_kib() { echo $(($(stat -c '%b * %B' "$img") / 1024)); }

run_partboot() {
	rm -f "$img"
	"$PARTBOOT" -q init "$img" --size 1T --seed bench
	"$PARTBOOT" -q add "$img" esp --type esp --size 512M
	"$PARTBOOT" -q add "$img" bios --type bios-boot --size 1M
	"$PARTBOOT" -q add "$img" deb12 --type root --size 64G
	"$PARTBOOT" -q add "$img" home --type data --size rest
}

run_sfdisk() {
	rm -f "$img"
	truncate -s 1T "$img"
	sfdisk -q "$img" >/dev/null <<'SFDISK'
label: gpt
size=512MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=esp
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name=bios
size=64GiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=deb12
type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=home
SFDISK
}

for tool in partboot sfdisk; do
	times=()
	for _ in $(seq "$RUNS"); do
		t=$(date +%s%N)
		"run_$tool"
		times+=("$(ms "$t")")
	done
	sfdisk --verify "$img" >/dev/null || { echo "$tool: sfdisk --verify failed" >&2; exit 1; }
	printf '%-9s init + 4 adds on 1 TiB: median %4d ms of %d runs (%s), allocated %d KiB of %s bytes\n' \
		"$tool" "$(median "${times[@]}")" "$RUNS" "${times[*]}" "$(alloc_kib)" "$(stat -c %s "$img")"
done
