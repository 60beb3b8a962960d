#!/bin/bash
# `partboot install DISK NAME --via-vm SRC [--answers FILE]` (docs/installers.md): the fixture
# installer of fixtures/make-media.sh booted from its ISO and over PXE in the VM runner's
# whole-disk view. The installer overwrites sector 0 of the whole disk it sees (to prove
# confinement): every byte outside the target partition must stay the same. Bad input (not
# ISO9660, a PXE folder without the boot file, an ESP as target, a missing answers file) is
# refused before anything is written (the whole disk byte-identical); an installer that powers
# off without installing, or never powers off, leaves the guest incomplete. Eight TCG boots:
# ISO install, the result in `partboot run`, PXE reinstall (pxe:DIR), PXE reinstall over HTTP
# (pxe:http://127.0.0.1:PORT/, the PXE folder served by python3 -m http.server on the
# loopback), an installer that does nothing, one whose boot menu names an answers URL
# (partboot serves the answers there) stopped with SIGTERM, one fetching its answers from
# --answers-url to a complete guest, and one that never powers off, stopped by --timeout.
# shellcheck source=SCRIPTDIR/../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
cd "$T_DIR" || exit 1

for tool in qemu-system-x86_64 xorriso grub-mkrescue e2fsck debugfs sfdisk mtype; do
	command -v $tool >/dev/null ||
		{ t_skip "installers e2e" "$tool missing (packages: qemu-system-x86 xorriso grub-common e2fsprogs fdisk mtools)"; t_done; exit; }
done
[ -e /usr/lib/ipxe/qemu/efi-virtio.rom ] || [ -e /usr/share/qemu/efi-virtio.rom ] ||
	{ t_skip "installers e2e" "iPXE ROMs missing (package ipxe-qemu)"; t_done; exit; }
if ! out=$("$PB_TOP/fixtures/make-media.sh" 2>&1); then
	t_fail "make-media.sh builds the media"
	printf '%s\n' "$out" | sed 's/^/#   /' | tail -n 20
	t_done
	exit 1
fi
# shellcheck source=/dev/null
. "$(printf '%s\n' "$out" | tail -n 1)"
# shellcheck source=/dev/null
. "$PB_TOP/.cache/guest/env"
export XDG_CACHE_HOME=$T_DIR/cache # `partboot run`'s boot files cache, private to this run
D=$T_DIR/disk.img

# offset and size in bytes of partition NAME
part_range() {
	sfdisk -d "$D" | awk -v n="\"$1\"" -F'[=,]' '$0 ~ "name=" n { print $2 * 512, $4 * 512 }' | tr -s ' '
}
region_sum() {
	if [ "$2" -le 0 ]; then echo empty; return; fi
	dd if="$D" bs=64K iflag=skip_bytes,count_bytes skip="$1" count="$2" status=none | sha256sum | cut -d' ' -f1
}
# sha256 of everything outside the target partition (tables, ESP, BIOS boot, the other guest)
outside() {
	local total
	total=$(stat -c %s "$D")
	echo "$(region_sum 0 "$T_OFF") $(region_sum $((T_OFF + T_SIZE)) $((total - T_OFF - T_SIZE)))"
}
# complete, incomplete or nofs, from the partition's root directory
state() {
	local ls
	if ! ls=$(pb ls "$D" tgt / 2>/dev/null); then
		echo nofs
	elif grep -qx '.partboot-incomplete' <<<"$ls"; then
		echo incomplete
	else
		echo complete
	fi
}

make_disk() {
	pb -q init "$D" --size 400M && pb -q add "$D" esp --type esp --size 64M &&
		pb -q add "$D" bios --type bios-boot --size 1M && pb -q add "$D" other --type root --size 100M &&
		pb -q add "$D" tgt --type root --size 150M
}
# Every install below goes onto this disk: stop when it cannot be made.
if ! check "a disk with an ESP, a BIOS boot partition, 'other' and an empty 'tgt' (partition 4)" make_disk ||
	! check "the guest 'other' (partboot install)" pb -q install "$D" other --from "$GUEST_TAR" ||
	! check "the disk's table passes sfdisk --verify" sfdisk --verify "$D"; then
	t_done
	exit 1
