#!/bin/bash
# The Debian package (slow: dpkg-buildpackage compiles the whole tree, ~1.5 minutes here,
# then lintian, ~30 s). debian/ is built from a copy of the source tree into partboot,
# libpartboot0 and libpartboot-dev; lintian finds no error; the packages are unpacked into a
# scratch root (dpkg -x) and what they installed is used: the program runs (init, add,
# list on an image, --help, the man page), the bash completion is where bash-completion
# looks, and docs/examples/two-guests.c builds against the headers and partboot.pc and runs
# on the shared library, all from that root.
. "$(dirname "$0")/../e2e/lib.sh"

missing=
for p in dpkg-buildpackage dh lintian dpkg-deb pkg-config cc man; do
	command -v "$p" >/dev/null || missing="$missing $p"
done
if [ -n "$missing" ]; then
	t_skip "Debian package" "missing:$missing (make deps: devscripts, debhelper, lintian)"
	t_done
	exit
fi
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)

# A copy of the tree as git has it (build output and caches stay behind): dpkg-buildpackage
# writes the .debs next to the source folder, here inside the scratch folder.
SRC=$T_DIR/src/partboot
mkdir -p "$SRC"
if (cd "$PB_TOP" && git ls-files -co --exclude-standard | grep -v '^\.cache' | tar -cf - -T -) | tar -xf - -C "$SRC"; then
	t_ok "a copy of the source tree"
else
	t_fail "a copy of the source tree"
	t_done
	exit
fi
start=$(date +%s)
if (cd "$SRC" && dpkg-buildpackage -us -uc -b -j2) >"$T_DIR/build.log" 2>&1; then
	t_ok "dpkg-buildpackage -b ($(($(date +%s) - start)) s)"
else
	t_fail "dpkg-buildpackage -b"
	tail -n 20 "$T_DIR/build.log" | sed 's/^/#   /'
	t_done
	exit
fi
cd "$T_DIR/src" || exit 1
for p in partboot libpartboot0 libpartboot-dev; do
	check "$p: a .deb" test -s "${p}_0.1_amd64.deb"
done
lintian --fail-on error partboot_0.1_amd64.changes >"$T_DIR/lintian.log" 2>&1
rc=$?
if [ $rc -eq 0 ] && ! grep -q '^E:' "$T_DIR/lintian.log"; then
	t_ok "lintian: no errors ($(grep -c '^W:' "$T_DIR/lintian.log") warnings)"
else
	t_fail "lintian: errors (exit $rc)"
	grep '^E:' "$T_DIR/lintian.log" | head -n 10 | sed 's/^/#   /'
fi
sed 's/^/# lintian: /' "$T_DIR/lintian.log" | grep -v 'running with root' | head -n 10

# What partboot needs at run time is in Depends.
deps=$(dpkg-deb -f partboot_0.1_amd64.deb Depends)
for d in qemu-system-x86 grub-pc-bin grub-efi-amd64-bin mtools dosfstools e2fsprogs ovmf libfdisk1; do
	case ", $deps," in
	*", $d"[,\ ]*) t_ok "partboot Depends on $d" ;;
	*) t_fail "partboot Depends on $d (Depends: $deps)" ;;
	esac
done

# --- install into a scratch root and use what was installed --------------------------------------
R=$T_DIR/root
for p in partboot libpartboot0 libpartboot-dev; do
	dpkg -x "${p}_0.1_amd64.deb" "$R"
done
for f in usr/bin/partboot usr/share/man/man1/partboot.1.gz usr/share/bash-completion/completions/partboot \
	"usr/lib/$MA/libpartboot.so.0" "usr/lib/$MA/libpartboot.so" "usr/lib/$MA/pkgconfig/partboot.pc" \
	usr/include/partboot/disk/disk.h usr/share/doc/partboot/copyright; do
	check "installed: /$f" test -e "$R/$f"
done
PB=$R/usr/bin/partboot
check "the installed partboot runs: --version" bash -c "'$PB' --version | grep -qx 'partboot 0.1'"
img=$T_DIR/pkg.img
if "$PB" -q init "$img" --size 64M --seed deb && "$PB" -q add "$img" esp --type esp --size 34M &&
	"$PB" -q add "$img" data --type data --size 8M && "$PB" list "$img" >"$T_DIR/list.out" &&
	grep -q "esp  *esp" "$T_DIR/list.out" && sfdisk --verify "$img" >/dev/null; then
	t_ok "the installed partboot makes a disk (init, add, list; sfdisk --verify)"
else
	t_fail "the installed partboot makes a disk"
	sed 's/^/#   /' "$T_DIR/list.out" 2>/dev/null
fi
check "the installed man page renders" bash -c "man -l '$R/usr/share/man/man1/partboot.1.gz' 2>/dev/null | grep -q 'secure-boot'"
check "the installed completion loads and completes verbs" bash -c "
	. '$R/usr/share/bash-completion/completions/partboot' && COMP_WORDS=('$PB' boot) COMP_CWORD=1 &&
	_partboot && printf '%s\n' \"\${COMPREPLY[@]}\" | grep -qx bootloader"

# libpartboot-dev: the example against the installed headers and partboot.pc, run on the .so
export PKG_CONFIG_PATH=$R/usr/lib/$MA/pkgconfig PKG_CONFIG_SYSROOT_DIR=$R
cp "$PB_TOP/docs/examples/two-guests.c" "$T_DIR/"
read -ra pcflags < <(pkg-config --cflags --libs partboot)
if (cd "$T_DIR" && cc -Wall -Wextra -Werror -o two-guests two-guests.c "${pcflags[@]}") >"$T_DIR/cc.log" 2>&1; then
	t_ok "two-guests.c builds against libpartboot-dev (pkg-config partboot)"
	check "two-guests links the installed libpartboot.so.0" bash -c \
		"LD_LIBRARY_PATH='$R/usr/lib/$MA' ldd '$T_DIR/two-guests' | grep -q '$R/usr/lib/$MA/libpartboot.so.0'"
	if [ -r "$PB_TOP/.cache/guest/guest.tar" ]; then
		check "two-guests runs on it and makes its disk" bash -c "cd '$T_DIR' &&
			LD_LIBRARY_PATH='$R/usr/lib/$MA' ./two-guests ex.img '$PB_TOP/.cache/guest/guest.tar' &&
			'$PB' list ex.img | grep -q 'alpha.*complete'"
	else
		t_skip "two-guests runs" "no test guest (make guest)"
	fi
else
	t_fail "two-guests.c builds against libpartboot-dev"
	sed 's/^/#   /' "$T_DIR/cc.log" | head -n 10
fi
t_done
