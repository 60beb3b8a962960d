#!/bin/bash
# SLOW: logging into a real Debian that partboot installed, three boots of one guest.
#   install  debootstrap:bookworm:minbase --packages openssh-server, with a root password
#            (--root-password-file), a user with a key (--user alice:users --ssh-key) and
#            a first-boot script (--firstboot); GRUB for BIOS on the disk
#   boot 1   partboot ssh DISK deb -- uname -r: partboot installs its key, boots the guest
#            in the VM runner, prints the guest's own kernel version, powers it off; the
#            first-boot script ran (its output in the journal) and its unit disabled itself
#   boot 2   partboot run under a terminal: the test types root's password at the serial
#            console's login prompt; meanwhile partboot ssh joins that VM (the script did
#            not run again) and alice logs in with her key and owns her home
#   boot 3   natively: SeaBIOS + partboot's GRUB (run --firmware bios --ssh-port), joined
#            by partboot ssh: GRUB's entry booted it, and the script ran once in all
# Needs mmdebstrap, QEMU, openssh-client and a Debian mirror; the .debs are cached in
# .cache/debootstrap (shared with tests/slow/debian.sh). Prints each step's time. On the
# development machine (2 cores, TCG): install ~3 min from cached .debs, each boot to sshd
# 1.5-2.5 min; about 10 min in all.
. "$(dirname "$0")/../e2e/lib.sh"
cd "$T_DIR" || exit 1

for p in mmdebstrap qemu-system-x86_64 ssh ssh-keygen python3 e2fsck; do
	if ! command -v "$p" >/dev/null; then
		t_skip "login" "$p is not installed (make deps)"
		t_done
		exit 0
	fi
done
MIRROR=${PB_DEBIAN_MIRROR:-}
if ! python3 - "${MIRROR:-http://deb.debian.org/debian}" <<'PY' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(sys.argv[1].rstrip("/") + "/dists/bookworm/InRelease", timeout=10).read(100)
PY
	t_skip "login" "no network: cannot reach the Debian mirror"
	t_done
	exit 0
