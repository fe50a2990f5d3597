/**
 * Where obsbuild's files live on the box, and the names of what it puts on the install stick. The
 * renderers write these paths, the first-boot script and the console read them, and day-two commands
 * compare them: one list, so a path is never spelt twice.
 */

/** keepalived's configuration, in the dialect of the box's keepalived. */
export const KEEPALIVED_CONF_PATH = '/etc/keepalived/keepalived.conf';
/** keepalived's parent writes its pid here; SIGHUP to it reloads the configuration (1.1.15 and later). */
export const KEEPALIVED_PID_PATH = '/var/run/keepalived.pid';
/** lenny's init script, to start keepalived when it is not running (a reload needs a running parent). */
export const KEEPALIVED_INIT_PATH = '/etc/init.d/keepalived';
/** The VRRP notify script keepalived runs on MASTER/BACKUP/FAULT transitions. */
export const NOTIFY_SCRIPT_PATH = '/etc/keepalived/notify.sh';
/** What lenny's ipvsadm init script reads. */
export const IPVSADM_DEFAULT_PATH = '/etc/default/ipvsadm';
/** Static rules (`ipvsadm -S -n` format) restored at boot when the site's manager is ipvsadm. */
export const IPVSADM_RULES_PATH = '/etc/ipvsadm.rules';
export const INTERFACES_PATH = '/etc/network/interfaces';
export const SYSCTL_CONF_PATH = '/etc/sysctl.conf';
export const HOSTNAME_PATH = '/etc/hostname';
export const HOSTS_PATH = '/etc/hosts';
export const RESOLV_CONF_PATH = '/etc/resolv.conf';
export const SHADOW_PATH = '/etc/shadow';
/** Debian's name of the local time zone, one line ("Asia/Tokyo\n", as tzdata writes it). */
export const TIMEZONE_PATH = '/etc/timezone';
/** The zone in effect for the C library: on lenny a copy of the zone's file (tzdata's postinst copies it). */
export const LOCALTIME_PATH = '/etc/localtime';
/** The base system's tzdata: one TZif file per zone name. Read, never written. */
export const ZONEINFO_DIR = '/usr/share/zoneinfo';
/** The file of a zone (a name the site schema has checked: letters, digits, _+- and at most two "/"). */
export function zoneinfoPath(zone: string): string {
  return `${ZONEINFO_DIR}/${zone}`;
}
/** lenny's ntpd (4.2.4) configuration, written whole when the site sets ntp:. */
export const NTPD_CONF_PATH = '/etc/ntp.conf';
export const NTPD_INIT_PATH = '/etc/init.d/ntp';
/** chrony's configuration (the virtual board's NTP daemon), written whole when the site sets ntp:. */
export const CHRONY_CONF_PATH = '/etc/chrony/chrony.conf';
export const CHRONY_INIT_PATH = '/etc/init.d/chrony';
/** rsyslog reads /etc/rsyslog.d/*.conf ($IncludeConfig in lenny's and bookworm's rsyslog.conf): the forwarding rule. */
export const RSYSLOG_FORWARD_PATH = '/etc/rsyslog.d/obsbuild-remote.conf';
export const RSYSLOG_INIT_PATH = '/etc/init.d/rsyslog';
/** sysklogd's one configuration file: the base system's own, plus obsbuild's marked forwarding block. */
export const SYSLOG_CONF_PATH = '/etc/syslog.conf';
export const SYSKLOGD_INIT_PATH = '/etc/init.d/sysklogd';
export const ROOT_SSH_DIR = '/root/.ssh';
export const AUTHORIZED_KEYS_PATH = `${ROOT_SSH_DIR}/authorized_keys`;
/** sshd's public host keys (a shell glob): the console records them for `--host` to pin. */
export const SSH_HOST_KEYS_GLOB = '/etc/ssh/ssh_host_*_key.pub';

/** obsbuild's own state on the box. */
export const OBSBUILD_ETC_DIR = '/etc/obsbuild';
/** The manifest id of the build the box was installed from; the console and verify compare it. */
export const MANIFEST_ID_PATH = `${OBSBUILD_ETC_DIR}/manifest-id`;
/** Written last by the installer onto the CF card: a card without it is not installed. */
export const INSTALL_COMPLETE_PATH = `${OBSBUILD_ETC_DIR}/install-complete`;
/**
 * What `obsbuild apply` last made live: the id and sha256 of every file it owns (applied-record.ts), so a
 * later verify knows what is meant to be live after the install's manifest went stale.
 */
