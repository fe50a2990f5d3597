/**
 * The Debian packaging of keepalived 1.1.15 for the virtual board: what lenny's 1:1.1.15-1 installs, laid out
 * by hand (there is no debhelper run), so the guest gets the daemon the real box runs under the same paths.
 */

export const KEEPALIVED_115_PACKAGE = 'keepalived';
/** Lenny's version with a local suffix: sorts after lenny's own, and says who built it. */
export const KEEPALIVED_115_DEB_VERSION = '1:1.1.15-1+obsbuild1';
export const KEEPALIVED_115_ARCH = 'amd64';

/**
 * /etc/init.d/keepalived as lenny has it: start and stop through start-stop-daemon and the parent's pidfile,
 * reload = SIGHUP to the parent (which passes it on to its VRRP and checker children), restart = stop,
 * one second, start. Two changes for bookworm: an LSB header (update-rc.d orders scripts by it), and the
 * pidfile loses its group/other write bits before start-stop-daemon reads it: 1.1.15 writes it 0666 (it
 * daemonizes with umask 0), which bookworm's start-stop-daemon refuses as insecure (lenny's did not check),
 * so stop and reload would fail. `printf` for lenny's `echo -n` (same output, POSIX).
 */
export const KEEPALIVED_115_INIT_SCRIPT = `#! /bin/sh
### BEGIN INIT INFO
# Provides:          keepalived
# Required-Start:    $remote_fs $syslog $network
# Required-Stop:     $remote_fs $syslog $network
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: keepalived 1.1.15 (LVS health checks and VRRP)
### END INIT INFO
#
# keepalived 1.1.15 as Debian lenny runs it; the daemon reads /etc/keepalived/keepalived.conf.

PATH=/sbin:/bin:/usr/sbin:/usr/bin
DAEMON=/usr/sbin/keepalived
NAME=keepalived
DESC=keepalived
PIDFILE=/var/run/$NAME.pid

set -e
test -f $DAEMON || exit 0

# keepalived 1.1.15 leaves its pidfile world-writable; start-stop-daemon will not match on such a file.
secure_pidfile() {
  if [ -f $PIDFILE ]; then chmod go-w $PIDFILE; fi
}
secure_pidfile

case "$1" in
  start)
    printf '%s' "Starting $DESC: "
    start-stop-daemon --start --quiet --pidfile $PIDFILE --exec $DAEMON
    echo "$NAME."
    ;;
  stop)
    printf '%s' "Stopping $DESC: "
    start-stop-daemon --stop --oknodo --quiet --pidfile $PIDFILE --exec $DAEMON
    echo "$NAME."
    ;;
  reload|force-reload)
    echo "Reloading $DESC configuration file."
    start-stop-daemon --stop --quiet --signal 1 --pidfile $PIDFILE --exec $DAEMON
    ;;
  restart)
    printf '%s' "Restarting $DESC: "
    start-stop-daemon --stop --quiet --pidfile $PIDFILE --exec $DAEMON
    sleep 1
    secure_pidfile
    start-stop-daemon --start --quiet --pidfile $PIDFILE --exec $DAEMON
    echo "$NAME."
    ;;
  *)
    echo "Usage: /etc/init.d/$NAME {start|stop|restart|reload|force-reload}" >&2
    exit 1
    ;;
esac

exit 0
`;

/**
 * What dh_installinit writes for a plain `defaults` script, with one change: the daemon is started on install
 * only when a configuration exists (1.1.15 runs without one, doing nothing, and obsbuild writes the file
 * after the package is in).
 */
export const KEEPALIVED_115_POSTINST = `#!/bin/sh
set -e
if [ "$1" = configure ] && [ -x /etc/init.d/keepalived ]; then
  update-rc.d keepalived defaults >/dev/null
  if [ -f /etc/keepalived/keepalived.conf ]; then
    if command -v invoke-rc.d >/dev/null 2>&1; then
      invoke-rc.d keepalived start || exit $?
    else
      /etc/init.d/keepalived start || exit $?
    fi
  fi
fi
exit 0
`;

export const KEEPALIVED_115_PRERM = `#!/bin/sh
set -e
if [ -x /etc/init.d/keepalived ]; then
  if command -v invoke-rc.d >/dev/null 2>&1; then
    invoke-rc.d keepalived stop || exit $?
  else
    /etc/init.d/keepalived stop || exit $?
  fi
fi
exit 0
`;

export const KEEPALIVED_115_POSTRM = `#!/bin/sh
set -e
if [ "$1" = purge ]; then
  update-rc.d keepalived remove >/dev/null
fi
exit 0
`;

export const KEEPALIVED_115_CONFFILES = ['/etc/init.d/keepalived'];

export const KEEPALIVED_115_COPYRIGHT = `keepalived 1.1.15, built by obsbuild from the upstream source (git tag v1.1.15) for its virtual board.

Upstream: Alexandre Cassen <acassen@linux-vs.org> and contributors, http://www.keepalived.org/

License: GPL-2
 This program is free software; you can redistribute it and/or modify it under the terms of the GNU General
 Public License as published by the Free Software Foundation; either version 2 of the License, or (at your
 option) any later version.
 .
 On Debian systems, the complete text of the GNU General Public License version 2 can be found in
 /usr/share/common-licenses/GPL-2.
`;

export interface ControlFields {
  depends: string;
  installedSizeKiB: number;
}

export function keepalived115Control(f: ControlFields): string {
  return [
    `Package: ${KEEPALIVED_115_PACKAGE}`,
    `Version: ${KEEPALIVED_115_DEB_VERSION}`,
    `Architecture: ${KEEPALIVED_115_ARCH}`,
    'Maintainer: obsbuild <obsbuild@obsbuild.invalid>',
    `Installed-Size: ${f.installedSizeKiB}`,
    `Depends: ${f.depends}`,
    'Section: admin',
    'Priority: optional',
    'Description: Failover and monitoring daemon for LVS clusters (1.1.15, as in Debian lenny)',
    ' keepalived 1.1.15 with IPVS and VRRP support, rebuilt from the upstream source for the obsbuild',
    ' virtual board so that it runs the daemon version the OpenBlockS 600 runs.',
    '',
  ].join('\n');
}

/** `shlibs:Depends=libc6 (>= 2.34), ...` (dpkg-shlibdeps -O) → the value; undefined when absent. */
export function parseShlibsDepends(out: string): string | undefined {
  const m = /^shlibs:Depends=(.+)$/m.exec(out);
  const value = m?.[1].trim();
  return value ? value : undefined;
}
