#!/bin/bash
# No two files of one library call each other, directly or around a loop.
#
# For each library folder (disk part fs boot vm common) this reads the objects the
# build made of its *.c files with nm: the global symbols each object defines
# and the ones it uses. An object that uses a symbol another object of the
# same library defines (a function it calls, data it reads) depends on that
# file ("install.c -> mkfs.c"). A cycle in that graph means files lean on
# each other: a function sits in the wrong file. Cross-library references
# (fs -> part, boot -> fs) and static functions do not show up here and are
# not checked.
#
# Usage: tests/callgraph.sh [BUILD]        (default build; run after make)
# Prints TAP, one line per library; VERBOSE=1 lists every file -> file edge.
# Run by tests/run.sh as "callgraph" (TESTS=callgraph alone), so make check runs it.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-${BUILD:-build}}
LIBS=${CALLGRAPH_LIBS:-disk part fs boot vm common}

read -ra libs <<<"$LIBS"
echo "1..${#libs[@]}"
n=0 bad=0
for lib in "${libs[@]}"; do
	n=$((n + 1))
	objs=() missing=
	for c in "$lib"/*.c; do
		[ -f "$c" ] || continue
		o=$BUILD/$lib/$(basename "${c%.c}").o
		if [ -f "$o" ]; then
			objs+=("$o")
		else
			missing="$missing $o"
		fi
	done
	edges=$(mktemp)
	# "D file sym" for every global definition, "U file sym" for every use.
	if [ ${#objs[@]} -gt 0 ]; then
		nm -A -P --defined-only "${objs[@]}" |
			awk '$3 ~ /^[A-TV-Z]$/ { f = $1; sub(/:$/, "", f); sub(/.*\//, "", f); sub(/\.o$/, ".c", f); print "D", f, $2 }'
		nm -A -P -u "${objs[@]}" |
			awk '{ f = $1; sub(/:$/, "", f); sub(/.*\//, "", f); sub(/\.o$/, ".c", f); print "U", f, $2 }'
	fi >"$edges"
	if [ -n "$missing" ]; then
		echo "not ok $n - $lib: not built:$missing (run make first)"
		bad=1
		rm -f "$edges"
		continue
	fi
	# file -> file edges (with the symbols behind each), then the groups of files
	# that reach each other: any group of two or more is a cycle.
	out=$(awk -v lib="$lib" -v verbose="${VERBOSE:-0}" '
		$1 == "D" { def[$3] = $2; next }
		$1 == "U" { use[++nu] = $2 SUBSEP $3 }
		END {
			for (i = 1; i <= nu; i++) {
				split(use[i], u, SUBSEP)
				if (!(u[2] in def) || def[u[2]] == u[1])
					continue
				e = u[1] SUBSEP def[u[2]]
				if (!(e in edge)) {
					edge[e] = u[2]
					adj[u[1]] = adj[u[1]] " " def[u[2]]
				} else if (index(" " edge[e] " ", " " u[2] " ") == 0) {
					edge[e] = edge[e] " " u[2]
				}
				node[u[1]] = 1
				node[def[u[2]]] = 1
			}
			if (verbose)
				for (e in edge) {
					split(e, p, SUBSEP)
					printf "# %s: %s -> %s (%s)\n", lib, p[1], p[2], edge[e]
				}
			# Which file reaches which (depth-first from each), then the
			# strongly connected groups: files that reach each other.
			for (a in node)
				walk(a, a)
			for (a in node) {
				if (a in done)
					continue
				members = a
				for (b in node)
					if (b != a && ((a, b) in reach) && ((b, a) in reach)) {
						members = members " " b
						done[b] = 1
					}
				done[a] = 1
				if (members == a)
					continue
				m = split(members, mm, " ")
				out = ""
				for (i = 1; i <= m; i++)
					for (j = 1; j <= m; j++)
						if ((mm[i], mm[j]) in edge)
							out = out sprintf("\n%s -> %s (%s)", mm[i], mm[j], edge[mm[i], mm[j]])
				print "CYCLE " members ":" out
			}
		}
		function walk(cur, start,    list, m, i, nx) {
			m = split(adj[cur], list, " ")
			for (i = 1; i <= m; i++) {
				nx = list[i]
				if ((start, nx) in reach)
					continue
				reach[start, nx] = 1
				walk(nx, start)
			}
		}
	' "$edges")
	rm -f "$edges"
	if ! printf '%s\n' "$out" | grep -q '^CYCLE '; then
		printf '%s\n' "$out" | grep . || true
		echo "ok $n - $lib: no file-level call cycles"
	else
		printf '%s\n' "$out" | grep '^#' || true
		echo "not ok $n - $lib: files that call each other"
		printf '%s\n' "$out" | grep -v '^#' | sed -e 's/^CYCLE /cycle among /' -e 's/^/#   /'
		bad=1
	fi
done
exit $bad