fi
# partboot's per-disk keys and its kernel cache go here, not into the real home
export HOME=$T_DIR/home XDG_DATA_HOME='' XDG_CACHE_HOME='' XDG_RUNTIME_DIR=''
mkdir -p "$HOME"
CACHE=$PB_TOP/.cache/debootstrap
mkdir -p "$CACHE"
elapsed() { echo "# $1: $(($(date +%s) - $2)) s"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

IMG=$T_DIR/disk.img
if ! { pb -q init "$IMG" --size 2G && pb -q add "$IMG" esp --type esp --size 64M &&
	pb -q add "$IMG" bios --type bios-boot --size 1M && pb -q add "$IMG" deb --type root --size 1500M; }; then
	t_fail "cannot make the disk"
	t_done
	exit 1
fi
read -r OFF SIZE <<<"$(pb list --json "$IMG" | jq -r '.partitions[] | select(.name == "deb") | "\(.start) \(.size)"')"
ssh-keygen -q -t ed25519 -N '' -C alice@test -f alice.key || exit 1
printf 'Root-Pw-at-the-Console-9\n' >root.pw
cat >fb.sh <<'EOF'
#!/bin/sh
# partboot's first-boot script, test version: a marker line per run, and output for the journal
echo "ran at $(date +%s)" >>/root/firstboot-marker
echo "partboot-firstboot-output-$((6 * 7))"
EOF

start=$(date +%s)
check "install Debian with openssh-server, a root password, a user with a key, a first-boot script" \
	pb install "$IMG" deb --from debootstrap:bookworm:minbase --deb-cache "$CACHE" ${MIRROR:+--mirror "$MIRROR"} \
	--packages openssh-server --root-password-file root.pw --user alice:users --ssh-key alice.key.pub \
	--firstboot fb.sh --cmdline "ro console=ttyS0,115200"
elapsed "install" "$start"
check "GRUB for BIOS" pb -q bootloader "$IMG" --bios
# list --json: "kernels" is the versions, newest first, one string
KVER=$(pb list --json "$IMG" | jq -r '.partitions[] | select(.name == "deb") | .kernels // "" | split(",")[0] | split(" ")[0]')
check "the guest has a kernel" test -n "$KVER" -a "$KVER" != null
outside() { { head -c "$OFF" "$IMG"; tail -c +$((OFF + SIZE + 1)) "$IMG"; } | sha256sum | cut -d' ' -f1; }
BEFORE=$(outside)
marker_lines() { pb cat "$IMG" deb /root/firstboot-marker 2>/dev/null | wc -l; }

# --- boot 1: partboot ssh boots it, runs the command, powers it off ------------------------
start=$(date +%s)
pb ssh "$IMG" deb --timeout 1200 -- 'uname -r; journalctl -u partboot-firstboot --no-pager -o cat' >ssh1.out 2>ssh1.err
rc=$?
elapsed "boot 1 (partboot ssh, to sshd, the command, poweroff)" "$start"
if [ "$(head -n1 ssh1.out)" = "$KVER" ]; then
	t_ok "partboot ssh -- uname -r prints the guest's own kernel ($KVER)"
else
	t_fail "partboot ssh -- uname -r (exit $rc): '$(head -n1 ssh1.out)', want '$KVER'"
	sed 's/^/#   /' ssh1.err | tail -n 15
	CONSOLE=$(sed -n 's/.*booting it in a VM (console: \(.*\))$/\1/p' ssh1.err)
	[ -f "$CONSOLE" ] && tail -n 20 "$CONSOLE" | sed 's/^/#   console: /'
fi
check "partboot ssh said it installed its key into the guest" grep -q "installed partboot's SSH key" ssh1.err
check "and showed it was waiting for sshd" grep -q "waiting for sshd on 127.0.0.1:" ssh1.err
check "the first-boot script's output is in the journal" grep -qx "partboot-firstboot-output-42" ssh1.out
check "the VM powered off cleanly: e2fsck -fn clean" e2fsck -fn "$IMG?offset=$OFF"
check "the first-boot script ran once" test "$(marker_lines)" = 1
check "its unit disabled itself" bash -c "! '$PARTBOOT' ls '$IMG' deb /etc/systemd/system/multi-user.target.wants |
	grep -q partboot-firstboot"
check "partboot's key is root's now" bash -c "'$PARTBOOT' cat '$IMG' deb /root/.ssh/authorized_keys | grep -q 'partboot disk'"

# --- boot 2: the root password typed at the console; partboot ssh and alice join ------------
PORT=$(free_port)
start=$(date +%s)
python3 - "$PARTBOOT" "$IMG" "$PORT" "$(cat root.pw)" console2.log ready.flag done.flag >console2.result 2>&1 <<'PY' &
# partboot run in a terminal (a pty), as a user would: type at the login prompt.
import os, pty, re, select, sys, time
prog, img, port, password, log, ready, done = sys.argv[1:8]
pid, fd = pty.fork()
if pid == 0:
    os.execv(prog, [prog, "run", img, "deb", "--ssh-port", port])
buf = b""
out = open(log, "wb")
def expect(pattern, timeout):
    global buf
    deadline = time.time() + timeout
    while not re.search(pattern, buf):
        if time.time() > deadline:
            raise SystemExit("timed out waiting for %r" % pattern)
        r, _, _ = select.select([fd], [], [], 1)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                raise SystemExit("the VM ended while waiting for %r" % pattern)
            buf += data
            out.write(data)
            out.flush()
    m = re.search(pattern, buf)
    buf = buf[m.end():]
def send(text):
    os.write(fd, text.encode())
expect(rb"deb login: ", 1500)
send("root\r")
expect(rb"Password: ", 120)
send(password + "\r")
expect(rb"root@deb:~# ", 180)
send("echo logged-in-as-$(id -un)-$((6 * 7))\r")
expect(rb"logged-in-as-root-42", 60)
print("root logged in on the serial console with the password")
open(ready, "w").close()
deadline = time.time() + 900
while not os.path.exists(done) and time.time() < deadline:
    time.sleep(1)
send("systemctl poweroff\r")
try:
    while True:
        r, _, _ = select.select([fd], [], [], 300)
        if not r:
            break
        out.write(os.read(fd, 4096))
except OSError:
    pass
_, status = os.waitpid(pid, 0)
print("partboot run exited %d" % os.waitstatus_to_exitcode(status))
PY
CONSOLE_PID=$!
for _ in $(seq 1 1800); do
	[ -f ready.flag ] && break
	kill -0 $CONSOLE_PID 2>/dev/null || break
	sleep 1
done
elapsed "boot 2 (to a root shell on the serial console)" "$start"
if [ -f ready.flag ]; then
	t_ok "root's password, typed at the serial console's login prompt, logs in"
	pb ssh "$IMG" deb -- 'wc -l </root/firstboot-marker' >ssh2.out 2>ssh2.err
	check "partboot ssh joins the VM already running the guest" grep -q "joining the VM that runs it" ssh2.err
	check "the first-boot script did not run on the second boot" test "$(cat ssh2.out)" = 1
	ssh -i alice.key -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o LogLevel=ERROR -p "$PORT" alice@127.0.0.1 'id -un; stat -c %U:%G:%a "$HOME"; id -Gn' >alice.out 2>&1
	check "alice logs in with her key" test "$(sed -n 1p alice.out)" = alice
	check "alice owns her home, 0700" test "$(sed -n 2p alice.out)" = alice:alice:700
	check "alice is in users" grep -qw users <(sed -n 3p alice.out)
else
	t_fail "no root shell after typing the password at the console"
	sed 's/^/#   /' console2.result
	tr -d '\r' <console2.log | tail -n 20 | sed 's/^/#   console: /'
fi
touch done.flag
wait $CONSOLE_PID
check "boot 2: poweroff from the console ends the VM (status 0)" grep -qx "partboot run exited 0" console2.result

# --- boot 3: natively, through SeaBIOS and partboot's GRUB ------------------------------------
PORT=$(free_port)
start=$(date +%s)
pb run "$IMG" deb --firmware bios --ssh-port "$PORT" --console console3.log --timeout 1800 >run3.out 2>&1 &
RUN=$!
# the VM holds the guest once QEMU writes its console: from then on partboot ssh joins it
for _ in $(seq 1 120); do
	[ -f console3.log ] && break
	kill -0 $RUN 2>/dev/null || break
	sleep 1
done
check "boot 3: the VM started" test -f console3.log
pb ssh "$IMG" deb --timeout 1500 -- 'cat /proc/cmdline; wc -l </root/firstboot-marker' >ssh3.out 2>ssh3.err
elapsed "boot 3 (SeaBIOS, GRUB, to sshd)" "$start"
check "native boot: GRUB's menu entry booted it (root=PARTUUID=)" grep -q "root=PARTUUID=" <(sed -n 1p ssh3.out)
check "native boot: the console shows GRUB" grep -aq "GNU GRUB" console3.log
check "the first-boot script ran once in all (three boots, native and virtual)" test "$(sed -n 2p ssh3.out)" = 1
pb ssh "$IMG" deb -- systemctl poweroff >/dev/null 2>&1
wait $RUN
check "boot 3: powered off (partboot run exit 0)" test $? = 0
check "after three boots: e2fsck -fn clean" e2fsck -fn "$IMG?offset=$OFF"
check "after three boots: the first-boot marker has one line" test "$(marker_lines)" = 1
if [ "$(outside)" = "$BEFORE" ]; then t_ok "nothing outside the guest's partition changed"; else
	t_fail "bytes outside the guest's partition CHANGED"; fi
t_done
