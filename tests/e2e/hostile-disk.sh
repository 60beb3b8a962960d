#!/bin/bash
# Hostile disks (issue 15): a disk partboot is handed may be crafted. Its table, its ESP
# and its sizes are input like any other: every verb says what is wrong in one line, exits
# 1 (never a crash), and a refused request leaves the disk byte-identical. Each check names
# the defect of issue 15 it guards; every one failed before its fix.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$T_DIR" || exit 1
export MTOOLS_SKIP_CHECK=1

# gpt_edit IMG [entry N FIRST LAST] [count N] [esize N]: edit both GPT copies the way a
# crafted disk would be, every CRC valid again (zlib.crc32 is the UEFI CRC).
gpt_edit() {
	python3 - "$@" <<'PY'
import struct, sys, zlib
img, args = sys.argv[1], sys.argv[2:]
f = open(img, 'r+b'); f.seek(0, 2); sectors = f.tell() // 512
for lba in (1, sectors - 1):
    f.seek(lba * 512); h = bytearray(f.read(512))
    ent_lba, n, esz = struct.unpack_from('<QII', h, 72)
    f.seek(ent_lba * 512); ents = bytearray(f.read(n * esz))
    i = 0
    while i < len(args):
        if args[i] == 'entry':
            struct.pack_into('<QQ', ents, int(args[i + 1]) * esz + 32, int(args[i + 2]), int(args[i + 3])); i += 4
        elif args[i] in ('count', 'esize'):
            struct.pack_into('<I', h, 80 if args[i] == 'count' else 84, int(args[i + 1])); i += 2
    f.seek(ent_lba * 512); f.write(ents)
    struct.pack_into('<I', h, 88, zlib.crc32(bytes(ents)))
    struct.pack_into('<I', h, 16, 0)
    struct.pack_into('<I', h, 16, zlib.crc32(bytes(h[:struct.unpack_from('<I', h, 12)[0]])))
    f.seek(lba * 512); f.write(h)
PY
}
# every VERB ARGS... of the list refuses with status 1 and PATTERN, and the disk stays as it was
refuse_all() {
	local desc=$1 img=$2 pat=$3 before v
	shift 3
	before=$(sum "$img")
	for v in "$@"; do
		# shellcheck disable=SC2086 # each entry is a verb and its words
		refuses "$desc: $v" 1 "$pat" pb $v
	done
	check "$desc: the disk is byte-identical" test "$(sum "$img")" = "$before"
}

# --- defect 4: entries outside the usable sectors or overlapping another
check "defect 4: a disk with two partitions (partboot init, add)" \
	bash -c "'$PARTBOOT' -q init d4.img --size 64M && '$PARTBOOT' -q add d4.img a --type root --size 8M &&
		'$PARTBOOT' -q add d4.img b --type data --size 8M"
mkdir -p tree/boot && : >tree/boot/vmlinuz-1 && tar -C tree -cf small.tar .
gpt_edit d4.img entry 0 0 16383
refuse_all "defect 4: an entry covering LBA 0" d4.img "partition 1 'a' \(sectors 0-16383\) lies outside the usable sectors" \
	"mkfs d4.img a" "install d4.img a --from small.tar" "remove d4.img b" "resize d4.img b 4M" \
	"add d4.img c --type data --size 1M" "bootloader d4.img" "run d4.img a --print-cmdline"
check "defect 4: list still shows the broken table" pb list d4.img
gpt_edit d4.img entry 0 2048 20479
refuse_all "defect 4: an entry overlapping another" d4.img \
	"partition 1 'a' \(sectors 2048-20479\) overlaps partition 2 'b' \(sectors 18432-34815\)" \
	"mkfs d4.img a" "install d4.img b --from small.tar"
check "defect 4: init --force replaces the broken table" pb -q init --force d4.img
check "defect 4: and the disk is usable again" pb -q add d4.img a --type root --size 8M

# --- defect 12: a disk smaller than one sector (an empty mktemp file) is no disk, said in one line
: >empty.img
printf '[partition a]\ntype = data\nsize = 1M\n' >one.conf
refuse_all "defect 12: an empty file" empty.img "empty.img: 0 bytes, smaller than one 512-byte sector: not a disk" \
	"list empty.img" "init empty.img" "apply empty.img one.conf"
head -c 100 /dev/zero >short.img
refuses "defect 12: 100 bytes" 1 "short.img: 100 bytes, smaller than one 512-byte sector" pb list short.img

# --- defect 14: a size within 1 MiB of 2^64 wrapped to 0 when aligned ("the rest")
check "defect 14: a disk with one partition" \
	bash -c "'$PARTBOOT' -q init d14.img --size 64M && '$PARTBOOT' -q add d14.img a --type root --size 8M"
refuse_all "defect 14: a size of 2^64-1 bytes" d14.img "requested, the disk is 64 MiB" \
	"add d14.img b --type data --size 18446744073709551615" "resize d14.img a 18446744073709551615" \
	"resize d14.img a 18446744073708551617"
refuses "defect 14: apply with such a size" 1 "l14.conf:3: size '18446744073709551615' is larger than any disk" \
	pb apply d14.img "$(printf '[partition a]\ntype = root\nsize = 18446744073709551615\n' >l14.conf; echo l14.conf)" --force

# --- defect 15: a layout line longer than inih's buffer was cut, its tail parsed as a key
mkdir -p t15/boot && : >t15/boot/vmlinuz-1 && tar -C t15 -cf t15.tar .
printf '[disk]\nsize = 64M\n\n[partition g]\ntype = root\nsize = 16M\nsource = t15.tar\ncmdline = %s hostname = evil\n' \
	"$(head -c 188 /dev/zero | tr '\0' x)" >l15.conf
refuses "defect 15: a 214-byte cmdline line" 1 "l15.conf:8: line longer than 198 bytes" pb apply --dry-run n15.img l15.conf
check "defect 15: nothing made" test ! -e n15.img

# --- defect 17: an entry size the UEFI spec does not allow is refused before the array is read
check "defect 17: a 4 GiB disk with one partition" \
	bash -c "'$PARTBOOT' -q init d17.img --size 4G && '$PARTBOOT' -q add d17.img a --type root --size 8M"
python3 - d17.img <<'PY'
import struct, sys, zlib
f = open(sys.argv[1], 'r+b'); f.seek(0, 2); sectors = f.tell() // 512
for lba in (1, sectors - 1):
    f.seek(lba * 512); h = bytearray(f.read(512))
    struct.pack_into('<II', h, 80, 65536, 32768)   # 2 GiB of entries
    struct.pack_into('<I', h, 16, 0)
    struct.pack_into('<I', h, 16, zlib.crc32(bytes(h[:92])))
    f.seek(lba * 512); f.write(h)
PY
start=$(date +%s%N)
refuses "defect 17: 65536 entries of 32 KiB" 1 "corrupt GPT: primary entry size not a power of two from 128 to 4096 bytes" \
	pb list d17.img
echo "# list refused it in $((($(date +%s%N) - start) / 1000000)) ms"

t_done
