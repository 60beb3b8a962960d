#!/bin/sh
# Install the Debian packages named in a list file (comments and blanks ignored).
# A quick no-op when everything is present; apt-get update only when something is missing.
set -eu
list=${1:-deps.txt}
pkgs=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$list")
# The missing ones become the positional parameters: one word each, quoted from here on.
set --
for p in $pkgs; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*" installed") ;;
	*) set -- "$@" "$p" ;;
	esac
done
[ $# -eq 0 ] && exit 0
echo "partboot deps: installing $*"
# as_root CMD...: CMD as root, through sudo when not root already.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq
as_root apt-get install -y -qq --no-install-recommends "$@"
