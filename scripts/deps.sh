#!/bin/bash
# deps.sh - install what bulkhead needs to build, test and run, from
# Debian 12's own packages (idempotent; quick when all is there).
#   scripts/deps.sh          build + run dependencies
#   scripts/deps.sh --test   also what the tests, fuzzers and benchmarks use
set -u

pkgs=(
	gcc meson ninja-build pkg-config
	libjansson-dev libseccomp-dev libcap-dev libsqlite3-dev zlib1g-dev libisal-dev
	python3 procps util-linux iproute2
	debootstrap debian-archive-keyring
	# the GUI (issue #8): the in-qube agent and the GUI domain
	libwayland-dev libwayland-bin wayland-protocols libxkbcommon-dev
	libpixman-1-dev libvncserver-dev libxcb1-dev libxcb-shm0-dev
)
if [ "${1:-}" = "--test" ]; then
	pkgs+=(
		libcmocka-dev clang clang-format libclang-rt-14-dev
		bubblewrap chromium strace
		qemu-system-x86 qemu-utils busybox-static kmod e2fsprogs
		xvfb x11-apps x11-utils netpbm libxcb-xtest0-dev
		# the X11 output under Xorg (dummy driver) and Xwayland
		xserver-xorg-core xserver-xorg-video-dummy weston xwayland
	)
fi

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]}" >&2
	echo "deps.sh: run as root (or install them with apt-get)" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || { echo "deps.sh: apt-get update failed" >&2; exit 1; }
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
	{ echo "deps.sh: apt-get install failed" >&2; exit 1; }
