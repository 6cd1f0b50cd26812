#!/bin/sh
# test_admin_output.sh - regression: qubes-policy exited 0 when its output
# was lost (standard output on a full disk) or a file could not be read.
# TAP output.
set -u
Q=$1/src/policy/qubes-policy
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
mkdir "$D/include"
printf 'a * @anyvm @anyvm allow\n' >"$D/30-a.policy"
printf 'x * @anyvm @anyvm deny\n' >"$D/include/x"
n=0
bad=0
# description, expected exit status, then the command (stdout to $OUT)
st() {
	d=$1
	want=$2
	shift 2
	n=$((n + 1))
	s=0
	"$@" >"$OUT" 2>"$D/err" || s=$?
	if [ "$s" -eq "$want" ]; then
		echo "ok $n - $d"
	else
		echo "not ok $n - $d (exit $s, not $want)"
		sed 's/^/# /' "$D/err"
		bad=$((bad + 1))
	fi
}
OUT=/dev/full
st "get to a full disk fails" 1 "$Q" -p "$D" -g 30-a
n=$((n + 1))
if grep -q '^qubes-policy: standard output: No space left on device$' \
	"$D/err"; then
	echo "ok $n - and says why"
else
	echo "not ok $n - and says why"
	bad=$((bad + 1))
fi
st "get --include to a full disk fails" 1 "$Q" -p "$D" -g include/x
st "list to a full disk fails" 1 "$Q" -p "$D" -l
st "list --include to a full disk fails" 1 "$Q" -p "$D" -l --include
OUT=/dev/null
mkdir "$D/dir.policy"
st "get of a file that cannot be read fails" 1 "$Q" -p "$D" -g dir
OUT=$D/out
st "get to a file works" 0 "$Q" -p "$D" -g 30-a
n=$((n + 1))
if [ "$(cat "$D/out")" = 'a * @anyvm @anyvm allow' ]; then
	echo "ok $n - with the text"
else
	echo "not ok $n - with the text"
	bad=$((bad + 1))
fi
echo "1..$n"
[ "$bad" -eq 0 ]
