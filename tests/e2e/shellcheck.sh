#!/bin/bash
# Runs shellcheck over every shell script of the repository: tests/, fixtures/ (the guest's and the
# installer's init included), bench/, .ci/run and the bash completion in docs/. A script is a
# file named *.sh, a file whose first line is a sh/bash #! line, or docs/*completion*. One
# TAP line per script, with shellcheck's findings when it has any. Settings (follow sourced
# files) are in .shellcheckrc. Findings are fixed, not silenced: a `# shellcheck disable=`
# carries a comment saying why.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$PB_TOP" || exit 1

if ! command -v shellcheck >/dev/null; then
	t_skip "shellcheck" "shellcheck missing (make deps)"
	t_done
	exit
fi

scripts=()
while IFS= read -r -d '' f; do
	f=${f#./}
	case $f in
	*.sh | docs/*completion*) scripts+=("$f") ;;
	*) if head -n 1 "$f" | grep -qE '^#! *(/usr)?/bin/(env +)?(ba|da)?sh( |$)'; then scripts+=("$f"); fi ;;
	esac
done < <(find . \( -type d \( -name .git -o -path './build*' \) -o -name .cache \) -prune -o -type f -print0 | sort -z)

# One shellcheck run for all (it is the slow part), then one line per script.
shellcheck -f gcc "${scripts[@]}" >"$T_DIR/sc.out" 2>&1
rc=$?
if [ $rc -gt 1 ]; then
	t_fail "shellcheck ran (exit $rc)"
	sed 's/^/#   /' "$T_DIR/sc.out" | head -n 20
fi
for f in "${scripts[@]}"; do
	if grep -q "^$f:" "$T_DIR/sc.out"; then
		t_fail "shellcheck $f"
		grep "^$f:" "$T_DIR/sc.out" | head -n 20 | sed 's/^/#   /'
	else
		t_ok "shellcheck $f"
	fi
done
t_done
