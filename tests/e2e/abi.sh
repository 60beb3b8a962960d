#!/bin/bash
# libpartboot as a C program sees it, after `make install DESTDIR=… PREFIX=/usr`: the
# library and its links, only public headers installed, each of them compiling alone with
# nothing but partboot.pc's Cflags, and the library exporting exactly the functions (and
# variables) those installed headers declare, every one in version node PARTBOOT_0.1.
. "$(dirname "$0")/lib.sh"

NODE=PARTBOOT_0.1
CC=${CC:-cc}
missing=
for p in make "$CC" nm readelf pkg-config; do
	command -v "$p" >/dev/null || missing="$missing $p"
done
if [ -n "$missing" ]; then
	t_skip "libpartboot ABI" "missing:$missing"
	t_done
	exit
fi

# The build folder partboot came from (build, or build-san under SANITIZE=1).
build=$(dirname "$PARTBOOT")
build=${build#"$PB_TOP"/}
san=0
case $build in *-san) san=1 ;; esac
R=$T_DIR/root
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$PB_TOP" BUILD="$build" SANITIZE=$san \
	install DESTDIR="$R" PREFIX=/usr >"$T_DIR/install.log" 2>&1; then
	t_ok "make install DESTDIR=… PREFIX=/usr"
else
	t_fail "make install DESTDIR=… PREFIX=/usr"
	sed 's/^/#   /' "$T_DIR/install.log" | tail -n 20
	t_done
	exit
fi
export PKG_CONFIG_PATH=$R/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$R
LIB=$R/usr/lib/libpartboot.so.0.1
INC=$R/usr/include/partboot

# ---- the library ---------------------------------------------------------------------

if [ -f "$LIB" ] && [ "$(readlink "$R/usr/lib/libpartboot.so.0")" = libpartboot.so.0.1 ] &&
	[ "$(readlink "$R/usr/lib/libpartboot.so")" = libpartboot.so.0 ]; then
	t_ok "lib/libpartboot.so.0.1 with the .so.0 and .so links"
else
	t_fail "lib/libpartboot.so.0.1 with the .so.0 and .so links"
	find "$R/usr/lib" -maxdepth 1 -printf '%M %p -> %l\n' | sed 's/^/#   /'
