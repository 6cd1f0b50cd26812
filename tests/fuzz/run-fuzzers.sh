#!/bin/bash
# run-fuzzers.sh BUILD_DIR TOTAL_SECONDS
#
# Run every libFuzzer target (an executable named fuzz_<name>, found
# anywhere under BUILD_DIR, so targets defined outside tests/fuzz count
# too) of a -Dfuzz=true build within one time budget: TOTAL_SECONDS split
# evenly, at least 20 s and at most 60 s a target.
#
# Each target starts from a temporary copy of its seed corpus,
# <dir of tests/**/fuzz_<name>.c>/corpus/<name>/, so the repository is
# never modified, and gets the options in fuzz_<name>.options beside its
# source ([libfuzzer] key = value lines, as OSS-Fuzz reads them).  Crash,
# timeout and leak artifacts are kept in BUILD_DIR/fuzz-artifacts/, each
# target's full output in BUILD_DIR/fuzz-logs/<name>.log.
#
# Prints "fuzz: NAME OK|FAIL runs=N" a target, then "fuzz: N passed, N
# failed"; exits 1 if any target failed (or none was found), 2 on usage.
set -u

prog=${0##*/}
usage() {
	echo "usage: $prog BUILD_DIR TOTAL_SECONDS" >&2
	exit 2
}
[ $# -eq 2 ] || usage
case $2 in
'' | *[!0-9]*) usage ;;
esac
[ -d "$1" ] || {
	echo "$prog: $1: not a directory" >&2
	exit 2
}

build=$(cd "$1" && pwd) || exit 2
total=$2
srcroot=$(cd "$(dirname "$0")/../.." && pwd) || exit 2
artifacts=$build/fuzz-artifacts
logs=$build/fuzz-logs
mkdir -p "$artifacts" "$logs" || exit 1

# UBSan only reports and goes on unless told to stop; a report must fail.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

# Targets: executables named fuzz_<name>; not the gcc build's *_replay
# programs, not objects (fuzz_x.c.o) nor Meson's fuzz_x.p directories.
mapfile -t exes < <(find "$build" -type f -name 'fuzz_*' ! -name '*.*' \
	! -name '*_replay' -perm -u+x -print | sort)
n=${#exes[@]}
if [ "$n" -eq 0 ]; then
	echo "$prog: no fuzz_* executables under $build" \
		"(configure with -Dfuzz=true)" >&2
	echo "fuzz: 0 passed, 0 failed"
	exit 1
fi

per=$((total / n))
[ "$per" -lt 20 ] && per=20
[ "$per" -gt 60 ] && per=60

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-fuzzers.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# libFuzzer flags from an .options file's [libfuzzer] section
options_flags() {
	awk '
		/^[ \t]*[#;]/ || /^[ \t]*$/ { next }
		/^[ \t]*\[/ { in_lf = ($0 ~ /^[ \t]*\[libfuzzer\][ \t]*$/); next }
		in_lf && /=/ {
			k = $0; sub(/=.*/, "", k); gsub(/[ \t]/, "", k)
			v = $0; sub(/^[^=]*=/, "", v)
			gsub(/^[ \t]+|[ \t]+$/, "", v)
			if (k ~ /^[a-z_]+$/) print "-" k "=" v
		}' "$1"
}

passed=0
failed=0
for exe in "${exes[@]}"; do
	name=${exe##*/fuzz_}
	corpus=$tmp/corpus-$name
	mkdir -p "$corpus"
	flags=()

	src=$(find "$srcroot/tests" -type f -name "fuzz_$name.c" -print \
		-quit 2>/dev/null)
	if [ -n "$src" ]; then
		srcdir=$(dirname "$src")
		if [ -d "$srcdir/corpus/$name" ]; then
			cp -R "$srcdir/corpus/$name/." "$corpus/"
		fi
		if [ -f "$srcdir/fuzz_$name.options" ]; then
			mapfile -t flags < <(options_flags \
				"$srcdir/fuzz_$name.options")
		fi
	fi
	if [ -z "$(ls -A "$corpus")" ]; then
		echo "$prog: $name: no seed corpus, starting empty" >&2
	fi

	log=$logs/$name.log
	# -max_total_time ends the run; timeout(1) only guards against a
	# libFuzzer that cannot stop (a unit stuck in an uninterruptible
	# call), which counts as a failure.
	timeout --kill-after=10 $((per + 120)) "$exe" \
		-max_total_time="$per" -print_final_stats=1 \
		-artifact_prefix="$artifacts/$name-" \
		"${flags[@]}" "$corpus" >"$log" 2>&1 </dev/null
	rc=$?

	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
		tail -n 1)
	if [ -z "$runs" ]; then
		runs=$(sed -n 's/^#\([0-9][0-9]*\)[[:space:]].*/\1/p' "$log" |
			tail -n 1)
	fi
	if [ "$rc" -eq 0 ]; then
		echo "fuzz: $name OK runs=${runs:-0}"
		passed=$((passed + 1))
	else
		echo "fuzz: $name FAIL runs=${runs:-0}"
		failed=$((failed + 1))
		# the report, for CI logs: libFuzzer's summary and the crash line
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*invariant failed|.*runtime error|artifact_prefix=)' \
			"$log" | head -n 20 | sed "s/^/  $name: /" >&2
	fi
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
