#!/bin/sh
# /init of the vobs stand-in "stock firmware" (a busybox-static initramfs built by obsbuild, see
# board/vobs/README.md). It does what the OpenBlockS 600 firmware does in the guide:
#   - a disk labelled MSF is present: mount it and run msf/msf_init.sh (the install);
#   - otherwise: mount the CF card's root filesystem (labelled "/") and start its /sbin/init.
# It also provides the board's tools the installer may use: /dev/segled (LED changes are printed on the
# console as "vobs-segled: N (...)") and flashcfg (the boot source, kept in the board's "flash", a small
# disk that the QEMU runner reads before the next power-on, as U-Boot reads its environment).
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /run /mnt/stick /mnt/root
mount -t tmpfs tmpfs /tmp
echo "vobs-firmware: OpenBlockS 600 stand-in firmware ($(uname -r))"

# Drivers: the CF card (AHCI), the USB stick (xHCI + usb-storage), ext2/ext3/vfat, the NICs, the flash.
while read -r m; do
  case $m in '' | '#'*) continue ;; esac
  modprobe "$m" 2>/dev/null || echo "vobs-firmware: cannot load $m"
done </etc/vobs-modules

cmdline_value() {
  for w in $(cat /proc/cmdline); do
    case $w in "$1"=*) echo "${w#*=}" ;; esac
  done
}

# LEDs: a FIFO whose reader prints every change.
describe_led() {
  case $1 in
    0) echo "off" ;; 1) echo "orange" ;; 2) echo "green" ;; 3) echo "green orange" ;;
    4) echo "red" ;; 5) echo "red orange" ;; 6) echo "red green" ;; 7) echo "red green orange" ;;
    *) echo "?" ;;
  esac
}
mkfifo /dev/segled
(
  while :; do
    v=$(cat /dev/segled)
    [ -n "$v" ] && echo "vobs-segled: $v ($(describe_led "$v"))" >/dev/console
  done
) &

# Wait for the disks: the CF card is on the SATA controller, the stick (if any) on USB, which is slower.
wait_for() {
  i=0
  while [ "$i" -lt "$2" ]; do
    findfs "$1" >/dev/null 2>&1 && return 0
    sleep 0.2
    i=$((i + 1))
  done
  return 1
}
STICK_WAIT=$(cmdline_value vobs.stickwait)
if wait_for LABEL=MSF "${STICK_WAIT:-25}"; then
  STICK=$(findfs LABEL=MSF)
  echo "vobs-firmware: install stick found on $STICK"
  if mount -o ro "$STICK" /mnt/stick 2>/dev/null || mount -t vfat -o ro "$STICK" /mnt/stick; then
    if [ -f /mnt/stick/msf/msf_init.sh ]; then
      echo "vobs-firmware: running msf/msf_init.sh"
      cd /tmp && sh /mnt/stick/msf/msf_init.sh
      echo "vobs-firmware: msf_init.sh exited with status $?; power off and remove the stick"
    else
      echo "vobs-firmware: no msf/msf_init.sh on $STICK"
    fi
  else
    echo "vobs-firmware: cannot mount $STICK"
  fi
  while :; do sleep 3600; done
fi

# Up to 30 s for the CF card, as a slow host may probe the SATA disk late; the real firmware waits too.
if wait_for LABEL=/ 150; then
  ROOT=$(findfs LABEL=/)
  echo "vobs-firmware: booting $ROOT"
  if ! mount -o rw "$ROOT" /mnt/root; then
    echo "vobs-firmware: cannot mount $ROOT"
  elif [ -x /mnt/root/sbin/init ]; then
    kill %1 2>/dev/null
    umount /tmp
    mount --move /dev /mnt/root/dev 2>/dev/null || umount /dev
    umount /sys /proc
    exec switch_root /mnt/root /sbin/init
  else
    echo "vobs-firmware: $ROOT has no /sbin/init"
  fi
else
  echo "vobs-firmware: no install stick (MSF) and no root filesystem labelled / on the CF card"
  echo "vobs-firmware: block devices: $(tail -n +3 /proc/partitions | tr -s ' ' | cut -d' ' -f5 | tr '\n' ' ')"
fi
while :; do sleep 3600; done