export const APPLIED_RECORD_PATH = `${OBSBUILD_ETC_DIR}/applied.json`;
/** `apply` keeps each file it replaces under <this>/<UTC time>/<path on the box>, for rollback by hand too. */
export const PREVIOUS_FILES_DIR = '/var/lib/obsbuild/previous';
/** debconf answers the first-boot script loads before `dpkg --configure -a`. */
export const DEBCONF_SELECTIONS_PATH = '/var/lib/obsbuild/debconf-selections';

/** The one-shot first-boot script (an init script that removes its own rc links when done). */
export const FIRSTBOOT_NAME = 'obsbuild-firstboot';
export const FIRSTBOOT_PATH = `/etc/init.d/${FIRSTBOOT_NAME}`;

/** On the install stick, beside Plat'Home's files: everything obsbuild adds to the root filesystem. */
export const OVERLAY_NAME = 'obsbuild-overlay.tgz';

/** Where obsbuild keeps what only it reads: the debconf answers and apply's kept files. */
export const OBSBUILD_VAR_DIR = '/var/lib/obsbuild';

/**
 * Every path obsbuild itself writes on the box, with what it is: the site's own files (`files:`) may not
 * replace one, nor sit at one of its parent directories as a file or a symlink (the generated file would be
 * written through it or lost). `tree`: obsbuild owns everything under the path too.
 */
export const OBSBUILD_OWNED_PATHS: readonly { path: string; what: string; tree?: boolean }[] = [
  { path: KEEPALIVED_CONF_PATH, what: "keepalived's configuration, rendered from lvs:" },
  { path: NOTIFY_SCRIPT_PATH, what: 'the VRRP notify script (lvs.vrrp.notify)' },
  { path: IPVSADM_DEFAULT_PATH, what: "the ipvsadm init script's settings, rendered from lvs.manager" },
  { path: IPVSADM_RULES_PATH, what: 'the static IPVS rules, rendered from lvs:' },
  { path: INTERFACES_PATH, what: 'the network interfaces, rendered from network:' },
  { path: SYSCTL_CONF_PATH, what: 'sysctl settings, rendered from network.ip_forward and sysctl:' },
  { path: HOSTNAME_PATH, what: 'the host name, rendered from hostname:' },
  { path: HOSTS_PATH, what: '/etc/hosts, rendered from hostname: and network:' },
  { path: RESOLV_CONF_PATH, what: 'the resolver configuration, rendered from network.nameservers' },
  { path: SHADOW_PATH, what: "the password file with root's hash from root.password_hash" },
  { path: AUTHORIZED_KEYS_PATH, what: "root's SSH keys, from root.authorized_keys" },
  { path: TIMEZONE_PATH, what: 'the time zone name, from timezone:' },
  { path: LOCALTIME_PATH, what: 'the time zone in effect, from timezone:' },
  { path: NTPD_CONF_PATH, what: "ntpd's configuration, from ntp:" },
  { path: CHRONY_CONF_PATH, what: "chrony's configuration, from ntp:" },
  { path: RSYSLOG_FORWARD_PATH, what: 'the remote syslog rule, from syslog:' },
  { path: SYSLOG_CONF_PATH, what: "sysklogd's configuration, which carries the remote syslog rule from syslog:" },
  { path: FIRSTBOOT_PATH, what: 'the first-boot script' },
  ...['S', 0, 1, 2, 3, 4, 5, 6].map((level) => ({ path: `/etc/rc${level}.d/S99${FIRSTBOOT_NAME}`, what: "the first-boot script's start link" })),
  { path: OBSBUILD_ETC_DIR, what: "obsbuild's own state (manifest id, install and apply records)", tree: true },
  { path: OBSBUILD_VAR_DIR, what: "obsbuild's debconf answers and apply's kept files", tree: true },
  { path: '/var/lib/dpkg', what: "dpkg's database (the overlay registers the packages it adds)", tree: true },
];
