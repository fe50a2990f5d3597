/**
 * The base system's own files that some of obsbuild's files are made from: /etc/shadow (only root's hash is
 * the site's), /etc/passwd and /etc/group (owners given by name), sysklogd's /etc/syslog.conf (a forwarding
 * rule is added to the operator's file), the site's zone file (/etc/localtime is a copy of it). At build time
 * they come from the rootfs tarball; on day two from the box itself, so that both give the same bytes for an
 * unchanged box.
 */
import { SHADOW_PATH, SYSLOG_CONF_PATH } from './box-paths.js';

export interface BaseFiles {
  shadow?: string;
  passwd?: string;
  group?: string;
  syslogConf?: string;
  /** The file of the site's time zone, zoneinfoPath(site.timezone): /etc/localtime is a copy of it. */
  zoneinfo?: Buffer;
  /**
   * dpkg's status, for which syslog daemon the base system runs: the rootfs's whole file at build time; on
   * day two the box's `dpkg-query` answer for the syslog packages in the same stanza format (the whole file
   * is too big to move over a serial console).
   */
  dpkgStatus?: string;
}

/**
 * Where each base file is on the box (and, without the leading "/", in the rootfs tarball); the zone file's
 * path depends on the site (zoneinfoPath), and dpkg's status is not read whole from a box.
 */
export const BASE_FILE_PATHS: Readonly<Record<Exclude<keyof BaseFiles, 'zoneinfo' | 'dpkgStatus'>, string>> = {
  shadow: SHADOW_PATH,
  passwd: '/etc/passwd',
  group: '/etc/group',
  syslogConf: SYSLOG_CONF_PATH,
};
