#!/bin/sh
# mmdebstrap customize hook for the vobs stand-in rootfs ($1 = the new root, $2 = the guest's sshd_config).
# Gives the bookworm minbase tree the shape of Plat'Home's lenny rootfs: a serial getty, root/root (the same
# md5-crypt hash as the stock image), hostname obs600, / on the CF card's filesystem labelled "/", sshd
# offering only what lenny's OpenSSH 5.1 offers.
set -e
R=$1
SSHD_CONFIG=$2
# Serial console only: no gettys on virtual terminals, one on ttyS0 at 115200.
sed -i 's/^\([1-6]:[0-9]*:respawn:\)/#\1/' "$R/etc/inittab"
echo 'T0:2345:respawn:/sbin/getty -L ttyS0 115200 vt100' >>"$R/etc/inittab"
# Plat'Home's stock root password hash (root/root).
chroot "$R" usermod -p '$1$afC9J.v6$Dkq.k8sVRq7n0Py5eWWAp1' root
echo obs600 >"$R/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tobs600\n' >"$R/etc/hosts"
printf 'LABEL=/\t/\text3\tdefaults,noatime\t0\t0\nproc\t/proc\tproc\tdefaults\t0\t0\n' >"$R/etc/fstab"
printf 'auto lo\niface lo inet loopback\n' >"$R/etc/network/interfaces"
: >"$R/etc/resolv.conf"
# sshd as lenny's: one ssh-rsa host key and lenny's algorithms (the file is rendered by src/vobs/guest-sshd.ts).
# The keys mmdebstrap's install made are shared by every board built from this cache: the first-boot script
# makes the box's own (obsbuild-firstboot step_ssh_keys) and restarts sshd with them.
install -m 0644 "$SSHD_CONFIG" "$R/etc/ssh/sshd_config"
mkdir -p "$R/run/sshd"
chroot "$R" /usr/sbin/sshd -t -f /etc/ssh/sshd_config
# Run the rc.d links in order, as lenny does: bookworm's startpar/insserv ordering (.depend.*) would ignore
# the links an overlay adds (obsbuild's first-boot script, keepalived).
touch "$R/etc/init.d/.legacy-bootordering"
# No package caches or lists in the image (the box is offline).
rm -rf "$R"/var/cache/apt/*.bin "$R"/var/lib/apt/lists/* "$R"/var/log/*.log