fi
read -r T_OFF T_SIZE < <(part_range tgt)
read -r ESP_OFF ESP_SIZE < <(part_range esp)
read -r O_OFF _ < <(part_range other)
printf 'pb.target=/dev/vda4\n' >answers.txt

# The PXE folder over HTTP, on the loopback only (the VM reaches it as 10.0.2.2), for pxe:URL.
# HTTP_WHY says why the pxe:http:// tests cannot run, when they cannot.
HTTP_PID='' HTTP_PORT='' HTTP_URL='' HTTP_WHY=''
if ! command -v python3 >/dev/null; then
	HTTP_WHY="python3 missing (make deps)"
else
	HTTP_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	python3 -m http.server --bind 127.0.0.1 --directory "$MEDIA_PXE_DIR" "$HTTP_PORT" >http.log 2>&1 &
	HTTP_PID=$!
	trap 'kill "$HTTP_PID" 2>/dev/null; wait "$HTTP_PID" 2>/dev/null; t_cleanup' EXIT
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null && break
		sleep 0.1
	done
	if (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null; then
		HTTP_URL=http://127.0.0.1:$HTTP_PORT/
	else
		t_fail "python3 -m http.server answers on 127.0.0.1:$HTTP_PORT"
		sed 's/^/#   /' http.log | tail -n 5
		HTTP_WHY="the HTTP server on the loopback did not start (see the failure above)"
	fi
fi

# --- bad input: refused before anything is written ----------------------------------------
WHOLE=$(sum "$D")
refuses "not ISO9660: refused" 1 "not-an-iso.iso: not an ISO9660 image" \
	pb install "$D" tgt --via-vm "$MEDIA_NOT_ISO" --answers answers.txt
refuses "a PXE folder without the boot file: refused" 1 "pxe-empty: no PXE boot file \(looked for boot.ipxe, pxelinux.0\)" \
	pb install "$D" tgt --via-vm "pxe:$MEDIA_PXE_EMPTY_DIR" --answers answers.txt
if [ -n "$HTTP_URL" ]; then
	refuses "a PXE URL without the boot file (HTTP 404): refused, naming the URL" 1 \
		"http://127.0.0.1:$HTTP_PORT/nothere/: no PXE boot file \(looked for boot.ipxe \(HTTP 404\), pxelinux.0 \(HTTP 404\)\)" \
		pb install "$D" tgt --via-vm "pxe:${HTTP_URL}nothere/" --answers answers.txt
	refuses "a PXE URL naming a missing boot file: refused" 1 \
		"http://127.0.0.1:$HTTP_PORT/gone.ipxe: no PXE boot file there \(HTTP 404\)" \
		pb install "$D" tgt --via-vm "pxe:${HTTP_URL}gone.ipxe" --answers answers.txt
else
	t_skip "a PXE URL without the boot file" "$HTTP_WHY"
fi
refuses "a PXE URL of another scheme: refused" 1 "ftp://127.0.0.1/: only http:// and tftp:// URLs are supported" \
	pb install "$D" tgt --via-vm "pxe:ftp://127.0.0.1/" --answers answers.txt
refuses "a missing answers file: refused" 1 "nothere.txt: No such file or directory" \
	pb install "$D" tgt --via-vm "$MEDIA_INSTALLER_ISO" --answers nothere.txt
refuses "the ESP as target: refused" 1 "partition 'esp' has type esp; a guest goes into a root or data partition" \
	pb install "$D" esp --via-vm "$MEDIA_INSTALLER_ISO" --answers answers.txt
refuses "--via-vm with --from: usage error" 2 "" \
	pb install "$D" tgt --via-vm "$MEDIA_INSTALLER_ISO" --from "$GUEST_TAR"
check "bad input: the whole disk is byte-identical" test "$(sum "$D")" = "$WHOLE"
check "bad input: the target is still empty" test "$(state)" = nofs

# --- VM boot 1: the installer ISO, target from the answers disk ---------------------------
BEFORE=$(outside)
if pb install "$D" tgt --via-vm "$MEDIA_INSTALLER_ISO" --answers answers.txt --console iso.txt \
	--timeout 300 >iso.out 2>iso.err; then
	t_ok "install through the installer ISO"
else
	t_fail "install through the installer ISO"
	sed 's/^/#   /' iso.err | tail -n 5
	tr -d '\r' <iso.txt | grep -a PARTBOOT | sed 's/^/#   /'
fi
tr -d '\r' <iso.txt >iso.log
check "ISO: the installer wrote sector 0 of the whole disk it saw and installed into vda4" \
	sh -c "grep -qx 'PARTBOOT-INSTALLER wholedisk=/dev/vda write=ok' iso.log &&
	       grep -qx 'PARTBOOT-INSTALLER done target=/dev/vda4 status=0' iso.log"
check "ISO: nothing outside the target partition changed" test "$(outside)" = "$BEFORE"
check "ISO: the guest is complete" test "$(state)" = complete
check "ISO: e2fsck finds the installed filesystem clean" e2fsck -fn "$D?offset=$T_OFF"
check "ISO: the after-install steps ran (hostname, fstab by UUID, kernel/cmdline)" \
	sh -c "\"\$PARTBOOT\" cat '$D' tgt /etc/hostname | grep -qx tgt &&
	       \"\$PARTBOOT\" cat '$D' tgt /etc/fstab | grep -qE '^UUID=[0-9a-f-]+\s+/\s+ext4' &&
	       \"\$PARTBOOT\" cat '$D' tgt /etc/kernel/cmdline | grep -q ro"

# --- VM boot 2: the result boots in the VM runner ------------------------------------------
pb run "$D" tgt --console run.txt --timeout 120 >/dev/null 2>run.err
rc=$?
UUID=$(blkid -p -o value -s UUID -O "$T_OFF" "$D")
# The PXE install below must give a new filesystem: an empty UUID would make that hold trivially.
check "blkid reads the installed filesystem's UUID" test -n "$UUID"
if [ "$rc" -eq 0 ] && tr -d '\r' <run.txt | grep -qE "^PARTBOOT-GUEST name=tgt root=UUID=[0-9a-f-]+ "; then
	t_ok "the installed guest boots with partboot run to its marker (hostname tgt)"
else
	t_fail "partboot run of the installed guest (exit $rc)"
	sed 's/^/#   /' run.err | tail -n 3
	tr -d '\r' <run.txt | tail -n 10 | sed 's/^/#   /'
fi
check "run: nothing outside the target partition changed" test "$(outside)" = "$BEFORE"

# --- VM boot 3: PXE (QEMU's TFTP serving the folder), over the complete guest -------------
if pb install "$D" tgt --via-vm "pxe:$MEDIA_PXE_DIR" --answers answers.txt --hostname pxe-guest \
	--console pxe.txt --timeout 300 >pxe.out 2>pxe.err; then
	t_ok "install through PXE (pxe:DIR)"
else
	t_fail "install through PXE (pxe:DIR)"
	sed 's/^/#   /' pxe.err | tail -n 5
	tr -d '\r' <pxe.txt | grep -a PARTBOOT | sed 's/^/#   /'
fi
check "PXE: the installer ran from the TFTP root and installed into vda4" \
	sh -c "tr -d '\r' <pxe.txt | grep -qx 'PARTBOOT-INSTALLER done target=/dev/vda4 status=0'"
check "PXE: nothing outside the target partition changed" test "$(outside)" = "$BEFORE"
check "PXE: a new filesystem, hostname pxe-guest" \
	sh -c "test \"\$(blkid -p -o value -s UUID -O $T_OFF '$D')\" != '$UUID' &&
	       \"\$PARTBOOT\" cat '$D' tgt /etc/hostname | grep -qx pxe-guest"
lacks "PXE: the guest is complete" partboot-incomplete pb ls "$D" tgt /

# --- VM boot 4: PXE over HTTP (iPXE fetches boot.ipxe, then vmlinuz and initrd.img) --------
if [ -n "$HTTP_URL" ]; then
	UUID=$(blkid -p -o value -s UUID -O "$T_OFF" "$D")
	check "blkid reads the UUID before the HTTP install" test -n "$UUID"
	if pb install "$D" tgt --via-vm "pxe:$HTTP_URL" --answers answers.txt --hostname http-guest \
		--console http.txt --timeout 300 >http.out 2>http.err; then
		t_ok "install through PXE over HTTP (pxe:$HTTP_URL)"
	else
		t_fail "install through PXE over HTTP (pxe:$HTTP_URL)"
		sed 's/^/#   /' http.err | tail -n 5
		tr -d '\r' <http.txt | grep -a PARTBOOT | sed 's/^/#   /'
	fi
	check "HTTP: the VM fetched the script, kernel and initrd from the server" \
		sh -c "grep -q 'GET /boot.ipxe HTTP/1.1\" 200' http.log && grep -q 'GET /vmlinuz HTTP/1.1\" 200' http.log &&
		       grep -q 'GET /initrd.img HTTP/1.1\" 200' http.log"
	check "HTTP: the installer installed into vda4" \
		sh -c "tr -d '\r' <http.txt | grep -qx 'PARTBOOT-INSTALLER done target=/dev/vda4 status=0'"
	check "HTTP: nothing outside the target partition changed" test "$(outside)" = "$BEFORE"
	check "HTTP: the guest is complete" test "$(state)" = complete
	check "HTTP: a new filesystem (e2fsck clean), hostname http-guest" \
		sh -c "test \"\$(blkid -p -o value -s UUID -O $T_OFF '$D')\" != '$UUID' && e2fsck -fn '$D?offset=$T_OFF' &&
		       \"\$PARTBOOT\" cat '$D' tgt /etc/hostname | grep -qx http-guest"
else
	t_skip "install through PXE over HTTP" "$HTTP_WHY"
fi

# --- VM boot 5: an installer that powers off without installing ----------------------------
# GRUB and its menu now, so the install must take 'tgt' out of the menu. The ESP then changes
# (grub.cfg: partboot's own menu refresh), everything else outside the target must not.
check "partboot bootloader" pb -q bootloader "$D"
check "the menu lists 'tgt' before the failed install" sh -c "mtype -i '$D@@$ESP_OFF' ::/grub/grub.cfg | grep -q tgt"
outside_but_esp() {
	local total
	total=$(stat -c %s "$D")
	echo "$(region_sum 0 "$ESP_OFF") $(region_sum $((ESP_OFF + ESP_SIZE)) $((T_OFF - ESP_OFF - ESP_SIZE)))" \
		"$(region_sum $((T_OFF + T_SIZE)) $((total - T_OFF - T_SIZE)))"
}
BEFORE=$(outside_but_esp)
# The installer's kernel command line is the medium's (GRUB on the ISO), so "install nothing"
# is said the other way the fixture understands: no answers disk, hence no target.
refuses "an installer that installs nothing: clear error, exit 1" 1 \
	"the installer powered off without installing a Linux root into partition 'tgt' \(no kernel in /boot\); its last line: \"[^\"]+\"; the guest is left incomplete" \
	pb install "$D" tgt --via-vm "$MEDIA_INSTALLER_ISO" --console none.txt --timeout 300
check "nothing installed: the installer said so" \
	sh -c "tr -d '\r' <none.txt | grep -qx 'PARTBOOT-INSTALLER done target=none status=2'"
check "nothing installed: the guest is incomplete" test "$(state)" = incomplete
check "nothing installed: the marker sits in a clean ext4 (e2fsck)" e2fsck -fn "$D?offset=$T_OFF"
check "nothing installed: nothing outside the target partition changed (but the menu on the ESP)" \
	test "$(outside_but_esp)" = "$BEFORE"
refuses "nothing installed: partboot run refuses the incomplete guest" 1 "the guest is incomplete" \
	pb run "$D" tgt --timeout 60
check "nothing installed: the boot menu left the guest out, kept the other" \
	sh -c "mtype -i '$D@@$ESP_OFF' ::/grub/grub.cfg >menu.cfg && ! grep -q tgt menu.cfg && grep -q other menu.cfg"
check "the other guest is untouched (e2fsck)" e2fsck -fn "$D?offset=$O_OFF"

# --- VM boot 6: answers over HTTP, found in the boot menu; stopped with SIGTERM -------------
# A copy of the PXE folder whose iPXE script names an answers URL on 10.0.2.2 (and the target
# itself: the fixture reads no HTTP). partboot must serve the answers there, and a SIGTERM
# must stop the installer's VM too (the server's thread takes no signals), naming the
# installer's last line and that the answers were never fetched.
APORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null)
if [ -n "$APORT" ]; then
	mkdir -p pxe-url && cp -L "$MEDIA_PXE_DIR"/* pxe-url/ &&
		sed -i "s|^kernel vmlinuz |kernel vmlinuz url=http://10.0.2.2:$APORT/answers.txt pb.target=/dev/vda4 |" pxe-url/boot.ipxe
	BEFORE=$(outside_but_esp)
	"$PARTBOOT" install "$D" tgt --via-vm pxe:pxe-url --answers answers.txt --console url.txt --timeout 300 \
		>url.out 2>url.err &
	pid=$!
	for _ in $(seq 150); do
		grep -q "PARTBOOT-INSTALLER wholedisk" url.txt 2>/dev/null && break
		sleep 0.2
	done
	# a HEAD: it shows the file is there, and does not count as the installer fetching it
	served=$(python3 -c "import sys, urllib.request as u; print(u.urlopen(u.Request(sys.argv[1], method='HEAD'), timeout=10).headers['Content-Length'])" "http://127.0.0.1:$APORT/answers.txt" 2>/dev/null)
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	check "answers URL in the boot menu: partboot serves the answers there" \
		sh -c "grep -q 'serving answers.txt at http://10.0.2.2:$APORT/answers.txt' url.err && [ '$served' = '$(stat -c %s answers.txt)' ]"
	check "SIGTERM: the install fails naming the last line and the unfetched answers" \
		sh -c "[ $rc -eq 1 ] && grep -q 'the installer was interrupted; its last line: \"' url.err &&
		       grep -q 'it never fetched its answers from http://10.0.2.2:$APORT/answers.txt' url.err"
	check "SIGTERM: no QEMU of this install is left running" \
		sh -c "! pgrep -f '[t]ftp=pxe-url' >/dev/null"
	check "SIGTERM: the guest is incomplete, nothing outside it changed (but the menu)" \
		sh -c "[ \"\$(\"\$PARTBOOT\" ls '$D' tgt / | grep -cx .partboot-incomplete)\" = 1 ] && [ '$(outside_but_esp)' = '$BEFORE' ]"
else
	t_skip "answers over HTTP" "no python3 to find a free port"
fi

# --- VM boot 7: --answers-url given explicitly, fetched by the installer, to a complete guest -
# The boot menu names the answers as pb.answers=URL, which partboot's automatic search does
# not read (it knows url=, preseed/url=, ks=, inst.ks=): only --answers-url makes partboot
# serve them. No pb.target= and no answers disk: the target comes from the answers fetched.
BPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null)
if [ -n "$BPORT" ]; then
	AURL=http://10.0.2.2:$BPORT/answers.txt
	mkdir -p pxe-aurl && cp -L "$MEDIA_PXE_DIR"/* pxe-aurl/ &&
		sed -i "s|^kernel vmlinuz |kernel vmlinuz pb.answers=$AURL |" pxe-aurl/boot.ipxe
	BEFORE=$(outside_but_esp)
	t0=$SECONDS
	if pb install "$D" tgt --via-vm pxe:pxe-aurl --answers answers.txt --answers-url "$AURL" \
		--hostname aurl-guest --console aurl.txt --timeout 300 >aurl.out 2>aurl.err; then
		t_ok "install with --answers-url $AURL ($((SECONDS - t0)) s)"
	else
		t_fail "install with --answers-url $AURL"
		sed 's/^/#   /' aurl.err | tail -n 5
		tr -d '\r' <aurl.txt | grep -a PARTBOOT | sed 's/^/#   /'
	fi
	check "--answers-url: partboot said it serves the answers there" \
		grep -q "serving answers.txt at $AURL (127.0.0.1 on this machine)" aurl.err
	check "--answers-url: the installer fetched them (its target came from them) and installed into vda4" \
		sh -c "tr -d '\r' <aurl.txt >aurl.log && grep -qx 'PARTBOOT-INSTALLER answers from $AURL target=/dev/vda4' aurl.log &&
		       grep -qx 'PARTBOOT-INSTALLER done target=/dev/vda4 status=0' aurl.log"
	check "--answers-url: the guest is complete, e2fsck clean, hostname aurl-guest" \
		sh -c "[ \"\$(\"\$PARTBOOT\" ls '$D' tgt / | grep -c partboot-incomplete)\" = 0 ] && e2fsck -fn '$D?offset=$T_OFF' &&
		       \"\$PARTBOOT\" cat '$D' tgt /etc/hostname | grep -qx aurl-guest"
	check "--answers-url: the boot menu has the guest again" \
		sh -c "mtype -i '$D@@$ESP_OFF' ::/grub/grub.cfg | grep -q \"menuentry 'tgt \""
	check "--answers-url: nothing outside the target partition changed (but the menu on the ESP)" \
		test "$(outside_but_esp)" = "$BEFORE"
else
	t_skip "install with --answers-url" "no python3 to find a free port"
fi

# --- VM boot 8: an installer that never powers off, stopped by --timeout ---------------------
# Over the complete guest in the menu (boot 7): the timeout must leave it incomplete and out
# of the menu, name the timeout and the installer's last line, and change nothing outside it.
mkdir -p pxe-hang && cp -L "$MEDIA_PXE_DIR"/* pxe-hang/ &&
	sed -i "s|^kernel vmlinuz |kernel vmlinuz pb.hang=1 |" pxe-hang/boot.ipxe
check "the menu lists 'tgt' before the install that times out" \
	sh -c "mtype -i '$D@@$ESP_OFF' ::/grub/grub.cfg | grep -q \"menuentry 'tgt \""
BEFORE=$(outside_but_esp)
t0=$SECONDS
refuses "--timeout: an installer that never powers off fails, naming the timeout and its last line" 1 \
	"the installer did not power off within the 60 s timeout; its last line: \"PARTBOOT-INSTALLER waiting for an answer that never comes \(pb.hang=1\)\"; the guest is left incomplete" \
	pb install "$D" tgt --via-vm pxe:pxe-hang --answers answers.txt --console hang.txt --timeout 60
echo "# timed out install: $((SECONDS - t0)) s"
check "--timeout: no QEMU of this install is left running" sh -c "! pgrep -f '[t]ftp=pxe-hang' >/dev/null"
check "--timeout: the guest is incomplete" test "$(state)" = incomplete
check "--timeout: the boot menu left the guest out, kept the other" \
	sh -c "mtype -i '$D@@$ESP_OFF' ::/grub/grub.cfg >menu.cfg && ! grep -q tgt menu.cfg && grep -q other menu.cfg"
check "--timeout: nothing outside the target partition changed (but the menu on the ESP)" \
	test "$(outside_but_esp)" = "$BEFORE"
check "--timeout: the other guest is untouched (e2fsck)" e2fsck -fn "$D?offset=$O_OFF"
check "sfdisk --verify" sfdisk --verify "$D"

t_done
