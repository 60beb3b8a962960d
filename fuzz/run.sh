#!/bin/bash
# fuzz/run.sh [NAME...]: run each libFuzzer harness of build-fuzz/fuzz/ (make FUZZ=1 fuzzers)
# for FUZZ_SECONDS (default 300) on its seeds (fuzz/seeds.sh, made here) and its corpus,
# kept in build-fuzz/corpus/NAME/ from one run to the next. One line per harness:
#   ok - layout: 60 s, 1234567 runs, 20576 exec/s, cov 812, ft 2301, corpus 312
# or "not ok" with the finding, whose input libFuzzer left in build-fuzz/crashes/. Exits 1
# when any harness found something (a crash, a sanitizer report, a broken invariant).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
B=${FUZZ_BUILD:-build-fuzz}
secs=${FUZZ_SECONDS:-300}
: "${PARTBOOT:=$top/build/partboot}"
export PARTBOOT

# the longest input each harness is given, by what it lays the input over
max_len() {
	case $1 in
	gpt) echo $((34 * 512 + 512 + 33 * 512)) ;;
	esp) echo $((128 * 1024)) ;;
	install) echo 65536 ;;
	iso) echo $((1024 * 1024)) ;;
	initramfs) echo 65536 ;;
	*) echo 4096 ;;
	esac
}

if ! "$top/fuzz/seeds.sh" "$B/seeds" >"$B/seeds.log" 2>&1; then
	echo "not ok - seeds: fuzz/seeds.sh failed: $(tail -n 3 "$B/seeds.log" | tr '\n' ' ')"
	exit 1
fi
mkdir -p "$B/crashes"
# leaks of the libraries' own, fixed upstream (fuzz/lsan.supp says which and why)
export LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$top/fuzz/lsan.supp
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for h in "$B"/fuzz/fuzz-*; do
		case $h in *.o | *.d) continue ;; esac
		[ -x "$h" ] && names+=("${h##*/fuzz-}")
	done
fi
failed=0
for n in "${names[@]}"; do
	h=$B/fuzz/fuzz-$n
	log=$B/fuzz-$n.log
	mkdir -p "$B/corpus/$n"
	# -timeout: one input taking 10 s is a finding too; -rss_limit_mb: so is 2 GB of memory
	# in use. -malloc_limit_mb: libarchive's cpio reader mallocs what a header's name size
	# claims (up to 4 GiB, never touched when the stream is short): not a finding of ours.
	"$h" -max_total_time="$secs" -max_len="$(max_len "$n")" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=4200 \
		-print_final_stats=1 -artifact_prefix="$B/crashes/$n-" "$B/corpus/$n" "$B/seeds/$n" >"$log" 2>&1
	rc=$?
	# "#123456 DONE cov: 812 ft: 2301 corp: 312/41Kb lim: 4096 exec/s: 20576 rss: 512Mb"
	last=$(grep -E '^#[0-9]+\s+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
	ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
	corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$last")
	if [ $rc -eq 0 ]; then
		echo "ok - $n: $secs s, ${runs:-?} runs, ${eps:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"
	else
		failed=$((failed + 1))
		echo "not ok - $n: exit $rc after ${runs:-?} runs; $(grep -m1 -E 'ERROR: |fuzz: |Test unit written' "$log")"
		grep -E 'SUMMARY|Test unit written|invariant' "$log" | head -n 5 | sed 's/^/#   /'
	fi
done
[ $failed -eq 0 ]
