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

# --- defect 5: apply to a new path. Another run makes the file between apply's stat() and its
# O_EXCL open (an LD_PRELOAD shim makes that race happen every time); this run, refused,
# must not unlink the other run's file. And a dry run names the user's disk, never a scratch file.
cat >race.c <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* The other run: creates RACE_PATH just before this process's O_EXCL open of it. */
static void other_run(const char *path, int flags)
{
	const char *want = getenv("RACE_PATH");
	int (*next)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	int fd;

	if (!want || strcmp(path, want) || !(flags & O_CREAT) || !(flags & O_EXCL))
		return;
	fd = next(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
	if (fd < 0)
		return;
	if (write(fd, "the other run's disk\n", 21) != 21 || ftruncate(fd, 64 << 20) < 0)
		abort();
	close(fd);
}
#define SHIM(name)                                                                             \
	int name(const char *path, int flags, ...)                                             \
	{                                                                                      \
		int (*next)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name); \
		va_list ap;                                                                    \
		mode_t mode;                                                                   \
		va_start(ap, flags);                                                           \
		mode = va_arg(ap, mode_t);                                                     \
		va_end(ap);                                                                    \
		other_run(path, flags);                                                        \
		return next(path, flags, mode);                                                \
	}
SHIM(open)
SHIM(open64)
EOF
if cc -shared -fPIC -o race.so race.c -ldl 2>race.err; then
	printf '[disk]\nsize = 128M\n\n[partition a]\ntype = data\nsize = 8M\n' >l5.conf
	refuses "defect 5: the other run's 64 MiB file is refused" 1 "size 128 MiB, but .*new5.img is 64 MiB" \
		env RACE_PATH="$T_DIR/new5.img" LD_PRELOAD="$T_DIR/race.so" "$PARTBOOT" apply "$T_DIR/new5.img" l5.conf
	if [ -f new5.img ] && grep -q "the other run's disk" new5.img; then
		t_ok "defect 5: the refused run left the other run's file alone"
	else
		t_fail "defect 5: the refused run removed the other run's file"
	fi
	rm -f new5.img
	printf '[disk]\nsize = 64M\n\n[partition a]\ntype = data\nsize = 80M\n' >l5b.conf
	refuses "defect 5: a refused run removes the file it made itself" 1 "l5b.conf:" pb apply new5.img l5b.conf
	check "defect 5: and it is gone" test ! -e new5.img
else
	t_skip "defect 5: the race" "cannot build the LD_PRELOAD shim: $(head -n 1 race.err)"
fi
printf '[disk]\nsize = 17T\n\n[partition a]\ntype = data\nsize = 1M\n' >l5c.conf
refuses "defect 5: a dry run names the user's disk" 1 "^partboot: dry5.img: dry run: a scratch image of its size: cannot set size" \
	pb apply --dry-run dry5.img l5c.conf
check "defect 5: no scratch file named" bash -c "! grep -q partboot-dry-run '$T_DIR/err'"

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
