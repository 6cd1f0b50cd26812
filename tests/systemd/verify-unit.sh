#!/bin/bash
# verify-unit.sh UNIT BULKHEADD - bulkheadd.service as built: its
# ExecStart is the installed bulkheadd, and its cgroup is delegated; a
# copy pointing at the built bulkheadd passes systemd-analyze verify with
# nothing to say (an unknown key or a bad value is a warning there, and a
# failure here; its man page is not installed yet: not looked for).
# Skipped (77) without systemd-analyze.
set -u
unit=$1 bin=$2
if ! command -v systemd-analyze >/dev/null; then
	echo "skipped: no systemd-analyze"
	exit 77
fi
grep -qx 'ExecStart=/.*/bulkheadd' "$unit" ||
	{ echo "FAIL: ExecStart is not an absolute bulkheadd: $(grep ExecStart "$unit")"; exit 1; }
grep -qx 'Delegate=yes' "$unit" ||
	{ echo "FAIL: the cgroup is not delegated"; exit 1; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
sed "s#^ExecStart=.*#ExecStart=$bin#" "$unit" >"$tmp/bulkheadd.service"
out=$(cd "$tmp" && timeout 60 systemd-analyze verify --man=no ./bulkheadd.service 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
	echo "FAIL: systemd-analyze verify (exit $rc):"
	echo "$out"
	exit 1
fi
echo "bulkheadd.service: verified"
