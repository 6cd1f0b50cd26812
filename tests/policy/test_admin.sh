#!/bin/sh
# test_admin.sh - qubes-policy (issue #3): list, get, replace, remove;
# a replacement or removal that would break the policy is refused and
# leaves the directory as it was.  Then qrexec-policy-eval as
# qrexec-daemon's --policy-program (qrexec-policy-exec).  TAP output.
set -u
Q=$1/src/policy/qubes-policy
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
mkdir "$D/include"
n=0
bad=0
ok() { # description, then the command
	d=$1
	shift
	n=$((n + 1))
	if "$@" >/dev/null 2>&1; then
		echo "ok $n - $d"
	else
		echo "not ok $n - $d"
		bad=$((bad + 1))
	fi
}
no() { # description, the exit status expected (1 or 2), the command
	d=$1
	want=$2
	shift 2
	n=$((n + 1))
	s=0
	"$@" >/dev/null 2>&1 || s=$?
	if [ "$s" -eq "$want" ]; then
		echo "ok $n - $d"
	else
		echo "not ok $n - $d # exit $s, expected $want"
		bad=$((bad + 1))
	fi
}
replace() { printf "$2" | "$Q" -p "$D" -r "$1"; }
# qubes-policy(1): exit 0 done, 1 failed (the policy would not load, a
# file is missing, an I/O error), 2 usage error
ok "replace creates a file" replace 30-a 'a * @anyvm @anyvm allow\n'
ok "the file has the text" sh -c "[ \"\$('$Q' -p '$D' -g 30-a)\" = 'a * @anyvm @anyvm allow' ]"
no "a broken replacement is refused" 1 replace 30-a 'a * @anyvm\n'
ok "and the old text stays" grep -qx 'a \* @anyvm @anyvm allow' "$D/30-a.policy"
no "an include of a missing file is refused" 1 replace 20-i '!include include/x\n'
ok "an include file is created" replace include/x 'x * @anyvm @anyvm deny\n'
ok "now the include is accepted" replace 20-i '!include include/x\n'
ok "--include works like include/" sh -c "'$Q' -p '$D' --include -g x | grep -q deny"
ok "list shows the policy files" sh -c "[ \"\$('$Q' -p '$D' -l | tr '\n' ' ')\" = '20-i 30-a ' ]"
ok "list --include shows the include files" sh -c "[ \"\$('$Q' -p '$D' -l --include)\" = x ]"
no "removing an included file is refused" 1 "$Q" -p "$D" -d include/x
ok "and it is still there" test -f "$D/include/x"
no "a name that makes an invalid file name is refused" 1 replace Bad 'a * @anyvm @anyvm allow\n'
ok "and nothing was written" sh -c "! ls -a '$D' | grep -q Bad"
no "a path is not a name" 2 "$Q" -p "$D" -g ../x
no "get of a missing file fails" 1 "$Q" -p "$D" -g nosuch
ok "remove the includer" "$Q" -p "$D" -d 20-i
ok "then the include file" "$Q" -p "$D" -d include/x
ok "no temporary files are left" sh -c "[ \"\$(ls -a '$D' | tr '\n' ' ')\" = '. .. 30-a.policy include ' ]"
s=0; "$Q" -p "$D" -x >/dev/null 2>&1 || s=$?
ok "usage errors exit 2" test "$s" -eq 2

# the policy program: run as qrexec-policy-exec, with qrexec-daemon's argv
E=$1/src/policy/qrexec-policy-eval
SI=$(cd "$(dirname "$0")" && pwd)/golden/sysinfo.json
ln -s "$E" "$D/qrexec-policy-exec"
replace 40-x 'x * work personal allow\nx * work vault ask\n' >/dev/null
pe() { "$D/qrexec-policy-exec" -p "$D" -s "$SI" -- "$@"; }
# qrexec-policy-eval(1), --reply (its name as qrexec-policy-exec): exit 0
# for an allow, 1 otherwise
ok "policy program: allow exits 0" pe work personal x
ok "policy program: the reply is the daemon's" sh -c "'$D/qrexec-policy-exec' -p '$D' -s '$SI' -- work personal x | grep -qx 'requested_target=personal'"
no "policy program: an ask (nobody to ask) exits 1" 1 pe work vault x
ok "policy program: and prints result=deny" sh -c "'$D/qrexec-policy-exec' -p '$D' -s '$SI' -- work vault x 2>/dev/null | grep -qx result=deny"
no "policy program: a deny exits 1" 1 pe work dom0 y
echo "1..$n"
[ "$bad" -eq 0 ]
