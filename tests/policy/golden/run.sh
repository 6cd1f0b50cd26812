#!/bin/sh
# run.sh - golden-file tests of the policy engine (issue #3).
#
# usage: run.sh BUILD_DIR [--regen]
#
# eval/CASE/: policy.d/ (and optionally run.d/, shadowing it, compat/
# for !compat-4.0, sysinfo.json instead of ../../sysinfo.json) and a
# "cases" file of blocks:
#     $ SOURCE TARGET SERVICE[+ARG] [--requested-source NAME]
#     expected output of qrexec-policy-eval (stdout and stderr),
#     exit=STATUS
# lint/NAME.policy with NAME.ok: qubes-policy-lint NAME.policy output;
# lint/NAME.d/ with NAME.d.ok: qubes-policy-lint --policy-dir NAME.d.
# Every command runs in its case directory, so paths print relative.
# --regen rewrites the expected outputs from the current binaries
# (review the diff before committing it).
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
regen=${2:-}
eval_bin=$build/src/policy/qrexec-policy-eval
lint_bin=$build/src/policy/qubes-policy-lint
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run_eval() { # case-dir args...
	d=$1
	shift
	si=$here/sysinfo.json
	[ -f "$d/sysinfo.json" ] && si=$d/sysinfo.json
	set -- --policy-dir policy.d --system-info "$si" "$@"
	# run.d comes first: it shadows policy.d, as /run shadows /etc
	[ -d "$d/run.d" ] && set -- --policy-dir run.d "$@"
	(cd "$d" && "$eval_bin" --compat-dir compat "$@" 2>&1; echo "exit=$?")
}

check() { # name expected-file actual-file
	if cmp -s "$2" "$3"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: $1"
		diff -u "$2" "$3" | sed 's/^/    /'
	fi
}

for d in "$here"/eval/*/; do
	d=${d%/}
	name=eval/$(basename "$d")
	out=$tmp/new
	: >"$out"
	n=0
	# split the cases file into blocks, one request each
	awk -v dir="$tmp" '
		/^\$ / { n++; f = sprintf("%s/req.%04d", dir, n);
			 print substr($0, 3) > f; close(f);
			 g = sprintf("%s/exp.%04d", dir, n); printf "" > g;
			 close(g); next }
		n > 0 { g = sprintf("%s/exp.%04d", dir, n); print >> g;
			close(g) }
	' "$d/cases"
	for req in "$tmp"/req.*; do
		[ -f "$req" ] || continue
		k=${req##*.}
		line=$(cat "$req")
		# the request line is ours: split it like a shell would
		eval "set -- $line"
		run_eval "$d" "$@" >"$tmp/act.$k"
		printf '$ %s\n' "$line" >>"$out"
		cat "$tmp/act.$k" >>"$out"
		check "$name: $line" "$tmp/exp.$k" "$tmp/act.$k"
		n=$((n + 1))
	done
	rm -f "$tmp"/req.* "$tmp"/exp.* "$tmp"/act.*
	[ "$regen" = --regen ] && cp "$out" "$d/cases"
	if [ "$n" -eq 0 ]; then
		echo "FAIL: $name has no cases"
		fail=$((fail + 1))
	fi
done

for f in "$here"/lint/*.policy "$here"/lint/*.d; do
	[ -e "$f" ] || continue
	b=$(basename "$f")
	if [ -d "$f" ]; then
		(cd "$here/lint" && "$lint_bin" --compat-dir compat \
			--policy-dir "$b"; echo "exit=$?") >"$tmp/lint" 2>&1
	else
		(cd "$here/lint" && "$lint_bin" --compat-dir compat "$b"; \
			echo "exit=$?") >"$tmp/lint" 2>&1
	fi
	[ "$regen" = --regen ] && cp "$tmp/lint" "$f.ok"
	check "lint/$b" "$f.ok" "$tmp/lint"
done

echo "golden: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