fi
soname=$(readelf -d "$LIB" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" = libpartboot.so.0 ]; then t_ok "soname libpartboot.so.0"; else t_fail "soname is '$soname', want libpartboot.so.0"; fi

# ---- the headers -----------------------------------------------------------------------

# Public: each library folder's D/D.h (a library folder: a top-level folder with C
# sources, but cli/ and tests/, as the Makefile says) and common/err.h, common/strbuf.h.
want=$(cd "$PB_TOP" && for d in */; do
	d=${d%/}
	case $d in cli | tests) continue ;; esac
	ls "$d"/*.c >/dev/null 2>&1 && [ -f "$d/$d.h" ] && echo "$d/$d.h"
done; echo common/err.h; echo common/strbuf.h)
want=$(sort <<<"$want")
have=$(cd "$INC" && find . -type f | sed 's|^\./||' | sort)
if [ "$have" = "$want" ]; then
	t_ok "include/partboot/ holds exactly the public headers ($(tr '\n' ' ' <<<"$have"))"
else
	t_fail "include/partboot/ holds exactly the public headers"
	diff <(echo "$want") <(echo "$have") | sed 's/^/#   /'
fi
for h in $have; do
	cmp -s "$PB_TOP/$h" "$INC/$h" || t_fail "installed $h differs from the tree's"
done

# Each header alone, in a folder outside the tree, with only what pkg-config says: no
# _GNU_SOURCE, no -I. of the tree; GNU C, and strict ISO C99 and C11.
cflags=$(pkg-config --cflags partboot)
if [ -n "$cflags" ] && [[ $cflags == *"-I$INC"* ]]; then
	t_ok "pkg-config --cflags partboot names include/partboot"
else
	t_fail "pkg-config --cflags partboot: '$cflags'"
fi
mkdir -p "$T_DIR/hdr"
for h in $have; do
	ok=1
	printf '#include <%s>\n' "$h" >"$T_DIR/hdr/one.c"
	for std in "" -std=c99 -std=c11; do
		# shellcheck disable=SC2086
		if ! (cd "$T_DIR/hdr" && $CC $std -Wall -Wextra -Werror $cflags -c one.c -o one.o) >"$T_DIR/hdr/log" 2>&1; then
			ok=0
			t_fail "#include <$h> alone does not compile (${std:-default std})"
			sed 's/^/#   /' "$T_DIR/hdr/log" | head -n 10
		fi
	done
	[ $ok = 1 ] && t_ok "#include <$h> alone compiles with -Wall -Wextra -Werror (gnu, c99, c11)"
done

# ---- the exported symbols ---------------------------------------------------------------

# What the installed headers declare: "function NAME FILE:LINE" / "data NAME FILE".
mapfile -t have_list <<<"$have"
if ! (cd "$INC" && CFLAGS="$cflags" "$PB_TOP/tools/public-symbols.sh" list --data-from "$LIB" "${have_list[@]}") \
	>"$T_DIR/declared" 2>"$T_DIR/declared.err"; then
	t_fail "list what the installed headers declare"
	sed 's/^/#   /' "$T_DIR/declared.err" | head -n 10
fi
# What the library exports: "function NAME VERSION" / "data NAME VERSION" (nm -D prints
# NAME@@VERSION).
nm -D --defined-only "$LIB" | awk '
	$2 == "A" { next }
	{ name = $3; ver = ""; i = index(name, "@"); if (i) { ver = substr(name, i); name = substr(name, 1, i - 1) } }
	$2 ~ /^[TtWiI]$/ { print "function", name, ver; next }
	$2 ~ /^[BbDdRrGgSsVv]$/ { print "data", name, ver; next }
	{ print "unknown-" $2, name, ver }' | sort -k2,2 >"$T_DIR/exported"
n_fail=0
while read -r kind name _; do
	if ! grep -q "^$kind $name " "$T_DIR/declared"; then
		t_fail "exported but not declared (as $kind) in an installed header: $name"
		n_fail=$((n_fail + 1))
	fi
done <"$T_DIR/exported"
while read -r kind name where; do
	if ! grep -q "^$kind $name " "$T_DIR/exported"; then
		t_fail "declared in $where but not exported: $name ($kind)"
		n_fail=$((n_fail + 1))
	fi
done <"$T_DIR/declared"
nf=$(grep -c '^function ' "$T_DIR/exported")
nd=$(grep -c '^data ' "$T_DIR/exported")
if [ $n_fail -eq 0 ] && [ "$nf" -gt 0 ]; then
	t_ok "exports exactly what the installed headers declare: $nf functions, $nd variables"
fi

# Every exported symbol in the version node.
other=$(awk -v want="@@$NODE" '$3 != want { print $2 ($3 == "" ? " (no version)" : " " $3) }' "$T_DIR/exported")
if [ -z "$other" ] && readelf -V "$LIB" | grep -q "Name: $NODE\$"; then
	t_ok "every exported symbol is in version node $NODE"
else
	t_fail "exported symbols outside version node $NODE: $(tr '\n' ' ' <<<"$other")"
fi

# A private function (common/util.h, not installed) cannot be linked against.
cat >"$T_DIR/hdr/private.c" <<'EOF'
#include <stdint.h>
int pb_parse_size(const char *s, uint64_t *ret);
int main(void) { uint64_t n; return pb_parse_size("1M", &n); }
EOF
# shellcheck disable=SC2046
if (cd "$T_DIR/hdr" && $CC private.c -o private $(pkg-config --libs partboot)) >"$T_DIR/hdr/log" 2>&1; then
	t_fail "a private function (pb_parse_size) links from outside"
elif grep -q "undefined reference to .pb_parse_size" "$T_DIR/hdr/log"; then
	t_ok "a private function (pb_parse_size) is not exported: undefined reference"
else
	t_fail "linking against libpartboot failed for another reason"
	sed 's/^/#   /' "$T_DIR/hdr/log" | head -n 10
fi

# ---- partboot.pc ------------------------------------------------------------------------

v=$(pkg-config --modversion partboot 2>&1)
if [ "$v" = 0.1 ]; then t_ok "pkg-config --modversion partboot: 0.1"; else t_fail "pkg-config --modversion partboot: $v"; fi
libs=$(pkg-config --libs partboot)
if [[ " $libs " == *" -lpartboot "* && $libs == *"-L$R/usr/lib"* ]]; then
	t_ok "pkg-config --libs partboot: $libs"
else
	t_fail "pkg-config --libs partboot: $libs"
fi
# --static must name every library libpartboot.so needs (Requires.private).
static=" $(pkg-config --static --libs partboot) "
lack=
for n in $(readelf -d "$LIB" | sed -n 's/.*(NEEDED).*\[lib\([^.]*\)\.so.*\]/\1/p'); do
	case $n in c | m | dl | pthread | rt | gcc_s | asan | ubsan) continue ;; esac
	[[ $static == *" -l$n "* ]] || lack="$lack -l$n"
done
if [ -z "$lack" ]; then
	t_ok "pkg-config --static --libs names every library libpartboot needs"
else
	t_fail "pkg-config --static --libs partboot lacks$lack (Requires.private)"
fi

t_done
