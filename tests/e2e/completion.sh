#!/bin/bash
# Bash completion (docs/partboot.bash-completion): verbs from `partboot --help`, a verb's
# options from its --help, guest names from `partboot list DISK --json`, paths inside a guest.
. "$(dirname "$0")/lib.sh"
cd "$T_DIR" || exit 1
COMP=$PB_TOP/docs/partboot.bash-completion
[ -f "$COMP" ] || { t_fail "no $COMP"; t_done; exit 1; }
mkdir bin && ln -s "$PARTBOOT" bin/partboot
IMG=disk.img
make_disk() {
	pb -q init "$IMG" --size 200M && pb -q add "$IMG" deb12 --type root --size 60M &&
		pb -q add "$IMG" alpine --type root --size 60M
}
if ! check "a disk with deb12 and alpine (partboot init, add)" make_disk; then
	t_done
	exit 1
fi
mkdir -p src/etc && echo x >src/etc/motd
check "a guest holding /etc/motd (partboot install)" pb -q install "$IMG" deb12 --from src
# complete WORDS...: what the completion offers for the last word.
complete_words() {
	PATH=$T_DIR/bin:$PATH bash -c '
		[ -f /usr/share/bash-completion/bash_completion ] && . /usr/share/bash-completion/bash_completion
		. "$0"
		COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_partboot partboot
		printf "%s\n" "${COMPREPLY[@]}"' "$COMP" "$@" 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//'
}
VERBS=$("$PARTBOOT" --help | sed -n '/^Verbs:/,$ s/^  \([a-z][a-z-]*\) .*/\1/p' | sort | tr '\n' ' ' | sed 's/ $//')
check "verbs: every verb of --help" test "$(complete_words partboot '')" = "$VERBS"
check "verbs: a prefix" test "$(complete_words partboot -q ins)" = "install"
check "guest names from list --json" test "$(complete_words partboot run "$IMG" '')" = "alpine deb12"
check "guest names after an option with a value" test "$(complete_words partboot run --console c.txt "$IMG" d)" = "deb12"
check "options from the verb's --help" bash -c "grep -qw -- --hostname <<<'$(complete_words partboot install --h)'"
check "option values" test "$(complete_words partboot run "$IMG" deb12 --firmware '')" = "bios uefi"
check "guest names for the lifecycle verbs" test "$(complete_words partboot clone "$IMG" '')" = "alpine deb12"
check "partition names after move --after" test "$(complete_words partboot move "$IMG" deb12 --after a)" = "alpine"
check "options of snapshot" bash -c "grep -qw -- --zstd <<<'$(complete_words partboot snapshot --)'"
check "paths inside the guest" test "$(complete_words partboot cat "$IMG" deb12 /etc/mo)" = "/etc/motd"
t_done
