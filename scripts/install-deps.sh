#!/usr/bin/env bash
# Installs the Debian packages obsbuild drives (run as root on Debian 12 or later):
#   image:   e2fsprogs (ext3 stick image), dosfstools + mtools (FAT), fdisk/util-linux (partition table),
#            gpgv + debian-archive-keyring (the mirror's signed Release file)
#   flash:   bmap-tools (bmaptool copy reads obsbuild's stick.img.bmap; the tests prove it)
#   lint:    keepalived (keepalived -t on the modern rendering), ipvsadm
#   console: socat (pty pairs for the board simulator and for a real shell behind the serial BoxShell tests), ser2net (the console server the tests run on 127.0.0.1)
#   vm:      qemu-system-x86, mmdebstrap, linux-image-amd64, u-boot-tools (mkimage), busybox-static, cpio,
#            gnupg (signs the local mirror; the tests sign their archives too)
#   tests:   shellcheck, iproute2 (network namespaces), dpkg-dev, xz-utils, zstd, debconf, time
#   ssh:     openssh-server (its sshd, run privately on 127.0.0.1 with lenny's algorithms, proves the --host
#            options; it pulls in openssh-client, the ssh that --host uses); Debian's package also enables the system sshd
#   keepalived 1.1.15 (vobs, only when OBSBUILD_KEEPALIVED_115_SOURCE names its source): build-essential,
#            libssl-dev, libpopt-dev (compile it; dpkg-dev computes the .deb's Depends)
set -euo pipefail
# As root it runs apt-get itself (a container or CI machine often has no sudo); otherwise through sudo.
if [ "$(id -u)" = 0 ]; then
  AS_ROOT=()
elif command -v sudo >/dev/null; then
  AS_ROOT=(sudo)
else
  echo "scripts/install-deps.sh: run as root (there is no sudo to run apt-get with)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${AS_ROOT[@]}" apt-get update -q
"${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  e2fsprogs dosfstools mtools fdisk util-linux keepalived ipvsadm socat u-boot-tools busybox-static \
  shellcheck iproute2 qemu-system-x86 mmdebstrap linux-image-amd64 dpkg-dev xz-utils zstd cpio debconf \
  time ca-certificates gpgv gnupg debian-archive-keyring openssh-server build-essential libssl-dev libpopt-dev bmap-tools ser2net \
  >/dev/null
echo "scripts/install-deps.sh: system packages installed"
