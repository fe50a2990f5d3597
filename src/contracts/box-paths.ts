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
